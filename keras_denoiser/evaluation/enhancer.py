"""The one interface every denoiser is scored through: ours, exported ones and the peers."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Enhancer(Protocol):
    """Maps a mono float32 waveform at `sample_rate` to an enhanced one of the same length.

    Implementations compensate their own fixed algorithmic delay, so output sample i lines up
    with input sample i and can be scored against the clean reference directly.
    """

    name: str
    sample_rate: int

    def __call__(self, wave: np.ndarray) -> np.ndarray: ...
