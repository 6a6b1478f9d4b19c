"""Mixing speech and noise at an SNR in numpy: the one home of that formula outside the tf.data graph.

`pipelines.mixing.mix_at_snr` is its twin in the graph (same steps, same PEAK_LIMIT); export's test
and calibration mixtures and the pipeline benchmark's Python baseline mix with this one.
"""

from __future__ import annotations

import numpy as np

PEAK_LIMIT = 0.99  # a mixture scaled to a level is scaled down further when its peak would pass this


def mix_at_snr(
    speech: np.ndarray, noise: np.ndarray, snr_db: float, gain_db: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mixture, scaled speech, scaled noise), float32, with speech-to-noise ratio `snr_db`.

    The noise (as long as the speech) is scaled to the SNR; with `gain_db`, all three are then scaled
    so the mixture's RMS is `gain_db` dBFS, and down further when the mixture's peak would pass
    PEAK_LIMIT, which keeps the SNR. A silent noise stays silent; a silent mixture stays silent.
    """
    speech, noise = np.asarray(speech, np.float64), np.asarray(noise, np.float64)
    speech_power, noise_power = np.mean(speech**2), np.mean(noise**2)
    noise = noise * (np.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10))) if noise_power > 0 else 0.0)
    mixture = speech + noise
    if gain_db is not None:
        rms = np.sqrt(np.mean(mixture**2))
        gain = 10 ** (gain_db / 20) / rms if rms > 0 else 0.0
        peak = np.abs(mixture).max() * gain
        gain *= min(1.0, PEAK_LIMIT / peak) if peak > 0 else 1.0
        mixture, speech, noise = mixture * gain, speech * gain, noise * gain
    return mixture.astype(np.float32), speech.astype(np.float32), noise.astype(np.float32)
