"""The training losses: targets, the compressed spectral loss against a direct complex evaluation,
and that minimising it on a real mixture gives a cleaner waveform than the noisy input."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core import features, losses
from keras_denoiser.core.config import LOSSES, MixConfig, ModelConfig, SignalConfig, TrainConfig
from keras_denoiser.core.metrics import si_sdr, snr_db
from keras_denoiser.training.train import RunOptions, train
from tests.conftest import harmonic_speechlike

CFG = SignalConfig()


def _mixture(seconds: float = 1.0, noise_scale: float = 0.1, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    speech = harmonic_speechlike(seconds, CFG.sample_rate, seed=seed)
    noise = np.random.default_rng(seed).normal(scale=noise_scale, size=speech.shape).astype(np.float32)
    return speech, noise


def test_compressed_spectral_error_equals_the_complex_distance_of_compressed_spectra() -> None:
    speech, noise = _mixture()
    speech_spec, noise_spec = features.stft(speech, CFG).numpy(), features.stft(noise, CFG).numpy()
    mask = np.random.default_rng(0).uniform(0.0, 1.0, speech_spec.shape).astype(np.float32)
    got = losses.compressed_spectral_error(losses.spectral_target(speech_spec, noise_spec), mask).numpy()

    noisy_spec = speech_spec + noise_spec
    c, w = losses.COMPRESSION, losses.COMPLEX_WEIGHT
    scale = np.mean(np.abs(noisy_spec) ** c)
    enhanced = (mask * np.abs(noisy_spec)) ** c / scale
    clean = np.abs(speech_spec) ** c / scale
    complex_distance = np.abs(enhanced * np.exp(1j * np.angle(noisy_spec)) - clean * np.exp(1j * np.angle(speech_spec)))
    expected = (1 - w) * (enhanced - clean) ** 2 + w * complex_distance**2
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=2e-5)  # float32 against float64


def test_without_noise_a_mask_of_one_is_the_minimum() -> None:
    speech, _ = _mixture()
    speech_spec = features.stft(speech, CFG)
    target = losses.spectral_target(speech_spec, tf.zeros_like(speech_spec))
    ones = tf.ones(speech_spec.shape)
    assert float(tf.reduce_max(losses.compressed_spectral_error(target, ones))) < 1e-8
    assert float(tf.reduce_mean(losses.compressed_spectral_error(target, 0.5 * ones))) > 1e-3


def test_gradient_is_finite_where_the_mask_is_zero_or_one() -> None:
    speech, noise = _mixture()
    target = losses.spectral_target(features.stft(speech, CFG), features.stft(noise, CFG))
    for value in (0.0, 1.0):
        mask = tf.Variable(tf.fill(target.shape[:-1].as_list()[:-1] + [CFG.num_bins], value))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(losses.compressed_spectral_error(target, mask))
        assert np.isfinite(tape.gradient(loss, mask).numpy()).all()


def _si_sdr_gain_of_a_fitted_free_mask(loss: str, error_fn, speech: np.ndarray, noise: np.ndarray) -> float:
    """SI-SDR (dB) the mask minimising `error_fn` on `loss`'s targets adds to the mixture speech + noise."""
    speech_spec, noise_spec = features.stft(speech, CFG), features.stft(noise, CFG)
    (target,) = losses.targets(speech_spec, noise_spec, loss)
    logits = tf.Variable(tf.zeros(speech_spec.shape))
    optimizer = keras.optimizers.Adam(0.1)
    for _ in range(150):
        with tf.GradientTape() as tape:
            loss_value = tf.reduce_mean(error_fn(target, tf.sigmoid(logits)))
        optimizer.apply_gradients([(tape.gradient(loss_value, logits), logits)])
    enhanced = features.istft(features.apply_mask(speech_spec + noise_spec, tf.sigmoid(logits)), speech.size, CFG)
    return si_sdr(speech, enhanced.numpy()) - si_sdr(speech, speech + noise)


def test_minimising_it_over_a_free_mask_cleans_a_real_mixture() -> None:
    speech, noise = _mixture(noise_scale=0.2)
    assert _si_sdr_gain_of_a_fitted_free_mask("compressed_spectral", losses.compressed_spectral_error, speech, noise) > 10.0


def test_the_mask_and_snr_loss_is_the_weighted_mask_error_plus_a_share_of_minus_the_snr() -> None:
    speech, noise = _mixture(noise_scale=0.2)
    speech_spec, noise_spec = features.stft(speech[None], CFG), features.stft(noise[None], CFG)
    (packed,) = losses.targets(speech_spec, noise_spec, "weighted_mask_mse_snr")
    irm, weights = losses.targets(speech_spec, noise_spec, "weighted_mask_mse")
    (spectral,) = losses.targets(speech_spec, noise_spec, "snr")
    mask = tf.constant(np.random.default_rng(2).uniform(0.0, 1.0, irm.shape).astype(np.float32))
    expected = tf.reduce_mean(weights * losses.squared_error(irm, mask)) + losses.SNR_TERM_WEIGHT * losses.negative_snr(spectral, mask)
    np.testing.assert_allclose(losses.weighted_error_and_snr(packed, mask).numpy(), expected.numpy(), rtol=1e-5)
    # Minimised over a free mask it cleans the mixture, as each of its terms does.
    assert _si_sdr_gain_of_a_fitted_free_mask("weighted_mask_mse_snr", losses.weighted_error_and_snr, speech, noise) > 10.0


@pytest.mark.parametrize("loss", LOSSES)
def test_targets_have_the_shapes_the_loss_unpacks(loss: str) -> None:
    speech, noise = _mixture(0.5)
    speech_spec, noise_spec = features.stft(speech[None], CFG), features.stft(noise[None], CFG)
    packed = losses.targets(speech_spec, noise_spec, loss)
    mask = tf.fill(speech_spec.shape, 0.5)
    assert packed[0].shape[:-1] == mask.shape[:-1]
    per_bin = keras.losses.get(losses.keras_loss(loss))(packed[0], mask)
    assert np.isfinite(per_bin.numpy()).all()
    assert len(packed) == (2 if loss in losses.WEIGHTED_LOSSES else 1)
    assert per_bin.shape[0] == 1


def test_asymmetric_and_compressed_losses_settle_below_the_mean_of_uncertain_targets() -> None:
    """Two noise draws on the same speech give two IRMs per bin; a mask fitted to both by the plain
    error sits at their mean, by the asymmetric one at (2 low + high) / 3, by the compressed one at
    the mean of their 0.3 powers: both leave less noise in."""
    speech, noise = _mixture(0.5, noise_scale=0.2)
    other_noise = np.random.default_rng(11).normal(scale=0.2, size=speech.shape).astype(np.float32)
    speech_spec = features.stft(speech, CFG)
    irms = [features.ideal_ratio_mask(speech_spec, features.stft(n, CFG)) for n in (noise, other_noise)]
    low, high = tf.minimum(*irms), tf.maximum(*irms)
    assert float(tf.reduce_mean(high - low)) > 0.02  # the two answers differ by (high - low) / 6, far above atol

    def fitted(error_fn) -> tf.Tensor:
        mask = tf.Variable(tf.fill(low.shape, 0.5))
        for _ in range(300):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(error_fn(irms[0], mask) + error_fn(irms[1], mask))
            mask.assign_sub(0.1 * tape.gradient(loss, mask))
        return mask

    np.testing.assert_allclose(fitted(losses.squared_error), (low + high) / 2, atol=1e-4)
    np.testing.assert_allclose(fitted(losses.asymmetric_squared_error), (2 * low + high) / 3, atol=1e-4)

    # Compressed, the fit is the mean of the compressed IRMs, below their mean wherever they differ.
    # Its gradient is steep near 0, so the mask is fitted as the model makes it, a sigmoid, by Adam.
    c = losses.COMPRESSION
    compressed_mean = ((low**c + high**c) / 2) ** (1 / c)
    uncertain = high - low > 0.2
    assert float(tf.reduce_mean(tf.boolean_mask((low + high) / 2 - compressed_mean, uncertain))) > 0.02
    logits = tf.Variable(tf.zeros(low.shape))
    optimizer = keras.optimizers.Adam(0.05)
    for _ in range(600):
        with tf.GradientTape() as tape:
            mask = tf.sigmoid(logits)
            loss = tf.reduce_sum(losses.compressed_squared_error(irms[0], mask) + losses.compressed_squared_error(irms[1], mask))
        optimizer.apply_gradients([(tape.gradient(loss, logits), logits)])
    fitted_mask = tf.boolean_mask(tf.sigmoid(logits), uncertain)  # a sigmoid nears 0 and 1 slowly; these are inside
    np.testing.assert_allclose(fitted_mask, tf.boolean_mask(compressed_mean, uncertain), atol=2e-3)


@pytest.mark.parametrize(
    ("loss", "error_fn"),
    [("compressed_spectral", losses.compressed_spectral_error), ("weighted_mask_mse_snr", losses.weighted_error_and_snr)],
)
def test_training_with_a_packed_target_loss_lowers_it(tmp_path: Path, loss: str, error_fn) -> None:
    cfg = TrainConfig(
        model=ModelConfig(depth=2, base_filters=4), mix=MixConfig(crop_seconds=0.5), batch_size=4, epochs=1,
        steps_per_epoch=25, validation_steps=1, learning_rate=3e-3, loss=loss,
    )
    rng = np.random.default_rng(5)
    speech = np.stack([harmonic_speechlike(0.5, CFG.sample_rate, seed=i) for i in range(8)])
    noise = (0.05 * rng.standard_normal(speech.shape)).astype(np.float32)
    speech_spec, noise_spec = features.stft(speech, CFG), features.stft(noise, CFG)
    examples = (features.log_magnitude(speech_spec + noise_spec), *losses.targets(speech_spec, noise_spec, cfg.loss))
    data = tf.data.Dataset.from_tensor_slices(examples).repeat().batch(cfg.batch_size)
    batch = next(iter(data))
    model = train(data, data, cfg, tmp_path / "run", RunOptions(print_fn=lambda line: None))
    fresh = keras.Model.from_config(model.get_config())
    error = lambda m: float(tf.reduce_mean(error_fn(batch[1], m(batch[0], training=True))))  # noqa: E731
    assert error(model) < error(fresh) - 0.3 * abs(error(fresh))


def test_snr_loss_is_the_enhanced_waveforms_snr() -> None:
    """In the STFT domain by Parseval; the waveform's SNR differs only by STFT consistency (< 1 dB here)."""
    speech, noise = _mixture(noise_scale=0.1)
    speech_spec, noise_spec = features.stft(speech[None], CFG), features.stft(noise[None], CFG)
    (target,) = losses.targets(speech_spec, noise_spec, "snr")
    for mask, tolerance_db in ((tf.ones(speech_spec.shape), 0.1), (features.ideal_ratio_mask(speech_spec, noise_spec), 1.0)):
        enhanced = features.istft(features.apply_mask(speech_spec + noise_spec, mask), speech.size, CFG).numpy()[0]
        got = -float(losses.negative_snr(target, mask).numpy()[0])
        assert got == pytest.approx(snr_db(speech, enhanced), abs=tolerance_db)
    assert -float(losses.negative_snr(target, tf.ones(speech_spec.shape))[0]) < 5.0 < -float(
        losses.negative_snr(target, features.ideal_ratio_mask(speech_spec, noise_spec))[0]
    )  # the IRM raises the SNR well above the input's
