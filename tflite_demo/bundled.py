"""The streaming models shipped in `tflite_demo/models/`: which one runs by default, and in what order the page offers them."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
# The compact dual-path network (unet_compact), int8: the cheapest bundled stream (docs/benchmarks.md).
DEFAULT_MODEL = MODELS_DIR / "unet_compact_int8.tflite"
# The default first, then the other int8 files, then float32: the page loads the first and falls back to it.
BUNDLED_MODELS = sorted(MODELS_DIR.glob("*.tflite"), key=lambda p: (p != DEFAULT_MODEL, "int8" not in p.name, p.name))
