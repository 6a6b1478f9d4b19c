"""Distillation: a teacher's masks blended into the training target, and the settings it needs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core import features, losses
from keras_denoiser.core.config import ModelConfig, SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.model import model_io
from keras_denoiser.model.network import build_network
from keras_denoiser.training.teacher import load_teacher, with_teacher_masks
from tests import cli_runner
from tests.conftest import harmonic_speechlike
from tests.test_resume import corpora, train_args  # noqa: F401 (corpora is a fixture)

SIGNAL = SignalConfig()
TEACHER_CFG = TrainConfig(model=ModelConfig(depth=2, base_filters=4))


def _weighted_batch() -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """(log-magnitude, IRM, per-bin weights) of two speech-like + white-noise mixtures of 0.5 s."""
    rng = np.random.default_rng(0)
    speech = np.stack([harmonic_speechlike(0.5, SIGNAL.sample_rate, seed=s) for s in (1, 2)])
    noise = (0.05 * rng.standard_normal(speech.shape)).astype(np.float32)
    speech_spec, noise_spec = features.stft(speech, SIGNAL), features.stft(noise, SIGNAL)
    irm, weights = losses.targets(speech_spec, noise_spec, "weighted_mask_mse")
    return features.log_magnitude(speech_spec + noise_spec), irm, weights


def _saved_teacher(path: Path, cfg: TrainConfig = TEACHER_CFG) -> Path:
    model_io.save_model(build_network(cfg.model, cfg.signal), path, cfg)
    return path


def test_the_target_is_the_weighted_blend_of_irm_and_teacher_mask(tmp_path: Path) -> None:
    teacher = load_teacher(_saved_teacher(tmp_path / "teacher.keras"), SIGNAL)
    log_mag, irm, weights = _weighted_batch()
    blended = with_teacher_masks(tf.data.Dataset.from_tensors((log_mag, irm, weights)), teacher, 0.25)
    out_log_mag, target, out_weights = next(iter(blended))
    mask = teacher(log_mag, training=False).numpy()
    np.testing.assert_allclose(target, 0.75 * irm.numpy() + 0.25 * mask, atol=1e-6)
    assert np.abs(np.asarray(target) - np.asarray(irm)).mean() > 0.01  # the teacher moved the target
    np.testing.assert_array_equal(out_log_mag, log_mag)
    np.testing.assert_array_equal(out_weights, weights)
    assert not teacher.trainable


def test_a_teacher_of_other_features_is_refused(tmp_path: Path) -> None:
    other = dataclasses.replace(TEACHER_CFG, signal=SignalConfig(sample_rate=8000))
    path = _saved_teacher(tmp_path / "narrow.keras", other)
    with pytest.raises(UserError, match=r"narrow.keras: its features .*8000.* are not the run's .*16000"):
        load_teacher(path, SIGNAL)


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"teacher_weight": 0.5}, "together"),
        ({"teacher": "unet.keras"}, "together"),
        ({"teacher": "unet.keras", "teacher_weight": 1.5}, r"teacher_weight must be in \[0, 1\]"),
        ({"teacher": "unet.keras", "teacher_weight": 0.5, "loss": "snr"}, "need a mask loss"),
    ],
)
def test_teacher_settings_that_cannot_train_are_refused(settings: dict, reason: str) -> None:
    with pytest.raises(UserError, match=reason):
        TrainConfig(**settings)


@pytest.mark.slow
def test_the_train_command_distils_from_a_teacher_and_records_it(corpora: Path, tmp_path: Path) -> None:
    teacher = _saved_teacher(tmp_path / "teacher.keras")
    run = tmp_path / "run"
    args = train_args(corpora, run, epochs=1, steps_per_epoch=2, teacher=teacher, teacher_weight=0.3)
    result = cli_runner.run(*args[3:])  # in-process: `python -m keras_denoiser` dropped
    assert result.returncode == 0, result.stderr[-2000:]
    recorded = model_io.load_model(run / "model.keras")[1]
    assert (recorded.teacher, recorded.teacher_weight) == (str(teacher), 0.3)


def test_a_missing_teacher_is_one_line_before_any_work(corpora: Path, tmp_path: Path) -> None:
    args = train_args(corpora, tmp_path / "run", teacher=tmp_path / "none.keras")
    result = cli_runner.run(*args[3:])
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (1, f"error: {tmp_path / 'none.keras'}: no such teacher model")
    assert not (tmp_path / "run").exists()
