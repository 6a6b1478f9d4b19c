"""choose_limit: the rule that picked the bundled models' limits, and the command that applies it."""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation.evaluate import ALL_FILES, NOISY, Summary
from keras_denoiser.evaluation.limit_choice import choose, parse_limits, system_name
from keras_denoiser.model import model_io
from tests import cli_runner
from tests.conftest import harmonic_speechlike
from tests.export_support import trained_tiny_model

RATE = 16000


def _sweep(noisy_stoi: float, scores: dict[float, tuple[float, ...]]) -> list[Summary]:
    """Overall summaries of a sweep: the noisy input and, per limit, (PESQ-WB, STOI[, SI-SDR])."""
    rows = [Summary(NOISY, ALL_FILES, 10, 1.5, noisy_stoi, 5.0, 0.0, 0.0, math.nan)]
    rows += [Summary(system_name(limit), ALL_FILES, 10, score[0], score[1], score[2] if len(score) > 2 else 9.0,
                     -1.0, -10.0, 0.01) for limit, score in scores.items()]
    rows += [Summary(system_name(limit), "0", 5, 9.9, 0.99, 9.0, -1.0, -10.0, 0.01) for limit in scores]  # per-SNR rows are ignored
    return rows


def test_the_best_pesq_wins_among_limits_that_keep_stoi() -> None:
    scores = {12.0: (1.90, 0.760), 24.0: (1.95, 0.752), 60.0: (2.10, 0.749), math.inf: (2.20, 0.740)}
    choice = choose(_sweep(0.750, scores), list(scores))
    assert choice.max_attenuation_db == 24.0  # 60 dB and none score higher but lower STOI
    assert "PESQ-WB 1.950" in choice.reason


def test_pesq_within_the_tie_goes_to_the_best_si_sdr_then_to_the_gentler_limit() -> None:
    # Like the causal model's sweep: 9 dB is 0.008 ahead on PESQ-WB but 0.73 dB behind on SI-SDR.
    causal = {6.0: (1.920, 0.747, 8.23), 9.0: (1.923, 0.747, 9.26), 12.0: (1.915, 0.746, 9.99), 15.0: (1.910, 0.745, 10.49)}
    choice = choose(_sweep(0.744, causal), list(causal))
    assert choice.max_attenuation_db == 12.0 and "SI-SDR (9.99 dB)" in choice.reason  # 15 dB is 0.013 behind: out
    tied = {60.0: (2.0121, 0.763, 11.821), math.inf: (2.0124, 0.763, 11.823)}
    assert choose(_sweep(0.744, tied), list(tied)).max_attenuation_db == 60.0


def test_no_limit_keeping_stoi_means_the_lowest() -> None:
    losing = {12.0: (2.0, 0.70), math.inf: (2.2, 0.69)}
    choice = choose(_sweep(0.744, losing), list(losing))
    assert choice.max_attenuation_db == 12.0 and "no limit kept STOI" in choice.reason


def test_limits_are_parsed_sorted_and_refused_in_one_line() -> None:
    assert parse_limits(["inf", "12", "12", "0"]) == [0.0, 12.0, math.inf]
    for bad in (["-3"], ["loud"], ["nan"]):
        with pytest.raises(UserError, match="--limits must be attenuation limits"):
            parse_limits(bad)


@pytest.fixture(scope="module")
def selection_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three speech-like clips in white noise at 0 dB SNR, as clean/ and noisy/ folders."""
    root = tmp_path_factory.mktemp("selection")
    for folder in ("clean", "noisy"):
        (root / folder).mkdir()
    rng = np.random.default_rng(7)
    for n in range(3):
        clean = 0.3 * harmonic_speechlike(2.0, RATE, seed=20 + n)
        noise = rng.normal(0, 1, clean.shape) * np.sqrt(np.mean(clean**2))
        sf.write(root / "clean" / f"{n}.wav", clean, RATE, subtype="FLOAT")
        sf.write(root / "noisy" / f"{n}.wav", clean + noise, RATE, subtype="FLOAT")
    return root


def _choose_limit(root: Path, model: Path, *flags: str) -> subprocess.CompletedProcess:
    return cli_runner.run("choose_limit", f"--model={model}", f"--clean_dir={root / 'clean'}", f"--noisy_dir={root / 'noisy'}",
                          *flags)


def _overall_si_sdr(table: str, system: str) -> float:
    return float(re.search(rf"^\| {re.escape(system)} \| all \| 3 \| [^|]+ \| [^|]+ \| ([-0-9.]+) \|", table, re.M).group(1))


def test_choose_limit_scores_each_limit_and_writes_the_choice_only_when_asked(selection_set: Path, tmp_path: Path) -> None:
    model, cfg = trained_tiny_model()
    path = tmp_path / "tiny.keras"
    model_io.save_model(model, path, cfg)
    config_before = path.with_suffix(".json").read_bytes()

    looked = _choose_limit(selection_set, path, "--limits=0,inf")
    assert looked.returncode == 0, looked.stderr[-2000:]
    assert path.with_suffix(".json").read_bytes() == config_before  # no --write: the model is untouched
    noisy, untouched, unlimited = (_overall_si_sdr(looked.stdout, s) for s in ("noisy", "0 dB", "inf dB"))
    assert abs(untouched - noisy) < 0.05 and unlimited > noisy + 1.0  # each row ran at its own limit

    written = _choose_limit(selection_set, path, "--limits=0,inf", "--write")
    assert written.returncode == 0, written.stderr[-2000:]
    chosen = re.search(r"^chosen: (\S+) dB: (PESQ-WB [0-9.]+ \(best |no limit kept STOI)", written.stdout, re.M).group(1)
    assert chosen in ("0", "inf")
    assert model_io.load_model(path)[1].max_attenuation_db == float(chosen)


def test_choose_limit_refuses_bad_limits_in_one_line(selection_set: Path, tmp_path: Path) -> None:
    result = _choose_limit(selection_set, tmp_path / "missing.keras", "--limits=-6")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: --limits must be attenuation limits in dB (0 or more, inf: none), got -6"]


@pytest.mark.parametrize("flags, reason", [
    (["--split=test"], "choose_limit picks on the validation split only, not --split=test"),
    (["--split_seed=3"], "the split flags differ from the model's own split"),
])
def test_choose_limit_keeps_to_the_models_own_validation_speakers(tmp_path: Path, flags: list[str], reason: str) -> None:
    model, cfg = trained_tiny_model()
    model_io.save_model(model, tmp_path / "tiny.keras", cfg)
    result = cli_runner.run("choose_limit", f"--model={tmp_path / 'tiny.keras'}", f"--speech_dir={tmp_path}",
                            f"--noise_dir={tmp_path}", *flags)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {reason}")
