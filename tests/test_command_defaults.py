"""Commands that need a model or corpora run on the bundled ones when none is given."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

from keras_denoiser.core import assets
from keras_denoiser.core.config import TrainConfig, load_json
from tests import cli_runner


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_runner.run(*args, cwd=cwd)


def test_export_without_model_exports_the_bundled_model(tmp_path: Path) -> None:
    result = _run(tmp_path, "export", "--export_dir=exported", "--formats=saved_model")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "exported" / "export_report.json").read_text())
    # As loaded: a config field added since the bundled sidecar was written takes its default.
    bundled = load_json(TrainConfig, assets.DEFAULT_MODEL.with_suffix(".json"))
    assert report["model"] == dataclasses.asdict(bundled.model)
    assert (tmp_path / "exported" / "denoiser" / "1" / "saved_model.pb").is_file()  # the name every serving example uses


def test_benchmark_pipeline_with_only_one_corpus_is_one_line(tmp_path: Path) -> None:
    result = _run(tmp_path, "benchmark", "pipeline", f"--speech_dir={tmp_path}")
    assert (result.returncode, result.stderr.splitlines()) == (
        1, ["error: give both --speech_dir and --noise_dir, or neither for the bundled sample corpus"]
    )
