"""Run one claimed job in a child process with limits, and write how it ended.

The parent (a worker thread) starts a fresh Python running :func:`riskmap.jobs.child.main`
with the job's spec on stdin, then watches it: it copies the child's progress into the job row
(and a heartbeat every few seconds), kills the child when the wall-clock limit passes or when
the job is cancelled (after asking it to stop and a short grace), and finally writes the
result or a message that says what went wrong. Whatever the child does (allocate without bound, crash, hang), the parent
only waits and reads; the limits hold the child, never the parent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from riskmap.jobs.registry import JobKind, get_kind
from riskmap.jobs.table import RUNNING, JobTable, job_table, now
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store

__all__ = ["MAX_RESULT_CHARS", "Outcome", "child_env", "describe_mib", "describe_seconds",
           "run_job"]

log = logging.getLogger("riskmap.jobs")

#: largest result kept (characters of JSON); a larger one fails the job
MAX_RESULT_CHARS = 32 * 2**20
#: environment of the child: one thread per numeric library and few malloc arenas, so the
#: address space (what RLIMIT_AS limits) stays close to the memory really used
_CHILD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "NUMEXPR_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
              "ARROW_DEFAULT_MEMORY_POOL": "system", "PYTHONUNBUFFERED": "1"}
#: what the child runs (``-c``, not ``-m riskmap.jobs.child``: the package imports that module
#: already, which ``runpy`` warns about)
_CHILD_MAIN = "from riskmap.jobs.child import main; main()"
_NEAR_LIMIT = 0.9  # a child killed by a signal this close to its memory limit ran out of it


@dataclass
class Outcome:
    """How a job ended (what :func:`run_job` wrote)."""

    status: str  # done, failed, cancelled, refused, or "abandoned" (not ours any more)
    message: str
    seconds: float
    peak_rss_mb: float | None = None
    peak_vm_mb: float | None = None
    result_chars: int = 0


def describe_mib(mib: float) -> str:
    """Memory for a message.

    >>> describe_mib(2048), describe_mib(1536), describe_mib(512)
    ('2 GiB', '1.5 GiB', '512 MiB')
    """
    if mib >= 1024:
        return f"{mib / 1024:.1f}".rstrip("0").rstrip(".") + " GiB"
    return f"{mib:.0f} MiB"


def describe_seconds(seconds: float) -> str:
    """A duration for a message.

    >>> describe_seconds(600), describe_seconds(60), describe_seconds(90), describe_seconds(3600)
    ('10 minutes', '1 minute', '90 seconds', '1 hour')
    """
    if seconds >= 3600 and seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{seconds:.0f} seconds" if seconds >= 10 else f"{seconds:.1f} seconds"


def child_env() -> dict[str, str]:
    """The environment of a job's child process (the worker's, with :data:`_CHILD_ENV`
    filled in where the worker's does not set them)."""
    env = dict(os.environ)
    for key, value in _CHILD_ENV.items():
        env.setdefault(key, value)
    return env


def _vm_mb(pid: int) -> float:
    """Address space of process ``pid`` in MiB (0 when gone)."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


class _Messages:
    """JSON lines read without blocking from the child's pipe."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self.buffer = bytearray()
        self.eof = False
        self.too_big = False

    def read(self, timeout: float) -> list[dict[str, Any]]:
        if self.eof:
            time.sleep(timeout)
            return []
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            while True:
                try:
                    chunk = os.read(self.fd, 1 << 20)
                except BlockingIOError:
                    break
                if not chunk:
                    self.eof = True
                    break
                self.buffer += chunk
                if len(self.buffer) > MAX_RESULT_CHARS * 4 + 2**20:  # UTF-8: <= 4 bytes a char
                    self.too_big = True
                    self.buffer.clear()
        out = []
        while b"\n" in self.buffer:
            line, _, rest = bytes(self.buffer).partition(b"\n")
            self.buffer = bytearray(rest)
            with contextlib.suppress(ValueError):
                out.append(json.loads(line.decode("utf-8")))
        return out


class _Watch:
    """The state of one child as the parent sees it."""

    def __init__(self, kind: JobKind | None) -> None:
        self.kind = kind
        self.result: Any = None
        self.result_text: str | None = None
        self.error: tuple[str, str] | None = None
        self.usage: dict[str, float] = {}
        self.progress: tuple[float, str] | None = None
        self.vm_seen = 0.0
        self.killed_for: str | None = None  # "timeout", "cancel", "stop", "abandoned", "big"
        self.note = ""  # the result's ``job_message``

    def take(self, message: dict[str, Any]) -> None:
        t = message.get("t")
        if t == "progress":
            self.progress = (float(message.get("f") or 0.0), str(message.get("m") or ""))
        elif t == "result":
            data = message.get("data")
            self.result_text = json.dumps(data, ensure_ascii=False, allow_nan=False)
            if isinstance(data, dict) and data.get("job_message"):
                self.note = str(data["job_message"])[:1000]
        elif t == "error":
            self.error = (str(message.get("why")), str(message.get("m") or ""))
        elif t == "usage":
            self.usage = {"rss": float(message.get("rss_mb") or 0),
                          "vm": float(message.get("vm_mb") or 0)}


def _spec(row: dict[str, Any], kind: JobKind, store_url: str, fd: int) -> dict[str, Any]:
    params = json.loads(row["params"] or "{}")
    meta = params.pop("_job", None) or {}
    return {"job_id": row["job_id"], "kind": kind.name, "target": kind.target,
            "owner": row["owner"], "params": params, "store": store_url,
            "scope": {"regions": meta.get("regions"), "districts": meta.get("districts")},
            "memory_mb": kind.memory_mb, "timeout_s": kind.timeout_s, "cpu_s": kind.cpu_s,
            "fd": fd, "sys_path": [p for p in sys.path if p]}


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (the child and anything it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()


def run_job(store: Store, row: dict[str, Any], *, worker: str, heartbeat_s: float = 5.0,
            progress_s: float = 1.0, grace_s: float = 3.0,
            stop: threading.Event | None = None) -> Outcome:
    """Run the claimed job ``row`` in a child process and write how it ended.

    Parameters
    ----------
    store
        The store holding the job (the child opens its own connection from ``store.url``).
    row
        The job's row, claimed (status ``running``) by ``worker``.
    worker
        ``host:pid`` of the worker, for the log.
    heartbeat_s
        Seconds between two heartbeats written while the job runs.
    progress_s
        At most one progress write per this many seconds.
    grace_s
        Seconds a cancelled child has to stop by itself before it is killed.
    stop
        When set (the worker is stopping), the child is killed and the job is queued again.

    Returns
    -------
    Outcome
        The status written and its message (``abandoned``: the job stopped being this
        worker's, e.g. another worker took it over as stale; nothing was written).
    """
    table = job_table(store)
    job_id = str(row["job_id"])
    t0 = time.monotonic()
    try:
        kind = get_kind(str(row["kind"]))
    except KeyError as exc:
        return _finish(store, table, row, "failed", str(exc.args[0]), None, t0, _Watch(None))
    watch = _Watch(kind)
    read_fd, write_fd = os.pipe()
    # closed by _log_child_output
    log_file = tempfile.TemporaryFile(prefix=f"riskmap-{job_id}-")  # noqa: SIM115
    try:
        spec = _spec(row, kind, store.url, write_fd)
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD_MAIN], stdin=subprocess.PIPE,
            stdout=log_file, stderr=log_file, pass_fds=(write_fd,), env=child_env(),
            start_new_session=True, close_fds=True)
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        log_file.close()
        raise
    os.close(write_fd)
    try:
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.write(json.dumps(spec).encode("utf-8"))
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()
        _watch(store, table, job_id, proc, _Messages(read_fd), watch, heartbeat_s=heartbeat_s,
               progress_s=progress_s, grace_s=grace_s, stop=stop, t0=t0)
    finally:
        if proc.poll() is None:
            _kill(proc)
            proc.wait()
        os.close(read_fd)
        _log_child_output(job_id, log_file, proc.returncode)
    status, message = _judge(watch, kind, proc.returncode, t0)
    if status == "requeue":
        return _requeue(table, row, message, t0)
    return _finish(store, table, row, status, message, watch.result_text, t0, watch)


def _watch(store: Store, table: JobTable, job_id: str, proc: subprocess.Popen[bytes],
           messages: _Messages, watch: _Watch, *, heartbeat_s: float, progress_s: float,
           grace_s: float, stop: threading.Event | None, t0: float) -> None:
    """Follow the child until it exits (or is killed): progress, heartbeat, limits, cancel."""
    kind = watch.kind
    assert kind is not None
    last_write = time.monotonic()
    written: tuple[float, str] | None = None
    cancel_at: float | None = None
    while True:
        for message in messages.read(0.2):
            watch.take(message)
        watch.vm_seen = max(watch.vm_seen, _vm_mb(proc.pid))
        if messages.too_big and watch.killed_for is None:
            watch.killed_for = "big"
            _kill(proc)
        exited = proc.poll() is not None
        if exited:
            until = time.monotonic() + 5.0
            while not messages.eof and time.monotonic() < until:  # what it wrote last
                for message in messages.read(0.05):
                    watch.take(message)
            return
        t = time.monotonic()
        if watch.killed_for is None and t - t0 > kind.timeout_s:
            watch.killed_for = "timeout"
            _kill(proc)
            continue
        if stop is not None and stop.is_set() and watch.killed_for is None:
            watch.killed_for = "stop"
            _kill(proc)
            continue
        if cancel_at is not None and t > cancel_at and watch.killed_for is None:
            watch.killed_for = "cancel"
            _kill(proc)
            continue
        due = t - last_write >= heartbeat_s or (
            watch.progress != written and t - last_write >= progress_s)
        if not due or watch.killed_for is not None:
            continue
        changes: dict[str, Any] = {"heartbeat": now()}
        if watch.progress is not None:
            changes["progress"], changes["message"] = watch.progress
        try:
            after, changed = table.update(job_id, changes, when=RUNNING)
        except Exception:  # the store is busy or gone for a moment: try again next time
            log.warning("job %s: cannot write progress", job_id, exc_info=True)
            last_write = t
            continue
        last_write, written = t, watch.progress
        if after is None or not changed:  # removed, or taken over by another worker
            watch.killed_for = "abandoned"
            _kill(proc)
        elif after["status"] == "cancel_requested" and cancel_at is None:
            cancel_at = t + grace_s
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGUSR1)


def _judge(watch: _Watch, kind: JobKind, code: int | None, t0: float) -> tuple[str, str]:
    """The status and message of a finished child."""
    advice = kind.advice
    memory = f"needed more than {describe_mib(kind.memory_mb)} of memory: {advice}"
    took = describe_seconds(time.monotonic() - t0)
    reason = watch.killed_for
    if reason == "abandoned":
        return "abandoned", "another worker took the job over"
    if reason == "stop":
        return "requeue", "requeued: the worker stopped while it ran"
    if reason == "cancel" or (watch.error is not None and watch.error[0] == "cancelled"):
        return "cancelled", f"cancelled after {took}"
    if reason == "timeout":
        return "failed", f"took longer than {describe_seconds(kind.timeout_s)}: {advice}"
    if reason == "big":
        return "failed", (f"its result is larger than {MAX_RESULT_CHARS // 2**20} MiB: "
                          f"{advice}")
    if watch.result_text is not None:
        if len(watch.result_text) > MAX_RESULT_CHARS:
            return "failed", (f"its result is larger than {MAX_RESULT_CHARS // 2**20} MiB: "
                              f"{advice}")
        return "done", f"done in {took}" + (f": {watch.note}" if watch.note else "")
    if watch.error is not None:
        why, message = watch.error
        if why == "memory":
            return "failed", memory
        if why == "refused":
            return "refused", message
        return "failed", f"failed: {message}" if message else "failed"
    # no word from the child: it was killed (by the kernel) or crashed
    if code is not None and code < 0:
        sig = -code
        if sig == signal.SIGXCPU:
            return "failed", f"used more than {kind.cpu_s} seconds of CPU time: {advice}"
        if sig == signal.SIGKILL or watch.vm_seen >= _NEAR_LIMIT * kind.memory_mb:
            return "failed", memory
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        return "failed", f"stopped unexpectedly (signal {name}); the worker's log has details"
    return "failed", (f"stopped unexpectedly (exit code {code}) without a result; the "
                      "worker's log has details")


def _finish(store: Store, table: JobTable, row: dict[str, Any], status: str, message: str,
            result_text: str | None, t0: float, watch: _Watch) -> Outcome:
    """Write the end of the job (if it is still this worker's) and audit it."""
    seconds = time.monotonic() - t0
    usage = watch.usage
    outcome = Outcome(status=status, message=message, seconds=seconds,
                      peak_rss_mb=usage.get("rss"), peak_vm_mb=usage.get("vm"),
                      result_chars=len(result_text or ""))
    if status == "abandoned":
        return outcome
    job_id = str(row["job_id"])
    at = now()
    changes: dict[str, Any] = {"status": status, "message": message, "finished_at": at,
                               "heartbeat": at}
    if status == "done":
        changes.update(progress=1.0, result=result_text)
    after, changed = table.update(job_id, changes, when=RUNNING)
    if after is not None and changed is False and after["status"] == "cancel_requested":
        changes.update(status="cancelled", message="cancelled", result=None)
        after, changed = table.update(job_id, changes, when=("cancel_requested",))
    if not changed:
        outcome.status = "abandoned"
        return outcome
    assert after is not None
    if after["status"] != status:
        outcome.status, outcome.message = str(after["status"]), str(after["message"])
    audit_outcome = {"done": "ok"}.get(outcome.status, outcome.status)
    detail = {"job_id": job_id, "kind": row["kind"], "message": outcome.message,
              "seconds": round(seconds, 1), "peak_rss_mb": outcome.peak_rss_mb,
              "result_chars": outcome.result_chars}
    try:
        DataAccess(store, user=str(row["owner"]), client=f"worker:{row.get('worker')}").audit(
            "job_finish", layer="jobs", detail=detail, outcome=audit_outcome)
    except Exception:
        log.warning("job %s: cannot audit its end", job_id, exc_info=True)
    log.info("job %s (%s) %s: %s", job_id, row["kind"], outcome.status, outcome.message)
    return outcome


def _requeue(table: JobTable, row: dict[str, Any], message: str, t0: float) -> Outcome:
    """Put a job whose worker is stopping back in the queue."""
    table.update(str(row["job_id"]), {
        "status": "queued", "worker": None, "started_at": None, "heartbeat": None,
        "progress": 0.0, "message": message}, when=("running",))
    table.update(str(row["job_id"]), {
        "status": "cancelled", "finished_at": now(), "message": "cancelled"},
        when=("cancel_requested",))
    return Outcome(status="queued", message=message, seconds=time.monotonic() - t0)


def _log_child_output(job_id: str, log_file: Any, code: int | None) -> None:
    """Log what the child printed (a traceback) when it printed anything; then close."""
    try:
        log_file.seek(0, os.SEEK_END)
        size = log_file.tell()
        if size:
            log_file.seek(max(0, size - 20_000))
            text = log_file.read().decode("utf-8", errors="replace")
            log.warning("job %s: child process (exit %s) wrote:\n%s", job_id, code, text)
    finally:
        log_file.close()
