"""Seeded mutated audio files: what a fuzzing run throws at every reader (tests/test_fuzz.py, and the web
page's reader in tflite_demo/web/test/audio_file.test.mjs through the manifest).

Each file is a small valid file (PCM or float WAV, FLAC, AIFF) cut, bit-flipped, overwritten or renamed.
Where the mutation alone settles it, the case says what a reader must do: `refuse` (empty, cut inside
the audio data or declaring far more of it than there is, NaN/Inf or absurd float samples, no samples)
or `decode` (a modest overshoot above full scale); `any` means either, as long as a refusal names the
file and decoded samples are finite and in range.

    python -m tests.fuzz_audio OUT_DIR [COUNT] [SEED]
"""

from __future__ import annotations

import dataclasses
import io
import json
import struct
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf

MANIFEST = "manifest.json"


@dataclasses.dataclass(frozen=True)
class Base:
    """A valid file to mutate: its bytes, where its data chunk's samples start, its sample width and type."""

    name: str
    ext: str
    content: bytes
    data_at: int  # offset of the first sample byte (-1 when not a RIFF/WAVE file)
    width: int  # bytes per sample
    is_float: bool


@dataclasses.dataclass(frozen=True)
class Case:
    """One written file, how it was made and what a reader must do with it."""

    name: str
    base: str
    mutation: str
    expect: str  # refuse, decode or any


def _encode(data: np.ndarray, rate: int, fmt: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, data, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def _data_offset(content: bytes) -> int:
    """Where the samples of a RIFF/WAVE file's data chunk start, or -1."""
    if content[:4] != b"RIFF" or content[8:12] != b"WAVE":
        return -1
    at = 12
    while at + 8 <= len(content):
        size = struct.unpack_from("<I", content, at + 4)[0]
        if content[at : at + 4] == b"data":
            return at + 8
        at += 8 + size + (size & 1)
    return -1


def bases(rng: np.random.Generator) -> list[Base]:
    """The valid files every mutation starts from: 0.1-0.2 s of noisy tones at half scale."""
    specs = [  # name, ext, format, subtype, rate, channels, width, float
        ("pcm16", "wav", "WAV", "PCM_16", 16000, 1, 2, False),
        ("pcm24", "wav", "WAV", "PCM_24", 44100, 2, 3, False),
        ("u8", "wav", "WAV", "PCM_U8", 8000, 1, 1, False),
        ("float", "wav", "WAV", "FLOAT", 22050, 2, 4, True),
        ("float_mono", "wav", "WAV", "FLOAT", 16000, 1, 4, True),
        ("double", "wav", "WAV", "DOUBLE", 8000, 1, 8, True),
        ("flac", "flac", "FLAC", "PCM_16", 16000, 1, 2, False),
        ("aiff", "aiff", "AIFF", "PCM_16", 16000, 1, 2, False),
    ]
    out = []
    for name, ext, fmt, subtype, rate, channels, width, is_float in specs:
        t = np.arange(int(rate * (0.1 + 0.1 * rng.random()))) / rate
        tone = 0.5 * np.sin(2 * np.pi * (200 + 400 * np.arange(channels))[None, :] * t[:, None])
        data = np.clip(tone + 0.05 * rng.standard_normal(tone.shape), -1, 1)
        content = _encode(data, rate, fmt, subtype)
        out.append(Base(name, ext, content, _data_offset(content) if fmt == "WAV" else -1, width, is_float))
    return out


def _put(content: bytes, at: int, value: bytes) -> bytes:
    return content[:at] + value + content[at + len(value) :]


def _float_sample(base: Base, value: float) -> bytes:
    return struct.pack("<f" if base.width == 4 else "<d", value)


def _sample_at(base: Base, rng: np.random.Generator) -> int:
    """The offset of a random whole sample in the data chunk."""
    count = (len(base.content) - base.data_at) // base.width
    return base.data_at + base.width * int(rng.integers(count))


# Each mutation: (base, rng) -> (bytes, extension, expect), or None when it does not apply to the base.
Mutation = Callable[[Base, np.random.Generator], "tuple[bytes, str, str] | None"]


def _truncate(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str]:
    cut = int(rng.integers(1, len(base.content)))
    inside_data = base.data_at >= 0 and cut > base.data_at + base.width * 2
    return base.content[:cut], base.ext, "refuse" if inside_data else "any"


def _flip_header_bits(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str]:
    content = bytearray(base.content)
    for _ in range(int(rng.integers(1, 4))):
        bit = int(rng.integers(8 * min(64, len(content))))
        content[bit // 8] ^= 1 << (bit % 8)
    return bytes(content), base.ext, "any"


def _random_header_field(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str]:
    at = 4 * int(rng.integers(min(64, len(base.content)) // 4))
    return _put(base.content, at, struct.pack("<I", int(rng.integers(1 << 32)))), base.ext, "any"


def _corrupt_body(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str]:
    start = max(base.data_at, 64) + int(rng.integers(len(base.content) // 2))
    length = int(rng.integers(1, 64))
    return _put(base.content, start, rng.bytes(length))[: len(base.content)], base.ext, "any"


def _huge_float(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str] | None:
    if not base.is_float:
        return None
    value = float(rng.choice([2.6e36, -1e17, 3e32, 1e6, -50.0]))
    return _put(base.content, _sample_at(base, rng), _float_sample(base, value)), base.ext, "refuse"


def _non_finite(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str] | None:
    if not base.is_float:
        return None
    value = float(rng.choice([np.nan, np.inf, -np.inf]))
    return _put(base.content, _sample_at(base, rng), _float_sample(base, value)), base.ext, "refuse"


def _overshoot(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str] | None:
    if not base.is_float:
        return None
    value = float(rng.uniform(1.05, 3.5)) * float(rng.choice([-1, 1]))
    return _put(base.content, _sample_at(base, rng), _float_sample(base, value)), base.ext, "decode"


def _noise_bytes(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str]:
    head = base.content[: int(rng.integers(0, 45))] if rng.random() < 0.5 else b""
    return head + rng.bytes(int(rng.integers(1, 4000))), base.ext, "any"


def _doubled(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str]:
    return base.content * 2, base.ext, "any"


def _wrong_extension(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str] | None:
    if base.data_at < 0:
        return None
    ext = str(rng.choice(["mp3", "flac", "ogg"]))
    if base.is_float and rng.random() < 0.5:  # the file that aborted a whole run: 2.6e36 in a float WAV named .mp3
        return _put(base.content, _sample_at(base, rng), _float_sample(base, 2.6e36)), ext, "refuse"
    return base.content, ext, "decode"


def _huge_channels(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str] | None:
    if base.data_at < 0:
        return None
    channels = int(rng.choice([255, 1024, 4096, 65535, int(rng.integers(65, 1 << 16))]))
    return _put(base.content, 22, struct.pack("<H", channels)), base.ext, "any"


def _huge_rate(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str] | None:
    if base.data_at < 0:
        return None
    rate = int(rng.choice([0, 1, 3, 0x7FFFFFFF, 0xFFFFFFFF, int(rng.integers(1 << 20, 1 << 32))]))
    return _put(base.content, 24, struct.pack("<I", rate)), base.ext, "any"


def _huge_length(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str] | None:
    """A header declaring far more audio than there is: a reader that sizes its array by it needs 64+ GB."""
    if base.ext == "flac":  # STREAMINFO's 36-bit total sample count: bytes 21 (low nibble) to 25
        content = bytearray(base.content)
        content[21] |= 0x0F
        content[22:26] = rng.integers(0x80, 0x100, 4, dtype=np.uint8).tobytes()
        return bytes(content), base.ext, "refuse"
    if base.data_at < 0:
        return None
    size = int(rng.integers(1 << 30, 0xFFFFFFFF))
    return _put(base.content, base.data_at - 4, struct.pack("<I", size)), base.ext, "refuse"


def _zero_length_data(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str] | None:
    if base.data_at < 0:
        return None
    header = _put(base.content[: base.data_at], base.data_at - 4, struct.pack("<I", 0))
    header = _put(header, 4, struct.pack("<I", len(header) - 8))
    return header, base.ext, "refuse"


def _empty(base: Base, rng: np.random.Generator) -> tuple[bytes, str, str]:
    return b"", base.ext, "refuse"


MUTATIONS: dict[str, Mutation] = {
    "truncate": _truncate,
    "flip_header_bits": _flip_header_bits,
    "random_header_field": _random_header_field,
    "corrupt_body": _corrupt_body,
    "huge_float": _huge_float,
    "non_finite": _non_finite,
    "overshoot": _overshoot,
    "noise_bytes": _noise_bytes,
    "doubled": _doubled,
    "wrong_extension": _wrong_extension,
    "huge_channels": _huge_channels,
    "huge_rate": _huge_rate,
    "huge_length": _huge_length,
    "zero_length_data": _zero_length_data,
    "empty": _empty,
}


def write_fuzz_files(folder: Path, count: int = 240, seed: int = 27) -> list[Case]:
    """Write `count` mutated files (every mutation in turn, on random bases) and MANIFEST into `folder`."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    base_files = bases(rng)
    names = list(MUTATIONS)
    cases: list[Case] = []
    while len(cases) < count:
        mutation = names[len(cases) % len(names)]
        base = base_files[int(rng.integers(len(base_files)))]
        made = MUTATIONS[mutation](base, rng)
        if made is None:
            continue
        content, ext, expect = made
        name = f"{len(cases):04d}_{mutation}_{base.name}.{ext}"
        (folder / name).write_bytes(content)
        cases.append(Case(name, base.name, mutation, expect))
    (folder / MANIFEST).write_text(json.dumps([dataclasses.asdict(c) for c in cases], indent=1) + "\n")
    return cases


if __name__ == "__main__":
    out, *rest = sys.argv[1:]
    written = write_fuzz_files(Path(out), *(int(a) for a in rest))
    print(f"wrote {len(written)} files to {out}")
