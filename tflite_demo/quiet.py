"""Keep the native libraries' log lines (TensorFlow, absl, oneDNN, the TFLite converter, LiteRT) off stderr.

Those lines come from C++ writing straight to file descriptor 2, some from static initializers that
run before TF_CPP_MIN_LOG_LEVEL is read, so no Python setting silences them all. Two ways:
`filter_native_stderr` (the CLIs: for the whole process) sends descriptor 2 through a pipe whose
reader thread passes on every line that is not chatter, while Python's `sys.stderr` keeps the real
stream (a terminal stays a terminal for progress bars); `held` (a library call such as importing
TensorFlow) holds descriptor 2 for the call and passes on the rest afterwards.

It lives in the TF-free app, which imports nothing of ours, so the app and `keras_denoiser` share it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import select
import sys
import tempfile
import threading
from typing import Iterator, Sequence

# absl/glog lines (I1127 01:28:28.779 1403 file.cc:12] ...) and the chatter printed without that prefix.
CHATTER = re.compile(
    r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\]"
    r"|before absl::InitializeLog\(\) is called"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
    r"|Created TensorFlow Lite XNNPACK delegate"
    r"|fully_quantize: \d+, inference_type: \d+"
)
_PARTIAL_WAIT_SECONDS = 0.05
_installed = False


def verbose(argv: Sequence[str]) -> bool:
    """Whether `argv` asks for the libraries' own log lines: `--verbosity=N` (or `-v N`) with N >= 0."""
    for index, arg in enumerate(argv):
        value = None
        if arg.startswith(("--verbosity=", "-v=")):
            value = arg.split("=", 1)[1]
        elif arg in ("--verbosity", "-v") and index + 1 < len(argv):
            value = argv[index + 1]
        if value is not None:
            with contextlib.suppress(ValueError):
                return int(value) >= 0
    return False


def keep(text: str) -> str:
    """`text` without its chatter lines."""
    return "".join(line for line in text.splitlines(keepends=True) if not CHATTER.search(line))


def filter_native_stderr() -> None:
    """For the rest of the process, drop chatter lines written to file descriptor 2; once per process.

    Also sets TF_CPP_MIN_LOG_LEVEL=2 (unless set), so TensorFlow skips formatting INFO/WARNING lines.
    """
    global _installed
    if _installed:
        return
    _installed = True
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    sys.stderr = os.fdopen(os.dup(real), "w", buffering=1, encoding=encoding, errors="backslashreplace")
    thread = threading.Thread(target=_pass_on, args=(read_end, real), name="native-stderr-filter", daemon=True)
    thread.start()

    def close() -> None:
        """Send what the reader still holds: put the real stream back on 2 so the pipe ends."""
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(real, 2)
        thread.join(timeout=1.0)

    atexit.register(close)


def _pass_on(read_end: int, real: int) -> None:
    """Copy the pipe to the real stream line by line, without chatter; a partial line is passed at once."""
    pending = b""
    while chunk := os.read(read_end, 65536):
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        text = keep("".join(line.decode(errors="replace") + "\n" for line in lines))
        if pending and not select.select([read_end], [], [], _PARTIAL_WAIT_SECONDS)[0]:
            # No rest of the line came: a prompt or progress bar, passed on now (LiteRT writes "INFO: " alone first).
            text, pending = text + keep(pending.decode(errors="replace")), b""
        if text:
            with contextlib.suppress(OSError):
                os.write(real, text.encode())
    os.close(read_end)


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Hold everything written to file descriptor 2 during the block; pass on the lines that are not chatter."""
    if _installed:  # the whole process is filtered already
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as hold:
        os.dup2(hold.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            hold.seek(0)
            sys.stderr.write(keep(hold.read().decode(errors="replace")))
            sys.stderr.flush()
