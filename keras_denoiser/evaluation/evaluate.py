"""Score denoisers on clean/noisy pairs: PESQ-WB, STOI, SI-SDR and speed, per file and summarised.

Every system is an `Enhancer`; the unprocessed input is scored too, as the system "noisy".
Beside the scores, each file gets the system's speech gain and noise gain (dB in the speech- and
noise-dominated bins: how much speech it distorts, how much noise it removes). The summary averages
each per system and group (SNR, speech folder or noise folder: where a system wins and loses) and
overall (NaN scores are left out) and reports speed as the real-time factor: processing seconds
per second of audio.

    rows = score(systems, examples, rate=16000)
    print(markdown_table(summarise(rows, by="noise_folder"), by="noise_folder"))
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import time
from collections import defaultdict
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
from absl import logging

from keras_denoiser.core import audio, metrics
from keras_denoiser.core.atomic import write_bytes_atomic
from keras_denoiser.evaluation.enhancer import Enhancer

if TYPE_CHECKING:  # testset imports TensorFlow (mixing); `--help` of the scoring commands must not
    from keras_denoiser.evaluation.testset import TableEntry

NOISY = "noisy"
ALL_FILES = "all"
# What a summary can group files by, and its column title. A folder is that of the file's speech or
# noise id in the test set table (a test set's speakers and noise kinds are folders).
GROUPINGS = {"snr": "SNR (dB)", "speech_folder": "speech folder", "noise_folder": "noise folder"}


@dataclasses.dataclass(frozen=True)
class Example:
    """A clean reference and its noisy version at the evaluation rate; `snr` and the ids are None when unknown."""

    file: str
    snr: float | None
    clean: np.ndarray
    noisy: np.ndarray
    speech_id: str | None = None
    noise_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Row:
    """The scores of one system on one file."""

    file: str
    snr: float | None
    speech_id: str | None
    noise_id: str | None
    system: str
    pesq: float
    stoi: float
    si_sdr: float
    speech_gain: float  # dB, in the speech-dominated bins (metrics.speech_and_noise_gains)
    noise_gain: float  # dB, in the noise-dominated bins
    seconds: float  # processing time
    audio_seconds: float


@dataclasses.dataclass(frozen=True)
class Summary:
    """Mean scores of one system over the files of one group (an SNR, a folder; or all of them)."""

    system: str
    group: str
    files: int
    pesq: float
    stoi: float
    si_sdr: float
    speech_gain: float
    noise_gain: float
    rtf: float


def pair_examples(clean_dir: Path, noisy_dir: Path, rate: int, table: Mapping[str, TableEntry]) -> Iterator[Example]:
    """Noisy files matched to clean ones by relative path; a noisy file without a clean one is skipped.

    `table`: what the test set table says of each file (its SNR and sources), where it says anything.
    """
    from keras_denoiser.evaluation.testset import TableEntry

    noisy_files = audio.find_audio_files(noisy_dir)
    if not noisy_files:
        logging.warning("%s: no audio files", noisy_dir)
    for noisy_path in noisy_files:
        relative = noisy_path.relative_to(noisy_dir).as_posix()
        clean_path = Path(clean_dir) / relative
        if not clean_path.is_file():
            logging.warning("%s: no clean reference %s; skipped", noisy_path, clean_path)
            continue
        clean, noisy = audio.read_mono(clean_path, rate), audio.read_mono(noisy_path, rate)
        length = min(len(clean), len(noisy))
        if len(clean) != len(noisy):
            logging.warning("%s: %.2f s long, its clean reference %s %.2f s; scored on the first %.2f s",
                            noisy_path, len(noisy) / rate, clean_path, len(clean) / rate, length / rate)
        entry = table.get(relative, TableEntry(None, None, None))
        yield Example(relative, entry.snr, clean[:length], noisy[:length], entry.speech_id, entry.noise_id)


def score(systems: Sequence[Enhancer], examples: Iterable[Example], rate: int,
          progress: Callable[[Iterable[Example]], Iterable[Example]] = iter) -> list[Row]:
    """Rows for the noisy input and every system on every example."""
    for system in systems:  # warm up (graph tracing, lazy loading) outside the timed calls
        system(np.zeros(system.sample_rate, np.float32))
    rows: list[Row] = []
    for example in progress(examples):
        rows.append(_score_one(example, NOISY, example.noisy, 0.0, rate))
        for system in systems:
            enhanced, seconds = _run(system, example.noisy, rate)
            rows.append(_score_one(example, system.name, enhanced, seconds, rate))
    return rows


def _run(system: Enhancer, noisy: np.ndarray, rate: int) -> tuple[np.ndarray, float]:
    """The system's output at `rate` and the seconds its call took (resampling excluded)."""
    wave = audio.resample(noisy, rate, system.sample_rate)
    start = time.perf_counter()
    enhanced = np.asarray(system(wave), np.float32)
    seconds = time.perf_counter() - start
    enhanced = audio.resample(enhanced, system.sample_rate, rate, len(noisy))
    return enhanced, seconds


def _score_one(example: Example, system: str, estimate: np.ndarray, seconds: float, rate: int) -> Row:
    label = f"{example.file} ({system})"
    gains = metrics.speech_and_noise_gains(example.clean, example.noisy, estimate, rate)
    return Row(
        file=example.file,
        snr=example.snr,
        speech_id=example.speech_id,
        noise_id=example.noise_id,
        system=system,
        pesq=metrics.pesq_wb(example.clean, estimate, rate, label),
        stoi=metrics.stoi(example.clean, estimate, rate, label),
        si_sdr=metrics.si_sdr(example.clean, estimate),
        speech_gain=gains[0],
        noise_gain=gains[1],
        seconds=seconds,
        audio_seconds=len(estimate) / rate,
    )


def summarise(rows: Sequence[Row], by: str = "snr") -> list[Summary]:
    """Per system: one line per group `by` (SNRs ascending, folders by name) where it is known, then
    one over all files."""
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}; choose one of {', '.join(GROUPINGS)}")
    groups: dict[tuple[str, str], list[Row]] = defaultdict(list)
    systems: list[str] = []
    for row in rows:
        if row.system not in systems:
            systems.append(row.system)
        key = _group_of(row, by)
        if key is not None:
            groups[(row.system, key)].append(row)
        groups[(row.system, ALL_FILES)].append(row)
    keys = {key for _, key in groups} - {ALL_FILES}
    order = sorted(keys, key=float if by == "snr" else str) + [ALL_FILES]
    return [_summary(system, key, groups[(system, key)]) for system in systems for key in order if groups[(system, key)]]


def _group_of(row: Row, by: str) -> str | None:
    """The group `by` of a row's file, or None when the test set does not say."""
    if by == "snr":
        return None if row.snr is None else f"{row.snr:g}"
    source = row.speech_id if by == "speech_folder" else row.noise_id
    return None if not source else PurePosixPath(source).parent.as_posix()


def _summary(system: str, group: str, rows: list[Row]) -> Summary:
    audio_seconds = sum(r.audio_seconds for r in rows)
    rtf = sum(r.seconds for r in rows) / audio_seconds if system != NOISY and audio_seconds else math.nan
    return Summary(system, group, len(rows), _mean([r.pesq for r in rows]), _mean([r.stoi for r in rows]),
                   _mean([r.si_sdr for r in rows]), _mean([r.speech_gain for r in rows]),
                   _mean([r.noise_gain for r in rows]), rtf)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def markdown_table(summaries: Sequence[Summary], by: str = "snr") -> str:
    """The summary (grouped `by`) as a GitHub markdown table."""
    lines = [f"| system | {GROUPINGS[by]} | files | PESQ-WB | STOI | SI-SDR (dB) | speech (dB) | noise (dB) | RTF |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in summaries:
        lines.append(f"| {s.system} | {s.group} | {s.files} | {_fmt(s.pesq, 2)} | {_fmt(s.stoi, 3)} | {_fmt(s.si_sdr, 2)} "
                     f"| {_fmt(s.speech_gain, 1)} | {_fmt(s.noise_gain, 1)} | {_fmt(s.rtf, 4)} |")
    return "\n".join(lines)


def _fmt(value: float, digits: int) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"


def write_csv(rows: Sequence[Row], path: Path) -> None:
    """Per-file scores as CSV (written atomically)."""
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["file", "snr", "speech_id", "noise_id", "system", "pesq_wb", "stoi", "si_sdr_db",
                     "speech_gain_db", "noise_gain_db", "seconds", "audio_seconds"])
    for r in rows:
        writer.writerow([r.file, "" if r.snr is None else f"{r.snr:g}", r.speech_id or "", r.noise_id or "", r.system,
                         f"{r.pesq:.4f}", f"{r.stoi:.4f}", f"{r.si_sdr:.3f}", f"{r.speech_gain:.2f}",
                         f"{r.noise_gain:.2f}", f"{r.seconds:.4f}", f"{r.audio_seconds:.3f}"])
    write_bytes_atomic(path, table.getvalue().encode())
