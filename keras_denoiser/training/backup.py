"""Training backups that resume at the saved epoch *and* step, written atomically.

Keras 3's `BackupAndRestore(save_freq=N)` saves weights, optimizer state and {epoch, batch} every N
steps, but on restore only sets the initial epoch (the interrupted epoch restarts from step 0), and
it writes the weights file and the metadata file one after the other (a kill in between leaves them
disagreeing). This subclass:

- writes every backup into a fresh temporary folder (weights + metadata) and renames it to
  `ckpt-<global step>`, so a reader sees a complete backup or none; older backups are removed after;
- saves at every multiple of N global steps within an epoch and at the end of every epoch (after
  validation), so a backup is never "all steps done but the epoch end not";
- restores explicitly (`restore()`), returning the `ResumePoint` the caller continues from, so the
  interrupted epoch can be finished as its own `fit()` of the remaining steps (`start_at`).

In multi-worker training every worker saves (reading distributed variables may need all of them),
but only the chief keeps its backup; the others write to a temporary folder they delete at once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import keras
import numpy as np

from keras_denoiser.core.errors import UserError

BACKUP_PREFIX = "ckpt-"
WEIGHTS_FILE = "latest.weights.h5"
METADATA_FILE = "training_metadata.json"
# Free space kept beyond a backup's size: HDF5 metadata, the JSON file, and room for the rest of the system.
_HEADROOM_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    """Zero-based epoch in progress and the number of its steps already trained."""

    epoch: int = 0
    step: int = 0


def latest_backup(backup_dir: Path) -> Path | None:
    """The newest complete backup folder in `backup_dir`, or None."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return None
    folders = sorted(p for p in backup_dir.glob(f"{BACKUP_PREFIX}*") if p.is_dir())
    return folders[-1] if folders else None


def read_metadata(folder: Path) -> dict[str, Any]:
    """The metadata of a backup folder: epoch, step, global_step, steps_per_epoch, run settings."""
    path = Path(folder) / METADATA_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot read the training backup ({err})") from None


class ResumableBackupAndRestore(keras.callbacks.BackupAndRestore):
    """BackupAndRestore that continues at the saved step and never leaves a half-written backup.

    `run_settings` (e.g. {"mixed_precision": False}) are stored with each backup and must match
    on restore, since they change what the weights file holds.
    """

    def __init__(
        self,
        backup_dir: str | os.PathLike[str],
        save_every_steps: int,
        steps_per_epoch: int,
        run_settings: Mapping[str, Any],
        keep: bool = True,
    ) -> None:
        if save_every_steps < 1 or steps_per_epoch < 1:
            raise UserError("backup_every_steps and steps_per_epoch must be positive")
        super().__init__(str(backup_dir), save_freq=save_every_steps, delete_checkpoint=False)
        self.steps_per_epoch = steps_per_epoch
        self.run_settings = dict(run_settings)
        self.keep = keep
        self.position = ResumePoint()
        self._saved_position: ResumePoint | None = None

    @property
    def global_step(self) -> int:
        """Training steps done since the start of the run."""
        return self.position.epoch * self.steps_per_epoch + self.position.step

    def restore(self, model: keras.Model) -> ResumePoint:
        """Load the newest backup into `model` (weights and optimizer state); where to continue."""
        self.set_model(model)
        folder = latest_backup(Path(self.backup_dir))
        if folder is None:
            self.position = ResumePoint()
            return self.position
        metadata = read_metadata(folder)
        saved_settings = metadata.get("run_settings", {})
        if saved_settings != self.run_settings or metadata.get("steps_per_epoch") != self.steps_per_epoch:
            raise UserError(
                f"{folder}: backup made with {saved_settings} and steps_per_epoch="
                f"{metadata.get('steps_per_epoch')}, now {self.run_settings} and steps_per_epoch="
                f"{self.steps_per_epoch}; use the same settings or a new --model_dir"
            )
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        try:
            model.load_weights(folder / WEIGHTS_FILE)
        except Exception as err:  # h5py and keras raise many types for a damaged file
            raise UserError(f"{folder}: cannot restore the training backup ({type(err).__name__}: {err})") from None
        self.position = ResumePoint(int(metadata["epoch"]), int(metadata["step"]))
        self._saved_position = self.position
        return self.position

    def start_at(self, point: ResumePoint) -> None:
        """Count steps from `point` in the next fit() (its batch 0 is step `point.step` of the epoch)."""
        self.position = point

    def on_train_begin(self, logs=None) -> None:
        """Nothing to do: `restore()` already ran before fit() and the fit starts at `position`."""

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if epoch != self.position.epoch:
            self.position = ResumePoint(epoch, 0)

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self.position = dataclasses.replace(self.position, step=self.position.step + 1)
        # The epoch's last step is saved by on_epoch_end, once validation and the epoch's logs are done.
        if self.position.step < self.steps_per_epoch and self.global_step % self.save_freq == 0:
            self.save()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.position = ResumePoint(epoch + 1, 0)
        self.save()

    def on_train_end(self, logs=None) -> None:
        """Keep the last backup so a rerun with more epochs continues from it."""

    def save(self) -> None:
        """Write weights + metadata for the current position atomically (once per position)."""
        if self._saved_position == self.position:
            return
        self._saved_position = self.position
        backup_dir = Path(self.backup_dir)
        if self.keep:
            backup_dir.mkdir(parents=True, exist_ok=True)
        self._check_free_space(backup_dir if self.keep else Path(tempfile.gettempdir()))
        try:
            staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=backup_dir if self.keep else None))
            try:
                self.model.save_weights(staging / WEIGHTS_FILE)
                metadata = {
                    **dataclasses.asdict(self.position),
                    "global_step": self.global_step,
                    "steps_per_epoch": self.steps_per_epoch,
                    "run_settings": self.run_settings,
                }
                (staging / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
                if self.keep:
                    self._publish(staging, backup_dir / f"{BACKUP_PREFIX}{self.global_step:010d}")
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        except OSError as err:  # the disk filled up after the check; h5py's message spans lines
            raise UserError(f"{backup_dir}: cannot write a training backup ({_reason(err)}); {kept_backup(backup_dir)}") from None

    def _check_free_space(self, folder: Path) -> None:
        """UserError, before any byte is written, when `folder`'s disk cannot hold another backup.

        A write that fails inside Keras's `save_weights` (HDF5 writes most of the file when it is closed)
        crashes the process in h5py (SIGSEGV, Keras 3.15 / h5py 3), so a full disk is caught before.
        """
        previous = latest_backup(Path(self.backup_dir))
        optimizer = getattr(self.model, "optimizer", None)  # None before compile()
        variables = [*self.model.weights, *(optimizer.variables if optimizer is not None else [])]
        estimate = max(
            (previous / WEIGHTS_FILE).stat().st_size if previous else 0,
            sum(math.prod(v.shape) * np.dtype(v.dtype).itemsize for v in variables),
        )
        needed = int(estimate * 1.1) + _HEADROOM_BYTES
        free = shutil.disk_usage(folder).free
        if free < needed:
            raise UserError(
                f"{folder}: no space for a training backup ({free / 1e6:.1f} MB free, about {needed / 1e6:.1f} MB needed); "
                f"{kept_backup(Path(self.backup_dir))}"
            )

    @staticmethod
    def _publish(staging: Path, final: Path) -> None:
        """Flush `staging` to disk, rename it to `final`, then drop older backups and leftovers."""
        for path in staging.iterdir():
            with path.open("rb") as f:
                os.fsync(f.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
        for other in final.parent.iterdir():
            if other != final and other.name.startswith((BACKUP_PREFIX, ".tmp-")):
                shutil.rmtree(other, ignore_errors=True)


def _reason(err: OSError) -> str:
    """The system's words for `err` ("No space left on device"), on one line."""
    return os.strerror(err.errno) if err.errno else str(err).strip().splitlines()[0]


def kept_backup(backup_dir: Path) -> str:
    """What a rerun continues from: the newest backup, or none."""
    folder = latest_backup(backup_dir)
    return f"{folder.name} is kept and a rerun continues from it" if folder else "no earlier backup exists"
