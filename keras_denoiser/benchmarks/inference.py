"""Per-hop cost of the streaming models and of the streaming peers, on one CPU thread, measured the same way.

Every system is driven by `tflite_demo.stream.denoise_signal` at its own hop and rate (ours and
DTLN: 128 samples at 16 kHz; GTCRN: 256 at 16 kHz; DeepFilterNet3: 480 at 48 kHz), with its STFT,
model call(s) and overlap-add inside the timed hop. Ours run on LiteRT (`num_threads=1`), DTLN's
and GTCRN's ONNX models on onnxruntime (`intra_op_num_threads=1`), DeepFilterNet3 on libDF's tract
runtime (which runs on the calling thread). A peer at another rate gets the same signal resampled
beforehand, outside the timing.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from keras_denoiser.core.audio import resample
from keras_denoiser.core.config import ModelConfig, SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation.peers import PEER_STREAMS, check_peer_names
from keras_denoiser.export import mixture
from keras_denoiser.export.streaming import QUANTIZATIONS, export_streaming
from keras_denoiser.model.network import build_network
from tflite_demo.stream import HopStream, StreamingDenoiser, denoise_signal

NUM_THREADS = 1
WARMUP_SECONDS = 0.5
SIZE_PATTERN = re.compile(r"^(\d+)x(\d+)$")


@dataclasses.dataclass(frozen=True)
class HopTiming:
    """One system's per-hop processing time over the same signal."""

    name: str
    runtime: str
    size_kb: float
    hop_length_ms: float
    hop_ms_median: float
    hop_ms_p99: float
    real_time_factor: float
    latency_ms: float
    hops: int
    state_kb: float | None = None  # what ours carry from hop to hop (its sidecar's states); None for a peer


def parse_size(text: str) -> ModelConfig:
    """`3x16` -> a causal U-Net of depth 3 with 16 base filters."""
    match = SIZE_PATTERN.match(text.strip())
    if not match:
        raise UserError(f"model size {text!r} is not DEPTHxBASE_FILTERS, e.g. 3x16")
    return ModelConfig(name="unet_causal", depth=int(match[1]), base_filters=int(match[2]))


def streaming_exports(model: str | None, sizes: Sequence[ModelConfig], work_dir: Path) -> dict[str, dict[str, Path]]:
    """Streaming .tflite files by label: a given export folder or model, or random models of `sizes`."""
    folder = Path(model) if model else None
    if folder and folder.is_dir() and any(folder.glob(f"*_{q}.tflite") for q in QUANTIZATIONS):
        # Every model in the folder, by its name (not the folder's): `tflite_demo/models` holds two.
        names = sorted({p.name.rsplit("_", 1)[0] for q in QUANTIZATIONS for p in folder.glob(f"*_{q}.tflite")})
        return {name: {q: folder / f"{name}_{q}.tflite" for q in QUANTIZATIONS if (folder / f"{name}_{q}.tflite").is_file()}
                for name in names}
    calibration = [mixture.generated_mixture(2.0, SignalConfig().sample_rate, seed=0)]
    if model:
        return {Path(model).name: export_streaming(model, work_dir / "model", representative=calibration)}
    exports = {}
    for size in sizes:
        label = f"unet_causal {size.depth}x{size.base_filters}"
        cfg = TrainConfig(model=size)
        keras_model = build_network(size, cfg.signal)
        out_dir = work_dir / f"{size.depth}x{size.base_filters}"
        exports[label] = export_streaming(keras_model, out_dir, representative=calibration, train_config=cfg)
    return exports


def time_stream(name: str, runtime: str, stream: HopStream, wave: np.ndarray, sample_rate: int, size_bytes: int) -> HopTiming:
    """Warm up, then stream `wave` hop by hop and summarise the per-hop times."""
    denoise_signal(stream, wave[: int(WARMUP_SECONDS * sample_rate)])
    hop_ms = 1000.0 * denoise_signal(stream, wave).hop_seconds
    return HopTiming(
        name=name,
        runtime=runtime,
        size_kb=size_bytes / 1024.0,
        hop_length_ms=1000.0 * stream.hop_length / sample_rate,
        hop_ms_median=float(np.median(hop_ms)),
        hop_ms_p99=float(np.percentile(hop_ms, 99)),
        real_time_factor=float(hop_ms.sum() / 1000.0 / (wave.size / sample_rate)),
        latency_ms=1000.0 * (stream.output_delay_samples + stream.hop_length) / sample_rate,
        hops=int(hop_ms.size),
    )


def benchmark_inference(
    model: str | None, sizes: Sequence[ModelConfig], seconds: float, peers: Sequence[str] = tuple(PEER_STREAMS)
) -> tuple[list[HopTiming], list[str]]:
    """Timings of our streaming models (int8 and float32) and of `peers`, plus notes on what was skipped."""
    check_peer_names(peers, PEER_STREAMS)
    rate = SignalConfig().sample_rate
    wave = mixture.generated_mixture(seconds, rate, seed=7)
    rows, notes = [], []
    with tempfile.TemporaryDirectory(prefix="benchmark-inference-") as tmp:
        for label, paths in streaming_exports(model, sizes, Path(tmp)).items():
            for quantization in ("int8", "float32"):
                if quantization in paths:
                    stream = StreamingDenoiser(paths[quantization], num_threads=NUM_THREADS)
                    size = os.path.getsize(paths[quantization])
                    timing = time_stream(f"{label} {quantization}", "LiteRT", stream, wave, rate, size)
                    state_kb = sum(4 * np.prod(s.shape) for s in stream.spec.states) / 1024.0
                    rows.append(dataclasses.replace(timing, state_kb=float(state_kb)))
    for name in peers:
        try:
            peer = PEER_STREAMS[name]()  # every peer stream runs on one thread by default
        except UserError as err:
            notes.append(f"{name} not timed: {err}")
            continue
        size = sum(os.path.getsize(p) for p in peer.paths)
        peer_wave = resample(wave, rate, peer.sample_rate)
        rows.append(time_stream(peer.label, peer.runtime, peer, peer_wave, peer.sample_rate, size))
    return rows, notes


def table_lines(rows: Sequence[HopTiming]) -> list[str]:
    """A fixed-width table, one row per system."""
    header = (
        f"{'system':<28} {'runtime':<12} {'size KB':>8} {'hop ms':>6} {'hop ms median':>14} {'hop ms p99':>11} "
        f"{'RTF':>7} {'latency ms':>10} {'state KB':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(
            f"{r.name:<28} {r.runtime:<12} {r.size_kb:>8.1f} {r.hop_length_ms:>6.1f} {r.hop_ms_median:>14.3f} {r.hop_ms_p99:>11.3f} "
            f"{r.real_time_factor:>7.4f} {r.latency_ms:>10.1f} {'-' if r.state_kb is None else f'{r.state_kb:.1f}':>8}"
        )
    return lines
