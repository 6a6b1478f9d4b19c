"""Denoise audio at any sample rate, channel count and length: the Python API and the one streaming path.

`denoise_blocks` is the path both `Denoiser.denoise` (numpy arrays) and the `denoise` command (files)
take, so an array and the same samples in a file come out identical:

    from keras_denoiser import Denoiser

    denoiser = Denoiser.load()                 # the bundled offline model; Denoiser.load("runs/unet") for yours
    clean = denoiser.denoise(noisy, 44100)     # (samples,) or (samples, channels): same shape, rate and length
    gentle = Denoiser.load(max_attenuation_db=12).denoise(noisy, 44100)   # turn no bin down by more than 12 dB

TensorFlow is imported by `Denoiser.load`, not by importing this module.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np
import soxr

from keras_denoiser.core import audio as audio_io
from keras_denoiser.core.errors import AudioFileError, UserError

if TYPE_CHECKING:
    from keras_denoiser.inference.enhance import KerasEnhancer

# Samples per block fed through the stream: bounds memory for files and keeps arrays on the same path.
BLOCK_SAMPLES = 1 << 16
# More channels than this is taken for channels-first audio, a common mistake, rather than a recording.
MAX_CHANNELS = 64


def denoise_blocks(
    enhancer: KerasEnhancer, blocks: Iterable[np.ndarray], rate: int, channels: int, frames: int, name: object = "audio"
) -> Iterator[np.ndarray]:
    """Enhanced float32 `[samples, channels]` blocks at `rate`, exactly `frames` samples in all.

    `blocks` are float32 `[samples, channels]` at `rate`, `frames` samples in all. Each is resampled
    to the model rate (soxr, streaming), enhanced chunk by chunk with every channel in one stream,
    and resampled back; the output is cut or zero-padded to `frames`, since resampling can come out
    a few samples long or short. Input blocks go through `audio.SampleCheck` and output blocks through
    `audio.output_problem`: AudioFileError naming `name` before a bad block is used or given out.
    """
    to_model = _Resampler(rate, enhancer.sample_rate, channels)
    from_model = _Resampler(enhancer.sample_rate, rate, channels)
    stream = enhancer.stream(channels)
    check = audio_io.SampleCheck(name, rate)

    def enhanced() -> Iterator[np.ndarray]:
        for block in blocks:
            yield from_model.push(stream.push(to_model.push(check(block))))
        tail = stream.push(to_model.flush())
        yield from_model.push(np.concatenate([tail, stream.finish()]))
        yield from_model.flush()

    remaining = frames
    for block in enhanced():
        block = block[: max(0, remaining)]
        problem = audio_io.output_problem(block, check.peak)
        if problem is not None:
            raise AudioFileError(name, problem)
        remaining -= block.shape[0]
        if block.shape[0]:
            yield block
    if remaining > 0:
        yield np.zeros((remaining, channels), np.float32)


class _Resampler:
    """Streaming soxr resampling of `[samples, channels]` blocks (identity when rates match)."""

    def __init__(self, rate_in: int, rate_out: int, channels: int) -> None:
        self._channels = channels
        self._stream = None if rate_in == rate_out else soxr.ResampleStream(rate_in, rate_out, channels, "float32", "HQ")

    def push(self, block: np.ndarray) -> np.ndarray:
        if self._stream is None:
            return block
        return self._stream.resample_chunk(np.ascontiguousarray(block, np.float32)).reshape(-1, self._channels)

    def flush(self) -> np.ndarray:
        empty = np.zeros((0, self._channels), np.float32)
        if self._stream is None:
            return empty
        return self._stream.resample_chunk(empty, last=True).reshape(-1, self._channels)


class Denoiser:
    """A trained mask model that denoises numpy audio; `load()` it, then call `denoise`.

    Bad input raises `UserError` with a one-line reason.
    """

    def __init__(self, enhancer: KerasEnhancer) -> None:
        self.enhancer = enhancer

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        max_attenuation_db: float | None = None,
        chunk_frames: int | None = None,
    ) -> Denoiser:
        """The model at `path` (a `.keras` file with its `.json`, or a model folder), or the bundled one.

        `max_attenuation_db` limits how far any time-frequency bin is turned down, as the `denoise`
        command's flag (0 gives the input back, `math.inf` removes the limit, None takes the model's
        own limit from its config); `chunk_frames` (STFT
        frames per chunk) bounds memory, not the result.
        """
        from keras_denoiser.core import assets, tf_quiet

        tf_quiet.import_tensorflow()  # before enhance imports it: no oneDNN/absl lines in the caller's terminal
        from keras_denoiser.core.config import DEFAULT_CHUNK_FRAMES
        from keras_denoiser.inference.enhance import KerasEnhancer

        if chunk_frames is not None and chunk_frames < 1:
            raise UserError(f"chunk_frames must be positive, got {chunk_frames}")
        enhancer = KerasEnhancer.from_path(
            path or assets.DEFAULT_MODEL, chunk_frames or DEFAULT_CHUNK_FRAMES, max_attenuation_db
        )
        return cls(enhancer)

    @property
    def sample_rate(self) -> int:
        """The rate the model works at; input at any other rate is resampled to it and back."""
        return self.enhancer.sample_rate

    def denoise(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Denoised float32 audio of the same shape, at the same rate.

        `audio` is floating point in [-1, 1], shaped `(samples,)` or `(samples, channels)`, any length.
        """
        audio = np.asarray(audio)
        _check_audio(audio, sample_rate)
        data = (audio[:, None] if audio.ndim == 1 else audio).astype(np.float32)
        samples, channels = data.shape
        blocks = (data[i : i + BLOCK_SAMPLES] for i in range(0, samples, BLOCK_SAMPLES))
        out = np.concatenate(
            [np.zeros((0, channels), np.float32), *denoise_blocks(self.enhancer, blocks, int(sample_rate), channels, samples)]
        )
        return out.reshape(audio.shape)


def _check_audio(audio: np.ndarray, sample_rate: int) -> None:
    """UserError unless `audio` is floating-point `(samples,)` or `(samples, channels)` at a positive rate.

    Its samples are checked on their way through `denoise_blocks`, as a file's are.
    """
    whole = isinstance(sample_rate, (int, np.integer)) or (
        isinstance(sample_rate, (float, np.floating)) and float(sample_rate).is_integer()  # 16000.0, as librosa gives it
    )
    if isinstance(sample_rate, bool) or not whole or sample_rate < 1:
        raise UserError(f"sample_rate must be a positive whole number of Hz, got {sample_rate!r}")
    rate_problem = audio_io.rate_problem(int(sample_rate))
    if rate_problem:
        raise UserError(f"sample_rate: {rate_problem}")
    if audio.ndim not in (1, 2) or (audio.ndim == 2 and audio.shape[1] == 0):
        raise UserError(f"audio has shape {audio.shape}; expected (samples,) or (samples, channels)")
    if audio.ndim == 2 and audio.shape[1] > MAX_CHANNELS:
        raise UserError(
            f"audio has shape {audio.shape}: {audio.shape[1]} channels; expected (samples, channels), "
            "so transpose (channels, samples) audio"
        )
    if not np.issubdtype(audio.dtype, np.floating):
        raise UserError(f"audio has dtype {audio.dtype}; expected floating-point samples in [-1, 1]")
