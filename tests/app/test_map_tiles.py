"""The offline base of the MapLibre maps (app/map_tiles.py): vector tiles of the user's own scope
from real boundaries, lakes and towns, a ministry's MBTiles street map, glyphs and the style;
then the tourism page in Chromium, drawn by MapLibre from the app alone."""

from __future__ import annotations

import gzip
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest

import shapely

from riskmap.app.factory import create_app
from riskmap.app.map_tiles import request_style
from riskmap.auth import accounts
from riskmap.geo.tiles import tile_of
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store
from riskmap.settings import Settings
from tests.app.test_auth import PASSWORD, _login
from tests.app.test_basemap import real_store  # noqa: F401 (a fixture)
from tests.app.test_tourism import _MAP, tourism_server, tourism_store  # noqa: F401 (fixtures)

JIZZAX = (67.84, 40.12)
TASHKENT = (69.28, 41.31)


def _streets_mbtiles(path: Path, z: int, x: int, y: int) -> bytes:
    """A one-tile vector MBTiles in the OpenMapTiles schema (a street), gzip-compressed."""
    tile = gzip.compress(mapbox_vector_tile.encode([{"name": "transportation", "features": [
        {"geometry": "LINESTRING (0 0, 4096 4096)", "properties": {"class": "primary"}}]}]))
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE metadata (name TEXT, value TEXT);"
                     "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER,"
                     " tile_row INTEGER, tile_data BLOB);")
    db.executemany("INSERT INTO metadata VALUES (?, ?)", [
        ("format", "pbf"), ("minzoom", "0"), ("maxzoom", "14"), ("name", "uzbekistan"),
        ("attribution", "© OpenStreetMap contributors"),
        ("json", json.dumps({"vector_layers": [{"id": "transportation"}, {"id": "water"}]}))])
    db.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, (1 << z) - 1 - y, tile))
    db.commit()
    db.close()
    return tile


def _app(store: Store, **map_settings: Any) -> Any:
    settings = Settings(_env_file=None, store=store.url,  # type: ignore[call-arg]
                        app={"auth": "accounts", "host": "127.0.0.1", "map": map_settings})
    return create_app(settings, DataAccess(store, user="app"))


def _places(client: Any, lon: float, lat: float, z: int) -> list[str]:
    resp = client.get("/map/tiles/base/{}/{}/{}.pbf".format(*tile_of(lon, lat, z)))
    assert resp.status_code in (200, 204), resp.status_code
    layers = mapbox_vector_tile.decode(resp.data) if resp.status_code == 200 else {}
    return [f["properties"]["name"] for f in layers.get("place", {}).get("features", [])]


def test_tiles_glyphs_and_streets_of_the_users_scope(real_store: Store,  # noqa: F811
                                                     tmp_path: Path) -> None:
    accounts.add_user(real_store, "dz", PASSWORD, role="commander", regions=["Dzhizak"])
    accounts.add_user(real_store, "boss", PASSWORD, role="admin")
    z, x, y = tile_of(*JIZZAX, 12)
    street = _streets_mbtiles(tmp_path / "uzbekistan.mbtiles", z, x, y)
    app = _app(real_store, tiles=str(tmp_path / "uzbekistan.mbtiles"))
    anonymous = app.server.test_client()
    # no login, no tiles: an answer a tile fetch understands, not the login page
    assert anonymous.get("/map/tiles/base/7/88/48.pbf").status_code == 401
    assert anonymous.get("/map/glyphs/riskmap/0-255.pbf").status_code == 401

    dz = app.server.test_client()
    _login(dz, "dz")
    boss = app.server.test_client()
    _login(boss, "boss")
    # a scoped commander's tiles hold their own region's towns; Tashkent is not theirs
    assert "Tashkent" not in _places(dz, *TASHKENT, 7)
    assert "Tashkent" in _places(boss, *TASHKENT, 7)
    jizzax = _places(dz, *JIZZAX, 9)
    assert jizzax and set(jizzax) <= set(_places(boss, *JIZZAX, 9))
    resp = dz.get("/map/tiles/base/{}/{}/{}.pbf".format(*tile_of(*JIZZAX, 7)))
    layers = mapbox_vector_tile.decode(resp.data)
    assert {f["properties"]["level"] for f in layers["boundary"]["features"]} == {4, 6}
    assert resp.headers["Cache-Control"].startswith("private")
    # Aydar lake, from Natural Earth, at region zoom
    lake = mapbox_vector_tile.decode(boss.get(
        "/map/tiles/base/{}/{}/{}.pbf".format(*tile_of(67.5, 40.9, 7))).data)
    assert "Aydar Ko‘l" in [f["properties"].get("name") for f in lake["water"]["features"]]
    # nothing there, or no such tile: 204, which MapLibre draws as empty (no console error)
    assert dz.get("/map/tiles/base/7/0/0.pbf").status_code == 204
    assert dz.get("/map/tiles/base/3/9/0.pbf").status_code == 204

    # glyphs of Cyrillic labels, whatever font stack plotly asks for
    glyphs = dz.get("/map/glyphs/Open%20Sans%20Regular,Arial%20Unicode%20MS/1024-1279.pbf")
    assert glyphs.status_code == 200 and glyphs.mimetype == "application/x-protobuf"
    assert b"1024-1279" in glyphs.data and len(glyphs.data) > 10_000
    assert dz.get("/map/glyphs/riskmap/5-260.pbf").status_code == 404

    # the ministry's street map, served as it is stored (gzip) and 204 where it has no tile
    got = dz.get(f"/map/tiles/streets/{z}/{x}/{y}")
    assert got.status_code == 200 and got.headers["Content-Encoding"] == "gzip"
    assert got.data == street
    assert dz.get(f"/map/tiles/streets/{z}/{x + 1}/{y}").status_code == 204

    # the style: the app's own addresses only, the street map under the project's layers
    with app.server.test_request_context("/tourism", base_url="http://maps.internal:8050/"):
        style = request_style()
    assert style is not None
    text = json.dumps(style)
    urls = [u for u in text.split('"') if "://" in u]
    assert urls and all(u.startswith("http://maps.internal:8050/map/") for u in urls)
    ids = [layer["id"] for layer in style["layers"]]
    assert ids.index("streets-street") < ids.index("road") < ids.index("place")
    assert "streets-building" not in ids  # the archive has no building layer
    assert style["sources"]["streets"]["attribution"] == "© OpenStreetMap contributors"


def test_a_bad_street_map_leaves_the_map_working(real_store: Store,  # noqa: F811
                                                 tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "notes.mbtiles").write_text("not tiles", encoding="utf-8")
    app = _app(real_store, tiles=str(tmp_path / "notes.mbtiles"))
    assert "notes.mbtiles: not an MBTiles or PMTiles file" in caplog.text
    accounts.add_user(real_store, "boss", PASSWORD, role="admin")
    client = app.server.test_client()
    _login(client, "boss")
    assert client.get("/map/tiles/streets/7/88/48").status_code == 204
    with app.server.test_request_context("/tourism"):
        style = request_style()
    assert style is not None and "streets" not in style["sources"]
    assert _places(client, *TASHKENT, 7)


# ---------------------------------------------------------------------------- browser
_MAPLIBRE_JS = """
const gd = document.querySelector(arguments[0]);
const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
const map = sub && sub.map;
if (!map || !map.isStyleLoaded() || !map.areTilesLoaded()) { return null; }
const own = map.getStyle().sources.riskmap;
const roads = map.querySourceFeatures('riskmap', {sourceLayer: 'road'}).length;
const drawn = map.queryRenderedFeatures({layers: ['road', 'road-case', 'mahalla']}).length;
const labels = map.queryRenderedFeatures().filter(f => f.layer.type === 'symbol').length;
return {tiles: own.tiles, roads: roads, drawn: drawn, labels: labels,
        traces: gd._fullData.map(t => [t.type, t.meta ? t.meta.kind : null]),
        fade: map._fadeDuration,
        // the fills of polygon traces drawn with an outline (plotly: marker.line.width)
        smoothed: map.getStyle().layers.filter(l => gd._fullData.some(t =>
            t.type === 'choroplethmap' && l.id === 'plotly-trace-layer-' + t.uid + '-fill'
            && t.marker.line.width > 0))
          .map(l => map.getPaintProperty(l.id, 'fill-antialias'))};
"""


@pytest.mark.browser
def test_the_tourism_map_is_maplibre_from_the_app_alone(
        tourism_server: str, browser: Any, clean_console: Any, wait: Any) -> None:  # noqa: F811
    browser.get_log("performance")  # what earlier tests asked for
    browser.get(tourism_server + "/tourism?lang=ru")
    got = wait(browser, lambda d: d.execute_script(_MAPLIBRE_JS, _MAP))
    assert got["tiles"] == [tourism_server + "/map/tiles/base/{z}/{x}/{y}.pbf"]
    # the world's roads come as base tiles, drawn; the zone's layers as plotly map traces
    assert got["roads"] > 0 and got["drawn"] > 0
    kinds = {k: t for t, k in got["traces"]}
    assert kinds["zone"] == "choroplethmap" and kinds["coverage"] == "choroplethmap"
    assert kinds["incident"] == "scattermap" and kinds["label"] == "scattermap"
    # labels drawn with the app's glyphs, placed at once (no fade: app/assets/map_render.js)
    wait(browser, lambda d: d.execute_script(_MAPLIBRE_JS, _MAP)["labels"] > 0)
    got = browser.execute_script(_MAPLIBRE_JS, _MAP)
    assert got["fade"] == 0
    # polygons outlined by plotly skip their own edge smoothing (a sixth of a frame)
    assert got["smoothed"] and set(got["smoothed"]) == {False}
    time.sleep(0.5)
    asked = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            asked.add(message["params"]["request"]["url"])
    assert any("/map/glyphs/" in u for u in asked)
    outside = {u for u in asked if not u.startswith((tourism_server, "blob:", "data:"))}
    assert not outside, outside


def test_the_zone_map_on_maplibre_keeps_holes_open() -> None:
    """A post in the middle of the zone: the part beyond is a ring; on MapLibre it is one
    polygon with a hole (a choropleth feature), not two filled rings."""
    import geopandas as gpd

    from riskmap.app.figures_tourism import zone_map
    from riskmap.app.map_tiles import map_style

    zone = shapely.box(67.0, 40.0, 67.1, 40.05)
    beyond = zone.difference(shapely.Point(67.05, 40.025).buffer(0.015))
    iso = gpd.GeoDataFrame({"source_kind": [], "minutes": []}, geometry=[], crs=4326)
    fig = zone_map(zone, iso, beyond=beyond, beyond_minutes=20.0,
                   style=map_style("http://host/"))
    trace = next(t for t in fig.data if t.meta["kind"] == "beyond")
    (feature,) = trace.geojson["features"]
    assert feature["geometry"]["type"] == "Polygon" and len(feature["geometry"]["coordinates"]) == 2
    assert fig.layout.map.style["glyphs"] == "http://host/map/glyphs/{fontstack}/{range}.pbf"
    # the whole zone in view at the first draw
    assert 11 < fig.layout.map.zoom < 13
    assert fig.layout.map.center.lon == pytest.approx(67.05)
