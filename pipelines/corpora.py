"""Corpus readers: LJ Speech layout or any folder tree of audio files, plus the train/validation split.

A reader lists the usable audio files of a corpus and skips every unusable entry (a row escaping the
corpus folder, a missing, empty, corrupt or non-audio file) with one warning line naming the entry
and the reason; nothing it meets stops the run.

    corpus = read_corpus("LJSpeech-1.1")      # LJ layout: metadata.csv + wavs/<id>.wav
    corpus = read_corpus("noise")              # any folder tree of wav/flac/ogg files
    corpus = read_corpus("gs://bucket/noise", RemoteFiles())  # through Beam's filesystems (prepare --runner)
    train = split_items(corpus, "speech", SplitConfig())["train"]
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import Iterable, Literal

import soundfile as sf
from absl import logging

from keras_denoiser.core.audio import header_problem
from keras_denoiser.core.config import SplitConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines.storage import LOCAL, Files, folder_name, read_text

LJ_METADATA = "metadata.csv"
LJ_AUDIO_FOLDER = "wavs"
SPLITS = ("train", "validation", "test")
Kind = Literal["speech", "noise"]


@dataclasses.dataclass(frozen=True)
class AudioItem:
    """One usable audio file: `id` is the LJ row id, or the path relative to the folder root."""

    id: str
    path: str  # a local path, or an address such as gs://bucket/speech/a.wav (see `storage`)


@dataclasses.dataclass(frozen=True)
class Skipped:
    """An entry left out of a corpus, and why."""

    path: str
    reason: str


@dataclasses.dataclass(frozen=True)
class Corpus:
    """The usable items of one corpus folder and the entries skipped on the way."""

    root: str  # as given: item paths and skipped entries start with it
    origin: str  # the same folder named from anywhere (absolute): what a cache key and manifest record
    items: tuple[AudioItem, ...]
    skipped: tuple[Skipped, ...]

    @property
    def name(self) -> str:
        """The folder's own name, which unit keys start with."""
        return folder_name(self.root)


def read_corpus(root: str | os.PathLike[str], files: Files = LOCAL) -> Corpus:
    """LJ Speech layout when `root/metadata.csv` exists, otherwise any folder tree of audio files."""
    folder = corpus_folder(root, files)
    if files.stat(files.join(folder, LJ_METADATA)) is not None:
        return read_ljspeech(folder, files)
    return read_audio_folder(folder, files)


def read_ljspeech(root: str | os.PathLike[str], files: Files = LOCAL) -> Corpus:
    """Rows `id|text[|normalized]` of `root/metadata.csv`, audio in `root/wavs/<id>.wav`."""
    root = corpus_folder(root, files)
    metadata = files.join(root, LJ_METADATA)
    try:
        lines = read_text(files, metadata).splitlines()
    except OSError as err:
        raise UserError(f"{metadata}: cannot read ({err.strerror or err})") from None
    audio_folder = files.join(root, LJ_AUDIO_FOLDER)
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
            path = files.join(audio_folder, f"{item_id}.wav")
            problem = _escape_problem(path, audio_folder, where, files) or _audio_problem(path, files)
            if problem is None:
                items.append(AudioItem(item_id, path))
        if problem is not None:
            skipped.append(problem)
    return _finish(root, items, skipped, files)


def read_audio_folder(root: str | os.PathLike[str], files: Files = LOCAL) -> Corpus:
    """Every audio file (by extension) below `root`; ids are paths relative to `root`."""
    root = corpus_folder(root, files)
    items: list[AudioItem] = []
    skipped: list[Skipped] = []
    for path, item_id in files.audio_files(root):
        problem = _escape_problem(path, root, path, files) or _audio_problem(path, files)
        if problem is None:
            items.append(AudioItem(item_id, path))
        else:
            skipped.append(problem)
    return _finish(root, items, skipped, files)


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
            return corpus.name
        return "/".join([corpus.name, *(part.split("@", 1)[0] for part in folder.parts)])
    return f"{corpus.name}/{item.id}"


def split_of(key: str, split: SplitConfig) -> str:
    """`train`, `validation` or `test` for a unit key, by a hash of the seed and the key; a unit named in
    `validation_speakers` is in validation (UserError if the hash puts it in test)."""
    digest = hashlib.sha256(f"{split.seed}:{key}".encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / 2.0**64
    named = key in split.named_validation
    if position < split.test_fraction:
        if named:
            raise UserError(f"{key}: a test speaker under split seed {split.seed}; validation_speakers can only "
                            "take speakers out of training")
        return "test"
    return "validation" if named or position < split.test_fraction + split.validation_fraction else "train"


def check_named_speakers(speech_roots: Iterable[str | os.PathLike[str]], split: SplitConfig) -> None:
    """UserError naming each `validation_speakers` entry that is no speaker of the speech corpora: a
    misspelt name would hold nothing out."""
    if not split.named_validation:
        return
    corpora = [read_corpus(root) for root in speech_roots]
    keys = {unit_key(corpus, item, "speech", split) for corpus in corpora for item in corpus.items}
    missing = sorted(split.named_validation - keys)
    if missing:
        raise UserError(f"validation_speakers: no speaker {', '.join(missing)} in the speech corpora "
                        f"(speakers are named as held_out.json names them, e.g. {min(keys, default='corpus/folder')})")


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
    return Path(corpus_folder(root, LOCAL))


def corpus_folder(root: str | os.PathLike[str], files: Files) -> str:
    """`root` as corpus paths are built from it; UserError when it is not a folder on `files`."""
    folder = files.folder(os.fspath(root))
    if folder is None:
        where = " on this machine (give --runner to read it through Apache Beam)" if "://" in os.fspath(root) else ""
        raise UserError(f"{os.fspath(root)}: no such corpus folder{where}")
    return folder


def _escape_problem(path: str, root: str, where: str, files: Files) -> Skipped | None:
    """A Skipped entry when `path` (after resolving `..` and symlinks) lies outside `root`."""
    if not files.inside(path, root):
        return Skipped(where, f"escapes the corpus folder ({path})")
    return None


def _audio_problem(path: str, files: Files) -> Skipped | None:
    """A Skipped entry when `path` is missing, empty, or has no readable audio header (`audio.header_problem`)."""
    stat = files.stat(path)
    if stat is None:
        return Skipped(path, "no such file")
    if stat[0] == 0:
        return Skipped(path, "empty file")
    try:
        with files.open(path) as src, sf.SoundFile(src) as sound:  # the header only: a remote file is not fetched whole
            problem = header_problem(sound)  # cut short, no audio rate, no samples: the app's rule
    except OSError as err:
        return Skipped(path, f"not readable ({err.strerror or err})")
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        reason = getattr(err, "error_string", None) or str(err).strip() or type(err).__name__
        return Skipped(path, f"not readable audio ({reason})")
    return None if problem is None else Skipped(path, problem)


def _finish(root: str, items: list[AudioItem], skipped: list[Skipped], files: Files) -> Corpus:
    for entry in skipped:
        logging.warning("skipped %s: %s", entry.path, entry.reason)
    if not items:
        raise UserError(f"{root}: no usable audio files ({len(skipped)} skipped)")
    return Corpus(root, files.absolute(root), tuple(items), tuple(skipped))
