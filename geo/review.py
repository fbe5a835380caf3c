"""Figures of a review pack (month, quarter, half-year) from incident and mahalla frames.

Pure: frames in, a :class:`ReviewFigures` of plain frames and lists out (no I/O). Periods are
calendar months, quarters or half-years in *local* time: ``occurred_at`` (UTC) is turned into
the local wall-clock time of ``tz`` before anything is counted, so a period means what the
people reading the pack mean by it.

"Red" of a period is the project's status rule (:func:`geo.status.status_history`) with a
window of exactly the period's months, taken at its last month: red = a Gi* hot spot at 95 %
(FDR) among the region's mahallas or the top decile of the rate per 1,000 residents in the
period, and at least one incident in it; green (crime-free) = no recorded incident in the
period.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd

from riskmap.geo.aggregate import rate_per_1000, unit_codes
from riskmap.geo.focus import FOCUS_FIELDS, FOCUS_GROUPS, focus_bits, group_mask
from riskmap.geo.forecast_metrics import score_selection
from riskmap.geo.status import StatusRule, status_history
from riskmap.geo.surface import utm_crs

__all__ = ["FOCUS_CATEGORIES", "Period", "ReviewFigures", "local_wall_time", "parse_period",
           "review_figures"]

#: the categories the programme follows on their own (shown with their own section)
FOCUS_CATEGORIES = ("drugs", "cybercrime")
_PERIOD = re.compile(r"(?P<year>\d{4})-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<q>[1-4])|H(?P<h>[12]))")
_KIND_MONTHS = {"month": 1, "quarter": 3, "half": 6}
#: area shares at which the forecast check scores the selection
_COVERAGES = (0.10, 0.20)


@dataclass(frozen=True)
class Period:
    """A calendar month, quarter or half-year.

    Examples
    --------
    >>> p = parse_period("2025-Q1")
    >>> p.label, p.previous().label, p.last_year().label, p.months
    ('2025-Q1', '2024-Q4', '2024-Q1', ['2025-01', '2025-02', '2025-03'])
    >>> parse_period("2025-06").previous().label, parse_period("2025-H1").previous().label
    ('2025-05', '2024-H2')
    """

    year: int
    first_month: int
    kind: str  # "month", "quarter" or "half"

    @property
    def n_months(self) -> int:
        """Number of months (1, 3 or 6)."""
        return _KIND_MONTHS[self.kind]

    @property
    def label(self) -> str:
        """``2025-06``, ``2025-Q2`` or ``2025-H1``."""
        if self.kind == "month":
            return f"{self.year}-{self.first_month:02d}"
        if self.kind == "quarter":
            return f"{self.year}-Q{(self.first_month - 1) // 3 + 1}"
        return f"{self.year}-H{(self.first_month - 1) // 6 + 1}"

    @property
    def start(self) -> pd.Timestamp:
        """First instant (local wall-clock time, written as UTC)."""
        return pd.Timestamp(self.year, self.first_month, 1, tz="UTC")

    @property
    def end(self) -> pd.Timestamp:
        """The instant after the period (exclusive)."""
        return self.start + pd.DateOffset(months=self.n_months)

    @property
    def last_month(self) -> pd.Timestamp:
        """Start of the period's last month."""
        return self.start + pd.DateOffset(months=self.n_months - 1)

    @property
    def months(self) -> list[str]:
        """The period's months as ``YYYY-MM``."""
        return [(self.start + pd.DateOffset(months=i)).strftime("%Y-%m")
                for i in range(self.n_months)]

    def shifted(self, months: int) -> Period:
        """The period of the same kind ``months`` months later (negative: earlier)."""
        m = self.year * 12 + self.first_month - 1 + months
        return Period(m // 12, m % 12 + 1, self.kind)

    def previous(self) -> Period:
        """The period just before (2025-Q1 -> 2024-Q4)."""
        return self.shifted(-self.n_months)

    def last_year(self) -> Period:
        """The same period a year earlier."""
        return self.shifted(-12)


def parse_period(text: str) -> Period:
    """Parse ``2025-06`` (a month), ``2025-Q2`` (a quarter) or ``2025-H1`` (a half-year).

    Raises
    ------
    ValueError
        Anything else (the message says what is expected).

    Examples
    --------
    >>> parse_period("2025-H2")
    Period(year=2025, first_month=7, kind='half')
    >>> parse_period("2025-13")
    Traceback (most recent call last):
    ...
    ValueError: period '2025-13' is not a month (2025-06), a quarter (2025-Q2) or a half-year (2025-H1)
    """
    got = _PERIOD.fullmatch(str(text).strip()) if isinstance(text, str) else None
    if got is None:
        raise ValueError(f"period {str(text)[:40]!r} is not a month (2025-06), a quarter "
                         "(2025-Q2) or a half-year (2025-H1)")
    year = int(got["year"])
    if got["month"]:
        return Period(year, int(got["month"]), "month")
    if got["q"]:
        return Period(year, 3 * (int(got["q"]) - 1) + 1, "quarter")
    return Period(year, 6 * (int(got["h"]) - 1) + 1, "half")


def local_wall_time(occurred_at: pd.Series | np.ndarray, tz: str) -> pd.Series:
    """UTC instants as the local wall-clock time of ``tz``, labelled UTC (for month binning).

    Examples
    --------
    >>> t = pd.Series(pd.to_datetime(["2025-05-31T19:30:00Z"], utc=True))
    >>> str(local_wall_time(t, "Asia/Tashkent").iloc[0])
    '2025-06-01 00:30:00+00:00'
    """
    t = pd.Series(pd.to_datetime(np.asarray(occurred_at), utc=True))
    return t.dt.tz_convert(tz).dt.tz_localize(None).dt.tz_localize("UTC")


@dataclass
class ReviewFigures:
    """What a review pack shows, computed by :func:`review_figures`.

    Attributes
    ----------
    region, period
        The region and the :class:`Period`.
    incidents, incidents_previous_period, incidents_same_period_last_year
        Incidents of the region in the period, the one before and the same one a year earlier.
    mahallas
        ``mahalla_id, name, district, population, count, count_previous, count_last_year,
        rate_per_1000, gi_z, gi_class, status, why, status_previous, forecast_share``, one
        row per mahalla of the region (in the order of the mahalla frame).
    geometry
        The mahalla polygons (aligned with ``mahallas``), for the maps.
    crime_free
        Ids of the mahallas with no recorded incident in the period.
    red_new, red_left, red_still
        Ids red now and not in the previous period, red before and not now, red in both.
    by_category
        ``category, count, count_previous, count_last_year`` (most frequent first).
    monthly
        ``month`` (``YYYY-MM``), ``count``: the period and the 11 months before it (trend).
    focus
        For each of :data:`FOCUS_CATEGORIES`: ``count``, ``count_previous``,
        ``count_last_year`` and ``top`` (up to five ``[mahalla_id, count]``).
    forecast
        Rows ``method, coverage, hit_rate, area_share, pai`` scoring how well the previous
        period (its counts, its red list) pointed at this period's incidents.
    rule
        The status rule used (window = the period's months).
    focus_groups
        ``group`` (:data:`riskmap.geo.focus.FOCUS_GROUPS`), ``count``, ``count_previous``,
        ``count_last_year`` as text (counts below ``focus_hide_below`` of
        :func:`review_figures` as ``"< k"``); ``None`` when the incidents carry no focus
        fields.
    """

    region: str
    period: Period
    incidents: int
    incidents_previous_period: int
    incidents_same_period_last_year: int
    mahallas: pd.DataFrame
    geometry: np.ndarray
    crime_free: list[str]
    red_new: list[str]
    red_left: list[str]
    red_still: list[str]
    by_category: pd.DataFrame
    monthly: pd.DataFrame
    focus: dict[str, dict[str, Any]]
    forecast: pd.DataFrame
    rule: StatusRule = field(default_factory=StatusRule)
    focus_groups: pd.DataFrame | None = None

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON-able values (the keys of the pack's JSON)."""
        prev, last = self.period.previous(), self.period.last_year()
        m = self.mahallas
        return {
            "region": self.region,
            "period": self.period.label,
            "period_start": self.period.start.strftime("%Y-%m-%d"),
            "period_end": (self.period.end - pd.Timedelta(days=1)).strftime("%Y-%m-%d"),
            "previous_period": prev.label,
            "same_period_last_year": last.label,
            "incidents": self.incidents,
            "incidents_previous_period": self.incidents_previous_period,
            "incidents_same_period_last_year": self.incidents_same_period_last_year,
            "mahallas": len(m),
            "crime_free_mahallas": len(self.crime_free),
            "crime_free": list(self.crime_free),
            "red": {"new": list(self.red_new), "left": list(self.red_left),
                    "still": list(self.red_still)},
            "red_count": len(self.red_new) + len(self.red_still),
            "by_category": {str(c): int(n) for c, n in
                            zip(self.by_category["category"], self.by_category["count"],
                                strict=True) if n > 0},
            "by_category_previous_period": _nonzero(self.by_category, "count_previous"),
            "by_category_same_period_last_year": _nonzero(self.by_category, "count_last_year"),
            "focus": self.focus,
            "focus_groups": (None if self.focus_groups is None else
                             self.focus_groups.set_index("group").to_dict(orient="index")),
            "forecast": [{k: (None if isinstance(v, float) and not np.isfinite(v) else v)
                          for k, v in row.items()}
                         for row in self.forecast.to_dict(orient="records")],
            "status_rule": {"window_months": self.rule.window_months,
                            "gi_confidence": self.rule.gi_confidence,
                            "top_share": self.rule.top_share, "fdr": self.rule.fdr},
        }


def _nonzero(frame: pd.DataFrame, column: str) -> dict[str, int]:
    return {str(c): int(n) for c, n in zip(frame["category"], frame[column], strict=True)
            if n > 0}


def _codes_in(t: pd.Series, period: Period) -> np.ndarray:
    return ((t >= period.start) & (t < period.end)).to_numpy(dtype=bool)


def _status_at(history: pd.DataFrame, month: pd.Timestamp, ids: pd.Index) -> pd.DataFrame:
    got = history[history["month"] == month].set_index("mahalla_id")
    return got.reindex(ids)


def _area_km2(geometry: np.ndarray) -> np.ndarray:
    if len(geometry) == 0:
        return np.zeros(0)
    s = gpd.GeoSeries(geometry, crs="EPSG:4326")
    lon = s.representative_point().x.to_numpy()
    return s.to_crs(utm_crs(lon)).area.to_numpy() / 1e6


def _forecast(scores: dict[str, np.ndarray], area: np.ndarray,
              counts: np.ndarray) -> pd.DataFrame:
    rows = []
    for method, score in scores.items():
        for cov in _COVERAGES:
            if counts.sum() == 0 or len(area) == 0 or not np.any(score > 0):
                rows.append({"method": method, "coverage": cov, "hit_rate": np.nan,
                             "area_share": np.nan, "pai": np.nan})
                continue
            if method == "previous red list":
                sel = score > 0
                share = area[sel].sum() / area.sum()
                hr = counts[sel].sum() / counts.sum()
                rows.append({"method": method, "coverage": round(float(share), 4),
                             "hit_rate": float(hr), "area_share": float(share),
                             "pai": float(hr / share) if share else np.nan})
                break
            got = score_selection(score.astype(float), area, counts, cov)
            rows.append({"method": method, "coverage": cov, "hit_rate": got["hit_rate"],
                         "area_share": got["area_share"], "pai": got["pai"]})
    return pd.DataFrame(rows, columns=["method", "coverage", "hit_rate", "area_share", "pai"])


def review_figures(incidents: pd.DataFrame, mahallas: gpd.GeoDataFrame, period: Period | str,
                   *, region: str, tz: str = "UTC",
                   focus: Sequence[str] = FOCUS_CATEGORIES,
                   focus_hide_below: int = 0) -> ReviewFigures:
    """Compute the figures of a region's review pack.

    Parameters
    ----------
    incidents
        The region's incidents: ``mahalla_id``, ``occurred_at`` (UTC), ``category``. Those
        whose mahalla is not in ``mahallas`` count in the region's totals but in no mahalla.
    mahallas
        The region's mahallas: ``mahalla_id``, ``name``, ``district``, ``population`` (NaN
        allowed), polygon ``geometry`` (EPSG:4326).
    period
        A :class:`Period` or its text (``2025-06``, ``2025-Q2``, ``2025-H1``).
    region
        The region's name (shown).
    tz
        Time zone whose calendar the period follows.
    focus
        Categories given their own section (default drugs and cybercrime).
    focus_hide_below
        Focus-group counts (minors, women, ...: :mod:`riskmap.geo.focus`) below this show as
        ``"< k"`` (0: all exact). They are computed when ``incidents`` has focus fields.

    Returns
    -------
    ReviewFigures
    """
    p = parse_period(period) if isinstance(period, str) else period
    prev, last = p.previous(), p.last_year()
    m = mahallas.reset_index(drop=True)
    ids = pd.Index(m["mahalla_id"].astype(object).to_numpy())
    t = local_wall_time(incidents["occurred_at"], tz)
    cat = incidents["category"].astype(object).to_numpy()
    codes = unit_codes(incidents["mahalla_id"].astype(object).to_numpy(), ids)
    now_sel, prev_sel, last_sel = _codes_in(t, p), _codes_in(t, prev), _codes_in(t, last)

    def per_mahalla(sel: np.ndarray) -> np.ndarray:
        c = codes[sel]
        return np.bincount(c[c >= 0], minlength=len(ids)).astype(np.int64)

    rule = StatusRule(window_months=p.n_months)
    frame = pd.DataFrame({"mahalla_id": incidents["mahalla_id"].astype(object).to_numpy(),
                          "occurred_at": t.to_numpy()})
    hist = status_history(frame, m, start=prev.last_month, end=p.last_month, rule=rule)
    now = _status_at(hist, p.last_month, ids)
    before = _status_at(hist, prev.last_month, ids)
    red_now = (now["status"] == "red").fillna(False).to_numpy(dtype=bool)
    red_before = (before["status"] == "red").fillna(False).to_numpy(dtype=bool)

    count = per_mahalla(now_sel)
    count_prev = per_mahalla(prev_sel)
    pop = pd.to_numeric(m.get("population", pd.Series(np.nan, index=m.index)),
                        errors="coerce").to_numpy(dtype=float)
    area = _area_km2(m.geometry.to_numpy())
    table = pd.DataFrame({
        "mahalla_id": ids.to_numpy(),
        "name": m["name"].astype(object).to_numpy() if "name" in m else ids.to_numpy(),
        "district": m["district"].astype(object).to_numpy() if "district" in m else None,
        "population": pop,
        "count": count,
        "count_previous": count_prev,
        "count_last_year": per_mahalla(last_sel),
        "rate_per_1000": rate_per_1000(count, pop),
        "gi_z": now["gi_z"].to_numpy(dtype=float),
        "gi_class": now["gi_class"].astype(object).to_numpy(),
        "status": now["status"].astype(object).to_numpy(),
        "why": now["why"].astype(object).to_numpy(),
        "status_previous": before["status"].astype(object).to_numpy(),
        "area_km2": area,
    })

    cats = pd.DataFrame({
        "count": pd.Series(cat[now_sel]).value_counts(),
        "count_previous": pd.Series(cat[prev_sel]).value_counts(),
        "count_last_year": pd.Series(cat[last_sel]).value_counts(),
    }).fillna(0).astype(np.int64)
    cats.index.name = "category"
    by_category = (cats.reset_index().sort_values(["count", "category"],
                                                 ascending=[False, True], kind="stable")
                   .reset_index(drop=True))

    first = p.end - pd.DateOffset(months=12)
    month_idx = ((t.dt.year - first.year) * 12 + (t.dt.month - first.month)).to_numpy()
    ok = (month_idx >= 0) & (month_idx < 12)
    monthly = pd.DataFrame({
        "month": [(first + pd.DateOffset(months=i)).strftime("%Y-%m") for i in range(12)],
        "count": np.bincount(month_idx[ok], minlength=12).astype(np.int64)})

    focus_out: dict[str, dict[str, Any]] = {}
    for name in focus:
        is_cat = cat == name
        here = per_mahalla(now_sel & is_cat)
        order = np.argsort(-here, kind="stable")[:5]
        focus_out[name] = {
            "count": int((now_sel & is_cat).sum()),
            "count_previous": int((prev_sel & is_cat).sum()),
            "count_last_year": int((last_sel & is_cat).sum()),
            "top": [[str(ids[i]), int(here[i])] for i in order if here[i] > 0],
        }

    forecast = _forecast({"previous period counts": count_prev.astype(float),
                          "previous red list": red_before.astype(float)}, area, count)
    return ReviewFigures(
        region=region, period=p,
        incidents=int(now_sel.sum()), incidents_previous_period=int(prev_sel.sum()),
        incidents_same_period_last_year=int(last_sel.sum()),
        mahallas=table, geometry=m.geometry.to_numpy(),
        crime_free=ids[(count == 0)].tolist(),
        red_new=ids[red_now & ~red_before].tolist(),
        red_left=ids[red_before & ~red_now].tolist(),
        red_still=ids[red_now & red_before].tolist(),
        by_category=by_category, monthly=monthly, focus=focus_out, forecast=forecast,
        rule=rule, focus_groups=_focus_groups(incidents, (now_sel, prev_sel, last_sel),
                                              focus_hide_below),
    )


def _focus_groups(incidents: pd.DataFrame, selections: tuple[np.ndarray, ...],
                  hide_below: int) -> pd.DataFrame | None:
    """Counts per focus group in the period, the previous one and a year before, as text."""
    given = [f for f in FOCUS_FIELDS if f in incidents.columns]
    if not given:
        return None
    bits = focus_bits(len(incidents), **{f: incidents[f].to_numpy(dtype=object)
                                         for f in given})
    out: dict[str, list[Any]] = {"group": list(FOCUS_GROUPS)}
    for key, sel in zip(("count", "count_previous", "count_last_year"), selections,
                        strict=True):
        counts = [int((group_mask(bits, g) & sel).sum()) for g in FOCUS_GROUPS]
        out[key] = [f"< {hide_below}" if c < hide_below else f"{c:,}" for c in counts]
    return pd.DataFrame(out)
