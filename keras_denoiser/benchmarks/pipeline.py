"""Speed of the input graph, of a plain Python generator doing the same work, and of training steps.

The Python baseline is what a tf.data graph replaces: per example it reads and resamples a speech
file and a noise file (soundfile + soxr), crops, mixes and computes STFT, log-magnitude and IRM in
numpy. The graph is timed three times: without augmentation (the Python baseline's work), with
the augmentations the bundled streaming recipe trains with, and with every augmentation training
can use (`pipelines.augment`, speed changes, phrases) applied to every example, which bounds what
augmentation can cost. Training speed is `train_on_batch` steps of that recipe
(`benchmarks.variants.bundled_configs`; its crop length and SNRs are used throughout) on batches
held in memory, so it excludes input time; training waits for its input when the recipe's graph
delivers fewer examples per second than the steps consume.
`benchmark training` compares network variants.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Iterable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from keras_denoiser.benchmarks.training import train_steps_per_second
from keras_denoiser.benchmarks.variants import bundled_configs, bundled_variant
from keras_denoiser.core.audio import read_mono
from keras_denoiser.core.config import TrainConfig
from keras_denoiser.core.features import LOG_EPSILON
from keras_denoiser.core.mixing import mix_at_snr
from keras_denoiser.pipelines.corpora import AudioItem, Kind, read_corpus, split_items
from keras_denoiser.pipelines.dataset import build_datasets
from keras_denoiser.training.train import build_model
from tflite_demo.stft import log_magnitude, stft

PathLike = str | os.PathLike[str]
WARMUP_BATCHES = 2
# Every augmentation on every example (MixConfig field -> value): what augmentation can cost at most.
ALL_AUGMENTATIONS = dict(
    speed_perturb=0.05, reverb_probability=1.0, channel_probability=1.0, second_noise_probability=1.0,
    stationary_noise_probability=1.0, tonal_event_probability=1.0, noise_variety_probability=1.0, phrase_words=4,
)


@dataclasses.dataclass(frozen=True)
class PipelineBenchmark:
    """Measured rates; `input_bound` when the graph is slower than training consumes."""

    batch_size: int
    crop_seconds: float  # the bundled recipe's: its examples are this long
    steps: int
    graph_examples_per_second: float  # no augmentation: the Python generator's work
    recipe_examples_per_second: float  # the augmentations the bundled recipe trains with, at its probabilities
    augmented_examples_per_second: float  # every augmentation on every example: a bound
    python_examples_per_second: float
    train_steps_per_second: float
    trained: str  # the recipe whose steps are timed

    @property
    def speedup(self) -> float:
        """How many times faster the tf.data graph is than the Python generator."""
        return self.graph_examples_per_second / self.python_examples_per_second

    @property
    def train_examples_per_second(self) -> float:
        """Examples per second the training steps consume."""
        return self.train_steps_per_second * self.batch_size

    @property
    def input_bound(self) -> bool:
        """True when training the recipe would wait for its input graph."""
        return self.recipe_examples_per_second < self.train_examples_per_second

    @property
    def input_headroom(self) -> float:
        """How many times the examples training consumes the recipe's graph delivers."""
        return self.recipe_examples_per_second / self.train_examples_per_second

    @property
    def augmented_headroom(self) -> float:
        """The same with every augmentation on every example."""
        return self.augmented_examples_per_second / self.train_examples_per_second


def benchmark_pipeline(
    speech_dirs: Sequence[PathLike], noise_dirs: Sequence[PathLike], cache_dir: PathLike, cfg: TrainConfig, steps: int
) -> PipelineBenchmark:
    """Time `steps` batches of the graph, of the Python generator, and `steps` training steps of the
    bundled streaming recipe: its network, loss, STFT and mixtures (crop length, SNRs, noise draw),
    without augmentation, with its augmentations and with every augmentation on every example; `cfg`
    gives the batch size and the split."""
    recipe = bundled_configs()[0]
    plain_mix = dataclasses.replace(recipe.mix, **dict.fromkeys(ALL_AUGMENTATIONS, 0))  # every augmentation off
    cfg = dataclasses.replace(cfg, model=recipe.model, loss=recipe.loss, signal=recipe.signal, mix=plain_mix)
    train, _ = build_datasets(speech_dirs, noise_dirs, cache_dir, cfg)
    graph_rate = examples_per_second(iter(train), steps, cfg.batch_size)
    as_trained, _ = build_datasets(speech_dirs, noise_dirs, cache_dir, dataclasses.replace(cfg, mix=recipe.mix))
    recipe_rate = examples_per_second(iter(as_trained), steps, cfg.batch_size)
    every_augmentation = dataclasses.replace(recipe.mix, **ALL_AUGMENTATIONS)
    augmented, _ = build_datasets(speech_dirs, noise_dirs, cache_dir, dataclasses.replace(cfg, mix=every_augmentation))
    augmented_rate = examples_per_second(iter(augmented), steps, cfg.batch_size)
    python = python_batches(_train_items(speech_dirs, cfg, "speech"), _train_items(noise_dirs, cfg, "noise"), cfg)
    python_rate = examples_per_second(python, steps, cfg.batch_size)
    batches = [batch for batch, _ in zip(train, range(min(steps, 4)))]
    model = build_model(cfg, tf.distribute.get_strategy(), mixed_precision=False)
    return PipelineBenchmark(
        batch_size=cfg.batch_size,
        crop_seconds=cfg.mix.crop_seconds,
        steps=steps,
        graph_examples_per_second=graph_rate,
        recipe_examples_per_second=recipe_rate,
        augmented_examples_per_second=augmented_rate,
        python_examples_per_second=python_rate,
        train_steps_per_second=train_steps_per_second(model, batches, steps),
        trained=bundled_variant(recipe).label,
    )


def examples_per_second(batches: Iterator, steps: int, batch_size: int) -> float:
    """Examples per second drawn from `batches` over `steps` batches, after a short warm-up."""
    for _ in range(WARMUP_BATCHES):
        next(batches)
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    return steps * batch_size / (time.perf_counter() - start)


def python_batches(
    speech: Sequence[AudioItem], noise: Sequence[AudioItem], cfg: TrainConfig
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Batches of (log_magnitude, irm) made per example in Python: read, resample, crop, mix, STFT.

    Noise files are drawn uniformly where the recipe's graph first draws a folder: which file is read
    changes the mixture, not the work of making it, which is what this generator is timed for."""
    rng = np.random.default_rng(cfg.seed)
    length = int(round(cfg.mix.crop_seconds * cfg.signal.sample_rate))
    while True:
        examples = [_python_example(speech, noise, cfg, length, rng) for _ in range(cfg.batch_size)]
        yield np.stack([e[0] for e in examples]), np.stack([e[1] for e in examples])


def _python_example(speech, noise, cfg: TrainConfig, length: int, rng: np.random.Generator):
    rate = cfg.signal.sample_rate
    clean = read_mono(speech[rng.integers(len(speech))].path, rate)
    spare = max(length - len(clean), 0)
    left = rng.integers(spare + 1)
    clean = np.pad(clean, (left, spare - left))
    start = rng.integers(len(clean) - length + 1)
    clean = clean[start : start + length]
    hiss = read_mono(noise[rng.integers(len(noise))].path, rate)
    hiss = hiss[(rng.integers(len(hiss)) + np.arange(length)) % len(hiss)]
    snr_db = rng.uniform(cfg.mix.snr_db_min, cfg.mix.snr_db_max)
    gain_db = rng.uniform(cfg.mix.gain_db_min, cfg.mix.gain_db_max)
    _, clean, hiss = mix_at_snr(clean, hiss, snr_db, gain_db)
    signal = cfg.signal
    speech_spec = stft(clean, signal.frame_length, signal.hop_length, signal.pad)
    noise_spec = stft(hiss, signal.frame_length, signal.hop_length, signal.pad)
    speech_power, noise_power = np.abs(speech_spec) ** 2, np.abs(noise_spec) ** 2
    irm = np.sqrt(np.divide(speech_power, speech_power + noise_power, out=np.zeros_like(speech_power),
                            where=speech_power + noise_power > 0))
    return log_magnitude(speech_spec + noise_spec, LOG_EPSILON), irm.astype(np.float32)


def _train_items(dirs: Iterable[PathLike], cfg: TrainConfig, kind: Kind) -> list[AudioItem]:
    """The training items of `dirs`, as the graph pipeline reads them."""
    return [item for root in dirs for item in split_items(read_corpus(root), kind, cfg.split)["train"]]


def table_lines(result: PipelineBenchmark) -> list[str]:
    """The benchmark as a small plain-text table."""
    rows = [
        ("tf.data graph", f"{result.graph_examples_per_second:.1f} examples/s"),
        ("tf.data graph, the recipe's augmentations", f"{result.recipe_examples_per_second:.1f} examples/s"),
        ("tf.data graph, all augmentations", f"{result.augmented_examples_per_second:.1f} examples/s"),
        ("Python generator", f"{result.python_examples_per_second:.1f} examples/s"),
        ("graph / Python", f"{result.speedup:.1f}x"),
        (f"training ({result.trained})", f"{result.train_steps_per_second:.2f} steps/s = "
                                         f"{result.train_examples_per_second:.1f} examples/s"),
        ("recipe's graph / training", f"{result.input_headroom:.1f}x"),
        ("all augmentations / training", f"{result.augmented_headroom:.1f}x"),
        ("input-bound", "yes" if result.input_bound else "no"),
    ]
    width = max(len(name) for name, _ in rows)
    header = f"batch size {result.batch_size} of {result.crop_seconds:g} s crops, {result.steps} timed batches each"
    return [header, *(f"{name:<{width}}  {value}" for name, value in rows)]
