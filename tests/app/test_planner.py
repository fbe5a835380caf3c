"""Browser test of the camera planner page in headless Chromium: run, see, download, accept."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from layers.access import DataAccess
from layers.store import Store
from tests.etl.test_derive_coverage import coverage_world

pytestmark = pytest.mark.browser

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
    return coverage_world(tmp_path_factory.mktemp("planner") / "store")


@pytest.fixture(scope="module")
def planner_server(planner_store: Store) -> Iterator[str]:
    """The app over ``planner_store``, served on a free 127.0.0.1 port."""
    from werkzeug.serving import make_server

    from app.factory import create_app
    from riskmap.settings import Settings

    settings = Settings(_env_file=None, store=planner_store.url)  # type: ignore[call-arg]
    dash_app = create_app(settings, DataAccess(planner_store, user="planner-test"), demo=True)
    server = make_server("127.0.0.1", 0, dash_app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="planner-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _wait(driver: Any, predicate: Any, timeout: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(predicate)


def _text(driver: Any, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def test_planner_run_download_accept(planner_server: str, planner_store: Store, browser: Any,
                                     clean_console: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    browser.get(planner_server + "/planner")
    run = _wait(browser, lambda d: d.find_element("id", "planner-run"))
    assert browser.find_element("id", "planner-accept").get_attribute("disabled") is not None
    budget = browser.find_element("id", "planner-budget")
    budget.send_keys(Keys.CONTROL, "a")
    budget.send_keys("5")
    grid = browser.find_element(By.CSS_SELECTOR, "#planner-candidates input[value='grid']")
    grid.click()
    run.click()
    _wait(browser, lambda d: _text(d, "planner-summary").startswith("5 cameras proposed"))
    summary = _text(browser, "planner-summary")
    assert "exact MILP" in summary  # small instance: the MILP ran
    ranks = _wait(browser, lambda d: d.execute_script(_PROPOSED_JS, _MAP))
    assert ranks == ["1", "2", "3", "4", "5"]

    browser.find_element("id", "planner-download-geojson").click()
    target = _wait(browser, lambda d: next(iter(downloads.glob("plan-*.geojson")), None))
    _wait(browser, lambda d: target.stat().st_size > 0 and not list(downloads.glob("*.crdownload")))
    features = json.loads(target.read_text())["features"]
    assert len(features) == 5
    gains = [f["properties"]["marginal_gain"] for f in features]
    assert gains == sorted(gains, reverse=True) and gains[-1] > 0
    assert {"site_id", "type", "bearing_deg", "fov_deg", "range_m"} <= set(
        features[0]["properties"])
    browser.find_element("id", "planner-download-csv").click()
    _wait(browser, lambda d: next(iter(downloads.glob("plan-*.csv")), None))

    browser.find_element("id", "planner-accept").click()
    _wait(browser, lambda d: _text(d, "planner-accepted").startswith("Accepted 5 cameras"))
    planned = planner_store.read("planned_cameras")
    assert len(planned) == 5 and set(planned["status"]) == {"planned"}
    assert sorted(planned["camera_id"]) == sorted(f["properties"]["camera_id"] for f in features)
    audit = planner_store.read("audit")
    assert (audit["action"] == "accept_plan").sum() == 1
    assert set(audit.loc[audit["action"] == "accept_plan", "user"]) == {"planner-test"}
    time.sleep(0.2)
    clean_console(browser)
