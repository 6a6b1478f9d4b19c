"""The bundled models' TFLite files enhance the bundled noisy sample like the Keras model they came from.

Model files are found by name pattern and sidecar, not listed, so replacing a bundled model with
newly trained files of the same names keeps these checks honest.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core import assets, audio
from keras_denoiser.core.metrics import si_sdr, snr_db
from keras_denoiser.export import parity, saved_model, tflite
from keras_denoiser.model import model_io
from tests.export_support import LOWEST_PARITY_BOUND_DB, keras_enhance_on_app_spectra
from tflite_demo.stream import StreamingDenoiser, denoise_signal

STREAMING_MODELS = sorted((Path(__file__).resolve().parents[1] / "tflite_demo" / "models").glob("*.tflite"))


@pytest.mark.parametrize("quantization", ["float16", "int8"])
def test_bundled_tflite_export_matches_the_bundled_keras_model(quantization: str) -> None:
    model, cfg = model_io.load_model(assets.DEFAULT_MODEL)
    samples, rate = audio.read_audio(assets.NOISY_SAMPLE)
    assert rate == cfg.signal.sample_rate
    wave = samples[:, 0]
    path = assets.DEFAULT_MODEL_TFLITE_DIR / f"unet-{quantization}.tflite"
    tflite.check_builtins_only(path.read_bytes(), quantization)
    assert json.loads(path.with_suffix(".json").read_text())["quantization"] == quantization

    reference = saved_model.enhance_waveform(model, tf.constant(wave[np.newaxis]), cfg.signal).numpy()[0]
    output = tflite.enhance_with_tflite(tflite.TFLiteMasker(path), wave, cfg.signal)
    assert si_sdr(wave, reference) < 30.0  # the model changes the noisy sample a lot
    bound = parity.TOLERANCES[f"tflite_{quantization}"][1]
    assert si_sdr(reference, output) >= bound and snr_db(reference, output) >= bound


def test_the_demo_app_ships_streaming_models() -> None:
    assert {json.loads(p.with_suffix(".json").read_text())["quantization"] for p in STREAMING_MODELS} == {"float32", "int8"}


@pytest.mark.parametrize("path", STREAMING_MODELS, ids=lambda p: p.name)
def test_bundled_streaming_tflite_streams_like_the_bundled_causal_keras_model(path: Path) -> None:
    sidecar = json.loads(path.with_suffix(".json").read_text())
    model, cfg = model_io.load_model(assets.ASSETS_DIR / "models" / f"{sidecar['model']}.keras")
    assert cfg.model.causal
    assert tuple(sidecar[key] for key in ("depth", "base_filters", "kernel_size", "context_layers", "band_context_layers")) == (
        cfg.model.depth, cfg.model.base_filters, cfg.model.kernel_size, cfg.model.context_layers,
        cfg.model.band_context_layers)
    assert (sidecar["sample_rate"], sidecar["frame_length"], sidecar["hop_length"]) == (
        cfg.signal.sample_rate, cfg.signal.frame_length, cfg.signal.hop_length)
    wave = audio.read_mono(assets.NOISY_SAMPLE, cfg.signal.sample_rate)

    app = StreamingDenoiser(path)  # applies the sidecar's attenuation limit, so the reference does too
    reference = keras_enhance_on_app_spectra(model, wave, cfg, app.mask_floor)
    streamed = denoise_signal(app, wave).audio
    assert streamed.shape == wave.shape
    assert si_sdr(reference, wave) < LOWEST_PARITY_BOUND_DB  # a constant-mask file could not pass
    figure, bound = parity.TOLERANCES[f"streaming_tflite_{sidecar['quantization']}"]
    if figure == "max_abs_diff":
        assert np.max(np.abs(streamed - reference)) < bound
    else:
        assert si_sdr(reference, streamed) >= bound and snr_db(reference, streamed) >= bound


@pytest.mark.parametrize(
    "sidecar_path",
    sorted(assets.DEFAULT_MODEL_TFLITE_DIR.glob("*.json")) + [p.with_suffix(".json") for p in STREAMING_MODELS],
    ids=lambda p: p.name,
)
def test_bundled_exports_default_to_their_models_own_attenuation_limit(sidecar_path: Path) -> None:
    sidecar = json.loads(sidecar_path.read_text())
    _, cfg = model_io.load_model(assets.ASSETS_DIR / "models" / f"{sidecar['model']}.keras")
    limit = sidecar["max_attenuation_db"]
    assert (float("inf") if limit is None else limit) == cfg.max_attenuation_db
