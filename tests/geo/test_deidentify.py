"""De-identification for suppressed views: snapped points, months, hidden small counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

import h3

from riskmap.geo.deidentify import (
    count_labels,
    deidentify_incidents,
    hide_small,
    month_floor,
    snap_to_cell_centres,
)
from riskmap.geo.h3index import cells_from_lonlat


def test_points_snap_to_the_centre_of_their_coarse_cell() -> None:
    lon = np.array([67.841, 67.843, 67.9, np.nan])
    lat = np.array([40.121, 40.122, 40.2, 40.0])
    cells = cells_from_lonlat(lon, lat, 9)
    slon, slat, fine = snap_to_cell_centres(cells, 7)
    for i in range(3):
        coarse = h3.cell_to_parent(h3.int_to_str(int(cells[i])), 7)
        assert h3.int_to_str(int(fine[i])) == h3.cell_to_center_child(coarse, 9)
        clat, clon = h3.cell_to_latlng(coarse)
        assert np.isclose(slon[i], clon) and np.isclose(slat[i], clat)
    assert np.isnan(slon[3]) and np.isnan(slat[3]) and fine[3] == 0
    empty = snap_to_cell_centres(np.zeros(0, dtype="int64"), 7)
    assert [len(a) for a in empty] == [0, 0, 0]


def test_month_floor_is_the_local_month() -> None:
    t = pd.to_datetime(["2025-01-31T19:30Z", "2025-01-31T18:59Z", None], utc=True)
    got = month_floor(t, "Asia/Tashkent")
    assert got[0] == pd.Timestamp("2025-02-01", tz="Asia/Tashkent")  # already Feb in Tashkent
    assert got[1] == pd.Timestamp("2025-01-01", tz="Asia/Tashkent")
    assert pd.isna(got[2])


def test_small_counts_of_suppressed_units_are_hidden() -> None:
    shown, hidden = hide_small(np.array([0, 4, 5, 1]), np.array([True, True, True, False]), 5)
    assert shown.tolist() == [0, 0, 5, 1]
    assert hidden.tolist() == [True, True, False, False]
    assert count_labels(shown, hidden, 5).tolist() == ["< 5", "< 5", "5", "1"]
    assert count_labels(np.zeros(0, int), np.zeros(0, bool), 5).tolist() == []


def test_deidentified_incidents_keep_nothing_identifying() -> None:
    lon, lat = np.array([67.841, 67.9]), np.array([40.121, 40.2])
    frame = pd.DataFrame({
        "incident_id": ["A1", "A2"], "occurred_at": pd.to_datetime(
            ["2025-03-17T08:13:00Z", "2025-04-02T11:00:00Z"], utc=True),
        "category": ["theft", "assault"], "h3": cells_from_lonlat(lon, lat, 9),
        "mahalla_id": ["M1", "M2"], "district": ["d", "d"], "region": ["r", "r"],
        "geocode_precision": ["coordinates"] * 2, "flags": ["fixed_date", ""],
        "source_file": ["secret.xlsx"] * 2, "source_row": [2, 3], "content_hash": [1, 2]})
    out = deidentify_incidents(frame, res=7, timezone="Asia/Tashkent")
    assert list(out.columns) == ["occurred_at", "category", "h3", "mahalla_id", "district",
                                 "region", "geocode_precision", "suppressed", "geometry"]
    assert out["suppressed"].tolist() == [True, True]
    assert out["occurred_at"].dt.tz_convert("Asia/Tashkent").dt.day.tolist() == [1, 1]
    centres = snap_to_cell_centres(frame["h3"].to_numpy(), 7)
    assert np.allclose(out.geometry.x, centres[0]) and np.allclose(out.geometry.y, centres[1])
    assert deidentify_incidents(frame.iloc[:0], res=7, timezone="UTC").empty
