"""Ctrl-C and SIGTERM end a command with one line and status 130 or 143, never a traceback.

SIGTERM is turned into an exception like Ctrl-C's KeyboardInterrupt, so the `finally` blocks of the
atomic writers run and no half-written output is left. Shared by `keras_denoiser` and the TF-free
app, which imports nothing of ours.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import Iterator


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException, like KeyboardInterrupt, so `except Exception` does not swallow it)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def stopped_in_one_line() -> Iterator[None]:
    """Run the block; on Ctrl-C or SIGTERM print one line and exit with 130 or 143."""
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    except KeyboardInterrupt:
        _stop("interrupted (Ctrl-C); no partial output was left", 130)
    except Terminated:
        _stop("terminated (SIGTERM); no partial output was left", 143)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop(line: str, status: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the exit
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"\n{line}\n" if _on_terminal() else f"{line}\n")
        sys.stderr.flush()
    sys.exit(status)


def _on_terminal() -> bool:
    """A bar may be half-drawn on a terminal: the line then starts on a fresh one."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
