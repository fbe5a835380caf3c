"""Tests of the camera planning glue on the two-mahalla world of ``test_derive_coverage``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from riskmap.errors import ConfigError
from riskmap.etl.planning import (
    PlanFrames,
    accept_plan,
    candidate_sites,
    load_plan_frames,
    plan_cameras,
    planned_cameras_frame,
    road_intersections,
    select_area,
)
from riskmap.layers.access import DataAccess
from riskmap.layers.builtin import PLANNED_CAMERAS
from riskmap.layers.spec import conform
from tests.etl.test_derive_coverage import (
    B_CENTRE,
    LAT0,
    LON0,
    S,
    coverage_world,
    world_cameras,
    world_incidents,
    world_infrastructure,
    world_mahallas,
)


def _frames(b_cluster: int = 5, cameras: gpd.GeoDataFrame | None = None) -> PlanFrames:
    return PlanFrames(mahallas=world_mahallas(), incidents=world_incidents(b_cluster),
                      cameras=world_cameras() if cameras is None else cameras,
                      infrastructure=world_infrastructure())


def test_select_area_by_region_district_name_or_id() -> None:
    m = world_mahallas()
    assert len(select_area(m, None)) == 2
    assert len(select_area(m, "termiz SHAHRI")) == 2
    assert select_area(m, "Bog'ishamol")["mahalla_id"].tolist() == ["T-A"]  # ' matches ‘
    assert select_area(m, ["T-B", "T-A"])["mahalla_id"].tolist() == ["T-A", "T-B"]
    with pytest.raises(ConfigError, match=r"Nowhere.*Termiz shahri"):
        select_area(m, "Nowhere")


def test_road_intersections_finds_the_crossing() -> None:
    got = road_intersections(world_infrastructure().iloc[:3])
    assert np.round(shapely.get_coordinates(got.geometry.values), 6).tolist() == [
        [LON0 + 0.015, LAT0 + S / 2]]
    assert got["site_id"].tolist() == [f"intersection:{LON0 + 0.015:.6f},{LAT0 + S / 2:.6f}"]


def test_candidate_sites_by_kind_inside_the_area() -> None:
    m, infra = world_mahallas(), world_infrastructure()
    got = candidate_sites(m, infra, ["bus_stop", "school", "intersection", "entrance"])
    # the shared entrance of A and B is one place, the south entrance of A is on its boundary
    assert sorted(got["kind"]) == ["bus_stop", "entrance", "entrance", "intersection", "school"]
    only_b = candidate_sites(m.iloc[[1]], infra, ["bus_stop", "school", "market"])
    assert sorted(only_b["site_id"]) == ["MK1", "SC1"]
    cells = np.array([0x8920A52D23BFFFF])
    grid = candidate_sites(m, infra, ["grid"], risk_cells=cells)
    assert set(grid["kind"]) <= {"grid"}
    with pytest.raises(ConfigError, match="unknown candidate kinds"):
        candidate_sites(m, infra, ["volcano"])


def test_plan_covers_the_uncovered_cluster_first() -> None:
    res = plan_cameras(_frames(), budget=2, candidates="bus_stop,school,market,intersection",
                       types=["overview"], exact=False)
    s = res.summary
    # 15 recent spatial incidents: 10 at A (partly covered by C1), 5 at B's centre
    assert s["total_risk"] == 15.0 and s["method"] == "greedy" and s["optimality_gap"] is None
    assert res.plan["site_id"].iloc[0] == "MK1"  # the market at B's centre
    assert res.plan["type"].tolist()[0] == "overview"
    gains = res.plan["marginal_gain"].to_numpy()
    assert (np.diff(gains) <= 1e-9).all() and gains[0] > 0
    assert s["covered_risk_after"] == pytest.approx(s["covered_risk_before"] + gains.sum() / 15)
    assert res.curve["covered_share"].iloc[0] == pytest.approx(s["covered_risk_before"])
    assert res.plan["mahalla_id"].iloc[0] == "T-B"
    assert res.plan["camera_id"].iloc[0] == f"{s['plan_id']}-001"


def test_small_plans_run_the_milp() -> None:
    res = plan_cameras(_frames(), budget=2, types=["overview", "traffic"])
    s = res.summary
    assert s["method"] == "milp" and s["n_candidates"] <= 2000
    assert s["optimality_gap"] is not None and -1e-9 <= s["optimality_gap"] < 1
    assert len(res.plan) == 2


def test_existing_planned_camera_counts_as_covered() -> None:
    cams = world_cameras()
    cams.loc[2, "geometry"] = shapely.Point(*B_CENTRE)  # the planned dome now sits on B's cluster
    base = plan_cameras(_frames(), budget=1, types=["overview"], exact=False)
    moved = plan_cameras(_frames(cameras=cams), budget=1, types=["overview"], exact=False)
    assert moved.summary["covered_risk_before"] > base.summary["covered_risk_before"]
    assert moved.summary["n_existing_cameras"] == 2  # C1 active + C3 planned, C2 broken


def test_money_budget_and_costs() -> None:
    res = plan_cameras(_frames(), types=["overview", "face_recognition"],
                       costs={"overview": 500.0, "face_recognition": 200.0}, money_budget=700.0,
                       exact=False)
    assert 0 < res.summary["total_cost"] <= 700.0
    with pytest.raises(ConfigError, match="go together"):
        plan_cameras(_frames(), budget=1, money_budget=10.0)


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="give a budget"):
        plan_cameras(_frames())
    with pytest.raises(ConfigError, match="unknown camera types"):
        plan_cameras(_frames(), budget=1, types=["drone"])
    with pytest.raises(ConfigError, match="needs the 'kde_surface' layer"):
        plan_cameras(_frames(), budget=1, risk="kde")


def test_plan_without_risk_is_empty() -> None:
    frames = _frames()
    frames.incidents = frames.incidents.iloc[:0]
    res = plan_cameras(frames, budget=3)
    assert len(res.plan) == 0 and res.summary["n_cameras"] == 0
    assert res.summary["status"] == "no risk in the area"


def test_load_accept_round_trip(tmp_path: Path) -> None:
    store = coverage_world(tmp_path / "s")
    access = DataAccess(store, user="planner1")
    frames = load_plan_frames(access, area="T-B")
    assert set(frames.incidents["mahalla_id"]) == {"T-B"}  # read only for the area
    res = plan_cameras(frames, area="T-B", budget=2, types=["overview"], exact=False)
    rows = planned_cameras_frame(res.plan)
    conform(PLANNED_CAMERAS, rows)  # raises on a schema mismatch
    assert accept_plan(access, res.plan, note="test") == 2
    back = store.read("planned_cameras")
    assert sorted(back["camera_id"]) == sorted(res.plan["camera_id"])
    assert set(back["status"]) == {"planned"}
    audit = store.read("audit")
    last = audit[audit["action"] == "accept_plan"]
    assert last["user"].tolist() == ["planner1"] and last["rows"].tolist() == [2]
    # accepting the same plan again replaces, never duplicates
    accept_plan(access, res.plan)
    assert store.count("planned_cameras") == 2
    # the accepted cameras are existing cameras for the next plan
    again = plan_cameras(load_plan_frames(access, area="T-B"), area="T-B", budget=1,
                         types=["overview"], exact=False)
    assert again.summary["covered_risk_before"] >= res.summary["covered_risk_after"] - 1e-9


def test_table_and_geojson() -> None:
    res = plan_cameras(_frames(), budget=1, types=["overview"], exact=False)
    table = res.table()
    assert table.loc[0, "lon"] == pytest.approx(B_CENTRE[0])
    assert '"marginal_gain"' in res.to_geojson()
    assert '"curve"' in res.summary_json()
    assert isinstance(res.plan, gpd.GeoDataFrame) and res.plan.crs.to_epsg() == 4326
    assert (res.plan["range_m"].iloc[0], res.plan["fov_deg"].iloc[0]) == (120.0, 360.0)
    assert pd.api.types.is_float_dtype(res.plan["marginal_gain"])


def _uniform_kde(tmp_path: Path, per_km2: float) -> pd.DataFrame:
    """A ``kde_surface`` table holding a uniform surface over the world (UTM 42N, 100 m)."""
    import base64

    from riskmap.etl.rasters import write_cog
    from riskmap.geo.surface import grid_transform

    path = write_cog(tmp_path / "kde.tif", np.full((40, 40), per_km2, np.float32),
                     grid_transform(345_000.0, 4_122_500.0, 100.0), "EPSG:32642")
    return pd.DataFrame({"name": ["risk"], "cog": [base64.b64encode(path.read_bytes()).decode()]})


def test_kde_demand_integrates_the_surface(tmp_path: Path) -> None:
    import h3

    from riskmap.etl.planning import kde_demand

    cells, demand = kde_demand(_uniform_kde(tmp_path, 10.0), world_mahallas())
    assert len(cells) > 0 and (cells["incidents"] == 0).all()
    # 10 incidents per km2 times each res-9 cell's area (its children tile it exactly)
    expected = [10.0 * h3.cell_area(h3.int_to_str(int(c)), "km^2") for c in cells["h3"]]
    np.testing.assert_allclose(cells["risk"], expected, rtol=1e-6)
    assert demand["risk"].sum() == pytest.approx(cells["risk"].sum())
    frames = _frames()
    frames.risk_layer = _uniform_kde(tmp_path, 10.0)
    res = plan_cameras(frames, budget=1, risk="kde", types=["overview"], exact=False)
    assert res.summary["risk"] == "kde" and res.summary["total_risk"] == pytest.approx(
        cells["risk"].sum())
    assert len(res.plan) == 1
