"""The dispatcher: flag mistakes and write errors reach the user as one line, never a traceback."""

from __future__ import annotations

import errno
import logging
import subprocess
from pathlib import Path

import pytest
from absl import logging as absl_logging

from keras_denoiser import cli
from tests import cli_runner

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return cli_runner.run(*args, cwd=ROOT)


@pytest.mark.parametrize(
    "args, message",
    [
        (["a.wav", "b.wav"], "error: flag --url=None: Flag --url must have a value other than None."),
        (["--url=http://x", "--bogus=1"], "error: Unknown command line flag 'bogus'"),
        (["--url=http://x", "--model_rate=fast"], "error: flag --model_rate=fast: invalid literal for int() with base 10: 'fast'"),
    ],
)
def test_flag_mistakes_are_one_line_and_exit_status_2(args: list[str], message: str) -> None:
    result = _run("serve_client", *args)
    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (2, [message], "")


def test_help_still_lists_the_command_flags() -> None:
    result = _run("serve_client", "--help")
    assert "--url: REST predict URL" in result.stdout and "--chunk_seconds" in result.stdout
    assert "error" not in result.stderr


@pytest.mark.parametrize(
    "err, line",
    [
        (FileExistsError(errno.EEXIST, "File exists", "out"), "error: out: File exists"),
        (OSError("disk on fire"), "error: disk on fire"),
    ],
)
def test_os_errors_are_one_line_and_exit_status_1(err: OSError, line: str, capsys) -> None:
    def main(argv):
        raise err

    assert cli._guarded(main, takes_arguments=False)(["keras_denoiser x"]) == 1
    assert capsys.readouterr().err.splitlines() == [line]


def test_a_warning_is_said_once_per_command_not_once_per_process(capsys) -> None:
    """Commands run one after another in one process (tests, notebooks) each say their own warnings."""

    def main(argv):
        absl_logging.warning("no speech in the validation split")
        absl_logging.warning("no speech in the validation split")

    absl_handler = absl_logging.get_absl_handler()  # on the root logger in a process, as app.run puts it
    attached = absl_handler in logging.root.handlers
    logging.root.addHandler(absl_handler)
    filters = list(absl_handler.python_handler.filters)
    try:
        for _ in range(2):
            assert cli._guarded(main, takes_arguments=False)(["keras_denoiser x"]) is None
            lines = capsys.readouterr().err.splitlines()  # (absl may first say that flags are not parsed)
            assert lines.count("warning: no speech in the validation split") == 1, lines
    finally:
        if not attached:
            logging.root.removeHandler(absl_handler)
    assert absl_handler.python_handler.filters == filters


@pytest.mark.parametrize("command", ["demo", "benchmark pipeline", "prepare"])
def test_stray_arguments_are_refused_by_commands_without_positionals(command: str) -> None:
    result = _run(*command.split(), "runs/unet")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "error: unexpected arguments: runs/unet"


def test_train_refuses_a_bad_setting_before_any_work(tmp_path) -> None:
    run = tmp_path / "run"
    result = _run("train", f"--speech_dir={tmp_path}", f"--noise_dir={tmp_path}", f"--model_dir={run}", "--epochs=0")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "error: epochs must be at least 1, not 0"
    assert not run.exists()


@pytest.mark.parametrize(
    "case, line",
    [
        ("missing_noise", "error: {tmp}/nonoise: no such corpus folder"),
        ("model_dir_is_a_file", "error: {tmp}/afile: exists and is not a folder"),
        ("missing_init_from", "error: {tmp}/none.keras: no such model to start from"),
    ],
)
def test_train_names_a_bad_folder_or_model_before_preparing_any_corpus(tmp_path, case: str, line: str) -> None:
    """On a full corpus, preparing the speech takes minutes: a typo in a later flag must not wait for it."""
    (tmp_path / "speech").mkdir()
    (tmp_path / "afile").write_bytes(b"")
    args = {"speech_dir": tmp_path / "speech", "noise_dir": tmp_path, "model_dir": tmp_path / "run",
            "cache_dir": tmp_path / "cache"}
    if case == "missing_noise":
        args["noise_dir"] = tmp_path / "nonoise"
    elif case == "model_dir_is_a_file":
        args["model_dir"] = tmp_path / "afile"
    else:
        args["init_from"] = tmp_path / "none.keras"
    result = _run("train", *(f"--{name}={value}" for name, value in args.items()))
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (1, line.format(tmp=tmp_path))
    assert "prepare" not in result.stderr and not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()
