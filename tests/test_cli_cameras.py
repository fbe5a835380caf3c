"""CLI tests of ``riskmap plan cameras`` and ``riskmap export coverage`` on a tiny store."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd

from riskmap.cli import cli
from tests.etl.test_derive_coverage import coverage_world


@pytest.fixture(scope="module")
def built_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The two-mahalla world with the coverage layers built by `riskmap build`."""
    root = tmp_path_factory.mktemp("cli") / "store"
    coverage_world(root)
    result = CliRunner().invoke(cli, ["build", "--store", str(root), "--only", "coverage"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["coverage"]["coverage_mahalla"] == 2
    return str(root)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RISKMAP_STORE", "RISKMAP_APP__REGIONS", "RISKMAP_USER"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("args", [["plan"], ["plan", "cameras"], ["export", "coverage"]])
def test_help_texts(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0
    assert len(result.output.split("\n\n")[1].strip()) > 20  # a real description


def test_export_coverage_mahalla_csv(built_store: str, tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    result = CliRunner().invoke(cli, ["export", "coverage", "--store", built_store, "--level",
                                      "mahalla", "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out).set_index("mahalla_id")
    for col in ("area_covered_pct", "incidents_covered_pct", "risk_covered_pct",
                "cameras_overview", "cameras_traffic", "cameras_face_recognition",
                "cameras_licence_plate"):
        assert col in table.columns
    assert table.loc["T-A", "incidents_covered_pct"] == 100.0
    assert table.loc["T-B", "incidents_covered_pct"] == 0.0
    assert table.loc["T-A", "cameras_overview"] == 1


def test_export_coverage_sites_and_h3_geojson(built_store: str, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "sites.geojson"
    result = runner.invoke(cli, ["export", "coverage", "--store", built_store, "--level", "site",
                                 "--format", "geojson", "-o", str(out)])
    assert result.exit_code == 0, result.output
    sites = gpd.read_file(out).set_index("site_id")
    assert list(sites.columns[:3]) == ["kind", "covered", "nearest_camera_m"]
    assert bool(sites.loc["BS1", "covered"]) and not bool(sites.loc["SC1", "covered"])
    out = tmp_path / "gaps.csv"
    result = runner.invoke(cli, ["export", "coverage", "--store", built_store, "--level", "h3",
                                 "--top", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    gaps = pd.read_csv(out)
    assert gaps["rank"].tolist() == [1, 2] and gaps["gap"].is_monotonic_decreasing


def test_export_coverage_needs_a_build(tmp_path: Path) -> None:
    root = tmp_path / "bare"
    coverage_world(root)
    result = CliRunner().invoke(cli, ["export", "coverage", "--store", str(root), "-o",
                                      str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "riskmap build --only coverage" in result.output


def test_plan_cameras_writes_plan_and_summary(built_store: str, tmp_path: Path) -> None:
    plan, summary, csv = tmp_path / "plan.geojson", tmp_path / "plan.json", tmp_path / "plan.csv"
    result = CliRunner().invoke(cli, [
        "plan", "cameras", "--store", built_store, "--budget", "2", "--area", "Termiz shahri",
        "--types", "overview,traffic", "-o", str(plan), "--summary", str(summary),
        "--csv", str(csv)])
    assert result.exit_code == 0, result.output
    got = gpd.read_file(plan)
    assert len(got) == 2
    for col in ("site_id", "type", "bearing_deg", "fov_deg", "range_m", "marginal_gain"):
        assert col in got.columns
    assert got["marginal_gain"].is_monotonic_decreasing
    data = json.loads(summary.read_text())
    assert data["budget"] == 2 and data["method"] == "milp"  # small: the MILP ran
    assert 0 <= data["covered_risk_before"] < data["covered_risk_after"] <= 1
    assert data["optimality_gap"] is not None and data["seconds"] > 0
    assert len(data["curve"]["n_cameras"]) == 3
    assert {"lon", "lat"} <= set(pd.read_csv(csv).columns)


def test_plan_cameras_errors(built_store: str, tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "p.geojson")
    no_budget = runner.invoke(cli, ["plan", "cameras", "--store", built_store, "-o", out])
    assert no_budget.exit_code == 2 and "--budget" in no_budget.output
    bad_area = runner.invoke(cli, ["plan", "cameras", "--store", built_store, "--budget", "1",
                                   "--area", "Atlantis", "-o", out])
    assert bad_area.exit_code == 2 and "Atlantis" in bad_area.output
    no_kde = runner.invoke(cli, ["plan", "cameras", "--store", built_store, "--budget", "1",
                                 "--risk", "kde", "-o", out])
    assert no_kde.exit_code == 2 and "kde" in no_kde.output
    bad_cost = runner.invoke(cli, ["plan", "cameras", "--store", built_store, "--cost",
                                   "overview", "--money-budget", "5", "-o", out])
    assert bad_cost.exit_code == 2 and "TYPE=PRICE" in bad_cost.output
