"""What makes an audio file, its samples or a denoised output unusable: the one home of those rules.

An input is refused when it is missing, empty, undecodable, cut short (libsndfile reads what a
cut-off file still holds without complaint, so its header report is checked), at a rate no audio
has, or without samples; its samples when one is NaN or Inf or the peak is absurd (a peak a little
above full scale is only a warning). An output is never written when it is not finite or absurdly
louder than its input. keras_denoiser's `core.audio`, its corpus readers and this app all apply
them; it lives here because keras_denoiser may import this app and not the other way round.
"""

from __future__ import annotations

import errno
import math
import os
import re
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from tflite_demo.errors import DemoError

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


class AudioProblem(DemoError):
    """An audio file that cannot be used: `path: reason`, the two kept apart for callers that re-raise."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def open_checked(path: str | os.PathLike[str]) -> sf.SoundFile:
    """An open input; AudioProblem for missing, empty, undecodable, truncated or zero-sample files,
    and for a sample rate no audio has."""
    path = Path(path)
    if not path.is_file():
        raise AudioProblem(path, missing_reason(path))
    if path.stat().st_size == 0:
        raise AudioProblem(path, "empty file")
    try:
        src = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        raise AudioProblem(path, f"not readable audio ({short_reason(err)})") from None
    reason = header_problem(src)
    if reason is not None:
        src.close()
        raise AudioProblem(path, reason)
    return src


def header_problem(src: sf.SoundFile) -> str | None:
    """Why an opened file's header makes it unusable (cut short, no audio rate, no samples), or None."""
    reason = truncation_reason(src.extra_info) or rate_problem(src.samplerate)
    return reason or ("no samples" if src.frames == 0 else None)


def read_blocks(src: sf.SoundFile, path: object, block_frames: int = 1 << 16) -> Iterator[np.ndarray]:
    """The float32 `[frames, channels]` blocks of an open input; AudioProblem when corrupt or cut short.

    Never one array of the header's length: a corrupt FLAC header can declare 17e9 samples (64 GB).
    """
    read = 0
    while True:
        try:
            block = src.read(block_frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioProblem(path, f"truncated or corrupt ({short_reason(err)})") from None
        if block.shape[0] == 0:
            break
        read += block.shape[0]
        yield block
    if read < src.frames:
        raise AudioProblem(path, f"truncated: {read} of {src.frames} samples present")


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


def sample_problem(frames: np.ndarray, rate: int, first_frame: int = 0) -> tuple[str | None, str | None, float]:
    """(why `[frames, channels]` samples are refused, a warning for a peak above full scale, their peak).

    Times are in seconds from the file's start; `first_frame` is where these frames begin in it.
    """
    if frames.size == 0:
        return None, None, 0.0
    frames = frames.reshape(len(frames), -1)

    def seconds(at: int) -> str:
        return f"{(first_frame + at) / rate:.2f}"

    finite = np.isfinite(frames)
    if not finite.all():
        at = int(np.argmin(finite.all(axis=1)))
        return f"contains NaN or Inf samples ({frames[at][~finite[at]][0]} at {seconds(at)} s)", None, math.nan
    magnitude = np.abs(frames).max(axis=1)
    at = int(np.argmax(magnitude))
    peak = float(magnitude[at])
    if peak > MAX_PEAK:
        return (f"peak {peak:.3g} at {seconds(at)} s; float audio must lie within about ±1 "
                f"(refused above {MAX_PEAK:g}, +{20 * np.log10(MAX_PEAK):.0f} dBFS)"), None, peak
    hot = f"peak {peak:.3g} at {seconds(at)} s is above full scale (1.0); processed as it is" if peak > 1.0 else None
    return None, hot, peak


def output_problem(block: np.ndarray, input_peak: float) -> str | None:
    """Why an output block must not be written (not finite, or absurdly louder than its input), or None."""
    if not np.isfinite(block).all():
        return "the denoised output is not finite; nothing written"
    peak = float(np.abs(block).max()) if block.size else 0.0
    if peak > MAX_OUTPUT_GAIN * input_peak + OUTPUT_PEAK_FLOOR:
        return f"the denoised output peaks at {peak:.3g} against the input's {input_peak:.3g}; nothing written"
    return None
