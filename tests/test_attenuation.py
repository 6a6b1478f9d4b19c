"""The attenuation limit: a floor on the mask that holds in denoise, the SavedModel and the TFLite exports."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from keras_denoiser.core import config as config_lib
from keras_denoiser.core import features
from keras_denoiser.core.config import DEFAULT_MAX_ATTENUATION_DB, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation.app_enhancer import StreamingAppEnhancer
from keras_denoiser.export import mixture, streaming, tflite
from keras_denoiser.export.exporter import ExportRequest, ParitySignals, export_model
from keras_denoiser.export.saved_model import ENHANCED_OUTPUT, SERVING_SIGNATURE, WAVEFORM_INPUT
from keras_denoiser.inference.enhance import KerasEnhancer
from keras_denoiser.model import model_io
from tests import cli_runner
from tests.enhance_helpers import save_tiny_unet, tiny_unet
from tflite_demo.stream import StreamingDenoiser, denoise_signal

RATE = 16000


def _noisy(seconds: float = 1.5, seed: int = 0) -> np.ndarray:
    return mixture.generated_mixture(seconds, RATE, seed).astype(np.float32)


def test_mask_floor_is_the_limit_in_amplitude_and_rejects_nonsense() -> None:
    assert features.mask_floor(0.0) == 1.0
    assert features.mask_floor(20.0) == pytest.approx(0.1)
    assert features.mask_floor(math.inf) == 0.0
    for bad in (-1.0, math.nan):
        with pytest.raises(UserError, match="attenuation limit"):
            features.mask_floor(bad)


def test_a_zero_db_limit_gives_the_input_back() -> None:
    model, cfg = tiny_unet(seed=3)
    noisy = _noisy()
    assert np.abs(KerasEnhancer(model, cfg, "m", max_attenuation_db=math.inf)(noisy) - noisy).max() > 1e-2
    np.testing.assert_allclose(KerasEnhancer(model, cfg, "m", max_attenuation_db=0.0)(noisy), noisy, atol=1e-5)


def test_a_model_that_removes_everything_is_held_at_the_limit() -> None:
    model, cfg = tiny_unet(mask_bias=-30.0)  # mask ~0 everywhere
    noisy = _noisy()
    np.testing.assert_allclose(KerasEnhancer(model, cfg, "m", max_attenuation_db=20.0)(noisy), 0.1 * noisy, atol=1e-5)
    assert np.abs(KerasEnhancer(model, cfg, "m", max_attenuation_db=math.inf)(noisy)).max() < 1e-6


def test_the_floor_only_raises_masks_below_it() -> None:
    model, cfg = tiny_unet(seed=5)
    noisy = _noisy()
    _, raw = KerasEnhancer(model, cfg, "m", max_attenuation_db=math.inf).analyse(noisy)
    limit_db = float(-20 * np.log10(np.median(raw)))  # a floor that half the bins fall below
    _, floored = KerasEnhancer(model, cfg, "m", max_attenuation_db=limit_db).analyse(noisy)
    floor = features.mask_floor(limit_db)
    assert raw.min() < floor < raw.max()
    np.testing.assert_allclose(floored, np.maximum(raw, floor), atol=1e-7)


def _save_with_limit(path: Path, max_attenuation_db: float, **tiny_kwargs: Any) -> Path:
    """A tiny model whose own config names `max_attenuation_db`."""
    model, cfg = tiny_unet(**tiny_kwargs)
    model_io.save_model(model, path, dataclasses.replace(cfg, max_attenuation_db=max_attenuation_db))
    return path


def test_a_models_own_limit_is_its_default_and_a_given_limit_overrides_it(tmp_path: Path) -> None:
    path = _save_with_limit(tmp_path / "gentle.keras", 0.0, seed=3)
    noisy = _noisy()
    np.testing.assert_allclose(KerasEnhancer.from_path(path)(noisy), noisy, atol=1e-5)
    assert np.abs(KerasEnhancer.from_path(path, max_attenuation_db=math.inf)(noisy) - noisy).max() > 1e-2


def test_a_config_without_a_limit_gets_the_global_default_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    data = config_lib.to_dict(TrainConfig())
    del data["max_attenuation_db"]  # a config written before models had their own limit
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert config_lib.load_json(TrainConfig, tmp_path / "old.json").max_attenuation_db == DEFAULT_MAX_ATTENUATION_DB
    (tmp_path / "bad.json").write_text(json.dumps({**data, "max_attenuation_db": -3.0}))
    with pytest.raises(UserError, match=r"bad\.json: the attenuation limit must be 0 dB or more"):
        config_lib.load_json(TrainConfig, tmp_path / "bad.json")


def test_the_app_enhancer_takes_the_sidecars_limit_unless_given_one() -> None:
    path = sorted((Path(__file__).resolve().parents[1] / "tflite_demo" / "models").glob("*int8.tflite"))[0]
    sidecar_limit = json.loads(path.with_suffix(".json").read_text())["max_attenuation_db"]
    assert StreamingAppEnhancer(path, None)._denoiser.max_attenuation_db == sidecar_limit
    assert StreamingAppEnhancer(path, 0.0)._denoiser.max_attenuation_db == 0.0


def test_an_export_without_a_limit_takes_the_models_own(tmp_path: Path) -> None:
    model, cfg = tiny_unet(name="unet_causal", mask_bias=-30.0)
    cfg = dataclasses.replace(cfg, max_attenuation_db=20.0)
    wave = _noisy(1.0, seed=1)
    signals = ParitySignals(wave, "generated", [], "generated")
    request = ExportRequest(tmp_path / "out", "denoiser", 1, ("streaming_tflite",), ("float32",))
    export_model(model, cfg, request, signals)
    (path,) = (request.export_dir / "streaming").glob("*.tflite")
    assert json.loads(path.with_suffix(".json").read_text())["max_attenuation_db"] == 20.0
    assert json.loads((request.export_dir / "export_report.json").read_text())["max_attenuation_db"] == 20.0


@pytest.fixture(scope="module")
def silencing_export(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A causal model whose mask is ~0, exported everywhere with a 20 dB limit."""
    model, cfg = tiny_unet(name="unet_causal", mask_bias=-30.0)
    wave = _noisy(2.0, seed=1)
    blocks = list(mixture.log_magnitude_blocks([_noisy(1.0, seed=s) for s in (2, 3)], cfg.signal, frames=32))
    signals = ParitySignals(wave, "generated", blocks, "generated")
    request = ExportRequest(tmp_path_factory.mktemp("att") / "out", "denoiser", 1,
                            ("saved_model", "tflite", "streaming_tflite"), ("float32", "int8"), max_attenuation_db=20.0)
    export_model(model, cfg, request, signals)
    return request.export_dir, wave


def test_the_limit_holds_in_every_export(silencing_export) -> None:
    export_dir, wave = silencing_export
    served = tf.saved_model.load(str(export_dir / "denoiser" / "1")).signatures[SERVING_SIGNATURE]
    output = served(**{WAVEFORM_INPUT: tf.constant(wave[None])})[ENHANCED_OUTPUT].numpy()[0]
    np.testing.assert_allclose(output, 0.1 * wave, atol=1e-5)
    model, cfg = tiny_unet(name="unet_causal")
    for path in sorted((export_dir / "tflite").glob("*.tflite")) + sorted((export_dir / "streaming").glob("*.tflite")):
        sidecar = json.loads(path.with_suffix(".json").read_text())
        assert sidecar["max_attenuation_db"] == 20.0, path.name
        floor = features.mask_floor(sidecar["max_attenuation_db"])
        if path.parent.name == "streaming":
            masker = streaming.StreamingTFLiteMasker(path)
        else:
            masker = tflite.TFLiteMasker(path)
        np.testing.assert_allclose(tflite.enhance_with_tflite(masker, wave, cfg.signal, floor), 0.1 * wave, atol=2e-3)
    report = json.loads((export_dir / "export_report.json").read_text())
    assert report["max_attenuation_db"] == 20.0


def test_in_the_app_none_is_the_models_own_limit_and_inf_is_none(silencing_export, tmp_path: Path) -> None:
    """One meaning everywhere, as in KerasEnhancer: None takes the model's own limit (its sidecar's), inf lifts it."""
    export_dir, wave = silencing_export
    (path,) = (export_dir / "streaming").glob("*float32.tflite")
    for limit, gain in [(None, 0.1), (math.inf, 0.0), (0.0, 1.0)]:
        denoiser = StreamingDenoiser(path, max_attenuation_db=limit)
        np.testing.assert_allclose(denoise_signal(denoiser, wave).audio, gain * wave, atol=2e-3, err_msg=str(limit))
    unlimited = tmp_path / path.name
    unlimited.write_bytes(path.read_bytes())
    sidecar = json.loads(path.with_suffix(".json").read_text())
    unlimited.with_suffix(".json").write_text(json.dumps({**sidecar, "max_attenuation_db": None}))  # JSON has no inf
    assert StreamingDenoiser(unlimited).max_attenuation_db == math.inf
    assert np.abs(denoise_signal(StreamingDenoiser(unlimited), wave).audio).max() < 1e-6


@pytest.mark.parametrize("where", ["flag", "model_config"])
def test_denoise_with_a_zero_db_limit_writes_the_input_back(tmp_path: Path, where: str) -> None:
    if where == "flag":
        model, flag = save_tiny_unet(tmp_path / "tiny.keras", seed=2), ["--max_attenuation_db=0"]
    else:
        model, flag = _save_with_limit(tmp_path / "tiny.keras", 0.0, seed=2), []
    noisy = _noisy(2.0, seed=4)
    (tmp_path / "in").mkdir()
    sf.write(tmp_path / "in" / "a.wav", noisy, RATE, subtype="FLOAT")
    result = cli_runner.run("denoise", f"--model={model}", *flag, f"--output_dir={tmp_path / 'out'}", tmp_path / "in")
    assert result.returncode == 0, result.stderr
    output, rate = sf.read(tmp_path / "out" / "a.wav", dtype="float32")
    assert rate == RATE
    np.testing.assert_allclose(output, noisy, atol=1e-5)
