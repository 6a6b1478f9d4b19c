"""`denoise --runner=NAME`: the local `denoise`, file by file, on Apache Beam's workers, resumable.

Each worker loads the model once (`DoFn.setup`) and runs `denoise_file`, the local command's own
path, so an output is the local one. Inputs and outputs may be on any filesystem Beam reads. An
output is published whole or not at all (`beam_io.output_file`), so one that exists is complete: a
rerun of a killed job skips those and does only the rest. A bad file, or any failure on one file,
is a row with its reason, never a failed job. At the end `manifest.jsonl` in the output folder has
one row per input: path, output, status (`done`, `exists` or `failed`), reason, seconds, rate,
channels, duration.

    rows = denoise_on_beam(["gs://calls/2024/"], "gs://calls-clean/2024", BeamDenoise(), "DataflowRunner", [...])
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import posixpath
import tempfile
import time
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import soundfile as sf

from keras_denoiser.core import assets, beam_io
from keras_denoiser.core.atomic import check_output_dir
from keras_denoiser.core.audio import AUDIO_EXTENSIONS
from keras_denoiser.core.beam_io import beam
from keras_denoiser.core.errors import AudioFileError, UserError, os_error_line
from keras_denoiser.inference.denoise_files import denoise_file

if TYPE_CHECKING:
    from keras_denoiser.inference.enhance import KerasEnhancer

MANIFEST = "manifest.jsonl"
GLOB_CHARACTERS = "*?["
Row = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class FileJob:
    """One input and the output it becomes, as paths of any Beam filesystem."""

    source: str
    target: str
    output_format: str | None = None


@dataclasses.dataclass(frozen=True)
class BeamDenoise:
    """How each worker denoises: the model (None: the bundled one, found on the worker) and the `denoise` flags."""

    model: str | None = None
    chunk_frames: int | None = None
    max_attenuation_db: float | None = None
    overwrite: bool = False


def plan_file_jobs(inputs: Sequence[str], output_dir: str, output_format: str | None) -> list[FileJob]:
    """Map files, folders (searched recursively) and globs to outputs under `output_dir`, as `plan_jobs` does.

    A file or a glob's match keeps its name, a folder's files their path relative to it; files below
    `output_dir` are not inputs; `output_format` replaces the extension.
    """
    if beam_io.is_local(output_dir):
        check_output_dir(output_dir)
    below_output = _comparable(output_dir).rstrip("/") + "/"
    jobs: list[FileJob] = []
    for given in inputs:
        found = [(path, rel) for path, rel in _listed(given) if not _comparable(path).startswith(below_output)]
        for path, rel in found:
            target = beam_io.join(output_dir, rel)
            if output_format:
                target = f"{posixpath.splitext(target)[0]}.{output_format.lower().lstrip('.')}"
            jobs.append(FileJob(path, target, output_format))
    by_target: dict[str, str] = {}
    for job in jobs:
        if job.target in by_target:
            raise UserError(f"{job.source}: output {job.target} is also the output of {by_target[job.target]}")
        by_target[job.target] = job.source
    return jobs


def _comparable(path: str) -> str:
    """A local path made absolute, so a relative and an absolute name of one folder compare equal."""
    return os.path.abspath(path) if beam_io.is_local(path) else path


def _listed(given: str) -> list[tuple[str, str]]:
    """(path, path under the output folder) of the audio files `given` names; UserError when it names nothing."""
    if any(c in given for c in GLOB_CHARACTERS):
        found = [(path, posixpath.basename(path)) for path in beam_io.matches(given)]
    elif beam_io.matches(given) == [given] and not (beam_io.is_local(given) and os.path.isdir(given)):
        return [(given, posixpath.basename(given))]
    else:
        folder = given.rstrip("/")
        found = [(path, path[len(folder) + 1:]) for path in beam_io.matches(f"{folder}/**")]
    if not found:
        raise UserError(f"{given}: no such file or folder, or nothing in it")
    return [(path, rel) for path, rel in found if posixpath.splitext(path)[1].lower() in AUDIO_EXTENSIONS]


def denoise_on_beam(
    inputs: Sequence[str], output_dir: str, how: BeamDenoise, runner: str, beam_options: Sequence[str],
    output_format: str | None = None,
) -> list[Row]:
    """Denoise every input on Beam's `runner`; the manifest's rows, sorted by input path."""
    jobs = plan_file_jobs(inputs, output_dir, output_format)
    if not jobs:
        raise UserError(f"no audio files found in {', '.join(inputs)}")
    manifest = beam_io.join(output_dir, MANIFEST)

    def build(pipeline: beam.Pipeline) -> None:
        _ = (
            pipeline
            | "jobs" >> beam.Create(jobs)
            | "spread" >> beam.Reshuffle()
            | "denoise" >> beam.ParDo(_DenoiseFn(how))
            | "gather" >> beam.combiners.ToList()
            | "manifest" >> beam.Map(_write_manifest, manifest)
        )

    beam_io.run(build, runner, beam_options)
    return [json.loads(line) for line in beam_io.read_text(manifest).splitlines()]


class _DenoiseFn(beam.DoFn):
    """One row per job; the model is loaded once per worker."""

    def __init__(self, how: BeamDenoise) -> None:
        self._how = how
        self._enhancer = None

    def setup(self) -> None:
        from keras_denoiser.inference.enhance import DEFAULT_CHUNK_FRAMES, KerasEnhancer

        with _local_model(self._how.model or str(assets.DEFAULT_MODEL)) as path:
            self._enhancer = KerasEnhancer.from_path(
                path, self._how.chunk_frames or DEFAULT_CHUNK_FRAMES, self._how.max_attenuation_db
            )

    def process(self, job: FileJob) -> Iterator[Row]:
        yield denoise_row(self._enhancer, job, self._how.overwrite)


def denoise_row(enhancer: KerasEnhancer, job: FileJob, overwrite: bool) -> Row:
    """Denoise one job and say how it went; never raises for a file (a failure is a row with its reason)."""
    start = time.monotonic()
    if beam_io.exists(job.target) and not overwrite:
        return _row(job, "exists", "output already complete (from an earlier run)", 0.0, _info(job.target))
    try:
        with beam_io.local_input(job.source) as source, beam_io.output_file(job.target) as target:
            denoise_file(enhancer, source, target, job.output_format)
            info = sf.info(str(target))
    except AudioFileError as err:
        return _row(job, "failed", err.reason, time.monotonic() - start)
    except OSError as err:
        return _row(job, "failed", os_error_line(err), time.monotonic() - start)
    except Exception as err:  # noqa: BLE001 - one file must never fail the job; its row says what went wrong
        return _row(job, "failed", f"{type(err).__name__}: {err}", time.monotonic() - start)
    return _row(job, "done", "", time.monotonic() - start, info)


def _info(path: str) -> Any:
    """The header of an existing output, or None when it cannot be read (it is still not redone)."""
    try:
        with beam_io.local_input(path) as local:
            return sf.info(str(local))
    except (OSError, RuntimeError, ValueError, TypeError):  # libsndfile's errors are RuntimeErrors
        return None


def _row(job: FileJob, status: str, reason: str, seconds: float, info: Any = None) -> Row:
    return {
        "path": job.source,
        "output": job.target,
        "status": status,
        "reason": reason,
        "seconds": round(seconds, 3),
        "rate": info.samplerate if info else None,
        "channels": info.channels if info else None,
        "duration": round(info.frames / info.samplerate, 6) if info else None,
    }


def _write_manifest(rows: list[Row], path: str) -> None:
    beam_io.write_text(path, "".join(json.dumps(row) + "\n" for row in sorted(rows, key=lambda row: row["path"])))


@contextlib.contextmanager
def _local_model(path: str) -> Iterator[str]:
    """`path` as a local model: itself, or a temporary copy of a remote `.keras` file (with its config) or model folder."""
    if beam_io.is_local(path):
        yield path
        return
    folder, name = (posixpath.dirname(path), posixpath.basename(path)) if path.endswith(".keras") else (path, "model.keras")
    with tempfile.TemporaryDirectory(prefix="kd-model-") as local:
        for file in (name, f"{posixpath.splitext(name)[0]}.json", "config.json"):
            if beam_io.exists(beam_io.join(folder, file)):
                with beam_io.local_input(beam_io.join(folder, file)) as copy:
                    os.replace(copy, os.path.join(local, file))
        yield os.path.join(local, name)
