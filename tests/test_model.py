"""U-Net shapes, save/load and causality."""

from __future__ import annotations

import numpy as np
import pytest

from keras_denoiser.core.config import ModelConfig, SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.model.model_io import load_model, save_model
from keras_denoiser.model.unet import build_unet

SIGNAL = SignalConfig()
TINY = dict(depth=2, base_filters=4)


@pytest.mark.parametrize("name", ["unet", "unet_causal"])
@pytest.mark.parametrize("frames", [1, 3, 17, 64])
def test_mask_has_input_shape_for_any_frame_count(name: str, frames: int) -> None:
    model = build_unet(ModelConfig(name=name, **TINY), SIGNAL)
    log_mag = np.random.default_rng(frames).normal(size=(2, frames, SIGNAL.num_bins)).astype(np.float32)
    mask = np.asarray(model(log_mag))
    assert mask.shape == log_mag.shape
    assert mask.min() >= 0.0 and mask.max() <= 1.0


@pytest.mark.parametrize("name", ["unet", "unet_causal"])
def test_saved_model_reloads_with_safe_mode_and_same_output(name: str, tmp_path) -> None:
    cfg = TrainConfig(model=ModelConfig(name=name, **TINY))
    model = build_unet(cfg.model, cfg.signal)
    save_model(model, tmp_path / "m.keras", cfg)
    loaded, loaded_cfg = load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).normal(size=(1, 21, SIGNAL.num_bins)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    assert loaded_cfg == cfg


def test_causal_output_never_depends_on_future_frames() -> None:
    model = build_unet(ModelConfig(name="unet_causal", **TINY), SIGNAL)
    x = np.random.default_rng(3).normal(size=(1, 40, SIGNAL.num_bins)).astype(np.float32)
    base = np.asarray(model(x))
    for t in (5, 20, 39):
        changed = x.copy()
        changed[:, t] += 5.0
        out = np.asarray(model(changed))
        np.testing.assert_array_equal(out[:, :t], base[:, :t])
        assert np.abs(out[:, t:] - base[:, t:]).max() > 0


def test_offline_unet_uses_future_context() -> None:
    model = build_unet(ModelConfig(name="unet", **TINY), SIGNAL)
    x = np.random.default_rng(4).normal(size=(1, 40, SIGNAL.num_bins)).astype(np.float32)
    changed = x.copy()
    changed[:, 30] += 5.0
    assert np.abs(np.asarray(model(changed))[:, 28] - np.asarray(model(x))[:, 28]).max() > 0


def test_corrupt_model_file_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="bad.keras: not a loadable Keras model"):
        load_model(bad)
    with pytest.raises(UserError, match="no such model file"):
        load_model(tmp_path / "missing.keras")


@pytest.mark.parametrize(
    "text, reason",
    [
        ('{"model": {"depth": "x"}}', "ModelConfig.depth must be a int"),
        ("[]", "TrainConfig must be a JSON object"),
        ('{"batch_size": 0}', "batch_size must be at least 1"),
        ('{"signal": {"sample_rate": 0}}', "sample_rate must be positive"),
        ("{not json", "cannot read config"),
    ],
)
def test_malformed_model_config_is_a_one_line_error_naming_the_file(tmp_path, text: str, reason: str) -> None:
    cfg = TrainConfig(model=ModelConfig(name="unet", **TINY))
    save_model(build_unet(cfg.model, cfg.signal), tmp_path / "m.keras", cfg)
    (tmp_path / "m.json").write_text(text)
    with pytest.raises(UserError, match=f"m.json: .*{reason}"):
        load_model(tmp_path / "m.keras")
