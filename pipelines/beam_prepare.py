"""`prepare --runner=NAME`: the cache of `pipelines.prepare`, decoded by an Apache Beam pipeline.

The plan, decoding, records, shard rule and manifest are prepare's own (`plan_cache`, `decode_job`,
`encode_example`, `Tally`, `write_manifest`), and `prepare_corpus` keys, reuses and publishes the
cache as it always does; only the decoding is spread over Beam's workers. The pipeline decodes every
job once, gathers the small outcome of each (job index, length, reason), assigns the decoded ones
to shards in job order as the local prepare does, and writes each shard sorted by job index: the
shards are the local prepare's, record for record. A worker holds one shard's records at a time.
Corpus and cache may be on any filesystem Beam reads (`beam_storage.files_for`).

    prepare_corpus(root, cache_dir, signal, split, "speech", writer=cache_writer("DirectRunner", []), files_for=files_for)
"""

from __future__ import annotations

import functools
import json
import time
from typing import Iterable, Sequence

from keras_denoiser.core import beam_io
from keras_denoiser.core.beam_io import beam
from keras_denoiser.core.config import SignalConfig, SplitConfig
from keras_denoiser.pipelines.beam_storage import files_for
from keras_denoiser.pipelines.corpora import Corpus, Kind
from keras_denoiser.pipelines.prepare import (
    SPLITS,
    CachePlan,
    CacheWriter,
    DecodeJob,
    Tally,
    decode_job,
    encode_example,
    plan_cache,
    shard_of,
    skipped_item,
    write_manifest,
)

OUTCOMES = ".outcomes.json"  # the pipeline's report to the launcher: (job index, samples, reason) per job

Outcome = tuple[int, int, str | None]  # job index, decoded samples, reason it did not decode (or None)


def cache_writer(runner: str, beam_options: Sequence[str]) -> CacheWriter:
    """A `prepare_corpus` writer that decodes on Beam's `runner`."""
    return functools.partial(_write_cache, runner=runner, beam_options=tuple(beam_options))


def _write_cache(
    corpus: Corpus,
    folder: str,
    signal_cfg: SignalConfig,
    split: SplitConfig,
    kind: Kind,
    *,
    runner: str,
    beam_options: tuple[str, ...],
) -> None:
    start = time.monotonic()
    plan = plan_cache(corpus, signal_cfg, split, kind)
    outcomes_path = beam_io.join(folder, OUTCOMES)

    def build(pipeline: beam.Pipeline) -> None:
        decoded = (
            pipeline
            | "jobs" >> beam.Create(list(enumerate(plan.jobs)))
            | "spread" >> beam.Reshuffle()
            | "decode" >> beam.Map(_decode)
        )
        outcomes = decoded | "outcome" >> beam.Map(lambda row: row[0]) | "gather" >> beam.combiners.ToList()
        shards = outcomes | "assign" >> beam.Map(lambda rows: _assign(rows, plan, signal_cfg.sample_rate)[0])
        _ = (
            decoded
            | "decoded" >> beam.Filter(lambda row: row[1] is not None)
            | "key by shard" >> beam.Map(lambda row, names: (names[row[0][0]], (row[0][0], row[1])), beam.pvalue.AsSingleton(shards))
            | "group" >> beam.GroupByKey()
            | "write shard" >> beam.MapTuple(lambda name, records: _write_shard(name, records, folder))
        )
        _ = outcomes | "report" >> beam.Map(lambda rows: beam_io.write_text(outcomes_path, json.dumps(rows)))

    beam_io.run(build, runner, beam_options)
    outcomes = sorted(tuple(row) for row in json.loads(beam_io.read_text(outcomes_path)))
    beam_io.delete([outcomes_path])
    _, tally = _assign(outcomes, plan, signal_cfg.sample_rate)
    failed = [skipped_item(plan.jobs[index][1], reason) for index, _, reason in outcomes if reason is not None]
    for name in (name for part in SPLITS for name in plan.shard_names[part]):
        if not beam_io.exists(beam_io.join(folder, name)):  # every one of its files was skipped: an empty shard, as the local prepare leaves
            _write_shard(name, [], folder)
    write_manifest(files_for(folder), folder, corpus, signal_cfg, split, kind, plan, tally, failed, start)


def _decode(indexed: tuple[int, DecodeJob]) -> tuple[Outcome, bytes | None]:
    """One job's outcome and record (None when it did not decode); the record is encoded on the worker."""
    index, (item_id, path, rate, trim) = indexed
    with beam_io.local_input(path) as local:
        _, samples = decode_job((item_id, str(local), rate, trim))
    if isinstance(samples, str):
        return (index, 0, samples), None
    return (index, len(samples), None), encode_example(item_id, samples)


def _assign(outcomes: list[Outcome], plan: CachePlan, sample_rate: int) -> tuple[dict[int, str], Tally]:
    """job index -> shard file of every decoded job, by the local prepare's rule (`Tally`, `shard_of`), and the tally."""
    tally = Tally(sample_rate)
    names: dict[int, str] = {}
    for index, num_samples, reason in sorted(outcomes):
        if reason is None:
            part = plan.split_of[plan.jobs[index][0]]
            part_names = plan.shard_names[part]
            names[index] = part_names[shard_of(tally.add(part, num_samples), len(part_names))]
    return names, tally


def _write_shard(name: str, records: Iterable[tuple[int, bytes]], folder: str) -> None:
    """One shard file, its records in job order, published whole."""
    import tensorflow as tf

    with beam_io.output_file(beam_io.join(folder, name)) as local, tf.io.TFRecordWriter(str(local)) as writer:
        for _, record in sorted(records):
            writer.write(record)
