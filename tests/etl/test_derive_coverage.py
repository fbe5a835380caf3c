"""Tests of the coverage build step on a two-mahalla world whose figures can be checked by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from riskmap.etl.derive_coverage import (
    build,
    coverage_layers,
    key_sites,
    mahalla_entrances,
    recent_spatial_mask,
    risk_per_cell,
)
from riskmap.geo.coverage import sector_polygons
from riskmap.geo.h3index import cells_from_lonlat
from riskmap.layers import open_store
from riskmap.layers.store import Store
from riskmap.settings import Settings

#: two 0.01-degree squares side by side near Termiz: A (west) and B (east)
LON0, LAT0, S = 67.27, 37.21, 0.01
DISTRICT, REGION = "Termiz shahri", "Surxondaryo viloyati"
A_CENTRE = (LON0 + S / 2, LAT0 + S / 2)
B_CENTRE = (LON0 + 1.5 * S, LAT0 + S / 2)
UNTIL = pd.Timestamp("2025-06-30 12:00", tz="UTC")
#: metres per degree of longitude / latitude at the world's latitude (spherical earth)
M_LAT = 6_371_008.8 * math.pi / 180
M_LON = M_LAT * math.cos(math.radians(LAT0 + S / 2))


def world_mahallas() -> gpd.GeoDataFrame:
    """Mahallas ``T-A`` (Bog‘ishamol) and ``T-B`` (Navro'z)."""
    return gpd.GeoDataFrame({
        "mahalla_id": ["T-A", "T-B"], "name": ["Bog‘ishamol", "Navro'z"],
        "name_cyrillic": [None, None], "district": [DISTRICT] * 2, "region": [REGION] * 2,
        "population": [1000.0, 2000.0],
    }, geometry=[shapely.box(LON0, LAT0, LON0 + S, LAT0 + S),
                 shapely.box(LON0 + S, LAT0, LON0 + 2 * S, LAT0 + S)], crs=4326)


def world_infrastructure() -> gpd.GeoDataFrame:
    """Roads: one east-west through both mahallas (crosses the shared boundary once), one
    north-south entering A from the south, one short north-south inside B crossing the first;
    a bus stop 0.0005 deg east of A's centre, a school and a market in B, and a tourist zone
    covering the west half of A (so it holds half of the dome at A's centre)."""
    y = LAT0 + S / 2
    geoms = [
        shapely.LineString([(LON0 + 0.002, y), (LON0 + 0.018, y)]),
        shapely.LineString([(LON0 + 0.003, LAT0 - 0.002), (LON0 + 0.003, LAT0 + 0.004)]),
        shapely.LineString([(LON0 + 0.015, LAT0 + 0.003), (LON0 + 0.015, LAT0 + 0.007)]),
        shapely.Point(A_CENTRE[0] + 0.0005, A_CENTRE[1]),
        shapely.Point(LON0 + 0.015, LAT0 + 0.002),
        shapely.Point(*B_CENTRE),
        shapely.box(LON0, LAT0, A_CENTRE[0], LAT0 + S),
    ]
    return gpd.GeoDataFrame({
        "feature_id": ["R1", "R2", "R3", "BS1", "SC1", "MK1", "Z1"],
        "kind": ["road", "road", "road", "bus_stop", "school", "market", "tourist_zone"],
        "name": ["Main", "South", "Cross", "Stop", "School 1", "Bazaar", "West park"],
        "road_class": ["primary", "secondary", "tertiary", None, None, None, None],
        "mahalla_id": [None, None, None, "T-A", None, "T-B", "T-A"],
        "district": [DISTRICT] * 7, "region": [REGION] * 7,
    }, geometry=geoms, crs=4326)


def world_cameras() -> gpd.GeoDataFrame:
    """An active overview dome (120 m) at A's centre, a broken and a planned camera in B."""
    return gpd.GeoDataFrame({
        "camera_id": ["C1", "C2", "C3"],
        "type": ["overview", "traffic", "overview"],
        "bearing_deg": [np.nan, 90.0, np.nan], "fov_deg": [360.0, 90.0, 360.0],
        "range_m": [120.0, 80.0, 120.0], "height_m": [8.0, 6.0, 8.0],
        "status": ["active", "broken", "planned"],
        "mahalla_id": ["T-A", "T-B", "T-B"], "district": [DISTRICT] * 3, "region": [REGION] * 3,
    }, geometry=[shapely.Point(*A_CENTRE), shapely.Point(*B_CENTRE),
                 shapely.Point(LON0 + 0.018, LAT0 + 0.009)], crs=4326)


def world_incidents(b_cluster: int = 5) -> gpd.GeoDataFrame:
    """10 recent thefts within ~30 m of A's centre (covered), ``b_cluster`` recent assaults
    within ~10 m of B's centre (not covered), 3 frauds (no place), 2 old thefts at A's centre."""
    rng = np.random.default_rng(3)
    lon = np.r_[A_CENTRE[0] + rng.uniform(-2e-4, 2e-4, 10), B_CENTRE[0] + rng.uniform(-5e-5, 5e-5,
                b_cluster), [B_CENTRE[0]] * 3, [A_CENTRE[0]] * 2]
    lat = np.r_[A_CENTRE[1] + rng.uniform(-2e-4, 2e-4, 10), B_CENTRE[1] + rng.uniform(-5e-5, 5e-5,
                b_cluster), [B_CENTRE[1]] * 3, [A_CENTRE[1]] * 2]
    cat = ["theft"] * 10 + ["assault"] * b_cluster + ["fraud"] * 3 + ["theft"] * 2
    when = [UNTIL - pd.Timedelta(days=int(d)) for d in rng.integers(0, 300, 10 + b_cluster)]
    when += [UNTIL - pd.Timedelta(days=10)] * 3 + [UNTIL - pd.Timedelta(days=700)] * 2
    n = len(lon)
    precision = np.array(["coordinates"] * n, dtype=object)
    precision[10 + b_cluster:13 + b_cluster] = "mahalla"
    geoms = shapely.points(lon, lat)
    geoms[precision == "mahalla"] = shapely.from_wkt("POINT EMPTY")
    mahalla = np.where(lon < LON0 + S, "T-A", "T-B")
    return gpd.GeoDataFrame({
        "incident_id": [f"I{i:03d}" for i in range(n)],
        "occurred_at": pd.to_datetime(when, utc=True), "category": cat,
        "h3": cells_from_lonlat(lon, lat, 9), "mahalla_id": mahalla,
        "district": [DISTRICT] * n, "region": [REGION] * n, "geocode_precision": precision,
        "flags": [""] * n, "source_file": ["t.csv"] * n, "source_row": np.arange(n) + 2,
        "content_hash": np.arange(n),
    }, geometry=geoms, crs=4326)


def coverage_world(root: Path, *, b_cluster: int = 5) -> Store:
    """An embedded store in ``root`` holding the whole world."""
    store = open_store(str(root))
    with store.transaction() as txn:
        txn.replace("mahallas", world_mahallas())
        txn.replace("infrastructure", world_infrastructure())
        txn.replace("cameras", world_cameras())
        txn.replace("incidents", world_incidents(b_cluster))
    return store


def _dome_area(r: float = 120.0) -> float:
    """Area of the 32-segment disc the coverage polygons use."""
    return float(shapely.area(sector_polygons([0.0], [0.0], [0.0], [360.0], [r])[0]))


# --------------------------------------------------------------------------------------------
def test_entrances_are_the_road_boundary_crossings() -> None:
    got = mahalla_entrances(world_mahallas(), world_infrastructure().iloc[:3])
    xy = np.round(shapely.get_coordinates(got.geometry.values), 6).tolist()
    assert got["mahalla_id"].tolist() == ["T-A", "T-A", "T-B"]
    assert xy == [[LON0 + 0.003, LAT0], [LON0 + S, LAT0 + S / 2], [LON0 + S, LAT0 + S / 2]]
    assert got["site_id"].tolist() == ["entrance:T-A:1", "entrance:T-A:2", "entrance:T-B:1"]
    assert set(got["kind"]) == {"entrance"}


def test_entrances_of_nothing_is_empty() -> None:
    got = mahalla_entrances(world_mahallas(), gpd.GeoSeries([], crs=4326))
    assert len(got) == 0 and list(got.columns)[:2] == ["site_id", "kind"]


def test_key_sites_fill_the_mahalla_of_points() -> None:
    sites = key_sites(world_mahallas(), world_infrastructure()).set_index("site_id")
    assert sorted(sites.index) == ["BS1", "MK1", "SC1", "entrance:T-A:1", "entrance:T-A:2",
                                   "entrance:T-B:1"]
    assert sites.loc["SC1", "mahalla_id"] == "T-B"  # filled by point-in-polygon


def test_recent_spatial_mask_drops_old_nonspatial_and_imprecise() -> None:
    inc = world_incidents()
    keep = recent_spatial_mask(inc, months=12)
    assert keep.sum() == 15  # 10 thefts + 5 assaults; not the frauds nor the old thefts
    assert recent_spatial_mask(inc, months=12, precise_only=False).sum() == 15
    assert recent_spatial_mask(inc.iloc[:0]).shape == (0,)


def test_risk_per_cell_counts_and_kde() -> None:
    inc = world_incidents()
    risk = risk_per_cell(inc)
    assert risk["incidents"].sum() == 15 and (risk["risk"] == risk["incidents"]).all()
    kde = pd.DataFrame({"h3": risk["h3"], "kde": np.arange(1.0, len(risk) + 1)})
    got = risk_per_cell(inc, kde=kde)
    assert got["risk"].tolist() == list(np.arange(1.0, len(risk) + 1))
    with pytest.raises(ValueError, match="expected 'h3'"):
        risk_per_cell(inc, kde=pd.DataFrame({"h3": [1], "zzz": [1.0]}))


def test_coverage_layers_hand_checked() -> None:
    out = coverage_layers(world_mahallas(), world_cameras(), world_incidents(),
                          world_infrastructure(), until=UNTIL)
    assert out["camera_coverage"]["camera_id"].tolist() == ["C1"]  # broken/planned left out
    m = out["coverage_mahalla"].set_index("mahalla_id")
    area_a = (S * M_LON) * (S * M_LAT)
    assert m.loc["T-A", "area_m2"] == pytest.approx(area_a, rel=0.01)
    assert m.loc["T-A", "covered_m2"] == pytest.approx(_dome_area(), rel=0.01)
    assert m.loc["T-A", "area_covered_pct"] == pytest.approx(100 * _dome_area() / area_a,
                                                             rel=0.02)
    assert m.loc["T-B", "area_covered_pct"] == 0.0
    assert (m.loc["T-A", "incidents"], m.loc["T-A", "incidents_covered"]) == (10, 10)
    assert m.loc["T-A", "incidents_covered_pct"] == 100.0
    assert (m.loc["T-B", "incidents"], m.loc["T-B", "incidents_covered_pct"]) == (5, 0.0)
    assert 0 < m.loc["T-A", "risk_covered_pct"] < 100 and m.loc["T-B", "risk_covered_pct"] == 0
    assert m.loc["T-A", ["cameras", "cameras_overview", "cameras_traffic"]].tolist() == [1, 1, 0]
    assert m.loc["T-B", "cameras"] == 0
    sites = out["coverage_sites"].set_index("site_id")
    assert bool(sites.loc["BS1", "covered"]) and not bool(sites.loc["SC1", "covered"])
    assert sites.loc["BS1", "nearest_camera"] == "C1"
    assert sites.loc["BS1", "nearest_camera_m"] == pytest.approx(0.0005 * M_LON, abs=1.0)
    zone = out["coverage_zones"].set_index("feature_id").loc["Z1"]
    assert zone["covered_m2"] == pytest.approx(_dome_area() / 2, rel=0.01)
    thefts = world_incidents().iloc[:10].geometry.x.to_numpy()
    assert zone["incidents"] == (thefts < A_CENTRE[0]).sum()  # the recent thefts west of centre
    assert zone["incidents_covered_pct"] == 100.0  # all within 30 m of the camera
    h3 = out["coverage_h3"]
    np.testing.assert_allclose(h3["gap"], h3["risk"] * (1 - h3["covered_share"]))
    assert sorted(h3["rank"]) == list(range(1, len(h3) + 1))
    assert (np.diff(h3.sort_values("rank")["gap"].to_numpy()) <= 1e-12).all()
    b_cell = cells_from_lonlat(np.array([B_CENTRE[0]]), np.array([B_CENTRE[1]]), 9)[0]
    row = h3[h3["h3"] == b_cell].iloc[0]
    assert (row["risk"], row["gap"], row["region"]) == (5.0, 5.0, REGION)


def test_coverage_layers_without_cameras() -> None:
    out = coverage_layers(world_mahallas(), world_cameras().iloc[:0], world_incidents(),
                          world_infrastructure(), until=UNTIL)
    assert len(out["camera_coverage"]) == 0
    assert (out["coverage_mahalla"]["area_covered_pct"] == 0).all()
    assert not out["coverage_sites"]["covered"].any()
    assert out["coverage_sites"]["nearest_camera_m"].isna().all()


def test_build_writes_every_layer(tmp_path: Path) -> None:
    store = coverage_world(tmp_path / "s")
    summary = build(store, Settings(_env_file=None, store=store.url))
    assert summary["risk"] == "counts"
    for name in ("camera_coverage", "coverage_mahalla", "coverage_h3", "coverage_zones",
                 "coverage_sites"):
        assert store.count(name) == summary[name]
    back = store.read("coverage_mahalla")
    assert back.crs.to_epsg() == 4326 and set(back["mahalla_id"]) == {"T-A", "T-B"}
    assert store.read("coverage_sites")["covered"].sum() == 1
