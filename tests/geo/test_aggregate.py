"""Tests for geo.aggregate: counts per cell / mahalla, rates, monthly matrices."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import h3.api.basic_int as h3

from riskmap.geo.aggregate import (
    count_by_cell,
    count_by_mahalla,
    incident_counts,
    incident_mask,
    month_index,
    monthly_counts,
    parent_cells,
    rate_per_1000,
    unit_codes,
)

A = h3.latlng_to_cell(41.311, 69.279, 9)  # Tashkent
B = h3.latlng_to_cell(41.330, 69.300, 9)
C = h3.latlng_to_cell(39.654, 66.975, 9)  # Samarkand


def test_parent_cells_match_h3_and_keep_missing():
    cells = np.array([A, 0, C], dtype=np.int64)
    out = parent_cells(cells, 7)
    assert out[0] == h3.cell_to_parent(A, 7)
    assert out[1] == 0
    assert out[2] == h3.cell_to_parent(C, 7)
    assert parent_cells(np.array([], dtype=np.int64), 8).size == 0


@settings(max_examples=40, deadline=None)
@given(
    st.floats(37.0, 45.5),
    st.floats(56.0, 73.0),
    st.integers(0, 8),
)
def test_parent_cells_property(lat, lng, res):
    cell = h3.latlng_to_cell(lat, lng, 9)
    parent = parent_cells(np.array([cell], dtype=np.int64), res)[0]
    assert parent == h3.cell_to_parent(cell, res)
    assert h3.get_resolution(parent) == res


def test_count_by_cell_resolutions():
    cells = np.array([A, A, B, C, 0], dtype=np.int64)
    r9 = count_by_cell(cells)
    assert dict(zip(r9["h3"], r9["count"], strict=True)) == {A: 2, B: 1, C: 1}
    r7 = count_by_cell(cells, 7)
    expected: dict[int, int] = {}
    for c in (A, A, B, C):
        p = h3.cell_to_parent(c, 7)
        expected[p] = expected.get(p, 0) + 1
    assert dict(zip(r7["h3"], r7["count"], strict=True)) == expected
    assert r7["count"].sum() == 4
    masked = count_by_cell(cells, mask=np.array([True, False, True, False, True]))
    assert dict(zip(masked["h3"], masked["count"], strict=True)) == {A: 1, B: 1}
    assert count_by_cell(np.array([], dtype=np.int64)).shape == (0, 2)


def test_incident_mask_window_and_categories():
    t = pd.Series(
        pd.to_datetime(["2025-01-01 00:00", "2025-01-31 23:59", "2025-02-01 00:00", None], utc=True)
    )
    cat = np.array(["theft", "fraud", "theft", "theft"], dtype=object)
    m = incident_mask(t, cat, start="2025-01-01", end="2025-02-01", categories=["theft"])
    assert m.tolist() == [True, False, False, False]
    assert incident_mask(t).tolist() == [True, True, True, False]


def test_count_by_mahalla_and_rates():
    mahallas = pd.DataFrame({"mahalla_id": ["m1", "m2", "m3"], "population": [2000, np.nan, 500]})
    ids = np.array(["m1", "m1", "m3", "m3", "m3", "zz", None], dtype=object)
    out = count_by_mahalla(ids, mahallas)
    assert out["count"].tolist() == [2, 0, 3]
    assert out["rate_per_1000"].iloc[0] == 1.0
    assert np.isnan(out["rate_per_1000"].iloc[1])
    assert out["rate_per_1000"].iloc[2] == 6.0


def test_rate_per_1000_zero_population_is_nan():
    r = rate_per_1000(np.array([1, 2]), np.array([0.0, 4000.0]))
    assert np.isnan(r[0]) and r[1] == 0.5


def test_monthly_counts_matrix():
    t = pd.Series(
        pd.to_datetime(
            ["2025-01-05", "2025-01-20", "2025-03-01", "2024-12-31", "2025-02-10"], utc=True
        )
    )
    codes = unit_codes(np.array(["a", "b", "a", "a", "x"], dtype=object), pd.Index(["a", "b"]))
    assert codes.tolist() == [0, 1, 0, 0, -1]
    counts, months = monthly_counts(codes, t, 2, start="2025-01-01", end="2025-03-15")
    assert counts.tolist() == [[1, 0, 1], [1, 0, 0]]
    assert [m.strftime("%Y-%m") for m in months] == ["2025-01", "2025-02", "2025-03"]
    assert str(months.tz) == "UTC"


def test_month_index_missing():
    t = pd.Series(pd.to_datetime(["1970-02-03", None], utc=True))
    assert month_index(t).tolist() == [1, -1]


def test_incident_counts_frame_window_and_categories():
    inc = pd.DataFrame(
        {
            "occurred_at": pd.to_datetime(
                ["2025-01-05 00:00", "2025-01-06 00:00", "2025-02-01 00:00", "2025-01-07 00:00"],
                utc=True,
            ),
            "category": ["theft", "theft", "theft", "fraud"],
            "h3": np.array([A, A, A, B], dtype=np.int64),
            "mahalla_id": ["m1", "m1", "m1", "m2"],
        }
    )
    cells = incident_counts(inc, start="2025-01-01", end="2025-02-01", categories=["theft"])
    assert cells.to_dict("list") == {"h3": [A], "count": [2]}
    mahallas = pd.DataFrame({"mahalla_id": ["m1", "m2"], "population": [1000, 2000]})
    m = incident_counts(inc, by="mahalla", mahallas=mahallas, end="2025-02-01")
    assert m["count"].tolist() == [2, 1] and m["rate_per_1000"].tolist() == [2.0, 0.5]
    with pytest.raises(ValueError, match="mahallas"):
        incident_counts(inc, by="mahalla")
    with pytest.raises(ValueError, match="by must be"):
        incident_counts(inc, by="district")


@given(st.lists(st.integers(0, 60), max_size=40), st.lists(st.integers(0, 70), max_size=80),
       st.booleans())
@settings(max_examples=200, deadline=None)
def test_unit_codes_of_integers_equal_the_hash_lookup(units, values, shuffle):
    """Sorted integer units (a lattice's cells) take a binary search; unsorted ones the hash
    table; both give the positions ``pandas.Index.get_indexer`` gives, -1 for the absent."""
    ids = np.array(sorted(set(units)), dtype=np.int64) * 10**15
    if shuffle:
        ids = ids[::-1].copy()
    vals = np.array(values, dtype=np.int64) * 10**15
    expected = pd.Index(ids).get_indexer(vals)
    assert unit_codes(vals, ids).tolist() == expected.tolist()
    assert unit_codes(pd.Series(vals), pd.Index(ids)).tolist() == expected.tolist()
