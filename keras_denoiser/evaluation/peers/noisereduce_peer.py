"""noisereduce (Sainburg, MIT): non-stationary spectral gating, at any sample rate, no delay."""

from __future__ import annotations

import math

import noisereduce
import numpy as np

FRAME_SECONDS = 0.032  # the README's speech advice: ~23-32 ms FFT frames, not the music default
DELAY_SAMPLES = 0  # centred STFT and a forward-backward IIR noise floor: nothing to compensate
# Its gate divides by the smoothed magnitude, so digital silence gives 0/0 = NaN, which the inverse
# STFT spreads to neighbouring samples: a fixed dither at -140 dBFS keeps every bin non-zero.
DITHER_RMS = 1e-7


class NoisereduceEnhancer:
    """Non-stationary spectral gating (the library default: the noise floor follows the signal)."""

    name = "noisereduce"

    def __init__(self, sample_rate: int = 16000) -> None:
        self.sample_rate = sample_rate
        self._n_fft = 2 ** round(math.log2(FRAME_SECONDS * sample_rate))

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        if len(wave) == 0:  # its gate would divide 0 by 0 over an empty spectrogram
            return np.zeros(0, np.float32)
        dither = DITHER_RMS * np.random.default_rng(0).standard_normal(len(wave))
        enhanced = noisereduce.reduce_noise(
            y=(np.asarray(wave, np.float64) + dither).astype(np.float32),
            sr=self.sample_rate,
            stationary=False,
            n_fft=self._n_fft,
            n_jobs=1,
        )
        return np.asarray(enhanced, np.float32)
