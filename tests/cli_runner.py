"""`keras_denoiser COMMAND ...` inside the test process: the console script's dispatcher, flags, output
and exit status, without a new Python and TensorFlow import per call (about 5 s each on 2 cores).

Each call sees only its own command's flags, as a new process would: the command's flag modules are
imported afresh and their flags deleted afterwards, so a flag of another command is still refused,
a required flag is required only by its command, and two commands that define the same flag name
never meet. What a process sees alone stays tested with subprocesses: native stderr lines
(test_quiet.py), signals, kill/resume and worker processes.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from types import ModuleType
from typing import Iterator

from absl import flags
from absl import logging as absl_logging

from keras_denoiser import cli

FLAGS = flags.FLAGS


def run(*args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> subprocess.CompletedProcess:
    """`python -m keras_denoiser *args` in `cwd`, as a CompletedProcess with its status, stdout and stderr."""
    argv = ["keras_denoiser", *map(str, args)]
    stdout, stderr = io.StringIO(), io.StringIO()
    with _in_folder(cwd), _own_flags(), _restored_logging(), _plain_warnings(stderr):
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = _status(argv)
    return subprocess.CompletedProcess(argv, status, stdout.getvalue(), stderr.getvalue())


def _status(argv: list[str]) -> int:
    """The exit status the process would have: SystemExit's code, or 1 with a traceback on stderr."""
    try:
        cli._dispatch(argv)
    except SystemExit as done:
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)
        return 1
    except Exception:  # noqa: BLE001 - an uncaught error is a traceback and status 1, as in a process
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
    return 0


@contextlib.contextmanager
def command_module(command: str) -> Iterator[ModuleType]:
    """The module of `command` (e.g. "export"), for a test of its helpers; its flags are forgotten on exit."""
    with _own_flags():
        yield importlib.import_module(f"keras_denoiser.commands.{command}")


@contextlib.contextmanager
def _in_folder(cwd: str | os.PathLike[str] | None) -> Iterator[None]:
    before = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _own_flags() -> Iterator[None]:
    """Flags and flag-defining modules as they were before the call: the command's own are forgotten."""
    modules, names, parsed, argv = set(sys.modules), set(FLAGS), FLAGS.is_parsed(), list(sys.argv)
    try:
        yield
    finally:
        sys.argv[:] = argv
        imported = set(sys.modules) - modules
        owners = _forget_flags_of(imported, keep=names)
        FLAGS.unparse_flags()
        if parsed:
            FLAGS.mark_as_parsed()
        for module in imported:
            if module in owners or module.startswith("keras_denoiser.commands."):
                _unimport(module)


def _unimport(name: str) -> None:
    """Forget module `name`, also as its package's attribute, so `from package import name` runs it again."""
    module = sys.modules.pop(name)
    parent, _, child = name.rpartition(".")
    if getattr(sys.modules.get(parent), child, None) is module:
        delattr(sys.modules[parent], child)


def _forget_flags_of(modules: set[str], keep: set[str]) -> set[str]:
    """Delete the flags that our `modules` defined (bar those named in `keep`); returns the modules that had any."""
    owners = set()
    for module, defined in list(FLAGS.flags_by_module_dict().items()):
        if module in modules and module.startswith("keras_denoiser."):
            owners.add(module)
            for flag in list(defined):
                for name in {flag.name, flag.short_name} - keep - {None}:
                    if name in FLAGS:
                        delattr(FLAGS, name)
    return owners


@contextlib.contextmanager
def _restored_logging() -> Iterator[None]:
    """The absl handler's formatter, filters and stream, which each command run sets for itself."""
    handler = absl_logging.get_absl_handler().python_handler
    formatter, filters, stream = handler.formatter, list(handler.filters), handler.stream
    try:
        yield
    finally:
        handler.setFormatter(formatter)
        handler.filters[:] = filters
        handler.setStream(stream)


@contextlib.contextmanager
def _plain_warnings(stderr: io.StringIO) -> Iterator[None]:
    """Python's own warning filters and printing to stderr, where pytest would record them instead."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
            warnings.simplefilter("ignore", category)
        warnings.showwarning = lambda message, category, filename, lineno, file=None, line=None: stderr.write(
            warnings.formatwarning(message, category, filename, lineno, line)
        )
        yield
