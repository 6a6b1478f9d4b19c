"""`prepare --runner`'s corpora and caches on any filesystem Apache Beam reads (`gs://`, `s3://`, ...).

`files_for(path)` is this machine's `storage.LOCAL` for a local path, as without --runner, and
`RemoteFiles` for any other: listing with `FileSystems.match`, headers and manifests read with
`open`, files written with `create` (through `beam_io`), a cache published with `rename`. An object
store has no folders and no atomic rename of many objects, so a cache is published by moving its
shards first and its manifest last: a cache without a manifest is never taken as complete.

    prepare_corpus("gs://bucket/speech", "gs://bucket/cache", signal, split, "speech",
                   writer=cache_writer("DataflowRunner", options), files_for=files_for)
"""

from __future__ import annotations

import os
import posixpath
import uuid
from typing import BinaryIO, ContextManager

from keras_denoiser.core import beam_io
from keras_denoiser.core.audio import AUDIO_EXTENSIONS
from keras_denoiser.pipelines.storage import LOCAL, TMP_PREFIX, Files


def files_for(path: str) -> Files:
    """The filesystem `path` is on: this machine's, or Beam's for any other scheme."""
    return LOCAL if beam_io.is_local(path) else REMOTE


class RemoteFiles:
    """A filesystem Beam reads through `FileSystems`, addressed as `scheme://bucket/key`."""

    def folder(self, root: str) -> str | None:
        root = root.rstrip("/")
        return root if beam_io.matches(f"{root}/**", limit=1) else None  # a folder is a prefix that holds objects

    def audio_files(self, root: str) -> list[tuple[str, str]]:
        root = root.rstrip("/")
        found = [
            (path, path[len(root) + 1:])
            for path in beam_io.matches(f"{root}/**")
            if posixpath.splitext(path)[1].lower() in AUDIO_EXTENSIONS
        ]
        return sorted(found, key=lambda pair: pair[1].split("/"))  # by folder, then name: the local listing's order

    def stat(self, path: str) -> tuple[int, int] | None:
        return beam_io.stat(path)

    def open(self, path: str) -> ContextManager[BinaryIO]:
        return beam_io.open_binary(path)

    def join(self, folder: str, *parts: str) -> str:
        return beam_io.join(folder, *parts)

    def inside(self, path: str, root: str) -> bool:
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{posixpath.normpath(rest)}".startswith(root.rstrip("/") + "/")

    def absolute(self, path: str) -> str:
        return path.rstrip("/")

    def exists(self, path: str) -> bool:
        return beam_io.exists(path)

    def write_text(self, path: str, text: str) -> None:
        beam_io.write_text(path, text)

    def new_folder(self, parent: str) -> str:
        """A new prefix; objects appear under it as they are written. A killed run's prefix stays (its
        process may be on another machine): delete `.tmp-*` prefixes of runs known to be dead."""
        return beam_io.join(parent, f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}")

    def publish(self, folder: str, final: str, last: str) -> None:
        if beam_io.matches(f"{final}/**", limit=1):
            raise FileExistsError(final)
        sources = [path for path in beam_io.matches(f"{folder}/**") if posixpath.basename(path) != last]
        beam_io.rename(sources, [beam_io.join(final, path[len(folder) + 1:]) for path in sources])
        beam_io.rename([beam_io.join(folder, last)], [beam_io.join(final, last)])

    def remove(self, folder: str) -> None:
        leftovers = beam_io.matches(f"{folder}/**")
        if leftovers:
            beam_io.delete(leftovers)


REMOTE = RemoteFiles()
