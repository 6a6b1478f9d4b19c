r"""Export a trained model for TF Serving and TFLite, check every artefact against Keras, write a report.

    keras_denoiser export --model=runs/unet --export_dir=exported --name=denoiser \
        --formats=saved_model,tflite --quantize=float32,float16,dynamic,int8
    keras_denoiser export --model=runs/causal --export_dir=exported_causal   # adds streaming_tflite
    keras_denoiser export --export_dir=exported_bundled                      # the bundled offline model

The int8 model is calibrated on features of the training pipeline: from --speech_dir/--noise_dir when
given, else from the bundled sample corpus, else from generated speech-like mixtures. The parity
test mixture is the bundled sample (or a generated one when the sample is absent).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Sequence

import numpy as np
from absl import flags, logging

from keras_denoiser.commands import attenuation_flag, corpus_flags, model_flag
from keras_denoiser.core import audio, progress
from keras_denoiser.core.assets import DEFAULT_MODEL, SAMPLE_DIR, SAMPLE_NOISE_DIR, SAMPLE_SPEAKERS_DIR
from keras_denoiser.core.config import TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.export.choices import FORMATS, QUANTIZATIONS, SERVING_NAME

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
model_flag.define_model_flag(FLAGS)
attenuation_flag.define_attenuation_flag(FLAGS)
corpus_flags.define_corpus_flags(FLAGS, use="for int8 calibration data", default="the bundled sample corpus")
corpus_flags.define_cache_flag(FLAGS)
flags.DEFINE_string("export_dir", None, "New or empty folder to write the export into; it is created.", flag_values=FLAGS)
flags.DEFINE_list(
    "formats",
    None,
    f"Comma-separated formats to export, from {', '.join(FORMATS)}; "
    "default saved_model,tflite, plus streaming_tflite for a causal model.",
    flag_values=FLAGS,
)
flags.DEFINE_list(
    "quantize", list(QUANTIZATIONS), f"Comma-separated TFLite quantizations, from {', '.join(QUANTIZATIONS)}; default all.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "name", SERVING_NAME, f"Serving name of the model (URL /v1/models/NAME); default {SERVING_NAME}.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "version", 1, "Serving version number of the SavedModel folder DIR/NAME/VERSION; default 1.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "calibration_batches", 4, "Training-pipeline batches used to calibrate int8; default 4.", lower_bound=1,
    flag_values=FLAGS,
)
flags.DEFINE_float(
    "test_seconds", 4.0, "Length of the parity test mixture in seconds; default 4.", lower_bound=0.1, flag_values=FLAGS
)
flags.mark_flag_as_required("export_dir", flag_values=FLAGS)


def main(argv: Sequence[str]) -> int:
    from keras_denoiser.export.exporter import ExportRequest, ParitySignals, check_request, export_model
    from keras_denoiser.export.parity import ParityError
    from keras_denoiser.export.report import format_table
    from keras_denoiser.model import model_io

    logging.set_verbosity(logging.WARNING)  # keep TF's SavedModel chatter out of the report
    model, train_cfg = model_io.load_model(FLAGS.model or DEFAULT_MODEL)
    request = ExportRequest(
        export_dir=Path(FLAGS.export_dir),
        name=FLAGS.name,
        version=FLAGS.version,
        formats=tuple(FLAGS.formats or default_formats(train_cfg)),
        quantizations=tuple(FLAGS.quantize),
        max_attenuation_db=FLAGS.max_attenuation_db,
    )
    check_request(train_cfg, request)  # before calibration data is prepared
    needs_calibration = bool({"tflite", "streaming_tflite"} & set(request.formats)) and "int8" in request.quantizations
    signals = ParitySignals(
        *_test_mixture(train_cfg, FLAGS.test_seconds),
        *_calibration(
            train_cfg, FLAGS.speech_dir, FLAGS.noise_dir, FLAGS.cache_dir, FLAGS.calibration_batches, needs_calibration
        ),
    )
    try:
        rows, report_path = export_model(model, train_cfg, request, signals, progress.steps("export"))
    except ParityError as err:
        print(err.table)
        raise
    print(format_table(rows))
    print(f"wrote {request.export_dir} (report: {report_path})")
    return 0


def default_formats(train_cfg: TrainConfig) -> list[str]:
    """Every format the model supports: streaming only for a causal model, whole-signal TFLite only without a GRU."""
    supported = {"saved_model": True, "tflite": not train_cfg.model.recurrent, "streaming_tflite": train_cfg.model.causal}
    return [f for f in FORMATS if supported[f]]


def _sample_files() -> tuple[list[Path], list[Path]]:
    """Speech and noise files of the bundled sample corpus (empty lists when it is absent)."""
    if not SAMPLE_DIR.is_dir():
        return [], []
    speech = audio.find_audio_files(SAMPLE_DIR / "wavs") if (SAMPLE_DIR / "wavs").is_dir() else []
    noise = audio.find_audio_files(SAMPLE_NOISE_DIR) if SAMPLE_NOISE_DIR.is_dir() else []
    return speech, noise


def _test_mixture(train_cfg: TrainConfig, seconds: float) -> tuple[np.ndarray, str]:
    from keras_denoiser.export import mixture

    rate = train_cfg.signal.sample_rate
    speech, noise = _sample_files()
    if speech and noise:
        wave = mixture.file_mixture(speech[0], noise[0], seconds, rate)
        return wave, f"bundled sample {speech[0].name} + {noise[0].name} at 5 dB SNR"
    return mixture.generated_mixture(seconds, rate), "generated speech-like signal in pink noise at 5 dB SNR"


def _calibration(
    train_cfg: TrainConfig,
    speech_dirs: list[str],
    noise_dirs: list[str],
    cache_dir: str | None,
    batches: int,
    needed: bool,
) -> tuple[list[np.ndarray], str]:
    from keras_denoiser.export import mixture

    if not needed:
        return [], "not needed (no int8 model)"
    if bool(speech_dirs) != bool(noise_dirs):
        raise UserError("give both --speech_dir and --noise_dir for calibration data, or neither")
    source = "training pipeline on "
    if not speech_dirs:
        speech, noise = _sample_files()
        if not (speech and noise):
            waves = (mixture.generated_mixture(2.0, train_cfg.signal.sample_rate, seed) for seed in range(16))
            return list(mixture.log_magnitude_blocks(waves, train_cfg.signal)), "generated speech-like mixtures"
        # several speakers, so its validation split is not empty (the one-speaker wavs/ would warn so)
        speech_dirs, noise_dirs = [str(SAMPLE_SPEAKERS_DIR)], [str(SAMPLE_NOISE_DIR)]
        source += "the bundled sample corpus "
    from keras_denoiser.pipelines.dataset import build_datasets
    from keras_denoiser.pipelines.prepare import default_cache_dir

    _, validation = build_datasets(speech_dirs, noise_dirs, cache_dir or default_cache_dir(), train_cfg)
    log_mags = [batch[0].numpy() for batch in itertools.islice(validation, batches)]  # (log_mag, *loss targets)
    corpora = f"{', '.join(map(str, speech_dirs))} + {', '.join(map(str, noise_dirs))}"
    return log_mags, f"{source}({corpora}), {batches} validation batches"
