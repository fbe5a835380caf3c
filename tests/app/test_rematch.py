"""The rematch page: unmatched rows in scope, a hand match stored as an alias, crafted requests.

The world is the app grid (``tests/app/conftest.py``: nine mahallas of Jizzax viloyati) plus
one mahalla of Samarqand viloyati, and an incident file loaded through the ETL: a row no
mahalla matches (quarantined ``no_location``), one placed only in a district (Jizzax shahri)
and one that names only its region (Samarqand viloyati, quarantined).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd
import shapely

from riskmap.app import ids
from riskmap.app.callbacks.rematch import (
    ACTION,
    candidate_map,
    confirm_match,
    find_row,
    unmatched_rows,
)
from riskmap.cli import cli
from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store
from tests.app.conftest import mahalla_grid

_IDS = ids.REMATCH
_IDLE_JS = "return !!window.store && !window.store.getState().isLoading;"
JIZZAX, SAMARQAND = "Jizzax viloyati", "Samarqand viloyati"
#: no mahalla's name (Istiqlol is near): quarantined as no_location
BAZAAR = "Istiqlolobod, eski bozor orqasi"
#: a district, and a place that is no mahalla: loaded at district precision
STADIUM = "Jizzax shahri, Paxtakor stadioni"
#: a region only: quarantined, but a Samarqand user may see it
SAMARQAND_ROW = "Samarqand viloyati, Ko'k gumbaz choyxonasi"
_CSV = "incident_id,occurred_at,category,address\n"


def _mahallas() -> gpd.GeoDataFrame:
    other = gpd.GeoDataFrame({"mahalla_id": ["S1"], "name": ["Registon"],
                              "name_cyrillic": ["Регистон"], "district": ["Samarqand shahri"],
                              "region": [SAMARQAND], "population": [900.0]},
                             geometry=[shapely.box(66.97, 39.65, 66.98, 39.66)], crs=4326)
    return gpd.GeoDataFrame(pd.concat([mahalla_grid(), other], ignore_index=True), crs=4326)


def _load(store: Store, tmp_path: Path) -> None:
    store.replace("mahallas", _mahallas())
    path = tmp_path / "march.csv"
    path.write_text(_CSV + f'Q1,2025-03-01 10:00,theft,"{BAZAAR}"\n'
                    f'D1,2025-03-02 10:00,theft,"{STADIUM}"\n'
                    f'S1,2025-03-03 10:00,theft,"{SAMARQAND_ROW}"\n'
                    'M1,2025-03-04 10:00,theft,"Jizzax shahri, Navro‘z MFY"\n',
                    encoding="utf-8")
    report = ingest_incidents(path, store, load_context(store, aliases=load_aliases()))
    assert (report.loaded, report.quarantined) == (2, 2), report.summary()
    assert report.by_precision == {"district": 1, "mahalla": 1}


@pytest.fixture
def world(store: Store, tmp_path: Path) -> Store:
    """The world on both backends (the ``store`` fixture of tests/conftest.py)."""
    _load(store, tmp_path)
    return store


def _token(store: Store, address: str) -> str:
    rows, _ = unmatched_rows(DataAccess(store, audit=False))
    return next(r.token for r in rows if r.text == address)


def _snapshot(store: Store) -> dict[str, Any]:
    """What a refused match must leave as it was."""
    audit = store.read("audit")
    return {
        "aliases": store.count("place_aliases"),
        "incidents": store.read("incidents").drop(columns="geometry")
        .sort_values("incident_id").reset_index(drop=True),
        "quarantine": sorted(store.read("quarantine")["quarantine_id"]),
        "addresses": sorted(store.read("incident_addresses")["incident_id"]),
        "matches": int((audit["action"] == ACTION).sum()) if len(audit) else 0,
    }


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    pd.testing.assert_frame_equal(a.pop("incidents"), b.pop("incidents"))
    assert a == b


# ---- the list of rows, in scope --------------------------------------------------------------

def test_the_list_holds_the_unmatched_rows_in_scope(world: Store) -> None:
    rows, total = unmatched_rows(DataAccess(world, user="all"))
    assert total == 3
    assert [(r.kind, r.text) for r in rows] == [("no_location", BAZAAR),
                                                ("no_location", SAMARQAND_ROW),
                                                ("district", STADIUM)]
    assert rows[0].source == "march.csv row 2" and rows[2].district == "Jizzax shahri"
    assert rows[1].region == SAMARQAND  # told from the row's text
    # a scoped user: the district row of their region; a quarantined row only when its text
    # names their region (the bazaar names none: users of all regions only)
    jizzax, _ = unmatched_rows(DataAccess(world, user="j", regions=[JIZZAX]))
    assert [r.text for r in jizzax] == [STADIUM]
    samarqand, _ = unmatched_rows(DataAccess(world, user="s", regions=[SAMARQAND]))
    assert [r.text for r in samarqand] == [SAMARQAND_ROW]
    audit = world.read("audit")
    scoped = audit[(audit["user"] == "s") & (audit["layer"] == "quarantine")]
    assert scoped["rows"].tolist() == [1]
    assert find_row(DataAccess(world, regions=[JIZZAX]), rows[1].token) is None
    for junk in (None, 7, "", "q:", "x:Q1", "i:Q1", "q:" + "x" * 400):
        assert find_row(DataAccess(world), junk) is None


def test_region_names_shared_by_two_regions_stay_ambiguous(store: Store, tmp_path: Path) -> None:
    """A row naming "Toshkent" may be Toshkent shahri or Toshkent viloyati: neither user sees it."""
    grid = mahalla_grid().head(2)
    grid["region"] = ["Toshkent shahri", "Toshkent viloyati"]
    grid["district"] = ["Yunusobod tumani", "Chirchiq shahri"]
    store.replace("mahallas", grid)
    path = tmp_path / "t.csv"
    path.write_text(_CSV + 'T1,2025-03-01 10:00,theft,"Toshkent sh., Eski bozor"\n'
                    'T2,2025-03-01 10:00,theft,"Toshkent sh., Yunusobod tumani, Eski bozor"\n',
                    encoding="utf-8")
    report = ingest_incidents(path, store, load_context(store, aliases=load_aliases()))
    assert report.by_reason == {"no_location": 1} and report.by_precision == {"district": 1}
    rows, _ = unmatched_rows(DataAccess(store))
    assert [(r.kind, r.region) for r in rows] == [("no_location", None),
                                                  ("district", "Toshkent shahri")]
    for region, seen in (("Toshkent shahri", ["district"]), ("Toshkent viloyati", [])):
        rows, _ = unmatched_rows(DataAccess(store, regions=[region]))
        assert [r.kind for r in rows] == seen


# ---- confirming a match ----------------------------------------------------------------------

def test_matching_a_quarantined_row_stores_the_alias_and_places_the_row(world: Store) -> None:
    token = _token(world, BAZAAR)
    access = DataAccess(world, user="analyst-7")
    result = confirm_match(access, token, "M12", None)
    assert result.ok and result.placed == 1, result.message
    alias = world.read("place_aliases")
    assert alias[["alias", "mahalla_id", "district", "region", "created_by", "source"]
                 ].values.tolist() == [[BAZAAR, "M12", "Sharof Rashidov tumani", JIZZAX,
                                        "analyst-7", "app"]]
    placed = world.read("incidents", filters=[("incident_id", "=", "Q1")])
    assert placed[["mahalla_id", "geocode_precision", "source_file", "source_row"]
                  ].values.tolist() == [["M12", "mahalla", "march.csv", 2]]
    assert token[2:] not in set(world.read("quarantine")["quarantine_id"])
    audit = world.read("audit")
    match = audit[audit["action"] == ACTION]
    # one record of the scoped write: the alias, the placed incident, the quarantine row
    assert match[["user", "layer", "scope", "rows", "outcome"]].values.tolist() == [
        ["analyst-7", "place_aliases", "all regions", 3, "ok"]]
    assert match["hash"].notna().all()  # in the audit chain
    detail = json.loads(match["detail"].iat[0])
    assert detail["mahalla_id"] == "M12" and detail["row"] == token and detail["placed"] == 1
    assert BAZAAR not in [r.text for r in unmatched_rows(access)[0]]


def test_matching_a_district_row_moves_the_incident(world: Store) -> None:
    token = _token(world, STADIUM)
    access = DataAccess(world, user="j", regions=[JIZZAX])
    # a mahalla of another district: the alias would not place the row (it names its district)
    before = _snapshot(world)
    refused = confirm_match(access, token, "M02", "Paxtakor stadioni")
    assert not refused.ok and "would not be placed" in refused.message
    _same(before, _snapshot(world))
    result = confirm_match(access, token, "M01", "  Paxtakor stadioni ")
    assert result.ok and result.placed == 1, result.message
    moved = world.read("incidents", filters=[("incident_id", "=", "D1")])
    assert moved[["mahalla_id", "district", "geocode_precision"]].values.tolist() == [
        ["M01", "Jizzax shahri", "mahalla"]]
    m1 = world.read("incidents", filters=[("incident_id", "=", "M1")])  # placed by the load
    assert m1["mahalla_id"].tolist() == ["M01"] and moved["h3"].iat[0] == m1["h3"].iat[0]
    assert world.read("place_aliases")["alias"].tolist() == ["Paxtakor stadioni"]
    assert world.read("incident_addresses")["incident_id"].tolist() == []
    assert STADIUM not in [r.text for r in unmatched_rows(access)[0]]


@pytest.mark.parametrize(("case", "user_regions", "token", "mahalla"), [
    ("no such row", None, "q:q0000000000000000", "M12"),
    ("no such incident", None, "i:NOPE", "M12"),
    ("a placed incident", None, "i:M1", "M12"),
    ("no such mahalla", None, BAZAAR, "M99"),
    ("a mahalla out of scope", [JIZZAX], STADIUM, "S1"),
    ("a row out of scope", [JIZZAX], SAMARQAND_ROW, "M12"),
    ("a row out of scope, mahalla in its region", [JIZZAX], SAMARQAND_ROW, "S1"),
    ("not a string", None, BAZAAR, ["M12"]),
    ("not a token", None, {"q": 1}, "M12"),
])
def test_a_refused_match_writes_nothing(world: Store, case: str, user_regions: list[str] | None,
                                        token: Any, mahalla: Any) -> None:
    if token in (BAZAAR, STADIUM, SAMARQAND_ROW):
        token = _token(world, token)
    before = _snapshot(world)
    result = confirm_match(DataAccess(world, user="x", regions=user_regions), token, mahalla)
    assert not result.ok and "nothing was written" in result.message.lower(), case
    _same(before, _snapshot(world))


def test_an_alias_that_cannot_be_kept_is_refused(world: Store) -> None:
    token = _token(world, BAZAAR)
    before = _snapshot(world)
    for alias in ("...", "x" * 501):
        result = confirm_match(DataAccess(world), token, "M12", alias)
        assert not result.ok and "The alias cannot be kept" in result.message
    _same(before, _snapshot(world))


def test_an_address_naming_only_its_district_is_listed_last_and_never_an_alias(
        world: Store, tmp_path: Path) -> None:
    path = tmp_path / "april.csv"
    path.write_text(_CSV + 'D9,2025-04-01 10:00,theft,"г. Джизак"\n', encoding="utf-8")
    ingest_incidents(path, world, load_context(world, aliases=load_aliases()))
    rows, total = unmatched_rows(DataAccess(world))
    assert total == 4 and rows[-1].text == "г. Джизак" and rows[-1].admin_only
    assert not any(r.admin_only for r in rows[:-1])
    before = _snapshot(world)
    for token, alias in ((rows[-1].token, None), (_token(world, STADIUM), "Jizzax shahri")):
        result = confirm_match(DataAccess(world), token, "M01", alias)
        assert not result.ok and "names only a district or region" in result.message
    _same(before, _snapshot(world))


# ---- a crafted request to the app ------------------------------------------------------------

def _confirm_payload(token: Any, mahalla: Any, alias: Any = None) -> dict[str, Any]:
    return {
        "output": f"..{_IDS.RESULT}.children...{_IDS.REFRESH}.data..",
        "outputs": [{"id": _IDS.RESULT, "property": "children"},
                    {"id": _IDS.REFRESH, "property": "data"}],
        "inputs": [{"id": _IDS.CONFIRM, "property": "n_clicks", "value": 1}],
        "changedPropIds": [f"{_IDS.CONFIRM}.n_clicks"],
        "state": [{"id": _IDS.ROWS, "property": "value", "value": token},
                  {"id": _IDS.CHOICE, "property": "data", "value": mahalla},
                  {"id": _IDS.ALIAS, "property": "value", "value": alias}],
    }


#: the Flask test client's host: callback requests come from the app's own pages
SAME_ORIGIN = {"Origin": "http://localhost"}


def test_a_crafted_callback_request_outside_the_scope_writes_nothing(tmp_path: Path) -> None:
    from riskmap.app.factory import create_app
    from riskmap.settings import Settings

    store = open_store(str(tmp_path / "store"))
    _load(store, tmp_path)
    settings = Settings(_env_file=None, store=store.url,  # type: ignore[call-arg]
                        app={"auth": "none", "regions": [JIZZAX], "host": "127.0.0.1"})
    app = create_app(settings, DataAccess(store, user="crafty", regions=[JIZZAX]))
    client = app.server.test_client()
    stadium = _token(store, STADIUM)
    before = _snapshot(store)
    for token, mahalla, alias in ((stadium, "S1", None),                 # mahalla out of scope
                                  ("q:no-such-row", "M12", BAZAAR),        # no such row
                                  (_token(store, SAMARQAND_ROW), "S1", None),  # row out of scope
                                  (stadium, "M02", "<script>x</script>"),  # not placed so
                                  ("i:D1\x00", "M01", None), (None, None, None)):
        res = client.post("/_dash-update-component", json=_confirm_payload(token, mahalla, alias),
                          headers=SAME_ORIGIN)
        assert res.status_code == 200, res.data
        body = res.get_json()["response"]
        assert "nothing was written" in body[_IDS.RESULT]["children"].lower()
        assert _IDS.REFRESH not in body  # the list is not refreshed: nothing changed
    _same(before, _snapshot(store))
    # the same request with ids in scope does write
    res = client.post("/_dash-update-component",
                      json=_confirm_payload(stadium, "M01", "Paxtakor stadioni"),
                      headers=SAME_ORIGIN)
    assert "Matched to" in res.get_json()["response"][_IDS.RESULT]["children"]
    assert store.read("place_aliases")["created_by"].tolist() == ["crafty"]


# ---- the candidate map -----------------------------------------------------------------------

def test_candidate_map_escapes_names_and_marks_the_choice() -> None:
    grid = mahalla_grid().head(3)
    grid.loc[0, "name"] = "<b onmouseover=x>Bog'ishamol</b>"
    cands = grid.assign(score=[92.0, 70.0, float("nan")])
    fig = candidate_map(cands, grid.geometry, "M01")
    kinds = [t.meta["kind"] for t in fig.data]
    assert kinds == ["base", "candidates", "chosen", "ranks"]
    ranks = fig.data[-1]
    assert list(ranks.text) == ["1", "2", "3"]
    assert ranks.customdata[0][0].startswith("&lt;b onmouseover=x&gt;")
    assert [row[2] for row in ranks.customdata] == ["92", "70", "chosen from the list"]
    assert "No candidate" in candidate_map(cands.iloc[:0], grid.geometry, None
                                           ).layout.annotations[0].text


# ---- the page in a browser -------------------------------------------------------------------

@pytest.mark.browser
def test_page_opens_on_an_empty_and_a_tiny_store(tmp_path: Path, browser: Any, app_server: Any,
                                                 wait: Any, clean_console: Any) -> None:
    empty = open_store(str(tmp_path / "empty"))
    tiny = open_store(str(tmp_path / "tiny"))
    tiny.replace("mahallas", mahalla_grid())
    for store, summary in ((empty, "Every row"), (tiny, "Every row")):
        with app_server(store, "test") as url:
            browser.get(url + "/rematch")
            wait(browser, lambda d: d.execute_script(_IDLE_JS)
                 and d.find_element("id", _IDS.SUMMARY).text)
            assert browser.find_element("id", _IDS.SUMMARY).text.startswith(summary)
            assert "Rematch" in [a.text for a in browser.find_elements("css selector", "nav a")]
            clean_console(browser)


@pytest.mark.browser
def test_an_analyst_matches_a_row_by_hand_and_the_next_load_uses_it(
        tmp_path: Path, browser: Any, app_server: Any, wait: Any, clean_console: Any) -> None:
    root = tmp_path / "store"
    store = open_store(str(root))
    _load(store, tmp_path)
    with app_server(store, "analyst-7") as url:
        browser.get(url + "/rematch")
        wait(browser, lambda d: d.execute_script(_IDLE_JS) and len(d.find_elements(
            "css selector", f"#{_IDS.ROWS} input[type='radio']")) == 3)
        assert browser.find_element("id", _IDS.SUMMARY).text == "3 rows to match."
        browser.find_element("xpath", f"//*[@id='{_IDS.ROWS}']//label[contains(., "
                                      f"'{BAZAAR}')]").click()
        wait(browser, lambda d: d.execute_script(_IDLE_JS) and BAZAAR in d.find_element(
            "id", _IDS.ROW_TEXT).text)
        assert browser.find_element("id", _IDS.ALIAS).get_attribute("value") == BAZAAR
        candidates = browser.find_elements("css selector", f"#{_IDS.CANDIDATES} label")
        assert candidates[0].text == "1. Istiqlol — Jizzax shahri, Jizzax viloyati (score 80)"
        assert browser.find_element("id", _IDS.CONFIRM).get_attribute("disabled")
        # first another mahalla from the whole list, then the best candidate after all
        browser.find_element("css selector", f"#{_IDS.OTHER}").click()
        wait(browser, lambda d: d.find_element(
            "xpath", "//label[contains(@class,'dash-dropdown-option')]"
                     "[.//input[@value='M12']]")).click()
        wait(browser, lambda d: d.execute_script(_IDLE_JS)
             and not d.find_element("id", _IDS.CONFIRM).get_attribute("disabled"))
        browser.switch_to.active_element.send_keys("\ue00c")  # Escape closes the dropdown
        candidates[0].click()
        wait(browser, lambda d: d.execute_script(_IDLE_JS) and not d.find_element(
            "id", _IDS.OTHER).text.startswith("Guliston"))
        chosen = browser.execute_script(
            "return document.querySelector(arguments[0]).data.filter("
            "t => t.meta && t.meta.kind === 'chosen').length", f"#{_IDS.MAP} .js-plotly-plot")
        assert chosen == 1
        browser.find_element("id", _IDS.CONFIRM).click()
        wait(browser, lambda d: "Matched to Istiqlol" in d.find_element("id", _IDS.RESULT).text)
        wait(browser, lambda d: d.execute_script(_IDLE_JS) and len(d.find_elements(
            "css selector", f"#{_IDS.ROWS} input[type='radio']")) == 2)
        assert BAZAAR not in browser.find_element("id", _IDS.ROWS).text
        clean_console(browser)

    alias = store.read("place_aliases")
    assert alias[["alias", "mahalla_id", "created_by"]].values.tolist() == [
        [BAZAAR, "M20", "analyst-7"]]
    audit = store.read("audit")
    assert audit[audit["action"] == ACTION]["user"].tolist() == ["analyst-7"]
    assert store.read("incidents", filters=[("incident_id", "=", "Q1")])[
        "mahalla_id"].tolist() == ["M20"]
    # the next load of a file with that address places its row in that mahalla
    path = tmp_path / "april.csv"
    path.write_text(_CSV + f'A1,2025-04-01 10:00,assault,"{BAZAAR.lower()}."\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["ingest", "incidents", str(path), "--store", str(root)])
    assert res.exit_code == 0 and "1 rows -> 1 loaded" in res.output, res.output
    got = open_store(str(root)).read("incidents", filters=[("incident_id", "=", "A1")])
    assert got[["mahalla_id", "geocode_precision"]].values.tolist() == [["M20", "mahalla"]]
