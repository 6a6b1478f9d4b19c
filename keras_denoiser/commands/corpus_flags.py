"""Flags of the corpora and their split, each defined here once: `--speech_dir`/`--noise_dir`, `--cache_dir`
(the commands that read the prepared cache), the speaker/noise split (the `SplitConfig` fields) and the
deterministic mixture sets (make_testset, evaluate, choose_limit). Each command defines the ones it takes
into its own `FlagValues`, so two commands never share or redefine a flag."""

from __future__ import annotations

from typing import Sequence

from absl import flags

from keras_denoiser.commands import config_flags
from keras_denoiser.core.config import MIXTURE_SPLITS, SplitConfig
from keras_denoiser.core.errors import UserError


def define_corpus_flags(flag_values: flags.FlagValues, use: str = "", default: str = "", required: bool = False) -> None:
    """Define --speech_dir and --noise_dir (repeatable).

    `use` says what the command reads the corpora for, `default` what it uses without them; `required`
    makes both flags required.
    """
    use, ending = f" {use}" if use else "", f"; default: {default}." if default else "."
    flags.DEFINE_multi_string(
        "speech_dir", None if required else [],  # absl's required check passes any default but None
        f"Speech corpus folder{use} (LJ Speech layout: metadata.csv + wavs/, or any folder tree of audio files); "
        f"repeat for several{ending}",
        flag_values=flag_values,
    )
    flags.DEFINE_multi_string(
        "noise_dir", None if required else [],
        f"Noise corpus folder{use} (any folder tree of audio files); repeat for several{ending}",
        flag_values=flag_values,
    )
    if required:
        flags.mark_flags_as_required(["speech_dir", "noise_dir"], flag_values=flag_values)


def define_cache_flag(flag_values: flags.FlagValues) -> None:
    """Define --cache_dir, for the commands that read the corpora through the prepared TFRecord cache."""
    flags.DEFINE_string(
        "cache_dir", None,
        "Folder for the prepared TFRecord caches; default $XDG_CACHE_HOME/keras_denoiser or ~/.cache/keras_denoiser.",
        flag_values=flag_values,
    )


SPLIT_FIELDS = ("seed", "speech_unit", "validation_fraction", "test_fraction", "validation_speakers")
_SPLIT_NAMES = {"seed": "split_seed"}  # --seed is the run's or the mixture set's own


def define_split_flags(flag_values: flags.FlagValues) -> None:
    """Define --split_seed, --speech_unit, --validation_fraction, --test_fraction and --validation_speakers (the SplitConfig fields)."""
    config_flags.define_config_flags(SplitConfig, SPLIT_FIELDS, flag_values, rename=_SPLIT_NAMES)


def split_flags_given(flag_values: flags.FlagValues) -> bool:
    """Whether any split flag was given on the command line (not just left at its default)."""
    return any(flag_values[_SPLIT_NAMES.get(name, name)].present for name in SPLIT_FIELDS)


def split_config(flag_values: flags.FlagValues) -> SplitConfig:
    """The SplitConfig of the split flags (checked by SplitConfig)."""
    return SplitConfig(**config_flags.config_values(SplitConfig, SPLIT_FIELDS, flag_values, rename=_SPLIT_NAMES))


def define_mixture_set_flags(flag_values: flags.FlagValues, default_split: str = "test") -> None:
    """Define --snrs, --num_files, --seed, --phrase_words, --split and the split flags of a deterministic mixture set.

    Shared by make_testset, evaluate and choose_limit, so the same flags build the same mixtures in all.
    """
    flags.DEFINE_list(
        "snrs", ["-5", "0", "5", "10", "15"], "Comma-separated mixture SNRs in dB, cycled over the files; default -5,0,5,10,15.",
        flag_values=flag_values,
    )
    flags.DEFINE_integer("num_files", 50, "Number of mixtures to build; default 50.", lower_bound=1, flag_values=flag_values)
    flags.DEFINE_integer("seed", 0, "Seed of the mixture choices (speech, noise, noise offset); default 0.", flag_values=flag_values)
    flags.DEFINE_integer(
        "phrase_words", 1,
        "Utterances of one speaker joined with 0.1-0.5 s pauses into each mixture's speech: above 1, phrases from "
        "corpora of isolated words (a sentence-level set); default 1.", lower_bound=1, flag_values=flag_values,
    )
    flags.DEFINE_enum(
        "split", default_split, list(MIXTURE_SPLITS),
        "Corpus items to mix: the held-out `test` speakers and noise files (report), the held-out `validation` "
        f"ones (select checkpoints), or `all`; default {default_split}.",
        flag_values=flag_values,
    )
    define_split_flags(flag_values)


def mixture_snrs(values: Sequence[str]) -> list[float]:
    """The --snrs values as numbers; UserError naming the flag when one is not."""
    try:
        return [float(v) for v in values]
    except ValueError:
        raise UserError(f"--snrs must be numbers in dB, got {','.join(values)}") from None
