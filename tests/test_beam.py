"""`prepare --runner` and `denoise --runner` on Beam's DirectRunner, 2 workers in multi-processing mode,
against the local commands on one generated corpus: the same cache record for record, the same
outputs, a truncated file as a manifest row, a killed run resumed. `prepare --runner` also reads the
corpus from and writes the cache to an object store (`mem://`, `tests/memory_filesystem.py`, standing
in for `gs://`). Every Beam run is the real CLI in a subprocess; the local commands run in-process
with apache_beam unimportable, as without the extra. Beam's worker start-up is slow, so the runs are
shared module-wide."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_denoiser.pipelines import prepare
from tests import cli_runner
from tests.conftest import harmonic_speechlike, skip_unless_available
from tests.enhance_helpers import save_tiny_unet

skip_unless_available(None if importlib.util.find_spec("apache_beam") else "needs the beam extra: pip install -r requirements-beam.txt")
pytestmark = pytest.mark.slow

BEAM = ["--runner=DirectRunner", "--beam_options=--direct_num_workers=2 --direct_running_mode=multi_processing"]
BEAM_THREADS = ["--runner=DirectRunner", "--beam_options=--direct_num_workers=2 --direct_running_mode=multi_threading"]
SPLIT = ["--speech_unit=file", "--validation_fraction=0.3", "--test_fraction=0.2", "--cache_dir=cache"]
TRUNCATED = "s3/b.wav"  # in the middle of the listing
SPEAKERS, PER_SPEAKER = 7, 2

# The CLI in a fresh process, with 3 records a shard (so the shard rule is exercised).
RUN_CLI = """
import sys
from keras_denoiser.pipelines import prepare
prepare.ITEMS_PER_SHARD = 3
from keras_denoiser import cli
sys.argv = ["keras_denoiser", *sys.argv[1:]]
try:
    cli.main()
    code = 0
except SystemExit as end:
    code = end.code
sys.exit(code)
"""


# The same, with the corpus copied to an in-memory object store first and the store's cache copied back
# to `mem_store/` after. The store lives in this one process, so the DirectRunner runs in its in-memory mode.
RUN_CLI_ON_MEMORY = """
import sys
from pathlib import Path
from tests import memory_filesystem
memory_filesystem.upload(Path("speech"), "mem://corpus/speech")
""" + RUN_CLI.replace("sys.exit(code)", 'memory_filesystem.download("mem://store", Path("mem_store"))\nsys.exit(code)')


class _RefuseBeam(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "apache_beam":
            raise ImportError(f"{name} imported by a local command")
        return None


@contextlib.contextmanager
def _beam_unimportable():
    """apache_beam as on a machine without the extra: hidden from sys.modules and refused on import."""
    loaded = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split(".")[0] == "apache_beam"}
    finder = _RefuseBeam()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        sys.modules.update(loaded)


def _local(root: Path, *args: str) -> subprocess.CompletedProcess:
    """A local command in-process (cli_runner), 3 records a shard, with apache_beam unimportable: it must not need Beam."""
    with _beam_unimportable(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(prepare, "ITEMS_PER_SHARD", 3)
        return cli_runner.run(*args, cwd=root)


def _cli(root: Path, *args: str, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    command = [sys.executable, "-c", RUN_CLI, *args]
    if popen:
        return subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Speech folders at several rates and channel counts, float samples, one file cut short; a tiny model."""
    root = tmp_path_factory.mktemp("beam")
    rates = (16000, 22050, 44100)
    for s in range(SPEAKERS):
        for u, name in enumerate("ab"[:PER_SPEAKER]):
            rate = rates[(s + u) % 3]
            wave = harmonic_speechlike(2.5, rate, seed=10 * s + u)
            data = np.stack([wave, 0.5 * wave], axis=1) if s % 2 else wave
            (root / "speech" / f"s{s}").mkdir(parents=True, exist_ok=True)
            sf.write(root / "speech" / f"s{s}" / f"{name}.wav", data, rate, subtype="FLOAT")
    cut = root / "speech" / TRUNCATED
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    save_tiny_unet(root / "tiny.keras")
    return root


def _cache(root: Path, name: str) -> Path:
    (folder,) = (root / name).iterdir()
    return folder


@pytest.fixture(scope="module")
def caches(root: Path) -> tuple[Path, Path]:
    """The cache of the local prepare and of the Beam one, each in its own --cache_dir."""
    local = _local(root, "prepare", "--speech_dir=speech", *SPLIT)
    assert local.returncode == 0, local.stderr
    beam = _cli(root, "prepare", "--speech_dir=speech", *SPLIT, "--cache_dir=beam_cache", *BEAM)
    assert beam.returncode == 0, beam.stderr
    assert f"skipped speech/{TRUNCATED}: truncated" in beam.stdout
    return _cache(root, "cache"), _cache(root, "beam_cache")


def test_beam_prepare_reads_and_writes_an_object_store_as_the_local_prepare_does(root: Path, caches) -> None:
    args = ["prepare", "--speech_dir=mem://corpus/speech", *SPLIT, "--cache_dir=mem://store/cache", "--runner=DirectRunner"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    run = subprocess.run([sys.executable, "-c", RUN_CLI_ON_MEMORY, *args], cwd=root, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr
    assert f"skipped mem://corpus/speech/{TRUNCATED}: truncated" in run.stdout
    assert not list(root.glob("mem*:*"))  # nothing written to the local disk under the address's name
    (remote,) = (root / "mem_store" / "cache").iterdir()
    local = caches[0]
    manifests = [json.loads((folder / "manifest.json").read_text()) for folder in (local, remote)]
    assert manifests[1]["corpus"] == "mem://corpus/speech"
    assert [entry["path"] for entry in manifests[1]["skipped"]] == [f"mem://corpus/speech/{TRUNCATED}"]
    for manifest in manifests:
        for entry in manifest["skipped"]:
            entry["path"] = entry["path"].rsplit("speech/", 1)[1]
        for field in ("corpus", "prepare_seconds"):
            manifest.pop(field)
    assert manifests[0] == manifests[1]  # held-out lists, counts, seconds, shard names, skipped files with reasons
    names = sorted(path.name for path in local.iterdir())
    assert sorted(path.name for path in remote.iterdir()) == names  # no temporary objects left
    for name in names:
        if name.endswith(".tfrecord"):
            assert (remote / name).read_bytes() == (local / name).read_bytes(), name


def test_an_object_store_listing_has_the_local_order_and_a_folder_is_a_prefix(tmp_path: Path) -> None:
    from keras_denoiser.pipelines.beam_storage import REMOTE
    from keras_denoiser.pipelines.storage import LOCAL
    from tests import memory_filesystem

    for name in ("a.wav", "s1/x.wav", "s1-2/y.flac", "s1/sub/z.WAV", "s10/w.wav", "notes.txt", "s1.wav"):
        (tmp_path / "c" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "c" / name).write_bytes(b"RIFF")
    memory_filesystem.upload(tmp_path / "c", "mem://listing/c")
    local_ids = [item_id for _, item_id in LOCAL.audio_files(str(tmp_path / "c"))]
    assert local_ids == ["a.wav", "s1/sub/z.WAV", "s1/x.wav", "s1-2/y.flac", "s1.wav", "s10/w.wav"]  # not plain string order
    assert REMOTE.audio_files("mem://listing/c/") == [(f"mem://listing/c/{item_id}", item_id) for item_id in local_ids]
    assert REMOTE.folder("mem://listing/c/") == "mem://listing/c" and REMOTE.folder("mem://listing/s1") is None
    assert REMOTE.stat("mem://listing/c/a.wav")[0] == 4 and REMOTE.stat("mem://listing/c/b.wav") is None
    assert REMOTE.inside("mem://listing/c/s1/../a.wav", "mem://listing/c")
    assert not REMOTE.inside("mem://listing/c/../d/a.wav", "mem://listing/c")


def test_beam_prepare_writes_the_local_cache_shard_for_shard(caches) -> None:
    local, beam = caches
    assert local.name == beam.name  # the same key: the same corpus, rate and split
    manifests = [json.loads((folder / "manifest.json").read_text()) for folder in caches]
    for manifest in manifests:
        manifest.pop("prepare_seconds")
    assert manifests[0] == manifests[1]  # held-out lists, counts, seconds, shard names, skipped files with reasons
    shards = [name for names in manifests[0]["shards"].values() for name in names]
    assert len(manifests[0]["shards"]["train"]) > 1 and manifests[0]["counts"]["validation"] > 0
    for name in shards:
        assert (local / name).read_bytes() == (beam / name).read_bytes(), name
    assert [entry["path"] for entry in manifests[0]["skipped"]] == [f"speech/{TRUNCATED}"]
    assert manifests[0]["skipped"][0]["reason"].startswith("truncated")


@pytest.fixture(scope="module")
def denoised(root: Path) -> dict:
    """The local denoise, a Beam denoise (worker processes) killed after its first outputs, and its rerun."""
    model = f"--model={root / 'tiny.keras'}"
    local = _local(root, "denoise", model, "--output_dir=local_out", "speech")
    assert "imported by a local command" not in local.stderr and "needs Apache Beam" not in local.stderr, local.stderr
    run = _cli(root, "denoise", model, "--output_dir=beam_out", "speech", *BEAM, start_new_session=True)
    outputs = root / "beam_out"
    deadline = time.monotonic() + 600
    while run.poll() is None and time.monotonic() < deadline:
        if outputs.exists() and any(p.suffix == ".wav" and not p.name.startswith(".") for p in outputs.rglob("*.wav")):
            os.killpg(run.pid, signal.SIGKILL)
            break
        time.sleep(0.01)
    run.wait(timeout=60)
    survivors = {p: p.stat().st_mtime_ns for p in outputs.rglob("*.wav") if not p.name.startswith(".")}
    manifest_after_kill = (outputs / "manifest.jsonl").exists()
    # The killed run had worker processes; the rerun's subject is what it skips, so its workers are threads (7 s less).
    rerun = _cli(root, "denoise", model, "--output_dir=beam_out", "speech", *BEAM_THREADS)
    rows = [json.loads(line) for line in (outputs / "manifest.jsonl").read_text().splitlines()]
    return {"local": local, "killed": run, "survivors": survivors, "manifest_after_kill": manifest_after_kill, "rerun": rerun, "rows": rows}


def test_a_killed_beam_denoise_is_resumed_by_a_rerun_that_does_only_the_missing_files(root, denoised) -> None:
    assert denoised["killed"].returncode == -signal.SIGKILL
    survivors = denoised["survivors"]
    assert 0 < len(survivors) < SPEAKERS * PER_SPEAKER - 1, "the kill came after every output: nothing to resume"
    assert not denoised["manifest_after_kill"]  # written only at the end of a run
    rows = {row["path"]: row for row in denoised["rows"]}
    assert len(rows) == SPEAKERS * PER_SPEAKER
    for path, mtime in survivors.items():
        row = rows[f"speech/{path.relative_to(root / 'beam_out').as_posix()}"]
        assert row["status"] == "exists" and path.stat().st_mtime_ns == mtime  # not written again
    done = [row for row in rows.values() if row["status"] == "done"]
    assert len(done) == SPEAKERS * PER_SPEAKER - 1 - len(survivors)
    assert all(row["rate"] in (16000, 22050, 44100) and row["duration"] == pytest.approx(2.5) for row in done)


def test_a_truncated_file_is_a_manifest_row_with_its_reason_and_the_others_are_done(root, denoised) -> None:
    rerun = denoised["rerun"]
    assert rerun.returncode == 1, rerun.stderr  # as the local denoise: a file failed
    assert f"error: speech/{TRUNCATED}: truncated" in rerun.stderr
    row = next(row for row in denoised["rows"] if row["path"] == f"speech/{TRUNCATED}")
    assert row["status"] == "failed" and row["reason"].startswith("truncated") and row["output"].endswith(TRUNCATED)
    assert not (root / "beam_out" / TRUNCATED).exists()
    assert sum(row["status"] != "failed" for row in denoised["rows"]) == SPEAKERS * PER_SPEAKER - 1


def test_beam_denoise_outputs_equal_the_local_denoise(root, denoised) -> None:
    assert denoised["local"].returncode == 1  # the truncated file
    local = sorted(p.relative_to(root / "local_out") for p in (root / "local_out").rglob("*.wav"))
    beam = sorted(p.relative_to(root / "beam_out") for p in (root / "beam_out").rglob("*.wav") if not p.name.startswith("."))
    assert local == beam and len(local) == SPEAKERS * PER_SPEAKER - 1
    for name in local:
        expected, rate = sf.read(root / "local_out" / name, dtype="float32")
        got, beam_rate = sf.read(root / "beam_out" / name, dtype="float32")
        assert beam_rate == rate and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=str(name))


def test_inputs_are_planned_as_the_local_denoise_plans_them(tmp_path: Path, write_wav, monkeypatch) -> None:
    from keras_denoiser.core.errors import UserError
    from keras_denoiser.inference.beam_denoise import plan_file_jobs

    for name in ("in/a.wav", "in/sub/b.flac", "in/out/old.wav", "c.wav", "d/c.wav"):
        write_wav(name, np.zeros(160, np.float32))
    (tmp_path / "in" / "notes.txt").write_text("not audio")
    monkeypatch.chdir(tmp_path)
    jobs = plan_file_jobs(["in", "c.wav"], str(tmp_path / "in" / "out"), None)  # outputs inside an input folder
    out = tmp_path / "in" / "out"
    assert [(j.source, j.target) for j in jobs] == [
        ("in/a.wav", f"{out}/a.wav"), ("in/sub/b.flac", f"{out}/sub/b.flac"), ("c.wav", f"{out}/c.wav")]
    assert [j.target for j in plan_file_jobs(["in/*.wav"], "o", "flac")] == ["o/a.flac"]
    with pytest.raises(UserError, match="d/c.wav: output o/c.wav is also the output of c.wav"):
        plan_file_jobs(["c.wav", "d/c.wav"], "o", None)
    with pytest.raises(UserError, match="missing: no such file or folder"):
        plan_file_jobs(["missing"], "o", None)
