"""Submit a job, follow it, cancel it, fetch its result (what the app and the CLI call)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from riskmap.jobs.errors import JobNotFound, JobRefused
from riskmap.jobs.registry import get_kind
from riskmap.jobs.table import ACTIVE, TERMINAL, JobTable, OwnerBusy, job_table, now
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store

__all__ = ["MAX_ACTIVE_PER_OWNER", "MAX_PARAMS_CHARS", "JobStatus", "cancel", "dedupe_key",
           "list_jobs", "prune", "result", "status", "submit"]

#: a user may have this many jobs queued or running at once (a further submit is refused)
MAX_ACTIVE_PER_OWNER = 4
#: longest parameters accepted (characters of JSON)
MAX_PARAMS_CHARS = 100_000
#: the key of the parameters that holds the job system's own fields (scope, attempt)
META = "_job"


@dataclass(frozen=True)
class JobStatus:
    """Where a job stands.

    Attributes
    ----------
    job_id, kind, owner, region
        What runs, for whom, where.
    status
        ``queued``, ``running``, ``cancel_requested``, ``done``, ``failed``, ``cancelled`` or
        ``refused``.
    progress
        0..1 (None before it started).
    message
        What it is doing, or why it failed or was refused.
    created_at, started_at, finished_at, heartbeat
        UTC timestamps (None until they happen).
    worker
        ``host:pid`` of the worker that runs (ran) it.
    params
        The parameters it was submitted with.
    """

    job_id: str
    kind: str
    owner: str
    region: str | None
    status: str
    progress: float | None
    message: str | None
    created_at: pd.Timestamp | None
    started_at: pd.Timestamp | None
    finished_at: pd.Timestamp | None
    worker: str | None
    heartbeat: pd.Timestamp | None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Queued or running (a worker has it or will)."""
        return self.status in ACTIVE

    @property
    def finished(self) -> bool:
        """Done, failed, cancelled or refused."""
        return self.status in TERMINAL

    @property
    def ok(self) -> bool:
        """Done, with a result."""
        return self.status == "done"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able (timestamps as ISO 8601 text), e.g. for a ``dcc.Store``."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k, v in out.items():
            if isinstance(v, pd.Timestamp):
                out[k] = v.isoformat()
        return out

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> JobStatus:
        """The status of a job row."""
        params = _loads(row.get("params")) or {}
        params = {k: v for k, v in params.items() if k != META} if isinstance(params, dict) \
            else {}
        return cls(job_id=str(row["job_id"]), kind=str(row["kind"]), owner=str(row["owner"]),
                   region=row.get("region"), status=str(row["status"]),
                   progress=row.get("progress"), message=row.get("message"),
                   created_at=row.get("created_at"), started_at=row.get("started_at"),
                   finished_at=row.get("finished_at"), worker=row.get("worker"),
                   heartbeat=row.get("heartbeat"), params=params)


def _loads(text: Any) -> Any:
    if text is None:
        return None
    try:
        return json.loads(str(text))
    except json.JSONDecodeError:
        return None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


def dedupe_key(kind: str, owner: str, params: Mapping[str, Any]) -> str:
    """The key under which one copy of a job may be active: kind, owner and parameters.

    Examples
    --------
    >>> a = dedupe_key("plan_cameras", "ali", {"budget": 5, "area": "Termiz"})
    >>> a == dedupe_key("plan_cameras", "ali", {"area": "Termiz", "budget": 5})
    True
    >>> a == dedupe_key("plan_cameras", "vali", {"area": "Termiz", "budget": 5})
    False
    """
    text = _canonical({"kind": kind, "owner": owner, "params": dict(params)})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def submit(store: Store, kind: str, params: Mapping[str, Any], *, owner: str,
           region: str | None = None, regions: Sequence[str] | None = None,
           districts: Sequence[str] | None = None, client: str = "cli",
           max_active: int | None = MAX_ACTIVE_PER_OWNER) -> str:
    """Queue a job for a worker and return its id.

    The same ``kind``, ``owner`` and ``params`` (and scope) while such a job is queued or
    running return that job's id: a second click does not start a second copy. Audited as
    ``job_submit`` (detail: job id, kind, parameters, whether it was a repeat).

    Parameters
    ----------
    store
        The store holding the ``jobs`` layer (both backends).
    kind
        A registered kind (:func:`riskmap.jobs.register_kind`), e.g. ``"plan_cameras"``.
    params
        JSON-able parameters of the job (a mapping; at most :data:`MAX_PARAMS_CHARS`).
    owner
        The user the job runs for: it reads with this user's scope and is audited as them.
    region
        The region the job works on (shown with the job).
    regions, districts
        The owner's scope: the job's reads are limited to it (None: every region).
    client
        The client's address for the audit log.
    max_active
        Refuse when the owner already has this many jobs queued or running (None: no limit).

    Returns
    -------
    str
        The job id (of the new job, or of the running copy).

    Raises
    ------
    riskmap.jobs.JobRefused
        Parameters not JSON, too long, or too many of the owner's jobs are active.
    KeyError
        Unknown kind.
    """
    get_kind(kind)
    try:
        user_params = json.loads(_canonical(dict(params)))
    except (TypeError, ValueError) as exc:
        raise JobRefused(f"job parameters must be JSON values: {exc}") from None
    if META in user_params:
        raise JobRefused(f"job parameters may not use the reserved key {META!r}")
    scope = {"regions": sorted(set(regions)) if regions else None,
             "districts": sorted(set(districts)) if districts else None}
    stored = {**user_params, META: {**scope, "attempt": 1}}
    text = _canonical(stored)
    if len(text) > MAX_PARAMS_CHARS:
        raise JobRefused(f"job parameters are {len(text):,} characters long; at most "
                         f"{MAX_PARAMS_CHARS:,} are accepted")
    at = now()
    row = {"job_id": f"job-{uuid.uuid4().hex[:16]}", "kind": kind, "owner": owner,
           "region": region, "dedupe_key": dedupe_key(kind, owner, {**user_params, META: scope}),
           "params": text, "status": "queued", "progress": 0.0, "message": "waiting for a worker",
           "created_at": at, "started_at": None, "finished_at": None, "worker": None,
           "heartbeat": None, "result": None}
    access = DataAccess(store, user=owner, regions=regions, districts=districts, client=client)
    try:
        got, new = job_table(store).insert(row, max_active=max_active)
    except OwnerBusy as busy:
        access.audit("job_submit", layer="jobs", detail={"kind": kind, "params": user_params},
                     outcome="denied")
        raise JobRefused(f"{owner} already has {busy.active} jobs queued or running: wait "
                         "for one to finish or cancel one") from None
    access.audit("job_submit", layer="jobs", rows=1 if new else 0,
                 detail={"job_id": got["job_id"], "kind": kind, "params": user_params,
                         "repeat": not new})
    return str(got["job_id"])


def _row(table: JobTable, job_id: str, user: str | None) -> dict[str, Any]:
    row = table.get(job_id)
    if row is None or (user is not None and row["owner"] != user):
        raise JobNotFound(f"no job {job_id!r}" + (f" of {user}" if user is not None else ""))
    return row


def status(store: Store, job_id: str, *, user: str | None = None) -> JobStatus:
    """Where the job stands.

    ``user``: only that user's job is found (the app passes the logged-in user; None finds any).

    Raises
    ------
    riskmap.jobs.JobNotFound
        No such job (of that user).
    """
    return JobStatus.from_row(_row(job_table(store), job_id, user))


def result(store: Store, job_id: str, *, user: str | None = None) -> Any:
    """The job's result (the JSON its function returned) once it is done, else None.

    Raises
    ------
    riskmap.jobs.JobNotFound
        No such job (of that user).
    """
    row = _row(job_table(store), job_id, user)
    if row["status"] != "done":
        return None
    return _loads(row.get("result"))


def cancel(store: Store, job_id: str, *, by: str, force: bool = False,
           client: str = "cli") -> JobStatus:
    """Cancel a job: a queued one at once, a running one by its worker (which kills the child
    process within seconds). A finished job is left as it is.

    Parameters
    ----------
    by
        Who cancels (audited as ``job_cancel``).
    force
        Let ``by`` cancel another user's job (an admin); otherwise only the owner may.

    Raises
    ------
    riskmap.jobs.JobNotFound
        No such job.
    PermissionError
        ``by`` is not the owner and ``force`` is off.
    """
    table = job_table(store)
    row = _row(table, job_id, None)
    access = DataAccess(store, user=by, client=client)
    if row["owner"] != by and not force:
        access.audit("job_cancel", layer="jobs", detail={"job_id": job_id}, outcome="denied")
        raise PermissionError(f"{by} may not cancel job {job_id} of {row['owner']}")
    at = now()
    after, changed = table.update(job_id, {
        "status": "cancelled", "finished_at": at, "message": f"cancelled by {by} before it "
                                                             "started"}, when=("queued",))
    if not changed:
        after, changed = table.update(job_id, {
            "status": "cancel_requested", "message": f"cancelling (asked by {by})"},
            when=("running",))
    assert after is not None
    access.audit("job_cancel", layer="jobs", rows=1 if changed else 0,
                 detail={"job_id": job_id, "kind": row["kind"], "owner": row["owner"],
                         "was": row["status"], "now": after["status"]})
    if changed and after["status"] == "cancelled":
        DataAccess(store, user=str(row["owner"]), client=client).audit(
            "job_finish", layer="jobs", outcome="cancelled",
            detail={"job_id": job_id, "kind": row["kind"], "message": after["message"]})
    return JobStatus.from_row(after)


def list_jobs(store: Store, *, owner: str | None = None, kind: str | None = None,
              statuses: Iterable[str] | None = None, limit: int | None = 50
              ) -> list[JobStatus]:
    """Jobs, newest first, filtered by owner, kind and status."""
    rows = job_table(store).select(owner=owner, kind=kind, statuses=statuses)
    rows.reverse()
    return [JobStatus.from_row(r) for r in rows[:limit]]


def prune(store: Store, *, older_than_days: float = 30.0) -> int:
    """Delete finished jobs (and their results) that ended more than ``older_than_days`` ago.

    Returns the number of jobs removed.
    """
    cutoff = now() - pd.Timedelta(days=older_than_days)
    table = job_table(store)
    old = [r["job_id"] for r in table.select(statuses=TERMINAL)
           if r["finished_at"] is not None and r["finished_at"] < cutoff]
    table.delete(old)
    return len(old)
