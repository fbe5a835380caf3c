"""Browser test of the camera planner page in headless Chromium: run, see, download, accept."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from riskmap.layers.store import Store
from tests.etl.test_derive_coverage import coverage_world

_MAP = "#planner-map .js-plotly-plot"
_PROPOSED_JS = """
const gd = document.querySelector(arguments[0]);
if (!gd || !gd.data) { return null; }
const arr = v => (v && v._inputArray) ? v._inputArray : (v || []);
const t = gd.data.find(t => t.meta && t.meta.kind === 'proposed');
return t ? Array.from(arr(t.text)) : null;
"""


@pytest.fixture(scope="module")
def planner_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The two-mahalla world of the coverage tests, in its own store (the test writes to it)."""
    from riskmap.etl.derive_coverage import build
    from riskmap.settings import Settings

    store = coverage_world(tmp_path_factory.mktemp("planner") / "store")
    build(store, Settings(_env_file=None, store=store.url))  # type: ignore[call-arg]
    return store


@pytest.fixture(scope="module")
def planner_server(planner_store: Store, app_server: Any) -> Iterator[str]:
    """The app over ``planner_store``, served on a free 127.0.0.1 port."""
    with app_server(planner_store, "planner-test") as url:
        yield url


_KINDS_JS = """
const gd = document.querySelector(arguments[0]);
return (gd && gd.data) ? gd.data.map(t => t.meta ? t.meta.kind : null) : null;
"""


def _text(driver: Any, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def _result() -> Any:
    from riskmap.etl.planning import plan_cameras
    from tests.etl.test_planning import _frames

    return plan_cameras(_frames(), budget=2, types=["overview"], exact=False,
                        candidates="bus_stop,market,grid")


def test_plan_map_draws_every_layer() -> None:
    from riskmap.app.figures_planner import plan_map

    res = _result()
    fig = plan_map(res.area, res.cells, res.existing, res.existing_coverage, res.plan,
                   res.plan_coverage)
    kinds = [t.meta["kind"] for t in fig.data]
    assert kinds[0] == "base" and "risk" in kinds
    for kind in ("existing-coverage", "proposed-coverage", "existing", "proposed"):
        assert kinds.count(kind) == 1
    proposed = fig.data[kinds.index("proposed")]
    assert list(proposed.text) == ["1", "2"]
    assert len(fig.data[kinds.index("existing")].x) == 2  # C1 active + C3 planned


def test_plan_store_round_trip_and_texts() -> None:
    from riskmap.app.callbacks.planner import plan_from_store
    from riskmap.app.figures_planner import gain_curve, plan_summary_text

    res = _result()
    back = plan_from_store({"plan_id": "p", "geojson": res.to_geojson()})
    assert back["camera_id"].tolist() == res.plan["camera_id"].tolist()
    assert plan_from_store(None) is None
    text = plan_summary_text(res.summary)
    assert text.startswith("2 cameras proposed: risk covered ") and "greedy" in text
    curve = gain_curve(res.curve, res.summary)
    assert len(curve.data[0].y) == 3 and curve.data[0].y[0] <= curve.data[0].y[-1]


@pytest.mark.browser
def test_planner_run_download_accept(planner_server: str, planner_store: Store, browser: Any,
                                     clean_console: Any, wait: Any, downloads: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(planner_server + "/planner")
    run = wait(browser, lambda d: d.find_element("id", "planner-run"))
    # before a plan: the current coverage (1 active camera) and the gaps on the map
    wait(browser, lambda d: _text(d, "planner-coverage").startswith("Now: 1 camera cover "))
    kinds = wait(browser, lambda d: d.execute_script(_KINDS_JS, _MAP))
    assert "risk" in kinds and "existing-coverage" in kinds and "proposed" not in kinds
    assert browser.find_element("id", "planner-accept").get_attribute("disabled") is not None
    budget = browser.find_element("id", "planner-budget")
    budget.send_keys(Keys.CONTROL, "a")
    budget.send_keys("5")
    grid = browser.find_element(By.CSS_SELECTOR, "#planner-candidates input[value='grid']")
    grid.click()
    run.click()
    wait(browser, lambda d: _text(d, "planner-summary").startswith("5 cameras proposed"))
    summary = _text(browser, "planner-summary")
    assert "exact MILP" in summary  # small instance: the MILP ran
    ranks = wait(browser, lambda d: d.execute_script(_PROPOSED_JS, _MAP))
    assert "proposed-coverage" in browser.execute_script(_KINDS_JS, _MAP)
    assert ranks == ["1", "2", "3", "4", "5"]

    browser.find_element("id", "planner-download-geojson").click()
    target = downloads.wait_for("plan-*.geojson")
    features = json.loads(target.read_text())["features"]
    assert len(features) == 5
    gains = [f["properties"]["marginal_gain"] for f in features]
    assert gains == sorted(gains, reverse=True) and gains[-1] > 0
    assert {"site_id", "type", "bearing_deg", "fov_deg", "range_m"} <= set(
        features[0]["properties"])
    browser.find_element("id", "planner-download-csv").click()
    downloads.wait_for("plan-*.csv")

    browser.find_element("id", "planner-accept").click()
    wait(browser, lambda d: _text(d, "planner-accepted").startswith("Accepted 5 cameras"))
    planned = planner_store.read("planned_cameras")
    assert len(planned) == 5 and set(planned["status"]) == {"planned"}
    assert sorted(planned["camera_id"]) == sorted(f["properties"]["camera_id"] for f in features)
    audit = planner_store.read("audit")
    assert (audit["action"] == "accept_plan").sum() == 1
    assert set(audit.loc[audit["action"] == "accept_plan", "user"]) == {"planner-test"}
    # the views opened: the coverage of everything in scope, then the plan that ran
    is_view = (audit["action"].astype(object) == "view").to_numpy(bool)
    assert set(audit.loc[is_view, "layer"]) == {"planner"}
    details = [None if pd.isna(d) else json.loads(d) for d in audit.loc[is_view, "detail"]]
    assert details[0] is None and len(details) == 2
    assert details[1]["budget"] == "5" and details[1]["candidates"].endswith(",grid")
    time.sleep(0.2)
    clean_console(browser)
