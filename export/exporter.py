"""`export_model`: every requested artefact, its parity with Keras and the report, published atomically.

Layout of the export folder (built in a hidden temp folder beside it, renamed when complete):

    DIR/<name>/<version>/            SavedModel for TF Serving (signatures: serving_default, mask)
    DIR/models.config                TF Serving model config pointing at /models/<name>
    DIR/tflite/<name>-<quant>.tflite mask network, builtin ops only
    DIR/tflite/<name>-<quant>.json   sidecar: signal parameters, tensors, quantization
    DIR/streaming/<model>_<quant>.tflite  per-frame causal model with explicit state (+ .json sidecar)
    DIR/export_report.json           parity figures of every artefact against the Keras model
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_denoiser.core import config as config_lib
from keras_denoiser.core import features
from keras_denoiser.core.config import TrainConfig, check_attenuation_limit
from keras_denoiser.core.errors import UserError
from keras_denoiser.export import parity, report, saved_model, streaming, tflite
from keras_denoiser.export.choices import FORMATS
from keras_denoiser.model import compact

MODELS_CONFIG_FILE = "models.config"
TFLITE_DIR = "tflite"
STREAMING_DIR = "streaming"


@dataclasses.dataclass(frozen=True)
class ExportRequest:
    """What to export, where, and under which serving name and version."""

    export_dir: Path
    name: str
    version: int = 1
    formats: tuple[str, ...] = FORMATS
    quantizations: tuple[str, ...] = tflite.QUANTIZATIONS
    # Baked into serving_default, and the TFLite apps' default; None: the model's own limit (its config).
    max_attenuation_db: float | None = None

    def __post_init__(self) -> None:
        if self.max_attenuation_db is not None:
            check_attenuation_limit(self.max_attenuation_db)
        for fmt in self.formats:
            if fmt not in FORMATS:
                raise UserError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
        if not self.formats:
            raise UserError(f"no export format given; choose from {', '.join(FORMATS)}")
        for quantize in self.quantizations:
            tflite.check_quantization(quantize)
        if "tflite" in self.formats and not self.quantizations:
            raise UserError(f"no quantization given; choose from {', '.join(tflite.QUANTIZATIONS)}")
        if "streaming_tflite" in self.formats and not self.streaming_quantizations:
            raise UserError(f"streaming_tflite needs one of the quantizations {', '.join(streaming.QUANTIZATIONS)}")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.name):
            raise UserError(f"model name {self.name!r} must be letters, digits, '_', '.' or '-'")
        if self.version < 1:
            raise UserError(f"model version must be a positive integer, not {self.version}")

    @property
    def streaming_quantizations(self) -> tuple[str, ...]:
        """The requested quantizations a streaming model comes in (float32 and int8)."""
        return tuple(q for q in self.quantizations if q in streaming.QUANTIZATIONS)


@dataclasses.dataclass(frozen=True)
class ParitySignals:
    """The fixed test mixture, the int8 calibration data, and where each came from (for the report)."""

    test_wave: np.ndarray
    test_source: str
    representative: Sequence[np.ndarray]
    representative_source: str


def check_request(train_cfg: TrainConfig, request: ExportRequest) -> None:
    """UserError, before any work, for a format the model cannot take, naming what makes the right kind."""
    if "streaming_tflite" in request.formats and not train_cfg.model.causal:
        raise UserError(
            f"{train_cfg.model.name} is not causal, so it cannot stream frame by frame; export a causal model "
            "(`keras_denoiser train --model=unet_compact ...`, or keras_denoiser/assets/models/unet_compact.keras) "
            "with --formats=streaming_tflite"
        )
    if "tflite" in request.formats and train_cfg.model.recurrent:
        raise UserError(
            f"{train_cfg.model.name} has a GRU, whose whole-signal loop TFLite's builtin ops cannot hold; "
            "export streaming_tflite (one frame per call, the GRU's state as a tensor) for devices"
        )


def export_model(
    model: keras.Model,
    train_cfg: TrainConfig,
    request: ExportRequest,
    signals: ParitySignals,
    done: Callable[[str], None] = lambda artefact: None,
) -> tuple[list[parity.ParityRow], Path]:
    """Write every artefact of `request`, check parity, publish the folder; the rows and the report path.

    `done` hears each artefact's name once it is built and checked (the command's progress lines).

    Raises UserError before writing anything when the folder already holds an export, and
    ParityError (nothing published) when an artefact is beyond its tolerance.
    """
    check_request(train_cfg, request)
    request = dataclasses.replace(request, max_attenuation_db=train_cfg.attenuation_limit(request.max_attenuation_db))
    destination = Path(request.export_dir)
    _check_destination(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent))
    try:
        rows = _build(model, train_cfg, request, signals, build, done)
        table = report.format_table(rows)
        report_path = report.write_report(build, rows, _details(model, train_cfg, request, signals))
        failures = [line for line in map(parity.failure, rows) if line]
        if failures:
            raise parity.ParityError(failures[0], table)
        if destination.exists():
            destination.rmdir()  # empty: checked above
        os.replace(build, destination)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return rows, destination / report_path.name


def _check_destination(destination: Path) -> None:
    if destination.exists() and not destination.is_dir():
        raise UserError(f"{destination}: exists and is not a folder")
    if destination.is_dir() and any(destination.iterdir()):
        held = sorted(f"{p.parent.name} version {p.name}" for p in destination.glob("*/*") if p.name.isdigit())
        what = ", ".join(held) if held else "other files"
        raise UserError(f"{destination}: already holds {what}; choose a new or empty --export_dir")


@dataclasses.dataclass(frozen=True)
class _Job:
    """One export in progress: what was asked, the Keras reference output, and the folder being built."""

    train_cfg: TrainConfig
    request: ExportRequest
    signals: ParitySignals
    reference: np.ndarray
    build: Path
    done: Callable[[str], None] = lambda artefact: None  # hears each artefact once built and checked

    def row(self, artefact: str, path: Path, enhance: Callable[[np.ndarray], np.ndarray], size: int) -> parity.ParityRow:
        """Parity of `enhance` on the test mixture against the Keras reference."""
        output, seconds = parity.timed(enhance, self.signals.test_wave.astype(np.float32))
        rate = self.train_cfg.signal.sample_rate
        row = parity.compare(artefact, str(path.relative_to(self.build)), self.reference, output, size, seconds, rate)
        self.done(artefact)
        return row

    def masker_row(self, artefact: str, path: Path, masker: Callable[[np.ndarray], np.ndarray]) -> parity.ParityRow:
        """Parity of a TFLite mask model (whole-spectrogram or streaming) on the test mixture."""
        signal_cfg, floor = self.train_cfg.signal, features.mask_floor(self.request.max_attenuation_db)
        enhance = lambda x: tflite.enhance_with_tflite(masker, x, signal_cfg, floor)  # noqa: E731
        return self.row(artefact, path, enhance, path.stat().st_size)


def _build(
    model: keras.Model,
    train_cfg: TrainConfig,
    request: ExportRequest,
    signals: ParitySignals,
    build: Path,
    done: Callable[[str], None],
) -> list[parity.ParityRow]:
    signal_cfg = train_cfg.signal
    rate = signal_cfg.sample_rate
    wave = signals.test_wave.astype(np.float32)

    floor = features.mask_floor(request.max_attenuation_db)

    def keras_enhance(x: np.ndarray) -> np.ndarray:
        return saved_model.enhance_waveform(model, tf.constant(x[np.newaxis]), signal_cfg, floor).numpy()[0]

    reference, seconds = parity.timed(keras_enhance, wave)
    rows = [parity.ParityRow("keras", "", 0.0, None, None, 0, 1000 * seconds / (len(wave) / rate))]
    job = _Job(train_cfg, request, signals, reference, build, done)
    # Every artefact comes from the folded network (int8 then quantizes normalized band features);
    # the reference is the model as trained, so parity checks that the two are the same network.
    folded = compact.fold_input_norm(model)
    if {"saved_model", "tflite"} & set(request.formats):
        rows += _export_saved_model_and_tflite(folded, job)
    if "streaming_tflite" in request.formats:
        rows += _export_streaming(folded, job)
    return rows


def _export_saved_model_and_tflite(model: keras.Model, job: _Job) -> list[parity.ParityRow]:
    """The SavedModel (kept only when asked for) and the TFLite models converted from its mask signature."""
    rows = []
    with tempfile.TemporaryDirectory(prefix=".savedmodel-", dir=job.build) as scratch:
        keep = "saved_model" in job.request.formats
        model_dir = job.build / job.request.name / str(job.request.version) if keep else Path(scratch) / "1"
        saved_model.save_serving_model(model, job.train_cfg.signal, model_dir, job.request.max_attenuation_db)
        if keep:
            _write_models_config(job.build / MODELS_CONFIG_FILE, job.request.name)
            serving_fn = tf.saved_model.load(str(model_dir)).signatures[saved_model.SERVING_SIGNATURE]

            def served(x: np.ndarray) -> np.ndarray:
                return serving_fn(**{saved_model.WAVEFORM_INPUT: tf.constant(x[np.newaxis])})[
                    saved_model.ENHANCED_OUTPUT
                ].numpy()[0]

            rows.append(job.row("saved_model", model_dir, served, _size(model_dir)))
        if "tflite" in job.request.formats:
            rows += _export_tflite(model_dir, job)
    return rows


def _export_tflite(model_dir: Path, job: _Job) -> list[parity.ParityRow]:
    out_dir = job.build / TFLITE_DIR
    out_dir.mkdir()
    rows = []
    for quantize in job.request.quantizations:
        representative = job.signals.representative if quantize == "int8" else None
        flatbuffer = tflite.convert_saved_model(model_dir, saved_model.MASK_SIGNATURE, quantize, representative)
        path = out_dir / f"{job.request.name}-{quantize}.tflite"
        path.write_bytes(flatbuffer)
        sidecar = tflite.sidecar(flatbuffer, quantize, job.train_cfg, job.request.max_attenuation_db)
        path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
        rows.append(job.masker_row(f"tflite_{quantize}", path, tflite.TFLiteMasker(path)))
    return rows


def _export_streaming(model: keras.Model, job: _Job) -> list[parity.ParityRow]:
    """The per-frame causal model with explicit state, run frame by frame on the test mixture."""
    unet = streaming.StreamingUNet(model, job.train_cfg.model, job.train_cfg.signal)
    out_dir = job.build / STREAMING_DIR
    out_dir.mkdir()
    blocks = job.signals.representative
    log_mags = (item for block in blocks for item in np.reshape(block, (-1, *np.shape(block)[-2:])))
    quantizations = job.request.streaming_quantizations
    source = job.signals.representative_source
    paths = streaming.write_streaming(unet, out_dir, quantizations, log_mags, source, job.request.max_attenuation_db)
    return [
        job.masker_row(f"streaming_tflite_{quantize}", path, streaming.StreamingTFLiteMasker(path))
        for quantize, path in paths.items()
    ]


def _write_models_config(path: Path, name: str) -> None:
    path.write_text(
        "model_config_list {\n"
        "  config {\n"
        f'    name: "{name}"\n'
        f'    base_path: "/models/{name}"\n'
        '    model_platform: "tensorflow"\n'
        "  }\n"
        "}\n"
    )


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _details(model: keras.Model, train_cfg: TrainConfig, request: ExportRequest, signals: ParitySignals) -> dict[str, Any]:
    rate = train_cfg.signal.sample_rate
    return {
        "name": request.name,
        "version": request.version,
        "formats": list(request.formats),
        "quantizations": list(request.quantizations),
        "max_attenuation_db": tflite.attenuation_limit_entry(request.max_attenuation_db),
        "model": config_lib.to_dict(train_cfg.model),
        "signal": config_lib.to_dict(train_cfg.signal),
        "parameters": int(model.count_params()),
        "test_signal": {"source": signals.test_source, "seconds": round(len(signals.test_wave) / rate, 3)},
        "representative_data": signals.representative_source,
        "tensorflow": tf.__version__,
    }
