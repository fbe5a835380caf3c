"""The incident ETL end to end on the 3x3 grid world: every reason, every fix, idempotency."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import h3
import shapely

from riskmap.errors import InputFileError, MissingColumnError
from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
from riskmap.layers import open_store
from tests.etl.grid import STEP, X0, Y0, centre

NOW = pd.Timestamp("2025-06-01T00:00:00Z")
HEADER = ["incident_id", "occurred_at", "category", "lat", "lon", "address"]


def _rows() -> list[list[object]]:
    lon1, lat1 = centre(0)  # M1 Do‘stlik
    lon5, lat5 = centre(4)  # M5 Madaniyat
    west = X0 - 100 / 85_000  # ~100 m west of the grid
    far_west = X0 - 1000 / 85_000  # ~1 km west
    return [
        ["A1", "2025-01-10T10:00:00", "theft", lat1, lon1, ""],                 # coordinates
        ["A2", "10.01.2025 11:30", "o'g'irlik", lon5, lat5, ""],               # swapped
        ["A3", "2025-01-11", "кража", lat1, west, ""],                          # snapped
        ["A4", "2025-01-12", "firibgarlik", "", "", "Jizzax shahri, Do‘stlik MFY, 12-uy"],
        ["A5", "2025-01-12", "мошенничество", "", "", "Жиззах шаҳри, Дўстлик МФЙ"],
        ["A6", "2025-01-13", "kiberjinoyat", "", "", "Sharof Rashidov tumani, Navro‘z"],
        ["B1", "", "theft", lat1, lon1, ""],                                    # missing_date
        ["B2", "31.02.2024", "theft", lat1, lon1, ""],                          # invalid_date
        ["B3", "2031-01-01", "theft", lat1, lon1, ""],                          # future_date
        ["B4", "2025-01-10", "xyz-unknown", lat1, lon1, ""],                    # unknown_category
        ["B5", "2025-01-10", "theft", "abc", "def", ""],                        # invalid_coordinates
        ["B6", "2025-01-10", "theft", lat1, far_west, ""],                      # outside_area
        ["B7", "2025-01-10", "theft", "", "", "Qayerdadir ko'chasi 5"],         # no_location
        ["B8", "2025-01-10", "theft", "", "", "Navro‘z MFY"],                   # ambiguous -> no_location
        ["A1", "2025-01-10T10:00:00", "assault", lat1, lon1, ""],              # conflicting_id
        ["A1", "2025-01-10T10:00:00", "theft", lat1, lon1, ""],                # exact duplicate
    ]


def _write(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def world(tmp_path, grid_mahallas):
    store = open_store(tmp_path / "store")
    store.replace("mahallas", grid_mahallas)
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    return store, ctx


def test_every_row_is_loaded_or_quarantined_with_its_reason(world, tmp_path):
    store, ctx = world
    report = ingest_incidents(_write(tmp_path / "in.csv", _rows()), store, ctx)
    assert report.input_rows == 16
    assert report.input_rows == (report.loaded + report.updated + report.duplicates
                                 + report.quarantined)
    assert report.loaded == 6 and report.duplicates == 1 and report.quarantined == 9
    assert report.by_reason == {
        "missing_date": 1, "invalid_date": 1, "future_date": 1, "unknown_category": 1,
        "invalid_coordinates": 1, "outside_area": 1, "no_location": 2, "conflicting_id": 1}
    assert report.fixed == {"swapped_coordinates": 1, "snapped_to_mahalla": 1}
    assert report.by_precision == {"coordinates": 3, "mahalla": 3}

    inc = store.read("incidents").set_index("incident_id")
    assert inc.loc["A1", "mahalla_id"] == "M1"
    assert inc.loc["A1", "category"] == "theft"
    lon1, lat1 = centre(0)
    assert inc.loc["A1", "h3"] == h3.str_to_int(h3.latlng_to_cell(lat1, lon1, 9))
    # naive times are Asia/Tashkent (UTC+5)
    assert inc.loc["A1", "occurred_at"] == pd.Timestamp("2025-01-10T05:00:00Z")
    assert inc.loc["A2", "mahalla_id"] == "M5" and inc.loc["A2", "flags"] == "swapped_coordinates"
    assert inc.loc["A2", "occurred_at"] == pd.Timestamp("2025-01-10T06:30:00Z")
    assert inc.loc["A3", "mahalla_id"] == "M1" and "snapped_to_mahalla" in inc.loc["A3", "flags"]
    # address rows: the mahalla's representative point's cell, an empty point geometry
    for iid, mid in (("A4", "M1"), ("A5", "M1"), ("A6", "M6")):
        assert inc.loc[iid, "mahalla_id"] == mid
        assert inc.loc[iid, "geocode_precision"] == "mahalla"
        assert inc.loc[iid, "geometry"].is_empty
    rep = shapely.point_on_surface(shapely.box(X0, Y0, X0 + STEP, Y0 + STEP))
    assert inc.loc["A4", "h3"] == h3.str_to_int(h3.latlng_to_cell(rep.y, rep.x, 9))
    assert inc.loc["A4", "category"] == "fraud" and inc.loc["A6", "category"] == "cybercrime"

    q = store.read("quarantine").set_index("source_row")
    assert q.loc[16, "reason"] == "conflicting_id"  # the header is row 1
    assert "row 2" in q.loc[16, "detail"]
    assert json.loads(q.loc[9, "raw"])["occurred_at"] == "31.02.2024"
    assert "occurred_at" in q.loc[9, "detail"] and "31.02.2024" in q.loc[9, "detail"]


def test_reingest_is_idempotent_and_a_changed_row_updates(world, tmp_path):
    store, ctx = world
    path = _write(tmp_path / "in.csv", _rows())
    ingest_incidents(path, store, ctx)
    before = store.read("incidents")
    again = ingest_incidents(path, store, ctx)
    assert again.loaded == 0 and again.updated == 0
    assert again.duplicates == 7 and again.quarantined == 9
    assert len(store.read("incidents")) == len(before) == 6
    assert store.count("quarantine") == 9  # the same bad rows are not quarantined twice

    rows = _rows()
    rows[0][2] = "robbery"  # A1 re-categorised
    rows = rows[:1]
    changed = ingest_incidents(_write(tmp_path / "changed.csv", rows), store, ctx)
    assert (changed.loaded, changed.updated, changed.duplicates) == (0, 1, 0)
    inc = store.read("incidents").set_index("incident_id")
    assert inc.loc["A1", "category"] == "robbery" and len(inc) == 6


def test_rows_without_ids_are_keyed_by_content(world, tmp_path):
    store, ctx = world
    lon1, lat1 = centre(0)
    rows = [["2025-01-10", "theft", lat1, lon1], ["2025-01-10", "theft", lat1, lon1],
            ["2025-01-11", "theft", lat1, lon1]]
    path = _write(tmp_path / "noid.csv", rows, ["occurred_at", "category", "lat", "lon"])
    first = ingest_incidents(path, store, ctx)
    assert (first.loaded, first.duplicates) == (2, 1)
    second = ingest_incidents(path, store, ctx)
    assert (second.loaded, second.duplicates) == (0, 3)
    assert store.count("incidents") == 2


def test_corrected_quarantine_file_loads_and_resolves(world, tmp_path):
    from riskmap.cli.export import quarantine_table

    store, ctx = world
    ingest_incidents(_write(tmp_path / "in.csv", _rows()), store, ctx)
    table = quarantine_table(store.read("quarantine"))
    assert set(table.columns) >= {"incident_id", "occurred_at", "category", "lat", "lon",
                                  "quarantine_id", "reason", "detail"}
    fix = table[table["reason"] == "invalid_date"].copy()
    fix["occurred_at"] = "28.02.2024"
    fix.to_csv(tmp_path / "fixed.csv", index=False)
    report = ingest_incidents(tmp_path / "fixed.csv", store, ctx)
    assert report.loaded == 1 and report.resolved_quarantine == 1
    assert store.count("quarantine") == 8
    assert "B2" in set(store.read("incidents")["incident_id"])


def test_missing_required_column_names_file_and_column_and_changes_nothing(world, tmp_path):
    store, ctx = world
    ingest_incidents(_write(tmp_path / "in.csv", _rows()), store, ctx)
    before = store.read("incidents")
    bad = _write(tmp_path / "nocat.csv", [["X1", "2025-01-01", 40.1, 67.8]],
                 ["incident_id", "occurred_at", "lat", "lon"])
    with pytest.raises(MissingColumnError, match=r"nocat\.csv.*'category'"):
        ingest_incidents(bad, store, ctx)
    with pytest.raises(InputFileError, match="'lat'"):
        ingest_incidents(_write(tmp_path / "noloc.csv", [["X1", "2025-01-01", "theft"]],
                                ["incident_id", "occurred_at", "category"]), store, ctx)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputFileError, match=r"empty\.csv"):
        ingest_incidents(empty, store, ctx)
    pd.testing.assert_frame_equal(store.read("incidents"), before)


def test_map_option_renames_columns(world, tmp_path):
    store, ctx = world
    lon1, lat1 = centre(0)
    path = _write(tmp_path / "ru.csv", [["Z1", "01.02.2025 08:00", "грабёж", lat1, lon1]],
                  ["Номер дела", "Дата", "Статья", "Широта", "Долгота"])
    report = ingest_incidents(path, store, ctx, mapping={"Номер дела": "incident_id",
                                                         "Статья": "category"})
    assert report.loaded == 1
    inc = store.read("incidents")
    assert inc["incident_id"].tolist() == ["Z1"] and inc["category"].tolist() == ["robbery"]


@pytest.mark.parametrize("fmt", ["xlsx", "geojson", "gpkg", "parquet", "shpzip"])
def test_each_input_format(world, tmp_path, fmt):
    import geopandas as gpd

    store, ctx = world
    mapping = None
    lon1, lat1 = centre(0)
    lon9, lat9 = centre(8)
    frame = pd.DataFrame({"incident_id": ["F1", "F2"], "occurred_at": ["2025-01-10 10:00",
                                                                       "11.01.2025"],
                          "category": ["theft", "bezorilik"]})
    if fmt == "xlsx":
        frame["lat"] = [lat1, lat9]
        frame["lon"] = [lon1, lon9]
        frame["occurred_at"] = [pd.Timestamp("2025-01-10 10:00"), "11.01.2025"]  # an Excel date
        path = tmp_path / "in.xlsx"
        frame.to_excel(path, index=False)
    else:
        gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy([lon1, lon9], [lat1, lat9]),
                               crs=4326)
        gdf["lat"] = [lat1, lat9]
        gdf["lon"] = [lon1, lon9]
        if fmt == "parquet":
            path = tmp_path / "in.parquet"
            gdf.to_parquet(path)
        elif fmt == "shpzip":
            import shutil

            folder = tmp_path / "shp"
            folder.mkdir()
            # Shapefile field names have at most 10 characters: load them with --map
            gdf.rename(columns={"incident_id": "case_no", "occurred_at": "when"}).to_file(
                folder / "inc.shp")
            mapping = {"case_no": "incident_id", "when": "occurred_at"}
            path = Path(shutil.make_archive(str(tmp_path / "inc"), "zip", folder))
        else:
            path = tmp_path / f"in.{fmt}"
            gdf.to_file(path, driver="GPKG" if fmt == "gpkg" else "GeoJSON")
    report = ingest_incidents(path, store, ctx, mapping=mapping)
    assert (report.loaded, report.quarantined) == (2, 0), report.by_reason
    inc = store.read("incidents").set_index("incident_id")
    assert inc.loc["F1", "mahalla_id"] == "M1" and inc.loc["F2", "mahalla_id"] == "M9"
    assert inc.loc["F2", "category"] == "hooliganism"
    assert inc.loc["F1", "occurred_at"] == pd.Timestamp("2025-01-10T05:00:00Z")


def test_excel_serial_dates(world, tmp_path):
    store, ctx = world
    lon1, lat1 = centre(0)
    # 45667.5 is 2025-01-10 12:00 in Excel's 1900 date system
    report = ingest_incidents(_write(tmp_path / "serial.csv",
                                     [["S1", "45667.5", "theft", lat1, lon1, ""]]), store, ctx)
    assert report.loaded == 1
    got = store.read("incidents")["occurred_at"].iloc[0]
    assert got == pd.Timestamp("2025-01-10T07:00:00Z")


def test_h3_and_mahalla_match_an_independent_computation(world, tmp_path):
    """Property check on random points: H3 via h3-py per point, mahalla by arithmetic."""
    store, ctx = world
    rng = np.random.default_rng(3)
    n = 400
    lon = rng.uniform(X0 + 1e-6, X0 + 3 * STEP - 1e-6, n)
    lat = rng.uniform(Y0 + 1e-6, Y0 + 3 * STEP - 1e-6, n)
    rows = [[f"P{i}", "2025-01-01", "theft", f"{lat[i]:.7f}", f"{lon[i]:.7f}", ""]
            for i in range(n)]
    report = ingest_incidents(_write(tmp_path / "rand.csv", rows), store, ctx)
    assert report.loaded == n
    inc = store.read("incidents").set_index("incident_id")
    for i in range(n):
        la, lo = round(lat[i], 7), round(lon[i], 7)
        col = int((lo - X0) // STEP)
        row = int((la - Y0) // STEP)
        assert inc.loc[f"P{i}", "mahalla_id"] == f"M{row * 3 + col + 1}"
        assert inc.loc[f"P{i}", "h3"] == h3.str_to_int(h3.latlng_to_cell(la, lo, 9))
