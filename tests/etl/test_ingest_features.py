"""Loading mahallas, cameras and infrastructure: repair, checks, defaults, quarantine."""

from __future__ import annotations

import pandas as pd
import pytest

import geopandas as gpd
import shapely

from riskmap.etl.features import ingest_cameras, ingest_infrastructure, ingest_mahallas
from riskmap.layers import open_store
from tests.conftest import shared_file
from tests.etl.grid import centre, grid_frame


@pytest.fixture
def store(tmp_path):
    return open_store(tmp_path / "store")


def test_real_ocha_districts_load_as_polygons(store):
    """199 real district polygons from a zipped Shapefile, with --map for the P-code columns."""
    report = ingest_mahallas(shared_file("uzb-admin-ocha/uzb_adm2_shp.zip"), store, mapping={
        "ADM2_PCODE": "mahalla_id", "ADM2_UZ": "name", "ADM2_EN": "district",
        "ADM1_EN": "region"})
    assert (report.input_rows, report.loaded, report.quarantined) == (199, 199, 0)
    got = store.read("mahallas").set_index("mahalla_id")
    assert got.loc["UZ08201", "region"] == "Dzhizak"  # Arnasay district, Jizzakh region
    assert set(got.geometry.geom_type) == {"MultiPolygon"}
    assert got.crs.to_epsg() == 4326
    # a real layer: the report lists overlaps or gaps it found, if any, as warnings
    assert all(("overlapping" in w) or ("gaps" in w) for w in report.warnings)


def test_invalid_geometry_is_repaired_and_reported(store, tmp_path):
    frame = grid_frame()
    bowtie = shapely.Polygon([(67.80, 40.10), (67.81, 40.11), (67.81, 40.10), (67.80, 40.11)])
    frame.loc[0, "geometry"] = bowtie
    path = tmp_path / "m.geojson"
    frame.to_file(path)
    report = ingest_mahallas(path, store)
    assert report.fixed == {"make_valid": 1}
    assert report.loaded == 9
    m1 = store.read("mahallas").set_index("mahalla_id").loc["M1", "geometry"]
    assert m1.is_valid and m1.area == pytest.approx(0.01 * 0.01 / 2)


def test_overlaps_and_gaps_are_reported(store, tmp_path):
    frame = grid_frame()
    frame.loc[4, "geometry"] = shapely.box(67.811, 40.111, 67.819, 40.119)  # hole around M5
    frame.loc[0, "geometry"] = shapely.box(67.80, 40.10, 67.815, 40.11)  # overlaps M2
    path = tmp_path / "m.gpkg"
    frame.to_file(path, driver="GPKG")
    report = ingest_mahallas(path, store)
    text = " ".join(report.warnings)
    assert "1 overlapping mahalla pairs" in text and "M1/M2" in text
    assert "1 gaps between mahallas" in text


def test_bad_mahalla_rows_are_quarantined(store, tmp_path):
    frame = grid_frame()
    frame.loc[1, "mahalla_id"] = None
    frame.loc[2, "geometry"] = shapely.Point(67.8, 40.1)
    path = tmp_path / "m.geojson"
    frame.to_file(path)
    report = ingest_mahallas(path, store)
    assert report.loaded == 7 and report.by_reason == {"missing_id": 1, "invalid_geometry": 1}
    assert store.count("quarantine") == 2


def test_cameras_get_type_defaults_and_mahallas(store, tmp_path):
    store.replace("mahallas", grid_frame())
    lon, lat = centre(0)
    pd.DataFrame({
        "camera_id": ["C1", "C2", "C3", "C4"],
        "lat": [lat, lat, lat, "x"], "lon": [lon, lon, lon, lon],
        "type": ["LPR", "face_recognition", "thermal", "dome"],
        "bearing_deg": [370, 90, 0, None],
    }).to_csv(tmp_path / "cams.csv", index=False)
    report = ingest_cameras(tmp_path / "cams.csv", store)
    assert report.loaded == 2
    assert report.by_reason == {"unknown_type": 1, "invalid_coordinates": 1}
    cams = store.read("cameras").set_index("camera_id")
    assert cams.loc["C1", "type"] == "licence_plate" and cams.loc["C1", "range_m"] == 40
    assert cams.loc["C1", "bearing_deg"] == 10
    assert cams.loc["C2", "fov_deg"] == 60 and cams.loc["C2", "mahalla_id"] == "M1"


def test_infrastructure_mixed_geometries(store, tmp_path):
    store.replace("mahallas", grid_frame())
    lon, lat = centre(4)
    gdf = gpd.GeoDataFrame({
        "name": ["Aydar-Arnasay", "School 5", "A-road", None],
        "kind": ["tourist_zone", "Maktab", "road", ""],
        "road_class": [None, None, "primary", None],
        "season_start": ["05-01", None, None, None],
        "operator": [None, "city", None, None],
    }, geometry=[shapely.box(67.80, 40.10, 67.83, 40.13), shapely.Point(lon, lat),
                 shapely.LineString([(67.80, 40.10), (67.83, 40.13)]), shapely.Point(lon, lat)],
        crs=4326)
    gdf.to_file(tmp_path / "infra.geojson")
    report = ingest_infrastructure(tmp_path / "infra.geojson", store)
    assert report.loaded == 3 and report.by_reason == {"missing_kind": 1}
    infra = store.read("infrastructure").set_index("name")
    assert infra.loc["School 5", "kind"] == "school"
    assert infra.loc["School 5", "mahalla_id"] == "M5"
    assert '"operator": "city"' in infra.loc["School 5", "attrs"]
    assert infra.loc["Aydar-Arnasay", "season_start"] == "05-01"
    again = ingest_infrastructure(tmp_path / "infra.geojson", store)
    assert again.loaded == 0 and again.updated == 3 and store.count("infrastructure") == 3


def test_cameras_from_every_sheet_with_formulas_and_long_ids(store, tmp_path):
    """Rows of each sheet are traced as FILE[SHEET]; uncalculated formulas and over-long ids
    are quarantined, not loaded as empty values or refused by one backend."""
    from openpyxl import Workbook

    store.replace("mahallas", grid_frame())
    lon, lat = centre(4)
    wb = Workbook()
    north = wb.active
    north.title = "North"
    south = wb.create_sheet("South")
    for ws in (north, south):
        ws.append(["camera_id", "type", "lat", "lon"])
    north.append(["N1", "overview", lat, lon])
    north.append(["N2", "overview", "=C2", lon])  # a formula openpyxl saves without a value
    south.append(["S1", "LPR", lat, lon])
    south.append(["S" * 300, "overview", lat, lon])
    wb.save(tmp_path / "cams.xlsx")
    report = ingest_cameras(tmp_path / "cams.xlsx", store)
    assert (report.input_rows, report.loaded) == (4, 2)
    assert report.by_reason == {"uncalculated_formula": 1, "value_too_long": 1}
    q = store.read("quarantine").set_index("reason")
    assert q.loc["uncalculated_formula", "source_file"] == "cams.xlsx[North]"
    assert q.loc["uncalculated_formula", "source_row"] == 3
    assert q.loc["uncalculated_formula", "detail"].startswith("cell C3 (column 'lat': =C2)")
    assert q.loc["value_too_long", "source_file"] == "cams.xlsx[South]"
    assert "300 characters" in q.loc["value_too_long", "detail"]
    assert sorted(store.read("cameras")["camera_id"]) == ["N1", "S1"]
