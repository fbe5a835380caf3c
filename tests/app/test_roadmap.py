"""The Roadmap tab: crafted callback requests cannot write outside the scope or without
``roadmap:edit``; end to end in headless Chromium (official, overdue measure, done, reload)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from riskmap.auth import accounts
from riskmap.layers.store import Store
from tests.app.conftest import REGION, build_store, mahalla_grid
from tests.app.test_auth import (
    ORIGIN,
    OTHER,
    PASSWORD,
    _app,
    _callbacks,
    _login,
    _outputs,
    _two_regions,
)

_RESULT = "roadmap-result"


def _status(ids: list[str], red: set[str], region_of: dict[str, str]) -> pd.DataFrame:
    """Three months of status: the ``red`` mahallas red in the last two, the others green."""
    months = pd.date_range("2025-04-01", periods=3, freq="MS", tz="UTC")
    rows = [{"mahalla_id": m, "month": month, "status": "red" if m in red and i else "green",
             "why": "red: top 10% by rate (test)" if m in red and i else "green: no crime",
             "count": 7, "rate_per_1000": 2.5, "gi_z": 1.0, "gi_class": "not_significant",
             "district": "D", "region": region_of[m]}
            for m in ids for i, month in enumerate(months)]
    return pd.DataFrame(rows)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = _two_regions(tmp_path / "store")
    m = store.read("mahallas")
    region_of = dict(zip(m["mahalla_id"], m["region"], strict=True))
    with store.transaction() as txn:
        txn.replace("mahalla_status", _status(list(region_of), {"M11", "S1"}, region_of))
    accounts.add_user(store, "jiz", PASSWORD, role="commander", regions=[REGION])
    accounts.add_user(store, "ana", PASSWORD, role="analyst", regions=[REGION])
    accounts.add_user(store, "tour", PASSWORD, role="tourism_safety", regions=[REGION])
    return store


def _write_callback(client: Any) -> dict[str, Any]:
    found = [cb for cb in _callbacks(client) if _RESULT + ".children" in cb["output"]]
    assert len(found) == 1
    return found[0]


def _press(client: Any, cb: dict[str, Any], button: str, values: dict[str, Any]) -> Any:
    output, outs = _outputs(cb)
    inputs = [{**i, "value": 1 if i["id"] == button else 0} for i in cb["inputs"]]
    state = [{**s, "value": values.get(f"{s['id']}.{s['property']}")} for s in cb["state"]]
    return client.post("/_dash-update-component", headers=ORIGIN, json={
        "output": output, "outputs": outs, "inputs": inputs, "state": state,
        "changedPropIds": [f"{button}.n_clicks"]})


def _values(mahalla: Any) -> dict[str, Any]:
    seven = [{"role": "rais", "name": "Rais", "phone": "1"},
             {"role": "prevention_inspector", "name": "Inspector", "phone": "2"}]
    return {"cmd-selected.data": mahalla, "roadmap-official-name.value": "Official",
            "roadmap-official-position.value": "Sector leader",
            "roadmap-official-phone.value": "+998 90", "roadmap-seven.data": seven,
            "roadmap-new-title.value": "Patrols", "roadmap-new-due.value": "2025-01-01",
            "roadmap-measures.selected_row_ids": ["S1@2025-06#x"],
            "roadmap-edit-status.value": "done", "roadmap-refresh.data": 0}


def _rows(store: Store, layer: str) -> int:
    return len(store.read(layer)) if store.has(layer) else 0


def test_crafted_requests_write_nothing_outside_the_scope(store: Store) -> None:
    app = _app(store)
    client = app.server.test_client()
    assert _login(client, "jiz").status_code == 303
    cb = _write_callback(client)
    crafted = ("S1", ["S1"], {"mahalla_id": "S1", "region": OTHER}, "<script>x</script>",
               "x" * 5000, None, 7)
    for mahalla in crafted:
        for button in ("roadmap-save", "roadmap-add", "roadmap-update"):
            res = _press(client, cb, button, _values(mahalla))
            assert res.status_code in (200, 204, 400), (mahalla, button, res.status_code)
            assert "Traceback" not in res.get_data(as_text=True)
            assert "Sirlimahalla" not in res.get_data(as_text=True)
    assert _rows(store, "roadmaps") == 0 and _rows(store, "roadmap_measures") == 0
    audit = store.read("audit")
    denied = audit[(audit["action"] == "roadmap_edit").to_numpy(bool)]
    assert len(denied) >= 6 and set(denied["outcome"]) == {"denied"}
    assert set(denied["user"]) == {"jiz"}

    # the same requests for the commander's own red mahalla do write (the test is not vacuous)
    res = _press(client, cb, "roadmap-save", _values("M11"))
    assert res.status_code == 200 and "Saved." in res.get_data(as_text=True)
    res = _press(client, cb, "roadmap-add", _values("M11"))
    assert "Measure added." in res.get_data(as_text=True)
    roadmaps = store.read("roadmaps")
    assert roadmaps[["mahalla_id", "region", "official_name"]].values.tolist() == [
        ["M11", REGION, "Official"]]
    assert store.read("roadmap_measures")["title"].tolist() == ["Patrols"]
    ok = store.read("audit")
    ok = ok[((ok["action"] == "roadmap_edit") & (ok["outcome"] == "ok")).to_numpy(bool)]
    assert len(ok) == 2 and json.loads(ok["detail"].iloc[0])["after"]["official_name"] \
        == "Official"


def test_a_role_without_roadmap_edit_reads_only(store: Store) -> None:
    app = _app(store)
    analyst = app.server.test_client()
    _login(analyst, "ana")
    cb = _write_callback(analyst)
    res = _press(analyst, cb, "roadmap-save", _values("M11"))
    assert res.status_code == 200 and "may read roadmaps but not edit" in res.get_data(
        as_text=True)
    tour = app.server.test_client()
    _login(tour, "tour")
    assert _press(tour, cb, "roadmap-add", _values("M11")).status_code == 403
    assert _rows(store, "roadmaps") == 0 and _rows(store, "roadmap_measures") == 0


# ---------------------------------------------------------------------------- browser
def _text(driver: Any, id_: str) -> str:
    return driver.find_element("id", id_).text


def _type(driver: Any, id_: str, text: str) -> None:
    box = driver.find_element("id", id_)
    box.clear()
    box.send_keys(text)


_IDLE_JS = "return !!window.store && !window.store.getState().isLoading;"


@pytest.mark.browser
def test_roadmap_end_to_end(browser: Any, app_server: Any, wait: Any, clean_console: Any,
                            tmp_path: Path) -> None:
    store = build_store(tmp_path / "store")
    grid = mahalla_grid()
    with store.transaction() as txn:
        txn.replace("mahalla_status", _status(list(grid["mahalla_id"]), {"M11"},
                                              dict.fromkeys(grid["mahalla_id"], REGION)))
    tab = "//div[contains(@class,'tab') and .='Roadmap']"
    with app_server(store, "test") as url:
        browser.get(url + "/commanders?mahalla=M11&lang=en")
        wait(browser, lambda d: _text(d, "cmd-panel-title") == "Do'stlik (M11)")
        browser.find_element("xpath", tab).click()
        wait(browser, lambda d: "This mahalla is red" in _text(d, "roadmap-header"))
        assert "top 10% by rate (test)" in _text(browser, "roadmap-header")
        wait(browser, lambda d: d.find_element("id", "roadmap-official-name").is_enabled())
        _type(browser, "roadmap-official-name", "Aliyev <b>Anvar</b>")
        _type(browser, "roadmap-official-phone", "+998 90 123 45 67")
        browser.find_element("id", "roadmap-save").click()
        wait(browser, lambda d: _text(d, "roadmap-result") == "Saved.")
        wait(browser, lambda d: "Open roadmap" in _text(d, "roadmap-header"))

        _type(browser, "roadmap-new-title", "Night patrols on the market street")
        _type(browser, "roadmap-new-owner", "Prevention inspector")
        _type(browser, "roadmap-new-due", "2025-01-15")
        browser.find_element("id", "roadmap-add").click()
        wait(browser, lambda d: _text(d, "roadmap-result") == "Measure added.")
        flag = wait(browser, lambda d: d.find_element(
            "css selector", "#roadmap-measures td[data-dash-column='flag']"))
        wait(browser, lambda d: flag.text == "overdue")
        assert flag.value_of_css_property("background-color") == "rgba(198, 40, 40, 1)"
        assert "1 overdue" in _text(browser, "roadmap-summary")

        # the red list shows the open / overdue measures (after a reload)
        browser.get(url + "/commanders?mahalla=M11&lang=en")
        wait(browser, lambda d: _text(d, "cmd-panel-title") == "Do'stlik (M11)")
        browser.find_element("xpath", "//div[contains(@class,'tab') and .='Red list']").click()
        cell = wait(browser, lambda d: d.find_element(
            "css selector", "#cmd-redlist td[data-dash-column='roadmap']"))
        wait(browser, lambda d: cell.text == "1 / 1")
        assert cell.value_of_css_property("background-color") == "rgba(198, 40, 40, 1)"

        browser.find_element("xpath", tab).click()
        wait(browser, lambda d: "Night patrols" in _text(d, "roadmap-measures"))
        browser.find_element("css selector", "#roadmap-measures td input[type='radio']").click()
        wait(browser, lambda d: d.find_element("id", "roadmap-update").is_enabled())
        browser.find_element("xpath", "//div[@id='roadmap-edit-status']//label[.='Done']"
                             ).click()
        browser.find_element("id", "roadmap-update").click()
        wait(browser, lambda d: _text(d, "roadmap-result") == "Measure updated.")
        wait(browser, lambda d: "Done" in _text(d, "roadmap-measures"))
        assert _text(browser, "roadmap-measures").count("overdue") == 0

        browser.refresh()
        wait(browser, lambda d: _text(d, "cmd-panel-title") == "Do'stlik (M11)")
        browser.find_element("xpath", tab).click()
        wait(browser, lambda d: "Done" in _text(d, "roadmap-measures"))
        name = browser.find_element("id", "roadmap-official-name")
        wait(browser, lambda d: name.get_attribute("value") == "Aliyev <b>Anvar</b>")
        assert "Progress: 100%" in _text(browser, "roadmap-header")
        assert not browser.find_elements("css selector", "#roadmap-panel b b")  # escaped
        wait(browser, lambda d: d.execute_script(_IDLE_JS))
        clean_console(browser)
    measures = store.read("roadmap_measures")
    assert measures[["status", "updated_by"]].values.tolist() == [["done", "test"]]
    assert store.read("roadmaps")["official_name"].tolist() == ["Aliyev <b>Anvar</b>"]
