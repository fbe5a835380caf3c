"""Audit of opened views: one ``view`` record per distinct (page, query) per minute."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import parse_qsl

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from riskmap.app.callbacks import overview as overview_cb
from riskmap.app.callbacks.planner import plan_params
from riskmap.app.callbacks.tourism import view_params
from riskmap.app.commanders_data import CommandersView
from riskmap.app.data import AppModel, ViewQuery
from riskmap.app.urlstate import encode_params, parse_list, parse_window, search_string
from riskmap.app.viewaudit import ViewAuditor
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store


class FakeClock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _views(store: Store) -> pd.DataFrame:
    if not store.has("audit"):
        return pd.DataFrame(columns=["action", "layer", "detail", "user"])
    audit = store.read("audit")
    return audit[(audit["action"] == "view").to_numpy(bool)].reset_index(drop=True)


@pytest.fixture
def store(make_store: Any) -> Store:
    return make_store()


def test_one_record_per_view_per_window(store: Store) -> None:
    clock = FakeClock()
    auditor = ViewAuditor(DataAccess(store, user="ana"), window_s=60, clock=clock)
    assert auditor.record("overview", {"level": "h3_8"})
    assert not auditor.record("overview", {"level": "h3_8"})       # same view: no record
    assert auditor.record("overview", {"level": "h3_9"})           # another query
    assert auditor.record("commanders", {"level": "h3_8"})         # another page
    clock.now += 59.9
    assert not auditor.record("overview", {"level": "h3_8"})
    clock.now += 0.2                                                 # 60.1 s after the first
    assert auditor.record("overview", {"level": "h3_8"})
    assert auditor.record("overview")                                # the default view
    got = _views(store)
    assert list(got["layer"]) == ["overview", "overview", "commanders", "overview", "overview"]
    assert list(got["detail"].iloc[:4].map(json.loads)) == [
        {"level": "h3_8"}, {"level": "h3_9"}, {"level": "h3_8"}, {"level": "h3_8"}]
    assert pd.isna(got["detail"].iloc[4]) and set(got["user"]) == {"ana"}


def test_parameter_order_does_not_make_a_new_view(store: Store) -> None:
    auditor = ViewAuditor(DataAccess(store, user="ana"), clock=FakeClock())
    assert auditor.record("planner", {"area": "A", "budget": "5"})
    assert not auditor.record("planner", {"budget": "5", "area": "A"})
    assert len(_views(store)) == 1


def test_no_record_when_auditing_is_off(store: Store) -> None:
    auditor = ViewAuditor(DataAccess(store, user="ana", audit=False), clock=FakeClock())
    assert auditor.record("overview", {"level": "h3_8"})  # "written" to a disabled log
    assert len(_views(store)) == 0


def test_overview_show_audits_each_distinct_view_once(store: Store) -> None:
    model = AppModel(DataAccess(store, user="cmdr")).load()
    q8 = overview_cb.query_from_controls("h3_8", None, None, "2025-01-01", None, ["theft"],
                                         [])
    for _ in range(3):  # a re-render of the same view (resize, zoom) writes nothing more
        _, _, search, _ = overview_cb.show(model, q8)
    assert search == "?level=h3_8&start=2025-01-01&categories=theft"
    overview_cb.show(model, ViewQuery())
    got = _views(store)
    assert list(got["layer"]) == ["overview", "overview"]
    assert json.loads(got["detail"].iloc[0]) == {"level": "h3_8", "start": "2025-01-01",
                                                 "categories": "theft"}
    assert pd.isna(got["detail"].iloc[1]) and set(got["user"]) == {"cmdr"}


def test_audited_parameters_of_planner_and_tourism() -> None:
    assert plan_params(None, "7", None, ["grid"], "kde") == {"budget": "7", "candidates": "grid",
                                                            "risk": "kde"}
    assert view_params("Z1", "police") == {"zone": "Z1"}
    assert view_params("Z1", "emergency") == {"zone": "Z1", "source": "emergency"}


def test_url_helpers_by_hand() -> None:
    assert parse_window({"start": "2025-02-01", "end": "bad"}) == (date(2025, 2, 1), None)
    assert parse_window({"start": "2025-02-01", "end": "2025-01-01"}) == (
        date(2025, 1, 1), date(2025, 2, 1))
    assert parse_list(["a", " a", "", "b"]) == ("a", "b")
    assert encode_params([("x", 0), ("y", []), ("z", ["p", "q"])]) == {"x": "0", "z": "p,q"}
    assert search_string({"region": "Jizzax viloyati"}) == "?region=Jizzax+viloyati"


_names = st.text(alphabet="abcxyzʻ' ", min_size=1, max_size=8).filter(lambda s: s.strip() == s)
_days = st.one_of(st.none(), st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)))


@given(level=st.sampled_from(["mahalla", "h3"]), metric=st.sampled_from(["count", "gi_class"]),
       region=st.one_of(st.none(), _names), mahalla=st.one_of(st.none(), _names),
       days=st.tuples(_days, _days),
       cats=st.lists(st.sampled_from(["theft", "fraud", "assault"]), unique=True),
       layers=st.lists(st.sampled_from(["kde", "cameras"]), unique=True))
def test_commanders_view_round_trips_through_the_url(level: str, metric: str,
                                                     region: str | None, mahalla: str | None,
                                                     days: tuple[date | None, date | None],
                                                     cats: list[str], layers: list[str]) -> None:
    start, end = days
    if start is not None and end is not None and start > end:
        start, end = end, start
    view = CommandersView(level=level, metric=metric, region=region, start=start, end=end,
                          categories=tuple(cats), layers=tuple(layers), mahalla=mahalla)
    params = dict(parse_qsl(view.to_search()[1:]))
    assert CommandersView.from_params(params) == view
    assert all(v != "" for v in params.values())
