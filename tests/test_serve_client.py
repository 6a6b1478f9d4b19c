"""The REST client against the exported SavedModel served the way TF Serving serves it.

`keras_denoiser.inference.serve_local` (the `serve_local` command) answers on 127.0.0.1 (random free
port) with TF Serving's REST predict JSON, calling `signatures['serving_default'](waveform=...)` with
named tensors, exactly like the model server.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from keras_denoiser.core import audio
from keras_denoiser.core.errors import AudioFileError, UserError
from keras_denoiser.core.metrics import si_sdr
from keras_denoiser.export import mixture
from keras_denoiser.inference import serve_client
from keras_denoiser.inference.serve_local import LocalServing
from tests.export_support import LOWEST_PARITY_BOUND_DB, RATE


@pytest.fixture(scope="module")
def served(trained_saved_model):
    """(predict URL, serving signature, server) of a tiny trained, exported model behind a local REST server.

    Its mask follows the signal, so the output depends on context: a chunk enhanced without its
    neighbours differs from the whole-file result, which a constant mask would hide.
    """
    export_dir = trained_saved_model[1]  # the trained tiny U-Net's SavedModel (conftest.py)
    serving = LocalServing.load(export_dir)  # what `keras_denoiser serve_local` runs
    server = serving.server(port=0)
    server.start()
    server.export_dir = export_dir
    signature = serving.models["denoiser"][1].signatures["serving_default"]
    yield f"http://127.0.0.1:{server.server_port}/v1/models/denoiser:predict", signature, server
    server.shutdown()
    server.server_close()


def _direct(signature, wave: np.ndarray) -> np.ndarray:
    return signature(waveform=tf.constant(wave[np.newaxis], tf.float32))["enhanced"].numpy()[0]


def test_chunked_10_second_file_equals_one_call_on_the_whole_file(served, write_wav, tmp_path: Path) -> None:
    url, signature, server = served
    wave = mixture.generated_mixture(10.0, RATE, seed=3)
    noisy = write_wav("noisy.wav", wave, RATE, subtype="FLOAT")
    server.request_sizes.clear()
    serve_client.enhance_file(noisy, tmp_path / "clean.wav", url, chunk_seconds=2.0, context_seconds=0.5)
    enhanced, rate = sf.read(tmp_path / "clean.wav", dtype="float32")
    assert rate == RATE and enhanced.shape == wave.shape
    assert si_sdr(_direct(signature, wave), wave) < LOWEST_PARITY_BOUND_DB  # not a rescaled copy of the input
    # exact stitching: only the 16-bit output quantization (half a step, 1.5e-5) separates them
    np.testing.assert_allclose(enhanced, _direct(signature, wave), atol=1e-4)
    assert len(server.request_sizes) == 5
    assert max(server.request_sizes) < 15 * (2 * 16384 + 2 * 8192)  # bounded: chunk + 2 contexts, < 15 B a sample


def test_stereo_44k_file_keeps_rate_length_and_channels(served, write_wav, tmp_path: Path) -> None:
    url, signature, _ = served
    rate = 44100
    left = mixture.generated_mixture(1.3, rate, seed=1)
    right = mixture.generated_mixture(1.3, rate, seed=2)
    noisy = write_wav("stereo.wav", np.stack([left, right], axis=1), rate, subtype="FLOAT")
    output = tmp_path / "out" / "stereo.flac"
    serve_client.enhance_file(noisy, output, url, chunk_seconds=0.5, context_seconds=0.5)
    enhanced, out_rate = sf.read(output, dtype="float32", always_2d=True)
    assert out_rate == rate and enhanced.shape == (len(left), 2)
    for channel, source in enumerate((left, right)):
        expected = audio.resample(_direct(signature, audio.resample(source, rate, RATE)), RATE, rate)[: len(source)]
        np.testing.assert_allclose(enhanced[:, channel], expected, atol=2e-4)


def test_very_short_file_round_trips(served, write_wav, tmp_path: Path) -> None:
    url, signature, _ = served
    wave = np.array([0.5, -0.25, 0.125], np.float32)
    serve_client.enhance_file(write_wav("tiny.wav", wave, RATE, subtype="FLOAT"), tmp_path / "tiny_out.wav", url)
    enhanced, _ = sf.read(tmp_path / "tiny_out.wav", dtype="float32")
    np.testing.assert_allclose(enhanced, _direct(signature, wave), atol=1e-4)


@pytest.mark.parametrize("num_samples", [1, 8191, 8192, 50_000])
def test_chunk_spans_tile_the_signal_on_the_grid(num_samples: int) -> None:
    spans = list(serve_client.chunk_spans(num_samples, chunk_samples=10_000, context_samples=100))
    kept = [(keep_start, keep_end) for _, _, keep_start, keep_end in spans]
    assert kept[0][0] == 0 and kept[-1][1] == num_samples
    assert all(a[1] == b[0] for a, b in zip(kept, kept[1:]))
    for start, end, keep_start, keep_end in spans:
        assert start % serve_client.GRID_SAMPLES == 0 and keep_start % serve_client.GRID_SAMPLES == 0
        assert start <= keep_start and keep_end <= end <= num_samples
        assert keep_start - start in (0, 8192) and end - keep_end in (0, 8192, num_samples - keep_end)


def test_row_and_columnar_responses_are_both_understood() -> None:
    columnar = json.dumps({"outputs": [[0.5, 0.25]]}).encode()
    named = json.dumps({"outputs": {"enhanced": [[0.5, 0.25]]}}).encode()
    rows = json.dumps({"predictions": [[0.5, 0.25]]}).encode()
    for body in (columnar, named, rows):
        np.testing.assert_array_equal(serve_client.parse_response(body, (1, 2), "u"), [[0.5, 0.25]])


@pytest.mark.parametrize(
    "body, message",
    [
        (b'{"error": "Servable not found"}', "server error \\(Servable not found\\)"),
        (b"<html>", "response is not JSON"),
        (b'{"outputs": [[1.0]]}', "response shape \\(1, 1\\), expected \\(1, 2\\)"),
        (b'{"result": 1}', "neither 'outputs' nor 'predictions'"),
    ],
)
def test_bad_responses_are_one_line_errors(body: bytes, message: str) -> None:
    with pytest.raises(UserError, match=message):
        serve_client.parse_response(body, (1, 2), "u")


def test_http_errors_and_unreachable_servers_are_one_line_errors(served, write_wav, tmp_path: Path) -> None:
    url, _, _ = served
    noisy = write_wav("noisy.wav", mixture.generated_mixture(0.5, RATE), RATE)
    with pytest.raises(UserError, match=r"HTTP 404 \(Servable not found"):
        serve_client.enhance_file(noisy, tmp_path / "a.wav", url.replace("denoiser", "other"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with pytest.raises(UserError, match="cannot reach the server"):
        serve_client.enhance_file(noisy, tmp_path / "b.wav", f"http://127.0.0.1:{closed_port}/v1/models/x:predict")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noisy.wav"]


def test_bad_input_file_and_overwriting_the_input_are_refused(served, write_wav, tmp_path: Path) -> None:
    url, _, _ = served
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....not audio")
    with pytest.raises(AudioFileError, match="corrupt.wav: not readable audio"):
        serve_client.enhance_file(corrupt, tmp_path / "out.wav", url)
    noisy = write_wav("noisy.wav", mixture.generated_mixture(0.5, RATE), RATE)
    with pytest.raises(UserError, match="would overwrite the input"):
        serve_client.enhance_file(noisy, noisy, url)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.wav", "noisy.wav"]


def test_cli_writes_the_enhanced_file(served, write_wav, tmp_path: Path) -> None:
    url, signature, _ = served
    wave = mixture.generated_mixture(1.0, RATE, seed=5)
    noisy = write_wav("noisy.wav", wave, RATE, subtype="FLOAT")
    result = subprocess.run(
        [sys.executable, "-m", "keras_denoiser", "serve_client", f"--url={url}", str(noisy), str(tmp_path / "o.wav")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    enhanced, _ = sf.read(tmp_path / "o.wav", dtype="float32")
    np.testing.assert_allclose(enhanced, _direct(signature, wave), atol=1e-4)


@pytest.mark.parametrize(
    "url, settings, message",
    [
        ("notaurl", {}, "notaurl: not an http:// or https:// URL"),
        ("ftp://host/v1/models/m:predict", {}, "not an http:// or https:// URL"),
        ("http://127.0.0.1:1/m", {"chunk_seconds": 0.0}, "need a positive model rate and chunk length"),
        ("http://127.0.0.1:1/m", {"context_seconds": -0.5}, "non-negative context"),
        ("http://127.0.0.1:1/m", {"model_rate": 0}, "need a positive model rate"),
    ],
)
def test_bad_url_or_chunking_is_refused_before_reading_or_sending(write_wav, tmp_path: Path, url, settings, message) -> None:
    def never_called(url: str, body: bytes) -> bytes:
        raise AssertionError("nothing may be sent")

    noisy = write_wav("noisy.wav", np.zeros(1600, np.float32), RATE)
    with pytest.raises(UserError, match=message):
        serve_client.enhance_file(noisy, tmp_path / "o.wav", url, transport=never_called, **settings)
    assert not (tmp_path / "o.wav").exists()


@pytest.mark.parametrize(
    "flag, line",
    [
        ("--url=notaurl", "error: notaurl: not an http:// or https:// URL (e.g. http://localhost:8501/v1/models/denoiser:predict)"),
        ("--chunk_seconds=0", "error: flag --chunk_seconds=0.0: must be positive"),
        ("--context_seconds=-1", "error: flag --context_seconds=-1.0: must not be negative"),
        ("--model_rate=0", "error: flag --model_rate=0: 0 is not a positive integer"),
    ],
)
def test_cli_refuses_a_bad_url_or_chunking_in_one_line(tmp_path: Path, flag: str, line: str) -> None:
    args = [flag] if flag.startswith("--url") else ["--url=http://127.0.0.1:1/m", flag]
    result = subprocess.run(
        [sys.executable, "-m", "keras_denoiser", "serve_client", *args, "in.wav", "out.wav"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode in (1, 2) and result.stderr.splitlines() == [line]


@pytest.mark.parametrize(
    "fmt, subtype, output, expected",
    [
        ("WAV", "PCM_24", "clean.wav", ("WAV", "PCM_24")),  # 24-bit in, 24-bit out
        ("FLAC", "PCM_24", "clean.wav", ("FLAC", "PCM_24")),  # a FLAC named .wav stays FLAC
        ("WAV", "PCM_24", "clean.flac", ("FLAC", "PCM_24")),  # the output's name asks for FLAC
    ],
)
def test_output_keeps_the_inputs_container_and_subtype(tmp_path: Path, fmt, subtype, output, expected) -> None:
    source = tmp_path / "noisy.wav"
    sf.write(source, 0.1 * mixture.generated_mixture(0.5, 16000, seed=8), 16000, format=fmt, subtype=subtype)

    def echo(url: str, body: bytes) -> bytes:
        return json.dumps({"outputs": json.loads(body)["inputs"]["waveform"]}).encode()

    serve_client.enhance_file(source, tmp_path / output, "http://127.0.0.1:1/v1/models/denoiser:predict", echo)
    info = sf.info(str(tmp_path / output))
    assert (info.format, info.subtype) == expected


def test_the_local_server_answers_on_localhost_only_with_the_model_status(served) -> None:
    import urllib.request

    url, _, server = served
    assert server.server_address[0] == "127.0.0.1"
    with urllib.request.urlopen(url.removesuffix(":predict"), timeout=30) as reply:
        status = json.loads(reply.read())
    assert status["model_version_status"][0]["state"] == "AVAILABLE"


START_SECONDS = 300  # serve_local's start (TensorFlow's import, the SavedModel's load), even on a loaded machine
STOP_SECONDS = 120


def test_serve_local_command_serves_serve_client_and_stops_on_ctrl_c(served, write_wav, tmp_path: Path) -> None:
    _, signature, server = served
    process = subprocess.Popen(
        [sys.executable, "-m", "keras_denoiser", "serve_local", f"--export_dir={server.export_dir}", "--port=0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    watchdog = threading.Timer(START_SECONDS, process.kill)  # a start that hangs ends the reads below, not the test run
    watchdog.start()
    try:
        first, second = process.stdout.readline(), process.stdout.readline()
        watchdog.cancel()
        assert first.startswith("serving denoiser (version 1) at http://127.0.0.1:"), first or f"no line (ended, or killed after {START_SECONDS} s)"
        assert "not for production" in second, second
        wave = mixture.generated_mixture(1.0, RATE, seed=7)
        serve_client.enhance_file(write_wav("n.wav", wave, RATE, subtype="FLOAT"), tmp_path / "o.wav", first.split(" at ")[1].strip())
        np.testing.assert_allclose(sf.read(tmp_path / "o.wav", dtype="float32")[0], _direct(signature, wave), atol=1e-4)
    except BaseException:
        watchdog.cancel()
        process.kill()
        print(f"serve_local's stderr:\n{process.communicate()[1]}")  # shown with the failure, which stays the first error
        raise
    process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"serve_local still ran {STOP_SECONDS} s after SIGINT; killed. Its stderr:\n{process.communicate()[1]}")
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
