"""Tests for geo.coverage: sectors, building cuts and coverage figures on hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

import geopandas as gpd
import pyproj
import shapely

from riskmap.geo.coverage import (
    CAMERA_DEFAULTS,
    centroid_xy,
    coverage_gaps,
    coverage_polygons,
    covered_area,
    covered_mask,
    cut_by_buildings,
    fill_camera_defaults,
    geoms_in_crs,
    h3_coverage,
    h3_polygons,
    key_site_coverage,
    local_utm_crs,
    points_xy_in_crs,
    sector_polygons,
    unit_coverage,
)

UTM = 32642  # Tashkent's UTM zone
X0, Y0 = 500_000.0, 4_572_000.0  # ~69.0 E, 41.3 N


def at(bearing_deg: float, dist: float, x0: float = X0, y0: float = Y0) -> tuple[float, float]:
    """Point at a compass bearing and distance from (x0, y0)."""
    b = np.radians(bearing_deg)
    return x0 + dist * np.sin(b), y0 + dist * np.cos(b)


def cameras_utm(xy: list[tuple[float, float] | None], **cols: list) -> gpd.GeoDataFrame:
    """Camera layer given in UTM metres, returned in EPSG:4326 like the real layer."""
    geoms = [None if p is None else shapely.Point(p) for p in xy]
    return gpd.GeoDataFrame(cols, geometry=geoms, crs=UTM).to_crs(4326)


def test_defaults_are_documented_values() -> None:
    assert CAMERA_DEFAULTS["face_recognition"]["range_m"] == 30
    assert CAMERA_DEFAULTS["face_recognition"]["fov_deg"] == 60
    assert CAMERA_DEFAULTS["licence_plate"]["range_m"] == 40
    assert CAMERA_DEFAULTS["licence_plate"]["fov_deg"] == 30
    assert CAMERA_DEFAULTS["traffic"]["range_m"] == 80
    assert CAMERA_DEFAULTS["traffic"]["fov_deg"] == 90
    assert CAMERA_DEFAULTS["overview"] == {"range_m": 120, "fov_deg": 360, "height_m": 8}


def test_fill_defaults_keeps_given_values_and_leaves_unknown_type_missing() -> None:
    df = pd.DataFrame(
        {"type": ["traffic", "overview", "bogus", None], "fov_deg": [45.0, None, None, None]}
    )
    out = fill_camera_defaults(df)
    assert out["fov_deg"].tolist()[:2] == [45.0, 360.0]
    assert out["range_m"].tolist()[:2] == [80.0, 120.0]
    assert out[["fov_deg", "range_m"]].iloc[2:].isna().all().all()
    assert out["bearing_deg"].isna().all()
    assert "bearing_deg" not in df  # input untouched


def test_local_utm_zone_by_longitude() -> None:
    assert local_utm_crs(69.24, 41.31).to_epsg() == 32642
    assert local_utm_crs(65.9, 40.1).to_epsg() == 32641
    assert local_utm_crs(-70.0, -33.0).to_epsg() == 32719


def test_dome_is_disc_within_one_percent() -> None:
    cams = cameras_utm([(X0, Y0)], type=["overview"], bearing_deg=[None])
    poly = coverage_polygons(cams).to_crs(UTM)
    assert poly.crs is not None
    area = float(poly.area.iloc[0])
    assert area == pytest.approx(np.pi * 120**2, rel=0.01)
    assert shapely.distance(poly.iloc[0].centroid, shapely.Point(X0, Y0)) < 0.01


def test_sector_wrapping_through_north() -> None:
    # bearing 350, fov 60: the view spans 320 .. 20 degrees
    cams = cameras_utm([(X0, Y0)], type=["traffic"], bearing_deg=[350.0], fov_deg=[60.0])
    poly = coverage_polygons(cams).to_crs(UTM).iloc[0]
    probes = [at(b, 50.0) for b in (355.0, 15.0, 325.0, 180.0, 30.0, 90.0)]
    inside = shapely.contains_xy(poly, *np.array(probes).T).tolist()
    assert inside == [True, True, True, False, False, False]
    assert poly.area == pytest.approx(np.pi * 80**2 * 60 / 360, rel=0.01)


def test_missing_values_give_none_not_errors() -> None:
    cams = cameras_utm(
        [None, (X0, Y0), (X0, Y0), (X0, Y0)],
        type=["traffic", "traffic", "bogus", "bogus"],
        bearing_deg=[0.0, None, 0.0, 0.0],
        fov_deg=[None, None, None, 360.0],
        range_m=[None, None, None, 10.0],
    )
    polys = coverage_polygons(cams)
    assert polys.isna().tolist() == [True, True, True, False]
    assert polys.to_crs(UTM).area.iloc[3] == pytest.approx(np.pi * 100, rel=0.01)


def test_empty_camera_layer() -> None:
    cams = gpd.GeoDataFrame({"type": []}, geometry=[], crs=4326)
    assert len(coverage_polygons(cams)) == 0


def test_layer_without_crs_is_refused() -> None:
    cams = gpd.GeoDataFrame({"type": ["overview"]}, geometry=[shapely.Point(69, 41)])
    with pytest.raises(ValueError, match="no CRS"):
        coverage_polygons(cams)


@settings(max_examples=40, deadline=None)
@given(
    bearing=st.floats(0, 360),
    fov=st.floats(5, 355),
    probe=st.floats(0, 1),
    dist=st.floats(0.05, 0.9),
)
def test_sector_contains_exactly_its_angular_window(
    bearing: float, fov: float, probe: float, dist: float
) -> None:
    poly = sector_polygons([0.0], [0.0], [bearing], [fov], [100.0], resolution=32)[0]
    assert poly.is_valid
    assert poly.area == pytest.approx(np.pi * 1e4 * fov / 360, rel=0.01)
    inside_angle = bearing - fov / 2 + 0.02 * fov + probe * 0.96 * fov
    outside_angle = bearing + fov / 2 + 1.0 + probe * (358.0 - fov)
    assert shapely.contains_xy(poly, *at(inside_angle, 100 * dist, 0, 0))
    assert not shapely.contains_xy(poly, *at(outside_angle, 100 * dist, 0, 0))


def test_building_blocks_itself_and_its_shadow() -> None:
    sector = sector_polygons([0.0], [0.0], [90.0], [90.0], [100.0], resolution=64)
    building = np.array([shapely.box(40, -5, 50, 5)])  # straight ahead (east), 10 m wide
    cut = cut_by_buildings(sector, [0.0], [0.0], [100.0], building)[0]
    # lost: the wedge between the grazing rays beyond the front face, i.e. wedge minus the triangle
    half = np.arctan(5 / 40)
    lost = 100**2 * half - 40 * 5
    assert sector[0].area - cut.area == pytest.approx(lost, rel=0.01)
    hits = shapely.contains_xy(cut, [30, 45, 60, 99, 60], [0, 0, 0, 0, 20]).tolist()
    assert hits == [True, False, False, False, True]


def test_building_carrying_the_camera_is_ignored() -> None:
    sector = sector_polygons([0.0], [0.0], [90.0], [90.0], [50.0])
    wall = np.array([shapely.box(-10, -10, 0, 10), None])
    cut = cut_by_buildings(sector, [0.0], [0.0], [50.0], wall)
    assert cut[0].equals(sector[0])


def test_buildings_through_the_geodataframe_adapter() -> None:
    cams = cameras_utm([(X0, Y0)], type=["overview"])
    house = gpd.GeoSeries([shapely.box(X0 + 20, Y0 - 20, X0 + 60, Y0 + 20)], crs=UTM)
    plain = coverage_polygons(cams).to_crs(UTM).iloc[0]
    cut = coverage_polygons(cams, buildings=house).to_crs(UTM).iloc[0]
    # the shadow of a 40 m square 20 m away spans +-45 degrees: a quarter of the disc beyond x=20
    assert not cut.contains(shapely.Point(X0 + 100, Y0))
    assert cut.contains(shapely.Point(X0 - 100, Y0))
    lost = plain.area - cut.area
    assert lost == pytest.approx(np.pi * 120**2 / 4 - 20 * 20, rel=0.02)


def test_covered_area_counts_overlap_once() -> None:
    units = np.array([shapely.box(0, 0, 10, 10), shapely.box(20, 0, 30, 10), None])
    cover = np.array([shapely.box(-5, 0, 5, 10), shapely.box(0, 0, 5, 5), None])
    assert covered_area(units, cover)[:2].tolist() == [50.0, 0.0]
    assert np.isnan(covered_area(units, cover)[2])
    assert covered_area(units, np.array([None])).tolist()[:2] == [0.0, 0.0]


def test_covered_mask_boundary_and_nan() -> None:
    mask = covered_mask([1.0, 2.0, 3.0, np.nan], [1.0, 2.0, 1.0, 1.0], [shapely.box(0, 0, 2, 2)])
    assert mask.tolist() == [True, True, False, False]


def test_unit_coverage_camera_facing_a_polygon_edge() -> None:
    # mahalla A: 100 m square; a traffic camera in the middle of its south edge faces north
    # (90 degrees, 40 m) -> a quarter disc entirely inside A: pi 40^2 / 4 / 100^2 = 12.57 %
    units = gpd.GeoDataFrame(
        {"mahalla_id": ["A", "B"]},
        geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100), shapely.box(X0, Y0 - 100, X0 + 100, Y0)],
        crs=UTM,
    ).to_crs(4326)
    cams = cameras_utm(
        [(X0 + 50, Y0), (X0 + 50, Y0 - 50), (X0 + 10, Y0 - 10)],
        camera_id=[1, 2, 3],
        type=["traffic", "face_recognition", "licence_plate"],
        bearing_deg=[0.0, 180.0, 90.0],
        fov_deg=[90.0, 60.0, 30.0],
        range_m=[40.0, 30.0, 40.0],
    )
    cov = coverage_polygons(cams.iloc[:1])
    incidents = gpd.GeoDataFrame(
        geometry=[
            shapely.Point(X0 + 50, Y0 + 20),
            shapely.Point(X0 + 90, Y0 + 90),
            None,
            shapely.Point(X0 + 50, Y0 - 20),
        ],
        crs=UTM,
    ).to_crs(4326)
    risk = gpd.GeoDataFrame(
        {"risk": [3.0, 1.0, np.nan]},
        geometry=[
            shapely.Point(X0 + 55, Y0 + 10),
            shapely.Point(X0 + 5, Y0 + 95),
            shapely.Point(X0 + 50, Y0 + 5),
        ],
        crs=UTM,
    )
    out = unit_coverage(units, cov, incidents=incidents, risk=risk, cameras=cams)
    a, b = out.iloc[0], out.iloc[1]
    assert a["area_m2"] == pytest.approx(10_000, rel=1e-3)
    assert a["area_share"] == pytest.approx(np.pi * 40**2 / 4 / 10_000, rel=0.01)
    assert b["area_share"] == pytest.approx(0.0, abs=1e-9)
    assert (a["incidents"], a["incidents_covered"], a["incident_share"]) == (2, 1, 0.5)
    assert (b["incidents"], b["incidents_covered"]) == (1, 0)
    assert (a["risk"], a["risk_covered"], a["risk_share"]) == (4.0, 3.0, 0.75)
    assert np.isnan(b["risk_share"])  # no risk in B: share undefined
    # camera 1 stands on the shared edge: it is counted once, in the first unit listed
    assert out["cameras"].tolist() == [1, 2]
    assert out["cameras_traffic"].tolist() == [1, 0]
    assert out["cameras_face_recognition"].tolist() == [0, 1]
    assert out["cameras_licence_plate"].tolist() == [0, 1]


def test_unit_coverage_risk_from_a_raster() -> None:
    units = gpd.GeoDataFrame(
        {"zone": ["Z"]}, geometry=[shapely.box(X0, Y0, X0 + 40, Y0 + 40)], crs=UTM
    )
    # 4 x 4 raster of 10 m cells; a dome of 15 m at the south-west corner covers the 1 cell centre
    raster = np.arange(16, dtype=float).reshape(4, 4)  # row 3 is the southernmost
    transform = Affine(10, 0, X0, 0, -10, Y0 + 40)
    cams = cameras_utm([(X0, Y0)], type=["overview"], range_m=[15.0])
    out = unit_coverage(
        units, coverage_polygons(cams), unit_id="zone", risk=(raster, transform, UTM)
    )
    assert out["risk"].iloc[0] == raster.sum()
    assert out["risk_covered"].iloc[0] == raster[3, 0] == 12.0


def test_h3_coverage_and_gaps() -> None:
    import h3

    cells = np.array(
        [
            h3.str_to_int(h3.latlng_to_cell(41.31, 69.24, 9)),
            h3.str_to_int(h3.latlng_to_cell(41.33, 69.30, 9)),
        ],
        dtype=np.int64,
    )
    poly = h3_polygons(cells)
    assert poly.crs.to_epsg() == 4326
    assert (poly.geom_type == "Polygon").all()
    centre = poly.iloc[0].centroid
    # a 1 km dome covers the whole first cell (edge ~ 0.17 km) and nothing of the second
    dome = gpd.GeoDataFrame(
        {"type": ["overview"], "range_m": [1000.0]}, geometry=[centre], crs=4326
    )
    frame = h3_coverage(cells, coverage_polygons(dome), risk=np.array([5.0, 2.0]))
    assert frame["covered_share"].tolist() == pytest.approx([1.0, 0.0], abs=1e-6)
    assert frame["gap"].tolist() == pytest.approx([0.0, 2.0], abs=1e-6)
    gaps = coverage_gaps(cells, coverage_polygons(dome), np.array([5.0, 2.0]), top=1)
    assert gaps["h3"].tolist() == [cells[1]]
    assert gaps["rank"].tolist() == [1]


def test_key_sites_covered_and_nearest_camera() -> None:
    cams = cameras_utm(
        [(X0, Y0), (X0 + 500, Y0)],
        camera_id=["c1", "c2"],
        type=["traffic", "overview"],
        bearing_deg=[90.0, None],
    )
    sites = gpd.GeoDataFrame(
        {"kind": ["school", "bus_stop", "market", "hotel"]},
        geometry=[
            shapely.Point(X0 + 50, Y0),
            shapely.Point(X0 - 50, Y0),
            shapely.Point(X0 + 300, Y0),
            None,
        ],
        crs=UTM,
    ).to_crs(4326)
    out = key_site_coverage(sites, coverage_polygons(cams), cams)
    assert out["covered"].tolist() == [True, False, False, False]
    assert out["nearest_camera"].iloc[:3].tolist() == ["c1", "c1", "c2"]
    assert pd.isna(out["nearest_camera"].iloc[3])
    assert out["nearest_m"].iloc[:3].tolist() == pytest.approx([50.0, 50.0, 200.0], rel=1e-3)
    assert np.isnan(out["nearest_m"].iloc[3])
    assert out["kind"].tolist() == ["school", "bus_stop", "market", "hotel"]


def test_unit_coverage_with_no_coverage_and_no_cameras() -> None:
    units = gpd.GeoDataFrame(
        {"mahalla_id": [7]}, geometry=[shapely.box(X0, Y0, X0 + 100, Y0 + 100)], crs=UTM
    )
    incidents = gpd.GeoDataFrame(geometry=[shapely.Point(X0 + 5, Y0 + 5)], crs=UTM)
    none_cams = gpd.GeoDataFrame({"type": []}, geometry=[], crs=4326)
    for cov in (gpd.GeoSeries([], crs=4326), gpd.GeoSeries([None], crs=4326)):
        out = unit_coverage(units, cov, incidents=incidents, cameras=none_cams)
        assert out["covered_m2"].tolist() == [0.0]
        assert out["area_share"].tolist() == [0.0]
        assert out["incidents"].tolist() == [1]
        assert out["incident_share"].tolist() == [0.0]
        assert out["cameras"].tolist() == [0]


@pytest.mark.parametrize("source", [4326, UTM, 3857])
def test_points_xy_in_crs_equals_reprojecting_the_geometries(source):
    """Points projected as arrays give exactly what re-projecting the geometries and taking
    their centroids gives; other shapes still use their centroid in the target CRS; None and
    empty geometries give NaN (GEOS refuses an empty point's coordinates)."""
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(68.5, 69.5, 500), rng.uniform(41.0, 41.6, 500)
    geoms = list(shapely.points(lon, lat))
    geoms[7], geoms[8] = None, shapely.Point()
    geoms[9] = shapely.box(69.0, 41.3, 69.002, 41.301)
    geoms[10] = shapely.LineString([(69.0, 41.3), (69.01, 41.31)])
    series = gpd.GeoSeries(geoms, crs=4326).to_crs(source)
    target = pyproj.CRS.from_epsg(UTM)
    x, y = points_xy_in_crs(gpd.GeoDataFrame(geometry=series), target, "points")
    ex, ey = centroid_xy(geoms_in_crs(series, target, "points"))
    np.testing.assert_array_equal(x, ex)
    np.testing.assert_array_equal(y, ey)
    assert np.isnan(x[[7, 8]]).all() and np.isfinite(x[9:11]).all()
    plain = pd.DataFrame({"lon": lon, "lat": lat})
    plain.loc[7, "lon"] = np.nan
    px, py = points_xy_in_crs(plain, target, "points")
    keep = np.r_[0:7, 11:500]
    if source == 4326:  # the same coordinates as the points made from them
        np.testing.assert_array_equal(px[keep], x[keep])
        np.testing.assert_array_equal(py[keep], y[keep])
    assert np.isnan(px[7]) and np.isnan(py[7])
    with pytest.raises(ValueError, match="needs lon and lat"):
        points_xy_in_crs(pd.DataFrame({"x": [1.0]}), target, "points")
    with pytest.raises(ValueError, match="sites have no CRS"):
        points_xy_in_crs(gpd.GeoSeries(geoms[:3]), target, "sites")


@pytest.mark.parametrize("polygons", ["small", "tiling"])
def test_covered_pairs_by_sorted_x_equal_the_tree_query(polygons, monkeypatch):
    """The binary search over points sorted by x (small polygons) finds exactly the pairs of
    the STRtree query, boundary points, NaN points and None/empty polygons included."""
    from riskmap.geo import coverage
    from riskmap.geo.coverage import _covered_pairs_tree, covered_pairs_xy

    rng = np.random.default_rng(11)
    x = np.round(rng.uniform(0, 100, 20_000), 1)  # many points exactly on box edges
    y = np.round(rng.uniform(0, 100, 20_000), 1)
    x[:5] = np.nan
    if polygons == "small":
        cx, cy = rng.uniform(0, 100, (2, 60))
        geoms = shapely.box(cx, cy, cx + 0.8, cy + 1.0).astype(object)
        geoms[[3, 4]] = shapely.buffer(shapely.points(cx[[3, 4]], cy[[3, 4]]), 2.0)
    else:
        gx, gy = np.meshgrid(np.arange(0, 100, 10.0), np.arange(0, 100, 10.0))
        geoms = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + 10, gy.ravel() + 10).astype(object)
    geoms[0], geoms[1] = None, shapely.Polygon()
    if polygons == "small":  # the sorted-x path must be the one taken
        monkeypatch.setattr(coverage, "_covered_pairs_tree", None)
    got = covered_pairs_xy(x, y, geoms)
    want = _covered_pairs_tree(x, y, geoms, np.flatnonzero(np.isfinite(x) & np.isfinite(y)))
    assert len(got[0]) > (100 if polygons == "small" else 10_000)
    assert sorted(zip(*got, strict=True)) == sorted(zip(*want, strict=True))


def test_each_point_goes_to_the_first_unit_holding_it() -> None:
    """Overlapping units: the lowest position wins; a point in none gets -1 (as the sort of
    every pair did before)."""
    from riskmap.geo.coverage import _assign

    units = np.array([shapely.box(0, 0, 10, 10), shapely.box(5, 0, 15, 10),
                      shapely.box(20, 20, 30, 30)], dtype=object)
    x = np.array([1.0, 7.0, 12.0, 25.0, 50.0, 7.0])
    y = np.array([1.0, 5.0, 5.0, 25.0, 50.0, 5.0])
    assert _assign(x, y, units).tolist() == [0, 0, 1, 2, -1, 0]
    assert _assign(x, y, units[::-1].copy()).tolist() == [2, 1, 1, 0, -1, 1]
    assert _assign(np.empty(0), np.empty(0), units).tolist() == []


def _grid_units(overlap: bool) -> np.ndarray:
    """Unit squares tiling [0, 4]^2 (shared edges), one missing, one empty; with ``overlap``
    a square across four of them added first (points in it go to it: the first unit wins)."""
    units = [shapely.box(i, j, i + 1, j + 1) for i in range(4) for j in range(4)]
    units[5] = None
    units[6] = shapely.Polygon()
    if overlap:
        units.insert(0, shapely.box(1.5, 1.5, 2.5, 2.5))
    return np.array(units, dtype=object)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), overlap=st.booleans(), spread=st.sampled_from([0.02, 0.3, 1.5]))
def test_runs_of_points_are_assigned_as_point_by_point(seed: int, overlap: bool,
                                                       spread: float) -> None:
    """Settling a run of points by its box (the demand of one H3 cell) gives, point for point,
    the unit and the coverage that testing each point gives: runs inside one unit, across
    edges, on edges (exactly), outside everything, with NaN, of one point or in a line."""
    from riskmap.geo.coverage import _assign

    rng = np.random.default_rng(seed)
    centres = rng.uniform(-0.5, 4.5, size=(60, 2))
    centres[:5] = np.round(centres[:5])  # runs around grid corners and edges
    sizes = rng.integers(1, 12, size=len(centres))
    key = np.repeat(np.arange(len(centres)), sizes)
    x = np.repeat(centres[:, 0], sizes) + rng.uniform(-spread, spread, len(key))
    y = np.repeat(centres[:, 1], sizes) + rng.uniform(-spread, spread, len(key))
    x[rng.random(len(key)) < 0.05] = np.nan
    x[:20] = np.round(x[:20])  # points exactly on edges
    y[30:40] = 2.0  # a run in a line
    units = _grid_units(overlap)
    cov = np.array([shapely.box(0.2, 0.2, 1.9, 1.1), shapely.Point(3, 3).buffer(0.6), None],
                   dtype=object)
    assert _assign(x, y, units, key).tolist() == _assign(x, y, units).tolist()
    assert covered_mask(x, y, cov, key).tolist() == covered_mask(x, y, cov).tolist()


def test_runs_without_any_unit_or_polygon_are_nowhere() -> None:
    from riskmap.geo.coverage import _assign

    x, y, key = np.array([0.5, 0.6, 2.0]), np.array([0.5, 0.7, 2.0]), np.array([1, 1, 2])
    nothing = np.array([None, shapely.Polygon()], dtype=object)
    assert _assign(x, y, nothing, key).tolist() == [-1, -1, -1]
    assert covered_mask(x, y, nothing, key).tolist() == [False, False, False]
