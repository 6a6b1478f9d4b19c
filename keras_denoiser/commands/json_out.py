"""The `--json_out` flag of the benchmark commands: checked before the run, written atomically after."""

from __future__ import annotations

import json
from typing import Any

from absl import flags

from keras_denoiser.core.atomic import check_output_file, write_bytes_atomic

FLAGS = flags.FLAGS
flags.DEFINE_string("json_out", None, "Also write the figures as JSON to this file; default: print only.")


def check() -> None:
    """Fail before any work when --json_out cannot be written."""
    if FLAGS.json_out:
        check_output_file(FLAGS.json_out)


def write(figures: dict[str, Any]) -> None:
    """Write `figures` to --json_out (when given) and say so."""
    if FLAGS.json_out:
        write_bytes_atomic(FLAGS.json_out, (json.dumps(figures, indent=2) + "\n").encode())
        print(f"wrote {FLAGS.json_out}")
