"""`keras_denoiser benchmark scale_out`: a timed DirectRunner denoise per worker count, and the table's ratio."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests import cli_runner
from tests.conftest import harmonic_speechlike, skip_unless_available
from tests.enhance_helpers import save_tiny_unet

skip_unless_available(None if importlib.util.find_spec("apache_beam") else "needs the beam extra: pip install -r requirements-beam.txt")


def test_the_table_gives_each_run_s_rate_against_the_first() -> None:
    from keras_denoiser.benchmarks.scale_out import ScaleOutRun, table_lines

    lines = table_lines([ScaleOutRun(1, 8, 4.0), ScaleOutRun(2, 8, 2.5)])
    assert lines[1].split() == ["1", "8", "4.00", "2.000", "1.00x"]
    assert lines[2].split() == ["2", "8", "2.50", "3.200", "1.60x"]


@pytest.mark.slow
def test_benchmark_scale_out_times_a_beam_denoise_and_writes_its_figures(tmp_path: Path, write_wav) -> None:
    for i in range(2):
        write_wav(f"in/f{i}.wav", harmonic_speechlike(1.0, 16000, seed=i))
    save_tiny_unet(tmp_path / "tiny.keras")
    result = cli_runner.run("benchmark", "scale_out", "--input=in", "--model=tiny.keras", "--workers=1", "--json_out=figures.json",
                            cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["workers", "files", "seconds", "files/s", "vs", "first"]
    figures = json.loads((tmp_path / "figures.json").read_text())
    (run,) = figures["runs"]
    assert figures["runner"] == "DirectRunner" and (run["workers"], run["files"]) == (1, 2)
    assert run["files_per_second"] == pytest.approx(2 / run["seconds"]) and not (tmp_path / "in" / "manifest.jsonl").exists()
