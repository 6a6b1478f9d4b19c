"""A TF Serving SavedModel: waveform in, enhanced waveform out, STFT and mask inside the graph.

Signatures (both with named tensors, so TF Serving's REST API and `saved_model_cli` show them):

- `serving_default`: `waveform` float32 `[batch, samples]` at the model's sample rate, any length
  (1 sample included) -> `enhanced` float32 `[batch, samples]`.
- `mask`: `log_magnitude` float32 `[batch, frames, bins]` -> `mask` float32 `[batch, frames, bins]`,
  the network alone (the TFLite models are converted from this signature).
"""

from __future__ import annotations

import os
from pathlib import Path

import keras
import tensorflow as tf

from keras_denoiser.core import features
from keras_denoiser.core.config import SignalConfig

SERVING_SIGNATURE = "serving_default"
MASK_SIGNATURE = "mask"
WAVEFORM_INPUT = "waveform"
ENHANCED_OUTPUT = "enhanced"
LOG_MAGNITUDE_INPUT = "log_magnitude"
MASK_OUTPUT = "mask"


def enhance_waveform(model: keras.Model, waveform: tf.Tensor, signal_cfg: SignalConfig, floor: float = 0.0) -> tf.Tensor:
    """Enhanced `[batch, samples]` by the Keras model: the reference every export is checked against."""
    return features.enhance(waveform, lambda log_mag: model(log_mag, training=False), signal_cfg, floor).wave


def save_serving_model(
    model: keras.Model, signal_cfg: SignalConfig, path: str | os.PathLike[str], max_attenuation_db: float
) -> None:
    """Write the SavedModel with the `serving_default` and `mask` signatures to `path` (a version folder).

    `serving_default` applies the attenuation limit (a server's clients cannot); `mask` returns the raw mask.
    """
    floor = features.mask_floor(max_attenuation_db)

    @tf.function
    def enhance(waveform):
        return {ENHANCED_OUTPUT: enhance_waveform(model, waveform, signal_cfg, floor)}

    @tf.function
    def mask(log_magnitude):
        mask = model(log_magnitude, training=False)
        mask.set_shape([None, None, signal_cfg.num_bins])  # static bins in the signature, no op added
        return {MASK_OUTPUT: mask}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        SERVING_SIGNATURE,
        enhance,
        input_signature=[tf.TensorSpec([None, None], tf.float32, name=WAVEFORM_INPUT)],
    )
    archive.add_endpoint(
        MASK_SIGNATURE,
        mask,
        input_signature=[tf.TensorSpec([None, None, signal_cfg.num_bins], tf.float32, name=LOG_MAGNITUDE_INPUT)],
    )
    archive.write_out(str(Path(path)), verbose=False)
