"""The input graph: exact SNR mixing, no clipping, looped noise, shapes, reproducibility, dynamic mixing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.benchmarks.pipeline import python_batches
from keras_denoiser.core import features, losses
from keras_denoiser.core.config import MixConfig, SignalConfig, SplitConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.core.mixing import mix_at_snr as numpy_mix_at_snr
from keras_denoiser.pipelines import dataset
from keras_denoiser.pipelines.corpora import read_corpus
from keras_denoiser.pipelines.dataset import build_datasets, build_waveform_datasets, mix_at_snr, preview_mixture
from keras_denoiser.pipelines.mixing import change_speed, loop_to_length, random_crop
from tests.conftest import harmonic_speechlike
from tflite_demo.stft import stft

CFG = TrainConfig(
    mix=MixConfig(crop_seconds=0.5), batch_size=4, validation_steps=2, seed=7,
    split=SplitConfig(speech_unit="file", validation_fraction=0.34, test_fraction=0.0),
)


def _snr_db(speech: np.ndarray, noise: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(speech**2) / np.sum(noise**2)))


@pytest.fixture
def folders(tmp_path: Path, write_wav) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(0)
    for i, seconds in enumerate((1.0, 2.0, 0.3, 1.5, 2.5, 1.2)):
        write_wav(f"speech/s{i}.wav", harmonic_speechlike(seconds, 16000, seed=i))
    write_wav("noise/click.wav", (0.5 * rng.standard_normal(1600)).astype(np.float32))  # 0.1 s
    write_wav("noise/hiss.wav", (0.1 * rng.standard_normal(48000)).astype(np.float32), 48000)
    write_wav("noise/hum.wav", 0.2 * np.sin(2 * np.pi * 50 * np.arange(32000) / 16000).astype(np.float32))
    return tmp_path / "speech", tmp_path / "noise", tmp_path / "cache"


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 7.5, 20.0])
def test_mix_at_snr_hits_the_requested_snr(snr_db: float) -> None:
    speech = harmonic_speechlike(1.0, 16000)
    noise = np.random.default_rng(1).standard_normal(16000).astype(np.float32)
    mixture, scaled_speech, scaled_noise = (t.numpy() for t in mix_at_snr(speech, noise, snr_db, -20.0))
    assert _snr_db(scaled_speech, scaled_noise) == pytest.approx(snr_db, abs=0.1)
    np.testing.assert_allclose(mixture, scaled_speech + scaled_noise, atol=1e-6)
    assert 20 * np.log10(np.sqrt(np.mean(mixture**2))) == pytest.approx(-20.0, abs=0.1)


def test_mix_at_snr_scales_loud_mixtures_below_full_scale_keeping_the_snr() -> None:
    speech = 0.9 * np.sign(harmonic_speechlike(1.0, 16000))  # square-ish, crest factor ~1
    noise = np.random.default_rng(2).standard_normal(16000).astype(np.float32)
    mixture, scaled_speech, scaled_noise = (t.numpy() for t in mix_at_snr(speech, noise, -5.0, 0.0))
    assert np.abs(mixture).max() <= 0.99 + 1e-6
    assert _snr_db(scaled_speech, scaled_noise) == pytest.approx(-5.0, abs=0.1)


@pytest.mark.parametrize("snr_db, gain_db, level", [(7.5, -20.0, 0.3), (-5.0, 0.0, 0.9)], ids=["quiet", "peak-limited"])
def test_the_numpy_mixing_is_the_graph_mixing(snr_db: float, gain_db: float, level: float) -> None:
    """core.mixing (export's mixtures, the benchmark's baseline) and the tf.data graph mix alike."""
    speech = level * harmonic_speechlike(1.0, 16000) / 0.3
    noise = np.random.default_rng(3).standard_normal(16000).astype(np.float32)
    for ours, graph in zip(numpy_mix_at_snr(speech, noise, snr_db, gain_db), mix_at_snr(speech, noise, snr_db, gain_db)):
        np.testing.assert_allclose(ours, graph.numpy(), atol=1e-5)
    _, unscaled, scaled_noise = numpy_mix_at_snr(speech, noise, snr_db)  # no gain: the speech as it is
    np.testing.assert_allclose(unscaled, speech, atol=1e-6)
    assert _snr_db(unscaled, scaled_noise) == pytest.approx(snr_db, abs=0.01)


def test_short_noise_is_tiled_to_the_crop_and_long_speech_is_cropped() -> None:
    click = np.arange(1, 1601, dtype=np.float32)
    looped = loop_to_length(click, 16000, tf.constant([1, 2], tf.int64)).numpy()
    assert looped.shape == (16000,)
    np.testing.assert_array_equal(np.diff(looped)[np.diff(looped) != 1], -1599.0)  # wraps around only
    assert np.count_nonzero(looped == looped[0]) == 10
    speech = np.arange(1, 40001, dtype=np.float32)
    crop = random_crop(speech, 8000, tf.constant([3, 4], tf.int64)).numpy()
    np.testing.assert_array_equal(np.diff(crop), 1.0)
    short = random_crop(speech[:100], 800, tf.constant([5, 6], tf.int64)).numpy()
    assert np.count_nonzero(short) == 100 and np.array_equal(short[short != 0], speech[:100])


def test_speed_perturbation_changes_the_pitch_by_the_factor() -> None:
    rate, tone = 16000, 440.0
    wave = np.sin(2 * np.pi * tone * np.arange(2 * rate) / rate).astype(np.float32)
    faster = change_speed(wave, tf.constant(1.1), rate // 2, tf.constant([0, 1], tf.int64)).numpy()
    spectrum = np.abs(np.fft.rfft(faster * np.hanning(len(faster))))
    peak_hz = np.argmax(spectrum) * rate / len(faster)
    assert peak_hz == pytest.approx(tone * 1.1, abs=4.0)


def test_batches_have_model_shapes_and_irm_in_unit_range(folders) -> None:
    speech, noise, cache = folders
    train, validation = build_datasets([speech], [noise], cache, CFG)
    frames = features.num_frames(8000, CFG.signal)
    for split in (train, validation):
        log_mag, irm = next(iter(split))
        assert log_mag.dtype == tf.float32 and irm.dtype == tf.float32
        assert log_mag.shape == irm.shape == (4, frames, 257)
        assert np.isfinite(log_mag.numpy()).all()
        assert 0.0 <= irm.numpy().min() and irm.numpy().max() <= 1.0
        assert 0.05 < irm.numpy().mean() < 0.95


def test_mixtures_never_clip_and_keep_the_snr_in_range(folders) -> None:
    speech, noise, cache = folders
    loud = dataclasses.replace(CFG, mix=MixConfig(crop_seconds=0.5, gain_db_min=-3.0, gain_db_max=0.0))
    train, _ = build_waveform_datasets([speech], [noise], cache, loud)
    for mixture, clean, noisy in train.take(24):
        assert np.abs(mixture.numpy()).max() <= 1.0
        if np.any(clean.numpy()) and np.any(noisy.numpy()):
            assert -5.1 <= _snr_db(clean.numpy(), noisy.numpy()) <= 20.1


def test_same_seed_gives_the_same_first_batch_and_another_seed_does_not(folders) -> None:
    speech, noise, cache = folders
    first = [next(iter(d))[0].numpy() for d in build_datasets([speech], [noise], cache, CFG)]
    again = [next(iter(d))[0].numpy() for d in build_datasets([speech], [noise], cache, CFG)]
    other_cfg = dataclasses.replace(CFG, seed=8)
    other = [next(iter(d))[0].numpy() for d in build_datasets([speech], [noise], cache, other_cfg)]
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.allclose(first[0], other[0])
    np.testing.assert_array_equal(first[1], other[1])  # validation does not move with the training seed


def test_training_mixes_anew_every_epoch_while_validation_repeats(folders) -> None:
    speech, noise, cache = folders
    train, validation = build_datasets([speech], [noise], cache, CFG)
    train_batches = [b[0].numpy() for b in train.take(8)]  # several passes over the 4 training files
    assert all(not np.allclose(train_batches[0], later) for later in train_batches[1:])
    per_epoch = CFG.validation_steps
    validation_batches = [b[0].numpy() for b in validation.take(3 * per_epoch)]
    for epoch in (1, 2):
        for step in range(per_epoch):
            np.testing.assert_array_equal(validation_batches[step], validation_batches[epoch * per_epoch + step])
    assert not np.allclose(validation_batches[0], validation_batches[1])


def test_speed_perturbed_training_keeps_shapes(folders) -> None:
    speech, noise, cache = folders
    cfg = dataclasses.replace(CFG, mix=MixConfig(crop_seconds=0.5, speed_perturb=0.1))
    log_mag, irm = next(iter(build_datasets([speech], [noise], cache, cfg)[0]))
    assert log_mag.shape == irm.shape == (4, features.num_frames(8000, cfg.signal), 257)


def test_preview_mixture_is_fixed_and_at_the_requested_snr(folders) -> None:
    speech, noise, cache = folders
    noisy, clean = preview_mixture([speech], [noise], cache, CFG, snr_db=5.0)
    again, _ = preview_mixture([speech], [noise], cache, CFG, snr_db=5.0)
    assert noisy.shape == clean.shape == (48000,) and noisy.dtype == np.float32
    np.testing.assert_array_equal(noisy, again)
    assert _snr_db(clean, noisy - clean) == pytest.approx(5.0, abs=0.1)


def test_signal_config_sets_the_feature_size(folders) -> None:
    speech, noise, cache = folders
    cfg = dataclasses.replace(CFG, signal=SignalConfig(frame_length=256, hop_length=64))
    log_mag, _ = next(iter(build_datasets([speech], [noise], cache, cfg)[0]))
    assert log_mag.shape[-1] == 129


def test_python_baseline_of_the_benchmark_computes_the_same_features_as_the_graph(folders) -> None:
    speech, noise, cache = folders
    wave = harmonic_speechlike(0.5, 16000)
    signal = CFG.signal
    numpy_stft = stft(wave, signal.frame_length, signal.hop_length, signal.pad)  # the runtime's, as the baseline's
    np.testing.assert_allclose(numpy_stft, features.stft(wave, signal).numpy(), atol=1e-4)
    items = read_corpus(speech).items
    log_mag, irm = next(python_batches(items, read_corpus(noise).items, CFG))
    graph_log_mag, _ = next(iter(build_datasets([speech], [noise], cache, CFG)[0]))
    assert log_mag.shape == graph_log_mag.shape and log_mag.dtype == np.float32
    assert 0.0 <= irm.min() and irm.max() <= 1.0


def test_weighted_loss_batches_carry_magnitude_weights_of_mean_one(folders) -> None:
    speech, noise, cache = folders
    cfg = dataclasses.replace(CFG, loss="weighted_mask_mse")
    log_mag, irm, weights = next(iter(build_datasets([speech], [noise], cache, cfg)[1]))
    assert weights.shape == irm.shape == log_mag.shape
    w = weights.numpy()
    np.testing.assert_allclose(w.mean(axis=(1, 2)), 1.0, rtol=1e-4)
    # The weight follows the noisy magnitude: |X|^0.6 = exp(0.6 * log|X|), up to each example's scale.
    expected = np.exp(losses.MAGNITUDE_WEIGHT_EXPONENT * log_mag.numpy())
    expected /= expected.mean(axis=(1, 2), keepdims=True)
    loud = log_mag.numpy() > -8.0  # away from the log floor, where log(|X| + 1e-6) and log|X| differ
    np.testing.assert_allclose(w[loud], expected[loud], rtol=1e-2)
    assert w.max() > 10 * np.median(w)  # speech harmonics weigh far more than quiet bins


def test_spectral_loss_batches_carry_the_compressed_noisy_and_clean_spectra(folders) -> None:
    speech, noise, cache = folders
    cfg = dataclasses.replace(CFG, loss="compressed_spectral")
    log_mag, target = next(iter(build_datasets([speech], [noise], cache, cfg)[1]))
    assert target.shape == (*log_mag.shape[:2], 3 * log_mag.shape[2])
    noisy, clean, cosine = np.split(target.numpy(), 3, axis=-1)
    # |Y|^0.3 = exp(0.3 * log|Y|), divided by each example's mean.
    expected = np.exp(losses.COMPRESSION * log_mag.numpy())
    expected /= expected.mean(axis=(1, 2), keepdims=True)
    loud = log_mag.numpy() > -8.0
    np.testing.assert_allclose(noisy[loud], expected[loud], rtol=1e-2)
    assert np.all(np.abs(cosine) <= 1.0 + 1e-6) and np.all(clean >= 0.0)
    speech_led = loud & (clean > noisy)  # where speech is the louder source it sets the noisy phase
    assert speech_led.any() and np.median(cosine[speech_led]) > 0.9


AUGMENTED = dataclasses.replace(
    CFG, mix=MixConfig(crop_seconds=0.5, reverb_probability=1.0, channel_probability=1.0, second_noise_probability=1.0)
)


def test_augmented_batches_keep_shapes_finite_values_and_the_drawn_snr(folders) -> None:
    speech, noise, cache = folders
    plain, _ = build_waveform_datasets([speech], [noise], cache, CFG)
    augmented, _ = build_waveform_datasets([speech], [noise], cache, AUGMENTED)
    low, high = CFG.mix.snr_db_min, CFG.mix.snr_db_max
    changed = 0
    for example, (plain_mixture, _, _) in zip(augmented.take(16), plain.take(16)):
        mixture, clean, added = (t.numpy() for t in example)
        assert mixture.shape == clean.shape == added.shape == (8000,)
        assert np.isfinite(mixture).all() and np.abs(mixture).max() <= 0.99 + 1e-6
        np.testing.assert_allclose(mixture, clean + added, atol=1e-6)
        assert low - 0.01 <= _snr_db(clean, added) <= high + 0.01
        changed += not np.allclose(mixture, plain_mixture.numpy(), atol=1e-4)
    assert changed == 16
    features_batch = next(iter(build_datasets([speech], [noise], cache, AUGMENTED)[0]))
    assert features_batch[0].shape == (CFG.batch_size, features.num_frames(8000, SignalConfig()), 257)
    assert np.isfinite(features_batch[0].numpy()).all() and np.isfinite(features_batch[1].numpy()).all()


def _hum_share(noises: list[np.ndarray]) -> float:
    """The share of noise crops that are the 1 kHz hum rather than white noise (by their spectral peak)."""
    hums = 0
    for noise in noises:
        spectrum = np.abs(np.fft.rfft(noise))
        hums += spectrum.max() > 20 * np.median(spectrum)
    return hums / len(noises)


@pytest.mark.parametrize("in_memory", [True, False], ids=["held in memory", "re-read every pass"])
def test_folder_balance_draws_each_noise_folder_equally_often(tmp_path: Path, write_wav, monkeypatch, in_memory) -> None:
    if not in_memory:
        monkeypatch.setattr(dataset, "IN_MEMORY_NOISE_BYTES", 0)
    rng = np.random.default_rng(3)
    for i in range(3):
        write_wav(f"speech/s{i}.wav", harmonic_speechlike(1.0, 16000, seed=i))
    for i in range(5):  # a kind with many files beside one with a single file
        write_wav(f"noise/events/e{i}.wav", (0.1 * rng.standard_normal(16000)).astype(np.float32))
    write_wav("noise/music/hum.wav", 0.2 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000).astype(np.float32))
    split = SplitConfig(speech_unit="file", validation_fraction=0.0, test_fraction=0.0)
    shares = {}
    for balance in ("file", "folder"):
        cfg = dataclasses.replace(CFG, split=split, mix=MixConfig(crop_seconds=0.5, noise_balance=balance))
        train, _ = build_waveform_datasets([tmp_path / "speech"], [tmp_path / "noise"], tmp_path / "cache", cfg)
        shares[balance] = _hum_share([noise.numpy() for _, _, noise in train.take(96)])
    assert shares["file"] < 0.3  # one file in six
    assert 0.35 < shares["folder"] < 0.65  # one folder in two


def test_unknown_noise_balance_is_refused() -> None:
    with pytest.raises(UserError, match="noise balance"):
        MixConfig(noise_balance="kind")
