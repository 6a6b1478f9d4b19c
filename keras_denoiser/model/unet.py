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

One function, `_unet`, describes the topology. `build_unet` walks it with new layers for the
whole-sequence graph; `CausalStep` walks it with a trained causal model's layers for one frame,
each causal convolution taking its past from an explicit state instead of zero padding. A change
to the topology therefore changes both, and a model that does not match the walk is refused.
`receptive_radius` and `time_multiple`, beside it, bound what chunked inference must carry across
chunk edges; they change with the topology too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol, Sequence

import keras
import numpy as np
from keras import layers, ops

from keras_denoiser.core.config import ModelConfig, SignalConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.core.features import LOG_EPSILON

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


@keras.saving.register_keras_serializable(package=PACKAGE)
class AppendFrames(layers.Layer):
    """Appends `frames` frames of a constant `value` along time to `[batch, time, freq]`."""

    def __init__(self, frames: int, value: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.frames = frames
        self.value = value

    def call(self, x):
        return ops.pad(x, [[0, 0], [0, self.frames], [0, 0]], constant_values=self.value)

    def compute_output_shape(self, input_shape):
        batch, time, freq = input_shape
        return (batch, None if time is None else time + self.frames, freq)

    def get_config(self) -> dict:
        return {**super().get_config(), "frames": self.frames, "value": self.value}


@keras.saving.register_keras_serializable(package=PACKAGE)
class DropFrames(layers.Layer):
    """Drops the first `frames` frames along time of `[batch, time, freq]`."""

    def __init__(self, frames: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.frames = frames

    def call(self, x):
        return x[:, self.frames :]

    def compute_output_shape(self, input_shape):
        batch, time, freq = input_shape
        return (batch, None if time is None else time - self.frames, freq)

    def get_config(self) -> dict:
        return {**super().get_config(), "frames": self.frames}


# What the input looks like past the end of a signal: the log-magnitude of silence, as a stream sees it.
SILENCE_LOG_MAGNITUDE = float(np.log(LOG_EPSILON))


class _Layers(Protocol):
    """Where `_unet` gets its layers, and how a causal convolution sees the past."""

    def layer(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> layers.Layer:
        """The layer `name` of class `cls` (`kwargs` configure a new one)."""

    def past(self, x, conv: str, frames: int, freq_padding: tuple[int, int]):
        """`x` `[batch, time, freq, channels]` preceded by `frames` past frames and padded in frequency."""

    def whole_sequence_only(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> Callable:
        """Like `layer`, but a frame-by-frame walk passes its input through (the lookahead's shift)."""


class _NewLayers:
    """The whole-sequence graph: new layers; causal convolutions see zeros before the first frame."""

    def layer(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> layers.Layer:
        return cls(name=name, **kwargs)

    def past(self, x, conv: str, frames: int, freq_padding: tuple[int, int]):
        return self.layer(layers.ZeroPadding2D, f"{conv}_pad", padding=((frames, 0), freq_padding))(x)

    def whole_sequence_only(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> Callable:
        return self.layer(cls, name, **kwargs)


def _conv(x, filters: int, cfg: ModelConfig, name: str, graph: _Layers, lookahead: int = 0):
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


def _block(x, filters: int, cfg: ModelConfig, name: str, graph: _Layers, lookahead: int = 0):
    x = _conv(x, filters, cfg, f"{name}_a", graph, lookahead)
    return _conv(x, filters, cfg, f"{name}_b", graph)


# The convolution every other layer follows, the one that takes the lookahead (`_unet`, `_block`).
FIRST_CONVOLUTION = "enc0_a_conv"


def _context_dilation(index: int) -> int:
    """The time dilation of context layer `index` (0-based): 2, 4, 8, ..."""
    return 2 ** (index + 1)


def _context(x, index: int, cfg: ModelConfig, graph: _Layers):
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


def _band_context(x, index: int, cfg: ModelConfig, graph: _Layers):
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


def _add_from_zero(x, y, name: str, graph: _Layers):
    """`x` + batch-normed ReLU(`y`), the norm's gamma starting at 0: a residual branch that adds nothing
    until trained, so a layer made of it can join a trained U-Net without changing what it computes."""
    y = graph.layer(layers.ReLU, f"{name}_relu")(y)
    y = graph.layer(layers.BatchNormalization, f"{name}_bn", gamma_initializer="zeros")(y)
    return graph.layer(layers.Add, f"{name}_add")([x, y])


def _unet(log_mag, cfg: ModelConfig, graph: _Layers):
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


def build_unet(model_cfg: ModelConfig, signal_cfg: SignalConfig) -> keras.Model:
    """The mask network for `model_cfg.name` with inputs `[batch, frames, signal_cfg.num_bins]`."""
    log_mag = keras.Input(shape=(None, signal_cfg.num_bins), name="log_magnitude")
    return keras.Model(log_mag, _unet(log_mag, model_cfg, _NewLayers()), name=model_cfg.name)


@dataclasses.dataclass(frozen=True)
class CausalState:
    """One causal convolution's memory: the last `shape[1]` frames of its input `[1, frames, bins, channels]`."""

    conv: str  # the convolution it feeds, e.g. `enc0_a`
    shape: tuple[int, ...]


class _FrameLayers:
    """One frame through a trained model's layers; causal convolutions take their past from states.

    Without states (`states=None`) the past is zeros and the walk records each state's shape.
    """

    def __init__(self, model: keras.Model, states: Sequence | None) -> None:
        self._model = model
        self._states = None if states is None else iter(states)
        self.visited: set[str] = set()
        self.found: list[CausalState] = []
        self.next_states: list = []

    def layer(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> layers.Layer:
        try:
            layer = self._model.get_layer(name)
        except ValueError:
            raise UserError(f"model {self._model.name!r} has no layer {name!r}; it is not a {PACKAGE} U-Net") from None
        if not isinstance(layer, cls):
            raise UserError(f"layer {name!r} of model {self._model.name!r} is a {type(layer).__name__}, not a {cls.__name__}")
        self.visited.add(name)
        return layer

    def past(self, x, conv: str, frames: int, freq_padding: tuple[int, int]):
        pad = self.layer(layers.ZeroPadding2D, f"{conv}_pad")
        if tuple(map(tuple, pad.padding)) != ((frames, 0), freq_padding):
            raise UserError(f"layer {pad.name} pads {pad.padding}, not the causal (({frames}, 0), {freq_padding})")
        if frames:
            shape = (1, frames, *x.shape[2:])
            if self._states is None:
                self.found.append(CausalState(conv, shape))
                state = ops.zeros(shape)
            else:
                state = next(self._states)
            x = ops.concatenate([state, x], axis=1)
            self.next_states.append(x[:, 1:])
        return ops.pad(x, [[0, 0], [0, 0], list(freq_padding), [0, 0]])

    def whole_sequence_only(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> Callable:
        self.layer(cls, name)
        return lambda x: x


class CausalStep:
    """The per-frame form of a trained `unet_causal`: a log-magnitude frame `[1, 1, bins]` and the states
    in, a mask `[1, 1, bins]` and the next states out. Frame by frame it equals the whole-sequence model
    (pooling is along frequency only, so only the causal convolutions need memory), `lookahead_frames`
    late: the mask out with frame n is frame n - `lookahead_frames`'s, and the frames after a signal's
    last are `SILENCE_LOG_MAGNITUDE`.
    """

    def __init__(self, model: keras.Model, model_cfg: ModelConfig) -> None:
        if not model_cfg.causal:
            raise UserError(f"model {model_cfg.name!r} looks at future frames and cannot stream; train unet_causal")
        self.model = model
        self.model_cfg = model_cfg
        walk = _FrameLayers(model, None)
        _unet(ops.zeros((1, 1, model.input_shape[-1])), model_cfg, walk)
        unused = {layer.name for layer in model.layers if not isinstance(layer, layers.InputLayer)} - walk.visited
        if unused:
            raise UserError(f"model {model.name!r} has layers outside the {model_cfg.name} topology: {sorted(unused)}")
        self.states: tuple[CausalState, ...] = tuple(walk.found)
        self.lookahead_frames = model_cfg.lookahead_frames

    def initial_states(self) -> list[np.ndarray]:
        """All-zero states: the same zeros the whole-sequence model pads the past with."""
        return [np.zeros(s.shape, np.float32) for s in self.states]

    def __call__(self, frame, states: Sequence) -> tuple[Any, list]:
        """(mask `[1, 1, bins]`, next states) for a frame `[1, 1, bins]` and the states in `self.states` order."""
        if len(states) != len(self.states):
            raise ValueError(f"expected {len(self.states)} states, got {len(states)}")
        walk = _FrameLayers(self.model, states)
        mask = _unet(frame, self.model_cfg, walk)
        return mask, walk.next_states
