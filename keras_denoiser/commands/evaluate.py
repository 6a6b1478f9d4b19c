"""Score models (and optionally established peers) with PESQ-WB, STOI, SI-SDR and real-time factor.

    keras_denoiser evaluate --model=runs/unet --model=runs/causal --clean_dir=test/clean --noisy_dir=test/noisy
    keras_denoiser evaluate --model=runs/unet --speech_dir=LJSpeech-1.1 --noise_dir=noise \
        --snrs=-5,0,5,10,15 --num_files=50 --peers=noisereduce --csv_out=scores.csv --markdown_out=scores.md

With --clean_dir/--noisy_dir, files are matched by relative path (SNRs are read from a testset.csv
beside the two folders when there is one); with --speech_dir/--noise_dir a deterministic mixture
set is built in memory from the held-out test speakers and noise files, exactly like `make_testset`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from absl import flags

from keras_denoiser.commands import attenuation_flag, corpus_flags
from keras_denoiser.core.atomic import check_output_file, write_bytes_atomic
from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation import evaluate, testset
from keras_denoiser.evaluation.app_enhancer import StreamingAppEnhancer
from keras_denoiser.evaluation.enhancer import Enhancer
from keras_denoiser.inference.enhance import KerasEnhancer

RATE = 16000

FLAGS = flags.FLAGS
attenuation_flag.define_attenuation_flag()
flags.adopt_module_key_flags(attenuation_flag)
flags.DEFINE_multi_string(
    "model", [],
    "A trained model to score: .keras file or model folder, or a streaming .tflite (with its .json), run as the "
    "on-device app runs it; repeat the flag for several.",
)
flags.DEFINE_list("peers", [], "Comma-separated established denoisers to score too (see keras_denoiser.evaluation.peers); default none.")
flags.DEFINE_string("clean_dir", None, "Folder of clean references, matched to --noisy_dir files by relative path.")
flags.DEFINE_string("noisy_dir", None, "Folder of noisy inputs, matched to --clean_dir files by relative path.")
flags.DEFINE_multi_string("speech_dir", [], "Speech corpus (LJ layout or folder) to build mixtures from, instead of clean/noisy folders. Repeat the flag for several.")
flags.DEFINE_multi_string("noise_dir", [], "Noise corpus folder to build mixtures from, with --speech_dir. Repeat the flag for several.")
corpus_flags.define_mixture_set_flags()
flags.adopt_module_key_flags(corpus_flags)
flags.DEFINE_integer("chunk_frames", 1024, "STFT frames our models enhance per chunk; bounds memory, not the result; default 1024.", lower_bound=1)
flags.DEFINE_string("csv_out", None, "Write per-file scores of every system to this CSV file; default: not written.")
flags.DEFINE_string("markdown_out", None, "Write the summary table to this markdown file; default: only printed.")


def main(argv: Sequence[str]) -> int:
    for path in (FLAGS.csv_out, FLAGS.markdown_out):
        if path:
            check_output_file(path)
    examples = _examples()
    systems = _systems()
    from tqdm import tqdm

    rows = evaluate.score(systems, examples, RATE, progress=lambda items: tqdm(items, desc="evaluate", unit="file", disable=None))
    if not rows:
        raise UserError("nothing to evaluate: no matched clean/noisy files")
    table = evaluate.markdown_table(evaluate.summarise(rows))
    print(table)
    if FLAGS.csv_out:
        evaluate.write_csv(rows, Path(FLAGS.csv_out))
        print(f"per-file scores: {FLAGS.csv_out}")
    if FLAGS.markdown_out:
        write_bytes_atomic(FLAGS.markdown_out, (table + "\n").encode())
        print(f"summary: {FLAGS.markdown_out}")
    return 0


def _examples():
    pairs = FLAGS.clean_dir or FLAGS.noisy_dir
    mixes = FLAGS.speech_dir or FLAGS.noise_dir
    if bool(pairs) == bool(mixes):
        raise UserError("give either --clean_dir and --noisy_dir, or --speech_dir and --noise_dir")
    if pairs:
        if not (FLAGS.clean_dir and FLAGS.noisy_dir):
            raise UserError("--clean_dir and --noisy_dir go together")
        clean_dir, noisy_dir = Path(FLAGS.clean_dir), Path(FLAGS.noisy_dir)
        for folder in (clean_dir, noisy_dir):
            if not folder.is_dir():
                raise UserError(f"{folder}: no such folder")
        snrs = testset.read_snrs(noisy_dir.parent / testset.CSV_NAME)
        return list(evaluate.pair_examples(clean_dir, noisy_dir, RATE, snrs))
    if not (FLAGS.speech_dir and FLAGS.noise_dir):
        raise UserError("--speech_dir and --noise_dir go together")
    speech, noise = testset.split_corpora(FLAGS.speech_dir, FLAGS.noise_dir, FLAGS.split, corpus_flags.split_config())
    mixtures = testset.mixtures(speech, noise, corpus_flags.mixture_snrs(FLAGS.snrs), FLAGS.num_files, FLAGS.seed, RATE)
    return [evaluate.Example(m.file, m.snr, m.clean, m.noisy) for m in mixtures]


def _model(path: str) -> Enhancer:
    """A Keras model (chunked, as `denoise` runs it), or a streaming .tflite as the on-device app runs it."""
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
