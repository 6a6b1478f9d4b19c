"""Import TensorFlow without its C++ start-up lines on the terminal.

TensorFlow 2.21 prints "oneDNN custom operations are on ..." twice (once per shared library, each
after absl's "All log messages before absl::InitializeLog() ..." warning) from static initializers
that run before it reads TF_CPP_MIN_LOG_LEVEL, so that variable cannot silence them, even when set
before Python starts. TF_ENABLE_ONEDNN_OPTS=0 would, but makes the offline U-Net's inference about
2.5x slower on CPU. So the import runs with file descriptor 2 sent to a temporary file, and every
line that is not this chatter is passed on to stderr afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from typing import Iterator

_CHATTER = re.compile(r"before absl::InitializeLog\(\) is called|\] oneDNN custom operations are on")


def import_tensorflow() -> None:
    """Import TensorFlow once, with INFO/WARNING logs off and its start-up chatter kept off stderr."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_without(_CHATTER):
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def _stderr_without(chatter: re.Pattern[str]) -> Iterator[None]:
    """Hold everything written to file descriptor 2 and pass on the lines `chatter` does not match."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.writelines(line for line in lines if not chatter.search(line))
            sys.stderr.flush()
