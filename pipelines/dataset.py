"""The training input graph: prepared shards -> random crops -> dynamic mixing -> log-magnitude and IRM.

    train, validation = build_datasets(["LJSpeech-1.1"], ["noise"], default_cache_dir(), TrainConfig())
    model.fit(train, steps_per_epoch=cfg.steps_per_epoch,
              validation_data=validation, validation_steps=cfg.validation_steps)

Both datasets are infinite. Training mixtures are drawn anew every time (crop, noise, SNR, gain,
speed, and the augmentations of `pipelines.augment`), reproducibly for a given `cfg.seed`. Validation is a fixed cycle of
`validation_steps * batch_size` mixtures whose randomness comes from the example index alone, so
every epoch's (and every seed's) validation loss is measured on the same mixtures.
"""

from __future__ import annotations

import collections
import os
from typing import Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from keras_denoiser.core import features, losses
from keras_denoiser.core.config import MixConfig, SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines.augment import augment
from keras_denoiser.pipelines.corpora import Kind
from keras_denoiser.pipelines.mixing import change_speed, loop_to_length, mix_at_snr, random_crop, seeds_for, uniform
from keras_denoiser.pipelines.phrases import speaker_phrases
from keras_denoiser.pipelines.prepare import PreparedCorpus, prepare_all

__all__ = ["build_datasets", "build_waveform_datasets", "mix_at_snr", "preview_mixture"]

PathLike = str | os.PathLike[str]
SHUFFLE_BUFFER = 256
INTERLEAVE_CYCLE = 8
# Folder-balanced noise (`noise_balance="folder"`) of corpora up to this size is held in memory after
# one pass: each folder's stream would otherwise re-read every folder's records (5 folders: 5x the reading).
# The noise and the second-noise draw each hold a copy, so memory is up to twice this.
IN_MEMORY_NOISE_BYTES = 512 * 2**20
PREVIEW_SECONDS = 3.0
_AUDIO_FEATURES = {"audio": tf.io.FixedLenFeature([], tf.string)}
_ID_FEATURES = {"id": tf.io.FixedLenFeature([], tf.string)}


def build_datasets(
    speech_dirs: Sequence[PathLike], noise_dirs: Sequence[PathLike], cache_dir: PathLike, cfg: TrainConfig
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """(train, validation) batches of (log_magnitude, *targets), float32 `[batch, frames, ...]`, infinite.

    The targets are what `cfg.loss` needs (`core.losses.targets`): the IRM `[batch, frames, bins]`;
    with `weighted_mask_mse`, `asymmetric_mask_mse` or `compressed_mask_mse` also its per-bin weights
    (Keras's sample weights); with `compressed_spectral` or `snr` instead the packed spectra
    `[batch, frames, 3 * bins]`.
    """
    train, validation = build_waveform_datasets(speech_dirs, noise_dirs, cache_dir, cfg)
    return _to_features(train, cfg), _to_features(validation, cfg)


def build_waveform_datasets(
    speech_dirs: Sequence[PathLike], noise_dirs: Sequence[PathLike], cache_dir: PathLike, cfg: TrainConfig
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """(train, validation) unbatched (mixture, scaled_speech, scaled_noise) crops, float32 `[samples]`."""
    speech = _shards(speech_dirs, cache_dir, cfg, "speech")
    noise = _shards(noise_dirs, cache_dir, cfg, "noise")
    length = _crop_length(cfg)
    return _train_mixtures(speech[0], noise[0], length, cfg), _validation_mixtures(speech[1], noise[1], length, cfg)


def preview_mixture(
    speech_dirs: Sequence[PathLike],
    noise_dirs: Sequence[PathLike],
    cache_dir: PathLike,
    cfg: TrainConfig,
    snr_db: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean): a fixed ~3 s validation mixture at `snr_db`, mono float32 at the model rate."""
    speech = _shards(speech_dirs, cache_dir, cfg, "speech")[1]
    noise = _shards(noise_dirs, cache_dir, cfg, "noise")[1]
    clean_wave = next(iter(_waveforms(speech, shuffle_seed=None)))
    noise_wave = next(iter(_waveforms(noise, shuffle_seed=None)))
    length = int(PREVIEW_SECONDS * cfg.signal.sample_rate)
    seeds = seeds_for(tf.constant(0, tf.int64), 2)
    gain_db = (cfg.mix.gain_db_min + cfg.mix.gain_db_max) / 2
    noisy, clean, _ = mix_at_snr(
        random_crop(clean_wave, length, seeds[0]), loop_to_length(noise_wave, length, seeds[1]), snr_db, gain_db
    )
    return noisy.numpy(), clean.numpy()


def _shards(
    dirs: Sequence[PathLike], cache_dir: PathLike, cfg: TrainConfig, kind: Kind
) -> tuple[list[str], list[str]]:
    """(train, validation) shard paths of all `dirs`; an empty validation split falls back to training's.

    Test speakers and noise files are never in a cache, so no fallback can bring them into training.
    """
    if not dirs:
        raise UserError(f"no {kind} folder given")
    prepared: list[PreparedCorpus] = prepare_all(dirs, cache_dir, cfg.signal, cfg.split, kind)
    train = [str(p) for corpus in prepared for p in corpus.train_shards]
    validation = [str(p) for corpus in prepared for p in corpus.validation_shards]
    if not train:
        raise UserError(
            f"no {kind} left to train on: every {kind} unit of {', '.join(map(str, dirs))} is held out "
            f"(split seed {cfg.split.seed}); lower the held-out fractions or change the split seed"
        )
    if not validation:
        logging.warning("the %s validation split is empty; validating on training %s", kind, kind)
        validation = train
    return train, validation


def _crop_length(cfg: TrainConfig) -> int:
    return int(round(cfg.mix.crop_seconds * cfg.signal.sample_rate))


def _parse(record: tf.Tensor) -> tf.Tensor:
    audio = tf.io.parse_single_example(record, _AUDIO_FEATURES)["audio"]
    return tf.io.decode_raw(audio, tf.float32, little_endian=True)


def _top_folder(record: tf.Tensor) -> tf.Tensor:
    """The first folder of a record's id (its path below the corpus root); "" for a file at the root."""
    record_id = tf.io.parse_single_example(record, _ID_FEATURES)["id"]
    nested = tf.strings.regex_full_match(record_id, ".*/.*")
    return tf.where(nested, tf.strings.regex_replace(record_id, "/.*", ""), "")


def _records(shards: list[str], shuffle_seed: int | None) -> tf.data.Dataset:
    """(shard path, serialized record) of all shards; with a seed, the shard order is reshuffled every
    pass and repeated forever."""
    files = tf.data.Dataset.from_tensor_slices(shards)
    if shuffle_seed is not None:
        files = files.shuffle(len(shards), seed=shuffle_seed, reshuffle_each_iteration=True).repeat()
    return files.interleave(
        lambda shard: tf.data.TFRecordDataset(shard).map(lambda record: (shard, record)),
        cycle_length=min(len(shards), INTERLEAVE_CYCLE),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def _waveforms(shards: list[str], shuffle_seed: int | None, folder: str | None = None) -> tf.data.Dataset:
    """Waveforms of all shards (see `_records`), or of one top `folder`'s records."""
    records = _records(shards, shuffle_seed)
    if folder is not None:
        records = records.filter(lambda shard, record: tf.equal(_top_folder(record), folder))
    return records.map(lambda shard, record: _parse(record), num_parallel_calls=tf.data.AUTOTUNE)


def _speaker_key(shard: tf.Tensor, record: tf.Tensor) -> tf.Tensor:
    """An int64 naming a record's speaker: its corpus cache (the shard's folder) and its id's folder."""
    record_id = tf.io.parse_single_example(record, _ID_FEATURES)["id"]
    folder = tf.strings.regex_replace(record_id, "(^|/)[^/]*$", "")
    corpus = tf.strings.regex_replace(shard, "/[^/]*$", "")
    return tf.strings.to_hash_bucket_fast(tf.strings.join([corpus, folder], "|"), 2**62)


def _training_speech(shards: list[str], seed: int, cfg: TrainConfig) -> tf.data.Dataset:
    """Training speech waveforms: utterances, or with `phrase_words` phrases of that many utterances
    of one speaker (`pipelines.phrases`)."""
    if cfg.mix.phrase_words < 2:
        return _waveforms(shards, seed)
    keyed = _records(shards, seed).map(
        lambda shard, record: (_speaker_key(shard, record), _parse(record)), num_parallel_calls=tf.data.AUTOTUNE
    )
    return speaker_phrases(keyed, cfg.mix.phrase_words, seed + 7, cfg.signal.sample_rate)


def _training_noise(shards: list[str], seed: int, balance: str) -> tf.data.Dataset:
    """Training noise waveforms: each file equally often, or (`balance == "folder"`) each top folder.

    Balancing by folder keeps a noise kind with few files (babble, music) from being rare beside one
    with many short clips (events). Folders of the same name in two noise corpora count as one.
    """
    if balance == "file":
        return _waveforms(shards, seed)
    top_folders = tf.data.TFRecordDataset(shards).map(_top_folder).as_numpy_iterator()
    counts = collections.Counter(name.decode("utf-8") for name in top_folders)
    in_memory = sum(tf.io.gfile.stat(shard).length for shard in shards) <= IN_MEMORY_NOISE_BYTES
    streams = [
        _folder_waveforms(shards, seed + 1000 * (k + 1), folder, counts[folder], in_memory)
        for k, folder in enumerate(sorted(counts))
    ]
    return tf.data.Dataset.sample_from_datasets(streams, seed=seed)


def _folder_waveforms(shards: list[str], seed: int, folder: str, count: int, in_memory: bool) -> tf.data.Dataset:
    """One top folder's `count` waveforms forever, in a new order every pass.

    Every shard holds every folder, so a folder's stream reads all records to keep its own: `in_memory`
    does that once and holds them; otherwise the shards are re-read every pass (`_waveforms`), for
    corpora too large to hold.
    """
    if not in_memory:
        return _waveforms(shards, seed, folder)
    records = tf.data.TFRecordDataset(shards).filter(lambda record: tf.equal(_top_folder(record), folder))
    waves = records.map(_parse, num_parallel_calls=tf.data.AUTOTUNE).cache()
    return waves.shuffle(count, seed=seed, reshuffle_each_iteration=True).repeat()


def _train_mixtures(speech: list[str], noise: list[str], length: int, cfg: TrainConfig) -> tf.data.Dataset:
    mix = cfg.mix

    def speech_crop(wave: tf.Tensor, example_seed: tf.Tensor) -> tf.Tensor:
        factor_seed, crop_seed = tf.unstack(seeds_for(example_seed, 2))
        if not mix.speed_perturb:
            return tf.ensure_shape(random_crop(wave, length, crop_seed), [length])
        factor = 1.0 + uniform(factor_seed, -mix.speed_perturb, mix.speed_perturb)
        return tf.ensure_shape(change_speed(wave, factor, length, crop_seed), [length])

    def noise_crop(wave: tf.Tensor, example_seed: tf.Tensor) -> tf.Tensor:
        return tf.ensure_shape(loop_to_length(wave, length, seeds_for(example_seed, 1)[0]), [length])

    speech_crops = _cropped(_training_speech(speech, cfg.seed, cfg), speech_crop, cfg.seed)
    noise_crops = _cropped(_training_noise(noise, cfg.seed + 1, mix.noise_balance), noise_crop, cfg.seed + 2)
    other_noise_crops = _cropped(_training_noise(noise, cfg.seed + 4, mix.noise_balance), noise_crop, cfg.seed + 5)
    examples = tf.data.Dataset.zip(speech_crops, noise_crops, other_noise_crops, tf.data.Dataset.random(seed=cfg.seed + 3))
    return examples.map(lambda s, n, o, seed: _mix(s, n, o, seed, cfg), num_parallel_calls=tf.data.AUTOTUNE)


def _cropped(waves: tf.data.Dataset, crop, seed: int) -> tf.data.Dataset:
    """Crops of `waves`, each with its own example seed, shuffled in a buffer of crops."""
    seeded = tf.data.Dataset.zip(waves, tf.data.Dataset.random(seed=seed))
    crops = seeded.map(crop, num_parallel_calls=tf.data.AUTOTUNE)
    return crops.shuffle(SHUFFLE_BUFFER, seed=seed)


def _mix(speech: tf.Tensor, noise: tf.Tensor, other_noise: tf.Tensor, example_seed: tf.Tensor, cfg: TrainConfig):
    """Augment (`pipelines.augment`), then mix at a random SNR and level: the SNR holds for what is mixed."""
    snr_seed, gain_seed, augment_seed = tf.unstack(seeds_for(example_seed, 3))
    mix: MixConfig = cfg.mix
    speech, noise = augment(speech, noise, other_noise, augment_seed, cfg.signal.sample_rate, mix)
    snr_db = uniform(snr_seed, mix.snr_db_min, mix.snr_db_max)
    gain_db = uniform(gain_seed, mix.gain_db_min, mix.gain_db_max)
    return mix_at_snr(speech, noise, snr_db, gain_db)


def _validation_mixtures(speech: list[str], noise: list[str], length: int, cfg: TrainConfig) -> tf.data.Dataset:
    """A fixed cycle of `validation_steps * batch_size` mixtures, seeded by the example index only.

    It does not depend on `cfg.seed`, so a resumed run or another worker may shift the training seed
    and still validate on the same mixtures.
    """
    count = cfg.validation_steps * cfg.batch_size
    speech_waves = _waveforms(speech, shuffle_seed=None).repeat().take(count)
    noise_waves = _waveforms(noise, shuffle_seed=None).repeat()
    other_noise_waves = _waveforms(noise, shuffle_seed=None).repeat().skip(1)

    def example(index: tf.Tensor, waves: tuple[tf.Tensor, tf.Tensor, tf.Tensor]):
        speech_seed, noise_seed, other_seed, mix_seed = tf.unstack(seeds_for(index, 4))
        clean = tf.ensure_shape(random_crop(waves[0], length, speech_seed), [length])
        noisy = tf.ensure_shape(loop_to_length(waves[1], length, noise_seed), [length])
        other = tf.ensure_shape(loop_to_length(waves[2], length, other_seed), [length])
        return _mix(clean, noisy, other, mix_seed[0], cfg)

    pairs = tf.data.Dataset.zip(speech_waves, noise_waves, other_noise_waves).enumerate()
    return pairs.map(example, num_parallel_calls=tf.data.AUTOTUNE).repeat()


def _to_features(waves: tf.data.Dataset, cfg: TrainConfig) -> tf.data.Dataset:
    signal: SignalConfig = cfg.signal
    frames = features.num_frames(_crop_length(cfg), signal)

    def to_features(mixture: tf.Tensor, speech: tf.Tensor, noise: tf.Tensor):
        speech_spec = features.stft(speech, signal)
        noise_spec = features.stft(noise, signal)
        shape = [cfg.batch_size, frames, signal.num_bins]
        log_mag = tf.ensure_shape(features.log_magnitude(speech_spec + noise_spec), shape)
        return (log_mag, *losses.targets(speech_spec, noise_spec, cfg.loss))

    batches = waves.batch(cfg.batch_size, drop_remainder=True)
    return batches.map(to_features, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
