"""Reading, checking, resampling and atomically writing audio files (soundfile + soxr)."""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from keras_denoiser.core.atomic import atomic_path
from keras_denoiser.core.errors import AudioFileError

SILENCE_FRAME_SECONDS = 0.02
SILENCE_BELOW_PEAK_DB = 40.0
SILENCE_MARGIN_SECONDS = 0.1
# libsndfile reports a WAV/AIFF whose data chunk is cut short as e.g. "data : 32000 (should be 15978)".
_SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_SIZE_PLACEHOLDERS = (0, 0xFFFFFFFF)  # sizes a streaming writer leaves in the header: not a truncation
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif", ".au", ".caf", ".w64", ".mp3", ".opus")


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Samples as float32 `[frames, channels]` and the sample rate.

    Raises AudioFileError (file + reason) for every file `open_checked` refuses and for non-finite samples.
    """
    path = Path(path)
    with open_checked(path) as src:
        try:
            data, rate = src.read(dtype="float32", always_2d=True), src.samplerate
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioFileError(path, f"truncated or corrupt ({short_reason(err)})") from None
    if not np.isfinite(data).all():
        raise AudioFileError(path, "contains NaN or Inf samples")
    return data, int(rate)


def open_checked(path: str | os.PathLike[str]) -> sf.SoundFile:
    """An open input; AudioFileError for missing, empty, undecodable, truncated or zero-sample files.

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
    reason = truncation_reason(src.extra_info)
    if reason is None and src.frames == 0:
        reason = "no samples"
    if reason is not None:
        src.close()
        raise AudioFileError(path, reason)
    return src


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
    path: str | os.PathLike[str], data: np.ndarray, rate: int, subtype: str | None = None
) -> None:
    """Write audio beside `path` under a temporary name, then rename: never a half-written file.

    The format comes from the file name's extension (wav when it has none known to libsndfile).
    """
    fmt = format_for(Path(path))
    if subtype is None and fmt == "WAV":
        subtype = "PCM_16"
    with atomic_path(path) as tmp:
        sf.write(tmp, data, rate, format=fmt, subtype=subtype)


def format_for(path: Path) -> str:
    """libsndfile's format name for a file name's extension (WAV when unknown)."""
    ext = path.suffix.lower().lstrip(".")
    formats = sf.available_formats()
    if ext == "oga":
        ext = "ogg"
    if ext.upper() in formats:
        return ext.upper()
    return "WAV"


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
