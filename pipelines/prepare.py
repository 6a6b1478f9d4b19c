"""Prepare once: decode and resample a corpus to the model rate into sharded TFRecord files.

The cache folder of a corpus is named after a key over the corpus path, its file list (with sizes
and modification times), the sample rate, the kind (speech or noise) and the split, so any change
prepares a new cache and an unchanged corpus reuses the old one. Only the `train` and `validation`
splits are written: the `test` speakers and noise files never enter a cache that training reads.
Speech is trimmed of leading and trailing silence (`audio.trim_silence`). A cache is built in a hidden temporary folder and
renamed into place when complete: a killed prepare never leaves a cache that looks valid. Corpus and
cache are on this machine, or (with a Beam writer, `prepare --runner`) on any filesystem Beam reads:
`storage.Files` is what they need of a filesystem.

    prepared = prepare_corpus("LJSpeech-1.1", default_cache_dir(), SignalConfig(), SplitConfig(), "speech")
    prepared.train_shards, prepared.manifest_path

Each record is a `tf.train.Example` with `id` (bytes), `num_samples` (int64) and `audio`
(little-endian float32 mono samples at the model rate, as bytes).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging as py_logging
import math
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from absl import logging
from tqdm import tqdm

from keras_denoiser.core.audio import read_mono, trim_silence
from keras_denoiser.core.config import SignalConfig, SplitConfig
from keras_denoiser.core.errors import AudioFileError, UserError
from keras_denoiser.pipelines.corpora import AudioItem, Corpus, Kind, Skipped, held_out_units, read_corpus, split_items
from keras_denoiser.pipelines.storage import Files, FilesFor, local_files, read_text

CACHE_FORMAT = 2
MANIFEST = "manifest.json"
ITEMS_PER_SHARD = 64
MAX_SHARDS = 16
_ANNOUNCED: set[str] = set()  # caches whose reuse was said already in this process
SPLITS = ("train", "validation")  # the splits a cache holds; `test` is never written

DecodeJob = tuple[str, str, int, bool]  # item id, path, model rate, trim silence


@dataclasses.dataclass(frozen=True)
class PreparedCorpus:
    """A complete cache of one corpus: its shards per split and the totals from its manifest."""

    root: str
    cache_path: str  # the folder holding the shards and the manifest
    manifest_path: str
    train_shards: tuple[str, ...]
    validation_shards: tuple[str, ...]
    num_train: int
    num_validation: int
    train_seconds: float
    validation_seconds: float
    num_test: int
    held_out: dict[str, list[str]]  # validation/test -> speaker (or file) keys
    skipped: tuple[Skipped, ...]
    reused: bool


@dataclasses.dataclass(frozen=True)
class CachePlan:
    """What a cache of one corpus will hold, fixed before any decoding: so every writer (this process's,
    or a Beam pipeline's) fills the same shards the same way."""

    parts: dict[str, list[AudioItem]]  # train/validation/test -> items
    split_of: dict[str, str]  # item id -> train or validation (cached items only, in job order)
    shard_names: dict[str, list[str]]  # train/validation -> shard file names
    jobs: list[DecodeJob]  # one per cached item, in corpus order


@dataclasses.dataclass
class Tally:
    """The decoded items of each split, counted in job order: each one's shard position and the manifest's totals."""

    sample_rate: int
    counts: dict[str, int] = dataclasses.field(default_factory=lambda: {name: 0 for name in SPLITS})
    seconds: dict[str, float] = dataclasses.field(default_factory=lambda: {name: 0.0 for name in SPLITS})

    def add(self, part: str, num_samples: int) -> int:
        """Count one decoded item of split `part`; its position among that split's decoded items."""
        position = self.counts[part]
        self.counts[part] += 1
        self.seconds[part] += num_samples / self.sample_rate
        return position


# Writes the shards and the manifest of `corpus` into a new, empty folder: `write_cache` here, or Beam's.
CacheWriter = Callable[[Corpus, str, SignalConfig, SplitConfig, Kind], None]


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/keras_denoiser`, or `~/.cache/keras_denoiser`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "keras_denoiser"


def prepare_corpus(
    root: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str],
    signal_cfg: SignalConfig,
    split: SplitConfig,
    kind: Kind,
    workers: int | None = None,
    progress: bool = True,
    writer: CacheWriter | None = None,
    files_for: FilesFor = local_files,
) -> PreparedCorpus:
    """Reuse the valid cache of `root`, or decode every train and validation item once into a new one.

    `workers` decoding processes (default: up to 2; 1 decodes in this process). `writer` replaces
    this process's decoding (a Beam pipeline), and `files_for` gives the filesystem of the corpus and
    of the cache (Beam's, for `gs://` paths); the key, reuse and publish stay the same.
    """
    corpus = read_corpus(root, files_for(os.fspath(root)))
    cache_dir = os.path.expanduser(os.fspath(cache_dir))
    cache = files_for(cache_dir)
    key = cache_key(corpus, signal_cfg, split, kind, files_for(corpus.root))
    final = cache.join(cache_dir, f"{_safe_name(corpus.name)}-{key}")
    existing = _load_valid(final, cache, reused=True)
    if existing is not None:
        if final not in _ANNOUNCED:  # train reuses each cache for its train, validation and preview sets
            _ANNOUNCED.add(final)
            logging.info("reusing prepared cache %s", final)
        return existing
    tmp = cache.new_folder(cache_dir)
    try:
        if writer is None:
            _write_cache(corpus, tmp, signal_cfg, split, kind, workers, progress)
        else:
            writer(corpus, tmp, signal_cfg, split, kind)
        try:
            cache.publish(tmp, final, last=MANIFEST)
        except OSError:  # another process completed the same cache first
            if _load_valid(final, cache, reused=True) is None:
                raise UserError(f"{final}: exists but is not a complete cache; delete it and prepare again") from None
    finally:
        cache.remove(tmp)
    prepared = _load_valid(final, cache, reused=False)
    if prepared is None:
        raise UserError(f"{final}: prepared cache is incomplete")
    return prepared


def prepare_all(
    roots: Sequence[str | os.PathLike[str]],
    cache_dir: str | os.PathLike[str],
    signal_cfg: SignalConfig,
    split: SplitConfig,
    kind: Kind,
    workers: int | None = None,
) -> list[PreparedCorpus]:
    """`prepare_corpus` for each root, in order."""
    return [prepare_corpus(root, cache_dir, signal_cfg, split, kind, workers) for root in roots]


def held_out_record(prepared: Sequence[PreparedCorpus]) -> dict[str, list[str]]:
    """validation/test -> every held-out speaker (or noise file) key of `prepared`: what a run never trained on."""
    return {name: sorted(key for corpus in prepared for key in corpus.held_out[name]) for name in ("validation", "test")}


def cache_key(corpus: Corpus, signal_cfg: SignalConfig, split: SplitConfig, kind: Kind, files: Files) -> str:
    """Hex key over the corpus path, file list with sizes and mtimes, the audio parameters and the split."""
    listing = []
    for item in corpus.items:
        stat = files.stat(item.path)
        if stat is None:
            raise UserError(f"{item.path}: no such file (removed while the corpus was read)")
        listing.append([item.id, *stat])
    description = {
        "format": CACHE_FORMAT,
        "root": corpus.origin,
        "files": listing,
        "skipped": sorted(entry.path for entry in corpus.skipped),
        "sample_rate": signal_cfg.sample_rate,
        "kind": kind,
        # Without named validation speakers the key is the one caches had before that field existed.
        "split": {k: v for k, v in dataclasses.asdict(split).items() if k != "validation_speakers" or v},
    }
    return hashlib.sha256(json.dumps(description).encode("utf-8")).hexdigest()[:16]


def summary_lines(prepared: PreparedCorpus) -> list[str]:
    """A human-readable summary: counts, durations, skipped files with reasons."""
    lines = [
        f"{prepared.root}: {prepared.num_train} train files ({prepared.train_seconds / 60:.1f} min), "
        f"{prepared.num_validation} validation files ({prepared.validation_seconds / 60:.1f} min), "
        f"{prepared.num_test} test files (not cached), "
        f"{len(prepared.skipped)} skipped; {'reused' if prepared.reused else 'prepared'} "
        f"{prepared.cache_path}"
    ]
    lines += [f"  held out for {name}: {', '.join(keys)}" for name, keys in prepared.held_out.items() if keys]
    lines += [f"  skipped {entry.path}: {entry.reason}" for entry in prepared.skipped]
    return lines


def _safe_name(name: str) -> str:
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
    return name or "corpus"


def plan_cache(corpus: Corpus, signal_cfg: SignalConfig, split: SplitConfig, kind: Kind) -> CachePlan:
    """The split, the shard names and the decoding jobs of `corpus`."""
    parts = split_items(corpus, kind, split)
    split_of = {item.id: name for name in SPLITS for item in parts[name]}
    by_id = {item.id: item for item in corpus.items}
    return CachePlan(
        parts=parts,
        split_of=split_of,
        shard_names={name: _shard_names(name, len(parts[name])) for name in SPLITS},
        jobs=[(item_id, str(by_id[item_id].path), signal_cfg.sample_rate, kind == "speech") for item_id in split_of],
    )


def shard_of(position: int, num_shards: int) -> int:
    """The shard of a split's `position`-th decoded item (skipped items not counted): round robin."""
    return position % num_shards


def decode_job(job: DecodeJob) -> tuple[str, np.ndarray | str]:
    """(id, samples) or (id, reason) for one file, silence trimmed when asked; runs in a worker process."""
    item_id, path, rate, trim = job
    try:
        samples = read_mono(path, rate)
    except AudioFileError as err:
        return item_id, err.reason
    return item_id, trim_silence(samples, rate) if trim else samples


def skipped_item(path: str | os.PathLike[str], reason: str) -> Skipped:
    """A file that did not decode, as the manifest lists it, with its warning line."""
    logging.warning("skipped %s: %s", path, reason)
    return Skipped(str(path), reason)


def _decoded(jobs: list[DecodeJob], workers: int) -> Iterator[tuple[str, np.ndarray | str]]:
    if workers <= 1 or len(jobs) < 2:
        yield from map(decode_job, jobs)
        return
    with contextlib.ExitStack() as stack:
        with _ctrl_c_deferred():  # a Ctrl-C during the workers' start-up is the parent's alone, and waits for the pool
            pool = stack.enter_context(multiprocessing.get_context("spawn").Pool(workers, initializer=_worker_start))
        yield from pool.imap(decode_job, jobs, chunksize=4)


def _worker_start() -> None:
    """A decoding worker's set-up: plain warnings, and Ctrl-C left to the parent. The terminal sends
    SIGINT to every process of the command; the parent ends the pool and says so in one line, where each
    worker would print a KeyboardInterrupt traceback of its own."""
    plain_warnings()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """Ctrl-C held back for the block and delivered as it ends, so it never lands inside it.

    Two holds, for two reasons. SIGINT is blocked in this thread: processes started in the block begin
    with it blocked (a mask survives fork and exec) until their set-up ignores it. And Python's handler
    only records it: a blocked thread does not stop the signal, which reaches the process through its
    other threads, and Python would then raise KeyboardInterrupt in the main thread at its next bytecode,
    inside the block. Inside `Pool()` that left a half-built pool whose semaphores were removed while its
    workers still started, each printing a traceback."""
    resource_tracker.ensure_running()  # now, not in the block: starting it unblocks SIGINT after its own start
    held: list[int] = []
    in_main_thread = threading.current_thread() is threading.main_thread()  # only it may set handlers, only it runs them
    previous_handler = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum)) if in_main_thread else None
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)  # a SIGINT pending on this thread is recorded now
        if in_main_thread:
            signal.signal(signal.SIGINT, previous_handler)
    if held:
        signal.raise_signal(signal.SIGINT)  # to the handler the command had: KeyboardInterrupt, once


def plain_warnings() -> None:
    """A worker's warnings (a peak above full scale) as `warning: file: reason`, as the CLI prints them,
    not `WARNING:absl:`: a spawned worker has no absl handler. Workers log nothing but warnings."""
    py_logging.basicConfig(format="warning: %(message)s", level=py_logging.WARNING)


def _write_cache(
    corpus: Corpus,
    folder: str,
    signal_cfg: SignalConfig,
    split: SplitConfig,
    kind: Kind,
    workers: int | None,
    progress: bool,
) -> None:
    import tensorflow as tf  # heavy; only needed when a cache is written

    start = time.monotonic()
    by_id: dict[str, AudioItem] = {item.id: item for item in corpus.items}
    plan = plan_cache(corpus, signal_cfg, split, kind)
    writers = {name: [tf.io.TFRecordWriter(os.path.join(folder, n)) for n in names] for name, names in plan.shard_names.items()}
    tally = Tally(signal_cfg.sample_rate)
    failed: list[Skipped] = []
    workers = min(2, os.cpu_count() or 1) if workers is None else workers
    try:
        decoded = _decoded(plan.jobs, workers)
        bar = tqdm(decoded, total=len(plan.jobs), desc=f"prepare {corpus.name}", unit="file", disable=None if progress else True)  # a bar on a terminal only
        for item_id, samples in bar:
            if isinstance(samples, str):
                failed.append(skipped_item(by_id[item_id].path, samples))
                continue
            part = plan.split_of[item_id]
            shards = writers[part]
            shards[shard_of(tally.add(part, len(samples)), len(shards))].write(encode_example(item_id, samples))
    finally:
        for split_writers in writers.values():
            for writer in split_writers:
                writer.close()
    write_manifest(local_files(folder), folder, corpus, signal_cfg, split, kind, plan, tally, failed, start)


def write_manifest(
    files: Files,
    folder: str,
    corpus: Corpus,
    signal_cfg: SignalConfig,
    split: SplitConfig,
    kind: Kind,
    plan: CachePlan,
    tally: Tally,
    failed: Sequence[Skipped],
    start: float,
) -> None:
    """The manifest that makes `folder` a complete cache: written last, once every shard is."""
    skipped = [*corpus.skipped, *failed]
    manifest = {
        "format": CACHE_FORMAT,
        "corpus": corpus.origin,
        "sample_rate": signal_cfg.sample_rate,
        "kind": kind,
        "split": dataclasses.asdict(split),
        "held_out": held_out_units(corpus, kind, split),
        "counts": {**tally.counts, "test": len(plan.parts["test"]), "skipped": len(skipped)},
        "seconds": {**tally.seconds, "total": tally.seconds["train"] + tally.seconds["validation"]},
        "shards": plan.shard_names,
        "skipped": [dataclasses.asdict(entry) for entry in skipped],
        "prepare_seconds": round(time.monotonic() - start, 3),
    }
    files.write_text(files.join(folder, MANIFEST), json.dumps(manifest, indent=2) + "\n")


def _shard_names(split: str, num_items: int) -> list[str]:
    count = min(MAX_SHARDS, math.ceil(num_items / ITEMS_PER_SHARD))
    return [f"{split}-{i:05d}-of-{count:05d}.tfrecord" for i in range(count)]


def encode_example(item_id: str, samples: np.ndarray) -> bytes:
    """One cache record: a serialized `tf.train.Example` (see the module docstring)."""
    import tensorflow as tf  # heavy; only needed when a cache is written

    feature = {
        "id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[item_id.encode("utf-8")])),
        "num_samples": tf.train.Feature(int64_list=tf.train.Int64List(value=[len(samples)])),
        "audio": tf.train.Feature(bytes_list=tf.train.BytesList(value=[samples.astype("<f4").tobytes()])),
    }
    # deterministic: map fields in key order, so the bytes do not depend on the process that wrote them
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def _load_valid(folder: str, files: Files, reused: bool) -> PreparedCorpus | None:
    """The PreparedCorpus of a complete cache folder, or None when it is missing or incomplete."""
    try:
        manifest = json.loads(read_text(files, files.join(folder, MANIFEST)))
        shards = {split: tuple(files.join(folder, name) for name in manifest["shards"][split]) for split in SPLITS}
        if not all(files.stat(path) is not None for paths in shards.values() for path in paths):
            return None
        return PreparedCorpus(
            root=manifest["corpus"],
            cache_path=folder,
            manifest_path=files.join(folder, MANIFEST),
            train_shards=shards["train"],
            validation_shards=shards["validation"],
            num_train=manifest["counts"]["train"],
            num_validation=manifest["counts"]["validation"],
            train_seconds=manifest["seconds"]["train"],
            validation_seconds=manifest["seconds"]["validation"],
            num_test=manifest["counts"]["test"],
            held_out=manifest["held_out"],
            skipped=tuple(Skipped(**entry) for entry in manifest["skipped"]),
            reused=reused,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
