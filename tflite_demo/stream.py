"""A streaming TFLite denoiser: `hop_length` samples in, `hop_length` denoised samples out.

The model file needs its JSON sidecar (written by keras_denoiser's streaming export) beside it:
`unet_causal_int8.tflite` + `unet_causal_int8.json`. Per hop: numpy STFT of the newest frame,
log-magnitude, one LiteRT call (frame + state tensors in, mask + next states out), the
attenuation floor on the mask, mask the noisy spectrum, overlap-add. A model with a lookahead
(`lookahead_frames` L in the sidecar) emits the mask of the spectrum L hops back, so the app holds
the last L spectra. Output lags input by `output_delay_samples`. The model step runs in the one state
loop (`state_loop.StateLoop`). The web app's `tflite_demo/web/src/stream.js` runs the same hop loop;
keep the two in step (tests/test_web_runtime.py holds it to this one's golden vectors in node,
tests/test_web_app.py compares the page's output in Chromium).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from tflite_demo.errors import DemoError as DemoError
from tflite_demo.sidecar import attenuation_limit
from tflite_demo.state_loop import open_stream
from tflite_demo.stft import StreamingISTFT, StreamingSTFT, log_magnitude


def mask_floor(max_attenuation_db: float) -> float:
    """The least mask value that keeps attenuation within `max_attenuation_db`; 0 (a plain mask) for `math.inf`."""
    return 10.0 ** (-max_attenuation_db / 20.0)


class StreamingDenoiser:
    """Denoises a mono stream hop by hop with a streaming mask model.

    `max_attenuation_db` floors the mask at `10 ** (-max_attenuation_db / 20)` (0 dB gives the input
    back, `math.inf` leaves the mask alone); None, the default, takes the model's own: its sidecar's.
    """

    def __init__(self, model_path: str | os.PathLike[str], num_threads: int = 1,
                 max_attenuation_db: float | None = None) -> None:
        model_path = Path(model_path)
        self._loop = open_stream(model_path, num_threads)
        self.spec = self._loop.spec
        limit = self.spec.max_attenuation_db if max_attenuation_db is None else max_attenuation_db
        self.max_attenuation_db = attenuation_limit(limit)
        self.mask_floor = mask_floor(self.max_attenuation_db)
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
        self._held = collections.deque(np.zeros(self.spec.bins, complex) for _ in range(self.spec.lookahead_frames))
        self._loop.reset()

    def mask(self, log_magnitude: np.ndarray) -> np.ndarray:
        """One model step: mask `[bins]` for a log-magnitude frame `[bins]`, or with a lookahead for
        the frame `lookahead_frames` before it; advances the states."""
        return self._loop(log_magnitude)

    def __call__(self, hop: np.ndarray) -> np.ndarray:
        """`hop_length` denoised samples for `hop_length` new input samples (delayed, see module doc)."""
        spectrum = self._stft(hop)
        mask = np.maximum(self.mask(log_magnitude(spectrum, self.spec.log_epsilon)), self.mask_floor)
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
