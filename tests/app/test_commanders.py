"""The commanders' page: its data and callback functions on the tiny world, then end to end in Chromium."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dash
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from riskmap.app import commanders_data
from riskmap.app.brief import brief_csv
from riskmap.app.callbacks.commanders import (
    evaluation_panel,
    incident_page,
    make_brief,
    map_answer,
    panel,
    play_step,
    red_list_rows,
    render_map,
    view_from_controls,
    viewport_update,
)
from riskmap.app.commanders_data import CommandersData, CommandersView, data_for
from riskmap.app.data import AppModel
from riskmap.app.figures_commanders import method_label, verdict_lines
from riskmap.app.map_tiles import map_style
from riskmap.etl.hotspots_job import compute_hotspots, status_history_frame
from riskmap.geo.h3index import parents
from riskmap.layers.access import DataAccess
from tests.app.conftest import LEGEND_JS, MAP_PIXEL_JS, MAP_STATE_JS, settle

MONTHS = [date(2025, m, 1) for m in range(1, 7)]


@pytest.fixture(scope="module")
def incidents(world_store: Any) -> pd.DataFrame:
    return world_store.read("incidents")


@pytest.fixture(scope="module")
def data(world_store: Any) -> CommandersData:
    return CommandersData(AppModel(DataAccess(world_store, user="test", audit=False)))


# ---------------------------------------------------------------------------- no browser
def test_view_round_trips_through_the_url() -> None:
    view = CommandersView(level="h3", metric="gi_class", region="Jizzax viloyati",
                          start=date(2025, 2, 1), end=date(2025, 3, 31),
                          categories=("theft", "assault"), layers=("kde", "cameras"),
                          mahalla="M11")
    params = {k: v[0] for k, v in parse_qs(view.to_search()[1:]).items()}
    assert CommandersView.from_params(params) == view
    assert CommandersView().to_search() == ""
    assert CommandersView.from_params({"level": "x", "metric": "y", "start": "2025-13-01"}) == \
        CommandersView()


def test_controls_to_view() -> None:
    full = view_from_controls(MONTHS, "mahalla", "count", None, None, [0, 5], [], [])
    assert full.start is None and full.end is None
    part = view_from_controls(MONTHS, "h3", "status", "R", "D", [1, 2], ["theft"], ["kde"])
    assert (part.start, part.end) == (date(2025, 2, 1), date(2025, 3, 31))
    assert part.level == "h3" and part.categories == ("theft",) and part.layers == ("kde",)


def test_viewport_redraws_only_when_needed() -> None:
    def rng(x0: float, x1: float) -> dict[str, float]:
        return {"xaxis.range[0]": x0, "xaxis.range[1]": x1, "yaxis.range[0]": 40.0,
                "yaxis.range[1]": 40.1}

    first = viewport_update(rng(67.0, 67.1), None, "h3")
    assert first == {"range": [67.0, 67.1, 40.0, 40.1]}
    # a small pan inside the drawn extent (the range padded by its size) keeps the map
    assert viewport_update(rng(67.05, 67.15), first, "h3") is None
    # leaving the drawn extent, or changing resolution (span 0.1 -> 1.0 deg), redraws
    assert viewport_update(rng(67.25, 67.35), first, "h3") is not None
    assert viewport_update(rng(66.5, 67.5), first, "mahalla") is not None
    assert viewport_update(rng(67.25, 67.35), first, "mahalla") is None
    assert viewport_update({"xaxis.autorange": True}, first, "h3") == {"range": None}
    assert viewport_update({"dragmode": "zoom"}, first, "h3") is None
    # the whole area shown (no range yet): mahallas keep it while the resolution stays that
    # of the area's span; H3 cells take the range (the summary counts what is in view)
    assert viewport_update(rng(67.0, 67.1), None, "mahalla", area_span=0.12) is None
    assert viewport_update(rng(67.0, 67.1), None, "mahalla", area_span=2.0) is not None
    assert viewport_update(rng(67.0, 67.1), None, "h3", area_span=0.12) is not None


def test_a_selection_reuses_the_fills_and_is_the_first_trace(data: CommandersData) -> None:
    """On MapLibre a mahalla opened or red-list rows ticked reuse the view's drawn fills (one
    answer per view) with the selection's outline put in first: the same figure as drawn
    from scratch, and the shared answer is not changed by it."""
    style = map_style("http://host/")
    ids = data.model.mahallas["mahalla_id"].astype(str).tolist()
    plain, _ = map_answer(data, CommandersView(), None, [], style)
    assert plain["data"][0]["meta"] == {"kind": "highlight", "n": 0}
    for chosen, ticked in ((ids[0], []), (ids[1], [ids[2], ids[3]]), (None, [ids[4]])):
        view = CommandersView(mahalla=chosen)
        fig, summary = map_answer(data, view, None, ticked, style)
        fresh, fresh_summary = render_map(data, view, None, ticked, style)
        assert summary == fresh_summary
        assert fig["data"][0]["meta"]["n"] == fresh["data"][0]["meta"]["n"] > 0
        np.testing.assert_allclose(fig["data"][0]["lon"], fresh["data"][0]["lon"])
        assert [t.get("uid") for t in fig["data"]] == [t.get("uid") for t in fresh["data"]]
        assert [t.get("locations") for t in fig["data"][1:]] == \
            [t.get("locations") for t in fresh["data"][1:]]
    again, _ = map_answer(data, CommandersView(), None, [], style)
    assert again["data"][0]["meta"] == {"kind": "highlight", "n": 0}  # untouched


def test_play_steps_month_by_month() -> None:
    assert play_step([0, 5], 6, start=True) == ([0, 0], True)
    assert play_step([0, 0], 6, start=False) == ([1, 1], True)
    assert play_step([3, 4], 6, start=False) == ([4, 5], False)
    assert play_step([4, 5], 6, start=True) == ([0, 1], True)


def test_mahalla_counts_and_gi_match_the_shared_computation(data: CommandersData,
                                                            incidents: pd.DataFrame) -> None:
    view = CommandersView(metric="gi_class", categories=("theft", "assault"))
    units = data.mahalla_units(view)
    keep = incidents["category"].isin(["theft", "assault"])
    expected = incidents[keep].groupby("mahalla_id").size()
    got = units.set_index("mahalla_id")["count"]
    assert got.to_dict() == expected.reindex(got.index, fill_value=0).to_dict()
    shared = compute_hotspots(incidents, data.model.mahallas, level="mahalla",
                              categories=["theft", "assault"]).set_index("id")
    np.testing.assert_allclose(units.set_index("mahalla_id")["gi_z"],
                               shared.loc[got.index, "gi_z"], atol=1e-9)
    assert (units.set_index("mahalla_id")["gi_class"] == shared.loc[got.index, "gi_class"]).all()
    # rate per 1,000 residents: population is 1000 * (1 + grid index)
    m11 = units.set_index("mahalla_id").loc["M11"]
    assert m11["rate"] == pytest.approx(m11["count"] / 5000 * 1000)


def test_h3_units_at_the_zoom_resolution(data: CommandersData, incidents: pd.DataFrame) -> None:
    fig, summary = render_map(data, CommandersView(level="h3"), None)
    n9 = incidents["h3"].nunique()
    assert summary == f"500 incidents in {n9} H3 cells (res 9), all dates"
    fig = go.Figure(fig)
    cells = [t for t in fig.data if t.meta["kind"] == "h3"]
    assert sum(t.meta["n"] for t in cells) == n9
    # each hexagon is one ring of 7 points followed by a NaN
    assert sum(int(np.isnan(np.asarray(t.x, float)).sum()) for t in cells) == n9
    assert next(t for t in fig.data if t.meta["kind"] == "base").meta == {"kind": "base"}


def test_h3_cells_beyond_the_cap_are_drawn_coarser_until_zoomed_in(
        data: CommandersData, incidents: pd.DataFrame) -> None:
    """More cells in view than a map draws (``map.max_cells``): the finest coarser resolution
    within the cap is drawn, the summary and the figure say so, and the viewport store makes
    a zoom in draw again (a country at res 7 was 42,000 cells, a 17 MB figure)."""
    from riskmap.app.callbacks.commanders import _mark_coarser

    cells = incidents["h3"].to_numpy(dtype="int64")
    n = {r: len(np.unique(parents(cells, r))) for r in (5, 6, 7, 8)}
    n[9] = len(np.unique(cells))
    assert n[9] > n[8] > n[7]
    view = CommandersView(level="h3")
    fig, summary = render_map(data, view, None, limit=n[9] - 1)
    assert summary == (f"500 incidents in {n[8]} H3 cells (res 8), all dates"
                       " · res 9 when zoomed in")
    assert fig["layout"]["meta"]["h3"] == {"res": 8, "chosen": 9}
    drawn = [t for t in go.Figure(fig).data if t.meta["kind"] == "h3"]
    assert sum(t.meta["n"] for t in drawn) == n[8]
    # within the cap: the zoom's resolution, and nothing to mark
    fig9, summary9 = render_map(data, view, None, limit=n[9])
    assert fig9["layout"]["meta"]["h3"] == {"res": 9, "chosen": 9}
    assert "zoomed in" not in summary9
    # never coarser than res 5, whatever the cap
    fig5, _ = render_map(data, view, None, limit=1)
    assert fig5["layout"]["meta"]["h3"]["res"] == 5 and n[5] >= 1
    # the store remembers the coarser cells, and a zoom in (same span class) draws again
    store = _mark_coarser(fig, view, dash.no_update, None)
    assert store == {"range": None, "coarser": True}
    zoom = {"xaxis.range[0]": 69.2, "xaxis.range[1]": 69.21, "yaxis.range[0]": 41.3,
            "yaxis.range[1]": 41.31}
    assert viewport_update(zoom, store, "h3") == {"range": [69.2, 69.21, 41.3, 41.31]}
    assert _mark_coarser(fig9, view, dash.no_update, store) == {"range": None}
    assert _mark_coarser(fig9, view, dash.no_update, None) is dash.no_update


def test_every_resolution_a_map_draws_has_the_trend(make_store: Any) -> None:
    """A zoomed-out H3 map falls back as far as res 5 (``MIN_RES``): a build with the default
    settings puts each of those resolutions in the hot-spot layer, so colour-by-trend shows a
    class for each cell drawn, not "n/a" (the layer held only res 7-9: a region's res-5 or
    res-6 cells had no trend)."""
    from riskmap.app.commanders_data import Viewport
    from riskmap.app.h3_view import MIN_RES
    from riskmap.etl.build import build_all
    from riskmap.geo.hotspots import CENTRE_RULE_FROM, study_cells
    from riskmap.settings import Settings

    store = make_store()
    settings = Settings(_env_file=None, store=store.url)  # type: ignore[call-arg]
    assert build_all(store, settings, only=("hotspots",)).ok
    data = CommandersData(AppModel(DataAccess(store, user="test", audit=False)))
    layer = store.read("hotspots_h3", columns=["h3", "res", "trend"])
    assert set(layer["res"]) == set(range(MIN_RES, 10))
    # the build leaves out the cells with nothing to show (no count in the window, not
    # significant, no pattern): as if it had left out three of them, they show no pattern
    full = store.read("hotspots_h3")
    gone = full.index[(full["res"] == 9) & (full["trend"] == "no_pattern")][:3]
    assert len(gone) == 3
    with store.transaction() as txn:
        txn.replace("hotspots_h3", full.drop(index=gone))
    layer = store.read("hotspots_h3", columns=["h3", "res", "trend"])
    left_out = 0
    for res in range(MIN_RES, 10):
        units = data.h3_units(CommandersView(level="h3", metric="trend"), Viewport(res=res))
        known = units["trend"].notna().to_numpy()
        # a finer cell is a study cell when its centre is in a mahalla: the tiny grid's edge
        # cells are not (nor were they before); every coarse cell drawn is
        lattice = np.isin(units["h3"].to_numpy(), study_cells(store.read("mahallas"), res))
        assert len(units) and (known == lattice).all() and known.any(), res
        assert known.all() or res >= CENTRE_RULE_FROM
        # a study cell the build left out (nothing to show) has no pattern; the others, the
        # layer's trend
        at = layer[layer["res"] == res].set_index("h3")["trend"]
        stored = at.reindex(units["h3"][known]).to_numpy(dtype=object, copy=True)
        left_out += int(pd.isna(stored).sum())
        stored[pd.isna(stored)] = "no_pattern"
        assert (units["trend"][known].to_numpy() == stored).all()
    assert left_out == 3


def test_red_list_is_the_status_rule(data: CommandersData, incidents: pd.DataFrame) -> None:
    rows, tips = red_list_rows(data, CommandersView())
    hist = status_history_frame(incidents, data.model.mahallas, start="2025-01-01",
                                end="2025-06-30")
    last = hist[hist["month"] == hist["month"].max()]
    before = hist[hist["month"] == sorted(hist["month"].unique())[-2]]
    red = set(last.loc[last["status"] == "red", "mahalla_id"])
    assert {r["mahalla_id"] for r in rows} == red and red
    was_red = set(before.loc[before["status"] == "red", "mahalla_id"])
    assert {r["mahalla_id"] for r in rows if r["status"] == "newly red"} == red - was_red
    assert all(t["status"]["value"].startswith("red:") for t in tips)


def test_panel_and_paged_incidents(data: CommandersData, incidents: pd.DataFrame) -> None:
    view = CommandersView(categories=("theft",), start=date(2025, 2, 1), end=date(2025, 4, 30))
    p = panel(data, view, "M11")
    assert p["title"] == "Do'stlik (M11)" and not p["disabled"]
    here = incidents[incidents["mahalla_id"] == "M11"]
    local = here["occurred_at"].dt.tz_convert("Asia/Tashkent")
    in_window = (here["category"] == "theft") & (local >= pd.Timestamp("2025-02-01",
                                                                       tz="Asia/Tashkent")) \
        & (local < pd.Timestamp("2025-05-01", tz="Asia/Tashkent"))
    assert f"{int(in_window.sum())} incidents in the window" in p["meta"]
    trend = go.Figure(p["trend"]).data[0]
    months = local.dt.strftime("%Y-%m")[here["category"] == "theft"].value_counts()
    assert dict(zip(trend.x, trend.y, strict=True)) == {
        m: months.get(m, 0) for m in ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05",
                                      "2025-06"]}
    rows, pages = incident_page(data, view, "M11", 0, 3)
    assert pages == -(-int(in_window.sum()) // 3) and len(rows) == min(3, int(in_window.sum()))
    assert [r["occurred_at"] for r in rows] == sorted((r["occurred_at"] for r in rows),
                                                      reverse=True)
    last_page, _ = incident_page(data, view, "M11", 99, 3)
    assert 1 <= len(last_page) <= 3
    assert panel(data, view, "nope")["disabled"]
    assert incident_page(data, view, None, 0, 10) == ([], 1)


def test_brief_reads_are_audited(make_store: Any, incidents: pd.DataFrame) -> None:
    store = make_store()
    model = AppModel(DataAccess(store, user="officer"))
    brief = make_brief(CommandersData(model), CommandersView(categories=("theft",)), "M11")
    assert brief.mahalla["name"] == "Do'stlik"
    n = int(((incidents["mahalla_id"] == "M11") & (incidents["category"] == "theft")).sum())
    assert len(pd.read_csv(io.StringIO(brief_csv(brief)))) == n
    audit = store.read("audit")
    briefs = audit[audit["action"] == "brief"]
    assert set(briefs["layer"]) >= {"incidents"} and (briefs["user"] == "officer").all()
    assert any("M11" in str(d) for d in briefs["detail"])


def _plain(children: Any) -> str:
    """The text of Dash components, as the browser shows it (block elements on new lines)."""
    if children is None:
        return ""
    if isinstance(children, str | int | float):
        return str(children)
    if isinstance(children, list | tuple):
        return "".join(_plain(c) for c in children)
    inner = _plain(getattr(children, "children", None))
    return inner + "\n" if type(children).__name__ in {"P", "Li", "Ul", "Div"} else inner


def test_forecast_check_runs_once_in_the_background(world_store: Any) -> None:
    data = CommandersData(AppModel(DataAccess(world_store, user="test", audit=False)))
    with commanders_data._EVAL_SLOT:  # another evaluation is running: this one waits its turn
        waiting = data.evaluation(None)
        assert waiting["state"] == "computing" and waiting["queued"]
        text, fig, computing = evaluation_panel(data, None)
        assert computing and "Computing the forecast check for all regions" in _plain(text)
        assert fig.layout.annotations[0].text == "Computing…"
    ev = data.evaluation(None, wait=None)
    assert ev["state"] == "ready" and data.evaluation(None) is ev  # computed once
    # every method and both baselines, tuned on the history before the cut-off
    assert set(ev["methods"]["method"]) == {"naive", "kde", "gi", "near_repeat", "blend",
                                            "sepp", "shrink", "adaptive", "counts", "kde_200m"}
    assert ev["recommended"] in set(ev["methods"]["method"])
    assert ev["params"] == ev["chosen"][ev["recommended"]]["params"]
    assert ev["inner_folds"] == commanders_data.EVAL_TUNE_FOLDS - 2  # 6 months: 4 have data
    assert ev["replicates"] == commanders_data.EVAL_REPLICATES and ev["cutoff"] == "2025-05-31"
    assert set(ev["best"]) == {"0.01", "0.02", "0.05", "0.1"}
    text, fig, computing = evaluation_panel(data, None)
    assert not computing
    shown = _plain(text)
    assert f"Recommended: {method_label(ev['recommended'])} (" in shown
    # 9 mahallas: every coverage flags one, so the four verdicts are one line
    assert verdict_lines(ev["best"]) == [
        "1%, 2%, 5% and 10% of the area: no method beats all-history counts here: use counts "
        + verdict_lines(ev["best"])[0].split("use counts ")[1]]
    assert verdict_lines(ev["best"])[0] in shown
    kinds = {(t.meta["kind"], t.meta["method"]) for t in fig.data}
    assert kinds == {("pai-band", ev["recommended"]), ("pai", ev["recommended"]),
                     ("pai-baseline", "counts"), ("pai-baseline", "kde_200m")}
    # another region is another evaluation; an unknown one has nothing to check
    assert data.evaluation("Nowhere", wait=None)["state"] == "empty"
    assert "Not enough data" in _plain(evaluation_panel(data, "Nowhere", wait=None)[0])


def test_forecast_check_is_computed_again_for_new_data(make_store: Any,
                                                      incidents: pd.DataFrame) -> None:
    store = make_store()
    model = AppModel(DataAccess(store, user="test", audit=False), refresh_s=0.0)
    first = data_for(model).evaluation(None, wait=None)
    assert data_for(model).evaluation(None) is first  # same data: the cached result
    early = incidents[incidents["occurred_at"] < pd.Timestamp("2025-05-01", tz="UTC")]
    store.replace("incidents", early)
    again = data_for(model).evaluation(None, wait=None)
    assert again is not first and again["cutoff"] < first["cutoff"]
    assert again["test_incidents"] < first["test_incidents"]


def test_forecast_check_failure_is_shown_not_polled_for_ever(world_store: Any,
                                                              monkeypatch: Any) -> None:
    data = CommandersData(AppModel(DataAccess(world_store, user="test", audit=False)),
                          background=False)

    def broken(region: str | None) -> dict[str, Any]:
        raise ValueError("no units")

    monkeypatch.setattr(data, "_evaluate", broken)
    text, fig, computing = evaluation_panel(data, None)
    assert not computing and fig.layout.annotations[0].text == "No evaluation"
    assert "The forecast check failed for all regions: ValueError: no units" in _plain(text)


# ---------------------------------------------------------------------------- browser
_MAP = "#cmd-map .js-plotly-plot"
_TRACES_JS = """
const gd = document.querySelector(arguments[0]);
if (!gd || !gd.data) { return null; }
const arr = v => (v && v._inputArray) ? v._inputArray : (v || []);
return gd.data.map(t => ({name: t.name, kind: t.meta ? t.meta.kind : null,
    n: t.meta ? t.meta.n : null, type: t.type,
    fill: t.fillcolor || (t.colorscale ? t.colorscale[0][1] : null),
    ids: t.customdata ? Array.from(arr(t.customdata), String) : null}));
"""


#: the forecast chart as drawn: the band, the chosen method's line, the dashed baselines
_PAI_JS = """
const gd = document.querySelector(arguments[0]);
if (!gd || !gd._fullData || !gd._fullData.length) { return null; }
const of = k => gd._fullData.filter(t => t.meta && t.meta.kind === k);
const band = of('pai-band')[0], line = of('pai')[0];
if (!band || !line) { return null; }
return {band: {method: band.meta.method, fill: band.fill, n: band.x.length},
        chosen: line.meta.method,
        baselines: of('pai-baseline').map(t => [t.meta.method, t.line.dash]),
        legend: gd.querySelectorAll('.legend .traces').length};
"""


def _wait(driver: Any, predicate: Any, timeout: float = 20) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(predicate)


def _text(driver: Any, id_: str) -> str:
    return driver.find_element("id", id_).text


#: true when Dash has no callback in flight (the renderer's own state, as dash.testing reads it)
_IDLE_JS = "return !!window.store && !window.store.getState().isLoading;"


def _idle(driver: Any) -> None:
    """Wait until every callback the page triggered has answered.

    An interaction made while an earlier response is still on its way races it (the first
    map's answer can arrive after a zoom and redraw the map); tests interact on an idle page.
    """
    _wait(driver, lambda d: d.execute_script(_IDLE_JS))


def _traces_when(driver: Any, summary: str) -> list[dict[str, Any]]:
    from selenium.common.exceptions import TimeoutException

    try:
        _wait(driver, lambda d: _text(d, "cmd-summary") == summary)
    except TimeoutException:
        logs = [e["message"] for e in driver.get_log("browser")]
        raise AssertionError(f"summary {_text(driver, 'cmd-summary')!r}, expected {summary!r};"
                             f" console: {logs}") from None
    _idle(driver)
    return _wait(driver, lambda d: d.execute_script(_TRACES_JS, _MAP))


def _legend(driver: Any) -> list[tuple[str, str]]:
    return driver.execute_script(LEGEND_JS, _MAP)


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _choose(driver: Any, dropdown_id: str, value: str) -> None:
    """Tick ``value`` in a Dash 4 multi-select dropdown, then close it."""
    from selenium.webdriver.common.keys import Keys

    driver.find_element("css selector", f"#{dropdown_id}").click()
    option = _wait(driver, lambda d: d.find_element(
        "xpath", f"//label[contains(@class,'dash-dropdown-option')][.//input[@value='{value}']]"))
    option.click()
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)


def _downloaded(folder: Path, name: str) -> str:
    path = folder / name
    _wait(None, lambda _: path.exists() and path.stat().st_size > 0)
    return path.read_text(encoding="utf-8")


def _query(driver: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(driver.current_url).query)


@pytest.mark.browser
def test_commanders_end_to_end(browser: Any, dash_server: str, world_store: Any,
                               incidents: pd.DataFrame, clean_console: Any,
                               tmp_path: Path) -> None:

    browser.execute_cdp_cmd("Page.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(dash_server + "/commanders")
    traces = _traces_when(browser, "500 incidents in 9 mahallas, all dates")
    classes = [t for t in traces if t["kind"] == "mahalla"]
    assert sum(t["n"] for t in classes) == 9
    # MapLibre fills over the offline base map, each polygon carrying its own id (tooltip
    # and click)
    assert {t["type"] for t in classes} == {"choroplethmap"}
    assert [(name, fill) for name, fill in _legend(browser)][:len(classes)] == [
        (t["name"], _rgb(t["fill"])) for t in classes]
    assert sorted(i for t in classes for i in t["ids"]) == [
        f"M{r}{c}" for r in range(3) for c in range(3)]

    # the red list shows the red mahallas of the last month
    hist = status_history_frame(incidents, world_store.read("mahallas"), start="2025-06-01",
                                end="2025-06-30")
    red = hist.loc[hist["status"] == "red", "mahalla_id"]
    names = dict(zip(world_store.read("mahallas")["mahalla_id"],
                     world_store.read("mahallas")["name"], strict=True))
    browser.find_element("xpath", "//div[contains(@class,'tab') and .='Red list']").click()
    _wait(browser, lambda d: {e.text for e in d.find_elements(
        "css selector", "#cmd-redlist td[data-dash-column='name']")} == {names[m] for m in red})
    # selecting a row outlines that mahalla on the map (clicked once the page is idle: a
    # click while the table is drawn again is lost, as a person's would be)
    settle(browser, _wait)
    first_red = browser.find_element(
        "css selector", "#cmd-redlist td[data-dash-column='name']").text
    browser.find_element("css selector", "#cmd-redlist td input[type='checkbox']").click()
    _wait(browser, lambda d: [t["n"] for t in d.execute_script(_TRACES_JS, _MAP)
                              if t["kind"] == "highlight"] == [1])

    # filters: H3 hexagons (res 9 at this zoom), then theft only; the URL follows
    browser.find_element("xpath", "//label[contains(., 'H3 hexagons')]").click()
    _traces_when(browser, f"500 incidents in {incidents['h3'].nunique()} H3 cells (res 9), "
                          "all dates")
    assert _query(browser) == {"level": ["h3"]}
    _choose(browser, "cmd-categories", "theft")
    theft = incidents[incidents["category"] == "theft"]
    _traces_when(browser, f"{len(theft)} incidents in {theft['h3'].nunique()} H3 cells "
                          "(res 9), all dates")
    assert _query(browser) == {"level": ["h3"], "categories": ["theft"]}

    # back to mahallas; click Do'stlik (M11) on the map: the side panel opens
    browser.find_element("xpath", "//label[contains(., 'Mahallas')]").click()
    _traces_when(browser, f"{len(theft)} incidents in 9 mahallas, all dates")
    settle(browser, _wait)
    _wait(browser, lambda d: d.execute_script(MAP_STATE_JS, _MAP))
    m11 = world_store.read("mahallas").set_index("mahalla_id").geometry["M11"]
    inside = m11.representative_point()
    px, py = browser.execute_script(MAP_PIXEL_JS, _MAP, inside.x, inside.y)
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):  # a click at page px, py
        browser.execute_cdp_cmd("Input.dispatchMouseEvent", {
            "type": kind, "x": px, "y": py, "button": "left" if kind != "mouseMoved" else "none",
            "buttons": 1 if kind == "mousePressed" else 0, "clickCount": 1})
    _wait(browser, lambda d: _text(d, "cmd-panel-title") == "Do'stlik (M11)")
    n11 = int((theft["mahalla_id"] == "M11").sum())
    _wait(browser, lambda d: f"{n11} incidents in the window" in _text(d, "cmd-panel-meta"))
    rows = _wait(browser, lambda d: d.find_elements(
        "css selector", "#cmd-incidents td[data-dash-column='incident_id']"))
    assert len(rows) == min(10, n11)
    assert _query(browser)["mahalla"] == ["M11"]
    selected = next(t for t in browser.execute_script(_TRACES_JS, _MAP)
                    if t["kind"] == "highlight")
    # outlined: the red-list selection and the open mahalla
    assert selected["n"] == len({"M11", *(m for m in red if names[m] == first_red)})

    # export: the printable brief and the CSV
    browser.find_element("id", "cmd-brief-html").click()
    page = _downloaded(tmp_path, "brief-M11.html")
    assert "Do&#x27;stlik mahalla" in page and "http://" not in page and "<script" not in page
    browser.find_element("id", "cmd-brief-csv").click()
    csv = pd.read_csv(io.StringIO(_downloaded(tmp_path, "brief-M11.csv")))
    assert len(csv) == n11 and set(csv["category"]) == {"theft"}
    audit = world_store.read("audit")
    assert ((audit["action"] == "brief") & (audit["layer"] == "incidents")).sum() >= 2

    # the forecast check: "computing" while the evaluation waits, the page stays responsive
    ev = CommandersData(AppModel(DataAccess(world_store, user="test", audit=False))).evaluation(
        None, wait=None)
    tab = browser.find_element("xpath", "//div[contains(@class,'tab') and .='Forecast check']")
    with commanders_data._EVAL_SLOT:  # hold the evaluation back (the server runs in-process)
        tab.click()
        _wait(browser, lambda d: "Computing the forecast check for all regions"
              in _text(d, "cmd-eval-text"))
        _idle(browser)  # no callback is left waiting for it
        browser.find_element("xpath", "//label[contains(., 'H3 hexagons')]").click()
        _traces_when(browser, f"{len(theft)} incidents in {theft['h3'].nunique()} H3 cells "
                              "(res 9), all dates")
    _wait(browser, lambda d: "Recommended:" in _text(d, "cmd-eval-text"), 60)
    shown = _text(browser, "cmd-eval-text")
    assert f"Recommended: {method_label(ev['recommended'])}" in shown
    assert "no method beats all-history counts here: use counts" in shown
    assert all(line in shown for line in verdict_lines(ev["best"]))
    chart = _wait(browser, lambda d: d.execute_script(_PAI_JS, "#cmd-eval-chart .js-plotly-plot"))
    assert chart["band"] == {"method": ev["recommended"], "fill": "toself", "n": 8}
    assert chart["chosen"] == ev["recommended"]
    assert chart["baselines"] == [["counts", "dash"], ["kde_200m", "dash"]]
    assert chart["legend"] >= 4  # drawn: band, two baselines, the method
    clean_console(browser)
    hosts = set(browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).hostname);"))
    assert hosts <= {"127.0.0.1"}


@pytest.mark.browser
def test_commanders_state_from_url_and_play(browser: Any, dash_server: str,
                                            incidents: pd.DataFrame,
                                            clean_console: Any) -> None:
    query = ("?level=h3&metric=gi_class&start=2025-02-01&end=2025-03-31"
             "&categories=theft,assault&layers=cameras,kde&mahalla=M11")
    browser.get(dash_server + "/commanders" + query)
    local = incidents["occurred_at"].dt.tz_convert("Asia/Tashkent")
    keep = (incidents["category"].isin(["theft", "assault"])
            & (local >= pd.Timestamp("2025-02-01", tz="Asia/Tashkent"))
            & (local < pd.Timestamp("2025-04-01", tz="Asia/Tashkent")))
    n_cells = incidents.loc[keep, "h3"].nunique()
    traces = _traces_when(browser, f"{int(keep.sum())} incidents in {n_cells} H3 cells (res 9)"
                                   ", February 1, 2025 – March 31, 2025")
    assert {"h3", "base", "highlight", "kde-legend"} <= {t["kind"] for t in traces}
    assert browser.execute_script(  # the KDE: an image layer of the MapLibre map
        f"return document.querySelector('{_MAP}').layout.map.layers.length") == 1
    _wait(browser, lambda d: _text(d, "cmd-panel-title") == "Do'stlik (M11)")
    assert _text(browser, "cmd-months-text") == "Feb 2025 – Mar 2025"
    assert parse_qs(urlsplit(browser.current_url).query) == parse_qs(query[1:])

    # zooming out past 0.6 degrees of longitude switches the hexagons to resolution 7
    n7 = len(np.unique(parents(incidents.loc[keep, "h3"].to_numpy(dtype="int64"), 7)))
    res7 = f"{int(keep.sum())} incidents in {n7} H3 cells (res 7)"
    settle(browser, _wait)
    browser.execute_script(  # moved as by a user (plotly keeps it and reports it)
        """document.querySelector(arguments[0])._fullLayout.map._subplot.map.fitBounds(
               [[67.3, 39.8], [68.3, 40.4]], {animate: false}, {originalEvent: {type: 't'}});""",
        _MAP)
    _wait(browser, lambda d: _text(d, "cmd-summary").startswith(res7))
    _traces_when(browser, f"{int(keep.sum())} incidents in {n7} H3 cells (res 7), "
                          "February 1, 2025 – March 31, 2025")

    # play through the months: the two-month window steps forward a month a tick, then pause
    browser.find_element("id", "cmd-play").click()
    _wait(browser, lambda d: "Pause" in _text(d, "cmd-play"))
    _wait(browser, lambda d: _text(d, "cmd-months-text") == "Mar 2025 – Apr 2025", 10)
    _wait(browser, lambda d: _text(d, "cmd-summary").endswith("March 1, 2025 – April 30, 2025"))
    browser.find_element("id", "cmd-play").click()
    _wait(browser, lambda d: "Play" in _text(d, "cmd-play"))
    clean_console(browser)
    assert json.loads(json.dumps(_query(browser)))["start"][0].startswith("2025-0")


# ---------------------------------------------------------------------------- shared answers


def test_an_answer_is_built_once_for_concurrent_requests(world_store: Any) -> None:
    import threading
    import time

    data = CommandersData(AppModel(DataAccess(world_store, user="test", audit=False)))
    builds: list[int] = []
    gate = threading.Event()

    def build() -> dict[str, int]:
        builds.append(1)
        gate.wait(5)
        return {"n": len(builds)}

    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(data.answer("k", build)))
               for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)  # all eight are waiting on the first one's build
    gate.set()
    for t in threads:
        t.join(10)
    assert len(builds) == 1 and len(got) == 8 and all(g is got[0] for g in got)
    # a failed build is not kept: the next caller builds again
    with pytest.raises(ZeroDivisionError):
        data.answer("bad", lambda: 1 // 0)
    assert data.answer("bad", lambda: "fine") == "fine"
    # bounded: the oldest answers go
    for i in range(commanders_data.ANSWERS_KEPT + 5):
        data.answer(("many", i), lambda i=i: i)
    assert len(data._answers) == commanders_data.ANSWERS_KEPT
    assert not data._answer_locks


def test_map_answers_follow_the_view_viewport_and_language(data: CommandersData) -> None:
    from riskmap.app.callbacks.commanders import map_answer
    from riskmap.i18n import use_language

    view = CommandersView(level="h3")
    wide = {"range": None}
    with use_language("en"):
        first, text = map_answer(data, view, wide, [])
        again, _ = map_answer(data, view, wide, [])
        assert again is first  # shared
        assert map_answer(data, view, {"range": [67.84, 67.87, 40.12, 40.15]}, [])[0] \
            is not first
        assert map_answer(data, CommandersView(level="mahalla"), wide, [])[0] is not first
        fresh, fresh_text = render_map(data, view, wide, [])
        assert json.dumps(fresh, sort_keys=True, default=str) == json.dumps(
            first, sort_keys=True, default=str) and fresh_text == text
    with use_language("ru"):
        ru, ru_text = map_answer(data, view, wide, [])
    assert ru is not first and ru_text != text
    # a viewport that is not plain JSON is drawn for the request alone, never kept
    kept = len(data._answers)
    map_answer(data, view, {"range": None, "odd": {1, 2}}, [])
    assert len(data._answers) == kept


def _png_alpha(uri: str) -> np.ndarray:
    """The alpha channel of a PNG data URI made by ``png_data_uri`` (8-bit RGBA, filter 0)."""
    import base64
    import struct
    import zlib

    png = base64.b64decode(uri.split(",", 1)[1])
    w, h = struct.unpack(">II", png[16:24])
    pos, idat = 8, b""
    while pos < len(png):
        (n,), tag = struct.unpack(">I", png[pos:pos + 4]), png[pos + 4:pos + 8]
        if tag == b"IDAT":
            idat += png[pos + 8:pos + 8 + n]
        pos += 12 + n
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(h, 1 + 4 * w)
    return rows[:, 1:].reshape(h, w, 4)[:, :, 3]


@pytest.mark.parametrize("level", ["mahalla", "h3"])
def test_the_kde_layer_is_drawn_over_the_densest_incidents(data: CommandersData,
                                                           incidents: pd.DataFrame,
                                                           level: str) -> None:
    """The MapLibre image of the density: its brightest pixel, placed as MapLibre places it
    (linear between the corners in Web Mercator), lies on the res-8 cell holding the most
    incidents."""
    import h3
    import pyproj

    from riskmap.geo.h3index import cells_from_lonlat

    view = CommandersView(level=level, layers=("kde",))
    fig, _ = render_map(data, view, None, None, map_style("http://host/"))
    layers = [lay for lay in fig["layout"]["map"]["layers"] if lay.get("name") == "kde"]
    assert len(layers) == 1
    (west, north), (east, _), (_, south), _ = layers[0]["coordinates"]
    alpha = _png_alpha(layers[0]["source"]).astype(float)
    row, col = np.unravel_index(np.argmax(alpha), alpha.shape)
    fwd = pyproj.Transformer.from_crs(4326, 3857, always_xy=True)
    (x0, x1), (y0, y1) = fwd.transform([west, east], [north, south])
    x = x0 + (col + 0.5) * (x1 - x0) / alpha.shape[1]
    y = y0 + (row + 0.5) * (y1 - y0) / alpha.shape[0]
    lon, lat = pyproj.Transformer.from_crs(3857, 4326, always_xy=True).transform(x, y)
    located = incidents[incidents["geocode_precision"] == "coordinates"]
    pts = np.array([(g.x, g.y) for g in located.geometry])
    cells = cells_from_lonlat(pts[:, 0], pts[:, 1], 8)
    busiest = pd.Series(cells).value_counts()
    shown = int(cells_from_lonlat(np.array([lon]), np.array([lat]), 8)[0])
    # the pixel's cell is one of the busiest (or a neighbour of one)
    top = busiest[busiest >= busiest.iloc[0] * 0.8].index
    near = {int(h3.str_to_int(c)) for t in top for c in h3.grid_disk(h3.int_to_str(int(t)), 1)}
    assert shown in near
