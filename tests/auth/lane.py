"""Filling a process's password lane on purpose (for the tests of its bound)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

from riskmap.auth import passwords

T = TypeVar("T")


@contextmanager
def lane_full(waiting: int) -> Iterator[None]:
    """Hold the lane's thread, and have ``waiting`` real checks wait behind it (each on a
    thread of its own) until the block ends; then let them all finish."""
    gate = threading.Event()
    blocker = passwords._lane().submit(gate.wait)
    checks = [threading.Thread(target=passwords.verify, args=(None, "x" * 12))
              for _ in range(waiting)]
    for t in checks:
        t.start()
    deadline = time.monotonic() + 10
    while queued() < waiting:  # each check has taken its place in the queue
        assert time.monotonic() < deadline, "the checks never queued"
        time.sleep(0.005)
    try:
        yield
    finally:
        gate.set()
        blocker.result(timeout=10)
        for t in checks:
            t.join(timeout=10)


def queued() -> int:
    """How many checks wait for this process's lane."""
    return passwords._WAITING


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``, which must return (or raise) within ``seconds``: a check that waits for a
    full lane instead of being refused fails the test rather than hanging it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result(timeout=seconds)
