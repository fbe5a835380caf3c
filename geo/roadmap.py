"""Red-mahalla roadmaps: the mahalla seven's roles, measure states, overdue flags, progress and
the closing rule (pure: frames and arrays in, frames and arrays out).

A roadmap is opened for a mahalla that is red at the latest month of the status history; it
stays open while the mahalla is red and is closed (with the figures at opening and at closing)
once the latest month after its opening month is not red.

Examples
--------
>>> import pandas as pd
>>> m = pd.DataFrame({"roadmap_id": ["R1", "R1", "R1"],
...                   "status": ["done", "planned", "cancelled"],
...                   "due_date": pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-01"])})
>>> overdue(m["due_date"], m["status"], pd.Timestamp("2025-01-10")).tolist()
[False, True, False]
>>> progress_share(m["status"])
0.5
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "MEASURE_STATUSES",
    "OPEN_STATUSES",
    "ROLE_CODES",
    "closing_rows",
    "measure_counts",
    "members_frame",
    "opening_rows",
    "overdue",
    "progress_share",
    "roadmap_id",
    "status_snapshot",
]

#: the mahalla seven ("mahalla yettiligi") of the Safe Mahalla programme, in display order
ROLE_CODES = ("rais", "hokim_assistant", "youth_leader", "womens_activist",
              "prevention_inspector", "tax_inspector", "social_worker")
#: a measure's states
MEASURE_STATUSES = ("planned", "in_progress", "done", "cancelled")
#: states of a measure still to be done
OPEN_STATUSES = ("planned", "in_progress")


def overdue(due: pd.Series | np.ndarray, status: pd.Series | np.ndarray,
            today: pd.Timestamp) -> np.ndarray:
    """Whether each measure is overdue: still open and due before ``today`` (a day).

    A missing due date or status is never overdue.

    Examples
    --------
    >>> overdue(pd.Series(pd.to_datetime(["2025-01-01", None])), pd.Series(["planned"] * 2),
    ...         pd.Timestamp("2025-02-01")).tolist()
    [True, False]
    """
    due_days = pd.to_datetime(pd.Series(np.asarray(due, dtype=object)), errors="coerce")
    if getattr(due_days.dt, "tz", None) is not None:
        due_days = due_days.dt.tz_localize(None)
    day = pd.Timestamp(today)
    day = (day.tz_localize(None) if day.tzinfo is not None else day).normalize()
    is_open = pd.Series(np.asarray(status, dtype=object)).isin(OPEN_STATUSES).to_numpy(bool)
    late = (due_days.dt.normalize() < day).fillna(False).to_numpy(dtype=bool)
    return is_open & late


def progress_share(status: pd.Series | np.ndarray) -> float | None:
    """Share of the measures done among those not cancelled (``None`` when there are none).

    Examples
    --------
    >>> progress_share(["done", "in_progress"]), progress_share(["cancelled"]), progress_share([])
    (0.5, None, None)
    """
    s = pd.Series(np.asarray(status, dtype=object))
    counted = s[s != "cancelled"]
    if not len(counted):
        return None
    return float((counted == "done").sum() / len(counted))


def measure_counts(measures: pd.DataFrame, today: pd.Timestamp,
                   by: str = "roadmap_id") -> pd.DataFrame:
    """Per ``by`` value: ``total``, ``open``, ``overdue``, ``done`` and ``progress`` (0..1/NaN).

    Parameters
    ----------
    measures
        ``roadmap_measures`` rows (``status``, ``due_date`` and the ``by`` column).
    today
        The day overdue is judged against.
    by
        The grouping column (``roadmap_id`` or ``mahalla_id``).

    Examples
    --------
    >>> m = pd.DataFrame({"mahalla_id": ["A", "A", "B"], "status": ["planned", "done", "done"],
    ...                   "due_date": pd.to_datetime(["2025-01-01"] * 3)})
    >>> measure_counts(m, pd.Timestamp("2025-02-01"), by="mahalla_id")[["open", "overdue"]]
    ... # doctest: +NORMALIZE_WHITESPACE
                open  overdue
    mahalla_id
    A              1        1
    B              0        0
    """
    cols = ["total", "open", "overdue", "done", "progress"]
    if not len(measures):
        return pd.DataFrame({c: pd.Series(dtype="int64" if c != "progress" else "float64")
                             for c in cols}, index=pd.Index([], name=by, dtype=object))
    status = measures["status"].astype(object).to_numpy()
    frame = pd.DataFrame({
        by: measures[by].astype(object).to_numpy(),
        "total": np.ones(len(measures), dtype=np.int64),
        "open": np.isin(status, OPEN_STATUSES).astype(np.int64),
        "overdue": overdue(measures["due_date"], status, today).astype(np.int64),
        "done": (status == "done").astype(np.int64),
        "counted": (status != "cancelled").astype(np.int64),
    })
    out = frame.groupby(by, sort=True).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["progress"] = np.where(out["counted"] > 0, out["done"] / out["counted"].clip(lower=1),
                                   np.nan)
    return out[cols]


def status_snapshot(history: pd.DataFrame, mahalla_id: str,
                    month: pd.Timestamp | None = None) -> dict[str, Any] | None:
    """A mahalla's status row at ``month`` (default: its latest) as plain JSON values.

    ``None`` when the history has no row for it (at that month).
    """
    rows = history[(history["mahalla_id"].astype(object) == mahalla_id).to_numpy(dtype=bool)]
    if month is not None:
        rows = rows[(pd.to_datetime(rows["month"], utc=True) == _utc(month)).to_numpy(bool)]
    if not len(rows):
        return None
    row = rows.sort_values("month").iloc[-1]
    return _snapshot(row)


def _utc(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _num(value: Any, kind: type) -> Any:
    v = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return None if pd.isna(v) else kind(round(float(v), 3) if kind is float else v)


def _snapshot(row: pd.Series) -> dict[str, Any]:
    return {"month": _utc(row["month"]).strftime("%Y-%m"),
            "status": None if pd.isna(row.get("status")) else str(row["status"]),
            "count": _num(row.get("count"), int),
            "rate_per_1000": _num(row.get("rate_per_1000"), float)}


def _latest(history: pd.DataFrame) -> pd.DataFrame:
    """Each mahalla's latest status row (the history's last month only)."""
    if not len(history):
        return history
    month = pd.to_datetime(history["month"], utc=True)
    return history[(month == month.max()).to_numpy(dtype=bool)]


def opening_rows(history: pd.DataFrame, roadmaps: pd.DataFrame, places: pd.DataFrame,
                 now: pd.Timestamp, *, user: str = "build") -> pd.DataFrame:
    """New roadmaps for the mahallas red at the history's last month without an open one.

    Parameters
    ----------
    history
        ``mahalla_status`` rows (``mahalla_id``, ``month``, ``status``, ``why``, ...).
    roadmaps
        The roadmaps there are (``mahalla_id``, ``status``).
    places
        ``mahalla_id``, ``region``, ``district`` of the mahallas.
    now
        The opening time (UTC).
    user
        Who opens them (``opened_by``).

    Returns
    -------
    pandas.DataFrame
        ``roadmaps`` rows (status ``open``), empty when there is nothing to open; running it
        again on its own output opens nothing (idempotent).
    """
    latest = _latest(history)
    red = latest[(latest["status"].astype(object) == "red").to_numpy(dtype=bool)]
    have = set(roadmaps.loc[(roadmaps["status"].astype(object) == "open").to_numpy(bool),
                            "mahalla_id"].astype(object)) if len(roadmaps) else set()
    red = red[~red["mahalla_id"].astype(object).isin(have).to_numpy(dtype=bool)]
    where = places.drop_duplicates("mahalla_id").set_index(
        places.drop_duplicates("mahalla_id")["mahalla_id"].astype(object))
    red = red[red["mahalla_id"].astype(object).isin(where.index).to_numpy(dtype=bool)]
    if not len(red):
        return pd.DataFrame(columns=["roadmap_id", "mahalla_id", "region", "district",
                                     "opened_at", "opened_month", "opened_because",
                                     "opened_by", "status", "members"])
    ids = red["mahalla_id"].astype(object).to_numpy()
    month = pd.to_datetime(red["month"], utc=True)
    return pd.DataFrame({
        "roadmap_id": [roadmap_id(m, t) for m, t in zip(ids, month, strict=True)],
        "mahalla_id": ids,
        "region": where.loc[ids, "region"].astype(object).to_numpy(),
        "district": where.loc[ids, "district"].astype(object).to_numpy(),
        "opened_at": pd.Timestamp(now),
        "opened_month": month.to_numpy(),
        "opened_because": red["why"].astype(object).to_numpy(),
        "opened_by": user,
        "status": "open",
        "members": "[]",
    })


def roadmap_id(mahalla_id: str, month: pd.Timestamp) -> str:
    """The id of the roadmap opened for ``mahalla_id`` at status ``month``.

    Examples
    --------
    >>> roadmap_id("M11", pd.Timestamp("2025-06-01", tz="UTC"))
    'M11@2025-06'
    """
    return f"{mahalla_id}@{_utc(month):%Y-%m}"


def closing_rows(roadmaps: pd.DataFrame, history: pd.DataFrame,
                 now: pd.Timestamp) -> pd.DataFrame:
    """The open roadmaps to close now, with ``status="closed"``, ``closed_at`` and
    ``closed_figures`` (JSON of the status figures at opening and at closing).

    A roadmap closes when the history's last month is after its ``opened_month`` and the
    mahalla is not red then. Closed roadmaps never change (idempotent).

    Examples
    --------
    >>> h = pd.DataFrame({"mahalla_id": ["A", "A"], "status": ["red", "green"], "why": ["", ""],
    ...                   "month": pd.to_datetime(["2025-05-01", "2025-06-01"], utc=True),
    ...                   "count": [9, 0], "rate_per_1000": [4.5, 0.0]})
    >>> r = pd.DataFrame({"roadmap_id": ["A@2025-05"], "mahalla_id": ["A"], "status": ["open"],
    ...                   "opened_month": pd.to_datetime(["2025-05-01"], utc=True)})
    >>> closing_rows(r, h, pd.Timestamp("2025-07-02", tz="UTC"))["closed_figures"].iloc[0]
    '{"opening": {"month": "2025-05", "status": "red", "count": 9, "rate_per_1000": 4.5}, \
"closing": {"month": "2025-06", "status": "green", "count": 0, "rate_per_1000": 0.0}}'
    """
    if not len(roadmaps) or not len(history):
        return roadmaps.iloc[0:0].copy()
    is_open = (roadmaps["status"].astype(object) == "open").to_numpy(dtype=bool)
    cand = roadmaps[is_open]
    latest = _latest(history).drop_duplicates("mahalla_id").set_index("mahalla_id")
    last_month = pd.to_datetime(history["month"], utc=True).max()
    opened = pd.to_datetime(cand["opened_month"], utc=True)
    ids = cand["mahalla_id"].astype(object)
    known = ids.isin(latest.index).to_numpy(dtype=bool)
    now_status = pd.Series(latest["status"].astype(object)).reindex(ids.to_numpy()).to_numpy()
    close = (known & (opened < last_month).fillna(False).to_numpy(dtype=bool)
             & (now_status != "red"))
    out = cand[close].copy()
    figures = []
    for mid, month in zip(out["mahalla_id"].astype(object),
                          pd.to_datetime(out["opened_month"], utc=True), strict=True):
        figures.append(json.dumps({"opening": status_snapshot(history, mid, month),
                                   "closing": status_snapshot(history, mid, last_month)},
                                  ensure_ascii=False))
    out["status"] = "closed"
    out["closed_at"] = pd.Timestamp(now)
    out["closed_figures"] = figures
    return out.reset_index(drop=True)


def members_frame(members: Sequence[dict[str, Any]] | None) -> pd.DataFrame:
    """The seven as a frame in :data:`ROLE_CODES` order (``role``, ``name``, ``phone``);
    roles without an entry have empty values, unknown roles are dropped.

    Examples
    --------
    >>> members_frame([{"role": "rais", "name": "Ali"}, {"role": "x", "name": "?"}]).iloc[0]
    ... # doctest: +NORMALIZE_WHITESPACE
    role     rais
    name      Ali
    phone
    Name: 0, dtype: object
    """
    given = {m.get("role"): m for m in (members or ()) if isinstance(m, dict)}
    return pd.DataFrame({
        "role": list(ROLE_CODES),
        "name": [str(given.get(r, {}).get("name") or "") for r in ROLE_CODES],
        "phone": [str(given.get(r, {}).get("phone") or "") for r in ROLE_CODES],
    }, dtype=object)
