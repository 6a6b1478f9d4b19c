"""--version, per-command --help, a quiet start-up and a reader that closes the pipe early."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import keras_denoiser
from tests import cli_runner
from tests.enhance_helpers import save_tiny_unet

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "keras_denoiser", *args]
    return subprocess.run(command, cwd=kwargs.pop("cwd", ROOT), capture_output=True, text=True, timeout=120, **kwargs)


def test_version_prints_the_package_version() -> None:
    result = _run("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"keras_denoiser {keras_denoiser.__version__}\n", "")


@pytest.mark.parametrize(
    "args, usage, example, flag",
    [
        (["denoise", "--help"], "usage: keras_denoiser denoise [flags] INPUT...", "keras_denoiser denoise --output_dir=", "--output_dir"),
        (["serve_client", "-h"], "usage: keras_denoiser serve_client [flags] INPUT OUTPUT", "serve_client --url=", "--url"),
        (["benchmark", "pipeline", "--help"], "usage: keras_denoiser benchmark pipeline [flags]", "--batch_size=16", "--speech_dir"),
    ],
)
def test_command_help_shows_usage_examples_and_flags_with_status_0(args: list[str], usage: str, example: str, flag: str) -> None:
    result = _run(*args)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == usage
    assert example in result.stdout and f"\n  {flag}" in result.stdout
    assert result.stderr == ""  # no TensorFlow start-up lines either


def _help_commands() -> list[list[str]]:
    from keras_denoiser.cli import COMMANDS, SUBCOMMANDS

    return [[name] for name in COMMANDS if name not in SUBCOMMANDS] + [
        [name, part] for name, parts in SUBCOMMANDS.items() for part in parts
    ]


@pytest.mark.parametrize("args", _help_commands(), ids=" ".join)
def test_help_loads_no_tensorflow(args: list[str]) -> None:
    """`--help` answers fast because it imports no TensorFlow or Keras (5-9 s when it did)."""
    code = (
        "import contextlib, io, sys\n"
        "from keras_denoiser import cli\n"
        f"with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):\n"
        f"    cli._dispatch(['keras_denoiser', *{args!r}, '--help'])\n"
        "assert out.getvalue().startswith('usage: keras_denoiser'), out.getvalue()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr


def test_help_command_and_examples_keep_their_line_breaks() -> None:
    result = _run("help", "evaluate")
    assert result.returncode == 0 and result.stdout.startswith("usage: keras_denoiser evaluate [flags]")
    assert "--noise_dir=noise \\\n        --snrs=" in result.stdout  # a continued example stays on two lines


def test_benchmark_help_lists_its_three_parts() -> None:
    result = _run("benchmark", "--help")
    assert result.returncode == 0
    assert all(f"\n  {part} " in result.stdout for part in ("pipeline", "training", "inference")), result.stdout


def test_tensorflow_startup_chatter_is_filtered_but_other_stderr_lines_pass() -> None:
    code = (
        "import os, sys\n"
        "from keras_denoiser.core import tf_quiet\n"
        "os.write(2, b'kept before\\n')\n"
        "from tflite_demo import quiet\n"
        "with quiet.held():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\\n')\n"
        "    os.write(2, b'I0000 00:00:1.2  42 port.cc:153] oneDNN custom operations are on. You may see\\n')\n"
        "    print('kept inside', file=sys.stderr)\n"
        "tf_quiet.import_tensorflow()\n"
        "print('tensorflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (result.stdout, result.stderr) == ("True\n", "kept before\nkept inside\n")


def _run_into_closed_pipe(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run the CLI with stdout a pipe whose reader is already gone, as `... | head -1` ends up."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        command = [sys.executable, "-m", "keras_denoiser", *args]
        return subprocess.run(command, cwd=cwd, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["denoise", "--help"]])
def test_a_closed_pipe_ends_quietly(args: list[str]) -> None:
    result = _run_into_closed_pipe(*args)
    assert (result.returncode, result.stderr) == (1, "")


def test_a_closed_pipe_during_a_command_ends_quietly(tmp_path: Path) -> None:
    save_tiny_unet(tmp_path / "tiny.keras")
    sf.write(tmp_path / "a.wav", np.zeros(1600), 16000)
    result = _run_into_closed_pipe("denoise", "--model=tiny.keras", "--output_dir=out", "a.wav", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, "")
    assert (tmp_path / "out" / "a.wav").is_file()


def test_every_command_module_imports_into_one_process_each_with_its_own_flags() -> None:
    """Each command defines its flags into its own FlagValues: importing all of them together raises no
    DuplicateFlagError, each keeps its own meaning and default of a shared name (`train --model` is the
    network, `denoise --model` a trained model, `evaluate --model` repeatable), `--help` lists exactly
    the flags the command parses, and a flag of another command stays unknown to it."""
    code = (
        "import importlib, json, re\n"
        "from absl import flags\n"
        "from keras_denoiser import cli\n"
        "names = [c for c in cli.COMMANDS if c not in cli.SUBCOMMANDS]\n"
        "names += [f'{c}_{p}' for c, parts in cli.SUBCOMMANDS.items() for p in parts]\n"
        "modules = {n: importlib.import_module(f'keras_denoiser.commands.{n}') for n in names}\n"
        "listed = {n: sorted(re.findall(r'^  --(?:\\[no\\])?(\\w+):', cli._command_help(n, m), re.M)) for n, m in modules.items()}\n"
        "own = {n: sorted(f for f in m.FLAGS if m.FLAGS[f].name == f and f not in flags.FLAGS) for n, m in modules.items()}\n"
        "model = {n: repr(modules[n].FLAGS['model'].default) for n in ('train', 'denoise', 'evaluate')}\n"
        "print(json.dumps({'same': listed == own, 'listed': listed, 'model': model}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["same"], report["listed"]
    assert report["model"] == {"train": "'unet'", "denoise": "None", "evaluate": "[]"}
    listed = report["listed"]
    assert "snrs" in listed["make_testset"] and "snrs" not in listed["prepare"]  # the mixture-set flags are make_testset's
    assert all("split_seed" in listed[c] for c in ("prepare", "train", "make_testset", "evaluate", "choose_limit"))


def test_a_flag_of_another_command_is_unknown() -> None:
    result = cli_runner.run("prepare", "--snrs=0", "--speech_dir=x", cwd=ROOT)
    assert (result.returncode, result.stderr) == (2, "error: Unknown command line flag 'snrs'\n")


def test_train_config_flags_take_default_and_help_from_the_config_fields() -> None:
    from keras_denoiser.core.config import MixConfig

    result = _run("train", "--help")
    field = next(f for f in dataclasses.fields(MixConfig) if f.name == "crop_seconds")
    assert f"  --crop_seconds: {field.metadata['doc']}; default {field.default}." in result.stdout
    assert "  --model: <unet|unet_causal|unet_compact>: unet (offline)" in result.stdout
