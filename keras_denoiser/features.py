"""STFT, log-magnitude, Ideal Ratio Mask and inverse STFT, all in TensorFlow.

Every function works on the last axis of a waveform batch `[..., samples]` and is used unchanged
by the tf.data graph, the model wrappers and the exporters.

The waveform is padded with `frame_length - hop_length` zeros on both sides (plus enough at the end
to complete the last hop) so that, with a Hann window at 75 % overlap, `istft(stft(x))` restores
every original sample; `istft` crops the padding off again.
"""

from __future__ import annotations

import tensorflow as tf

from keras_denoiser.config import SignalConfig

LOG_EPSILON = 1e-6
# weighted_mask_mse: squared mask errors weighted by |X|^0.6, the 0.3 power-law compression squared.
MAGNITUDE_WEIGHT_EXPONENT = 0.6


def num_frames(num_samples: int, cfg: SignalConfig) -> int:
    """Number of STFT frames `stft` produces for a waveform of `num_samples` samples."""
    padded = num_samples + 2 * cfg.pad
    padded += (-(padded - cfg.frame_length)) % cfg.hop_length
    return 1 + (padded - cfg.frame_length) // cfg.hop_length


def _pad(wave: tf.Tensor, cfg: SignalConfig) -> tf.Tensor:
    n = tf.shape(wave)[-1]
    padded = n + 2 * cfg.pad
    extra = tf.math.floormod(-(padded - cfg.frame_length), cfg.hop_length)
    rank = tf.rank(wave)
    paddings = tf.concat(
        [tf.zeros([rank - 1, 2], tf.int32), [[cfg.pad, cfg.pad + extra]]], axis=0
    )
    return tf.pad(wave, paddings)


def stft(wave: tf.Tensor, cfg: SignalConfig) -> tf.Tensor:
    """Complex STFT `[..., frames, bins]` of a float waveform `[..., samples]`."""
    wave = tf.convert_to_tensor(wave, tf.float32)
    return tf.signal.stft(
        _pad(wave, cfg),
        frame_length=cfg.frame_length,
        frame_step=cfg.hop_length,
        fft_length=cfg.frame_length,
        window_fn=tf.signal.hann_window,
    )


def istft(spec: tf.Tensor, num_samples: tf.Tensor | int, cfg: SignalConfig) -> tf.Tensor:
    """Waveform `[..., num_samples]` from a complex STFT made by `stft`."""
    wave = tf.signal.inverse_stft(
        spec,
        frame_length=cfg.frame_length,
        frame_step=cfg.hop_length,
        fft_length=cfg.frame_length,
        window_fn=tf.signal.inverse_stft_window_fn(cfg.hop_length, tf.signal.hann_window),
    )
    return wave[..., cfg.pad : cfg.pad + num_samples]


def log_magnitude(spec: tf.Tensor) -> tf.Tensor:
    """Natural log of the magnitude, floored at LOG_EPSILON: the network's input feature."""
    return tf.math.log(tf.abs(spec) + LOG_EPSILON)


def ideal_ratio_mask(speech_spec: tf.Tensor, noise_spec: tf.Tensor) -> tf.Tensor:
    """IRM = sqrt(|S|^2 / (|S|^2 + |N|^2)); 1 where noise is 0, 0 where speech is 0 (0 if both are)."""
    speech_power = tf.math.square(tf.abs(speech_spec))
    noise_power = tf.math.square(tf.abs(noise_spec))
    return tf.math.sqrt(tf.math.divide_no_nan(speech_power, speech_power + noise_power))


def magnitude_weights(spec: tf.Tensor, exponent: float = MAGNITUDE_WEIGHT_EXPONENT) -> tf.Tensor:
    """Per-bin loss weights |X|^exponent of a batch `[batch, frames, bins]`, scaled to mean 1 per example."""
    weights = tf.math.pow(tf.abs(spec), exponent)
    return tf.math.divide_no_nan(weights, tf.reduce_mean(weights, axis=[-2, -1], keepdims=True))


def apply_mask(spec: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Scale a complex spectrogram by a real mask, keeping the noisy phase."""
    return spec * tf.cast(mask, spec.dtype)
