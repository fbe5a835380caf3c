"""Which H3 cells a map draws (app/h3_view.py) and the overview's answers built on it: at most
``max_cells`` cells, the finest resolution within that, only near the view when zoomed in,
counts kept whole; crafted views from the browser are refused, never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import shapely

from riskmap.app import ids
from riskmap.app.callbacks.overview import render
from riskmap.app.data import AppModel, ViewQuery
from riskmap.app.h3_view import cells_for_view, cells_in_box, in_view, needs_redraw
from riskmap.auth import accounts
from riskmap.geo.h3index import cell_polygons, parents
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store
from tests.app.conftest import wide_world
from tests.app.test_auth import ORIGIN, PASSWORD, _app, _callbacks, _login, _outputs

_IDS = ids.OVERVIEW


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return wide_world(tmp_path_factory.mktemp("wide"))


@pytest.fixture(scope="module")
def model(store: Store) -> AppModel:
    return AppModel(DataAccess(store, user="t", audit=False))


@pytest.fixture(scope="module")
def cells9(store: Store) -> np.ndarray:
    return store.read("incidents")["h3"].to_numpy(dtype="int64")


def _n_cells(cells9: np.ndarray, res: int) -> int:
    return len(np.unique(cells9 if res == 9 else parents(cells9, res)))


def test_the_finest_resolution_within_the_limit_with_every_incident(
        model: AppModel, cells9: np.ndarray) -> None:
    n = {res: _n_cells(cells9, res) for res in range(5, 10)}
    assert n[9] > n[8] > 2_000 > n[7] > 400 > n[6] > 50 > n[5]  # every limit below bites
    for limit in (100_000, 2_000, 400, 50, 10):
        got = cells_for_view(model, ViewQuery(level="h3_9"), None, max_cells=limit)
        finer = [r for r in range(5, 10) if n[r] <= limit]
        assert got.res == (max(finer) if finer else 5), limit
        assert len(got.units) == n[got.res] and got.chosen == 9 and got.box is None
        assert got.coarser == (got.res < 9)
        # coarser cells hold the same incidents
        assert int(got.units["count"].sum()) == len(cells9) == 3000
        assert np.isclose(got.units["share"].sum(), 100.0)


def test_zoomed_in_only_the_cells_near_the_view_at_the_chosen_resolution(
        model: AppModel, cells9: np.ndarray) -> None:
    rng = [68.1, 68.2, 40.3, 40.36]  # a view 0.1 x 0.06 degrees inside the world
    got = cells_for_view(model, ViewQuery(level="h3_9"), rng, max_cells=400)
    assert got.res == 9 and not got.coarser
    assert got.box == pytest.approx((68.05, 40.27, 68.25, 40.39))
    x, y = got.units["x"].to_numpy(), got.units["y"].to_numpy()
    assert ((x >= 68.05) & (x <= 68.25) & (y >= 40.27) & (y <= 40.39)).all()
    # every cell that shows in the view is drawn, and the summary counts exactly those
    uniq, n = np.unique(cells9, return_counts=True)
    view = shapely.box(rng[0], rng[2], rng[1], rng[3])
    shown = shapely.intersects(cell_polygons(uniq), view)
    drawn = set(got.units["h3"].to_numpy(dtype="int64").tolist())
    assert set(uniq[shown].tolist()) <= drawn
    assert int(got.units["count"].to_numpy()[in_view(got, rng)].sum()) == int(n[shown].sum())


def test_a_move_redraws_only_when_it_must(model: AppModel) -> None:
    q = ViewQuery(level="h3_9")
    whole = cells_for_view(model, q, None, max_cells=400)
    assert whole.coarser
    drawn = {"range": None, "res": whole.res}

    def count(res: int, box: tuple[float, float, float, float]) -> int:
        return cells_in_box(model, q, res, box)

    # a small zoom on the coarse whole: still too many finer cells, nothing to redraw
    assert not needs_redraw(drawn, [67.9, 68.7, 40.15, 40.7], 9, 400, count=count)
    # far in: finer cells fit, redraw
    assert needs_redraw(drawn, [68.1, 68.2, 40.3, 40.36], 9, 400, count=count)
    zoomed = {"range": [68.1, 68.2, 40.3, 40.36], "res": 9}
    assert not needs_redraw(zoomed, [68.12, 68.22, 40.31, 40.37], 9, 400)  # a short pan
    assert needs_redraw(zoomed, [68.3, 68.4, 40.3, 40.36], 9, 400)         # out of the box
    for junk in (None, "x", {"res": "9"}, {"res": True}, {"res": 10, "range": None}):
        assert needs_redraw(junk, [68.1, 68.2, 40.3, 40.36], 9, 400)


def test_the_summary_says_when_the_cells_are_coarser(model: AppModel) -> None:
    _, text, drawn = render(model, ViewQuery(level="h3_9"), limit=400)
    assert drawn["range"] is None and drawn["res"] < 9
    assert text.startswith("3,000 incidents in ") and f"(res {drawn['res']})" in text
    assert text.endswith("all dates · res 9 when zoomed in")
    _, text, drawn = render(model, ViewQuery(level="h3_9"), [68.1, 68.2, 40.3, 40.36], limit=400)
    assert drawn == {"range": [68.1, 68.2, 40.3, 40.36], "res": 9}
    assert "(res 9), all dates" in text and "zoomed in" not in text


def test_crafted_views_from_the_browser_get_a_map_or_nothing(tmp_path: Path,
                                                             store: Store) -> None:
    accounts.add_user(store, "ana", PASSWORD, role="analyst", regions=["Jizzax viloyati"])
    client = _app(store, map={"max_cells": 400}).server.test_client()
    _login(client, "ana")
    cb = next(cb for cb in _callbacks(client)
              if f"{_IDS.FIGURE}.data" in _outputs(cb)[0])
    out, outs = _outputs(cb)

    def post(view: Any, drawn: Any) -> Any:
        values = {f"{_IDS.LEVEL}.value": "h3_9", f"{_IDS.RANGE}.data": view,
                  f"{_IDS.DRAWN}.data": drawn}

        def value(d: dict[str, str]) -> Any:
            return values.get(f"{d['id']}.{d['property']}")
        res = client.post("/_dash-update-component", headers=ORIGIN, json={
            "output": out, "outputs": outs,
            "inputs": [{**i, "value": value(i)} for i in cb["inputs"]],
            "state": [{**s, "value": value(s)} for s in cb["state"]],
            "changedPropIds": [f"{_IDS.RANGE}.data"]})
        assert res.status_code in (200, 204, 400), res.get_data(as_text=True)[:300]
        return res

    junk = [None, "x", [1, 2, 3], {"range": ["a", 1, 2, 3]}, {"range": [1e308, -1e308, 0, 1]},
            {"range": [float("nan"), 1, 2, 3]}, {"range": [68.0, 68.0, 40.0, 40.1]},
            {"range": list(range(10**4))}, {"range": [0, 600, 0, 1]}]
    for view in junk:  # no view: nothing to draw again
        assert post(view, {"range": None, "res": 6}).status_code in (204, 400), view
    # a real view with a crafted record of what was drawn: drawn again, within the limit
    for drawn in ("x", {"res": [9]}, {"res": 99, "range": "a"}):
        res = post({"range": [68.1, 68.2, 40.3, 40.36]}, drawn)
        assert res.status_code == 200, drawn
        body = res.get_json()["response"]
        assert body[_IDS.DRAWN]["data"] == {"range": [68.1, 68.2, 40.3, 40.36], "res": 9}
        polygons = [t for t in body[_IDS.FIGURE]["data"]["data"]
                    if (t.get("meta") or {}).get("kind") == "h3"]
        assert 0 < sum(len(t["locations"]) for t in polygons) <= 400
