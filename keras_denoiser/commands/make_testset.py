r"""Write a deterministic noisy/clean test set: `clean/`, `noisy/` (16 kHz wav) and testset.csv.

    keras_denoiser make_testset --speech_dir=LJSpeech-1.1 --noise_dir=noise --output_dir=testset \
        --snrs=-5,0,5,10,15 --num_files=100 --seed=0 --split=test

The same flags always give identical files. A non-empty --output_dir is refused unless --overwrite
is given, which replaces its clean/, noisy/ and testset.csv (no stale files of a larger set remain).
--split=test (the default) mixes only the speakers and noise files that training holds out for the
reported test set, --split=validation those it holds out to select checkpoints; the split flags must
match the training run's (its config.json `split`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from absl import flags

from keras_denoiser.commands import corpus_flags
from keras_denoiser.core import progress
from keras_denoiser.core.atomic import check_output_dir
from keras_denoiser.core.errors import UserError

RATE = 16000

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
corpus_flags.define_corpus_flags(FLAGS, required=True)
flags.DEFINE_string(
    "output_dir", None, "New or empty folder to write clean/, noisy/ and testset.csv into (created).", flag_values=FLAGS
)
flags.DEFINE_bool(
    "overwrite", False, "Replace the clean/, noisy/ and testset.csv of a non-empty --output_dir; default false (refused).",
    flag_values=FLAGS,
)
corpus_flags.define_mixture_set_flags(FLAGS)
flags.mark_flag_as_required("output_dir", flag_values=FLAGS)


def main(argv: Sequence[str]) -> int:
    from keras_denoiser.evaluation import testset

    snrs = corpus_flags.mixture_snrs(FLAGS.snrs)
    output_dir = Path(FLAGS.output_dir)
    _check_output_dir(output_dir)
    speech, noise = testset.split_corpora(FLAGS.speech_dir, FLAGS.noise_dir, FLAGS.split, corpus_flags.split_config(FLAGS))
    examples = testset.mixtures(speech, noise, snrs, FLAGS.num_files, FLAGS.seed, RATE, FLAGS.phrase_words)
    if FLAGS.overwrite:
        testset.remove_testset(output_dir)
    count = testset.write_testset(progress.bar(examples, "make_testset", total=FLAGS.num_files), output_dir, RATE)
    files = sum(map(len, speech)), sum(map(len, noise))
    print(f"{count} mixtures from {len(speech)} speakers ({files[0]} files) and {len(noise)} noise folders "
          f"({files[1]} files) of the {FLAGS.split} split "
          f"written to {FLAGS.output_dir}/{{clean,noisy,{testset.CSV_NAME}}}")
    return 0


def _check_output_dir(output_dir: Path) -> None:
    """Refuse an unwritable or non-empty --output_dir before any work (stale files would mix into the set)."""
    check_output_dir(output_dir)
    target = output_dir.resolve()
    for root in (*FLAGS.speech_dir, *FLAGS.noise_dir):
        corpus = Path(root).resolve()
        if target == corpus or target in corpus.parents or corpus in target.parents:
            raise UserError(f"{output_dir}: overlaps the corpus {root}; choose another --output_dir")
    if not FLAGS.overwrite and output_dir.is_dir() and any(output_dir.iterdir()):
        raise UserError(f"{output_dir}: already holds files; choose a new or empty --output_dir, or pass --overwrite")
