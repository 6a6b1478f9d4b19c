"""Phrases of one speaker: the joining, and training crops that keep one voice and the split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core.config import MixConfig, SplitConfig, TrainConfig
from keras_denoiser.pipelines.corpora import read_corpus, split_items, unit_key
from keras_denoiser.pipelines.dataset import build_waveform_datasets
from keras_denoiser.pipelines.phrases import join_with_pauses, random_pauses

RATE = 16000
SPEAKERS = 6
WORD_SECONDS = 0.3


def _tone_hz(speaker: int) -> float:
    return 400.0 + 250.0 * speaker


def test_words_are_joined_in_order_with_the_given_pauses() -> None:
    words = tf.ragged.constant([[1.0, 1.0], [2.0], [3.0, 3.0, 3.0]])
    joined = join_with_pauses(words, tf.constant([2, 1])).numpy()
    np.testing.assert_array_equal(joined, [1, 1, 0, 0, 2, 0, 3, 3, 3])
    pauses = random_pauses(tf.constant(50), tf.constant([3, 4], tf.int64), RATE).numpy()
    assert pauses.min() >= 0.1 * RATE and pauses.max() <= 0.5 * RATE and len(set(pauses)) > 40


@pytest.fixture
def speaker_corpus(tmp_path: Path, write_wav) -> tuple[Path, Path]:
    """Six speaker folders of four 0.3 s words each (phrases of three straddle them unless grouped by
    speaker); every speaker's words are one tone of its own."""
    t = np.arange(int(WORD_SECONDS * RATE)) / RATE
    for speaker in range(SPEAKERS):
        for word in range(4):
            write_wav(f"speech/spk{speaker}/w{word}.wav", (0.3 * np.sin(2 * np.pi * _tone_hz(speaker) * t)).astype(np.float32))
    write_wav("noise/hiss.wav", (0.01 * np.random.default_rng(0).standard_normal(RATE)).astype(np.float32))
    return tmp_path / "speech", tmp_path / "noise"


def test_training_phrases_hold_one_training_speaker_each(speaker_corpus, tmp_path: Path) -> None:
    speech_dir, noise_dir = speaker_corpus
    split = SplitConfig(seed=3, validation_fraction=0.34, test_fraction=0.0)
    corpus = read_corpus(speech_dir)
    train_speakers = {unit_key(corpus, item, "speech", split) for item in split_items(corpus, "speech", split)["train"]}
    assert 0 < len(train_speakers) < SPEAKERS  # some speakers are held out
    cfg = TrainConfig(mix=MixConfig(crop_seconds=1.0, phrase_words=3, snr_db_min=30, snr_db_max=30), split=split, seed=5)
    train, _ = build_waveform_datasets([speech_dir], [noise_dir], tmp_path / "cache", cfg)
    hz = np.fft.rfftfreq(RATE, 1 / RATE)
    words_seen = []
    for _, speech, _ in train.take(24).as_numpy_iterator():
        power = np.abs(np.fft.rfft(speech)) ** 2
        shares = np.array([power[np.abs(hz - _tone_hz(k)) < 40].sum() for k in range(SPEAKERS)]) / power.sum()
        speaker = int(shares.argmax())
        assert shares[speaker] > 0.95, shares  # one voice per phrase
        assert f"speech/spk{speaker}" in train_speakers  # and a training one
        loud = np.abs(speech) > 0.05 * np.abs(speech).max()
        words_seen.append(int(np.sum(np.diff(loud.astype(int)) == 1) + loud[0]))
    # One-second crops of 0.3 s words joined with 0.1-0.5 s pauses: mostly two or three words.
    assert np.mean(words_seen) >= 2.0
