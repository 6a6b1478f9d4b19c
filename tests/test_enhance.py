"""Chunked enhancement equals whole-signal enhancement; a mask of ones is transparent; odd inputs are safe."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from keras_denoiser.inference.enhance import KerasEnhancer
from keras_denoiser.model.network import receptive_radius
from tests.conftest import harmonic_speechlike
from tests.enhance_helpers import tiny_unet

RATE = 16000
WHOLE = 1_000_000  # frames per chunk: far more than any test signal, so one chunk is the whole signal


@pytest.fixture(
    scope="module",
    params=[("unet", 0, 0), ("unet_causal", 0, 0), ("unet", 2, 0), ("unet_causal", 3, 0), ("unet_causal", 0, 2), ("unet_compact", 0, 2)],
)
def model_and_config(request):
    name, context_layers, lookahead_frames = request.param
    return tiny_unet(name, context_layers=context_layers, lookahead_frames=lookahead_frames)


@pytest.fixture(scope="module")
def odd_input_enhancer():
    model, cfg = tiny_unet()
    return KerasEnhancer(model, cfg, "tiny", chunk_frames=8)


def _noisy(seconds: float, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    speech = harmonic_speechlike(seconds, RATE, seed)
    return np.stack([speech + rng.normal(0, 0.05, speech.shape) for _ in range(channels)], 1).astype(np.float32)


def test_small_chunks_equal_whole_signal_processing(model_and_config) -> None:
    model, cfg = model_and_config
    noisy = _noisy(10.0, channels=2)[:-37]  # not a multiple of the hop; 31 chunks of 40 frames
    whole = KerasEnhancer(model, cfg, "whole", chunk_frames=WHOLE).enhance(noisy)
    chunked = KerasEnhancer(model, cfg, "chunked", chunk_frames=40).enhance(noisy)
    assert chunked.shape == noisy.shape
    assert np.abs(chunked - whole).max() < 1e-5


def test_too_little_context_would_be_detected(model_and_config) -> None:
    """The equality above is a real check: chunks without enough context do differ."""
    model, cfg = model_and_config
    noisy = _noisy(6.0)
    no_floor = float("inf")  # a mask pinned at its floor would hide the difference
    whole = KerasEnhancer(model, cfg, "whole", chunk_frames=WHOLE, max_attenuation_db=no_floor).enhance(noisy)
    short_sighted = KerasEnhancer(model, cfg, "short", chunk_frames=40, max_attenuation_db=no_floor)
    short_sighted.plan = dataclasses.replace(short_sighted.plan, context_frames=1)
    assert np.abs(short_sighted.enhance(noisy) - whole).max() > 1e-5


def test_block_sizes_pushed_do_not_change_the_output(model_and_config) -> None:
    model, cfg = model_and_config
    enhancer = KerasEnhancer(model, cfg, "chunked", chunk_frames=24)
    noisy = _noisy(5.0)
    stream = enhancer.stream(channels=1)
    pieces = [stream.push(noisy[i : i + 3001]) for i in range(0, len(noisy), 3001)] + [stream.finish()]
    assert np.abs(np.concatenate(pieces) - enhancer.enhance(noisy)).max() < 1e-6


def test_receptive_radius_grows_with_depth_and_kernel() -> None:
    shallow = dataclasses.replace(tiny_unet()[1].model, depth=1)
    assert receptive_radius(dataclasses.replace(shallow, depth=3)) > receptive_radius(shallow)
    assert receptive_radius(dataclasses.replace(shallow, kernel_size=5)) > receptive_radius(shallow)
    assert receptive_radius(dataclasses.replace(shallow, context_layers=2)) > receptive_radius(shallow)


def test_mask_of_ones_returns_the_input() -> None:
    model, cfg = tiny_unet(mask_bias=30.0)
    noisy = _noisy(3.0)[:, 0]
    enhanced = KerasEnhancer(model, cfg, "ones", chunk_frames=32)(noisy)
    assert enhanced.shape == noisy.shape
    assert np.abs(enhanced - noisy).max() < 1e-4


@pytest.mark.parametrize(
    "wave",
    [
        np.zeros(RATE, np.float32),  # digital silence
        np.full(RATE, 0.5, np.float32),  # DC offset
        np.clip(harmonic_speechlike(1.0, RATE) * 20, -1, 1),  # hard-clipped
        np.array([0.3], np.float32),  # one sample
        np.full(100, -0.2, np.float32),  # shorter than one frame
        np.ones(513, np.float32),  # one sample more than a frame
    ],
    ids=["silence", "dc", "clipped", "one-sample", "sub-frame", "frame+1"],
)
def test_odd_valid_inputs_keep_their_length_and_stay_finite(odd_input_enhancer, wave: np.ndarray) -> None:
    enhanced = odd_input_enhancer(wave)
    assert enhanced.shape == wave.shape
    assert np.isfinite(enhanced).all()


def test_limits_of_one_model_share_its_traced_graph_and_keep_their_own_floor() -> None:
    """`at_limit` (choose_limit's sweep) scores each limit as a fresh enhancer would, tracing once."""
    model, cfg = tiny_unet()
    noisy = _noisy(2.0)
    base = KerasEnhancer(model, cfg, "tiny", chunk_frames=40)
    sweep = {limit: base.at_limit(limit, f"{limit:g} dB") for limit in (0.0, 3.0, float("inf"))}
    outputs = {limit: enhancer.enhance(noisy) for limit, enhancer in sweep.items()}
    for limit, output in outputs.items():
        fresh = KerasEnhancer(model, cfg, "fresh", chunk_frames=40, max_attenuation_db=limit).enhance(noisy)
        assert np.abs(output - fresh).max() < 1e-6
    assert [enhancer.name for enhancer in sweep.values()] == ["0 dB", "3 dB", "inf dB"]
    assert np.abs(outputs[0.0] - noisy).max() < 1e-4  # a 0 dB limit gives the input back
    assert np.abs(outputs[3.0] - outputs[float("inf")]).max() > 1e-3  # a 3 dB floor lifts part of the untrained mask
    assert base._segment_fn.experimental_get_tracing_count() == 1
