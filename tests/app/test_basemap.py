"""The commanders' base map: district and region outlines, water, rivers, roads and named places,
from real boundaries (OCHA), Natural Earth lakes and places and GeoNames towns loaded with
``riskmap ingest``; the user's scope; then in Chromium (places named when zoomed out)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd
import shapely

from riskmap.app.callbacks.commanders import render_map
from riskmap.app.callbacks.planner import base_map_of
from riskmap.app.commanders_data import CommandersData, CommandersView
from riskmap.app.data import AppModel
from riskmap.app.figures_planner import plan_map
from riskmap.app.map_labels import GRID_COLS, GRID_ROWS, label_cells
from riskmap.cli import cli
from riskmap.geo.h3index import cells_from_lonlat
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store
from tests.app.conftest import (
    LAT0,
    LON0,
    MAP_STATE_JS,
    REGION,
    scattered_incidents,
    serve_app,
    settle,
)
from tests.conftest import shared_file


def _cli(*args: str) -> None:
    res = CliRunner().invoke(cli, list(args))
    assert res.exit_code == 0, res.output


@pytest.fixture
def real_store(store_url: str) -> Iterator[Store]:
    """199 real districts (as the mahalla layer), 6 Natural Earth lakes, 29 Natural Earth places
    and 221 GeoNames towns, each loaded as a user would, on either backend."""
    store = store_url
    _cli("ingest", "mahallas", str(shared_file("uzb-admin-ocha/uzb_adm2_shp.zip")),
         "--store", store, "--map", "ADM2_PCODE=mahalla_id", "--map", "ADM2_UZ=name",
         "--map", "ADM2_EN=district", "--map", "ADM1_EN=region")
    lakes = shared_file("natural-earth-uzb/ne_10m_lakes_uzb_bbox.geojson")
    _cli("ingest", "infrastructure", str(lakes), "--store", store, "--default", "kind=water")
    _cli("ingest", "infrastructure",
         str(shared_file("natural-earth-uzb/ne_10m_populated_places_uzb.geojson")),
         "--store", store, "--map", "FEATURECLA=kind", "--map", "NAME=name")
    _cli("ingest", "infrastructure",
         str(shared_file("geonames-uzb/geonames_cities500_uzb.csv")), "--store", store,
         "--map", "latitude=lat", "--map", "longitude=lon", "--default", "kind=settlement")
    opened = open_store(store)
    try:
        yield opened
    finally:
        opened.close()


def _data(store: Store, regions: list[str] | None = None) -> CommandersData:
    access = DataAccess(store, user="t", regions=regions, audit=False)
    return CommandersData(AppModel(access), background=False)


def _kinds(fig: dict[str, Any]) -> list[str]:
    return [str((t.get("meta") or {}).get("kind")) for t in fig["data"]]


def _trace(fig: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(t for t in fig["data"] if (t.get("meta") or {}).get("kind") == kind)


def test_real_lakes_places_and_districts_make_the_base_map(real_store: Store) -> None:
    infra = real_store.read("infrastructure")
    # Natural Earth's feature classes and the --default kind land on the base map's kinds
    assert infra.groupby("kind").size().to_dict() == {"city": 13, "settlement": 237, "water": 6}
    data = _data(real_store)
    view = CommandersView(region="Dzhizak")
    fig, _ = render_map(data, view, None)
    kinds = _kinds(fig)
    fills = [i for i, k in enumerate(kinds) if k == "mahalla"]
    # water and outlines above the fills (not hidden), below the tooltips and the names
    assert max(fills) < kinds.index("base-water") < kinds.index("base-district") \
        < kinds.index("base-region") < kinds.index("mahalla-hover") < kinds.index("base-place")
    # Aydar lake (in Jizzakh and Navoi) is drawn, cut to the region's box
    lakes = gpd.read_file(shared_file("natural-earth-uzb/ne_10m_lakes_uzb_bbox.geojson"))
    aydar = lakes.loc[lakes["name"].str.startswith("Aydar"), "geometry"].iloc[0]
    water = _trace(fig, "base-water")
    x, y = np.asarray(water["x"], float), np.asarray(water["y"], float)
    ok = np.isfinite(x)
    near = shapely.dwithin(aydar, shapely.points(x[ok], y[ok]), 0.01)
    assert near.mean() > 0.5
    area = data.area_bounds(view)
    assert area is not None
    pad = max(area[2] - area[0], area[3] - area[1]) * 0.1 + 1e-6
    for kind in ("base-water", "base-district", "base-region"):
        t = _trace(fig, kind)
        tx, ty = np.asarray(t["x"], float), np.asarray(t["y"], float)
        assert np.nanmin(tx) >= area[0] - pad and np.nanmax(tx) <= area[2] + pad
        assert np.nanmin(ty) >= area[1] - pad and np.nanmax(ty) <= area[3] + pad
    # places: cities first (Jizzax among them), one per spot (NE and GeoNames both name it)
    places = data.base_layer(view).places
    assert places["major"].tolist() == sorted(places["major"].tolist(), reverse=True)
    assert "Jizzax" in places.loc[places["major"], "name"].tolist()
    assert (places["name"] == "Jizzax").sum() == 1
    xy = places[["x", "y"]].to_numpy(float)
    gaps = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    assert gaps[np.triu_indices(len(xy), 1)].min() >= 0.05
    # 199 districts in view are too many to name singly: district names, and places in the
    # grid cells they leave, none in a cell a district name took
    fig, _ = render_map(data, CommandersView(), None)
    place_t, dist_t = _trace(fig, "base-place"), _trace(fig, "district-labels")
    assert "Tashkent" in place_t["text"] and len(dist_t["text"]) >= 5
    whole = data.area_bounds(CommandersView())
    assert whole is not None
    shown = (whole[0], whole[2], whole[1], whole[3])
    pc = label_cells(np.asarray(place_t["x"], float), np.asarray(place_t["y"], float), shown)
    dc = label_cells(np.asarray(dist_t["x"], float), np.asarray(dist_t["y"], float), shown)
    assert not set(pc.tolist()) & set(dc.tolist())
    assert len(set(pc.tolist())) == len(pc) and max(pc.tolist()) < GRID_COLS * GRID_ROWS


def test_a_scoped_user_sees_the_places_of_their_region_only(real_store: Store) -> None:
    data = _data(real_store, regions=["Dzhizak"])
    base = data.base_layer(CommandersView())
    assert len(base.places) and "Tashkent" not in base.places["name"].tolist()
    region = shapely.union_all(data.model.mahallas.geometry.to_numpy())
    pts = shapely.points(base.places["x"].to_numpy(float), base.places["y"].to_numpy(float))
    assert shapely.dwithin(region, pts, 1e-4).all()
    # and an admin's map of the same region reaches the neighbours' places (context)
    admin = _data(real_store).base_layer(CommandersView(region="Dzhizak"))
    assert set(admin.places["name"]) - set(base.places["name"])


# ---------------------------------------------------------------------------- browser
_N = 13  # a 13 x 13 grid: 169 mahallas, more than the map names singly
_STEP = 0.004


def _big_grid(root: Path) -> Store:
    rows, cols = np.divmod(np.arange(_N * _N), _N)
    x0, y0 = LON0 + cols * _STEP, LAT0 + rows * _STEP
    mahallas = gpd.GeoDataFrame({
        "mahalla_id": [f"G{i:03d}" for i in range(_N * _N)],
        "name": [f"Mahalla {i}" for i in range(_N * _N)],
        "district": np.where(cols < _N // 2, "Jizzax shahri", "Sharof Rashidov tumani"),
        "region": REGION, "population": 1000.0,
    }, geometry=shapely.box(x0, y0, x0 + _STEP, y0 + _STEP), crs="EPSG:4326")
    incidents = scattered_incidents(mahallas, 800, seed=3, margin=0.0002)
    w = _N * _STEP
    infra = gpd.GeoDataFrame({
        "feature_id": ["W1", "R1", "V1", "C1", "Q1"],
        "kind": ["water", "road", "river", "city", "village"],
        "name": ["Ko'l", None, "Daryo", "<b>Shahar</b>", "Qishloq"],
        "road_class": [None, "primary", None, None, None],
        "region": REGION, "attrs": [None, None, None, '{"population": 250000}', None],
    }, geometry=[shapely.box(LON0 + 0.1 * w, LAT0 + 0.1 * w, LON0 + 0.2 * w, LAT0 + 0.2 * w),
                 shapely.LineString([(LON0, LAT0 + 0.5 * w), (LON0 + w, LAT0 + 0.55 * w)]),
                 shapely.LineString([(LON0 + 0.3 * w, LAT0), (LON0 + 0.35 * w, LAT0 + w)]),
                 shapely.Point(LON0 + 0.75 * w, LAT0 + 0.75 * w),
                 shapely.Point(LON0 + 0.9 * w, LAT0 + 0.2 * w)], crs="EPSG:4326")
    store = open_store(str(root))
    with store.transaction() as txn:
        txn.replace("mahallas", mahallas)
        txn.replace("incidents", incidents)
        txn.replace("infrastructure", infra)
        txn.replace("cameras", gpd.GeoDataFrame({
            "camera_id": ["CAM1"], "type": ["face_recognition"], "status": ["active"],
            "range_m": [60.0], "region": [REGION]},
            geometry=[shapely.Point(LON0 + 0.5 * w, LAT0 + 0.5 * w)], crs="EPSG:4326"))
    return store


_MAP = "#cmd-map .js-plotly-plot"


def _wheel(browser: Any, notches: int) -> None:
    """Wheel notches over the map's centre (negative: zoom in), as a user's mouse sends them."""
    x, y = browser.execute_script("""
        const c = document.querySelector(arguments[0])._fullLayout.map._subplot.map
            .getCanvas().getBoundingClientRect();
        return [c.left + c.width / 2, c.top + c.height / 2];""", _MAP)
    for _ in range(abs(notches)):
        browser.execute_cdp_cmd("Input.dispatchMouseEvent", {
            "type": "mouseWheel", "x": x, "y": y, "deltaX": 0,
            "deltaY": -120 if notches < 0 else 120})


@pytest.mark.browser
def test_base_map_in_chromium_names_places_zoomed_out_and_mahallas_zoomed_in(
        browser: Any, wait: Any, tmp_path: Path, clean_console: Any) -> None:
    """The commanders' map draws on the offline MapLibre base map: its tiles carry water,
    rivers, roads, boundaries and names, and MapLibre shows the names that fit the zoom."""
    store = _big_grid(tmp_path / "store")
    with serve_app(store, "t") as url:
        browser.get(url + "/commanders?lang=en")  # the session's browser may have another
        settle(browser, wait)
        got = wait(browser, lambda d: (lambda g: g if g and g["names"].get("place") else None)(
            d.execute_script(MAP_STATE_JS, _MAP)))
        # places, the user's markup shown as text
        assert {"<b>Shahar</b>", "Qishloq"} <= set(got["names"]["place"])
        drawn = browser.execute_script("""
            const m = document.querySelector(arguments[0])._fullLayout.map._subplot.map;
            const n = {};
            for (const f of m.queryRenderedFeatures()) { n[f.layer.id] = (n[f.layer.id] || 0) + 1; }
            return n;""", _MAP)
        for layer in ("water", "road", "river"):
            assert drawn.get(layer), (layer, drawn)
        # zoomed out with the wheel (as a user would) below zoom 12: no mahalla names
        def wheeled(notches: int, done: Any) -> Any:  # a notch more until done (a wheel
            def step(d: Any) -> Any:                # notch zooms by a varying amount)
                g = d.execute_script(MAP_STATE_JS, _MAP)
                if g and done(g):
                    return g
                _wheel(d, notches)
                time.sleep(0.3)
                return None
            return step

        out = wait(browser, wheeled(2, lambda g: g["zoom"] < 11.9), 30)
        assert not out["names"].get("mahalla-name") and out["names"].get("place")
        # and in again (plotly keeps the view over the redraws it sets off): mahalla names
        settle(browser, wait)
        from selenium.common.exceptions import TimeoutException

        try:
            zoomed = wait(browser, wheeled(-2, lambda g: g["zoom"] > 12.1
                                           and g["names"].get("mahalla-name")), 30)
        except TimeoutException:
            raise AssertionError(f"not zoomed: {browser.execute_script(MAP_STATE_JS, _MAP)}; "
                                 f"{browser.get_log('browser')}") from None
        assert all(n.startswith("Mahalla ") for n in zoomed["names"]["mahalla-name"])
        settle(browser, wait)
        assert browser.execute_script(MAP_STATE_JS, _MAP)["zoom"] > 12.1
        clean_console(browser)


def test_the_planner_map_has_the_base_between_the_mahallas_and_the_risk(tmp_path: Path) -> None:
    store = _big_grid(tmp_path / "store")
    model = AppModel(DataAccess(store, user="t", audit=False))
    area = model.mahallas
    base = base_map_of(model, area)
    assert base is not None and base_map_of(model, area.iloc[:0]) is None
    risk = pd.DataFrame({"h3": cells_from_lonlat(np.array([LON0 + 0.01]), np.array([LAT0 + 0.01]),
                                                 9), "risk": [3.0]})
    none = gpd.GeoDataFrame({"camera_id": [], "type": []}, geometry=[], crs=4326)
    fig = plan_map(area, risk, none, gpd.GeoSeries([], crs=4326), none.assign(
        rank=[], site_id=[], bearing_deg=[], range_m=[], marginal_gain=[]),
        gpd.GeoSeries([], crs=4326), base_map=base)
    kinds = [t.meta["kind"] for t in fig.data]
    assert kinds[0] == "base" and kinds[-1] == "base-place"
    assert kinds.index("base-water") < kinds.index("base-road") < kinds.index("risk")
    assert list(fig.data[-1].text) == ["&lt;b&gt;Shahar&lt;/b&gt;", "Qishloq"]


def test_map_legends_in_russian_name_nothing_in_english(tmp_path: Path) -> None:
    """Every legend entry and legend title of the commanders' and the planner's maps (with the
    base map, KDE, cameras, infrastructure and a selection) is in the reader's language."""
    from riskmap import i18n
    from tests.test_i18n import _english_in, _english_labels

    store = _big_grid(tmp_path / "store")
    data = _data(store)
    english = _english_labels()
    shown: list[str] = []
    with i18n.use_language("ru"):
        for level in ("mahalla", "h3"):
            view = CommandersView(level=level, layers=("kde", "cameras", "infrastructure"))
            fig, summary = render_map(data, view, None, highlight=["G000"])
            shown += [str(t["name"]) for t in fig["data"]
                      if t.get("showlegend", True) and t.get("name")]
            shown += [fig["layout"]["legend"]["title"]["text"], summary]
        model = data.model
        plan = plan_map(model.mahallas, pd.DataFrame({"h3": [], "risk": []}),
                        gpd.GeoDataFrame({"camera_id": [], "type": []}, geometry=[], crs=4326),
                        gpd.GeoSeries([], crs=4326),
                        gpd.GeoDataFrame({"camera_id": [], "type": [], "rank": [],
                                          "site_id": [], "bearing_deg": [], "range_m": [],
                                          "marginal_gain": []}, geometry=[], crs=4326),
                        gpd.GeoSeries([], crs=4326), base_map=base_map_of(model, model.mahallas))
        shown += [str(t.name) for t in plan.data if t.showlegend is not False and t.name]
    assert {"Водоёмы", "Дороги", "Камеры", "Выбранные", "Границы махаллей"} <= set(shown)
    found = {s: _english_in(s, english) for s in shown}
    assert not {s: e for s, e in found.items() if e}, found


def test_the_overview_map_has_the_base_too(tmp_path: Path) -> None:
    from riskmap.app.callbacks.overview import render
    from riskmap.app.data import LEVELS, ViewQuery

    model = AppModel(DataAccess(_big_grid(tmp_path / "store"), user="t", audit=False))
    for query in (ViewQuery(), ViewQuery(level=LEVELS[-1])):
        fig, *_ = render(model, query)
        kinds = [(t.meta or {}).get("kind") for t in fig.data]
        fills = [i for i, k in enumerate(kinds) if k in ("mahalla", "h3")]
        assert fills and max(fills) < kinds.index("base-water") < kinds.index("base-district")
        assert kinds[-1] == "base-place" and fig.layout.legend2.xanchor == "right"


def test_static_maps_keep_one_place_per_label_cell_the_most_important() -> None:
    from riskmap.app.figures_basemap import static_places
    from riskmap.geo.basemap import base_map

    feats = gpd.GeoDataFrame({
        "kind": ["city", "village", "village", "town"],
        "name": ["Katta", "Yaqin", "Yonida", "Uzoq"],
        "population": [200_000.0, 900.0, 800.0, 5_000.0]},
        geometry=[shapely.Point(0.10, 0.10), shapely.Point(0.11, 0.11),
                  shapely.Point(0.12, 0.10), shapely.Point(0.9, 0.9)], crs="EPSG:4326")
    base = base_map(feats, box=(0.0, 0.0, 1.0, 1.0), min_gap=0.001)
    assert len(base.places) == 4 and base.box == (0.0, 0.0, 1.0, 1.0)
    assert static_places(base).places["name"].tolist() == ["Katta", "Uzoq"]
