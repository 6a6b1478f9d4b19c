"""The `--json_out` flag of the benchmark commands: checked before the run, written atomically after."""

from __future__ import annotations

import json
from typing import Any

from absl import flags

from keras_denoiser.core.atomic import check_output_file, write_bytes_atomic


def define_json_out_flag(flag_values: flags.FlagValues) -> None:
    """Define --json_out in the command's `flag_values`."""
    flags.DEFINE_string(
        "json_out", None, "Also write the figures as JSON to this file; default: print only.", flag_values=flag_values
    )


def check(path: str | None) -> None:
    """Fail before any work when --json_out (`path`) cannot be written."""
    if path:
        check_output_file(path)


def write(path: str | None, figures: dict[str, Any]) -> None:
    """Write `figures` to --json_out (`path`, when given) and say so."""
    if path:
        write_bytes_atomic(path, (json.dumps(figures, indent=2) + "\n").encode())
        print(f"wrote {path}")
