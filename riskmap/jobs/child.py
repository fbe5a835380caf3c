"""The child process that runs one job under resource limits (:func:`main`).

The worker starts it with a fresh interpreter (never ``fork``: the worker may be a thread of the
web server), writes the job's spec as JSON to its stdin and reads messages, one JSON object per
line, from a pipe whose descriptor the spec names:

``{"t": "progress", "f": 0.4, "m": "coverage matrix"}``
    how far it got;
``{"t": "result", "data": ...}``
    the function's result;
``{"t": "error", "why": "memory" | "refused" | "cancelled" | "failed", "m": "..."}``
    why it stopped without a result;
``{"t": "usage", "rss_mb": ..., "vm_mb": ...}``
    peak resident and virtual memory, last.

Before the job runs, the child limits itself: ``RLIMIT_AS`` (address space: an allocation
beyond it raises ``MemoryError`` in the job) and ``RLIMIT_CPU`` (CPU seconds; the kernel stops
the process), lowers its CPU priority (``nice`` :data:`NICENESS`: the pages that share the
machine with a job get the CPU first; a job still uses whatever they leave idle), and
volunteers to be the first process the kernel's OOM killer picks. ``SIGUSR1``
from the worker asks it to stop: the job's next ``progress(...)`` raises
:class:`~riskmap.jobs.errors.Cancelled`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["JobContext", "jsonable", "main", "memory_usage_mb"]

_CANCEL = [False]
_MIN_INTERVAL = 0.25  # seconds between two progress messages (unless the text changes)


def memory_usage_mb() -> dict[str, float]:
    """This process's memory in MiB: ``vm`` (address space, what ``RLIMIT_AS`` limits),
    ``vm_peak``, ``rss`` and ``rss_peak`` (from ``/proc/self/status``; zeros elsewhere)."""
    names = {"VmSize": "vm", "VmPeak": "vm_peak", "VmRSS": "rss", "VmHWM": "rss_peak"}
    out = dict.fromkeys(names.values(), 0.0)
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in names:
                    out[names[key]] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def jsonable(value: Any) -> Any:
    """``value`` with NumPy scalars made plain, NaN/inf made None and timestamps made text.

    Examples
    --------
    >>> jsonable({"a": float("nan"), "b": (1, 2.5), 3: None})
    {'a': None, 'b': [1, 2.5], '3': None}
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return jsonable(value.tolist())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class JobContext:
    """What a job's function gets as ``progress``: call it to report progress.

    ``progress(fraction, message)`` records how far the job got (``fraction`` in 0..1) and
    raises :class:`~riskmap.jobs.errors.Cancelled` once the job was cancelled; call it often
    (every second or so) so a cancel takes effect quickly.

    Attributes
    ----------
    job_id, kind, owner
        The job.
    memory_mb, timeout_s
        The job's limits (MiB of address space, seconds of wall-clock time).
    store
        The store the job was queued in (opened in the child).
    access
        A :class:`~riskmap.layers.access.DataAccess` for the owner, scoped to the scope the
        job was submitted with, auditing its reads as ``job:<id>``.
    """

    def __init__(self, *, job_id: str, kind: str, owner: str, store: Any, access: Any,
                 memory_mb: float | None, timeout_s: float | None,
                 send: Any = None) -> None:
        self.job_id = job_id
        self.kind = kind
        self.owner = owner
        self.store = store
        self.access = access
        self.memory_mb = memory_mb
        self.timeout_s = timeout_s
        self._send = send
        self._last: tuple[str | None, float] = (None, 0.0)
        self.fraction = 0.0
        self.message = ""

    @classmethod
    def inline(cls, store: Any, *, owner: str = "local", access: Any = None,
               kind: str = "inline", memory_mb: float | None = None) -> JobContext:
        """A context for running a job's function in this process (tests, the CLI): progress
        is kept on the object, nothing is limited, nothing cancels it."""
        from riskmap.layers.access import DataAccess

        return cls(job_id="inline", kind=kind, owner=owner, store=store,
                   access=access if access is not None else DataAccess(store, user=owner),
                   memory_mb=memory_mb, timeout_s=None)

    @property
    def cancelled(self) -> bool:
        """Whether the worker asked the job to stop."""
        return _CANCEL[0]

    def check(self) -> None:
        """Raise :class:`~riskmap.jobs.errors.Cancelled` if the job was cancelled."""
        if _CANCEL[0] and self._send is not None:
            from riskmap.jobs.errors import Cancelled

            raise Cancelled(f"job {self.job_id} was cancelled")

    def __call__(self, fraction: float, message: str = "") -> None:
        """Report progress (0..1 and what it is doing); raises Cancelled when cancelled."""
        self.check()
        fraction = min(max(float(fraction), 0.0), 1.0) if math.isfinite(fraction) else 0.0
        self.fraction, self.message = fraction, str(message)[:300]
        if self._send is None:
            return
        last_m, last_t = self._last
        t = time.monotonic()
        if self.message != last_m or t - last_t >= _MIN_INTERVAL or fraction >= 1.0:
            self._last = (self.message, t)
            self._send({"t": "progress", "f": round(fraction, 4), "m": self.message})

    def memory_available_mb(self) -> float | None:
        """MiB the job may still allocate before its limit (None when it has none)."""
        if self.memory_mb is None:
            return None
        return max(0.0, float(self.memory_mb) - memory_usage_mb()["vm"])


#: how much a job's child lowers its CPU priority (``os.nice``; 0-19): the load test (a camera
#: plan beside 50 users on 2 cores) showed the plan taking 30% of the CPU at equal priority,
#: and still ~30% at 10 while pages queued in the login burst. A job is background work: at
#: 19 it has the CPU the pages leave, and the whole machine when they leave it all.
NICENESS = 19


def _limit(memory_mb: float, cpu_s: int) -> None:
    """Limit this process's address space and CPU time, lower its priority; volunteer for the
    OOM killer."""
    size = int(memory_mb * 2**20)
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    cap = cpu_s + 5 if hard == resource.RLIM_INFINITY else min(cpu_s + 5, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (min(cpu_s, cap), cap))
    with contextlib.suppress(OSError):  # not allowed here: run at the worker's priority
        os.nice(NICENESS)
    # the child leads a session of its own, hence (where the kernel groups by session:
    # sched_autogroup) a scheduling group of its own, whose share a process's nice does not
    # lower: lower the group's too (measured: at nice 10 alone, a plan still took a third of
    # the CPU from the pages in the load test)
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(str(NICENESS), encoding="ascii")
    try:
        with open("/proc/self/oom_score_adj", "w", encoding="ascii") as fh:
            fh.write("1000")
    except OSError:
        pass


def _is_memory_error(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = f"{type(exc).__name__} {exc}".lower()
    return any(s in text for s in ("bad_alloc", "unable to allocate", "out of memory",
                                   "cannot allocate memory", "memoryerror",
                                   "arrowmemoryerror"))


def _writer(fd: int) -> Any:
    out = os.fdopen(fd, "wb", buffering=0)

    def send(message: dict[str, Any]) -> None:
        data = (json.dumps(message, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            n = out.write(view)
            view = view[n or 0:]

    return send


def _run(spec: dict[str, Any], send: Any) -> None:
    """Run the job of ``spec`` and send its result or why it stopped."""
    from riskmap.errors import ConfigError, RiskmapError
    from riskmap.jobs.errors import Cancelled, JobRefused
    from riskmap.jobs.registry import import_target
    from riskmap.layers import open_store
    from riskmap.layers.access import DataAccess

    why = None
    message = ""
    try:
        func = import_target(spec["target"])
        store = open_store(spec["store"])
        try:
            scope = spec.get("scope") or {}
            access = DataAccess(store, user=spec["owner"], regions=scope.get("regions"),
                                districts=scope.get("districts"),
                                client=f"job:{spec['job_id']}")
            ctx = JobContext(job_id=spec["job_id"], kind=spec["kind"], owner=spec["owner"],
                             store=store, access=access, memory_mb=spec["memory_mb"],
                             timeout_s=spec["timeout_s"], send=send)
            data = jsonable(func(spec["params"], ctx))
            del ctx
        finally:
            store.close()
        send({"t": "result", "data": data})
        return
    except Cancelled:
        why, message = "cancelled", "cancelled"
    except (JobRefused, ConfigError) as exc:
        why, message = "refused", str(exc)
    except BaseException as exc:
        if _is_memory_error(exc):
            why, message = "memory", f"{type(exc).__name__}: {exc}"[:500]
        else:
            why = "failed"
            message = str(exc) if isinstance(exc, RiskmapError) else \
                f"{type(exc).__name__}: {exc}"[:500]
            traceback.print_exc(file=sys.stderr)
    # the exception (and the frames holding the job's data) is gone: there is memory again
    send({"t": "error", "why": why, "m": message})


def main() -> None:
    """Entry point: read the spec from stdin, limit, run, report, exit 0."""
    spec = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    sys.stdin.close()
    for path in spec.get("sys_path") or ():
        if path not in sys.path:
            sys.path.append(path)
    signal.signal(signal.SIGUSR1, lambda *_: _CANCEL.__setitem__(0, True))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the worker, which stops us
    _limit(float(spec["memory_mb"]), int(spec["cpu_s"]))
    send = _writer(int(spec["fd"]))
    try:
        _run(spec, send)
    finally:
        usage = memory_usage_mb()
        send({"t": "usage", "rss_mb": round(usage["rss_peak"], 1),
              "vm_mb": round(usage["vm_peak"], 1)})


if __name__ == "__main__":
    main()
