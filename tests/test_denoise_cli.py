"""`denoise` keeps rate, channels, length and format; bad files cost one line each and nothing else."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keras_denoiser.core.errors import AudioFileError, UserError
from keras_denoiser.inference.denoise_files import denoise_all, denoise_file, plan_jobs
from keras_denoiser.inference.enhance import KerasEnhancer
from tests import cli_runner
from tests.conftest import harmonic_speechlike
from tests.enhance_helpers import save_tiny_unet, tiny_unet


@pytest.fixture(scope="module")
def transparent_enhancer() -> KerasEnhancer:
    model, cfg = tiny_unet(mask_bias=30.0)
    return KerasEnhancer(model, cfg, "ones", chunk_frames=64)


def _speech(seconds: float, rate: int, channels: int) -> np.ndarray:
    """Speech-like channels with 10 ms fades (resampling rings on a hard start, as it should)."""
    fade = np.minimum(1.0, np.minimum(np.arange(int(seconds * rate)), np.arange(int(seconds * rate))[::-1]) / (0.01 * rate))
    return np.stack([harmonic_speechlike(seconds, rate, seed) * fade for seed in range(channels)], 1).astype(np.float32)


@pytest.mark.parametrize(
    "rate, channels, ext",
    [(8000, 1, "wav"), (16000, 2, "flac"), (44100, 2, "ogg"), (48000, 1, "flac"), (44100, 1, "wav"), (48000, 2, "ogg"),
     (16000, 1, "ogg"), (8000, 2, "flac")],
)
def test_ones_mask_round_trip_keeps_rate_channels_length_and_signal(
    tmp_path: Path, transparent_enhancer: KerasEnhancer, rate: int, channels: int, ext: str
) -> None:
    source = tmp_path / "in" / "deep" / f"speech.{ext}"
    source.parent.mkdir(parents=True)
    sf.write(source, _speech(1.5, rate, channels), rate)
    jobs = plan_jobs([tmp_path / "in"], tmp_path / "out", output_format=None)
    report = denoise_all(transparent_enhancer, jobs, overwrite=False, say=pytest.fail)
    target = tmp_path / "out" / "deep" / f"speech.{ext}"
    assert report.written == [target.resolve()]
    noisy, _ = sf.read(source, dtype="float32", always_2d=True)
    enhanced, out_rate = sf.read(target, dtype="float32", always_2d=True)
    assert (out_rate, enhanced.shape, sf.info(target).format) == (rate, noisy.shape, sf.info(source).format)
    if ext == "ogg":  # re-encoding with a lossy codec: compare energies of the difference
        snr = 10 * np.log10(np.sum(noisy**2) / np.sum((noisy - enhanced) ** 2))
        assert snr > 15.0
    else:
        assert np.abs(enhanced - noisy).max() < 2e-3


@pytest.mark.parametrize(
    "name, fmt, subtype, output_format, expected",
    [("take.mp3", "WAV", "FLOAT", None, ("take.mp3", "WAV", "FLOAT")),  # a WAV named .mp3 stays a WAV
     ("take.flac", "WAV", "PCM_24", None, ("take.flac", "WAV", "PCM_24")),
     ("take.wav", "WAV", "PCM_24", None, ("take.wav", "WAV", "PCM_24")),  # 24-bit in, 24-bit out
     ("take.wav", "WAV", "PCM_24", "flac", ("take.flac", "FLAC", "PCM_24")),
     ("take.wav", "WAV", "FLOAT", "flac", ("take.flac", "FLAC", "PCM_16")),  # FLAC holds no floats
     ("take.mp3", "MP3", "MPEG_LAYER_III", None, ("take.mp3", "MP3", "MPEG_LAYER_III"))],
)
def test_the_output_container_is_the_content_s_unless_one_is_asked_for(
    tmp_path: Path, transparent_enhancer: KerasEnhancer, name: str, fmt: str, subtype: str, output_format, expected
) -> None:
    source = tmp_path / "in" / name
    source.parent.mkdir()
    sf.write(source, _speech(0.5, 16000, 1), 16000, format=fmt, subtype=subtype)
    jobs = plan_jobs([source], tmp_path / "out", output_format)
    assert denoise_all(transparent_enhancer, jobs, overwrite=False, say=pytest.fail).written == [jobs[0].target]
    info = sf.info(str(jobs[0].target))
    assert (jobs[0].target.name, info.format, info.subtype) == expected


def test_an_absurd_float_sample_never_reaches_the_mp3_encoder_and_a_hot_one_is_a_warning(
    tmp_path: Path, transparent_enhancer: KerasEnhancer, caplog: pytest.LogCaptureFixture
) -> None:
    """The file that aborted a whole run (issue 27): 2.6e36 in a float WAV named .mp3; then a hot file, a good one."""
    (tmp_path / "in").mkdir()
    wave = _speech(2.0, 16000, 1)
    wave[19680] = 2.6e36
    sf.write(tmp_path / "in" / "a_bad.mp3", wave, 16000, format="WAV", subtype="FLOAT")
    wave[19680] = 1.5
    sf.write(tmp_path / "in" / "b_hot.wav", wave, 16000, subtype="FLOAT")
    sf.write(tmp_path / "in" / "c_good.wav", _speech(0.5, 16000, 1), 16000)
    said: list[str] = []
    report = denoise_all(transparent_enhancer, plan_jobs([tmp_path / "in"], tmp_path / "out", None), False, say=said.append)
    assert said == [f"error: {tmp_path / 'in' / 'a_bad.mp3'}: peak 2.6e+36 at 1.23 s; float audio must lie within "
                    "about ±1 (refused above 4, +12 dBFS)"]
    assert [p.name for p in report.written] == ["b_hot.wav", "c_good.wav"] and not (tmp_path / "out" / "a_bad.mp3").exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"{tmp_path / 'in' / 'b_hot.wav'}: peak 1.5 at 1.23 s is above full scale (1.0); processed as it is"]


class _BrokenStream:
    """An enhancer whose output is `make(input)`: what a broken model or an overflow would give."""

    sample_rate = 16000

    def __init__(self, make) -> None:
        self.make = make

    def stream(self, channels: int) -> "_BrokenStream":
        return self

    def push(self, block: np.ndarray) -> np.ndarray:
        return self.make(block)

    def finish(self) -> np.ndarray:
        return np.zeros((0, 1), np.float32)


@pytest.mark.parametrize("make, reason", [
    (lambda b: np.full_like(b, np.nan), "the denoised output is not finite; nothing written"),
    (lambda b: 100 * b, "the denoised output peaks at"),
])
def test_an_output_that_is_not_finite_or_absurdly_loud_is_never_written(tmp_path: Path, make, reason: str) -> None:
    sf.write(tmp_path / "in.flac", _speech(0.5, 16000, 1), 16000)
    with pytest.raises(AudioFileError, match=f"^{tmp_path / 'in.flac'}: {reason}"):
        denoise_file(_BrokenStream(make), tmp_path / "in.flac", tmp_path / "out" / "in.flac")
    assert not list((tmp_path / "out").iterdir())


def test_output_format_changes_only_the_extension(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.ogg").write_bytes(b"")
    jobs = plan_jobs([tmp_path / "a"], tmp_path / "out", output_format="flac")
    assert [j.target for j in jobs] == [(tmp_path / "out" / "x.flac").resolve()]


def test_files_already_below_the_output_dir_are_not_inputs(tmp_path: Path) -> None:
    for name in ("take.wav", "enhanced/take.wav"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    jobs = plan_jobs([tmp_path], tmp_path / "enhanced", output_format=None)
    assert [j.source for j in jobs] == [tmp_path / "take.wav"]


def test_a_folder_whose_files_are_all_below_the_output_dir_says_so(tmp_path: Path) -> None:
    """`denoise --output_dir=takes takes`: the files there would be outputs, not "no audio files"."""
    (tmp_path / "takes").mkdir()
    (tmp_path / "takes" / "a.wav").write_bytes(b"")
    with pytest.raises(UserError, match=r"^.*takes: every audio file in it is below the output folder .*takes, so"):
        plan_jobs([tmp_path / "takes"], tmp_path / "takes", output_format=None)
    assert (tmp_path / "takes" / "a.wav").read_bytes() == b""


def _write_bad_and_odd_inputs(folder: Path) -> tuple[list[str], list[str]]:
    """Files that must fail (with a word of the expected reason) and files that must come out."""
    rate = 16000
    folder.mkdir()
    sf.write(folder / "good.wav", _speech(1.0, rate, 2), rate)
    sf.write(folder / "silent.flac", np.zeros((rate, 1)), rate)
    sf.write(folder / "dc.wav", np.full(3000, 0.4), 22050)
    sf.write(folder / "clipped.wav", np.clip(harmonic_speechlike(1.0, rate) * 30, -1, 1), rate)
    sf.write(folder / "one_sample.wav", np.array([0.25]), 44100)
    sf.write(folder / "sub_frame.wav", np.full(200, -0.3), rate)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "text.wav").write_text("this is not audio\n")
    whole = (folder / "good.wav").read_bytes()
    (folder / "truncated.wav").write_bytes(whole[: len(whole) // 2])
    (folder / "cut_header.flac").write_bytes(b"fLaC\x00\x00")
    sf.write(folder / "zero_samples.wav", np.zeros((0, 1)), rate)
    sf.write(folder / "nan.wav", np.array([0.1, np.nan, 0.2] * 500, np.float32), rate, subtype="FLOAT")
    sf.write(folder / "inf.wav", np.array([0.1, 0.2] * 500 + [np.inf], np.float32), rate, subtype="FLOAT")
    bad = {"empty.wav": "empty", "text.wav": "not readable", "truncated.wav": "truncated",
           "cut_header.flac": "not readable", "zero_samples.wav": "no samples", "nan.wav": "NaN", "inf.wav": "NaN"}
    good = ["good.wav", "silent.flac", "dc.wav", "clipped.wav", "one_sample.wav", "sub_frame.wav"]
    return [f"{name}: {reason}" for name, reason in bad.items()], good


def _denoise(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return cli_runner.run("denoise", f"--model={tmp_path / 'tiny.keras'}", *args, cwd=tmp_path)


def test_cli_reports_each_bad_file_once_and_still_writes_the_good_ones(tmp_path: Path) -> None:
    save_tiny_unet(tmp_path / "tiny.keras")
    bad, good = _write_bad_and_odd_inputs(tmp_path / "in")
    inputs_before = {p: p.read_bytes() for p in (tmp_path / "in").iterdir()}
    out = tmp_path / "out"
    out.mkdir()
    (out / "dc.wav").write_bytes(b"earlier result")
    sf.write(out / "mine.wav", np.zeros(100), 16000)

    result = _denoise(tmp_path, "--output_dir=out", "in", "out/mine.wav")

    assert result.returncode == 1, result.stderr
    messages = result.stdout + result.stderr
    for expected in bad:
        name, reason = expected.split(": ")
        lines = [line for line in messages.splitlines() if f"in/{name}:" in line]
        assert len(lines) == 1 and reason in lines[0], (expected, lines)
    assert "Traceback" not in messages
    refusal = f"error: out/mine.wav: output {(out / 'mine.wav').resolve()} is an input file; refusing to overwrite it"
    assert refusal in messages.splitlines()
    assert "dc.wav: skipped" in messages
    assert (out / "dc.wav").read_bytes() == b"earlier result"
    for name in good:
        if name == "dc.wav":
            continue
        source, target = sf.info(tmp_path / "in" / name), sf.info(out / name)
        assert (target.frames, target.samplerate, target.channels) == (source.frames, source.samplerate, source.channels)
        data, _ = sf.read(out / name)
        assert np.isfinite(data).all()
    for name in bad:
        assert not (out / name.split(":")[0]).exists()
    assert not list(out.rglob("*.part")) and not list(out.rglob(".*"))
    assert {p: p.read_bytes() for p in (tmp_path / "in").iterdir()} == inputs_before

    again = _denoise(tmp_path, "--output_dir=out", "--overwrite", "--plot", "in/dc.wav")
    assert again.returncode == 0, again.stderr
    assert sf.info(out / "dc.wav").frames == 3000
    assert (out / "dc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("output_dir", ["afile", "afile/deeper"])
def test_an_output_dir_that_is_a_file_is_named_before_any_work(tmp_path: Path, output_dir: str) -> None:
    (tmp_path / "afile").write_bytes(b"not a folder")
    (tmp_path / "good.wav").write_bytes(b"")
    with pytest.raises(UserError, match=f"^{tmp_path}/afile: exists and is not a folder$"):
        plan_jobs([tmp_path / "good.wav"], tmp_path / output_dir, output_format=None)
