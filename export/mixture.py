"""Test and calibration signals for export: bundled-sample or generated speech-like mixtures."""

from __future__ import annotations

import os
from typing import Iterable, Iterator

import numpy as np

from keras_denoiser.core import audio, features
from keras_denoiser.core.config import SignalConfig
from keras_denoiser.core.mixing import mix_at_snr


def speechlike(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Voiced, syllable-modulated harmonics with a wandering pitch: speech-like in time and frequency."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = rng.uniform(100, 200) + 30 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 30) if k * 230 < rate / 2)
    envelope = np.clip(np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 6)), 0, None) ** 2
    return (0.3 * voiced * envelope).astype(np.float32)


def pink_noise(num_samples: int, seed: int = 0) -> np.ndarray:
    """Unit-variance 1/f noise."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, num_samples)
    return (noise / (noise.std() + 1e-12)).astype(np.float32)


def mix(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Speech plus noise (tiled or cut to the speech length) scaled to `snr_db` (`core.mixing.mix_at_snr`)."""
    mixture, _, _ = mix_at_snr(speech, np.resize(noise, speech.shape), snr_db)
    return mixture


def generated_mixture(seconds: float, rate: int, seed: int = 0, snr_db: float = 5.0) -> np.ndarray:
    """A speech-like signal in pink noise at `snr_db`."""
    speech = speechlike(seconds, rate, seed)
    return mix(speech, pink_noise(len(speech), seed + 1), snr_db)


def file_mixture(
    speech_path: str | os.PathLike[str], noise_path: str | os.PathLike[str], seconds: float, rate: int, snr_db: float = 5.0
) -> np.ndarray:
    """The first `seconds` of a speech file mixed with a noise file at `snr_db`, mono at `rate`."""
    speech = audio.read_mono(speech_path, rate)[: int(seconds * rate)]
    return mix(speech, audio.read_mono(noise_path, rate), snr_db)


def log_magnitude_blocks(waves: Iterable[np.ndarray], signal_cfg: SignalConfig, frames: int = 64) -> Iterator[np.ndarray]:
    """Log-magnitude blocks `[1, frames, bins]` cut from each waveform: calibration data for int8."""
    for wave in waves:
        log_mag = features.log_magnitude(features.stft(wave, signal_cfg)).numpy()
        for start in range(0, max(len(log_mag) - frames, 0) + 1, frames):
            yield log_mag[np.newaxis, start : start + frames]
