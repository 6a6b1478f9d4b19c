"""Speech quality scores of an estimate against its clean reference: PESQ-WB, STOI and SI-SDR,
and where a denoiser acts: how much it changes the speech and how much it removes of the noise.

PESQ (wide band) and STOI come from the `pesq` and `pystoi` packages, imported when first used;
SI-SDR and the two gains are computed here. A score that cannot be computed (PESQ finds no speech,
a signal is too short) is NaN with a warning, never an exception.
"""

from __future__ import annotations

import math

import numpy as np
from absl import logging

from keras_denoiser.core import audio

PESQ_RATE = 16000
EPSILON = 1e-12
# `speech_and_noise_gains`: a bin is speech- (noise-) dominated where that source's magnitude is
# twice the other's (6 dB more) in the mixture.
DOMINANCE = 2.0


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (means removed; Le Roux et al. 2019)."""
    reference = np.asarray(reference, np.float64) - np.mean(reference)
    estimate = np.asarray(estimate, np.float64) - np.mean(estimate)
    scale = np.dot(estimate, reference) / (np.dot(reference, reference) + EPSILON)
    target = scale * reference
    residual = estimate - target
    return float(10 * np.log10((np.dot(target, target) + EPSILON) / (np.dot(residual, residual) + EPSILON)))


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Plain SNR of `estimate` against `reference` in dB (inf when identical): unlike SI-SDR it
    also penalises a wrong gain or sign."""
    reference = np.asarray(reference, np.float64)
    error = np.asarray(estimate, np.float64) - reference
    error_power = float(np.dot(error, error))
    if error_power == 0.0:
        return math.inf
    return float(10 * np.log10((np.dot(reference, reference) + EPSILON) / error_power))


def speech_and_noise_gains(clean: np.ndarray, noisy: np.ndarray, estimate: np.ndarray, rate: int) -> tuple[float, float]:
    """(speech gain, noise gain) in dB: the estimate's energy over the clean speech's in the bins the
    speech dominates, and over the noisy input's in the bins the noise dominates (32 ms frames).

    Two numbers that PESQ and SI-SDR fold together: a denoiser's speech distortion (0 dB keeps
    the speech) and its noise reduction (more negative removes more). NaN where no bin qualifies.
    """
    from keras_denoiser.core import features  # TensorFlow: imported only by what needs it
    from keras_denoiser.core.config import SignalConfig

    cfg = SignalConfig(sample_rate=rate, frame_length=_frame_length(rate), hop_length=_frame_length(rate) // 4)
    clean, noisy, estimate = (np.asarray(x, np.float32) for x in (clean, noisy, estimate))
    speech, mixture, output = (np.abs(features.stft(x, cfg).numpy()) for x in (clean, noisy, estimate))
    noise = np.abs(features.stft(noisy - clean, cfg).numpy())
    return _gain_db(output, speech, speech > DOMINANCE * noise), _gain_db(output, mixture, noise > DOMINANCE * speech)


def _frame_length(rate: int) -> int:
    """The power of two nearest 32 ms at `rate` (512 at 16 kHz)."""
    return 2 ** round(math.log2(0.032 * rate))


def _gain_db(output: np.ndarray, reference: np.ndarray, bins: np.ndarray) -> float:
    if not bins.any():
        return math.nan
    return float(10 * np.log10((np.sum(output[bins] ** 2) + EPSILON) / (np.sum(reference[bins] ** 2) + EPSILON)))


def pesq_wb(reference: np.ndarray, estimate: np.ndarray, rate: int, label: str = "") -> float:
    """Wide-band PESQ (MOS-LQO, about 1.0 to 4.6) at 16 kHz; NaN with a warning when undefined."""
    from pesq import PesqError, pesq

    reference = audio.resample(np.asarray(reference, np.float32), rate, PESQ_RATE)
    estimate = audio.resample(np.asarray(estimate, np.float32), rate, PESQ_RATE)
    try:
        with np.errstate(invalid="ignore", divide="ignore"):  # pesq normalises digital silence by 0
            return float(pesq(PESQ_RATE, reference, estimate, "wb"))
    except (PesqError, ValueError) as err:
        logging.warning("%sPESQ undefined (%s: %s); scored as NaN", f"{label}: " if label else "", type(err).__name__, err)
        return math.nan


def stoi(reference: np.ndarray, estimate: np.ndarray, rate: int, label: str = "") -> float:
    """Short-time objective intelligibility (0 to 1); NaN with a warning when undefined."""
    from pystoi import stoi as pystoi_stoi

    try:
        score = float(pystoi_stoi(np.asarray(reference, np.float64), np.asarray(estimate, np.float64), rate))
    except (ValueError, ZeroDivisionError) as err:
        logging.warning("%sSTOI undefined (%s); scored as NaN", f"{label}: " if label else "", err)
        return math.nan
    if not math.isfinite(score):
        logging.warning("%sSTOI undefined (too short or silent); scored as NaN", f"{label}: " if label else "")
        return math.nan
    return score
