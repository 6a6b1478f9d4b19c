"""Helpers shared by the export and serving tests: tiny models and a tiny export of one.

Parity checks need a model whose mask follows its input: against a near-constant mask, an exported
model that ignores its input and outputs 0.5 scores 37 dB and passes every bound. `trained_tiny_model`
is trained a few dozen steps on generated speech-like mixtures, so its mask tracks the harmonics in
time and frequency (and a constant-mask artefact scores about 9 dB against it).
"""

from __future__ import annotations

import dataclasses
import fcntl
import functools
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_denoiser.core import features
from keras_denoiser.core.config import ModelConfig, TrainConfig
from keras_denoiser.export import mixture, parity, saved_model
from keras_denoiser.export.exporter import ExportRequest, ParitySignals, export_model
from keras_denoiser.model.network import build_network
from tests.conftest import shared_cache_dir
from tflite_demo import stft

TINY_CONFIG = TrainConfig(model=ModelConfig(depth=2, base_filters=4))
RATE = TINY_CONFIG.signal.sample_rate
TRAINING_SNRS_DB = (-5.0, 0.0, 5.0, 10.0)
TRAINING_EPOCHS = 30  # 60 Adam steps: loss 0.17 -> 0.02
# The lowest SI-SDR/SNR bound of any artefact: a model's output must be further than this from a
# rescaled copy of its input, or an artefact with a constant mask would meet every bound.
LOWEST_PARITY_BOUND_DB = min(bound for figure, bound in parity.TOLERANCES.values() if figure == "si_sdr_db")


def tiny_config(name: str = "unet", dual_path_blocks: int = 0) -> TrainConfig:
    """TINY_CONFIG for the offline (`unet`) or a streaming (`unet_causal`, `unet_compact`) architecture.

    The dual-path compact network also takes the band spread feature, so the export gates (int8 above
    all) hold for it too without a fifth network to train.
    """
    compact = (
        {"bands": 32, "rnn_units": 16, "dual_path_blocks": dual_path_blocks, "band_spread": dual_path_blocks > 0}
        if name == "unet_compact" else {}
    )
    return dataclasses.replace(TINY_CONFIG, model=dataclasses.replace(TINY_CONFIG.model, name=name, **compact))


def tiny_model(seed: int = 0) -> keras.Model:
    """An untrained depth-2, 4-filter U-Net (mask about 0.5) with non-trivial batch-norm statistics.

    Only for tests that need *a* model (conversion errors, refused requests); parity needs `trained_tiny_model`.
    """
    keras.utils.set_random_seed(seed)
    model = build_network(TINY_CONFIG.model, TINY_CONFIG.signal)
    norm = model.get_layer("input_norm")
    norm.moving_mean.assign(np.full(norm.moving_mean.shape, -4.0, np.float32))
    norm.moving_variance.assign(np.full(norm.moving_variance.shape, 4.0, np.float32))
    return model


def _training_pair(seed: int, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """(log-magnitude of a speech-like signal in pink noise, its ideal ratio mask), each `[frames, bins]`."""
    speech = mixture.speechlike(1.0, RATE, seed)
    noise = mixture.mix(speech, mixture.pink_noise(speech.size, seed + 1000), snr_db) - speech
    signal_cfg = TINY_CONFIG.signal
    speech_spec, noise_spec = features.stft(speech, signal_cfg), features.stft(noise, signal_cfg)
    noisy_spec = features.stft(speech + noise, signal_cfg)
    return features.log_magnitude(noisy_spec).numpy(), features.ideal_ratio_mask(speech_spec, noise_spec).numpy()


# The tiny networks the tests train, each as (name, dual_path_blocks): their weights are stored in the repository.
TINY_NETWORKS = (("unet", 0), ("unet_causal", 0), ("unet_compact", 0), ("unet_compact", 1))
STORED_WEIGHTS = Path(__file__).parent / "fixtures" / "tiny_weights"


def stored_weights_path(name: str, dual_path_blocks: int) -> Path:
    """Where the weights of the tiny `name` network are stored in the repository."""
    return STORED_WEIGHTS / f"{name}_{dual_path_blocks}.npz"


@functools.cache
def _trained_weights(name: str, dual_path_blocks: int) -> tuple[np.ndarray, ...]:
    """Weights of a tiny `name` U-Net after TRAINING_EPOCHS on 16 generated mixtures, cached per process.

    Read from `STORED_WEIGHTS` (written by `python -m tests.export_support`), which saves the suite
    about 15 s of training per network. A stored file that no longer fits the network (its layers
    changed) is ignored, and test_export_support says so; the network is then trained here, under
    pytest-xdist once per run for all its workers (a file named by the run's id, never reused).
    """
    stored = read_weights(stored_weights_path(name, dual_path_blocks))
    if stored is not None and weights_fit(stored, name, dual_path_blocks):
        return stored
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:
        return _train(name, dual_path_blocks)
    folder = shared_cache_dir(run)
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}_{dual_path_blocks}.npz"
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait for the first one's training
        if not path.exists():
            weights = _train(name, dual_path_blocks)
            _write_weights(path, weights)
            return weights
    return read_weights(path)


def read_weights(path: Path) -> tuple[np.ndarray, ...] | None:
    """The weights saved in `path` in order, or None when there is no such file."""
    if not path.exists():
        return None
    with np.load(path) as saved:
        return tuple(saved[f"arr_{index}"] for index in range(len(saved.files)))


def _write_weights(path: Path, weights: tuple[np.ndarray, ...]) -> None:
    part = path.with_suffix(".part")
    with open(part, "wb") as file:
        np.savez(file, *weights)
    os.replace(part, path)


def weights_fit(weights: tuple[np.ndarray, ...], name: str, dual_path_blocks: int) -> bool:
    """Whether `weights` have the shapes of today's tiny `name` network, in order."""
    cfg = tiny_config(name, dual_path_blocks)
    expected = [tuple(w.shape) for w in build_network(cfg.model, cfg.signal).weights]
    return [w.shape for w in weights] == expected


def _train(name: str, dual_path_blocks: int) -> tuple[np.ndarray, ...]:
    pairs = [_training_pair(100 + i, TRAINING_SNRS_DB[i % len(TRAINING_SNRS_DB)]) for i in range(16)]
    x, y = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    cfg = tiny_config(name, dual_path_blocks)
    keras.utils.set_random_seed(0)
    model = build_network(cfg.model, cfg.signal)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    # One epoch over the data repeated: the same 60 steps as TRAINING_EPOCHS epochs, without Keras's per-epoch overhead.
    model.fit(np.tile(x, (TRAINING_EPOCHS, 1, 1)), np.tile(y, (TRAINING_EPOCHS, 1, 1)), batch_size=8, shuffle=False, verbose=0)
    return tuple(model.get_weights())


def trained_tiny_model(name: str = "unet", dual_path_blocks: int = 0) -> tuple[keras.Model, TrainConfig]:
    """A fresh tiny `unet`, `unet_causal` or `unet_compact` with trained weights, and its config."""
    cfg = tiny_config(name, dual_path_blocks)
    model = build_network(cfg.model, cfg.signal)
    model.set_weights(list(_trained_weights(name, dual_path_blocks)))
    return model, cfg


def keras_enhance(model: keras.Model, wave: np.ndarray, cfg: TrainConfig = TINY_CONFIG, floor: float = 0.0) -> np.ndarray:
    """The Keras model's enhancement of a 1-D wave (mask never below `floor`): the reference artefacts are held to."""
    return saved_model.enhance_waveform(model, tf.constant(wave[np.newaxis]), cfg.signal, floor).numpy()[0]


def keras_enhance_on_app_spectra(model: keras.Model, wave: np.ndarray, cfg: TrainConfig, floor: float) -> np.ndarray:
    """The Keras model's enhancement of a 1-D wave, computed on the spectra the app computes (numpy, float64).

    Why: training's STFT runs in float32, so its quietest bins (magnitude 1e-6, where the log floor
    is) carry rounding of up to 0.07 in log-magnitude against the app's float64 STFT. A model with a
    GRU across bands carries that to loud bins (2e-4 on the waveform of the bundled sample). Held to
    the same input as the app, a stream must equal its Keras model; the two STFTs are held equal
    within float32 rounding by test_tflite_demo.
    """
    signal = cfg.signal
    spectra = stft.stft(np.asarray(wave, np.float64), signal.frame_length, signal.hop_length, signal.pad)
    log_mag = stft.log_magnitude(spectra, features.LOG_EPSILON)
    mask = tf.maximum(model(log_mag[np.newaxis], training=False)[0], floor)
    masked = features.apply_mask(tf.constant(spectra, tf.complex64), mask)
    return features.istft(masked, len(wave), signal).numpy()


def tiny_signals(seconds: float = 2.0) -> ParitySignals:
    """A generated test mixture and int8 calibration blocks from other generated mixtures."""
    waves = [mixture.generated_mixture(1.0, RATE, seed) for seed in range(10, 14)]
    return ParitySignals(
        test_wave=mixture.generated_mixture(seconds, RATE, seed=0),
        test_source="generated",
        representative=list(mixture.log_magnitude_blocks(waves, TINY_CONFIG.signal, frames=32)),
        representative_source="generated",
    )


def tiny_export(export_dir: Path, model: keras.Model, formats: tuple[str, ...], quantizations=("float32",), cfg=TINY_CONFIG):
    """Export `model` under the name `denoiser`, version 1; returns (rows, report path)."""
    request = ExportRequest(export_dir, "denoiser", 1, formats, tuple(quantizations))
    return export_model(model, cfg, request, tiny_signals())


if __name__ == "__main__":
    # Retrain and store the tiny networks' weights, after a change to their layers or to `_train`.
    STORED_WEIGHTS.mkdir(parents=True, exist_ok=True)
    for network in TINY_NETWORKS:
        _write_weights(stored_weights_path(*network), _train(*network))
        print("wrote", stored_weights_path(*network))
