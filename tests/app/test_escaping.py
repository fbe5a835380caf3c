"""Names a user supplied are text in every figure: plotly reads ``<a href>`` and ``<b>`` in
tooltips, labels and legends, so they are escaped before they reach it."""

from __future__ import annotations

import json

import geopandas as gpd
import shapely

from riskmap.app.figures import mahalla_map
from riskmap.app.figures_tourism import zone_map

EVIL = '<a href="http://evil.example">click</a><script>alert(1)</script>'


def _strings(fig: object) -> str:
    return json.dumps(fig.to_plotly_json(), default=str)  # type: ignore[attr-defined]


def test_tourism_tooltips_escape_infrastructure_names() -> None:
    zone = shapely.box(67.0, 40.0, 67.1, 40.1)
    infra = gpd.GeoDataFrame({"kind": ["police_post", "hotel"], "name": [EVIL, "O'tov <b>"]},
                             geometry=[shapely.Point(67.05, 40.05), shapely.Point(67.02, 40.02)],
                             crs=4326)
    iso = gpd.GeoDataFrame({"source_kind": [], "minutes": []}, geometry=[], crs=4326)
    text = _strings(zone_map(zone, iso, infrastructure=infra))
    assert "&lt;a href=" in text and "&lt;script&gt;" in text and "O'tov &lt;b&gt;" in text
    assert "<a href" not in text and "<script>" not in text


def test_mahalla_tooltips_escape_names() -> None:
    units = gpd.GeoDataFrame({"name": [EVIL], "district": ["<i>D</i>"], "count": [3],
                              "rate_per_1000": [1.5], "population": [2000]},
                             geometry=[shapely.box(67.0, 40.0, 67.01, 40.01)], crs=4326)
    fig = mahalla_map(units)
    text = _strings(fig)
    assert "&lt;a href=" in text and "<a href" not in text
