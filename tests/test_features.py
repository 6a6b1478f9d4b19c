"""The signal core: STFT round trip, IRM bounds and values, frame counts."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core import features
from keras_denoiser.core.config import SignalConfig
from tests.conftest import harmonic_speechlike

CFG = SignalConfig()


@pytest.mark.parametrize("num_samples", [1, 200, 511, 512, 16000, 16001])
def test_mask_of_one_reconstructs_input(num_samples: int) -> None:
    wave = np.random.default_rng(num_samples).normal(size=(2, num_samples)).astype(np.float32)
    spec = features.stft(wave, CFG)
    restored = features.istft(features.apply_mask(spec, tf.ones(spec.shape)), num_samples, CFG)
    assert restored.shape == wave.shape
    assert np.max(np.abs(restored.numpy() - wave)) < 1e-4


@pytest.mark.parametrize("num_samples", [1, 127, 128, 129, 4000, 22050])
def test_num_frames_matches_stft(num_samples: int) -> None:
    spec = features.stft(np.zeros(num_samples, np.float32), CFG)
    assert spec.shape[-2] == features.num_frames(num_samples, CFG)
    assert spec.shape[-1] == CFG.num_bins


def test_irm_is_within_unit_interval_on_real_mixture() -> None:
    speech = harmonic_speechlike(1.0, CFG.sample_rate)
    noise = np.random.default_rng(1).normal(scale=0.1, size=speech.shape).astype(np.float32)
    mask = features.ideal_ratio_mask(features.stft(speech, CFG), features.stft(noise, CFG)).numpy()
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    assert 0.05 < mask.mean() < 0.95  # both sources matter somewhere


def test_irm_is_one_without_noise_and_zero_without_speech() -> None:
    speech = features.stft(harmonic_speechlike(0.5, CFG.sample_rate), CFG)
    noise = features.stft(np.random.default_rng(2).normal(size=8000).astype(np.float32), CFG)
    zeros = tf.zeros_like(speech)
    no_noise = features.ideal_ratio_mask(speech, zeros).numpy()
    speech_present = np.abs(speech.numpy()) > 0
    np.testing.assert_array_equal(no_noise[speech_present], 1.0)
    np.testing.assert_array_equal(features.ideal_ratio_mask(zeros, noise).numpy(), 0.0)


def test_log_magnitude_is_finite_on_silence() -> None:
    spec = features.stft(np.zeros(1000, np.float32), CFG)
    assert np.isfinite(features.log_magnitude(spec).numpy()).all()
