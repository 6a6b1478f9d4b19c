"""Faults outside our control cost one line and leave nothing half-written: a full disk, a read-only
output folder, symbolic links that lead nowhere.

A full disk is a small tmpfs, or RLIMIT_FSIZE (a write past the limit fails with EFBIG as one on a
full disk fails with ENOSPC: the same OSError path); a read-only folder is a read-only tmpfs, since
chmod does not stop root, who runs CI. Mounts happen in a private mount namespace (`unshare`), so
nothing outlives the test.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import soundfile as sf

from tests import cli_runner
from tests.enhance_helpers import save_tiny_unet

ROOT = Path(__file__).resolve().parents[1]
FILE_SIZE_LIMIT = 100_000  # bytes


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def _denoise(cwd: Path, *args: str, prefix: tuple[str, ...] = (), **kwargs) -> subprocess.CompletedProcess:
    command = [*prefix, sys.executable, "-m", "keras_denoiser", "denoise", *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kwargs)


def test_full_disk_during_denoise_leaves_no_partial_output_and_one_line(tmp_path: Path) -> None:
    save_tiny_unet(tmp_path / "tiny.keras")
    sf.write(tmp_path / "long.wav", np.zeros((3 * 44100, 2)), 44100)  # 529 kB out: past the limit
    sf.write(tmp_path / "short.wav", np.zeros(1600), 16000)  # 3 kB out: fits
    out = (tmp_path / "out").resolve()

    result = _denoise(tmp_path, "--model=tiny.keras", "--output_dir=out", "long.wav", "short.wav", preexec_fn=_limit_file_size)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"error: long.wav: cannot write {out / 'long.wav'} (File too large)"]
    assert sorted(p.name for p in out.iterdir()) == ["short.wav"]  # no long.wav, no .part file


def test_read_only_output_folder_is_one_line_before_any_work(tmp_path: Path) -> None:
    sf.write(tmp_path / "in.wav", np.zeros(1600), 16000)
    (tmp_path / "out").mkdir()
    mount_read_only = ("unshare", "--map-root-user", "--mount", "sh", "-c", 'mount -t tmpfs -o ro tmpfs out && exec "$@"', "sh")

    # The model does not exist: refusing the folder first shows no work (not even loading) came before.
    result = _denoise(tmp_path, "--model=missing.keras", "--output_dir=out", "in.wav", prefix=mount_read_only)

    assert (result.returncode, result.stderr.splitlines()) == (1, ["error: out: folder is not writable"])


def test_a_link_loop_or_a_broken_link_among_the_inputs_is_one_line_each(tmp_path: Path) -> None:
    save_tiny_unet(tmp_path / "tiny.keras")
    inputs = tmp_path / "in"
    inputs.mkdir()
    sf.write(inputs / "good.wav", np.zeros(1600), 16000)
    (inputs / "loop_a.wav").symlink_to("loop_b.wav")
    (inputs / "loop_b.wav").symlink_to("loop_a.wav")
    (inputs / "broken.flac").symlink_to("gone.flac")

    in_folder = cli_runner.run("denoise", "--model=tiny.keras", "--output_dir=out", "in", cwd=tmp_path)
    given = cli_runner.run("denoise", "--model=tiny.keras", "--output_dir=out2", "in/loop_a.wav", cwd=tmp_path)

    assert in_folder.returncode == 1
    assert in_folder.stderr.splitlines() == [
        "error: in/broken.flac: broken symbolic link (to gone.flac)",
        "error: in/loop_a.wav: symbolic link loop",
        "error: in/loop_b.wav: symbolic link loop",
    ]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.wav"]
    assert (given.returncode, given.stderr.splitlines()) == (1, ["error: in/loop_a.wav: symbolic link loop"])


BACKUP_SCRIPT = """
    import json, sys
    from pathlib import Path
    import numpy as np
    from keras_denoiser import cli
    from keras_denoiser.core import tf_quiet
    tf_quiet.import_tensorflow()  # as the CLI does
    from keras_denoiser.training.backup import ResumableBackupAndRestore, ResumePoint
    from tests.enhance_helpers import tiny_unet

    backups = Path(sys.argv[1])
    model, _ = tiny_unet(seed=0)
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)  # as after a training step
    saved = [w.copy() for w in model.get_weights()]
    callback = ResumableBackupAndRestore(backups, save_every_steps=2, steps_per_epoch=10, run_settings={})
    callback.set_model(model)
    callback.start_at(ResumePoint(0, 2))
    callback.save()  # fits

    def back_up_on_a_full_disk(argv):
        try:
            with open(backups / "filler", "wb") as filler:
                while True:
                    filler.write(bytes(1 << 16))
        except OSError:
            pass  # the disk is full
        model.set_weights([w + 1 for w in saved])
        callback.start_at(ResumePoint(0, 4))
        callback.save()

    status = cli._guarded(back_up_on_a_full_disk, takes_arguments=False)(["keras_denoiser train"])
    (backups / "filler").unlink()
    fresh, _ = tiny_unet(seed=1)
    fresh.compile(optimizer="adam", loss="mse")
    point = ResumableBackupAndRestore(backups, 2, 10, {}).restore(fresh)
    same = all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), saved))
    print(json.dumps({"status": status, "point": [point.epoch, point.step], "restored_first": same,
                      "left": sorted(p.name for p in backups.iterdir())}))
"""


def test_full_disk_during_a_training_backup_keeps_the_previous_one_usable(tmp_path: Path) -> None:
    backups = tmp_path / "backup"
    backups.mkdir()
    on_a_small_disk = ("unshare", "--map-root-user", "--mount", "sh", "-c", 'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"')
    command = [*on_a_small_disk, str(backups), sys.executable, "-c", textwrap.dedent(BACKUP_SCRIPT), str(backups)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert result.returncode == 0, result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    line = result.stderr.strip()
    assert line.startswith(f"error: {backups}: no space for a training backup (0.0 MB free, about ")
    assert line.endswith(" MB needed); ckpt-0000000002 is kept and a rerun continues from it")
    state = json.loads(result.stdout.splitlines()[-1])
    assert state == {"status": 1, "point": [0, 2], "restored_first": True, "left": ["ckpt-0000000002"]}
