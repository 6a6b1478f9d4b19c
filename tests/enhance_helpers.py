"""Tiny Keras mask models for the enhance, denoise, evaluate and demo tests."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from keras_denoiser.core.config import ModelConfig, TrainConfig
from keras_denoiser.model import model_io
from keras_denoiser.model.network import build_network

TINY = ModelConfig(depth=2, base_filters=4)


def tiny_unet(
    name: str = "unet", seed: int = 0, mask_bias: float | None = None, context_layers: int = 0, lookahead_frames: int = 0
):
    """A depth-2, 4-filter U-Net with random BatchNorm statistics so every layer (context ones too) matters.

    `mask_bias` (e.g. 30) makes the output mask 1 everywhere: the model is then transparent.
    """
    cfg = TrainConfig(
        model=ModelConfig(
            name=name,
            depth=TINY.depth,
            base_filters=TINY.base_filters,
            context_layers=context_layers,
            lookahead_frames=lookahead_frames,
        )
    )
    # The conv kernels too: an unlucky draw can pin every mask at its floor. (This also seeds Python's,
    # NumPy's and TF's global generators for whatever test runs next.)
    keras.utils.set_random_seed(seed)
    model = build_network(cfg.model, cfg.signal)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.name == "input_norm" or layer.name.endswith("_bn"):
            gamma, beta, mean, var = layer.get_weights()
            weights = [rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.3, beta.shape),
                       rng.normal(0, 1.0, mean.shape), rng.uniform(0.5, 2.0, var.shape)]
            layer.set_weights([w.astype(np.float32) for w in weights])
    if mask_bias is not None:
        kernel, bias = model.get_layer("mask_conv").get_weights()
        model.get_layer("mask_conv").set_weights([np.zeros_like(kernel), np.full_like(bias, mask_bias)])
    return model, cfg


def save_tiny_unet(path: Path, **kwargs) -> Path:
    """Save `tiny_unet(**kwargs)` as `path` (.keras) with its .json config; returns `path`."""
    model, cfg = tiny_unet(**kwargs)
    model_io.save_model(model, path, cfg)
    return path


def wake_context_layers(model: keras.Model) -> None:
    """Give context and band context layers (which start as identity) a weight, so a test sees what they do."""
    for layer in model.layers:
        if layer.name.startswith(("context", "band_context")) and layer.name.endswith("_bn"):
            layer.gamma.assign(np.ones(layer.gamma.shape, np.float32))
