"""The H3 resolution of the commanders' map follows the zoom however the view was reached: the
wheel, a shift-drag box zoom, a district chosen in the dropdown (real headless Chromium over
the MapLibre map, real input events); the map keeps the view over the redraws it sets off."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import geopandas as gpd
import shapely

from riskmap.layers import open_store
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

pytestmark = pytest.mark.browser

_MAP = "#cmd-map .js-plotly-plot"
#: a 6 x 4 grid of 0.15-degree mahallas: 0.9 degrees wide, drawn at H3 resolution 7
_COLS, _ROWS, _STEP = 6, 4, 0.15


def _wide_world(root: Path) -> Store:
    rows, cols = np.divmod(np.arange(_COLS * _ROWS), _COLS)
    x0, y0 = LON0 + cols * _STEP, LAT0 + rows * _STEP
    mahallas = gpd.GeoDataFrame({
        "mahalla_id": [f"W{i:02d}" for i in range(_COLS * _ROWS)],
        "name": [f"Keng {i}" for i in range(_COLS * _ROWS)],
        # a narrow district on the west: two columns, 0.3 degrees wide
        "district": np.where(cols < 2, "G'arb tumani", "Sharq tumani"),
        "region": REGION, "population": 5000.0,
    }, geometry=shapely.box(x0, y0, x0 + _STEP, y0 + _STEP), crs="EPSG:4326")
    incidents = scattered_incidents(mahallas, 3000, seed=11, margin=0.001)
    store = open_store(str(root))
    with store.transaction() as txn:
        txn.replace("mahallas", mahallas)
        txn.replace("incidents", incidents)
    return store


def _res(browser: Any) -> int | None:
    got = re.search(r"\(res (\d)\)", browser.find_element("id", "cmd-summary").text)
    return int(got.group(1)) if got else None


def _span(browser: Any) -> float:
    state = browser.execute_script(MAP_STATE_JS, _MAP)
    return state["x"][1] - state["x"][0] if state else float("nan")


def _centre(browser: Any) -> tuple[float, float]:
    return browser.execute_script("""
        const c = document.querySelector(arguments[0])._fullLayout.map._subplot.map
            .getCanvas().getBoundingClientRect();
        return [c.left + c.width / 2, c.top + c.height / 2];""", _MAP)


def _expected(span: float) -> int:
    return 7 if span > 0.6 else 8 if span > 0.15 else 9


def test_h3_resolution_follows_the_zoom_three_ways(browser: Any, wait: Any,
                                                   tmp_path: Path) -> None:
    store = _wide_world(tmp_path / "store")
    with serve_app(store, "t") as url:
        browser.get(url + "/commanders?lang=en&level=h3")
        settle(browser, wait)
        wait(browser, lambda d: d.execute_script(MAP_STATE_JS, _MAP))
        assert _res(browser) == 7 and _span(browser) > 0.6  # the whole area

        # 1. the wheel, a notch at a time, until the view is under 0.6 degrees wide
        x, y = _centre(browser)

        def wheeled(d: Any) -> bool:
            if _span(d) < 0.45:
                return True
            d.execute_cdp_cmd("Input.dispatchMouseEvent", {
                "type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": -120})
            time.sleep(0.3)
            return False
        wait(browser, wheeled)
        settle(browser, wait)
        wait(browser, lambda d: _res(d) == _expected(_span(d)) == 8)
        zoomed = _span(browser)

        # 2. a shift-drag box zoom over a small box: resolution 9, and the view holds
        x, y = _centre(browser)
        for kind, dx, buttons in (("mouseMoved", 0, 0), ("mousePressed", 0, 1),
                                  ("mouseMoved", 20, 1), ("mouseMoved", 40, 1),
                                  ("mouseReleased", 40, 0)):
            browser.execute_cdp_cmd("Input.dispatchMouseEvent", {
                "type": kind, "x": x + dx, "y": y + dx, "modifiers": 8,  # shift
                "button": "left" if kind != "mouseMoved" or buttons else "none",
                "buttons": buttons, "clickCount": 1})
        wait(browser, lambda d: _span(d) < zoomed / 3)
        settle(browser, wait)
        wait(browser, lambda d: _res(d) == _expected(_span(d)) == 9)
        assert _span(browser) < zoomed / 3  # not sprung back by the redraw

        # 3. a district from the dropdown: drawn whole, at the resolution of its own span
        browser.find_element("css selector", "#cmd-district").click()
        option = wait(browser, lambda d: next((e for e in d.find_elements(
            "css selector", ".dash-dropdown-option") if "G'arb" in e.text), None))
        option.click()
        wait(browser, lambda d: "G%27arb" in d.current_url or "G'arb" in d.current_url)
        settle(browser, wait)
        state = wait(browser, lambda d: d.execute_script(MAP_STATE_JS, _MAP))
        # the district (0.3 x 0.6 degrees) fills the map, and its cells are those of the
        # width shown
        assert 0.3 <= state["x"][1] - state["x"][0] < 0.85, state
        wait(browser, lambda d: _res(d) == _expected(_span(d)))
