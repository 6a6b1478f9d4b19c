r"""Denoise audio files or folders (recursively) with a trained model.

    keras_denoiser denoise --output_dir=enhanced recordings/ interview.flac
    keras_denoiser denoise --model=runs/unet --output_dir=enhanced --output_format=flac --plot noisy/

Outputs keep the input's sample rate, channel count, length, file name and folder structure. Without
--model the bundled offline model is used. A bad input costs one line and exit status 1 at the end;
the other files are still processed.

With --runner the files are denoised on Apache Beam (inputs: files, folders, globs, on any filesystem
Beam reads); the output folder gets manifest.jsonl, one row per input, and a rerun does only the
files a killed run left (docs/scale_out.md):

    keras_denoiser denoise --runner=DirectRunner --beam_options='--direct_num_workers=2' \
        --output_dir=enhanced 'recordings/*.flac'
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

from absl import flags

from keras_denoiser.commands import attenuation_flag, beam_flags, model_flag
from keras_denoiser.core import assets, audio, progress
from keras_denoiser.core.config import DEFAULT_CHUNK_FRAMES
from keras_denoiser.core.errors import UserError

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
model_flag.define_model_flag(FLAGS)
attenuation_flag.define_attenuation_flag(FLAGS)
beam_flags.define_beam_flags(FLAGS)
flags.DEFINE_string("output_dir", None, "Folder the enhanced files are written to (created); required.", flag_values=FLAGS)
flags.DEFINE_enum(
    "output_format", None, audio.output_formats(),
    "Write this container instead of the input's own (the extension changes), e.g. flac, mp3, ogg, wav; "
    "default: keep the input's container and sample format.",
    flag_values=FLAGS,
)
flags.DEFINE_bool(
    "overwrite", False, "Replace outputs that already exist; default false (they are skipped).", flag_values=FLAGS
)
flags.DEFINE_bool(
    "plot", False, "Also write NAME.png per file: noisy and enhanced spectrograms and the mask (first 30 s).",
    flag_values=FLAGS,
)
flags.DEFINE_integer(
    "chunk_frames", DEFAULT_CHUNK_FRAMES,
    f"STFT frames enhanced per chunk (8 ms each at the default hop); bounds memory, not the result; default {DEFAULT_CHUNK_FRAMES}.",
    flag_values=FLAGS,
)
flags.DEFINE_string(
    "input_list", None, "A text file naming more inputs (files, folders, globs), one per line.", flag_values=FLAGS
)
flags.mark_flag_as_required("output_dir", flag_values=FLAGS)


def main(argv: Sequence[str]) -> int:
    from keras_denoiser.inference.denoise_files import denoise_all, plan_jobs
    from keras_denoiser.inference.enhance import KerasEnhancer

    inputs = [*argv[1:], *_listed_inputs()]
    if not inputs:
        raise UserError("give at least one input file or folder")
    if FLAGS.chunk_frames < 1:
        raise UserError("--chunk_frames must be positive")
    options = beam_flags.beam_options(FLAGS)
    if FLAGS.runner:
        return _on_beam(inputs, options)
    jobs = plan_jobs([Path(i) for i in inputs], Path(FLAGS.output_dir), FLAGS.output_format)
    if not jobs:
        raise UserError(f"no audio files found in {', '.join(map(str, inputs))}")
    enhancer = KerasEnhancer.from_path(FLAGS.model or assets.DEFAULT_MODEL, FLAGS.chunk_frames, FLAGS.max_attenuation_db)
    bar = progress.AudioProgress([job.source for job in jobs], "denoise")
    report = denoise_all(
        enhancer,
        jobs,
        overwrite=FLAGS.overwrite,
        plot=FLAGS.plot,
        say=progress.write,
        progress=bar.files,
        advance=bar.advance,
    )
    return _summary(len(report.written), len(report.skipped), len(report.failed))


def _listed_inputs() -> list[str]:
    """The lines of --input_list (blank ones left out)."""
    if not FLAGS.input_list:
        return []
    try:
        return [line.strip() for line in Path(FLAGS.input_list).read_text().splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{FLAGS.input_list}: cannot read the input list ({err})") from None


def _on_beam(inputs: list[str], options: list[str]) -> int:
    """Denoise on Beam; each failed row is one `error: file: reason` line."""
    if FLAGS.plot:
        raise UserError("--plot is not available with --runner")
    beam_denoise = beam_flags.beam_module("keras_denoiser.inference.beam_denoise")
    how = beam_denoise.BeamDenoise(FLAGS.model, FLAGS.chunk_frames, FLAGS.max_attenuation_db, FLAGS.overwrite)
    rows = beam_denoise.denoise_on_beam(inputs, FLAGS.output_dir, how, FLAGS.runner, options, FLAGS.output_format)
    for row in rows:
        if row["status"] == "failed":
            print(f"error: {row['path']}: {row['reason']}", file=sys.stderr)
    count = {status: sum(row["status"] == status for row in rows) for status in ("done", "exists", "failed")}
    return _summary(count["done"], count["exists"], count["failed"])


def _summary(written: int, skipped: int, failed: int) -> int:
    """Print the closing line; exit status 1 when any file failed."""
    print(f"{written} written to {FLAGS.output_dir}, {skipped} skipped, {failed} failed")
    return 1 if failed else 0
