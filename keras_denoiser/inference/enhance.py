"""Waveform -> enhanced waveform with a Keras mask U-Net, in bounded memory.

Per channel: STFT -> log-magnitude -> U-Net mask -> mask x noisy spectrogram (noisy phase) -> iSTFT.
Long signals are processed in chunks on the STFT frame grid: each chunk is analysed with enough
frames of context on both sides to cover the U-Net's receptive field, starts on a multiple of the
pooling factor, and only its centre frames are kept, so the result equals whole-signal processing
(BatchNorm runs in inference mode: no statistic crosses frames).

    enhancer = KerasEnhancer.from_path("runs/unet")
    clean = enhancer(noisy)  # mono float32 at enhancer.sample_rate, same length
"""

from __future__ import annotations

import copy
import dataclasses
import os
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

from keras_denoiser.core import features
from keras_denoiser.core.config import DEFAULT_CHUNK_FRAMES, SignalConfig, TrainConfig
from keras_denoiser.model import model_io
from keras_denoiser.model.network import receptive_radius, time_multiple


@dataclasses.dataclass(frozen=True)
class ChunkPlan:
    """Frame-grid geometry shared by every chunk of one model."""

    signal: SignalConfig
    chunk_frames: int
    context_frames: int
    multiple: int

    @property
    def edge_frames(self) -> int:
        """Frames whose window reaches past a segment edge (into `features.stft`'s zero padding)."""
        return self.signal.pad // self.signal.hop_length

    def segment_start_frame(self, first_kept: int) -> int:
        """First frame of the analysis segment for a chunk keeping frames from `first_kept` on."""
        start = first_kept - self.context_frames - self.edge_frames
        return max(0, start // self.multiple * self.multiple)

    def segment_end_sample(self, last_kept: int) -> int:
        """Samples needed (exclusive) before a chunk keeping frames up to `last_kept` can run."""
        return (last_kept + 2 * self.edge_frames + 1 + self.context_frames) * self.signal.hop_length


def make_plan(train_cfg: TrainConfig, chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> ChunkPlan:
    """The chunk geometry for a model trained with `train_cfg`."""
    multiple = time_multiple(train_cfg.model)
    chunk_frames = max(multiple, -(-chunk_frames // multiple) * multiple)
    return ChunkPlan(train_cfg.signal, chunk_frames, receptive_radius(train_cfg.model), multiple)


SegmentFn = Callable[[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor], tf.Tensor]


def segment_function(model, signal_cfg: SignalConfig) -> SegmentFn:
    """A compiled `(wave [ch, n], keep_from, keep_to, num_samples, floor) -> enhanced [ch, num_samples]`.

    The segment's STFT frames `keep_from:keep_to` are masked (never below `floor`) and inverted;
    the result starts at sample `keep_from * hop` of the segment. The floor is an input, not a
    constant, so one traced graph serves every attenuation limit of the model.
    """

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([], tf.float32),
        ]
    )
    def run(wave, keep_from, keep_to, num_samples, floor):
        mask_fn = lambda log_mag: model(log_mag, training=False)  # noqa: E731
        return features.enhance(wave, mask_fn, signal_cfg, floor, keep_from, keep_to, num_samples).wave

    return run


class ChunkedEnhancer:
    """Streams `[samples, channels]` blocks in and enhanced blocks out, holding one chunk at a time.

    `push` returns whatever output became final; `finish` flushes the rest. Output sample i lines
    up with input sample i and the total length equals the input's. `floor` is the mask's least
    value (`features.mask_floor` of the attenuation limit).
    """

    def __init__(self, segment_fn: SegmentFn, plan: ChunkPlan, channels: int, floor: float) -> None:
        self._run = segment_fn
        self._floor = tf.constant(floor, tf.float32)
        self._plan = plan
        self._buffer = np.zeros((0, channels), np.float32)
        self._buffer_start = 0  # global index of the buffer's first sample
        self._next_frame = 0  # first frame of the next chunk to keep
        self._received = 0

    def push(self, block: np.ndarray) -> np.ndarray:
        """Append input samples; return the enhanced samples now complete."""
        self._buffer = np.concatenate([self._buffer, block.astype(np.float32, copy=False)])
        self._received += block.shape[0]
        outputs = []
        while self._received >= self._plan.segment_end_sample(self._last_kept()):
            outputs.append(self._run_chunk(total=None))
        return self._joined(outputs)

    def finish(self) -> np.ndarray:
        """Enhance everything still buffered, now that the signal's length is known."""
        outputs = []
        while self._next_frame * self._plan.signal.hop_length < self._received:
            outputs.append(self._run_chunk(total=self._received))
        return self._joined(outputs)

    def _last_kept(self) -> int:
        return self._next_frame + self._plan.chunk_frames - 1

    def _run_chunk(self, total: int | None) -> np.ndarray:
        plan, hop = self._plan, self._plan.signal.hop_length
        first, last = self._next_frame, self._last_kept()
        seg_start = plan.segment_start_frame(first) * hop
        seg_end = plan.segment_end_sample(last)
        out_end = (last + 1) * hop
        if total is not None:
            seg_end, out_end = min(seg_end, total), min(out_end, total)
        segment = self._buffer[seg_start - self._buffer_start : seg_end - self._buffer_start]
        keep_from = first - seg_start // hop
        keep_to = keep_from + (out_end - 1) // hop - first + plan.edge_frames + 1
        enhanced = self._run(
            tf.constant(segment.T),
            tf.constant(keep_from, tf.int32),
            tf.constant(keep_to, tf.int32),
            tf.constant(out_end - first * hop, tf.int32),
            self._floor,
        )
        self._next_frame = last + 1
        self._drop_before(plan.segment_start_frame(self._next_frame) * hop)
        return enhanced.numpy().T

    def _drop_before(self, sample: int) -> None:
        if sample > self._buffer_start:
            self._buffer = self._buffer[sample - self._buffer_start :]
            self._buffer_start = sample

    def _joined(self, outputs: list[np.ndarray]) -> np.ndarray:
        if not outputs:
            return np.zeros((0, self._buffer.shape[1]), np.float32)
        return np.concatenate(outputs).astype(np.float32, copy=False)


class KerasEnhancer:
    """A trained Keras mask model as an `Enhancer` (mono in, mono out, same length).

    `max_attenuation_db` limits how much any time-frequency bin is turned down (`features.mask_floor`);
    None takes the model's own limit from its config.
    """

    def __init__(
        self,
        model,
        train_cfg: TrainConfig,
        name: str,
        chunk_frames: int = DEFAULT_CHUNK_FRAMES,
        max_attenuation_db: float | None = None,
    ) -> None:
        self.name = name
        self.model = model
        self.train_config = train_cfg
        self.sample_rate = train_cfg.signal.sample_rate
        self.max_attenuation_db = train_cfg.attenuation_limit(max_attenuation_db)
        self.plan = make_plan(train_cfg, chunk_frames)
        self._segment_fn = segment_function(model, train_cfg.signal)

    def at_limit(self, max_attenuation_db: float, name: str) -> "KerasEnhancer":
        """The same model at another attenuation limit, sharing this one's compiled graph, so a
        sweep over limits (`choose_limit`) traces the model once."""
        other = copy.copy(self)
        other.name = name
        other.max_attenuation_db = self.train_config.attenuation_limit(max_attenuation_db)
        return other

    @classmethod
    def from_path(
        cls,
        path: str | os.PathLike[str],
        chunk_frames: int = DEFAULT_CHUNK_FRAMES,
        max_attenuation_db: float | None = None,
    ) -> "KerasEnhancer":
        """Load a `.keras` model (or model folder) with its config; named after the file."""
        model, train_cfg = model_io.load_model(path)
        return cls(model, train_cfg, model_name(path), chunk_frames, max_attenuation_db)

    def stream(self, channels: int) -> ChunkedEnhancer:
        """A fresh streaming state for a signal with `channels` channels."""
        return ChunkedEnhancer(self._segment_fn, self.plan, channels, features.mask_floor(self.max_attenuation_db))

    def enhance(self, data: np.ndarray) -> np.ndarray:
        """Enhance `[samples, channels]` at `sample_rate`, chunk by chunk."""
        stream = self.stream(data.shape[1])
        return np.concatenate([stream.push(data), stream.finish()])

    def __call__(self, wave: np.ndarray) -> np.ndarray:
        return self.enhance(np.asarray(wave, np.float32)[:, None])[:, 0]

    def analyse(self, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Noisy magnitude spectrogram and (floored) mask `[frames, bins]` of a mono wave (one pass, for plots)."""
        mask_fn = lambda log_mag: self.model(log_mag, training=False)  # noqa: E731
        floor = features.mask_floor(self.max_attenuation_db)
        result = features.enhance(tf.constant(wave[None], tf.float32), mask_fn, self.train_config.signal, floor)
        return np.abs(result.spectrogram.numpy()[0]), result.mask.numpy()[0]


def model_name(path: str | os.PathLike[str]) -> str:
    """A system's display name: the model file's stem, or the folder's name for `model.keras`."""
    path = Path(path)
    if path.is_dir() or path.name == model_io.MODEL_FILE:
        return (path if path.is_dir() else path.parent).resolve().name
    return path.stem
