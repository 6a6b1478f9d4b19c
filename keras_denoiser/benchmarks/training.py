"""Training speed of network variants: steps/s and audio seconds/s, on the same batches in one run.

Each variant (model, size, context layers or bands, loss) is built and compiled exactly as `train`
builds it and runs `train_on_batch` on a few batches drawn once from the input graph and held in
memory. The figures exclude input time (`benchmark pipeline` says whether the graph keeps up), so
they compare what each variant costs per example: how much audio an hour of training sees. Each row
also gives the network's multiply-adds per second of audio and its streaming state
(`benchmarks.cost`). By default the bundled models' own recipes are timed, marked "(bundled)".
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Sequence

import tensorflow as tf

from keras_denoiser.benchmarks.cost import network_cost
from keras_denoiser.benchmarks.variants import Variant
from keras_denoiser.core.config import TrainConfig
from keras_denoiser.pipelines.dataset import build_datasets
from keras_denoiser.training.train import build_model

PathLike = str | os.PathLike[str]
WARMUP_STEPS = 2
HELD_BATCHES = 4
@dataclasses.dataclass(frozen=True)
class TrainingSpeed:
    """A variant's measured rate (audio seconds per second is examples/s x crop length) and cost."""

    variant: str
    parameters: int
    steps_per_second: float
    audio_seconds_per_second: float
    multiply_adds_per_second: float
    state_bytes: int


def benchmark_training(
    speech_dirs: Sequence[PathLike],
    noise_dirs: Sequence[PathLike],
    cache_dir: PathLike,
    cfg: TrainConfig,
    variants: Sequence[Variant],
    steps: int,
) -> list[TrainingSpeed]:
    """Time `steps` training steps of each variant on `cfg`'s batches (one set per loss and signal)."""
    batches: dict[tuple, list] = {}
    results = []
    for variant in variants:
        run_cfg = dataclasses.replace(cfg, model=variant.model, loss=variant.loss, signal=variant.signal)
        key = (variant.loss, variant.signal)
        if key not in batches:
            train, _ = build_datasets(speech_dirs, noise_dirs, cache_dir, run_cfg)
            batches[key] = [batch for batch, _ in zip(train, range(HELD_BATCHES))]
        model = build_model(run_cfg, tf.distribute.get_strategy(), mixed_precision=False)
        rate = train_steps_per_second(model, batches[key], steps)
        audio_rate = rate * cfg.batch_size * cfg.mix.crop_seconds
        cost = network_cost(model, run_cfg)
        results.append(TrainingSpeed(
            variant.label, model.count_params(), rate, audio_rate, cost.multiply_adds_per_second, cost.state_bytes
        ))
    return results


def train_steps_per_second(model, batches: Sequence[tuple], steps: int) -> float:
    """`train_on_batch` steps per second of a compiled model, cycling over in-memory batches
    (input, target[, sample weights]), after a short warm-up."""
    for batch in batches[:WARMUP_STEPS]:
        model.train_on_batch(*batch)
    start = time.perf_counter()
    for step in range(steps):
        model.train_on_batch(*batches[step % len(batches)])
    return steps / (time.perf_counter() - start)


def table_lines(results: Sequence[TrainingSpeed], cfg: TrainConfig, steps: int) -> list[str]:
    """One row per variant, with its rate relative to the first."""
    width = max(len(r.variant) for r in results)
    header = (
        f"batch {cfg.batch_size} x {cfg.mix.crop_seconds:g} s, {steps} timed steps each\n"
        f"{'variant':<{width}}  {'parameters':>10}  {'M MAC/s':>8}  {'state KB':>8}  {'steps/s':>7}  "
        f"{'audio s/s':>9}  {'vs first':>8}"
    )
    first = results[0].steps_per_second
    rows = [
        f"{r.variant:<{width}}  {r.parameters:>10,}  {r.multiply_adds_per_second / 1e6:>8.1f}  "
        f"{r.state_bytes / 1024:>8.1f}  {r.steps_per_second:>7.2f}  "
        f"{r.audio_seconds_per_second:>9.1f}  {r.steps_per_second / first:>7.2f}x"
        for r in results
    ]
    return [header, *rows]
