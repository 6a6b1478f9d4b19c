"""Flags shared by several commands: the training corpora (prepare, train, benchmark pipeline) and the
deterministic mixture sets (make_testset, evaluate)."""

from __future__ import annotations

from typing import Sequence

from absl import flags

from keras_denoiser.config import TrainConfig
from keras_denoiser.errors import UserError


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


def define_mixture_set_flags() -> None:
    """Define --snrs, --num_files, --seed, --split and --validation_fraction of a deterministic mixture set.

    Shared by make_testset and evaluate, so the same flags build the same mixtures in both.
    """
    from keras_denoiser import testset  # lazily: it loads TensorFlow, which prepare/train do not need for --help

    flags.DEFINE_list(
        "snrs", ["-5", "0", "5", "10", "15"], "Comma-separated mixture SNRs in dB, cycled over the files; default -5,0,5,10,15."
    )
    flags.DEFINE_integer("num_files", 50, "Number of mixtures to build; default 50.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Seed of the mixture choices (speech, noise, noise offset); default 0.")
    flags.DEFINE_enum(
        "split", "validation", list(testset.SPLITS),
        "Corpus items to mix: the held-out `validation` split or `all`; default validation.",
    )
    fraction = TrainConfig().validation_fraction
    flags.DEFINE_float(
        "validation_fraction", fraction,
        f"Fraction of each corpus held out for validation by id hash, as in training; default {fraction:g}.",
    )


def mixture_snrs(values: Sequence[str]) -> list[float]:
    """The --snrs values as numbers; UserError naming the flag when one is not."""
    try:
        return [float(v) for v in values]
    except ValueError:
        raise UserError(f"--snrs must be numbers in dB, got {','.join(values)}") from None
