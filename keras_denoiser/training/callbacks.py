"""Callbacks of the training loop: graceful stop on SIGINT/SIGTERM or a non-finite loss, progress lines, best checkpoint."""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Callable

import keras

from keras_denoiser.core.errors import UserError
from keras_denoiser.training.backup import ResumableBackupAndRestore, kept_backup


class TrainingInterrupted(Exception):
    """Training stopped on a signal after writing a backup; `exit_status` is 128 + the signal number."""

    def __init__(self, signum: int, epoch: int, step: int, global_step: int, backup_dir: str) -> None:
        name = signal.Signals(signum).name
        super().__init__(
            f"{name}: stopped at epoch {epoch + 1} step {step} (global step {global_step}), backup in {backup_dir}"
        )
        self.exit_status = 128 + signum


class StopSignal:
    """Context manager catching SIGINT and SIGTERM as a request to stop after the current step.

    A second SIGINT aborts at once (KeyboardInterrupt) without a backup.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.received: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.received = signum
        print(
            f"{signal.Signals(signum).name} received: saving a backup after the current step "
            "(Ctrl-C again aborts without one)",
            file=sys.stderr,
            flush=True,
        )

    def __enter__(self) -> "StopSignal":
        for signum in self.SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class StopOnSignal(keras.callbacks.Callback):
    """After a step (or an epoch end) following a signal, write the backup and raise TrainingInterrupted."""

    def __init__(self, stop_signal: StopSignal, backup: ResumableBackupAndRestore) -> None:
        super().__init__()
        self.stop_signal = stop_signal
        self.backup = backup

    def _stop_if_asked(self) -> None:
        if self.stop_signal.received is None:
            return
        self.backup.save()
        position = self.backup.position
        raise TrainingInterrupted(
            self.stop_signal.received, position.epoch, position.step, self.backup.global_step, self.backup.backup_dir
        )

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        # After an epoch's last step, stop once its validation and backup are done (on_epoch_end).
        if self.backup.position.step < self.backup.steps_per_epoch:
            self._stop_if_asked()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self._stop_if_asked()


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop at the first step whose loss is NaN or Inf, naming it, before that step's weights reach a backup.

    Such a step has already written NaN into the weights, so the run is stopped rather than the batch
    skipped: every later step and backup would carry them. It must come before the backup callback,
    which would save them at this step (Keras's TerminateOnNaN names neither the step nor the backup).
    """

    def __init__(self, backup: ResumableBackupAndRestore) -> None:
        super().__init__()
        self.backup = backup

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if math.isfinite(loss):
            return
        position = self.backup.position  # the backup callback has not counted this step yet
        raise UserError(
            f"training loss is {loss} at epoch {position.epoch + 1} step {position.step + 1} "
            f"(global step {self.backup.global_step + 1}); stopped before that step was saved: "
            f"{kept_backup(Path(self.backup.backup_dir))}; check the corpus, or train with a lower --learning_rate "
            "in a new --model_dir"
        )


class ProgressLogger(keras.callbacks.Callback):
    """One line every `every_steps` global steps and one per epoch, with loss and step rate."""

    def __init__(
        self,
        backup: ResumableBackupAndRestore,
        epochs: int,
        every_steps: int,
        print_fn: Callable[[str], None] = print,
    ) -> None:
        super().__init__()
        self.backup = backup
        self.epochs = epochs
        self.every_steps = every_steps
        self.print_fn = print_fn
        self._since = (time.monotonic(), 0)

    def on_train_begin(self, logs=None) -> None:
        self._since = (time.monotonic(), self.backup.global_step)

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        global_step = self.backup.global_step
        if self.every_steps <= 0 or global_step % self.every_steps:
            return
        start_time, start_step = self._since
        now = time.monotonic()
        rate = (global_step - start_step) / max(now - start_time, 1e-9)
        self._since = (now, global_step)
        loss = (logs or {}).get("loss", math.nan)
        position = self.backup.position
        self.print_fn(
            f"epoch {position.epoch + 1}/{self.epochs} step {position.step}/{self.backup.steps_per_epoch} "
            f"global_step {global_step} loss {float(loss):.5f} {rate:.2f} steps/s"
        )

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        values = " ".join(f"{name} {float(value):.5g}" for name, value in sorted((logs or {}).items()))
        self.print_fn(f"epoch {epoch + 1}/{self.epochs} done: {values}")


class LearningRateWarmup(keras.callbacks.Callback):
    """Ramps the learning rate linearly from `peak / steps` to `peak` over the first `steps` optimizer steps.

    A run that starts from trained weights starts Adam afresh: its first updates are about the full
    learning rate in every weight whatever the gradient (the moment estimates hold one sample). The
    ramp keeps those first steps small. It reads the optimizer's step count, so a resumed run continues the ramp,
    and it leaves the rate alone after the ramp (plateau halving takes over).
    """

    def __init__(self, peak: float, steps: int) -> None:
        super().__init__()
        self.peak = peak
        self.steps = steps

    def on_train_batch_begin(self, batch: int, logs=None) -> None:
        step = int(self.model.optimizer.iterations)
        if step < self.steps:
            self.model.optimizer.learning_rate.assign(self.peak * (step + 1) / self.steps)


class EpochEndCall(keras.callbacks.Callback):
    """Calls `action(epoch)` with the 1-based number of every epoch that ends."""

    def __init__(self, action: Callable[[int], None]) -> None:
        super().__init__()
        self.action = action

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.action(epoch + 1)


class BestModelCheckpoint(keras.callbacks.Callback):
    """Calls `save()` whenever `monitor` improves; the best value survives restarts in `score_path`."""

    def __init__(self, save: Callable[[], None], score_path: Path | None, monitor: str = "val_loss") -> None:
        super().__init__()
        self.save = save
        self.score_path = score_path
        self.monitor = monitor
        self.best = self._saved_best()

    def _saved_best(self) -> float:
        if self.score_path is None:
            return math.inf
        try:
            return float(json.loads(self.score_path.read_text())[self.monitor])
        except (OSError, ValueError, KeyError):
            return math.inf

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not float(value) < self.best:
            return
        self.best = float(value)
        self.save()
        if self.score_path is None:
            return
        tmp = self.score_path.with_name(self.score_path.name + ".tmp")
        tmp.write_text(json.dumps({"epoch": epoch + 1, self.monitor: self.best}) + "\n")
        tmp.replace(self.score_path)
