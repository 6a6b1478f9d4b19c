"""`keras_denoiser demo` runs end to end with the bundled model and sample."""

from __future__ import annotations

import re
from pathlib import Path

import soundfile as sf

from keras_denoiser.core import assets
from tests import cli_runner


def test_demo_writes_enhanced_audio_and_plot_and_reports_the_change(tmp_path: Path) -> None:
    result = cli_runner.run("demo", "--output_dir=out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    enhanced, noisy = sf.info(tmp_path / "out" / "enhanced.wav"), sf.info(assets.NOISY_SAMPLE)
    assert (enhanced.frames, enhanced.samplerate, enhanced.channels) == (noisy.frames, noisy.samplerate, noisy.channels)
    assert (tmp_path / "out" / "enhanced.png").read_bytes()[:4] == b"\x89PNG"
    assert "out/enhanced.wav" in result.stdout
    change = re.search(r"^change\s+([+-]\d+\.\d+)\s+[+-]\d+\.\d+$", result.stdout, re.MULTILINE)
    assert change, result.stdout
    assert float(change.group(1)) > 1.0, "the bundled model should clean the bundled sample (SI-SDR gain in dB)"


def test_bundled_sample_corpus_is_small_and_licensed() -> None:
    files = [p for p in assets.SAMPLE_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 4_000_000  # a few MB: the demo's sample and an 8-speaker corpus
    assert (assets.SAMPLE_DIR / "LICENSE.md").is_file() and (assets.SAMPLE_DIR / "metadata.csv").is_file()
    assert len(list((assets.SAMPLE_DIR / "wavs").glob("*.wav"))) >= 5 and list(assets.SAMPLE_NOISE_DIR.glob("*.wav"))
