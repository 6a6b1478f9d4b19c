"""Flags shared by several commands: the training corpora (prepare, train, benchmark pipeline), the
speaker/noise split (prepare, train, make_testset, evaluate) and the deterministic mixture sets
(make_testset, evaluate)."""

from __future__ import annotations

from typing import Sequence

from absl import flags

from keras_denoiser.core.config import MIXTURE_SPLITS, SPEECH_UNITS, SplitConfig
from keras_denoiser.core.errors import UserError

FLAGS = flags.FLAGS


def define_corpus_flags() -> None:
    """Define --speech_dir, --noise_dir (repeatable) and --cache_dir in the calling command module."""
    flags.DEFINE_multi_string(
        "speech_dir", [], "Speech corpus folder (LJ Speech layout or any folder tree of audio files); repeat for several."
    )
    flags.DEFINE_multi_string("noise_dir", [], "Noise folder (any folder tree of audio files); repeat for several.")
    flags.DEFINE_string(
        "cache_dir",
        None,
        "Folder for the prepared TFRecord caches; default $XDG_CACHE_HOME/keras_denoiser or ~/.cache/keras_denoiser.",
    )


SPLIT_FLAGS = ("split_seed", "speech_unit", "validation_fraction", "test_fraction")


def define_split_flags() -> None:
    """Define --split_seed, --speech_unit, --validation_fraction and --test_fraction (SplitConfig)."""
    default = SplitConfig()
    flags.DEFINE_integer(
        "split_seed", default.seed, f"Seed of the hash that picks the held-out speakers and noise files; default {default.seed}."
    )
    flags.DEFINE_enum(
        "speech_unit", default.speech_unit, list(SPEECH_UNITS),
        "Hold out speech by `speaker` (the folder holding a file; an LJ Speech corpus is one speaker) or by "
        f"`file` (for single-speaker corpora); default {default.speech_unit}.",
    )
    flags.DEFINE_float(
        "validation_fraction", default.validation_fraction,
        "Share of speakers and noise files held out for validation and checkpoint selection; "
        f"default {default.validation_fraction:g}.",
    )
    flags.DEFINE_float(
        "test_fraction", default.test_fraction,
        f"Share of speakers and noise files held out for the reported test set; default {default.test_fraction:g}.",
    )


def split_flags_given() -> bool:
    """Whether any split flag was given on the command line (not just left at its default)."""
    return any(FLAGS[name].present for name in SPLIT_FLAGS)


def split_config() -> SplitConfig:
    """The SplitConfig of the split flags (checked by SplitConfig)."""
    return SplitConfig(
        seed=FLAGS.split_seed,
        speech_unit=FLAGS.speech_unit,
        validation_fraction=FLAGS.validation_fraction,
        test_fraction=FLAGS.test_fraction,
    )


def define_mixture_set_flags(default_split: str = "test") -> None:
    """Define --snrs, --num_files, --seed, --split and the split flags of a deterministic mixture set.

    Shared by make_testset, evaluate and choose_limit, so the same flags build the same mixtures in all.
    """
    flags.DEFINE_list(
        "snrs", ["-5", "0", "5", "10", "15"], "Comma-separated mixture SNRs in dB, cycled over the files; default -5,0,5,10,15."
    )
    flags.DEFINE_integer("num_files", 50, "Number of mixtures to build; default 50.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed of the mixture choices (speech, noise, noise offset); default 0.")
    flags.DEFINE_integer(
        "phrase_words", 1,
        "Utterances of one speaker joined with 0.1-0.5 s pauses into each mixture's speech: above 1, phrases from "
        "corpora of isolated words (a sentence-level set); default 1.", lower_bound=1,
    )
    flags.DEFINE_enum(
        "split", default_split, list(MIXTURE_SPLITS),
        "Corpus items to mix: the held-out `test` speakers and noise files (report), the held-out `validation` "
        f"ones (select checkpoints), or `all`; default {default_split}.",
    )
    define_split_flags()


def mixture_snrs(values: Sequence[str]) -> list[float]:
    """The --snrs values as numbers; UserError naming the flag when one is not."""
    try:
        return [float(v) for v in values]
    except ValueError:
        raise UserError(f"--snrs must be numbers in dB, got {','.join(values)}") from None
