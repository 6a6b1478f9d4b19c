"""Ctrl-C and SIGTERM end a command with one line and status 130 or 143, never a traceback.

SIGTERM is turned into an exception like Ctrl-C's KeyboardInterrupt, so the `finally` blocks of the
atomic writers run and no half-written output is left. Shared by `keras_denoiser` and the TF-free
app, which imports nothing of ours.

Python raises a signal's exception at the next bytecode, which may run inside native code that
calls back into Python and swallows it: TensorFlow's nest flattening turned a SIGTERM into
"AttributeError: 'dict' object has no attribute '_type_spec'". So the handlers also record each
signal, and an error that ends the block after one arrived ends it as that signal would.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import Iterator


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException, like KeyboardInterrupt, so `except Exception` does not swallow it)."""


_ENDINGS = {
    signal.SIGINT: ("interrupted (Ctrl-C); no partial output was left", 130),
    signal.SIGTERM: ("terminated (SIGTERM); no partial output was left", 143),
}


@contextlib.contextmanager
def stopped_in_one_line() -> Iterator[None]:
    """Run the block; on Ctrl-C or SIGTERM print one line and exit with 130 or 143."""
    received: list[int] = []

    def raise_stop(signum: int, frame: object) -> None:
        received.append(signum)
        raise KeyboardInterrupt() if signum == signal.SIGINT else Terminated()

    previous = {signum: signal.signal(signum, raise_stop) for signum in _ENDINGS}
    stopped_by = None
    try:
        yield
    except KeyboardInterrupt:
        stopped_by = signal.SIGINT
    except Terminated:
        stopped_by = signal.SIGTERM
    except Exception:
        if not received:
            raise
        stopped_by = received[-1]  # the signal's exception was swallowed and surfaced as this one
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stopped_by is not None:
        _stop(*_ENDINGS[stopped_by])  # after the handlers are back: it ignores a second Ctrl-C


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
