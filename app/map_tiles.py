"""The offline base of the MapLibre maps: vector tiles, glyphs and the style, served by the app.

Nothing is fetched from the internet. Three routes, for logged-in users only:

``/map/tiles/base/<z>/<x>/<y>.pbf``
    The project's own base map as Mapbox Vector Tiles (:func:`geo.basemap.tile_layers`):
    region and district outlines, mahalla outlines and names, water, rivers, roads and named
    places, from the store, of the user's own scope (read through their data access).
``/map/tiles/streets/<z>/<x>/<y>``
    A ministry's own offline street map when ``RISKMAP_APP__MAP__TILES`` names an MBTiles or
    PMTiles file (:mod:`app.tile_archive`): drawn under the project's layers.
``/map/glyphs/<fontstack>/<range>.pbf``
    Label glyphs built from a font of the OS (:mod:`app.glyphs`); every font stack name gets
    the same font (plotly asks for "Open Sans").

:func:`map_style` is the MapLibre style that ties them together; plotly's ``map`` traces draw
over it (``layout.map.style``). A missing tile answers 204 (MapLibre draws nothing there),
so no error reaches the browser's console.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import flask

from riskmap.app.glyphs import find_font, glyph_range, parse_range
from riskmap.app.tile_archive import TileArchive, TileArchiveError
from riskmap.geo.tiles import MAX_ZOOM, valid_tile
from riskmap.settings import MapSettings, Settings

__all__ = ["MAP_PATH", "StreetMap", "install_map_tiles", "map_style", "max_cells",
           "request_style",
           "street_map"]

log = logging.getLogger(__name__)

#: where the map's own routes live
MAP_PATH = "/map/"
#: the font stack the project's layers ask for (any name gets the same font)
FONT = "riskmap"
_EXTENSION_KEY = "riskmap_street_map"
_MAX_CELLS_KEY = "riskmap_max_cells"


class StreetMap:
    """The configured offline street map (``RISKMAP_APP__MAP__TILES``), opened once."""

    def __init__(self, archive: TileArchive | None, error: str | None = None) -> None:
        self.archive = archive
        self.error = error


def street_map() -> StreetMap | None:
    """The street map of the app serving the current request (None: none configured)."""
    return flask.current_app.extensions.get(_EXTENSION_KEY)


def request_style() -> dict[str, Any] | None:
    """The map style for the current request's page (tiles at the address the browser used),
    or None outside a request of an app with the map routes (the maps then draw on plain
    lon/lat axes)."""
    if not flask.has_request_context() or _EXTENSION_KEY not in flask.current_app.extensions:
        return None
    return map_style(flask.request.url_root, street_map())


def max_cells() -> int:
    """The most H3 cells one map of this app draws (``RISKMAP_APP__MAP__MAX_CELLS``; outside
    an app: the setting's default)."""
    if flask.has_request_context():
        got = flask.current_app.extensions.get(_MAX_CELLS_KEY)
        if isinstance(got, int):
            return got
    return int(MapSettings.model_fields["max_cells"].default)


def install_map_tiles(server: flask.Flask, settings: Settings) -> None:
    """Add the tile, street-map and glyph routes to ``server`` (see the module docstring)."""
    server.extensions[_MAX_CELLS_KEY] = settings.app.map.max_cells
    font: Path | None = None
    try:
        font = find_font(settings.app.map.font)
    except FileNotFoundError as exc:  # labels are left out; the map still draws
        log.warning("map labels are off: %s", exc)
    streets: StreetMap | None = None
    if settings.app.map.tiles is not None:
        try:
            streets = StreetMap(TileArchive.open(settings.app.map.tiles))
        except TileArchiveError as exc:
            log.error("the street map is off: %s", exc)
            streets = StreetMap(None, str(exc))
    server.extensions[_EXTENSION_KEY] = streets

    @server.get(MAP_PATH + "glyphs/<path:stack>/<rng>.pbf")
    def _glyphs(stack: str, rng: str) -> flask.Response:
        try:
            start = parse_range(rng)
        except ValueError:
            return flask.Response(status=404)
        if font is None:
            return flask.Response(status=204)
        # one font whatever the stack asked for, and the stack's name is not echoed: every
        # range is built once (a request cannot make the server build it again under
        # another name)
        resp = flask.Response(glyph_range(font, start, fontstack=FONT),
                              mimetype="application/x-protobuf")
        resp.headers["Cache-Control"] = "private, max-age=86400"
        return resp

    @server.get(MAP_PATH + "tiles/base/<int:z>/<int:x>/<int:y>.pbf")
    def _base(z: int, x: int, y: int) -> flask.Response:
        from riskmap.app.commanders_data import data_for
        from riskmap.app.factory import current_model

        if not valid_tile(z, x, y) or z > MAX_ZOOM:
            return flask.Response(status=204)
        data = data_for(current_model()).base_tiles().tile(z, x, y)
        if not data:
            return flask.Response(status=204)
        resp = flask.Response(data, mimetype="application/x-protobuf")
        resp.headers["Cache-Control"] = "private, max-age=300"
        return resp

    @server.get(MAP_PATH + "tiles/streets/<int:z>/<int:x>/<int:y>")
    def _streets(z: int, x: int, y: int) -> flask.Response:
        archive = streets.archive if streets is not None else None
        tile = archive.get(z, x, y) if archive is not None else None
        if tile is None:
            return flask.Response(status=204)
        resp = flask.Response(tile.data, mimetype=tile.media_type)
        if tile.encoding:
            resp.headers["Content-Encoding"] = tile.encoding
        resp.headers["Cache-Control"] = "private, max-age=86400"
        return resp


#: colours of the base map (the same as the plotly base map's: app/figures_basemap.py)
_LAND = "#f4f3ef"
_WATER = "#a9cbe8"
_RIVER = "#7fb0dc"
_ROAD = "#ffffff"
_ROAD_FAR = "rgba(110,80,55,0.85)"
_ROAD_CASE = "#b9b6ad"
_DISTRICT = "#8c8a84"
_REGION = "#55534e"
_TEXT = "#3b3a36"
_HALO = "rgba(255,255,255,0.9)"


def map_style(origin: str, streets: StreetMap | None = None) -> dict[str, Any]:
    """The MapLibre style of the maps: the street map (if any), then the project's layers.

    ``origin`` is the app's own address as the browser sees it (``flask.request.host_url``
    plus any path prefix): MapLibre fetches tiles from a web worker, which needs absolute
    addresses.
    """
    root = origin.rstrip("/") + MAP_PATH
    sources: dict[str, Any] = {"riskmap": {
        "type": "vector", "tiles": [root + "tiles/base/{z}/{x}/{y}.pbf"], "minzoom": 0,
        "maxzoom": MAX_ZOOM}}
    layers: list[dict[str, Any]] = [
        {"id": "land", "type": "background", "paint": {"background-color": _LAND}}]
    archive = streets.archive if streets is not None else None
    if archive is not None:
        source: dict[str, Any] = {"tiles": [root + "tiles/streets/{z}/{x}/{y}"],
                                  "minzoom": archive.minzoom, "maxzoom": archive.maxzoom}
        if archive.bounds is not None:
            source["bounds"] = list(archive.bounds)
        if archive.attribution:
            source["attribution"] = archive.attribution
        if archive.kind == "raster":
            sources["streets"] = {"type": "raster", "tileSize": 256, **source}
            layers.append({"id": "streets", "type": "raster", "source": "streets"})
        else:
            sources["streets"] = {"type": "vector", **source}
            layers += _openmaptiles_layers(set(archive.vector_layers))

    def own(id_: str, kind: str, layer: str, paint: dict[str, Any], **extra: Any
            ) -> dict[str, Any]:
        return {"id": id_, "type": kind, "source": "riskmap", "source-layer": layer,
                "paint": paint, **extra}

    major_road = ["match", ["get", "class"], ["motorway", "trunk", "primary"], True, False]
    layers += [
        own("water", "fill", "water", {"fill-color": _WATER}),
        own("river", "line", "river", {"line-color": _RIVER, "line-width": [
            "interpolate", ["linear"], ["zoom"], 6, 0.8, 14, 3]}),
        # zoomed out a road is a brown line over the risk colours; from zoom 12 a white
        # street with a casing, as on a street map
        own("road-case", "line", "road", {"line-color": _ROAD_CASE, "line-width": [
            "interpolate", ["linear"], ["zoom"], 12, ["case", major_road, 6, 3.5],
            16, ["case", major_road, 12, 7]]}, layout={"line-cap": "round",
                                                        "line-join": "round"}, minzoom=12),
        own("road", "line", "road", {"line-color": [
            "interpolate", ["linear"], ["zoom"], 11.5, _ROAD_FAR, 12.5, _ROAD],
            "line-width": ["interpolate", ["linear"], ["zoom"],
                           6, ["case", major_road, 1.4, 0.7], 12, ["case", major_road, 4, 2],
                           16, ["case", major_road, 10, 5.5]]},
            layout={"line-cap": "round", "line-join": "round"}),
        own("mahalla", "line", "mahalla", {"line-color": "#b4b1a8", "line-width": 0.6},
            minzoom=11),
        own("district", "line", "boundary", {"line-color": _DISTRICT, "line-width": 1.1,
                                             "line-dasharray": [3, 2]},
            filter=["==", ["get", "level"], 6]),
        own("region", "line", "boundary", {"line-color": _REGION, "line-width": 2.0},
            filter=["==", ["get", "level"], 4]),
        # names that follow the zoom: regions, then districts, then mahallas (MapLibre
        # leaves out a name that would collide with one drawn before it)
        own("region-name", "symbol", "boundary", _label_paint(_REGION), maxzoom=8,
            filter=["==", ["get", "level"], 4],
            layout={**_label_layout(13), "text-transform": "uppercase",
                    "text-letter-spacing": 0.08}),
        own("district-name", "symbol", "boundary", _label_paint(_DISTRICT), minzoom=8,
            maxzoom=12, filter=["==", ["get", "level"], 6],
            layout={**_label_layout(12), "text-letter-spacing": 0.04}),
        own("mahalla-name", "symbol", "mahalla", _label_paint("#6b6963"), minzoom=12,
            layout={**_label_layout(11), "symbol-placement": "point"}),
        own("water-name", "symbol", "water", _label_paint("#2f6fa8"), minzoom=9,
            layout=_label_layout(11)),
        own("place", "symbol", "place", _label_paint(_TEXT),
            layout={**_label_layout(["match", ["get", "rank"], 0, 15, 1, 13, 12]),
                    "symbol-sort-key": ["get", "rank"]}),
    ]
    return {"version": 8, "name": "riskmap", "glyphs": root + "glyphs/{fontstack}/{range}.pbf",
            "sources": sources, "layers": layers}


def _label_layout(size: Any) -> dict[str, Any]:
    return {"text-field": ["get", "name"], "text-font": [FONT], "text-size": size,
            "text-max-width": 8}


def _label_paint(colour: str) -> dict[str, Any]:
    return {"text-color": colour, "text-halo-color": _HALO, "text-halo-width": 1.4}


def _openmaptiles_layers(present: set[str]) -> list[dict[str, Any]]:
    """Layers for a street map in the OpenMapTiles schema (what planetiler, tilemaker and the
    OpenMapTiles tools write): land use, water, buildings, streets and their names. Layers
    the archive does not have are left out."""
    def street(id_: str, layer: str, kind: str, paint: dict[str, Any], **extra: Any
               ) -> dict[str, Any]:
        return {"id": f"streets-{id_}", "type": kind, "source": "streets", "source-layer": layer,
                "paint": paint, **extra}

    out = [
        street("landuse", "landuse", "fill", {"fill-color": "#ebe7df"}),
        street("park", "park", "fill", {"fill-color": "#dcebd2"}),
        street("landcover", "landcover", "fill", {"fill-color": "#e3ecd9", "fill-opacity": 0.6}),
        street("water", "water", "fill", {"fill-color": _WATER}),
        street("waterway", "waterway", "line", {"line-color": _RIVER, "line-width": 1.0}),
        street("building", "building", "fill", {"fill-color": "#dedad2",
                                                "fill-outline-color": "#cfcac0"}, minzoom=13),
        street("street-case", "transportation", "line", {"line-color": _ROAD_CASE,
                                                         "line-width": ["interpolate", ["linear"],
                                                                        ["zoom"], 10, 1, 16, 9]},
               layout={"line-cap": "round", "line-join": "round"}),
        street("street", "transportation", "line", {"line-color": _ROAD,
                                                    "line-width": ["interpolate", ["linear"],
                                                                   ["zoom"], 10, 0.5, 16, 7]},
               layout={"line-cap": "round", "line-join": "round"}),
        street("street-name", "transportation_name", "symbol", _label_paint("#55534e"),
               layout={**_label_layout(11), "symbol-placement": "line"}, minzoom=14),
        street("poi", "poi", "symbol", _label_paint("#6b6963"),
               layout=_label_layout(10), minzoom=15),
    ]
    return [layer for layer in out if layer["source-layer"] in present]
