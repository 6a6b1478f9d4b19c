"""Measure the training input graph against a plain Python generator, and the training step rate.

    keras_denoiser benchmark pipeline --speech_dir=LJSpeech-1.1 --noise_dir=noise --batch_size=16 --steps=20
    keras_denoiser benchmark pipeline     # on the bundled sample corpus (8 short clips: a smoke run, not a measurement)

Prints examples/s of the tf.data graph and of a Python generator doing the same work (soundfile read,
soxr resampling, numpy crop/mix/STFT/IRM per example), their ratio, the graph with the bundled
streaming recipe's augmentations and with every augmentation, the `train_on_batch` rate of that
recipe, how many times what training consumes each graph delivers, and whether training would
wait for its input.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from absl import flags

from keras_denoiser.commands import config_flags, corpus_flags, json_out
from keras_denoiser.core import assets
from keras_denoiser.core.config import TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines.prepare import default_cache_dir

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
corpus_flags.define_corpus_flags(FLAGS, default="the bundled sample corpus")
corpus_flags.define_cache_flag(FLAGS)
config_flags.define_config_flags(TrainConfig, ["batch_size"], FLAGS)
json_out.define_json_out_flag(FLAGS)
flags.DEFINE_integer(
    "steps", 20, "Batches timed for each measurement (after 2 warm-up batches); default 20.", flag_values=FLAGS
)


def main(argv: Sequence[str]) -> int:
    """Run the three measurements and print the table."""
    from keras_denoiser.benchmarks.pipeline import benchmark_pipeline, table_lines

    json_out.check(FLAGS.json_out)
    if bool(FLAGS.speech_dir) != bool(FLAGS.noise_dir):
        raise UserError("give both --speech_dir and --noise_dir, or neither for the bundled sample corpus")
    speech_dirs = FLAGS.speech_dir or [str(assets.SAMPLE_DIR)]
    noise_dirs = FLAGS.noise_dir or [str(assets.SAMPLE_NOISE_DIR)]
    if FLAGS.batch_size < 1 or FLAGS.steps < 1:
        raise UserError("--batch_size and --steps must be at least 1")
    cfg = TrainConfig(batch_size=FLAGS.batch_size)
    result = benchmark_pipeline(speech_dirs, noise_dirs, FLAGS.cache_dir or default_cache_dir(), cfg, FLAGS.steps)
    print("\n".join(table_lines(result)))
    json_out.write(
        FLAGS.json_out,
        {
            **dataclasses.asdict(result),
            "speedup": result.speedup,
            "train_examples_per_second": result.train_examples_per_second,
            "input_bound": result.input_bound,
            "input_headroom": result.input_headroom,
            "augmented_headroom": result.augmented_headroom,
        }
    )
    return 0
