"""`benchmark scale_out`: files per second of `denoise --runner=DirectRunner` with 1 and with 2 workers.

Each run denoises the same inputs into a fresh folder (`denoise_on_beam`, the command's own path),
in Beam's multi-processing mode, so every worker is a process of its own that loads the model once.
The time is wall-clock from launch to the manifest, worker start-up and model loading included:
the figure a user waits for, which on a small corpus is mostly start-up.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from typing import Sequence

from keras_denoiser.core.errors import UserError
from keras_denoiser.inference.beam_denoise import BeamDenoise, denoise_on_beam

RUNNER = "DirectRunner"


@dataclasses.dataclass(frozen=True)
class ScaleOutRun:
    """One run: how many workers, how many files were denoised, and how long it took."""

    workers: int
    files: int
    seconds: float

    @property
    def files_per_second(self) -> float:
        return self.files / self.seconds


def benchmark_scale_out(inputs: Sequence[str], model: str | None, workers: Sequence[int]) -> list[ScaleOutRun]:
    """One timed DirectRunner denoise of `inputs` per worker count; UserError when a file fails."""
    runs = []
    for count in workers:
        options = [f"--direct_num_workers={count}", "--direct_running_mode=multi_processing"]
        with tempfile.TemporaryDirectory(prefix="kd-scale-out-") as output_dir:
            start = time.perf_counter()
            rows = denoise_on_beam(inputs, output_dir, BeamDenoise(model), RUNNER, options)
            seconds = time.perf_counter() - start
        failed = [row for row in rows if row["status"] != "done"]
        if failed:
            raise UserError(f"{failed[0]['path']}: {failed[0]['reason']} (a benchmark needs every file to denoise)")
        runs.append(ScaleOutRun(count, len(rows), seconds))
    return runs


def table_lines(runs: Sequence[ScaleOutRun]) -> list[str]:
    """The runs as a table, and each one's speed against the first (one worker, by default)."""
    lines = [f"{'workers':>7}  {'files':>5}  {'seconds':>8}  {'files/s':>8}  {'vs first':>8}"]
    lines += [
        f"{run.workers:>7}  {run.files:>5}  {run.seconds:>8.2f}  {run.files_per_second:>8.3f}  "
        f"{run.files_per_second / runs[0].files_per_second:>7.2f}x"
        for run in runs
    ]
    return lines
