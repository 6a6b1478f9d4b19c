"""Choose a model's own attenuation limit on held-out speakers, and with --write store it in its .json.

    keras_denoiser choose_limit --model=runs/unet --speech_dir=LJSpeech-1.1 --noise_dir=noise --num_files=100
    keras_denoiser choose_limit --model=runs/unet --clean_dir=selset/clean --noisy_dir=selset/noisy --write

The model is scored at every limit of --limits on the selection set. With --speech_dir that is
the held-out `validation` speakers and noise files of the model's own split (its .json), never its
training or test ones; the split flags may be left out. Each limit is one full run of the model on
every file, so 9 limits cost 9 evaluations. The rule: the best PESQ-WB among the
limits whose STOI is not below the noisy input's. `denoise`, `evaluate`, `export` and
`Denoiser.load` then use that limit whenever no --max_attenuation_db is given.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from absl import flags

from keras_denoiser.commands import corpus_flags, model_flag, scoring_set
from keras_denoiser.core import config as config_lib
from keras_denoiser.core.atomic import check_output_file
from keras_denoiser.core.config import SplitConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.evaluation import evaluate, limit_choice

FLAGS = flags.FlagValues()  # this command's own flags: another command's never meet them
model_flag.define_model_flag(FLAGS, required=True)
flags.DEFINE_list(
    "limits", [f"{limit:g}" for limit in limit_choice.LIMITS_TO_TRY],
    "Comma-separated attenuation limits to try, in dB (inf: none); default "
    f"{','.join(f'{limit:g}' for limit in limit_choice.LIMITS_TO_TRY)}.",
    flag_values=FLAGS,
)
flags.DEFINE_bool(
    "write", False, "Store the chosen limit as max_attenuation_db in the model's .json; default: only print it.",
    flag_values=FLAGS,
)
scoring_set.define_scoring_set_flags(FLAGS, default_split="validation")


def main(argv: Sequence[str]) -> int:
    from keras_denoiser.inference.enhance import KerasEnhancer, model_name
    from keras_denoiser.model import model_io

    limits = limit_choice.parse_limits(FLAGS.limits)
    model_path = model_io.resolve_model_path(FLAGS.model)
    model, train_cfg = model_io.load_model(model_path)
    config_path = model_io.config_path_for(model_path)
    if FLAGS.write:
        check_output_file(config_path)  # before the sweep, not after it
    examples = scoring_set.examples(FLAGS, _selection_split(train_cfg.split))
    enhancer = KerasEnhancer(model, train_cfg, model_name(model_path))
    systems = [enhancer.at_limit(limit, limit_choice.system_name(limit)) for limit in limits]
    summaries = evaluate.summarise(scoring_set.score(FLAGS, systems, examples, "choose_limit"))
    print(evaluate.markdown_table(summaries))
    choice = limit_choice.choose(summaries, limits)
    print(f"chosen: {limit_choice.system_name(choice.max_attenuation_db)}: {choice.reason}")
    if FLAGS.write:
        config_lib.save_json(dataclasses.replace(train_cfg, max_attenuation_db=choice.max_attenuation_db), config_path)
        print(f"wrote max_attenuation_db={choice.max_attenuation_db:g} into {config_path}")
    else:
        print(f"{config_path} says {train_cfg.max_attenuation_db:g} dB; --write stores the choice")
    return 0


def _selection_split(model_split: SplitConfig) -> SplitConfig:
    """The model's own split: other split flags would hash its training speakers into 'validation'."""
    if not FLAGS.speech_dir:
        return model_split  # clean/noisy folders: the user chose the files
    if FLAGS.split != "validation":
        raise UserError(f"choose_limit picks on the validation split only, not --split={FLAGS.split}")
    if corpus_flags.split_flags_given(FLAGS) and corpus_flags.split_config(FLAGS) != model_split:
        raise UserError(f"the split flags differ from the model's own split ({model_split}); leave them out")
    return model_split
