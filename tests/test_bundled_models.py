"""The bundled offline model's TFLite exports enhance the bundled noisy sample like the Keras model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from export import parity, saved_model, tflite
from keras_denoiser import assets, audio, model_io
from keras_denoiser.metrics import si_sdr, snr_db


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
