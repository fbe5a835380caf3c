"""CLI tests of ``riskmap report zone`` on the tiny zone world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from riskmap.cli import cli
from tests.etl.test_zone_report import zone_world


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RISKMAP_STORE", "RISKMAP_APP__REGIONS", "RISKMAP_USER"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("cli-zone") / "store"
    zone_world(root)
    return str(root)


@pytest.mark.parametrize("args", [["report"], ["report", "zone"]])
def test_help_texts(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0
    assert len(result.output.split("\n\n")[1].strip()) > 20  # a real description


def test_report_zone_writes_html_and_json(store_dir: str, tmp_path: Path) -> None:
    out, js = tmp_path / "r" / "zone.html", tmp_path / "zone.json"
    result = CliRunner().invoke(cli, ["report", "zone", "QO'NG'IROT KO'LI", "--store", store_dir,
                                      "-o", str(out), "--json", str(js),
                                      "--offroad-kmh", "6"])
    assert result.exit_code == 0, result.output
    assert "3 of 6 readiness items passed" in result.output
    data = json.loads(js.read_text(encoding="utf-8"))
    for key in ("zone", "area_km2", "camera_coverage_pct", "incidents_by_season", "checklist",
                "isochrone_share"):
        assert key in data
    assert data["area_km2"] == pytest.approx(4.0)
    assert data["thresholds"]["offroad_kmh"] == 6.0
    assert {"item", "ok", "value"} <= set(data["checklist"][0])
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Qo‘ng‘irot ko‘li" in page
    assert not list(out.parent.glob(".*.tmp"))


def test_threshold_options_flip_items(store_dir: str, tmp_path: Path) -> None:
    js = tmp_path / "z.json"
    result = CliRunner().invoke(cli, ["report", "zone", "Z1", "--store", store_dir, "-o",
                                      str(tmp_path / "z.html"), "--json", str(js),
                                      "--power-line-km", "5", "--police-minutes", "5"])
    assert result.exit_code == 0, result.output
    items = {i["item"]: i["ok"] for i in json.loads(js.read_text())["checklist"]}
    assert items["power_line"] is True and items["police_post"] is False


def test_unknown_zone_is_a_clear_error(store_dir: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["report", "zone", "Chorvoq", "--store", store_dir,
                                      "-o", str(tmp_path / "x.html")])
    assert result.exit_code == 2
    assert "no tourist zone named 'Chorvoq'" in result.output
    assert "Qo‘ng‘irot ko‘li (Z1)" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "x.html").exists()
