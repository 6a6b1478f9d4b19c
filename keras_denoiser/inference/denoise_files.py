"""Denoise audio files and folders: stream, resample, enhance per channel, write atomically.

Every file is read in blocks, resampled to the model rate, enhanced chunk by chunk, resampled back
and written to a temporary file beside the target that is renamed only when complete, so memory
stays bounded for hour-long recordings and no half-written output is ever left behind. A bad file
costs one line (file + reason) and the others are still processed.

    jobs = plan_jobs([Path("recordings")], Path("enhanced"), output_format=None)
    report = denoise_all(KerasEnhancer.from_path("runs/unet"), jobs, overwrite=False)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import soundfile as sf

from keras_denoiser.core import audio
from keras_denoiser.core.atomic import atomic_path, check_output_dir
from keras_denoiser.core.errors import AudioFileError, UserError, os_error_line
from keras_denoiser.inference.denoiser import BLOCK_SAMPLES, denoise_blocks
from keras_denoiser.inference.enhance import KerasEnhancer

PLOT_SECONDS = 30.0
_SFE_SYSTEM = 2  # libsndfile's error code for a failed system call (write, seek)


@dataclasses.dataclass(frozen=True)
class Job:
    """One input file and the output it becomes; `output_format` is the one asked for (else the input's own)."""

    source: Path
    target: Path
    output_format: str | None = None


@dataclasses.dataclass
class Report:
    """What happened to every job of a run."""

    written: list[Path] = dataclasses.field(default_factory=list)
    skipped: list[Path] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)


def plan_jobs(inputs: Sequence[Path], output_dir: Path, output_format: str | None) -> list[Job]:
    """Map every input file (folders searched recursively) to its path under `output_dir`.

    A file keeps its name, a folder's files keep their path relative to it; `output_format`
    (e.g. "flac") replaces the extension. Without it an output keeps its input's name and its
    container (`denoise_file`). Files already below `output_dir` are not inputs.
    """
    check_output_dir(output_dir)
    output_dir = Path(output_dir).resolve()
    jobs: list[Job] = []
    for given in inputs:
        given = Path(given)
        if not given.exists():
            raise UserError(f"{given}: {audio.missing_reason(given, 'file or folder')}")
        if given.is_dir():
            everything = audio.find_audio_files(given, dead_links=True)
            found = [p for p in everything if not _is_below(_resolved(p), output_dir)]
            if everything and not found:
                raise UserError(f"{given}: every audio file in it is below the output folder {output_dir}, "
                                "so it would be overwritten; choose another --output_dir")
            jobs += [Job(p, output_dir / p.relative_to(given)) for p in found]
        else:
            jobs.append(Job(given, output_dir / given.name))
    if output_format:
        ext = output_format.lower().lstrip(".")
        jobs = [Job(j.source, j.target.with_suffix(f".{ext}"), ext) for j in jobs]
    return jobs


def _resolved(path: Path) -> Path:
    """`path` with its links followed; a link loop stays where the link itself is (it is reported later)."""
    try:
        return path.resolve()
    except (RuntimeError, OSError):  # Python < 3.13 raises RuntimeError for a loop, later ones OSError
        return path.parent.resolve() / path.name


def _is_below(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def denoise_all(
    enhancer: KerasEnhancer,
    jobs: Sequence[Job],
    overwrite: bool,
    plot: bool = False,
    say: Callable[[str], None] = print,
    progress: Callable[[Sequence[Job]], Iterator[Job]] = iter,
    advance: Callable[[float], None] = lambda seconds: None,
) -> Report:
    """Denoise every job; failures and skips are reported through `say`, one line each.

    `progress` wraps the loop over jobs and `advance` hears the seconds of input done within a file
    (`core.progress.AudioProgress` shows both on a terminal).
    """
    report = Report()
    inputs = {_resolved(j.source) for j in jobs}
    claimed: dict[Path, Path] = {}
    for job in progress(jobs):
        target = _resolved(job.target)
        if target in inputs:
            report.failed.append(f"{job.source}: output {job.target} is an input file; refusing to overwrite it")
        elif target in claimed:
            report.failed.append(f"{job.source}: output {job.target} is also the output of {claimed[target]}")
        elif job.target.exists() and not overwrite:
            report.skipped.append(job.target)
            say(f"{job.source}: skipped, {job.target} exists (use --overwrite to replace it)")
            continue
        else:
            claimed[target] = job.source
            try:
                denoise_file(enhancer, job.source, job.target, job.output_format, advance)
                if plot:
                    plot_file(enhancer, job.source, job.target.with_suffix(".png"))
                report.written.append(job.target)
                continue
            except (AudioFileError, OSError, sf.LibsndfileError) as err:
                report.failed.append(_failure(job, err))
        say(f"error: {report.failed[-1]}")
    return report


def _failure(job: Job, err: Exception) -> str:
    """One line naming the file at fault: the bad input, or the output that could not be written."""
    if isinstance(err, AudioFileError):
        return str(err)
    if isinstance(err, OSError) and Path(err.filename or job.target) != job.source:
        reason = os_error_line(err) if err.filename is not None else err.strerror or str(err)
        return f"{job.source}: cannot write {job.target} ({reason})"
    return f"{job.source}: {err}"


def denoise_file(
    enhancer: KerasEnhancer,
    source: Path,
    target: Path,
    output_format: str | None = None,
    advance: Callable[[float], None] = lambda seconds: None,
) -> None:
    """Enhance `source` into `target` with the same rate, channels and length; atomic.

    The container is `output_format` when given, else the input's own as libsndfile detects it from
    the content, whatever the names say (a float WAV named .mp3 comes out a WAV); the input's sample
    format is kept where the container can hold it. Every block is checked before it reaches the
    encoder (`denoise_blocks`), so no NaN or absurd sample can crash a native one.
    """
    with audio.open_checked(source) as src:
        fmt = audio.format_for(Path(f"x.{output_format}")) if output_format else src.format
        subtype = audio.output_subtype(fmt, src.subtype)
        read = audio.read_blocks(src, source, BLOCK_SAMPLES)
        blocks = denoise_blocks(enhancer, read, src.samplerate, src.channels, src.frames, source)
        with _atomic_sound_file(target, src.samplerate, src.channels, fmt, subtype) as dst:
            for block in blocks:
                _write(dst, audio.fit_subtype(block, subtype))
                advance(len(block) / src.samplerate)


def _write(dst: sf.SoundFile, block: np.ndarray) -> None:
    """Append `block`; a failed write (full disk, file size limit) raises the OSError the system gave.

    libsndfile reports a failed system call only as "System error."; the C errno it left says which.
    """
    try:
        dst.write(block)
    except sf.LibsndfileError as err:
        code = sf._ffi.errno if err.code == _SFE_SYSTEM else 0
        raise (OSError(code, os.strerror(code)) if code else OSError(f"libsndfile: {err.error_string}")) from None


@contextlib.contextmanager
def _atomic_sound_file(path: Path, rate: int, channels: int, fmt: str, subtype: str) -> Iterator[sf.SoundFile]:
    """A SoundFile written under a temporary name beside `path`, renamed to it only on success."""
    with atomic_path(path) as tmp, sf.SoundFile(
        tmp, "w", samplerate=rate, channels=channels, format=fmt, subtype=subtype
    ) as out:
        yield out


def plot_file(enhancer: KerasEnhancer, source: Path, png: Path) -> None:
    """PNG of the noisy and enhanced spectrograms and the mask (first channel, first 30 s)."""
    from keras_denoiser.inference import plotting

    with sf.SoundFile(str(source)) as src:
        head = src.read(int(PLOT_SECONDS * src.samplerate), dtype="float32", always_2d=True)[:, 0]
        wave = audio.resample(head, src.samplerate, enhancer.sample_rate)
    noisy, mask = enhancer.analyse(wave)
    plotting.save_spectrogram_plot(png, noisy, mask, enhancer.train_config.signal, title=source.name)
