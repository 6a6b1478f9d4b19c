"""The on-device demo: numpy STFT equal to the training STFT, `python -m tflite_demo` end to end."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys
import traceback
import types
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import soundfile as sf

from keras_denoiser.core import features
from keras_denoiser.core.config import SignalConfig
from keras_denoiser.core.metrics import si_sdr
from keras_denoiser.export import mixture
from keras_denoiser.export.streaming import export_streaming
from tests.enhance_helpers import tiny_unet
from tflite_demo import __main__ as app
from tflite_demo import live, quiet
from tflite_demo.__main__ import resample
from tflite_demo.bundled import DEFAULT_MODEL
from tflite_demo.stft import StreamingISTFT, StreamingSTFT, hann_window, synthesis_window
from tflite_demo.stream import DemoError, StreamingDenoiser, denoise_signal

ROOT = Path(__file__).resolve().parents[1]
SIGNAL = SignalConfig()


@pytest.fixture(scope="module")
def float_model(tmp_path_factory) -> Path:
    model, cfg = tiny_unet("unet_causal", seed=3)
    return export_streaming(model, tmp_path_factory.mktemp("demo"), ("float32",), train_config=cfg)["float32"]


def run_demo(*args: str) -> subprocess.CompletedProcess:
    """`python -m tflite_demo *args` in this process: status, stdout and stderr as from a new one. The
    process-wide filter of native log lines stays out of pytest's stderr; test_quiet runs the app alone."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.chdir(ROOT), mock.patch.object(quiet, "filter_native_stderr"):
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                status = app.main(args)
            except SystemExit as done:  # argparse's flag errors
                status = done.code
            except Exception:  # noqa: BLE001 - an uncaught error is a traceback and status 1, as in a process
                traceback.print_exc()
                status = 1
    return subprocess.CompletedProcess(["tflite_demo", *args], status, stdout.getvalue(), stderr.getvalue())


def stream_spectra(wave: np.ndarray, signal: SignalConfig = SIGNAL) -> np.ndarray:
    stft = StreamingSTFT(signal.frame_length, signal.hop_length)
    padded = np.concatenate([wave, np.zeros(signal.pad + (-(len(wave) + signal.pad)) % signal.hop_length)])
    return np.stack([stft(hop) for hop in padded.reshape(-1, signal.hop_length)])


# The default hop and the hop of half a frame (`--hop_length=256`, half the network's cost per second).
HOPS = pytest.mark.parametrize("signal", [SIGNAL, SignalConfig(hop_length=256)], ids=["hop128", "hop256"])


@HOPS
def test_numpy_streaming_stft_equals_training_stft(signal: SignalConfig) -> None:
    wave = mixture.generated_mixture(1.0, signal.sample_rate, seed=1)
    reference = features.stft(wave, signal).numpy()
    spectra = stream_spectra(wave, signal)
    assert spectra.shape == reference.shape
    scale = np.abs(reference).max()
    assert np.abs(spectra - reference).max() < 1e-6 * scale * 10  # float32 FFT round-off


@HOPS
def test_numpy_overlap_add_equals_training_istft(signal: SignalConfig) -> None:
    wave = mixture.generated_mixture(1.0, signal.sample_rate, seed=2)
    spec = features.stft(wave, signal).numpy()
    mask = np.random.default_rng(0).uniform(size=spec.shape)
    reference = features.istft(spec * mask, len(wave), signal).numpy()
    istft = StreamingISTFT(signal.frame_length, signal.hop_length)
    streamed = np.concatenate([istft(frame) for frame in spec * mask])[signal.pad : signal.pad + len(wave)]
    assert np.abs(streamed - reference).max() < 1e-6


def test_stft_then_overlap_add_restores_input_one_window_minus_hop_later() -> None:
    wave = np.random.default_rng(3).normal(size=4000)
    istft = StreamingISTFT(SIGNAL.frame_length, SIGNAL.hop_length)
    out = np.concatenate([istft(spectrum) for spectrum in stream_spectra(wave)])
    np.testing.assert_allclose(out[SIGNAL.pad : SIGNAL.pad + len(wave)], wave, atol=1e-9)


def test_square_root_hann_analysis_and_synthesis_restore_input_one_window_minus_hop_later() -> None:
    frame, hop = 512, 256  # GTCRN's STFT: sqrt-Hann for analysis and synthesis, 50 % overlap
    window = np.sqrt(hann_window(frame))
    np.testing.assert_allclose(synthesis_window(window, hop), window, atol=1e-12)  # squares sum to one
    wave = np.random.default_rng(4).normal(size=16 * hop)
    stft, istft = StreamingSTFT(frame, hop, window), StreamingISTFT(frame, hop, window)
    padded = np.concatenate([wave, np.zeros(frame - hop)])
    out = np.concatenate([istft(stft(chunk)) for chunk in padded.reshape(-1, hop)])
    np.testing.assert_allclose(out[frame - hop :], wave, atol=1e-9)


def test_demo_denoises_a_file_and_reports_latency(float_model, write_wav, tmp_path) -> None:
    noisy = mixture.generated_mixture(1.5, 16000, seed=4)
    stereo = np.stack([noisy, 0.5 * noisy[::-1]], axis=1)
    source = write_wav("noisy.wav", stereo)
    output = tmp_path / "out" / "clean.wav"
    result = run_demo(f"--model={float_model}", f"--input={source}", f"--output={output}")
    assert result.returncode == 0, result.stderr
    assert "per-hop processing: median" in result.stdout and "p99" in result.stdout
    assert "real-time factor:" in result.stdout
    info = sf.info(str(output))
    assert (info.frames, info.samplerate, info.channels) == (len(noisy), 16000, 2)
    clean = sf.read(str(output), dtype="float32")[0]
    assert 0 < np.abs(clean).max() and np.abs(clean - stereo).max() > 0.01
    assert [p.name for p in output.parent.iterdir()] == ["clean.wav"]  # no temp file left


def test_demo_output_matches_streaming_denoiser_in_process(float_model, write_wav, tmp_path) -> None:
    noisy = mixture.generated_mixture(1.0, 16000, seed=6)
    output = tmp_path / "clean.wav"
    assert run_demo(f"--model={float_model}", f"--input={write_wav('n.wav', noisy, subtype='FLOAT')}", f"--output={output}").returncode == 0
    expected = denoise_signal(StreamingDenoiser(float_model), noisy).audio
    np.testing.assert_allclose(sf.read(str(output), dtype="float32")[0], expected, atol=1 / 32768 + 1e-6)


def test_any_rate_and_channel_count_is_resampled_in_and_out(float_model, write_wav, tmp_path) -> None:
    rate = 44100
    noisy = mixture.generated_mixture(1.0, rate, seed=5)
    source = write_wav("phone.wav", np.stack([noisy, noisy, 0.5 * noisy], axis=1), rate=rate, subtype="FLOAT")
    output = tmp_path / "o.wav"
    result = run_demo(f"--model={float_model}", f"--input={source}", f"--output={output}")
    assert result.returncode == 0, result.stderr
    assert "resampled 44100 Hz -> 16000 Hz -> 44100 Hz" in result.stdout
    info = sf.info(str(output))
    assert (info.frames, info.samplerate, info.channels) == (len(noisy), rate, 3)
    clean = sf.read(str(output), dtype="float32")[0]
    for channel, wave in [(0, noisy), (2, 0.5 * noisy)]:  # the 16 kHz result of the resampled input, resampled back
        at_model_rate = denoise_signal(StreamingDenoiser(float_model), resample(wave, rate, 16000)).audio
        np.testing.assert_allclose(clean[:, channel], resample(at_model_rate, 16000, rate, len(noisy)), atol=1 / 32768 + 1e-5)


@pytest.fixture(scope="module")
def silencing_model(tmp_path_factory) -> Path:
    """A streaming model whose mask is ~0 everywhere (sigmoid(-30)): only the attenuation floor lets sound through."""
    model, cfg = tiny_unet("unet_causal", seed=3, mask_bias=-30.0)
    return export_streaming(model, tmp_path_factory.mktemp("silencing"), ("float32",), train_config=cfg)["float32"]


def test_zero_db_attenuation_limit_returns_the_input(silencing_model) -> None:
    wave = mixture.generated_mixture(1.0, 16000, seed=7)
    out = denoise_signal(StreamingDenoiser(silencing_model, max_attenuation_db=0.0), wave).audio
    np.testing.assert_allclose(out, wave, atol=1e-6)


@pytest.mark.parametrize("limit_db", [6.0, 20.0, 40.0])
def test_attenuation_floor_holds(silencing_model, limit_db: float) -> None:
    wave = mixture.generated_mixture(1.0, 16000, seed=8)
    out = denoise_signal(StreamingDenoiser(silencing_model, max_attenuation_db=limit_db), wave).audio
    # the mask is below the floor in every bin, so every bin is scaled by exactly the floor
    np.testing.assert_allclose(out, wave * 10 ** (-limit_db / 20), atol=1e-6)
    assert np.abs(denoise_signal(StreamingDenoiser(silencing_model, max_attenuation_db=math.inf), wave).audio).max() < 1e-6


def test_attenuation_limit_defaults_to_the_sidecar_and_the_flag_overrides_it(silencing_model, write_wav, tmp_path) -> None:
    model = tmp_path / "limited.tflite"
    model.write_bytes(silencing_model.read_bytes())
    sidecar = json.loads(silencing_model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({**sidecar, "max_attenuation_db": 20}))
    wave = mixture.generated_mixture(1.0, 16000, seed=9)
    source = write_wav("n.wav", wave, subtype="FLOAT")
    for flags, gain, shown in [((), 0.1, "20 dB"), (("--max_attenuation_db=0",), 1.0, "0 dB"), (("--max_attenuation_db=inf",), 0.0, "none")]:
        output = tmp_path / "o.wav"
        result = run_demo(f"--model={model}", f"--input={source}", f"--output={output}", *flags)
        assert result.returncode == 0, result.stderr
        assert f"max attenuation: {shown}" in result.stdout
        np.testing.assert_allclose(sf.read(str(output), dtype="float32")[0], gain * wave, atol=2 / 32768)


@pytest.mark.parametrize(
    "key, value, reason",
    [("max_attenuation_db", value, "max_attenuation_db must be a number >= 0") for value in ("loud", -3, True)]
    + [("lookahead_frames", value, "lookahead_frames must be an integer >= 0") for value in ("2", -1, 1.5, True)],
)
def test_bad_sidecar_value_is_a_clear_error(float_model, tmp_path, key: str, value, reason: str) -> None:
    model = tmp_path / "bad.tflite"
    model.write_bytes(float_model.read_bytes())
    sidecar = json.loads(float_model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({**sidecar, key: value}))
    with pytest.raises(DemoError, match=f"bad.json: not a streaming-model sidecar .{reason}"):
        StreamingDenoiser(model)


def test_negative_attenuation_limit_is_a_flag_error(float_model, write_wav, tmp_path) -> None:
    source = write_wav("n.wav", np.zeros(1600, np.float32))
    result = run_demo(f"--model={float_model}", f"--input={source}", f"--output={tmp_path / 'o.wav'}", "--max_attenuation_db=-3")
    assert result.returncode == 2 and "--max_attenuation_db must be a number of dB >= 0" in result.stderr


def test_device_rate_stream_delays_but_keeps_a_sine(float_model) -> None:
    """Live mode's path: 44.1 kHz blocks -> 16 kHz hops -> 44.1 kHz blocks, with a transparent hop stream."""

    class Passthrough:
        hop_length, output_delay_samples = 128, 0

        def reset(self) -> None: ...

        def __call__(self, hop: np.ndarray) -> np.ndarray:
            return hop

    rate, block = 44100, 353
    t = np.arange(rate) / rate
    sine = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    stream = live.DeviceRateStream(Passthrough(), 16000, rate, prebuffer=2 * block)
    out = np.concatenate([stream(sine[i : i + block]) for i in range(0, len(sine) - block + 1, block)])
    assert len(out) == len(sine) // block * block and stream.dropouts == 0
    steady = out[rate // 2 : rate // 2 + 2000]
    assert abs(np.sqrt(np.mean(steady**2)) - 0.5 / np.sqrt(2)) < 0.01  # level kept, no gaps
    earlier = sine[rate // 2 - 5000 : rate // 2 + 2000]  # the output lags: find where it came from
    start = rate // 2 - 5000 + int(np.argmax(np.correlate(earlier, steady, "valid")))
    np.testing.assert_allclose(steady, sine[start : start + 2000], atol=0.01)


@pytest.mark.parametrize(
    "samples, reason",
    [(np.zeros(0, np.float32), "not readable audio|no samples"), (np.full(800, np.nan, np.float32), "NaN or Inf")],
)
def test_unusable_input_is_one_line_and_writes_nothing(float_model, write_wav, tmp_path, samples, reason) -> None:
    source = write_wav("bad.wav", samples, subtype="FLOAT")
    result = run_demo(f"--model={float_model}", f"--input={source}", f"--output={tmp_path / 'o.wav'}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(source) in errors[0]
    assert re.search(reason, errors[0]) and not (tmp_path / "o.wav").exists()


def test_truncated_or_empty_input_is_one_line_and_writes_nothing(float_model, write_wav, tmp_path) -> None:
    """libsndfile reads what is left of a cut-off wav without complaint; the app must say it is cut off."""
    whole = write_wav("whole.wav", mixture.generated_mixture(1.0, 16000, seed=4).astype(np.float32)).read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "empty.wav").write_bytes(b"")
    for name, reason in [("cut.wav", "truncated: header declares"), ("empty.wav", "empty file")]:
        result = run_demo(f"--model={float_model}", f"--input={tmp_path / name}", f"--output={tmp_path / 'o.wav'}")
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.returncode == 1 and len(errors) == 1 and errors[0].startswith(f"error: {tmp_path / name}: {reason}")
        assert "Traceback" not in result.stderr and not (tmp_path / "o.wav").exists()


def test_output_gets_the_usual_permissions_not_a_private_temp_file(float_model, write_wav, tmp_path) -> None:
    source = write_wav("n.wav", mixture.generated_mixture(0.5, 16000, seed=5).astype(np.float32))
    previous = os.umask(0o022)
    try:
        assert run_demo(f"--model={float_model}", f"--input={source}", f"--output={tmp_path / 'o.wav'}").returncode == 0
    finally:
        os.umask(previous)
    assert (tmp_path / "o.wav").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("content", [b"not a flatbuffer at all", b""])
def test_wrong_model_file_is_one_line(content: bytes, write_wav, tmp_path) -> None:
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(content)
    source = write_wav("n.wav", np.zeros(1600, np.float32))
    result = run_demo(f"--model={bad}", f"--input={source}", f"--output={tmp_path / 'o.wav'}")
    assert result.returncode == 1
    assert f"error: {bad}: not a TFLite model" in result.stderr and "Traceback" not in result.stderr


def test_model_without_sidecar_or_missing_model_is_a_clear_error(float_model, tmp_path) -> None:
    lone = tmp_path / "lone.tflite"
    lone.write_bytes(float_model.read_bytes())
    with pytest.raises(DemoError, match="missing its sidecar lone.json"):
        StreamingDenoiser(lone)
    with pytest.raises(DemoError, match="no such model file"):
        StreamingDenoiser(tmp_path / "absent.tflite")


def test_live_without_sounddevice_says_so(float_model, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as when not installed
    with pytest.raises(DemoError, match="needs the sounddevice package"):
        live.run_live(StreamingDenoiser(float_model))


def test_live_opens_the_device_at_its_own_rate(float_model, monkeypatch, capsys) -> None:
    """A stand-in for sounddevice: a 48 kHz device whose stream runs the callback on a noisy signal."""
    rate = 48000
    noisy = mixture.generated_mixture(1.0, rate, seed=10).astype(np.float32)
    played: list[np.ndarray] = []
    opened: dict = {}

    class FakeStream:
        def __init__(self, samplerate, blocksize, channels, dtype, callback) -> None:
            opened.update(samplerate=samplerate, blocksize=blocksize)
            self.callback = callback

        def __enter__(self):
            for start in range(0, len(noisy) - opened["blocksize"] + 1, opened["blocksize"]):
                out = np.zeros((opened["blocksize"], 1), np.float32)
                self.callback(noisy[start : start + opened["blocksize"], None], out, opened["blocksize"], None, None)
                played.append(out[:, 0].copy())
            return self

        def __exit__(self, *exc) -> None: ...

    def stop(ms: int) -> None:
        raise KeyboardInterrupt

    fake = types.SimpleNamespace(query_devices=lambda kind: {"default_samplerate": float(rate)},
                                 check_input_settings=lambda **kw: None, check_output_settings=lambda **kw: None,
                                 Stream=FakeStream, sleep=stop, PortAudioError=OSError)
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    live.run_live(StreamingDenoiser(float_model))
    assert opened == {"samplerate": rate, "blocksize": 384}  # one 8 ms hop at 48 kHz
    printed = capsys.readouterr().out
    assert "at 48000 Hz" in printed and "stopped (0 dropouts)" in printed
    out = np.concatenate(played)
    assert np.sqrt(np.mean(out[rate // 4 :] ** 2)) > 0.1 * np.sqrt(np.mean(noisy**2))  # sound comes out


@pytest.mark.parametrize("output, reason", [
    ("folder", "folder: is a folder; give a file name"),
    ("afile/o.wav", "afile: exists and is not a folder"),
    ("afile/deeper/o.wav", "afile: exists and is not a folder"),
])
def test_unwritable_output_is_one_line(float_model, write_wav, tmp_path, output: str, reason: str) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "afile").write_bytes(b"")
    source = write_wav("n.wav", np.zeros(1600, np.float32))
    result = run_demo(f"--model={float_model}", f"--input={source}", f"--output={tmp_path / output}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"{tmp_path}/{reason}" in errors[0], result.stderr


def test_bundled_streaming_model_denoises_the_bundled_sample_by_default(tmp_path) -> None:
    noisy = ROOT / "keras_denoiser" / "assets" / "sample" / "noisy_sample.wav"
    clean, rate = sf.read(ROOT / "keras_denoiser" / "assets" / "sample" / "clean_sample.wav", dtype="float32")
    out = tmp_path / "clean.wav"
    result = run_demo(f"--input={noisy}", f"--output={out}")
    assert result.returncode == 0, result.stderr
    assert f"model: {DEFAULT_MODEL.name} (int8)" in result.stdout
    enhanced, out_rate = sf.read(out, dtype="float32")
    noisy_wave, _ = sf.read(noisy, dtype="float32")
    assert out_rate == rate and enhanced.shape == noisy_wave.shape
    # the trained model removes noise: its output is closer to the clean speech than the input was
    assert si_sdr(clean, enhanced) > si_sdr(clean, noisy_wave) + 1.0


@pytest.mark.parametrize(
    "name, fmt, subtype, output, expected",
    [
        ("noisy.wav", "WAV", "PCM_24", "clean.wav", ("WAV", "PCM_24")),  # 24-bit in, 24-bit out
        ("noisy.wav", "FLAC", "PCM_24", "clean.wav", ("FLAC", "PCM_24")),  # a FLAC named .wav stays FLAC
        ("noisy.wav", "WAV", "PCM_24", "clean.flac", ("FLAC", "PCM_24")),  # the output's name asks for FLAC
    ],
)
def test_output_keeps_the_inputs_container_and_subtype(float_model, tmp_path, name, fmt, subtype, output, expected) -> None:
    source = tmp_path / name
    sf.write(source, 0.1 * mixture.generated_mixture(0.5, 16000, seed=8), 16000, format=fmt, subtype=subtype)
    result = run_demo(f"--model={float_model}", f"--input={source}", f"--output={tmp_path / output}")
    assert result.returncode == 0, result.stderr
    info = sf.info(str(tmp_path / output))
    assert (info.format, info.subtype) == expected


def test_a_whole_signal_export_is_refused_naming_the_export_that_streams(write_wav, tmp_path) -> None:
    offline = ROOT / "keras_denoiser" / "assets" / "models" / "tflite" / "unet-int8.tflite"
    result = run_demo(f"--model={offline}", f"--input={write_wav('n.wav', np.zeros(1600))}", f"--output={tmp_path / 'o.wav'}")
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "keras_denoiser export --model=" in result.stderr and "--formats=streaming_tflite" in result.stderr
