"""Denoise audio files or folders (recursively) with a trained model.

    keras_denoiser denoise --output_dir=enhanced recordings/ interview.flac
    keras_denoiser denoise --model=runs/unet --output_dir=enhanced --output_format=flac --plot noisy/

Outputs keep the input's sample rate, channel count, length, file name and folder structure. Without
--model the bundled offline model is used. A bad input costs one line and exit status 1 at the end;
the other files are still processed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from absl import flags

from keras_denoiser.commands import attenuation_flag
from keras_denoiser.core import assets
from keras_denoiser.core.errors import UserError
from keras_denoiser.inference.denoise_files import denoise_all, plan_jobs
from keras_denoiser.inference.enhance import DEFAULT_CHUNK_FRAMES, KerasEnhancer

FLAGS = flags.FLAGS
attenuation_flag.define_attenuation_flag()
flags.adopt_module_key_flags(attenuation_flag)
flags.DEFINE_string(
    "model", None, "Trained model: a .keras file (with its .json config) or a model folder; default: the bundled offline model."
)
flags.DEFINE_string("output_dir", None, "Folder the enhanced files are written to (created); required.")
flags.DEFINE_enum(
    "output_format", None, ["wav", "flac", "ogg", "aiff", "w64", "caf"],
    "Write this format instead of the input's own (the extension changes); default: keep the input's format.",
)
flags.DEFINE_bool("overwrite", False, "Replace outputs that already exist; default false (they are skipped).")
flags.DEFINE_bool("plot", False, "Also write NAME.png per file: noisy and enhanced spectrograms and the mask (first 30 s).")
flags.DEFINE_integer(
    "chunk_frames", DEFAULT_CHUNK_FRAMES,
    f"STFT frames enhanced per chunk (8 ms hop at 16 kHz); bounds memory, not the result; default {DEFAULT_CHUNK_FRAMES}.",
)
flags.mark_flag_as_required("output_dir")


def main(argv: Sequence[str]) -> int:
    inputs = [Path(a) for a in argv[1:]]
    if not inputs:
        raise UserError("give at least one input file or folder")
    if FLAGS.chunk_frames < 1:
        raise UserError("--chunk_frames must be positive")
    jobs = plan_jobs(inputs, Path(FLAGS.output_dir), FLAGS.output_format)
    if not jobs:
        raise UserError(f"no audio files found in {', '.join(map(str, inputs))}")
    enhancer = KerasEnhancer.from_path(FLAGS.model or assets.DEFAULT_MODEL, FLAGS.chunk_frames, FLAGS.max_attenuation_db)
    from tqdm import tqdm

    report = denoise_all(
        enhancer,
        jobs,
        overwrite=FLAGS.overwrite,
        plot=FLAGS.plot,
        say=lambda line: tqdm.write(line, file=sys.stderr),
        progress=lambda items: tqdm(items, desc="denoise", unit="file", disable=None),
    )
    print(
        f"{len(report.written)} written to {FLAGS.output_dir}, {len(report.skipped)} skipped, "
        f"{len(report.failed)} failed"
    )
    return 1 if report.failed else 0
