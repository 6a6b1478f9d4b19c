"""A streaming TFLite denoiser: `hop_length` samples in, `hop_length` denoised samples out.

The model file needs its JSON sidecar (written by keras_denoiser's streaming export) beside it:
`unet_causal_int8.tflite` + `unet_causal_int8.json`. Per hop: numpy STFT of the newest frame,
log-magnitude, one LiteRT call (frame + state tensors in, mask + next states out), the
attenuation floor on the mask, mask the noisy spectrum, overlap-add. A model with a lookahead
(`lookahead_frames` L in the sidecar) emits the mask of the spectrum L hops back, so the app holds
the last L spectra. Output lags input by `output_delay_samples`. The web app's `tflite_demo/web/src/stream.js` runs the same loop; keep
the two in step (tests/test_web_app.py compares their outputs).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from tflite_demo import quiet
from tflite_demo.errors import DemoError
from tflite_demo.sidecar import MAKE_STREAMING, StreamSpec, attenuation_limit
from tflite_demo.stft import StreamingISTFT, StreamingSTFT

FROM_SIDECAR = "sidecar"  # max_attenuation_db's default: whatever the model's sidecar says


def mask_floor(max_attenuation_db: float | None) -> float:
    """The least mask value that keeps attenuation within `max_attenuation_db`; 0 (a plain mask) for None."""
    return 0.0 if max_attenuation_db is None else 10.0 ** (-max_attenuation_db / 20.0)


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


class StreamingDenoiser:
    """Denoises a mono stream hop by hop with a streaming mask model.

    `max_attenuation_db` floors the mask at `10 ** (-max_attenuation_db / 20)` (0 dB gives the input
    back); by default the sidecar's `max_attenuation_db`, and without one a plain mask.
    """

    def __init__(self, model_path: str | os.PathLike[str], num_threads: int = 1,
                 max_attenuation_db: float | None | str = FROM_SIDECAR) -> None:
        model_path = Path(model_path)
        interpreter = load_interpreter(model_path, num_threads)
        self.spec = StreamSpec.load(model_path)
        limit = self.spec.max_attenuation_db if max_attenuation_db == FROM_SIDECAR else max_attenuation_db
        self.max_attenuation_db = attenuation_limit(limit)
        self.mask_floor = mask_floor(self.max_attenuation_db)
        inputs, outputs = signature_indices(interpreter, model_path)
        expected = {self.spec.input_name, *(s.input_name for s in self.spec.states)}
        if set(inputs) != expected:
            raise DemoError(f"{model_path}: inputs {sorted(inputs)} do not match its sidecar {sorted(expected)}")
        # Per hop: write the frame, invoke, copy each next state onto its input in place (the
        # signature runner would reallocate every call). Only the accessor functions are kept:
        # LiteRT refuses to invoke while a view into its buffers is alive.
        interpreter.allocate_tensors()
        self._interpreter = interpreter
        self._frame = interpreter.tensor(inputs[self.spec.input_name])
        self._mask_index = outputs[self.spec.mask_name]
        self._state_views = [
            (interpreter.tensor(inputs[s.input_name]), interpreter.tensor(outputs[s.output_name]))
            for s in self.spec.states
        ]
        self.model_path = model_path
        self._stft = StreamingSTFT(self.spec.frame_length, self.spec.hop_length)
        self._istft = StreamingISTFT(self.spec.frame_length, self.spec.hop_length)
        self.reset()

    @property
    def sample_rate(self) -> int:
        return self.spec.sample_rate

    @property
    def hop_length(self) -> int:
        return self.spec.hop_length

    @property
    def output_delay_samples(self) -> int:
        return self.spec.output_delay_samples

    @property
    def latency_ms(self) -> float:
        return self.spec.latency_ms

    def reset(self) -> None:
        """Forget the past: zero STFT buffers, held spectra and model states."""
        self._stft.reset()
        self._istft.reset()
        bins = self.spec.frame_length // 2 + 1
        self._held = collections.deque(np.zeros(bins, complex) for _ in range(self.spec.lookahead_frames))
        for state, _ in self._state_views:
            state().fill(0.0)

    def mask(self, log_magnitude: np.ndarray) -> np.ndarray:
        """One model step: mask `[bins]` for a log-magnitude frame `[bins]`, or with a lookahead for
        the frame `lookahead_frames` before it; advances the states."""
        self._frame()[0, 0, :] = log_magnitude
        self._interpreter.invoke()
        mask = self._interpreter.get_tensor(self._mask_index).reshape(-1)
        for state, next_state in self._state_views:
            state()[...] = next_state()
        return mask

    def __call__(self, hop: np.ndarray) -> np.ndarray:
        """`hop_length` denoised samples for `hop_length` new input samples (delayed, see module doc)."""
        spectrum = self._stft(hop)
        mask = np.maximum(self.mask(np.log(np.abs(spectrum) + self.spec.log_epsilon)), self.mask_floor)
        self._held.append(spectrum)
        return self._istft(self._held.popleft() * mask).astype(np.float32)


class HopStream(Protocol):
    """Anything that turns each hop of input into a hop of output, `output_delay_samples` late."""

    hop_length: int
    output_delay_samples: int

    def reset(self) -> None: ...

    def __call__(self, hop: np.ndarray) -> np.ndarray: ...


@dataclasses.dataclass(frozen=True)
class StreamResult:
    """Denoised samples aligned with the input, and how long each hop took."""

    audio: np.ndarray
    hop_seconds: np.ndarray


def denoise_signal(denoiser: HopStream, wave: np.ndarray) -> StreamResult:
    """Stream a mono signal through `denoiser` hop by hop, as a device would, then undo the delay.

    The input is followed by `output_delay_samples` zeros (plus up to a hop) so its tail leaves
    the pipeline; the first `output_delay_samples` output samples are dropped.
    """
    hop, delay = denoiser.hop_length, denoiser.output_delay_samples
    wave = np.asarray(wave, np.float32)
    padded = np.concatenate([wave, np.zeros(delay + (-(len(wave) + delay)) % hop, np.float32)])
    denoiser.reset()
    out = np.empty_like(padded)
    seconds = np.empty(len(padded) // hop)
    for i in range(len(seconds)):
        start = time.perf_counter()
        out[i * hop : (i + 1) * hop] = denoiser(padded[i * hop : (i + 1) * hop])
        seconds[i] = time.perf_counter() - start
    return StreamResult(out[delay : delay + len(wave)], seconds)
