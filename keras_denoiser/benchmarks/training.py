"""Training speed of U-Net variants: steps/s and audio seconds/s, on the same batches in one run.

Each variant (model, size, context layers, loss) is built and compiled exactly as `train` builds it
and runs `train_on_batch` on a few batches drawn once from the input graph and held in memory. The
figures exclude input time (`benchmark pipeline` shows the graph is far faster than training), so
they compare what each variant costs per example: how much audio an hour of training sees.
"""

from __future__ import annotations

import dataclasses
import os
import re
import time
from typing import Sequence

import tensorflow as tf

from keras_denoiser.core.config import LOSSES, ModelConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.training.train import build_model
from pipelines.dataset import build_datasets

PathLike = str | os.PathLike[str]
WARMUP_STEPS = 2
HELD_BATCHES = 4
_VARIANT = re.compile(r"^(?P<name>\w+):(?P<depth>\d+)x(?P<filters>\d+)(?::(?P<context>\d+)(?:b(?P<band>\d+))?)?(?::(?P<loss>\w+))?$")
# The bundled models' recipes (unet v2, unet_causal v2 and v3), and what a spectral loss costs.
DEFAULT_VARIANTS = (
    "unet:3x16:0:weighted_mask_mse",
    "unet:3x16:0:compressed_spectral",
    "unet_causal:3x12:0:weighted_mask_mse",
    "unet_causal:3x12:6:weighted_mask_mse",
)


@dataclasses.dataclass(frozen=True)
class Variant:
    """One network and loss to time."""

    model: ModelConfig
    loss: str

    @property
    def label(self) -> str:
        m = self.model
        band = f" + {m.band_context_layers} band" if m.band_context_layers else ""
        return f"{m.name} {m.depth}x{m.base_filters}, {m.context_layers} context{band}, {self.loss}"


@dataclasses.dataclass(frozen=True)
class TrainingSpeed:
    """A variant's measured rate; audio seconds per second is examples/s x crop length."""

    variant: str
    parameters: int
    steps_per_second: float
    audio_seconds_per_second: float


def parse_variant(text: str) -> Variant:
    """`unet_causal:3x12[:CONTEXT_LAYERS[bBAND_CONTEXT_LAYERS][:LOSS]]` -> Variant (no context and
    weighted_mask_mse by default); `6b4` is 6 context layers and 4 band context layers."""
    match = _VARIANT.match(text.strip())
    if not match:
        raise UserError(
            f"variant {text!r} is not MODEL:DEPTHxFILTERS[:CONTEXT_LAYERS[bBAND_CONTEXT_LAYERS][:LOSS]], "
            "e.g. unet_causal:3x12:6b4:compressed_spectral"
        )
    loss = match["loss"] or "weighted_mask_mse"
    if loss not in LOSSES:
        raise UserError(f"variant {text!r}: unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
    model = ModelConfig(
        name=match["name"], depth=int(match["depth"]), base_filters=int(match["filters"]),
        context_layers=int(match["context"] or 0), band_context_layers=int(match["band"] or 0),
    )
    return Variant(model, loss)


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
        results.append(TrainingSpeed(variant.label, model.count_params(), rate, audio_rate))
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
        f"{'variant':<{width}}  {'parameters':>10}  {'steps/s':>7}  {'audio s/s':>9}  {'vs first':>8}"
    )
    first = results[0].steps_per_second
    rows = [
        f"{r.variant:<{width}}  {r.parameters:>10,}  {r.steps_per_second:>7.2f}  "
        f"{r.audio_seconds_per_second:>9.1f}  {r.steps_per_second / first:>7.2f}x"
        for r in results
    ]
    return [header, *rows]
