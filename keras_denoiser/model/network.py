"""The networks by name: the whole-sequence Keras model, and the per-frame step of a causal one.

`build_network` and `CausalStep` walk the same topology function (`model.unet.topology` for `unet`
and `unet_causal`, `model.compact.topology` for `unet_compact`; see `model.graph`), so a change to
a topology changes both, and a trained model that does not match its walk is refused.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np
from keras import layers, ops

from keras_denoiser.core.config import ModelConfig, SignalConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.model import compact, unet
from keras_denoiser.model.graph import CausalState, FrameLayers, NewLayers

_TOPOLOGIES = {"unet": unet.topology, "unet_causal": unet.topology, "unet_compact": compact.topology}
FIRST_CONVOLUTIONS = {"unet": unet.FIRST_CONVOLUTION, "unet_causal": unet.FIRST_CONVOLUTION,
                      "unet_compact": compact.FIRST_CONVOLUTION}


def build_network(model_cfg: ModelConfig, signal_cfg: SignalConfig) -> keras.Model:
    """The mask network for `model_cfg.name` with inputs `[batch, frames, signal_cfg.num_bins]`."""
    log_mag = keras.Input(shape=(None, signal_cfg.num_bins), name="log_magnitude")
    mask = _TOPOLOGIES[model_cfg.name](log_mag, model_cfg, signal_cfg, NewLayers())
    return keras.Model(log_mag, mask, name=model_cfg.name)


def receptive_radius(model_cfg: ModelConfig) -> float:
    """Frames on each side of an output frame that can influence it; `inf` for a recurrent network."""
    if model_cfg.recurrent:
        return math.inf
    return unet.receptive_radius(model_cfg)


def time_multiple(model_cfg: ModelConfig) -> int:
    """Chunks must start on a multiple of this many frames so pooling windows line up."""
    return 1 if model_cfg.recurrent else unet.time_multiple(model_cfg)


class CausalStep:
    """The per-frame form of a trained causal network: a log-magnitude frame `[1, 1, bins]` and the
    states in, a mask `[1, 1, bins]` and the next states out. Frame by frame it equals the
    whole-sequence model (nothing pools along time, so only causal convolutions and recurrent
    layers need memory), `lookahead_frames` late: the mask out with frame n is frame n -
    `lookahead_frames`'s, and the frames after a signal's last are `SILENCE_LOG_MAGNITUDE`.
    """

    def __init__(self, model: keras.Model, model_cfg: ModelConfig, signal_cfg: SignalConfig) -> None:
        if not model_cfg.causal:
            raise UserError(f"model {model_cfg.name!r} looks at future frames and cannot stream; train unet_causal")
        self.model = model
        self.model_cfg = model_cfg
        self.signal_cfg = signal_cfg
        self._topology = _TOPOLOGIES[model_cfg.name]
        walk = FrameLayers(model, None)
        self._topology(ops.zeros((1, 1, model.input_shape[-1])), model_cfg, signal_cfg, walk)
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
        walk = FrameLayers(self.model, states)
        mask = self._topology(frame, self.model_cfg, self.signal_cfg, walk)
        return mask, walk.next_states
