"""Fixtures for app tests: a tiny world in an embedded store, a live app server, headless Chromium."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from riskmap.geo.h3index import cells_from_lonlat
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

#: the tiny world: a 3x3 grid of 0.01-degree square mahallas with its south-west corner here
LON0, LAT0, STEP = 67.84, 40.12, 0.01
REGION = "Jizzax viloyati"
#: columns 0-1 are in the city, column 2 in the neighbouring district
DISTRICTS = ("Jizzax shahri", "Jizzax shahri", "Sharof Rashidov tumani")
NAMES = ("Bog'ishamol", "Navro'z", "O'zbekiston", "Yangiobod", "Do'stlik", "Guliston",
         "Istiqlol", "Mustaqillik", "Sharq")
CATS = ("theft", "assault", "burglary", "fraud")


def mahalla_grid() -> gpd.GeoDataFrame:
    """The 3x3 mahalla grid: ids ``M<row><col>``, population 1000 * (1 + index)."""
    rows, cols = np.divmod(np.arange(9), 3)
    x0, y0 = LON0 + cols * STEP, LAT0 + rows * STEP
    return gpd.GeoDataFrame({
        "mahalla_id": [f"M{r}{c}" for r, c in zip(rows, cols, strict=True)],
        "name": list(NAMES),
        "name_cyrillic": [None] * 9,
        "district": [DISTRICTS[c] for c in cols],
        "region": [REGION] * 9,
        "population": 1000.0 * (1 + np.arange(9)),
    }, geometry=shapely.box(x0, y0, x0 + STEP, y0 + STEP), crs="EPSG:4326")


def incident_frame(lon: np.ndarray, lat: np.ndarray, category: list[str] | np.ndarray,
                   occurred_at: pd.DatetimeIndex | list[str]) -> gpd.GeoDataFrame:
    """Incidents inside the grid: mahalla from the grid cell, fraud located at the mahalla only."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    category = np.asarray(category, dtype=object)
    col = np.clip(((lon - LON0) / STEP).astype(int), 0, 2)
    row = np.clip(((lat - LAT0) / STEP).astype(int), 0, 2)
    grid = mahalla_grid()
    idx = row * 3 + col
    on_mahalla = category == "fraud"
    reps = shapely.point_on_surface(grid.geometry.to_numpy())
    plon = np.where(on_mahalla, shapely.get_x(reps)[idx], lon)
    plat = np.where(on_mahalla, shapely.get_y(reps)[idx], lat)
    geometry = shapely.points(lon, lat)
    geometry[on_mahalla] = shapely.from_wkt("POINT EMPTY")
    n = len(lon)
    return gpd.GeoDataFrame({
        "incident_id": [f"I{i:05d}" for i in range(n)],
        "occurred_at": pd.to_datetime(list(occurred_at), utc=True),
        "category": category,
        "h3": cells_from_lonlat(plon, plat, 9),
        "mahalla_id": grid["mahalla_id"].to_numpy()[idx],
        "district": grid["district"].to_numpy()[idx],
        "region": [REGION] * n,
        "geocode_precision": np.where(on_mahalla, "mahalla", "coordinates"),
        "flags": [""] * n,
        "source_file": ["test.csv"] * n,
        "source_row": np.arange(n) + 2,
        "content_hash": np.arange(n),
    }, geometry=geometry, crs="EPSG:4326")


def scattered_incidents(mahallas: gpd.GeoDataFrame, n: int, seed: int,
                        margin: float) -> gpd.GeoDataFrame:
    """``n`` incidents in random square ``mahallas`` (at least ``margin`` degrees inside
    their edges), over 180 days of 2025, thefts and assaults."""
    rng = np.random.default_rng(seed)
    b = shapely.bounds(mahallas.geometry.to_numpy())
    pos = rng.integers(0, len(mahallas), n)
    lon = b[pos, 0] + rng.uniform(margin, (b[pos, 2] - b[pos, 0]) - margin, n)
    lat = b[pos, 1] + rng.uniform(margin, (b[pos, 3] - b[pos, 1]) - margin, n)
    return gpd.GeoDataFrame({
        "incident_id": [f"I{i:05d}" for i in range(n)],
        "occurred_at": pd.Timestamp("2025-01-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 180, n), unit="D"),
        "category": rng.choice(["theft", "assault"], n),
        "h3": cells_from_lonlat(lon, lat, 9),
        "mahalla_id": mahallas["mahalla_id"].to_numpy()[pos],
        "district": mahallas["district"].to_numpy()[pos], "region": REGION,
        "geocode_precision": "coordinates", "flags": "", "source_file": "t.csv",
        "source_row": np.arange(n) + 2, "content_hash": np.arange(n),
    }, geometry=shapely.points(lon, lat), crs="EPSG:4326")


def random_incidents(n: int = 500, seed: int = 7) -> gpd.GeoDataFrame:
    """``n`` incidents, uniform over the grid and over 2025-01-01 .. 2025-06-30 (UTC)."""
    rng = np.random.default_rng(seed)
    lon = LON0 + rng.uniform(0.0005, 3 * STEP - 0.0005, n)
    lat = LAT0 + rng.uniform(0.0005, 3 * STEP - 0.0005, n)
    category = rng.choice(CATS, n, p=[0.4, 0.3, 0.2, 0.1])
    start = pd.Timestamp("2025-01-01", tz="UTC").value
    span = pd.Timestamp("2025-06-30", tz="UTC").value - start
    occurred = pd.to_datetime(start + rng.integers(0, span, n), utc=True)
    return incident_frame(lon, lat, category, occurred)


def build_store(root: Path, incidents: gpd.GeoDataFrame | None = None) -> Store:
    """An embedded store in ``root`` holding the grid and ``incidents`` (default: 500 random)."""
    store = open_store(str(root))
    with store.transaction() as txn:
        txn.replace("mahallas", mahalla_grid())
        txn.replace("incidents", random_incidents() if incidents is None else incidents)
    return store


#: a 6 x 4 grid of 0.15-degree mahallas: 0.9 degrees wide (the commanders draw it at H3
#: resolution 7), 3,000 incidents scattered over it
WIDE_COLS, WIDE_ROWS, WIDE_STEP = 6, 4, 0.15


def wide_world(root: Path) -> Store:
    """A store over :data:`WIDE_COLS` x :data:`WIDE_ROWS` mahallas of ``WIDE_STEP`` degrees
    in two districts (the western two columns, 0.3 degrees wide, are ``G'arb tumani``)."""
    rows, cols = np.divmod(np.arange(WIDE_COLS * WIDE_ROWS), WIDE_COLS)
    x0, y0 = LON0 + cols * WIDE_STEP, LAT0 + rows * WIDE_STEP
    mahallas = gpd.GeoDataFrame({
        "mahalla_id": [f"W{i:02d}" for i in range(WIDE_COLS * WIDE_ROWS)],
        "name": [f"Keng {i}" for i in range(WIDE_COLS * WIDE_ROWS)],
        "district": np.where(cols < 2, "G'arb tumani", "Sharq tumani"),
        "region": REGION, "population": 5000.0,
    }, geometry=shapely.box(x0, y0, x0 + WIDE_STEP, y0 + WIDE_STEP), crs="EPSG:4326")
    incidents = scattered_incidents(mahallas, 3000, seed=11, margin=0.001)
    store = open_store(str(root))
    with store.transaction() as txn:
        txn.replace("mahallas", mahallas)
        txn.replace("incidents", incidents)
    return store


@pytest.fixture(scope="session")
def world_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The tiny world, built once per session (tests only read it)."""
    return build_store(tmp_path_factory.mktemp("world"))


@contextmanager
def serve_app(store: Store, user: str, auth: str = "none",
              map_settings: dict[str, Any] | None = None) -> Iterator[str]:
    """Serve the app over ``store`` (reads as ``user``) on a free 127.0.0.1 port; yield its URL.

    ``auth="none"`` (the default) acts as a local admin; ``"accounts"`` asks for a login.
    ``map_settings``: the app's ``map`` section (``{"max_cells": 400}``, say).

    The settings name the app section explicitly: a developer's ``RISKMAP_APP__*`` variable
    must not change the app under test.
    """
    from werkzeug.serving import make_server

    from riskmap.app.factory import create_app
    from riskmap.settings import Settings

    settings = Settings(_env_file=None, store=store.url,  # type: ignore[call-arg]
                        app={"auth": auth, "regions": [], "host": "127.0.0.1",
                             "map": map_settings or {}})
    dash_app = create_app(settings, DataAccess(store, user=user), demo=True)
    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=f"app-server-{user}",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def app_server() -> Any:
    """The :func:`serve_app` context manager: ``with app_server(store, user) as url: ...``."""
    return serve_app


@pytest.fixture(scope="session")
def dash_server(world_store: Store) -> Iterator[str]:
    """URL of the app over the tiny world, served by werkzeug on a free 127.0.0.1 port."""
    with serve_app(world_store, "test") as url:
        yield url


@pytest.fixture(autouse=True)
def _blank_page_first(request: pytest.FixtureRequest) -> None:
    """A browser test starts on a blank page with an empty console.

    The browser is shared by the session: the page an earlier test left open keeps its timers
    (the commanders' data poll), and once that test's server has stopped, their requests fail
    with ERR_CONNECTION_REFUSED/RESET. Leaving that page first, then reading the console
    empty, keeps those failures out of the next test's console check.
    """
    if "browser" in request.fixturenames:
        driver = request.getfixturevalue("browser")
        driver.get("about:blank")
        driver.get_log("browser")


def wait_until(driver: Any, predicate: Any, timeout: float = 40) -> Any:
    """Poll ``predicate(driver)`` every 0.1 s until it is truthy; return its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(predicate)


@pytest.fixture
def wait() -> Any:
    """The :func:`wait_until` helper: ``wait(driver, predicate, timeout=40)``."""
    return wait_until


#: true when Dash has no callback requested, queued or running (the renderer's own state)
_IDLE_JS = """
const s = window.store && window.store.getState ? window.store.getState() : null;
if (!s || s.isLoading) { return false; }
const c = s.callbacks || {};
return ['requested', 'prioritized', 'blocked', 'executing', 'watched', 'executed']
    .every(k => !(c[k] && c[k].length));
"""


#: (text, swatch fill) of each legend entry of the plot ``arguments[0]`` as drawn; a
#: choropleth's swatch is a gradient over its colour scale (one colour here), read as rgb()
LEGEND_JS = """
const colour = fill => {
    const ref = /url\\("?#([^")]+)"?\\)/.exec(fill || '');
    if (!ref) { return fill || ''; }
    const stop = document.getElementById(ref[1]).querySelector('stop');
    const probe = document.createElement('span');
    probe.style.color = stop.getAttribute('stop-color');
    document.body.appendChild(probe);
    const rgb = getComputedStyle(probe).color;
    probe.remove();
    return rgb;
};
return Array.from(document.querySelectorAll(arguments[0] + ' .legend .traces')).map(
    g => [g.querySelector('.legendtext').textContent,
          colour((g.querySelector('.legendfill path, .legendpoints path')
                  || {style: {}}).style.fill)]);
"""
#: the state of a MapLibre map (``arguments[0]``: the CSS selector of its ``.js-plotly-plot``),
#: or null until its style and tiles have loaded: the bounds shown, the zoom, the names
#: MapLibre placed (per style layer: the base map's tiles carry them), the traces' kinds
MAP_STATE_JS = """
const gd = document.querySelector(arguments[0]);
const full = gd && gd._fullLayout, sub = full && full.map && full.map._subplot;
const m = sub && sub.map;
if (!m || !gd.data || !m.isStyleLoaded() || !m.areTilesLoaded()) { return null; }
const b = m.getBounds(), names = {};
for (const f of m.queryRenderedFeatures()) {
    if (f.layer.type !== 'symbol' || !f.properties || f.properties.name === undefined) {
        continue;
    }
    (names[f.layer.id] = names[f.layer.id] || []).push(String(f.properties.name));
}
return {x: [b.getWest(), b.getEast()], y: [b.getSouth(), b.getNorth()], zoom: m.getZoom(),
        names: names, kinds: gd.data.map(t => (t.meta && t.meta.kind) || ''),
        layers: ((gd.layout.map || {}).layers || []).length,
        png: gd._context.toImageButtonOptions.filename || ''};
"""
#: page coordinates of lon/lat ``arguments[1..2]`` on the MapLibre map ``arguments[0]``
MAP_PIXEL_JS = """
const gd = document.querySelector(arguments[0]);
const m = gd._fullLayout.map._subplot.map;
const p = m.project([arguments[1], arguments[2]]);
const box = m.getCanvas().getBoundingClientRect();
return [box.left + p.x, box.top + p.y];
"""


def settle(browser: Any, wait: Any) -> None:
    """Wait until Dash has had no callback in flight for two polls half a second apart: a
    page's first load sends callbacks after its first answers (the map's autosize, the
    viewport), so a shown figure does not mean the page is done."""
    calm = {"n": 0}

    def idle(d: Any) -> bool:
        calm["n"] = calm["n"] + 1 if d.execute_script(_IDLE_JS) else 0
        if calm["n"] < 2:
            time.sleep(0.5)
            return False
        return True
    wait(browser, idle)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium through Selenium 4 (no Selenium Manager, no downloads)."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.fail(f"browser tests need {CHROMIUM} and {CHROMEDRIVER}: run ./scripts/test, "
                    "which installs them", pytrace=False)
    os.environ["SE_AVOID_STATS"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1400,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Downloads:
    """The browser's download folder of one test, and a wait for a finished file in it."""

    def __init__(self, driver: Any, folder: Path) -> None:
        self.driver = driver
        self.folder = folder
        driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                               {"behavior": "allow", "downloadPath": str(folder)})

    def wait_for(self, pattern: str, timeout: float = 40) -> Path:
        """The first file matching ``pattern`` once the browser has finished writing it."""
        target: Path = wait_until(self.driver, lambda d: next(iter(self.folder.glob(pattern)),
                                                              None), timeout)
        wait_until(self.driver, lambda d: target.stat().st_size > 0
                   and not list(self.folder.glob("*.crdownload")), timeout)
        return target


@pytest.fixture
def downloads(browser: Any, tmp_path: Path) -> Downloads:
    """Downloads of the browser go to a fresh folder of this test (see :class:`Downloads`)."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return Downloads(browser, folder)


def assert_clean_console(driver: Any) -> None:
    """Fail when the browser console holds any SEVERE entry (read entries are cleared)."""
    severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    assert not severe, "browser console errors:\n" + "\n".join(e["message"] for e in severe)


@pytest.fixture
def clean_console() -> Any:
    """The :func:`assert_clean_console` helper, as a fixture (conftest is not importable)."""
    return assert_clean_console


@pytest.fixture
def incidents_at() -> Any:
    """The :func:`incident_frame` builder: ``incidents_at(lon, lat, category, occurred_at)``."""
    return incident_frame


@pytest.fixture
def make_store(tmp_path: Path) -> Any:
    """Factory ``make_store(incidents=None) -> Store``: the grid plus incidents in tmp_path."""
    counter = iter(range(1_000))

    def make(incidents: gpd.GeoDataFrame | None = None) -> Store:
        return build_store(tmp_path / f"store{next(counter)}", incidents)

    return make
