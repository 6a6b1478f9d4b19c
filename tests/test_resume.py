"""The real `keras_denoiser train` CLI in subprocesses: SIGKILL/SIGINT/SIGTERM, then resume."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from keras_denoiser.core import config as config_lib
from keras_denoiser.core.config import TrainConfig
from keras_denoiser.training import train
from keras_denoiser.training.backup import WEIGHTS_FILE, latest_backup, read_metadata
from tests.conftest import harmonic_speechlike
from tests.resume_probe import training_state

pytestmark = pytest.mark.slow
RATE = 16000
DEADLINE_SECONDS = 240
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six 2 s speech-like files and two white-noise files, plus a cache folder shared by the tests."""
    root = tmp_path_factory.mktemp("corpora")
    for i in range(6):
        (root / "speech").mkdir(exist_ok=True)
        sf.write(root / "speech" / f"s{i}.wav", harmonic_speechlike(2.0, RATE, seed=i), RATE)
    rng = np.random.default_rng(0)
    for i in range(2):
        (root / "noise").mkdir(exist_ok=True)
        sf.write(root / "noise" / f"n{i}.wav", (0.1 * rng.standard_normal(2 * RATE)).astype(np.float32), RATE)
    return root


def train_args(corpora: Path, model_dir: Path, **overrides: object) -> list[str]:
    """The CLI command of a tiny run printing one line per step."""
    flags = {
        "speech_dir": corpora / "speech", "noise_dir": corpora / "noise", "cache_dir": corpora / "cache",
        "model_dir": model_dir, "depth": 2, "base_filters": 4, "crop_seconds": 0.5, "batch_size": 4,
        "epochs": 2, "steps_per_epoch": 8, "validation_steps": 1, "backup_every_steps": 3, "log_every_steps": 1,
        **overrides,
    }
    return [sys.executable, "-m", "keras_denoiser", "train", *(f"--{k}={v}" for k, v in flags.items())]


class Run:
    """A CLI subprocess whose stdout/stderr go to files we can poll."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.stdout, self.stderr = log.with_suffix(".out"), log.with_suffix(".err")
        with self.stdout.open("w") as out, self.stderr.open("w") as err:
            self.process = subprocess.Popen(args, stdout=out, stderr=err, env={**os.environ, **(env or {})})

    def output(self) -> str:
        return self.stdout.read_text()

    def wait_for(self, text: str) -> None:
        """Poll stdout until `text` appears; fail if the process ends first or the deadline passes."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while text not in self.output():
            if self.process.poll() is not None:
                pytest.fail(f"process ended ({self.process.returncode}) before {text!r}:\n{self.stderr.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"no {text!r} within {DEADLINE_SECONDS} s")
            time.sleep(0.1)

    def finish(self) -> int:
        return self.process.wait(timeout=DEADLINE_SECONDS)


def progress_steps(output: str) -> list[int]:
    return list(progress_losses(output))


def progress_losses(output: str) -> dict[int, float]:
    """Loss by global step from the progress lines (`... global_step 10 loss 0.01234 ...`)."""
    words = [line.split() for line in output.splitlines() if " global_step " in line]
    return {int(w[w.index("global_step") + 1]): float(w[w.index("loss") + 1]) for w in words}


def recorded(args: list[str], state_dir: Path) -> tuple[list[str], dict[str, str]]:
    """The same train command under tests.resume_probe, which saves the state the first fit() starts from."""
    state_dir.mkdir(exist_ok=True)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return [sys.executable, "-m", "tests.resume_probe", str(state_dir), *args[3:]], env


def backup_state(model_dir: Path) -> dict[str, np.ndarray]:
    """Weights and optimizer variables of the newest backup, loaded by Keras into the model `train` builds."""
    cfg = config_lib.load_json(TrainConfig, model_dir / "config.json")
    model = train.build_model(cfg, tf.distribute.get_strategy(), mixed_precision=False)
    model.load_weights(latest_backup(model_dir / train.BACKUP_DIR) / WEIGHTS_FILE)
    return training_state(model)


def assert_loss_continues(before: dict[int, float], after: dict[int, float], saved_step: int) -> None:
    """The first loss after resuming is nearer the loss where the run stopped than a fresh model's first loss.

    At learning rate 0.01 the tiny model's loss falls from 0.19 (step 1) to 0.12 (step 9) and the
    resumed step 10 measured 0.11; restarting from fresh weights would begin near 0.19 again.
    """
    fresh, stopped = before[1], before[saved_step]
    assert stopped < fresh - 0.03, before  # the run had learned something worth resuming
    assert after[saved_step + 1] < (fresh + stopped) / 2, (before, after)


def assert_starts_from(state_file: Path, backup: dict[str, np.ndarray], global_step: int) -> None:
    """The recorded start of a resumed run equals the backup exactly: weights, Adam slots, iteration count."""
    resumed = np.load(state_file)
    assert int(resumed["iterations"]) == int(backup["iterations"]) == global_step
    assert sorted(resumed.files) == sorted(backup)
    for name, value in backup.items():
        np.testing.assert_array_equal(resumed[name], value, err_msg=name)


def test_sigkill_then_rerun_continues_from_the_saved_step(corpora: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "run"
    first = Run(train_args(corpora, model_dir, learning_rate=0.01), tmp_path / "first")
    first.wait_for("global_step 11 ")  # epoch 2, after the step-9 backup
    first.process.send_signal(signal.SIGKILL)
    first.finish()
    saved = read_metadata(latest_backup(model_dir / "backup"))
    assert saved["epoch"] == 1 and saved["step"] > 0, saved  # mid-epoch 2, not its start
    saved_state = backup_state(model_dir)

    args, env = recorded(train_args(corpora, model_dir, learning_rate=0.01), tmp_path / "state")
    second = Run(args, tmp_path / "second", env)
    assert second.finish() == 0, second.stderr.read_text()[-2000:]
    output = second.output()
    assert f"resuming at epoch 2 step {saved['step']} (global step {saved['global_step']})" in output
    assert progress_steps(output) == list(range(saved["global_step"] + 1, 17))
    [state_file] = (tmp_path / "state").iterdir()
    assert_starts_from(state_file, saved_state, saved["global_step"])
    assert_loss_continues(progress_losses(first.output()), progress_losses(output), saved["global_step"])
    with (model_dir / "training.csv").open() as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    assert (model_dir / "model.keras").is_file() and (model_dir / "best.keras").is_file()


def test_ctrl_c_writes_the_backup_at_once_and_prints_how_to_resume(corpora: Path, tmp_path: Path) -> None:
    """SIGINT to the real CLI. SIGTERM goes through the same handler; test_train sends one to a run
    in-process and checks its backup, step and status 143, and test_progress_signals a command's
    143 in a pipe."""
    model_dir = tmp_path / "run"
    args = train_args(corpora, model_dir, backup_every_steps=1000, steps_per_epoch=50)
    run = Run(args, tmp_path / "run")
    run.wait_for("global_step 4 ")
    run.process.send_signal(signal.SIGINT)
    assert run.finish() == 130
    saved = read_metadata(latest_backup(model_dir / "backup"))
    last_step = progress_steps(run.output())[-1]
    assert (saved["epoch"], saved["step"], saved["global_step"]) == (0, last_step, last_step)
    message = run.stderr.read_text().strip().splitlines()[-1]
    assert f"stopped at epoch 1 step {last_step} (global step {last_step})" in message
    assert "to resume, run the same command again: keras_denoiser train --speech_dir=" in message

    # The same folder with another model size is refused in one line.
    conflict = Run(train_args(corpora, model_dir, depth=3, steps_per_epoch=50), tmp_path / "conflict")
    assert conflict.finish() == 1
    error = conflict.stderr.read_text().strip().splitlines()[-1]
    assert error.startswith("error: ") and "model.depth: 2 -> 3" in error
