"""Frozen configuration dataclasses: the one source of truth for every constant.

A config is passed explicitly to whatever needs it and saved as JSON beside a trained model,
so a model always carries the signal parameters it was trained with.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from pathlib import Path
from typing import Any, Mapping, TypeVar

from keras_denoiser.core.atomic import write_bytes_atomic
from keras_denoiser.core.errors import UserError

T = TypeVar("T")


def documented(default: Any, doc: str, **flag: Any) -> Any:
    """A field with its user-facing doc, which is also the help of the command-line flag that sets it
    (`commands.config_flags`); `flag` holds what that flag needs besides: `choices`, `lower_bound`."""
    return dataclasses.field(default=default, metadata={"doc": doc, **flag})


@dataclasses.dataclass(frozen=True)
class SignalConfig:
    """Sample rate and STFT parameters shared by training, inference and export."""

    sample_rate: int = 16000
    frame_length: int = 512
    hop_length: int = documented(
        128, "STFT hop in samples: the network runs once per hop, so 256 halves its cost per second of audio "
        "(frames of 512 then overlap by half)", lower_bound=1,
    )

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise UserError(f"sample_rate must be positive, not {self.sample_rate}")
        if not 0 < self.hop_length <= self.frame_length:
            raise UserError(f"hop_length must be in 1..frame_length ({self.frame_length}), not {self.hop_length}")

    @property
    def num_bins(self) -> int:
        """Number of frequency bins of the one-sided spectrum."""
        return self.frame_length // 2 + 1

    @property
    def pad(self) -> int:
        """Zeros added on each side so every sample is covered by a full set of frames."""
        return self.frame_length - self.hop_length


# The attenuation limit a model gets when its config names none: no time-frequency bin is turned down
# by more than this. Each bundled model's own limit is chosen on the selection set (see the model card).
DEFAULT_MAX_ATTENUATION_DB = 12.0
# STFT frames a Keras model enhances per chunk (8 ms each at the default hop): bounds memory, not the result.
DEFAULT_CHUNK_FRAMES = 1024
# What a deterministic mixture set (make_testset, evaluate, choose_limit) draws from: held-out speakers or all.
MIXTURE_SPLITS = ("test", "validation", "all")


def check_attenuation_limit(max_attenuation_db: float) -> float:
    """`max_attenuation_db` itself if it is a limit (0 dB or more, `inf`: none); UserError otherwise."""
    if math.isnan(max_attenuation_db) or max_attenuation_db < 0:
        raise UserError(f"the attenuation limit must be 0 dB or more (inf: no limit), not {max_attenuation_db}")
    return max_attenuation_db


MODEL_NAMES = ("unet", "unet_causal", "unet_compact")
CAUSAL_MODELS = ("unet_causal", "unet_compact")
MAX_LOOKAHEAD_FRAMES = 4
MAX_DUAL_PATH_BLOCKS = 4
MAX_BAND_CONTEXT_LAYERS = 6  # dilations up to 32 bins: past the bottleneck's whole band at the default depth


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Network architecture: `unet` (offline), `unet_causal` (streaming-capable) or `unet_compact`
    (streaming, on bands with a GRU: `model.compact`)."""

    name: str = documented(
        "unet", "unet (offline), unet_causal (streaming, full band) or unet_compact (streaming, on bands with a GRU, "
        "at a small peer's cost)", choices=MODEL_NAMES,
    )
    depth: int = documented(3, "U-Net levels (each halves the frequency resolution)")
    base_filters: int = documented(16, "Filters of the first level, doubled per level")
    kernel_size: int = 3
    # Residual convolutions along time: a longer memory (for noise estimates) at little cost.
    context_layers: int = documented(
        0, "Residual time convolutions at the bottleneck, dilated 2, 4, 8, ... (causal in unet_causal): a longer "
        "memory; a model without them can start such a run (--init_from)",
    )
    # Residual convolutions along frequency: a voice's harmonics, a noise's spectral shape.
    band_context_layers: int = documented(
        0, "Residual convolutions along frequency at the bottleneck, dilated 1, 2, 4, ...: each bin sees the whole "
        "band in its own frame (no streaming state); a model without them can start such a run (--init_from)",
    )
    # The causal network's output is read this many frames late; see `model.unet`.
    lookahead_frames: int = documented(
        0, "Causal models only: future frames each mask may use, one hop of latency each; a model with fewer can "
        "start such a run (--init_from)",
    )
    bands: int = documented(
        64, "unet_compact only: bands the bins are pooled into (one bin each at the bottom, ERB-spaced above); a "
        "multiple of 2**depth",
    )
    rnn_units: int = documented(
        128, "unet_compact only: units of the GRU at the bottleneck, all the model remembers beyond one frame "
        "(with --dual_path_blocks: of each band's GRU)",
    )
    # A band's mean hides what its bins hold: a voice's harmonics and a flat noise can share a mean.
    band_spread: bool = documented(
        False, "unet_compact only: a third feature per band, the mean absolute deviation of its bins' "
        "log-magnitudes from the band envelope, which tells harmonics or a tone from flat noise within a wide band",
    )
    # GTCRN's and DPCRN's recurrence: frequency and time modelled in turn, with weights shared across bands.
    dual_path_blocks: int = documented(
        0, "unet_compact only: dual-path blocks in place of the one GRU over all bands, each a bidirectional GRU "
        "across the bands of a frame, then a GRU over time in every band (rnn_units each, weights shared)",
    )

    def __post_init__(self) -> None:
        if self.name not in MODEL_NAMES:
            raise UserError(f"unknown model {self.name!r}; choose one of {', '.join(MODEL_NAMES)}")
        if self.depth < 1 or self.base_filters < 1 or self.kernel_size < 1:
            raise UserError("model depth, base_filters and kernel_size must be positive")
        if not 0 <= self.context_layers <= 8:
            raise UserError(f"context_layers must be in 0..8, not {self.context_layers}")
        if not 0 <= self.band_context_layers <= MAX_BAND_CONTEXT_LAYERS:
            raise UserError(f"band_context_layers must be in 0..{MAX_BAND_CONTEXT_LAYERS}, not {self.band_context_layers}")
        if not 0 <= self.lookahead_frames <= MAX_LOOKAHEAD_FRAMES:
            raise UserError(f"lookahead_frames must be in 0..{MAX_LOOKAHEAD_FRAMES}, not {self.lookahead_frames}")
        if self.lookahead_frames and not self.causal:
            raise UserError(f"lookahead_frames is for a causal model; {self.name} already sees every frame")
        compact = self.name == "unet_compact"
        if compact and (self.bands < 2 ** (self.depth + 1) or self.bands % 2**self.depth):
            raise UserError(f"bands must be a multiple of 2**depth ({2**self.depth}) and at least twice that, not {self.bands}")
        if compact and self.rnn_units < 1:
            raise UserError(f"rnn_units must be positive, not {self.rnn_units}")
        if not 0 <= self.dual_path_blocks <= MAX_DUAL_PATH_BLOCKS or (self.dual_path_blocks and not compact):
            raise UserError(f"dual_path_blocks must be in 0..{MAX_DUAL_PATH_BLOCKS}, and only for unet_compact")
        if self.band_spread and not compact:
            raise UserError("band_spread is a band feature, only for unet_compact")

    @property
    def causal(self) -> bool:
        """True when output frame t depends only on input frames <= t."""
        return self.name in CAUSAL_MODELS

    @property
    def recurrent(self) -> bool:
        """True when a GRU carries state over time: no finite receptive field, and a whole-signal graph
        with a loop in it, which TFLite's builtin ops cannot hold (its per-frame step has none)."""
        return self.name == "unet_compact"


NOISE_BALANCES = ("file", "folder")
MAX_PHRASE_WORDS = 16


@dataclasses.dataclass(frozen=True)
class MixConfig:
    """How speech and noise are mixed for every example drawn."""

    crop_seconds: float = documented(2.0, "Length of each training example in seconds")
    snr_db_min: float = documented(-5.0, "Lowest speech-to-noise ratio of a mixture in dB")
    snr_db_max: float = documented(20.0, "Highest speech-to-noise ratio of a mixture in dB")
    gain_db_min: float = -25.0
    gain_db_max: float = -5.0
    speed_perturb: float = documented(0.0, "Random speed change of the speech, as a fraction (0.1 = 0.9x to 1.1x; 0 off)")
    reverb_probability: float = documented(
        0.0, "Share of examples whose speech is reverberated by a synthetic room (RT60 0.15-0.8 s)"
    )
    channel_probability: float = documented(
        0.0, "Share of examples (speech and noise) passed through a random microphone EQ and a 4 kHz, 7 kHz or no "
        "band limit",
    )
    second_noise_probability: float = documented(0.0, "Share of examples with a second noise 0-10 dB below the first")
    # Generated by `pipelines.augment`, so that kind is met at every SNR whatever the corpora hold.
    stationary_noise_probability: float = documented(
        0.0, "Share of examples whose noise is generated stationary broadband noise (white, pink, brown, blue and "
        "between) instead of a corpus file, at the same SNRs",
    )
    tonal_event_probability: float = documented(
        0.0, "Share of examples whose noise is generated tonal events (beeps, alarms, chimes: tones with harmonics "
        "that start and stop, some sweeping or changing pitch) instead of a corpus file, at the same SNRs",
    )
    noise_variety_probability: float = documented(
        0.0, "Share of examples whose corpus noise is played 0.5x to 2x as fast (pitch and pace together) and "
        "re-coloured by a random EQ, so that a few noise files sound like many",
    )
    # Joined by `pipelines.phrases`.
    phrase_words: int = documented(
        0, "Train on phrases of this many utterances of one speaker, joined with 0.1-0.5 s pauses (for corpora of "
        "isolated words); 0 keeps single utterances",
    )
    noise_balance: str = documented(
        "file", "How training draws noise: 'file' (every file equally often) or 'folder' (every top-level folder of "
        "the noise corpora equally often, so a kind with few files is not rare)", choices=NOISE_BALANCES,
    )

    def __post_init__(self) -> None:
        if self.snr_db_min > self.snr_db_max:
            raise UserError(f"snr range is empty: {self.snr_db_min} > {self.snr_db_max}")
        if self.gain_db_min > self.gain_db_max:
            raise UserError(f"gain range is empty: {self.gain_db_min} > {self.gain_db_max}")
        if self.crop_seconds <= 0:
            raise UserError("crop_seconds must be positive")
        if not 0.0 <= self.speed_perturb < 0.5:
            raise UserError("speed_perturb must be in [0, 0.5)")
        for name in ("reverb_probability", "channel_probability", "second_noise_probability", "stationary_noise_probability",
                     "tonal_event_probability", "noise_variety_probability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise UserError(f"{name} must be in [0, 1], not {getattr(self, name)}")
        if not 0 <= self.phrase_words <= MAX_PHRASE_WORDS:
            raise UserError(f"phrase_words must be in 0..{MAX_PHRASE_WORDS}, not {self.phrase_words}")
        if self.noise_balance not in NOISE_BALANCES:
            raise UserError(f"unknown noise balance {self.noise_balance!r}; choose one of {', '.join(NOISE_BALANCES)}")


SPEECH_UNITS = ("speaker", "file")


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    """Which speakers and noise files are held out of training, and into which held-out set.

    Each unit's key (corpus folder name + speaker folder, or + file for noise) is hashed with `seed`
    into [0, 1): below `test_fraction` it is in `test` (the reported dev test set, never read by
    training), below `test_fraction + validation_fraction` in `validation` (validation loss and the
    selection set that picks checkpoints), otherwise in `train`. Speech is held out by speaker (the
    folder that holds a file; a corpus in LJ Speech layout is one speaker) unless `speech_unit` is
    `file`, for single-speaker corpora; noise is always held out file by file.
    """

    seed: int = documented(0, "Seed of the hash that picks the held-out speakers and noise files")
    speech_unit: str = documented(
        "speaker", "Hold out speech by `speaker` (the folder holding a file; an LJ Speech corpus is one speaker) or "
        "by `file` (for single-speaker corpora)", choices=SPEECH_UNITS,
    )
    validation_fraction: float = documented(
        0.1, "Share of speakers and noise files held out for validation and checkpoint selection"
    )
    test_fraction: float = documented(0.1, "Share of speakers and noise files held out for the reported test set")
    validation_speakers: str = documented(
        "", "Comma-separated speakers held out for validation besides those the hash picks, named as held_out.json "
        "names them (e.g. multi_speaker/asterisk_fr_armelle): a selection set can then hold voices the hash left in "
        "training, the test set unchanged. A test speaker cannot be named",
    )

    @functools.cached_property
    def named_validation(self) -> frozenset[str]:
        """The `validation_speakers` keys (parsed once: `split_of` asks for every corpus file)."""
        return frozenset(name.strip() for name in self.validation_speakers.split(",") if name.strip())

    def __post_init__(self) -> None:
        if self.named_validation and self.speech_unit != "speaker":
            raise UserError("validation_speakers names speakers; it needs speech_unit speaker")
        if self.speech_unit not in SPEECH_UNITS:
            raise UserError(f"unknown speech unit {self.speech_unit!r}; choose one of {', '.join(SPEECH_UNITS)}")
        for name in ("validation_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise UserError(f"{name} must be in [0, 1), not {getattr(self, name)}")
        if self.validation_fraction + self.test_fraction >= 1.0:
            raise UserError("validation_fraction + test_fraction must leave something to train on (sum < 1)")


def empty_split_advice(kind: str, part: str, split: SplitConfig, split_flag: bool = False) -> str:
    """Why the `part` split of `kind` ("speech"/"noise") is empty and how to fill it: the one wording
    prepare, make_testset, evaluate and choose_limit use. `split_flag`: the command has `--split`."""
    fraction = split.test_fraction if part == "test" else split.validation_fraction
    units = "speakers" if kind == "speech" and split.speech_unit == "speaker" else f"{kind} files"
    fixes = [f"--split=all to draw from every {kind} item"] if split_flag else []
    if units == "speakers":
        fixes += ["more speaker folders (one folder per speaker)", "--speech_unit=file to hold out files instead"]
    else:
        fixes += [f"more {units}"]
    fixes.append(f"another --split_seed or a larger --{part}_fraction")
    return (f"no {kind} in the {part} split: {fraction:g} of the {units} are held out for it, by a hash "
            f"of split seed {split.seed}, and none fell there; use {', or '.join(fixes)}")


# Losses whose target is a mask (the IRM), which a teacher's mask can join; then those on the enhanced spectrum.
MASK_TARGET_LOSSES = ("mask_mse", "weighted_mask_mse", "asymmetric_mask_mse", "compressed_mask_mse")
LOSSES = (*MASK_TARGET_LOSSES, "compressed_spectral", "snr", "weighted_mask_mse_snr")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run; saved as config.json in the model folder.

    `loss`: one of LOSSES, defined in `core.losses`: the mask's MSE to the IRM, the same weighted by
    the compressed noisy magnitude (plain, costing more where the mask leaves noise in, or between
    compressed masks), a compressed spectral loss on the enhanced spectrum, its SNR, or the weighted
    MSE and the SNR together.
    """

    signal: SignalConfig = SignalConfig()
    model: ModelConfig = ModelConfig()
    mix: MixConfig = MixConfig()
    batch_size: int = documented(16, "Examples per training step, over all replicas and workers")
    epochs: int = documented(10, "Epochs to train in total (raise it to continue a finished run)")
    steps_per_epoch: int = documented(200, "Training steps (batches) per epoch")
    validation_steps: int = documented(20, "Validation batches after each epoch")
    learning_rate: float = documented(1e-3, "Initial Adam learning rate, halved when validation loss plateaus")
    # The ramp: `training.callbacks.LearningRateWarmup`.
    warmup_steps: int = documented(
        0, "Ramp the learning rate up linearly over this many first steps, so a fresh Adam's first steps (about "
        "the full rate in every weight) are small; for fine-tuning (--init_from)", lower_bound=0,
    )
    seed: int = documented(0, "Random seed for weights and data")
    split: SplitConfig = SplitConfig()
    backup_every_steps: int = documented(
        50, "Write a resumable backup every this many steps (and at each epoch end)"
    )
    loss: str = documented(
        "mask_mse", "mask_mse (MSE to the IRM), weighted_mask_mse (each bin's error weighted by |noisy|^0.6), "
        "asymmetric_mask_mse (the same, a mask above the IRM costing twice) or compressed_mask_mse (the same on "
        "0.3-compressed masks: (mask |noisy|)^0.3 against (IRM |noisy|)^0.3) or compressed_spectral (the enhanced "
        "spectrum against the clean one, 0.3-compressed, with phase) or snr (minus the enhanced spectrum's SNR in "
        "dB per example) or weighted_mask_mse_snr (weighted_mask_mse plus a small multiple of snr)", choices=LOSSES,
    )
    # Distillation (`training.teacher`): a trained model whose masks make up `teacher_weight` of the
    # training target, the IRM the rest; "" trains on the IRM alone.
    teacher: str = ""
    teacher_weight: float = 0.0
    # The default attenuation limit of this model's enhancers and exports. Training leaves the
    # global default; it is chosen on the selection set once a model is trained.
    max_attenuation_db: float = DEFAULT_MAX_ATTENUATION_DB

    def __post_init__(self) -> None:
        check_attenuation_limit(self.max_attenuation_db)
        if self.loss not in LOSSES:
            raise UserError(f"unknown loss {self.loss!r}; choose from {', '.join(LOSSES)}")
        for name in ("batch_size", "epochs", "steps_per_epoch", "validation_steps", "backup_every_steps"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.warmup_steps < 0:
            raise UserError(f"warmup_steps must be at least 0, not {self.warmup_steps}")
        if not self.learning_rate > 0:
            raise UserError(f"learning_rate must be positive, not {self.learning_rate}")
        if not 0.0 <= self.teacher_weight <= 1.0:
            raise UserError(f"teacher_weight must be in [0, 1], not {self.teacher_weight}")
        if bool(self.teacher) != (self.teacher_weight > 0.0):
            raise UserError("give a teacher and a teacher_weight above 0 together, or neither")
        if self.teacher and self.loss not in MASK_TARGET_LOSSES:
            raise UserError(f"a teacher's masks need a mask loss ({', '.join(MASK_TARGET_LOSSES)}), not {self.loss!r}")

    def attenuation_limit(self, override: float | None) -> float:
        """The limit to apply: `override` when one is given, else the model's own."""
        return self.max_attenuation_db if override is None else check_attenuation_limit(override)


def to_dict(config: Any) -> dict[str, Any]:
    """Nested plain dict of a config dataclass."""
    return dataclasses.asdict(config)


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build `cls` from a nested dict, rejecting unknown keys and values of the wrong type."""
    if not isinstance(data, Mapping):
        raise UserError(f"{cls.__name__} must be a JSON object, not {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - set(fields)
    if unknown:
        raise UserError(f"unknown {cls.__name__} keys: {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = fields[name].default
        if dataclasses.is_dataclass(default):
            kwargs[name] = from_dict(type(default), value)
        elif isinstance(default, float) and type(value) is int:
            kwargs[name] = float(value)
        elif type(value) is type(default):
            kwargs[name] = value
        else:
            raise UserError(f"{cls.__name__}.{name} must be a {type(default).__name__}, not {value!r}")
    return cls(**kwargs)


def save_json(config: Any, path: Path) -> None:
    """Write a config as indented JSON, atomically."""
    write_bytes_atomic(path, (json.dumps(to_dict(config), indent=2, sort_keys=True) + "\n").encode())


def load_json(cls: type[T], path: Path) -> T:
    """Read a config written by `save_json`."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot read config ({err})") from None
    try:
        return from_dict(cls, data)
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
