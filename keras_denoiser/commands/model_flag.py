"""`--model`, the trained model a command runs (`train --model` is instead the network to build, a
`ModelConfig` field: `config_flags`)."""

from __future__ import annotations

from absl import flags

BUNDLED = "the bundled offline model"


def define_model_flag(
    flag_values: flags.FlagValues, also: str = "", default: str = BUNDLED, required: bool = False, repeatable: bool = False
) -> None:
    """Define --model in the command's `flag_values`.

    `also` names the other kinds of model the command takes; `default` says what it runs without the
    flag; `required` and `repeatable` (a list of models) are for the commands that need them.
    """
    ending = "required." if required else f"default: {default}."
    define = flags.DEFINE_multi_string if repeatable else flags.DEFINE_string
    define(
        "model", [] if repeatable else None,
        f"Trained model: a .keras file (with its .json config) or a model folder{also}; "
        f"{'repeat for several; ' if repeatable else ''}{ending}",
        flag_values=flag_values,
    )
    if required:
        flags.mark_flag_as_required("model", flag_values=flag_values)
