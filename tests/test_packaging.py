"""The wheel installs two top-level names only: `keras_denoiser` (with `pipelines` and `export` as its
subpackages) and `tflite_demo`. Generic names such as `export` would collide in site-packages."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_top_level_is_keras_denoiser_and_tflite_demo_only(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert top == {"keras_denoiser", "tflite_demo"}
    # the nested folders arrive whole: code, and export's serving files (package data)
    for expected in ("keras_denoiser/pipelines/dataset.py", "keras_denoiser/export/streaming.py",
                     "keras_denoiser/export/serving/Dockerfile", "tflite_demo/__main__.py"):
        assert expected in names
    assert not any("node_modules" in name for name in names)
