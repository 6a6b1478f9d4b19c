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


def define_scoring_set_flags(flag_values: flags.FlagValues, default_split: str) -> None:
    """Define --clean_dir/--noisy_dir, --speech_dir/--noise_dir and the mixture-set flags in the command's `flag_values`."""
    flags.DEFINE_string(
        "clean_dir", None, "Folder of clean references, matched to --noisy_dir files by relative path.", flag_values=flag_values
    )
    flags.DEFINE_string(
        "noisy_dir", None, "Folder of noisy inputs, matched to --clean_dir files by relative path.", flag_values=flag_values
    )
    corpus_flags.define_corpus_flags(flag_values, use="to build mixtures from, instead of clean/noisy folders")
    corpus_flags.define_mixture_set_flags(flag_values, default_split)


def examples(flag_values: flags.FlagValues, split: SplitConfig | None = None) -> list[evaluate.Example]:
    """The examples the command's flags name; UserError for a wrong combination or a missing folder.

    Mixtures are drawn from the held-out speakers of `split` (default: the split flags).
    """
    from keras_denoiser.evaluation import testset

    pairs = flag_values.clean_dir or flag_values.noisy_dir
    mixes = flag_values.speech_dir or flag_values.noise_dir
    if bool(pairs) == bool(mixes):
        raise UserError("give either --clean_dir and --noisy_dir, or --speech_dir and --noise_dir")
    if pairs:
        if not (flag_values.clean_dir and flag_values.noisy_dir):
            raise UserError("--clean_dir and --noisy_dir go together")
        clean_dir, noisy_dir = Path(flag_values.clean_dir), Path(flag_values.noisy_dir)
        for folder in (clean_dir, noisy_dir):
            if not folder.is_dir():
                raise UserError(f"{folder}: no such folder")
        table = testset.read_table(noisy_dir.parent / testset.CSV_NAME)
        return list(evaluate.pair_examples(clean_dir, noisy_dir, RATE, table))
    if not (flag_values.speech_dir and flag_values.noise_dir):
        raise UserError("--speech_dir and --noise_dir go together")
    split = split or corpus_flags.split_config(flag_values)
    speech, noise = testset.split_corpora(flag_values.speech_dir, flag_values.noise_dir, flag_values.split, split)
    snrs = corpus_flags.mixture_snrs(flag_values.snrs)
    mixtures = testset.mixtures(speech, noise, snrs, flag_values.num_files, flag_values.seed, RATE, flag_values.phrase_words)
    return [evaluate.Example(m.file, m.snr, m.clean, m.noisy, m.speech_id, m.noise_id) for m in mixtures]


def score(
    flag_values: flags.FlagValues, systems: Sequence[Enhancer], examples: Sequence[evaluate.Example], task: str
) -> list[evaluate.Row]:
    """Score every system on every example with a progress bar named `task`; UserError when there is nothing to score."""
    from tqdm import tqdm

    progress = lambda items: tqdm(items, desc=task, unit="file", total=len(examples), disable=None)  # noqa: E731
    if not examples:
        where = f"in {flag_values.noisy_dir} and {flag_values.clean_dir}" if flag_values.noisy_dir else "from the corpora"
        raise UserError(f"nothing to score: no clean/noisy pairs {where}")
    return evaluate.score(systems, examples, RATE, progress=progress)
