"""The readers: headers (duplicates, --map, Shapefile names), XLSX sheets and formulas, CRS checks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

import geopandas as gpd
import pyproj
import shapely

from riskmap.errors import ConfigError, InputFileError
from riskmap.etl.crs import metre_like, parse_crs, to_lonlat
from riskmap.etl.readers import iter_raw, read_raw, source_labels, text_faults
from tests.conftest import shared_file
from tests.etl.files import workbook
from tests.etl.grid import centre

AUSTIN_UTM = "EPSG:32614"  # a projected CRS for made-up metre coordinates


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---- headers -----------------------------------------------------------------------------------

def test_a_header_row_longer_than_the_first_block_is_read_whole(tmp_path):
    """The column names come from the file's first 64 kB; a longer header row is read whole."""
    extra = [f"note_{i}_" + "x" * 40 for i in range(2000)]  # a 93 kB header row
    header = ",".join(["incident_id", "occurred_at", "category", "lat", "lon", *extra])
    path = _csv(tmp_path / "wide.csv", header + "\n" + ",".join(
        ["a1", "2024-01-01", "theft", "40.1", "67.8", *["v"] * len(extra)]) + "\n")
    assert len(header) > 1 << 16
    (chunk,) = list(iter_raw(path, layer="incidents"))
    assert list(chunk.frame.columns) == ["_row", "incident_id", "occurred_at", "category",
                                         "lat", "lon", *extra]
    assert chunk.frame.iloc[0][extra[-1]] == "v"


def test_a_repeated_header_is_renamed_and_reported(tmp_path):
    path = _csv(tmp_path / "dup.csv", "id,date,lat,lat,lat,lon\nA,2025-01-01,1,2,3,4\n")
    notes: list[str] = []
    frame = read_raw(path, layer="incidents", notes=notes)
    assert list(frame.columns) == ["_row", "incident_id", "occurred_at", "lat", "lat_2",
                                   "lat_3", "lon"]
    assert frame[["lat", "lat_2", "lat_3"]].iloc[0].tolist() == ["1", "2", "3"]
    assert len(notes) == 1
    assert "'lat' appears 3 times (columns 3, 4, 5)" in notes[0] and "'lat_2'" in notes[0]


def test_map_chooses_another_copy_of_a_repeated_header(tmp_path):
    path = _csv(tmp_path / "dup.csv", "lat,lat,lon\n1,2,3\n")
    frame = read_raw(path, layer="incidents", mapping={"lat": "lat_first", "lat_2": "lat"})
    assert frame["lat"].tolist() == ["2"] and frame["lat_first"].tolist() == ["1"]


def test_two_maps_onto_one_field_are_refused(tmp_path):
    path = _csv(tmp_path / "two.csv", "a,b\n1,2\n")
    with pytest.raises(InputFileError, match=r"two\.csv.*columns 1, 2 would all be named 'lat'"):
        read_raw(path, mapping={"a": "lat", "b": "lat"})


def test_an_unused_map_is_reported(tmp_path):
    notes: list[str] = []
    read_raw(_csv(tmp_path / "m.csv", "a\n1\n"), mapping={"nope": "lat"}, notes=notes)
    assert notes == ["--map for columns the file does not have: 'nope'"]


def test_shapefile_truncated_names_map_to_the_fields(tmp_path):
    lon, lat = centre(0)
    frame = gpd.GeoDataFrame({"INCIDENT_I": ["S1"], "occurred_a": ["2025-01-01"],
                              "geocode_pr": ["coordinates"], "category": ["theft"],
                              "quarantine": ["q1"]},
                             geometry=[shapely.Point(lon, lat)], crs=4326)
    folder = tmp_path / "shp"
    folder.mkdir()
    frame.to_file(folder / "inc.shp")
    path = Path(shutil.make_archive(str(tmp_path / "inc"), "zip", folder))
    notes: list[str] = []
    raw = read_raw(path, layer="incidents", notes=notes)
    assert {"incident_id", "occurred_at", "geocode_precision", "quarantine_id"} <= set(raw.columns)
    assert raw["incident_id"].tolist() == ["S1"]
    assert any("'occurred_a' read as 'occurred_at'" in n for n in notes)
    # a 10-character name that starts no field, or several, stays as it is
    cams = read_raw(path, layer="cameras")
    assert "occurred_a" in cams.columns


def test_default_fills_a_missing_column_and_blank_cells(tmp_path):
    path = _csv(tmp_path / "d.csv", "category,x\ntheft,1\n,2\n  ,3\n")
    frame = read_raw(path, defaults={"category": "assault", "region": "Jizzakh"})
    assert frame["category"].tolist() == ["theft", "assault", "assault"]
    assert frame["region"].tolist() == ["Jizzakh"] * 3


def test_sheet_option_on_a_csv_is_refused(tmp_path):
    with pytest.raises(InputFileError, match="only XLSX"):
        read_raw(_csv(tmp_path / "a.csv", "a\n1\n"), sheet="x")


# ---- XLSX --------------------------------------------------------------------------------------

def test_every_sheet_of_the_real_workbook_is_read_and_traceable():
    path = shared_file("real-crime/aggravated_assaults.xlsx")
    book = load_workbook(path, read_only=True)
    expected = {}
    cells = {}
    for ws in book.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        data = [(i + 1, r) for i, r in enumerate(rows[1:], start=1) if any(v is not None for v in r)]
        expected[ws.title] = len(data)
        cells[ws.title] = dict(data)
    header = next(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    assert len(expected) == 3
    notes: list[str] = []
    frame = read_raw(path, layer="incidents", notes=notes)
    assert len(frame) == sum(expected.values())
    assert frame.groupby("_sheet").size().to_dict() == expected
    assert any("sheets read" in n for n in notes)
    # every row's values are the cells of its sheet and row
    rng = np.random.default_rng(0)
    for i in rng.choice(len(frame), 50, replace=False):
        row = frame.iloc[i]
        want = cells[row["_sheet"]][row["_row"]]
        got = (row["occurred_at"], row["lon"], row["lat"], row["location_type"],
               row["location_category"])
        assert [None if pd.isna(v) else v for v in got] == list(want)
    assert list(header) == ["date", "longitude", "latitude", "location_type", "location_category"]
    one = read_raw(path, layer="incidents", sheet="Fort Worth")
    assert len(one) == expected["Fort Worth"] and set(one["_sheet"]) == {"Fort Worth"}
    labels = source_labels(one, path.name)
    assert set(labels) == {"aggravated_assaults.xlsx[Fort Worth]"}
    with pytest.raises(InputFileError, match=r"no such sheet.*'Austin', 'Fort Worth', 'Seattle'"):
        read_raw(path, sheet="Dallas")


def test_empty_sheets_are_skipped_and_reported(tmp_path):
    path = workbook(tmp_path / "b.xlsx", {
        "Jan": [["date", "category"], ["2025-01-01", "theft"], [None, None],
                ["2025-01-03", "theft"]],
        "Notes": [],
        "Feb": [["category", "date"], ["assault", "2025-02-01"]],  # same columns, other order
        "Header only": [["date", "category"]],
    })
    notes: list[str] = []
    frame = read_raw(path, layer="incidents", notes=notes)
    assert frame[["_sheet", "_row", "occurred_at", "category"]].to_numpy().tolist() == [
        ["Jan", 2, "2025-01-01", "theft"], ["Jan", 4, "2025-01-03", "theft"],
        ["Feb", 2, "2025-02-01", "assault"]]
    assert "sheet 'Notes' has no rows: skipped" in notes
    assert "sheet 'Header only' has no rows: skipped" in notes


def test_sheets_with_different_columns_are_refused(tmp_path):
    path = workbook(tmp_path / "b.xlsx", {"A": [["date", "category"], [1, 2]],
                                       "B": [["when", "what"], [1, 2]]})
    with pytest.raises(InputFileError, match=r"sheets 'A' and 'B' have different columns.*--sheet"):
        read_raw(path)
    assert read_raw(path, sheet="B")["when"].tolist() == [1]


def test_a_single_sheet_workbook_has_no_sheet_column(tmp_path):
    path = workbook(tmp_path / "one.xlsx", {"data": [["a"], [1]]})
    frame = read_raw(path)
    assert "_sheet" not in frame.columns and frame["_row"].tolist() == [2]
    assert list(source_labels(frame, "one.xlsx")) == ["one.xlsx"]


def test_uncalculated_formulas_are_marked_with_their_cell(tmp_path):
    # openpyxl writes formulas without calculated values, like any program that never ran Excel
    path = workbook(tmp_path / "f.xlsx", {"S": [["date", "n", "total"], ["2025-01-01", 1, "=B2*2"],
                                             ["2025-01-02", 2, 4]]})
    frame = read_raw(path)
    assert frame["_formula"].tolist()[0] == "C2 (column 'total': =B2*2)"
    assert pd.isna(frame["_formula"].tolist()[1])
    assert frame["total"].tolist()[0] is None
    # a workbook whose formulas have values (saved by a spreadsheet) reads the values
    wb = load_workbook(path)
    ws = wb["S"]
    ws["C2"] = 2
    wb.save(tmp_path / "g.xlsx")
    assert "_formula" not in read_raw(tmp_path / "g.xlsx").columns


# ---- coordinate reference systems --------------------------------------------------------------

def _utm_points(n: int = 3) -> list[shapely.Point]:
    return [shapely.Point(620_000 + 100 * i, 3_350_000 + 50 * i) for i in range(n)]


@pytest.mark.parametrize("fmt", ["shpzip", "parquet", "geojson"])
def test_a_crs_less_projected_file_is_refused_and_crs_reprojects_it(tmp_path, fmt):
    frame = gpd.GeoDataFrame({"kind": ["school"] * 3}, geometry=_utm_points())
    if fmt == "geojson":  # GeoJSON is longitude/latitude by definition: GDAL says EPSG:4326
        path = tmp_path / "f.geojson"
        with pytest.warns(UserWarning, match="crs"):
            frame.to_file(path)
        with pytest.raises(InputFileError, match=r"says its coordinates are longitude/lat"):
            read_raw(path)
    elif fmt == "shpzip":
        folder = tmp_path / "shp"
        folder.mkdir()
        with pytest.warns(UserWarning, match="crs"):
            frame.to_file(folder / "f.shp")  # no .prj
        path = Path(shutil.make_archive(str(tmp_path / "f"), "zip", folder))
    else:
        path = tmp_path / "f.parquet"
        frame.to_parquet(path)  # GeoParquet with "crs": null
    with pytest.raises(InputFileError, match=r"(no coordinate reference system|longitude/lat"
                                             r"itude).*--crs EPSG:"):
        read_raw(path, layer="infrastructure")
    notes: list[str] = []
    got = read_raw(path, layer="infrastructure", crs=AUSTIN_UTM, notes=notes)
    assert notes == (["the file says EPSG:4326 but its coordinates are not degrees: read as "
                      "--crs EPSG:32614"] if fmt == "geojson" else [])
    assert got.crs.to_epsg() == 4326
    want = pyproj.Transformer.from_crs(AUSTIN_UTM, 4326, always_xy=True).transform(
        620_000.0, 3_350_000.0)
    assert got.geometry.iloc[0].x == pytest.approx(want[0], abs=1e-9)
    assert got.geometry.iloc[0].y == pytest.approx(want[1], abs=1e-9)


def test_a_crs_less_file_in_degrees_is_read_as_lonlat(tmp_path):
    lon, lat = centre(4)
    path = tmp_path / "d.parquet"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(lon, lat)]).to_parquet(path)
    got = read_raw(path)
    assert got.crs.to_epsg() == 4326 and got.geometry.iloc[0].x == lon


def test_crs_is_not_used_for_a_file_that_declares_one(tmp_path):
    path = tmp_path / "w.geojson"
    gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(67.8, 40.1)], crs=4326).to_file(path)
    notes: list[str] = []
    got = read_raw(path, crs="EPSG:32642", notes=notes)
    assert got.geometry.iloc[0].x == pytest.approx(67.8)
    assert notes == ["the file declares its CRS (EPSG:4326); --crs EPSG:32642 was not used"]


def test_parse_crs_refuses_nonsense():
    assert parse_crs("EPSG:32642").to_epsg() == 32642
    assert parse_crs(None) is None
    with pytest.raises(ConfigError, match="--crs 'EPSG:banana'"):
        parse_crs("EPSG:banana")


def test_to_lonlat_reads_read_only_arrays_and_gives_nan_for_missing():
    x = np.array([620_000.0, np.nan])
    y = np.array([3_350_000.0, 3_350_000.0])
    x.flags.writeable = False
    y.flags.writeable = False
    lon, lat = to_lonlat(x, y, AUSTIN_UTM)
    assert np.isnan(lon[1]) and np.isnan(lat[1])
    assert -100 < lon[0] < -96 and 29 < lat[0] < 31
    lon[0] = 0.0  # the result is the caller's own array


def test_metre_like():
    x = np.array([490_320.3, 67.8, 40.1, 500.0, np.nan, 2000.0, 67.8, 5_000_000.0])
    y = np.array([5_458_606.9, 40.1, 67.8, 500.0, 1.0, 1500.0, 5_000_000.0, 10.0])
    # a wild value beside a plausible degree is a broken row, not a projection
    assert metre_like(x, y).tolist() == [True, False, False, False, False, True, False, False]


def test_text_faults():
    s = pd.Series(["a" * 201, "ok", None, "a\x00b"], dtype="string")
    too_long, nul, lengths = text_faults(s, 200)
    assert too_long.tolist() == [True, False, False, False]
    assert nul.tolist() == [False, False, False, True]
    assert lengths.tolist() == [201, 2, 0, 3]
    assert not text_faults(pd.Series([1.0, 2.0]), 0)[0].any()


def test_iter_raw_notes_come_once(tmp_path):
    path = workbook(tmp_path / "d.xlsx", {"S": [["a", "a"]] + [[1, 2]] * 10})
    chunks = list(iter_raw(path, chunk_rows=3))
    assert len(chunks) >= 2
    assert len(chunks[0].notes) == 1 and all(not c.notes for c in chunks[1:])
    assert all(list(c.frame.columns) == ["_row", "a", "a_2"] for c in chunks)
