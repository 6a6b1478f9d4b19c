"""The docs stay true to the code and to each other.

- docs/development.md's layering table says what `test_layering.ALLOWED` enforces, edge for edge.
- Every relative link in README.md, docs/*.md and the model card points at a file that exists and,
  for a link into a markdown page, at a heading that exists (GitHub's anchor rules).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.test_layering import ALLOWED, NESTED, K

ROOT = Path(__file__).resolve().parents[1]
DEVELOPMENT = ROOT / "docs" / "development.md"
MODEL_CARD = ROOT / "keras_denoiser" / "assets" / "models" / "MODEL_CARD.md"


def _doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), MODEL_CARD]


# --- the layering table ----------------------------------------------------------------------------

LAYERING_HEADING = "## The layering rule"


def _layering_rows(text: str) -> dict[str, set[str]]:
    """package -> allowed packages, read from the first table under the layering heading.

    A cell names packages in backticks or by their short name within keras_denoiser (`core`,
    `model`, ...); parenthesised remarks are ignored; "nothing of ours" is the empty set.
    """
    section = text.split(LAYERING_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # past header and rule
    assert rows, f"no table under {LAYERING_HEADING!r} in {DEVELOPMENT.name}"
    table: dict[str, set[str]] = {}
    for row in rows:
        package_cell, allowed_cell = (cell.strip() for cell in row.strip().strip("|").split("|"))
        package = re.search(r"`([^`]+)`", package_cell).group(1)
        table[package] = _package_names(allowed_cell)
    return table


def _package_names(cell: str) -> set[str]:
    cell = re.sub(r"\([^)]*\)", "", cell)
    if cell.strip().startswith("nothing of ours"):
        return set()
    names = {item.strip().strip("`").strip() for item in cell.split(",")}
    subpackages = {p.parent.name for p in (ROOT / K).glob("*/__init__.py")} | set(NESTED)
    return {f"{K}.{name}" if name in subpackages else name for name in names if name}


def test_development_md_layering_table_is_test_layering_allowed() -> None:
    documented = _layering_rows(DEVELOPMENT.read_text())
    missing_rows = sorted(set(ALLOWED) - set(documented))
    extra_rows = sorted(set(documented) - set(ALLOWED))
    assert not missing_rows and not extra_rows, f"development.md's table: rows missing {missing_rows}, not in ALLOWED {extra_rows}"
    for package, allowed in ALLOWED.items():
        assert documented[package] == allowed, (
            f"development.md's row for {package}: missing {sorted(allowed - documented[package])}, "
            f"not in ALLOWED {sorted(documented[package] - allowed)}"
        )


def test_the_layering_table_parser_sees_a_missing_edge() -> None:
    text = DEVELOPMENT.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `keras_denoiser.benchmarks` |"))
    dropped = text.replace(row, row.replace("training, ", ""))
    assert dropped != text
    assert _layering_rows(dropped)[f"{K}.benchmarks"] == ALLOWED[f"{K}.benchmarks"] - {f"{K}.training"}


# --- links between pages ---------------------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def _prose_lines(text: str) -> list[str]:
    """The page's lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup dropped, lowercase, punctuation but '-' and '_' dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors on its text
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    for line in _prose_lines(page.read_text()):
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            slug, n = github_slug(heading.group(1)), 0
            while (slug if n == 0 else f"{slug}-{n}") in found:  # repeated headings get -1, -2, ...
                n += 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def relative_links(page: Path) -> list[str]:
    links = []
    for line in _prose_lines(page.read_text()):
        line = re.sub(r"``[^`]*``|`[^`]*`", "", line)  # code spans are not links
        links += [target for target in LINK.findall(line) if not re.match(r"^[a-z][a-z0-9+.-]*:", target)]
    return links


def test_github_slug_follows_githubs_rules() -> None:
    assert github_slug("Per-hop cost against DTLN (`benchmark inference`)") == "per-hop-cost-against-dtln-benchmark-inference"
    assert github_slug("Each model's own attenuation limit") == "each-models-own-attenuation-limit"
    assert github_slug("The on-device app: `python -m tflite_demo`") == "the-on-device-app-python--m-tflite_demo"
    assert github_slug("v1: one voice") == "v1-one-voice"


@pytest.mark.parametrize("page", _doc_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for link in relative_links(page):
        path_part, _, anchor = link.partition("#")
        target = (page.parent / path_part).resolve() if path_part else page
        if not target.exists():
            broken.append(f"{link}: no file {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{link}: no heading with anchor #{anchor} in {target.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)
