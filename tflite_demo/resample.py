"""Resampling: whole signals with soxr (`resample`, for files: the one home of resample-then-fit,
which every reader of ours uses), and low-latency streaming for live audio (`StreamResampler`,
Kaiser-windowed sinc, the algorithm of `tflite_demo/web/src/resample.js`). soxr releases streamed
output in bursts of up to ~50 ms; `StreamResampler` returns every output sample as soon as 16 zero
crossings of look-ahead (1 ms at 16 kHz) have arrived."""

from __future__ import annotations

import math

import numpy as np
import soxr

ZERO_CROSSINGS = 16  # per side, at the lower of the two rates
TABLE_STEPS = 512  # kernel samples per input sample (linear interpolation between them)
KAISER_BETA = 8.6


def resample(data: np.ndarray, rate: int, new_rate: int, length: int | None = None) -> np.ndarray:
    """float32 `data` (along axis 0) at `new_rate` (soxr HQ; as it is when the rates match), cut or
    zero-padded to `length` samples when given: resampling there and back can come out a sample off."""
    out = data if rate == new_rate else soxr.resample(data, rate, new_rate, quality="HQ")
    if length is not None:
        out = np.pad(out[:length], [(0, max(0, length - len(out)))] + [(0, 0)] * (np.ndim(out) - 1))
    return np.asarray(out, np.float32)


class StreamResampler:
    """Blocks at `in_rate` in, every output sample they complete at `out_rate` out.

    The kernel is symmetric, so output n sits exactly at input time n * in_rate / out_rate; the past
    before the first sample is silence.
    """

    def __init__(self, in_rate: int, out_rate: int) -> None:
        self.in_rate, self.out_rate = in_rate, out_rate
        scale = min(1.0, out_rate / in_rate)
        cutoff = 0.5 * scale * 0.94  # cycles per input sample, just below the lower Nyquist
        self.half_width = math.ceil(ZERO_CROSSINGS / scale)
        t = np.arange(self.half_width * TABLE_STEPS + 2) / TABLE_STEPS
        x = np.minimum(t / self.half_width, 1.0)
        window = np.where(t < self.half_width, np.i0(KAISER_BETA * np.sqrt(1 - x * x)) / np.i0(KAISER_BETA), 0.0)
        self.grid, self.table = t, 2 * cutoff * np.sinc(2 * cutoff * t) * window
        self.taps = np.arange(-self.half_width + 1, self.half_width + 1)
        self.buffer = np.zeros(self.half_width)
        self.base = -self.half_width  # absolute input index of buffer[0]
        self.produced = 0

    def push(self, samples: np.ndarray) -> np.ndarray:
        self.buffer = np.concatenate([self.buffer, samples])
        end = self.base + len(self.buffer)
        # outputs n with floor(n * in / out) + half_width < end are complete
        last = ((end - self.half_width) * self.out_rate - 1) // self.in_rate
        n = np.arange(self.produced, max(self.produced, last + 1), dtype=np.int64)
        whole = n * self.in_rate // self.out_rate
        frac = (n * self.in_rate % self.out_rate) / self.out_rate
        index = whole[:, None] + self.taps[None, :]
        kernel = np.interp(np.abs(self.taps[None, :] - frac[:, None]), self.grid, self.table, right=0.0)
        out = (self.buffer[index - self.base] * kernel).sum(axis=1).astype(np.float32)
        self.produced += len(n)
        keep_from = self.produced * self.in_rate // self.out_rate - self.half_width + 1
        if keep_from > self.base:
            self.buffer = self.buffer[keep_from - self.base :]
            self.base = keep_from
        return out
