"""Import TensorFlow without its C++ start-up lines on the terminal.

TensorFlow 2.21 prints "oneDNN custom operations are on ..." twice (once per shared library, each
after absl's "All log messages before absl::InitializeLog() ..." warning) from static initializers
that run before it reads TF_CPP_MIN_LOG_LEVEL, so that variable cannot silence them, even when set
before Python starts. TF_ENABLE_ONEDNN_OPTS=0 would, but makes the offline U-Net's inference about
2.5x slower on CPU. So the import runs inside `tflite_demo.quiet.held` (file descriptor 2 held, the
lines that are not chatter passed on afterwards); the CLI filters the whole process instead
(`tflite_demo.quiet.filter_native_stderr`), which covers the converter's and LiteRT's lines too.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Sequence

from tflite_demo import quiet


def import_tensorflow(verbose: bool = False) -> None:
    """Import TensorFlow once, with INFO/WARNING logs off and its start-up chatter kept off stderr,
    unless `verbose` (`--verbosity=0` or more) asks for them."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "2")
    with contextlib.nullcontext() if verbose else quiet.held():
        import tensorflow  # noqa: F401


def quiet_process(argv: Sequence[str]) -> bool:
    """Keep native log lines off stderr for the whole process unless `argv` has `--verbosity=0` or more;
    returns whether it has."""
    verbose = quiet.verbose(argv)
    if not verbose:
        quiet.filter_native_stderr()
    return verbose
