"""The TF Serving SavedModel: signatures, any-length parity with Keras, layout, report and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core import features
from keras_denoiser.core.errors import UserError
from keras_denoiser.export import parity, saved_model
from keras_denoiser.export.exporter import ExportRequest
from keras_denoiser.model.model_io import save_model
from tests import cli_runner
from tests.export_support import RATE, TINY_CONFIG, tiny_export, tiny_model


@pytest.fixture(scope="module")
def exported(trained_saved_model):
    """(model, export folder, report rows) of a SavedModel-only export of a trained model (conftest.py)."""
    return trained_saved_model


@pytest.fixture(scope="module")
def signatures(exported):
    _, export_dir, _ = exported
    return tf.saved_model.load(str(export_dir / "denoiser" / "1")).signatures


def test_signatures_have_named_inputs_and_outputs(signatures) -> None:
    serving = signatures["serving_default"]
    assert set(serving.structured_input_signature[1]) == {"waveform"}
    assert serving.structured_input_signature[1]["waveform"].shape.as_list() == [None, None]
    assert set(serving.structured_outputs) == {"enhanced"}
    mask = signatures["mask"]
    assert mask.structured_input_signature[1]["log_magnitude"].shape.as_list() == [None, None, 257]
    assert set(mask.structured_outputs) == {"mask"}


@pytest.mark.parametrize("num_samples, batch", [(1, 1), (77, 2), (3 * RATE, 1), (3 * RATE + 5, 3)])
def test_serving_default_returns_same_shape_as_keras(exported, signatures, num_samples: int, batch: int) -> None:
    model = exported[0]
    rng = np.random.default_rng(num_samples)
    wave = (0.1 * rng.standard_normal((batch, num_samples))).astype(np.float32)
    enhanced = signatures["serving_default"](waveform=tf.constant(wave))["enhanced"].numpy()
    floor = features.mask_floor(TINY_CONFIG.max_attenuation_db)  # serving_default bakes in the model's own limit
    expected = saved_model.enhance_waveform(model, tf.constant(wave), TINY_CONFIG.signal, floor).numpy()
    assert enhanced.shape == wave.shape
    np.testing.assert_allclose(enhanced, expected, atol=1e-5)
    assert np.abs(enhanced).max() > 0.01  # the graph really computes something


def test_mask_signature_is_the_keras_network(exported, signatures) -> None:
    model = exported[0]
    log_mag = np.random.default_rng(1).normal(-3, 2, (2, 37, 257)).astype(np.float32)
    mask = signatures["mask"](log_magnitude=tf.constant(log_mag))["mask"].numpy()
    np.testing.assert_allclose(mask, model(log_mag, training=False).numpy(), atol=1e-6)


def test_layout_config_and_report_for_tf_serving(exported) -> None:
    _, export_dir, rows = exported
    assert (export_dir / "denoiser" / "1" / "saved_model.pb").is_file()
    config = (export_dir / "models.config").read_text()
    assert 'name: "denoiser"' in config and 'base_path: "/models/denoiser"' in config
    report = json.loads((export_dir / "export_report.json").read_text())
    by_name = {row["artefact"]: row for row in report["artefacts"]}
    assert by_name["saved_model"]["max_abs_diff"] < 1e-4
    assert by_name["saved_model"]["size_bytes"] > 10_000
    assert [row.artefact for row in rows] == ["keras", "saved_model"]
    assert not any(p.name.startswith(".") for p in export_dir.parent.iterdir())


def test_saved_model_cli_lists_both_signatures(exported) -> None:
    _, export_dir, _ = exported
    cli = Path(sys.executable).with_name("saved_model_cli")
    shown = subprocess.run(
        [str(cli), "show", "--dir", str(export_dir / "denoiser" / "1"), "--all"],
        capture_output=True, text=True, check=True,
    ).stdout
    for name in ("signature_def['serving_default']", "signature_def['mask']", "inputs['waveform']",
                 "outputs['enhanced']", "inputs['log_magnitude']", "outputs['mask']"):
        assert name in shown


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"formats": ("onnx",)}, "unknown export format 'onnx'"),
        ({"quantizations": ("int4",)}, "unknown quantization 'int4'"),
        ({"name": "../evil"}, "model name"),
        ({"version": 0}, "positive integer"),
    ],
)
def test_bad_request_names_the_problem(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(UserError, match=message):
        ExportRequest(**{"export_dir": tmp_path / "out", "name": "denoiser", **kwargs})


def test_folder_holding_another_version_is_refused_untouched(exported, tmp_path: Path) -> None:
    export_dir = tmp_path / "out"
    (export_dir / "denoiser" / "3").mkdir(parents=True)
    with pytest.raises(UserError, match=r"out: already holds denoiser version 3; choose a new or empty --export_dir"):
        tiny_export(export_dir, exported[0], ("saved_model",))
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in export_dir.iterdir()] == ["denoiser"]


def test_parity_beyond_tolerance_fails_and_publishes_nothing(exported, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(parity.TOLERANCES, "saved_model", ("max_abs_diff", 0.0))
    with pytest.raises(parity.ParityError, match=r"parity: saved_model max abs diff .* >= 0") as raised:
        tiny_export(tmp_path / "out", exported[0], ("saved_model",))
    assert "saved_model" in raised.value.table
    assert list(tmp_path.iterdir()) == []


def _run_export(*args: str) -> subprocess.CompletedProcess:
    return cli_runner.run("export", *args)


def test_cli_corrupt_model_and_unknown_quantization_are_one_line_errors(tmp_path: Path) -> None:
    corrupt = tmp_path / "model.keras"
    corrupt.write_bytes(b"not a zip archive")
    (tmp_path / "model.json").write_text("{}")
    result = _run_export(f"--model={corrupt}", f"--export_dir={tmp_path / 'out'}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {corrupt}: not a loadable Keras model")
    good = tmp_path / "good" / "model.keras"
    save_model(tiny_model(), good, TINY_CONFIG)
    result = _run_export(f"--model={good}", f"--export_dir={tmp_path / 'out'}", "--quantize=float32,int3")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: unknown quantization 'int3'")
    assert not (tmp_path / "out").exists()


def test_cli_streaming_export_of_a_non_causal_model_names_the_causal_path_before_any_work(tmp_path: Path) -> None:
    offline = tmp_path / "offline" / "model.keras"
    save_model(tiny_model(), offline, TINY_CONFIG)  # the offline `unet`
    result = _run_export(f"--model={offline}", f"--export_dir={tmp_path / 'out'}", "--formats=streaming_tflite")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "unet is not causal" in result.stderr and "--formats=streaming_tflite" in result.stderr
    assert "keras_denoiser train --model=unet_compact" in result.stderr
    assert not (tmp_path / "out").exists()
