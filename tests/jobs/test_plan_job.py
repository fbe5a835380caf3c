"""The ``plan_cameras`` job end to end on both stores: a worker plans in a child process as the
owner, within the owner's scope; the plan is read back and accepted by job id only."""

from __future__ import annotations

from typing import Any

import pytest

from riskmap.etl.planning import PlanRefused, PlanTooLarge, plan_cameras
from riskmap.jobs import JobNotFound, Worker, list_jobs, status
from riskmap.jobs.kinds import accept_plan_job, plan_from_job, plan_id_of_job, submit_plan
from riskmap.layers.access import DataAccess
from tests.etl.test_derive_coverage import (
    REGION,
    world_cameras,
    world_incidents,
    world_infrastructure,
    world_mahallas,
)
from tests.etl.test_planning import _frames

PARAMS = {"area": "T-B", "budget": 2, "types": ["overview"], "candidates": ["bus_stop", "grid"]}


@pytest.fixture
def plan_store(store: Any) -> Any:
    """The two-mahalla world of the coverage tests in the two-backend store."""
    with store.transaction() as txn:
        txn.replace("mahallas", world_mahallas())
        txn.replace("infrastructure", world_infrastructure())
        txn.replace("cameras", world_cameras())
        txn.replace("incidents", world_incidents(5))
    return store


def test_a_plan_job_runs_in_a_worker_and_is_accepted_by_its_id(plan_store: Any) -> None:
    store = plan_store
    ali = DataAccess(store, user="ali", regions=[REGION], client="10.0.0.9")
    job_id = submit_plan(ali, PARAMS, region=REGION)
    assert submit_plan(ali, dict(reversed(PARAMS.items())), region=REGION) == job_id  # dedupe
    assert Worker(store.url, poll_s=0.1, heartbeat_s=0.5, stale_s=5).run(once=True) == 1
    st = status(store, job_id)
    assert st.status == "done", st.message
    assert (st.owner, st.region, st.progress) == ("ali", REGION, 1.0)
    res = plan_from_job(store, job_id, user="ali", mahallas=world_mahallas())
    plan_id = plan_id_of_job(job_id)
    assert len(res.plan) == 2 and set(res.plan["plan_id"]) == {plan_id}
    assert res.summary["memory_mb"] > 0 and res.summary["coarsened"] == []
    assert res.area["mahalla_id"].tolist() == ["T-B"]
    with pytest.raises(JobNotFound):
        plan_from_job(store, job_id, user="vali")
    # the job read as its owner, within the owner's scope
    audit = store.read("audit")
    reads = audit[(audit["client"] == f"job:{job_id}").to_numpy(bool)]
    assert set(reads["user"]) == {"ali"} and set(reads["scope"]) == {REGION}
    # accepted by its id: by the owner only, in the owner's scope only
    with pytest.raises(JobNotFound):
        accept_plan_job(DataAccess(store, user="vali"), job_id)
    with pytest.raises(PlanRefused, match="outside the mahallas you may plan for"):
        accept_plan_job(DataAccess(store, user="ali", regions=["Samarqand viloyati"]), job_id)
    assert not store.has("planned_cameras") or store.count("planned_cameras") == 0
    assert accept_plan_job(ali, job_id) == (2, plan_id)
    rows = store.read("planned_cameras")
    assert sorted(rows["camera_id"]) == sorted(res.plan["camera_id"])
    assert set(rows["mahalla_id"]) == {"T-B"} and set(rows["region"]) == {REGION}
    assert [j.job_id for j in list_jobs(store, owner="ali")] == [job_id]


def test_a_plan_is_sized_before_it_is_built() -> None:
    with pytest.raises(PlanTooLarge, match="narrow the area"):
        plan_cameras(_frames(), budget=2, types=["overview"], exact=False, memory_mb=40)
    with pytest.raises(PlanTooLarge):
        plan_cameras(_frames(), budget=2, candidates="grid", exact=False, memory_mb=81,
                     coarsen=False)
    res = plan_cameras(_frames(), budget=2, types=["overview"], exact=False, memory_mb=1024)
    assert res.summary["coarsened"] == [] and res.summary["size"]["total_mb"] < 1024
    assert len(res.plan) == 2
