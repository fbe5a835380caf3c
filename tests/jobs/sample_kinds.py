"""Job functions for the tests (module-level: the worker's child process imports them by name)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def finish(params: Mapping[str, Any], progress: Any) -> dict[str, Any]:
    """Report progress in steps (slowly enough for the worker to write them), return a sum."""
    steps = int(params.get("steps", 3))
    for i in range(steps):
        progress(i / steps, f"step {i + 1} of {steps}")
        time.sleep(float(params.get("pause", 0.5)))
    rows = len(progress.access.read("mahallas", purpose="test"))
    return {"sum": sum(params.get("values", [])), "mahallas": rows, "owner": progress.owner,
            "nan": float("nan"), "nice": os.nice(0), "autogroup": _autogroup_nice()}


def _autogroup_nice() -> int | None:
    """The nice value of this process's scheduling group (None without sched_autogroup)."""
    try:
        text = Path("/proc/self/autogroup").read_text(encoding="ascii")  # ".../7 nice 10"
    except OSError:
        return None
    return int(text.split()[-1])


def hog(params: Mapping[str, Any], progress: Any) -> None:
    """Allocate (and touch) more memory than the job may have."""
    progress(0.1, f"pid {os.getpid()}")
    chunks = [np.ones(2**27) for _ in range(int(params.get("chunks", 64)))]  # 1 GiB a chunk
    progress(0.9, f"held {len(chunks)} GiB")


def _note_pid(params: Mapping[str, Any]) -> None:
    """Write this process's id to ``params["pidfile"]`` (when given), for the test to check."""
    if params.get("pidfile"):
        with open(str(params["pidfile"]), "w", encoding="ascii") as fh:
            fh.write(str(os.getpid()))


def sleeper(params: Mapping[str, Any], progress: Any) -> None:
    """Report progress every 0.1 s (with its pid) until cancelled or out of time."""
    _note_pid(params)
    until = time.monotonic() + float(params.get("seconds", 60))
    while time.monotonic() < until:
        progress(0.5, f"pid {os.getpid()}")
        time.sleep(0.1)


def deaf(params: Mapping[str, Any], progress: Any) -> None:
    """Report its pid once, then sleep without asking whether it was cancelled."""
    progress(0.2, f"pid {os.getpid()}")
    time.sleep(float(params.get("seconds", 60)))


def refuse(params: Mapping[str, Any], progress: Any) -> None:
    """Refuse the work, saying why."""
    from riskmap.jobs import JobRefused

    raise JobRefused("the area is too large: narrow it")


def crash(params: Mapping[str, Any], progress: Any) -> None:
    """Fail with an unexpected error."""
    raise ZeroDivisionError("no luck")
