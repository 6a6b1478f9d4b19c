"""RNNoise (Valin, BSD-3-Clause) through pyrnnoise (Apache-2.0): a GRU band-gain denoiser at 48 kHz.

Input is resampled to 48 kHz with soxr, denoised frame by frame, advanced by the measured delay and
resampled back, so output sample i lines up with input sample i.
"""

from __future__ import annotations

import ctypes

import numpy as np
from pyrnnoise import rnnoise

from keras_denoiser.evaluation.peers.rate import at_model_rate

RNNOISE_RATE = 48000
FRAME_SIZE = rnnoise.FRAME_SIZE  # 480 samples, 10 ms
DELAY_SAMPLES_48K = 960  # 20 ms: measured by cross-correlation, checked in tests/test_peers.py
PCM_SCALE = 32768.0  # RNNoise expects float samples on the int16 scale

_FLOAT_POINTER = ctypes.POINTER(ctypes.c_float)


def denoise_48k(wave: np.ndarray) -> np.ndarray:
    """RNNoise output for a 48 kHz signal, with its delay, padded up to whole frames."""
    num_frames = -(-wave.size // FRAME_SIZE)
    frames = np.zeros((num_frames, FRAME_SIZE), np.float32)
    frames.flat[: wave.size] = wave * PCM_SCALE
    denoised = np.empty_like(frames)
    state = rnnoise.create()
    try:
        for frame, out in zip(frames, denoised):
            rnnoise.lib.rnnoise_process_frame(
                state, out.ctypes.data_as(_FLOAT_POINTER), frame.ctypes.data_as(_FLOAT_POINTER)
            )
    finally:
        rnnoise.destroy(state)
    return denoised.reshape(-1) / PCM_SCALE


class RnnoiseEnhancer:
    """RNNoise at any input rate: soxr to 48 kHz and back, delay compensated."""

    name = "rnnoise"

    def __init__(self, sample_rate: int = 16000) -> None:
        self.sample_rate = sample_rate

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return at_model_rate(_aligned_48k, wave, self.sample_rate, RNNOISE_RATE)


def _aligned_48k(wave: np.ndarray) -> np.ndarray:
    """RNNoise output for a 48 kHz signal, flushed with `DELAY_SAMPLES_48K` zeros and advanced by as many."""
    flushed = np.concatenate([wave, np.zeros(DELAY_SAMPLES_48K, np.float32)])
    return denoise_48k(flushed)[DELAY_SAMPLES_48K : DELAY_SAMPLES_48K + wave.size]
