"""TFLite mask models: builtin ops only, dynamic time axis, float I/O for int8, parity with Keras."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core import features
from keras_denoiser.core.errors import UserError
from keras_denoiser.core.metrics import si_sdr, snr_db
from keras_denoiser.export import mixture, parity, tflite
from tests.export_support import (
    LOWEST_PARITY_BOUND_DB,
    RATE,
    TINY_CONFIG,
    keras_enhance,
    tiny_export,
    tiny_model,
    trained_tiny_model,
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(model, export folder, rows by artefact) of a TFLite-only export of a trained model in every quantization."""
    model, _ = trained_tiny_model()
    export_dir = tmp_path_factory.mktemp("export") / "out"
    rows, _ = tiny_export(export_dir, model, ("tflite",), tflite.QUANTIZATIONS)
    return model, export_dir, {row.artefact: row for row in rows}


def _flatbuffer(export_dir, quantize: str) -> bytes:
    return (export_dir / "tflite" / f"denoiser-{quantize}.tflite").read_bytes()


@pytest.mark.parametrize("quantize", tflite.QUANTIZATIONS)
def test_every_quantization_uses_builtin_ops_only(exported, quantize: str) -> None:
    names = tflite.operator_names(_flatbuffer(exported[1], quantize))
    assert "CONV_2D" in names and "TRANSPOSE_CONV" in names
    assert not [n for n in names if n.startswith("Flex") or not n.isupper()], names


def test_int8_quantizes_inside_and_keeps_float_io(exported) -> None:
    names = tflite.operator_names(_flatbuffer(exported[1], "int8"))
    assert {"QUANTIZE", "DEQUANTIZE"} <= set(names)
    sidecar = json.loads((exported[1] / "tflite" / "denoiser-int8.json").read_text())
    assert sidecar["input"]["dtype"] == sidecar["output"]["dtype"] == "float32"
    assert sidecar["input"]["shape_signature"] == [-1, -1, 257]
    assert (sidecar["sample_rate"], sidecar["frame_length"], sidecar["hop_length"]) == (16000, 512, 128)
    assert sidecar["quantization"] == "int8"


def test_flex_ops_are_detected_and_refused() -> None:
    @tf.function(input_signature=[tf.TensorSpec([1, 4, 257], tf.complex64)])
    def inverse(spec):
        return tf.signal.inverse_stft(spec, 512, 128)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([inverse.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    flatbuffer = converter.convert()
    assert any(name.startswith("Flex") for name in tflite.operator_names(flatbuffer))
    with pytest.raises(UserError, match="needs non-builtin ops Flex"):
        tflite.check_builtins_only(flatbuffer, "float32")


def test_conversion_that_needs_tf_ops_is_a_one_line_error() -> None:
    model = tiny_model()

    def inverse_spectrum(real):
        return tf.signal.irfft(tf.complex(real, real))

    message = r"tflite float32: conversion with builtin ops failed \(TF ops not in the builtins: Complex, IRFFT\)"
    with pytest.raises(UserError, match=message):
        tflite.convert_to_tflite(
            model, "float32", fn=inverse_spectrum, input_signature=[tf.TensorSpec([1, 257], tf.float32)]
        )


@pytest.mark.parametrize("frames", [1, 5, 64, 301])
def test_dynamic_time_axis_matches_keras_mask(exported, frames: int) -> None:
    model, export_dir, _ = exported
    log_mag = np.random.default_rng(frames).normal(-3, 2, (frames, 257)).astype(np.float32)
    mask = tflite.TFLiteMasker(export_dir / "tflite" / "denoiser-float32.tflite")(log_mag)
    np.testing.assert_allclose(mask, model(log_mag[np.newaxis], training=False).numpy()[0], atol=1e-5)


def test_parity_model_masks_vary_in_time_and_frequency_so_a_constant_mask_fails(exported) -> None:
    model = exported[0]
    wave = mixture.generated_mixture(2.0, RATE, seed=0)
    mask = model(features.log_magnitude(features.stft(wave, TINY_CONFIG.signal))[None], training=False).numpy()[0]
    assert mask.std(axis=0).mean() > 0.1 and mask.std(axis=1).mean() > 0.1  # measured 0.16 and 0.15
    # An artefact returning a constant mask outputs c * wave; against Keras it scores si_sdr(reference, wave).
    assert si_sdr(keras_enhance(model, wave), wave) < LOWEST_PARITY_BOUND_DB - 5  # measured 6.1 dB


def test_report_rows_meet_the_stated_bounds(exported) -> None:
    rows = exported[2]
    assert rows["tflite_float32"].max_abs_diff < 1e-4
    for quantize, bound in (("float16", 30), ("dynamic", 20), ("int8", 15)):  # measured 74, 42, 39 dB
        row = rows[f"tflite_{quantize}"]
        assert row.si_sdr_db >= bound and row.snr_db >= bound, row
        assert row.max_abs_diff < 0.05, row  # measured 0.012 for int8 on a 0.6-peak mixture
    assert rows["tflite_int8"].size_bytes < rows["tflite_float32"].size_bytes
    report = json.loads((exported[1] / "export_report.json").read_text())
    assert [r["artefact"] for r in report["artefacts"]] == ["keras", *(f"tflite_{q}" for q in tflite.QUANTIZATIONS)]
    assert not (exported[1] / "denoiser").exists()  # SavedModel only used as the conversion source


@pytest.mark.parametrize("quantize", tflite.QUANTIZATIONS)
def test_every_model_enhances_a_new_mixture_like_keras(exported, quantize: str) -> None:
    model, export_dir, _ = exported
    wave = mixture.generated_mixture(1.5, RATE, seed=7)
    expected = keras_enhance(model, wave)
    masker = tflite.TFLiteMasker(export_dir / "tflite" / f"denoiser-{quantize}.tflite")
    enhanced = tflite.enhance_with_tflite(masker, wave, TINY_CONFIG.signal)
    figure, bound = parity.TOLERANCES[f"tflite_{quantize}"]  # the bounds, checked here rather than by parity.failure
    if figure == "max_abs_diff":
        assert np.max(np.abs(enhanced - expected)) < bound
    else:
        assert si_sdr(expected, enhanced) >= bound and snr_db(expected, enhanced) >= bound


def test_convert_to_tflite_helper_converts_a_keras_model() -> None:
    model = tiny_model(seed=3)
    flatbuffer = tflite.convert_to_tflite(model, "float32")
    log_mag = np.random.default_rng(0).normal(-3, 2, (1, 12, 257)).astype(np.float32)
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, log_mag.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, log_mag)
    interpreter.invoke()
    mask = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(mask, model(log_mag, training=False).numpy(), atol=1e-5)


def test_int8_without_calibration_data_is_refused(exported) -> None:
    with pytest.raises(UserError, match="int8 quantization needs a representative dataset"):
        tflite.convert_to_tflite(exported[0], "int8")


@pytest.mark.parametrize("broken", ["silent", "inverted", "half_gain"])
def test_parity_fails_a_silent_inverted_or_rescaled_artefact(broken: str) -> None:
    reference = np.sin(np.arange(16000) * 0.05).astype(np.float32) * 0.3
    output = {"silent": 0 * reference, "inverted": -reference, "half_gain": 0.5 * reference}[broken]
    row = parity.compare("tflite_int8", "x.tflite", reference, output, 1, 0.1, 16000)
    assert parity.failure(row) is not None
