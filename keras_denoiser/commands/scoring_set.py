"""The mixtures a scoring command runs on (evaluate, choose_limit): paired clean/noisy folders, or a
deterministic set built in memory from held-out speakers and noise files, exactly like `make_testset`."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from absl import flags

from keras_denoiser.commands import corpus_flags
from keras_denoiser.core.config import SplitConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation import evaluate
from keras_denoiser.evaluation.enhancer import Enhancer

RATE = 16000  # the rate every score is computed at

FLAGS = flags.FLAGS


def define_scoring_set_flags(default_split: str) -> None:
    """Define --clean_dir/--noisy_dir, --speech_dir/--noise_dir and the mixture-set flags in the calling module."""
    flags.DEFINE_string("clean_dir", None, "Folder of clean references, matched to --noisy_dir files by relative path.")
    flags.DEFINE_string("noisy_dir", None, "Folder of noisy inputs, matched to --clean_dir files by relative path.")
    flags.DEFINE_multi_string(
        "speech_dir", [],
        "Speech corpus (LJ layout or folder) to build mixtures from, instead of clean/noisy folders. Repeat the flag for several.",
    )
    flags.DEFINE_multi_string("noise_dir", [], "Noise corpus folder to build mixtures from, with --speech_dir. Repeat the flag for several.")
    corpus_flags.define_mixture_set_flags(default_split)


def examples(split: SplitConfig | None = None) -> list[evaluate.Example]:
    """The examples the flags name; UserError for a wrong combination or a missing folder.

    Mixtures are drawn from the held-out speakers of `split` (default: the split flags).
    """
    from keras_denoiser.evaluation import testset

    pairs = FLAGS.clean_dir or FLAGS.noisy_dir
    mixes = FLAGS.speech_dir or FLAGS.noise_dir
    if bool(pairs) == bool(mixes):
        raise UserError("give either --clean_dir and --noisy_dir, or --speech_dir and --noise_dir")
    if pairs:
        if not (FLAGS.clean_dir and FLAGS.noisy_dir):
            raise UserError("--clean_dir and --noisy_dir go together")
        clean_dir, noisy_dir = Path(FLAGS.clean_dir), Path(FLAGS.noisy_dir)
        for folder in (clean_dir, noisy_dir):
            if not folder.is_dir():
                raise UserError(f"{folder}: no such folder")
        table = testset.read_table(noisy_dir.parent / testset.CSV_NAME)
        return list(evaluate.pair_examples(clean_dir, noisy_dir, RATE, table))
    if not (FLAGS.speech_dir and FLAGS.noise_dir):
        raise UserError("--speech_dir and --noise_dir go together")
    split = split or corpus_flags.split_config()
    speech, noise = testset.split_corpora(FLAGS.speech_dir, FLAGS.noise_dir, FLAGS.split, split)
    mixtures = testset.mixtures(speech, noise, corpus_flags.mixture_snrs(FLAGS.snrs), FLAGS.num_files, FLAGS.seed, RATE, FLAGS.phrase_words)
    return [evaluate.Example(m.file, m.snr, m.clean, m.noisy, m.speech_id, m.noise_id) for m in mixtures]


def score(systems: Sequence[Enhancer], examples: Sequence[evaluate.Example], task: str) -> list[evaluate.Row]:
    """Score every system on every example with a progress bar named `task`; UserError when there is nothing to score."""
    from tqdm import tqdm

    progress = lambda items: tqdm(items, desc=task, unit="file", total=len(examples), disable=None)  # noqa: E731
    if not examples:
        where = f"in {FLAGS.noisy_dir} and {FLAGS.clean_dir}" if FLAGS.noisy_dir else "from the corpora"
        raise UserError(f"nothing to score: no clean/noisy pairs {where}")
    return evaluate.score(systems, examples, RATE, progress=progress)
