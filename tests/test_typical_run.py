"""The README's "A typical run", command by command, on the bundled sample corpus with tiny step counts.

The commands are read from the README, so the README cannot drift from what runs; only the work is
made smaller (a tiny network, a few steps, a few files).
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest

from keras_denoiser.core import assets
from tests import cli_runner

ROOT = Path(__file__).resolve().parents[1]
# Appended to the README's commands (absl takes the last value of a repeated flag).
SMALLER = {
    "train": ["--epochs=1", "--steps_per_epoch=3", "--validation_steps=1", "--batch_size=2", "--depth=2",
              "--base_filters=4", "--backup_every_steps=1000"],
    "make_testset": ["--num_files=3"],
    "choose_limit": ["--num_files=2", "--limits=6,inf"],
    "export": ["--formats=saved_model"],
}


def readme_commands() -> list[list[str]]:
    """The `keras_denoiser ...` lines of the README's typical run, with $S set to the bundled corpus."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## A typical run\n.*?```sh\n(.*?)```", text, re.DOTALL).group(1)
    commands = []
    for line in block.splitlines():
        line = line.split("  #")[0].strip()
        if line.startswith("keras_denoiser "):
            commands.append(shlex.split(line.replace("$S", str(assets.SAMPLE_DIR)))[1:])
    return commands


@pytest.mark.slow
def test_the_readme_typical_run_runs_on_the_bundled_corpus(tmp_path: Path) -> None:
    commands = readme_commands()
    assert [c[0] for c in commands] == ["prepare", "train", "make_testset", "choose_limit", "evaluate", "denoise", "export"]
    for args in commands:
        start = time.monotonic()
        cache = [f"--cache_dir={tmp_path / 'cache'}"] if args[0] in ("prepare", "train") else []
        result = cli_runner.run(*args, *SMALLER.get(args[0], []), *cache, cwd=tmp_path)
        assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout}\n{result.stderr}"
        assert "no speech in" not in result.stderr and "split is empty" not in result.stderr, result.stderr
        print(f"{args[0]}: {time.monotonic() - start:.1f} s")
    assert len(list((tmp_path / "testset" / "noisy").glob("*.wav"))) == 3
    assert len(list((tmp_path / "enhanced").glob("*.wav"))) == 3
    assert (tmp_path / "exported" / "denoiser" / "1" / "saved_model.pb").is_file()


def test_an_empty_split_is_named_with_the_ways_to_fill_it(tmp_path: Path) -> None:
    import numpy as np
    import soundfile as sf

    from keras_denoiser.core.config import SplitConfig
    from keras_denoiser.core.errors import UserError
    from keras_denoiser.evaluation import testset

    speech, noise = tmp_path / "speech", tmp_path / "noise"
    for path in (speech / "only_speaker" / "a.wav", noise / "hum.wav"):
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, 0.1 * np.sin(np.arange(8000) / 5.0), 16000)
    with pytest.raises(UserError) as empty:
        testset.split_corpora([str(speech)], [str(noise)], "test", SplitConfig())
    line = str(empty.value)
    assert line.startswith(f"{speech}: no speech in the test split") and "\n" not in line
    assert all(fix in line for fix in ("--split=all", "more speaker folders", "--speech_unit=file"))


def test_the_bundled_corpus_holds_a_validation_and_a_test_speaker_and_noise_file() -> None:
    from keras_denoiser.core.config import SplitConfig
    from keras_denoiser.evaluation import testset

    for split in ("validation", "test"):  # would raise UserError when empty
        testset.split_corpora([str(assets.SAMPLE_DIR / "speakers")], [str(assets.SAMPLE_NOISE_DIR)], split, SplitConfig())


@pytest.mark.slow
def test_train_on_one_speaker_names_the_empty_splits_and_the_fixes(tmp_path: Path) -> None:
    sample = assets.SAMPLE_DIR
    result = cli_runner.run(
        "train", f"--speech_dir={sample}", f"--noise_dir={sample / 'noise'}", f"--model_dir={tmp_path / 'run'}",
        f"--cache_dir={tmp_path / 'cache'}", *SMALLER["train"], cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    for part in ("validation", "test"):  # LJ layout: one speaker, so no held-out speaker at all
        assert f"warning: no speech in the {part} split" in result.stderr, result.stderr
    assert result.stderr.count("--speech_unit=file") == 2
