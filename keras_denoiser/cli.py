"""`keras_denoiser COMMAND [--flags] [ARGS]`: dispatches to one command module.

Each command module defines its flags into its own `FlagValues` (`module.FLAGS`), so `keras_denoiser
train --help` lists exactly the flags of `train`, and any number of command modules can be imported
into one process (and run there, one after another) without their flags meeting.

    keras_denoiser train --speech_dir=LJSpeech-1.1 --noise_dir=noise --model_dir=runs/unet
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from types import ModuleType
from typing import Callable, Sequence

from absl import app, flags
from absl import logging as absl_logging

from keras_denoiser import __version__
from keras_denoiser.core import tf_quiet
from keras_denoiser.core.errors import UserError, os_error_line
from tflite_demo import stopping

COMMANDS: dict[str, str] = {
    "demo": "Denoise a bundled noisy sample with the bundled model and say where the results are.",
    "prepare": "Decode and resample corpora once into a TFRecord cache.",
    "train": "Train a U-Net mask estimator (resumable).",
    "denoise": "Denoise audio files or folders with a trained model.",
    "make_testset": "Write a deterministic noisy/clean test set from speech and noise folders.",
    "evaluate": "Score models with PESQ-WB, STOI and SI-SDR on a test set.",
    "choose_limit": "Choose a model's attenuation limit on held-out speakers (best PESQ-WB, STOI kept).",
    "export": "Export a model as a TF Serving SavedModel and TFLite models, with a parity report.",
    "serve_client": "Send audio to a TF Serving REST endpoint and write the enhanced audio.",
    "serve_local": "Answer TF Serving's REST predict API on 127.0.0.1 from an export, for trying serve_client.",
    "benchmark": "Measure speed: `benchmark pipeline`, `benchmark training`, `benchmark inference` or `benchmark scale_out`.",
}

# Positional arguments of the commands that take them, as their usage line shows them; the others refuse any.
ARGUMENTS: dict[str, str] = {"denoise": "INPUT...", "serve_client": "INPUT OUTPUT"}

# Commands whose first argument picks a module of their own (`benchmark pipeline` -> benchmark_pipeline), with what each does.
SUBCOMMANDS: dict[str, dict[str, str]] = {
    "benchmark": {
        "pipeline": "input-graph vs Python preprocessing speed, and training-step speed",
        "training": "training speed and cost of U-Net variants (default: the bundled models' recipes)",
        "inference": "per-hop cost of streaming models vs DTLN, GTCRN and DeepFilterNet3",
        "scale_out": "files per second of `denoise` on Beam's DirectRunner with 1 and 2 workers",
    }
}

# Commands that never load TensorFlow; every other one imports it first, with its start-up chatter filtered.
# `--help` loads it for none: command modules import TensorFlow-heavy code inside main().
TENSORFLOW_FREE = ("serve_client",)

HELP_FLAGS = ("-h", "--help", "--helpshort", "--helpfull", "-?")


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: keras_denoiser COMMAND [--flags] [ARGS]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in COMMANDS.items()]
    lines += ["", "`keras_denoiser COMMAND --help` (or `keras_denoiser help COMMAND`) shows a command's usage, examples and",
              "flags; --version the version."]
    return "\n".join(lines)


def _command_help(command: str, module: ModuleType) -> str:
    """Usage line with the positionals, the module docstring (what it does, examples) and the command's flags."""
    name = command.replace("_", " ", 1) if command.startswith("benchmark_") else command
    usage = " ".join(filter(None, ["usage: keras_denoiser", name, "[flags]", ARGUMENTS.get(command)]))
    return f"{usage}\n\n{inspect.cleandoc(module.__doc__ or '')}\n\nflags:\n{_flag_lines(module)}"


def _flag_lines(module: ModuleType) -> str:
    """absl's help lines of every flag the command defined (those of its flag modules too), sorted by name."""
    own: flags.FlagValues = module.FLAGS
    for defined in own.flags_by_module_dict().values():
        for flag in defined:
            if flag.name not in flags.FLAGS:  # absl's own (--verbosity, ...), shared at parse time, are not listed
                own.register_key_flag_for_module(module.__name__, flag)
    return own.module_help(module.__name__).removeprefix(f"\n{module.__name__}:\n")


class _Once(logging.Filter):
    """Each message once: train reuses a cache for its training, validation and preview sets, and says so once."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.levelno, record.getMessage())
        if key in self._seen:
            return False
        self._seen.add(key)
        return True


class _PlainFormatter(logging.Formatter):
    """A warning as `warning: file: reason`, like errors, not absl's `W1127 01:28:28.779 1403 evaluate.py:97]`."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return message if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {message}"


def _guarded(
    main: Callable[[Sequence[str]], int | None], takes_arguments: bool
) -> Callable[[Sequence[str]], int | None]:
    """Turn UserError and OSError (a folder that is a file, a full disk) into one line on stderr, exit status 1.

    A command that takes no positional arguments refuses stray ones (a forgotten `--`) the same way.
    """

    def run(argv: Sequence[str]) -> int | None:
        handler = absl_logging.get_absl_handler().python_handler
        formatter, stream, once = handler.formatter, handler.stream, _Once()
        handler.setFormatter(_PlainFormatter())
        handler.addFilter(once)
        handler.setStream(sys.stderr)  # the real stream, when native chatter is filtered (tf_quiet.quiet_process)
        try:
            if len(argv) > 1 and not takes_arguments:
                raise UserError(f"unexpected arguments: {' '.join(argv[1:])}")
            return main(argv)
        except BrokenPipeError:
            raise  # the reader left (`| head`): main() ends quietly
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        except OSError as err:
            print(f"error: {os_error_line(err)}", file=sys.stderr)
            return 1
        finally:  # "each message once" holds per command: a later command in the process says it again
            handler.removeFilter(once)
            handler.setFormatter(formatter)
            handler.setStream(stream)

    return run


def _flags_parser(command_flags: flags.FlagValues) -> Callable[[list[str]], list[str]]:
    """absl's flag parsing of the command's flags and absl's own (--verbosity, --flagfile, ...), from their
    defaults on every call; a bad, unknown or missing flag is one line and exit status 2."""

    def parse(argv: list[str]) -> list[str]:
        for name in flags.FLAGS:  # by long names: a short one (-v) comes with its flag
            if flags.FLAGS[name].name == name and name not in command_flags:
                command_flags[name] = flags.FLAGS[name]  # the same flag objects: absl reads them from FLAGS
        command_flags.unparse_flags()
        try:
            rest = command_flags(argv)
        except flags.Error as err:
            print(f"error: {'; '.join(line.strip() for line in str(err).splitlines() if line.strip())}", file=sys.stderr)
            sys.exit(2)
        flags.FLAGS.mark_as_parsed()
        return rest

    return parse


def main() -> None:
    """Console-script entry point; a reader that closes the pipe early (`| head -1`) ends it quietly.

    The native libraries' log lines are kept off stderr unless `--verbosity=0` (or higher) asks for them.
    """
    verbose = tf_quiet.quiet_process(sys.argv)
    try:
        try:
            with stopping.stopped_in_one_line():
                _dispatch(sys.argv, verbose)
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush at exit
        sys.exit(1)


def _subcommand_usage(command: str) -> str:
    """`benchmark --help`: its parts and what each measures."""
    parts = SUBCOMMANDS[command]
    width = max(map(len, parts))
    lines = [f"usage: keras_denoiser {command} {{{'|'.join(parts)}}} [--flags]", "", f"{command} parts:"]
    lines += [f"  {name:<{width}}  {text}" for name, text in parts.items()]
    lines += ["", f"`keras_denoiser {command} PART --help` shows a part's flags."]
    return "\n".join(lines)


def _dispatch(argv: list[str], verbose: bool = False) -> None:
    if len(argv) > 2 and argv[1] == "help":  # `help denoise` is `denoise --help`
        argv = [argv[0], *argv[2:], "--help"]
    if len(argv) < 2 or argv[1] in HELP_FLAGS + ("help",):
        print(_usage())
        sys.exit(0 if len(argv) >= 2 else 2)
    if argv[1] == "--version":
        print(f"keras_denoiser {__version__}")
        sys.exit(0)
    command = argv[1]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        sys.exit(2)
    rest = argv[2:]
    if command in SUBCOMMANDS:
        choices = SUBCOMMANDS[command]
        if not rest or rest[0] not in choices:
            wants_help = bool(rest) and rest[0] in HELP_FLAGS
            print(_subcommand_usage(command), file=sys.stdout if wants_help else sys.stderr)
            sys.exit(0 if wants_help else 2)
        command, rest = f"{command}_{rest[0]}", rest[1:]
    module = importlib.import_module(f"keras_denoiser.commands.{command}")
    flag_args = rest[: rest.index("--")] if "--" in rest else rest
    if any(arg in HELP_FLAGS for arg in flag_args):
        print(_command_help(command, module))
        sys.exit(0)
    if command not in TENSORFLOW_FREE:
        tf_quiet.import_tensorflow(verbose)
    sys.argv[0] = module.__name__  # absl attributes flag errors to the module named by argv[0]
    app.run(
        _guarded(module.main, command in ARGUMENTS),
        argv=[f"keras_denoiser {command.replace('benchmark_', 'benchmark ')}", *rest],
        flags_parser=_flags_parser(module.FLAGS),
    )


if __name__ == "__main__":
    main()
