"""Roadmap rules: overdue, progress, counts, opening and closing (pure, hand-checked values)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from riskmap.geo.roadmap import (
    ROLE_CODES,
    closing_rows,
    measure_counts,
    members_frame,
    opening_rows,
    overdue,
    progress_share,
)

TODAY = pd.Timestamp("2025-07-10")


def _history(statuses: dict[str, list[str]]) -> pd.DataFrame:
    months = pd.date_range("2025-04-01", periods=3, freq="MS", tz="UTC")
    rows = [{"mahalla_id": m, "month": months[i], "status": s, "why": f"{m} {s} {i}",
             "count": 10 * (i + 1), "rate_per_1000": 1.5 * (i + 1)}
            for m, ss in statuses.items() for i, s in enumerate(ss)]
    return pd.DataFrame(rows)


PLACES = pd.DataFrame({"mahalla_id": ["A", "B", "C"], "region": ["R"] * 3,
                       "district": ["D1", "D1", "D2"]})


def test_overdue_only_open_measures_due_before_today() -> None:
    due = pd.Series(pd.to_datetime(["2025-07-09", "2025-07-10", "2025-07-01", "2025-07-01",
                                    "2025-07-01", None]))
    status = ["planned", "planned", "in_progress", "done", "cancelled", "planned"]
    assert overdue(due, status, TODAY).tolist() == [True, False, True, False, False, False]
    # a timezone-aware "now" and due dates are compared as days
    aware = overdue(due.dt.tz_localize("UTC"), status,
                    pd.Timestamp("2025-07-10 23:00", tz="Asia/Tashkent"))
    assert aware.tolist() == [True, False, True, False, False, False]
    assert overdue(pd.Series([], dtype=object), [], TODAY).tolist() == []


def test_progress_leaves_cancelled_out() -> None:
    assert progress_share(["done", "done", "planned", "cancelled"]) == 2 / 3
    assert progress_share(["cancelled"]) is None
    assert progress_share(np.array([], dtype=object)) is None


def test_measure_counts_per_roadmap() -> None:
    m = pd.DataFrame({"roadmap_id": ["R1", "R1", "R1", "R2"],
                      "status": ["planned", "done", "in_progress", "cancelled"],
                      "due_date": pd.to_datetime(["2025-07-01", "2025-07-01", "2025-08-01",
                                                  "2025-01-01"])})
    c = measure_counts(m, TODAY)
    assert c.loc["R1"].tolist() == [3, 2, 1, 1, 1 / 3]
    assert c.loc["R2", "total"] == 1 and np.isnan(c.loc["R2", "progress"])
    assert measure_counts(m.iloc[0:0], TODAY).empty


def test_opening_once_per_red_mahalla() -> None:
    h = _history({"A": ["green", "red", "red"], "B": ["red", "red", "yellow"],
                  "C": ["green", "green", "red"]})
    now = pd.Timestamp("2025-07-02", tz="UTC")
    opened = opening_rows(h, pd.DataFrame(columns=["mahalla_id", "status"]), PLACES, now)
    assert opened["roadmap_id"].tolist() == ["A@2025-06", "C@2025-06"]
    assert opened["opened_because"].tolist() == ["A red 2", "C red 2"]
    assert opened["district"].tolist() == ["D1", "D2"]
    assert (opened["status"] == "open").all()
    # idempotent: with those open, nothing more opens
    assert opening_rows(h, opened, PLACES, now).empty
    # a mahalla not among the places (outside the scope) is never opened
    assert opening_rows(h, opened.iloc[0:0], PLACES.iloc[:1], now)["mahalla_id"].tolist() \
        == ["A"]


def test_closing_when_no_longer_red_after_opening() -> None:
    h = _history({"A": ["red", "red", "green"], "B": ["red", "red", "red"],
                  "C": ["red", "yellow", "yellow"]})
    r = pd.DataFrame({"roadmap_id": ["A@2025-04", "B@2025-04", "C@2025-06", "C@2025-04"],
                      "mahalla_id": ["A", "B", "C", "C"],
                      "status": ["open", "open", "open", "closed"],
                      "opened_month": pd.to_datetime(["2025-04-01", "2025-04-01",
                                                      "2025-06-01", "2025-04-01"], utc=True)})
    now = pd.Timestamp("2025-07-02", tz="UTC")
    closed = closing_rows(r, h, now)
    # A left red; B is still red; C was opened at the last month (not later); closed stay
    assert closed["roadmap_id"].tolist() == ["A@2025-04"]
    assert closed["status"].tolist() == ["closed"] and closed["closed_at"].iloc[0] == now
    figures = json.loads(closed["closed_figures"].iloc[0])
    assert figures == {
        "opening": {"month": "2025-04", "status": "red", "count": 10, "rate_per_1000": 1.5},
        "closing": {"month": "2025-06", "status": "green", "count": 30, "rate_per_1000": 4.5}}
    # idempotent: after the closing is written, nothing more closes
    r.loc[0, "status"] = "closed"
    assert closing_rows(r, h, now).empty
    assert closing_rows(r.iloc[0:0], h, now).empty and closing_rows(r, h.iloc[0:0], now).empty


def test_members_in_role_order() -> None:
    f = members_frame([{"role": "social_worker", "name": "Karimova", "phone": "+998 90"},
                       {"role": "bogus", "name": "x"}, "not a dict"])  # type: ignore[list-item]
    assert f["role"].tolist() == list(ROLE_CODES) and len(ROLE_CODES) == 7
    assert f.set_index("role").loc["social_worker"].tolist() == ["Karimova", "+998 90"]
    assert f["name"].tolist().count("") == 6
    assert members_frame(None)["name"].tolist() == [""] * 7
