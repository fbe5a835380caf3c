"""Callbacks of the admin page: users, the audit log, every user's jobs, the ingestion runs,
the ingest quarantine.

Only an admin reaches them (the factory checks ``page:admin`` for every callback of this
module). What the browser sends is never trusted: a selected user or job is only a name, which
the server reads again from the store before it acts; filters are checked for their type,
length and form, and a value that is not one answers with a message, never a traceback.

Everything is read through the admin's :class:`~riskmap.layers.access.DataAccess`: reading the
audit log is itself audited (action ``audit_read``, with the filters), and the audit log and
the quarantine, which are not split by region, are refused to an admin whose access is limited
to some regions (as every other user is). User changes go through :mod:`riskmap.auth.accounts`
and cancels through :func:`riskmap.jobs.cancel`, which audit them as the admin.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from riskmap import csvsafe
from riskmap.app import ids
from riskmap.app.auth import current_access, current_principal
from riskmap.app.data import AppModel
from riskmap.app.pages.admin import AUDIT_PAGE_SIZE, OUTCOMES, RUN_OUTCOMES, RUNS_PAGE_SIZE
from riskmap.auth import accounts
from riskmap.auth.roles import Principal
from riskmap.errors import RiskmapError
from riskmap.i18n.names import column_header
from riskmap.jobs import JobNotFound, cancel, list_jobs, status
from riskmap.layers.access import DataAccess
from riskmap.layers.auditlog import ChainCheck, verify
from riskmap.layers.store import Filter

__all__ = ["AUDIT_READ", "MAX_AUDIT_CSV", "MAX_AUDIT_ROWS", "MAX_JOBS", "MAX_QUARANTINE_ROWS",
           "MAX_RUNS_CSV", "MAX_RUN_ROWS", "PAGE", "AuditPage", "AuditQuery", "InputError",
           "RunDetail", "RunQuery", "RunsPage", "audit_csv", "audit_page", "cancel_job",
           "chain_status", "chain_text", "job_rows", "parse_audit_query", "parse_run_query",
           "quarantine_view", "register", "run_detail", "runs_csv", "runs_page",
           "set_user_state", "user_rows"]

_IDS = ids.ADMIN
#: the page name in the audit log
PAGE = "admin"
#: the audit action of a read of the audit log (the page's table, the chain check, the CSV)
AUDIT_READ = "audit_read"
#: the audit table shows at most the newest this many records of the filter, paged
MAX_AUDIT_ROWS = 500
#: the CSV holds at most this many records (the newest)
MAX_AUDIT_CSV = 100_000
#: jobs listed (newest first)
MAX_JOBS = 200
#: newest quarantined rows listed
MAX_QUARANTINE_ROWS = 200
#: the runs table shows at most the newest this many runs of the filter, paged
MAX_RUN_ROWS = 1_000
#: the runs CSV holds at most this many runs (the newest)
MAX_RUNS_CSV = 100_000
#: longest text of a table cell (detail, message, raw row); the CSV keeps it whole
_CELL_CHARS = 300
_NAME_CHARS = 64
_ACTION_CHARS = 64
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_JOB_ID = re.compile(r"^job-[0-9a-f]{1,32}$")
_RUN_ID = re.compile(r"^run-[0-9a-f]{32}$")
_FILE_CHARS = 255
_RUN_COLUMNS = ("run_id", "started_at", "ended_at", "user", "client", "layer", "file_name",
                "file_size", "file_sha256", "outcome", "input_rows", "loaded", "updated",
                "duplicates", "quarantined", "by_reason", "error")
_AUDIT_COLUMNS = ("seq", "at", "user", "action", "layer", "scope", "detail", "rows", "client",
                  "outcome")
_NOT_ALL_REGIONS = ("{what} is not split by region: only an admin of every region sees it "
                    "(your access is limited to {scope}).")


class InputError(Exception):
    """A value sent by the browser cannot be used; the message says what is expected."""


# ---- shared helpers ----------------------------------------------------------------------------

def _text(value: Any, label: str, limit: int) -> str | None:
    """A text control's value: ``None`` when empty, else the stripped text.

    Raises
    ------
    InputError
        Not text, or longer than ``limit`` characters.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{label}: expected text.")
    value = value.strip()
    if len(value) > limit:
        raise InputError(f"{label}: at most {limit} characters.")
    return value or None


def _selected(ids_: Any, what: str) -> str:
    """The one selected row id of a table (``selected_row_ids``).

    Raises
    ------
    InputError
        Nothing (or more than one row, or not a short text) is selected.
    """
    if not isinstance(ids_, list) or len(ids_) != 1 or not isinstance(ids_[0], str) \
            or not 0 < len(ids_[0]) <= _NAME_CHARS:
        raise InputError(f"Select one {what} first.")
    return ids_[0]


def _clicked(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _local(values: pd.Series, tz: str) -> list[str]:
    """Timestamps as local ``YYYY-MM-DD HH:MM:SS`` text (empty when missing)."""
    stamps = pd.to_datetime(values, utc=True, errors="coerce").dt.tz_convert(tz)
    return [s.strftime("%Y-%m-%d %H:%M:%S") if pd.notna(s) else "" for s in stamps]


def _cut(value: Any, limit: int = _CELL_CHARS) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + f"… (+{len(text) - limit})"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Table rows: JSON values, missing ones as None."""
    out = frame.astype(object)
    return out.where(frame.notna(), None).to_dict(orient="records")


def _unscoped(access: DataAccess, what: str) -> None:
    """Refuse (``InputError`` with the reason) a layer without regions to a scoped admin."""
    if access.regions is not None:
        raise InputError(_NOT_ALL_REGIONS.format(what=what, scope=access.scope))


def _present(value: Any) -> bool:
    """A value that is there (not None, NaT or NaN)."""
    return value is not None and bool(pd.notna(value))


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# ---- users -------------------------------------------------------------------------------------

def _scope_text(regions: Any, districts: Any) -> str:
    def names(text: Any) -> list[str]:
        try:
            got = json.loads(text) if isinstance(text, str) and text else []
        except json.JSONDecodeError:
            return []
        return [str(v) for v in got] if isinstance(got, list) else []

    r, d = names(regions), names(districts)
    if not r:
        return "all regions"
    return ", ".join(r) + (f" ({', '.join(d)})" if d else "")


def _flag(value: Any) -> bool:
    """A stored boolean that may be missing (``None``, NA) as a bool."""
    return bool(pd.notna(value) and value)


def user_rows(store: Any, *, tz: str) -> list[dict[str, Any]]:
    """Every user (never a password hash) as rows of the users table, by name.

    ``state`` is ``active``, ``disabled`` or ``locked until <local time>``.
    """
    users = accounts.list_users(store)
    if len(users) == 0:
        return []
    now = pd.Timestamp.now(tz="UTC")
    locked = pd.to_datetime(users["locked_until"], utc=True, errors="coerce")
    locked_text, changed = _local(locked, tz), _local(users["updated_at"], tz)
    rows = []
    for i, user in enumerate(users.to_dict(orient="records")):
        state = "active"
        if bool(user.get("disabled")):
            state = "disabled"
        elif pd.notna(locked.iat[i]) and locked.iat[i] > now:
            state = f"locked until {locked_text[i]}"
        rows.append({"id": str(user["username"]), "username": str(user["username"]),
                     "display_name": _cut(user.get("display_name")),
                     "role": str(user.get("role") or ""),
                     "scope": _scope_text(user.get("regions"), user.get("districts"))
                     + ("; other regions suppressed"
                        if _flag(user.get("suppressed_elsewhere")) else ""),
                     "source": str(user.get("source") or ""), "state": state,
                     "updated_at": changed[i]})
    return rows


def set_user_state(access: DataAccess, principal: Principal, selected: Any, *,
                   disable: bool) -> str:
    """Disable or enable the selected user; what happened, as a sentence.

    The user is read again by name; an admin may not disable themselves. The change is
    audited as ``principal`` by :mod:`riskmap.auth.accounts`; a refusal here is audited too.

    Raises
    ------
    InputError
        No single user is selected.
    """
    name = _selected(selected, "user")
    user = accounts.get_user(access.store, name)
    if user is None:
        return f"There is no user {name!r}."
    name = str(user["username"])
    action = "user_disable" if disable else "user_enable"
    if disable and name == principal.username:
        access.audit(action, layer="users", detail={"user": name, "reason": "self"},
                     outcome="denied")
        return "You cannot disable yourself: ask another admin."
    locked = pd.to_datetime(user.get("locked_until"), utc=True, errors="coerce")
    is_locked = pd.notna(locked) and locked > pd.Timestamp.now(tz="UTC")
    if disable and bool(user.get("disabled")):
        return f"{name} is already disabled."
    if not disable and not bool(user.get("disabled")) and not is_locked:
        return f"{name} is already active."
    try:
        if disable:
            accounts.disable_user(access.store, name, actor=principal.username)
        else:
            accounts.enable_user(access.store, name, actor=principal.username)
    except RiskmapError as exc:
        return f"Nothing was changed: {exc}."
    if disable:
        return f"{name} is disabled: their sessions ended and they cannot log in."
    return f"{name} is enabled: they can log in again."


# ---- the audit log -----------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditQuery:
    """Which audit records to show: each condition optional, all of them ANDed.

    ``start`` and ``end`` are the first and last local calendar day included.
    """

    user: str | None = None
    action: str | None = None
    outcome: str | None = None
    start: date | None = None
    end: date | None = None

    def filters(self, tz: str) -> list[Filter]:
        """Store filters of the query (days from local midnight to local midnight)."""
        out: list[Filter] = []
        for column in ("user", "action", "outcome"):
            value = getattr(self, column)
            if value is not None:
                out.append((column, "=", value))
        if self.start is not None:
            out.append(("at", ">=", pd.Timestamp(self.start).tz_localize(tz).tz_convert("UTC")))
        if self.end is not None:
            after = pd.Timestamp(self.end + timedelta(days=1)).tz_localize(tz)
            out.append(("at", "<", after.tz_convert("UTC")))
        return out

    @property
    def empty(self) -> bool:
        """No condition: the whole log."""
        return self == AuditQuery()


def _day(value: Any, label: str) -> date | None:
    text = _text(value, label, 10)
    if text is None:
        return None
    if not _DAY.match(text):
        raise InputError(f"{label}: a day as YYYY-MM-DD, e.g. 2025-03-31.")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{label}: {text} is not a day of the calendar.") from None


def parse_audit_query(user: Any, action: Any, outcome: Any, start: Any,
                      end: Any) -> AuditQuery:
    """The :class:`AuditQuery` of the filter controls' values.

    Raises
    ------
    InputError
        A value of the wrong type or form, an unknown outcome, or a start after the end.

    Examples
    --------
    >>> parse_audit_query(" ali ", None, "denied", "2025-01-01", "")
    AuditQuery(user='ali', action=None, outcome='denied', start=datetime.date(2025, 1, 1), end=None)
    >>> parse_audit_query(None, None, "maybe", None, None)
    Traceback (most recent call last):
    ...
    riskmap.app.callbacks.admin.InputError: Outcome: one of ok, denied, failed, cancelled, refused.
    """
    outcome = _text(outcome, "Outcome", 20)
    if outcome is not None and outcome not in OUTCOMES:
        raise InputError(f"Outcome: one of {', '.join(OUTCOMES)}.")
    query = AuditQuery(user=_text(user, "User", _NAME_CHARS),
                       action=_text(action, "Action", _ACTION_CHARS), outcome=outcome,
                       start=_day(start, "From"), end=_day(end, "To"))
    if query.start is not None and query.end is not None and query.start > query.end:
        raise InputError("From is after To: no day is in between.")
    return query


def _read_audit(access: DataAccess, query: AuditQuery, n: int, *, tz: str,
                columns: Sequence[str] | None = None) -> tuple[pd.DataFrame, int]:
    """The newest ``n`` records of ``query``, newest first, and how many match in all (read
    audited as ``audit_read``; never the whole log: see :meth:`DataAccess.read_newest`)."""
    _unscoped(access, "The audit log")
    return access.read_newest("audit", n, columns=columns, filters=query.filters(tz),
                              purpose=AUDIT_READ)


@dataclass(frozen=True)
class AuditPage:
    """One page of the audit table."""

    rows: list[dict[str, Any]]
    page: int
    page_count: int
    matched: int
    summary: str


def audit_page(access: DataAccess, query: AuditQuery, page: int, *, tz: str,
               page_size: int = AUDIT_PAGE_SIZE, limit: int = MAX_AUDIT_ROWS) -> AuditPage:
    """Page ``page`` (from 0) of the newest ``limit`` records matching ``query``."""
    shown, matched = _read_audit(access, query, limit, tz=tz, columns=_AUDIT_COLUMNS)
    page_count = max(1, -(-len(shown) // page_size))
    page = min(max(page, 0), page_count - 1)
    part = shown.iloc[page * page_size:(page + 1) * page_size].copy()
    part["at"] = _local(part["at"], tz)
    part["detail"] = [_cut(v) for v in part["detail"]]
    part["seq"] = pd.to_numeric(part["seq"], errors="coerce").astype("Int64")
    part["rows"] = pd.to_numeric(part["rows"], errors="coerce").astype("Int64")
    what = "every record" if query.empty else "records matching the filters"
    if matched == 0:
        summary = "No audit record matches the filters." if not query.empty else \
            "The audit log is empty."
    elif matched > limit:
        summary = (f"{matched:,} {what}, newest first: the newest {limit:,} are shown "
                   "(narrow the filters, or download the CSV for all of them).")
    else:
        summary = f"{_plural(matched, 'record')} ({what}), newest first."
    return AuditPage(_records(part[list(_AUDIT_COLUMNS)]), page, page_count, matched, summary)


def audit_csv(access: DataAccess, query: AuditQuery, *, tz: str,
              limit: int = MAX_AUDIT_CSV) -> tuple[str, int]:
    """The records of ``query`` as spreadsheet-safe CSV (newest first, at most ``limit``),
    with their chain fields; and how many rows it holds. Audited as ``download_audit``."""
    frame, _ = _read_audit(access, query, limit, tz=tz)
    columns = [c for c in (*_AUDIT_COLUMNS, "prev_hash", "hash") if c in frame.columns]
    out = frame[columns].copy() if len(frame.columns) else pd.DataFrame(columns=columns)
    if len(out):
        out["at"] = pd.to_datetime(out["at"], utc=True).map(lambda t: t.isoformat())
        out["seq"] = pd.to_numeric(out["seq"], errors="coerce").astype("Int64")
        out["rows"] = pd.to_numeric(out["rows"], errors="coerce").astype("Int64")
    access.audit("download_audit", layer="audit", rows=len(out),
                 detail={"format": "csv", "filters": _query_detail(query)})
    # headers in the page's language (English: the column ids scripts read)
    return str(csvsafe.to_csv(out.rename(columns=column_header))), len(out)


def _query_detail(query: AuditQuery) -> dict[str, str]:
    return {k: str(v) for k, v in query.__dict__.items() if v is not None}


def chain_text(check: ChainCheck) -> str:
    """The chain status as a sentence.

    Examples
    --------
    >>> chain_text(ChainCheck(3, 3, 0, None))
    'Audit chain intact: 3 records checked.'
    >>> chain_text(ChainCheck(9, 9, 0, 4, "a record is missing"))
    'Audit chain BROKEN at record 4: a record is missing (9 chained records).'
    >>> chain_text(ChainCheck(50_000, 50_000, 0, None, first=150_001, last=(200_000, "h")))
    'Audit chain intact: records 150,001-200,000 checked (riskmap audit verify checks the whole log).'
    """
    older = f" ({_plural(check.unchained, 'older record')} predate the chain)" \
        if check.unchained else ""
    if check.ok and check.first is not None and check.first > 1 and check.last is not None:
        return (f"Audit chain intact: records {check.first:,}-{check.last[0]:,} checked "
                "(riskmap audit verify checks the whole log).")
    if check.ok:
        return f"Audit chain intact: {_plural(check.chained, 'record')} checked{older}."
    return (f"Audit chain BROKEN at record {check.broken_at}: {check.reason} "
            f"({_plural(check.chained, 'chained record')}){older}.")


#: records checked when the audit tab first shows the chain in a worker (the newest ones)
MAX_CHAIN_CHECK = 50_000
#: per store: the last record whose chain checked, the first checked, and the actions seen
_CHECKED: dict[str, tuple[tuple[int, str], int, frozenset[str]]] = {}
_CHECKED_LOCK = threading.Lock()


def chain_status(access: DataAccess, *,
                 window: int = MAX_CHAIN_CHECK) -> tuple[ChainCheck, list[str]]:
    """The check of the audit log's chain, and the actions of the records checked (sorted).

    Bounded, however long the log: the first call in a worker checks the newest ``window``
    records (the first of them is taken as it is), later calls only the records appended
    since the last record that checked. The whole log is checked by ``riskmap audit verify``.
    A broken chain is reported on every call until it is repaired. Reads audited as
    ``audit_read``.
    """
    _unscoped(access, "The audit log")
    key = str(getattr(access.store, "url", id(access.store)))
    with _CHECKED_LOCK:
        known = _CHECKED.get(key)
    if known is not None:  # from the last record that checked, itself read again
        (seq, digest), since, seen = known
        frame = access.read("audit", filters=[("seq", ">=", seq)], purpose=AUDIT_READ)
        at = pd.to_numeric(frame["seq"], errors="coerce").to_numpy() if len(frame) else None
        anchor = frame[at == seq] if at is not None else frame
        if len(anchor) == 1 and str(anchor["hash"].iat[0]) == digest:
            frame = frame[at > seq]
            check = verify(frame, after=(seq, digest))
        else:  # the log was replaced, or that record changed: check the newest again
            known = None
    if known is None:
        top = access.last_seq("audit", purpose=AUDIT_READ)
        start = max(1, top - window + 1) if top is not None else 1
        # a log within the window is read whole: its records from before the chain too
        frame = access.read("audit", filters=[("seq", ">=", start)] if start > 1 else None,
                            purpose=AUDIT_READ)
        after = None
        if start > 1 and len(frame):
            first = frame[pd.to_numeric(frame["seq"]) == start]
            after = (start - 1, str(first["prev_hash"].iat[0])) if len(first) else (start - 1, "")
        check, since = verify(frame, after=after), start
        seen = frozenset()
    seen = seen | {str(a) for a in frame["action"].dropna()} if len(frame) else seen
    if check.ok and check.last is not None:
        with _CHECKED_LOCK:
            _CHECKED[key] = (check.last, since, seen)
    checked = (check.last[0] - since + 1) if check.ok and check.last else check.chained
    shown = ChainCheck(checked, checked, 0 if since > 1 else check.unchained, check.broken_at,
                       check.reason, since, check.last)
    return shown, sorted(seen)


# ---- jobs --------------------------------------------------------------------------------------

def job_rows(access: DataAccess, *, tz: str, limit: int = MAX_JOBS) -> list[dict[str, Any]]:
    """The jobs of every user (in the admin's regions, for a scoped admin), newest first."""
    rows = []
    for job in list_jobs(access.store, limit=limit):
        region = job.region if isinstance(job.region, str) else None
        if access.regions is not None and not access.in_scope(region):
            continue
        progress = job.progress
        shown = (f"{100 * float(progress):.0f} %" if isinstance(progress, int | float)
                 and not pd.isna(progress) else "")
        if _present(job.started_at):
            started = _local(pd.Series([job.started_at]), tz)[0]
        elif _present(job.created_at):
            started = "queued " + _local(pd.Series([job.created_at]), tz)[0]
        else:
            started = ""
        rows.append({"id": job.job_id, "kind": job.kind, "owner": job.owner,
                     "region": region or "", "status": job.status, "progress": shown,
                     "started": started, "message": _cut(job.message)})
    return rows


def cancel_job(access: DataAccess, principal: Principal, selected: Any) -> str:
    """Cancel the selected job (of any user in the admin's scope); what happened.

    Raises
    ------
    InputError
        No single job is selected.
    """
    job_id = _selected(selected, "job")
    if not _JOB_ID.match(job_id):
        return "There is no such job."
    try:
        job = status(access.store, job_id)
    except JobNotFound:
        return "There is no such job."
    if access.regions is not None and not access.in_scope(job.region):
        access.audit("job_cancel", layer="jobs", detail={"job_id": job_id}, outcome="denied")
        return "There is no such job."
    if not job.active:
        return f"The job is {job.status.replace('_', ' ')}: there is nothing to cancel."
    after = cancel(access.store, job_id, by=principal.username, force=True,
                   client=access.client)
    if after.status == "cancelled":
        return f"Cancelled {job.kind} of {job.owner}."
    return f"Cancelling {job.kind} of {job.owner}: its worker stops it within seconds."


# ---- ingestion runs ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RunQuery:
    """The filters of the ingestion runs table, checked (``None``: any)."""

    outcome: str | None = None
    file: str | None = None  # part of the file name, any case


def parse_run_query(outcome: Any, file: Any) -> RunQuery:
    """The runs filters as the browser sent them, checked.

    Raises
    ------
    InputError
        A value of the wrong type, too long, or an outcome that is not one.
    """
    got = _text(outcome, "Outcome", 16)
    if got is not None and got not in RUN_OUTCOMES:
        raise InputError(f"Outcome: one of {', '.join(RUN_OUTCOMES)}.")
    return RunQuery(got, _text(file, "File name", _FILE_CHARS))


def _read_runs(access: DataAccess, query: RunQuery,
               columns: Sequence[str] = _RUN_COLUMNS) -> pd.DataFrame:
    """The runs matching ``query``, newest first (one audited read)."""
    _unscoped(access, "The ingestion runs")
    filters: list[Filter] = [("outcome", "=", query.outcome)] if query.outcome else []
    frame = access.read("ingest_runs", columns=list(columns), filters=filters or None,
                        purpose="admin")
    if query.file and len(frame):
        names = frame["file_name"].astype("string").fillna("").str.casefold()
        frame = frame[names.str.contains(query.file.casefold(), regex=False)
                      .to_numpy(dtype=bool)]
    if len(frame) == 0:
        return frame.reset_index(drop=True)
    return frame.sort_values("started_at", ascending=False, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class RunsPage:
    """One page of the ingestion runs table."""

    rows: list[dict[str, Any]]
    page: int
    page_count: int
    matched: int
    summary: str


def runs_page(access: DataAccess, query: RunQuery, page: int, *, tz: str,
              page_size: int = RUNS_PAGE_SIZE, limit: int = MAX_RUN_ROWS) -> RunsPage:
    """Page ``page`` (from 0) of the newest ``limit`` runs matching ``query``."""
    frame = _read_runs(access, query)
    matched = len(frame)
    shown = frame.iloc[:limit]
    page_count = max(1, -(-len(shown) // page_size))
    page = min(max(page, 0), page_count - 1)
    part = shown.iloc[page * page_size:(page + 1) * page_size]
    table = pd.DataFrame({
        "id": part["run_id"].astype(str).to_numpy(),
        "started": _local(part["started_at"], tz),
        **{c: part[c].astype("string").fillna("").to_numpy()
           for c in ("user", "client", "layer", "file_name", "outcome", "by_reason")},
        **{c: pd.to_numeric(part[c], errors="coerce").astype("Int64").to_numpy()
           for c in ("input_rows", "loaded", "updated", "quarantined")},
        "error": [_cut(v) for v in part["error"]],
    })
    filtered = query != RunQuery()
    if matched == 0:
        summary = "No run matches the filters." if filtered else "No file was loaded yet."
    else:
        bad = int((shown["outcome"] != "ok").sum())
        what = _plural(matched, "run") + (" matching the filters" if filtered else "")
        more = (f"; the newest {limit:,} are listed (narrow the filters, or download the CSV)"
                if matched > limit else "")
        summary = (f"{what}, newest first, {bad:,} failed or refused"
                   f"{' among those listed' if more else ''}{more}.")
    return RunsPage(_records(table), page, page_count, matched, summary)


def runs_csv(access: DataAccess, query: RunQuery, *, limit: int = MAX_RUNS_CSV
             ) -> tuple[str, int]:
    """The runs of ``query`` as spreadsheet-safe CSV (newest first, at most ``limit``, without
    their reports); and how many rows it holds. Audited as ``download_ingest_runs``."""
    out = _read_runs(access, query).iloc[:limit].copy()
    for col in ("started_at", "ended_at"):
        stamps = pd.to_datetime(out[col], utc=True)
        out[col] = [t.isoformat() if pd.notna(t) else "" for t in stamps]
    access.audit("download_ingest_runs", layer="ingest_runs", rows=len(out),
                 detail={"format": "csv", "filters": _query_detail(query)})
    return str(csvsafe.to_csv(out[list(_RUN_COLUMNS)].rename(columns=column_header))), len(out)


@dataclass(frozen=True)
class RunDetail:
    """What the page shows of one run."""

    facts: str
    summary: str
    report: str
    file_name: str | None
    quarantined: int


def run_detail(access: DataAccess, selected: Any, *, tz: str) -> RunDetail:
    """The selected run, read again from the store (the browser sends only its id).

    Raises
    ------
    InputError
        No single run is selected, or there is no such run.
    """
    run_id = _selected(selected, "run")
    if not _RUN_ID.match(run_id):
        raise InputError("There is no such run.")
    _unscoped(access, "The ingestion runs")
    found = access.read("ingest_runs", filters=[("run_id", "=", run_id)], purpose="admin")
    if len(found) == 0:
        raise InputError("There is no such run.")
    run = found.iloc[0]
    name = str(run["file_name"]) if _present(run["file_name"]) else None
    size = (f"{int(run['file_size']):,} bytes, SHA-256 {run['file_sha256']}"
            if _present(run["file_size"]) else "not readable")
    start, end = _local(pd.Series([run["started_at"], run["ended_at"]]), tz)
    facts = (f"{name or '(no file)'} ({size}) into {run['layer']}, by {run['user']} "
             f"({run['client'] if _present(run['client']) else 'unknown client'}), "
             f"{start} to {end or '?'} (local): {run['outcome']}.")
    if run["outcome"] == "ok":
        summary = str(run["summary"]) if _present(run["summary"]) else ""
    else:
        summary = f"{run['outcome'].capitalize()}: " + (
            str(run["error"]) if _present(run["error"]) else "no reason was recorded")
    report = ""
    if _present(run["report"]):
        try:
            report = json.dumps(json.loads(run["report"]), indent=2, ensure_ascii=False)
        except (TypeError, ValueError):
            report = str(run["report"])
    quarantined = int(run["quarantined"]) if _present(run["quarantined"]) else 0
    return RunDetail(facts, summary, report, name, quarantined)


def _source_file(value: Any) -> str | None:
    return _text(value, "Source file", _FILE_CHARS)


# ---- the quarantine ----------------------------------------------------------------------------

def quarantine_view(access: DataAccess, *, tz: str, limit: int = MAX_QUARANTINE_ROWS,
                    source_file: str | None = None,
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """Quarantined rows counted by source file, layer and reason; the newest ``limit`` rows;
    and a summary.

    ``source_file``: only the rows of this file (a run's ``file_name``; the rows of each sheet
    of a workbook, traced as ``NAME[SHEET]``, included). Quarantined rows carry their file
    name, not the run that quarantined them: a later load of a file of the same name
    replaces them row by row.
    """
    _unscoped(access, "The quarantine")
    index = access.read("quarantine", columns=["quarantine_id", "layer", "source_file",
                                               "reason", "quarantined_at"], purpose="admin")
    if source_file is not None and len(index):
        names = index["source_file"].astype("string").fillna("")
        keep = (names == source_file) | names.str.startswith(source_file + "[")
        index = index[keep.to_numpy(dtype=bool)]
    if len(index) == 0:
        return [], [], ("No row is quarantined." if source_file is None else
                        f"No row of {source_file} is quarantined.")
    index = index.assign(source_file=index["source_file"].fillna("(no file)"),
                         at=pd.to_datetime(index["quarantined_at"], utc=True))
    counts = (index.groupby(["source_file", "layer", "reason"], dropna=False, sort=False)
              .agg(rows=("quarantine_id", "size"), latest=("at", "max")).reset_index()
              .sort_values(["latest", "rows"], ascending=False, na_position="last"))
    counts["latest"] = _local(counts["latest"], tz)
    counts["rows"] = counts["rows"].astype(int)
    newest = index.sort_values("at", ascending=False, na_position="last", kind="stable")
    wanted = newest["quarantine_id"].iloc[:limit].astype(str).tolist()
    rows = access.read("quarantine", filters=[("quarantine_id", "in", wanted)],
                       purpose="admin")
    order = {w: i for i, w in enumerate(wanted)}  # newest first, as chosen above
    rows = (rows.assign(_order=rows["quarantine_id"].astype(str).map(order))
            .sort_values("_order").reset_index(drop=True))
    table = pd.DataFrame({
        "quarantined_at": _local(rows["quarantined_at"], tz),
        "source_file": rows["source_file"].fillna("").astype(str).to_numpy(),
        "source_row": pd.to_numeric(rows["source_row"], errors="coerce").astype("Int64"),
        "reason": rows["reason"].astype(str).to_numpy(),
        "detail": [_cut(v) for v in rows["detail"]],
        "raw": [_cut(v) for v in rows["raw"]],
    })
    files = index["source_file"].nunique()
    shown = f"; the newest {len(table):,} are listed" if len(index) > len(table) else ""
    summary = (f"{_plural(len(index), 'row')} quarantined from {_plural(files, 'source file')}, "
               f"for {_plural(index['reason'].nunique(), 'reason')}{shown}.")
    return _records(counts[["source_file", "layer", "reason", "rows", "latest"]]), \
        _records(table), summary


# ---- wiring ------------------------------------------------------------------------------------

def _tab_is(tab: Any, name: str) -> None:
    if tab != name:
        raise PreventUpdate


def register(app: dash.Dash, model: AppModel) -> None:
    """Attach the admin page's callbacks (the factory limits them to ``page:admin``)."""

    def opened(tab: str) -> None:
        if ctx.triggered_id in (None, _IDS.TABS):
            model.audit_view(PAGE, {"tab": tab})

    @app.callback(Output(_IDS.USERS, "data"), Output(_IDS.USERS_SUMMARY, "children"),
                  Output(_IDS.USER_RESULT, "children"),
                  Input(_IDS.TABS, "value"), Input(_IDS.USERS_REFRESH, "n_clicks"),
                  Input(_IDS.USER_DISABLE, "n_clicks"), Input(_IDS.USER_ENABLE, "n_clicks"),
                  State(_IDS.USERS, "selected_row_ids"))
    def _users(tab: Any, _refresh: Any, disable: Any, enable: Any,
               selected: Any) -> tuple[Any, ...]:
        _tab_is(tab, "users")
        opened(tab)
        access, principal = current_access(), current_principal()
        trigger = ctx.triggered_id
        message: Any = ""
        if (trigger == _IDS.USER_DISABLE and _clicked(disable)) or \
                (trigger == _IDS.USER_ENABLE and _clicked(enable)):
            try:
                message = set_user_state(access, principal, selected,
                                         disable=trigger == _IDS.USER_DISABLE)
            except InputError as exc:
                message = str(exc)
        rows = user_rows(access.store, tz=model.timezone)
        off = sum(r["state"] != "active" for r in rows)
        summary = f"{_plural(len(rows), 'user')}" + (f", {off:,} disabled or locked."
                                                    if off else ".")
        return rows, summary, message

    filters = [Input(_IDS.AUDIT_USER, "value"), Input(_IDS.AUDIT_ACTION, "value"),
               Input(_IDS.AUDIT_OUTCOME, "value"), Input(_IDS.AUDIT_FROM, "value"),
               Input(_IDS.AUDIT_TO, "value")]

    @app.callback(Output(_IDS.AUDIT_TABLE, "data"), Output(_IDS.AUDIT_TABLE, "page_count"),
                  Output(_IDS.AUDIT_TABLE, "page_current"),
                  Output(_IDS.AUDIT_SUMMARY, "children"),
                  Input(_IDS.TABS, "value"), *filters, Input(_IDS.AUDIT_REFRESH, "n_clicks"),
                  Input(_IDS.AUDIT_TABLE, "page_current"))
    def _audit(tab: Any, user: Any, action: Any, outcome: Any, start: Any, end: Any,
               _refresh: Any, page: Any) -> tuple[Any, ...]:
        _tab_is(tab, "audit")
        opened(tab)
        if ctx.triggered_id != _IDS.AUDIT_TABLE or not isinstance(page, int) \
                or isinstance(page, bool) or not 0 <= page < 10_000:
            page = 0
        try:
            query = parse_audit_query(user, action, outcome, start, end)
            got = audit_page(current_access(), query, page, tz=model.timezone)
        except InputError as exc:
            return [], 1, 0, str(exc)
        return got.rows, got.page_count, got.page, got.summary

    @app.callback(Output(_IDS.AUDIT_CHAIN, "children"), Output(_IDS.AUDIT_CHAIN, "className"),
                  Output(_IDS.AUDIT_ACTION, "options"),
                  Input(_IDS.TABS, "value"), Input(_IDS.AUDIT_REFRESH, "n_clicks"))
    def _chain(tab: Any, _refresh: Any) -> tuple[Any, ...]:
        _tab_is(tab, "audit")
        try:
            check, actions = chain_status(current_access())
        except InputError as exc:
            return str(exc), "chain", []
        return chain_text(check), "chain ok" if check.ok else "chain broken", actions[:1000]

    @app.callback(Output(_IDS.AUDIT_DOWNLOAD, "data"), Input(_IDS.AUDIT_CSV, "n_clicks"),
                  *(State(f.component_id, f.component_property) for f in filters),
                  prevent_initial_call=True)
    def _csv(clicks: Any, user: Any, action: Any, outcome: Any, start: Any,
             end: Any) -> Any:
        if not _clicked(clicks):
            return no_update
        try:
            query = parse_audit_query(user, action, outcome, start, end)
            text, _ = audit_csv(current_access(), query, tz=model.timezone)
        except InputError:
            return no_update  # the table shows why (same filters)
        day = pd.Timestamp.now(tz=model.timezone).strftime("%Y%m%d-%H%M")
        return {"content": text, "filename": f"riskmap-audit-{day}.csv", "type": "text/csv",
                "base64": False}

    @app.callback(Output(_IDS.JOBS, "data"), Output(_IDS.JOBS_SUMMARY, "children"),
                  Output(_IDS.JOB_RESULT, "children"),
                  Input(_IDS.TABS, "value"), Input(_IDS.JOBS_REFRESH, "n_clicks"),
                  Input(_IDS.JOB_CANCEL, "n_clicks"), State(_IDS.JOBS, "selected_row_ids"))
    def _jobs(tab: Any, _refresh: Any, clicks: Any, selected: Any) -> tuple[Any, ...]:
        _tab_is(tab, "jobs")
        opened(tab)
        access = current_access()
        message = ""
        if ctx.triggered_id == _IDS.JOB_CANCEL and _clicked(clicks):
            try:
                message = cancel_job(access, current_principal(), selected)
            except InputError as exc:
                message = str(exc)
        rows = job_rows(access, tz=model.timezone)
        active = sum(r["status"] in ("queued", "running", "cancel_requested") for r in rows)
        summary = (f"{_plural(len(rows), 'job')} (the newest {MAX_JOBS} at most), "
                   f"{active:,} active." if rows else "No job.")
        return rows, summary, message

    run_filters = [Input(_IDS.RUNS_OUTCOME, "value"), Input(_IDS.RUNS_FILE, "value")]

    @app.callback(Output(_IDS.RUNS, "data"), Output(_IDS.RUNS, "page_count"),
                  Output(_IDS.RUNS, "page_current"), Output(_IDS.RUNS, "selected_rows"),
                  Output(_IDS.RUNS_SUMMARY, "children"),
                  Input(_IDS.TABS, "value"), *run_filters, Input(_IDS.RUNS_REFRESH, "n_clicks"),
                  Input(_IDS.RUNS, "page_current"))
    def _runs(tab: Any, outcome: Any, file: Any, _refresh: Any, page: Any) -> tuple[Any, ...]:
        _tab_is(tab, "runs")
        opened(tab)
        if ctx.triggered_id != _IDS.RUNS or not isinstance(page, int) \
                or isinstance(page, bool) or not 0 <= page < 10_000:
            page = 0
        try:
            got = runs_page(current_access(), parse_run_query(outcome, file), page,
                            tz=model.timezone)
        except InputError as exc:
            return [], 1, 0, [], str(exc)
        return got.rows, got.page_count, got.page, [], got.summary

    @app.callback(Output(_IDS.RUN_FACTS, "children"), Output(_IDS.RUN_SUMMARY, "children"),
                  Output(_IDS.RUN_REPORT, "children"), Output(_IDS.RUN_QUARANTINE, "disabled"),
                  Input(_IDS.RUNS, "selected_row_ids"))
    def _run(selected: Any) -> tuple[Any, ...]:
        if not selected:
            return "Select a run above.", "", "", True
        try:
            got = run_detail(current_access(), selected, tz=model.timezone)
        except InputError as exc:
            return str(exc), "", "", True
        return got.facts, got.summary, got.report, not (got.quarantined and got.file_name)

    @app.callback(Output(_IDS.TABS, "value"), Output(_IDS.QUARANTINE_FILE, "value"),
                  Input(_IDS.RUN_QUARANTINE, "n_clicks"), State(_IDS.RUNS, "selected_row_ids"),
                  prevent_initial_call=True)
    def _run_quarantine(clicks: Any, selected: Any) -> tuple[Any, ...]:
        if not _clicked(clicks):
            raise PreventUpdate
        try:
            got = run_detail(current_access(), selected, tz=model.timezone)
        except InputError:
            raise PreventUpdate from None
        if not got.file_name:
            raise PreventUpdate
        return "quarantine", got.file_name

    @app.callback(Output(_IDS.RUNS_DOWNLOAD, "data"), Input(_IDS.RUNS_CSV, "n_clicks"),
                  *(State(f.component_id, f.component_property) for f in run_filters),
                  prevent_initial_call=True)
    def _runs_csv(clicks: Any, outcome: Any, file: Any) -> Any:
        if not _clicked(clicks):
            return no_update
        try:
            text, _ = runs_csv(current_access(), parse_run_query(outcome, file))
        except InputError:
            return no_update  # the table shows why (same filters)
        day = pd.Timestamp.now(tz=model.timezone).strftime("%Y%m%d-%H%M")
        return {"content": text, "filename": f"riskmap-ingest-runs-{day}.csv",
                "type": "text/csv", "base64": False}

    @app.callback(Output(_IDS.QUARANTINE_COUNTS, "data"), Output(_IDS.QUARANTINE_ROWS, "data"),
                  Output(_IDS.QUARANTINE_SUMMARY, "children"),
                  Input(_IDS.TABS, "value"), Input(_IDS.QUARANTINE_FILE, "value"),
                  Input(_IDS.QUARANTINE_REFRESH, "n_clicks"))
    def _quarantine(tab: Any, source_file: Any, _refresh: Any) -> tuple[Any, ...]:
        _tab_is(tab, "quarantine")
        opened(tab)
        try:
            return quarantine_view(current_access(), tz=model.timezone,
                                   source_file=_source_file(source_file))
        except InputError as exc:
            return [], [], str(exc)
