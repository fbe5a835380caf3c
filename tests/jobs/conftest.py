"""Fixtures of the job tests: test kinds with small limits, a background worker, waiting."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from riskmap.jobs import JobStatus, Worker, register_kind, status
from tests import fixtures
from tests.jobs import sample_kinds

#: small limits: a child needs ~0.5 GiB of address space for Python, NumPy, pandas and Arrow
KINDS = {
    "t_finish": (sample_kinds.finish, 1024, 60),
    "t_hog": (sample_kinds.hog, 1024, 60),
    "t_sleeper": (sample_kinds.sleeper, 1024, 60),
    "t_deaf": (sample_kinds.deaf, 1024, 60),
    # long enough for a child to start on a loaded CI machine (imports take seconds there)
    "t_slow": (sample_kinds.sleeper, 1024, 25),
    "t_refuse": (sample_kinds.refuse, 1024, 60),
    "t_crash": (sample_kinds.crash, 1024, 60),
}


@pytest.fixture(autouse=True, scope="session")
def _test_kinds() -> None:
    for name, (func, memory, timeout) in KINDS.items():
        register_kind(name, func, memory_mb=memory, timeout_s=timeout,
                      advice="narrow the test", replace=True)


@pytest.fixture
def world_store(store: Any) -> Any:
    """The two-backend store holding the tiny world's mahallas."""
    store.replace("mahallas", fixtures.mahallas())
    return store


def wait_for(store: Any, job_id: str, done: Callable[[JobStatus], bool], *,
             timeout: float = 60.0) -> JobStatus:
    """Poll the job until ``done(status)``; fail with the last status after ``timeout``."""
    until = time.monotonic() + timeout
    while True:
        st = status(store, job_id)
        if done(st):
            return st
        if time.monotonic() > until:
            pytest.fail(f"job {job_id} still {st.status} ({st.message}) after {timeout} s")
        time.sleep(0.1)


@contextmanager
def background_worker(store: Any, **options: Any) -> Iterator[Worker]:
    """A worker running in a thread over ``store`` for the block; stopped after it."""
    options.setdefault("poll_s", 0.1)
    options.setdefault("heartbeat_s", 0.5)
    options.setdefault("stale_s", 5.0)
    worker = Worker(store.url, **options).start()
    try:
        yield worker
    finally:
        worker.stop(timeout=60)
        assert not worker.alive
