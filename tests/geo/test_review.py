"""The pure figures of a review pack (geo/review.py) on hand-checkable frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskmap.geo.review import Period, parse_period, review_figures
from riskmap.geo.status import StatusRule, status_history
from tests import fixtures


@pytest.mark.parametrize(("text", "expected", "previous", "last_year"), [
    ("2025-06", Period(2025, 6, "month"), "2025-05", "2024-06"),
    ("2025-01", Period(2025, 1, "month"), "2024-12", "2024-01"),
    ("2025-Q2", Period(2025, 4, "quarter"), "2025-Q1", "2024-Q2"),
    ("2025-Q1", Period(2025, 1, "quarter"), "2024-Q4", "2024-Q1"),
    ("2025-H1", Period(2025, 1, "half"), "2024-H2", "2024-H1"),
    ("2025-H2", Period(2025, 7, "half"), "2025-H1", "2024-H2"),
])
def test_periods_parse_and_step(text: str, expected: Period, previous: str,
                                last_year: str) -> None:
    p = parse_period(text)
    assert p == expected and p.label == text
    assert (p.previous().label, p.last_year().label) == (previous, last_year)
    assert p.end == p.start + pd.DateOffset(months=p.n_months)


@pytest.mark.parametrize("bad", ["2025-13", "2025-00", "2025-Q5", "2025-H3", "2025-6", "25-06",
                                 "2025-q2", "2025-06-01", "", " ", "June", "2025-Q2x"])
def test_bad_periods_are_refused_with_one_message(bad: str) -> None:
    with pytest.raises(ValueError, match=r"is not a month \(2025-06\), a quarter"):
        parse_period(bad)


def _incidents(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame({"mahalla_id": [r[0] for r in rows],
                         "occurred_at": pd.to_datetime([r[1] for r in rows], utc=True),
                         "category": [r[2] for r in rows]})


def test_month_figures_by_hand() -> None:
    inc = _incidents([
        ("M1", "2025-06-03T10:00Z", "theft"),
        ("M1", "2025-06-04T10:00Z", "drugs"),
        ("M2", "2025-05-31T19:30Z", "theft"),      # 00:30 on 1 June in Tashkent
        ("M2", "2025-05-10T10:00Z", "cybercrime"),
        ("M3", "2024-06-15T10:00Z", "theft"),
        ("M9", "2025-06-20T10:00Z", "theft"),      # a mahalla not in the layer
    ])
    f = review_figures(inc, fixtures.mahallas(), "2025-06", region="Jizzakh",
                       tz="Asia/Tashkent")
    assert (f.incidents, f.incidents_previous_period, f.incidents_same_period_last_year) \
        == (4, 1, 1)
    assert f.mahallas["count"].tolist() == [2, 1, 0, 0]
    assert f.mahallas["count_previous"].tolist() == [0, 1, 0, 0]
    assert f.crime_free == ["M3", "M4"]
    assert f.mahallas["rate_per_1000"].iloc[0] == pytest.approx(2 * 1000 / 1200)
    assert dict(zip(f.by_category["category"], f.by_category["count"], strict=True)) == {
        "theft": 3, "drugs": 1, "cybercrime": 0}
    assert f.focus["drugs"] == {"count": 1, "count_previous": 0, "count_last_year": 0,
                                "top": [["M1", 1]]}
    assert f.focus["cybercrime"]["count_previous"] == 1
    assert f.monthly["month"].iloc[-1] == "2025-06" and f.monthly["count"].iloc[-1] == 4
    assert f.monthly["month"].iloc[0] == "2024-07" and f.monthly["count"].sum() == 6 - 1
    # in UTC the 19:30 incident falls in May
    g = review_figures(inc, fixtures.mahallas(), "2025-06", region="Jizzakh", tz="UTC")
    assert (g.incidents, g.incidents_previous_period) == (3, 2)
    js = f.to_json()
    assert js["by_category"] == {"theft": 3, "drugs": 1}
    assert js["crime_free_mahallas"] == 2 and js["mahallas"] == 4
    assert js["previous_period"] == "2025-05" and js["period_end"] == "2025-06-30"


def test_red_sets_follow_the_status_rule_over_the_period() -> None:
    rng = np.random.default_rng(3)
    ids = np.array(["M1", "M2", "M3", "M4"])
    # M1 busy in Q1, M2 busy in Q2: the rate rule (top decile) flags the busiest
    who = np.concatenate([np.repeat(["M1"], 30), np.repeat(["M2"], 30), rng.choice(ids, 12)])
    days = np.concatenate([rng.integers(0, 89, 30), 90 + rng.integers(0, 90, 30),
                           rng.integers(0, 180, 12)])
    t = pd.Timestamp("2025-01-01T06:00Z") + pd.to_timedelta(days, unit="D")
    inc = pd.DataFrame({"mahalla_id": who, "occurred_at": t, "category": "theft"})
    m = fixtures.mahallas()
    f = review_figures(inc, m, "2025-Q2", region="Jizzakh", tz="UTC")
    hist = status_history(inc, m, start="2025-03-01", end="2025-06-01",
                          rule=StatusRule(window_months=3))
    now = hist[hist["month"] == pd.Timestamp("2025-06-01", tz="UTC")].set_index("mahalla_id")
    before = hist[hist["month"] == pd.Timestamp("2025-03-01", tz="UTC")].set_index("mahalla_id")
    red_now = set(now.index[now["status"] == "red"])
    red_before = set(before.index[before["status"] == "red"])
    assert "M2" in red_now and "M1" in red_before
    assert set(f.red_new) == red_now - red_before
    assert set(f.red_left) == red_before - red_now
    assert set(f.red_still) == red_now & red_before
    assert f.mahallas.set_index("mahalla_id")["why"].loc["M2"].startswith("red: ")
    assert set(f.forecast["method"]) == {"previous period counts", "previous red list"}


def test_no_incidents_gives_zeros_not_errors() -> None:
    f = review_figures(_incidents([]), fixtures.mahallas(), "2025-H1", region="Jizzakh")
    assert (f.incidents, f.red_new, f.red_still) == (0, [], [])
    assert f.crime_free == ["M1", "M2", "M3", "M4"]
    assert f.forecast["hit_rate"].isna().all()
    assert f.to_json()["by_category"] == {}


def test_focus_groups_by_hand_with_small_counts_hidden() -> None:
    inc = _incidents([
        ("M1", "2025-06-03T10:00Z", "domestic_violence"),
        ("M1", "2025-06-04T10:00Z", "theft"),
        ("M2", "2025-06-05T10:00Z", "theft"),
        ("M2", "2025-05-10T10:00Z", "assault"),
    ])
    inc["victim_sex"] = ["female", "female", None, "female"]
    inc["offender_age_group"] = ["adult", "minor", "youth", None]
    inc["domestic"] = pd.array([True, False, None, True], dtype="boolean")
    f = review_figures(inc, fixtures.mahallas(), "2025-06", region="Jizzakh", tz="UTC")
    got = f.focus_groups.set_index("group")
    assert got.loc["women", "count"] == "2" and got.loc["women", "count_previous"] == "1"
    assert got.loc["minors", "count"] == "1" and got.loc["youth", "count"] == "1"
    assert got.loc["family", "count"] == "1" and got.loc["repeat", "count"] == "0"
    assert f.to_json()["focus_groups"]["women"]["count"] == "2"
    hidden = review_figures(inc, fixtures.mahallas(), "2025-06", region="Jizzakh", tz="UTC",
                            focus_hide_below=5).focus_groups
    assert set(hidden["count"]) == {"< 5"}
    # no focus fields: no section
    assert review_figures(inc[["mahalla_id", "occurred_at", "category"]], fixtures.mahallas(),
                          "2025-06", region="Jizzakh").focus_groups is None
