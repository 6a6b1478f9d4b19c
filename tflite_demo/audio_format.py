"""Which container and sample format an output is written in: the one home of that rule.

An output keeps its input's container (as libsndfile detects it from the content, not the name) and
its sample format where that container can hold it, so 24-bit stays 24-bit and a FLAC named .wav
stays FLAC, unless a different container is asked for. It lives here, in the TF-free app, because
`keras_denoiser` may import `tflite_demo` and not the other way round.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

FLOAT_SUBTYPES = ("FLOAT", "DOUBLE")


def format_for(path: Path) -> str:
    """libsndfile's format name for a file name's extension (WAV when unknown)."""
    ext = path.suffix.lower().lstrip(".")
    if ext == "oga":
        ext = "ogg"
    return ext.upper() if ext.upper() in sf.available_formats() else "WAV"


def output_formats() -> list[str]:
    """What `--output_format` takes: every container this libsndfile writes (mp3 from libsndfile 1.1),
    but RAW, which has no header to read it back by."""
    return sorted(name.lower() for name in sf.available_formats() if name != "RAW")


def known_extension(path: Path) -> bool:
    """Whether `path`'s extension names a container libsndfile writes."""
    ext = path.suffix.lower().lstrip(".")
    return ext == "oga" or ext.upper() in sf.available_formats()


def output_subtype(fmt: str, subtype: str) -> str:
    """`subtype` (the input's) when `fmt` can hold it, so 24-bit stays 24-bit; else the format's default."""
    if sf.check_format(fmt, subtype):
        return subtype
    return "PCM_16" if fmt == "WAV" else sf.default_subtype(fmt) or "PCM_16"


def output_container(source: sf.SoundFile, source_path: Path, target: Path) -> tuple[str, str]:
    """(format, subtype) for writing `target` from the open input `source`.

    The input's own container unless `target`'s extension names another one than the input's name
    does (`noisy.wav` -> `clean.flac` asks for FLAC; `noisy.wav` -> `clean.wav` keeps what the input is).
    """
    asked = known_extension(target) and format_for(target) != format_for(source_path)
    fmt = format_for(target) if asked else source.format
    return fmt, output_subtype(fmt, source.subtype)


def fit_subtype(data: np.ndarray, subtype: str) -> np.ndarray:
    """`data` as a writer of `subtype` may take it: clipped to ±1 unless the samples are stored as floats."""
    return data if subtype in FLOAT_SUBTYPES else np.clip(data, -1.0, 1.0)
