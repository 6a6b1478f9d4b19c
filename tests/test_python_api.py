"""`Denoiser`: numpy audio of any rate, channels and length in, the same shape out, on the `denoise` command's path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_denoiser import Denoiser
from keras_denoiser.core import assets
from keras_denoiser.core.errors import UserError
from keras_denoiser.inference.denoise_files import denoise_file
from keras_denoiser.inference.denoiser import BLOCK_SAMPLES
from keras_denoiser.inference.enhance import KerasEnhancer
from tests.conftest import harmonic_speechlike
from tests.enhance_helpers import save_tiny_unet, tiny_unet


@pytest.fixture(scope="module")
def denoiser() -> Denoiser:
    model, cfg = tiny_unet()
    return Denoiser(KerasEnhancer(model, cfg, "tiny", chunk_frames=64))


def _stereo(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    speech = np.stack([harmonic_speechlike(seconds, rate, seed) for seed in (0, 1)], 1)
    return (speech + rng.normal(0, 0.05, speech.shape)).astype(np.float32)


def test_stereo_44k_array_comes_back_in_the_same_shape_and_changed(denoiser: Denoiser) -> None:
    noisy = _stereo(2.0, 44100)
    assert noisy.shape[0] > BLOCK_SAMPLES  # more than one block through the stream
    clean = denoiser.denoise(noisy, 44100)
    assert (clean.shape, clean.dtype) == (noisy.shape, np.float32)
    assert np.isfinite(clean).all()
    assert np.abs(clean - noisy).mean() > 1e-3  # the random-weight mask does change the signal


@pytest.mark.parametrize("shape", [(0,), (1,), (37,), (0, 3), (5, 3), (16000,)])
def test_any_length_and_channel_count_keeps_the_shape(denoiser: Denoiser, shape: tuple[int, ...]) -> None:
    noisy = np.random.default_rng(0).uniform(-0.5, 0.5, shape)
    assert denoiser.denoise(noisy, 22050).shape == shape


def test_array_result_equals_the_file_result(denoiser: Denoiser, tmp_path: Path) -> None:
    noisy = _stereo(2.0, 44100)
    sf.write(tmp_path / "noisy.wav", noisy, 44100, subtype="FLOAT")  # float samples: no quantization between them
    denoise_file(denoiser.enhancer, tmp_path / "noisy.wav", tmp_path / "clean.wav")
    from_file, rate = sf.read(tmp_path / "clean.wav", dtype="float32", always_2d=True)
    assert rate == 44100
    np.testing.assert_array_equal(denoiser.denoise(noisy, 44100), from_file)


@pytest.mark.parametrize(
    "audio, rate, message",
    [
        (np.zeros((2, 2, 2)), 16000, "audio has shape (2, 2, 2); expected (samples,) or (samples, channels)"),
        (np.zeros((10, 0)), 16000, "audio has shape (10, 0); expected (samples,) or (samples, channels)"),
        (np.zeros((2, 44100)), 44100, "audio has shape (2, 44100): 44100 channels; expected (samples, channels)"),
        (np.array([0.1, np.nan, 0.2]), 16000, "audio: contains NaN or Inf samples (nan at 0.00 s)"),
        (np.array([0.1, np.inf]), 16000, "audio: contains NaN or Inf samples (inf at 0.00 s)"),
        (np.array([0.1, 9.0]), 16000, "audio: peak 9 at 0.00 s; float audio must lie within about ±1"),
        (np.zeros(100), 300, "sample_rate: sample rate 300 Hz is not an audio rate"),
        (np.zeros(100, np.int16), 16000, "audio has dtype int16; expected floating-point samples in [-1, 1]"),
        (np.zeros(100), 0, "sample_rate must be a positive whole number of Hz, got 0"),
        (np.zeros(100), 44100.5, "sample_rate must be a positive whole number of Hz, got 44100.5"),
    ],
)
def test_bad_input_raises_one_clear_user_error(denoiser: Denoiser, audio: np.ndarray, rate, message: str) -> None:
    with pytest.raises(UserError) as caught:
        denoiser.denoise(audio, rate)
    assert str(caught.value).startswith(message)


def test_load_without_a_path_gives_the_bundled_model() -> None:
    denoiser = Denoiser.load()
    assert (denoiser.enhancer.name, denoiser.sample_rate) == (assets.DEFAULT_MODEL.stem, 16000)


def test_load_with_a_path_gives_that_model_and_a_bad_path_one_error(tmp_path: Path) -> None:
    save_tiny_unet(tmp_path / "tiny.keras")
    assert Denoiser.load(tmp_path / "tiny.keras").enhancer.name == "tiny"
    with pytest.raises(UserError, match="no such model file"):
        Denoiser.load(tmp_path / "missing.keras")


def test_an_attenuation_limit_of_0_db_gives_the_input_back(tmp_path: Path) -> None:
    save_tiny_unet(tmp_path / "tiny.keras")
    noisy = _stereo(1.0, 16000)
    untouched = Denoiser.load(tmp_path / "tiny.keras", max_attenuation_db=0).denoise(noisy, 16000)
    np.testing.assert_allclose(untouched, noisy, atol=1e-4)
    assert np.abs(Denoiser.load(tmp_path / "tiny.keras").denoise(noisy, 16000) - noisy).max() > 1e-2


def test_importing_the_package_and_the_cli_does_not_load_tensorflow() -> None:
    code = "import sys, keras_denoiser, keras_denoiser.cli; from keras_denoiser import Denoiser; print('tensorflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"
