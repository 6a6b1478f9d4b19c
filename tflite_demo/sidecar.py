"""The streaming sidecar: the JSON beside a streaming .tflite that says how to drive it.

The one home of its schema. keras_denoiser's streaming export writes it (`StreamSpec.to_json`);
the app, its web server and keras_denoiser's parity checks read it (`StreamSpec.load`); the page
reads the same fields in `web/src/stream.js` (`parseSpec`). It lives here because keras_denoiser
may import this app and not the other way round.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from tflite_demo.errors import DemoError

SIDECAR_FORMAT = "keras_denoiser.streaming/1"

# What every "not a streaming model" error says to do: the app runs only the frame-by-frame export.
MAKE_STREAMING = (
    "make one with `keras_denoiser export --model=CAUSAL.keras --export_dir=DIR --formats=streaming_tflite` "
    "on a causal model (e.g. keras_denoiser/assets/models/unet_compact.keras) and pass DIR/streaming/*.tflite"
)


@dataclasses.dataclass(frozen=True)
class StateTensor:
    """One piece of the model's memory as a pair of named tensors: fed in as `input_name`, out as `output_name`."""

    input_name: str
    output_name: str
    shape: tuple[int, ...]
    layer: str = ""  # the layer whose memory it is (informative)


@dataclasses.dataclass(frozen=True)
class StreamSpec:
    """The sidecar: signal parameters and the model's tensor names."""

    sample_rate: int
    frame_length: int
    hop_length: int
    log_epsilon: float
    output_delay_samples: int
    input_name: str
    mask_name: str
    states: tuple[StateTensor, ...]
    quantization: str
    max_attenuation_db: float = math.inf  # the model's own attenuation limit; inf (JSON null): none, a plain mask
    lookahead_frames: int = 0  # the mask out with frame n is frame n - lookahead_frames's

    @property
    def bins(self) -> int:
        return self.frame_length // 2 + 1

    @property
    def latency_ms(self) -> float:
        """Algorithmic latency: a hop is buffered, then its output leaves `output_delay_samples` later."""
        return 1000.0 * (self.output_delay_samples + self.hop_length) / self.sample_rate

    @classmethod
    def load(cls, model_path: Path) -> "StreamSpec":
        """The sidecar of `model_path` (same name, `.json`); DemoError saying what is wrong with it."""
        path = model_path.with_suffix(".json")
        try:
            return cls.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise DemoError(f"{model_path}: missing its sidecar {path.name}; {MAKE_STREAMING}") from None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise DemoError(f"{path}: not a streaming-model sidecar ({err}); {MAKE_STREAMING}") from None

    @classmethod
    def from_json(cls, meta: dict) -> "StreamSpec":
        if meta.get("format") != SIDECAR_FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, expected {SIDECAR_FORMAT!r}")
        return cls(
            sample_rate=int(meta["sample_rate"]),
            frame_length=int(meta["frame_length"]),
            hop_length=int(meta["hop_length"]),
            log_epsilon=float(meta["log_epsilon"]),
            output_delay_samples=int(meta["output_delay_samples"]),
            input_name=meta["input"]["name"],
            mask_name=meta["output"]["name"],
            states=tuple(StateTensor(s["input"], s["output"], tuple(s["shape"]), s.get("layer", "")) for s in meta["states"]),
            quantization=meta["quantization"],
            max_attenuation_db=attenuation_limit(meta.get("max_attenuation_db")),
            lookahead_frames=frame_count(meta.get("lookahead_frames", 0)),
        )

    def to_json(self, **about: object) -> dict:
        """The sidecar's JSON object; `about` adds descriptive entries (the network, its calibration)."""
        return {
            "format": SIDECAR_FORMAT,
            **about,
            # The mask out with frame n is frame n - lookahead_frames's: keep that many spectra back.
            "lookahead_frames": self.lookahead_frames,
            "quantization": self.quantization,
            "sample_rate": self.sample_rate,
            "frame_length": self.frame_length,
            "hop_length": self.hop_length,
            "window": "hann_periodic",
            "feature": "log(|rfft(window * frame)| + log_epsilon)",
            "log_epsilon": self.log_epsilon,
            "output_delay_samples": self.output_delay_samples,
            "latency_ms": self.latency_ms,
            "max_attenuation_db": None if math.isinf(self.max_attenuation_db) else self.max_attenuation_db,  # JSON has no inf
            "input": {"name": self.input_name, "shape": [1, 1, self.bins]},
            "output": {"name": self.mask_name, "shape": [1, 1, self.bins]},
            "states": [
                {"input": s.input_name, "output": s.output_name, "shape": list(s.shape), "layer": s.layer}
                for s in self.states
            ],
        }


def output_delay(frame_length: int, hop_length: int, lookahead_frames: int) -> int:
    """Samples the output of a stream lags its input: the overlap-add's, plus the lookahead's hops."""
    return frame_length - hop_length + lookahead_frames * hop_length


def attenuation_limit(value: object) -> float:
    """A valid maximum attenuation in dB (a number >= 0, `math.inf` meaning none); the sidecar's null is `math.inf`."""
    if value is None:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"max_attenuation_db must be a number >= 0, not {value!r}")
    return float(value)


def frame_count(value: object) -> int:
    """A whole number of frames (0 or more)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"lookahead_frames must be an integer >= 0, not {value!r}")
    return value
