"""Reading, checking, resampling and atomically writing audio files (soundfile + soxr)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
from absl import logging

from keras_denoiser.core.atomic import atomic_path
from keras_denoiser.core.errors import AudioFileError, UserError
from tflite_demo import audio_check

# The output container rule and the audio file checks have their one home in the TF-free app, which
# may import nothing of ours; here they raise AudioFileError, a UserError.
from tflite_demo.audio_check import MAX_OUTPUT_GAIN as MAX_OUTPUT_GAIN
from tflite_demo.audio_check import MAX_PEAK as MAX_PEAK
from tflite_demo.audio_check import MAX_RATE as MAX_RATE
from tflite_demo.audio_check import MIN_RATE as MIN_RATE
from tflite_demo.audio_check import AudioProblem, sample_problem
from tflite_demo.audio_check import header_problem as header_problem
from tflite_demo.audio_check import missing_reason as missing_reason
from tflite_demo.audio_check import output_problem as output_problem
from tflite_demo.audio_check import rate_problem as rate_problem
from tflite_demo.audio_format import FLOAT_SUBTYPES as FLOAT_SUBTYPES
from tflite_demo.audio_format import fit_subtype as fit_subtype
from tflite_demo.audio_format import format_for as format_for
from tflite_demo.audio_format import output_container as output_container
from tflite_demo.audio_format import output_formats as output_formats
from tflite_demo.audio_format import output_subtype as output_subtype
from tflite_demo.resample import resample as resample

SILENCE_FRAME_SECONDS = 0.02
SILENCE_BELOW_PEAK_DB = 40.0
SILENCE_MARGIN_SECONDS = 0.1
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".au", ".caf", ".w64", ".mp3", ".opus")


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Samples as float32 `[frames, channels]` and the sample rate.

    Raises AudioFileError (file + reason) for every file `open_checked` refuses and for samples
    `SampleCheck` refuses.
    """
    path = Path(path)
    with open_checked(path) as src:
        check = SampleCheck(path, src.samplerate)
        blocks = [check(block) for block in read_blocks(src, path)]
        return np.concatenate([np.zeros((0, src.channels), np.float32), *blocks]), int(src.samplerate)


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """`audio_check`'s refusals as AudioFileError (file + reason), the error the CLI prints as one line."""
    try:
        yield
    except AudioProblem as err:
        raise AudioFileError(err.path, err.reason) from None


def read_blocks(src: sf.SoundFile, path: Path, block_frames: int = 1 << 16) -> Iterator[np.ndarray]:
    """The float32 `[frames, channels]` blocks of an open input (`audio_check.read_blocks`); AudioFileError
    when corrupt or cut short."""
    with _user_errors():
        yield from audio_check.read_blocks(src, path, block_frames)


class SampleCheck:
    """Checks the `[frames, channels]` blocks of one input, in order, as they are read.

    AudioFileError (name + where, in seconds) for a NaN or Inf sample or a peak above MAX_PEAK; one
    warning for a peak above full scale up to it. `peak` is the largest magnitude seen so far.
    """

    def __init__(self, name: object, rate: int) -> None:
        self.name = name
        self.rate = rate
        self.frames = 0
        self.peak = 0.0
        self._warned = False

    def __call__(self, block: np.ndarray) -> np.ndarray:
        problem, hot, peak = sample_problem(block, self.rate, self.frames)
        if problem is not None:
            raise AudioFileError(self.name, problem)
        if hot is not None and not self._warned:
            self._warned = True
            logging.warning("%s: %s", self.name, hot)
        self.peak = max(self.peak, peak)
        self.frames += len(block)
        return block


def open_checked(path: str | os.PathLike[str]) -> sf.SoundFile:
    """An open input; AudioFileError for every file `audio_check.open_checked` refuses (missing, empty,
    undecodable, truncated, zero samples, a sample rate no audio has)."""
    with _user_errors():
        return audio_check.open_checked(path)


def trim_silence(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` without the leading and trailing silence, keeping SILENCE_MARGIN_SECONDS on each side.

    Short words recorded with long silences around them would otherwise make most random training
    crops silence only. Silence is every 20 ms frame whose energy is SILENCE_BELOW_PEAK_DB below the
    loudest frame's; an all-silent (or all-zero) signal is returned unchanged.
    """
    frame = max(1, int(SILENCE_FRAME_SECONDS * rate))
    count = len(samples) // frame
    if count < 2:
        return samples
    energy = np.mean(np.square(samples[: count * frame].reshape(count, frame), dtype=np.float64), axis=1)
    peak = energy.max()
    if peak <= 0:
        return samples
    loud = np.flatnonzero(energy >= peak * 10.0 ** (-SILENCE_BELOW_PEAK_DB / 10.0))
    margin = int(SILENCE_MARGIN_SECONDS * rate)
    start = max(0, loud[0] * frame - margin)
    stop = min(len(samples), (loud[-1] + 1) * frame + margin)
    return samples[start:stop]


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average `[frames, channels]` to a 1-D float32 signal."""
    return data.mean(axis=1, dtype=np.float32) if data.ndim == 2 else data.astype(np.float32)


def read_mono(path: str | os.PathLike[str], rate: int) -> np.ndarray:
    """A file as a 1-D float32 signal at `rate` Hz."""
    data, file_rate = read_audio(path)
    return resample(to_mono(data), file_rate, rate)


def write_audio_atomic(
    path: str | os.PathLike[str],
    data: np.ndarray,
    rate: int,
    subtype: str | None = None,
    input_peak: float = 1.0,
    fmt: str | None = None,
) -> None:
    """Write audio beside `path` under a temporary name, then rename: never a half-written file.

    The format is `fmt`, else the one the file name's extension names (wav when it has none known to libsndfile).
    UserError, and nothing written, for data `output_problem` refuses against `input_peak`; integer
    and compressed formats get it clipped to ±1, as encoders take nothing else.
    """
    problem = output_problem(data, input_peak)
    if problem is not None:
        raise UserError(f"{path}: {problem}")
    fmt = fmt or format_for(Path(path))
    subtype = subtype or ("PCM_16" if fmt == "WAV" else sf.default_subtype(fmt))
    with atomic_path(path) as tmp:
        sf.write(tmp, fit_subtype(data, subtype), rate, format=fmt, subtype=subtype)


def find_audio_files(root: str | os.PathLike[str], dead_links: bool = False) -> list[Path]:
    """Every audio file below `root` (by extension), sorted, so listings are reproducible.

    `dead_links` adds links named like audio files that lead nowhere (broken, or a loop), for a
    caller that reports them rather than skipping them in silence.
    """
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in AUDIO_EXTENSIONS and (p.is_file() or (dead_links and p.is_symlink() and not p.exists()))
    )
