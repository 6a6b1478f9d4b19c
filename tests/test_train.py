"""The training loop in-process on generated speech-like mixtures: learning, outputs, resume, conflicts."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core import features, losses
from keras_denoiser.core.config import MixConfig, ModelConfig, SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.model import model_io
from keras_denoiser.training.backup import latest_backup, read_metadata
from keras_denoiser.training.callbacks import StopSignal, TrainingInterrupted
from keras_denoiser.training.train import RunOptions, build_model, train
from tests.conftest import harmonic_speechlike

pytestmark = pytest.mark.long  # a dozen short trainings: over a minute on 2 cores
SIGNAL = SignalConfig()
TINY = TrainConfig(
    model=ModelConfig(depth=2, base_filters=4),
    mix=MixConfig(crop_seconds=0.5),
    batch_size=4,
    epochs=2,
    steps_per_epoch=6,
    validation_steps=2,
    learning_rate=3e-3,
    backup_every_steps=2,
)


def _examples(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(log-magnitude, IRM) of `count` speech-like + white-noise mixtures of 0.5 s."""
    rng = np.random.default_rng(seed)
    samples = int(0.5 * SIGNAL.sample_rate)
    speech = np.stack([harmonic_speechlike(0.5, SIGNAL.sample_rate, seed=seed + i) for i in range(count)])
    noise = (0.05 * rng.standard_normal((count, samples))).astype(np.float32)
    speech_spec, noise_spec = features.stft(speech, SIGNAL), features.stft(noise, SIGNAL)
    log_mag = features.log_magnitude(features.stft(speech + noise, SIGNAL))
    return log_mag.numpy(), features.ideal_ratio_mask(speech_spec, noise_spec).numpy()


def _datasets(cfg: TrainConfig) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    train_ds = tf.data.Dataset.from_tensor_slices(_examples(8, seed=1)).repeat().batch(cfg.batch_size)
    val_ds = tf.data.Dataset.from_tensor_slices(_examples(4, seed=100)).repeat().batch(cfg.batch_size)
    return train_ds, val_ds


class _CrashAt(keras.callbacks.Callback):
    """Raises at the end of the n-th batch of a fit, before the backup callback runs (like a SIGKILL)."""

    def __init__(self, batch: int, action=None) -> None:
        super().__init__()
        self.batch = batch
        self.action = action

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            if self.action is None:
                raise RuntimeError("simulated crash")
            self.action()


def _batch_loss(model: keras.Model, batch: tuple[tf.Tensor, tf.Tensor]) -> float:
    """MSE on `batch` with batch statistics in the norm layers (10 steps barely move their averages)."""
    log_mag, irm = batch
    return float(keras.losses.mean_squared_error(irm, model(log_mag, training=True)).numpy().mean())


def _quiet(**kwargs) -> RunOptions:
    return RunOptions(log_every_steps=1, print_fn=lambda line: None, **kwargs)


def test_keep_epoch_models_saves_the_model_of_every_epoch(tmp_path: Path) -> None:
    train_ds, val_ds = _datasets(TINY)
    batch = next(iter(train_ds))
    model = train(train_ds, val_ds, TINY, tmp_path / "run", _quiet(keep_epoch_models=True))
    first, _ = model_io.load_model(tmp_path / "run" / "epochs" / "epoch_001.keras")
    last, last_cfg = model_io.load_model(tmp_path / "run" / "epochs" / "epoch_002.keras")
    assert sorted(p.name for p in (tmp_path / "run" / "epochs").iterdir()) == [
        "epoch_001.json", "epoch_001.keras", "epoch_002.json", "epoch_002.keras"]
    assert last_cfg == TINY
    np.testing.assert_allclose(last(batch[0]), model(batch[0], training=False), atol=1e-5)
    assert not np.allclose(first(batch[0]), last(batch[0]), atol=1e-4)  # epoch 1's own weights
    train(train_ds, val_ds, dataclasses.replace(TINY, epochs=1), tmp_path / "plain", _quiet())
    assert (tmp_path / "plain" / "best.keras").is_file() and not (tmp_path / "plain" / "epochs").exists()


@pytest.fixture(scope="module")
def twenty_steps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainConfig, keras.Model]:
    """(run folder, config, model) of one 20-step epoch with a preview: checked by the next test, and the
    start of the fine-tuning test."""
    cfg = dataclasses.replace(TINY, epochs=1, steps_per_epoch=20)
    train_ds, val_ds = _datasets(cfg)
    speech = harmonic_speechlike(1.0, SIGNAL.sample_rate, seed=7)
    noisy = speech + np.random.default_rng(7).normal(0, 0.05, speech.shape).astype(np.float32)
    run = tmp_path_factory.mktemp("twenty_steps") / "run"
    return run, cfg, train(train_ds, val_ds, cfg, run, _quiet(preview=(noisy, speech)))


def test_a_few_steps_lower_the_loss_and_write_loadable_models(twenty_steps) -> None:
    run, cfg, model = twenty_steps
    batch = next(iter(_datasets(cfg)[0]))
    initial = build_model(cfg, tf.distribute.get_strategy(), mixed_precision=False)
    loss_before = _batch_loss(initial, batch)

    for name in ("model.keras", "best.keras"):  # one epoch: the best model is the final one
        loaded, loaded_cfg = model_io.load_model(run / name)
        assert loaded_cfg == cfg
        np.testing.assert_allclose(loaded(batch[0]), model(batch[0], training=False), atol=1e-5)
    loss_after = _batch_loss(model, batch)
    assert loss_after < 0.7 * loss_before, (loss_before, loss_after)
    rows = (run / "training.csv").read_text().splitlines()
    assert rows[0].split(",")[0] == "epoch" and len(rows) == 2
    assert json.loads((run / "best_score.json").read_text())["epoch"] == 1
    assert _summary_tags(run / "logs" / "preview") == {
        f"preview/{name}" for name in ("noisy", "enhanced", "clean", "noisy_spectrogram",
                                       "enhanced_spectrogram", "clean_spectrogram", "mask")
    }


def _summary_tags(log_dir: Path) -> set[str]:
    tags = set()
    for path in log_dir.glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    return tags


def test_a_poisoned_example_stops_the_run_naming_the_step_and_keeps_the_last_good_backup(tmp_path: Path) -> None:
    """Example 9 holds a NaN: batch index 2 (global step 3) has a NaN loss; step 2 was the last backup."""
    log_mag, irm = _examples(12, seed=1)
    log_mag[9, 5, 7] = np.nan
    train_ds = tf.data.Dataset.from_tensor_slices((log_mag, irm)).repeat().batch(TINY.batch_size)
    _, val_ds = _datasets(TINY)
    run = tmp_path / "run"

    with pytest.raises(UserError) as stopped:
        train(train_ds, val_ds, TINY, run, _quiet())

    assert str(stopped.value).startswith(
        "training loss is nan at epoch 1 step 3 (global step 3); stopped before that step was saved: "
        "ckpt-0000000002 is kept and a rerun continues from it; check the corpus"
    )
    backup = latest_backup(run / "backup")
    assert read_metadata(backup)["global_step"] == 2
    model = build_model(TINY, tf.distribute.get_strategy(), mixed_precision=False)
    model.load_weights(backup / "latest.weights.h5")
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert not (run / "model.keras").exists()


class _LearningRates(keras.callbacks.Callback):
    """Records the learning rate each step ran with (by then every callback has set it)."""

    def __init__(self) -> None:
        super().__init__()
        self.rates: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate))


def test_crash_mid_epoch_resumes_at_the_saved_step_and_continues_the_warmup_ramp(tmp_path: Path) -> None:
    cfg = dataclasses.replace(TINY, warmup_steps=8)
    train_ds, val_ds = _datasets(cfg)
    run = tmp_path / "run"
    first, resumed = _LearningRates(), _LearningRates()
    # Batch index 3 (global step 4) crashes before its backup; the last backup is global step 2.
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(train_ds, val_ds, cfg, run, _quiet(callbacks=(first, _CrashAt(3))))
    metadata = read_metadata(latest_backup(run / "backup"))
    assert (metadata["epoch"], metadata["step"], metadata["global_step"]) == (0, 2, 2)

    lines: list[str] = []
    model = train(train_ds, val_ds, cfg, run, RunOptions(log_every_steps=1, print_fn=lines.append, callbacks=(resumed,)))

    assert "resuming at epoch 1 step 2 (global step 2)" in "\n".join(lines)
    steps_logged = [int(line.split("global_step ")[1].split()[0]) for line in lines if "global_step " in line]
    assert steps_logged == list(range(3, 13)), steps_logged
    assert int(model.optimizer.iterations) == cfg.epochs * cfg.steps_per_epoch
    epochs_in_csv = [row.split(",")[0] for row in (run / "training.csv").read_text().splitlines()[1:]]
    assert epochs_in_csv == ["0", "1"]
    ramp = [cfg.learning_rate * min(1.0, step / cfg.warmup_steps) for step in range(1, 13)]
    np.testing.assert_allclose(first.rates, ramp[:4], rtol=1e-6)
    np.testing.assert_allclose(resumed.rates, ramp[2:], rtol=1e-6)  # steps 3..12, the ramp where it was
    with pytest.raises(UserError, match="warmup_steps"):
        dataclasses.replace(TINY, warmup_steps=-1)


def test_sigterm_writes_a_backup_at_the_current_step_and_resume_finishes(tmp_path: Path) -> None:
    train_ds, val_ds = _datasets(TINY)
    run = tmp_path / "run"
    cfg = dataclasses.replace(TINY, backup_every_steps=100)  # only the signal and epoch ends save
    send_sigterm = _CrashAt(2, lambda: os.kill(os.getpid(), signal.SIGTERM))
    with StopSignal() as stop, pytest.raises(TrainingInterrupted) as interrupted:
        train(train_ds, val_ds, cfg, run, _quiet(stop_signal=stop, callbacks=(send_sigterm,)))
    assert interrupted.value.exit_status == 128 + signal.SIGTERM
    assert "epoch 1 step 3 (global step 3)" in str(interrupted.value)
    assert read_metadata(latest_backup(run / "backup"))["global_step"] == 3

    model = train(train_ds, val_ds, cfg, run, _quiet())
    assert int(model.optimizer.iterations) == cfg.epochs * cfg.steps_per_epoch


def test_resume_refuses_another_model_size_but_accepts_more_epochs(tmp_path: Path) -> None:
    train_ds, val_ds = _datasets(TINY)
    cfg = dataclasses.replace(TINY, epochs=1, steps_per_epoch=2)
    train(train_ds, val_ds, cfg, tmp_path / "run", _quiet())
    bigger = dataclasses.replace(cfg, model=ModelConfig(depth=3, base_filters=4))
    with pytest.raises(UserError, match=r"model\.depth: 2 -> 3.*only epochs, backup_every_steps"):
        train(train_ds, val_ds, bigger, tmp_path / "run", _quiet())

    model = train(train_ds, val_ds, dataclasses.replace(cfg, epochs=2), tmp_path / "run", _quiet())
    assert int(model.optimizer.iterations) == 4


def test_mixed_precision_saves_float32_models_and_cannot_resume_in_float32(tmp_path: Path) -> None:
    train_ds, val_ds = _datasets(TINY)
    cfg = dataclasses.replace(TINY, epochs=1, steps_per_epoch=2)
    try:
        train(train_ds, val_ds, cfg, tmp_path / "run", _quiet(mixed_precision=True))
    finally:
        keras.config.set_dtype_policy("float32")
    loaded, _ = model_io.load_model(tmp_path / "run")
    assert {layer.dtype_policy.compute_dtype for layer in loaded.layers} == {"float32"}
    with pytest.raises(UserError, match="mixed_precision"):
        train(train_ds, val_ds, dataclasses.replace(cfg, epochs=2), tmp_path / "run", _quiet())


def _weighted(ds: tf.data.Dataset) -> tf.data.Dataset:
    """(log_mag, irm) batches with the per-bin magnitude weights of weighted_mask_mse added."""
    return ds.map(lambda log_mag, irm: (log_mag, irm, losses.magnitude_weights(tf.exp(log_mag))))


def test_weighted_loss_fine_tunes_a_trained_model_from_its_weights(twenty_steps, tmp_path: Path) -> None:
    run, cfg, _ = twenty_steps
    train_ds, val_ds = _datasets(cfg)
    trained, _ = model_io.load_model(run / "model.keras")

    tuned_cfg = dataclasses.replace(cfg, loss="weighted_mask_mse", learning_rate=1e-3, backup_every_steps=20)
    start = build_model(tuned_cfg, tf.distribute.get_strategy(), False, init_from=run / "model.keras")
    for ours, theirs in zip(start.get_weights(), trained.get_weights()):
        np.testing.assert_array_equal(ours, theirs)

    weighted_train, weighted_val = _weighted(train_ds), _weighted(val_ds)
    batch = next(iter(weighted_val))
    before = start.evaluate(batch[0], batch[1], sample_weight=batch[2], verbose=0)
    tuned = train(weighted_train, weighted_val, tuned_cfg, tmp_path / "tuned", _quiet(init_from=run / "model.keras"))
    tuned.compile(loss=start.loss)
    after = tuned.evaluate(batch[0], batch[1], sample_weight=batch[2], verbose=0)
    assert np.isfinite(after) and after < before, (before, after)
    assert model_io.load_model(tmp_path / "tuned" / "model.keras")[1].loss == "weighted_mask_mse"


def test_init_from_a_model_of_another_size_is_refused(tmp_path: Path) -> None:
    other = dataclasses.replace(TINY, model=ModelConfig(depth=1, base_filters=4))
    model_io.save_model(build_model(other, tf.distribute.get_strategy(), False), tmp_path / "small.keras", other)
    with pytest.raises(UserError, match=r"small.keras: a unet 1x4 \(kernel 3, 0 context layers, 0 band context layers, 0 lookahead "
                       r"frames\) at 16000 Hz model cannot start a unet 2x4 \(kernel 3, 0 context layers, 0 band context "
                       r"layers, 0 lookahead frames\) at 16000 Hz run"):
        build_model(TINY, tf.distribute.get_strategy(), False, init_from=tmp_path / "small.keras")
