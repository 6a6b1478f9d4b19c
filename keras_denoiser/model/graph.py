"""How a topology is walked: with new layers for the whole-sequence graph, or a trained model's layers frame by frame.

A topology (`model.unet`, `model.compact`) is one function of (log-magnitude, ModelConfig, graph)
that gets every layer from `graph`. `NewLayers` builds the whole-sequence Keras graph: causal
convolutions see zeros before the first frame and recurrent layers start from zero. `FrameLayers`
runs one frame through a trained model's layers, each causal convolution taking its past and each
recurrent layer its hidden state from an explicit state, and collects the next states; that is
what `model.network.CausalStep` and the streaming export are made of. The small layers every
topology shares live here too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol, Sequence

import keras
import numpy as np
from keras import layers, ops

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


@keras.saving.register_keras_serializable(package=PACKAGE)
class BandsToBatch(layers.Layer):
    """`[batch, time, bands, channels]` -> `[batch * bands, time, channels]`: every band its own sequence."""

    def call(self, x):
        return ops.reshape(ops.transpose(x, (0, 2, 1, 3)), (-1, ops.shape(x)[1], x.shape[3]))

    def compute_output_shape(self, input_shape):
        batch, time, bands, channels = input_shape
        return (None if batch is None else batch * bands, time, channels)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BatchToBands(layers.Layer):
    """The inverse of `BandsToBatch` for a model of `bands` bands."""

    def __init__(self, bands: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bands = bands

    def call(self, x):
        return ops.transpose(ops.reshape(x, (-1, self.bands, ops.shape(x)[1], x.shape[2])), (0, 2, 1, 3))

    def compute_output_shape(self, input_shape):
        sequences, time, channels = input_shape
        return (None if sequences is None else sequences // self.bands, time, self.bands, channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "bands": self.bands}


# What the input looks like past the end of a signal: the log-magnitude of silence, as a stream sees it.
SILENCE_LOG_MAGNITUDE = float(np.log(LOG_EPSILON))


class Graph(Protocol):
    """Where `_unet` gets its layers, and how a causal convolution sees the past."""

    def layer(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> layers.Layer:
        """The layer `name` of class `cls` (`kwargs` configure a new one)."""

    def past(self, x, conv: str, frames: int, freq_padding: tuple[int, int]):
        """`x` `[batch, time, freq, channels]` preceded by `frames` past frames and padded in frequency."""

    def whole_sequence_only(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> Callable:
        """Like `layer`, but a frame-by-frame walk passes its input through (the lookahead's shift)."""

    def recurrent(self, x, name: str, units: int):
        """A GRU `name` of `units` over time of `x` `[batch, time, features]`; its hidden state is memory."""

    def band_recurrent(self, x, name: str, units: int):
        """One GRU `name` of `units` over time in every band of `x` `[batch, time, bands, channels]`."""


class NewLayers:
    """The whole-sequence graph: new layers; causal convolutions see zeros before the first frame."""

    def layer(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> layers.Layer:
        return cls(name=name, **kwargs)

    def past(self, x, conv: str, frames: int, freq_padding: tuple[int, int]):
        return self.layer(layers.ZeroPadding2D, f"{conv}_pad", padding=((frames, 0), freq_padding))(x)

    def whole_sequence_only(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> Callable:
        return self.layer(cls, name, **kwargs)

    def recurrent(self, x, name: str, units: int):
        return self.layer(layers.GRU, name, units=units, return_sequences=True)(x)

    def band_recurrent(self, x, name: str, units: int):
        y = self.layer(BandsToBatch, f"{name}_bands_in")(x)
        y = self.recurrent(y, name, units)
        return self.layer(BatchToBands, f"{name}_bands_out", bands=x.shape[2])(y)


@dataclasses.dataclass(frozen=True)
class CausalState:
    """One layer's memory across frames: a causal convolution's last `shape[1]` input frames
    `[1, frames, bins, channels]`, or a recurrent layer's hidden state `[1, units]` (`[bands, units]`
    for a GRU in every band)."""

    conv: str  # the layer it feeds, e.g. `enc0_a` or `gru`
    shape: tuple[int, ...]


class FrameLayers:
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
            raise UserError(f"model {self._model.name!r} has no layer {name!r}; it is not a {PACKAGE} network") from None
        if not isinstance(layer, cls):
            raise UserError(f"layer {name!r} of model {self._model.name!r} is a {type(layer).__name__}, not a {cls.__name__}")
        self.visited.add(name)
        return layer

    def past(self, x, conv: str, frames: int, freq_padding: tuple[int, int]):
        pad = self.layer(layers.ZeroPadding2D, f"{conv}_pad")
        if tuple(map(tuple, pad.padding)) != ((frames, 0), freq_padding):
            raise UserError(f"layer {pad.name} pads {pad.padding}, not the causal (({frames}, 0), {freq_padding})")
        if frames:
            state = self._state(CausalState(conv, (1, frames, *x.shape[2:])))
            x = ops.concatenate([state, x], axis=1)
            self.next_states.append(x[:, 1:])
        return ops.pad(x, [[0, 0], [0, 0], list(freq_padding), [0, 0]])

    def recurrent(self, x, name: str, units: int):
        gru = self.layer(layers.GRU, name)
        if gru.units != units:
            raise UserError(f"layer {name!r} has {gru.units} units, not {units}")
        state = self._state(CausalState(name, (x.shape[0], units)))
        hidden, _ = gru.cell(x[:, 0], state)
        self.next_states.append(hidden)
        return hidden[:, None]

    def band_recurrent(self, x, name: str, units: int):
        self.layer(BandsToBatch, f"{name}_bands_in")
        self.layer(BatchToBands, f"{name}_bands_out")
        hidden = self.recurrent(ops.transpose(x[0], (1, 0, 2)), name, units)  # the bands are the GRU's batch
        return ops.transpose(hidden, (1, 0, 2))[None]

    def _state(self, expected: CausalState):
        """The next state from the caller, or (recording its shape) zeros."""
        if self._states is None:
            self.found.append(expected)
            return ops.zeros(expected.shape)
        return next(self._states)

    def whole_sequence_only(self, cls: type[layers.Layer], name: str, **kwargs: Any) -> Callable:
        self.layer(cls, name)
        return lambda x: x
