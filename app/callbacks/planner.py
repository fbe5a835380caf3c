"""Callbacks of the camera planner page: run a plan as a background job, follow it, cancel it,
download it, accept it into ``planned_cameras``.

A plan can need far more memory and time than a request may take, so *Run* never plans in the
web server: it queues a ``plan_cameras`` job (:mod:`riskmap.jobs`) for the logged-in user with
their scope, and a worker runs it in a child process with a memory and a time limit. The page
polls the job (``dcc.Interval``), shows its progress and a *Cancel* button, and keeps *Run*
disabled meanwhile; the same plan asked twice while it runs is the same job. The browser only
ever holds the job's id: the plan drawn, downloaded and accepted is the one the job stored,
read on the server for the job's owner, and accepting it derives every camera row again
(:func:`riskmap.jobs.kinds.accept_plan_job`).
"""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, no_update

import geopandas as gpd

from riskmap.app import ids
from riskmap.app.auth import current_access
from riskmap.app.data import AppModel
from riskmap.app.figures import empty_figure
from riskmap.app.figures_planner import (
    coverage_summary_text,
    gain_curve,
    job_progress_text,
    plan_map,
    plan_summary_text,
)
from riskmap.app.urlstate import encode_params
from riskmap.csvsafe import to_csv
from riskmap.errors import RiskmapError
from riskmap.etl.planning import PlanResult, plan_table, select_area
from riskmap.jobs import JobNotFound, JobRefused, JobStatus, cancel, status
from riskmap.jobs.kinds import (
    accept_plan_job,
    plan_from_job,
    plan_job_params,
    submit_plan,
    valid_job_id,
)

__all__ = ["MAX_GAP_CELLS", "MAX_MAHALLAS_WITHOUT_AREA", "PAGE", "coverage_view", "job_of",
           "plan_params", "register", "submit_plan_job"]

_IDS = ids.PLANNER
#: the page name in the audit log
PAGE = "planner"

#: the map of current coverage draws at most this many gap cells (the largest)
MAX_GAP_CELLS = 3_000
#: above this many mahallas in scope the page asks for an area (a plan over all of them is slow)
MAX_MAHALLAS_WITHOUT_AREA = 200


def job_of(data: Any) -> str | None:
    """The job id a page store holds, when it has the form of one (anything else: None).

    >>> job_of({"job_id": "job-0123456789abcdef"}), job_of({"job_id": "../../etc/passwd"})
    ('job-0123456789abcdef', None)
    """
    job_id = data.get("job_id") if isinstance(data, dict) else None
    return job_id if valid_job_id(job_id) else None


def submit_plan_job(model: AppModel, area: Any, budget: Any, types: Any, candidates: Any,
                    risk: Any) -> str:
    """Check the page's controls and queue the plan as a job of the logged-in user.

    Raises
    ------
    riskmap.errors.ConfigError
        For a bad area, budget, no types or no candidate kinds (shown on the page).
    riskmap.jobs.JobRefused
        The user has too many plans queued or running.
    """
    from riskmap.errors import ConfigError

    if area is not None and not isinstance(area, str):
        raise ConfigError("choose one region, district or mahalla")
    if area is None and len(model.mahallas) > MAX_MAHALLAS_WITHOUT_AREA:
        raise ConfigError(f"{len(model.mahallas):,} mahallas are in scope: choose a region, "
                          "district or mahalla first")
    params = plan_job_params(area, budget, types, candidates, risk if isinstance(risk, str)
                             else None)
    chosen = select_area(model.mahallas, area)  # an area outside the scope matches nothing
    regions = sorted({str(r) for r in chosen["region"].dropna()})
    return submit_plan(current_access(), params,
                       region=regions[0] if len(regions) == 1 else None)


def plan_params(area: str | None, budget: Any, types: list[str] | None,
                candidates: list[str] | None, risk: str | None) -> dict[str, str]:
    """The audited parameters of a plan run (the planner page's controls as text).

    Examples
    --------
    >>> plan_params("Termiz shahri", 20, ["overview"], ["school", "grid"], None)
    ... # doctest: +NORMALIZE_WHITESPACE
    {'area': 'Termiz shahri', 'budget': '20', 'types': 'overview',
     'candidates': 'school,grid', 'risk': 'counts'}
    """
    def _text(value: Any) -> Any:
        return value if isinstance(value, str | int | float) or value is None else str(value)

    return encode_params([("area", _text(area)), ("budget", _text(budget)),
                          ("types", [str(t) for t in types or ()] if isinstance(types, list)
                           else []),
                          ("candidates", [str(c) for c in candidates or ()]
                           if isinstance(candidates, list) else []),
                          ("risk", _text(risk) or "counts")])


def coverage_view(model: AppModel, area: str | None) -> tuple[go.Figure, str]:
    """Current coverage of an area: the largest gaps (risk x (1 - covered share)) on the map,
    with the camera coverage polygons, and one line of coverage figures."""
    store = model.access.store
    if not store.has("coverage_h3"):
        return (empty_figure("Run `riskmap build --only coverage` to see coverage gaps"),
                coverage_summary_text(pd.DataFrame()))
    try:
        chosen = select_area(model.mahallas, area)
    except RiskmapError as exc:
        return empty_figure(str(exc)), ""
    ids = [str(i) for i in chosen["mahalla_id"]]
    where = [("mahalla_id", "in", ids)]
    figures = model.access.read("coverage_mahalla", filters=where, purpose="app")
    gaps = model.access.read("coverage_h3", columns=["h3", "gap", "risk", "mahalla_id"],
                             filters=[*where, ("gap", ">", 0.0)], purpose="app")
    gaps = gaps.sort_values("gap", ascending=False).head(MAX_GAP_CELLS)
    cov = model.access.read("camera_coverage", filters=where, purpose="app")
    cams = model.access.read("cameras", filters=where, purpose="app")
    cams = cams[(cams["status"].astype(object) != "broken").to_numpy(bool)]
    fig = plan_map(chosen, pd.DataFrame(gaps), cams, cov.geometry, cams.iloc[:0],
                   gpd.GeoSeries([], crs=4326), value="gap", value_label="Gap",
                   uirevision=str(area))
    return fig, coverage_summary_text(figures)


def _user_job(job_id: str) -> JobStatus:
    """The status of the logged-in user's job (JobNotFound for anyone else's)."""
    access = current_access()
    return status(access.store, job_id, user=access.user)


def _user_plan(model: AppModel, job_id: str) -> PlanResult:
    access = current_access()
    return plan_from_job(access.store, job_id, user=access.user, mahallas=model.mahallas)


#: outputs of the progress area: bar value, text, hidden, Cancel disabled, Run disabled,
#: polling disabled
_IDLE = ("0", "", True, True, False, True)


def register(app: dash.Dash, model: AppModel) -> None:
    """Attach the planner callbacks to ``app``."""

    @app.callback(
        Output(_IDS.MAP, "figure"),
        Output(_IDS.COVERAGE, "children"),
        Input(_IDS.AREA, "value"),
    )
    def _coverage(area: Any) -> tuple[go.Figure, str]:
        area = area if isinstance(area, str) else None
        model.audit_view(PAGE, {"area": area} if area else None)
        return coverage_view(model, area)

    @app.callback(
        Output(_IDS.JOB, "data"),
        Output(_IDS.PROGRESS_BAR, "value"),
        Output(_IDS.PROGRESS_TEXT, "children"),
        Output(_IDS.PROGRESS, "hidden"),
        Output(_IDS.CANCEL, "disabled"),
        Output(_IDS.RUN, "disabled"),
        Output(_IDS.POLL, "disabled"),
        Output(_IDS.SUMMARY, "children"),
        Input(_IDS.RUN, "n_clicks"),
        State(_IDS.AREA, "value"),
        State(_IDS.BUDGET, "value"),
        State(_IDS.TYPES, "value"),
        State(_IDS.CANDIDATES, "value"),
        State(_IDS.RISK, "value"),
        prevent_initial_call=True,
    )
    def _run(_: int, area: Any, budget: Any, types: Any, candidates: Any,
             risk: Any) -> tuple[Any, ...]:
        model.audit_view(PAGE, plan_params(area, budget, types, candidates, risk))
        try:
            job_id = submit_plan_job(model, area, budget, types, candidates, risk)
        except (RiskmapError, JobRefused) as exc:
            return (None, *_IDLE[:-1], True, f"Cannot plan: {exc}")
        st = _user_job(job_id)
        return ({"job_id": job_id}, str(st.progress or 0.0), job_progress_text(st.to_dict()),
                False, False, True, False, "")

    @app.callback(
        Output(_IDS.PROGRESS_BAR, "value", allow_duplicate=True),
        Output(_IDS.PROGRESS_TEXT, "children", allow_duplicate=True),
        Output(_IDS.PROGRESS, "hidden", allow_duplicate=True),
        Output(_IDS.CANCEL, "disabled", allow_duplicate=True),
        Output(_IDS.RUN, "disabled", allow_duplicate=True),
        Output(_IDS.POLL, "disabled", allow_duplicate=True),
        Output(_IDS.JOB, "data", allow_duplicate=True),
        Output(_IDS.MAP, "figure", allow_duplicate=True),
        Output(_IDS.CURVE, "figure"),
        Output(_IDS.SUMMARY, "children", allow_duplicate=True),
        Output(_IDS.PLAN, "data"),
        Output(_IDS.DOWNLOAD_GEOJSON, "disabled"),
        Output(_IDS.DOWNLOAD_CSV, "disabled"),
        Output(_IDS.ACCEPT, "disabled"),
        Output(_IDS.ACCEPTED, "children"),
        Input(_IDS.POLL, "n_intervals"),
        State(_IDS.JOB, "data"),
        State(_IDS.AREA, "value"),
        prevent_initial_call=True,
    )
    def _poll(_: int, data: Any, area: Any) -> tuple[Any, ...]:
        keep = (no_update,) * 8
        job_id = job_of(data)
        if job_id is None:
            return (*_IDLE, None, *keep)
        try:
            st = _user_job(job_id)
        except JobNotFound:
            return (*_IDLE, None, no_update, no_update, "That plan is gone: run it again.",
                    *keep[:5])
        text = job_progress_text(st.to_dict())
        if not st.finished:
            return (str(st.progress or 0.0), text, False, st.status == "cancel_requested",
                    True, False, *(no_update,) * 9)
        if not st.ok:
            return (*_IDLE, None, no_update, no_update, text, *keep[:5])
        try:
            res = _user_plan(model, job_id)
        except (RiskmapError, JobNotFound) as exc:
            return (*_IDLE, None, no_update, no_update, f"Cannot show the plan: {exc}",
                    *keep[:5])
        fig = plan_map(res.area, res.cells, res.existing, res.existing_coverage, res.plan,
                       res.plan_coverage, uirevision=str(area))
        none = len(res.plan) == 0
        return (*_IDLE, None, fig, gain_curve(res.curve, res.summary),
                plan_summary_text(res.summary), {"job_id": job_id}, none, none, none, "")

    @app.callback(
        Output(_IDS.PROGRESS_TEXT, "children", allow_duplicate=True),
        Output(_IDS.CANCEL, "disabled", allow_duplicate=True),
        Input(_IDS.CANCEL, "n_clicks"),
        State(_IDS.JOB, "data"),
        prevent_initial_call=True,
    )
    def _cancel(_: int, data: Any) -> tuple[str, bool]:
        job_id = job_of(data)
        if job_id is None:
            return "No plan is running.", True
        access = current_access()
        try:
            st = cancel(access.store, job_id, by=access.user, client=access.client)
        except (JobNotFound, PermissionError):
            return "No plan of yours is running.", True
        return job_progress_text(st.to_dict()), True

    @app.callback(
        Output(_IDS.DOWNLOAD, "data"),
        Input(_IDS.DOWNLOAD_GEOJSON, "n_clicks"),
        Input(_IDS.DOWNLOAD_CSV, "n_clicks"),
        State(_IDS.PLAN, "data"),
        prevent_initial_call=True,
    )
    def _download(_g: int, _c: int, data: Any) -> Any:
        job_id = job_of(data)
        if job_id is None:
            return no_update
        try:
            res = _user_plan(model, job_id)
        except (RiskmapError, JobNotFound):
            return no_update
        plan_id = str(res.summary.get("plan_id") or job_id)
        current_access().audit("download_plan", layer="planned_cameras",
                               detail={"plan_id": plan_id, "job_id": job_id},
                               rows=len(res.plan))
        if dash.ctx.triggered_id == _IDS.DOWNLOAD_CSV:
            return {"content": to_csv(plan_table(res.plan)), "filename": f"{plan_id}.csv",
                    "type": "text/csv"}
        return {"content": res.to_geojson(), "filename": f"{plan_id}.geojson",
                "type": "application/geo+json"}

    @app.callback(
        Output(_IDS.ACCEPTED, "children", allow_duplicate=True),
        Output(_IDS.ACCEPT, "disabled", allow_duplicate=True),
        Input(_IDS.ACCEPT, "n_clicks"),
        State(_IDS.PLAN, "data"),
        prevent_initial_call=True,
    )
    def _accept(_: int, data: Any) -> tuple[str, bool]:
        access = current_access()
        job_id = data.get("job_id") if isinstance(data, dict) else data
        try:
            n, plan_id = accept_plan_job(access, job_id, note="accepted in the app")
        except JobNotFound:
            return "There is no plan of yours to accept: nothing was written.", True
        except (RiskmapError, PermissionError) as exc:
            return f"Not accepted: {exc}; nothing was written.", True
        return (f"Accepted {n} camera{'s' if n != 1 else ''} into planned cameras "
                f"(plan {plan_id}).", True)
