"""Browser tests of the overview page in headless Chromium (offline map, filters, URL state)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from riskmap.geo.h3index import parents
from tests.app.conftest import LEGEND_JS

pytestmark = pytest.mark.browser

_MAP = "#overview-map .js-plotly-plot"
#: per trace: name, meta.kind, number of NaN-separated rings (or points), fill colour,
#: and the first customdata column of hover traces
_TRACES_JS = """
const gd = document.querySelector(arguments[0]);
if (!gd || !gd.data) { return null; }
// numpy arrays arrive base64-encoded; plotly.js keeps the decoded array in _inputArray
const arr = v => (v && v._inputArray) ? v._inputArray : (v || []);
return gd.data.map(t => {
    const out = {name: t.name, kind: t.meta ? t.meta.kind : null, type: t.type,
                 labels: t.customdata ? Array.from(arr(t.customdata), r => String(r[0])) : null};
    if (t.type === 'choroplethmap') {  // MapLibre: one GeoJSON polygon per feature
        const rings = t.geojson.features.map(f => f.geometry.coordinates[0].length);
        return {...out, rings: rings.length, fill: t.colorscale[0][1],
                points: rings.reduce((a, b) => a + b, 0) + rings.length - 1};
    }
    const xs = Array.from(arr(t.lon || t.x));
    const gaps = xs.filter(v => v === null || Number.isNaN(v)).length;
    return {...out, rings: xs.length ? gaps + 1 : 0, points: xs.length,
            fill: t.fillcolor || null};
});
"""


#: where on the map canvas (offset from its centre, px) a polygon of the first mahalla class
#: lies, and the name its tooltip carries
_POLYGON_AT_JS = """
const gd = document.querySelector(arguments[0]);
const m = gd._fullLayout.map._subplot.map;
const t = gd.data.find(d => d.type === 'choroplethmap');
const ring = t.geojson.features[0].geometry.coordinates[0];
const lon = ring.slice(0, -1).reduce((a, c) => a + c[0], 0) / (ring.length - 1);
const lat = ring.slice(0, -1).reduce((a, c) => a + c[1], 0) / (ring.length - 1);
const p = m.project([lon, lat]), c = m.getCanvas().getBoundingClientRect();
return [Math.round(p.x - c.width / 2), Math.round(p.y - c.height / 2), String(t.customdata[0][0])];
"""


def _wait(driver: Any, predicate: Any, timeout: float = 15) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(predicate)


def _summary(driver: Any) -> str:
    return driver.find_element("id", "overview-summary").text


def _traces_when(driver: Any, summary_prefix: str) -> list[dict[str, Any]]:
    """Traces of the map once the summary line starts with ``summary_prefix``."""
    _wait(driver, lambda d: _summary(d).startswith(summary_prefix))
    return _wait(driver, lambda d: d.execute_script(_TRACES_JS, _MAP))


def _legend(driver: Any) -> list[tuple[str, str]]:
    """(text, swatch fill) of each legend entry as drawn."""
    return driver.execute_script(LEGEND_JS, _MAP)


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _hosts(driver: Any) -> set[str]:
    """Hosts of every request the page made (performance log + resource timing)."""
    urls = set(driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"))
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    return {urlsplit(u).hostname for u in urls if urlsplit(u).scheme in {"http", "https", "ws",
                                                                          "wss"}}


@pytest.fixture(scope="module")
def incidents(world_store: Any) -> pd.DataFrame:
    return world_store.read("incidents")


def test_overview_mahallas_then_hexagons_offline(browser: Any, dash_server: str,
                                                  incidents: pd.DataFrame,
                                                  clean_console: Any) -> None:
    browser.get_log("performance")  # drop entries of earlier pages
    browser.get(dash_server + "/")
    traces = _traces_when(browser, "500 incidents in 9 mahallas")
    assert browser.find_element("id", "app-demo-badge").text == "Synthetic demo data"

    # mahalla view: 9 filled squares split over the colour classes, drawn by MapLibre over
    # the app's own base tiles; each polygon carries its own tooltip (no layer of points)
    polys = [t for t in traces if t["kind"] == "mahalla"]
    assert {t["type"] for t in polys} == {"choroplethmap"}
    assert sum(t["rings"] for t in polys) == 9
    assert all(t["points"] == t["rings"] * 6 - 1 for t in polys)  # 5 corners + a gap each
    assert all(len(t["labels"]) == t["rings"] for t in polys)
    assert sorted(name for t in polys for name in t["labels"]) == sorted(
        ["Bog'ishamol", "Navro'z", "O'zbekiston", "Yangiobod", "Do'stlik", "Guliston",
         "Istiqlol", "Mustaqillik", "Sharq"])
    assert not [t for t in traces if t["kind"] == "mahalla-hover"]
    # and shows it when the mouse is over it
    from selenium.webdriver.common.action_chains import ActionChains

    dx, dy, name = browser.execute_script(_POLYGON_AT_JS, _MAP)
    canvas = browser.find_element("css selector", f"{_MAP} canvas.maplibregl-canvas")
    ActionChains(browser).move_to_element_with_offset(canvas, dx, dy).pause(0.2).move_by_offset(
        1, 1).perform()
    tip = _wait(browser, lambda d: d.execute_script(
        "const h = document.querySelector(arguments[0] + ' .hoverlayer');"
        "return h && h.textContent;", _MAP))
    assert name in tip and "Incidents" in tip and "Per 1,000 residents" in tip
    # the legend shows each class with the colour its polygons are filled with
    legend = _legend(browser)
    assert [name for name, _ in legend] == [t["name"] for t in polys]
    assert [fill for _, fill in legend] == [_rgb(t["fill"]) for t in polys]

    # switch the aggregation to H3 res 8: hexagons over the 9 mahalla outlines
    browser.find_element("xpath", "//label[contains(., 'H3 res 8')]").click()
    n8 = len(np.unique(parents(incidents["h3"].to_numpy(dtype="int64"), 8)))
    traces = _traces_when(browser, f"500 incidents in {n8} H3 cells (res 8)")
    base = [t for t in traces if t["kind"] == "base"]
    assert len(base) == 1 and base[0]["rings"] == 9
    assert sum(t["rings"] for t in traces if t["kind"] == "h3") == n8
    assert parse_qs(urlsplit(browser.current_url).query) == {"level": ["h3_8"]}

    # a filter: only incidents with coordinates drops the fraud cases (located at mahallas)
    browser.find_element("xpath", "//label[contains(., 'exact coordinates')]").click()
    n_exact = int((incidents["geocode_precision"] == "coordinates").sum())
    assert n_exact == int((incidents["category"] != "fraud").sum()) < 500
    _traces_when(browser, f"{n_exact} incidents in ")
    assert parse_qs(urlsplit(browser.current_url).query) == {"level": ["h3_8"],
                                                             "precise": ["1"]}
    clean_console(browser)
    assert _hosts(browser) == {"127.0.0.1"}


def test_overview_view_state_from_url(browser: Any, dash_server: str,
                                      incidents: pd.DataFrame, clean_console: Any) -> None:
    query = ("?level=h3_9&district=Sharof+Rashidov+tumani&start=2025-02-01&end=2025-03-31"
             "&categories=theft,assault")
    browser.get(dash_server + "/" + query)
    local = incidents["occurred_at"].dt.tz_convert("Asia/Tashkent")
    keep = ((incidents["district"] == "Sharof Rashidov tumani")
            & incidents["category"].isin(["theft", "assault"])
            & (local >= pd.Timestamp("2025-02-01", tz="Asia/Tashkent"))
            & (local < pd.Timestamp("2025-04-01", tz="Asia/Tashkent")))
    n_cells = len(np.unique(incidents.loc[keep, "h3"].to_numpy(dtype="int64")))
    assert 0 < keep.sum() < 100
    traces = _traces_when(browser, f"{int(keep.sum())} incidents in {n_cells} H3 cells (res 9)"
                                   ", 2025-02-01 – 2025-03-31")
    assert sum(t["rings"] for t in traces if t["kind"] == "h3") == n_cells
    # the base map holds only the 3 mahallas of the district
    assert next(t for t in traces if t["kind"] == "base")["rings"] == 3
    # the controls show the state read from the URL, and the URL is kept as it was
    chosen = browser.find_element("id", "overview-categories").text
    assert "Theft" in chosen and "Assault" in chosen
    assert browser.find_element(
        "css selector", "#overview-level input[value='h3_9']").is_selected()
    assert parse_qs(urlsplit(browser.current_url).query) == parse_qs(query[1:])
    clean_console(browser)
    assert _hosts(browser) == {"127.0.0.1"}
