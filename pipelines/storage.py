"""Where a corpus and its cache live: this machine (`LOCAL`), or, with --runner, any filesystem Beam reads.

`Files` is what reading a corpus and publishing a cache need of a filesystem. Paths are strings,
since a `gs://` address is no `pathlib.Path`. `LocalFiles` is this machine's; `beam_storage.RemoteFiles`
goes through Apache Beam's `FileSystems` (`gs://`, `s3://`, ...) and is imported only with --runner,
so the local path never loads Beam.

    corpus = read_corpus("speech", LOCAL)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, ContextManager, Iterator, Protocol

from keras_denoiser.core.atomic import write_bytes_atomic
from keras_denoiser.core.audio import find_audio_files

TMP_PREFIX = ".tmp-"  # a cache being built: `.tmp-PID-random` beside the caches


class Files(Protocol):
    """The operations corpus reading (`corpora`) and the cache (`prepare`) need of a filesystem."""

    def folder(self, root: str) -> str | None:
        """`root` as corpus and cache paths are built from it, or None when it is not a folder."""

    def audio_files(self, root: str) -> list[tuple[str, str]]:
        """(path, id) of every audio file below `root` (by extension), in the local listing's order;
        the id is the path relative to `root`, `/`-separated."""

    def stat(self, path: str) -> tuple[int, int] | None:
        """(size in bytes, modification time in ns) of a file, or None when there is none."""

    def open(self, path: str) -> ContextManager[BinaryIO]:
        """The file at `path`, for reading bytes (an audio header, a manifest)."""

    def join(self, folder: str, *parts: str) -> str: ...

    def inside(self, path: str, root: str) -> bool:
        """Whether `path` lies inside `root` once `..` (and, locally, symlinks) are resolved."""

    def absolute(self, path: str) -> str:
        """The path that names `path` from anywhere: what a cache key and a manifest record."""

    def exists(self, path: str) -> bool: ...

    def write_text(self, path: str, text: str) -> None:
        """Write `text` to `path` whole or not at all."""

    def new_folder(self, parent: str) -> str:
        """A new, empty temporary folder in `parent` (created as needed) for a cache being built."""

    def publish(self, folder: str, final: str, last: str) -> None:
        """Move `folder`'s files to `final`, the file named `last` last; OSError when `final` exists."""

    def remove(self, folder: str) -> None:
        """Delete `folder` and everything below it, if it is there."""


FilesFor = Callable[[str], Files]  # the filesystem a path is on


def read_text(files: Files, path: str) -> str:
    with files.open(path) as src:
        return src.read().decode("utf-8", errors="replace")


def folder_name(root: str) -> str:
    """The last part of a folder path (`speech` of `gs://bucket/speech`): what unit keys start with."""
    return PurePosixPath(root).name


class LocalFiles:
    """This machine's filesystem: a folder is published by one atomic rename."""

    def folder(self, root: str) -> str | None:
        path = Path(root).expanduser()
        return str(path) if path.is_dir() else None

    def audio_files(self, root: str) -> list[tuple[str, str]]:
        return [(str(path), path.relative_to(root).as_posix()) for path in find_audio_files(root)]

    def stat(self, path: str) -> tuple[int, int] | None:
        if not os.path.isfile(path):
            return None
        stat = os.stat(path)
        return stat.st_size, stat.st_mtime_ns

    @contextlib.contextmanager
    def open(self, path: str) -> Iterator[BinaryIO]:
        with open(path, "rb") as src:
            yield src

    def join(self, folder: str, *parts: str) -> str:
        return str(Path(folder, *parts))

    def inside(self, path: str, root: str) -> bool:
        return Path(path).resolve().is_relative_to(Path(root).resolve())

    def absolute(self, path: str) -> str:
        return str(Path(path).resolve())

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def write_text(self, path: str, text: str) -> None:
        write_bytes_atomic(path, text.encode("utf-8"))

    def new_folder(self, parent: str) -> str:
        """Also deletes the temporary folders of prepares that were killed (their process is gone)."""
        Path(parent).mkdir(parents=True, exist_ok=True)
        for tmp in Path(parent).glob(f"{TMP_PREFIX}*"):
            pid = tmp.name[len(TMP_PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not _process_alive(int(pid)):
                shutil.rmtree(tmp, ignore_errors=True)
        return tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", dir=parent)

    def publish(self, folder: str, final: str, last: str) -> None:
        os.rename(folder, final)  # whole at once, so `last` needs no order

    def remove(self, folder: str) -> None:
        shutil.rmtree(folder, ignore_errors=True)


LOCAL = LocalFiles()


def local_files(path: str) -> Files:
    """Every path is local without --runner."""
    return LOCAL


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
