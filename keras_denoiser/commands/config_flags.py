"""Flags that mirror config fields: each flag's type, default, choices and help come from its field in
`core.config` (the field's `doc`), so a field and its flag cannot drift apart."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

from absl import flags

_DEFINE_BY_TYPE = {bool: flags.DEFINE_boolean, int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}


def define_config_flags(
    config: type,
    names: Sequence[str],
    flag_values: flags.FlagValues,
    rename: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Define a flag per field of `config` in `names`, as `--rename[field]` (else `--field`).

    `defaults` overrides a field's default for this command (the help says which applies).
    """
    fields = {field.name: field for field in dataclasses.fields(config)}
    for name in names:
        field = fields[name]
        default = (defaults or {}).get(name, field.default)
        help_text = f"{field.metadata['doc']}; default {default}."
        flag_name = (rename or {}).get(name, name)
        if "choices" in field.metadata:
            flags.DEFINE_enum(flag_name, default, list(field.metadata["choices"]), help_text, flag_values=flag_values)
        else:
            bounds = {"lower_bound": field.metadata["lower_bound"]} if "lower_bound" in field.metadata else {}
            _DEFINE_BY_TYPE[type(field.default)](flag_name, default, help_text, flag_values=flag_values, **bounds)


def config_values(
    config: type, names: Sequence[str], flag_values: flags.FlagValues, rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The parsed values of the flags `define_config_flags` defined, by field name (for `config(**values)`)."""
    return {name: flag_values[(rename or {}).get(name, name)].value for name in names}
