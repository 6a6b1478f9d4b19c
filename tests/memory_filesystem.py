"""An object store in this process's memory, `mem://bucket/key`, registered with Apache Beam's `FileSystems`.

Beam's Python SDK ships no in-memory filesystem, so this stands in for `gs://` and `s3://` in tests:
like them it has no folders (a "folder" is a key prefix), an object appears only once its writer
closes, and nothing of it is on the local disk, so code that treats such a path as a local one
finds nothing. Defining the class registers the scheme (Beam finds filesystems by subclass); the
store is per process, so a pipeline that uses it must run in this process (the DirectRunner's
default in-memory mode). Compression arguments are ignored: callers read and write bytes as stored.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

from apache_beam.io.filesystem import BeamIOError, FileMetadata, FileSystem

SCHEME = "mem"
_OBJECTS: dict[str, tuple[bytes, float]] = {}  # path -> (bytes, time written); FileSystems builds a new instance per call


class _Upload(io.BytesIO):
    """A writer whose object appears when it closes, as an object store's upload does."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self._path = path

    def close(self) -> None:
        if not self.closed:
            _OBJECTS[self._path] = (self.getvalue(), time.time())
        super().close()


class MemoryFileSystem(FileSystem):
    @classmethod
    def scheme(cls) -> str:
        return SCHEME

    def join(self, basepath: str, *paths: str) -> str:
        return "/".join([basepath.rstrip("/"), *(part.strip("/") for part in paths)])

    def split(self, path: str) -> tuple[str, str]:
        head, _, tail = path.rstrip("/").rpartition("/")
        return head, tail

    def mkdirs(self, path: str) -> None:
        """No folders in an object store."""

    def has_dirs(self) -> bool:
        return False

    def _list(self, dir_or_prefix: str):
        for path in sorted(_OBJECTS):
            if path.startswith(dir_or_prefix):
                yield self.metadata(path)

    def create(self, path, mime_type="application/octet-stream", compression_type=None) -> _Upload:
        return _Upload(path)

    def open(self, path, mime_type="application/octet-stream", compression_type=None) -> io.BytesIO:
        if path not in _OBJECTS:
            raise BeamIOError("open failed", {path: FileNotFoundError(path)})
        return io.BytesIO(_OBJECTS[path][0])

    def copy(self, source_file_names, destination_file_names) -> None:
        for source, destination in zip(source_file_names, destination_file_names):
            _OBJECTS[destination] = (_OBJECTS[source][0], time.time())

    def rename(self, source_file_names, destination_file_names) -> None:
        self.copy(source_file_names, destination_file_names)
        self.delete(source_file_names)

    def exists(self, path: str) -> bool:
        return path in _OBJECTS

    def size(self, path: str) -> int:
        return len(_OBJECTS[path][0])

    def last_updated(self, path: str) -> float:
        return _OBJECTS[path][1]

    def checksum(self, path: str) -> str:
        return str(hash(_OBJECTS[path][0]))

    def metadata(self, path: str) -> FileMetadata:
        return FileMetadata(path, self.size(path), self.last_updated(path))

    def delete(self, paths) -> None:
        missing = {path: FileNotFoundError(path) for path in paths if path not in _OBJECTS}
        for path in paths:
            _OBJECTS.pop(path, None)
        if missing:
            raise BeamIOError("delete failed", missing)


def upload(folder: Path, prefix: str) -> None:
    """Every file below the local `folder`, stored under `prefix` with its relative path."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            _OBJECTS[f"{prefix}/{path.relative_to(folder).as_posix()}"] = (path.read_bytes(), time.time())


def download(prefix: str, folder: Path) -> None:
    """Every object under `prefix` written below the local `folder` with its relative key."""
    for path, (data, _) in _OBJECTS.items():
        if path.startswith(prefix + "/"):
            target = folder / path[len(prefix) + 1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
