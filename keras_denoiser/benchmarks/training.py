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
import re
import time
from typing import Sequence

import tensorflow as tf

from keras_denoiser.benchmarks.cost import network_cost
from keras_denoiser.core import assets
from keras_denoiser.core.config import LOSSES, ModelConfig, TrainConfig, load_json
from keras_denoiser.core.errors import UserError
from keras_denoiser.training.train import build_model
from pipelines.dataset import build_datasets

PathLike = str | os.PathLike[str]
WARMUP_STEPS = 2
HELD_BATCHES = 4
_VARIANT = re.compile(
    r"^(?P<name>\w+):(?P<depth>\d+)x(?P<filters>\d+)"
    r"(?::(?:(?P<bands>\d+)g(?P<units>\d+)|(?P<context>\d+)(?:b(?P<band>\d+))?))?(?::(?P<loss>\w+))?$"
)
VARIANT_FORMS = (
    "MODEL:DEPTHxFILTERS[:CONTEXT_LAYERS[bBAND_CONTEXT_LAYERS]][:LOSS] or "
    "unet_compact:DEPTHxFILTERS[:BANDSgGRU_UNITS][:LOSS], e.g. unet_causal:3x12:6b4 or unet_compact:2x16:64g128"
)
# The bundled models whose recipes are timed by default: the streaming one first.
BUNDLED_RECIPES = ("unet_causal", "unet")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One network and loss to time; `bundled` when it is a bundled model's recipe."""

    model: ModelConfig
    loss: str
    bundled: bool = False

    @property
    def label(self) -> str:
        m = self.model
        if m.name == "unet_compact":
            shape = f"{m.bands} bands, GRU {m.rnn_units}"
        else:
            shape = f"{m.context_layers} context" + (f" + {m.band_context_layers} band" if m.band_context_layers else "")
        lookahead = f", lookahead {m.lookahead_frames}" if m.lookahead_frames else ""
        return f"{m.name} {m.depth}x{m.base_filters}, {shape}{lookahead}, {self.loss}" + (" (bundled)" if self.bundled else "")


@dataclasses.dataclass(frozen=True)
class TrainingSpeed:
    """A variant's measured rate (audio seconds per second is examples/s x crop length) and cost."""

    variant: str
    parameters: int
    steps_per_second: float
    audio_seconds_per_second: float
    multiply_adds_per_second: float
    state_bytes: int


def parse_variant(text: str) -> Variant:
    """A variant from its text (`VARIANT_FORMS`): no context layers and weighted_mask_mse unless given."""
    match = _VARIANT.match(text.strip())
    if not match:
        raise UserError(f"variant {text!r} is not {VARIANT_FORMS}")
    loss = match["loss"] or "weighted_mask_mse"
    if loss not in LOSSES:
        raise UserError(f"variant {text!r}: unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
    compact = {"bands": int(match["bands"]), "rnn_units": int(match["units"])} if match["bands"] else {}
    model = ModelConfig(
        name=match["name"], depth=int(match["depth"]), base_filters=int(match["filters"]),
        context_layers=int(match["context"] or 0), band_context_layers=int(match["band"] or 0), **compact,
    )
    return Variant(model, loss)


def bundled_variants() -> list[Variant]:
    """The bundled models' own networks and losses (`BUNDLED_RECIPES`), read from their configs."""
    configs = [load_json(TrainConfig, assets.ASSETS_DIR / "models" / f"{name}.json") for name in BUNDLED_RECIPES]
    return [Variant(cfg.model, cfg.loss, bundled=True) for cfg in configs]


def benchmark_training(
    speech_dirs: Sequence[PathLike],
    noise_dirs: Sequence[PathLike],
    cache_dir: PathLike,
    cfg: TrainConfig,
    variants: Sequence[Variant],
    steps: int,
) -> list[TrainingSpeed]:
    """Time `steps` training steps of each variant on `cfg`'s batches (one set of batches per loss)."""
    batches: dict[str, list] = {}
    results = []
    for variant in variants:
        run_cfg = dataclasses.replace(cfg, model=variant.model, loss=variant.loss)
        if variant.loss not in batches:
            train, _ = build_datasets(speech_dirs, noise_dirs, cache_dir, run_cfg)
            batches[variant.loss] = [batch for batch, _ in zip(train, range(HELD_BATCHES))]
        model = build_model(run_cfg, tf.distribute.get_strategy(), mixed_precision=False)
        rate = train_steps_per_second(model, batches[variant.loss], steps)
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
