"""Denoise a file (or the microphone) with a streaming TFLite model, hop by hop as a device would.

    python -m tflite_demo --input=noisy.wav --output=clean.wav
    python -m tflite_demo --model=exported/unet_causal_float32.tflite --input=noisy.wav --output=clean.wav
    python -m tflite_demo --live

Needs only ai-edge-litert, numpy and soundfile (`pip install -r tflite_demo/requirements.txt`);
`--live` also needs sounddevice. Prints the per-hop processing time and the real-time factor.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from tflite_demo.stream import DemoError, StreamingDenoiser, denoise_signal

DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "unet_causal_int8.tflite"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tflite_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="Streaming .tflite model with its .json sidecar beside it (default: the bundled int8 model).")
    parser.add_argument("--input", type=Path, help="Noisy audio file at the model's sample rate (16 kHz); every channel is denoised.")
    parser.add_argument("--output", type=Path, help="Where to write the denoised audio (same length, rate and channels as the input).")
    parser.add_argument("--live", action="store_true", help="Denoise the microphone to the speakers instead of a file.")
    parser.add_argument("--threads", type=int, default=1, help="LiteRT CPU threads (default: 1, as on a small device).")
    args = parser.parse_args(argv)
    if not args.live and (args.input is None or args.output is None):
        parser.error("give --input and --output, or --live")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def read_input(path: Path, sample_rate: int) -> np.ndarray:
    """Samples `[frames, channels]` of `path`, which must be at `sample_rate`."""
    if not path.is_file():
        raise DemoError(f"{path}: no such file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as err:
        raise DemoError(f"{path}: not readable audio ({str(err).strip().splitlines()[-1]})") from None
    if rate != sample_rate:
        raise DemoError(f"{path}: sample rate is {rate} Hz, the model needs {sample_rate} Hz (resample it first)")
    if data.shape[0] == 0:
        raise DemoError(f"{path}: no samples")
    if not np.isfinite(data).all():
        raise DemoError(f"{path}: contains NaN or Inf samples")
    return data


def write_atomic(path: Path, data: np.ndarray, rate: int) -> None:
    """Write under a temporary name beside `path`, then rename: never a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").upper()
    fmt = fmt if fmt in sf.available_formats() else "WAV"
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        sf.write(tmp_name, data, rate, format=fmt)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def denoise_file(denoiser: StreamingDenoiser, input_path: Path, output_path: Path) -> None:
    if output_path.resolve() == input_path.resolve():
        raise DemoError(f"{output_path}: refusing to overwrite the input")
    if output_path.is_dir():
        raise DemoError(f"{output_path}: is a folder; give a file name")
    data = read_input(input_path, denoiser.sample_rate)
    results = [denoise_signal(denoiser, data[:, channel]) for channel in range(data.shape[1])]
    write_atomic(output_path, np.stack([r.audio for r in results], axis=1), denoiser.sample_rate)
    hop_ms = 1000.0 * np.concatenate([r.hop_seconds for r in results])
    hop_budget_ms = 1000.0 * denoiser.hop_length / denoiser.sample_rate
    rtf = hop_ms.sum() / 1000.0 / (data.shape[0] * data.shape[1] / denoiser.sample_rate)
    print(f"model: {denoiser.model_path.name} ({denoiser.spec.quantization})")
    print(f"per-hop processing: median {np.median(hop_ms):.3f} ms, p99 {np.percentile(hop_ms, 99):.3f} ms "
          f"(hop {hop_budget_ms:.1f} ms, {len(hop_ms)} hops)")
    print(f"real-time factor: {rtf:.3f} (processing time / audio duration)")
    print(f"algorithmic latency: {denoiser.latency_ms:.1f} ms (output delay compensated in the file)")
    print(f"wrote {output_path}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.model == DEFAULT_MODEL and not DEFAULT_MODEL.is_file():
            raise DemoError(f"{DEFAULT_MODEL}: the bundled model is missing; pass --model=X.tflite")
        denoiser = StreamingDenoiser(args.model, num_threads=args.threads)
        if args.live:
            from tflite_demo.live import run_live

            run_live(denoiser)
        else:
            denoise_file(denoiser, args.input, args.output)
    except DemoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except OSError as err:  # a folder in the output path that is a file, a full disk
        print(f"error: {err.filename}: {err.strerror}" if err.filename and err.strerror else f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
