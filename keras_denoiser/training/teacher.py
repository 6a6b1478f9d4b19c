"""Distillation: a trained model's masks join the IRM in the training target.

    teacher = load_teacher("keras_denoiser/assets/models/unet.keras", cfg.signal)
    train_ds = with_teacher_masks(train_ds, teacher, cfg.teacher_weight)

Where noise buries the speech, the IRM asks for what no model can know from the mixture; an
offline teacher's mask is what a network can reach there, so a smaller or causal student may learn
more from it. The blend keeps the IRM's share, so the student still aims at the truth. Validation
batches keep the IRM alone, so validation losses stay comparable with runs without a teacher.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from keras_denoiser.core.config import SignalConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.model import model_io


def load_teacher(path: str | Path, signal_cfg: SignalConfig) -> keras.Model:
    """The trained model at `path`, frozen; a UserError unless it reads the student's features."""
    teacher, teacher_cfg = model_io.load_model(path)
    if teacher_cfg.signal != signal_cfg:
        raise UserError(f"{path}: its features ({teacher_cfg.signal}) are not the run's ({signal_cfg})")
    teacher.trainable = False
    return teacher


def with_teacher_masks(dataset: tf.data.Dataset, teacher: keras.Model, weight: float) -> tf.data.Dataset:
    """Batches `(log_magnitude, irm, *rest)` with the target `(1 - weight) * irm + weight * teacher mask`.

    `rest` (the per-bin loss weights of a weighted loss) passes through unchanged.
    """

    def blend(log_magnitude: tf.Tensor, irm: tf.Tensor, *rest: tf.Tensor):
        mask = tf.cast(teacher(log_magnitude, training=False), irm.dtype)
        return (log_magnitude, (1.0 - weight) * irm + weight * mask, *rest)

    return dataset.map(blend).prefetch(tf.data.AUTOTUNE)
