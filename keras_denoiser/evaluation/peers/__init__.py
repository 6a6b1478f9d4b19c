"""Established denoisers behind our Enhancer interface, scored against ours: `evaluate --peers=a,b`.

Each peer needs the optional extra (`pip install 'keras-denoiser[peers]'`); its module, and the
package it wraps, are imported only when `PEERS[name]()` builds it. The streaming peers also have
a per-hop loop, `PEER_STREAMS[name]()`, that `benchmark inference` times.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation.enhancer import Enhancer
from keras_denoiser.evaluation.peers.streamed import PeerStream

_PEER_CLASSES = {
    "noisereduce": "keras_denoiser.evaluation.peers.noisereduce_peer:NoisereduceEnhancer",
    "rnnoise": "keras_denoiser.evaluation.peers.rnnoise:RnnoiseEnhancer",
    "nsnet2": "keras_denoiser.evaluation.peers.nsnet2:Nsnet2Enhancer",
    "dtln": "keras_denoiser.evaluation.peers.dtln:DtlnEnhancer",
    "deepfilternet3": "keras_denoiser.evaluation.peers.deepfilternet:DeepFilterNetEnhancer",
    "gtcrn": "keras_denoiser.evaluation.peers.gtcrn:GtcrnEnhancer",
}
_STREAM_CLASSES = {
    "dtln": "keras_denoiser.evaluation.peers.dtln:DtlnStream",
    "deepfilternet3": "keras_denoiser.evaluation.peers.deepfilternet:DeepFilterNetStream",
    "gtcrn": "keras_denoiser.evaluation.peers.gtcrn:GtcrnStream",
}


def _lazy_constructor(name: str, target: str) -> Callable[[], Any]:
    module_name, class_name = target.split(":")

    def build() -> Any:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name and err.name.startswith("keras_denoiser"):
                raise
            raise UserError(
                f"peer {name!r} needs the optional peers extra "
                f"(pip install 'keras-denoiser[peers]'): no module named {err.name!r}"
            ) from None
        return getattr(module, class_name)()

    return build


PEERS: dict[str, Callable[[], Enhancer]] = {
    name: _lazy_constructor(name, target) for name, target in _PEER_CLASSES.items()
}
PEER_STREAMS: dict[str, Callable[[], PeerStream]] = {
    name: _lazy_constructor(name, target) for name, target in _STREAM_CLASSES.items()
}


def check_peer_names(names: Sequence[str], registry: Mapping[str, object]) -> None:
    """One-line UserError naming the unknown peers and the known ones, if any of `names` is unknown."""
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise UserError(f"unknown peers {', '.join(unknown)}; choose from {', '.join(registry)}")
