"""Tests for geo.status: monthly green/yellow/red mahalla status on tiny hand-made cases."""

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from riskmap.geo.status import StatusRule, became_red, crime_free, left_red, status_history


def _grid(nx: int, ny: int) -> gpd.GeoDataFrame:
    polys = [
        shapely.box(
            69 + 0.01 * (k % nx),
            41 + 0.01 * (k // nx),
            69 + 0.01 * (k % nx + 1),
            41 + 0.01 * (k // nx + 1),
        )
        for k in range(nx * ny)
    ]
    return gpd.GeoDataFrame(
        {"mahalla_id": [f"m{k}" for k in range(nx * ny)], "population": 1000.0},
        geometry=polys,
        crs=4326,
    )


def _incidents(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "mahalla_id": [r[0] for r in rows],
            "occurred_at": pd.to_datetime([r[1] for r in rows], utc=True),
            "category": "theft",
        }
    )


@pytest.fixture
def tiny():
    mahallas = _grid(5, 2)
    mahallas.loc[9, "population"] = np.nan
    rows = [("m0", "2025-01-10")] * 5 + [("m2", "2025-02-03")] * 2
    rows += [("m1", "2025-03-04"), ("m9", "2025-03-20"), ("zz", "2025-03-01")]
    return mahallas, _incidents(rows)


def test_history_hand_checked(tiny):
    mahallas, inc = tiny
    rule = StatusRule(window_months=2)
    h = status_history(inc, mahallas, start="2025-01-01", end="2025-03-31", rule=rule)
    assert h.shape[0] == 30
    st = h.pivot(index="mahalla_id", columns="month", values="status")
    jan, feb, mar = st.columns
    # Jan: rates [5, 0, ...] -> top-10% threshold = 1.0 -> m0 red
    assert st[jan].to_dict() == {f"m{k}": ("red" if k == 0 else "green") for k in range(10)}
    # Feb (Jan+Feb): m0 5, m2 2 -> threshold 2.6 -> m0 red, m2 yellow
    assert st.loc[["m0", "m2", "m1"], feb].tolist() == ["red", "yellow", "green"]
    # Mar (Feb+Mar): m1 1, m2 2, m9 1 (no population) -> threshold 1.2
    assert st.loc[["m0", "m1", "m2", "m9", "m5"], mar].tolist() == [
        "green",
        "yellow",
        "red",
        "yellow",
        "green",
    ]
    why = h.set_index(["mahalla_id", "month"])["why"]
    assert why[("m0", jan)] == (
        "red: 5 incidents in 2 months, 5.0 per 1,000 (top 10%: >= 1.0); Gi* z=1.2 not significant"
    )
    assert why[("m5", jan)] == "green: no recorded crime in 2 months"
    assert "rate n/a (population unknown)" in why[("m9", mar)]
    assert h.loc[(h.mahalla_id == "m2") & (h.month == mar), "rate_per_1000"].item() == 2.0
    assert became_red(h) == ["m2"]
    assert left_red(h) == ["m0"]
    assert became_red(h, "2025-02-15") == []
    assert became_red(h, "2025-01-01") == ["m0"]
    assert crime_free(h) == ["m0", "m3", "m4", "m5", "m6", "m7", "m8"]


def test_default_twelve_month_window_and_categories(tiny):
    mahallas, inc = tiny
    h = status_history(inc, mahallas, start="2025-03-01", end="2025-03-01")
    assert h.loc[h.mahalla_id == "m0", "count"].item() == 5  # Jan still in the 12-month window
    none = status_history(inc, mahallas, start="2025-03-01", end="2025-03-01", categories=["fraud"])
    assert (none["status"] == "green").all()


def test_gi_hot_cluster_is_red_without_rate_rule():
    mahallas = _grid(6, 6)
    rng = np.random.default_rng(0)
    rows = [(f"m{k}", "2025-05-05") for k in rng.integers(0, 36, 30)]
    cluster = [7, 8, 9, 13, 14, 15, 19, 20, 21]
    rows += [(f"m{k}", "2025-05-06") for k in cluster for _ in range(12)]
    h = status_history(
        _incidents(rows),
        mahallas,
        start="2025-05-01",
        end="2025-05-01",
        rule=StatusRule(top_share=0.0),
    )
    row = h.set_index("mahalla_id").loc["m14"]
    assert row["status"] == "red"
    assert row["gi_class"] in ("hot_95", "hot_99")
    assert "per 1,000; Gi* z=" in row["why"]  # no rate threshold when top_share = 0
    assert "Gi* z=" in row["why"] and "%" in row["why"].split("Gi*")[1]
    assert set(h.loc[h.status == "red", "mahalla_id"]) <= {f"m{k}" for k in cluster} | {
        "m1",
        "m2",
        "m3",
        "m6",
        "m10",
        "m12",
        "m16",
        "m18",
        "m22",
        "m24",
        "m25",
        "m26",
        "m27",
    }


def test_rule_validation():
    with pytest.raises(ValueError, match="gi_confidence"):
        StatusRule(gi_confidence=80)
    with pytest.raises(ValueError, match="window_months"):
        StatusRule(window_months=0)
