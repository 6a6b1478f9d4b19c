"""Saving and loading a trained model together with the config it was trained with.

A model is `NAME.keras` plus `NAME.json` (its TrainConfig) side by side; a model folder made by
`train` holds `model.keras` (the final/best model) and `config.json`.
"""

from __future__ import annotations

import os
from pathlib import Path

import keras

from keras_denoiser.core import config as config_lib
from keras_denoiser.core.atomic import atomic_path
from keras_denoiser.core.config import TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.model import compact, graph  # noqa: F401  (registers the layers)

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.json"


def config_path_for(model_path: Path) -> Path:
    """Where the TrainConfig of `model_path` lives."""
    model_path = Path(model_path)
    sidecar = model_path.with_suffix(".json")
    return sidecar if sidecar.exists() else model_path.parent / CONFIG_FILE


def save_model(model: keras.Model, path: str | os.PathLike[str], train_config: TrainConfig) -> None:
    """Write `path` (.keras) and its `.json` config atomically."""
    path = Path(path)
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
    config_lib.save_json(train_config, path.with_suffix(".json"))


def resolve_model_path(path: str | os.PathLike[str]) -> Path:
    """`path` itself for a .keras file, `path/model.keras` for a model folder."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise UserError(f"{path}: no such model file")
    return path


def load_model(path: str | os.PathLike[str]) -> tuple[keras.Model, TrainConfig]:
    """Load a `.keras` model (safe_mode on) and its TrainConfig; one-line UserError on failure."""
    model_path = resolve_model_path(path)
    if model_path.suffix.lower() == ".tflite":
        raise UserError(f"{model_path}: a TFLite model; run it with `python -m tflite_demo` or `evaluate --model`")
    try:
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as err:  # keras raises many types for a corrupt archive
        reason = (str(err).strip().splitlines() or [""])[0][:200]
        raise UserError(f"{model_path}: not a loadable Keras model ({type(err).__name__}: {reason})") from None
    cfg_path = config_path_for(model_path)
    if not cfg_path.exists():
        raise UserError(f"{model_path}: missing its config ({model_path.with_suffix('.json').name} or {CONFIG_FILE} beside it)")
    return model, config_lib.load_json(TrainConfig, cfg_path)
