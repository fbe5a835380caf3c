"""Import rules, read from the source with ``ast``: the arrows between the packages point inward.

- Every import of project code goes through the one ``riskmap`` namespace; the folders ``geo/``,
  ``layers/``, ``etl/`` and ``app/`` are never imported by their folder names.
- ``riskmap.geo`` is pure: it imports nothing of the project outside itself.
- ``riskmap.layers`` (schemas and stores) imports neither ``etl``, ``app`` nor the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"geo": "riskmap.geo", "layers": "riskmap.layers", "etl": "riskmap.etl",
           "app": "riskmap.app", "riskmap": "riskmap"}
BARE = {"geo", "layers", "etl", "app"}


def _sources() -> list[Path]:
    out = []
    for folder in (*FOLDERS, "tests", "benchmarks"):
        out += sorted((ROOT / folder).rglob("*.py"))
    return out


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``; relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    rel = path.relative_to(root)
    package = FOLDERS.get(rel.parts[0], rel.parts[0])
    parts = [package, *rel.parts[1:-1]]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(parts[: len(parts) - node.level + 1])
                name = f"{base}.{node.module}" if node.module else base
            else:
                name = node.module or ""
            out.append((node.lineno, name))
    return out


def _violations(folder: str, allowed: tuple[str, ...], root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / folder).rglob("*.py")):
        for line, name in _imports(path, root):
            project = name == "riskmap" or name.startswith("riskmap.")
            if project and not name.startswith(allowed):
                bad.append(f"{path.relative_to(root)}:{line} imports {name}")
    return bad


def test_sources_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _sources()}
    assert {"geo/join.py", "layers/store.py", "etl/ingest.py", "app/factory.py",
            "riskmap/cli/__init__.py"} <= names


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_bare_imports_of_the_folders(path: Path) -> None:
    bare = [f"line {line}: {name}" for line, name in _imports(path)
            if name.split(".")[0] in BARE]
    assert not bare, f"import through riskmap.*, not the folder name: {bare}"


def test_geo_is_pure() -> None:
    assert _violations("geo", ("riskmap.geo",)) == []


def test_layers_do_not_import_the_edges() -> None:
    allowed = ("riskmap.layers", "riskmap.geo", "riskmap.errors", "riskmap.settings")
    assert _violations("layers", allowed) == []


def test_a_violation_is_seen(tmp_path: Path) -> None:
    (tmp_path / "geo").mkdir()
    (tmp_path / "geo" / "bad.py").write_text(
        "from riskmap.layers import open_store\nimport geo\nfrom . import join\n")
    assert _violations("geo", ("riskmap.geo",), tmp_path) == ["geo/bad.py:1 imports riskmap.layers"]
    names = [n for _, n in _imports(tmp_path / "geo" / "bad.py", tmp_path)]
    assert names == ["riskmap.layers", "geo", "riskmap.geo"]
