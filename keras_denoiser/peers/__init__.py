"""Established denoisers behind our Enhancer interface, scored against ours: `evaluate --peers=a,b`.

Each peer needs the optional extra (`pip install 'keras-denoiser[peers]'`); its module, and the
package it wraps, are imported only when `PEERS[name]()` builds it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from keras_denoiser.enhancer import Enhancer
from keras_denoiser.errors import UserError

_PEER_CLASSES = {
    "noisereduce": "keras_denoiser.peers.noisereduce_peer:NoisereduceEnhancer",
    "rnnoise": "keras_denoiser.peers.rnnoise:RnnoiseEnhancer",
    "nsnet2": "keras_denoiser.peers.nsnet2:Nsnet2Enhancer",
    "dtln": "keras_denoiser.peers.dtln:DtlnEnhancer",
}


def _lazy_constructor(name: str, target: str) -> Callable[[], Enhancer]:
    module_name, class_name = target.split(":")

    def build() -> Enhancer:
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
