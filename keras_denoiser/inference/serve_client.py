"""Client of the TF Serving REST predict API: any audio file in, enhanced audio file out.

    enhance_file("noisy.flac", "clean.flac", "http://localhost:8501/v1/models/denoiser:predict")

The file is resampled to the model's rate (16 kHz) channel by channel and sent in chunks of bounded
size. Each request carries `context` samples on both sides of its chunk; only the chunk's own
samples are kept. Chunk and context boundaries lie on a grid of GRID_SAMPLES (a multiple of
hop x 2^depth for hop 128 and U-Net depth <= 6), so the STFT frames and pooling cells of every
request line up with those of the whole file: when the context covers the model's receptive field,
the stitched result equals one call on the whole file up to float rounding, with no seams.
"""

from __future__ import annotations

import json
import math
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from keras_denoiser.core import audio
from keras_denoiser.core.errors import UserError

GRID_SAMPLES = 8192
SIGNATURE = "serving_default"
INPUT_NAME = "waveform"
OUTPUT_NAME = "enhanced"

# (url, JSON request body) -> JSON response body
Transport = Callable[[str, bytes], bytes]


def check_url(url: str) -> None:
    """UserError unless `url` is an http(s) address with a host, e.g. http://localhost:8501/v1/models/m:predict."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"{url}: not an http:// or https:// URL (e.g. http://localhost:8501/v1/models/denoiser:predict)")


def http_transport(timeout_seconds: float = 60.0) -> Transport:
    """POST JSON with urllib; connection and HTTP errors become one-line UserErrors."""

    def post(url: str, body: bytes) -> bytes:
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
                return response.read()
        except urllib.error.HTTPError as err:
            raise UserError(f"{url}: HTTP {err.code} ({_server_error(err.read())})") from None
        except (urllib.error.URLError, OSError) as err:
            raise UserError(f"{url}: cannot reach the server ({getattr(err, 'reason', err)})") from None

    return post


def _server_error(body: bytes) -> str:
    try:
        return str(json.loads(body).get("error", "no error message")).splitlines()[0]
    except (ValueError, AttributeError, IndexError):
        return body[:200].decode(errors="replace") or "empty response"


def request_body(batch: np.ndarray) -> bytes:
    """Columnar TF Serving request `{"signature_name", "inputs": {"waveform": [[...]]}}`, float32-exact."""
    rows = ",".join("[" + ",".join(f"{v:.9g}" for v in row) + "]" for row in batch)
    return f'{{"signature_name":"{SIGNATURE}","inputs":{{"{INPUT_NAME}":[{rows}]}}}}'.encode()


def parse_response(body: bytes, shape: tuple[int, ...], url: str) -> np.ndarray:
    """The enhanced batch from a columnar (`outputs`) or row (`predictions`) response of `shape`."""
    try:
        reply = json.loads(body)
    except ValueError:
        raise UserError(f"{url}: response is not JSON") from None
    if not isinstance(reply, dict):
        raise UserError(f"{url}: unexpected response {str(reply)[:80]}")
    if "error" in reply:
        raise UserError(f"{url}: server error ({str(reply['error']).splitlines()[0]})")
    if "outputs" in reply:
        value = reply["outputs"]
        value = value[OUTPUT_NAME] if isinstance(value, dict) else value
    elif "predictions" in reply:
        value = [row[OUTPUT_NAME] if isinstance(row, dict) else row for row in reply["predictions"]]
    else:
        raise UserError(f"{url}: response has neither 'outputs' nor 'predictions'")
    try:
        enhanced = np.asarray(value, np.float32)
    except (ValueError, TypeError):
        raise UserError(f"{url}: response values are not a numeric matrix") from None
    if enhanced.shape != shape:
        raise UserError(f"{url}: response shape {enhanced.shape}, expected {shape}")
    return enhanced


def chunk_spans(num_samples: int, chunk_samples: int, context_samples: int) -> Iterator[tuple[int, int, int, int]]:
    """(request_start, request_end, keep_start, keep_end) covering `num_samples`, grid-aligned."""
    chunk = _grid_multiple(chunk_samples, minimum=1)
    context = _grid_multiple(context_samples, minimum=0)
    for keep_start in range(0, max(num_samples, 1), chunk):
        keep_end = min(keep_start + chunk, num_samples)
        yield max(keep_start - context, 0), min(keep_end + context, num_samples), keep_start, keep_end


def _grid_multiple(samples: int, minimum: int) -> int:
    return max(minimum, math.ceil(samples / GRID_SAMPLES)) * GRID_SAMPLES


def enhance_remote(
    channels: np.ndarray, url: str, transport: Transport, chunk_samples: int, context_samples: int
) -> np.ndarray:
    """Enhanced `[channels, samples]` at the model rate, sent chunk by chunk, channels as the batch."""
    enhanced = np.zeros_like(channels, dtype=np.float32)
    for start, end, keep_start, keep_end in chunk_spans(channels.shape[1], chunk_samples, context_samples):
        batch = np.ascontiguousarray(channels[:, start:end], np.float32)
        reply = parse_response(transport(url, request_body(batch)), batch.shape, url)
        enhanced[:, keep_start:keep_end] = reply[:, keep_start - start : keep_end - start]
    return enhanced


def enhance_file(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    url: str,
    transport: Transport | None = None,
    model_rate: int = 16000,
    chunk_seconds: float = 4.0,
    context_seconds: float = 0.5,
) -> None:
    """Denoise `input_path` through the server into `output_path`: same rate, length and channels, atomic.

    The output keeps the input's container and sample format unless its name asks for another
    container (`audio.output_container`).
    """
    check_url(url)
    if model_rate <= 0 or chunk_seconds <= 0 or context_seconds < 0:
        raise UserError(
            f"need a positive model rate and chunk length and a non-negative context, got {model_rate} Hz, "
            f"{chunk_seconds:g} s and {context_seconds:g} s"
        )
    input_path, output_path = Path(input_path), Path(output_path)
    if output_path.resolve() == input_path.resolve():
        raise UserError(f"{output_path}: output would overwrite the input")
    with audio.open_checked(input_path) as src:
        fmt, subtype = audio.output_container(src, input_path, output_path)
    data, rate = audio.read_audio(input_path)
    channels = np.stack([audio.resample(data[:, c], rate, model_rate) for c in range(data.shape[1])])
    enhanced = enhance_remote(
        channels,
        url,
        transport or http_transport(),
        int(chunk_seconds * model_rate),
        int(context_seconds * model_rate),
    )
    restored = np.stack([audio.resample(ch, model_rate, rate, data.shape[0]) for ch in enhanced], axis=1)
    audio.write_audio_atomic(output_path, restored, rate, subtype, float(np.abs(data).max()), fmt)
