"""Speaker and noise-file hold-out: no held-out speaker or noise file reaches the training cache."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core.audio import trim_silence
from keras_denoiser.core.config import SignalConfig, SplitConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines.corpora import check_named_speakers, held_out_units, read_corpus, split_items, unit_key
from keras_denoiser.pipelines.dataset import build_datasets
from keras_denoiser.pipelines.prepare import prepare_corpus
from tests.conftest import harmonic_speechlike

SPLIT = SplitConfig(seed=3, validation_fraction=0.3, test_fraction=0.3)
SPEAKERS = [f"lang{n}/spk{n}" for n in range(10)]


@pytest.fixture
def corpora(tmp_path: Path, write_wav) -> tuple[Path, Path]:
    """10 speaker folders of 3 utterances each, and 12 noise files."""
    for n, speaker in enumerate(SPEAKERS):
        for k in range(3):
            write_wav(f"speech/{speaker}/utt{k}.flac", harmonic_speechlike(0.6, 16000, seed=10 * n + k))
    rng = np.random.default_rng(0)
    for n in range(12):
        write_wav(f"noise/kind{n % 3}/n{n}.wav", (0.1 * rng.standard_normal(4000)).astype(np.float32))
    return tmp_path / "speech", tmp_path / "noise"


def _cached_ids(shards) -> set[str]:
    spec = {"id": tf.io.FixedLenFeature([], tf.string)}
    records = tf.data.TFRecordDataset([str(p) for p in shards])
    return {tf.io.parse_single_example(r, spec)["id"].numpy().decode() for r in records}


def test_every_speaker_lies_wholly_in_one_split(corpora) -> None:
    corpus = read_corpus(corpora[0])
    parts = split_items(corpus, "speech", SPLIT)
    speaker_of = {name: {item.id.rsplit("/", 1)[0] for item in items} for name, items in parts.items()}
    assert set().union(*speaker_of.values()) == set(SPEAKERS)
    assert not (speaker_of["train"] & speaker_of["validation"] or speaker_of["train"] & speaker_of["test"]
                or speaker_of["validation"] & speaker_of["test"])
    assert all(speaker_of[name] for name in ("train", "validation", "test")), speaker_of
    held = held_out_units(corpus, "speech", SPLIT)
    assert held["test"] == sorted(f"speech/{s}" for s in speaker_of["test"])


def test_no_held_out_speaker_or_noise_file_reaches_the_training_cache(corpora, tmp_path: Path) -> None:
    speech_dir, noise_dir = corpora
    for root, kind in ((speech_dir, "speech"), (noise_dir, "noise")):
        prepared = prepare_corpus(root, tmp_path / "cache", SignalConfig(), SPLIT, kind, workers=1, progress=False)
        parts = split_items(read_corpus(root), kind, SPLIT)
        trained = _cached_ids(prepared.train_shards)
        assert trained == {item.id for item in parts["train"]}
        assert _cached_ids(prepared.validation_shards) == {item.id for item in parts["validation"]}
        assert parts["test"] and prepared.num_test == len(parts["test"])
        held = set(prepared.held_out["validation"]) | set(prepared.held_out["test"])
        assert not {unit_key(read_corpus(root), item, kind, SPLIT) for item in parts["train"]} & held


def test_another_seed_holds_out_other_speakers_and_the_same_seed_the_same(corpora) -> None:
    corpus = read_corpus(corpora[0])
    first = held_out_units(corpus, "speech", SPLIT)
    assert held_out_units(read_corpus(corpora[0]), "speech", SPLIT) == first
    assert held_out_units(corpus, "speech", SplitConfig(seed=4, validation_fraction=0.3, test_fraction=0.3)) != first


def test_locale_variant_folders_are_one_speaker_and_an_lj_corpus_is_one(tmp_path: Path, write_wav) -> None:
    for folder in ("sr", "sr@latin", "sr@ijekavian"):
        write_wav(f"ms/ktuberling/{folder}/a.flac", harmonic_speechlike(0.3, 16000))
    corpus = read_corpus(tmp_path / "ms")
    assert {unit_key(corpus, item, "speech", SPLIT) for item in corpus.items} == {"ms/ktuberling/sr"}
    assert {unit_key(corpus, item, "noise", SPLIT) for item in corpus.items} == {
        f"ms/{item.id}" for item in corpus.items
    }
    write_wav("lj/wavs/LJ1.wav", harmonic_speechlike(0.3, 16000))
    write_wav("lj/wavs/LJ2.wav", harmonic_speechlike(0.3, 16000))
    (tmp_path / "lj" / "metadata.csv").write_text("LJ1|a|a\nLJ2|b|b\n")
    lj = read_corpus(tmp_path / "lj")
    assert {unit_key(lj, item, "speech", SPLIT) for item in lj.items} == {"lj"}
    by_file = SplitConfig(speech_unit="file")
    assert {unit_key(lj, item, "speech", by_file) for item in lj.items} == {"lj/LJ1", "lj/LJ2"}


def test_training_refuses_a_split_that_holds_out_every_speaker(tmp_path: Path, write_wav) -> None:
    write_wav("speech/only/a.wav", harmonic_speechlike(1.0, 16000))
    write_wav("noise/n.wav", np.full(8000, 0.1, np.float32))
    held = next(SplitConfig(seed=s, validation_fraction=0.45, test_fraction=0.45) for s in range(100)
                if split_items(read_corpus(tmp_path / "speech"), "speech",
                               SplitConfig(seed=s, validation_fraction=0.45, test_fraction=0.45))["train"] == [])
    with pytest.raises(UserError, match="no speech left to train on"):
        build_datasets([tmp_path / "speech"], [tmp_path / "noise"], tmp_path / "cache", TrainConfig(split=held))


def test_trim_silence_keeps_the_word_and_a_margin_and_leaves_silence_alone() -> None:
    rate = 16000
    word = harmonic_speechlike(0.5, rate, seed=2) + 0.05
    padded = np.concatenate([np.zeros(2 * rate, np.float32), word, 1e-5 * np.ones(3 * rate, np.float32)])
    trimmed = trim_silence(padded, rate)
    assert 0.5 * rate <= len(trimmed) <= 0.5 * rate + 2 * 0.1 * rate + 2 * 0.02 * rate
    assert np.sum(trimmed**2) == pytest.approx(np.sum(padded**2), rel=1e-3)
    assert trim_silence(np.zeros(rate, np.float32), rate).shape == (rate,)
    assert trim_silence(word[:10], rate).shape == (10,)


def test_named_validation_speakers_leave_training_and_the_test_split_stays(corpora, tmp_path: Path) -> None:
    """--validation_speakers moves chosen training speakers into validation; the test split is untouched."""
    speech_dir, _ = corpora
    corpus = read_corpus(speech_dir)

    def trained(split: SplitConfig) -> set[str]:
        return {unit_key(corpus, item, "speech", split) for item in split_items(corpus, "speech", split)["train"]}

    before = held_out_units(corpus, "speech", SPLIT)
    named = sorted(trained(SPLIT))[:2]
    split = dataclasses.replace(SPLIT, validation_speakers=" , ".join(named))
    after = held_out_units(corpus, "speech", split)
    assert after["test"] == before["test"]
    assert after["validation"] == sorted([*before["validation"], *named])
    assert trained(split) == trained(SPLIT) - set(named)
    check_named_speakers([speech_dir], split)  # both are speakers of the corpus
    # A cache prepared without them is not reused: their files leave the training shards.
    prepare_corpus(speech_dir, tmp_path / "cache", SignalConfig(), SPLIT, "speech", workers=1, progress=False)
    prepared = prepare_corpus(speech_dir, tmp_path / "cache", SignalConfig(), split, "speech", workers=1, progress=False)
    named_ids = {item.id for item in corpus.items if unit_key(corpus, item, "speech", split) in named}
    assert named_ids and named_ids <= _cached_ids(prepared.validation_shards)
    assert not named_ids & _cached_ids(prepared.train_shards)

    test_speaker = before["test"][0]
    with pytest.raises(UserError, match=f"{test_speaker}: a test speaker under split seed 3"):
        split_items(corpus, "speech", dataclasses.replace(SPLIT, validation_speakers=test_speaker))
    with pytest.raises(UserError, match="no speaker speech/lang0/nobody in the speech corpora"):
        check_named_speakers([speech_dir], dataclasses.replace(SPLIT, validation_speakers="speech/lang0/nobody"))
    with pytest.raises(UserError, match="needs speech_unit speaker"):
        SplitConfig(speech_unit="file", validation_speakers=named[0])
