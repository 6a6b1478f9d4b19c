"""Write-aside-then-rename, so a reader never sees a half-written file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from keras_denoiser.core.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], suffix: str = ".part") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    The file gets the usual permissions (0666 less the umask), not mkstemp's private 0600.
    `suffix` lets writers that pick a format from the name (Keras, soundfile) see the right one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
