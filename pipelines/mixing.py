"""In-graph mixing ops: random crops, looped noise, speed perturbation and mixing at an SNR.

Every random choice is a stateless op driven by an explicit seed `[2]`, so a given example seed
always produces the same example, whatever else the pipeline does.
"""

from __future__ import annotations

import tensorflow as tf

from keras_denoiser.core.mixing import PEAK_LIMIT


def seeds_for(example_seed: tf.Tensor, count: int) -> tf.Tensor:
    """`count` independent stateless seeds `[count, 2]` derived from a scalar int64 example seed."""
    base = tf.stack([tf.cast(example_seed, tf.int64), tf.constant(0x5EED, tf.int64)])
    return tf.random.experimental.stateless_split(base, num=count)


def uniform(seed: tf.Tensor, low: float, high: float) -> tf.Tensor:
    """A float32 scalar uniform in [low, high]."""
    return tf.random.stateless_uniform([], seed, minval=low, maxval=high) if high > low else tf.constant(low)


def random_crop(wave: tf.Tensor, length: tf.Tensor | int, seed: tf.Tensor) -> tf.Tensor:
    """A random `length`-sample window of `wave`; a shorter wave is zero-padded at a random place."""
    pad_seed, start_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    n = tf.shape(wave)[0]
    spare = tf.maximum(length - n, 0)
    left = _random_int(pad_seed, spare)
    padded = tf.pad(wave, [[left, spare - left]])
    start = _random_int(start_seed, tf.shape(padded)[0] - length)
    return padded[start : start + length]


def loop_to_length(wave: tf.Tensor, length: int, seed: tf.Tensor) -> tf.Tensor:
    """`length` samples of `wave` played in a loop from a random offset (clicks get tiled, long noise cropped)."""
    n = tf.shape(wave)[0]
    offset = _random_int(seed, n - 1)
    return tf.gather(wave, tf.math.floormod(offset + tf.range(length), n))


def change_speed(wave: tf.Tensor, factor: tf.Tensor, length: int, seed: tf.Tensor) -> tf.Tensor:
    """`length` samples of `wave` played `factor` times faster, by linear interpolation, from a random place."""
    source_length = tf.cast(tf.math.ceil(length * factor), tf.int32) + 1
    source = random_crop(wave, source_length, seed)
    position = tf.range(length, dtype=tf.float32) * factor
    below = tf.cast(tf.floor(position), tf.int32)
    weight = position - tf.floor(position)
    return (1.0 - weight) * tf.gather(source, below) + weight * tf.gather(source, below + 1)


def mix_at_snr(
    speech: tf.Tensor, noise: tf.Tensor, snr_db: tf.Tensor | float, gain_db: tf.Tensor | float
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(mixture, scaled_speech, scaled_noise) with speech-to-noise ratio `snr_db` over the last axis.

    The noise is scaled to the SNR, then all three are scaled so the mixture's RMS is `gain_db` dBFS,
    and scaled down further when the mixture's peak would exceed PEAK_LIMIT, which keeps the SNR.
    A silent noise stays silent; a silent speech gives silent noise too. The graph twin of
    `core.mixing.mix_at_snr`.
    """
    speech = tf.convert_to_tensor(speech, tf.float32)
    noise = tf.convert_to_tensor(noise, tf.float32)
    snr_db = tf.expand_dims(tf.cast(snr_db, tf.float32), -1)
    gain_db = tf.expand_dims(tf.cast(gain_db, tf.float32), -1)
    speech_power = tf.reduce_mean(tf.square(speech), axis=-1, keepdims=True)
    noise_power = tf.reduce_mean(tf.square(noise), axis=-1, keepdims=True)
    noise = noise * tf.sqrt(tf.math.divide_no_nan(speech_power, noise_power * 10.0 ** (snr_db / 10.0)))
    mixture = speech + noise
    rms = tf.sqrt(tf.reduce_mean(tf.square(mixture), axis=-1, keepdims=True))
    gain = tf.math.divide_no_nan(10.0 ** (gain_db / 20.0), rms)
    peak = tf.reduce_max(tf.abs(mixture), axis=-1, keepdims=True) * gain
    gain *= tf.minimum(1.0, tf.math.divide_no_nan(tf.constant(PEAK_LIMIT), peak))
    return mixture * gain, speech * gain, noise * gain


def _random_int(seed: tf.Tensor, high: tf.Tensor) -> tf.Tensor:
    """An int32 scalar uniform in [0, high]."""
    return tf.random.stateless_uniform([], seed, minval=0, maxval=high + 1, dtype=tf.int32)
