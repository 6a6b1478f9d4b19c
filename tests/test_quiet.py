"""Quiet by default: no native log lines (TensorFlow, absl, oneDNN, the converter, LiteRT) from the
commands, the app or `Denoiser.load()`; `--verbosity=0` brings them back. Export's int8 conversion is held
quiet on a terminal, with its progress lines, by test_progress_signals."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from keras_denoiser.export import mixture
from tests.enhance_helpers import save_tiny_unet

ROOT = Path(__file__).resolve().parents[1]
CHATTER = re.compile(r"oneDNN|absl::|XNNPACK|fully_quantize")


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return save_tiny_unet(tmp_path_factory.mktemp("quiet") / "tiny.keras")


@pytest.fixture
def noisy(tmp_path: Path) -> Path:
    import soundfile as sf

    path = tmp_path / "noisy.wav"
    sf.write(path, mixture.generated_mixture(0.5, 16000, seed=1), 16000)
    return path


def _lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in (result.stdout + result.stderr).splitlines() if CHATTER.search(line)]


def test_demo_is_quiet(tmp_path: Path) -> None:
    assert _lines(run("-m", "keras_denoiser", "demo", f"--output_dir={tmp_path / 'out'}")) == []


def test_denoise_is_quiet_and_verbosity_brings_the_lines_back(tiny_model: Path, noisy: Path, tmp_path: Path) -> None:
    command = ("-m", "keras_denoiser", "denoise", f"--model={tiny_model}", f"--output_dir={tmp_path / 'out'}", str(noisy))
    assert _lines(run(*command)) == []
    assert any("oneDNN" in line for line in _lines(run(*command, "--overwrite", "--verbosity=0")))


def test_tflite_demo_is_quiet_and_verbosity_brings_the_lines_back(noisy: Path, tmp_path: Path) -> None:
    command = ("-m", "tflite_demo", f"--input={noisy}", f"--output={tmp_path / 'clean.wav'}")
    quiet = run(*command)
    assert _lines(quiet) == [] and quiet.stderr == ""
    assert any("XNNPACK" in line for line in _lines(run(*command, "--verbosity=0")))


def test_denoiser_load_is_quiet() -> None:
    result = run("-c", "from keras_denoiser import Denoiser; Denoiser.load(); print('loaded')")
    assert _lines(result) == [] and result.stdout == "loaded\n"


def test_the_filter_passes_everything_else_on_at_once() -> None:
    code = (
        "import os, sys\n"
        "from tflite_demo import quiet\n"
        "quiet.filter_native_stderr()\n"
        "os.write(2, b'I0000 00:00:1796181066.555887   16725 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "os.write(2, b'INFO: ')\n"
        "os.write(2, b'Created TensorFlow Lite XNNPACK delegate for CPU.\\n')\n"
        "os.write(2, b'native kept\\n')\n"
        "print('python kept', file=sys.stderr)\n"
    )
    result = run("-c", code)
    assert sorted(result.stderr.splitlines()) == ["native kept", "python kept"]


def test_each_message_once() -> None:
    import logging

    from keras_denoiser.cli import _Once

    once = _Once()
    records = [logging.LogRecord("absl", logging.INFO, __file__, 1, "reusing prepared cache %s", (path,), None)
               for path in ("a", "a", "b", "a")]
    assert [once.filter(record) for record in records] == [True, False, True, False]


def test_model_summary_only_on_request() -> None:
    from absl import logging as absl_logging

    from keras_denoiser.training.train import _print_summary
    from tests.enhance_helpers import tiny_unet

    model, _ = tiny_unet()
    lines: list[str] = []
    _print_summary(model, lines.append)
    assert len(lines) == 1 and lines[0].startswith("parameters: ")
    before = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.DEBUG)
    try:
        _print_summary(model, lines.append)
    finally:
        absl_logging.set_verbosity(before)
    assert len(lines) > 2 and "Total params" in "\n".join(lines)
