"""`tflite_demo.stopping`: Ctrl-C and SIGTERM end a command in one line with status 130 or 143, also
when native code swallowed the signal's exception and raised another error in its place."""

from __future__ import annotations

import os
import signal
import time
from typing import Iterator

import pytest

from tflite_demo import stopping


@pytest.fixture(autouse=True)
def handlers_kept() -> Iterator[None]:
    """A stop ignores further Ctrl-Cs for the exit it begins; this test process goes on."""
    kept = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in kept.items():
        signal.signal(signum, handler)


def _native_call_that_swallows(signum: int) -> None:
    """As TensorFlow's nest flattening did with a SIGTERM: the signal's exception is raised inside a
    callback, cleared by the native caller, and an unrelated error comes out."""
    try:
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler's exception is raised here
    except BaseException:
        raise AttributeError("'dict' object has no attribute '_type_spec'") from None


@pytest.mark.parametrize("signum, status, line", [
    (signal.SIGINT, 130, "interrupted (Ctrl-C); no partial output was left"),
    (signal.SIGTERM, 143, "terminated (SIGTERM); no partial output was left"),
])
def test_a_signal_ends_the_block_in_one_line_even_when_its_exception_was_swallowed(
    signum: int, status: int, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for swallowed in (False, True):
        with pytest.raises(SystemExit) as ended, stopping.stopped_in_one_line():
            if swallowed:
                _native_call_that_swallows(signum)
            else:
                os.kill(os.getpid(), signum)
                time.sleep(5)
        assert ended.value.code == status
        assert capsys.readouterr().err.splitlines() == [line]


def test_an_error_without_a_signal_is_raised_as_it_is_and_the_handlers_are_put_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(ValueError, match="bad input"), stopping.stopped_in_one_line():
        raise ValueError("bad input")
    assert signal.getsignal(signal.SIGTERM) is before
