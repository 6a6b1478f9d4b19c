"""`--runner` and `--beam_options`: the flags that move `prepare` and `denoise` onto Apache Beam.

The Beam modules are imported only when --runner is given, so the local path never loads Beam.
"""

from __future__ import annotations

import importlib
import shlex
from types import ModuleType

from absl import flags

from keras_denoiser.core.errors import UserError

BEAM_EXTRA = "pip install 'keras-denoiser[beam]'"


def define_beam_flags(flag_values: flags.FlagValues) -> None:
    """Define --runner and --beam_options in the command's `flag_values`."""
    flags.DEFINE_string(
        "runner", None,
        "Run on Apache Beam with this runner: DirectRunner, DataflowRunner, FlinkRunner, SparkRunner, ... "
        f"(needs the beam extra: {BEAM_EXTRA}); default: in this process, without Beam.",
        flag_values=flag_values,
    )
    flags.DEFINE_multi_string(
        "beam_options", [],
        "Beam's own pipeline flags, passed through unchanged, e.g. "
        "--beam_options='--direct_num_workers=2 --direct_running_mode=multi_processing'; repeatable. Needs --runner.",
        flag_values=flag_values,
    )


def beam_options(flag_values: flags.FlagValues) -> list[str]:
    """The --beam_options values split as a shell would; UserError when given without --runner."""
    if flag_values.beam_options and not flag_values.runner:
        raise UserError("--beam_options needs --runner")
    try:
        return [option for value in flag_values.beam_options for option in shlex.split(value)]
    except ValueError as err:
        raise UserError(f"--beam_options: {err}") from None


def beam_module(name: str) -> ModuleType:
    """Import the Beam module `name`; a missing Apache Beam is one line saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        if (err.name or "").split(".")[0] != "apache_beam":
            raise
        raise UserError(f"--runner needs Apache Beam, which is not installed: {BEAM_EXTRA}") from None
