"""`keras_denoiser benchmark training` end to end on tiny folders: a row per variant, JSON figures, bad variants."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from keras_denoiser.benchmarks.variants import BUNDLED_RECIPES, bundled_variants, parse_variant
from keras_denoiser.core.config import SignalConfig, TrainConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.model.network import build_network
from tests import cli_runner
from tests.conftest import harmonic_speechlike


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_runner.run("benchmark", "training", *args, cwd=tmp_path)


def test_benchmark_training_times_each_variant_on_its_loss(tmp_path: Path, write_wav) -> None:
    for i in range(3):
        write_wav(f"speech/s{i}.wav", harmonic_speechlike(1.0, 16000, seed=i))
    write_wav("noise/n.wav", (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32))
    result = _run(
        tmp_path, "--speech_dir=speech", "--noise_dir=noise", "--cache_dir=cache", "--steps=2", "--batch_size=2",
        "--crop_seconds=0.5", "--variant=unet:1x4", "--variant=unet_causal:1x4:2:compressed_spectral",
        "--variant=unet_compact:1x4:16g8", "--json_out=figures.json",
    )
    assert result.returncode == 0, result.stderr
    assert "deprecated" not in result.stderr  # the profiler's own deprecation warning stays off the terminal
    lines = result.stdout.splitlines()
    assert lines[0] == "batch 2 x 0.5 s, 2 timed steps each"
    assert lines[2].startswith("unet 1x4, 0 context, weighted_mask_mse") and lines[2].endswith("1.00x")
    assert lines[3].startswith("unet_causal 1x4, 2 context, compressed_spectral")
    assert lines[4].startswith("unet_compact 1x4, 16 bands, GRU 8, weighted_mask_mse")
    figures = json.loads((tmp_path / "figures.json").read_text())
    plain, context, compact = figures["variants"]
    assert context["parameters"] > plain["parameters"]  # the context layers are in the timed model
    for row in (plain, context, compact):
        assert row["steps_per_second"] > 0
        assert row["audio_seconds_per_second"] == pytest.approx(row["steps_per_second"] * 2 * 0.5)
        assert row["multiply_adds_per_second"] > 0
    # Offline there is no stream state; the causal rows carry their convolution histories (and a GRU's state).
    assert plain["state_bytes"] == 0 and context["state_bytes"] > compact["state_bytes"] > 0
    # The compact net pools 257 bins into 16 bands: far fewer multiply-adds than the full-band causal U-Net.
    assert compact["multiply_adds_per_second"] < context["multiply_adds_per_second"] / 5


def test_by_default_the_bundled_recipes_are_timed_streaming_first() -> None:
    variants = bundled_variants()
    assert [v.model.name for v in variants] == list(BUNDLED_RECIPES) and all(v.bundled for v in variants)
    assert variants[0].model.causal and variants[0].label.endswith("(bundled)")


@pytest.mark.parametrize(
    "text, reason",
    [("unet", "is not MODEL:DEPTHxFILTERS"), ("unet:3x16:0:l1", "unknown loss 'l1'"), ("rnn:3x16", "unknown model")],
)
def test_a_bad_variant_is_a_one_line_error(text: str, reason: str) -> None:
    with pytest.raises(UserError, match=reason):
        parse_variant(text)
    assert parse_variant("unet_causal:3x12").model.context_layers == 0


def test_a_variant_names_its_context_and_band_context_layers() -> None:
    variant = parse_variant("unet_causal:3x12:6b4:snr")
    assert (variant.model.context_layers, variant.model.band_context_layers, variant.loss) == (6, 4, "snr")
    assert variant.label == "unet_causal 3x12, 6 context + 4 band, snr"
    compact = parse_variant("unet_compact:2x16:64g128:compressed_spectral")
    assert (compact.model.bands, compact.model.rnn_units, compact.loss) == (64, 128, "compressed_spectral")
    assert compact.label == "unet_compact 2x16, 64 bands, GRU 128, compressed_spectral"
    spread = parse_variant("unet_compact:2x16:96g32d2s")
    assert (spread.model.band_spread, spread.model.dual_path_blocks, compact.model.band_spread) == (True, 2, False)
    assert spread.label == "unet_compact 2x16, 96 bands with spread, 2 dual-path GRU 32, weighted_mask_mse"


def test_a_hop_twice_as_long_halves_the_multiply_adds_per_second_and_is_in_the_label() -> None:
    from keras_denoiser.benchmarks.cost import network_cost

    variants = [parse_variant("unet_compact:1x4:16g8d1", SignalConfig(hop_length=hop)) for hop in (128, 256)]
    assert variants[0].label == "unet_compact 1x4, 16 bands, 1 dual-path GRU 8, weighted_mask_mse"
    assert variants[1].label == "unet_compact 1x4, 16 bands, 1 dual-path GRU 8, hop 256, weighted_mask_mse"
    costs = [network_cost(build_network(v.model, v.signal), TrainConfig(model=v.model, signal=v.signal)) for v in variants]
    # The same network runs once per hop: half the hops per second, half the multiply-adds, the same state.
    assert costs[1].multiply_adds_per_second == pytest.approx(costs[0].multiply_adds_per_second / 2)
    assert costs[1].state_bytes == costs[0].state_bytes > 0


def test_a_bad_variant_on_the_command_line_fails_before_any_work(tmp_path: Path) -> None:
    result = _run(tmp_path, "--variant=unet:3")
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1
    assert "is not MODEL:DEPTHxFILTERS" in result.stderr and not (tmp_path / "cache").exists()
