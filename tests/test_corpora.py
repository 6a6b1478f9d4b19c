"""Corpus readers skip bad entries with a reason, read every audio flavour, and split deterministically."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_denoiser.core.audio import read_mono
from keras_denoiser.core.config import SplitConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines.corpora import read_audio_folder, read_corpus, read_ljspeech, split_of
from tests.conftest import harmonic_speechlike


def _lj_fixture(tmp_path: Path, write_wav) -> Path:
    root = tmp_path / "lj"
    for name in ("LJ001-0001", "LJ001-0002"):
        write_wav(f"lj/wavs/{name}.wav", harmonic_speechlike(1.0, 22050), 22050)
    write_wav("lj/outside.wav", harmonic_speechlike(1.0, 22050), 22050)
    (root / "wavs" / "empty.wav").write_bytes(b"")
    (root / "wavs" / "text.wav").write_text("this is not audio\n" * 20)
    good = (root / "wavs" / "LJ001-0001.wav").read_bytes()
    (root / "wavs" / "truncated.wav").write_bytes(good[:30])
    rows = [
        'LJ001-0001|Printing, in the "only" sense|Printing, in the "only" sense',
        "",
        '"LJ001-0002"|two fields only',
        "../outside|escapes with dot-dot|escapes",
        "/etc/passwd|absolute path|absolute",
        "LJ009-9999|missing wav|missing",
        "empty|empty file|empty",
        "text|text named .wav|text",
        "truncated|truncated header|truncated",
        "no separator at all",
        "   ",
    ]
    (root / "metadata.csv").write_text("\n".join(rows) + "\n")
    return root


def test_ljspeech_reader_keeps_good_rows_and_skips_bad_ones_with_reasons(tmp_path, write_wav) -> None:
    root = _lj_fixture(tmp_path, write_wav)
    corpus = read_ljspeech(root)
    assert [item.id for item in corpus.items] == ["LJ001-0001", "LJ001-0002"]
    assert corpus.items[1].path == str(root / "wavs" / "LJ001-0002.wav")
    reasons = {Path(s.path).name.split(":")[0]: s.reason for s in corpus.skipped}
    assert len(corpus.skipped) == 7
    escapes = [s for s in corpus.skipped if "escapes the corpus folder" in s.reason]
    assert len(escapes) == 2 and all("metadata.csv:" in s.path for s in escapes)
    assert reasons["LJ009-9999.wav"] == "no such file"
    assert reasons["empty.wav"] == "empty file"
    assert reasons["text.wav"].startswith("not readable audio")
    assert reasons["truncated.wav"].startswith("not readable audio")
    assert any("malformed row" in s.reason for s in corpus.skipped)


def test_read_corpus_picks_lj_layout_when_metadata_exists(tmp_path, write_wav) -> None:
    root = _lj_fixture(tmp_path, write_wav)
    assert [item.id for item in read_corpus(root).items] == ["LJ001-0001", "LJ001-0002"]


def test_skipped_entries_are_logged_one_line_each(tmp_path, write_wav, caplog) -> None:
    root = _lj_fixture(tmp_path, write_wav)
    with caplog.at_level("WARNING"):
        corpus = read_ljspeech(root)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")]
    assert len(lines) == len(corpus.skipped)
    assert all("\n" not in line for line in lines)


def test_folder_reader_reads_every_audio_flavour_and_resamples_to_the_right_length(tmp_path) -> None:
    root = tmp_path / "noise"
    root.mkdir()
    seconds = 1.5
    flavours = {
        "pcm24.wav": (44100, 1, "PCM_24"),
        "float.wav": (16000, 1, "FLOAT"),
        "stereo.wav": (22050, 2, "PCM_16"),
        "narrow.wav": (8000, 1, "PCM_16"),
        "sub/cd.flac": (44100, 1, "PCM_16"),
        "sub/deeper/vorbis.ogg": (48000, 2, "VORBIS"),
    }
    for name, (rate, channels, subtype) in flavours.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        wave = harmonic_speechlike(seconds, rate)
        sf.write(path, np.stack([wave] * channels, axis=1), rate, subtype=subtype)
    (root / "README.txt").write_text("not audio, not listed")
    corpus = read_audio_folder(root)
    assert sorted(item.id for item in corpus.items) == sorted(flavours)
    assert corpus.skipped == ()
    for item in corpus.items:
        mono = read_mono(item.path, 16000)
        assert mono.ndim == 1 and mono.dtype == np.float32
        assert abs(len(mono) - seconds * 16000) <= 2, item.id
        assert np.abs(mono).max() > 0.05, item.id


def test_folder_reader_skips_corrupt_files_and_rejects_a_folder_without_audio(tmp_path, write_wav) -> None:
    write_wav("noise/ok.wav", harmonic_speechlike(1.0, 16000))
    (tmp_path / "noise" / "broken.flac").write_bytes(b"fLaC garbage")
    corpus = read_audio_folder(tmp_path / "noise")
    assert [item.id for item in corpus.items] == ["ok.wav"]
    assert [Path(s.path).name for s in corpus.skipped] == ["broken.flac"]
    (tmp_path / "empty_folder").mkdir()
    with pytest.raises(UserError, match="no usable audio"):
        read_audio_folder(tmp_path / "empty_folder")
    with pytest.raises(UserError, match="no such corpus folder"):
        read_corpus(tmp_path / "missing")


def test_split_is_deterministic_per_key_and_near_the_fractions() -> None:
    keys = [f"corpus/speaker-{uuid.UUID(int=i)}" for i in range(20000)]
    split = SplitConfig(seed=3, validation_fraction=0.1, test_fraction=0.15)
    first = [split_of(k, split) for k in keys]
    assert first == [split_of(k, split) for k in keys]
    assert abs(first.count("validation") / len(keys) - 0.1) < 0.01
    assert abs(first.count("test") / len(keys) - 0.15) < 0.01
    none_held = SplitConfig(validation_fraction=0.0, test_fraction=0.0)
    assert {split_of(k, none_held) for k in keys[:500]} == {"train"}
    # A larger test fraction only moves units into test, never test units back out.
    more_test = SplitConfig(seed=3, validation_fraction=0.1, test_fraction=0.3)
    assert all(split_of(k, more_test) == "test" for k, part in zip(keys, first) if part == "test")
    assert [split_of(k, SplitConfig(seed=4)) for k in keys[:200]] != [split_of(k, SplitConfig(seed=3)) for k in keys[:200]]
