"""Tests of the tourism page: pure figure builders, and the page end to end in headless Chromium."""

from __future__ import annotations

import json
import math
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
    """The tiny zone world plus Z2, a 12 x 1 km shore 3 km north of Z1, reached only from
    the Forish road's end: its far end is beyond the police limit."""
    import pandas as pd

    from shapely.geometry import box

    from tests.etl.test_zone_report import _geo, world_infrastructure

    store = zone_world(tmp_path_factory.mktemp("tourism") / "store")
    infra = world_infrastructure()
    long_zone = _geo([box(0, 3000, 12_000, 4000)], feature_id=["Z2"], kind=["tourist_zone"],
                     name=["Uzun sohil"], season_start=["05-01"], season_end=["09-30"],
                     region=[infra["region"].iloc[0]], district=["Forish tumani"])
    with store.transaction() as txn:
        txn.replace("infrastructure", pd.concat([infra, long_zone], ignore_index=True))
    return store


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
                   ctx["incidents"], beyond=ctx["beyond_police"],
                   beyond_minutes=ctx["police_minutes"])
    kinds = [t.meta["kind"] for t in fig.data]
    assert kinds[0] == "zone"
    bands = [t.meta for t in fig.data if t.meta["kind"] == "isochrone"]
    # police bands filled slowest first; the 112 10-minute reach outlined
    assert [(b["source"], b["minutes"]) for b in bands] == [
        ("police", 30.0), ("police", 20.0), ("police", 10.0), ("emergency", 10.0)]
    for kind in ("coverage", "road", "power_line", "police_post", "emergency_service",
                 "camp", "entrance", "town", "incident", "beyond", "label"):
        assert kind in kinds, kind
    # the part of the zone beyond 20 min from police: hatched, its share in the legend
    beyond = next(t for t in fig.data if t.meta["kind"] == "beyond")
    assert beyond.fillpattern.shape == "/" and beyond.meta["minutes"] == 20.0
    assert beyond.meta["share"] == pytest.approx(r.share_beyond("police")["20"], abs=0.01)
    assert f"{beyond.meta['share']:.0%} of the zone" in beyond.name
    coverage = next(t for t in fig.data if t.meta["kind"] == "coverage")
    assert coverage.showlegend and coverage.meta["count"] == 1
    # incident tooltips: category name, date, mahalla, precision
    tips = [str(t) for tr in fig.data if tr.meta["kind"] == "incident" for t in tr.text]
    assert any(t.startswith("<b>Theft</b><br>2025-07-10<br>mahalla: Forish<br>located: "
                            "coordinates") for t in tips), tips
    # no coverage at all still shows the layer in the legend, saying so
    bare = zone_map(r.geometry, r.isochrones)
    empty = next(t for t in bare.data if t.meta["kind"] == "coverage")
    assert empty.name == "Camera coverage: none near the zone" and empty.meta["count"] == 0
    emergency = zone_map(r.geometry, r.isochrones, source_kind="emergency")
    filled = [t.meta["source"] for t in emergency.data if t.meta["kind"] == "isochrone"]
    assert filled == ["emergency"] * 3 + ["police"]


def test_labels_do_not_overlap_and_names_are_escaped() -> None:
    import numpy as np
    import pandas as pd

    from riskmap.app.figures_tourism import incident_tooltips, place_labels

    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 1, 200), rng.uniform(0, 1, 200)
    pri = rng.integers(0, 5, 200)
    pick = place_labels(x, y, pri, gap=0.1, limit=30)
    assert 0 < len(pick) <= 30
    d = np.hypot(x[pick][:, None] - x[pick][None, :], y[pick][:, None] - y[pick][None, :])
    assert (d[~np.eye(len(pick), dtype=bool)] >= 0.1).all()
    assert pri[pick[0]] == 0  # the most important kind is labelled first
    tips = incident_tooltips(pd.DataFrame({
        "category": ["assault"], "mahalla": ["<img src=x onerror=alert(1)>"],
        "occurred_at": pd.to_datetime(["2025-01-02T03:00Z"]), "precision": [None]}))
    assert tips.tolist() == ["<b>Assault</b><br>2025-01-02<br>mahalla: &lt;img src=x "
                             "onerror=alert(1)&gt;<br>located: –"]


def test_season_chart_and_checklist_texts() -> None:
    from riskmap.app.figures_tourism import checklist_label, checklist_value, season_chart

    fig = season_chart({"theft": {"total": 3, "in_season": 2, "off_season": 1},
                        "assault": {"total": 1, "in_season": 1, "off_season": 0}})
    assert [t.meta["kind"] for t in fig.data] == ["in_season", "off_season"]
    assert list(fig.data[0].x) == ["Theft", "Assault"] and list(fig.data[0].y) == [2, 1]
    from riskmap import i18n

    with i18n.use_language("ru"):  # category names in the reader's language, not codes
        ru = season_chart({"domestic_violence": {"total": 1, "in_season": 1, "off_season": 0}})
    assert list(ru.data[0].x) == ["Домашнее насилие"]
    no_season = season_chart({"theft": {"total": 3, "in_season": None, "off_season": None}})
    assert [t.meta["kind"] for t in no_season.data] == ["total"]
    assert season_chart({}).layout.annotations[0].text.startswith("No incidents")
    assert checklist_value({"value": 6.04, "threshold": 20.0, "unit": "min"}) == \
        "6.0 min (limit 20 min)"
    assert checklist_value({"value": 27.59, "threshold": 20.0, "unit": "min",
                            "share_beyond": 0.28}) == \
        "farthest 27.6 min (limit 20 min), 28% of the zone beyond"
    assert checklist_label("medical") == "Medical service within reach"


def test_zone_map_with_water_and_its_texts_in_russian() -> None:
    """A zone holding a lake: the water is its own layer and the share beyond is of the
    land; the map's and checklist's texts follow the reader's language."""
    import geopandas as gpd
    import shapely

    from riskmap.app.figures_tourism import checklist_label, checklist_value, zone_map
    from riskmap.i18n import use_language

    zone = shapely.box(67.0, 40.0, 67.1, 40.05)
    land = zone.difference(shapely.box(67.0, 40.01, 67.1, 40.05))  # a 0.01 deg shore strip
    beyond = shapely.box(67.05, 40.0, 67.1, 40.01)  # half the land
    iso = gpd.GeoDataFrame({"source_kind": [], "minutes": []}, geometry=[], crs=4326)
    fig = zone_map(zone, iso, beyond=beyond, beyond_minutes=20.0, land=land)
    kinds = [t.meta["kind"] for t in fig.data]
    assert kinds[:2] == ["zone", "water"]
    hatched = next(t for t in fig.data if t.meta["kind"] == "beyond")
    assert hatched.meta["share"] == pytest.approx(0.5)
    assert hatched.name == "> 20 min from police (50% of the zone's land)"
    with use_language("ru"):
        fig = zone_map(zone, iso, beyond=beyond, beyond_minutes=20.0, land=land)
        names = {t.meta["kind"]: t.name for t in fig.data}
        assert names["water"] == "Открытая вода (не измеряется)"
        assert names["beyond"] == "> 20 мин от полиции (50% суши зоны)"
        assert names["coverage"] == "Зона обзора камер: рядом с зоной нет"
        assert checklist_label("police_post") == "Пост полиции в пределах досягаемости"
        assert checklist_value({"value": 27.59, "threshold": 20.0, "unit": "min",
                                "share_beyond": 0.28}) == \
            "до самой дальней точки 27,6 мин (предел 20 мин), 28% зоны за пределом"


_DATA_TO_SCREEN_JS = """
const gd = document.querySelector('.js-plotly-plot');
const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
const k = window.devicePixelRatio || 1;
return arguments[0].map(p => [Math.round(k * (r.left + xa._offset + xa.l2p(p[0]))),
                              Math.round(k * (r.top + ya._offset + ya.l2p(p[1])))]);
"""


@pytest.mark.browser
def test_beyond_layer_leaves_its_holes_open_in_chromium(browser: Any, wait: Any,
                                                        tmp_path: Any) -> None:
    """A post in the middle of the zone: the part beyond the limit is a ring, and the
    reached disc in its hole must not be hatched (plotly fills with the non-zero rule, so
    the hole must run against its exterior ring)."""
    import io

    import numpy as np
    from PIL import Image

    import geopandas as gpd
    import shapely

    from riskmap.app.figures_tourism import zone_map

    zone = shapely.box(67.0, 40.0, 67.1, 40.05)
    beyond = zone.difference(shapely.Point(67.05, 40.025).buffer(0.015, quad_segs=32))
    # the hole's ring as shapely gives it here runs the same way as the exterior would
    assert len(beyond.interiors) == 1
    iso = gpd.GeoDataFrame({"source_kind": [], "minutes": []}, geometry=[], crs=4326)
    fig = zone_map(zone, iso, beyond=beyond, beyond_minutes=20.0)
    fig.update_layout(width=900, height=600)
    page = tmp_path / "holes.html"
    fig.write_html(page, include_plotlyjs=True, full_html=True)
    browser.get(page.as_uri())
    wait(browser, lambda d: d.execute_script(
        "return document.querySelectorAll('.js-plotly-plot path.js-fill').length >= 2"))
    time.sleep(0.3)
    (hx, hy), (rx, ry) = browser.execute_script(_DATA_TO_SCREEN_JS,
                                                [[67.05, 40.025], [67.01, 40.008]])
    shot = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB"),
                      dtype=float)

    def redness(x: int, y: int) -> float:
        patch = shot[y - 8:y + 9, x - 8:x + 9]
        return float((patch[..., 0] - patch[..., 2]).mean())

    # the ring is hatched red; the hole shows the pale blue zone fill, no hatching
    assert redness(rx, ry) > 2.0
    assert redness(hx, hy) < 0.0 and redness(hx, hy) < redness(rx, ry) - 6.0


@pytest.mark.browser
def test_tourism_page_end_to_end(tourism_server: str, tourism_store: Store, browser: Any,
                                 clean_console: Any, wait: Any, downloads: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(tourism_server + "/tourism")
    wait(browser,
         lambda d: len(d.find_elements(By.CSS_SELECTOR, "#tourism-checklist li")) == 6)
    items = browser.find_elements(By.CSS_SELECTOR, "#tourism-checklist li")
    verdict = {li.get_attribute("data-item"): li.get_attribute("class") for li in items}
    # at 15 km/h off-road the police reach even the far corner in 7 + 8.2 min
    assert verdict == {"road_access": "check-ok", "power_line": "check-fail",
                       "police_post": "check-ok", "emergency_service": "check-ok",
                       "medical": "check-fail", "entrance_cameras": "check-ok"}
    police = next(li for li in items if li.get_attribute("data-item") == "police_post")
    assert "farthest 15.2 min (limit 20 min), 0% of the zone beyond" in police.text
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
    coverage = browser.execute_script(
        "const gd = document.querySelector(arguments[0]);"
        "const t = gd._fullData.find(t => t.meta && t.meta.kind === 'coverage');"
        "return [t.name, t.locations ? t.locations.length :"
        " Array.from(t.lon).filter(v => v !== null && !isNaN(v)).length,"
        " gd.querySelectorAll('.legendtext').length > 0 &&"
        " [...gd.querySelectorAll('.legendtext')].some(e => e.textContent === t.name)];", _MAP)
    # drawn by MapLibre: one polygon per camera's view
    assert coverage[0] == "Camera coverage (1 camera)" and coverage[1] == 1 and coverage[2]
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
    # a long zone whose far end is beyond the police limit: the item fails, the part beyond
    # is drawn, and the camera coverage (at the gate, outside this zone) keeps its layer
    browser.get(tourism_server + "/tourism?zone=Z2")
    wait(browser, lambda d: "Uzun sohil" in d.find_element("id", "tourism-summary").text)
    police = wait(browser, lambda d: next(
        (li for li in d.find_elements(By.CSS_SELECTOR, "#tourism-checklist li")
         if li.get_attribute("data-item") == "police_post"), None))
    assert police.get_attribute("class") == "check-fail"
    assert police.value_of_css_property("color").startswith(("rgba(179, 38, 30",
                                                             "rgb(179, 38, 30"))
    # far end (12 km, 4 km): 7 min by road to the road's end (1 km, 200 m), then 11.6 km at
    # 15 km/h
    farthest = float(police.text.split("farthest ")[1].split(" min")[0])
    assert farthest == pytest.approx(7 + math.hypot(11_000, 3_800) / 250, abs=0.06)
    assert "min (limit 20 min)" in police.text
    assert "of the zone is more than 20 min from a police post" in police.text
    share = int(police.text.split("% of the zone beyond")[0].rsplit(", ", 1)[1])
    assert 50 < share < 100
    traces = wait(browser, lambda d: (lambda t: t if t and ["beyond", None, 20] in t else None)(
        d.execute_script(_TRACES_JS, _MAP)))
    assert ["coverage", None, None] in traces
    legend = browser.execute_script(
        "const gd = document.querySelector(arguments[0]);"
        "return [...gd.querySelectorAll('.legendtext')].map(e => e.textContent);", _MAP)
    assert f"> 20 min from police ({share}% of the zone)" in legend
    time.sleep(0.2)
    clean_console(browser)
