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


def test_job_ids_and_texts() -> None:
    from riskmap.app.callbacks.planner import job_of
    from riskmap.app.figures_planner import gain_curve, job_progress_text, plan_summary_text

    assert job_of({"job_id": "job-0123456789abcdef"}) == "job-0123456789abcdef"
    for bad in (None, "job-0123456789abcdef", {"job_id": "../../etc/passwd"},
                {"job_id": ["job-0123456789abcdef"]}, {"geojson": "{}"}):
        assert job_of(bad) is None
    res = _result()
    text = plan_summary_text(res.summary)
    assert text.startswith("2 cameras proposed: risk covered ") and "greedy" in text
    curve = gain_curve(res.curve, res.summary)
    assert len(curve.data[0].y) == 3 and curve.data[0].y[0] <= curve.data[0].y[-1]
    assert job_progress_text({"status": "cancelled"}) == "The plan was cancelled."


def _disabled(driver: Any, element_id: str) -> bool:
    return driver.find_element("id", element_id).get_attribute("disabled") is not None


@pytest.mark.browser
def test_planner_run_download_accept(planner_server: str, planner_store: Store, browser: Any,
                                     clean_console: Any, wait: Any, downloads: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from riskmap.jobs import list_jobs
    from tests.jobs.conftest import background_worker

    browser.get(planner_server + "/planner?lang=en")
    run = wait(browser, lambda d: d.find_element("id", "planner-run"))
    # before a plan: the current coverage (1 active camera) and the gaps on the map
    wait(browser, lambda d: _text(d, "planner-coverage").startswith("Now: 1 camera cover"))
    kinds = wait(browser, lambda d: d.execute_script(_KINDS_JS, _MAP))
    assert "risk" in kinds and "existing-coverage" in kinds and "proposed" not in kinds
    # drawn by MapLibre over the app's own base tiles (the fills under its roads and names)
    tiles = browser.execute_script(
        "const gd = document.querySelector(arguments[0]);"
        "const m = gd._fullLayout.map && gd._fullLayout.map._subplot.map;"
        "return m ? [m.getStyle().sources.riskmap.tiles[0],"
        " m.getStyle().layers.findIndex(l => l.id.startsWith('plotly-trace'))"
        " < m.getStyle().layers.findIndex(l => l.id === 'road')] : null;", _MAP)
    assert tiles == [planner_server + "/map/tiles/base/{z}/{x}/{y}.pbf", True]
    assert _disabled(browser, "planner-accept")
    budget = browser.find_element("id", "planner-budget")
    budget.send_keys(Keys.CONTROL, "a")
    budget.send_keys("5")
    grid = browser.find_element(By.CSS_SELECTOR, "#planner-candidates input[value='grid']")
    grid.click()
    # no worker yet: the plan waits in the queue, Run is off and Cancel on; cancel it
    run.click()
    wait(browser, lambda d: _text(d, "planner-progress-text") == "Waiting for a worker ...")
    assert _disabled(browser, "planner-run") and not _disabled(browser, "planner-cancel")
    assert [j.status for j in list_jobs(planner_store)] == ["queued"]
    browser.find_element("id", "planner-cancel").click()
    wait(browser, lambda d: _text(d, "planner-summary") == "The plan was cancelled.")
    assert not _disabled(browser, "planner-run")
    assert [j.status for j in list_jobs(planner_store)] == ["cancelled"]

    with background_worker(planner_store):
        run.click()
        wait(browser, lambda d: _text(d, "planner-summary").startswith("5 cameras proposed"),
             timeout=90)
    jobs = list_jobs(planner_store)
    assert [j.status for j in jobs] == ["done", "cancelled"]
    assert jobs[0].owner == "planner-test" and jobs[0].params["budget"] == 5
    assert not _disabled(browser, "planner-run")
    assert browser.find_element("id", "planner-progress").get_attribute("hidden") is not None
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
    assert sorted(planned["site_id"]) == sorted(f["properties"]["site_id"] for f in features)
    audit = planner_store.read("audit")
    accepted = audit[((audit["action"] == "accept_plan")
                      & (audit["layer"] == "planned_cameras")).to_numpy(bool)]
    assert accepted["user"].tolist() == ["planner-test"] and accepted["rows"].tolist() == [5]
    assert json.loads(accepted["detail"].iloc[0])["job_id"] == jobs[0].job_id
    # the views opened: the coverage of everything in scope, then the plan asked for (the
    # same view twice is audited once)
    is_view = (audit["action"].astype(object) == "view").to_numpy(bool)
    assert set(audit.loc[is_view, "layer"]) == {"planner"}
    details = [None if pd.isna(d) else json.loads(d) for d in audit.loc[is_view, "detail"]]
    assert details[0] is None and len(details) == 2
    assert details[1]["budget"] == "5" and details[1]["candidates"].endswith(",grid")
    submits = audit[(audit["action"] == "job_submit").to_numpy(bool)]
    assert submits["user"].tolist() == ["planner-test"] * 2
    time.sleep(0.2)
    clean_console(browser)


_LEGEND_JS = """
return Array.from(document.querySelectorAll(arguments[0] + ' .legendtext'))
    .map(e => e.textContent);
"""
_COMPARE_JS = """
const out = [];
for (const gd of document.querySelectorAll('#planner-comparison .js-plotly-plot')) {
  const arr = v => (v && v._inputArray) ? v._inputArray : (v || []);
  const t = (gd.data || []).find(t => t.meta && t.meta.kind === 'proposed');
  out.push(t ? Array.from(arr(t.text)).length : 0);
}
return out;
"""


@pytest.fixture(scope="module")
def compare_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """The world of :func:`planner_store` again, for the accept-and-compare test alone."""
    from riskmap.etl.derive_coverage import build
    from riskmap.settings import Settings

    store = coverage_world(tmp_path_factory.mktemp("planner-compare") / "store")
    build(store, Settings(_env_file=None, store=store.url))  # type: ignore[call-arg]
    return store


def _run_plan(browser: Any, store: Store, wait: Any, budget: int) -> None:
    from selenium.webdriver.common.keys import Keys

    from tests.jobs.conftest import background_worker

    field = browser.find_element("id", "planner-budget")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(str(budget))
    with background_worker(store):
        browser.find_element("id", "planner-run").click()
        wait(browser, lambda d: _text(d, "planner-summary").startswith(
            f"{budget} cameras proposed"), timeout=120)


@pytest.mark.browser
def test_planner_accepted_layer_baseline_and_compare(compare_store: Store, app_server: Any,
                                                     browser: Any, clean_console: Any,
                                                     wait: Any, downloads: Any) -> None:
    from selenium.webdriver.common.by import By

    from riskmap.jobs import list_jobs

    with app_server(compare_store, "planner-compare") as url:
        browser.get(url + "/planner?lang=en")
        # before any plan: C1 (active) and C3 (planned in the cameras layer) are the baseline
        wait(browser, lambda d: _text(d, "planner-baseline")
             == "Baseline of the next plan: 2 existing + 0 accepted cameras")
        kinds = wait(browser, lambda d: d.execute_script(_KINDS_JS, _MAP))
        assert "existing" in kinds and "accepted" not in kinds
        browser.find_element(By.CSS_SELECTOR,
                             "#planner-candidates input[value='grid']").click()
        _run_plan(browser, compare_store, wait, 2)
        assert wait(browser, lambda d: d.execute_script(_PROPOSED_JS, _MAP)) == ["1", "2"]
        legend = browser.execute_script(_LEGEND_JS, "#planner-map")
        assert {"Existing cameras", "Proposed cameras", "Proposed coverage"} <= set(legend)
        assert "Accepted (planned) cameras" not in legend

        # accept it: the accepted layer is drawn with its legend entries, the baseline grows
        browser.find_element("id", "planner-accept").click()
        wait(browser, lambda d: _text(d, "planner-accepted").startswith("Accepted 2 cameras"))
        wait(browser, lambda d: _text(d, "planner-baseline")
             == "Baseline of the next plan: 2 existing + 2 accepted cameras")
        kinds = wait(browser, lambda d: (k := d.execute_script(_KINDS_JS, _MAP))
                     and "accepted" in k and k)
        assert kinds.count("accepted") == 1 and kinds.count("accepted-coverage") == 1
        legend = wait(browser, lambda d: (t := d.execute_script(_LEGEND_JS, "#planner-map"))
                      and "Accepted (planned) cameras" in t and t)
        assert "Accepted coverage" in legend
        assert len(compare_store.read("planned_cameras")) == 2

        # a second plan keeps the accepted cameras fixed; then the two are compared
        _run_plan(browser, compare_store, wait, 3)
        jobs = list_jobs(compare_store)
        assert [j.status for j in jobs] == ["done", "done"]
        assert wait(browser, lambda d: d.execute_script(_PROPOSED_JS, _MAP)) == ["1", "2", "3"]
        browser.find_element("id", "planner-compare").click()
        counts = wait(browser, lambda d: (c := d.execute_script(_COMPARE_JS)) and len(c) == 2
                      and all(c) and c)
        assert counts == [2, 3]  # plan A (the first, 2 cameras) beside plan B (3)
        table = browser.find_element(By.CSS_SELECTOR, "#planner-comparison table").text
        assert table.count("★ better") == 1
        for label in ("Cameras proposed", "Risk covered", "Added coverage",
                      "Cameras in common"):
            assert label in table
        assert "k=2 · incidents" in table and "k=3 · incidents" in table
        browser.find_element("id", "planner-compare-csv").click()
        csv = pd.read_csv(downloads.wait_for("plan-comparison*.csv"))
        assert csv["job_id"].tolist() == [jobs[1].job_id, jobs[0].job_id]
        assert csv["cameras"].tolist() == [2, 3] and csv["better"].sum() == 1
        best = csv.loc[csv["better"], "risk_covered_pct"].iloc[0]
        assert best == csv["risk_covered_pct"].max()
        # plan B's small map tells the cameras accepted from plan A from the existing ones
        kinds_b = browser.execute_script(_KINDS_JS, "#planner-compare-map-b .js-plotly-plot")
        assert "accepted" in kinds_b and "existing" in kinds_b
        kinds_a = browser.execute_script(_KINDS_JS, "#planner-compare-map-a .js-plotly-plot")
        assert "proposed" in kinds_a
        time.sleep(0.2)
        clean_console(browser)
