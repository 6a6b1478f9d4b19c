r"""Score models (and optionally established peers) with PESQ-WB, STOI, SI-SDR and real-time factor.

    keras_denoiser evaluate --model=runs/unet --model=runs/causal --clean_dir=test/clean --noisy_dir=test/noisy
    keras_denoiser evaluate --model=runs/unet --speech_dir=LJSpeech-1.1 --noise_dir=noise \
        --snrs=-5,0,5,10,15 --num_files=50 --peers=noisereduce --csv_out=scores.csv --markdown_out=scores.md
    keras_denoiser evaluate ... --group_by=snr,speech_folder,noise_folder  # where each system wins and loses

With --clean_dir/--noisy_dir, files are matched by relative path (SNRs are read from a testset.csv
beside the two folders when there is one); with --speech_dir/--noise_dir a deterministic mixture
set is built in memory from the held-out test speakers and noise files, exactly like `make_testset`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from absl import flags

from keras_denoiser.commands import attenuation_flag, model_flag, scoring_set
from keras_denoiser.core.atomic import check_output_file, write_bytes_atomic
from keras_denoiser.core.config import DEFAULT_CHUNK_FRAMES
from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation import evaluate
from keras_denoiser.evaluation.enhancer import Enhancer

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
model_flag.define_model_flag(
    FLAGS, also=", or a streaming .tflite (with its .json), run as the on-device app runs it", default="none (give --peers)",
    repeatable=True,
)
attenuation_flag.define_attenuation_flag(FLAGS)
flags.DEFINE_list(
    "peers", [], "Comma-separated established denoisers to score too (see keras_denoiser.evaluation.peers); default none.",
    flag_values=FLAGS,
)
scoring_set.define_scoring_set_flags(FLAGS, default_split="test")
flags.DEFINE_integer(
    "chunk_frames", DEFAULT_CHUNK_FRAMES,
    f"STFT frames our models enhance per chunk; bounds memory, not the result; default {DEFAULT_CHUNK_FRAMES}.",
    lower_bound=1, flag_values=FLAGS,
)
flags.DEFINE_list(
    "group_by", ["snr"],
    "Summary tables to print, one per grouping: snr, speech_folder (the speaker, in our test sets), noise_folder "
    "(the noise kind); the folders come from the test set table. Default snr.",
    flag_values=FLAGS,
)
flags.register_validator(
    "group_by", lambda names: bool(names) and set(names) <= set(evaluate.GROUPINGS),
    f"--group_by takes one or more of {', '.join(evaluate.GROUPINGS)}", flag_values=FLAGS,
)
flags.DEFINE_string(
    "csv_out", None, "Write per-file scores of every system to this CSV file; default: not written.", flag_values=FLAGS
)
flags.DEFINE_string(
    "markdown_out", None, "Write the summary table to this markdown file; default: only printed.", flag_values=FLAGS
)


def main(argv: Sequence[str]) -> int:
    for path in (FLAGS.csv_out, FLAGS.markdown_out):
        if path:
            check_output_file(path)
    examples = scoring_set.examples(FLAGS)
    rows = scoring_set.score(FLAGS, _systems(), examples, "evaluate")
    table = "\n\n".join(evaluate.markdown_table(evaluate.summarise(rows, by), by) for by in FLAGS.group_by)
    print(table)
    if FLAGS.csv_out:
        evaluate.write_csv(rows, Path(FLAGS.csv_out))
        print(f"per-file scores: {FLAGS.csv_out}")
    if FLAGS.markdown_out:
        write_bytes_atomic(FLAGS.markdown_out, (table + "\n").encode())
        print(f"summary: {FLAGS.markdown_out}")
    return 0


def _model(path: str) -> Enhancer:
    """A Keras model (chunked, as `denoise` runs it), or a streaming .tflite as the on-device app runs it."""
    from keras_denoiser.evaluation.app_enhancer import StreamingAppEnhancer
    from keras_denoiser.inference.enhance import KerasEnhancer

    if Path(path).suffix == ".tflite":
        return StreamingAppEnhancer(path, FLAGS.max_attenuation_db)
    return KerasEnhancer.from_path(path, FLAGS.chunk_frames, FLAGS.max_attenuation_db)


def _systems() -> list[Enhancer]:
    if not FLAGS.model and not FLAGS.peers:
        raise UserError("give at least one --model (or --peers)")
    systems: list[Enhancer] = [_model(path) for path in FLAGS.model]
    if FLAGS.peers:
        from keras_denoiser.evaluation.peers import PEERS, check_peer_names

        check_peer_names(FLAGS.peers, PEERS)
        systems += [PEERS[name]() for name in FLAGS.peers]
    names = [s.name for s in systems]
    for index, system in enumerate(systems):
        if names.count(system.name) > 1:
            system.name = f"{system.name}#{index + 1}"
    return systems
