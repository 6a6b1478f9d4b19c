"""keras-denoiser: speech denoising with a Keras U-Net that predicts an Ideal Ratio Mask."""

__version__ = "0.1.0"
