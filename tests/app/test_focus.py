"""Focus groups (minors, youth, women, family, repeat offenders) in the app: the model's filter
against a direct computation, the red list's column, small counts hidden for roles without
exact focus counts, and the commanders' page in headless Chromium."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from riskmap.app.callbacks.commanders import panel, red_list_rows
from riskmap.app.commanders_data import CommandersData, CommandersView
from riskmap.app.data import AppModel, ViewQuery
from riskmap.app.focus import focus_exact
from riskmap.auth.roles import Principal
from riskmap.geo.focus import FOCUS_GROUPS
from riskmap.layers.access import DataAccess
from tests.app.conftest import build_store, random_incidents


def with_focus(frame: pd.DataFrame, seed: int = 11) -> pd.DataFrame:
    """``frame`` with focus fields drawn at random (about a third unknown each)."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    out = frame.copy()

    def pick(values: tuple[object, ...], p: list[float]) -> np.ndarray:
        return rng.choice(np.array(values, dtype=object), n, p=p)

    out["victim_sex"] = pd.array(pick(("female", "male", None), [0.35, 0.35, 0.3]),
                                 dtype="string")
    out["victim_age_group"] = pd.array(pick(("minor", "youth", "adult", None),
                                            [0.15, 0.3, 0.25, 0.3]), dtype="string")
    out["offender_sex"] = pd.array(pick(("female", "male", None), [0.1, 0.5, 0.4]),
                                   dtype="string")
    out["offender_age_group"] = pd.array(pick(("minor", "youth", "senior", None),
                                              [0.1, 0.3, 0.2, 0.4]), dtype="string")
    for name, p in (("domestic", 0.15), ("repeat_offender", 0.25), ("on_probation", 0.05)):
        out[name] = pd.array(pick((True, False, None), [p, 0.6 - p, 0.4]), dtype="boolean")
    return out


def direct(inc: pd.DataFrame, group: str) -> pd.Series:
    """Membership of ``group`` computed straight from the stored fields (no bit codes)."""
    def eq(col: str, value: str) -> pd.Series:
        return inc[col].astype(object).eq(value)

    def true(col: str) -> pd.Series:
        return inc[col].astype("boolean").fillna(False).astype(bool)

    return {
        "minors": eq("victim_age_group", "minor") | eq("offender_age_group", "minor"),
        "youth": eq("victim_age_group", "youth") | eq("offender_age_group", "youth"),
        "women": eq("victim_sex", "female"),
        "family": true("domestic"),
        "repeat": true("repeat_offender"),
        "probation": true("on_probation"),
    }[group]


@pytest.fixture(scope="module")
def focus_store(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_store(tmp_path_factory.mktemp("focus"), with_focus(random_incidents()))


@pytest.fixture(scope="module")
def stored(focus_store: Any) -> pd.DataFrame:
    return pd.DataFrame(focus_store.read("incidents"))


@pytest.fixture(scope="module")
def model(focus_store: Any) -> AppModel:
    return AppModel(DataAccess(focus_store, user="test", audit=False))


@pytest.mark.parametrize("group", FOCUS_GROUPS)
def test_focus_filter_counts_match_a_direct_computation(model: AppModel, stored: pd.DataFrame,
                                                         group: str) -> None:
    start, end = date(2025, 2, 1), date(2025, 4, 30)
    q = ViewQuery(focus=group, categories=("theft", "assault"), start=start, end=end)
    local = pd.to_datetime(stored["occurred_at"], utc=True).dt.tz_convert("Asia/Tashkent")
    keep = (direct(stored, group) & stored["category"].isin(["theft", "assault"])
            & (local.dt.date >= start) & (local.dt.date <= end))
    want = stored[keep.to_numpy(dtype=bool)].groupby("mahalla_id").size()
    got = model.counts(q).set_index("mahalla_id")["count"]
    assert got.sum() == keep.sum() > 0
    assert got.to_dict() == want.reindex(got.index, fill_value=0).to_dict()
    assert model.total(q) == keep.sum()
    # H3 cells too
    h3 = model.counts(ViewQuery(level="h3_8", focus=group)).set_index("h3")["count"]
    assert h3.sum() == direct(stored, group).sum()
    # the breakdown of one mahalla (window, categories; the query's own focus set aside)
    m = "M11"
    here = keep.to_numpy(dtype=bool) & (stored["mahalla_id"] == "M11").to_numpy()
    breakdown = model.focus_counts(q, mahalla_id=m).set_index("group")["count"]
    base = (here | ((stored["mahalla_id"] == m) & stored["category"].isin(["theft", "assault"])
                    & (local.dt.date >= start) & (local.dt.date <= end)).to_numpy())
    assert breakdown[group] == int(direct(stored, group)[base].sum())


def test_focus_round_trips_through_the_url_and_bad_values_are_ignored() -> None:
    view = CommandersView(focus="women", categories=("theft",))
    assert view.to_params()["focus"] == "women"
    assert CommandersView.from_params(view.to_params()) == view
    assert CommandersView.from_params({"focus": "<script>"}).focus is None
    assert ViewQuery.from_params({"focus": "family"}).focus == "family"
    with pytest.raises(ValueError, match="focus"):
        ViewQuery(focus="aliens")


def test_red_list_gets_the_focus_column_in_its_order(model: AppModel,
                                                     stored: pd.DataFrame) -> None:
    data = CommandersData(model)
    plain, _ = red_list_rows(data, CommandersView())
    assert plain and "focus" not in plain[0]
    rows, _ = red_list_rows(data, CommandersView(focus="women"))
    assert {r["mahalla_id"] for r in rows} == {r["mahalla_id"] for r in plain}
    women = stored[direct(stored, "women").to_numpy(dtype=bool)].groupby("mahalla_id").size()
    assert {r["mahalla_id"]: r["focus"] for r in rows} == {
        r["mahalla_id"]: int(women.get(r["mahalla_id"], 0)) for r in rows}
    new = [r for r in rows if r["status"] == "newly red"]
    rest = [r for r in rows if r["status"] != "newly red"]
    for part in (new, rest):
        assert [r["focus_count"] for r in part] == sorted((r["focus_count"] for r in part),
                                                          reverse=True)


def test_small_focus_counts_are_hidden_from_roles_without_exact_counts(
        model: AppModel, stored: pd.DataFrame) -> None:
    assert focus_exact(Principal("c", "commander", regions=("Jizzax viloyati",)))
    assert focus_exact(Principal("a", "admin"))
    for role in ("analyst", "planner", "tourism_safety"):
        assert not focus_exact(Principal("x", role, regions=("Jizzax viloyati",)))
    q = ViewQuery(start=date(2025, 3, 1), end=date(2025, 3, 31))
    exact = model.focus_counts(q, mahalla_id="M00").set_index("group")
    hidden = model.focus_counts(q, mahalla_id="M00", exact=False).set_index("group")
    small = exact["count"] < 5
    assert small.any() and (~small).any()
    assert (hidden.loc[small, "count_text"] == "< 5").all()
    assert (hidden.loc[small, "count"] == 0).all()
    assert (hidden.loc[~small, "count"] == exact.loc[~small, "count"]).all()
    data = CommandersData(model)
    p = panel(data, CommandersView(start=date(2025, 3, 1), end=date(2025, 3, 31)), "M00",
              exact=False)
    assert [r["count"] for r in p["focus"]] == hidden["count_text"].tolist()
    rows, _ = red_list_rows(data, CommandersView(focus="probation"), exact=False)
    assert all(r["focus"] == "< 5" or r["focus"] >= 5 for r in rows)


# ---------------------------------------------------------------------------- the browser
def _wait(driver: Any, predicate: Any, timeout: float = 40) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(predicate)


def _text(driver: Any, id_: str) -> str:
    return driver.find_element("id", id_).text


def _idle(driver: Any) -> None:
    _wait(driver, lambda d: d.execute_script(
        "return !!window.store && !window.store.getState().isLoading;"))


def _red_rows(driver: Any) -> list[tuple[str, str]]:
    cells = driver.find_elements("css selector", "#cmd-redlist tbody tr")
    out = []
    for row in cells:
        name = row.find_elements("css selector", "td[data-dash-column='name']")
        focus = row.find_elements("css selector", "td[data-dash-column='focus']")
        if name:
            out.append((name[0].text, focus[0].text if focus else ""))
    return out


@pytest.mark.browser
def test_choosing_women_filters_map_and_red_list_and_stays_in_the_url(
        browser: Any, app_server: Any, focus_store: Any, stored: pd.DataFrame,
        model: AppModel, clean_console: Any) -> None:
    women = direct(stored, "women").to_numpy(dtype=bool)
    n_women = int(women.sum())
    names = dict(zip(model.mahallas["mahalla_id"], model.mahallas["name"], strict=True))
    expected = {names[r["mahalla_id"]]: str(r["focus"]) for r in red_list_rows(
        CommandersData(model), CommandersView(focus="women"))[0]}
    assert expected
    with app_server(focus_store, "test") as url:
        browser.get(url + "/commanders")
        _wait(browser, lambda d: _text(d, "cmd-summary")
              == f"{len(stored)} incidents in 9 mahallas, all dates")
        _idle(browser)
        browser.find_element("xpath", "//div[contains(@class,'tab') and .='Red list']").click()
        _wait(browser, lambda d: len(_red_rows(d)) == len(expected))
        assert all(focus == "" for _, focus in _red_rows(browser))

        # pick "Women" in the Focus dropdown
        browser.find_element("css selector", "#cmd-focus").click()
        option = _wait(browser, lambda d: next(
            (e for e in d.find_elements("css selector", ".dash-dropdown-option")
             if e.text.strip() == "Women (female victim)"), None))
        option.click()
        want = f"{n_women} incidents in 9 mahallas, all dates · Focus: Women (female victim)"
        try:
            _wait(browser, lambda d: _text(d, "cmd-summary") == want)
        except Exception:
            raise AssertionError(f"summary {_text(browser, 'cmd-summary')!r}, want {want!r}; "
                                 f"url {browser.current_url}; "
                                 f"{[e['message'] for e in browser.get_log('browser')]}") from None
        _wait(browser, lambda d: dict(_red_rows(d)) == expected)
        # the red list goes by the focus count (after the newly red)
        assert parse_qs(urlsplit(browser.current_url).query)["focus"] == ["women"]

        # the URL keeps it: opening it again shows the same filtered view
        browser.get(browser.current_url)
        _wait(browser, lambda d: _text(d, "cmd-summary").startswith(f"{n_women} incidents"))
        assert "Women" in browser.find_element("css selector", "#cmd-focus").text
        _idle(browser)
        clean_console(browser)
