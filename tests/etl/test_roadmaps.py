"""Roadmaps in the store (both backends): edits through DataAccess, scope, audit, build closing."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from riskmap.etl.derive_roadmaps import build as build_roadmaps
from riskmap.etl.roadmaps import (
    RoadmapInputError,
    add_measure,
    clean_text,
    close_and_open,
    list_roadmaps,
    load_state,
    open_measure_counts,
    parse_due,
    save_roadmap,
    update_measure,
)
from riskmap.layers.access import DataAccess
from tests.app.conftest import REGION, mahalla_grid

OTHER = "Surxondaryo viloyati"
NOW = pd.Timestamp("2025-07-10 09:00", tz="UTC")


def _status(red: dict[str, list[str]]) -> pd.DataFrame:
    """A status history of three months; mahallas not named are green."""
    months = pd.date_range("2025-04-01", periods=3, freq="MS", tz="UTC")
    rows = []
    for m in [*mahalla_grid()["mahalla_id"], "S0"]:
        for i, month in enumerate(months):
            s = red.get(m, ["green"] * 3)[i]
            rows.append({"mahalla_id": m, "month": month, "status": s,
                         "why": f"{s}: test reason {i}", "count": 5 * (i + 1),
                         "rate_per_1000": 0.5 * (i + 1), "gi_z": 0.0, "gi_class": "",
                         "district": "D", "region": OTHER if m == "S0" else REGION})
    return pd.DataFrame(rows)


@pytest.fixture
def world(store: object) -> object:
    grid = mahalla_grid()
    other = grid.iloc[:1].copy()
    other["mahalla_id"], other["region"], other["district"] = "S0", OTHER, "Termiz shahri"
    with store.transaction() as txn:  # type: ignore[attr-defined]
        txn.replace("mahallas", pd.concat([grid, other], ignore_index=True))
    return store


def _audit(store: object, action: str = "roadmap_edit") -> pd.DataFrame:
    a = store.read("audit")  # type: ignore[attr-defined]
    return a[(a["action"] == action).to_numpy(bool)].reset_index(drop=True)


def test_values_are_bounded() -> None:
    assert clean_text(" a\x00b ", "official_name") == "ab"
    for bad, field in (("x" * 121, "official_name"), (5, "title"), ("call me", "phone"),
                       ("", "title")):
        with pytest.raises(RoadmapInputError):
            clean_text(bad, field, required=field == "title")
    for bad in ("2025-13-01", "01.07.2025", "1999-12-31", "2025-02-30", 20250101):
        with pytest.raises(RoadmapInputError):
            parse_due(bad)


def test_edit_a_red_mahallas_roadmap(world: object) -> None:
    history = _status({"M11": ["yellow", "red", "red"]})
    access = DataAccess(world, user="jiz", regions=[REGION])
    rid = save_roadmap(access, "M11", {"official_name": "Aliyev Anvar", "official_position":
                                       "Sector leader", "official_phone": "+998 90 123-45-67"},
                       [{"role": "rais", "name": "Karimov", "phone": "90"},
                        {"role": "prevention_inspector", "name": "Tosheva", "phone": ""}],
                       history, now=NOW)
    assert rid == "M11@2025-06"
    mid = add_measure(access, "M11", {"title": "Street lights on Navro'z street",
                                      "owner": "Hokimiyat", "due": "2025-07-01",
                                      "notes": "<b>ask</b>"}, history, now=NOW)
    state = load_state(access, "M11", history, now=NOW)
    assert state is not None and state.editable and state.red
    assert state.roadmap["official_name"] == "Aliyev Anvar"
    assert state.roadmap["opened_because"] == "red: test reason 2"
    assert state.roadmap["district"] == "Jizzax shahri"  # from the mahallas layer
    members = state.members.set_index("role")
    assert members.loc["prevention_inspector", "name"] == "Tosheva"
    assert members.loc["tax_inspector", "name"] == ""
    assert state.measures["measure_id"].tolist() == [mid]
    assert state.measures["overdue"].tolist() == [True]
    assert open_measure_counts(access, ["M11", "M00"], now=NOW).to_dict("index") == {
        "M11": {"open": 1, "overdue": 1}}

    update_measure(access, "M11", mid, {"status": "done", "notes": "lights up"}, history,
                   now=NOW)
    state = load_state(access, "M11", history, now=NOW)
    row = state.measures.iloc[0]
    assert (row["status"], row["notes"], bool(row["overdue"])) == ("done", "lights up", False)
    assert row["due_date"] == pd.Timestamp("2025-07-01") and row["updated_by"] == "jiz"
    assert state.progress == 1.0

    audit = _audit(world)
    assert audit["outcome"].tolist() == ["ok"] * 3 and set(audit["user"]) == {"jiz"}
    detail = json.loads(audit["detail"].iloc[2])
    assert detail["what"] == "measure_update"
    assert (detail["before"]["status"], detail["after"]["status"]) == ("planned", "done")
    table = list_roadmaps(DataAccess(world, user="cli"), REGION, now=NOW)
    assert table[["mahalla_id", "open", "overdue", "done"]].values.tolist() == [
        ["M11", 0, 0, 1]]
    assert list_roadmaps(DataAccess(world, user="cli"), REGION, overdue_only=True,
                         now=NOW).empty


def test_outside_the_scope_or_not_red_nothing_is_written(world: object) -> None:
    history = _status({"M11": ["red"] * 3, "S0": ["red"] * 3})
    jiz = DataAccess(world, user="jiz", regions=[REGION])
    for call in (lambda: save_roadmap(jiz, "S0", {"official_name": "x"}, [], history),
                 lambda: add_measure(jiz, "S0", {"title": "x"}, history),
                 lambda: save_roadmap(jiz, ["S0"], {}, [], history)):
        with pytest.raises(PermissionError):
            call()
    assert load_state(jiz, "S0", history) is None
    with pytest.raises(RoadmapInputError, match="not red"):
        add_measure(jiz, "M00", {"title": "x"}, history)
    with pytest.raises(RoadmapInputError, match="unknown role"):
        save_roadmap(jiz, "M11", {}, [{"role": "chief", "name": "x"}], history)
    with pytest.raises(RoadmapInputError, match="status"):
        update_measure(jiz, "M11", "M11@2025-06#x", {"status": "finished"}, history)
    with pytest.raises(RoadmapInputError, match="no such measure"):
        update_measure(jiz, "M11", "S0@2025-06#x", {"status": "done"}, history)
    assert not world.has("roadmaps") or len(world.read("roadmaps")) == 0  # type: ignore
    assert not world.has("roadmap_measures") or len(world.read("roadmap_measures")) == 0
    audit = _audit(world)
    assert set(audit["outcome"]) == {"denied"} and len(audit) >= 4


def test_build_opens_and_closes_idempotently(world: object) -> None:
    history = _status({"M11": ["yellow", "red", "red"], "M22": ["red", "red", "red"]})
    with world.transaction() as txn:  # type: ignore[attr-defined]
        txn.replace("mahalla_status", history)
    settings = type("S", (), {"user": "builder"})()
    assert build_roadmaps(world, settings) == {"opened": 0, "closed": 0}  # opened in the app
    access = DataAccess(world, user="jiz", regions=[REGION])
    add_measure(access, "M11", {"title": "Patrols", "due": "2025-08-01"}, history, now=NOW)
    save_roadmap(access, "M22", {"official_name": "X"}, [], history, now=NOW)
    # with open_new (not the build's default) each red mahalla without one gets a roadmap
    assert close_and_open(DataAccess(world, user="builder"), history, world.read("mahallas"),
                          open_new=True) == {"opened": 0, "closed": 0}

    # a month later M11 is green: its roadmap closes with the figures, M22's stays open
    july = _status({"M22": ["red"] * 3})
    july = july[(july["month"] == pd.Timestamp("2025-06-01", tz="UTC")).to_numpy(bool)]
    later = pd.concat([history, july.assign(month=pd.Timestamp("2025-07-01", tz="UTC"))],
                      ignore_index=True)
    with world.transaction() as txn:  # type: ignore[attr-defined]
        txn.replace("mahalla_status", later)
    assert build_roadmaps(world, settings) == {"opened": 0, "closed": 1}
    assert build_roadmaps(world, settings) == {"opened": 0, "closed": 0}
    r = world.read("roadmaps").set_index("mahalla_id")  # type: ignore[attr-defined]
    assert r.loc["M22", "status"] == "open" and r.loc["M11", "status"] == "closed"
    figures = json.loads(r.loc["M11", "closed_figures"])
    assert figures["opening"]["status"] == "red" and figures["opening"]["month"] == "2025-06"
    assert figures["closing"]["status"] == "green" and figures["closing"]["month"] == "2025-07"
    # a closed roadmap is read only: the mahalla is no longer red
    state = load_state(access, "M11", later, now=NOW)
    assert state is not None and not state.editable
    with pytest.raises(RoadmapInputError):
        add_measure(access, "M11", {"title": "More"}, later, now=NOW)
    assert list(_audit(world)["user"].unique()) == ["jiz", "builder"]
    assert close_and_open(DataAccess(world, user="x"), later,
                          world.read("mahallas")) == {"opened": 0, "closed": 0}


def test_cli_lists_overdue_roadmaps(world: object, monkeypatch: pytest.MonkeyPatch) -> None:
    from riskmap.cli import cli

    history = _status({"M11": ["red"] * 3})
    access = DataAccess(world, user="jiz", regions=[REGION])
    add_measure(access, "M11", {"title": "=cmd|' /C calc'!A0", "due": "2025-01-01"}, history)
    url = getattr(world, "url", None)
    monkeypatch.delenv("RISKMAP_APP__REGIONS", raising=False)
    got = CliRunner().invoke(cli, ["roadmaps", "list", "--store", str(url), "--region", REGION,
                                   "--overdue"])
    assert got.exit_code == 0, got.output
    assert "M11" in got.output and "M11@2025-06" in got.output
    csv = CliRunner().invoke(cli, ["roadmaps", "list", "--store", str(url), "--format", "csv"])
    assert csv.exit_code == 0 and "M11" in csv.output
    none = CliRunner().invoke(cli, ["roadmaps", "list", "--store", str(url), "--region", OTHER])
    assert none.exit_code == 0 and "no roadmaps" in none.output


def test_review_pack_shows_the_roadmap(world: object) -> None:
    from riskmap.app.review_pack import review_html
    from riskmap.etl.review_pack import load_review
    from tests.app.conftest import random_incidents

    with world.transaction() as txn:  # type: ignore[attr-defined]
        txn.replace("incidents", random_incidents(200))
    jiz = DataAccess(world, user="jiz", regions=[REGION])
    before = load_review(jiz, REGION, "2025-06", tz="Asia/Tashkent", now=NOW)
    assert before.to_json()["roadmaps"] is None
    red = [*before.figures.red_new, *before.figures.red_still]
    assert red  # the period's own status rule lists these in the pack
    mahalla = red[0]
    history = _status({mahalla: ["red"] * 3})
    save_roadmap(jiz, mahalla, {"official_name": "Aliyev <Anvar>", "official_phone": "90"},
                 [], history, now=NOW)
    for title, status in (("Lights", "done"), ("Patrols", None)):
        mid = add_measure(jiz, mahalla, {"title": title, "due": "2025-01-01"}, history, now=NOW)
        if status:
            update_measure(jiz, mahalla, mid, {"status": status}, history, now=NOW)
    pack = load_review(jiz, REGION, "2025-06", tz="Asia/Tashkent", now=NOW)
    assert pack.to_json()["roadmaps"] == {mahalla: {
        "roadmap_id": f"{mahalla}@2025-06", "status": "open", "official": "Aliyev <Anvar>",
        "measures": 2, "open": 1, "overdue": 1, "done": 1, "progress": 0.5}}
    page = review_html(pack)
    assert page.count("open: 1 of 2 measures done (50%), 1 overdue") == 1
    assert "Aliyev &lt;Anvar&gt;, 90" in page and "<Anvar>" not in page
    assert page.count("no roadmap recorded") == len(red) - 1 + len(pack.figures.red_left)
