"""The commanders' map tools: labels by zoom, the mahalla search (any script, the user's scope
only), the red list's exports; pure functions, crafted requests, then in Chromium."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from riskmap.app import ids
from riskmap.app.callbacks.commanders import render_map
from riskmap.app.callbacks.search import red_list_csv, red_list_frame, scope_search, search_options
from riskmap.app.commanders_data import CommandersData, CommandersView
from riskmap.app.data import AppModel
from riskmap.app.map_labels import district_points, label_order, pick_labels, tiny_red
from riskmap.app.search import MahallaSearch
from riskmap.auth import accounts
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store
from tests.app.conftest import MAP_STATE_JS, mahalla_grid, random_incidents, settle
from tests.app.test_auth import (
    ORIGIN,
    PASSWORD,
    SECRET_NAMES,
    _app,
    _callbacks,
    _login,
    _outputs,
    _two_regions,
)

_IDS = ids.MAPTOOLS
_CMD = ids.COMMANDERS


# ---------------------------------------------------------------------------- labels
def test_labels_go_by_priority_one_per_grid_cell_and_at_most_sixty() -> None:
    status = np.array(["green", "red", "yellow", "newly red"], dtype=object)
    assert label_order(status, np.array([50, 1, 9, 3])).tolist() == [3, 1, 0, 2]
    first = np.array([False, False, True, False])
    assert label_order(status, np.array([50, 1, 9, 3]), first=first).tolist() == [2, 3, 1, 0]
    # 100 points spread over the view: one per cell of the 6 x 10 grid, so 60 at most
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1, 100), rng.uniform(0, 1, 100)
    got = pick_labels(x, y, (0, 1, 0, 1))
    assert got is not None and 0 < len(got) <= 60 and got.tolist() == sorted(got.tolist())
    cells = {(min(int(x[i] * 6), 5), min(int(y[i] * 10), 9)) for i in got}
    assert len(cells) == len(got)
    # many in view: no mahalla names (the districts are named instead)
    assert pick_labels(rng.uniform(0, 1, 400), rng.uniform(0, 1, 400), (0, 1, 0, 1)) is None
    # NaN points and points out of view are never drawn
    assert pick_labels(np.array([np.nan, 2.0]), np.array([0.5, 0.5]), (1, 0, 0, 1)).tolist() == []


def test_district_labels_sit_on_the_largest_mahalla_and_tiny_reds_are_marked() -> None:
    pts = district_points(np.array(["B", "A", "A", None], dtype=object),
                          np.array([1.0, 1.0, 5.0, 9.0]), np.arange(4.0), np.arange(4.0))
    assert pts.to_dict("list") == {"district": ["A", "B"], "x": [2.0, 0.0], "y": [2.0, 0.0]}
    assert tiny_red(np.array([0.0001, 0.0001, 0.5, np.nan]),
                    np.array([True, False, True, True]), 1.0).tolist() == [
        True, False, False, True]


def test_the_map_names_mahallas_in_view_escaped(world_store: Store, tmp_path: Path) -> None:
    grid = mahalla_grid()
    grid.loc[4, "name"] = "<b>Do'stlik</b>"
    store = open_store(str(tmp_path / "s"))
    with store.transaction() as txn:
        txn.replace("mahallas", grid)
        txn.replace("incidents", random_incidents())
    data = CommandersData(AppModel(DataAccess(store, user="t", audit=False)), background=False)
    fig, _ = render_map(data, CommandersView(mahalla="M11"), None)
    labels = next(t for t in fig["data"] if t["meta"]["kind"] == "labels")
    # the whole area fits the grid: every mahalla, the open one first, names escaped
    assert len(labels["text"]) == 9 and labels["text"][0] == "&lt;b&gt;Do&#x27;stlik&lt;/b&gt;"
    assert labels["meta"]["ct"][0] == labels["text"][0] and len(labels["meta"]["dt"]) == 2
    # zoomed in on one mahalla: only the names in view
    fig, _ = render_map(data, CommandersView(level="h3"), {"range": [67.851, 67.859, 40.131,
                                                                     40.139]})
    labels = next(t for t in fig["data"] if t["meta"]["kind"] == "labels")
    assert labels["text"] == ["&lt;b&gt;Do&#x27;stlik&lt;/b&gt;"]


# ---------------------------------------------------------------------------- search
def test_latin_cyrillic_and_russian_spellings_find_the_same_mahalla() -> None:
    search = MahallaSearch(mahalla_grid())
    for query in ("Do'stlik", "Do‘stlik", "Дўстлик", "Дустлик", "dostlik", "Dustlik mfy"):
        assert search.find(query)["mahalla_id"].iloc[0] == "M11", query
    # a misspelling, and the start of a name while it is typed
    assert search.find("Mustaqilik")["mahalla_id"].iloc[0] == "M21"
    assert search.find("Нав")["mahalla_id"].tolist() == ["M01"]
    assert search.find("")["mahalla_id"].tolist() == []
    assert search.find("Qwertyuiop")["mahalla_id"].tolist() == []


def test_search_finds_the_cyrillic_name_column_too() -> None:
    grid = mahalla_grid()
    grid.loc[0, "name_cyrillic"] = "Боғишамол"
    search = MahallaSearch(grid)
    opts = search_options(search, "Боғиш")
    assert [o["value"] for o in opts] == ["M00"]
    assert opts[0]["label"] == "Bog'ishamol (Боғишамол) — Jizzax shahri"
    assert opts[0]["search"].startswith("Боғиш")  # the dropdown's own filter keeps it


def test_search_covers_the_scope_only(tmp_path: Path) -> None:
    store = _two_regions(tmp_path / "store")
    jizzax = AppModel(DataAccess(store, user="t", regions=["Jizzax viloyati"], audit=False))
    search = scope_search(jizzax)
    assert len(search) == 9 and set(search.table["region"]) == {"Jizzax viloyati"}
    assert search.find(SECRET_NAMES[1]).empty and search.zoom_box("S1") is None


@pytest.mark.parametrize("user", ["ana", "ana0"])
def test_crafted_search_requests_list_no_other_region(tmp_path: Path, user: str) -> None:
    store = _two_regions(tmp_path / "store")
    accounts.add_user(store, "ana", PASSWORD, role="analyst", regions=["Jizzax viloyati"],
                      suppressed_elsewhere=True)
    accounts.add_user(store, "ana0", PASSWORD, role="analyst", regions=["Jizzax viloyati"])
    client = _app(store).server.test_client()
    _login(client, user)
    own = _call(client, f"{_IDS.SEARCH}.options", {f"{_IDS.SEARCH}.search_value": "Дўстлик"})
    assert [o["value"] for o in own["response"][_IDS.SEARCH]["options"]][:1] == ["M11"]
    for text in (SECRET_NAMES[3], "Sirli", "S3"):
        got = _call(client, f"{_IDS.SEARCH}.options", {f"{_IDS.SEARCH}.search_value": text})
        assert got["response"][_IDS.SEARCH]["options"] == [], text
    # choosing another region's id (or junk) selects nothing
    for value in ("S3", ["M11"], {"a": 1}, "M99"):
        assert _call(client, f"{_IDS.ZOOM}.data", {f"{_IDS.SEARCH}.value": value}) in (
            {}, None), value
    chosen = _call(client, f"{_IDS.ZOOM}.data", {f"{_IDS.SEARCH}.value": "M11"})["response"]
    assert chosen[_CMD.SELECTED]["data"] == "M11" and chosen[_CMD.TABS]["value"] == "mahalla"
    assert chosen[_IDS.ZOOM]["data"] == [67.845, 67.865, 40.125, 40.145]


def _call(client: Any, output: str, values: dict[str, Any]) -> dict[str, Any] | None:
    """Post the callback with ``output`` among its outputs (``id.prop``) as the page would
    (``None``: refused as malformed, 400; ``{}``: no update)."""
    cb = next(cb for cb in _callbacks(client) if any(
        f"{o['id']}.{o['property']}".split("@")[0] == output for o in _outputs(cb)[1]))
    out, outs = _outputs(cb)
    def value(d: dict[str, str]) -> Any:
        return values.get(f"{d['id']}.{d['property']}")
    res = client.post("/_dash-update-component", headers=ORIGIN, json={
        "output": out, "outputs": outs if len(outs) > 1 else outs[0],
        "inputs": [{**i, "value": value(i)} for i in cb["inputs"]],
        "state": [{**s, "value": value(s)} for s in cb["state"]],
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in cb["inputs"]]})
    assert res.status_code in (200, 204, 400), res.get_data(as_text=True)[:300]
    return None if res.status_code == 400 else res.get_json() if res.status_code == 200 else {}


# ---------------------------------------------------------------------------- exports
def test_red_list_csv_neutralises_formula_names(tmp_path: Path) -> None:
    grid = mahalla_grid()
    grid["name"] = "=cmd|' /C calc'!A0"
    store = open_store(str(tmp_path / "s"))
    with store.transaction() as txn:
        txn.replace("mahallas", grid)
        txn.replace("incidents", random_incidents())
    data = CommandersData(AppModel(DataAccess(store, user="t", audit=False)), background=False)
    frame = red_list_frame(data, CommandersView())
    assert len(frame) >= 1
    back = pd.read_csv(io.StringIO(red_list_csv(frame)), dtype=str)
    assert set(back["name"]) == {"'=cmd|' /C calc'!A0"}
    assert list(back.columns[:4]) == ["mahalla_id", "name", "district", "status"]


# ---------------------------------------------------------------------------- browser
_MAP = "#cmd-map .js-plotly-plot"


def _map_state(driver: Any) -> dict[str, Any] | None:
    """The MapLibre map's bounds and the mahalla names it placed (null until drawn)."""
    got = driver.execute_script(MAP_STATE_JS, _MAP)
    if got:
        got["shown"] = got["names"].get("mahalla-name", [])
    return got


@pytest.mark.browser
def test_search_by_cyrillic_name_opens_and_zooms_to_the_mahalla(
        browser: Any, dash_server: str, wait: Any, downloads: Any, world_store: Store,
        clean_console: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.get(dash_server + "/commanders")
    wait(browser, lambda d: d.find_element("id", _CMD.SUMMARY).text.startswith("500 incidents"))
    wait(browser, lambda d: d.execute_script("return !!window.store && "
                                             "!window.store.getState().isLoading;"))
    settle(browser, wait)
    # the whole (tiny) area: every mahalla named by the base map's tiles (MapLibre places the
    # names in a frame after the tiles have loaded: waited for, as a person would look)
    names = sorted(world_store.read("mahallas")["name"])
    before = wait(browser, lambda d: (s := _map_state(d)) and sorted(set(s["shown"])) == names
                  and s)
    assert before["png"].startswith("riskmap-commanders-map-")

    browser.find_element("id", _IDS.SEARCH).click()
    box = wait(browser, lambda d: d.find_element(
        "css selector", f"#{_IDS.SEARCH} input[type='search'], .dash-dropdown-search"))
    box.send_keys("Дўстлик")

    def pick(d: Any) -> bool:  # the options are redrawn as each answer comes: retry
        from selenium.common.exceptions import StaleElementReferenceException

        try:
            option = next((e for e in d.find_elements("css selector", ".dash-dropdown-option")
                           if "stlik — Jizzax shahri" in e.text), None)
            if option is None:
                return False
            option.click()
            return True
        except StaleElementReferenceException:
            return False
    wait(browser, pick)
    wait(browser, lambda d: d.find_element("id", _CMD.PANEL_TITLE).text == "Do'stlik (M11)")

    # zoomed to M11 (x 67.85..67.86, y 40.13..40.14): a view about twice its size around it
    def zoomed(d: Any) -> Any:
        got = _map_state(d)
        if not got:
            return None
        (x0, x1), (y0, y1) = sorted(got["x"]), sorted(got["y"])
        ok = (x0 <= 67.85 and x1 >= 67.86 and y0 <= 40.13 and y1 >= 40.14
              and min(x1 - x0, y1 - y0) < 0.025 and "Do'stlik" in got["shown"])
        return got if ok else None
    from selenium.common.exceptions import TimeoutException

    try:
        got = wait(browser, zoomed, 20)
    except TimeoutException:
        raise AssertionError(f"not zoomed: {_map_state(browser)}; console: "
                             f"{browser.get_log('browser')}") from None
    # and it stays there when the redraws the choice set off (the outline) have come
    settle(browser, wait)
    assert zoomed(browser), _map_state(browser)
    assert "highlight" in got["kinds"]

    # the red list downloads as CSV (neutralised, audited)
    browser.find_element("xpath", "//div[contains(@class,'tab') and .='Red list']").click()
    browser.find_element("id", _IDS.RED_CSV).click()
    csv = pd.read_csv(downloads.wait_for("red-list-*.csv"), dtype=str)
    assert {"mahalla_id", "name", "status"} <= set(csv.columns) and len(csv) >= 1
    audit = world_store.read("audit")
    assert (audit["action"] == "download_red_list").any()
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    clean_console(browser)
