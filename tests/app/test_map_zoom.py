"""The H3 resolution of the commanders' map follows the zoom however the view was reached: the
wheel, a shift-drag box zoom, a district chosen in the dropdown (real headless Chromium over
the MapLibre map, real input events); the map keeps the view over the redraws it sets off.
The overview draws at most ``max_cells`` cells: coarser ones zoomed out, the chosen ones
zoomed in."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shapely

from tests.app.conftest import MAP_STATE_JS, serve_app, settle, wide_world

pytestmark = pytest.mark.browser

_MAP = "#cmd-map .js-plotly-plot"
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


def _notch_in(browser: Any, x: float, y: float, pause: float) -> bool:
    """One wheel notch in at (x, y), then a pause; False (for a wait's predicate)."""
    browser.execute_cdp_cmd("Input.dispatchMouseEvent", {
        "type": "mouseWheel", "x": x, "y": y, "deltaX": 0, "deltaY": -120})
    time.sleep(pause)
    return False


def _expected(span: float) -> int:
    return 7 if span > 0.6 else 8 if span > 0.15 else 9


def test_h3_resolution_follows_the_zoom_three_ways(browser: Any, wait: Any,
                                                   tmp_path: Path) -> None:
    store = wide_world(tmp_path / "store")
    # a cap over the world's 2,893 cells: the resolution here is the zoom's alone (the cap
    # has its own test below)
    with serve_app(store, "t", map_settings={"max_cells": 5000}) as url:
        browser.get(url + "/commanders?lang=en&level=h3")
        settle(browser, wait)
        wait(browser, lambda d: d.execute_script(MAP_STATE_JS, _MAP))
        assert _res(browser) == 7 and _span(browser) > 0.6  # the whole area

        # 1. the wheel, a notch at a time, until the view is under 0.6 degrees wide
        x, y = _centre(browser)

        wait(browser, lambda d: _span(d) < 0.45 or _notch_in(d, x, y, 0.3))
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


def test_commanders_map_draws_coarser_cells_over_its_cap_and_finer_ones_zoomed_in(
        browser: Any, wait: Any, tmp_path: Path) -> None:
    """The commanders' map keeps ``max_cells`` too: the whole area at res 7 (835 cells) is
    drawn at res 6 under a cap of 400, the summary says res 7 comes when zoomed in, and wheel
    notches in draw finer cells until the zoom's own resolution is drawn."""
    store = wide_world(tmp_path / "store")
    with serve_app(store, "t", map_settings={"max_cells": 400}) as url:
        browser.get(url + "/commanders?lang=en&level=h3")
        settle(browser, wait)
        wait(browser, lambda d: d.execute_script(MAP_STATE_JS, _MAP) and _res(d) is not None)
        text = browser.find_element("id", "cmd-summary").text
        assert _res(browser) == 6 and "res 7 when zoomed in" in text, text
        x, y = _centre(browser)

        wait(browser, lambda d: ("when zoomed in" not in d.find_element("id", "cmd-summary").text
                                 and _res(d) == _expected(_span(d))) or _notch_in(d, x, y, 0.5))
        assert _res(browser) >= 7


_OVERVIEW = "#overview-map .js-plotly-plot"
#: the overview map's H3 polygons (features of its choroplethmap traces)
_DRAWN_JS = """
const gd = document.querySelector(arguments[0]);
return (gd && gd.data || []).filter(t => t.type === 'choroplethmap' && t.meta.kind === 'h3')
    .reduce((n, t) => n + t.geojson.features.length, 0);
"""


def test_overview_draws_coarser_cells_zoomed_out_and_the_chosen_ones_zoomed_in(
        browser: Any, wait: Any, tmp_path: Path) -> None:
    from riskmap.geo.h3index import cell_polygons

    store = wide_world(tmp_path / "store")
    cells9 = store.read("incidents")["h3"].to_numpy(dtype="int64")
    assert len(np.unique(cells9)) > 2000  # res 9 over the whole area: far over the limit

    def summary(d: Any) -> str:
        return d.find_element("id", "overview-summary").text

    def span(d: Any) -> float:
        state = d.execute_script(MAP_STATE_JS, _OVERVIEW)
        return state["x"][1] - state["x"][0] if state else float("nan")

    def wheel(d: Any, delta: int, until: Any) -> None:
        c = d.execute_script("""
            const c = document.querySelector(arguments[0])._fullLayout.map._subplot.map
                .getCanvas().getBoundingClientRect();
            return [c.left + c.width / 2, c.top + c.height / 2];""", _OVERVIEW)

        def turned(drv: Any) -> bool:
            if until(span(drv)):
                return True
            drv.execute_cdp_cmd("Input.dispatchMouseEvent", {
                "type": "mouseWheel", "x": c[0], "y": c[1], "deltaX": 0, "deltaY": delta})
            time.sleep(0.3)
            return False
        wait(browser, turned)
        settle(browser, wait)

    with serve_app(store, "t", map_settings={"max_cells": 400}) as url:
        browser.get(url + "/?lang=en&level=h3_9")
        wait(browser, lambda d: "(res " in summary(d) and d.execute_script(_DRAWN_JS, _OVERVIEW))
        settle(browser, wait)
        # the whole area: res 9's cells are too many; their parents at the finest resolution
        # within 400 are drawn, and the summary says so
        text = summary(browser)
        res = int(re.search(r"\(res (\d)\)", text).group(1))
        assert res < 9 and "res 9 when zoomed in" in text, text
        assert text.startswith("3,000 incidents in ")
        assert 0 < browser.execute_script(_DRAWN_JS, _OVERVIEW) <= 400

        # the wheel, in, until the view is under 0.1 degrees wide: res 9, only near the view
        wheel(browser, -120, lambda s: s < 0.1)
        wait(browser, lambda d: "(res 9)" in summary(d) and "zoomed in" not in summary(d))
        assert span(browser) < 0.1  # the redraw kept the view
        drawn = browser.execute_script(_DRAWN_JS, _OVERVIEW)
        assert 0 < drawn <= 400
        # the summary counts the incidents of the cells in view (at least in part)
        state = browser.execute_script(MAP_STATE_JS, _OVERVIEW)
        view = shapely.box(state["x"][0], state["y"][0], state["x"][1], state["y"][1])
        uniq, n = np.unique(cells9, return_counts=True)
        shown = shapely.intersects(cell_polygons(uniq), view)
        expected = f"{int(n[shown].sum()):,} incidents in {int(shown.sum()):,} H3 cells (res 9)"
        wait(browser, lambda d: summary(d).startswith(expected))

        # and out again: coarser cells, said so
        wheel(browser, 120, lambda s: s > 0.7)
        wait(browser, lambda d: "res 9 when zoomed in" in summary(d))
        assert browser.execute_script(_DRAWN_JS, _OVERVIEW) <= 400


#: the views (``[west, east, south, north]``) the page's callback requests set off by the
#: map's view (``overview-range``) sent to the server, in order
_RANGE_CALLS_JS = """
if (!window.__rangeCalls) {
    window.__rangeCalls = [];
    const orig = window.fetch;
    window.fetch = function (url, opts) {
        let body = null;
        try { body = opts && opts.body ? JSON.parse(opts.body) : null; } catch (e) {}
        if (String(url).includes("_dash-update-component") && body
                && (body.changedPropIds || []).includes("overview-range.data")) {
            const got = (body.inputs || []).find(i => i.id === "overview-range");
            window.__rangeCalls.push(got && got.value ? got.value.range : null);
        }
        return orig.apply(this, arguments);
    };
}
return window.__rangeCalls;
"""
#: the bounds the overview's MapLibre map shows
_BOUNDS_JS = """
const b = document.querySelector(arguments[0])._fullLayout.map._subplot.map.getBounds();
return [b.getWest(), b.getEast(), b.getSouth(), b.getNorth()];
"""


def test_overview_a_new_area_is_fitted_without_a_round_trip(browser: Any, wait: Any,
                                                            tmp_path: Path) -> None:
    """A district chosen on the overview is drawn whole and the map moves to it: that move is
    not reported to the server (its summary already counts what the fitted view shows; the
    round trip cost a region change 0.5 s); the user's next zoom is."""
    store = wide_world(tmp_path / "store")
    incidents = store.read("incidents")

    def summary(d: Any) -> str:
        return d.find_element("id", "overview-summary").text

    def sent(d: Any, view: list[float]) -> bool:
        return any(r is not None and np.allclose(r, view, atol=1e-9)
                   for r in d.execute_script(_RANGE_CALLS_JS))

    with serve_app(store, "t", map_settings={"max_cells": 400}) as url:
        browser.get(url + "/?lang=en&level=h3_9")
        wait(browser, lambda d: "(res " in summary(d) and d.execute_script(_DRAWN_JS, _OVERVIEW))
        settle(browser, wait)
        browser.execute_script(_RANGE_CALLS_JS)
        browser.find_element("css selector", "#overview-district").click()
        option = wait(browser, lambda d: next((e for e in d.find_elements(
            "css selector", ".dash-dropdown-option") if "G'arb" in e.text), None))
        option.click()
        n = int((incidents["district"] == "G'arb tumani").sum())
        wait(browser, lambda d: summary(d).startswith(f"{n:,} incidents in "))
        settle(browser, wait)
        # the map moved to the district (its first view, centred on it), and that view was
        # not sent (a resize of the page may send the view it had before)
        west = store.read("mahallas").query("district == \"G'arb tumani\"").total_bounds
        fitted = browser.execute_script(_BOUNDS_JS, _OVERVIEW)
        assert west[0] < (fitted[0] + fitted[1]) / 2 < west[2], (fitted, west)
        assert not sent(browser, fitted)
        c = browser.execute_script("""
            const c = document.querySelector(arguments[0])._fullLayout.map._subplot.map
                .getCanvas().getBoundingClientRect();
            return [c.left + c.width / 2, c.top + c.height / 2];""", _OVERVIEW)
        _notch_in(browser, c[0], c[1], 0.4)
        settle(browser, wait)
        # a user's zoom is sent: the server counts what that view shows
        wait(browser, lambda d: sent(d, d.execute_script(_BOUNDS_JS, _OVERVIEW)))
