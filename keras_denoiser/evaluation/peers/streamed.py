"""A peer's per-hop loop (what `benchmark inference` times) and the Enhancer that runs it over whole signals."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from tflite_demo.stream import HopStream, denoise_signal


class PeerStream(HopStream, Protocol):
    """A peer's per-hop loop at its own rate, and what `benchmark inference` prints about it."""

    label: str
    runtime: str
    sample_rate: int
    paths: tuple[Path, ...]  # the model files, whose size is reported


class StreamedEnhancer:
    """`stream` over a whole signal at the stream's rate, its delay removed (flushed, then dropped)."""

    name: str

    def __init__(self, stream: PeerStream) -> None:
        self.sample_rate = stream.sample_rate
        self._stream = stream

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return denoise_signal(self._stream, wave).audio
