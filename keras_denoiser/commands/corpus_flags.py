"""The corpus flags shared by the commands that read training corpora (prepare, train, benchmark pipeline)."""

from __future__ import annotations

from absl import flags


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
