"""Progress on a terminal, quiet in a pipe; Ctrl-C and SIGTERM end a command in one line, no partial file."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.enhance_helpers import save_tiny_unet

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 240  # per file: long enough to be stopped within it


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A tiny model and three long noise files to denoise."""
    folder = tmp_path_factory.mktemp("long")
    save_tiny_unet(folder / "tiny.keras")
    (folder / "in").mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        sf.write(folder / "in" / f"{index}.wav", (0.1 * rng.standard_normal(SECONDS * 16000)).astype(np.float32), 16000)
    return folder


def _command(work: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "keras_denoiser", "denoise", f"--model={work / 'tiny.keras'}", f"--output_dir={out}",
            str(work / "in")]


def _read_until(fd: int, needle: bytes, seconds: float) -> bytes:
    """What the terminal shows until `needle` appears (or `seconds` pass, or it closes)."""
    seen, deadline = b"", time.monotonic() + seconds
    while needle not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_ctrl_c_on_a_terminal_after_progress_within_a_file_is_one_line_and_status_130(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on a pseudo-terminal
        os.chdir(ROOT)
        os.execv(sys.executable, _command(work, out))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal of 120 columns, as a real one has a size
    try:
        shown = _read_until(fd, b"file 1/3", 240)
        shown += _read_until(fd, b"\r", 30)  # one more redraw: the bar moves within the first file
        os.kill(pid, signal.SIGINT)
        shown += _read_until(fd, b"\x00never", 60)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    text = shown.decode(errors="replace")
    assert "s audio" in text and "file 1/3" in text, text  # a bar over seconds of audio, naming the file
    assert os.waitstatus_to_exitcode(status) == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.count("interrupted (Ctrl-C)") == 1, text
    assert not [p.name for p in out.rglob("*") if p.is_file() and p.name not in ("0.wav", "1.wav", "2.wav")]


def test_sigterm_in_a_pipe_is_one_line_status_143_and_leaves_no_partial_file(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen(_command(work, out), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not any(out.glob(".*.part")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert stderr == "terminated (SIGTERM); no partial output was left\n"  # and no bar: stderr is no terminal
    assert not any(p.name.endswith(".part") for p in out.rglob("*"))


def _on_terminal(args: list[str], seconds: float = 300) -> tuple[str, int]:
    """What a command shows on a 120-column pseudo-terminal, and its exit status."""
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "keras_denoiser", *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    try:
        shown = _read_until(fd, b"\x00never", seconds)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return shown.decode(errors="replace"), os.waitstatus_to_exitcode(status)


def test_export_says_each_artefact_on_a_terminal(work: Path, tmp_path: Path) -> None:
    text, status = _on_terminal(["export", f"--model={work / 'tiny.keras'}", f"--export_dir={tmp_path / 'x'}",
                                 "--formats=saved_model,tflite", "--quantize=float32", "--test_seconds=0.5"])
    assert status == 0, text
    assert "export: saved_model built and checked (1 so far" in text and "export: tflite_float32 built and checked (2 so far" in text


def test_ctrl_c_during_prepare_with_workers_is_one_line_without_worker_tracebacks(tmp_path: Path) -> None:
    from keras_denoiser.core import assets

    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "keras_denoiser", "prepare", f"--speech_dir={assets.SAMPLE_DIR / 'speakers'}",
                                  f"--cache_dir={tmp_path / 'cache'}", "--workers=2"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    try:
        shown = _read_until(fd, b"prepare speakers:", 240)
        os.killpg(pid, signal.SIGINT)  # as the terminal sends it: to the command and its decoding workers
        shown += _read_until(fd, b"\x00never", 60)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    text = shown.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 130, text
    assert "Traceback" not in text and text.count("interrupted (Ctrl-C)") == 1, text
