"""keras-denoiser: speech denoising with a Keras U-Net that predicts an Ideal Ratio Mask.

    from keras_denoiser import Denoiser
    clean = Denoiser.load().denoise(noisy, sample_rate)
"""

from __future__ import annotations

from keras_denoiser.core.errors import UserError

__version__ = "0.1.0"
__all__ = ["Denoiser", "UserError", "__version__"]


def __getattr__(name: str):
    """`Denoiser` on first use, so `import keras_denoiser` (and the CLI's start-up) stays free of TensorFlow."""
    if name == "Denoiser":
        from keras_denoiser.inference.denoiser import Denoiser

        return Denoiser
    raise AttributeError(f"module 'keras_denoiser' has no attribute {name!r}")
