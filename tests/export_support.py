"""Helpers shared by the export and serving tests: a tiny model and a tiny export of it."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from export import mixture
from export.exporter import ExportRequest, ParitySignals, export_model
from keras_denoiser.config import ModelConfig, TrainConfig
from keras_denoiser.model import build_unet

TINY_CONFIG = TrainConfig(model=ModelConfig(depth=2, base_filters=4))
RATE = TINY_CONFIG.signal.sample_rate


def tiny_model(seed: int = 0) -> keras.Model:
    """An untrained depth-2, 4-filter U-Net (mask about 0.5) with non-trivial batch-norm statistics."""
    keras.utils.set_random_seed(seed)
    model = build_unet(TINY_CONFIG.model, TINY_CONFIG.signal)
    norm = model.get_layer("input_norm")
    norm.moving_mean.assign(np.full(norm.moving_mean.shape, -4.0, np.float32))
    norm.moving_variance.assign(np.full(norm.moving_variance.shape, 4.0, np.float32))
    return model


def tiny_signals(seconds: float = 2.0) -> ParitySignals:
    """A generated test mixture and int8 calibration blocks from other generated mixtures."""
    waves = [mixture.generated_mixture(1.0, RATE, seed) for seed in range(10, 14)]
    return ParitySignals(
        test_wave=mixture.generated_mixture(seconds, RATE, seed=0),
        test_source="generated",
        representative=list(mixture.log_magnitude_blocks(waves, TINY_CONFIG.signal, frames=32)),
        representative_source="generated",
    )


def tiny_export(export_dir: Path, model: keras.Model, formats: tuple[str, ...], quantizations=("float32",)):
    """Export `model` under the name `denoiser`, version 1; returns (rows, report path)."""
    request = ExportRequest(export_dir, "denoiser", 1, formats, tuple(quantizations))
    return export_model(model, TINY_CONFIG, request, tiny_signals())
