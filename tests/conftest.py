"""Shared fixtures: tiny generated signals and audio files, never ../shared."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import uuid

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402


def harmonic_speechlike(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """A voiced, syllable-modulated harmonic signal: speech-like energy in time and frequency."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 120 + 30 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20) if k * 220 < rate / 2)
    envelope = np.clip(np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 6)), 0, None) ** 2
    return (0.3 * voiced * envelope).astype(np.float32)


@pytest.fixture
def write_wav(tmp_path: Path):
    """Write `data` at `rate` under tmp_path/name and return the path."""

    def write(name: str, data: np.ndarray, rate: int = 16000, subtype: str | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, data, rate, subtype=subtype)
        return path

    return write


@pytest.fixture(scope="session")
def trained_saved_model(tmp_path_factory: pytest.TempPathFactory):
    """(model, export folder, report rows): the trained tiny U-Net exported as a SavedModel, once per test
    worker for the export and the serving tests (nothing writes into it)."""
    from tests.export_support import tiny_export, trained_tiny_model

    model, _ = trained_tiny_model()
    export_dir = tmp_path_factory.mktemp("saved_model") / "out"
    rows, _ = tiny_export(export_dir, model, ("saved_model",))
    return model, export_dir, rows


def skip_unless_available(missing: str | None) -> None:
    """Skip a test whose optional tool `missing` names (None: all present), saying why; under CI, where
    .ci/run installs every tool, fail instead, so a lost install step cannot pass as a skip."""
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"cannot run in CI: {missing}")
    pytest.skip(missing)


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C at its default, also when pytest was started as a script's background job (`make test &`,
    which begins with SIGINT ignored): a command a test interrupts would inherit the SIG_IGN, which a new
    Python keeps, and run on. A handler (unlike SIG_IGN) is reset to the default by `exec` in every child."""
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if getattr(config.option, "numprocesses", None) and config.option.testrunuid is None:
        config.option.testrunuid = uuid.uuid4().hex  # the run id xdist gives its workers, known here to clean up


def shared_cache_dir(run: str) -> Path:
    """Where the workers of pytest-xdist run `run` share trained weights; the controller deletes it at the end."""
    return Path(tempfile.gettempdir()) / f"keras_denoiser_tests_{run}"


def pytest_unconfigure(config: pytest.Config) -> None:
    """The xdist controller deletes the weights its workers shared (`shared_cache_dir`)."""
    run = getattr(config.option, "testrunuid", None)
    if run and not hasattr(config, "workerinput"):
        shutil.rmtree(shared_cache_dir(run), ignore_errors=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with multi-process (`slow`) or `long` tests first, each file's tests kept together: `make test`
    hands whole files to 2 workers in this order, and one of these files handed out last would leave the
    other worker idle at the end (test_web_app did, for about 40 s)."""
    first = {item.path for item in items if item.get_closest_marker("slow") or item.get_closest_marker("long")}
    items.sort(key=lambda item: item.path not in first)
