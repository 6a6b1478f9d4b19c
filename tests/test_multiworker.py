"""Two CPU workers on 127.0.0.1 with MultiWorkerMirroredStrategy: kill one mid-run, restart both, finish."""

from __future__ import annotations

import csv
import json
import signal
import socket
from pathlib import Path

import pytest

from keras_denoiser.training.backup import latest_backup, read_metadata
from tests.test_resume import (  # noqa: F401  (corpora is a fixture)
    Run,
    assert_loss_continues,
    assert_starts_from,
    backup_state,
    corpora,
    progress_losses,
    progress_steps,
    recorded,
    train_args,
)

pytestmark = pytest.mark.slow


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _start_workers(args: list[str], logs: Path, name: str, env: dict[str, str] | None = None) -> list[Run]:
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    return [
        Run(args, logs / f"{name}{index}", env={
            **(env or {}), "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        })
        for index in range(2)
    ]


def test_killed_worker_restarts_from_the_backup_not_from_step_0(corpora: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "run"
    args = train_args(
        corpora, model_dir, strategy="multi_worker", steps_per_epoch=6, backup_every_steps=2, learning_rate=0.01
    )
    chief, worker = _start_workers(args, tmp_path, "first")
    chief.wait_for("global_step 9 ")  # epoch 2, after the step-8 backup
    worker.process.send_signal(signal.SIGKILL)
    chief.process.send_signal(signal.SIGKILL)  # the survivor would wait for its peer; restart all
    worker.finish(), chief.finish()
    saved = read_metadata(latest_backup(model_dir / "backup"))
    assert saved["epoch"] == 1 and saved["step"] > 0, saved
    saved_state = backup_state(model_dir)

    probe_args, env = recorded(args, tmp_path / "state")
    restarted = _start_workers(probe_args, tmp_path, "second", env)
    for run in restarted:
        assert run.finish() == 0, run.stderr.read_text()[-3000:]
        output = run.output()
        assert f"resuming at epoch 2 step {saved['step']} (global step {saved['global_step']})" in output
        assert progress_steps(output) == list(range(saved["global_step"] + 1, 13))
        assert_loss_continues(progress_losses(chief.output()), progress_losses(output), saved["global_step"])
    state_files = sorted((tmp_path / "state").iterdir())
    assert len(state_files) == 2  # one per worker: each starts from the chief's backup
    for state_file in state_files:
        assert_starts_from(state_file, saved_state, saved["global_step"])
    with (model_dir / "training.csv").open() as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    assert "wrote" in restarted[0].output() and "wrote" not in restarted[1].output()  # only the chief saves
    assert [p.name for p in (model_dir / "backup").iterdir()] == [f"ckpt-{12:010d}"]
