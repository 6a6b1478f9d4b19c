"""What a network costs per second of audio: multiply-adds (TensorFlow's profiler) and streaming state.

A causal network is counted on its per-frame step (`CausalStep`), what a stream runs every hop: the
profiler counts a recurrent layer's loop body once, so the whole-sequence graph would undercount a
GRU. An offline network is counted on one second of frames.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
from tensorflow.python.util import deprecation

from keras_denoiser.core.config import TrainConfig
from keras_denoiser.model.network import CausalStep


@dataclasses.dataclass(frozen=True)
class NetworkCost:
    """Multiply-adds per second of audio, and the bytes of state a stream carries (0 offline)."""

    multiply_adds_per_second: float
    state_bytes: int


def _multiply_adds(fn: tf.types.experimental.ConcreteFunction) -> int:
    """Half the floating-point operations TensorFlow's profiler counts in a traced function."""
    frozen = convert_variables_to_constants_v2(fn)
    options = tf.compat.v1.profiler.ProfileOptionBuilder(tf.compat.v1.profiler.ProfileOptionBuilder.float_operation())
    with deprecation.silence():  # the v1 profiler calls a deprecated TF function, which would warn on the terminal
        profile = tf.compat.v1.profiler.profile(graph=frozen.graph, options=options.with_empty_output().build())
    return profile.total_float_ops // 2


def network_cost(model: keras.Model, cfg: TrainConfig) -> NetworkCost:
    """The cost of `model` (built from `cfg`) per second of audio at `cfg.signal`'s rate and hop."""
    bins = cfg.signal.num_bins
    frames_per_second = cfg.signal.sample_rate / cfg.signal.hop_length
    if not cfg.model.causal:
        frames = int(round(frames_per_second))
        fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(tf.TensorSpec([1, frames, bins]))
        return NetworkCost(_multiply_adds(fn) * frames_per_second / frames, 0)
    step = CausalStep(model, cfg.model, cfg.signal)
    specs = [tf.TensorSpec([1, 1, bins])] + [tf.TensorSpec(s.shape) for s in step.states]
    fn = tf.function(lambda frame, *states: step(frame, states)).get_concrete_function(*specs)
    state_bytes = sum(int(np.prod(s.shape)) * 4 for s in step.states)
    return NetworkCost(_multiply_adds(fn) * frames_per_second, state_bytes)
