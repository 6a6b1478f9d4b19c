r"""Decode and resample speech and noise corpora once into the TFRecord cache that training reads.

    keras_denoiser prepare --speech_dir=LJSpeech-1.1 --speech_dir=extra_speech --noise_dir=noise \
        --cache_dir=~/.cache/keras_denoiser

Training prepares on demand too; running this first shows what was skipped and why before a long run.
A cache is reused while the corpus files, the sample rate and the split flags are unchanged; the
summary names the speakers (or files) held out for validation and test, which are not cached.
With --runner the decoding runs on Apache Beam and writes the same cache (docs/scale_out.md), and
the corpus and cache folders may be on any filesystem Beam reads (gs://, s3://, local):

    keras_denoiser prepare --speech_dir=speech --runner=DirectRunner \
        --beam_options='--direct_num_workers=2 --direct_running_mode=multi_processing'
"""

from __future__ import annotations

from typing import Sequence

from absl import flags, logging

from keras_denoiser.commands import beam_flags, corpus_flags
from keras_denoiser.core.config import SignalConfig, empty_split_advice
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines.prepare import default_cache_dir, prepare_corpus, summary_lines
from keras_denoiser.pipelines.storage import local_files

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
corpus_flags.define_corpus_flags(FLAGS)
corpus_flags.define_cache_flag(FLAGS)
corpus_flags.define_split_flags(FLAGS)
beam_flags.define_beam_flags(FLAGS)
flags.DEFINE_integer(
    "sample_rate", SignalConfig().sample_rate, "Model sample rate in Hz to resample to; default 16000.", flag_values=FLAGS
)
flags.DEFINE_integer(
    "workers", 2, "Decoding processes; 1 decodes in the main process (with --runner, Beam's options decide). Default 2.",
    flag_values=FLAGS,
)


def main(argv: Sequence[str]) -> int:
    """Prepare every --speech_dir and --noise_dir and print a summary per corpus."""
    folders = [(folder, "speech") for folder in FLAGS.speech_dir] + [(folder, "noise") for folder in FLAGS.noise_dir]
    if not folders:
        raise UserError("give at least one --speech_dir or --noise_dir")
    if FLAGS.workers < 1:
        raise UserError("--workers must be at least 1")
    cache_dir = FLAGS.cache_dir or default_cache_dir()
    signal = SignalConfig(sample_rate=FLAGS.sample_rate)
    split = corpus_flags.split_config(FLAGS)
    options = beam_flags.beam_options(FLAGS)
    beam = beam_flags.beam_module("keras_denoiser.pipelines.beam_prepare") if FLAGS.runner else None
    writer = beam.cache_writer(FLAGS.runner, options) if beam else None
    files_for = beam.files_for if beam else local_files  # gs://, s3://, ... only through Beam
    for folder, kind in folders:
        prepared = prepare_corpus(folder, cache_dir, signal, split, kind, workers=FLAGS.workers, writer=writer, files_for=files_for)
        print("\n".join(summary_lines(prepared)))
        for part, count in (("validation", prepared.num_validation), ("test", prepared.num_test)):
            if count == 0:  # train, make_testset or choose_limit would stop on it later
                logging.warning("%s: %s", folder, empty_split_advice(kind, part, split))
    return 0
