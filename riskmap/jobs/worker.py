"""The worker loop: claim queued jobs and run each in a limited child process.

``riskmap worker --store URL --concurrency N`` runs :meth:`Worker.run` in the foreground;
``riskmap serve`` on a single machine calls :func:`start_background_worker`, which runs the same
loop in a daemon thread of the server process (the jobs themselves still run in child
processes, so a job that runs out of memory or time never takes the server with it).

Jobs of a worker that died (its heartbeat stopped, or its process is gone from this host) are
queued again once; a job whose worker dies a second time fails, saying so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pandas as pd

from riskmap.jobs.api import META, prune
from riskmap.jobs.runner import Outcome, run_job
from riskmap.jobs.table import RUNNING, JobTable, job_table, now
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store, open_store

__all__ = ["MAX_ATTEMPTS", "Worker", "reap_stale", "start_background_worker", "worker_name"]

log = logging.getLogger("riskmap.jobs")

#: a job is started at most this many times (a worker that dies takes one attempt with it)
MAX_ATTEMPTS = 2


def worker_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(worker: str | None) -> bool:
    """True when ``worker`` names a process of this host that no longer exists."""
    if not worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def reap_stale(store: Store, *, stale_s: float = 60.0, skip: set[str] | None = None,
               table: JobTable | None = None) -> list[str]:
    """Take back the jobs of dead workers: queue them again, or fail them after
    :data:`MAX_ATTEMPTS` starts (a job cancelled meanwhile ends cancelled).

    A running job's worker is dead when its heartbeat is older than ``stale_s`` seconds, or
    when it names a process of this host that is gone. ``skip``: job ids this worker runs.

    Returns the ids of the jobs taken back.
    """
    table = table or job_table(store)
    cutoff = now() - pd.Timedelta(seconds=stale_s)
    out = []
    for row in table.select(statuses=RUNNING):
        if skip and row["job_id"] in skip:
            continue
        beat = row["heartbeat"] or row["started_at"]
        if not (beat is None or beat < cutoff or _dead_here(row["worker"])):
            continue
        out += _take_back(store, table, row)
    return out


def _take_back(store: Store, table: JobTable, row: dict[str, Any]) -> list[str]:
    job_id, worker = str(row["job_id"]), row["worker"] or "?"
    params = json.loads(row["params"] or "{}")
    meta = params.get(META) or {}
    attempt = int(meta.get("attempt") or 1)
    at = now()
    if row["status"] == "cancel_requested":
        status, message = "cancelled", f"cancelled (its worker {worker} stopped responding)"
        changes: dict[str, Any] = {"status": status, "message": message, "finished_at": at}
    elif attempt < MAX_ATTEMPTS:
        status = "queued"
        message = f"queued again: its worker {worker} stopped responding"
        params[META] = {**meta, "attempt": attempt + 1}
        changes = {"status": status, "message": message, "worker": None, "started_at": None,
                   "heartbeat": None, "progress": 0.0,
                   "params": json.dumps(params, sort_keys=True, ensure_ascii=False,
                                        separators=(",", ":"))}
    else:
        status = "failed"
        message = (f"its worker ({worker}) stopped responding {attempt} times while it ran; "
                   "it may be too big for the machine: narrow the request")
        changes = {"status": status, "message": message, "finished_at": at}
    _, changed = table.update(job_id, changes, when=RUNNING, heartbeat_was=row["heartbeat"])
    if not changed:
        return []
    log.warning("job %s: %s", job_id, message)
    with contextlib.suppress(Exception):
        DataAccess(store, user=str(row["owner"]), client=f"worker:{worker_name()}").audit(
            "job_requeue" if status == "queued" else "job_finish", layer="jobs",
            outcome="ok" if status == "queued" else status,
            detail={"job_id": job_id, "kind": row["kind"], "message": message})
    return [job_id]


class Worker:
    """Claims queued jobs from a store and runs up to ``concurrency`` at once.

    Parameters
    ----------
    store_url
        The store (a directory or a PostgreSQL URL); the worker opens its own connection.
    concurrency
        Jobs run at the same time (each in its own child process, each with its kind's
        memory limit: give the machine ``concurrency`` times the largest limit).
    poll_s
        Seconds between two looks at the queue when it is empty.
    heartbeat_s
        Seconds between two heartbeats of a running job.
    stale_s
        A running job whose heartbeat is older than this belongs to a dead worker.
    prune_days
        Finished jobs older than this are deleted (once an hour; None: never).
    on_finish
        Called with the job id and the :class:`~riskmap.jobs.runner.Outcome` of each job.
    """

    def __init__(self, store_url: str, *, concurrency: int = 1, poll_s: float = 1.0,
                 heartbeat_s: float = 5.0, stale_s: float = 60.0,
                 prune_days: float | None = 30.0,
                 on_finish: Callable[[str, Outcome], None] | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency={concurrency}: expected at least 1")
        if stale_s <= 2 * heartbeat_s:
            raise ValueError(f"stale_s={stale_s} must exceed two heartbeats "
                             f"({2 * heartbeat_s} s)")
        self.store_url = str(store_url)
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.stale_s = stale_s
        self.prune_days = prune_days
        self.on_finish = on_finish
        self.name = worker_name()
        self.stopping = threading.Event()  # stop() was called
        self._halt = threading.Event()  # the current run() ends: its children are killed
        self._running: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0
        self._last_reap = float("-inf")
        self.finished = 0

    # ---- the loop ------------------------------------------------------------------------
    def run(self, *, once: bool = False) -> int:
        """Claim and run jobs until :meth:`stop` (or, with ``once``, until the queue is empty
        and nothing runs). Returns the number of jobs finished."""
        store = open_store(self.store_url)
        table = job_table(store)
        self._halt.clear()
        try:
            while not self.stopping.is_set():
                self._housekeeping(store, table)
                started = self._fill(store, table)
                if once and not started and not self._busy():
                    break
                self.stopping.wait(0.05 if started else self.poll_s)
        finally:
            self._halt.set()
            for thread in self._threads():
                thread.join()
            store.close()
        return self.finished

    def _housekeeping(self, store: Store, table: JobTable) -> None:
        # a dead worker is one silent for stale_s: looking for them a few times per stale_s
        # is enough (every poll, it cost an idle app ~2 CPU-s a minute per process)
        if time.monotonic() - self._last_reap < self.stale_s / 4:
            return
        self._last_reap = time.monotonic()
        try:
            reap_stale(store, stale_s=self.stale_s, skip=set(self._running), table=table)
            if self.prune_days is not None and time.monotonic() - self._last_prune > 3600:
                self._last_prune = time.monotonic()
                prune(store, older_than_days=self.prune_days)
        except Exception:
            log.warning("jobs: housekeeping failed", exc_info=True)

    def _fill(self, store: Store, table: JobTable) -> bool:
        """Claim jobs while there is a free slot; True when one was started."""
        started = False
        while not self.stopping.is_set() and self._busy() < self.concurrency:
            try:
                row = table.claim(self.name)
            except Exception:
                log.warning("jobs: cannot claim a job", exc_info=True)
                return started
            if row is None:
                return started
            thread = threading.Thread(target=self._run_one, args=(store, row),
                                      name=f"riskmap-job-{row['job_id']}", daemon=True)
            with self._lock:
                self._running[str(row["job_id"])] = thread
            thread.start()
            started = True
        return started

    def _run_one(self, store: Store, row: dict[str, Any]) -> None:
        job_id = str(row["job_id"])
        try:
            outcome = run_job(store, row, worker=self.name, heartbeat_s=self.heartbeat_s,
                              stop=self._halt)
            self.finished += outcome.status not in ("queued", "abandoned")
            if self.on_finish is not None:
                self.on_finish(job_id, outcome)
        except Exception:
            log.exception("job %s: the worker could not run it", job_id)
            with contextlib.suppress(Exception):
                job_table(store).update(job_id, {
                    "status": "failed", "finished_at": now(),
                    "message": "the worker could not run it; its log has details"},
                    when=RUNNING)
        finally:
            with self._lock:
                self._running.pop(job_id, None)

    def _busy(self) -> int:
        with self._lock:
            return len(self._running)

    def _threads(self) -> list[threading.Thread]:
        with self._lock:
            return list(self._running.values())

    # ---- in the background ---------------------------------------------------------------
    def start(self) -> Worker:
        """Run :meth:`run` in a daemon thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("this worker was started already")
        self._thread = threading.Thread(target=self._background, name="riskmap-jobs",
                                        daemon=True)
        self._thread.start()
        return self

    def _background(self) -> None:
        while not self.stopping.is_set():
            try:
                self.run()
            except Exception:  # the store went away: try again, never take the server down
                log.exception("jobs: the background worker failed; restarting in 10 s")
                if self.stopping.wait(10.0):
                    return
            else:
                return

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop: running jobs' children are killed and the jobs queued again."""
        self.stopping.set()
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        """Whether the background thread runs."""
        return self._thread is not None and self._thread.is_alive()


def start_background_worker(store_url: str, *, concurrency: int = 1, **options: Any) -> Worker:
    """Run a :class:`Worker` in a daemon thread of this process (``riskmap serve`` on one
    machine) and stop it when the process exits. Returns the worker (``.stop()`` ends it).

    Keyword options are those of :class:`Worker`.
    """
    import atexit

    worker = Worker(store_url, concurrency=concurrency, **options).start()
    atexit.register(worker.stop)
    return worker
