"""Which networks `benchmark training` times: the variant grammar and the bundled models' recipes.

Apart from the timing code so that `benchmark training --help` and the flag checks load no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import re

from keras_denoiser.core import assets
from keras_denoiser.core.config import LOSSES, ModelConfig, SignalConfig, TrainConfig, load_json
from keras_denoiser.core.errors import UserError

_VARIANT = re.compile(
    r"^(?P<name>\w+):(?P<depth>\d+)x(?P<filters>\d+)"
    r"(?::(?:(?P<bands>\d+)g(?P<units>\d+)(?:d(?P<dual>\d+))?(?P<spread>s)?|(?P<context>\d+)(?:b(?P<band>\d+))?))?(?::(?P<loss>\w+))?$"
)
VARIANT_FORMS = (
    "MODEL:DEPTHxFILTERS[:CONTEXT_LAYERS[bBAND_CONTEXT_LAYERS]][:LOSS] or "
    "unet_compact:DEPTHxFILTERS[:BANDSgGRU_UNITS[dDUAL_PATH_BLOCKS][s]][:LOSS] (s: with the band spread "
    "feature), e.g. unet_causal:3x12:6b4, unet_compact:2x16:64g128 or unet_compact:2x16:96g32d1s"
)
DEFAULT_SIGNAL = SignalConfig()
# The bundled models whose recipes are timed by default: the streaming one first.
BUNDLED_RECIPES = ("unet_compact", "unet_causal", "unet")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One network, loss and STFT hop to time; `bundled` when it is a bundled model's recipe."""

    model: ModelConfig
    loss: str
    signal: SignalConfig = DEFAULT_SIGNAL
    bundled: bool = False

    @property
    def label(self) -> str:
        m = self.model
        if m.name == "unet_compact":
            recurrence = f"{m.dual_path_blocks} dual-path GRU {m.rnn_units}" if m.dual_path_blocks else f"GRU {m.rnn_units}"
            shape = f"{m.bands} bands{' with spread' if m.band_spread else ''}, {recurrence}"
        else:
            shape = f"{m.context_layers} context" + (f" + {m.band_context_layers} band" if m.band_context_layers else "")
        lookahead = f", lookahead {m.lookahead_frames}" if m.lookahead_frames else ""
        hop = f", hop {self.signal.hop_length}" if self.signal != DEFAULT_SIGNAL else ""
        return f"{m.name} {m.depth}x{m.base_filters}, {shape}{lookahead}{hop}, {self.loss}" + (" (bundled)" if self.bundled else "")


def parse_variant(text: str, signal: SignalConfig = DEFAULT_SIGNAL) -> Variant:
    """A variant from its text (`VARIANT_FORMS`) on `signal`: no context layers and weighted_mask_mse unless given."""
    match = _VARIANT.match(text.strip())
    if not match:
        raise UserError(f"variant {text!r} is not {VARIANT_FORMS}")
    loss = match["loss"] or "weighted_mask_mse"
    if loss not in LOSSES:
        raise UserError(f"variant {text!r}: unknown loss {loss!r}; choose from {', '.join(LOSSES)}")
    compact = (
        {
            "bands": int(match["bands"]), "rnn_units": int(match["units"]), "dual_path_blocks": int(match["dual"] or 0),
            "band_spread": bool(match["spread"]),
        }
        if match["bands"] else {}
    )
    model = ModelConfig(
        name=match["name"], depth=int(match["depth"]), base_filters=int(match["filters"]),
        context_layers=int(match["context"] or 0), band_context_layers=int(match["band"] or 0), **compact,
    )
    return Variant(model, loss, signal)


def bundled_configs() -> list[TrainConfig]:
    """The bundled models' training configs (`BUNDLED_RECIPES`, the streaming one first)."""
    return [load_json(TrainConfig, assets.ASSETS_DIR / "models" / f"{name}.json") for name in BUNDLED_RECIPES]


def bundled_variant(cfg: TrainConfig) -> Variant:
    """A bundled model's recipe as a variant: its own network, loss and STFT."""
    return Variant(cfg.model, cfg.loss, cfg.signal, bundled=True)


def bundled_variants() -> list[Variant]:
    """The bundled models' own networks and losses, read from their configs."""
    return [bundled_variant(cfg) for cfg in bundled_configs()]
