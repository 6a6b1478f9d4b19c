"""Files per second of `denoise --runner=DirectRunner` with 1 and 2 workers on the same inputs.

    keras_denoiser benchmark scale_out --input=recordings/ --workers=1,2
    keras_denoiser benchmark scale_out     # the bundled sample corpus (a smoke run: start-up dominates)

Needs the beam extra (pip install 'keras-denoiser[beam]'). Each run is timed from launch to its
manifest, worker start-up and model loading included; the last column is each run's rate against
the first's. See docs/scale_out.md.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from absl import flags

from keras_denoiser.commands import beam_flags, json_out, model_flag
from keras_denoiser.core import assets
from keras_denoiser.core.errors import UserError

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
json_out.define_json_out_flag(FLAGS)
model_flag.define_model_flag(FLAGS)
flags.DEFINE_multi_string(
    "input", [], "Files, folders or globs to denoise; repeatable; default: the bundled sample corpus.", flag_values=FLAGS
)
flags.DEFINE_list("workers", ["1", "2"], "DirectRunner worker counts to time, in order; default 1,2.", flag_values=FLAGS)


def main(argv: Sequence[str]) -> int:
    """Time one run per worker count and print the table."""
    json_out.check(FLAGS.json_out)
    try:
        workers = [int(count) for count in FLAGS.workers]
    except ValueError:
        raise UserError(f"--workers must be whole numbers, got {','.join(FLAGS.workers)}") from None
    if not workers or min(workers) < 1:
        raise UserError("--workers must be at least 1")
    scale_out = beam_flags.beam_module("keras_denoiser.benchmarks.scale_out")
    runs = scale_out.benchmark_scale_out(FLAGS.input or [str(assets.SAMPLE_DIR / "wavs")], FLAGS.model, workers)
    print("\n".join(scale_out.table_lines(runs)))
    json_out.write(FLAGS.json_out, {"runner": scale_out.RUNNER, "runs": [
        {**dataclasses.asdict(run), "files_per_second": run.files_per_second} for run in runs
    ]})
    return 0
