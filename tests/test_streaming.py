"""Streaming export: per-frame model with explicit states equals the offline causal U-Net."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from keras_denoiser.core import features
from keras_denoiser.core.config import ModelConfig, SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.core.metrics import si_sdr, snr_db
from keras_denoiser.export import mixture, parity, tflite
from keras_denoiser.export.exporter import ExportRequest
from keras_denoiser.export.streaming import (
    StreamingTFLiteMasker,
    StreamingUNet,
    calibration_inputs,
    convert,
    export_streaming,
)
from keras_denoiser.model import model_io
from keras_denoiser.model.network import build_network
from keras_denoiser.model.unet import FIRST_CONVOLUTION
from tests import cli_runner
from tests.enhance_helpers import tiny_unet, wake_context_layers
from tests.export_support import LOWEST_PARITY_BOUND_DB, tiny_config, tiny_export, trained_tiny_model
from tflite_demo.stream import StreamingDenoiser, denoise_signal

pytestmark = pytest.mark.long  # exports and TFLite conversions of three networks: over a minute on 2 cores
RATE = 16000
SIGNAL = SignalConfig()
# int8 (weights and activations, states included) against the float32 stream on the same model,
# as SI-SDR and as plain SNR (which also counts a wrong gain).
INT8_MIN_DB = 30.0  # measured 45 dB on the trained model


@pytest.fixture(scope="module", params=[("unet_causal", 0), ("unet_compact", 0), ("unet_compact", 1)],
                ids=["unet_causal", "unet_compact", "unet_compact_dual_path_spread"])
def causal(request):
    """A trained tiny causal network of each kind (the compact one with its flat GRU, and with a dual-path
    block and the band spread feature): its mask follows the harmonics, so a constant mask cannot pass for it.

    Both kinds run the parity tests (step, TFLite stream, int8, state loop, sidecar); the tests of what
    the stream machinery does for any kind (calibration, causality, the export command) run `unet_causal`.
    """
    return trained_tiny_model(*request.param)


CAUSAL_ONLY = pytest.mark.parametrize("causal", [("unet_causal", 0)], indirect=True, ids=["unet_causal"])


@pytest.fixture(scope="module")
def exported(causal, tmp_path_factory):
    model, cfg = causal
    calibration = [mixture.generated_mixture(2.0, RATE, seed) for seed in (20, 21)]
    return export_streaming(model, tmp_path_factory.mktemp("streaming"), representative=calibration, train_config=cfg)


@pytest.fixture(scope="module")
def noisy() -> np.ndarray:
    return mixture.generated_mixture(3.0, RATE, seed=5, snr_db=0.0)


def offline(model, cfg: TrainConfig, wave: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """The causal Keras model on the whole spectrogram (mask floored at `floor`), then the training iSTFT."""
    mask_fn = lambda log_mag: model(log_mag[None], training=False)[0]  # noqa: E731
    return features.enhance(wave, mask_fn, cfg.signal, floor).wave.numpy()


def test_per_frame_step_equals_the_model_on_the_whole_spectrogram(causal, noisy) -> None:
    model, cfg = causal
    log_mag = features.log_magnitude(features.stft(noisy[:8000], cfg.signal)).numpy()
    streamed = StreamingUNet(model, cfg.model, cfg.signal).run(log_mag)
    whole = np.asarray(model(log_mag[None], training=False))[0]
    # Varies in time and frequency, so the comparison is not of constants (the least-varying tiny network,
    # the dual-path one with the band spread, measured 0.043 over time and 0.19 over frequency).
    assert whole.std(axis=0).mean() > 0.03 and whole.std(axis=1).mean() > 0.05
    np.testing.assert_allclose(streamed, whole, atol=1e-5)


@pytest.mark.parametrize(
    "depth, kernel_size, context_layers, band_context_layers",
    [(3, 3, 0, 0), (1, 5, 0, 0), (2, 4, 0, 0), (2, 1, 0, 0), (2, 3, 3, 0), (1, 2, 2, 0), (2, 3, 2, 3)],
)
def test_step_follows_any_depth_kernel_size_and_context(
    depth: int, kernel_size: int, context_layers: int, band_context_layers: int
) -> None:
    """Band context layers reach no other frame, so they add no state."""
    cfg = ModelConfig(
        name="unet_causal", depth=depth, base_filters=4, kernel_size=kernel_size, context_layers=context_layers,
        band_context_layers=band_context_layers,
    )
    model = build_network(cfg, SIGNAL)
    wake_context_layers(model)
    log_mag = np.random.default_rng(depth).normal(-3.0, 2.0, size=(40, SIGNAL.num_bins)).astype(np.float32)
    streaming = StreamingUNet(model, cfg, SIGNAL)
    assert len(streaming.states) == (4 * depth + 2 + context_layers if kernel_size > 1 else 0)
    np.testing.assert_allclose(streaming.run(log_mag), np.asarray(model(log_mag[None]))[0], atol=1e-5)


def test_context_layers_stream_through_tflite_as_through_keras(tmp_path, noisy) -> None:
    """Time context layers (with states) and band context layers (dilated along frequency, without)."""
    model, cfg = trained_tiny_model("unet_causal")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, context_layers=2, band_context_layers=2))
    with_context = build_network(cfg.model, cfg.signal)
    for layer in model.layers:
        with_context.get_layer(layer.name).set_weights(layer.get_weights())
    wake_context_layers(with_context)
    paths = export_streaming(with_context, tmp_path, quantizations=("float32",), train_config=cfg)
    app = StreamingDenoiser(paths["float32"])
    sidecar = json.loads(paths["float32"].with_suffix(".json").read_text())
    assert (sidecar["context_layers"], sidecar["band_context_layers"]) == (2, 2)
    streamed = denoise_signal(app, noisy).audio
    np.testing.assert_allclose(streamed, offline(with_context, cfg, noisy, app.mask_floor), atol=1e-4)
    assert np.abs(streamed - offline(model, cfg, noisy, app.mask_floor)).max() > 1e-3  # the context counts


@pytest.mark.parametrize("lookahead_frames", [1, 2])
def test_a_lookahead_model_streams_late_and_equals_offline_processing(tmp_path, noisy, lookahead_frames: int) -> None:
    """The app holds the spectra the model's late masks belong to; the stream's end is silence, as offline."""
    model, cfg = trained_tiny_model("unet_causal")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, lookahead_frames=lookahead_frames))
    ahead = build_network(cfg.model, cfg.signal)
    for layer in model.layers:
        ahead.get_layer(layer.name).set_weights(layer.get_weights() if layer.name != FIRST_CONVOLUTION else [
            np.concatenate([layer.get_weights()[0], 0.3 * layer.get_weights()[0][-lookahead_frames:]])])
    paths = export_streaming(ahead, tmp_path, quantizations=("float32",), train_config=cfg)
    meta = json.loads(paths["float32"].with_suffix(".json").read_text())
    assert meta["lookahead_frames"] == lookahead_frames
    assert meta["output_delay_samples"] == 384 + 128 * lookahead_frames
    assert meta["latency_ms"] == 32.0 + 8.0 * lookahead_frames
    app = StreamingDenoiser(paths["float32"])
    assert app.latency_ms == 32.0 + 8.0 * lookahead_frames
    streamed = denoise_signal(app, noisy).audio
    np.testing.assert_allclose(streamed, offline(ahead, cfg, noisy, app.mask_floor), atol=1e-4)
    log_mag = features.log_magnitude(features.stft(noisy[:8000], cfg.signal)).numpy()
    masker = StreamingTFLiteMasker(paths["float32"])
    np.testing.assert_allclose(masker(log_mag), np.asarray(ahead(log_mag[None]))[0], atol=1e-5)


@CAUSAL_ONLY
def test_calibration_spreads_its_frames_over_every_stream_to_its_closing_silence(causal) -> None:
    """Three streams of 40 frames, a budget of 30: every 5th frame of all three (and their silence), states and all."""
    _, cfg = causal
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, lookahead_frames=2))
    streaming = StreamingUNet(build_network(cfg.model, cfg.signal), cfg.model, cfg.signal)
    streams = [np.full((40, SIGNAL.num_bins), level, np.float32) for level in (-3.0, -2.0, -1.0)]
    samples = list(calibration_inputs(streaming.run_step, streaming.spec, streams, limit=30))
    levels = [float(sample["log_magnitude"][0, 0, 0]) for sample in samples]
    assert len(samples) == 26  # ceil(3 * 42 / 30) = 5: frames 0, 5, ... of the 126
    assert {-3.0, -2.0, -1.0} <= set(levels) and min(levels) < -13  # the last stream and a closing silence
    later = samples[1]  # frame 5 of the first stream carries the states of frames 0..4
    assert any(np.abs(later[state.input_name]).max() > 0 for state in streaming.states)
    # export streams its calibration on the float32 flatbuffer: the same frames and states as the TF step
    runner = Interpreter(model_content=convert(streaming, ["float32"])["float32"]).get_signature_runner()
    on_litert = list(calibration_inputs(runner, streaming.spec, streams, limit=30))
    assert len(on_litert) == len(samples)
    for tf_sample, litert_sample in zip(samples, on_litert):
        assert tf_sample.keys() == litert_sample.keys()
        for name in tf_sample:
            np.testing.assert_allclose(litert_sample[name], tf_sample[name], atol=1e-5)


def test_streamed_float32_tflite_file_equals_offline_processing(causal, exported, noisy) -> None:
    model, cfg = causal
    app = StreamingDenoiser(exported["float32"])  # applies the sidecar's attenuation limit
    streamed = denoise_signal(app, noisy).audio
    reference = offline(model, cfg, noisy, app.mask_floor)
    assert streamed.shape == noisy.shape
    assert si_sdr(reference, noisy) < LOWEST_PARITY_BOUND_DB  # not a rescaled copy of the input
    assert np.abs(streamed - reference).max() < 1e-4


@CAUSAL_ONLY
def test_streaming_tflite_never_depends_on_future_frames(causal, exported) -> None:
    denoiser = StreamingDenoiser(exported["float32"])
    frames = np.random.default_rng(2).normal(-3.0, 2.0, size=(30, 257)).astype(np.float32)

    def masks(log_mag: np.ndarray) -> np.ndarray:
        denoiser.reset()
        return np.stack([denoiser.mask(frame) for frame in log_mag])

    base = masks(frames)
    for t in (3, 15, 29):
        changed = frames.copy()
        changed[t] += 4.0
        out = masks(changed)
        np.testing.assert_array_equal(out[:t], base[:t])
        assert np.abs(out[t] - base[t]).max() > 1e-3


def test_int8_stream_stays_close_to_float32(exported, noisy) -> None:
    float_out = denoise_signal(StreamingDenoiser(exported["float32"]), noisy).audio
    int8_out = denoise_signal(StreamingDenoiser(exported["int8"]), noisy).audio
    assert not np.array_equal(int8_out, float_out)
    assert si_sdr(float_out, int8_out) > INT8_MIN_DB and snr_db(float_out, int8_out) > INT8_MIN_DB


@pytest.mark.parametrize("quantization", ["float32", "int8"])
def test_exports_use_builtin_ops_and_sidecar_names_every_state(causal, exported, quantization: str) -> None:
    path = exported[quantization]
    tflite.check_builtins_only(path.read_bytes(), quantization)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert (meta["sample_rate"], meta["frame_length"], meta["hop_length"]) == (16000, 512, 128)
    assert meta["quantization"] == quantization
    if causal[1].model.name == "unet_causal":
        assert len(meta["states"]) == 10  # depth 2: (2 levels * 2 + bottleneck 2 + 2 levels * 2) convolutions
        assert meta["states"][0] == {"input": "state_0", "output": "next_state_0", "shape": [1, 2, 260, 1], "layer": "enc0_a"}  # 257 bins padded to 4k
    else:  # one frame of each encoder level's input (32 bands of 2 or 3 features, then 16), and the GRU's 16 units (in each of 8 bands)
        shapes = [(s["layer"], s["shape"]) for s in meta["states"]]
        model_cfg = causal[1].model
        recurrent = [("dp0_gru", [8, 16])] if model_cfg.dual_path_blocks else [("gru", [1, 16])]
        assert shapes == [("enc0", [1, 1, 32, 3 if model_cfg.band_spread else 2]), ("enc1", [1, 1, 16, 4]), *recurrent]


def test_offline_unet_cannot_stream() -> None:
    model, cfg = tiny_unet("unet")
    with pytest.raises(UserError, match="cannot stream"):
        StreamingUNet(model, cfg.model, cfg.signal)


def test_model_path_without_model_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(UserError, match="no such model file"):
        export_streaming(tmp_path / "missing.keras", tmp_path / "out")


@CAUSAL_ONLY
def test_export_command_writes_streaming_models_of_a_causal_model_checked_frame_by_frame(causal, tmp_path) -> None:
    model, cfg = causal
    model_path = tmp_path / "causal.keras"  # trained with the weighted loss: its batches carry weights too
    model_io.save_model(model, model_path, dataclasses.replace(cfg, loss="weighted_mask_mse"))
    out = tmp_path / "exported"
    result = cli_runner.run("export", f"--model={model_path}", f"--export_dir={out}", "--quantize=float32,int8",
                            "--test_seconds=1.5", "--calibration_batches=1")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {r["artefact"]: r for r in json.loads((out / "export_report.json").read_text())["artefacts"]}
    assert {"saved_model", "streaming_tflite_float32", "streaming_tflite_int8", "tflite_float32", "tflite_int8"} == set(rows) - {"keras"}
    assert rows["streaming_tflite_float32"]["max_abs_diff"] < 1e-4
    int8_bound = parity.TOLERANCES["streaming_tflite_int8"][1]
    assert rows["streaming_tflite_int8"]["si_sdr_db"] >= int8_bound and rows["streaming_tflite_int8"]["snr_db"] >= int8_bound
    for quantization in ("float32", "int8"):
        path = out / "streaming" / f"{cfg.model.name}_{quantization}.tflite"
        assert json.loads(path.with_suffix(".json").read_text())["quantization"] == quantization
    # The exported file is what the demo app runs: frame by frame it equals the causal Keras model.
    noisy = mixture.generated_mixture(2.0, RATE, seed=7, snr_db=0.0)
    app = StreamingDenoiser(out / "streaming" / f"{cfg.model.name}_float32.tflite")
    streamed = denoise_signal(app, noisy).audio
    np.testing.assert_allclose(streamed, offline(*model_io.load_model(model_path), noisy, app.mask_floor), atol=1e-4)


def test_streaming_export_of_an_offline_model_is_refused(tmp_path) -> None:
    model, _ = tiny_unet("unet")
    with pytest.raises(UserError, match="cannot stream"):
        tiny_export(tmp_path / "out", model, ("streaming_tflite",))
    assert list(tmp_path.iterdir()) == []


def test_whole_signal_tflite_of_a_recurrent_model_is_refused_with_the_format_that_works(tmp_path) -> None:
    model, cfg = trained_tiny_model("unet_compact")
    with pytest.raises(UserError, match="export streaming_tflite"):
        tiny_export(tmp_path / "out", model, ("tflite",), cfg=cfg)
    assert not (tmp_path / "out").exists()


def test_streaming_export_needs_a_streaming_quantization(tmp_path) -> None:
    with pytest.raises(UserError, match="streaming_tflite needs one of the quantizations float32, int8"):
        ExportRequest(tmp_path / "out", "denoiser", formats=("streaming_tflite",), quantizations=("float16",))


def test_export_runner_and_demo_app_carry_the_states_alike(causal, exported, noisy) -> None:
    """The parity runner and the app run one state loop: the same masks, and the TF step agrees."""
    model, cfg = causal
    log_mag = features.log_magnitude(features.stft(noisy[:16000], cfg.signal)).numpy()
    unet = StreamingUNet(model, cfg.model, cfg.signal)
    for quantization, path in exported.items():
        ours = StreamingTFLiteMasker(path)(log_mag)
        app = StreamingDenoiser(path)
        np.testing.assert_array_equal(ours, np.stack([app.mask(frame) for frame in log_mag]), err_msg=quantization)
    np.testing.assert_allclose(unet.run(log_mag), StreamingTFLiteMasker(exported["float32"])(log_mag), atol=1e-5)


@pytest.mark.parametrize("name, formats", [
    ("unet", ["saved_model", "tflite"]),
    ("unet_causal", ["saved_model", "tflite", "streaming_tflite"]),
    ("unet_compact", ["saved_model", "streaming_tflite"]),  # no GRU loop in whole-signal TFLite
])
def test_export_command_writes_by_default_every_format_the_model_supports(name: str, formats: list[str]) -> None:
    with cli_runner.command_module("export") as export:
        assert export.default_formats(tiny_config(name)) == formats
