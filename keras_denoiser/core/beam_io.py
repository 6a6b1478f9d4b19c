"""Apache Beam plumbing for the scaled-out commands (`--runner`): pipeline options, and files on any
filesystem Beam reads (local, `gs://`, `s3://`, `hdfs://`, with Beam's matching extra installed).

Only the Beam modules import this, and they are imported only when `--runner` is given, so the
local commands never load Beam. libsndfile and TensorFlow's record writer want local files, so a
remote input is copied to a temporary file first, and a remote output is written locally and
uploaded when complete (an object store shows an object only once its upload has closed).
"""

from __future__ import annotations

import contextlib
import logging
import posixpath
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, Sequence

from keras_denoiser.core.atomic import atomic_path
from keras_denoiser.core.errors import UserError


def _apitools_warning(record: logging.LogRecord) -> bool:
    """False for the warning Beam's import logs when no GCP client is installed (not needed off Dataflow)."""
    return "apitools" not in record.getMessage()


logging.getLogger().addFilter(_apitools_warning)
try:
    import apache_beam as beam  # the Beam modules take it from here, with that warning filtered
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions
finally:
    logging.getLogger().removeFilter(_apitools_warning)

RAW = CompressionTypes.UNCOMPRESSED  # never guess a codec from the name: `x.gz` is read as it is


def pipeline_options(runner: str, beam_options: Sequence[str]) -> PipelineOptions:
    """Beam's options for `runner`, with `beam_options` (Beam's own flags) passed through unchanged.

    Workers log warnings only, as the commands do, unless `--default_sdk_harness_log_level` says otherwise.
    """
    return PipelineOptions([f"--runner={runner}", "--default_sdk_harness_log_level=WARNING", *beam_options])


def run(pipeline_fn: Callable[[Any], None], runner: str, beam_options: Sequence[str]) -> None:
    """Build a pipeline with `pipeline_fn(pipeline)` and run it to the end; a runner Beam does not know is a UserError."""
    try:
        pipeline = beam.Pipeline(options=pipeline_options(runner, beam_options))
    except ValueError as err:
        raise UserError(f"--runner={runner}: {err}") from None
    logging.getLogger("apache_beam").setLevel(logging.ERROR)  # the workers' start-up chatter, relayed at INFO/WARNING
    pipeline_fn(pipeline)
    pipeline.run().wait_until_finish()


def is_local(path: str) -> bool:
    """Whether `path` is on this machine's filesystem (no scheme such as `gs://`)."""
    return FileSystems.get_scheme(path) in (None, "file")


def exists(path: str) -> bool:
    return FileSystems.exists(path)


def join(folder: str, *parts: str) -> str:
    return FileSystems.join(folder, *parts)


def matches(pattern: str, limit: int | None = None) -> list[str]:
    """The sorted paths a glob (`*`, `**`, `?`) matches (at most `limit` of them); none when nothing does."""
    return sorted(meta.path for result in FileSystems.match([pattern], [limit]) for meta in result.metadata_list)


def stat(path: str) -> tuple[int, int] | None:
    """(size in bytes, modification time in ns) of the file `path`, or None when there is none."""
    found = [meta for result in FileSystems.match([path]) for meta in result.metadata_list]
    if not found:
        return None
    return found[0].size_in_bytes, round(found[0].last_updated_in_seconds * 1e9)


def open_binary(path: str) -> BinaryIO:
    """`path` for reading bytes as stored (seekable on Beam's object stores: an audio header needs no whole file)."""
    return FileSystems.open(path, compression_type=RAW)


def read_text(path: str) -> str:
    with open_binary(path) as src:
        return src.read().decode("utf-8")


def rename(sources: Sequence[str], targets: Sequence[str]) -> None:
    FileSystems.rename(list(sources), list(targets))


def delete(paths: Sequence[str]) -> None:
    FileSystems.delete(list(paths))


@contextlib.contextmanager
def local_input(path: str) -> Iterator[Path]:
    """`path` as a local file: itself, or a temporary copy of a remote one, removed afterwards."""
    if is_local(path):
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="kd-in-") as folder:
        local = Path(folder) / posixpath.basename(path)
        with open_binary(path) as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst)
        yield local


@contextlib.contextmanager
def output_file(path: str) -> Iterator[Path]:
    """A local file to write `path` through, published only when the block succeeds: never half a file.

    Local: a temporary beside `path`, renamed onto it. Remote: a temporary file, uploaded at the end.
    """
    if is_local(path):
        with atomic_path(path, suffix=Path(path).suffix) as tmp:
            yield tmp
        return
    with tempfile.TemporaryDirectory(prefix="kd-out-") as folder:
        local = Path(folder) / posixpath.basename(path)
        yield local
        with open(local, "rb") as src, FileSystems.create(path, compression_type=RAW) as dst:
            shutil.copyfileobj(src, dst)


def write_text(path: str, text: str) -> None:
    """Write `text` to `path` whole or not at all."""
    with output_file(path) as local:
        local.write_text(text)
