"""The per-hop state loop: the one place a streaming model's states are carried from frame to frame.

A streaming model is a step: a log-magnitude frame `[1, 1, bins]` and its states in, a mask and
the next states out, each a tensor named in the sidecar. `StateLoop` starts the states at zero and
makes each step's next states the following step's states, whatever runs the step: LiteRT
(`LiteRTStep`: the app, and keras_denoiser's parity check of an exported file) or a function of
named arrays (`FunctionStep`: the TF step keras_denoiser exports and calibrates).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Protocol

import numpy as np

from tflite_demo import quiet
from tflite_demo.errors import DemoError
from tflite_demo.sidecar import MAKE_STREAMING, StreamSpec


class Step(Protocol):
    """Named input tensors to set, a call, named outputs to read; `carry` copies an output onto an input."""

    def set(self, name: str, value: np.ndarray) -> None: ...

    def invoke(self) -> None: ...

    def get(self, name: str) -> np.ndarray: ...

    def carry(self, output_name: str, input_name: str) -> None: ...


class FunctionStep:
    """A step computed by `fn(**inputs) -> outputs` on named arrays; `seen` holds the inputs of the last call."""

    def __init__(self, fn: Callable[..., Mapping[str, Any]]) -> None:
        self._fn = fn
        self._inputs: dict[str, np.ndarray] = {}
        self._outputs: Mapping[str, Any] = {}
        self.seen: dict[str, np.ndarray] = {}

    def set(self, name: str, value: np.ndarray) -> None:
        self._inputs[name] = value

    def invoke(self) -> None:
        self.seen = dict(self._inputs)
        self._outputs = self._fn(**self._inputs)

    def get(self, name: str) -> np.ndarray:
        return np.asarray(self._outputs[name])

    def carry(self, output_name: str, input_name: str) -> None:
        self._inputs[input_name] = self.get(output_name)


class LiteRTStep:
    """A streaming .tflite on LiteRT, its inputs checked against its sidecar.

    Tensors are written in place and each next state is copied straight onto its state (the
    signature runner would reallocate every call). Only the accessor functions are kept: LiteRT
    refuses to invoke while a view into its buffers is alive.
    """

    def __init__(self, interpreter, spec: StreamSpec, model_path: Path) -> None:
        inputs, outputs = signature_indices(interpreter, model_path)
        expected = {spec.input_name, *(s.input_name for s in spec.states)}
        if set(inputs) != expected:
            raise DemoError(f"{model_path}: inputs {sorted(inputs)} do not match its sidecar {sorted(expected)}")
        interpreter.allocate_tensors()
        self._interpreter = interpreter
        self._inputs = {name: interpreter.tensor(index) for name, index in inputs.items()}
        self._outputs = {name: interpreter.tensor(index) for name, index in outputs.items()}
        self._output_indices = outputs

    def set(self, name: str, value: np.ndarray) -> None:
        self._inputs[name]()[...] = value

    def invoke(self) -> None:
        self._interpreter.invoke()

    def get(self, name: str) -> np.ndarray:
        return self._interpreter.get_tensor(self._output_indices[name])

    def carry(self, output_name: str, input_name: str) -> None:
        self._inputs[input_name]()[...] = self._outputs[output_name]()


def open_stream(model_path: Path, num_threads: int = 1) -> StateLoop:
    """The state loop of a streaming .tflite on LiteRT, described by its sidecar; DemoError when either is wrong."""
    interpreter = load_interpreter(model_path, num_threads)
    spec = StreamSpec.load(model_path)
    return StateLoop(LiteRTStep(interpreter, spec, model_path), spec)


def load_interpreter(model_path: Path, num_threads: int):
    """A LiteRT interpreter for `model_path`, or a one-line DemoError."""
    from ai_edge_litert.interpreter import Interpreter

    if not model_path.is_file():
        raise DemoError(f"{model_path}: no such model file")
    try:
        with quiet.held():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line
            return Interpreter(model_path=str(model_path), num_threads=num_threads)
    except (ValueError, RuntimeError) as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise DemoError(f"{model_path}: not a TFLite model ({reason})") from None


def signature_indices(interpreter, model_path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Tensor index of every named input and output of the model's one signature."""
    try:
        runner = interpreter.get_signature_runner()
    except ValueError as err:
        raise DemoError(f"{model_path}: not a streaming model ({err}); {MAKE_STREAMING}") from None
    inputs = {name: d["index"] for name, d in runner.get_input_details().items()}
    outputs = {name: d["index"] for name, d in runner.get_output_details().items()}
    return inputs, outputs


class StateLoop:
    """Runs `step` frame by frame with the states `spec` names: log-magnitude `[bins]` in, mask `[bins]` out.

    A model with `spec.lookahead_frames` L emits the mask of frame n - L with frame n.
    """

    def __init__(self, step: Step, spec: StreamSpec) -> None:
        self.step = step
        self.spec = spec
        self.reset()

    def reset(self) -> None:
        """Zero states: the same zeros the offline model pads the past with."""
        for state in self.spec.states:
            self.step.set(state.input_name, np.zeros(state.shape, np.float32))

    def __call__(self, log_magnitude: np.ndarray) -> np.ndarray:
        """One step: the mask `[bins]` out with a log-magnitude frame `[bins]`; the next states become the states."""
        self.step.set(self.spec.input_name, np.asarray(log_magnitude, np.float32).reshape(1, 1, -1))
        self.step.invoke()
        mask = self.step.get(self.spec.mask_name).reshape(-1)
        for state in self.spec.states:
            self.step.carry(state.output_name, state.input_name)
        return mask

    def frames(self, log_mag: np.ndarray) -> Iterator[np.ndarray]:
        """Every mask of a stream from zero states: log-magnitude `[frames, bins]`, then `lookahead_frames`
        frames of silence (as a stream that ends is: log of `log_epsilon`)."""
        self.reset()
        silence = np.full((self.spec.lookahead_frames, np.shape(log_mag)[1]), np.log(self.spec.log_epsilon), np.float32)
        for frame in np.concatenate([np.asarray(log_mag, np.float32), silence]):
            yield self(frame)

    def masks(self, log_mag: np.ndarray) -> np.ndarray:
        """Masks `[frames, bins]` of a log-magnitude spectrogram `[frames, bins]`, aligned with its frames."""
        masks = list(self.frames(log_mag))[self.spec.lookahead_frames :]
        return np.stack(masks) if masks else np.zeros((0, np.shape(log_mag)[1]), np.float32)

