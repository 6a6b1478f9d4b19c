"""Phrases from single words: several utterances of one speaker joined with pauses between them.

Most of the multi-speaker recordings here are isolated words, letters and short prompts, each
trimmed of its silence. Crops of them teach a model little of running speech, and a test set of
them says little of how it does on sentences. Joining a speaker's utterances with short pauses
gives phrases of one voice, from the same split, that sound more like sentences.
"""

from __future__ import annotations

import tensorflow as tf

PAUSE_SECONDS = (0.1, 0.5)  # between two words of a phrase; speakers pause about this long


def join_with_pauses(words: tf.RaggedTensor, pauses: tf.Tensor) -> tf.Tensor:
    """One waveform from utterances `[n, (samples)]` and the `n - 1` pauses between them, in samples:
    word 0, `pauses[0]` zeros, word 1, ..., word n - 1."""
    pauses = tf.cast(pauses, tf.int64)
    lengths = tf.concat([pauses, tf.zeros([1], tf.int64)], axis=0)
    silence = tf.RaggedTensor.from_row_lengths(tf.zeros([tf.reduce_sum(lengths)], words.dtype), lengths)
    return tf.concat([words, silence], axis=1).flat_values


def random_pauses(count: tf.Tensor, seed: tf.Tensor, rate: int) -> tf.Tensor:
    """`count` pause lengths in samples, uniform in PAUSE_SECONDS, from a stateless `seed` `[2]`."""
    seconds = tf.random.stateless_uniform([count], seed, *PAUSE_SECONDS)
    return tf.cast(tf.round(seconds * rate), tf.int64)


def speaker_phrases(keyed_waves: tf.data.Dataset, words: int, seed: int, rate: int) -> tf.data.Dataset:
    """Phrases of `words` utterances each from a stream of (speaker key int64, waveform): every phrase
    holds consecutive utterances of one speaker key, in the order they come."""
    grouped = keyed_waves.group_by_window(
        key_func=lambda key, wave: key,
        reduce_func=lambda key, window: window.map(lambda k, wave: wave).ragged_batch(words, drop_remainder=True),
        window_size=words,
    )
    seeded = tf.data.Dataset.zip(grouped, tf.data.Dataset.random(seed=seed).batch(2))
    return seeded.map(
        lambda phrase, pair_seed: join_with_pauses(phrase, random_pauses(words - 1, pair_seed, rate)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
