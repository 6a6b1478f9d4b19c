"""Dependencies point one way: the core imports nothing else of ours; tflite_demo imports nothing of ours."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = {"keras_denoiser", "pipelines", "export", "tflite_demo"}
CORE_MODULES = ["config.py", "errors.py", "features.py", "audio.py", "model.py", "model_io.py", "enhancer.py", "atomic.py", "metrics.py"]


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in OUR_PACKAGES:  # `from keras_denoiser import features`
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_imports_only_the_core(module: str) -> None:
    imported = _imported_top_levels(ROOT / "keras_denoiser" / module)
    ours = {name for name in imported if name.split(".")[0] in OUR_PACKAGES}
    allowed = {f"keras_denoiser.{m[:-3]}" for m in CORE_MODULES}
    assert ours <= allowed, f"{module} imports {sorted(ours - allowed)}"


@pytest.mark.parametrize("package", ["pipelines", "export"])
def test_pipelines_and_export_build_only_on_the_core(package: str) -> None:
    allowed = {f"keras_denoiser.{m[:-3]}" for m in CORE_MODULES} | {package}
    for path in (ROOT / package).rglob("*.py"):
        for name in _imported_top_levels(path):
            if name.split(".")[0] in OUR_PACKAGES and name.split(".")[0] != package:
                assert name in allowed, f"{path.relative_to(ROOT)} imports {name}"


def test_tflite_demo_imports_nothing_of_ours_and_no_tensorflow() -> None:
    for path in (ROOT / "tflite_demo").rglob("*.py"):
        for name in _imported_top_levels(path):
            top = name.split(".")[0]
            assert top not in OUR_PACKAGES - {"tflite_demo"}, f"{path.name} imports {name}"
            assert top not in {"tensorflow", "keras"}, f"{path.name} imports {name}"
