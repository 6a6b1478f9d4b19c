"""Where the files shipped inside the package live: the offline model, its TFLite exports and the sample corpus."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
DEFAULT_MODEL = ASSETS_DIR / "models" / "unet.keras"
# The default model's whole-spectrogram TFLite exports (mask network), `unet-<quantization>.tflite` + `.json`.
DEFAULT_MODEL_TFLITE_DIR = ASSETS_DIR / "models" / "tflite"
SAMPLE_DIR = ASSETS_DIR / "sample"
SAMPLE_NOISE_DIR = SAMPLE_DIR / "noise"
SAMPLE_SPEAKERS_DIR = SAMPLE_DIR / "speakers"  # 8 speakers: one held out for validation, one for test
NOISY_SAMPLE = SAMPLE_DIR / "noisy_sample.wav"
CLEAN_SAMPLE = SAMPLE_DIR / "clean_sample.wav"
