"""TensorBoard preview of one fixed validation mixture: audio and spectrogram/mask images per epoch."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_denoiser.core import features
from keras_denoiser.core.config import SignalConfig


def _image(values: tf.Tensor, value_range: tuple[float, float] | None = None) -> tf.Tensor:
    """`[frames, bins]` scaled to [0, 1] (its own min/max unless `value_range`), low frequencies at the
    bottom, as a `[1, bins, frames, 1]` image."""
    low, high = value_range or (tf.reduce_min(values), tf.reduce_max(values))
    scaled = tf.math.divide_no_nan(values - low, high - low)
    return tf.reverse(tf.transpose(scaled), axis=[0])[tf.newaxis, :, :, tf.newaxis]


class PreviewCallback(keras.callbacks.Callback):
    """Writes noisy / enhanced / clean audio and their spectrograms plus the mask to `log_dir` each epoch."""

    def __init__(self, noisy: np.ndarray, clean: np.ndarray, signal_cfg: SignalConfig, log_dir: Path) -> None:
        super().__init__()
        self.noisy = tf.constant(noisy, tf.float32)
        self.clean = tf.constant(clean, tf.float32)
        self.signal_cfg = signal_cfg
        self.log_dir = Path(log_dir)
        self._writer: tf.summary.SummaryWriter | None = None

    def enhance(self) -> features.Enhanced:
        """(enhanced waveform, noisy spectrogram, mask) with the model's current weights (no floor: the raw mask)."""
        mask_fn = lambda log_mag: self.model(log_mag[tf.newaxis], training=False)[0]  # noqa: E731
        return features.enhance(self.noisy, mask_fn, self.signal_cfg)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(str(self.log_dir))
        enhanced, noisy_spec, mask = self.enhance()
        rate = self.signal_cfg.sample_rate
        waves = {"noisy": self.noisy, "enhanced": enhanced, "clean": self.clean}
        with self._writer.as_default(step=epoch + 1):
            for name, wave in waves.items():
                peak = tf.maximum(tf.reduce_max(tf.abs(wave)), 1.0)
                tf.summary.audio(f"preview/{name}", (wave / peak)[tf.newaxis, :, tf.newaxis], rate)
                log_mag = features.log_magnitude(features.stft(wave, self.signal_cfg))
                tf.summary.image(f"preview/{name}_spectrogram", _image(log_mag))
            tf.summary.image("preview/mask", _image(mask, (0.0, 1.0)))
        self._writer.flush()

    def on_train_end(self, logs=None) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
