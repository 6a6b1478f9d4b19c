"""The on-device app's streaming TFLite model as an `Enhancer`: scored exactly as the app runs it.

`python -m tflite_demo` streams hop by hop through LiteRT with numpy STFTs and explicit states;
`evaluate --model=model.tflite` runs that same loop (`tflite_demo.stream`), so the figures are
the device's, int8 quantization and attenuation floor included.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from keras_denoiser.core.errors import UserError
from tflite_demo.stream import DemoError, StreamingDenoiser, denoise_signal


class StreamingAppEnhancer:
    """A streaming `.tflite` (with its sidecar) as the app runs it, mono in, aligned mono out."""

    def __init__(self, path: str | os.PathLike[str], max_attenuation_db: float | None) -> None:
        """`max_attenuation_db` None: the model's own (its sidecar's), as the app applies it by default."""
        try:
            self._denoiser = StreamingDenoiser(path, num_threads=1, max_attenuation_db=max_attenuation_db)
        except DemoError as err:
            raise UserError(str(err)) from None
        self.name = Path(path).stem
        self.sample_rate = self._denoiser.sample_rate

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return denoise_signal(self._denoiser, wave).audio
