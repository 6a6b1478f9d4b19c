"""Denoise the bundled noisy sample with the bundled model and show what changed.

    keras_denoiser demo                      # writes ./demo_output/{noisy_sample,enhanced}.wav and .png
    keras_denoiser demo --output_dir=/tmp/demo

Prints where the files are and the SI-SDR and PESQ-WB of the noisy and enhanced sample against
the known clean recording.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from absl import flags

from keras_denoiser.commands import attenuation_flag, model_flag
from keras_denoiser.core import assets, audio, metrics
from keras_denoiser.core.atomic import check_output_dir
from keras_denoiser.core.errors import UserError

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
model_flag.define_model_flag(FLAGS)
attenuation_flag.define_attenuation_flag(FLAGS)
flags.DEFINE_string(
    "output_dir", "demo_output", "Folder for the noisy copy, the enhanced wav and the plot; default ./demo_output.",
    flag_values=FLAGS,
)


def main(argv: Sequence[str]) -> int:
    from keras_denoiser.inference.denoise_files import denoise_file, plot_file
    from keras_denoiser.inference.enhance import KerasEnhancer

    for path in (assets.NOISY_SAMPLE, assets.CLEAN_SAMPLE):
        if not path.is_file():
            raise UserError(f"{path}: bundled sample missing; reinstall keras-denoiser")
    output_dir = Path(FLAGS.output_dir)
    check_output_dir(output_dir)
    enhancer = KerasEnhancer.from_path(FLAGS.model or assets.DEFAULT_MODEL, max_attenuation_db=FLAGS.max_attenuation_db)
    output_dir.mkdir(parents=True, exist_ok=True)
    noisy_copy, enhanced_path, plot_path = (output_dir / n for n in ("noisy_sample.wav", "enhanced.wav", "enhanced.png"))
    shutil.copyfile(assets.NOISY_SAMPLE, noisy_copy)
    denoise_file(enhancer, assets.NOISY_SAMPLE, enhanced_path)
    plot_file(enhancer, assets.NOISY_SAMPLE, plot_path)

    rate = enhancer.sample_rate
    clean = audio.read_mono(assets.CLEAN_SAMPLE, rate)
    scores = {}
    for label, path in (("noisy", assets.NOISY_SAMPLE), ("enhanced", enhanced_path)):
        wave = audio.read_mono(path, rate)[: len(clean)]
        scores[label] = (metrics.si_sdr(clean, wave), metrics.pesq_wb(clean, wave, rate, label))
    print(f"model:    {enhancer.name} ({FLAGS.model or assets.DEFAULT_MODEL})")
    print(f"noisy:    {noisy_copy}  (clean speech + babble at 5 dB SNR)")
    print(f"enhanced: {enhanced_path}")
    print(f"plot:     {plot_path}  (noisy and enhanced spectrograms, mask)")
    print("           SI-SDR (dB)  PESQ-WB")
    for label, (sdr, pesq) in scores.items():
        print(f"{label:<10} {sdr:>11.2f}  {pesq:>7.2f}")
    (sdr_n, pesq_n), (sdr_e, pesq_e) = scores["noisy"], scores["enhanced"]
    print(f"{'change':<10} {sdr_e - sdr_n:>+11.2f}  {pesq_e - pesq_n:>+7.2f}")
    return 0
