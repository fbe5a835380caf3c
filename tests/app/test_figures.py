"""Unit tests of the pure figure builders (no browser)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import geopandas as gpd
import shapely

from riskmap.app import figures
from riskmap.app.figures import class_breaks, class_labels, classify, polygon_xy
from riskmap.geo.h3index import cell_polygons, cells_from_lonlat


def test_class_breaks_hand_cases() -> None:
    assert class_breaks(np.array([1, 2, 3, 4, 5, 6]), k=3).tolist() == [2, 4, 6]
    assert class_breaks(np.array([5, 5, 5]), k=6).tolist() == [5]
    assert class_breaks(np.array([0, 0, 1, 10]), k=2).tolist() == [1, 10]
    assert class_breaks(np.array([0, np.nan, -1])).tolist() == []
    assert class_breaks(np.array([], dtype=float)).tolist() == []
    with pytest.raises(ValueError, match=r"expected 1\.\.7"):
        class_breaks(np.array([1.0]), k=8)


def test_classify_and_labels() -> None:
    breaks = np.array([2.0, 4.0, 6.0])
    assert classify(np.array([0, 1, 2, 3, 4, 6, np.nan, -2]), breaks).tolist() == [
        0, 1, 1, 2, 2, 3, 0, 0]
    assert classify(np.array([0, np.nan]), np.empty(0)).tolist() == [0, 0]
    assert class_labels(breaks) == ["1–2", "3–4", "5–6"]
    assert class_labels(np.array([1.0, 1500.0])) == ["1", "2–1,500"]
    assert class_labels(np.empty(0)) == []


@given(st.lists(st.integers(0, 10_000), max_size=200), st.integers(1, 7))
def test_classes_cover_positive_values_in_order(values: list[int], k: int) -> None:
    v = np.array(values, dtype=float)
    breaks = class_breaks(v, k)
    cls = classify(v, breaks)
    assert len(breaks) <= k
    assert np.all(np.diff(breaks) > 0)
    assert ((cls == 0) == (v <= 0)).all()
    if (v > 0).any():
        assert breaks[-1] == v.max()
        # each positive value lies inside the bounds of its class
        upper = breaks[cls[v > 0] - 1]
        lower = np.r_[0.0, breaks][cls[v > 0] - 1]
        assert (v[v > 0] <= upper).all() and (v[v > 0] > lower).all()
        # classes never decrease as values grow
        order = np.argsort(v, kind="stable")
        assert np.all(np.diff(cls[order]) >= 0)


def test_polygon_xy_rings_parts_holes_and_missing() -> None:
    square = shapely.box(0, 0, 1, 1)
    holed = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(1, 1), (2, 1), (2, 2)]])
    multi = shapely.MultiPolygon([shapely.box(10, 0, 11, 1), shapely.box(12, 0, 13, 1)])
    empty = shapely.from_wkt("POLYGON EMPTY")
    x, y = polygon_xy(np.array([square, None, empty, holed, multi], dtype=object))
    # 4 rings (square, holed exterior only, 2 parts) of 5 coordinates, 3 gaps
    assert len(x) == 4 * 5 + 3
    assert np.isnan(x).sum() == 3 and np.isnan(y).sum() == 3
    assert x[:5].tolist() == [1, 1, 0, 0, 1] and y[:5].tolist() == [0, 1, 1, 0, 0]
    assert polygon_xy(np.array([None, empty], dtype=object))[0].size == 0
    assert polygon_xy(np.empty(0, dtype=object))[0].size == 0


def _mahallas() -> gpd.GeoDataFrame:
    x0 = np.array([67.84, 67.85, 67.86])
    return gpd.GeoDataFrame({
        "mahalla_id": ["A", "B", "C"],
        "name": ["Bog'ishamol", "Navro'z", "Sharq"],
        "district": ["Jizzax shahri", "Jizzax shahri", "Sharof Rashidov tumani"],
        "population": [2000.0, np.nan, 500.0],
        "count": [0, 4, 10],
        "rate_per_1000": [0.0, np.nan, 20.0],
    }, geometry=shapely.box(x0, 40.12, x0 + 0.01, 40.13), crs="EPSG:4326")


def test_mahalla_map_classes_legend_and_tooltips() -> None:
    fig = figures.mahalla_map(_mahallas(), k=2)
    polys = [t for t in fig.data if t.meta["kind"] == "mahalla"]
    # zero class plus two classes of the positive counts (4 and 10)
    assert [t.name for t in polys] == ["0", "1–4", "5–10"]
    assert polys[0].fillcolor == figures.ZERO_COLOUR
    assert len({t.fillcolor for t in polys}) == 3
    assert all(t.fill == "toself" and t.showlegend is not False for t in polys)
    assert [int(np.isnan(np.asarray(t.x, dtype=float)).sum()) + 1 for t in polys] == [1, 1, 1]
    hover = next(t for t in fig.data if t.meta["kind"] == "mahalla-hover")
    assert hover.type == "scatter"  # SVG: few units
    assert hover.showlegend is False and hover.marker.opacity == 0
    rows = np.asarray(hover.customdata)
    assert rows[:, 0].tolist() == ["Bog'ishamol", "Navro'z", "Sharq"]
    assert rows[:, 3].tolist() == ["0.00", "unknown", "20.00"]  # rate per 1,000
    assert rows[:, 4].tolist() == ["2,000", "unknown", "500"]    # population
    assert "Per 1,000 residents" in hover.hovertemplate and "District" in hover.hovertemplate
    # the aspect: one degree of latitude is 1/cos(40.125°) times a degree of longitude
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.yaxis.scaleratio == pytest.approx(1 / math.cos(math.radians(40.125)))


def test_h3_map_hexagons_over_outlined_mahallas() -> None:
    lon = np.array([67.845, 67.846, 67.855, 67.865])
    lat = np.array([40.125, 40.1251, 40.125, 40.125])
    cells = np.unique(cells_from_lonlat(lon, lat, 9))
    units = gpd.GeoDataFrame({
        "h3": cells, "h3_hex": [format(int(c), "x") for c in cells],
        "count": np.arange(1, len(cells) + 1), "share": np.full(len(cells), 100 / len(cells)),
    }, geometry=cell_polygons(cells), crs="EPSG:4326")
    fig = figures.h3_map(units, _mahallas().geometry, resolution=9)
    kinds = [t.meta["kind"] for t in fig.data]
    assert kinds[-2:] == ["base", "h3-hover"]
    base = fig.data[kinds.index("base")]
    assert base.name == figures.BASE_NAME and base.fill is None
    assert int(np.isnan(np.asarray(base.x, dtype=float)).sum()) + 1 == 3
    hexes = [t for t in fig.data if t.meta["kind"] == "h3"]
    n_coords = sum(len(t.x) for t in hexes)
    n_rings = sum(int(np.isnan(np.asarray(t.x, dtype=float)).sum()) + 1 for t in hexes)
    assert n_rings == len(cells) and n_coords == len(cells) * 7 + len(cells) - len(hexes)
    hover = fig.data[-1]
    assert sorted(np.asarray(hover.customdata)[:, 0]) == sorted(units["h3_hex"])
    assert "res 9" in fig.layout.legend.title.text


def test_empty_inputs_give_a_message() -> None:
    empty = _mahallas().iloc[:0]
    fig = figures.mahalla_map(empty)
    assert len(fig.data) == 0
    assert fig.layout.annotations[0].text.startswith("No mahallas or incidents")
    # no cells but a base map: the outlines alone, no hover trace
    fig = figures.h3_map(empty.assign(h3=pd.Series(dtype="int64"), h3_hex="", share=0.0),
                         _mahallas().geometry)
    assert [t.meta["kind"] for t in fig.data] == ["base"]


def test_many_units_hover_through_webgl() -> None:
    n = figures.GL_HOVER_MIN + 1
    x0 = 67.0 + np.arange(n) * 1e-4
    units = gpd.GeoDataFrame({"h3_hex": ["x"] * n, "count": np.ones(n, dtype=int),
                              "share": np.full(n, 100 / n)},
                             geometry=shapely.box(x0, 40.0, x0 + 1e-4, 40.0001), crs="EPSG:4326")
    fig = figures.h3_map(units)
    assert [t.type for t in fig.data] == ["scatter", "scattergl"]
    assert len(fig.data[-1].x) == n
