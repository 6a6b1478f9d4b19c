"""Keras functional U-Nets that map a log-magnitude spectrogram `[batch, frames, bins]` to a mask.

`unet` is the offline model: 3x3 convolutions centred in time and frequency, pooling along both.
`unet_causal` only looks at past frames (convolutions padded on the left in time) and pools along
frequency only, so output frame t depends on input frames <= t and the model can stream.
Both accept any number of frames: the input is padded to a multiple of the pooling factor and the
mask is cropped back to the input's shape.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from keras_denoiser.core.config import ModelConfig, SignalConfig

PACKAGE = "keras_denoiser"


@keras.saving.register_keras_serializable(package=PACKAGE)
class PadToMultiple(layers.Layer):
    """Zero-pads axes 1 (time) and 2 (frequency) of `[batch, time, freq]` up to given multiples."""

    def __init__(self, time_multiple: int, freq_multiple: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.time_multiple = time_multiple
        self.freq_multiple = freq_multiple

    def call(self, x):
        time_pad = (-ops.shape(x)[1]) % self.time_multiple
        freq_pad = (-ops.shape(x)[2]) % self.freq_multiple
        return ops.pad(x, [[0, 0], [0, time_pad], [0, freq_pad]])

    def compute_output_shape(self, input_shape):
        batch, time, freq = input_shape
        if time is not None:
            time += (-time) % self.time_multiple
        if freq is not None:
            freq += (-freq) % self.freq_multiple
        return (batch, time, freq)

    def get_config(self) -> dict:
        return {**super().get_config(), "time_multiple": self.time_multiple, "freq_multiple": self.freq_multiple}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CropLike(layers.Layer):
    """Crops `[batch, time, freq]` to the time and frequency size of a reference tensor."""

    def call(self, x, reference):
        return x[:, : ops.shape(reference)[1], : ops.shape(reference)[2]]

    def compute_output_shape(self, x_shape, reference_shape):
        return (x_shape[0], reference_shape[1], reference_shape[2])


def _conv(x, filters: int, cfg: ModelConfig, name: str):
    """Conv + batch norm + ReLU; causal models pad only the past in time."""
    k = cfg.kernel_size
    if cfg.causal:
        x = layers.ZeroPadding2D(((k - 1, 0), (k // 2, (k - 1) // 2)), name=f"{name}_pad")(x)
        x = layers.Conv2D(filters, k, padding="valid", use_bias=False, name=f"{name}_conv")(x)
    else:
        x = layers.Conv2D(filters, k, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _block(x, filters: int, cfg: ModelConfig, name: str):
    x = _conv(x, filters, cfg, f"{name}_a")
    return _conv(x, filters, cfg, f"{name}_b")


def build_unet(model_cfg: ModelConfig, signal_cfg: SignalConfig) -> keras.Model:
    """The mask network for `model_cfg.name` with inputs `[batch, frames, signal_cfg.num_bins]`."""
    pool = (1, 2) if model_cfg.causal else (2, 2)
    factor = 2**model_cfg.depth
    log_mag = keras.Input(shape=(None, signal_cfg.num_bins), name="log_magnitude")
    x = layers.BatchNormalization(name="input_norm")(log_mag)
    x = PadToMultiple(factor if not model_cfg.causal else 1, factor, name="pad_to_multiple")(x)
    x = layers.Reshape((-1, x.shape[2], 1), name="add_channel")(x)
    skips = []
    for level in range(model_cfg.depth):
        x = _block(x, model_cfg.base_filters * 2**level, model_cfg, f"enc{level}")
        skips.append(x)
        x = layers.MaxPooling2D(pool, name=f"enc{level}_pool")(x)
    x = _block(x, model_cfg.base_filters * 2**model_cfg.depth, model_cfg, "bottleneck")
    for level in reversed(range(model_cfg.depth)):
        filters = model_cfg.base_filters * 2**level
        x = layers.Conv2DTranspose(filters, pool, strides=pool, name=f"dec{level}_up")(x)
        x = layers.Concatenate(name=f"dec{level}_skip")([x, skips[level]])
        x = _block(x, filters, model_cfg, f"dec{level}")
    x = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="mask_conv")(x)
    x = layers.Reshape((-1, x.shape[2]), name="drop_channel")(x)
    mask = CropLike(name="mask", dtype="float32")(x, log_mag)
    return keras.Model(log_mag, mask, name=model_cfg.name)
