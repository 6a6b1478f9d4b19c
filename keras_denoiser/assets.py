"""Where the files shipped inside the package live: the offline model and the sample corpus."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DEFAULT_MODEL = ASSETS_DIR / "models" / "unet.keras"
SAMPLE_DIR = ASSETS_DIR / "sample"
SAMPLE_NOISE_DIR = SAMPLE_DIR / "noise"
NOISY_SAMPLE = SAMPLE_DIR / "noisy_sample.wav"
CLEAN_SAMPLE = SAMPLE_DIR / "clean_sample.wav"
