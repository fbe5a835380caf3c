"""Vector tiles of the base map (geo/tiles.py, geo.basemap.tile_layers), decoded back."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest

import shapely

from riskmap.geo.basemap import tile_layers
from riskmap.geo.tiles import EXTENT, TileLayer, TileSource, tile_bounds, tile_of


def _decode(data: bytes) -> dict:
    return mapbox_vector_tile.decode(data) if data else {}


def test_tile_math_round_trips() -> None:
    for z in (0, 5, 12, 18):
        _, x, y = tile_of(66.95, 39.65, z)
        minx, miny, maxx, maxy = tile_bounds(z, x, y)
        assert maxx - minx == pytest.approx(maxy - miny)
        assert maxx - minx == pytest.approx(2 * 20037508.342789244 / 2 ** z)
    # the corners of the world
    assert tile_of(-180, 85.06, 3) == (3, 0, 0) and tile_of(179.999, -85.06, 3) == (3, 7, 7)


def test_a_line_across_tiles_is_cut_to_each_tile_and_its_buffer() -> None:
    line = shapely.LineString([(60.0, 40.0), (70.0, 41.0)])
    src = TileSource({"road": TileLayer.of([line], {"class": ["trunk"]})})
    z = 8
    tiles = {tile_of(lon, 40.0 + (lon - 60) / 10, z)[1:] for lon in np.linspace(60, 70, 200)}
    assert len(tiles) > 5
    for x, y in tiles:
        layer = _decode(src.tile(z, x, y))["road"]
        (feature,) = layer["features"]
        coords = np.asarray(feature["geometry"]["coordinates"])
        # cut at the 64-unit buffer around the 4096-unit tile, not left to run across the map
        assert coords.min() >= -64 - 1 and coords.max() <= EXTENT + 64 + 1
        assert feature["properties"] == {"class": "trunk"}
    # a tile the line does not reach is empty
    assert src.tile(z, *tile_of(75.0, 45.0, z)[1:]) == b""


def test_minzoom_simplification_and_bad_tiles() -> None:
    wiggly = shapely.LineString(np.column_stack([np.linspace(66, 67, 2001),
                                                 39.5 + 0.0001 * np.sin(np.arange(2001))]))
    src = TileSource({"road": TileLayer.of([wiggly, wiggly], {"class": ["primary", None]},
                                           [0, 12])})
    low = _decode(src.tile(*tile_of(66.5, 39.5, 6)))["road"]["features"]
    # the minor copy joins at zoom 12 only; a missing property is left out, not "None"
    assert len(low) == 1 and low[0]["properties"] == {"class": "primary"}
    # at zoom 6 a tile unit is ~150 m: the 10 m wiggle is simplified away
    assert len(low[0]["geometry"]["coordinates"]) < 20
    high = _decode(src.tile(*tile_of(66.5, 39.5, 12)))["road"]["features"]
    assert len(high) == 2 and high[1]["properties"] == {}
    for bad in ((-1, 0, 0), (3, 8, 0), (3, 0, -1), (23, 0, 0)):
        with pytest.raises(ValueError, match="no tile"):
            src.tile(*bad)
    # cached: the same bytes object again
    assert src.tile(*tile_of(66.5, 39.5, 6)) is src.tile(*tile_of(66.5, 39.5, 6))


def test_empty_and_missing_geometries_and_read_only_arrays() -> None:
    geoms = np.array([None, shapely.Point(), shapely.Point(66.9, 39.65)], dtype=object)
    names = np.array(["none", "empty", "Samarqand"], dtype=object)
    names.flags.writeable = False
    layer = TileLayer.of(geoms, {"name": names})
    assert len(layer.geometry) == 1
    got = _decode(TileSource({"place": layer}).tile(*tile_of(66.9, 39.65, 10)))
    assert [f["properties"]["name"] for f in got["place"]["features"]] == ["Samarqand"]
    with pytest.raises(ValueError, match="property 'name' has 2 values for 1 features"):
        TileLayer(layer.geometry, {"name": np.array(["a", "b"], dtype=object)})


def test_base_layers_place_ranks_roads_and_boundaries() -> None:
    features = pd.DataFrame({
        "kind": ["city", "town", "village", "road", "road", "lake", "stream", "school"],
        "name": ["Jizzax", "Do'stlik", "Qishloq", None, None, "Aydar ko'li", None, "Maktab"],
        "road_class": [None, None, None, "trunk", "residential", None, None, None],
        "population": [np.nan, 40_000.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan],
        "geometry": [shapely.Point(67.84, 40.12), shapely.Point(68.04, 40.52),
                     shapely.Point(67.9, 40.2),
                     shapely.LineString([(67.8, 40.1), (68.0, 40.5)]),
                     shapely.LineString([(67.84, 40.12), (67.85, 40.13)]),
                     shapely.box(67.0, 40.7, 67.6, 40.9),
                     shapely.LineString([(67.9, 40.2), (67.95, 40.25)]),
                     shapely.Point(67.85, 40.12)]})
    districts = pd.Series([shapely.box(67.5, 40.0, 68.2, 40.6)], index=["Jizzax tumani"])
    regions = pd.Series([shapely.box(66.0, 39.5, 69.0, 41.0)], index=["Jizzax viloyati"])
    mahallas = pd.DataFrame({"name": ["Navro'z"], "geometry": [shapely.box(67.83, 40.11,
                                                                            67.85, 40.13)]})
    layers = tile_layers(features, districts=districts, regions=regions, mahallas=mahallas)
    assert list(layers) == ["water", "river", "road", "boundary", "mahalla", "place"]
    assert layers["place"].properties["name"].tolist() == ["Jizzax", "Do'stlik", "Qishloq"]
    assert layers["place"].properties["rank"].tolist() == [0, 1, 2]
    assert layers["place"].minzoom.tolist() == [0, 3, 4]
    assert layers["road"].minzoom.tolist() == [0, 12]
    assert layers["river"].minzoom.tolist() == [11]  # a stream joins late
    assert layers["boundary"].properties["level"].tolist() == [6, 4]
    assert len(layers["water"].geometry) == 1  # the school is not on the base map
    src = TileSource(layers)
    region_view = _decode(src.tile(*tile_of(67.84, 40.12, 3)))
    assert [f["properties"]["name"] for f in region_view["place"]["features"]] == [
        "Jizzax", "Do'stlik"]
    assert "mahalla" not in region_view  # mahalla outlines from zoom 10
    street = _decode(src.tile(*tile_of(67.84, 40.12, 14)))
    assert [f["properties"].get("name") for f in street["mahalla"]["features"]] == ["Navro'z"]
    # the residential street (zoom 12 on) is there; the trunk road runs elsewhere
    assert [f["properties"]["class"] for f in street["road"]["features"]] == ["residential"]
    assert "road" not in region_view or all(
        f["properties"]["class"] == "trunk" for f in region_view["road"]["features"])
    assert tile_layers(None)["place"].geometry.size == 0
