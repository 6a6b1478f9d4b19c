"""U-Net shapes, save/load, causality and the per-frame causal step."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_denoiser.core.config import ModelConfig, SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.model.graph import SILENCE_LOG_MAGNITUDE
from keras_denoiser.model.model_io import load_model, save_model
from keras_denoiser.model.network import CausalStep, build_network, receptive_radius
from keras_denoiser.model.unet import FIRST_CONVOLUTION
from keras_denoiser.training.train import build_model
from tests.enhance_helpers import save_tiny_unet, tiny_unet, wake_context_layers

SIGNAL = SignalConfig()
TINY = dict(depth=2, base_filters=4)


@pytest.mark.parametrize("name", ["unet", "unet_causal"])
@pytest.mark.parametrize("frames", [1, 3, 17, 64])
def test_mask_has_input_shape_for_any_frame_count(name: str, frames: int) -> None:
    model = build_network(ModelConfig(name=name, **TINY), SIGNAL)
    log_mag = np.random.default_rng(frames).normal(size=(2, frames, SIGNAL.num_bins)).astype(np.float32)
    mask = np.asarray(model(log_mag))
    assert mask.shape == log_mag.shape
    assert mask.min() >= 0.0 and mask.max() <= 1.0


@pytest.mark.parametrize("name", ["unet", "unet_causal"])
def test_saved_model_reloads_with_safe_mode_and_same_output(name: str, tmp_path) -> None:
    cfg = TrainConfig(model=ModelConfig(name=name, **TINY))
    model = build_network(cfg.model, cfg.signal)
    save_model(model, tmp_path / "m.keras", cfg)
    loaded, loaded_cfg = load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).normal(size=(1, 21, SIGNAL.num_bins)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), atol=1e-6)
    assert loaded_cfg == cfg


def test_causal_output_never_depends_on_future_frames() -> None:
    model = build_network(ModelConfig(name="unet_causal", **TINY), SIGNAL)
    x = np.random.default_rng(3).normal(size=(1, 40, SIGNAL.num_bins)).astype(np.float32)
    base = np.asarray(model(x))
    for t in (5, 20, 39):
        changed = x.copy()
        changed[:, t] += 5.0
        out = np.asarray(model(changed))
        np.testing.assert_array_equal(out[:, :t], base[:, :t])
        assert np.abs(out[:, t:] - base[:, t:]).max() > 0


def test_causal_step_frame_by_frame_equals_the_whole_sequence_model() -> None:
    keras.utils.set_random_seed(1)  # fixed weights: the mask below varies by 0.09
    model, train_cfg = tiny_unet("unet_causal", seed=1)  # random batch-norm statistics: every layer matters
    step = CausalStep(model, train_cfg.model, train_cfg.signal)
    log_mag = np.random.default_rng(5).normal(-3.0, 2.0, size=(12, SIGNAL.num_bins)).astype(np.float32)
    states, masks = step.initial_states(), []
    for frame in log_mag:
        mask, states = step(frame[None, None], states)
        masks.append(np.asarray(mask)[0, 0])
    whole = np.asarray(model(log_mag[None]))[0]
    assert whole.std() > 0.05
    np.testing.assert_allclose(np.stack(masks), whole, atol=1e-5)
    convs = [f"{block}_{half}" for block in ("enc0", "enc1", "bottleneck", "dec1", "dec0") for half in "ab"]
    assert [(s.conv, s.shape[:2]) for s in step.states] == [(conv, (1, 2)) for conv in convs]  # kernel 3: two past frames


@pytest.mark.parametrize("lookahead_frames", [1, 2])
def test_a_lookahead_mask_sees_exactly_that_many_future_frames(lookahead_frames: int) -> None:
    model = build_network(ModelConfig(name="unet_causal", lookahead_frames=lookahead_frames, **TINY), SIGNAL)
    x = np.random.default_rng(3).normal(size=(1, 40, SIGNAL.num_bins)).astype(np.float32)
    base = np.asarray(model(x))
    assert base.shape == x.shape
    for t in (5, 20, 39):
        changed = x.copy()
        changed[:, t] += 5.0
        out = np.asarray(model(changed))
        np.testing.assert_array_equal(out[:, : t - lookahead_frames], base[:, : t - lookahead_frames])
        assert np.abs(out[:, t - lookahead_frames] - base[:, t - lookahead_frames]).max() > 0


def test_causal_step_of_a_lookahead_model_is_its_whole_sequence_model_late() -> None:
    """Step n gives the mask of frame n - L; frames after the last are silence, as the whole-sequence model pads."""
    model, train_cfg = tiny_unet("unet_causal", seed=1, lookahead_frames=2)
    step = CausalStep(model, train_cfg.model, train_cfg.signal)
    log_mag = np.random.default_rng(5).normal(-3.0, 2.0, size=(12, SIGNAL.num_bins)).astype(np.float32)
    silence = np.full((2, SIGNAL.num_bins), SILENCE_LOG_MAGNITUDE, np.float32)
    states, masks = step.initial_states(), []
    for frame in np.concatenate([log_mag, silence]):
        mask, states = step(frame[None, None], states)
        masks.append(np.asarray(mask)[0, 0])
    whole = np.asarray(model(log_mag[None]))[0]
    np.testing.assert_allclose(np.stack(masks[2:]), whole, atol=1e-5)
    assert step.states[0].conv == "enc0_a" and step.states[0].shape[1] == 4  # kernel 3 + 2 lookahead: four past frames


def test_lookahead_is_for_the_causal_model_only() -> None:
    with pytest.raises(UserError, match="lookahead_frames is for a causal model"):
        ModelConfig(name="unet", lookahead_frames=1)
    with pytest.raises(UserError, match="lookahead_frames must be in 0..4"):
        ModelConfig(name="unet_causal", lookahead_frames=5)


@pytest.mark.parametrize(
    "name, changed, reason",
    [
        ("unet_causal", dict(depth=3), "has no layer 'enc2_a_pad'"),
        ("unet_causal", dict(kernel_size=5), r"enc0_a_pad pads .*not the causal"),
        ("unet", {}, "has no layer 'enc0_a_pad'"),
    ],
)
def test_causal_step_refuses_a_model_of_another_topology(name: str, changed: dict, reason: str) -> None:
    model = build_network(ModelConfig(name=name, **TINY), SIGNAL)
    with pytest.raises(UserError, match=reason):
        CausalStep(model, ModelConfig(name="unet_causal", **{**TINY, **changed}), SignalConfig())


def test_offline_unet_uses_future_context() -> None:
    model = build_network(ModelConfig(name="unet", **TINY), SIGNAL)
    x = np.random.default_rng(4).normal(size=(1, 40, SIGNAL.num_bins)).astype(np.float32)
    changed = x.copy()
    changed[:, 30] += 5.0
    assert np.abs(np.asarray(model(changed))[:, 28] - np.asarray(model(x))[:, 28]).max() > 0


def test_corrupt_model_file_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match=r"bad.keras: not a loadable Keras model \(\w+Error: .+\)"):
        load_model(bad)
    with pytest.raises(UserError, match="no such model file"):
        load_model(tmp_path / "missing.keras")
    save_tiny_unet(tmp_path / "lone.keras")
    (tmp_path / "lone.json").unlink()
    with pytest.raises(UserError, match=r"lone.keras: missing its config \(lone.json or config.json beside it\)"):
        load_model(tmp_path / "lone.keras")
    (tmp_path / "app.tflite").write_bytes(b"TFL3")
    with pytest.raises(UserError, match=r"app.tflite: a TFLite model; run it with `python -m tflite_demo`"):
        load_model(tmp_path / "app.tflite")


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
    save_model(build_network(cfg.model, cfg.signal), tmp_path / "m.keras", cfg)
    (tmp_path / "m.json").write_text(text)
    with pytest.raises(UserError, match=f"m.json: .*{reason}"):
        load_model(tmp_path / "m.keras")


@pytest.mark.parametrize("name", ["unet", "unet_causal"])
@pytest.mark.parametrize("layers", ["context_layers", "band_context_layers"])
def test_new_context_layers_start_as_identity_on_a_trained_unet(name: str, layers: str, tmp_path) -> None:
    model, cfg = tiny_unet(name, seed=2)
    save_model(model, tmp_path / "plain.keras", cfg)
    wider = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, **{layers: 2}))
    started = build_model(wider, tf.distribute.get_strategy(), False, init_from=tmp_path / "plain.keras")
    x = np.random.default_rng(6).normal(-3.0, 2.0, size=(1, 32, SIGNAL.num_bins)).astype(np.float32)
    assert len(started.layers) > len(model.layers)
    np.testing.assert_allclose(np.asarray(started(x)), np.asarray(model(x)), atol=1e-6)
    save_model(started, tmp_path / "context.keras", wider)
    with pytest.raises(UserError, match=f"at least its .*--{layers}"):  # context cannot be dropped
        build_model(cfg, tf.distribute.get_strategy(), False, init_from=tmp_path / "context.keras")


def test_a_causal_unet_given_lookahead_starts_as_itself_read_late(tmp_path) -> None:
    """The widened first convolution's new taps are zero: past the start-up frames, the masks are the same."""
    model, cfg = tiny_unet("unet_causal", seed=2)
    save_model(model, tmp_path / "plain.keras", cfg)
    ahead = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, lookahead_frames=2))
    started = build_model(ahead, tf.distribute.get_strategy(), False, init_from=tmp_path / "plain.keras")
    x = np.random.default_rng(6).normal(-3.0, 2.0, size=(1, 80, SIGNAL.num_bins)).astype(np.float32)
    settled = receptive_radius(cfg.model)  # the first frames saw different start-up padding
    np.testing.assert_allclose(np.asarray(started(x))[:, settled:], np.asarray(model(x))[:, settled:], atol=1e-6)
    kernel = started.get_layer(FIRST_CONVOLUTION).kernel.numpy()
    assert kernel.shape[0] == 5 and not kernel[3:].any()
    save_model(started, tmp_path / "ahead.keras", ahead)
    with pytest.raises(UserError, match="at least its --context_layers, --band_context_layers and --lookahead_frames"):
        build_model(cfg, tf.distribute.get_strategy(), False, init_from=tmp_path / "ahead.keras")


def test_band_context_layers_let_a_bin_see_the_far_end_of_the_band_in_its_own_frame() -> None:
    """Depth 2: without them a bin sees about 40 bins around it; six band context layers (dilations
    1..32 at the bottleneck's 4-bin resolution) reach past 250. Other frames stay unseen."""
    x = np.random.default_rng(8).normal(-3.0, 2.0, size=(1, 20, SIGNAL.num_bins)).astype(np.float32)
    changed = x.copy()
    changed[:, 10, :5] += 5.0
    for band_context_layers, reaches in ((0, False), (6, True)):
        model = build_network(ModelConfig(name="unet_causal", band_context_layers=band_context_layers, **TINY), SIGNAL)
        wake_context_layers(model)
        moved = np.abs(np.asarray(model(changed)) - np.asarray(model(x)))[0]
        assert (moved[10, 250:].max() > 0) == reaches, (band_context_layers, moved[10, 250:].max())
        assert moved[:10].max() == 0  # causal: no earlier frame moved


def test_context_layers_lengthen_the_causal_memory() -> None:
    """Depth 2, kernel 3: ten causal convolutions see 20 past frames; three context layers add 4 + 8 + 16."""
    x = np.random.default_rng(7).normal(-3.0, 2.0, size=(1, 60, SIGNAL.num_bins)).astype(np.float32)
    changed = x.copy()
    changed[:, 5] += 5.0
    for context_layers, remembers in ((0, False), (3, True)):
        model = build_network(ModelConfig(name="unet_causal", context_layers=context_layers, **TINY), SIGNAL)
        wake_context_layers(model)
        late = np.abs(np.asarray(model(changed))[:, 5 + 40] - np.asarray(model(x))[:, 5 + 40]).max()
        assert (late > 0) == remembers, (context_layers, late)
