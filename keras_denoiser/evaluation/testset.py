"""Deterministic noisy/clean test mixtures from speech and noise corpora.

File i draws its speaker, speech item, noise kind, noise item and noise offset from its own
generator seeded by `(seed, i)`, so a given seed always yields the same mixtures whatever
`num_files` is. Speakers (folders) and noise kinds (folders) are drawn evenly, whatever number of
files each holds, so no one voice or noise kind dominates a set. Speech is taken whole; noise is
looped from the offset to the speech's length and mixed with `pipelines.mixing.mix_at_snr` at a
fixed level.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os
import shutil
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import tensorflow as tf

from keras_denoiser.core import atomic, audio
from keras_denoiser.core.config import MIXTURE_SPLITS, SplitConfig, empty_split_advice
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines import phrases
from keras_denoiser.pipelines.corpora import (
    AudioItem,
    Corpus,
    Kind,
    check_named_speakers,
    read_corpus,
    split_items,
    unit_key,
)
from keras_denoiser.pipelines.mixing import mix_at_snr

MIX_GAIN_DB = -25.0
CSV_NAME = "testset.csv"
CSV_FIELDS = ("file", "snr", "speech_id", "noise_id", "offset")
TESTSET_PARTS = ("clean", "noisy", CSV_NAME)
SPLITS = MIXTURE_SPLITS


@dataclasses.dataclass(frozen=True)
class Mixture:
    """One test example: noisy = clean + noise at `snr` dB; `offset` is the noise start in samples."""

    file: str
    snr: float
    speech_id: str
    noise_id: str
    offset: int
    clean: np.ndarray
    noisy: np.ndarray


Group = list[AudioItem]  # the items of one speaker, or of one noise folder (kind)


def corpus_groups(root: str | os.PathLike[str], split: str, split_cfg: SplitConfig, kind: Kind) -> list[Group]:
    """The usable items of a corpus in `split` (the held-out `test` or `validation` units, or `all`),
    grouped by speaker for speech and by folder for noise."""
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    corpus: Corpus = read_corpus(root)
    items = list(corpus.items) if split == "all" else split_items(corpus, kind, split_cfg)[split]
    by_speaker = dataclasses.replace(split_cfg, speech_unit="speaker")
    groups: dict[str, Group] = {}
    for item in items:
        key = unit_key(corpus, item, "speech", by_speaker) if kind == "speech" else str(Path(item.id).parent)
        groups.setdefault(key, []).append(item)
    return [groups[key] for key in sorted(groups)]


def split_corpora(
    speech_dirs: Sequence[str], noise_dirs: Sequence[str], split: str, split_cfg: SplitConfig
) -> tuple[list[Group], list[Group]]:
    """(speech, noise) groups of `split` over all the corpora; UserError when either is empty."""
    check_named_speakers(speech_dirs, split_cfg)
    speech = [group for root in speech_dirs for group in corpus_groups(root, split, split_cfg, "speech")]
    noise = [group for root in noise_dirs for group in corpus_groups(root, split, split_cfg, "noise")]
    for kind, items, dirs in (("speech", speech, speech_dirs), ("noise", noise, noise_dirs)):
        if not items:
            raise UserError(f"{', '.join(dirs)}: {empty_split_advice(kind, split, split_cfg, split_flag=True)}")
    return speech, noise


def mixtures(
    speech: Sequence[Group],
    noise: Sequence[Group],
    snrs: Sequence[float],
    num_files: int,
    seed: int,
    rate: int,
    phrase_words: int = 1,
) -> Iterator[Mixture]:
    """`num_files` mixtures at `rate` Hz; SNRs cycle through `snrs` in order.

    With `phrase_words` N above 1 the speech of each is a phrase: N utterances of one speaker joined
    with pauses (`pipelines.phrases`), its id the utterances' ids joined by `+`.
    """
    if not all(speech) or not all(noise) or not speech or not noise or not snrs:
        raise UserError("a test set needs speech, noise and at least one SNR")
    if phrase_words < 1:
        raise UserError(f"phrase_words must be at least 1, not {phrase_words}")
    for index in range(num_files):
        rng = np.random.default_rng([seed, index])
        speech_items = _draw_phrase(speech, rng, phrase_words)
        noise_item = _draw(noise, rng)
        clean = _phrase([audio.read_mono(item.path, rate) for item in speech_items], rng, rate)
        noise_wave = audio.read_mono(noise_item.path, rate)
        offset = int(rng.integers(len(noise_wave)))
        looped = np.take(noise_wave, np.arange(offset, offset + len(clean)), mode="wrap")
        snr = float(snrs[index % len(snrs)])
        noisy, scaled_clean, _ = mix_at_snr(clean, looped, snr, MIX_GAIN_DB)
        speech_id = "+".join(item.id for item in speech_items)
        yield Mixture(f"{index:04d}.wav", snr, speech_id, noise_item.id, offset, scaled_clean.numpy(), noisy.numpy())


def _draw(groups: Sequence[Group], rng: np.random.Generator) -> AudioItem:
    """A group drawn evenly, then an item of it."""
    return _draw_phrase(groups, rng, 1)[0]


def _draw_phrase(groups: Sequence[Group], rng: np.random.Generator, words: int) -> list[AudioItem]:
    """A group drawn evenly, then `words` items of it (distinct while it has that many)."""
    group = groups[int(rng.integers(len(groups)))]
    if words == 1:
        return [group[int(rng.integers(len(group)))]]
    return [group[int(i)] for i in rng.choice(len(group), words, replace=len(group) < words)]


def _phrase(waves: list[np.ndarray], rng: np.random.Generator, rate: int) -> np.ndarray:
    """The waves joined with random pauses (`pipelines.phrases`); a single wave as it is."""
    if len(waves) == 1:
        return waves[0]
    seed = tf.constant(rng.integers(2**31, size=2), tf.int64)
    pauses = phrases.random_pauses(len(waves) - 1, seed, rate)
    return phrases.join_with_pauses(tf.ragged.constant(waves, dtype=tf.float32), pauses).numpy()


def remove_testset(output_dir: Path) -> None:
    """Delete the clean/, noisy/ and testset.csv of an earlier set in `output_dir` (nothing else)."""
    for name in TESTSET_PARTS:
        path = Path(output_dir) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def write_testset(examples: Iterator[Mixture], output_dir: Path, rate: int) -> int:
    """Write `clean/`, `noisy/` (16-bit wav) and testset.csv; returns the number of files."""
    output_dir = Path(output_dir)
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(CSV_FIELDS)
    count = 0
    for example in examples:
        audio.write_audio_atomic(output_dir / "clean" / example.file, example.clean, rate)
        audio.write_audio_atomic(output_dir / "noisy" / example.file, example.noisy, rate)
        writer.writerow([example.file, f"{example.snr:g}", example.speech_id, example.noise_id, example.offset])
        count += 1
    atomic.write_bytes_atomic(output_dir / CSV_NAME, table.getvalue().encode())
    return count


@dataclasses.dataclass(frozen=True)
class TableEntry:
    """What a test set table says of one file: its SNR and the speech and noise it was mixed from."""

    snr: float | None
    speech_id: str | None
    noise_id: str | None


def read_table(csv_path: Path) -> dict[str, TableEntry]:
    """file -> its entry in a testset.csv (empty when there is none; the id columns are optional);
    UserError naming the row of a bad SNR."""
    if not Path(csv_path).is_file():
        return {}
    entries = {}
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"file", "snr"} <= set(reader.fieldnames):
            raise UserError(f"{csv_path}: not a test set table (needs the columns file and snr)")
        for row in reader:
            try:
                snr = float(row["snr"])
            except (TypeError, ValueError):
                raise UserError(f"{csv_path}: line {reader.line_num}: snr {row['snr']!r} of {row['file']} is not a number") from None
            entries[row["file"]] = TableEntry(snr, row.get("speech_id") or None, row.get("noise_id") or None)
    return entries
