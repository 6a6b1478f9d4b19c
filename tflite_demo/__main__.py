"""Denoise a file (or the microphone) with a streaming TFLite model, hop by hop as a device would.

    python -m tflite_demo --input=noisy.wav --output=clean.wav
    python -m tflite_demo --model=exported/streaming/unet_compact_float32.tflite --input=noisy.wav --output=clean.wav
    python -m tflite_demo --live --max_attenuation_db=20

Needs only ai-edge-litert, numpy, soundfile and soxr (`pip install -r tflite_demo/requirements.txt`);
`--live` also needs sounddevice. Any sample rate and channel count: audio is resampled to the
model's rate and back. Prints the per-hop processing time and the real-time factor.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import soundfile as sf

from tflite_demo import audio_check, quiet, stopping
from tflite_demo.atomic import atomic_path
from tflite_demo.audio_format import fit_subtype, output_container
from tflite_demo.bundled import DEFAULT_MODEL
from tflite_demo.resample import resample
from tflite_demo.stream import DemoError, StreamingDenoiser, StreamResult, denoise_signal


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tflite_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="Streaming .tflite model with its .json sidecar beside it (default: the bundled int8 model).")
    parser.add_argument("--input", type=Path, help="Noisy audio file, any sample rate and channel count; every channel is denoised.")
    parser.add_argument("--output", type=Path, help="Where to write the denoised audio (same length, rate and channels as the input).")
    parser.add_argument("--live", action="store_true", help="Denoise the microphone to the speakers (at the device's own rate) instead of a file.")
    parser.add_argument("--threads", type=int, default=1, help="LiteRT CPU threads (default: 1, as on a small device).")
    parser.add_argument("--max_attenuation_db", type=float, default=None,
                        help="Attenuate no bin by more than this many dB (the mask is floored at 10^(-dB/20); 0 gives "
                             "the input back, inf no limit). Default: the sidecar's max_attenuation_db, else no limit.")
    parser.add_argument("--verbosity", type=int, default=-1,
                        help="0 or more also shows LiteRT's own log lines (kept off stderr by default).")
    args = parser.parse_args(argv)
    if args.max_attenuation_db is not None and not args.max_attenuation_db >= 0:
        parser.error("--max_attenuation_db must be a number of dB >= 0 (inf: no limit)")
    if not args.live and (args.input is None or args.output is None):
        parser.error("give --input and --output, or --live")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def read_input(path: Path) -> tuple[np.ndarray, int]:
    """Samples `[frames, channels]` of `path` and its sample rate; DemoError for what `audio_check` refuses."""
    with audio_check.open_checked(path) as src:
        data = np.concatenate([np.zeros((0, src.channels), np.float32), *audio_check.read_blocks(src, path)])
        rate = src.samplerate
    check_samples(data, rate, path)
    return data, rate


def check_samples(data: np.ndarray, rate: int, name: object) -> None:
    """DemoError naming `name` for `[frames, channels]` samples `audio_check.sample_problem` refuses;
    one warning line for a peak above full scale."""
    problem, hot, _ = audio_check.sample_problem(data, rate)
    if problem is not None:
        raise DemoError(f"{name}: {problem}")
    if hot is not None:
        print(f"warning: {name}: {hot}", file=sys.stderr)


def check_output(data: np.ndarray, input_peak: float, name: object) -> None:
    """DemoError naming the input when the output is not finite or absurdly louder than the input."""
    problem = audio_check.output_problem(data, input_peak)
    if problem is not None:
        raise DemoError(f"{name}: {problem}")


def denoise_at_any_rate(denoiser: StreamingDenoiser, wave: np.ndarray, rate: int) -> StreamResult:
    """Resample a mono signal to the model's rate, denoise it, and resample it back to `rate`."""
    result = denoise_signal(denoiser, resample(wave, rate, denoiser.sample_rate))
    return StreamResult(resample(result.audio, denoiser.sample_rate, rate, len(wave)), result.hop_seconds)


def write_atomic(path: Path, data: np.ndarray, rate: int, fmt: str, subtype: str) -> None:
    """Write `fmt`/`subtype` audio aside, then rename (`atomic.atomic_path`): never a half-written file.

    Samples are clipped to ±1 unless `subtype` stores floats.
    """
    existing = next(folder for folder in path.parents if folder.exists())
    if not existing.is_dir():
        raise DemoError(f"{existing}: exists and is not a folder")
    with atomic_path(path) as tmp:
        sf.write(tmp, fit_subtype(data, subtype), rate, format=fmt, subtype=subtype)


def denoise_file(denoiser: StreamingDenoiser, input_path: Path, output_path: Path) -> None:
    if output_path.resolve() == input_path.resolve():
        raise DemoError(f"{output_path}: refusing to overwrite the input")
    if output_path.is_dir():
        raise DemoError(f"{output_path}: is a folder; give a file name")
    data, rate = read_input(input_path)
    with sf.SoundFile(str(input_path)) as src:
        fmt, subtype = output_container(src, input_path, output_path)
    results = [denoise_at_any_rate(denoiser, data[:, channel], rate) for channel in range(data.shape[1])]
    output = np.stack([r.audio for r in results], axis=1)
    check_output(output, float(np.abs(data).max()), input_path)
    write_atomic(output_path, output, rate, fmt, subtype)
    hop_ms = 1000.0 * np.concatenate([r.hop_seconds for r in results])
    hop_budget_ms = 1000.0 * denoiser.hop_length / denoiser.sample_rate
    rtf = hop_ms.sum() / 1000.0 / (data.shape[0] * data.shape[1] / rate)
    limit = "none" if math.isinf(denoiser.max_attenuation_db) else f"{denoiser.max_attenuation_db:g} dB"
    print(f"model: {denoiser.model_path.name} ({denoiser.spec.quantization}), max attenuation: {limit}")
    if rate != denoiser.sample_rate:
        print(f"resampled {rate} Hz -> {denoiser.sample_rate} Hz -> {rate} Hz (soxr HQ)")
    print(f"per-hop processing: median {np.median(hop_ms):.3f} ms, p99 {np.percentile(hop_ms, 99):.3f} ms "
          f"(hop {hop_budget_ms:.1f} ms, {len(hop_ms)} hops)")
    print(f"real-time factor: {rtf:.3f} (processing time / audio duration)")
    print(f"algorithmic latency: {denoiser.latency_ms:.1f} ms (output delay compensated in the file)")
    print(f"wrote {output_path}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.verbosity < 0:
        quiet.filter_native_stderr()
    try:
        if args.model == DEFAULT_MODEL and not DEFAULT_MODEL.is_file():
            raise DemoError(f"{DEFAULT_MODEL}: the bundled model is missing; pass --model=X.tflite")
        denoiser = StreamingDenoiser(args.model, num_threads=args.threads, max_attenuation_db=args.max_attenuation_db)
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
    with stopping.stopped_in_one_line():
        sys.exit(main())
