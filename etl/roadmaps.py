"""Red-mahalla roadmaps in the store: read, validate and write them through the data-access layer.

Every function takes the user's :class:`~riskmap.layers.access.DataAccess`: reads are scoped and
audited, writes go through one :meth:`~riskmap.layers.access.DataAccess.write` transaction
audited as ``roadmap_edit`` with the values before and after (bounded). The mahalla's region
and district always come from the (scoped) mahallas layer, never from the request; a mahalla
outside the scope reads as unknown and its write is refused (audited as denied).

The pure rules (overdue, progress, opening and closing) are in :mod:`riskmap.geo.roadmap`.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from riskmap.errors import RiskmapError
from riskmap.geo.roadmap import (
    MEASURE_STATUSES,
    ROLE_CODES,
    closing_rows,
    measure_counts,
    members_frame,
    opening_rows,
    overdue,
    progress_share,
)

__all__ = [
    "ACTION",
    "LIMITS",
    "RoadmapInputError",
    "RoadmapState",
    "add_measure",
    "clean_text",
    "close_and_open",
    "list_roadmaps",
    "load_state",
    "open_measure_counts",
    "parse_due",
    "save_roadmap",
    "update_measure",
]

#: the audit action of every roadmap write
ACTION = "roadmap_edit"
#: the longest value each field may hold (characters)
LIMITS = {"official_name": 120, "official_position": 120, "official_phone": 40,
          "name": 120, "phone": 40, "title": 200, "owner": 120, "notes": 1000}
#: due dates must lie between these days
DUE_RANGE = (date(2000, 1, 1), date(2100, 12, 31))
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PHONE = re.compile(r"^[0-9+() \-]*$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: how many measures a roadmap may hold
MAX_MEASURES = 200


class RoadmapInputError(RiskmapError, ValueError):
    """A value of a roadmap edit is not acceptable (the message says which and why)."""


def clean_text(value: Any, field: str, *, required: bool = False) -> str | None:
    """``value`` stripped of surrounding space and control characters, within its length limit.

    Raises
    ------
    RoadmapInputError
        Not a string, too long, a bad phone number, or empty when ``required``.

    Examples
    --------
    >>> clean_text("  Aliyev A. ", "official_name")
    'Aliyev A.'
    >>> clean_text("", "notes") is None
    True
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise RoadmapInputError(f"{field}: expected text")
    text = _CONTROL.sub("", value).strip()
    limit = LIMITS[field]
    if len(text) > limit:
        raise RoadmapInputError(f"{field}: at most {limit} characters (got {len(text)})")
    if field.endswith("phone") and not _PHONE.match(text):
        raise RoadmapInputError(f"{field}: digits, spaces, +, -, ( and ) only")
    if required and not text:
        raise RoadmapInputError(f"{field}: required")
    return text or None


def parse_due(value: Any) -> date | None:
    """A due date written ``YYYY-MM-DD`` within :data:`DUE_RANGE` (empty: ``None``).

    Examples
    --------
    >>> parse_due("2025-06-30"), parse_due("")
    (datetime.date(2025, 6, 30), None)
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not _DATE.match(value.strip()):
        raise RoadmapInputError("due date: expected YYYY-MM-DD")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise RoadmapInputError("due date: not a day of the calendar") from None
    if not DUE_RANGE[0] <= day <= DUE_RANGE[1]:
        raise RoadmapInputError(f"due date: between {DUE_RANGE[0]} and {DUE_RANGE[1]}")
    return day


@dataclass
class RoadmapState:
    """What the panel shows of a mahalla's roadmap.

    Attributes
    ----------
    mahalla_id, region, district
        The mahalla (read in scope).
    roadmap
        The open roadmap, else the latest closed one, as a dict (``None``: none yet).
    measures
        Its measures with ``overdue`` (bool), oldest due first.
    red
        Whether the mahalla is red at the latest status month.
    why
        The latest status's reason.
    """

    mahalla_id: str
    region: str
    district: str
    roadmap: dict[str, Any] | None
    measures: pd.DataFrame
    red: bool
    why: str | None

    @property
    def editable(self) -> bool:
        """A red mahalla (a roadmap opens on the first save) or an open roadmap."""
        has_open = self.roadmap is not None and self.roadmap.get("status") == "open"
        return has_open or self.red

    @property
    def members(self) -> pd.DataFrame:
        """The seven in role order (``role``, ``name``, ``phone``)."""
        raw = (self.roadmap or {}).get("members")
        try:
            members = json.loads(raw) if isinstance(raw, str) and raw else []
        except ValueError:
            members = []
        return members_frame(members if isinstance(members, list) else [])

    @property
    def progress(self) -> float | None:
        """Share of the measures done (cancelled ones left out)."""
        return progress_share(self.measures["status"]) if len(self.measures) else None


def _today(now: pd.Timestamp | None, tz: str) -> pd.Timestamp:
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    return now.tz_convert(tz).tz_localize(None).normalize()


def _place(access: Any, mahalla_id: Any) -> tuple[str, str] | None:
    """The mahalla's region and district, read in the user's scope (``None``: not in it)."""
    if not isinstance(mahalla_id, str) or not mahalla_id or len(mahalla_id) > 200:
        return None
    rows = access.read("mahallas", columns=["mahalla_id", "region", "district"],
                       filters=[("mahalla_id", "=", mahalla_id)], purpose="roadmap")
    if not len(rows):
        return None
    return str(rows["region"].iloc[0]), str(rows["district"].iloc[0])


def _read(access: Any, layer: str, filters: list[Any]) -> pd.DataFrame:
    from riskmap.layers.spec import get_spec

    if not access.store.has(layer):
        spec = get_spec(layer)
        assert spec is not None
        return spec.empty()
    return access.read(layer, filters=filters, purpose="roadmap")


def _latest_status(history: pd.DataFrame | None, mahalla_id: str) -> tuple[bool, str | None,
                                                                           Any]:
    if history is None or not len(history):
        return False, None, None
    month = pd.to_datetime(history["month"], utc=True)
    rows = history[((month == month.max()).to_numpy(bool)
                    & (history["mahalla_id"].astype(object) == mahalla_id).to_numpy(bool))]
    if not len(rows):
        return False, None, None
    why = rows["why"].iloc[0]
    return (str(rows["status"].iloc[0]) == "red", None if pd.isna(why) else str(why),
            month.max())


def _measures_frame(frame: pd.DataFrame, today: pd.Timestamp) -> pd.DataFrame:
    out = pd.DataFrame(frame).drop(columns="geometry", errors="ignore").copy()
    out["due_date"] = pd.to_datetime(out["due_date"], errors="coerce")
    out["overdue"] = overdue(out["due_date"], out["status"], today)
    return out.sort_values(["due_date", "measure_id"], na_position="last",
                           kind="stable").reset_index(drop=True)


def load_state(access: Any, mahalla_id: Any, history: pd.DataFrame | None, *,
               now: pd.Timestamp | None = None, tz: str = "Asia/Tashkent") -> RoadmapState | None:
    """The roadmap of a mahalla in the user's scope (``None``: unknown or outside the scope).

    ``history`` is the mahalla status history the page shows (``mahalla_status``).
    """
    place = _place(access, mahalla_id)
    if place is None:
        return None
    red, why, _ = _latest_status(history, mahalla_id)
    roadmaps = _read(access, "roadmaps", [("mahalla_id", "=", mahalla_id)])
    roadmap = None
    if len(roadmaps):
        r = pd.DataFrame(roadmaps).assign(_open=lambda f: f["status"] == "open")
        r = r.sort_values(["_open", "opened_at"], kind="stable")
        roadmap = {k: (None if _missing(v) else v)
                   for k, v in r.drop(columns="_open").iloc[-1].to_dict().items()}
    measures = _read(access, "roadmap_measures",
                     [("roadmap_id", "=", roadmap["roadmap_id"])] if roadmap else
                     [("roadmap_id", "=", "")])
    return RoadmapState(mahalla_id, place[0], place[1], roadmap,
                        _measures_frame(measures, _today(now, tz)), red, why)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _refuse(access: Any, mahalla_id: Any, what: str, message: str) -> RoadmapInputError:
    access.audit(ACTION, layer="roadmaps", outcome="denied",
                 detail={"mahalla_id": str(mahalla_id)[:200], "what": what})
    return RoadmapInputError(message)


def _state_for_write(access: Any, mahalla_id: Any, history: pd.DataFrame | None, what: str,
                     now: pd.Timestamp, tz: str) -> RoadmapState:
    state = load_state(access, mahalla_id, history, now=now, tz=tz)
    if state is None:
        raise PermissionError(str(_refuse(access, mahalla_id, what,
                                          "no such mahalla in your scope: nothing was written")))
    if not state.editable:
        raise _refuse(access, mahalla_id, what, "this mahalla is not red and has no open "
                                                "roadmap: nothing was written")
    return state


def _open_row(access: Any, state: RoadmapState, history: pd.DataFrame | None,
              now: pd.Timestamp) -> dict[str, Any]:
    """The roadmap to write to: the open one, or a new one opened now."""
    if state.roadmap is not None and state.roadmap.get("status") == "open":
        return dict(state.roadmap)
    places = pd.DataFrame({"mahalla_id": [state.mahalla_id], "region": [state.region],
                           "district": [state.district]})
    mine = history[(history["mahalla_id"].astype(object) == state.mahalla_id).to_numpy(bool)]
    latest_month = pd.to_datetime(history["month"], utc=True).max()
    mine = mine[(pd.to_datetime(mine["month"], utc=True) == latest_month).to_numpy(bool)]
    new = opening_rows(mine, pd.DataFrame(columns=["mahalla_id", "status"]), places, now,
                       user=access.user)
    if not len(new):  # pragma: no cover - editable said red
        raise RoadmapInputError("the mahalla is not red: nothing was written")
    row = new.iloc[0].to_dict()
    if state.roadmap is not None and state.roadmap.get("roadmap_id") == row["roadmap_id"]:
        row["roadmap_id"] = f"{row['roadmap_id']}.{now:%Y%m%d%H%M%S}"  # re-opened that month
    return row


def _short(row: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: (None if _missing(row.get(k)) else str(row.get(k))[:100]) for k in keys}


_ROADMAP_KEYS = ("official_name", "official_position", "official_phone", "members", "status")
_MEASURE_KEYS = ("title", "owner", "due_date", "status", "notes")


def save_roadmap(access: Any, mahalla_id: Any, official: dict[str, Any], members: Any,
                 history: pd.DataFrame | None, *, now: pd.Timestamp | None = None,
                 tz: str = "Asia/Tashkent") -> str:
    """Save the responsible official and the seven (opening the roadmap if none is open).

    ``members`` is a list of ``{"role", "name", "phone"}``; roles outside
    :data:`~riskmap.geo.roadmap.ROLE_CODES` are refused. Returns the roadmap id.

    Raises
    ------
    RoadmapInputError
        A value is not acceptable, or the mahalla is neither red nor has an open roadmap.
    PermissionError
        The mahalla is not in the user's scope (audited as denied; nothing written).
    """
    now = (now or pd.Timestamp.now(tz="UTC")).floor("s")
    values = {k: clean_text(official.get(k) if isinstance(official, dict) else None, k)
              for k in ("official_name", "official_position", "official_phone")}
    if not isinstance(members, list) or len(members) > len(ROLE_CODES):
        raise RoadmapInputError("members: expected the seven roles")
    seven = []
    for m in members:
        if not isinstance(m, dict) or m.get("role") not in ROLE_CODES:
            raise RoadmapInputError("members: unknown role")
        name, phone = clean_text(m.get("name"), "name"), clean_text(m.get("phone"), "phone")
        if name or phone:
            seven.append({"role": m["role"], "name": name, "phone": phone})
    state = _state_for_write(access, mahalla_id, history, "roadmap", now, tz)
    before = state.roadmap if state.roadmap and state.roadmap.get("status") == "open" else None
    row = _open_row(access, state, history, now)
    row.update(values)
    row["members"] = json.dumps(seven, ensure_ascii=False)
    row.update({"updated_at": now, "updated_by": access.user})
    detail = {"mahalla_id": state.mahalla_id, "roadmap_id": row["roadmap_id"], "what": "roadmap",
              "before": _short(before, _ROADMAP_KEYS), "after": _short(row, _ROADMAP_KEYS)}
    with access.write(ACTION, layer="roadmaps", detail=detail) as txn:
        txn.upsert("roadmaps", pd.DataFrame([row]))
    return str(row["roadmap_id"])


def _measure_count(access: Any, roadmap_id: str) -> int:
    return len(_read(access, "roadmap_measures", [("roadmap_id", "=", roadmap_id)]))


def add_measure(access: Any, mahalla_id: Any, values: dict[str, Any],
                history: pd.DataFrame | None, *, now: pd.Timestamp | None = None,
                tz: str = "Asia/Tashkent") -> str:
    """Add a measure (``title``, ``owner``, ``due``, ``notes``) to the mahalla's open roadmap
    (opening one for a red mahalla). Returns the measure id.

    Raises
    ------
    RoadmapInputError, PermissionError
        As :func:`save_roadmap`.
    """
    now = (now or pd.Timestamp.now(tz="UTC")).floor("s")
    values = values if isinstance(values, dict) else {}
    title = clean_text(values.get("title"), "title", required=True)
    owner = clean_text(values.get("owner"), "owner")
    notes = clean_text(values.get("notes"), "notes")
    due = parse_due(values.get("due"))
    state = _state_for_write(access, mahalla_id, history, "measure_add", now, tz)
    row = _open_row(access, state, history, now)
    if _measure_count(access, row["roadmap_id"]) >= MAX_MEASURES:
        raise RoadmapInputError(f"a roadmap holds at most {MAX_MEASURES} measures")
    measure = {"measure_id": f"{row['roadmap_id']}#{uuid.uuid4().hex[:12]}",
               "roadmap_id": row["roadmap_id"], "mahalla_id": state.mahalla_id,
               "region": state.region, "district": state.district, "title": title,
               "owner": owner, "due_date": pd.Timestamp(due) if due else pd.NaT,
               "status": "planned", "notes": notes, "updated_at": now,
               "updated_by": access.user}
    detail = {"mahalla_id": state.mahalla_id, "roadmap_id": row["roadmap_id"],
              "what": "measure_add", "before": None, "after": _short(measure, _MEASURE_KEYS)}
    with access.write(ACTION, layer="roadmap_measures", detail=detail) as txn:
        if state.roadmap is None or state.roadmap.get("roadmap_id") != row["roadmap_id"]:
            txn.upsert("roadmaps", pd.DataFrame([{**row, "updated_at": now,
                                                  "updated_by": access.user}]))
        txn.upsert("roadmap_measures", pd.DataFrame([measure]))
    return str(measure["measure_id"])


def update_measure(access: Any, mahalla_id: Any, measure_id: Any, values: dict[str, Any],
                   history: pd.DataFrame | None, *, now: pd.Timestamp | None = None,
                   tz: str = "Asia/Tashkent") -> None:
    """Change a measure's ``status``, ``due`` and ``notes`` (keys present are changed).

    The measure must belong to the mahalla's open roadmap.

    Raises
    ------
    RoadmapInputError, PermissionError
        As :func:`save_roadmap`; also an unknown measure or status.
    """
    now = (now or pd.Timestamp.now(tz="UTC")).floor("s")
    values = values if isinstance(values, dict) else {}
    changes: dict[str, Any] = {}
    if "status" in values:
        if values["status"] not in MEASURE_STATUSES:
            raise RoadmapInputError(f"status: one of {', '.join(MEASURE_STATUSES)}")
        changes["status"] = values["status"]
    if "due" in values:
        due = parse_due(values["due"])
        changes["due_date"] = pd.Timestamp(due) if due else pd.NaT
    if "notes" in values:
        changes["notes"] = clean_text(values["notes"], "notes")
    state = _state_for_write(access, mahalla_id, history, "measure_update", now, tz)
    if state.roadmap is not None and state.roadmap.get("status") != "open":
        raise _refuse(access, mahalla_id, "measure_update",
                      "the roadmap is closed: nothing was written")
    m = state.measures
    hit = m[(m["measure_id"].astype(object) == measure_id).to_numpy(bool)] \
        if isinstance(measure_id, str) else m.iloc[0:0]
    if not len(hit):
        raise _refuse(access, mahalla_id, "measure_update",
                      "no such measure in this roadmap: nothing was written")
    before = {k: (None if _missing(v) else v) for k, v in hit.iloc[0].to_dict().items()}
    row = {k: before.get(k) for k in ("measure_id", "roadmap_id", "mahalla_id", "region",
                                      "district", "title", "owner", "due_date", "status",
                                      "notes")}
    row.update(changes)
    row["region"], row["district"] = state.region, state.district  # from the scoped read
    row.update({"updated_at": now, "updated_by": access.user})
    if row.get("due_date") is None:
        row["due_date"] = pd.NaT
    detail = {"mahalla_id": state.mahalla_id, "roadmap_id": row["roadmap_id"],
              "measure_id": str(measure_id)[:200], "what": "measure_update",
              "before": _short(before, _MEASURE_KEYS), "after": _short(row, _MEASURE_KEYS)}
    with access.write(ACTION, layer="roadmap_measures", detail=detail) as txn:
        txn.upsert("roadmap_measures", pd.DataFrame([row]))


def open_measure_counts(access: Any, mahalla_ids: list[str], *, now: pd.Timestamp | None = None,
                        tz: str = "Asia/Tashkent") -> pd.DataFrame:
    """``open`` and ``overdue`` measures of the open roadmaps of ``mahalla_ids`` (indexed by
    mahalla id; mahallas without an open roadmap are left out)."""
    empty = pd.DataFrame({"open": pd.Series(dtype="int64"),
                          "overdue": pd.Series(dtype="int64")})
    if not mahalla_ids or not access.store.has("roadmaps"):
        return empty
    ids = sorted({str(m) for m in mahalla_ids})
    roadmaps = access.read("roadmaps", columns=["roadmap_id", "mahalla_id", "status"],
                           filters=[("mahalla_id", "in", ids), ("status", "=", "open")],
                           purpose="app")
    if not len(roadmaps):
        return empty
    measures = _read(access, "roadmap_measures",
                     [("roadmap_id", "in", sorted(roadmaps["roadmap_id"].astype(str)))])
    counts = measure_counts(measures, _today(now, tz), by="mahalla_id")
    out = pd.DataFrame(index=pd.Index(roadmaps["mahalla_id"].astype(object).unique()))
    return out.join(counts[["open", "overdue"]]).fillna(0).astype("int64")


def list_roadmaps(access: Any, region: str | None = None, *, overdue_only: bool = False,
                  now: pd.Timestamp | None = None, tz: str = "Asia/Tashkent") -> pd.DataFrame:
    """The roadmaps in scope (of ``region``) with their measure counts and progress.

    ``overdue_only`` keeps the open roadmaps with an overdue measure.
    """
    cols = ["roadmap_id", "mahalla_id", "district", "region", "status", "opened_at",
            "official_name", "official_phone", "total", "open", "overdue", "done", "progress",
            "closed_at"]
    if not access.store.has("roadmaps"):
        return pd.DataFrame(columns=cols)
    filters = [("region", "=", region)] if region else []
    roadmaps = pd.DataFrame(access.read("roadmaps", filters=filters, purpose="roadmap"))
    measures = _read(access, "roadmap_measures", filters)
    counts = measure_counts(measures, _today(now, tz))
    out = roadmaps.join(counts, on="roadmap_id")
    for c in ("total", "open", "overdue", "done"):
        out[c] = out[c].fillna(0).astype("int64")
    if overdue_only:
        out = out[((out["status"] == "open") & (out["overdue"] > 0)).to_numpy(bool)]
    return out[cols].sort_values(["region", "district", "mahalla_id", "opened_at"],
                                 kind="stable").reset_index(drop=True)


def close_and_open(access: Any, history: pd.DataFrame, places: pd.DataFrame, *,
                   now: pd.Timestamp | None = None, open_new: bool = False) -> dict[str, int]:
    """Close the open roadmaps whose mahalla left red (and, with ``open_new``, open one for
    each red mahalla without one; by default roadmaps open at their first edit in the app).

    Idempotent: run again on the same history it writes nothing. One transaction, audited
    as ``roadmap_edit`` (``what="build"``) when it writes anything.
    """
    now = (now or pd.Timestamp.now(tz="UTC")).floor("s")
    roadmaps = (pd.DataFrame(access.read("roadmaps", purpose="build"))
                if access.store.has("roadmaps") else pd.DataFrame(
                    columns=["roadmap_id", "mahalla_id", "status", "opened_month"]))
    closing = closing_rows(roadmaps, history, now)
    left = roadmaps[~roadmaps["roadmap_id"].isin(closing.get("roadmap_id", [])).to_numpy(bool)]
    opening = opening_rows(history, left, places, now)
    if not open_new:
        opening = opening.iloc[0:0]
    if len(opening):  # a mahalla red again in the month its last roadmap was opened for
        taken = set(roadmaps["roadmap_id"].astype(str))
        opening["roadmap_id"] = [r if r not in taken else f"{r}.{now:%Y%m%d%H%M%S}"
                                 for r in opening["roadmap_id"]]
    if len(closing) or len(opening):
        detail = {"what": "build", "closed": closing.get("roadmap_id", pd.Series()).tolist(),
                  "opened": opening["roadmap_id"].tolist()}
        with access.write(ACTION, layer="roadmaps", detail=detail) as txn:
            if len(closing):
                txn.upsert("roadmaps", closing.drop(columns=["geometry"], errors="ignore"))
            if len(opening):
                txn.upsert("roadmaps", opening)
    return {"opened": len(opening), "closed": len(closing)}
