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
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.enhance_helpers import save_tiny_unet
from tests.test_quiet import CHATTER

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("0.flac", "1.flac", "2.flac")
SECONDS = 20 * 60  # per file (an hour in all): minutes of work, so a signal sent seconds in always finds it running


def _quiet_noise_flac(path: Path, seconds: float, rate: int, tone_at: float | None = None) -> None:
    """Noise of about one 16-bit step, as FLAC: little to store however long it is, the same work to decode.
    With `tone_at`, half a second of a -20 dBFS tone there: the rest is silence to `trim_silence`."""
    wave = np.random.default_rng(0).standard_normal(int(seconds * rate))
    if tone_at is not None:
        start = int(tone_at * rate)
        wave[start : start + rate // 2] += 3000 * np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate)
    sf.write(path, np.round(wave).astype(np.int16), rate, subtype="PCM_16")


def _linked(source: Path, paths: list[Path]) -> None:
    """`paths` as hard links to `source` (which goes): many long files for the price of one."""
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, path)
    source.unlink()


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A tiny model and three long noise files to denoise."""
    folder = tmp_path_factory.mktemp("long")
    save_tiny_unet(folder / "tiny.keras")
    _quiet_noise_flac(folder / "noise.flac", SECONDS, 16000)
    _linked(folder / "noise.flac", [folder / "in" / name for name in NAMES])
    return folder


def _denoise(work: Path, out: Path) -> list[str]:
    return ["denoise", f"--model={work / 'tiny.keras'}", f"--output_dir={out}", str(work / "in")]


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


def _start_on_terminal(args: list[str]) -> tuple[int, int]:
    """(pid, terminal fd) of `python -m keras_denoiser *args` on a 120-column pseudo-terminal, as a real one has a size."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on a pseudo-terminal
        os.chdir(ROOT)
        os.execv(sys.executable, [sys.executable, "-m", "keras_denoiser", *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    return pid, fd


def _finish(pid: int, fd: int, seconds: float) -> tuple[str, int | None]:
    """What the terminal shows until the command ends, and its exit status; None (the command killed) when it
    has not ended within `seconds`, so a command that ignores a signal fails the test rather than holding it."""
    deadline = time.monotonic() + seconds
    try:
        shown = _read_until(fd, b"\x00never", seconds)
    finally:
        os.close(fd)
    done, status = os.waitpid(pid, os.WNOHANG)
    while not done and time.monotonic() < deadline:  # the terminal closes as the command exits, a moment before it has
        time.sleep(0.1)
        done, status = os.waitpid(pid, os.WNOHANG)
    if not done:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return shown.decode(errors="replace"), os.waitstatus_to_exitcode(status) if done else None


def test_ctrl_c_on_a_terminal_after_progress_within_a_file_is_one_line_and_status_130(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    pid, fd = _start_on_terminal(_denoise(work, out))
    shown = _read_until(fd, b"file 1/3", 240)
    shown += _read_until(fd, b"\r", 30)  # one more redraw: the bar moves within the first file
    os.kill(pid, signal.SIGINT)
    text, status = _finish(pid, fd, 60)
    text = shown.decode(errors="replace") + text
    assert "s audio" in text and "file 1/3" in text, text  # a bar over seconds of audio, naming the file
    assert status == 130, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert text.count("interrupted (Ctrl-C)") == 1, text
    assert not [p.name for p in out.rglob("*") if p.is_file() and p.name not in NAMES]


def test_sigterm_in_a_pipe_is_one_line_status_143_and_leaves_no_partial_file(work: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "keras_denoiser", *_denoise(work, out)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not any(out.glob(".*.part")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert stderr == "terminated (SIGTERM); no partial output was left\n"  # and no bar: stderr is no terminal
    assert not any(p.name.endswith(".part") for p in out.rglob("*"))


def _on_terminal(args: list[str], seconds: float = 300) -> tuple[str, int | None]:
    """What a command shows on a 120-column pseudo-terminal, and its exit status."""
    return _finish(*_start_on_terminal(args), seconds)


def test_export_says_each_artefact_on_a_terminal_and_nothing_native(work: Path, tmp_path: Path) -> None:
    """Also test_quiet's check for export: the converter and int8 calibration (on the bundled corpus,
    which holds a validation speaker) print no native log lines and no empty-split warning."""
    text, status = _on_terminal(["export", f"--model={work / 'tiny.keras'}", f"--export_dir={tmp_path / 'x'}",
                                 "--formats=saved_model,tflite", "--quantize=float32,int8", "--test_seconds=0.5",
                                 "--calibration_batches=1", f"--cache_dir={tmp_path / 'cache'}"])
    assert status == 0, text
    assert "export: saved_model built and checked (1 so far" in text and "export: tflite_float32 built and checked (2 so far" in text
    assert "export: tflite_int8 built and checked (3 so far" in text
    assert not [line for line in text.splitlines() if CHATTER.search(line)], text
    assert "split is empty" not in text, text


@pytest.fixture
def speakers(tmp_path: Path) -> Path:
    """8 speakers of 150 four-minute 48 kHz files: a minute or more of decoding on two cores, and little to
    cache (a tone in silence), so Ctrl-C always finds the command at work."""
    folder = tmp_path / "speakers"
    folder.mkdir()
    _quiet_noise_flac(folder / "one.flac", 240, 48000, tone_at=120)
    _linked(folder / "one.flac", [folder / f"s{speaker}" / f"{index}.flac" for speaker in range(8) for index in range(150)])
    return folder


def test_ctrl_c_during_prepare_with_workers_is_one_line_without_worker_tracebacks(speakers: Path, tmp_path: Path) -> None:
    pid, fd = _start_on_terminal(["prepare", f"--speech_dir={speakers}", f"--cache_dir={tmp_path / 'cache'}", "--workers=2"])
    shown = _read_until(fd, b"prepare speakers:", 240)  # the bar comes as the workers start
    os.killpg(pid, signal.SIGINT)  # as the terminal sends it: to the command and its decoding workers
    text, status = _finish(pid, fd, 60)
    text = shown.decode(errors="replace") + text
    assert status == 130, text
    assert "Traceback" not in text and text.count("interrupted (Ctrl-C)") == 1, text


def test_a_ctrl_c_reaching_another_thread_waits_for_the_end_of_the_deferred_block() -> None:
    """The block around the workers' start: a Ctrl-C that arrives in it (here through another thread, as
    the kernel may deliver it) must not interrupt it halfway, and must not be lost either."""
    from keras_denoiser.pipelines.prepare import _ctrl_c_deferred

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    finished_inside = False
    try:
        with pytest.raises(KeyboardInterrupt):
            with _ctrl_c_deferred():
                sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT))
                sender.start()
                sender.join()
                for _ in range(50):  # bytecodes, and calls that check for signals, at which Python would raise it
                    time.sleep(0.002)
                finished_inside = True
    finally:
        signal.signal(signal.SIGINT, previous)
    assert finished_inside
