"""Resumable training of the U-Net mask estimator on batches of (log-magnitude, ideal ratio mask).

    model = train(train_ds, val_ds, cfg, "runs/unet")

`train` takes infinite datasets and a TrainConfig and writes into the model folder:
`config.json` (the run's config), `backup/ckpt-<global step>/` (weights, optimizer state, epoch
and step, every `backup_every_steps` steps and at each epoch end), `best.keras` (+ `.json`, best
validation loss, with `best_score.json`), with `keep_epoch_models` also `epochs/epoch_<n>.keras`
(+ `.json`, every epoch's model, to score each on a selection set), `training.csv` (one row per epoch, appended on resume),
`logs/` (TensorBoard) and, at the end, `model.keras` (+ `.json`).

Running it again on the same folder resumes at the saved epoch and step: the rest of the
interrupted epoch runs as its own fit() of the remaining steps, then the remaining epochs.
Only RESUMABLE_FIELDS of the config may differ from the saved one (e.g. raise `epochs` to train
longer); anything else is a UserError rather than a silent mix of two runs.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from keras_denoiser.core import config as config_lib
from keras_denoiser.core import losses
from keras_denoiser.core.config import TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.model import model_io
from keras_denoiser.model.network import FIRST_CONVOLUTIONS, build_network
from keras_denoiser.model.unet import widen_first_convolution
from keras_denoiser.training.backup import ResumableBackupAndRestore, ResumePoint, latest_backup
from keras_denoiser.training.callbacks import (
    BestModelCheckpoint,
    EpochEndCall,
    LearningRateWarmup,
    ProgressLogger,
    StopOnNonFiniteLoss,
    StopOnSignal,
    StopSignal,
)
from keras_denoiser.training.distribute import WorkerRole, unsharded, work_around_keras_multi_worker
from keras_denoiser.training.preview import PreviewCallback

# max_attenuation_db: set by choose_limit after training; more training resets it to the default.
RESUMABLE_FIELDS = ("epochs", "backup_every_steps", "validation_steps", "max_attenuation_db")
BACKUP_DIR = "backup"
LOG_DIR = "logs"
CSV_FILE = "training.csv"
BEST_MODEL_FILE = "best.keras"
BEST_SCORE_FILE = "best_score.json"
EPOCH_MODELS_DIR = "epochs"
PLATEAU_PATIENCE = 2
PLATEAU_FACTOR = 0.5
MIN_LR_FRACTION = 1 / 32


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How (not what) to train: none of these change the trained model's definition."""

    strategy: tf.distribute.Strategy | None = None
    role: WorkerRole = WorkerRole()
    mixed_precision: bool = False
    log_every_steps: int = 50
    preview: tuple[np.ndarray, np.ndarray] | None = None  # (noisy, clean) waveforms for TensorBoard
    stop_signal: StopSignal | None = None
    init_from: Path | None = None  # trained weights to start from (ignored when resuming from a backup)
    callbacks: tuple[keras.callbacks.Callback, ...] = ()  # extra callbacks, run first at every event
    # Also save every epoch's model: validation loss need not rank checkpoints as the scores do.
    keep_epoch_models: bool = False
    print_fn: Callable[[str], None] = print


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_conflicts(saved: TrainConfig, new: TrainConfig) -> list[str]:
    """`field: saved -> new` for every field that differs and may not change on resume."""
    old_flat, new_flat = _flatten(config_lib.to_dict(saved)), _flatten(config_lib.to_dict(new))
    return [
        f"{key}: {old_flat.get(key)!r} -> {new_flat.get(key)!r}"
        for key in sorted(set(old_flat) | set(new_flat))
        if key not in RESUMABLE_FIELDS and old_flat.get(key) != new_flat.get(key)
    ]


def prepare_model_dir(model_dir: Path, cfg: TrainConfig, role: WorkerRole) -> None:
    """Check a resumed run's config against `config.json` and (chief) write the new one."""
    config_path = model_dir / model_io.CONFIG_FILE
    if config_path.exists():
        conflicts = config_conflicts(config_lib.load_json(TrainConfig, config_path), cfg)
        if conflicts:
            raise UserError(
                f"{model_dir} holds a run with a different config ({'; '.join(conflicts)}); use the same "
                f"settings to resume (only {', '.join(RESUMABLE_FIELDS)} may change) or a new --model_dir"
            )
    elif latest_backup(model_dir / BACKUP_DIR) is not None:
        raise UserError(f"{model_dir} has a training backup but no {model_io.CONFIG_FILE}; use a new --model_dir")
    if role.is_chief:
        model_dir.mkdir(parents=True, exist_ok=True)
        config_lib.save_json(cfg, config_path)


def build_model(
    cfg: TrainConfig, strategy: tf.distribute.Strategy, mixed_precision: bool, init_from: Path | None = None
) -> keras.Model:
    """The U-Net compiled with Adam and the configured mask loss, optimizer built.

    `init_from`: a trained model of the same architecture whose weights start the run (fine-tuning).
    """
    keras.config.set_dtype_policy("mixed_float16" if mixed_precision else "float32")
    keras.utils.set_random_seed(cfg.seed)
    with strategy.scope():
        model = build_network(cfg.model, cfg.signal)
        if init_from is not None:
            _load_initial_weights(model, cfg, init_from)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=losses.keras_loss(cfg.loss))
        model.optimizer.build(model.trainable_variables)
    return model


def _load_initial_weights(model: keras.Model, cfg: TrainConfig, path: Path) -> None:
    """Copy a trained model's weights layer by layer; the run may add context layers it lacks
    (they start as identity, see `model.unet`) or look further ahead (`widen_first_convolution`),
    nothing else may differ."""
    trained, trained_cfg = model_io.load_model(path)
    growable = ("context_layers", "band_context_layers", "lookahead_frames")
    grown = dataclasses.replace(trained_cfg.model, **{name: getattr(cfg.model, name) for name in growable})
    if (grown, trained_cfg.signal) != (cfg.model, cfg.signal) or any(
        getattr(trained_cfg.model, name) > getattr(cfg.model, name) for name in growable
    ):
        raise UserError(
            f"{path}: a {_describe(trained_cfg)} model cannot start a {_describe(cfg)} run; give the same "
            "--model, --depth and --base_filters, and at least its --context_layers, --band_context_layers "
            "and --lookahead_frames"
        )
    more_lookahead = cfg.model.lookahead_frames - trained_cfg.model.lookahead_frames
    for layer in trained.layers:
        weights = layer.get_weights()
        if layer.name == FIRST_CONVOLUTIONS[cfg.model.name]:
            weights = [widen_first_convolution(weights[0], more_lookahead)]
        model.get_layer(layer.name).set_weights(weights)


def _describe(cfg: TrainConfig) -> str:
    """`unet_causal 3x12 (kernel 3, 2 context layers) at 16000 Hz`: what must match for weights to carry over."""
    model, signal = cfg.model, cfg.signal
    return (
        f"{model.name} {model.depth}x{model.base_filters} (kernel {model.kernel_size}, "
        f"{model.context_layers} context layers, {model.band_context_layers} band context layers, "
        f"{model.lookahead_frames} lookahead frames) at {signal.sample_rate} Hz"
    )


def float32_copy(model: keras.Model, cfg: TrainConfig) -> keras.Model:
    """The same network with float32 layers, so saved models do not depend on the training precision."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        copy = build_network(cfg.model, cfg.signal)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    return copy


def save_trained_model(model: keras.Model, path: Path, cfg: TrainConfig, role: WorkerRole) -> None:
    """Chief: `path` (.keras + .json), float32. Other workers save to a temp folder and drop it."""
    if role.is_chief:
        model_io.save_model(float32_copy(model, cfg), path, cfg)
        return
    with tempfile.TemporaryDirectory() as scratch:
        model_io.save_model(float32_copy(model, cfg), Path(scratch) / path.name, cfg)


def _save_epoch_model(model: keras.Model, model_dir: Path, epoch: int, cfg: TrainConfig, role: WorkerRole) -> None:
    """`epochs/epoch_<n>.keras` (+ `.json`): the model as it is at the end of epoch `epoch`."""
    folder = model_dir / EPOCH_MODELS_DIR
    if role.is_chief:
        folder.mkdir(exist_ok=True)
    save_trained_model(model, folder / f"epoch_{epoch:03d}.keras", cfg, role)


def _callbacks(
    model: keras.Model, cfg: TrainConfig, model_dir: Path, options: RunOptions, backup: ResumableBackupAndRestore
) -> list[keras.callbacks.Callback]:
    """Order matters: the CSV row and best checkpoint are written before the backup marks the epoch
    done; a non-finite loss stops the run before the backup saves the step; progress lines and the
    signal check come after the backup has counted the step."""
    callbacks: list[keras.callbacks.Callback] = [
        *options.callbacks,
        *([LearningRateWarmup(cfg.learning_rate, cfg.warmup_steps)] if cfg.warmup_steps else []),
        keras.callbacks.ReduceLROnPlateau(
            factor=PLATEAU_FACTOR, patience=PLATEAU_PATIENCE, min_lr=cfg.learning_rate * MIN_LR_FRACTION, verbose=0
        ),
    ]
    best_path = model_dir / BEST_MODEL_FILE
    save_best = lambda: save_trained_model(model, best_path, cfg, options.role)  # noqa: E731
    if options.keep_epoch_models:
        callbacks.append(EpochEndCall(lambda epoch: _save_epoch_model(model, model_dir, epoch, cfg, options.role)))
    if options.role.is_chief:
        callbacks.append(BestModelCheckpoint(save_best, model_dir / BEST_SCORE_FILE))
        callbacks.append(keras.callbacks.CSVLogger(str(model_dir / CSV_FILE), append=True))
        callbacks.append(keras.callbacks.TensorBoard(str(model_dir / LOG_DIR), write_graph=False, profile_batch=0))
        if options.preview is not None:
            noisy, clean = options.preview
            callbacks.append(PreviewCallback(noisy, clean, cfg.signal, model_dir / LOG_DIR / "preview"))
    else:
        callbacks.append(BestModelCheckpoint(save_best, score_path=None))  # mirrors the chief's saves
    callbacks.append(StopOnNonFiniteLoss(backup))
    callbacks.append(backup)
    callbacks.append(ProgressLogger(backup, cfg.epochs, options.log_every_steps, options.print_fn))
    if options.stop_signal is not None:
        callbacks.append(StopOnSignal(options.stop_signal, backup))
    return callbacks


def _print_summary(model: keras.Model, print_fn: Callable[[str], None]) -> None:
    """The parameter count; the layer-by-layer summary (150 lines for a U-Net) only with --verbosity=1."""
    if logging.get_verbosity() >= logging.DEBUG:
        model.summary(print_fn=lambda line, **_: print_fn(line))
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    print_fn(f"parameters: {model.count_params()} ({trainable} trainable)")


def train(
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset,
    cfg: TrainConfig,
    model_dir: str | Path,
    options: RunOptions = RunOptions(),
) -> keras.Model:
    """Train (or resume training) into `model_dir`; returns the trained model.

    Raises TrainingInterrupted (after writing a backup) when `options.stop_signal` catches a signal.
    """
    model_dir = Path(model_dir)
    strategy = options.strategy or tf.distribute.get_strategy()
    prepare_model_dir(model_dir, cfg, options.role)
    model = build_model(cfg, strategy, options.mixed_precision, options.init_from)
    if options.role.count > 1:
        work_around_keras_multi_worker(model, strategy)
    _print_summary(model, options.print_fn)
    backup = ResumableBackupAndRestore(
        model_dir / BACKUP_DIR,
        cfg.backup_every_steps,
        cfg.steps_per_epoch,
        run_settings={"mixed_precision": options.mixed_precision},
        keep=options.role.is_chief,
    )
    start = backup.restore(model)
    if start != ResumePoint():
        options.print_fn(
            f"resuming at epoch {start.epoch + 1} step {start.step} (global step {backup.global_step}) "
            f"from {model_dir / BACKUP_DIR}"
        )
    callbacks = _callbacks(model, cfg, model_dir, options, backup)
    fit_args = dict(
        x=unsharded(train_ds),
        validation_data=unsharded(val_ds),
        validation_steps=cfg.validation_steps,
        callbacks=callbacks,
        shuffle=False,  # the datasets shuffle themselves
        verbose=0,
    )
    if start.epoch >= cfg.epochs:
        options.print_fn(f"{model_dir} already holds {start.epoch} trained epochs; raise --epochs to train longer")
    if start.step and start.epoch < cfg.epochs:  # the rest of the interrupted epoch, on its own
        backup.start_at(start)
        remaining = cfg.steps_per_epoch - start.step
        model.fit(initial_epoch=start.epoch, epochs=start.epoch + 1, steps_per_epoch=remaining, **fit_args)
        start = backup.position
    if start.epoch < cfg.epochs:
        backup.start_at(start)
        model.fit(initial_epoch=start.epoch, epochs=cfg.epochs, steps_per_epoch=cfg.steps_per_epoch, **fit_args)
    save_trained_model(model, model_dir / model_io.MODEL_FILE, cfg, options.role)
    if options.role.is_chief:
        options.print_fn(f"wrote {model_dir / model_io.MODEL_FILE}")
    return model
