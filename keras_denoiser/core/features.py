"""STFT, log-magnitude, Ideal Ratio Mask and inverse STFT, all in TensorFlow.

Every function works on the last axis of a waveform batch `[..., samples]` and is used unchanged
by the tf.data graph, the model wrappers and the exporters.

The waveform is padded with `frame_length - hop_length` zeros on both sides (plus enough at the end
to complete the last hop) so that, with a Hann window at 75 % overlap, `istft(stft(x))` restores
every original sample; `istft` crops the padding off again.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import tensorflow as tf

from keras_denoiser.core.config import SignalConfig, check_attenuation_limit
from tflite_demo import stream

LOG_EPSILON = 1e-6


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


def apply_mask(spec: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Scale a complex spectrogram by a real mask, keeping the noisy phase."""
    return spec * tf.cast(mask, spec.dtype)


def mask_floor(max_attenuation_db: float) -> float:
    """The smallest mask value allowed by an attenuation limit: 10^(-dB/20); `inf` dB is no limit (0).

    A floor keeps some of the input everywhere, so a mask that is wrong on an unheard voice can
    never remove it outright; 0 dB keeps everything and gives the input back. The rule itself is
    the app's (`tflite_demo.stream.mask_floor`), so the graph floors as the device does.
    """
    return stream.mask_floor(check_attenuation_limit(max_attenuation_db))


class Enhanced(NamedTuple):
    """What the mask chain computes: the enhanced waveform, and the noisy spectrogram and mask it used."""

    wave: tf.Tensor
    spectrogram: tf.Tensor
    mask: tf.Tensor


def enhance(
    wave: tf.Tensor,
    mask_fn: Callable[[tf.Tensor], tf.Tensor],
    cfg: SignalConfig,
    floor: float | tf.Tensor = 0.0,
    keep_from: int | tf.Tensor = 0,
    keep_to: int | tf.Tensor | None = None,
    num_samples: int | tf.Tensor | None = None,
) -> Enhanced:
    """The one STFT -> log-magnitude -> mask (floored) -> mask x noisy spectrogram -> iSTFT chain.

    `mask_fn` maps log-magnitude `[..., frames, bins]` to a mask of the same shape (a Keras model, a
    TFLite interpreter, ...). Frames `keep_from:keep_to` are inverted into `num_samples` samples
    (default: all frames, the input's length); chunked inference keeps a chunk's centre this way.
    """
    spec = stft(wave, cfg)
    mask = tf.maximum(tf.cast(mask_fn(log_magnitude(spec)), tf.float32), floor)
    masked = apply_mask(spec, mask)[..., keep_from:keep_to, :]
    length = tf.shape(wave)[-1] if num_samples is None else num_samples
    return Enhanced(istft(masked, length, cfg), spec, mask)
