"""The wheel holds the one ``riskmap`` namespace and nothing else: no data, no generic top-level names."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of the tracked files plus what a demo run leaves behind."""
    src = tmp_path_factory.mktemp("src")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    # a clone where the demo (or a user's load) has run: data that must never ship
    for folder in ("riskmap-data", "riskmap-data-demo-files", "riskmap/riskmap-data"):
        (src / folder).mkdir(parents=True, exist_ok=True)
        (src / folder / "manifest.json").write_text('{"secret": "police data"}\n')
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(out), str(src)], check=True, capture_output=True)
    (found,) = out.glob("riskmap-*.whl")
    return found


def test_wheel_holds_only_the_riskmap_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"riskmap"}
    assert len(dist_info) == 1
    assert not [n for n in names if "riskmap-data" in n or n.endswith("manifest.json")]
    expected = {"riskmap/__init__.py", "riskmap/geo/join.py", "riskmap/layers/store.py",
                "riskmap/layers/sql/upsert_from_stage.sql",
                "riskmap/layers/migrations/versions/0001_initial.py",
                "riskmap/layers/migrations/script.py.mako", "riskmap/etl/ingest.py",
                "riskmap/etl/demo/generate.py", "riskmap/app/factory.py",
                "riskmap/app/assets/riskmap.css", "riskmap/cli/__init__.py",
                "riskmap/geo/py.typed", "riskmap/layers/py.typed"}
    assert expected <= set(names)


def test_every_source_module_is_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    folders = {"geo": "riskmap/geo", "layers": "riskmap/layers", "etl": "riskmap/etl",
               "app": "riskmap/app", "riskmap": "riskmap"}
    tracked = subprocess.run(["git", "ls-files", *folders], cwd=ROOT, capture_output=True,
                             check=True, text=True).stdout.split()
    missing = []
    for name in tracked:
        top, _, rest = name.partition("/")
        shipped = (ROOT / name).suffix in {".py", ".sql", ".css", ".js", ".mako"}
        if shipped and f"{folders[top]}/{rest}" not in names:
            missing.append(name)
    assert missing == []


def test_installed_wheel_has_no_bare_packages(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--target", str(target), str(wheel)], check=True, capture_output=True)
    installed = {p.name for p in target.iterdir() if not p.name.endswith(".dist-info")}
    assert installed - {"bin"} == {"riskmap"}  # bin/ holds the console script
    code = ("import riskmap.geo.join, riskmap.layers, riskmap.cli; "
            "print(riskmap.geo.join.__file__)\n"
            "for bare in ('geo', 'etl', 'app', 'layers'):\n"
            "    try:\n        __import__(bare)\n    except ImportError:\n        pass\n"
            "    else:\n        raise SystemExit(f'import {bare} worked')\n")
    run = subprocess.run([sys.executable, "-P", "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().startswith(str(target / "riskmap" / "geo"))
