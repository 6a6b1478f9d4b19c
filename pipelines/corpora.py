"""Corpus readers: LJ Speech layout or any folder tree of audio files, plus the train/validation split.

A reader lists the usable audio files of a corpus and skips every unusable entry (a row escaping the
corpus folder, a missing, empty, corrupt or non-audio file) with one warning line naming the entry
and the reason; nothing it meets stops the run.

    corpus = read_corpus("LJSpeech-1.1")      # LJ layout: metadata.csv + wavs/<id>.wav
    corpus = read_corpus("noise")              # any folder tree of wav/flac/ogg files
    train = split_items(corpus, "speech", SplitConfig())["train"]
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import Literal

import soundfile as sf
from absl import logging

from keras_denoiser.core.audio import find_audio_files
from keras_denoiser.core.config import SplitConfig
from keras_denoiser.core.errors import UserError

LJ_METADATA = "metadata.csv"
LJ_AUDIO_FOLDER = "wavs"
SPLITS = ("train", "validation", "test")
Kind = Literal["speech", "noise"]


@dataclasses.dataclass(frozen=True)
class AudioItem:
    """One usable audio file: `id` is the LJ row id, or the path relative to the folder root."""

    id: str
    path: Path


@dataclasses.dataclass(frozen=True)
class Skipped:
    """An entry left out of a corpus, and why."""

    path: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Corpus:
    """The usable items of one corpus folder and the entries skipped on the way."""

    root: Path
    items: tuple[AudioItem, ...]
    skipped: tuple[Skipped, ...]


def read_corpus(root: str | os.PathLike[str]) -> Corpus:
    """LJ Speech layout when `root/metadata.csv` exists, otherwise any folder tree of audio files."""
    root = existing_corpus_folder(root)
    if (root / LJ_METADATA).is_file():
        return read_ljspeech(root)
    return read_audio_folder(root)


def read_ljspeech(root: str | os.PathLike[str]) -> Corpus:
    """Rows `id|text[|normalized]` of `root/metadata.csv`, audio in `root/wavs/<id>.wav`."""
    root = existing_corpus_folder(root)
    metadata = root / LJ_METADATA
    try:
        lines = metadata.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise UserError(f"{metadata}: cannot read ({err.strerror})") from None
    items: list[AudioItem] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item_id = line.split("|", 1)[0].strip().strip("\"'").strip()
        where = f"{metadata}:{number}"
        if not item_id or "|" not in line:
            problem = Skipped(where, "malformed row (expected id|text|normalized)")
        elif item_id in seen:
            problem = Skipped(where, f"duplicate id {item_id!r}")
        else:
            seen.add(item_id)
            path = root / LJ_AUDIO_FOLDER / f"{item_id}.wav"
            problem = _escape_problem(path, root / LJ_AUDIO_FOLDER, where) or _audio_problem(path)
            if problem is None:
                items.append(AudioItem(item_id, path))
        if problem is not None:
            skipped.append(problem)
    return _finish(root, items, skipped)


def read_audio_folder(root: str | os.PathLike[str]) -> Corpus:
    """Every audio file (by extension) below `root`; ids are paths relative to `root`."""
    root = existing_corpus_folder(root)
    items: list[AudioItem] = []
    skipped: list[Skipped] = []
    for path in find_audio_files(root):
        problem = _escape_problem(path, root, str(path)) or _audio_problem(path)
        if problem is None:
            items.append(AudioItem(path.relative_to(root).as_posix(), path))
        else:
            skipped.append(problem)
    return _finish(root, items, skipped)


def unit_key(corpus: Corpus, item: AudioItem, kind: Kind, split: SplitConfig) -> str:
    """What is held out as one: `corpus/speaker folder` for speech by speaker, `corpus/file` otherwise.

    Keys start with the corpus folder's name, not its path, so a split is the same on every machine.
    In LJ Speech layout ids have no folder, so the whole corpus is one speaker. Folders named as
    locale variants of one another (`sr`, `sr@latin`: the same recordings in another script) are
    one speaker.
    """
    if kind == "speech" and split.speech_unit == "speaker":
        folder = PurePosixPath(item.id).parent
        if folder == PurePosixPath("."):
            return corpus.root.name
        return "/".join([corpus.root.name, *(part.split("@", 1)[0] for part in folder.parts)])
    return f"{corpus.root.name}/{item.id}"


def split_of(key: str, split: SplitConfig) -> str:
    """`train`, `validation` or `test` for a unit key, by a hash of the seed and the key."""
    digest = hashlib.sha256(f"{split.seed}:{key}".encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / 2.0**64
    if position < split.test_fraction:
        return "test"
    return "validation" if position < split.test_fraction + split.validation_fraction else "train"


def split_items(corpus: Corpus, kind: Kind, split: SplitConfig) -> dict[str, list[AudioItem]]:
    """The corpus items of each split (every split present, possibly empty)."""
    parts: dict[str, list[AudioItem]] = {name: [] for name in SPLITS}
    for item in corpus.items:
        parts[split_of(unit_key(corpus, item, kind, split), split)].append(item)
    return parts


def held_out_units(corpus: Corpus, kind: Kind, split: SplitConfig) -> dict[str, list[str]]:
    """The sorted unit keys (speakers or files) of the validation and test splits: a run's record of its hold-out."""
    units: dict[str, set[str]] = {"validation": set(), "test": set()}
    for item in corpus.items:
        key = unit_key(corpus, item, kind, split)
        part = split_of(key, split)
        if part in units:
            units[part].add(key)
    return {name: sorted(keys) for name, keys in units.items()}


def existing_corpus_folder(root: str | os.PathLike[str]) -> Path:
    """`root` as a Path; UserError when it is not a folder (checked before any long work too)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"{root}: no such corpus folder")
    return root


def _escape_problem(path: Path, root: Path, where: str) -> Skipped | None:
    """A Skipped entry when `path` (after resolving `..` and symlinks) lies outside `root`."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return Skipped(where, f"escapes the corpus folder ({path})")
    return None


def _audio_problem(path: Path) -> Skipped | None:
    """A Skipped entry when `path` is missing, empty or has no readable audio header with samples."""
    if not path.is_file():
        return Skipped(str(path), "no such file")
    if path.stat().st_size == 0:
        return Skipped(str(path), "empty file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        reason = getattr(err, "error_string", None) or str(err).strip() or type(err).__name__
        return Skipped(str(path), f"not readable audio ({reason})")
    if info.frames <= 0:
        return Skipped(str(path), "no samples")
    return None


def _finish(root: Path, items: list[AudioItem], skipped: list[Skipped]) -> Corpus:
    for entry in skipped:
        logging.warning("skipped %s: %s", entry.path, entry.reason)
    if not items:
        raise UserError(f"{root}: no usable audio files ({len(skipped)} skipped)")
    return Corpus(root, tuple(items), tuple(skipped))
