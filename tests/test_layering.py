"""Dependencies point one way: one table says which of our packages each package may import.

Every module of ours is parsed (imports anywhere in the file, relative ones resolved, lazy ones
included) and must import only its own package and the packages `ALLOWED` lists for it. The table
has no cycle, so neither has the code. docs/development.md explains the rule.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
K = "keras_denoiser"
# Top-level folders installed as keras_denoiser.<name> (setup.py's NESTED): the wheel's top level
# holds only the two names of TOP_LEVELS.
NESTED = ("pipelines", "export")
TOP_LEVELS = (K, "tflite_demo")
FOLDERS = (K, *NESTED, "tflite_demo")

# package -> the packages of ours it may import (besides itself). A module belongs to the longest
# package name that prefixes it; `keras_denoiser` itself is only the entry points (__init__, __main__, cli).
ALLOWED: dict[str, set[str]] = {
    f"{K}.core": {"tflite_demo"},  # its TF-free audio_format: the output container rule
    "tflite_demo": set(),
    f"{K}.model": {f"{K}.core"},
    f"{K}.pipelines": {f"{K}.core"},
    f"{K}.export": {f"{K}.core", f"{K}.model", "tflite_demo"},  # the runtime: sidecar schema, state loop
    f"{K}.training": {f"{K}.core", f"{K}.model"},
    f"{K}.inference": {f"{K}.core", f"{K}.model"},
    f"{K}.evaluation": {f"{K}.core", f"{K}.pipelines", "tflite_demo"},
    f"{K}.benchmarks": {
        f"{K}.core", f"{K}.model", f"{K}.pipelines", f"{K}.export", f"{K}.training", f"{K}.inference",
        f"{K}.evaluation", "tflite_demo",  # inference: `benchmark scale_out` times the denoise command's own Beam path
    },
    f"{K}.commands": {
        f"{K}.core", f"{K}.model", f"{K}.pipelines", f"{K}.export", f"{K}.training", f"{K}.inference",
        f"{K}.evaluation", f"{K}.benchmarks",
    },
    K: {f"{K}.core", f"{K}.inference", f"{K}.commands", "tflite_demo"},  # cli: tflite_demo.stopping
}

# Third-party packages a package must not import at all.
FORBIDDEN_THIRD_PARTY: dict[str, set[str]] = {"tflite_demo": {"tensorflow", "keras"}}


def _module_name(path: Path) -> str:
    """The installed dotted name of a source file (pipelines/x.py is keras_denoiser.pipelines.x)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts = [K, *parts] if parts[0] in NESTED else parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _source_path(module: str) -> Path:
    """Where an installed dotted name of ours lives in the repository (the inverse of _module_name)."""
    parts = module.split(".")
    parts = parts[1:] if len(parts) > 1 and parts[0] == K and parts[1] in NESTED else parts
    return ROOT.joinpath(*parts)


def _is_package(module: str) -> bool:
    return (_source_path(module) / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """Dotted names of everything `path` imports; `from a import b` gives `a.b` when b is a module of ours."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                is_ours = submodule.split(".")[0] in TOP_LEVELS
                path_of = _source_path(submodule)
                names.add(submodule if is_ours and (path_of.with_suffix(".py").exists() or path_of.is_dir()) else source)
    return names


def _package_of(module: str) -> str | None:
    """The longest package of `ALLOWED` that holds `module` (None: not ours)."""
    owners = [p for p in ALLOWED if module == p or module.startswith(p + ".")]
    return max(owners, key=len) if owners else None


def _our_modules() -> list[Path]:
    return sorted(p for top in FOLDERS for p in (ROOT / top).rglob("*.py") if "node_modules" not in p.parts)


def test_the_table_has_no_cycle_and_names_only_real_packages() -> None:
    try:
        order = list(TopologicalSorter(ALLOWED).static_order())
    except CycleError as err:
        pytest.fail(f"the layering table has a cycle: {err.args[1]}")
    for package in order:
        assert package in ALLOWED, f"{package} is allowed as a dependency but has no row of its own"
        assert _is_package(package), f"{package} is not a package"


def test_every_subpackage_has_a_row() -> None:
    subpackages = {_module_name(p) for p in (ROOT / K).glob("*/__init__.py")}
    assert subpackages <= set(ALLOWED), f"add {sorted(subpackages - set(ALLOWED))} to ALLOWED"


@pytest.mark.parametrize("path", _our_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_imports_only_what_its_package_may(path: Path) -> None:
    own = _package_of(_module_name(path))
    assert own is not None, f"{path.relative_to(ROOT)} belongs to no package of ALLOWED"
    for name in sorted(_imports(path)):
        top = name.split(".")[0]
        assert top not in NESTED, f"{path.relative_to(ROOT)} imports {name}: installed, it is {K}.{name}"
        assert top not in FORBIDDEN_THIRD_PARTY.get(own, set()), f"{path.relative_to(ROOT)} imports {name}"
        target = _package_of(name)
        if top in TOP_LEVELS and target != own:
            assert target in ALLOWED[own], f"{path.relative_to(ROOT)} ({own}) imports {name} ({target})"
