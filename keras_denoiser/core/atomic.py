"""Write-aside-then-rename (`tflite_demo.atomic`), and checking before a long run that an output can be written."""

from __future__ import annotations

import os
from pathlib import Path

from keras_denoiser.core.errors import UserError
from tflite_demo.atomic import atomic_path as atomic_path  # the rule's one home: the TF-free app


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def check_output_dir(path: str | os.PathLike[str]) -> None:
    """UserError unless `path` is, or can be created as, a writable folder: checked before a long run."""
    path = Path(path)
    for existing in (path, *path.parents):
        if existing.exists():
            if not existing.is_dir():
                raise UserError(f"{existing}: exists and is not a folder")
            if not os.access(existing, os.W_OK | os.X_OK):
                raise UserError(f"{existing}: folder is not writable")
            return


def check_output_file(path: str | os.PathLike[str]) -> None:
    """UserError unless `path` can be written as a file: checked before a long run."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path}: is a folder; give a file name")
    check_output_dir(path.parent)
