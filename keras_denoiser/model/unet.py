"""Keras functional U-Nets that map a log-magnitude spectrogram `[batch, frames, bins]` to a mask.

`unet` is the offline model: 3x3 convolutions centred in time and frequency, pooling along both.
`unet_causal` only looks at past frames (convolutions padded on the left in time) and pools along
frequency only, so output frame t depends on input frames <= t and the model can stream. With
`lookahead_frames` L it is read L frames late: the input gets L frames of silence appended, the
first L output frames are dropped, and the first convolution's kernel is L frames wider in time, so
the mask of frame t uses frames <= t + L while the network inside stays causal (a stream emits the
mask of frame n - L at frame n).
Both accept any number of frames: the input is padded to a multiple of the pooling factor and the
mask is cropped back to the input's shape.

One function, `topology`, describes the network; `model.network` walks it (see `model.graph`) with
new layers for the whole-sequence graph, or with a trained causal model's layers for one frame.
`receptive_radius` and `time_multiple`, beside it, bound what chunked inference must carry across
chunk edges; they change with the topology too.
"""

from __future__ import annotations

import numpy as np
from keras import layers

from keras_denoiser.core.config import ModelConfig, SignalConfig
from keras_denoiser.model.graph import SILENCE_LOG_MAGNITUDE, AppendFrames, CropLike, DropFrames, Graph, PadToMultiple


def _conv(x, filters: int, cfg: ModelConfig, name: str, graph: Graph, lookahead: int = 0):
    """Conv + batch norm + ReLU; causal models pad only the past in time.

    `lookahead` (causal only) widens the kernel by that many frames in time: read that many frames
    late, the convolution sees them ahead of the output frame.
    """
    k = cfg.kernel_size
    if cfg.causal:
        x = graph.past(x, name, k - 1 + lookahead, (k // 2, (k - 1) // 2))
        x = graph.layer(
            layers.Conv2D, f"{name}_conv", filters=filters, kernel_size=(k + lookahead, k), padding="valid", use_bias=False
        )(x)
    else:
        x = graph.layer(layers.Conv2D, f"{name}_conv", filters=filters, kernel_size=k, padding="same", use_bias=False)(x)
    x = graph.layer(layers.BatchNormalization, f"{name}_bn")(x)
    return graph.layer(layers.ReLU, f"{name}_relu")(x)


def _block(x, filters: int, cfg: ModelConfig, name: str, graph: Graph, lookahead: int = 0):
    x = _conv(x, filters, cfg, f"{name}_a", graph, lookahead)
    return _conv(x, filters, cfg, f"{name}_b", graph)


# The convolution every other layer follows, the one that takes the lookahead (`topology`, `_block`).
FIRST_CONVOLUTION = "enc0_a_conv"


def _context_dilation(index: int) -> int:
    """The time dilation of context layer `index` (0-based): 2, 4, 8, ..."""
    return 2 ** (index + 1)


def _context(x, index: int, cfg: ModelConfig, graph: Graph):
    """Residual convolution along time only, dilated 2^(index + 1): memory of past (and, offline, future) frames.

    It starts as identity (`_add_from_zero`), so a trained U-Net without it can be fine-tuned into
    one without losing what it learned.
    """
    name, dilation, k = f"context{index}", _context_dilation(index), cfg.kernel_size
    conv_args = dict(filters=x.shape[-1], kernel_size=(k, 1), dilation_rate=(dilation, 1), use_bias=False)
    if cfg.causal:
        y = graph.past(x, name, (k - 1) * dilation, (0, 0))
        y = graph.layer(layers.Conv2D, f"{name}_conv", padding="valid", **conv_args)(y)
    else:
        y = graph.layer(layers.Conv2D, f"{name}_conv", padding="same", **conv_args)(x)
    return _add_from_zero(x, y, name, graph)


def _band_context(x, index: int, cfg: ModelConfig, graph: Graph):
    """Residual convolution along frequency only, dilated 2^index: each bottleneck bin sees far along
    the band in its own frame. It reaches no other frame, so a stream keeps no state for it; like
    `_context` it starts as identity, so a trained U-Net can be fine-tuned into one.
    """
    name = f"band_context{index}"
    y = graph.layer(
        layers.Conv2D, f"{name}_conv", filters=x.shape[-1], kernel_size=(1, cfg.kernel_size),
        dilation_rate=(1, 2**index), padding="same", use_bias=False,
    )(x)
    return _add_from_zero(x, y, name, graph)


def _add_from_zero(x, y, name: str, graph: Graph):
    """`x` + batch-normed ReLU(`y`), the norm's gamma starting at 0: a residual branch that adds nothing
    until trained, so a layer made of it can join a trained U-Net without changing what it computes."""
    y = graph.layer(layers.ReLU, f"{name}_relu")(y)
    y = graph.layer(layers.BatchNormalization, f"{name}_bn", gamma_initializer="zeros")(y)
    return graph.layer(layers.Add, f"{name}_add")([x, y])


def topology(log_mag, cfg: ModelConfig, signal: SignalConfig, graph: Graph):
    """The mask for `log_mag` `[batch, frames, bins]`: the one description of the U-Net topology."""
    pool = (1, 2) if cfg.causal else (2, 2)
    factor = 2**cfg.depth
    x = log_mag
    if cfg.lookahead_frames:
        x = graph.whole_sequence_only(
            AppendFrames, "lookahead_pad", frames=cfg.lookahead_frames, value=SILENCE_LOG_MAGNITUDE
        )(x)
    x = graph.layer(layers.BatchNormalization, "input_norm")(x)
    x = graph.layer(PadToMultiple, "pad_to_multiple", time_multiple=time_multiple(cfg), freq_multiple=factor)(x)
    x = graph.layer(layers.Reshape, "add_channel", target_shape=(-1, x.shape[2], 1))(x)
    skips = []
    for level in range(cfg.depth):
        lookahead = cfg.lookahead_frames if level == 0 else 0
        x = _block(x, cfg.base_filters * 2**level, cfg, f"enc{level}", graph, lookahead)
        skips.append(x)
        x = graph.layer(layers.MaxPooling2D, f"enc{level}_pool", pool_size=pool)(x)
    x = _block(x, cfg.base_filters * 2**cfg.depth, cfg, "bottleneck", graph)
    for index in range(cfg.context_layers):
        x = _context(x, index, cfg, graph)
    for index in range(cfg.band_context_layers):
        x = _band_context(x, index, cfg, graph)
    for level in reversed(range(cfg.depth)):
        filters = cfg.base_filters * 2**level
        x = graph.layer(layers.Conv2DTranspose, f"dec{level}_up", filters=filters, kernel_size=pool, strides=pool)(x)
        x = graph.layer(layers.Concatenate, f"dec{level}_skip")([x, skips[level]])
        x = _block(x, filters, cfg, f"dec{level}", graph)
    x = graph.layer(layers.Conv2D, "mask_conv", filters=1, kernel_size=1, activation="sigmoid", dtype="float32")(x)
    x = graph.layer(layers.Reshape, "drop_channel", target_shape=(-1, x.shape[2]))(x)
    if cfg.lookahead_frames:
        x = graph.whole_sequence_only(DropFrames, "lookahead_crop", frames=cfg.lookahead_frames, dtype="float32")(x)
    return graph.layer(CropLike, "mask", dtype="float32")(x, log_mag)


def receptive_radius(model_cfg: ModelConfig) -> int:
    """Frames on each side of an output frame that can influence it (a safe upper bound).

    Each convolution at a level with time stride s reaches (k - 1) * s frames; pooling and
    upsampling each add one stride; a context layer of dilation d at the bottleneck (k - 1) * d * s;
    a lookahead its frames.
    """
    k = model_cfg.kernel_size
    radius = 0
    for level in range(model_cfg.depth):
        stride = 1 if model_cfg.causal else 2**level
        radius += stride * (4 * (k - 1) + 2)
    bottleneck_stride = 1 if model_cfg.causal else 2**model_cfg.depth
    dilations = sum(_context_dilation(index) for index in range(model_cfg.context_layers))
    return radius + bottleneck_stride * (k - 1) * (2 + dilations) + model_cfg.lookahead_frames


def widen_first_convolution(kernel: np.ndarray, frames: int) -> np.ndarray:
    """`FIRST_CONVOLUTION`'s trained kernel `[time, freq, in, out]` with `frames` more, newest, time taps, zero.

    A model given `frames` more lookahead is read that many frames later; with the new taps at zero
    it computes exactly what the trained model did, and training learns what the future adds.
    """
    return np.concatenate([kernel, np.zeros((frames, *kernel.shape[1:]), kernel.dtype)], axis=0)


def time_multiple(model_cfg: ModelConfig) -> int:
    """Chunks must start on a multiple of this many frames so pooling windows line up."""
    return 1 if model_cfg.causal else 2**model_cfg.depth
