"""Running a peer that works at one fixed rate (RNNoise, DeepFilterNet3: 48 kHz) at the caller's rate."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from keras_denoiser.core.audio import resample


def at_model_rate(
    process: Callable[[np.ndarray], np.ndarray], wave: np.ndarray, rate: int, model_rate: int
) -> np.ndarray:
    """`process` (aligned, same length, at `model_rate`) applied to `wave` at `rate`, via soxr both ways.

    The result has exactly `wave`'s length: resampling there and back may be off by a sample.
    """
    wave = np.asarray(wave, np.float32)
    return resample(process(resample(wave, rate, model_rate)), model_rate, rate, wave.size)
