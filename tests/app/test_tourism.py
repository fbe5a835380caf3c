"""Tests of the tourism page: pure figure builders, and the page end to end in headless Chromium."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store
from tests.etl.test_zone_report import TH, zone_world

_MAP = "#tourism-map .js-plotly-plot"
_TRACES_JS = """
const gd = document.querySelector(arguments[0]);
if (!gd || !gd.data) { return null; }
return gd.data.map(t => t.meta ? [t.meta.kind, t.meta.source || null, t.meta.minutes || null]
                                : [null, null, null]);
"""


@pytest.fixture(scope="module")
def tourism_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return zone_world(tmp_path_factory.mktemp("tourism") / "store")


@pytest.fixture(scope="module")
def tourism_server(tourism_store: Store, app_server: Any) -> Iterator[str]:
    """The app over the tiny zone world, served on a free 127.0.0.1 port."""
    with app_server(tourism_store, "tourism-test") as url:
        yield url


def _report(store: Store) -> Any:
    from riskmap.etl.zone_report import zone_report

    return zone_report(DataAccess(store, user="t", audit=False), "Z1", thresholds=TH)


def test_zone_map_layers_and_bands(tourism_store: Store) -> None:
    from riskmap.app.figures_tourism import zone_map

    r = _report(tourism_store)
    ctx = r.context
    fig = zone_map(r.geometry, r.isochrones, ctx["coverage"], ctx["infrastructure"],
                   ctx["incidents"])
    kinds = [t.meta["kind"] for t in fig.data]
    assert kinds[0] == "zone"
    bands = [t.meta for t in fig.data if t.meta["kind"] == "isochrone"]
    # police bands filled slowest first; the 112 10-minute reach outlined
    assert [(b["source"], b["minutes"]) for b in bands] == [
        ("police", 30.0), ("police", 20.0), ("police", 10.0), ("emergency", 10.0)]
    for kind in ("coverage", "road", "power_line", "police_post", "emergency_service",
                 "camp", "entrance", "town", "incident"):
        assert kind in kinds, kind
    emergency = zone_map(r.geometry, r.isochrones, source_kind="emergency")
    filled = [t.meta["source"] for t in emergency.data if t.meta["kind"] == "isochrone"]
    assert filled == ["emergency"] * 3 + ["police"]


def test_season_chart_and_checklist_texts() -> None:
    from riskmap.app.figures_tourism import checklist_label, checklist_value, season_chart

    fig = season_chart({"theft": {"total": 3, "in_season": 2, "off_season": 1},
                        "assault": {"total": 1, "in_season": 1, "off_season": 0}})
    assert [t.meta["kind"] for t in fig.data] == ["in_season", "off_season"]
    assert list(fig.data[0].x) == ["theft", "assault"] and list(fig.data[0].y) == [2, 1]
    no_season = season_chart({"theft": {"total": 3, "in_season": None, "off_season": None}})
    assert [t.meta["kind"] for t in no_season.data] == ["total"]
    assert season_chart({}).layout.annotations[0].text.startswith("No incidents")
    assert checklist_value({"value": 6.04, "threshold": 20.0, "unit": "min"}) == \
        "6.0 min (limit 20 min)"
    assert checklist_label("medical") == "Medical service within reach"


@pytest.mark.browser
def test_tourism_page_end_to_end(tourism_server: str, tourism_store: Store, browser: Any,
                                 clean_console: Any, wait: Any, downloads: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(tourism_server + "/tourism")
    wait(browser,
         lambda d: len(d.find_elements(By.CSS_SELECTOR, "#tourism-checklist li")) == 6)
    items = browser.find_elements(By.CSS_SELECTOR, "#tourism-checklist li")
    verdict = {li.get_attribute("data-item"): li.get_attribute("class") for li in items}
    assert verdict == {"road_access": "check-ok", "power_line": "check-fail",
                       "police_post": "check-ok", "emergency_service": "check-ok",
                       "medical": "check-fail", "entrance_cameras": "check-ok"}
    power = next(li for li in items if li.get_attribute("data-item") == "power_line")
    assert "3.0 km (limit 2 km)" in power.text
    colour = power.value_of_css_property("color")
    assert colour.startswith(("rgba(179, 38, 30", "rgb(179, 38, 30"))
    summary = browser.find_element("id", "tourism-summary").text
    assert summary.startswith("Qo‘ng‘irot ko‘li: 4.0 km²") and "4 of 6" in summary
    traces = wait(browser, lambda d: d.execute_script(_TRACES_JS, _MAP))
    bands = [(s, m) for k, s, m in traces if k == "isochrone"]
    assert bands == [("police", 30), ("police", 20), ("police", 10), ("emergency", 10)]
    assert ["coverage", None, None] in traces
    # switch the bands to the emergency service (112)
    browser.find_element(By.CSS_SELECTOR, "#tourism-source input[value='emergency']").click()
    wait(browser, lambda d: [t[1] for t in (d.execute_script(_TRACES_JS, _MAP) or [])
                             if t[0] == "isochrone"][:1] == ["emergency"])
    season = browser.execute_script(
        "const gd = document.querySelector('#tourism-season .js-plotly-plot');"
        "return gd && gd.data ? gd.data.map(t => t.meta.kind) : null;")
    assert season == ["in_season", "off_season"]
    # download the HTML report
    button = browser.find_element("id", "tourism-download-html")
    assert button.get_attribute("disabled") is None
    button.click()
    target = downloads.wait_for("zone-*.html")
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Synthetic demo data" in page
    assert page.count('<td class="status">FAIL') == 2
    audit = tourism_store.read("audit")
    assert (audit["action"] == "download_zone_report").sum() == 1
    # the page's data is loaded once per scope, audited as the app acting for that scope
    assert "app" in set(audit.loc[audit["user"] == "app:tourism-test", "action"])
    assert "view" in set(audit.loc[audit["user"] == "tourism-test", "action"])
    # each distinct view opened is audited once: the first zone with police, then with 112
    is_view = (audit["action"].astype(object) == "view") & (
        audit["layer"].astype(object) == "tourism")
    views = [json.loads(str(d)) for d in audit.loc[is_view.to_numpy(bool), "detail"]]
    assert sorted(views, key=len) == [{"zone": "Z1"}, {"zone": "Z1", "source": "emergency"}]
    time.sleep(0.2)
    clean_console(browser)
