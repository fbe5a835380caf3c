"""A click anywhere inside a mahalla's polygon opens it (real headless Chromium, real mouse
events), not only a click on its tooltip point at the centre; a pan does not."""

from __future__ import annotations

from typing import Any

import pytest

import shapely

from tests.app.conftest import MAP_PIXEL_JS, MAP_STATE_JS, settle
from tests.app.test_commanders import _text, _wait

pytestmark = pytest.mark.browser

_MAP = "#cmd-map .js-plotly-plot"


def _panel_title(browser: Any) -> str:
    """The open mahalla panel's title ("" while another tab is open)."""
    found = browser.find_elements("id", "cmd-panel-title")
    return found[0].text if found else ""


def _mouse(browser: Any, kind: str, x: float, y: float) -> None:
    browser.execute_cdp_cmd("Input.dispatchMouseEvent", {
        "type": kind, "x": x, "y": y, "button": "left", "buttons": 1 if kind != "mouseReleased"
        else 0, "clickCount": 1})


def test_a_click_inside_a_polygon_opens_the_mahalla(browser: Any, dash_server: str,
                                                    world_store: Any) -> None:
    mahallas = world_store.read("mahallas")
    row = mahallas[mahallas["mahalla_id"] == "M11"].iloc[0]
    centre = shapely.point_on_surface(row.geometry)
    x0, y0, x1, y1 = row.geometry.bounds
    # well inside the polygon, far from the tooltip point at its centre
    lon, lat = centre.x + 0.35 * (x1 - x0), centre.y + 0.35 * (y1 - y0)
    assert row.geometry.contains(shapely.Point(lon, lat))
    browser.get(dash_server + "/commanders?lang=en")
    _wait(browser, lambda d: _text(d, "cmd-summary").startswith("500 incidents in 9 mahallas"))
    settle(browser, _wait)
    _wait(browser, lambda d: d.execute_script(MAP_STATE_JS, _MAP))
    px, py = browser.execute_script(MAP_PIXEL_JS, _MAP, lon, lat)

    # a drag (a pan) is not a click: nothing opens
    _mouse(browser, "mousePressed", px, py)
    _mouse(browser, "mouseMoved", px - 25, py - 15)
    _mouse(browser, "mouseReleased", px - 25, py - 15)
    assert not _panel_title(browser)  # the red list's tab is still open: nothing opened

    settle(browser, _wait)
    px, py = browser.execute_script(MAP_PIXEL_JS, _MAP, lon, lat)  # the pan moved the map
    _mouse(browser, "mousePressed", px, py)
    _mouse(browser, "mouseReleased", px, py)
    _wait(browser, lambda d: _panel_title(d).endswith("(M11)"))
