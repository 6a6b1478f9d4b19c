"""Reading, checking, resampling and atomically writing audio files (soundfile + soxr)."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr
from absl import logging

from keras_denoiser.core.atomic import atomic_path
from keras_denoiser.core.errors import AudioFileError, UserError

# The output container rule has its one home in the TF-free app, which may import nothing of ours.
from tflite_demo.audio_format import FLOAT_SUBTYPES as FLOAT_SUBTYPES
from tflite_demo.audio_format import fit_subtype as fit_subtype
from tflite_demo.audio_format import format_for as format_for
from tflite_demo.audio_format import output_container as output_container
from tflite_demo.audio_format import output_formats as output_formats
from tflite_demo.audio_format import output_subtype as output_subtype

SILENCE_FRAME_SECONDS = 0.02
SILENCE_BELOW_PEAK_DB = 40.0
SILENCE_MARGIN_SECONDS = 0.1
# libsndfile reports a WAV/AIFF whose data chunk is cut short as e.g. "data : 32000 (should be 15978)".
_SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_SIZE_PLACEHOLDERS = (0, 0xFFFFFFFF)  # sizes a streaming writer leaves in the header: not a truncation
# Float audio lies within ±1 (full scale). A peak a little above is a hot recording: one warning, and it is
# processed. Above MAX_PEAK (+12 dBFS) it is taken for a corrupt file (the garbage body of a float WAV can
# hold 1e36) and refused: such samples overflow the STFT and crash native encoders.
MAX_PEAK = 4.0
# A mask never raises a bin, but overlap-add and resampling can add some peak: an output louder than its
# input by more than this factor (plus OUTPUT_PEAK_FLOOR, for silent inputs) is garbage and never written.
MAX_OUTPUT_GAIN = 4.0
OUTPUT_PEAK_FLOOR = 1e-3
# Sample rates of audio, from low-rate sensors to 768 kHz converters; a header outside them is corrupt
# (a 3 Hz header turns 0.1 s of samples into 40 minutes of audio to resample and enhance).
MIN_RATE, MAX_RATE = 1000, 768_000
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


def read_blocks(src: sf.SoundFile, path: Path, block_frames: int = 1 << 16) -> Iterator[np.ndarray]:
    """The float32 `[frames, channels]` blocks of an open input; AudioFileError when corrupt or cut short.

    Never one array of the header's length: a corrupt FLAC header can declare 17e9 samples (64 GB).
    """
    read = 0
    while True:
        try:
            block = src.read(block_frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioFileError(path, f"truncated or corrupt ({short_reason(err)})") from None
        if block.shape[0] == 0:
            break
        read += block.shape[0]
        yield block
    if read < src.frames:
        raise AudioFileError(path, f"truncated: {read} of {src.frames} samples present")


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
        if block.size == 0:
            return block
        frames = block.reshape(len(block), -1)
        finite = np.isfinite(frames)
        if not finite.all():
            at = int(np.argmin(finite.all(axis=1)))
            value = frames[at][~finite[at]][0]
            raise AudioFileError(self.name, f"contains NaN or Inf samples ({value} at {self._seconds(at)} s)")
        magnitude = np.abs(frames).max(axis=1)
        at = int(np.argmax(magnitude))
        peak = float(magnitude[at])
        if peak > MAX_PEAK:
            raise AudioFileError(
                self.name,
                f"peak {peak:.3g} at {self._seconds(at)} s; float audio must lie within about ±1 "
                f"(refused above {MAX_PEAK:g}, +{20 * np.log10(MAX_PEAK):.0f} dBFS)",
            )
        if peak > 1.0 and not self._warned:
            self._warned = True
            logging.warning("%s: peak %.3g at %s s is above full scale (1.0); processed as it is",
                            self.name, peak, self._seconds(at))
        self.peak = max(self.peak, peak)
        self.frames += len(frames)
        return block

    def _seconds(self, frame: int) -> str:
        return f"{(self.frames + frame) / self.rate:.2f}"


def output_problem(block: np.ndarray, input_peak: float) -> str | None:
    """Why an output block must not be written (not finite, or absurdly louder than its input), or None."""
    if not np.isfinite(block).all():
        return "the denoised output is not finite; nothing written"
    peak = float(np.abs(block).max()) if block.size else 0.0
    if peak > MAX_OUTPUT_GAIN * input_peak + OUTPUT_PEAK_FLOOR:
        return f"the denoised output peaks at {peak:.3g} against the input's {input_peak:.3g}; nothing written"
    return None


def open_checked(path: str | os.PathLike[str]) -> sf.SoundFile:
    """An open input; AudioFileError for missing, empty, undecodable, truncated or zero-sample files,
    and for a sample rate no audio has.

    libsndfile reads what a cut-off file still holds without complaint, so its header report is checked.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(path, missing_reason(path))
    if path.stat().st_size == 0:
        raise AudioFileError(path, "empty file")
    try:
        src = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        raise AudioFileError(path, f"not readable audio ({short_reason(err)})") from None
    reason = truncation_reason(src.extra_info) or rate_problem(src.samplerate)
    if reason is None and src.frames == 0:
        reason = "no samples"
    if reason is not None:
        src.close()
        raise AudioFileError(path, reason)
    return src


def rate_problem(rate: int) -> str | None:
    """Why `rate` (Hz) is no audio sample rate, or None."""
    if MIN_RATE <= rate <= MAX_RATE:
        return None
    return f"sample rate {rate} Hz is not an audio rate ({MIN_RATE} Hz to {MAX_RATE // 1000} kHz)"


def truncation_reason(extra_info: str) -> str | None:
    """Why libsndfile's header report (`SoundFile.extra_info`) shows a cut-off file, or None."""
    for declared, present in _SHORT_CHUNK.findall(extra_info):
        if int(declared) not in _SIZE_PLACEHOLDERS and int(present) < int(declared):
            return f"truncated: header declares {declared} bytes of audio, file holds {present}"
    if "ended unexpectedly" in extra_info:
        return "truncated: stream ends unexpectedly"
    return None


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


def missing_reason(path: Path, what: str = "file") -> str:
    """Why `path` is not there to read: a symbolic link loop, a broken link (and its target), or no such `what`."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
        if path.is_symlink():
            return f"broken symbolic link (to {os.readlink(path)})"
        return f"no such {what}"
    return f"not a {what}"


def short_reason(err: Exception) -> str:
    """The last line of an exception's message: libsndfile's own reason."""
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average `[frames, channels]` to a 1-D float32 signal."""
    return data.mean(axis=1, dtype=np.float32) if data.ndim == 2 else data.astype(np.float32)


def resample(data: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample along axis 0 with soxr (high quality); a no-op when the rates match."""
    if rate_in == rate_out:
        return data.astype(np.float32, copy=False)
    return soxr.resample(data, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


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
