"""H3 helpers against h3-py, cell by cell."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import h3

from riskmap.geo.h3index import cell_centers, cells_from_lonlat, cells_to_hex, hex_to_cells, parents


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-179, 179), st.floats(-85, 85)), min_size=1, max_size=30),
       st.integers(0, 12))
def test_cells_and_parents_match_h3py(points, res):
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    cells = cells_from_lonlat(lon, lat, res)
    expected = [h3.str_to_int(h3.latlng_to_cell(y, x, res)) for x, y in points]
    assert cells.tolist() == expected
    if res > 0:
        assert parents(cells, res - 1).tolist() == [
            h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), res - 1)) for c in cells]
    # round trip: the centre of a cell lies in that cell
    cx, cy = cell_centers(cells)
    assert cells_from_lonlat(cx, cy, res).tolist() == cells.tolist()
    assert hex_to_cells(cells_to_hex(cells)).tolist() == cells.tolist()


def test_invalid_points_give_zero():
    got = cells_from_lonlat(np.array([np.nan, 67.0, 200.0]), np.array([40.0, np.nan, 40.0]), 9)
    assert got.tolist() == [0, 0, 0]
    assert parents(got, 7).tolist() == [0, 0, 0]
    assert cells_to_hex(got).tolist() == ["", "", ""]
