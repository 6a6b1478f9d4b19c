"""Streaming STFT and overlap-add inverse in numpy, equal to the training STFT (`tf.signal`).

Analysis: periodic Hann window, one-sided FFT of `frame_length` samples every `hop_length`.
Synthesis: the window divided by the sum of its squared overlaps (what
`tf.signal.inverse_stft_window_fn` computes), so analysis followed by synthesis restores the
input exactly, `frame_length - hop_length` samples later. Another analysis window (a peer's
square-root Hann) can be passed; the synthesis window follows from it by the same rule.
"""

from __future__ import annotations

import numpy as np


def hann_window(frame_length: int) -> np.ndarray:
    """Periodic Hann window, as `tf.signal.hann_window(frame_length)`."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(frame_length) / frame_length)


def synthesis_window(window: np.ndarray, hop_length: int) -> np.ndarray:
    """The analysis `window` over the sum of its squared copies overlapping each sample."""
    frame_length = window.size
    overlaps = -(-frame_length // hop_length)
    squared = np.pad(window**2, (0, overlaps * hop_length - frame_length)).reshape(overlaps, hop_length)
    denominator = np.tile(squared.sum(axis=0), overlaps)[:frame_length]
    return window / denominator


def stft(wave: np.ndarray, frame_length: int, hop_length: int, pad: int) -> np.ndarray:
    """Complex spectra `[frames, frame_length // 2 + 1]` of a whole signal, as keras_denoiser's
    `features.stft` computes them: `pad` zeros on both sides (plus enough to complete the last hop),
    periodic Hann window, one-sided FFT."""
    extra = (-(len(wave) + 2 * pad - frame_length)) % hop_length
    padded = np.pad(wave, (pad, pad + extra))
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::hop_length]
    return np.fft.rfft(frames * hann_window(frame_length), axis=-1)


def log_magnitude(spectrum: np.ndarray, log_epsilon: float) -> np.ndarray:
    """The network's input feature, `log(|spectrum| + log_epsilon)`, as float32 (training's `features.log_magnitude`)."""
    return np.log(np.abs(spectrum) + log_epsilon).astype(np.float32)


class StreamingSTFT:
    """One spectrum per hop of new samples; the first frame sees `frame_length - hop_length` zeros of past."""

    def __init__(self, frame_length: int, hop_length: int, window: np.ndarray | None = None) -> None:
        self.hop_length = hop_length
        self.window = hann_window(frame_length) if window is None else window
        self.buffer = np.zeros(frame_length)

    def reset(self) -> None:
        self.buffer[:] = 0.0

    def __call__(self, hop: np.ndarray) -> np.ndarray:
        """Complex spectrum `[frame_length // 2 + 1]` of the last `frame_length` samples, `hop` included."""
        self.buffer[: -self.hop_length] = self.buffer[self.hop_length :]
        self.buffer[-self.hop_length :] = hop
        return np.fft.rfft(self.buffer * self.window)


class StreamingISTFT:
    """Overlap-add: takes one spectrum per hop, returns the `hop_length` samples it completes.

    The samples returned for frame t are those frame t's analysis buffer started with, so the
    output lags the input by `frame_length - hop_length` samples.
    """

    def __init__(self, frame_length: int, hop_length: int, window: np.ndarray | None = None) -> None:
        """`window` is the analysis window (default periodic Hann) the spectra were taken with."""
        self.frame_length = frame_length
        self.hop_length = hop_length
        analysis = hann_window(frame_length) if window is None else window
        self.window = synthesis_window(analysis, hop_length)
        self.buffer = np.zeros(frame_length)

    def reset(self) -> None:
        self.buffer[:] = 0.0

    def __call__(self, spectrum: np.ndarray) -> np.ndarray:
        self.buffer += np.fft.irfft(spectrum, self.frame_length) * self.window
        done = self.buffer[: self.hop_length].copy()
        self.buffer[: -self.hop_length] = self.buffer[self.hop_length :]
        self.buffer[-self.hop_length :] = 0.0
        return done
