"""Train the U-Net mask estimator; rerunning the same command resumes where it stopped.

    keras_denoiser train --speech_dir=LJSpeech-1.1 --noise_dir=noise --model_dir=runs/unet

Ctrl-C (SIGINT) or SIGTERM writes a backup after the current step and exits with status 130/143;
a SIGKILL loses at most --backup_every_steps steps. The model folder gets config.json (with the
split flags), held_out.json (the speakers and noise files the run never trains on), backup/,
best.keras, training.csv, logs/ (TensorBoard) and finally model.keras.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import signal
import sys
from pathlib import Path
from typing import Sequence

from absl import flags, logging

from keras_denoiser.commands import config_flags, corpus_flags
from keras_denoiser.core.atomic import check_output_dir, write_bytes_atomic
from keras_denoiser.core.config import MixConfig, ModelConfig, SignalConfig, TrainConfig, empty_split_advice
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines.corpora import check_named_speakers, existing_corpus_folder
from keras_denoiser.training import distribute

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
DEFAULT_TEACHER_WEIGHT = 0.5
# The config fields this command sets from flags of the same name (ModelConfig.name is --model).
MODEL_FIELDS = (
    "name", "depth", "base_filters", "context_layers", "band_context_layers", "lookahead_frames", "bands", "rnn_units",
    "dual_path_blocks", "band_spread",
)
MODEL_NAME_FLAG = {"name": "model"}
MIX_FIELDS = (
    "crop_seconds", "snr_db_min", "snr_db_max", "speed_perturb", "reverb_probability", "channel_probability",
    "second_noise_probability", "stationary_noise_probability", "tonal_event_probability", "noise_variety_probability",
    "phrase_words", "noise_balance",
)
SIGNAL_FIELDS = ("hop_length",)
TRAIN_FIELDS = (
    "batch_size", "epochs", "steps_per_epoch", "validation_steps", "learning_rate", "warmup_steps", "seed",
    "backup_every_steps", "loss",
)
corpus_flags.define_corpus_flags(FLAGS)
corpus_flags.define_cache_flag(FLAGS)
corpus_flags.define_split_flags(FLAGS)
config_flags.define_config_flags(TrainConfig, TRAIN_FIELDS, FLAGS)
config_flags.define_config_flags(SignalConfig, SIGNAL_FIELDS, FLAGS)
config_flags.define_config_flags(MixConfig, MIX_FIELDS, FLAGS)
config_flags.define_config_flags(ModelConfig, MODEL_FIELDS, FLAGS, rename=MODEL_NAME_FLAG)
flags.DEFINE_string(
    "model_dir", None, "Folder for the run: config, backups, logs and models. Required.", flag_values=FLAGS
)
flags.DEFINE_string(
    "init_from", None,
    "Trained model (.keras or model folder) of the same architecture to start from, e.g. to fine-tune with "
    "another loss; ignored when --model_dir holds a backup to resume. Default: random weights.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "teacher", None,
    "Trained model (.keras or model folder) whose masks make up --teacher_weight of the training target, the "
    "IRM the rest (distillation, e.g. the offline unet teaching unet_causal); needs a mask loss. Default: none.",
    flag_values=FLAGS,
)
flags.DEFINE_float(
    "teacher_weight", None,
    f"Share of the training target that is the --teacher's mask, in (0, 1]; default {DEFAULT_TEACHER_WEIGHT} with --teacher.",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "log_every_steps", 50, "Print a progress line (loss, steps/s) every this many steps; default 50.", lower_bound=1,
    flag_values=FLAGS,
)
flags.DEFINE_enum(
    "strategy", "default", list(distribute.STRATEGIES),
    "default (one device), mirrored (all local GPUs) or multi_worker (the cluster in TF_CONFIG); default default.",
    flag_values=FLAGS,
)
flags.DEFINE_bool(
    "mixed_precision", False,
    "Compute in float16 with float32 weights (mixed_float16; for GPUs). Saved models are float32. Default false.",
    flag_values=FLAGS,
)
flags.DEFINE_bool(
    "keep_epoch_models", False,
    "Also save every epoch's model as epochs/epoch_<n>.keras (+ .json), to score each with choose_limit or "
    "evaluate: validation loss need not rank checkpoints as the scores do. Default false.",
    flag_values=FLAGS,
)

DATA_SEED_STRIDE_PER_WORKER = 1_000_003
HELD_OUT_FILE = "held_out.json"


def _config() -> TrainConfig:
    return TrainConfig(
        signal=SignalConfig(**config_flags.config_values(SignalConfig, SIGNAL_FIELDS, FLAGS)),
        model=ModelConfig(**config_flags.config_values(ModelConfig, MODEL_FIELDS, FLAGS, rename=MODEL_NAME_FLAG)),
        mix=MixConfig(**config_flags.config_values(MixConfig, MIX_FIELDS, FLAGS)),
        **config_flags.config_values(TrainConfig, TRAIN_FIELDS, FLAGS),
        split=corpus_flags.split_config(FLAGS),
        teacher=FLAGS.teacher or "",
        teacher_weight=_teacher_weight(),
    )


def _teacher_weight() -> float:
    """--teacher_weight; without it DEFAULT_TEACHER_WEIGHT with a --teacher, 0 without one."""
    if FLAGS.teacher_weight is not None:
        return FLAGS.teacher_weight
    return DEFAULT_TEACHER_WEIGHT if FLAGS.teacher else 0.0


def _data_seed(cfg: TrainConfig, backup_dir: Path, role: distribute.WorkerRole) -> int:
    """A training-data seed that differs per worker and per resume point, so no batch is replayed."""
    from keras_denoiser.training.backup import latest_backup, read_metadata

    folder = latest_backup(backup_dir)
    global_step = int(read_metadata(folder)["global_step"]) if folder is not None else 0
    return cfg.seed + DATA_SEED_STRIDE_PER_WORKER * role.index + global_step


def _write_held_out(model_dir: Path, record: dict) -> None:
    """held_out.json: the speakers and noise files this run never trains on (validation and test)."""
    model_dir.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(model_dir / HELD_OUT_FILE, (json.dumps(record, indent=2) + "\n").encode())


def main(argv: Sequence[str]) -> int:
    """Build the datasets from the corpora and train (or resume) into --model_dir."""
    if not FLAGS.speech_dir or not FLAGS.noise_dir or not FLAGS.model_dir:
        raise UserError("give --model_dir and at least one --speech_dir and one --noise_dir")
    cfg = _config()  # checks every setting before any TensorFlow work
    if cfg.teacher and not Path(cfg.teacher).exists():
        raise UserError(f"{cfg.teacher}: no such teacher model")
    if FLAGS.init_from and not Path(FLAGS.init_from).exists():
        raise UserError(f"{FLAGS.init_from}: no such model to start from")
    check_output_dir(FLAGS.model_dir)  # every folder is checked before minutes of corpus preparation
    for folder in (*FLAGS.speech_dir, *FLAGS.noise_dir):
        existing_corpus_folder(folder)
    check_named_speakers(FLAGS.speech_dir, cfg.split)
    strategy, role = distribute.make_strategy(FLAGS.strategy)

    from keras_denoiser.pipelines.dataset import build_datasets, preview_mixture
    from keras_denoiser.pipelines.prepare import default_cache_dir, held_out_record, prepare_all
    from keras_denoiser.training import train as train_lib  # TensorFlow work starts after the strategy exists
    from keras_denoiser.training.callbacks import StopSignal, TrainingInterrupted
    from keras_denoiser.training.teacher import load_teacher, with_teacher_masks

    model_dir = Path(FLAGS.model_dir)
    cache_dir = FLAGS.cache_dir or default_cache_dir()
    data_cfg = dataclasses.replace(cfg, seed=_data_seed(cfg, model_dir / train_lib.BACKUP_DIR, role))
    train_ds, val_ds = build_datasets(FLAGS.speech_dir, FLAGS.noise_dir, cache_dir, data_cfg)
    if cfg.teacher:
        train_ds = with_teacher_masks(train_ds, load_teacher(cfg.teacher, cfg.signal), cfg.teacher_weight)
    if role.is_chief:
        held_out = {
            kind: held_out_record(prepare_all(dirs, cache_dir, cfg.signal, cfg.split, kind))
            for kind, dirs in (("speech", FLAGS.speech_dir), ("noise", FLAGS.noise_dir))
        }
        _write_held_out(model_dir, held_out)
        for kind, record in held_out.items():
            for part in ("validation", "test"):
                if not record[part]:  # make_testset, evaluate and choose_limit would stop on it later
                    logging.warning("%s", empty_split_advice(kind, part, cfg.split))
    preview = preview_mixture(FLAGS.speech_dir, FLAGS.noise_dir, cache_dir, cfg) if role.is_chief else None
    command = shlex.join(["keras_denoiser", *sys.argv[1:]])
    with StopSignal() as stop:
        options = train_lib.RunOptions(
            strategy=strategy,
            role=role,
            mixed_precision=FLAGS.mixed_precision,
            log_every_steps=FLAGS.log_every_steps,
            preview=preview,
            stop_signal=stop,
            init_from=Path(FLAGS.init_from) if FLAGS.init_from else None,
            keep_epoch_models=FLAGS.keep_epoch_models,
            print_fn=lambda line: print(line, flush=True),
        )
        try:
            train_lib.train(train_ds, val_ds, cfg, model_dir, options)
        except TrainingInterrupted as interrupted:
            print(f"{interrupted}; to resume, run the same command again: {command}", file=sys.stderr, flush=True)
            return interrupted.exit_status
        except KeyboardInterrupt:
            print("aborted without a new backup; rerunning the command resumes from the last one", file=sys.stderr)
            return 128 + signal.SIGINT
    return 0
