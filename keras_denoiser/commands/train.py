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

from keras_denoiser.commands import corpus_flags
from keras_denoiser.core.atomic import check_output_dir, write_bytes_atomic
from keras_denoiser.core.config import (
    LOSSES,
    MODEL_NAMES,
    NOISE_BALANCES,
    MixConfig,
    ModelConfig,
    SignalConfig,
    TrainConfig,
    empty_split_advice,
)
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines.corpora import existing_corpus_folder
from keras_denoiser.training import distribute

FLAGS = flags.FLAGS
DEFAULT_TEACHER_WEIGHT = 0.5
_TRAIN, _MODEL, _MIX = TrainConfig(), ModelConfig(), MixConfig()
corpus_flags.define_corpus_flags()
corpus_flags.define_split_flags()
flags.adopt_module_key_flags(corpus_flags)
flags.DEFINE_string("model_dir", None, "Folder for the run: config, backups, logs and models. Required.")
flags.DEFINE_integer("epochs", _TRAIN.epochs, f"Epochs to train in total (raise it to continue a finished run); default {_TRAIN.epochs}.")
flags.DEFINE_integer("steps_per_epoch", _TRAIN.steps_per_epoch, f"Training steps (batches) per epoch; default {_TRAIN.steps_per_epoch}.")
flags.DEFINE_integer("validation_steps", _TRAIN.validation_steps, f"Validation batches after each epoch; default {_TRAIN.validation_steps}.")
flags.DEFINE_integer("batch_size", _TRAIN.batch_size, f"Examples per step, over all replicas and workers; default {_TRAIN.batch_size}.")
flags.DEFINE_float("learning_rate", _TRAIN.learning_rate, f"Initial Adam learning rate, halved when validation loss plateaus; default {_TRAIN.learning_rate}.")
flags.DEFINE_integer(
    "warmup_steps", _TRAIN.warmup_steps,
    "Ramp the learning rate up linearly over this many first steps, so a fresh Adam's first steps (about "
    f"the full rate in every weight) are small; for fine-tuning (--init_from). Default {_TRAIN.warmup_steps}.",
    lower_bound=0,
)
flags.DEFINE_integer("seed", _TRAIN.seed, f"Random seed for weights and data; default {_TRAIN.seed}.")
flags.DEFINE_float("crop_seconds", _MIX.crop_seconds, f"Length of each training example in seconds; default {_MIX.crop_seconds}.")
flags.DEFINE_float("snr_db_min", _MIX.snr_db_min, f"Lowest speech-to-noise ratio of a mixture in dB; default {_MIX.snr_db_min}.")
flags.DEFINE_float("snr_db_max", _MIX.snr_db_max, f"Highest speech-to-noise ratio of a mixture in dB; default {_MIX.snr_db_max}.")
flags.DEFINE_float(
    "speed_perturb", _MIX.speed_perturb,
    f"Random speed change of the speech, as a fraction (0.1 = 0.9x to 1.1x); default {_MIX.speed_perturb} (off).",
)
flags.DEFINE_float(
    "reverb_probability", _MIX.reverb_probability,
    f"Share of examples whose speech is reverberated by a synthetic room (RT60 0.15-0.8 s); default {_MIX.reverb_probability}.",
)
flags.DEFINE_float(
    "channel_probability", _MIX.channel_probability,
    "Share of examples (speech and noise) passed through a random microphone EQ and a 4 kHz, 7 kHz or no band "
    f"limit; default {_MIX.channel_probability}.",
)
flags.DEFINE_float(
    "second_noise_probability", _MIX.second_noise_probability,
    f"Share of examples with a second noise 0-10 dB below the first; default {_MIX.second_noise_probability}.",
)
flags.DEFINE_float(
    "stationary_noise_probability", _MIX.stationary_noise_probability,
    "Share of examples whose noise is generated stationary broadband noise (white, pink, brown, blue and between) "
    f"instead of a corpus file, at the same SNRs; default {_MIX.stationary_noise_probability}.",
)
flags.DEFINE_integer(
    "phrase_words", _MIX.phrase_words,
    "Train on phrases of this many utterances of one speaker, joined with 0.1-0.5 s pauses (for corpora of isolated "
    f"words); 0 keeps single utterances; default {_MIX.phrase_words}.",
)
flags.DEFINE_enum(
    "noise_balance", _MIX.noise_balance, list(NOISE_BALANCES),
    "How training draws noise: 'file' (every file equally often) or 'folder' (every top-level folder of the noise "
    f"corpora equally often, so a kind with few files is not rare); default {_MIX.noise_balance}.",
)
flags.DEFINE_enum(
    "model", _MODEL.name, list(MODEL_NAMES),
    "unet (offline), unet_causal (streaming, full band) or unet_compact (streaming, on bands with a GRU, at a "
    "small peer's cost); default unet.",
)
flags.DEFINE_integer("depth", _MODEL.depth, f"U-Net levels (each halves the frequency resolution); default {_MODEL.depth}.")
flags.DEFINE_integer("base_filters", _MODEL.base_filters, f"Filters of the first level, doubled per level; default {_MODEL.base_filters}.")
flags.DEFINE_integer(
    "context_layers", _MODEL.context_layers,
    "Residual time convolutions at the bottleneck, dilated 2, 4, 8, ... (causal in unet_causal): a longer memory; "
    f"a model without them can start such a run (--init_from); default {_MODEL.context_layers}.",
)
flags.DEFINE_integer(
    "band_context_layers", _MODEL.band_context_layers,
    "Residual convolutions along frequency at the bottleneck, dilated 1, 2, 4, ...: each bin sees the whole band "
    "in its own frame (no streaming state); a model without them can start such a run (--init_from); "
    f"default {_MODEL.band_context_layers}.",
)
flags.DEFINE_integer(
    "lookahead_frames", _MODEL.lookahead_frames,
    "Causal models only: future frames each mask may use, one hop of latency each; a model with fewer can "
    f"start such a run (--init_from); default {_MODEL.lookahead_frames}.",
)
flags.DEFINE_integer(
    "bands", _MODEL.bands,
    f"unet_compact only: bands the bins are pooled into (one bin each at the bottom, ERB-spaced above); a multiple "
    f"of 2**depth; default {_MODEL.bands}.",
)
flags.DEFINE_integer(
    "rnn_units", _MODEL.rnn_units,
    f"unet_compact only: units of the GRU at the bottleneck, all the model remembers beyond one frame; default {_MODEL.rnn_units}.",
)
flags.DEFINE_integer(
    "backup_every_steps", _TRAIN.backup_every_steps,
    f"Write a resumable backup every this many steps (and at each epoch end); default {_TRAIN.backup_every_steps}.",
)
flags.DEFINE_enum(
    "loss", _TRAIN.loss, list(LOSSES),
    "mask_mse (MSE to the IRM), weighted_mask_mse (each bin's error weighted by |noisy|^0.6), "
    "asymmetric_mask_mse (the same, a mask above the IRM costing twice) or "
    "compressed_spectral (the enhanced spectrum against the clean one, 0.3-compressed, with phase) or "
    "snr (minus the enhanced spectrum's SNR in dB per example); default mask_mse.",
)
flags.DEFINE_string(
    "init_from", None,
    "Trained model (.keras or model folder) of the same architecture to start from, e.g. to fine-tune with "
    "another loss; ignored when --model_dir holds a backup to resume. Default: random weights.",
)
flags.DEFINE_string(
    "teacher", None,
    "Trained model (.keras or model folder) whose masks make up --teacher_weight of the training target, the "
    "IRM the rest (distillation, e.g. the offline unet teaching unet_causal); needs a mask loss. Default: none.",
)
flags.DEFINE_float(
    "teacher_weight", None,
    f"Share of the training target that is the --teacher's mask, in (0, 1]; default {DEFAULT_TEACHER_WEIGHT} with --teacher.",
)
flags.DEFINE_integer(
    "log_every_steps", 50, "Print a progress line (loss, steps/s) every this many steps; default 50.", lower_bound=1
)
flags.DEFINE_enum(
    "strategy", "default", list(distribute.STRATEGIES),
    "default (one device), mirrored (all local GPUs) or multi_worker (the cluster in TF_CONFIG); default default.",
)
flags.DEFINE_bool(
    "mixed_precision", False,
    "Compute in float16 with float32 weights (mixed_float16; for GPUs). Saved models are float32. Default false.",
)
flags.DEFINE_bool(
    "keep_epoch_models", False,
    "Also save every epoch's model as epochs/epoch_<n>.keras (+ .json), to score each with choose_limit or "
    "evaluate: validation loss need not rank checkpoints as the scores do. Default false.",
)

DATA_SEED_STRIDE_PER_WORKER = 1_000_003
HELD_OUT_FILE = "held_out.json"


def _config() -> TrainConfig:
    return TrainConfig(
        signal=SignalConfig(),
        model=ModelConfig(
            name=FLAGS.model,
            depth=FLAGS.depth,
            base_filters=FLAGS.base_filters,
            context_layers=FLAGS.context_layers,
            band_context_layers=FLAGS.band_context_layers,
            lookahead_frames=FLAGS.lookahead_frames,
            bands=FLAGS.bands,
            rnn_units=FLAGS.rnn_units,
        ),
        mix=MixConfig(
            crop_seconds=FLAGS.crop_seconds,
            snr_db_min=FLAGS.snr_db_min,
            snr_db_max=FLAGS.snr_db_max,
            speed_perturb=FLAGS.speed_perturb,
            reverb_probability=FLAGS.reverb_probability,
            channel_probability=FLAGS.channel_probability,
            second_noise_probability=FLAGS.second_noise_probability,
            stationary_noise_probability=FLAGS.stationary_noise_probability,
            phrase_words=FLAGS.phrase_words,
            noise_balance=FLAGS.noise_balance,
        ),
        batch_size=FLAGS.batch_size,
        epochs=FLAGS.epochs,
        steps_per_epoch=FLAGS.steps_per_epoch,
        validation_steps=FLAGS.validation_steps,
        learning_rate=FLAGS.learning_rate,
        warmup_steps=FLAGS.warmup_steps,
        seed=FLAGS.seed,
        split=corpus_flags.split_config(),
        backup_every_steps=FLAGS.backup_every_steps,
        loss=FLAGS.loss,
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
