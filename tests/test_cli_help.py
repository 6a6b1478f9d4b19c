"""--version, per-command --help, a quiet start-up and a reader that closes the pipe early."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import keras_denoiser
from tests.enhance_helpers import save_tiny_unet

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "keras_denoiser", *args]
    return subprocess.run(command, cwd=kwargs.pop("cwd", ROOT), capture_output=True, text=True, timeout=120, **kwargs)


def test_version_prints_the_package_version() -> None:
    result = _run("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"keras_denoiser {keras_denoiser.__version__}\n", "")


@pytest.mark.parametrize(
    "args, usage, example, flag",
    [
        (["denoise", "--help"], "usage: keras_denoiser denoise [flags] INPUT...", "keras_denoiser denoise --output_dir=", "--output_dir"),
        (["serve_client", "-h"], "usage: keras_denoiser serve_client [flags] INPUT OUTPUT", "serve_client --url=", "--url"),
        (["benchmark", "pipeline", "--help"], "usage: keras_denoiser benchmark pipeline [flags]", "--batch_size=16", "--speech_dir"),
    ],
)
def test_command_help_shows_usage_examples_and_flags_with_status_0(args: list[str], usage: str, example: str, flag: str) -> None:
    result = _run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == usage
    assert example in result.stdout and f"\n  {flag}" in result.stdout
    assert result.stderr == ""  # no TensorFlow start-up lines either


def test_tensorflow_startup_chatter_is_filtered_but_other_stderr_lines_pass() -> None:
    code = (
        "import os, sys\n"
        "from keras_denoiser.core import tf_quiet\n"
        "os.write(2, b'kept before\\n')\n"
        "from tflite_demo import quiet\n"
        "with quiet.held():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "    os.write(2, b'I0000 00:00:1.2  42 port.cc:153] oneDNN custom operations are on. You may see\\n')\n"
        "    print('kept inside', file=sys.stderr)\n"
        "tf_quiet.import_tensorflow()\n"
        "print('tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (result.stdout, result.stderr) == ("True\n", "kept before\nkept inside\n")


def _run_into_closed_pipe(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the CLI with stdout a pipe whose reader is already gone, as `... | head -1` ends up."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        command = [sys.executable, "-m", "keras_denoiser", *args]
        return subprocess.run(command, cwd=cwd, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["denoise", "--help"]])
def test_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    result = _run_into_closed_pipe(*args)
    assert (result.returncode, result.stderr) == (1, "")


def test_a_closed_pipe_during_a_command_ends_quietly(tmp_path: Path) -> None:
    save_tiny_unet(tmp_path / "tiny.keras")
    sf.write(tmp_path / "a.wav", np.zeros(1600), 16000)
    result = _run_into_closed_pipe("denoise", "--model=tiny.keras", "--output_dir=out", "a.wav", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "")
    assert (tmp_path / "out" / "a.wav").is_file()
