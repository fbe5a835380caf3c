"""The planner's callbacks as a crafted client sees them: Run queues one job, Accept takes only
a job id and derives every row on the server; forged plans, foreign jobs and out-of-scope
writes are refused and write nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from riskmap.app.ids import PLANNER as JOB_IDS
from riskmap.etl.planning import plan_cameras, plan_result_to_json
from riskmap.jobs import list_jobs, status, submit
from riskmap.jobs.kinds import PLAN_CAMERAS, plan_id_of_job, plan_job_params
from riskmap.jobs.table import job_table, now
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store
from tests.etl.test_derive_coverage import DISTRICT, REGION, coverage_world
from tests.etl.test_planning import _frames

_PLAN = "planner-plan"
_ACCEPTED = "planner-accepted"
_SUMMARY = "planner-summary"
USER = "crafty"


def _app(store: Store, regions: list[str] | None = None) -> Any:
    from riskmap.app.factory import create_app
    from riskmap.settings import Settings

    settings = Settings(_env_file=None, store=store.url,  # type: ignore[call-arg]
                        app={"auth": "none", "regions": regions or [], "host": "127.0.0.1"})
    return create_app(settings, DataAccess(store, user=USER, regions=regions))


def _post(app: Any, trigger: str, values: dict[str, Any], *,
          extra_state: list[dict[str, Any]] | None = None) -> Any:
    """POST the callback fired by ``trigger`` (``id.property``) as the Dash renderer would,
    with ``values`` for its inputs and states (``id`` -> value)."""
    key, spec = next((k, v) for k, v in app.callback_map.items()
                     if f"{v['inputs'][0]['id']}.{v['inputs'][0]['property']}" == trigger)
    outputs = [dict(zip(("id", "property"), o.split(".", 1), strict=True))
               for o in key.removeprefix("..").removesuffix("..").split("...")]
    body = {
        "output": key, "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": [{**i, "value": values.get(i["id"], 1)} for i in spec["inputs"]],
        "changedPropIds": [trigger],
        "state": [{**s, "value": values.get(s["id"])} for s in spec.get("state", [])]
        + (extra_state or []),
    }
    host = "http://localhost"
    return app.server.test_client().post("/_dash-update-component", json=body,
                                         headers={"Origin": host})


def _response(res: Any) -> dict[str, dict[str, Any]]:
    assert res.status_code == 200, res.data
    return res.get_json()["response"]


@pytest.fixture
def world(tmp_path: Path) -> Store:
    return coverage_world(tmp_path / "store")


def _plan_json(**tamper: Any) -> dict[str, Any]:
    res = plan_cameras(_frames(), budget=2, types=["overview"], exact=False,
                       candidates="bus_stop,market,grid")
    data = plan_result_to_json(res)
    for feature in data["plan"]["features"]:
        feature["properties"].update(tamper)
    return data


def _done_job(store: Store, owner: str, data: dict[str, Any] | None = None, *,
              finished: bool = True) -> str:
    """A ``plan_cameras`` job of ``owner`` that a worker finished with ``data`` (a plan)."""
    job_id = submit(store, PLAN_CAMERAS, {**plan_job_params(None, 2, ["overview"], None, None),
                                          "time_limit": float(len(list_jobs(store)) + 1)},
                    owner=owner)
    if finished:
        job_table(store).update(job_id, {
            "status": "done", "progress": 1.0, "message": "done", "finished_at": now(),
            "result": json.dumps(data if data is not None else _plan_json())},
            when=("queued",))
    return job_id


def _written(store: Store) -> pd.DataFrame:
    return store.read("planned_cameras") if store.has("planned_cameras") else pd.DataFrame()


def _accept(app: Any, data: Any, **kwargs: Any) -> str:
    return str(_response(_post(app, "planner-accept.n_clicks", {_PLAN: data}, **kwargs))
               [_ACCEPTED]["children"])


def test_run_twice_is_one_job_and_it_can_be_cancelled(world: Store) -> None:
    app = _app(world)
    controls = {"planner-area": "T-B", "planner-budget": 2, "planner-types": ["overview"],
                "planner-candidates": ["bus_stop", "grid"], "planner-risk": "counts"}
    first = _response(_post(app, "planner-run.n_clicks", controls))
    second = _response(_post(app, "planner-run.n_clicks", controls))  # a double click
    job_id = first[JOB_IDS.JOB]["data"]["job_id"]
    assert second[JOB_IDS.JOB]["data"]["job_id"] == job_id
    assert [j.job_id for j in list_jobs(world)] == [job_id]
    st = status(world, job_id)
    assert (st.owner, st.region, st.status) == (USER, REGION, "queued")
    assert st.params["area"] == "T-B" and st.params["budget"] == 2
    assert first["planner-run"]["disabled"] is True
    assert first[JOB_IDS.POLL]["disabled"] is False
    # no worker runs: the job waits, and the page says so with Cancel on and Run off
    polled = _response(_post(app, "planner-poll.n_intervals", {JOB_IDS.JOB: {"job_id": job_id}}))
    # (in the app's default language, Uzbek Latin: the line was English for everyone before)
    assert polled[JOB_IDS.PROGRESS_TEXT]["children"] == "Bajaruvchi kutilmoqda ..."
    assert polled["planner-run"]["disabled"] is True
    assert polled[JOB_IDS.CANCEL]["disabled"] is False
    _response(_post(app, "planner-cancel.n_clicks", {JOB_IDS.JOB: {"job_id": job_id}}))
    assert status(world, job_id).status == "cancelled"
    polled = _response(_post(app, "planner-poll.n_intervals", {JOB_IDS.JOB: {"job_id": job_id}}))
    assert polled[_SUMMARY]["children"] == "Reja bekor qilindi."
    assert polled["planner-run"]["disabled"] is False and polled[JOB_IDS.POLL]["disabled"]
    # bad controls are answered at once, and queue nothing
    bad = _response(_post(app, "planner-run.n_clicks", {**controls, "planner-budget": 10**9}))
    assert bad[_SUMMARY]["children"].startswith("Cannot plan: budget")
    bad = _response(_post(app, "planner-run.n_clicks", {**controls,
                                                        "planner-types": ["death_ray"]}))
    assert "unknown camera types" in bad[_SUMMARY]["children"]
    assert len(list_jobs(world)) == 1


def test_a_finished_job_is_drawn_from_the_server(world: Store) -> None:
    app = _app(world)
    job_id = _done_job(world, USER)
    got = _response(_post(app, "planner-poll.n_intervals", {JOB_IDS.JOB: {"job_id": job_id},
                                                            "planner-area": None}))
    assert got[_SUMMARY]["children"].startswith("2 cameras proposed")
    assert got[_PLAN]["data"] == {"job_id": job_id}  # the browser holds the id, not the plan
    assert got["planner-accept"]["disabled"] is False
    kinds = [t.get("meta", {}).get("kind") for t in got["planner-map"]["figure"]["data"]]
    assert kinds.count("proposed") == 1
    # another user's job is not shown
    other = _done_job(world, "someone-else")
    got = _response(_post(app, "planner-poll.n_intervals", {JOB_IDS.JOB: {"job_id": other}}))
    assert got[_SUMMARY]["children"] == "That plan is gone: run it again."
    assert _PLAN not in got


def test_forged_plans_and_foreign_jobs_write_nothing(world: Store) -> None:
    app = _app(world)
    foreign = _done_job(world, "someone-else")
    running = _done_job(world, USER, finished=False)
    forged = {"plan_id": "../../etc/passwd",
              "geojson": json.dumps(_plan_json(range_m=1e9, height_m=-5.0))}
    for data in (forged, {"job_id": "../../etc/passwd"}, {"job_id": foreign},
                 {"job_id": running}, {"job_id": "job-0000000000000000"}, foreign, None,
                 {"job_id": ["job-0000000000000000"]}, "=cmd|' /C calc'!A0"):
        text = _accept(app, data)
        assert text.endswith("nothing was written."), (data, text)
    assert len(_written(world)) == 0
    audit = world.read("audit")
    denied = audit[((audit["action"] == "accept_plan")
                    & (audit["layer"] == "planned_cameras")).to_numpy(bool)]
    assert len(denied) == 9 and set(denied["outcome"]) == {"denied"}
    assert set(denied["user"]) == {USER}
    # a payload with a state the callback does not have is refused before it runs
    res = _post(app, "planner-accept.n_clicks", {_PLAN: {"job_id": foreign}},
                extra_state=[{"id": "planner-plan-geojson", "property": "data",
                              "value": forged["geojson"]}])
    assert res.status_code == 400
    assert len(_written(world)) == 0


def test_a_tampered_result_is_derived_again_on_the_server(world: Store) -> None:
    app = _app(world)
    tampered = _plan_json(range_m=1e9, height_m=-5.0, fov_deg=720.0, bearing_deg=725.0,
                          mahalla_id="M-FAKE", district="=cmd|' /C calc'!A0",
                          region="Elsewhere", plan_id="../../etc/passwd",
                          camera_id="../../etc/passwd", marginal_gain=float("inf"))
    job_id = _done_job(world, USER, tampered)
    text = _accept(app, {"job_id": job_id})
    plan_id = plan_id_of_job(job_id)
    assert text == f"Accepted 2 cameras into planned cameras (plan {plan_id})."
    rows = _written(world).sort_values("rank").reset_index(drop=True)
    assert rows["camera_id"].tolist() == [f"{plan_id}-001", f"{plan_id}-002"]
    assert set(rows["plan_id"]) == {plan_id}
    assert rows["range_m"].tolist() == [120.0, 120.0]  # the overview camera's range
    assert rows["height_m"].tolist() == [0.5, 0.5] and rows["fov_deg"].tolist() == [360, 360]
    assert rows["bearing_deg"].tolist() == [5.0, 5.0]
    assert rows["marginal_gain"].isna().all()
    assert set(rows["mahalla_id"]) <= {"T-A", "T-B"} and set(rows["district"]) == {DISTRICT}
    assert set(rows["region"]) == {REGION} and set(rows["status"]) == {"planned"}
    # accepting it again replaces the same rows; an unknown type or a point outside every
    # mahalla refuses the whole plan
    _accept(app, {"job_id": job_id})
    assert len(_written(world)) == 2
    for bad in (_plan_json(type="death_ray"), _outside(_plan_json())):
        text = _accept(app, {"job_id": _done_job(world, USER, bad)})
        assert text.startswith("Not accepted:") and text.endswith("nothing was written.")
    assert len(_written(world)) == 2
    audit = world.read("audit")
    accepts = audit[((audit["action"] == "accept_plan")
                     & (audit["layer"] == "planned_cameras")).to_numpy(bool)]
    assert accepts["outcome"].tolist() == ["ok", "ok", "denied", "denied"]
    assert json.loads(accepts["detail"].iloc[0])["job_id"] == job_id


def _outside(data: dict[str, Any]) -> dict[str, Any]:
    data["plan"]["features"][1]["geometry"]["coordinates"] = [10.0, 10.0]
    return data


def test_a_plan_outside_the_apps_scope_is_refused(world: Store) -> None:
    app = _app(world, regions=["Samarqand viloyati"])  # the plan lies in another region
    job_id = _done_job(world, USER)
    text = _accept(app, {"job_id": job_id})
    assert "outside the mahallas you may plan for" in text
    assert text.endswith("nothing was written.")
    assert len(_written(world)) == 0
    # the same job accepted by an app of its region is written
    text = _accept(_app(world, regions=[REGION]), {"job_id": job_id})
    assert text.startswith("Accepted 2 cameras")
    assert _written(world)["region"].tolist() == [REGION, REGION]


def test_accept_a_selection_of_cameras(world: Store) -> None:
    from riskmap.etl.planning import PlanRefused
    from riskmap.jobs.kinds import accept_plan_job

    access = DataAccess(world, user=USER)
    job_id = _done_job(world, USER)
    for ranks in ([3], [1, 1], [], ["1"], [True]):
        with pytest.raises(PlanRefused):
            accept_plan_job(access, job_id, ranks=ranks)
    assert len(_written(world)) == 0
    n, plan_id = accept_plan_job(access, job_id, ranks=[2])
    assert n == 1 and _written(world)["camera_id"].tolist() == [f"{plan_id}-002"]


# ---- saved plans compared -------------------------------------------------------------------
def _saved(store: Store, owner: str, budget: int = 2, *, area: str | None = None,
           region: str | None = None) -> str:
    """A finished plan job of ``owner`` (a ``budget``-camera greedy plan of the world)."""
    res = plan_cameras(_frames(), budget=budget, types=["overview"], exact=False,
                       candidates="bus_stop,market,grid")
    job_id = submit(store, PLAN_CAMERAS, {**plan_job_params(area, budget, ["overview"], None,
                                                            None),
                                          "time_limit": float(len(list_jobs(store)) + 1)},
                    owner=owner, region=region)
    job_table(store).update(job_id, {
        "status": "done", "progress": 1.0, "message": "done", "finished_at": now(),
        "result": json.dumps(plan_result_to_json(res))}, when=("queued",))
    return job_id


def _compare(app: Any, a: Any, b: Any) -> dict[str, dict[str, Any]]:
    from riskmap.i18n import use_language

    with use_language("en"):  # the source texts (the app's default is Uzbek)
        return _response(_post(app, f"{JOB_IDS.COMPARE}.n_clicks",
                               {JOB_IDS.SAVED_A: a, JOB_IDS.SAVED_B: b}))


def _texts(node: Any) -> list[str]:
    """Every text in a serialised Dash component tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [t for n in node for t in _texts(n)]
    if isinstance(node, dict):
        return _texts(node.get("props", {}).get("children"))
    return []


def _graphs(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [g for n in node for g in _graphs(n)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "Graph":
        return [node["props"]["figure"]]
    return _graphs(node.get("props", {}).get("children"))


def test_compare_two_saved_plans_of_the_user(world: Store) -> None:
    from riskmap.app.callbacks.planner import saved_plans
    from riskmap.app.data import AppModel

    app = _app(world)
    formula = "=HYPERLINK(\"http://x\",\"<b>T-B</b>\")"
    small = _saved(world, USER, 1, area=formula)
    large = _saved(world, USER, 2)
    got = _compare(app, small, large)
    assert got[JOB_IDS.COMPARE_CSV]["disabled"] is False
    tree = got[JOB_IDS.COMPARISON]["children"]
    texts = _texts(tree)
    # the table: cameras, risk covered, added coverage, cameras in common; B is better
    assert {"Cameras proposed", "Risk covered", "Added coverage", "Cameras in common"} <= set(
        texts)
    assert texts.count(" ★ better") == 1
    heads = [t for t in texts if t.startswith(("A: ", "B: "))]
    assert heads[0].startswith(f"A: {formula} · k=1 · incidents · ")  # text: React escapes it
    assert heads[1].startswith("B: Everything in scope · k=2 · incidents · ")
    i = texts.index("Cameras in common")
    assert texts[i + 1:i + 3] == ["1", "1"]  # the 1-camera plan's camera is the 2's first
    maps = _graphs(tree)
    assert len(maps) == 2
    for fig, n in zip(maps, (1, 2), strict=True):
        kinds = [t.get("meta", {}).get("kind") for t in fig["data"]]
        proposed = fig["data"][kinds.index("proposed")]
        assert list(proposed["text"]) == [str(r) for r in range(1, n + 1)]
    title = maps[0]["layout"]["title"]["text"]
    assert "<b>" not in title and "&lt;b&gt;T-B&lt;/b&gt;" in title
    # the CSV: one row per plan, the formula neutralised
    res = _response(_post(app, f"{JOB_IDS.COMPARE_CSV}.n_clicks",
                          {JOB_IDS.SAVED_A: small, JOB_IDS.SAVED_B: large}))
    csv = res[JOB_IDS.COMPARE_DOWNLOAD]["data"]["content"]
    frame = pd.read_csv(__import__("io").StringIO(csv))
    assert frame["plan"].tolist() == ["A", "B"] and frame["job_id"].tolist() == [small, large]
    assert frame["name"].iloc[0].startswith("'=HYPERLINK(")
    assert frame["cameras"].tolist() == [1, 2] and frame["better"].tolist() == [False, True]
    assert frame["cameras_in_common"].tolist() == [1, 1]
    assert (frame["risk_covered_pct"].iloc[1] - frame["added_coverage_pp"].iloc[1]
            == pytest.approx(frame["risk_covered_pct"].iloc[0]
                             - frame["added_coverage_pp"].iloc[0]))  # the same baseline
    model = AppModel(DataAccess(world, user=USER))
    assert [p.job_id for p in saved_plans(model, DataAccess(world, user=USER))] == [large,
                                                                                     small]


def test_compare_refuses_what_is_not_a_saved_plan_of_the_user(world: Store) -> None:
    mine = _saved(world, USER)
    other = _saved(world, USER, 1)
    foreign = _saved(world, "someone-else")
    running = _done_job(world, USER, finished=False)
    app = _app(world)
    n_denied = 7
    for a, b in (([mine], other), ({"job_id": mine}, other)):  # not a single dropdown value
        res = _post(app, f"{JOB_IDS.COMPARE}.n_clicks", {JOB_IDS.SAVED_A: a, JOB_IDS.SAVED_B: b})
        if res.status_code == 200:  # the callback ran: it found no plan
            assert res.get_json()["response"][JOB_IDS.COMPARE_CSV]["disabled"] is True
            n_denied += 1
        else:  # refused before the callback ran (a value of a type the component never has)
            assert res.status_code == 400
    for a, b in ((mine, foreign), (foreign, mine), (mine, running),
                 (mine, "job-0000000000000000"), (mine, "../../etc/passwd"),
                 (mine, "job-" + foreign[4:].upper()), (mine, 7)):
        got = _compare(app, a, b)
        assert _texts(got[JOB_IDS.COMPARISON]["children"]) == [
            "Choose two saved plans of yours to compare."], (a, b)
        assert got[JOB_IDS.COMPARE_CSV]["disabled"] is True
        res = _post(app, f"{JOB_IDS.COMPARE_CSV}.n_clicks",
                    {JOB_IDS.SAVED_A: a, JOB_IDS.SAVED_B: b})
        assert res.status_code == 204 or JOB_IDS.COMPARE_DOWNLOAD not in res.get_json().get(
            "response", {})
    assert _texts(_compare(app, mine, mine)[JOB_IDS.COMPARISON]["children"]) == [
        "Cannot compare: choose two different plans"]
    assert _texts(_compare(app, None, mine)[JOB_IDS.COMPARISON]["children"]) == [
        "Choose two saved plans to compare."]
    # a plan of another region is not the user's once they are scoped to a region
    scoped_mine = _saved(world, USER, region=REGION)
    elsewhere = _saved(world, USER, 1, region="Samarqand viloyati")
    scoped = _app(world, regions=[REGION])
    got = _compare(scoped, scoped_mine, elsewhere)
    assert got[JOB_IDS.COMPARE_CSV]["disabled"] is True
    got = _compare(scoped, scoped_mine, mine)  # no region: not within the user's
    assert got[JOB_IDS.COMPARE_CSV]["disabled"] is True
    assert _compare(app, mine, other)[JOB_IDS.COMPARE_CSV]["disabled"] is False
    audit = world.read("audit")
    compares = audit[(audit["action"] == "compare_plans").to_numpy(bool)]
    assert set(compares["user"]) == {USER}
    assert compares["outcome"].tolist().count("denied") == n_denied + 2  # + the scoped two
    assert compares["outcome"].tolist()[-1] == "ok"
