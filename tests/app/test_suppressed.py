"""Suppressed views in the app: an analyst of Jizzakh with ``suppressed_elsewhere`` sees the
Surkhandarya mahallas' counts (below 5 as "< 5") and its cells only at coarse cell centres,
never an incident of it; one without the flag sees nothing of it. Crafted requests, as in
``test_auth.py``, over the same two-region store."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

import h3

from riskmap.app import ids
from riskmap.app.data import ViewQuery
from riskmap.auth import accounts
from riskmap.auth.roles import SUPPRESSED_H3_RES
from riskmap.layers.store import Store
from tests.app.conftest import REGION
from tests.app.test_auth import (
    ORIGIN,
    OTHER,
    PASSWORD,
    SECRET_NAMES,
    _app,
    _callbacks,
    _login,
    _outputs,
    _post_everything,
    _two_regions,
)

_IDS = ids.COMMANDERS
#: March 2025 on the month slider (the data runs January .. June 2025)
MARCH = [2, 2]


@pytest.fixture
def store(tmp_path: Any) -> Store:
    store = _two_regions(tmp_path / "store")
    accounts.add_user(store, "ana", PASSWORD, role="analyst", regions=[REGION],
                      suppressed_elsewhere=True)
    accounts.add_user(store, "ana0", PASSWORD, role="analyst", regions=[REGION])
    return store


def _call(client: Any, output_id: str, values: dict[str, Any]) -> dict[str, Any]:
    cb = next(cb for cb in _callbacks(client) if cb["output"].startswith(f"..{output_id}.")
              or cb["output"].startswith(f"{output_id}."))
    output, outs = _outputs(cb)
    def value(d: dict[str, str]) -> Any:
        return values.get(f"{d['id']}.{d['property']}")
    res = client.post("/_dash-update-component", headers=ORIGIN, json={
        "output": output, "outputs": outs if len(outs) > 1 else outs[0],
        "inputs": [{**i, "value": value(i)} for i in cb["inputs"]],
        "state": [{**s, "value": value(s)} for s in cb["state"]],
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in cb["inputs"]]})
    assert res.status_code in (200, 204), res.get_data(as_text=True)[:300]
    return res.get_json() if res.status_code == 200 else {}


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _march_counts(store: Store) -> pd.Series:
    inc = store.read("incidents", columns=["mahalla_id", "occurred_at", "region"])
    local = pd.to_datetime(inc["occurred_at"], utc=True).dt.tz_convert("Asia/Tashkent")
    sel = (inc["region"] == OTHER) & (local.dt.month == 3)
    return inc[sel.to_numpy()].groupby("mahalla_id").size().reindex(
        [f"S{i}" for i in range(9)], fill_value=0)


def _controls(region: str, span: list[int] | None = None, **more: Any) -> dict[str, Any]:
    return {f"{_IDS.LEVEL}.value": "mahalla", f"{_IDS.METRIC}.value": "count",
            f"{_IDS.REGION}.value": region, f"{_IDS.MONTHS}.value": span,
            **{f"{k}": v for k, v in more.items()}}


def test_an_analyst_sees_other_regions_counts_with_small_ones_hidden(store: Store) -> None:
    truth = _march_counts(store)
    assert (truth < 5).any() and (truth >= 5).any()  # both cases are tried
    client = _app(store).server.test_client()
    assert _login(client, "ana").status_code == 303
    body = _call(client, _IDS.MAP_FIGURE, _controls(OTHER, MARCH))
    texts = " ".join(_strings(body))
    for i, name in enumerate(SECRET_NAMES):
        shown = "&lt; 5" if truth.iloc[i] < 5 else f"{truth.iloc[i]:,}"
        assert f"Mahalla: {name}</b><br>District: Termiz shahri<br>Incidents: {shown}<br>" \
            in texts, (name, truth.iloc[i])
    assert "SECRETINC" not in json.dumps(body)
    # the side panel of a mahalla with few incidents: "< 5", no brief
    small = truth.index[truth < 5][0]
    panel = json.dumps(_call(client, _IDS.PANEL_TITLE, {**_controls(OTHER, MARCH),
                                                 f"{_IDS.SELECTED}.data": small}))
    assert "&lt; 5 incidents" in panel or "< 5 incidents" in panel
    # no incident rows of the other region, whatever the window
    rows = _call(client, _IDS.INCIDENTS, {**_controls(OTHER), f"{_IDS.SELECTED}.data": "S1",
                                          f"{_IDS.INCIDENTS}.page_size": 50,
                                          f"{_IDS.INCIDENTS}.page_current": 0})
    assert rows["response"][_IDS.INCIDENTS]["data"] == []
    brief = _call(client, _IDS.DOWNLOAD_HTML, {**_controls(OTHER),
                                               f"{_IDS.SELECTED}.data": "S1",
                                               f"{_IDS.BRIEF_HTML}.n_clicks": 1})
    assert "SECRETINC" not in json.dumps(brief) and "Sirlimahalla1" not in json.dumps(brief)


def test_other_regions_cells_are_only_coarse_cell_centres(store: Store) -> None:
    from riskmap.app.factory import EXTENSION_KEY
    from riskmap.auth.roles import Principal

    app = _app(store)
    model = app.server.extensions[EXTENSION_KEY].for_principal(
        Principal("ana", "analyst", regions=(REGION,), suppressed_elsewhere=True))
    cells = model.counts(ViewQuery(level="h3_9", region=OTHER))
    assert len(cells) > 0
    for c in cells["h3_hex"]:
        parent = h3.cell_to_parent(c, SUPPRESSED_H3_RES)
        assert h3.cell_to_center_child(parent, 9) == c
    assert model.counts(ViewQuery(level="h3_7", region=OTHER))["count"].sum() > 0


def test_crafted_requests_never_return_incidents_of_the_other_region(store: Store) -> None:
    client = _app(store).server.test_client()
    _login(client, "ana")
    seen = _post_everything(client)
    assert {status for _, status, _ in seen} <= {200, 204, 400, 403}
    assert any(any(n in body for n in SECRET_NAMES) for _, s, body in seen if s == 200)
    leaked = [o for o, _, body in seen if "SECRETINC" in body]
    assert not leaked, leaked[:3]


def test_an_analyst_without_the_flag_sees_nothing_of_the_other_region(store: Store) -> None:
    client = _app(store).server.test_client()
    _login(client, "ana0")
    seen = _post_everything(client)
    leaked = [o for o, _, body in seen
              if any(m in body for m in (*SECRET_NAMES, "SECRETINC", "smuggling"))]
    assert not leaked, leaked[:3]
    body = _call(client, _IDS.MAP_FIGURE, _controls(OTHER, MARCH))
    assert not any(n in json.dumps(body) for n in SECRET_NAMES)


def test_the_admin_page_and_cli_show_and_set_the_flag(store: Store) -> None:
    from click.testing import CliRunner

    from riskmap.app.callbacks.admin import user_rows
    from riskmap.cli import cli

    rows = {r["username"]: r["scope"] for r in user_rows(store, tz="Asia/Tashkent")}
    assert rows["ana"].endswith("other regions suppressed")
    assert "suppressed" not in rows["ana0"]
    run = CliRunner().invoke(cli, ["users", "roles", "ana0", "--role", "analyst", "--region",
                                   REGION, "--suppressed-elsewhere", "--store", store.url])
    assert run.exit_code == 0, run.output
    assert accounts.get_user(store, "ana0")["suppressed_elsewhere"]
    bad = CliRunner().invoke(cli, ["users", "roles", "ana0", "--role", "analyst",
                                   "--all-regions", "--suppressed-elsewhere",
                                   "--store", store.url])
    assert bad.exit_code == 2 and "needs a scope" in bad.output
    off = CliRunner().invoke(cli, ["users", "roles", "ana", "--role", "analyst", "--region",
                                   REGION, "--store", store.url])
    assert off.exit_code == 0 and not accounts.get_user(store, "ana")["suppressed_elsewhere"]


def test_the_export_applies_the_same_suppression(store: Store, tmp_path: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from riskmap.cli import cli

    out = tmp_path / "inc.csv"
    run = CliRunner().invoke(cli, ["export", "incidents", "--region", REGION,
                                   "--suppressed-elsewhere", "-o", str(out),
                                   "--store", store.url])
    assert run.exit_code == 0, run.output
    table = pd.read_csv(out)
    theirs = table[table["region"] == OTHER]
    assert len(theirs) == 300 and theirs["suppressed"].all()
    assert theirs["incident_id"].isna().all() and theirs["source_file"].isna().all()
    assert not table["incident_id"].astype(str).str.contains("SECRETINC").any()
    assert theirs["occurred_at"].str.contains(r"-01T00:00:00\+05:00").all()
    for lat, lon in zip(theirs["lat"], theirs["lon"], strict=True):
        coarse = h3.latlng_to_cell(lat, lon, SUPPRESSED_H3_RES)
        clat, clon = h3.cell_to_latlng(coarse)
        assert np.isclose(lat, clat) and np.isclose(lon, clon)
    mine = table[table["region"] == REGION]
    assert len(mine) == 300 and not mine["suppressed"].any()
    plain = CliRunner().invoke(cli, ["export", "incidents", "--region", REGION, "-o",
                                     str(out), "--store", store.url])
    assert plain.exit_code == 0 and set(pd.read_csv(out)["region"]) == {REGION}
