"""Write a deterministic noisy/clean test set: `clean/`, `noisy/` (16 kHz wav) and testset.csv.

    keras_denoiser make_testset --speech_dir=LJSpeech-1.1 --noise_dir=noise --output_dir=testset \
        --snrs=-5,0,5,10,15 --num_files=100 --seed=0 --split=validation

The same flags always give identical files. With --split=validation (the default) only speech and
noise items held out of training (`is_validation(id, fraction)`) are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from absl import flags

from keras_denoiser import testset
from keras_denoiser.errors import UserError

RATE = 16000

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("speech_dir", None, "Speech corpus: LJ Speech layout (metadata.csv + wavs/) or any folder of audio files. Repeat the flag for several.")
flags.DEFINE_multi_string("noise_dir", None, "Noise corpus: any folder tree of audio files. Repeat the flag for several.")
flags.DEFINE_string("output_dir", None, "Folder to write clean/, noisy/ and testset.csv into (created).")
flags.DEFINE_list("snrs", ["-5", "0", "5", "10", "15"], "Comma-separated SNRs in dB, cycled over the files; default -5,0,5,10,15.")
flags.DEFINE_integer("num_files", 50, "Number of mixtures to write; default 50.")
flags.DEFINE_integer("seed", 0, "Seed of the choices of speech, noise and noise offset; default 0.")
flags.DEFINE_enum("split", "validation", list(testset.SPLITS), "Corpus items to use: the held-out `validation` split or `all`; default validation.")
flags.DEFINE_float("validation_fraction", 0.05, "Fraction of each corpus held out for validation by id hash, as in training; default 0.05.")
flags.mark_flags_as_required(["speech_dir", "noise_dir", "output_dir"])


def main(argv: Sequence[str]) -> int:
    if len(argv) > 1:
        raise UserError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.num_files < 1:
        raise UserError("--num_files must be positive")
    try:
        snrs = [float(v) for v in FLAGS.snrs]
    except ValueError:
        raise UserError(f"--snrs must be numbers in dB, got {','.join(FLAGS.snrs)}") from None
    speech = [item for root in FLAGS.speech_dir for item in testset.corpus_items(root, FLAGS.split, FLAGS.validation_fraction)]
    noise = [item for root in FLAGS.noise_dir for item in testset.corpus_items(root, FLAGS.split, FLAGS.validation_fraction)]
    examples = testset.mixtures(speech, noise, snrs, FLAGS.num_files, FLAGS.seed, RATE)
    count = testset.write_testset(examples, Path(FLAGS.output_dir), RATE)
    print(f"{count} mixtures from {len(speech)} speech and {len(noise)} noise files ({FLAGS.split} split) "
          f"written to {FLAGS.output_dir}/{{clean,noisy,{testset.CSV_NAME}}}")
    return 0
