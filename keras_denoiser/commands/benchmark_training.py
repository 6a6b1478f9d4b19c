"""Measure the training speed of network variants side by side: steps/s, audio seconds/s and cost.

    keras_denoiser benchmark training     # the bundled models' recipes, on the bundled sample corpus
    keras_denoiser benchmark training --speech_dir=LJSpeech-1.1 --noise_dir=noise --steps=20
    keras_denoiser benchmark training --variant=unet_compact:2x16:64g128:compressed_spectral --variant=unet_causal:3x12:6b4

A variant is MODEL:DEPTHxFILTERS[:CONTEXT_LAYERS[bBAND_CONTEXT_LAYERS]][:LOSS], or for unet_compact
MODEL:DEPTHxFILTERS[:BANDSgGRU_UNITS[dDUAL_PATH_BLOCKS][s]][:LOSS] (s: the band spread feature; no context layers and weighted_mask_mse when left out),
on --hop_length; the bundled recipes run on their own hops.
Each is compiled as `train` compiles it and timed on the same batches held in memory, so the figures
compare the networks and losses, not the input graph; run it on a quiet machine and read the
ratios. Each row also gives the network's multiply-adds per second of audio and its streaming state.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from absl import flags

from keras_denoiser.benchmarks.variants import VARIANT_FORMS, bundled_variants, parse_variant
from keras_denoiser.commands import config_flags, corpus_flags, json_out
from keras_denoiser.core import assets
from keras_denoiser.core.config import MixConfig, SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
BUNDLED_CROP_SECONDS = 1.5  # the bundled models' crop
corpus_flags.define_corpus_flags(FLAGS, default="the bundled sample corpus")
corpus_flags.define_cache_flag(FLAGS)
config_flags.define_config_flags(TrainConfig, ["batch_size"], FLAGS)
config_flags.define_config_flags(MixConfig, ["crop_seconds"], FLAGS, defaults={"crop_seconds": BUNDLED_CROP_SECONDS})
config_flags.define_config_flags(SignalConfig, ["hop_length"], FLAGS)  # of the --variant networks
json_out.define_json_out_flag(FLAGS)
flags.DEFINE_multi_string(
    "variant", [], f"A network to time (repeatable): {VARIANT_FORMS}. Default: the bundled models' own recipes "
    "(streaming first), marked (bundled).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "steps", 20, "Training steps timed per variant (after 2 warm-up steps); default 20.", flag_values=FLAGS
)


def main(argv: Sequence[str]) -> int:
    """Time every variant and print the table."""
    json_out.check(FLAGS.json_out)
    if bool(FLAGS.speech_dir) != bool(FLAGS.noise_dir):
        raise UserError("give both --speech_dir and --noise_dir, or neither for the bundled sample corpus")
    if FLAGS.batch_size < 1 or FLAGS.steps < 1:
        raise UserError("--batch_size and --steps must be at least 1")
    signal = SignalConfig(hop_length=FLAGS.hop_length)
    variants = [parse_variant(text, signal) for text in FLAGS.variant] or bundled_variants()
    from keras_denoiser.benchmarks.training import benchmark_training, table_lines  # TensorFlow: after the checks
    from keras_denoiser.pipelines.prepare import default_cache_dir

    cfg = TrainConfig(batch_size=FLAGS.batch_size, mix=MixConfig(crop_seconds=FLAGS.crop_seconds))
    speech_dirs = FLAGS.speech_dir or [str(assets.SAMPLE_DIR)]
    noise_dirs = FLAGS.noise_dir or [str(assets.SAMPLE_NOISE_DIR)]
    cache_dir = FLAGS.cache_dir or default_cache_dir()
    results = benchmark_training(speech_dirs, noise_dirs, cache_dir, cfg, variants, FLAGS.steps)
    print("\n".join(table_lines(results, cfg, FLAGS.steps)))
    json_out.write(FLAGS.json_out, {
        "batch_size": cfg.batch_size, "crop_seconds": cfg.mix.crop_seconds, "steps": FLAGS.steps,
        "variants": [dataclasses.asdict(r) for r in results],
    })
    return 0
