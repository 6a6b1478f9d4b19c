"""Fuzzed inputs (tests/fuzz_audio.py): every reader decodes a mutated file into finite, in-range samples or
refuses it in one line naming it; one `denoise` over the folder finishes every file, prints its summary and
writes only finite outputs, in the container of their content; the web page's reader agrees (node)."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from keras_denoiser.core import audio
from keras_denoiser.core.config import SignalConfig, SplitConfig
from keras_denoiser.core.errors import UserError
from keras_denoiser.pipelines.prepare import prepare_corpus
from tests import cli_runner
from tests.conftest import skip_unless_available
from tests.enhance_helpers import save_tiny_unet
from tests.fuzz_audio import Case, write_fuzz_files
from tflite_demo.__main__ import read_input
from tflite_demo.stream import DemoError

ROOT = Path(__file__).resolve().parents[1]
COUNT = 240
READ_SECONDS = 60.0  # every reader over every file: a hang fails the test instead of stopping the suite
DENOISE_SECONDS = 600.0  # the same for one denoise over the folder
WEB_TEST = ROOT / "tflite_demo" / "web" / "test" / "audio_file.test.mjs"


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Case]]:
    folder = tmp_path_factory.mktemp("fuzz") / "in"
    start = time.monotonic()
    cases = write_fuzz_files(folder, COUNT)
    assert time.monotonic() - start < 5.0
    assert {c.expect for c in cases} == {"refuse", "decode", "any"}
    return folder, cases


def _within(seconds: float, work: Callable[[], None]) -> None:
    """Run `work` in a daemon thread; fail (not hang) when it is not done in `seconds`; re-raise its failure."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            failure.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"a reader hung for {seconds} s"
    if failure:
        raise failure[0]


@pytest.mark.parametrize(
    "read, refusal", [(audio.read_audio, UserError), (read_input, DemoError)], ids=["read_audio", "tflite_demo"]
)
def test_each_reader_decodes_sane_samples_or_refuses_the_file_by_name(fuzzed, read, refusal) -> None:
    folder, cases = fuzzed

    def read_all() -> None:
        for case in cases:
            path = folder / case.name
            try:
                data, rate = read(path)
            except refusal as err:
                assert str(err).startswith(f"{path}: ") and "\n" not in str(err), str(err)
                assert case.expect != "decode", str(err)
                continue
            assert case.expect != "refuse", f"{case} was decoded"
            assert data.shape[0] > 0 and audio.MIN_RATE <= rate <= audio.MAX_RATE, case
            assert np.isfinite(data).all() and np.abs(data).max() <= audio.MAX_PEAK, case

    _within(READ_SECONDS, read_all)


def test_prepare_skips_every_refused_file_with_its_reason_and_caches_only_sane_samples(fuzzed, tmp_path) -> None:
    folder, cases = fuzzed
    everything = SplitConfig(validation_fraction=0.0, test_fraction=0.0)  # every file decoded, none held out
    result: list = []
    _within(READ_SECONDS, lambda: result.append(
        prepare_corpus(folder, tmp_path / "cache", SignalConfig(), everything, "noise", workers=1, progress=False)
    ))
    prepared = result[0]
    skipped = {Path(entry.path).name: entry.reason for entry in prepared.skipped}
    assert prepared.num_train + len(skipped) == len(cases)
    for case in cases:
        assert (case.name in skipped) == (case.expect == "refuse") or case.expect == "any", (case, skipped.get(case.name))
    assert all(reason and "\n" not in reason for reason in skipped.values())
    import tensorflow as tf

    spec = {"audio": tf.io.FixedLenFeature([], tf.string)}
    for record in tf.data.TFRecordDataset([str(p) for p in prepared.train_shards]):
        samples = tf.io.decode_raw(tf.io.parse_single_example(record, spec)["audio"], tf.float32).numpy()
        assert np.isfinite(samples).all() and np.abs(samples).max() <= audio.MAX_OUTPUT_GAIN * audio.MAX_PEAK


def test_one_denoise_over_the_folder_finishes_every_file_and_writes_only_sane_outputs(fuzzed, tmp_path) -> None:
    folder, cases = fuzzed
    save_tiny_unet(tmp_path / "tiny.keras")
    out = tmp_path / "out"
    results: list = []
    _within(DENOISE_SECONDS, lambda: results.append(
        cli_runner.run("denoise", "--model=tiny.keras", f"--output_dir={out}", folder, cwd=tmp_path)
    ))
    result = results[0]

    assert result.returncode == 1, result.stderr[-2000:]  # not an abort (negative), not 0: some files failed
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert all(line.startswith(("error: ", "warning: ")) for line in result.stderr.splitlines()), result.stderr[-2000:]
    failed = {line.removeprefix(f"error: {folder}/").split(": ", 1)[0] for line in errors}
    written = {p.name for p in out.iterdir()}
    assert len(failed) == len(errors) and not failed & written
    assert result.stdout.splitlines()[-1] == f"{len(written)} written to {out}, 0 skipped, {len(failed)} failed"
    assert failed | written == {c.name for c in cases}
    for case in cases:
        assert case.expect != "refuse" or case.name in failed, case
        assert case.expect != "decode" or case.name in written, case
    for name in written:
        source, target = sf.info(str(folder / name)), sf.info(str(out / name))
        assert target.format == source.format, name  # the content's container, not the name's
        assert target.subtype == source.subtype or not sf.check_format(source.format, source.subtype), name
        assert (target.samplerate, target.channels, target.frames) == (source.samplerate, source.channels, source.frames)
        data, _ = sf.read(out / name, dtype="float32")
        bound = audio.MAX_OUTPUT_GAIN * audio.MAX_PEAK if target.subtype in audio.FLOAT_SUBTYPES else 1.0
        assert np.isfinite(data).all() and np.abs(data).max() <= bound, name


def test_the_web_page_reader_refuses_what_python_refuses(fuzzed) -> None:
    skip_unless_available(None if shutil.which("node") else "node is not installed (the web page's reader test)")
    folder, cases = fuzzed
    result = subprocess.run(
        ["node", "--test", str(WEB_TEST)], env={**os.environ, "FUZZ_AUDIO_DIR": str(folder)},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"# tests {len(cases) + 3}\n" in result.stdout and "# skipped 0\n" in result.stdout  # one per file, and 3 more
