"""Real files, today's libraries: every input format and the real police files load without a crash.

Read-only arrays, point geometry as the location, missing CRS, every XLSX sheet, uncalculated
formulas, repeated headers, over-long ids, split date columns; then the real files in
``../shared/data/real-crime`` (US and Canadian cities) over test mahallas built on their extent.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

import geopandas as gpd
import pyproj
import shapely

from riskmap.cli import cli
from riskmap.errors import InputFileError
from riskmap.etl.features import ingest_cameras
from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
from riskmap.layers import open_store
from tests.conftest import shared_file
from tests.etl.files import workbook
from tests.etl.grid import centre, grid_frame

NOW = pd.Timestamp("2025-06-01T00:00:00Z")
UTM42 = "EPSG:32642"  # the UTM zone of the test grid near Jizzakh


@pytest.fixture
def world(tmp_path):
    store = open_store(tmp_path / "store")
    store.replace("mahallas", grid_frame())
    return store, load_context(store, aliases=load_aliases(), now=NOW)


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _shpzip(frame: gpd.GeoDataFrame, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / f"{name}_shp"
    folder.mkdir()
    with pytest.warns() as caught:  # pyogrio warns about truncated names and a missing CRS
        frame.to_file(folder / f"{name}.shp")
    assert all(issubclass(w.category, UserWarning | RuntimeWarning) for w in caught)
    return Path(shutil.make_archive(str(tmp_path / name), "zip", folder))


def _cli(*args: object, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def _clean_failure(result, *needles: str) -> None:
    """A failed command: one message, no traceback, no 'unexpected error'."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output and "unexpected error" not in result.output
    for needle in needles:
        assert needle in result.output, result.output


# ---- 1. read-only arrays ----------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_swapped_numeric_coordinates_load(world, tmp_path, fmt):
    """Numeric lat/lon come out of pandas 3 / Arrow as read-only arrays; the swap fix copies."""
    store, ctx = world
    lon5, lat5 = centre(4)
    frame = pd.DataFrame({"incident_id": ["S1", "S2"], "occurred_at": ["2025-01-01"] * 2,
                          "category": ["theft"] * 2, "lat": [lon5, lat5], "lon": [lat5, lon5]})
    path = tmp_path / f"in.{fmt}"
    frame.to_csv(path, index=False) if fmt == "csv" else frame.to_parquet(path)
    report = ingest_incidents(path, store, ctx)
    assert (report.loaded, report.quarantined) == (2, 0)
    assert report.fixed == {"swapped_coordinates": 1}
    inc = store.read("incidents").set_index("incident_id")
    assert set(inc["mahalla_id"]) == {"M5"}
    assert inc.loc["S1", "geometry"].x == pytest.approx(lon5)
    assert inc.loc["S1", "geometry"].y == pytest.approx(lat5)


# ---- 2. point geometry is the location --------------------------------------------------------

@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "parquet", "shpzip"])
def test_point_geometry_without_lat_lon_columns_is_located(world, tmp_path, fmt):
    store, ctx = world
    lon1, lat1 = centre(0)
    lon9, lat9 = centre(8)
    gdf = gpd.GeoDataFrame({"incident_id": ["G1", "G2"],
                            "occurred_at": ["2025-01-10 10:00", "11.01.2025"],
                            "category": ["theft", "bezorilik"]},
                           geometry=[shapely.Point(lon1, lat1), shapely.Point(lon9, lat9)],
                           crs=4326)
    if fmt == "shpzip":  # names cut to incident_i / occurred_a: mapped back without --map
        path = _shpzip(gdf, tmp_path, "inc")
    elif fmt == "parquet":
        path = tmp_path / "in.parquet"
        gdf.to_parquet(path)
    else:
        path = tmp_path / f"in.{fmt}"
        gdf.to_file(path, driver="GPKG" if fmt == "gpkg" else "GeoJSON")
    report = ingest_incidents(path, store, ctx)
    assert (report.loaded, report.quarantined) == (2, 0), report.by_reason
    assert report.by_precision == {"coordinates": 2}
    inc = store.read("incidents").set_index("incident_id")
    assert inc.loc["G1", "mahalla_id"] == "M1" and inc.loc["G2", "mahalla_id"] == "M9"
    assert inc.loc["G2", "category"] == "hooliganism"
    assert inc.loc["G1", "occurred_at"] == pd.Timestamp("2025-01-10T05:00:00Z")
    assert inc.loc["G1", "geometry"].equals_exact(shapely.Point(lon1, lat1), 1e-9)


def test_geometry_that_is_not_a_point(world, tmp_path):
    """Lines/polygons are not reduced to a made-up point: the address, or invalid_geometry."""
    store, ctx = world
    lon5, lat5 = centre(4)
    square = shapely.box(lon5 - 0.001, lat5 - 0.001, lon5 + 0.001, lat5 + 0.001)
    gdf = gpd.GeoDataFrame({
        "incident_id": ["P1", "P2", "P3", "P4"],
        "occurred_at": ["2025-01-10"] * 4, "category": ["theft"] * 4,
        "address": ["", "Jizzax shahri, Do‘stlik MFY", "", ""],
        "lat": [None, None, None, lat5], "lon": [None, None, None, lon5],
    }, geometry=[square, square, shapely.MultiPoint([(lon5, lat5)]), None], crs=4326)
    path = tmp_path / "mixed.gpkg"
    gdf.to_file(path, driver="GPKG")
    report = ingest_incidents(path, store, ctx)
    assert report.by_reason == {"invalid_geometry": 1}
    assert report.loaded == 3
    inc = store.read("incidents").set_index("incident_id")
    assert inc.loc["P2", "mahalla_id"] == "M1"  # from the address
    assert inc.loc["P2", "flags"] == "coordinates_replaced_by_address"
    assert inc.loc["P3", "mahalla_id"] == "M5"  # a multipoint of one point is that point
    assert inc.loc["P4", "mahalla_id"] == "M5"  # no geometry: the lat/lon columns
    q = store.read("quarantine").iloc[0]
    assert q["reason"] == "invalid_geometry" and "POLYGON" in q["detail"]
    assert "is not a point" in q["detail"]


def test_wkt_geometry_column_in_a_table(world, tmp_path):
    """A quarantine export of a vector file carries the geometry as WKT: it loads again."""
    store, ctx = world
    lon5, lat5 = centre(4)
    path = _write_csv(tmp_path / "wkt.csv", ["incident_id", "occurred_at", "category", "geometry"],
                      [["W1", "2025-01-10", "theft", f"POINT ({lon5} {lat5})"],
                       ["W2", "2025-01-10", "theft", "not wkt"]])
    report = ingest_incidents(path, store, ctx)
    assert report.loaded == 1 and report.by_reason == {"invalid_coordinates": 1}
    assert store.read("incidents")["mahalla_id"].tolist() == ["M5"]


# ---- 3. coordinate reference systems ----------------------------------------------------------

def _to_utm(geoms: list[shapely.Geometry]) -> list[shapely.Geometry]:
    t = pyproj.Transformer.from_crs(4326, UTM42, always_xy=True)
    return [shapely.transform(g, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
            for g in geoms]


def _layer_in_utm(layer: str) -> tuple[gpd.GeoDataFrame, list[shapely.Geometry]]:
    """A small frame of ``layer`` in UTM 42N without a CRS, and its geometries in degrees."""
    if layer == "mahallas":
        frame = grid_frame().drop(columns=["name_cyrillic"])
        degrees = list(frame.geometry)
    else:
        degrees = [shapely.Point(*centre(i)) for i in (0, 4, 8)]
        attrs = {
            "incidents": {"incident_id": ["U1", "U2", "U3"], "occurred_at": ["2025-01-10"] * 3,
                          "category": ["theft"] * 3},
            "cameras": {"camera_id": ["C1", "C2", "C3"], "type": ["overview"] * 3},
            "infrastructure": {"feature_id": ["F1", "F2", "F3"], "kind": ["school"] * 3},
        }[layer]
        frame = gpd.GeoDataFrame(attrs, geometry=degrees, crs=4326)
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=_to_utm(degrees)), degrees


@pytest.mark.parametrize("fmt", ["shpzip", "parquet"])
@pytest.mark.parametrize("layer", ["mahallas", "incidents", "cameras", "infrastructure"])
def test_a_projected_file_without_crs_needs_the_crs_option(tmp_path, layer, fmt):
    store_dir = tmp_path / "store"
    if layer != "mahallas":
        open_store(store_dir).replace("mahallas", grid_frame())
    frame, degrees = _layer_in_utm(layer)
    if fmt == "shpzip":
        path = _shpzip(frame, tmp_path, layer)
    else:
        path = tmp_path / f"{layer}.parquet"
        frame.to_parquet(path)
    before = open_store(store_dir).count(layer)
    refused = _cli("ingest", layer, path, "--store", store_dir, "--no-progress")
    _clean_failure(refused, "no coordinate reference system", "--crs EPSG:")
    assert open_store(store_dir).count(layer) == before
    loaded = _cli("ingest", layer, path, "--store", store_dir, "--crs", UTM42, "--no-progress")
    assert loaded.exit_code == 0, loaded.output
    got = open_store(store_dir).read(layer)
    assert len(got) == len(degrees)
    for g, want in zip(got.geometry, degrees, strict=True):
        assert shapely.equals_exact(shapely.normalize(g), shapely.normalize(
            shapely.MultiPolygon([want]) if g.geom_type == "MultiPolygon" else want), 1e-7)


def test_a_table_of_projected_xy_is_refused_then_reprojected_with_crs(world, tmp_path):
    store, ctx = world
    lonlat = [centre(i) for i in (0, 4, 8)]
    x, y = pyproj.Transformer.from_crs(4326, UTM42, always_xy=True).transform(
        [p[0] for p in lonlat], [p[1] for p in lonlat])
    path = _write_csv(tmp_path / "utm.csv", ["incident_id", "occurred_at", "category", "X", "Y"],
                      [[f"U{i}", "2025-01-10", "theft", f"{x[i]:.3f}", f"{y[i]:.3f}"]
                       for i in range(3)])
    with pytest.raises(InputFileError, match=r"3 of 3 rows .* projected metres.*--crs EPSG:"):
        ingest_incidents(path, store, ctx)
    assert store.count("incidents") == 0 and store.count("quarantine") == 0
    report = ingest_incidents(path, store, ctx, crs=UTM42, mapping={"X": "lon", "Y": "lat"})
    assert report.loaded == 3
    inc = store.read("incidents").set_index("incident_id")
    assert inc.loc[["U0", "U1", "U2"], "mahalla_id"].tolist() == ["M1", "M5", "M9"]
    for i in range(3):
        assert inc.loc[f"U{i}", "geometry"].x == pytest.approx(lonlat[i][0], abs=1e-7)
        assert inc.loc[f"U{i}", "geometry"].y == pytest.approx(lonlat[i][1], abs=1e-7)


def test_a_few_metre_rows_in_a_degree_table_are_quarantined_with_advice(world, tmp_path):
    store, ctx = world
    lon, lat = centre(4)
    rows = [[f"D{i}", "2025-01-10", "theft", lat, lon] for i in range(3)]
    rows.append(["M1", "2025-01-10", "theft", "4441194.1", "399017.4"])
    report = ingest_incidents(_write_csv(tmp_path / "mix.csv", ["incident_id", "occurred_at",
                                                                "category", "lat", "lon"], rows),
                              store, ctx)
    assert report.loaded == 3 and report.by_reason == {"invalid_coordinates": 1}
    detail = store.read("quarantine")["detail"].iloc[0]
    assert "4441194.1" in detail and "--crs" in detail


def test_cameras_table_in_metres_needs_crs(tmp_path):
    store = open_store(tmp_path / "s")
    store.replace("mahallas", grid_frame())
    (x,), (y,) = pyproj.Transformer.from_crs(4326, UTM42, always_xy=True).transform(
        [centre(4)[0]], [centre(4)[1]])
    pd.DataFrame({"camera_id": ["C1"], "type": ["overview"], "x": [x], "y": [y]}).to_csv(
        tmp_path / "c.csv", index=False)
    with pytest.raises(InputFileError, match=r"projected metres.*--crs"):
        ingest_cameras(tmp_path / "c.csv", store)
    report = ingest_cameras(tmp_path / "c.csv", store, crs=UTM42)
    assert report.loaded == 1
    assert store.read("cameras")["mahalla_id"].tolist() == ["M5"]


# ---- 4. every sheet of a workbook; formulas without values ------------------------------------

def test_every_sheet_is_loaded_and_traceable(world, tmp_path):
    store, ctx = world
    lon1, lat1 = centre(0)
    head = ["incident_id", "occurred_at", "category", "lat", "lon"]
    path = workbook(tmp_path / "book.xlsx", {
        "Jan": [head, ["J1", "2025-01-10", "theft", lat1, lon1],
                ["J2", "2025-01-11", "no-such", lat1, lon1]],
        "Empty": [],
        "Feb": [head, ["F1", "2025-02-10", "theft", lat1, lon1], [None] * 5,
                ["F2", "bad date", "theft", lat1, lon1]],
    })
    report = ingest_incidents(path, store, ctx)
    assert report.input_rows == 4 == report.loaded + report.quarantined
    assert report.by_sheet == {"Jan": 2, "Feb": 2}
    assert any("'Empty' has no rows: skipped" in w for w in report.warnings)
    inc = store.read("incidents").set_index("incident_id")
    assert inc.loc["F1", "source_file"] == "book.xlsx[Feb]" and inc.loc["F1", "source_row"] == 2
    q = store.read("quarantine").set_index("source_file")
    assert q.loc["book.xlsx[Jan]", "source_row"] == 3
    assert q.loc["book.xlsx[Jan]", "reason"] == "unknown_category"
    assert q.loc["book.xlsx[Feb]", "source_row"] == 4  # the blank row 3 is not a record
    assert "'bad date'" in q.loc["book.xlsx[Feb]", "detail"]
    # --sheet chooses one sheet through the command line
    res = _cli("ingest", "incidents", path, "--store", tmp_path / "store", "--sheet", "Feb",
               "--no-progress")
    assert res.exit_code == 0 and "2 rows" in res.output, res.output


def test_uncalculated_formulas_are_quarantined(world, tmp_path):
    store, ctx = world
    lon1, lat1 = centre(0)
    wb = Workbook()
    ws = wb.active
    ws.append(["incident_id", "occurred_at", "category", "lat", "lon"])
    ws.append(["X1", "2025-01-10", "theft", lat1, lon1])
    ws.append(["X2", "2025-01-10", "theft", "=D2", lon1])  # openpyxl stores no value
    wb.save(tmp_path / "f.xlsx")
    report = ingest_incidents(tmp_path / "f.xlsx", store, ctx)
    assert report.loaded == 1 and report.by_reason == {"uncalculated_formula": 1}
    q = store.read("quarantine").iloc[0]
    assert q["source_row"] == 3
    assert q["detail"].startswith("cell D3 (column 'lat': =D2) is a formula without a calculated")


# ---- 5. a repeated header ---------------------------------------------------------------------

def test_a_repeated_header_is_no_traceback(tmp_path):
    store = tmp_path / "store"
    open_store(store).replace("mahallas", grid_frame())
    lon, lat = centre(4)
    path = tmp_path / "dup.csv"
    path.write_text(f"incident_id,occurred_at,category,lat,lat,lon\nD1,2025-01-10,theft,{lat},"
                    f"bad,{lon}\n", encoding="utf-8")
    res = _cli("ingest", "incidents", path, "--store", store, "--no-progress")
    assert res.exit_code == 0, res.output
    assert "1 loaded" in res.output and "'lat' appears 2 times" in res.output
    assert "Traceback" not in res.output
    clash = _cli("ingest", "incidents", path, "--store", store, "--map", "lat=lon",
                 "--no-progress")
    _clean_failure(clash, "dup.csv", "would all be named 'lon'")


# ---- 6. over-long values, on both stores ------------------------------------------------------

def test_an_over_long_id_is_quarantined_on_every_store(store, tmp_path):
    store.replace("mahallas", grid_frame())
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    lon, lat = centre(4)
    huge = "x" * 1_000_000
    rows = [["OK1", "2025-01-10", "theft", lat, lon, ""],
            [huge, "2025-01-10", "theft", lat, lon, ""],
            ["NUL\x00ID", "2025-01-10", "theft", lat, lon, ""],
            ["OK2", "2025-01-10", "theft", "", "", "Do‘stlik MFY, " + "y" * 600],
            ["OK3", "2025-01-10", "theft", lat, lon, ""]]
    path = _write_csv(tmp_path / "long.csv", ["incident_id", "occurred_at", "category", "lat",
                                              "lon", "address"], rows)
    report = ingest_incidents(path, store, ctx)
    assert report.loaded == 2
    assert report.by_reason == {"value_too_long": 2, "invalid_id": 1}
    q = store.read("quarantine").set_index("source_row")
    assert q.loc[3, "reason"] == "value_too_long"
    assert "1,000,000 characters" in q.loc[3, "detail"] and len(q.loc[3, "detail"]) < 300
    assert json.loads(q.loc[3, "raw"])["incident_id"] == huge  # the row is kept as it was
    assert q.loc[4, "reason"] == "invalid_id" and "NUL" in q.loc[4, "detail"]
    assert "column 'address'" in q.loc[5, "detail"]
    assert sorted(store.read("incidents")["incident_id"]) == ["OK1", "OK3"]
    cams = pd.DataFrame({"camera_id": ["C1", "C" * 5000], "type": ["overview"] * 2,
                         "lat": [lat] * 2, "lon": [lon] * 2})
    cams.to_csv(tmp_path / "cams.csv", index=False)
    cam_report = ingest_cameras(tmp_path / "cams.csv", store)
    assert cam_report.loaded == 1 and cam_report.by_reason == {"value_too_long": 1}


# ---- date split over columns; --default -------------------------------------------------------

def test_split_date_columns_are_assembled(world, tmp_path):
    store, ctx = world
    lon, lat = centre(4)
    head = ["incident_id", "category", "lat", "lon", "YEAR", "MONTH", "DAY", "HOUR", "MINUTE"]
    rows = [["D1", "theft", lat, lon, 2025, 1, 10, 10, 30],
            ["D2", "theft", lat, lon, 2025, 1, 10, "", ""],
            ["D3", "theft", lat, lon, 2025, 13, 1, 0, 0],
            ["D4", "theft", lat, lon, 2025, 2, 30, 0, 0],
            ["D5", "theft", lat, lon, "", "", "", "", ""]]
    report = ingest_incidents(_write_csv(tmp_path / "parts.csv", head, rows), store, ctx)
    assert report.loaded == 2
    assert report.by_reason == {"invalid_date": 2, "missing_date": 1}
    assert any("occurred_at assembled from the columns year, month, day, hour, minute" in w
               for w in report.warnings)
    inc = store.read("incidents").set_index("incident_id")
    assert inc.loc["D1", "occurred_at"] == pd.Timestamp("2025-01-10T05:30:00Z")
    assert inc.loc["D2", "occurred_at"] == pd.Timestamp("2025-01-09T19:00:00Z")
    q = store.read("quarantine").set_index("source_row")
    assert q.loc[4, "detail"].startswith("column 'year/month/day/hour/minute': '2025/13/1/0/0'")


def test_default_category_for_a_single_crime_file(world, tmp_path):
    store, ctx = world
    lon, lat = centre(4)
    path = _write_csv(tmp_path / "d.csv", ["occurred_at", "lat", "lon"],
                      [["2025-01-10", lat, lon]])
    with pytest.raises(InputFileError, match="'category'"):
        ingest_incidents(path, store, ctx)
    report = ingest_incidents(path, store, ctx, defaults={"category": "assault"})
    assert report.loaded == 1 and store.read("incidents")["category"].tolist() == ["assault"]


# ---- 8. the real police files -----------------------------------------------------------------

def _boxes_over(lon: np.ndarray, lat: np.ndarray, step: float) -> gpd.GeoDataFrame:
    """Test mahallas: the boxes of a ``step``-degree grid that hold at least one point."""
    ok = np.isfinite(lon) & np.isfinite(lat)
    ij = np.unique(np.column_stack([np.floor(lon[ok] / step), np.floor(lat[ok] / step)]), axis=0)
    n = len(ij)
    return gpd.GeoDataFrame(
        {"mahalla_id": [f"T{k:04d}" for k in range(n)], "name": [f"Box {k}" for k in range(n)],
         "district": [f"Tuman {k % 5 + 1}" for k in range(n)], "region": "Sinov",
         "population": 1000.0 + np.arange(n)},
        geometry=shapely.box(ij[:, 0] * step, ij[:, 1] * step, (ij[:, 0] + 1) * step,
                             (ij[:, 1] + 1) * step), crs=4326)


def test_real_cincinnati_repeated_ids(store):
    """One row per offence: a repeated id is one incident; the other rows are counted, not lost.

    The first row of an id loads; a later identical row is a duplicate; a later row that
    differs (Cincinnati moves each offence's point a little) is quarantined as conflicting_id.
    """
    path = shared_file("real-crime/cincinnati_burglary.csv.gz")  # read compressed, as it is
    src = pd.read_csv(path, dtype=str, keep_default_na=False)
    lon = pd.to_numeric(src["longitude"], errors="coerce").to_numpy()
    lat = pd.to_numeric(src["latitude"], errors="coerce").to_numpy()
    store.replace("mahallas", _boxes_over(lon, lat, 0.05))
    ctx = load_context(store, aliases=load_aliases({"aggravated burglary": "burglary"}), now=NOW)
    report = ingest_incidents(path, store, ctx)
    assert report.input_rows == len(src)
    assert report.input_rows == report.loaded + report.updated + report.duplicates \
        + report.quarantined
    # what to expect, from the file itself
    missing = src.isin(["", "NA"])  # R writes NA for a missing value
    bad = missing[["longitude", "latitude", "offense_date", "offense"]].any(axis=1)
    first = ~src["incident_no"].duplicated(keep="first")
    firsts = src.groupby("incident_no").transform("first")
    same_as_first = (src[firsts.columns] == firsts).all(axis=1)
    assert report.loaded == int((first & ~bad).sum())
    assert report.duplicates == int((~first & same_as_first & ~bad).sum())
    assert report.by_reason["conflicting_id"] == int((~first & ~same_as_first & ~bad).sum()) > 1000
    assert report.quarantined == int((~first & ~same_as_first).sum() + (bad & same_as_first).sum())
    inc = store.read("incidents")
    assert inc["incident_id"].is_unique and len(inc) == report.loaded
    assert set(inc["category"]) == {"burglary"}
    assert report.by_reason["no_location"] == int(
        (missing["longitude"] & (first | same_as_first)).sum())
    q = store.read("quarantine")
    conflict = q[q["reason"] == "conflicting_id"].iloc[0]
    first_row = src.index[src["incident_no"] == json.loads(conflict["raw"])["incident_id"]][0] + 2
    assert f"was seen at row {first_row} with different content" in conflict["detail"]


def test_real_vancouver_utm_and_split_dates_through_the_cli(store_url, tmp_path):
    """UTM 10N metres in X/Y and the date over YEAR..MINUTE: --crs reprojects, parts assemble."""
    src = pd.read_csv(shared_file("real-crime/vancouver_thefts.csv.gz")).head(1500)
    path = tmp_path / "vancouver.csv"
    src.to_csv(path, index=False)
    lon, lat = pyproj.Transformer.from_crs("EPSG:32610", 4326, always_xy=True).transform(
        src["X"].to_numpy(), src["Y"].to_numpy())
    _boxes_over(lon, lat, 0.02).to_file(tmp_path / "boxes.gpkg", driver="GPKG")
    aliases = tmp_path / "aliases.json"
    aliases.write_text(json.dumps({"other theft": "theft", "theft from vehicle": "theft",
                                   "theft of bicycle": "theft",
                                   "theft of vehicle": "vehicle_theft"}))
    env = {"RISKMAP_ETL__CATEGORY_ALIASES_FILE": str(aliases)}
    assert _cli("ingest", "mahallas", tmp_path / "boxes.gpkg", "--store", store_url,
                "--no-progress").exit_code == 0
    refused = _cli("ingest", "incidents", path, "--store", store_url, "--no-progress", env=env)
    _clean_failure(refused, "vancouver.csv", "projected metres", "--crs")
    res = _cli("ingest", "incidents", path, "--store", store_url, "--crs", "EPSG:32610",
               "--map", "X=lon", "--map", "Y=lat", "--report", tmp_path / "r.json",
               "--no-progress", env=env)
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["input_rows"] == len(src)
    assert report["quarantined"] == 0, report["by_reason"]
    # rows without an id are keyed by their normalised content: a theft at one block and
    # minute given twice (also as two TYPEs that are both "theft") is one incident
    category = src["TYPE"].map({"Theft of Vehicle": "vehicle_theft"}).fillna("theft")
    same = src.assign(category=category).duplicated(
        subset=["category", "YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "X", "Y"])
    assert report["duplicates"] == int(same.sum())
    assert report["loaded"] == len(src) - int(same.sum())
    assert any("assembled from the columns year, month, day, hour, minute" in w
               for w in report["warnings"])
    inc = open_store(store_url).read("incidents").set_index("source_row").sort_index()
    at = inc.index.to_numpy() - 2
    assert inc.geometry.x.to_numpy() == pytest.approx(lon[at], abs=1e-7)
    assert inc.geometry.y.to_numpy() == pytest.approx(lat[at], abs=1e-7)
    when = pd.to_datetime(src[["YEAR", "MONTH", "DAY", "HOUR", "MINUTE"]].set_axis(
        ["year", "month", "day", "hour", "minute"], axis=1)).dt.tz_localize("Asia/Tashkent")
    assert (inc["occurred_at"].to_numpy() == when.dt.tz_convert("UTC").to_numpy()[at]).all()
    assert (inc["category"].to_numpy() == category.to_numpy()[at]).all()


def test_real_workbook_every_sheet(store):
    """Austin, Fort Worth and Seattle: every sheet's rows are counted and traced to their cells."""
    path = shared_file("real-crime/aggravated_assaults.xlsx")
    book = load_workbook(path, read_only=True)
    cells = {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}
    book.close()
    table = pd.DataFrame(
        [(name, i + 1, *r) for name, rows in cells.items() for i, r in enumerate(rows) if i > 0],
        columns=["sheet", "row", "date", "lon", "lat", "t", "c"])
    store.replace("mahallas", _boxes_over(table["lon"].to_numpy(dtype=float),
                                          table["lat"].to_numpy(dtype=float), 0.05))
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    report = ingest_incidents(path, store, ctx, defaults={"category": "assault"})
    assert report.input_rows == len(table)
    assert report.by_sheet == table.groupby("sheet", sort=False).size().to_dict()
    assert report.input_rows == report.loaded + report.duplicates + report.quarantined
    assert report.by_reason == {"missing_date": int(table["date"].isna().sum())}
    same = table.duplicated(subset=["date", "lon", "lat"]) & table["date"].notna()
    assert report.duplicates == int(same.sum())
    inc = store.read("incidents")
    key = table.set_index(["sheet", "row"])
    sheet = inc["source_file"].str.extract(r"^aggravated_assaults\.xlsx\[(.+)\]$")[0]
    assert sheet.notna().all() and set(sheet) == set(cells)
    rows = key.loc[list(zip(sheet, inc["source_row"], strict=True))]
    assert inc.geometry.x.to_numpy() == pytest.approx(rows["lon"].to_numpy(dtype=float))
    assert inc.geometry.y.to_numpy() == pytest.approx(rows["lat"].to_numpy(dtype=float))
    q = store.read("quarantine")
    for _, r in q.iterrows():
        sh = r["source_file"].removeprefix("aggravated_assaults.xlsx[").removesuffix("]")
        assert pd.isna(key.loc[(sh, r["source_row"]), "date"])
        assert json.loads(r["raw"])["lon"] == key.loc[(sh, r["source_row"]), "lon"]
