"""Monthly green/yellow/red mahalla status from a configurable rule, with a reason per row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

import geopandas as gpd
from libpysal.weights import W

from riskmap.geo.aggregate import monthly_counts, rate_per_1000, unit_codes
from riskmap.geo.hotspots import (
    benjamini_hochberg,
    classify_gi,
    gi_star_z,
    mahalla_weights,
    two_sided_p,
)

__all__ = ["StatusRule", "became_red", "crime_free", "format_numbers", "gi_class_label", "left_red",
           "status_from_monthly", "status_history", "why_parts"]


@dataclass(frozen=True)
class StatusRule:
    """The status rule (all figures over a rolling window ending with each month).

    - **red**: the mahalla is a significant Gi* hot spot at >= ``gi_confidence`` % (Queen
      contiguity, counts in the window; q-value after Benjamini-Hochberg when ``fdr``), or its
      rate per 1,000 residents is in the top ``top_share`` of mahallas with known population
      (rate >= the (1 - top_share) quantile and at least one incident);
    - **green**: no recorded incident in the window (green wins: a mahalla without incidents
      is never red, even inside a Gi* hot cluster);
    - **yellow**: otherwise.

    Parameters
    ----------
    window_months
        Length of the rolling window (default 12).
    gi_confidence
        90, 95 (default) or 99.
    top_share
        Share of mahallas flagged by rate (default 0.10 = top decile); 0 disables.
    fdr
        Use FDR-corrected q-values for the Gi* test.
    """

    window_months: int = 12
    gi_confidence: int = 95
    top_share: float = 0.10
    fdr: bool = True

    def __post_init__(self) -> None:
        if self.window_months < 1:
            raise ValueError(f"window_months must be >= 1, got {self.window_months}")
        if self.gi_confidence not in (90, 95, 99):
            raise ValueError(f"gi_confidence must be 90, 95 or 99, got {self.gi_confidence}")
        if not 0.0 <= self.top_share < 1.0:
            raise ValueError(f"top_share must be in [0, 1), got {self.top_share}")


def _month_start(value: pd.Timestamp | str, shift: int = 0) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts
    m = np.datetime64(ts.as_unit("ns").to_datetime64(), "M") + shift
    return pd.Timestamp(m.astype("datetime64[ns]")).tz_localize("UTC")


def format_numbers(values: np.ndarray, spec: str) -> np.ndarray:
    """Numbers as text with a printf ``spec`` (an object array; empty in, empty out)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return np.empty(values.shape, dtype=object)
    return np.char.mod(spec, values).astype(object)


def gi_class_label(classes: np.ndarray) -> np.ndarray:
    """Readable Gi* classes: ``hot_95`` -> ``"hot 95%"``, ``not_significant`` as words.

    >>> gi_class_label(np.array(["hot_95", "not_significant"], dtype=object)).tolist()
    ['hot 95%', 'not significant']
    >>> gi_class_label(np.array([], dtype=object)).tolist()
    []
    """
    cls = pd.Series(np.asarray(classes, dtype=object), dtype=object).astype(str)
    text = cls.str.replace("_", " ", regex=False)
    return np.where(cls == "not_significant", text, text + "%").astype(object)


def status_history(
    incidents: pd.DataFrame,
    mahallas: gpd.GeoDataFrame,
    *,
    start: pd.Timestamp | str,
    end: pd.Timestamp | str,
    rule: StatusRule | None = None,
    categories: Iterable[str] | None = None,
    w: W | None = None,
) -> pd.DataFrame:
    """Status of every mahalla for every month from ``start`` to ``end`` (months included).

    The window for month m covers m and the ``window_months - 1`` months before it.

    Parameters
    ----------
    incidents
        Columns ``mahalla_id``, ``occurred_at`` (UTC) and, with ``categories``, ``category``.
        Incidents with an unknown mahalla are ignored.
    mahallas
        ``mahalla_id``, ``population`` (NaN allowed: then no rate, only Gi*), ``geometry``.
    start, end
        First and last month reported.
    rule
        The :class:`StatusRule` (default rule if None).
    categories
        Categories counted (default all).
    w
        Precomputed :func:`geo.hotspots.mahalla_weights` for ``mahallas``.

    Returns
    -------
    pandas.DataFrame
        ``mahalla_id``, ``month`` (UTC month start), ``status`` (green/yellow/red), ``why``,
        ``count``, ``rate_per_1000``, ``gi_z``, ``gi_class``; sorted by month, then in the order
        of ``mahallas``.
    """
    rule = rule or StatusRule()
    win = rule.window_months
    pre = _month_start(start, -(win - 1))
    units = pd.Index(mahallas["mahalla_id"].to_numpy())
    codes = unit_codes(incidents["mahalla_id"].to_numpy(), units)
    mask = None
    if categories is not None:
        mask = incidents["category"].isin(list(categories)).to_numpy()
    monthly, months = monthly_counts(
        codes, incidents["occurred_at"], len(units), start=pre, end=end, mask=mask
    )
    return status_from_monthly(monthly, months, mahallas, rule=rule, w=w)


def status_from_monthly(
    monthly: np.ndarray,
    months: np.ndarray | pd.DatetimeIndex,
    mahallas: gpd.GeoDataFrame,
    *,
    rule: StatusRule | None = None,
    w: W | None = None,
) -> pd.DataFrame:
    """:func:`status_history` from counts per mahalla and month (the core it runs on).

    Parameters
    ----------
    monthly
        Counts, shape ``(len(mahallas), n_months)``, in the order of ``mahallas``.
    months
        The month (UTC month start) of each column; consecutive months.
    mahallas, rule, w
        As in :func:`status_history`.

    Returns
    -------
    pandas.DataFrame
        As :func:`status_history`, for the months from the ``window_months``-th column on
        (the first full window) to the last.
    """
    rule = rule or StatusRule()
    win = rule.window_months
    units = pd.Index(mahallas["mahalla_id"].to_numpy())
    monthly = np.asarray(monthly, dtype=np.int64)
    csum = np.concatenate([np.zeros((len(units), 1), np.int64), monthly.cumsum(axis=1)], axis=1)
    window = csum[:, win:] - csum[:, :-win]  # (n_units, n_report_months)
    months = months[win - 1 :]
    w = mahalla_weights(mahallas) if w is None else w
    z = gi_star_z(window, w)
    p = two_sided_p(z)
    if rule.fdr:
        p = benjamini_hochberg(p)  # per month: each column is one family
    gi_cls = classify_gi(z, p)
    alpha = {90: 0.10, 95: 0.05, 99: 0.01}[rule.gi_confidence]
    gi_red = (z > 0) & (p <= alpha)

    pop = pd.to_numeric(
        mahallas.get("population", pd.Series(np.nan, index=mahallas.index)), errors="coerce"
    ).to_numpy(dtype=float)
    rate = rate_per_1000(
        window.ravel(), np.broadcast_to(pop[:, None], window.shape).ravel()
    ).reshape(window.shape)
    if rule.top_share > 0 and np.isfinite(rate).any():
        thr = np.nanquantile(np.where(np.isfinite(rate), rate, np.nan), 1 - rule.top_share, axis=0)
    else:
        thr = np.full(window.shape[1], np.inf)
    thr_b = np.broadcast_to(thr[None, :], window.shape)
    rate_red = np.isfinite(rate) & (rate >= thr_b) & (window > 0)
    red = (gi_red | rate_red) & (window > 0)
    status = np.where(window == 0, "green", "yellow").astype(object)
    status[red] = "red"

    # Flatten month-major and build the reasons column-wise.
    n_u, n_m = window.shape
    st = status.T.ravel()
    cnt = window.T.ravel()
    rt = rate.T.ravel()
    zz = z.T.ravel()
    gc = gi_cls.T.ravel()
    th = np.repeat(thr, n_u)
    pct = f"{rule.top_share * 100:g}"
    rate_fig = format_numbers(rt, "%.1f") + " per 1,000"
    if rule.top_share > 0:
        rate_fig = rate_fig + " (top " + pct + "%: >= " + format_numbers(th, "%.1f") + ")"
    rate_txt = np.where(np.isfinite(rt), rate_fig, "rate n/a (population unknown)")
    gc_txt = gi_class_label(gc)
    why = (
        st
        + ": "
        + cnt.astype(str).astype(object)
        + np.where(cnt == 1, " incident", " incidents").astype(object)
        + f" in {win} months, "
        + rate_txt
        + "; Gi* z="
        + format_numbers(zz, "%.1f")
        + " "
        + gc_txt
    )
    green = st == "green"
    why[green] = f"green: no recorded crime in {win} months"
    return pd.DataFrame(
        {
            "mahalla_id": np.tile(units.to_numpy(), n_m),
            "month": np.repeat(months, n_u),
            "status": pd.array(st, dtype="string"),
            "why": pd.array(why, dtype="string"),
            "count": cnt.astype(np.int64),
            "rate_per_1000": rt,
            "gi_z": zz,
            "gi_class": pd.array(gc, dtype="string"),
        }
    )


_WHY_FULL = (r"^(?P<status>red|yellow|green): (?P<count>\d+) incidents? in (?P<months>\d+) "
             r"months, (?:rate n/a \(population unknown\)|(?P<rate>[^ ;]+) per 1,000"
             r"(?: \(top (?P<top>[^%]+)%: >= (?P<threshold>[^)]+)\))?); Gi\* z=(?P<z>\S+) "
             r"(?P<gi>(?:hot|cold) \d+%|not significant)$")
_WHY_GREEN = r"^green: no recorded crime in (?P<months>\d+) months$"


def why_parts(why: Iterable[object]) -> pd.DataFrame:
    """The figures of :func:`status_from_monthly`'s ``why`` texts (the stored, stable form),
    so that they can be written out in any language.

    Returns one row per text: ``parsed`` (False: a text of another form, kept as it is),
    ``status``, ``count``, ``months``, ``rate`` (per 1,000; NaN: population unknown),
    ``top`` (% of mahallas flagged by rate; NaN: no rate rule), ``threshold``, ``z`` and
    ``gi_class`` (``hot_95``, ``not_significant``); a green text has only ``status`` and
    ``months``. Missing values in, ``parsed`` False out.

    Examples
    --------
    >>> p = why_parts(["red: 7 incidents in 12 months, 3.5 per 1,000 (top 10%: >= 2.9); "
    ...                "Gi* z=2.4 hot 95%", "green: no recorded crime in 12 months", None])
    >>> p["parsed"].tolist(), p["status"].tolist(), p["gi_class"].tolist()
    ([True, True, False], ['red', 'green', None], ['hot_95', None, None])
    >>> p[["count", "months", "rate", "top", "threshold", "z"]].iloc[0].tolist()
    [7.0, 12.0, 3.5, 10.0, 2.9, 2.4]
    """
    text = pd.Series(list(why), dtype=object).where(lambda v: v.notna(), None).astype("string")
    full = text.str.extract(_WHY_FULL)
    green = text.str.extract(_WHY_GREEN)
    is_green = green["months"].notna().to_numpy()
    num = {c: pd.to_numeric(full[c], errors="coerce").to_numpy(dtype=float)
           for c in ("count", "months", "rate", "top", "threshold", "z")}
    num["months"] = np.where(is_green, pd.to_numeric(green["months"], errors="coerce"),
                             num["months"])
    status = np.where(is_green, "green", full["status"].astype(object).to_numpy())
    gi = full["gi"].astype(object).to_numpy()
    gi_code = np.where(pd.isna(gi), None, pd.Series(gi, dtype=object).astype(str)
                       .str.replace("%", "", regex=False).str.replace(" ", "_", regex=False)
                       .to_numpy())
    parsed = is_green | full["status"].notna().to_numpy()
    shown = np.asarray(status, dtype=object).copy()
    shown[~parsed] = None
    return pd.DataFrame({"parsed": parsed, "status": pd.Series(shown, dtype=object),
                         **num, "gi_class": pd.Series(gi_code, dtype=object)})


def _at(history: pd.DataFrame, month: pd.Timestamp | str | None) -> tuple[pd.Series, pd.Series]:
    months = pd.DatetimeIndex(history["month"].unique()).sort_values()
    m = months[-1] if month is None else _month_start(month)
    now = history.loc[history["month"] == m].set_index("mahalla_id")["status"]
    i = months.get_indexer([m])[0]
    if i <= 0:
        prev = pd.Series(pd.NA, index=now.index, dtype="string")
    else:
        prev = history.loc[history["month"] == months[i - 1]].set_index("mahalla_id")["status"]
        prev = prev.reindex(now.index)
    return now, prev


def became_red(history: pd.DataFrame, month: pd.Timestamp | str | None = None) -> list:
    """Mahalla ids red in ``month`` (default: the last) but not red the month before.

    In the first month of the history there is no previous month; every red mahalla counts.
    """
    now, prev = _at(history, month)
    return now.index[(now == "red").to_numpy() & ~(prev == "red").fillna(False).to_numpy()].tolist()


def left_red(history: pd.DataFrame, month: pd.Timestamp | str | None = None) -> list:
    """Mahalla ids red the month before ``month`` (default: the last) and not red in it."""
    now, prev = _at(history, month)
    return now.index[(prev == "red").fillna(False).to_numpy() & (now != "red").to_numpy()].tolist()


def crime_free(history: pd.DataFrame, month: pd.Timestamp | str | None = None) -> list:
    """Mahalla ids green (no recorded crime in the window) in ``month`` (default: the last)."""
    now, _ = _at(history, month)
    return now.index[(now == "green").to_numpy()].tolist()
