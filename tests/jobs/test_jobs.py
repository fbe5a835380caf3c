"""Background jobs on both stores: finish, memory and time limits, cancel, dedupe, dead workers."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
from typing import Any

import pandas as pd
import pytest

from riskmap.jobs import (
    JobNotFound,
    JobRefused,
    Worker,
    cancel,
    list_jobs,
    prune,
    reap_stale,
    result,
    status,
    submit,
)
from riskmap.jobs.child import NICENESS
from riskmap.jobs.table import job_table, now
from tests.jobs.conftest import background_worker, wait_for


def _audit(store: Any, action: str) -> pd.DataFrame:
    log = store.read("audit")
    return log[(log["action"] == action).to_numpy(bool)].reset_index(drop=True)


def _pid(message: str | None) -> int:
    found = re.search(r"pid (\d+)", message or "")
    assert found, message
    return int(found.group(1))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_job_finishes_with_its_result_progress_and_audit(world_store: Any) -> None:
    store = world_store
    job_id = submit(store, "t_finish", {"values": [1, 2, 3], "steps": 4, "pause": 0.4},
                    owner="ali", region="Jizzax viloyati", client="10.0.0.7")
    first = status(store, job_id)
    assert (first.status, first.owner, first.region, first.progress) == (
        "queued", "ali", "Jizzax viloyati", 0.0)
    assert first.params == {"values": [1, 2, 3], "steps": 4, "pause": 0.4}
    assert result(store, job_id) is None
    seen: list[tuple[float, str]] = []
    with background_worker(store):
        def running(st: Any) -> bool:
            if st.status == "running" and st.progress:
                seen.append((st.progress, st.message or ""))
            return st.finished
        done = wait_for(store, job_id, running)
    assert done.status == "done", done.message
    assert done.progress == 1.0 and done.message.startswith("done in")
    assert done.started_at is not None and done.finished_at >= done.started_at
    assert any(0 < f < 1 and m.startswith("step ") for f, m in seen), seen
    got = result(store, job_id)
    # the child ran at a lower CPU priority than the worker: pages get the CPU first
    assert got.pop("nice") >= min(19, os.nice(0) + NICENESS)
    group = got.pop("autogroup")  # and its session's scheduling group, where there is one
    assert group is None or group >= NICENESS
    assert got == {"sum": 6, "mahallas": 4, "owner": "ali", "nan": None}
    submitted = _audit(store, "job_submit")
    finished = _audit(store, "job_finish")
    assert submitted["user"].tolist() == ["ali"] and submitted["client"].tolist() == ["10.0.0.7"]
    assert json.loads(submitted["detail"][0])["job_id"] == job_id
    assert finished["user"].tolist() == ["ali"] and finished["outcome"].tolist() == ["ok"]
    reads = _audit(store, "test")  # the job read mahallas as its owner, audited as the job
    assert reads["user"].tolist() == ["ali"] and reads["client"].tolist() == [f"job:{job_id}"]
    assert [j.job_id for j in list_jobs(store, owner="ali")] == [job_id]


def test_a_job_over_its_memory_limit_fails_and_the_worker_lives_on(world_store: Any) -> None:
    store = world_store
    big = submit(store, "t_hog", {"chunks": 64}, owner="ali")
    after = submit(store, "t_finish", {"values": [5], "steps": 1, "pause": 0.0}, owner="ali")
    with background_worker(store) as worker:
        st = wait_for(store, big, lambda s: s.finished)
        assert wait_for(store, after, lambda s: s.finished).status == "done"
        assert worker.alive
    assert st.status == "failed"
    assert st.message == "needed more than 1 GiB of memory: narrow the test"
    finished = _audit(store, "job_finish")
    outcomes = dict(zip(finished["detail"].map(lambda d: json.loads(d)["job_id"]),
                        finished["outcome"], strict=True))
    assert outcomes == {big: "failed", after: "ok"}


def test_a_job_over_its_time_limit_is_killed(world_store: Any, tmp_path: Any) -> None:
    store = world_store
    pidfile = tmp_path / "pid"
    job_id = submit(store, "t_slow", {"seconds": 300, "pidfile": str(pidfile)}, owner="ali")
    with background_worker(store) as worker:
        st = wait_for(store, job_id, lambda s: s.finished, timeout=150)
        assert worker.alive
    assert st.status == "failed"
    assert st.message == "took longer than 25 seconds: narrow the test"
    assert pidfile.exists(), "the job never ran"  # so the limit stopped it, not a start-up fault
    assert _gone(int(pidfile.read_text()))
    assert st.finished_at - st.started_at < pd.Timedelta(seconds=120)


@pytest.mark.parametrize("kind", ["t_sleeper", "t_deaf"])
def test_cancel_a_running_job_kills_its_child(world_store: Any, kind: str) -> None:
    store = world_store
    job_id = submit(store, kind, {"seconds": 60}, owner="ali")
    with background_worker(store):
        running = wait_for(store, job_id, lambda s: "pid" in (s.message or ""))
        pid = _pid(running.message)
        assert not _gone(pid)
        with pytest.raises(PermissionError, match="may not cancel"):
            cancel(store, job_id, by="vali")
        asked = cancel(store, job_id, by="ali")
        assert asked.status == "cancel_requested"
        st = wait_for(store, job_id, lambda s: s.finished, timeout=30)
    assert st.status == "cancelled" and st.message.startswith("cancelled")
    assert _gone(pid)
    assert result(store, job_id) is None
    cancels = _audit(store, "job_cancel")
    assert cancels["outcome"].tolist() == ["denied", "ok"]
    assert cancels["user"].tolist() == ["vali", "ali"]
    assert _audit(store, "job_finish")["outcome"].tolist() == ["cancelled"]


def test_cancel_a_queued_job_and_a_finished_one(store: Any) -> None:
    job_id = submit(store, "t_finish", {}, owner="ali")
    st = cancel(store, job_id, by="admin", force=True)
    assert st.status == "cancelled" and st.finished_at is not None
    assert "before it started" in st.message
    again = cancel(store, job_id, by="ali")  # nothing more to do
    assert again.status == "cancelled"
    assert _audit(store, "job_finish")["outcome"].tolist() == ["cancelled"]
    with pytest.raises(JobNotFound):
        cancel(store, "job-nope", by="ali")


def test_a_second_submit_returns_the_running_copy(store: Any) -> None:
    params = {"area": "Termiz shahri", "budget": 20, "types": ["overview"]}
    first = submit(store, "t_finish", params, owner="ali")
    assert submit(store, "t_finish", dict(reversed(params.items())), owner="ali") == first
    others = {submit(store, "t_finish", params, owner="vali"),
              submit(store, "t_finish", {**params, "budget": 21}, owner="ali"),
              submit(store, "t_sleeper", params, owner="ali"),
              submit(store, "t_finish", params, owner="ali", regions=["Jizzax viloyati"])}
    assert first not in others and len(others) == 4
    assert len(list_jobs(store)) == 5
    repeats = [json.loads(d)["repeat"] for d in _audit(store, "job_submit")["detail"]]
    assert repeats == [False, True, False, False, False, False]
    job_table(store).update(first, {"status": "done", "finished_at": now()}, when=("queued",))
    assert submit(store, "t_finish", params, owner="ali") != first  # done: a new copy


def test_submits_are_refused_beyond_the_owners_limit(store: Any) -> None:
    for i in range(2):
        submit(store, "t_finish", {"i": i}, owner="ali", max_active=2)
    with pytest.raises(JobRefused, match="ali already has 2 jobs"):
        submit(store, "t_finish", {"i": 9}, owner="ali", max_active=2)
    with pytest.raises(JobRefused, match="reserved key"):
        submit(store, "t_finish", {"_job": 1}, owner="ali")
    with pytest.raises(JobRefused, match="JSON"):
        submit(store, "t_finish", {"x": object()}, owner="ali")
    with pytest.raises(KeyError, match="unknown job kind"):
        submit(store, "no_such_kind", {}, owner="ali")
    assert _audit(store, "job_submit")["outcome"].tolist() == ["ok", "ok", "denied"]


def test_refused_and_crashing_jobs_say_why(world_store: Any) -> None:
    store = world_store
    refused = submit(store, "t_refuse", {}, owner="ali")
    crashed = submit(store, "t_crash", {}, owner="ali")
    assert Worker(store.url, poll_s=0.1, heartbeat_s=0.5, stale_s=5).run(once=True) == 2
    st = status(store, refused)
    assert (st.status, st.message) == ("refused", "the area is too large: narrow it")
    st = status(store, crashed)
    assert (st.status, st.message) == ("failed", "failed: ZeroDivisionError: no luck")


def _orphan(store: Any, *, worker: str, heartbeat: pd.Timestamp, attempt: int = 1) -> str:
    """A running job left by a worker that died (each with its own parameters: no dedupe)."""
    job_id = submit(store, "t_finish", {"values": [2, 2], "steps": 1, "pause": 0.0,
                                        "worker": worker}, owner="ali")
    table = job_table(store)
    row = table.get(job_id)
    assert row is not None
    params = json.loads(row["params"])
    params["_job"]["attempt"] = attempt
    table.update(job_id, {"status": "running", "worker": worker, "started_at": heartbeat,
                          "heartbeat": heartbeat, "progress": 0.3,
                          "params": json.dumps(params)}, when=("queued",))
    return job_id


def test_a_restarted_worker_picks_up_the_job_of_a_dead_one(world_store: Any) -> None:
    store = world_store
    stale = _orphan(store, worker="gone-host:4242", heartbeat=now() - pd.Timedelta(minutes=5))
    fresh = _orphan(store, worker="live-host:1", heartbeat=now())
    assert fresh != stale
    assert reap_stale(store, stale_s=60) == [stale]
    st = status(store, stale)
    assert (st.status, st.worker, st.progress) == ("queued", None, 0.0)
    assert st.message == "queued again: its worker gone-host:4242 stopped responding"
    assert status(store, fresh).status == "running"  # its worker may still be alive
    Worker(store.url, poll_s=0.1, heartbeat_s=0.5, stale_s=5).run(once=True)
    st = status(store, stale)
    assert st.status == "done" and result(store, stale)["sum"] == 4
    assert st.worker == f"{socket.gethostname()}:{os.getpid()}"
    assert "job_requeue" in set(store.read("audit")["action"])


def test_a_job_whose_worker_dies_twice_fails(store: Any) -> None:
    twice = _orphan(store, worker="gone-host:4242", heartbeat=now() - pd.Timedelta(minutes=5),
                    attempt=2)
    assert reap_stale(store, stale_s=60) == [twice]
    st = status(store, twice)
    assert st.status == "failed" and "stopped responding 2 times" in st.message
    assert _audit(store, "job_finish")["outcome"].tolist() == ["failed"]


def test_a_dead_worker_of_this_host_is_seen_at_once(store: Any) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = f"{socket.gethostname()}:{int(done.stdout)}"
    job_id = _orphan(store, worker=dead, heartbeat=now())
    assert reap_stale(store, stale_s=600) == [job_id]
    assert status(store, job_id).status == "queued"


def test_a_stopping_worker_queues_its_running_job_again(world_store: Any) -> None:
    store = world_store
    job_id = submit(store, "t_sleeper", {"seconds": 60}, owner="ali")
    with background_worker(store):
        running = wait_for(store, job_id, lambda s: "pid" in (s.message or ""))
    st = status(store, job_id)
    assert st.status == "queued" and "the worker stopped" in st.message
    assert _gone(_pid(running.message))


def test_two_workers_never_run_one_job_twice(world_store: Any) -> None:
    store = world_store
    ids = [submit(store, "t_finish", {"values": [i], "steps": 1, "pause": 0.0}, owner="ali",
                  max_active=None) for i in range(4)]
    claimed: list[str] = []
    lock = threading.Lock()

    def claim_all(name: str) -> None:
        table = job_table(store)
        while (row := table.claim(name)) is not None:
            with lock:
                claimed.append(row["job_id"])

    threads = [threading.Thread(target=claim_all, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_prune_removes_old_finished_jobs(store: Any) -> None:
    old = submit(store, "t_finish", {"i": 1}, owner="ali")
    new = submit(store, "t_finish", {"i": 2}, owner="ali")
    table = job_table(store)
    table.update(old, {"status": "done", "finished_at": now() - pd.Timedelta(days=40)},
                 when=("queued",))
    assert prune(store, older_than_days=30) == 1
    assert [j.job_id for j in list_jobs(store)] == [new]
    with pytest.raises(JobNotFound):
        status(store, old)
    with pytest.raises(JobNotFound):
        status(store, new, user="vali")  # another user's job is not found
