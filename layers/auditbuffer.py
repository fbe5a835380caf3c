"""Write-behind batches of audit records, so that auditing does not slow the app.

The app audits every view a user opens and every read of incident-level data. Appending one
record is a transaction with the audit log's lock (an advisory lock and an INSERT on PostGIS;
a journal file under an exclusive ``flock`` on the embedded store: 5-80 ms). A request that
waited for it would pay that on every filter change. Instead the app's
:class:`~layers.access.DataAccess` puts records here (``defer_audit=True``) and one background
thread per store and process appends them in batches, every :data:`INTERVAL_S` seconds, as one
chained :meth:`~layers.store.Store.append_audit` call.

Guarantees:

- Order: records are appended in the order they were put, chained like any other records
  (``riskmap audit verify`` sees no difference).
- Reads see them: reading the audit log (``Store.read("audit")``, the admin page,
  ``riskmap audit``) first flushes the pending records of every store of the same URL in this
  process (:func:`flush_for`).
- Exit: pending records are flushed when the store is closed and at interpreter exit (``atexit``: a gunicorn worker's
  graceful stop, Ctrl-C, the end of a test). A process killed with SIGKILL loses at most the
  records of its last :data:`INTERVAL_S` seconds.
- Failure: when the store refuses a batch (database down), the records stay pending and are
  tried again at the next interval; beyond :data:`MAX_PENDING` the oldest are dropped and the
  count of dropped records is logged (an error) and written as an ``audit_dropped`` record
  once the store takes writes again.
- A forked process (gunicorn with ``--preload``) starts its own thread on first use.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from typing import Any

import pandas as pd

__all__ = ["INTERVAL_S", "MAX_PENDING", "AuditBuffer", "buffer_for", "flush_all", "flush_for",
           "flush_store"]

#: seconds between the background appends (an append costs ~20 ms of the process's time
#: whatever its size: at 0.5 s, four workers spent a tenth of a core on it in a login burst)
INTERVAL_S = 1.0
#: pending records kept while the store refuses writes (the oldest are dropped beyond)
MAX_PENDING = 50_000

_log = logging.getLogger(__name__)
_BUFFERS: weakref.WeakKeyDictionary[Any, AuditBuffer] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()
_LOCAL = threading.local()  # set while this thread appends a batch (a backend reading the
                            # log inside its append must not flush again)


class AuditBuffer:
    """Pending audit records of one store, appended in batches by a background thread.

    Parameters
    ----------
    store
        The store whose ``append_audit`` (or ``append("audit", ...)``) takes the batches.
    interval_s
        Seconds between background appends.
    max_pending
        Records kept while appends fail; older ones are dropped beyond this.
    """

    def __init__(self, store: Any, *, interval_s: float = INTERVAL_S,
                 max_pending: int = MAX_PENDING) -> None:
        self._store = weakref.ref(store)
        self.url = str(getattr(store, "url", ""))
        self.interval_s = float(interval_s)
        self.max_pending = int(max_pending)
        self._pending: list[dict[str, Any]] = []
        self._dropped = 0
        self._inflight = 0
        self._lock = threading.Lock()         # guards _pending / _dropped
        self._write_lock = threading.Lock()   # one append at a time, in order
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def put(self, record: dict[str, Any]) -> None:
        """Queue one record (the fields of :data:`~layers.auditlog.FIELDS` but the chain)."""
        with self._lock:
            self._pending.append(record)
            over = len(self._pending) - self.max_pending
            if over > 0:
                del self._pending[:over]
                self._dropped += over
        self._ensure_thread()

    @property
    def pending(self) -> int:
        """Records not yet appended (queued, or in the batch being appended)."""
        with self._lock:
            return len(self._pending) + self._inflight

    def flush(self) -> int:
        """Append every pending record now; returns how many were appended.

        Raises nothing: when the store refuses them they stay pending (and are logged).
        """
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
                dropped, self._dropped = self._dropped, 0
                self._inflight = len(batch)
            if dropped:
                batch.append(_dropped_record(dropped, batch[0] if batch else None))
            store = self._store()
            if not batch or store is None:  # nothing to do, or the store is gone
                with self._lock:
                    self._inflight = 0
                return 0
            _LOCAL.active = True
            try:
                frame = pd.DataFrame(batch)
                append = getattr(store, "append_audit", None)
                if append is not None:
                    append(frame)
                else:
                    store.append("audit", frame)
            except Exception as exc:  # keep them for the next try; never lose them silently
                with self._lock:
                    if dropped:
                        batch.pop()
                        self._dropped += dropped
                    self._pending[:0] = batch
                    over = len(self._pending) - self.max_pending
                    if over > 0:
                        del self._pending[:over]
                        self._dropped += over
                _log.error("audit log: %d record(s) not yet written (%s); retrying",
                           len(batch), exc)
                return 0
            finally:
                _LOCAL.active = False
                with self._lock:
                    self._inflight = 0
            return len(batch)

    # ---- the background thread ----------------------------------------------------------
    def _ensure_thread(self) -> None:
        pid = os.getpid()
        if self._thread is not None and self._pid == pid and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._pid == pid and self._thread.is_alive():
                return
            self._pid = pid
            self._thread = threading.Thread(target=self._run, name="audit-writer",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._store() is None:
                return
            self.flush()


def _dropped_record(count: int, like: dict[str, Any] | None) -> dict[str, Any]:
    return {"at": pd.Timestamp.now(tz="UTC").floor("us"), "user": "system",
            "action": "audit_dropped", "layer": "audit", "scope": "all regions",
            "detail": f'{{"dropped": {count}}}', "rows": count,
            "client": (like or {}).get("client", ""), "outcome": "failed"}


def buffer_for(store: Any) -> AuditBuffer:
    """The (one per process) :class:`AuditBuffer` of ``store``."""
    with _REGISTRY_LOCK:
        got = _BUFFERS.get(store)
        if got is None:
            got = _BUFFERS[store] = AuditBuffer(store)
        return got


def flush_for(url: str) -> int:
    """Flush the pending records of every store of ``url`` in this process (before a read of
    the audit log, so that it shows everything audited so far)."""
    if getattr(_LOCAL, "active", False):
        return 0
    with _REGISTRY_LOCK:
        buffers = [b for b in _BUFFERS.values() if b.url == url]
    # flush() also waits for a batch the background thread is appending right now
    return sum(b.flush() for b in buffers)


def flush_store(store: Any) -> int:
    """Flush the pending records of ``store`` (when it is closed)."""
    with _REGISTRY_LOCK:
        got = _BUFFERS.get(store)
    return got.flush() if got is not None else 0


def flush_all() -> int:
    """Flush every buffer of this process (at exit)."""
    with _REGISTRY_LOCK:
        buffers = list(_BUFFERS.values())
    return sum(b.flush() for b in buffers)


atexit.register(flush_all)
