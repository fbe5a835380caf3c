"""Background jobs: long work (camera plans, zone reports, review packs, large exports, builds)
run by a worker in a child process with a memory and a time limit.

The app (or the CLI) submits a job and shows its progress; a worker (``riskmap worker``, or a
thread of ``riskmap serve`` started by :func:`start_background_worker`) claims it from the
``jobs`` layer of the store, runs it in a child process limited by ``RLIMIT_AS`` and
``RLIMIT_CPU`` and a wall clock, and writes the result, or a message saying why it failed or
was refused. A job that runs out of memory or time fails alone: the worker and the server
stay up. Every submit, cancel and finish is audited as the job's owner. See ``docs/jobs.md``.

For example (``store`` an open store)::

    from riskmap.jobs import status, submit

    job_id = submit(store, "plan_cameras", {"area": "Termiz shahri", "budget": 20,
                    "risk": "kde", "candidates": ["school", "grid"]}, owner="ali")
    status(store, job_id).progress  # 0.4 while it runs, 1.0 when done
"""

from __future__ import annotations

from riskmap.jobs.api import (
    MAX_ACTIVE_PER_OWNER,
    JobStatus,
    cancel,
    dedupe_key,
    list_jobs,
    prune,
    result,
    status,
    submit,
)
from riskmap.jobs.child import JobContext
from riskmap.jobs.errors import Cancelled, JobNotFound, JobRefused
from riskmap.jobs.registry import JobKind, get_kind, kind_names, register_kind
from riskmap.jobs.runner import Outcome, run_job
from riskmap.jobs.table import ACTIVE, STATUSES, TERMINAL
from riskmap.jobs.worker import Worker, reap_stale, start_background_worker

__all__ = [
    "ACTIVE",
    "MAX_ACTIVE_PER_OWNER",
    "STATUSES",
    "TERMINAL",
    "Cancelled",
    "JobContext",
    "JobKind",
    "JobNotFound",
    "JobRefused",
    "JobStatus",
    "Outcome",
    "Worker",
    "cancel",
    "dedupe_key",
    "get_kind",
    "kind_names",
    "list_jobs",
    "prune",
    "reap_stale",
    "register_kind",
    "result",
    "run_job",
    "start_background_worker",
    "status",
    "submit",
]
