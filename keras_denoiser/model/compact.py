"""`unet_compact`: a causal U-Net on ERB-like bands with a GRU at its bottleneck, at a small peer's cost.

The full-band `unet_causal` runs 3x3 convolutions on all 257 bins and keeps megabytes of dilated
history; it costs about 3 G multiply-adds per second of audio. This one does what the small peers
(GTCRN, DeepFilterNet) do instead:

- A fixed band matrix (`band_matrices`) pools the 257 bins into `bands` bands: one bin each at
  the bottom, where a voice's harmonics are resolved, ERB-spaced above. Its features are the
  band's mean log-magnitude and mean compressed magnitude |X|^0.3, and with `band_spread` how far
  its bins' log-magnitudes stray from the band envelope (harmonics or a tone in a wide band,
  against flat noise).
- Causal convolutions two frames long that halve the bands at each level, so each keeps one frame
  of state; a GRU over the bottleneck's bands carries everything older in `rnn_units` numbers.
- Or, with `dual_path_blocks`, GTCRN's dual-path recurrence in its place: in each frame a
  bidirectional GRU runs across the bands (no memory), then one GRU with weights shared by all
  bands runs over time in each band, so a band's state is `rnn_units` numbers and the bands talk
  within a frame instead of through one narrow flattened GRU.
- A mirrored decoder adds the encoder's output at each level (a U-Net's skips) and upsamples
  along bands only; the band mask is expanded back to bins by the transpose-like matrix whose
  rows sum to one, so a flat band mask is the same flat bin mask.

With `lookahead_frames` L it is read L frames late, as `unet_causal` is (see `model.unet`).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keras_denoiser.core.config import ModelConfig, SignalConfig
from keras_denoiser.model.graph import PACKAGE, SILENCE_LOG_MAGNITUDE, AppendFrames, DropFrames, Graph

COMPRESSION = 0.3  # the second band feature is the band's mean |X|^COMPRESSION
TIME_KERNEL = 2  # frames each encoder convolution sees: the newest and one state frame
FIRST_CONVOLUTION = "enc0_conv"  # the convolution that takes the lookahead


def _erb_rate(hz: np.ndarray) -> np.ndarray:
    """Glasberg and Moore's ERB-rate scale (ERBs below `hz`)."""
    return 21.4 * np.log10(1.0 + 0.00437 * hz)


def _hz_from_erb_rate(erb: np.ndarray) -> np.ndarray:
    return (10.0 ** (erb / 21.4) - 1.0) / 0.00437


def band_centers(num_bins: int, bands: int, sample_rate: int) -> np.ndarray:
    """Centre of each band in bins (fractional), increasing from bin 0 to bin `num_bins - 1`.

    The lowest `n` bands are bins 0..n-1; the rest are evenly spaced on the ERB-rate scale from bin
    n to the top. `n` is the smallest count at which that ERB spacing starts at a bin or more, so no
    band is narrower than a bin and the low bands resolve what the STFT resolves.
    """
    if not 2 <= bands <= num_bins:
        raise ValueError(f"bands must be in 2..{num_bins}, not {bands}")
    hz_per_bin = sample_rate / (2.0 * (num_bins - 1))
    top = _erb_rate(np.array((num_bins - 1) * hz_per_bin))
    for linear in range(bands):
        low = _erb_rate(np.array(linear * hz_per_bin))
        erb_part = _hz_from_erb_rate(np.linspace(low, top, bands - linear)) / hz_per_bin
        erb_part[[0, -1]] = linear, num_bins - 1  # exact ends, not round-trips through the logarithm
        if len(erb_part) < 2 or erb_part[1] - erb_part[0] >= 1.0:
            return np.concatenate([np.arange(linear, dtype=np.float64), erb_part])
    return np.arange(bands, dtype=np.float64)


def band_matrices(num_bins: int, bands: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool `[bins, bands]`, expand `[bands, bins]`) float32.

    A saved model stores only `bands` and the rate and rebuilds these on load, so the layout
    (`band_centers`) is part of the model format: changing it changes every trained model.

    `expand` holds triangular weights between neighbouring band centres: each bin's weights sum to
    one, so it linearly interpolates a band mask to bins. `pool` is its transpose with each band's
    column scaled to sum to one: the weighted mean of the bins a band covers.
    """
    centers = band_centers(num_bins, bands, sample_rate)
    bins = np.arange(num_bins, dtype=np.float64)
    expand = np.stack([np.interp(bins, centers, np.eye(bands)[b]) for b in range(bands)])
    pool = (expand / expand.sum(axis=1, keepdims=True)).T
    return pool.astype(np.float32), expand.astype(np.float32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class BandFeatures(layers.Layer):
    """Log-magnitude `[batch, time, bins]` -> band features `[batch, time, bands, features]`: mean log-magnitude
    and mean |X|^COMPRESSION per band (`band_matrices`' pool), and with `spread` the band's mean absolute
    deviation of its bins' log-magnitudes from the envelope the band means interpolate. A fixed matrix, not trained.

    The deviation is taken from the envelope rather than as E[l^2] - E[l]^2: that difference of two large
    numbers does not survive int8 (docs/results.md has the measurement). `normalized` applies a per-band,
    per-feature affine before the stack: `fold_input_norm` moves `input_norm` there for export.
    """

    def __init__(self, bands: int, sample_rate: int, spread: bool = False, normalized: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bands = bands
        self.sample_rate = sample_rate
        self.spread = spread
        self.normalized = normalized  # carries `input_norm`'s affine per band and feature (`fold_input_norm`)

    @property
    def feature_count(self) -> int:
        return 3 if self.spread else 2

    def build(self, input_shape) -> None:
        pool, expand = band_matrices(input_shape[-1], self.bands, self.sample_rate)
        self._pool = ops.convert_to_tensor(pool)
        self._expand = ops.convert_to_tensor(expand)
        if self.normalized:
            shape = (self.bands, self.feature_count)
            self.scale = self.add_weight(shape=shape, initializer="ones", trainable=False, name="scale")
            self.offset = self.add_weight(shape=shape, initializer="zeros", trainable=False, name="offset")

    def call(self, log_mag):
        log_bands = ops.matmul(log_mag, self._pool)
        features = [log_bands, ops.matmul(ops.exp(COMPRESSION * log_mag), self._pool)]
        if self.spread:
            deviation = log_mag - ops.matmul(log_bands, self._expand)
            features.append(ops.matmul(ops.abs(deviation), self._pool))
        if self.normalized:
            features = [f * self.scale[:, k] + self.offset[:, k] for k, f in enumerate(features)]
        return ops.stack(features, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.bands, self.feature_count)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "bands": self.bands,
            "sample_rate": self.sample_rate,
            "spread": self.spread,
            "normalized": self.normalized,
        }


# Layer names `fold_input_norm` looks up in a trained model; `topology` gives them.
BAND_FEATURES_LAYER = "band_features"
INPUT_NORM_LAYER = "input_norm"


def fold_input_norm(model: keras.Model) -> keras.Model:
    """The same network with `input_norm`'s affine moved into `band_features`, ahead of its stack; `model` if not compact.

    int8 gives a tensor one scale. Raw, the stacked features share the log-band means' wide range, and
    the band spread, a fraction of it, loses its resolution (docs/results.md has the measurement);
    normalized, every feature spans the same few units. `input_norm` is left the identity, so the walk
    of `topology` is unchanged.
    """
    names = {layer.name for layer in model.layers}
    if BAND_FEATURES_LAYER not in names or model.get_layer(BAND_FEATURES_LAYER).normalized:
        return model

    def clone(layer: layers.Layer) -> layers.Layer:
        config = layer.get_config()
        if layer.name == BAND_FEATURES_LAYER:
            config["normalized"] = True
        return layer.__class__.from_config(config)

    folded = keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        if layer.weights:
            folded.get_layer(layer.name).set_weights(layer.get_weights())
    norm = model.get_layer(INPUT_NORM_LAYER)
    gamma, beta, mean, variance = norm.get_weights()
    scale = gamma / np.sqrt(variance + norm.epsilon)
    band_features = folded.get_layer(BAND_FEATURES_LAYER)
    shape = (band_features.bands, band_features.feature_count)
    band_features.set_weights([scale.reshape(shape), (beta - mean * scale).reshape(shape)])
    identity = [np.ones_like(gamma), np.zeros_like(beta), np.zeros_like(mean), np.full_like(variance, 1.0 - norm.epsilon)]
    folded.get_layer(INPUT_NORM_LAYER).set_weights(identity)
    return folded


@keras.saving.register_keras_serializable(package=PACKAGE)
class BandMask(layers.Layer):
    """Band mask `[batch, time, bands]` -> bin mask `[batch, time, bins]` (`band_matrices`' expand)."""

    def __init__(self, num_bins: int, sample_rate: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_bins = num_bins
        self.sample_rate = sample_rate

    def build(self, input_shape) -> None:
        _, expand = band_matrices(self.num_bins, input_shape[-1], self.sample_rate)
        self._expand = ops.convert_to_tensor(expand)

    def call(self, band_mask):
        return ops.matmul(band_mask, self._expand)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_bins)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_bins": self.num_bins, "sample_rate": self.sample_rate}


@keras.saving.register_keras_serializable(package=PACKAGE)
class AcrossBands(layers.Layer):
    """A bidirectional GRU of `units` a direction across the bands of each frame: `[batch, time, bands,
    channels]` -> `[batch, time, bands, 2 * units]`. It reaches no other frame, so a stream keeps no state."""

    def __init__(self, units: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        # Unrolled: the bands are a short fixed sequence, and TFLite then needs no loop.
        self.rnn = layers.Bidirectional(layers.GRU(units, return_sequences=True, unroll=True), name="rnn")

    def build(self, input_shape) -> None:
        self.rnn.build((None, *input_shape[2:]))

    def call(self, x):
        shape = ops.shape(x)
        y = self.rnn(ops.reshape(x, (-1, x.shape[2], x.shape[3])))
        return ops.reshape(y, (shape[0], shape[1], x.shape[2], 2 * self.units))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], 2 * self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


def _encoder_conv(x, filters: int, name: str, cfg: ModelConfig, graph: Graph, lookahead: int = 0):
    """Causal conv TIME_KERNEL (+ `lookahead`) frames by `kernel_size` bands, halving the bands; BN; ReLU."""
    k = cfg.kernel_size
    x = graph.past(x, name, TIME_KERNEL - 1 + lookahead, (k // 2, (k - 1) // 2))
    x = graph.layer(
        layers.Conv2D, f"{name}_conv", filters=filters, kernel_size=(TIME_KERNEL + lookahead, k),
        strides=(1, 2), padding="valid", use_bias=False,
    )(x)
    x = graph.layer(layers.BatchNormalization, f"{name}_bn")(x)
    return graph.layer(layers.ReLU, f"{name}_relu")(x)


def _decoder_conv(x, filters: int, name: str, cfg: ModelConfig, graph: Graph):
    """Transposed conv within one frame, doubling the bands; BN; ReLU. It keeps no state."""
    x = graph.layer(
        layers.Conv2DTranspose, f"{name}_conv", filters=filters, kernel_size=(1, cfg.kernel_size),
        strides=(1, 2), padding="same", use_bias=False,
    )(x)
    x = graph.layer(layers.BatchNormalization, f"{name}_bn")(x)
    return graph.layer(layers.ReLU, f"{name}_relu")(x)


def _recurrent_bottleneck(x, cfg: ModelConfig, graph: Graph):
    """`[batch, time, bands, channels]` -> the same, through a GRU over time of every band's channels."""
    bands, channels = x.shape[2], x.shape[3]
    y = graph.layer(layers.Reshape, "gru_flatten", target_shape=(-1, bands * channels))(x)
    y = graph.recurrent(y, "gru", cfg.rnn_units)
    y = graph.layer(layers.Dense, "gru_project", units=bands * channels)(y)
    y = graph.layer(layers.Reshape, "gru_unflatten", target_shape=(-1, bands, channels))(y)
    return graph.layer(layers.Add, "gru_add")([x, y])


def _residual(x, y, name: str, graph: Graph):
    """`x` + batch-normed dense projection of `y` back to `x`'s channels."""
    y = graph.layer(layers.Dense, f"{name}_project", units=x.shape[-1], use_bias=False)(y)
    y = graph.layer(layers.BatchNormalization, f"{name}_bn")(y)
    return graph.layer(layers.Add, f"{name}_add")([x, y])


def _dual_path_block(x, index: int, cfg: ModelConfig, graph: Graph):
    """Across the bands of each frame, then over time in each band; each path a residual."""
    name = f"dp{index}"
    x = _residual(x, graph.layer(AcrossBands, f"{name}_across", units=max(1, x.shape[-1] // 2))(x), f"{name}_across", graph)
    return _residual(x, graph.band_recurrent(x, f"{name}_gru", cfg.rnn_units), f"{name}_gru", graph)


def topology(log_mag, cfg: ModelConfig, signal: SignalConfig, graph: Graph):
    """The mask `[batch, frames, bins]` for `log_mag` `[batch, frames, bins]`: the one description of `unet_compact`."""
    x = log_mag
    if cfg.lookahead_frames:
        x = graph.whole_sequence_only(
            AppendFrames, "lookahead_pad", frames=cfg.lookahead_frames, value=SILENCE_LOG_MAGNITUDE
        )(x)
    x = graph.layer(BandFeatures, BAND_FEATURES_LAYER, bands=cfg.bands, sample_rate=signal.sample_rate, spread=cfg.band_spread)(x)
    features = x.shape[-1]
    # Normalized per band and feature: the low bands hold far more energy than the high ones.
    x = graph.layer(layers.Reshape, "band_flatten", target_shape=(-1, cfg.bands * features))(x)
    x = graph.layer(layers.BatchNormalization, INPUT_NORM_LAYER)(x)
    x = graph.layer(layers.Reshape, "band_unflatten", target_shape=(-1, cfg.bands, features))(x)
    skips = []
    for level in range(cfg.depth):
        lookahead = cfg.lookahead_frames if level == 0 else 0
        x = _encoder_conv(x, cfg.base_filters * 2**level, f"enc{level}", cfg, graph, lookahead)
        skips.append(x)
    if cfg.dual_path_blocks:
        for index in range(cfg.dual_path_blocks):
            x = _dual_path_block(x, index, cfg, graph)
    else:
        x = _recurrent_bottleneck(x, cfg, graph)
    for level in reversed(range(cfg.depth)):
        x = graph.layer(layers.Add, f"dec{level}_skip")([x, skips[level]])
        filters = cfg.base_filters * 2 ** (level - 1) if level else cfg.base_filters
        x = _decoder_conv(x, filters, f"dec{level}", cfg, graph)
    x = graph.layer(layers.Conv2D, "band_mask_conv", filters=1, kernel_size=1, activation="sigmoid", dtype="float32")(x)
    x = graph.layer(layers.Reshape, "drop_channel", target_shape=(-1, cfg.bands), dtype="float32")(x)
    if cfg.lookahead_frames:
        x = graph.whole_sequence_only(DropFrames, "lookahead_crop", frames=cfg.lookahead_frames, dtype="float32")(x)
    return graph.layer(BandMask, "mask", num_bins=signal.num_bins, sample_rate=signal.sample_rate, dtype="float32")(x)
