"""What the U-Net is trained to minimise: the targets each loss needs, and the Keras loss itself.

The training graph calls `targets` for a batch's speech and noise spectrograms; `keras_loss` gives
the matching function for `model.compile`. Keeping both here keeps the packing of a target and its
unpacking in one place.

- `mask_mse`: mean squared error between the predicted mask and the ideal ratio mask.
- `weighted_mask_mse`: the same error per bin, weighted by |X|^0.6 (Keras sample weights), so errors
  where there is sound count and errors in near-silent bins hardly do.
- `asymmetric_mask_mse`: `weighted_mask_mse` where a mask above the IRM, which leaves noise in, costs
  (1 + OVER_MASK_PENALTY) times as much as one below it, which takes speech out. PESQ punishes
  what is added to the speech more than what is missing from it, and the peers that score higher
  on it cut noise deeper at some cost in speech.
- `compressed_mask_mse`: `weighted_mask_mse` on 0.3-compressed masks, which with the |X|^0.6 weights is
  the squared error of (mask |X|)^0.3 against (IRM |X|)^0.3: the magnitude term of
  `compressed_spectral`, aimed at the IRM-masked mixture rather than the clean spectrum, so the noisy
  phase cannot ask for speech to be cut. The plain error hardly tells small masks apart (0.1 and 0.01
  leave noise 20 dB apart; their squared errors to 0 are 0.01 and 0.0001), so IRM-trained masks stop
  short in noise-only bins, where PESQ listens; compressed, the two cost 0.25 and 0.06.
- `compressed_spectral`: a loss on what is heard. The enhanced spectrum (mask x noisy, noisy phase)
  is compared with the clean one after 0.3 power-law compression: a magnitude term and, weighted 0.3,
  a complex term that also sees the phase error (Wilson et al. 2018; Braun and Tashev 2021). It asks
  for a mask that makes the output sound like the speech, which the IRM only approximates.
- `snr`: minus the enhanced spectrum's signal-to-noise ratio against the clean one, in dB per
  example. By Parseval (up to STFT consistency) this is the waveform's SNR, so it aims at SI-SDR;
  in dB every example counts alike, quiet or loud, low SNR or high.
- `weighted_mask_mse_snr`: `weighted_mask_mse` plus SNR_TERM_WEIGHT x `snr`: the IRM keeps
  supervising every bin, and the waveform's SNR, which the IRM only approximates, pulls beside it.
"""

from __future__ import annotations

import tensorflow as tf

from keras_denoiser.core import features

# weighted_mask_mse: squared mask errors weighted by |X|^0.6, the 0.3 power-law compression squared.
MAGNITUDE_WEIGHT_EXPONENT = 0.6
OVER_MASK_PENALTY = 1.0  # asymmetric_mask_mse: an over-estimate's squared error counts twice
COMPRESSION = 0.3  # compressed_spectral and compressed_mask_mse: magnitudes are compared as |X|^0.3
COMPLEX_WEIGHT = 0.3  # compressed_spectral: share of the complex (phase-aware) term
_MASK_EPSILON = 1e-7  # keeps the gradient of mask^0.3 finite where the mask is 0
_SNR_EPSILON = 1e-8  # snr: keeps a silent example's ratio finite (energies are scaled to mean |Y| = 1)
# weighted_mask_mse_snr: loss per dB of output SNR. On a trained compact model (`runs/r3` epoch 10, 16 sentence
# mixtures) the SNR term's gradient is then a quarter of the mask error's (cosine 0.7 between them).
SNR_TERM_WEIGHT = 0.005


def magnitude_weights(spec: tf.Tensor, exponent: float = MAGNITUDE_WEIGHT_EXPONENT) -> tf.Tensor:
    """Per-bin loss weights |X|^exponent of a batch `[batch, frames, bins]`, scaled to mean 1 per example."""
    weights = tf.math.pow(tf.abs(spec), exponent)
    return tf.math.divide_no_nan(weights, tf.reduce_mean(weights, axis=[-2, -1], keepdims=True))


def spectral_target(speech_spec: tf.Tensor, noise_spec: tf.Tensor, compression: float = COMPRESSION) -> tf.Tensor:
    """The spectral losses' target `[..., frames, 3 * bins]`: |Y|^c, |S|^c and cos(angle S - angle Y).

    Y is the noisy spectrum, c the `compression`. Both magnitudes are divided by the example's mean
    |Y|^c, so quiet and loud mixtures weigh the same. The three are concatenated along bins so the
    target has the mask's rank (Keras compares ranks before calling the loss).
    """
    noisy_spec = speech_spec + noise_spec
    noisy = tf.math.pow(tf.abs(noisy_spec), compression)
    speech = tf.math.pow(tf.abs(speech_spec), compression)
    scale = tf.reduce_mean(noisy, axis=[-2, -1], keepdims=True)
    product = speech_spec * tf.math.conj(noisy_spec)
    cosine = tf.math.divide_no_nan(tf.math.real(product), tf.abs(product))
    return tf.concat([tf.math.divide_no_nan(noisy, scale), tf.math.divide_no_nan(speech, scale), cosine], axis=-1)


def _compressed_mask(mask: tf.Tensor) -> tf.Tensor:
    """mask^COMPRESSION, with a finite gradient where the mask is 0."""
    return tf.math.pow(tf.cast(mask, tf.float32) + _MASK_EPSILON, COMPRESSION)


def compressed_spectral_error(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Per-bin error `[batch, frames, bins]` of a mask `y_pred` against a `spectral_target` `y_true`.

    With a = (mask |Y|)^0.3 and b = |S|^0.3: (1 - w)(a - b)^2 + w |a e^{i angle Y} - b e^{i angle S}|^2,
    where the second term is a^2 + b^2 - 2ab cos(angle S - angle Y).
    """
    noisy, speech, cosine = tf.split(tf.cast(y_true, tf.float32), 3, axis=-1)
    enhanced = _compressed_mask(y_pred) * noisy
    magnitude_error = tf.math.square(enhanced - speech)
    complex_error = tf.math.square(enhanced) + tf.math.square(speech) - 2.0 * enhanced * speech * cosine
    return (1.0 - COMPLEX_WEIGHT) * magnitude_error + COMPLEX_WEIGHT * complex_error


def negative_snr(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Per-example -SNR in dB `[batch]` of mask x noisy against clean, from an uncompressed `spectral_target`.

    |mY - S|^2 = (m|Y|)^2 + |S|^2 - 2 m|Y||S| cos(angle S - angle Y), summed over frames and bins.
    """
    noisy, speech, cosine = tf.split(tf.cast(y_true, tf.float32), 3, axis=-1)
    enhanced = tf.cast(y_pred, tf.float32) * noisy
    error = tf.math.square(enhanced) + tf.math.square(speech) - 2.0 * enhanced * speech * cosine
    speech_energy = tf.reduce_sum(tf.math.square(speech), axis=[-2, -1])
    error_energy = tf.reduce_sum(tf.maximum(error, 0.0), axis=[-2, -1])
    ratio = (speech_energy + _SNR_EPSILON) / (error_energy + _SNR_EPSILON)
    return -10.0 * tf.math.log(ratio) / tf.math.log(10.0)


def weighted_error_and_snr(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Per-example loss `[batch]` of `weighted_mask_mse_snr`: y_true packs the IRM, then an uncompressed `spectral_target`.

    The bins' weights are `weighted_mask_mse`'s, taken from the target's noisy magnitude.
    """
    y_true = tf.cast(y_true, tf.float32)
    bins = tf.shape(y_pred)[-1]
    irm, spectral = y_true[..., :bins], y_true[..., bins:]
    noisy = tf.split(spectral, 3, axis=-1)[0]
    weighted = magnitude_weights(noisy) * squared_error(irm, y_pred)
    return tf.reduce_mean(weighted, axis=[-2, -1]) + SNR_TERM_WEIGHT * negative_snr(spectral, y_pred)


def squared_error(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Per-bin squared mask error `[batch, frames, bins]`, for the dataset's per-bin weights to scale."""
    return tf.math.square(tf.cast(y_pred, tf.float32) - y_true)


def asymmetric_squared_error(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Per-bin squared mask error `[batch, frames, bins]`, (1 + OVER_MASK_PENALTY) times where the mask is above the IRM."""
    error = tf.cast(y_pred, tf.float32) - y_true
    return tf.math.square(error) * (1.0 + OVER_MASK_PENALTY * tf.cast(error > 0.0, tf.float32))


def compressed_squared_error(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Per-bin squared error `[batch, frames, bins]` of the masks compressed by COMPRESSION."""
    return tf.math.square(_compressed_mask(y_pred) - _compressed_mask(y_true))


# Losses whose batches carry per-bin weights.
WEIGHTED_LOSSES = ("weighted_mask_mse", "asymmetric_mask_mse", "compressed_mask_mse")


def targets(speech_spec: tf.Tensor, noise_spec: tf.Tensor, loss: str) -> tuple[tf.Tensor, ...]:
    """What a batch carries besides its input for `loss`: (y_true,) or (y_true, sample_weight)."""
    if loss == "compressed_spectral":
        return (spectral_target(speech_spec, noise_spec),)
    if loss == "snr":
        return (spectral_target(speech_spec, noise_spec, compression=1.0),)
    irm = features.ideal_ratio_mask(speech_spec, noise_spec)
    if loss == "weighted_mask_mse_snr":
        return (tf.concat([irm, spectral_target(speech_spec, noise_spec, compression=1.0)], axis=-1),)
    if loss in WEIGHTED_LOSSES:
        return irm, magnitude_weights(speech_spec + noise_spec)
    return (irm,)


def keras_loss(loss: str):
    """The function (or Keras name) `model.compile` takes for `loss`."""
    return {
        "mask_mse": "mse",
        "weighted_mask_mse": squared_error,
        "asymmetric_mask_mse": asymmetric_squared_error,
        "compressed_mask_mse": compressed_squared_error,
        "compressed_spectral": compressed_spectral_error,
        "snr": negative_snr,
        "weighted_mask_mse_snr": weighted_error_and_snr,
    }[loss]
