"""`keras_denoiser benchmark pipeline` end to end on the bundled sample corpus: the table with its ratios, and the JSON figures."""

from __future__ import annotations

import json
import re
from pathlib import Path

from keras_denoiser.benchmarks.variants import bundled_configs
from tests import cli_runner


def test_benchmark_pipeline_runs_on_the_bundled_sample_by_default_and_writes_positive_rates(tmp_path: Path) -> None:
    result = cli_runner.run("benchmark", "pipeline", f"--cache_dir={tmp_path / 'cache'}",
                            "--steps=2", "--batch_size=2", "--json_out=out/figures.json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    crop = bundled_configs()[0].mix.crop_seconds  # the bundled streaming recipe's examples, as it trains
    assert f"batch size 2 of {crop:g} s crops, 2 timed batches each" in result.stdout
    ratio = re.search(r"^graph / Python\s+([0-9.]+)x$", result.stdout, re.MULTILINE)
    assert ratio and float(ratio.group(1)) > 0
    figures = json.loads((tmp_path / "out" / "figures.json").read_text())
    assert set(figures) == {"batch_size", "crop_seconds", "steps", "graph_examples_per_second",
                            "recipe_examples_per_second", "augmented_examples_per_second",
                            "python_examples_per_second", "trained", "input_headroom", "augmented_headroom",
                            "train_steps_per_second", "speedup", "train_examples_per_second", "input_bound"}
    assert (figures["batch_size"], figures["steps"]) == (2, 2) and isinstance(figures["input_bound"], bool)
    rates = ("graph_examples_per_second", "recipe_examples_per_second", "augmented_examples_per_second",
             "python_examples_per_second", "train_steps_per_second", "speedup")
    assert all(figures[key] > 0 for key in rates)
    assert figures["speedup"] == figures["graph_examples_per_second"] / figures["python_examples_per_second"]
    # The bundled streaming recipe is what is trained, and the headroom is its own graph over its appetite.
    assert figures["trained"].endswith("(bundled)") and f"training ({figures['trained']})" in result.stdout
    assert figures["input_headroom"] == figures["recipe_examples_per_second"] / figures["train_examples_per_second"]
    assert figures["augmented_headroom"] == figures["augmented_examples_per_second"] / figures["train_examples_per_second"]
    assert figures["input_bound"] == (figures["input_headroom"] < 1.0)
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["figures.json"]
    assert sorted((tmp_path / "cache").iterdir())  # without corpora flags the bundled sample corpus was prepared
