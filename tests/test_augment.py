"""Augmentations: rooms reverberate, channels filter as drawn, a second noise adds at its level."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core.config import MixConfig
from keras_denoiser.pipelines import augment
from tests.conftest import harmonic_speechlike

RATE = 16000


def _seed(n: int) -> tf.Tensor:
    return tf.constant([n, 7], tf.int64)


def test_a_synthetic_room_has_a_direct_path_and_a_decaying_tail_at_the_drawn_ratio() -> None:
    for n in range(5):
        rir = augment.synthetic_rir(_seed(n), RATE).numpy()
        assert rir.shape == (int(augment.RIR_MAX_SECONDS * RATE),) and rir[0] == 1.0 and np.isfinite(rir).all()
        drr_db = -10 * np.log10(np.sum(rir[1:] ** 2))
        assert augment.DIRECT_TO_REVERB_DB[0] - 1e-3 <= drr_db <= augment.DIRECT_TO_REVERB_DB[1] + 1e-3
        early, late = np.sum(rir[1 : RATE // 20] ** 2), np.sum(rir[RATE // 5 : RATE // 4] ** 2)
        assert late < early  # the tail decays


def test_reverberation_is_a_causal_convolution_cut_to_length() -> None:
    speech = harmonic_speechlike(1.0, RATE)
    rir = np.zeros(800, np.float32)
    rir[0], rir[400] = 1.0, 0.5
    wet = augment.reverberate(tf.constant(speech), tf.constant(rir)).numpy()
    expected = np.convolve(speech, rir)[: len(speech)]
    np.testing.assert_allclose(wet, expected, atol=1e-4)


@pytest.mark.parametrize("n", range(6))
def test_channel_gains_are_positive_smooth_and_band_limited_where_drawn(n: int) -> None:
    gains = augment.channel_gains(_seed(n), 4001, RATE).numpy()
    hz = np.linspace(0, RATE / 2, 4001)
    assert gains.shape == (4001,) and np.isfinite(gains).all() and (gains >= 0).all()
    passband = gains[(hz > 200) & (hz < 3500)]
    assert 10 ** (-(augment.TILT_DB + augment.PEAK_DB) / 20) - 1e-6 <= passband.min()
    assert passband.max() <= 10 ** ((augment.TILT_DB + augment.PEAK_DB) / 20) + 1e-6
    above = gains[hz > 4000 + augment.BAND_EDGE_HZ]
    assert (above == 0).all() or (gains[(hz > 4000) & (hz < 6500)] > 0).all()


def test_band_limits_cut_what_lies_above_them() -> None:
    noise = np.random.default_rng(0).standard_normal(RATE).astype(np.float32)
    limited = 0
    for n in range(12):
        filtered = augment.filter_channel(tf.constant(noise), augment.channel_gains(_seed(n), RATE // 2 + 1, RATE)).numpy()
        spectrum = np.abs(np.fft.rfft(filtered)) ** 2
        hz = np.fft.rfftfreq(RATE, 1 / RATE)
        if spectrum[hz > 7300].sum() < 1e-6 * spectrum.sum():
            limited += 1
    assert 1 <= limited < 12  # some draws limit the band, some do not


def test_a_second_noise_adds_at_the_drawn_relative_level() -> None:
    rng = np.random.default_rng(1)
    first = rng.standard_normal(RATE).astype(np.float32)
    other = 3.0 * rng.standard_normal(RATE).astype(np.float32)
    mixed = augment.add_second_noise(tf.constant(first), tf.constant(other), _seed(3)).numpy()
    added = mixed - first
    relative_db = 10 * np.log10(np.mean(added**2) / np.mean(first**2))
    assert augment.SECOND_NOISE_DB[0] - 1e-3 <= relative_db <= augment.SECOND_NOISE_DB[1] + 1e-3
    silent = augment.add_second_noise(tf.zeros(RATE), tf.constant(other), _seed(3)).numpy()
    assert not silent.any()


def test_stationary_noise_has_unit_power_and_a_slope_from_brown_to_blue() -> None:
    rate, length = 16000, 32000
    hz = np.fft.rfftfreq(length, 1 / rate)
    centres = 250.0 * 2.0 ** np.arange(5)  # 250 Hz .. 4 kHz
    slopes = []
    for seed in range(24):
        noise = augment.stationary_noise(length, tf.constant([seed, 9], tf.int64), rate).numpy()
        assert noise.shape == (length,) and np.isfinite(noise).all()
        assert np.mean(noise**2) == pytest.approx(1.0, rel=1e-3)
        power = np.abs(np.fft.rfft(noise)) ** 2
        density_db = [10 * np.log10(power[(hz >= c / np.sqrt(2)) & (hz < c * np.sqrt(2))].mean()) for c in centres]
        slopes.append(np.polyfit(np.log2(centres), density_db, 1)[0])
    assert min(slopes) > -6.5 and max(slopes) < 3.5  # dB per octave, within STATIONARY_SLOPE_DB_PER_OCTAVE
    assert min(slopes) < -4.0 and max(slopes) > 1.0  # brown-ish and blue-ish both drawn, white between


def _frame_db(wave: np.ndarray, frame: int = 128) -> np.ndarray:
    frames = wave[: len(wave) // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def _spectral_flatness(wave: np.ndarray, frame: int = 256) -> float:
    """Median over the frames within 20 dB of the loudest: 0 for a pure tone, about 0.56 for white noise."""
    loud = _frame_db(wave, frame) > _frame_db(wave, frame).max() - 20
    frames = wave[: len(wave) // frame * frame].reshape(-1, frame)[loud]
    power = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2 + 1e-12
    return float(np.median(np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)))


def test_tonal_events_sound_tones_that_stop_at_unit_power_and_many_pitches() -> None:
    length = 2 * RATE
    peaks = set()
    for seed in range(12):
        events = augment.tonal_events(length, tf.constant([seed, 9], tf.int64), RATE).numpy()
        assert events.shape == (length,) and np.isfinite(events).all()
        assert np.mean(events**2) == pytest.approx(1.0, rel=1e-3)
        assert _spectral_flatness(events) < 0.05  # tones, not noise
        assert np.mean(_frame_db(events) < _frame_db(events).max() - 40) > 0.05  # every track has gaps
        peaks.add(round(_peak_hz(events) / 100))
    assert len(peaks) >= 8
    white = np.random.default_rng(0).standard_normal(length)
    assert _spectral_flatness(white) > 0.4


def test_tonal_event_partials_that_would_pass_nyquist_are_left_out() -> None:
    """A partial at k x pitch above 0.95 x Nyquist would fold back into the band as an alias."""
    hz = np.fft.rfftfreq(2 * RATE, 1 / RATE)
    for seed in range(12):
        power = np.abs(np.fft.rfft(augment.tonal_events(2 * RATE, tf.constant([seed, 9], tf.int64), RATE).numpy())) ** 2
        assert 10 * np.log10(power[hz > 0.975 * RATE / 2].sum() / power.sum()) < -30


def _peak_hz(wave: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    return float(np.fft.rfftfreq(len(wave), 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.25, 2.0])
def test_a_changed_speed_moves_a_tone_by_the_factor_and_keeps_the_length(factor: float) -> None:
    tone = np.sin(2 * np.pi * 1000.0 * np.arange(RATE) / RATE).astype(np.float32)
    faster = augment.change_speed(tf.constant(tone), tf.constant(factor)).numpy()
    assert faster.shape == tone.shape and np.isfinite(faster).all()
    assert _peak_hz(faster) == pytest.approx(1000.0 * factor, abs=3.0)
    assert np.max(np.abs(np.diff(faster))) <= np.max(np.abs(np.diff(tone))) * factor * 1.05  # no jump where it turns


def test_a_sped_up_noise_drops_what_would_pass_nyquist_instead_of_folding_it_back() -> None:
    high = np.sin(2 * np.pi * 6000.0 * np.arange(RATE) / RATE).astype(np.float32)  # at 2x it would be 12 kHz: above 8
    low = np.sin(2 * np.pi * 1500.0 * np.arange(RATE) / RATE).astype(np.float32)  # at 2x, 3 kHz
    faster = augment.change_speed(tf.constant(high + low), tf.constant(2.0)).numpy()
    assert _peak_hz(faster) == pytest.approx(3000.0, abs=3.0)
    spectrum = np.abs(np.fft.rfft(faster * np.hanning(RATE)))
    hz = np.fft.rfftfreq(RATE, 1 / RATE)
    alias = spectrum[np.abs(hz - 4000.0) < 50].max()  # 12 kHz folded back about 8 kHz
    assert 20 * np.log10(spectrum.max() / alias) > 40.0


def test_varied_noises_come_out_brighter_and_darker() -> None:
    rng = np.random.default_rng(5)
    source = np.convolve(rng.standard_normal(2 * RATE), np.ones(4) / 4, "same").astype(np.float32)  # a darker noise
    centroids = []
    for n in range(12):
        varied = augment.vary_noise(tf.constant(source), _seed(n), RATE).numpy()
        assert varied.shape == source.shape and np.isfinite(varied).all() and np.std(varied) > 0
        power = np.abs(np.fft.rfft(varied)) ** 2
        centroids.append(float(np.sum(np.fft.rfftfreq(len(varied), 1 / RATE) * power) / np.sum(power)))
    assert max(centroids) > 1.5 * min(centroids)  # brighter and darker versions both drawn


def test_augment_varies_the_noise_only_when_drawn_and_leaves_the_speech() -> None:
    speech = tf.constant(harmonic_speechlike(1.0, RATE, seed=2), tf.float32)
    noise = tf.constant(np.random.default_rng(3).standard_normal(RATE), tf.float32)
    _, kept_noise = augment.augment(speech, noise, noise, _seed(1), RATE, MixConfig())  # every augmentation off
    np.testing.assert_array_equal(kept_noise.numpy(), noise.numpy())
    varied_speech, varied_noise = augment.augment(speech, noise, noise, _seed(1), RATE, MixConfig(noise_variety_probability=1.0))
    np.testing.assert_array_equal(varied_speech.numpy(), speech.numpy())
    assert not np.allclose(varied_noise.numpy(), noise.numpy())
    event_speech, events = augment.augment(speech, noise, noise, _seed(1), RATE, MixConfig(tonal_event_probability=1.0))
    np.testing.assert_array_equal(event_speech.numpy(), speech.numpy())
    assert _spectral_flatness(noise.numpy()) > 0.4 and _spectral_flatness(events.numpy()) < 0.05
