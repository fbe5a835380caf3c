"""The ``jobs`` layer as a queue: insert, claim, and compare-and-set updates on both backends.

Every change to a job row is a *conditional* update: it applies only while the row is in one of
the expected states, so a worker's progress write never undoes a cancel, and two workers never
claim the same job.

- The generic path (the embedded store, and any other :class:`~riskmap.layers.store.Store`)
  re-reads the row inside :meth:`Store.transaction`. The embedded store holds an exclusive file
  lock for the whole block, so nobody commits between that read and the write.
- On PostGIS the rows are changed with SQL through the store's engine: ``FOR UPDATE SKIP
  LOCKED`` to claim, ``UPDATE ... WHERE status = ANY(...)`` to change, and a transaction-level
  advisory lock per owner around a submit (one copy per dedupe key, a bounded number per
  owner). These writes do not touch ``riskmap_layers``, so job progress never changes the
  store's version (the app would read every layer again at each tick).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from riskmap.layers.builtin import JOBS
from riskmap.layers.store import Store

__all__ = ["ACTIVE", "COLUMNS", "RUNNING", "STATUSES", "TERMINAL", "JobTable", "job_table",
           "now"]

#: every state of a job
STATUSES = ("queued", "running", "done", "failed", "cancel_requested", "cancelled", "refused")
#: a job in one of these may still change (a worker runs it or will)
ACTIVE = ("queued", "running", "cancel_requested")
#: a worker holds a job in one of these
RUNNING = ("running", "cancel_requested")
#: final states
TERMINAL = ("done", "failed", "cancelled", "refused")
#: the columns of a job row, in the layer's order
COLUMNS = tuple(JOBS.column_names)
_LAYER = JOBS.name
_SUBMIT_LOCK = 0x6A6F6273  # first key of the per-owner advisory lock: "jobs"


def now() -> pd.Timestamp:
    """The current time in UTC, to the microsecond (what both stores keep)."""
    return pd.Timestamp.now(tz="UTC").floor("us")


def _clean(value: Any) -> Any:
    """A stored value as plain Python: NaN/NaT/NA become None, timestamps stay Timestamps."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC") if value.tzinfo else value.tz_localize("UTC")
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        return _clean(value.item())
    if hasattr(value, "isoformat") and not isinstance(value, str):  # datetime from psycopg
        return _clean(pd.Timestamp(value))
    return value


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.to_dict(orient="records"):
        out.append({c: _clean(record.get(c)) for c in COLUMNS})
    return out


def _frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Job rows as a frame with the layer's dtypes."""
    frame = pd.DataFrame([{c: row.get(c) for c in COLUMNS} for row in rows], columns=list(COLUMNS))
    for col in ("created_at", "started_at", "finished_at", "heartbeat"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[us, UTC]")
    frame["progress"] = pd.to_numeric(frame["progress"]).astype("float64")
    return frame


class JobTable:
    """Reads and conditional writes of the ``jobs`` layer (the generic, transaction path)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- reads ---------------------------------------------------------------------------
    def get(self, job_id: str) -> dict[str, Any] | None:
        """The row of ``job_id`` (None when there is none)."""
        rows = _rows(self.store.read(_LAYER, filters=[("job_id", "=", str(job_id))]))
        return rows[0] if rows else None

    def select(self, *, statuses: Iterable[str] | None = None, owner: str | None = None,
               kind: str | None = None, dedupe_key: str | None = None) -> list[dict[str, Any]]:
        """Rows matching every given condition, oldest first."""
        filters: list[tuple[str, str, Any]] = []
        if statuses is not None:
            filters.append(("status", "in", list(statuses)))
        for col, value in (("owner", owner), ("kind", kind), ("dedupe_key", dedupe_key)):
            if value is not None:
                filters.append((col, "=", value))
        rows = _rows(self.store.read(_LAYER, filters=filters))
        return sorted(rows, key=lambda r: (r["created_at"] or pd.Timestamp(0, tz="UTC"),
                                           r["job_id"]))

    # ---- writes --------------------------------------------------------------------------
    def insert(self, row: Mapping[str, Any], *, max_active: int | None
               ) -> tuple[dict[str, Any], bool]:
        """Insert ``row`` unless an active job has its dedupe key (that one is returned).

        Returns the job row and whether it is new. Raises :class:`OwnerBusy` when the owner
        already has ``max_active`` active jobs.
        """
        with self.store.transaction() as txn:
            found = self._active_of(row)
            if isinstance(found, dict):
                return found, False
            if max_active is not None and found >= max_active:
                raise OwnerBusy(found)
            txn.upsert(_LAYER, _frame([row]))
        return dict(row), True

    def _active_of(self, row: Mapping[str, Any]) -> dict[str, Any] | int:
        """The active job with ``row``'s dedupe key, else the owner's number of active jobs."""
        active = self.select(statuses=("queued", "running"), owner=row["owner"])
        same = [r for r in active if r["dedupe_key"] == row["dedupe_key"]]
        if same:
            return same[0]
        return len(self.select(statuses=ACTIVE, owner=row["owner"]))

    def claim(self, worker: str, *, at: pd.Timestamp | None = None) -> dict[str, Any] | None:
        """Mark the oldest queued job running by ``worker``; None when the queue is empty."""
        at = at or now()
        with self.store.transaction() as txn:
            queued = self.select(statuses=("queued",))
            if not queued:
                return None
            row = dict(queued[0])
            row.update(status="running", worker=worker, started_at=at, heartbeat=at,
                       progress=0.0, message="started")
            txn.upsert(_LAYER, _frame([row]))
        return row

    def update(self, job_id: str, changes: Mapping[str, Any], *, when: Iterable[str],
               heartbeat_was: Any = ...) -> tuple[dict[str, Any] | None, bool]:
        """Apply ``changes`` to the job while its status is in ``when`` (and, if given, its
        heartbeat is still ``heartbeat_was``).

        Returns the row as it is afterwards (None for an unknown job) and whether it changed.
        """
        when = tuple(when)
        with self.store.transaction() as txn:
            row = self.get(job_id)
            if row is None:
                return None, False
            if row["status"] not in when or (
                    heartbeat_was is not ... and row["heartbeat"] != _clean(heartbeat_was)):
                return row, False
            row.update(changes)
            txn.upsert(_LAYER, _frame([row]))
        return row, True

    def delete(self, job_ids: Sequence[str]) -> None:
        """Remove jobs (old finished ones)."""
        if job_ids:
            with self.store.transaction() as txn:
                txn.delete(_LAYER, [str(j) for j in job_ids])


class OwnerBusy(Exception):
    """The owner already has this many active jobs."""

    def __init__(self, active: int) -> None:
        super().__init__(active)
        self.active = active


class _PostgisJobTable(JobTable):
    """The same operations as SQL through the PostGIS store's engine (row locks)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.engine = store.engine  # type: ignore[attr-defined]

    def _sa(self) -> Any:
        import sqlalchemy as sa

        return sa

    def insert(self, row: Mapping[str, Any], *, max_active: int | None
               ) -> tuple[dict[str, Any], bool]:
        """Insert under a per-owner advisory lock (see :meth:`JobTable.insert`)."""
        sa = self._sa()
        owner_key = int.from_bytes(hashlib.sha256(str(row["owner"]).encode()).digest()[:4],
                                   "big", signed=True)
        with self.engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:a, :b)"),
                         {"a": _SUBMIT_LOCK, "b": owner_key})
            same = conn.execute(sa.text(
                "SELECT job_id FROM jobs WHERE dedupe_key = :k AND owner = :o "
                "AND status IN ('queued', 'running') ORDER BY created_at, job_id LIMIT 1"),
                {"k": row["dedupe_key"], "o": row["owner"]}).scalar()
            if same is not None:
                found = self.get(str(same))
                if found is not None:
                    return found, False
            if max_active is not None:
                active = conn.execute(sa.text(
                    "SELECT count(*) FROM jobs WHERE owner = :o AND status = ANY(:s)"),
                    {"o": row["owner"], "s": list(ACTIVE)}).scalar_one()
                if active >= max_active:
                    raise OwnerBusy(int(active))
            names = list(COLUMNS)
            conn.execute(sa.text(
                f"INSERT INTO jobs ({', '.join(names)}) "
                f"VALUES ({', '.join(':' + n for n in names)})"),
                {n: _sql_value(row.get(n)) for n in names})
        return dict(row), True

    def claim(self, worker: str, *, at: pd.Timestamp | None = None) -> dict[str, Any] | None:
        """``UPDATE ... WHERE job_id = (SELECT ... FOR UPDATE SKIP LOCKED)``: one claimer wins."""
        sa = self._sa()
        at = at or now()
        with self.engine.begin() as conn:
            job_id = conn.execute(sa.text(
                "UPDATE jobs SET status = 'running', worker = :w, started_at = :t, "
                "heartbeat = :t, progress = 0, message = 'started' WHERE job_id = ("
                "SELECT job_id FROM jobs WHERE status = 'queued' "
                "ORDER BY created_at, job_id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING job_id"),
                {"w": worker, "t": at.to_pydatetime()}).scalar()
        return None if job_id is None else self.get(str(job_id))

    def update(self, job_id: str, changes: Mapping[str, Any], *, when: Iterable[str],
               heartbeat_was: Any = ...) -> tuple[dict[str, Any] | None, bool]:
        """``UPDATE jobs SET ... WHERE job_id = :id AND status = ANY(:when)``."""
        sa = self._sa()
        sets = ", ".join(f"{c} = :v_{c}" for c in changes)
        params = {f"v_{c}": _sql_value(v) for c, v in changes.items()}
        params.update(id=str(job_id), when=list(when))
        cond = "job_id = :id AND status = ANY(:when)"
        if heartbeat_was is not ...:
            cond += " AND heartbeat IS NOT DISTINCT FROM :hb"
            params["hb"] = _sql_value(heartbeat_was)
        with self.engine.begin() as conn:
            hit = conn.execute(sa.text(f"UPDATE jobs SET {sets} WHERE {cond} RETURNING job_id"),
                               params).scalar()
        return self.get(job_id), hit is not None

    def delete(self, job_ids: Sequence[str]) -> None:
        """``DELETE FROM jobs WHERE job_id = ANY(:ids)``."""
        if job_ids:
            sa = self._sa()
            with self.engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM jobs WHERE job_id = ANY(:ids)"),
                             {"ids": [str(j) for j in job_ids]})


def _sql_value(value: Any) -> Any:
    value = _clean(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def job_table(store: Store) -> JobTable:
    """The job table of ``store``: row-locking SQL on PostGIS, the transaction path otherwise."""
    from riskmap.layers.postgis import PostgisStore

    if isinstance(store, PostgisStore):
        return _PostgisJobTable(store)
    return JobTable(store)
