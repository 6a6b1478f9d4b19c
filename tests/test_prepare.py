"""Prepare decodes a corpus once into a keyed TFRecord cache with a manifest, and reuses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tensorflow as tf

from keras_denoiser.core.config import SignalConfig, SplitConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines import prepare
from keras_denoiser.pipelines.prepare import default_cache_dir, prepare_corpus
from tests import cli_runner
from tests.conftest import harmonic_speechlike

SECONDS = (1.0, 2.0, 1.5, 3.0, 2.5, 1.0)
SPLIT = SplitConfig(validation_fraction=0.3, test_fraction=0.0)
# Prepared as noise: caching is the same for both kinds, and noise keeps its exact durations (no silence trim).


@pytest.fixture
def corpus(tmp_path: Path, write_wav) -> Path:
    for i, seconds in enumerate(SECONDS):
        write_wav(f"speech/s{i}.wav", harmonic_speechlike(seconds, 22050, seed=i), 22050)
    (tmp_path / "speech" / "broken.wav").write_text("not audio")
    return tmp_path / "speech"


def _decoded_seconds(shards) -> list[float]:
    records = tf.data.TFRecordDataset([str(p) for p in shards])
    spec = {"audio": tf.io.FixedLenFeature([], tf.string)}
    waves = [tf.io.decode_raw(tf.io.parse_single_example(r, spec)["audio"], tf.float32) for r in records]
    return [len(w) / 16000 for w in waves]


def test_prepare_writes_shards_and_a_manifest_with_counts_and_durations(corpus, tmp_path) -> None:
    prepared = prepare_corpus(corpus, tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    manifest = json.loads(Path(prepared.manifest_path).read_text())
    assert prepared.num_train + prepared.num_validation == len(SECONDS) == manifest["counts"]["train"] + manifest["counts"]["validation"]
    assert prepared.num_validation >= 1 and prepared.num_train >= 1
    assert manifest["counts"]["skipped"] == 1 and manifest["skipped"][0]["path"].endswith("broken.wav")
    assert manifest["seconds"]["total"] == pytest.approx(sum(SECONDS), abs=1e-3)
    assert manifest["sample_rate"] == 16000
    train = _decoded_seconds(prepared.train_shards)
    validation = _decoded_seconds(prepared.validation_shards)
    assert sorted(train + validation) == pytest.approx(sorted(SECONDS), abs=1e-3)
    assert sum(train) == pytest.approx(prepared.train_seconds, abs=1e-3)
    assert not list((tmp_path / "cache").glob(".tmp-*"))


def test_second_prepare_reuses_the_cache_without_decoding(corpus, tmp_path, monkeypatch) -> None:
    first = prepare_corpus(corpus, tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    mtime = Path(first.manifest_path).stat().st_mtime_ns

    def no_decoding(job):
        raise AssertionError(f"decoded {job[1]} again")

    monkeypatch.setattr(prepare, "decode_job", no_decoding)
    second = prepare_corpus(corpus, tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    assert second.reused and not first.reused
    assert second.manifest_path == first.manifest_path
    assert Path(second.manifest_path).stat().st_mtime_ns == mtime
    assert second.train_shards == first.train_shards


def test_changed_file_list_or_rate_prepares_a_new_cache(corpus, tmp_path, write_wav) -> None:
    first = prepare_corpus(corpus, tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    other_rate = prepare_corpus(corpus, tmp_path / "cache", SignalConfig(sample_rate=8000), SPLIT, "noise", workers=1, progress=False)
    write_wav("speech/new.wav", harmonic_speechlike(1.0, 16000))
    added = prepare_corpus(corpus, tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    folders = {first.cache_path, other_rate.cache_path, added.cache_path}
    assert len(folders) == 3
    assert added.num_train + added.num_validation == len(SECONDS) + 1
    assert not added.reused


def test_killed_prepare_leaves_no_valid_cache_and_the_next_one_recovers(corpus, tmp_path, monkeypatch) -> None:
    real_decode = prepare.decode_job
    calls = []

    def dies_on_third(job):
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_decode(job)

    monkeypatch.setattr(prepare, "decode_job", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        prepare_corpus(corpus, tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    assert not list((tmp_path / "cache").glob("*/manifest.json"))
    monkeypatch.setattr(prepare, "decode_job", real_decode)
    prepared = prepare_corpus(corpus, tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    assert prepared.num_train + prepared.num_validation == len(SECONDS)


def test_decoding_in_worker_processes_gives_the_same_cache(corpus, tmp_path) -> None:
    one = prepare_corpus(corpus, tmp_path / "a", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    two = prepare_corpus(corpus, tmp_path / "b", SignalConfig(), SPLIT, "noise", workers=2, progress=False)
    for a, b in zip(one.train_shards + one.validation_shards, two.train_shards + two.validation_shards):
        assert Path(a).read_bytes() == Path(b).read_bytes()


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "keras_denoiser"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "keras_denoiser"


def test_prepare_command_prints_a_summary_and_reports_a_missing_folder_in_one_line(corpus, tmp_path) -> None:
    flags = [f"--cache_dir={tmp_path / 'cache'}", "--workers=1"]
    done = cli_runner.run("prepare", f"--speech_dir={corpus}", *flags)
    assert done.returncode == 0, done.stderr
    assert f"{corpus}: " in done.stdout and "1 skipped; prepared" in done.stdout
    assert "broken.wav: not readable audio" in done.stdout
    missing = cli_runner.run("prepare", f"--speech_dir={tmp_path / 'nope'}")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'nope'}: no such corpus folder"


def test_a_broken_cache_folder_in_the_way_is_reported_in_one_line(corpus, tmp_path) -> None:
    first = prepare_corpus(corpus, tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    Path(first.manifest_path).write_text("{ truncated")
    with pytest.raises(UserError, match="not a complete cache; delete it"):
        prepare_corpus(corpus, tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)


def test_a_truncated_file_is_skipped_with_its_reason_not_trained_on(tmp_path: Path, write_wav) -> None:
    """libsndfile reads what a cut-off wav still holds without complaint; prepare must not take it."""
    whole = write_wav("speech/whole.wav", harmonic_speechlike(2.0, 16000, seed=3), 16000).read_bytes()
    (tmp_path / "speech" / "cut.wav").write_bytes(whole[: len(whole) // 2])
    prepared = prepare_corpus(tmp_path / "speech", tmp_path / "cache", SignalConfig(), SPLIT, "noise", workers=1, progress=False)
    manifest = json.loads(Path(prepared.manifest_path).read_text())
    assert [Path(entry["path"]).name for entry in manifest["skipped"]] == ["cut.wav"]
    assert manifest["skipped"][0]["reason"].startswith("truncated: header declares")
    assert prepared.num_train + prepared.num_validation == 1
