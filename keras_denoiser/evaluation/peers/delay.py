"""Measuring a system's fixed delay: the lag of the cross-correlation peak of output and input."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def estimate_lag(reference: np.ndarray, signal: np.ndarray, max_lag: int) -> int:
    """Samples by which `signal` lags `reference` (negative: leads), searched within ±`max_lag`."""
    size = reference.size + signal.size - 1
    fft_size = 1 << (size - 1).bit_length()
    spectrum = np.fft.rfft(signal, fft_size) * np.conj(np.fft.rfft(reference, fft_size))
    correlation = np.fft.irfft(spectrum, fft_size)
    # Circular lags 0..max_lag sit at the start, -max_lag..-1 at the end.
    window = np.concatenate([correlation[-max_lag:], correlation[: max_lag + 1]])
    return int(np.argmax(window)) - max_lag


def measure_delay(
    process: Callable[[np.ndarray], np.ndarray], probe: np.ndarray, max_lag: int
) -> int:
    """The fixed delay, in samples, that `process` adds to `probe` (a clean, speech-like signal)."""
    return estimate_lag(probe, process(probe), max_lag)
