"""The --max_attenuation_db flag of every command that enhances or exports (denoise, demo, evaluate, export)."""

from __future__ import annotations

from absl import flags

from keras_denoiser.core.config import DEFAULT_MAX_ATTENUATION_DB


def define_attenuation_flag(flag_values: flags.FlagValues) -> None:
    """Define --max_attenuation_db in the command's `flag_values`; its value None means the model's own limit."""
    flags.DEFINE_float(
        "max_attenuation_db", None,
        "Attenuation limit in dB: no time-frequency bin is turned down by more (a floor on the mask); 0 gives "
        "the input back, inf removes the limit. Default: the model's own limit (max_attenuation_db in its "
        f".json, chosen on held-out speakers for the bundled models; {DEFAULT_MAX_ATTENUATION_DB:g} if it names "
        "none), or for a streaming .tflite its sidecar's.",
        flag_values=flag_values,
    )
