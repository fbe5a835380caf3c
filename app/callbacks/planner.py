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

The map draws three camera layers, each with its coverage: existing cameras, cameras accepted
into ``planned_cameras`` (read through the user's scoped access) and the plan's proposed
cameras; a line states the baseline the next plan keeps fixed. Every finished plan job of the
user is a saved plan: *Compare* shows two of them side by side (small maps and a table, the
better one marked), each re-read by job id through the user's scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dash
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html, no_update

import geopandas as gpd
import shapely

from riskmap.app import ids
from riskmap.app.auth import current_access
from riskmap.app.commanders_data import data_for
from riskmap.app.data import AppModel
from riskmap.app.figures import empty_figure
from riskmap.app.figures_planner import (
    baseline_text,
    comparison_map,
    coverage_summary_text,
    gain_curve,
    job_progress_text,
    plan_comparison,
    plan_map,
    plan_summary_text,
)
from riskmap.app.map_tiles import request_style
from riskmap.app.urlstate import encode_params
from riskmap.csvsafe import to_csv
from riskmap.errors import RiskmapError
from riskmap.etl.planning import PlanResult, near_area, plan_table, select_area
from riskmap.geo.basemap import BaseMap
from riskmap.i18n import gettext as _
from riskmap.i18n.names import column_header
from riskmap.jobs import JobNotFound, JobRefused, JobStatus, cancel, list_jobs, status
from riskmap.jobs.kinds import (
    PLAN_CAMERAS,
    accept_plan_job,
    plan_from_job,
    plan_job_params,
    submit_plan,
    valid_job_id,
)

__all__ = ["MAX_GAP_CELLS", "MAX_MAHALLAS_WITHOUT_AREA", "MAX_SAVED_PLANS", "PAGE",
           "CameraLayers", "SavedPlan", "camera_layers", "compare_view", "comparison_frame",
           "coverage_view", "job_of", "plan_csv", "plan_params", "register", "saved_plan",
           "saved_plan_options", "saved_plans", "submit_plan_job"]

_IDS = ids.PLANNER
#: the page name in the audit log
PAGE = "planner"

#: the map of current coverage draws at most this many gap cells (the largest)
MAX_GAP_CELLS = 3_000
#: above this many mahallas in scope the page asks for an area (a plan over all of them is slow)
MAX_MAHALLAS_WITHOUT_AREA = 200
#: the saved plans offered for a comparison (the newest)
MAX_SAVED_PLANS = 50


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


@dataclass
class CameraLayers:
    """The cameras a next plan of an area keeps fixed, as the page draws them."""

    existing: gpd.GeoDataFrame
    existing_coverage: gpd.GeoSeries
    accepted: gpd.GeoDataFrame
    accepted_coverage: gpd.GeoSeries

    def baseline(self) -> str:
        """The baseline in words ("Baseline of the next plan: 2 existing + 5 accepted ...")."""
        return baseline_text(len(self.existing), len(self.accepted))


def camera_layers(access: Any, area: gpd.GeoDataFrame, *,
                  existing: gpd.GeoDataFrame | None = None,
                  existing_coverage: gpd.GeoSeries | None = None) -> CameraLayers:
    """Existing and accepted cameras near ``area`` (the rule a plan uses:
    :func:`riskmap.etl.planning.near_area`), read through ``access`` (the user's scope).

    Existing cameras: the ``cameras`` layer with their ``camera_coverage`` polygons, or
    ``existing``/``existing_coverage`` (a plan's baseline) less the cameras accepted since.
    Accepted cameras: the ``planned_cameras`` layer, with their sectors/range discs
    (:func:`riskmap.geo.coverage.coverage_polygons`).
    """
    from riskmap.geo.coverage import coverage_polygons

    store = access.store
    empty = gpd.GeoSeries([], crs=4326)
    accepted = access.read("planned_cameras", purpose="app") \
        if store.has("planned_cameras") else None
    accepted = near_area(accepted, area) if accepted is not None else None
    if accepted is None or len(accepted) == 0:
        accepted = gpd.GeoDataFrame({"camera_id": [], "type": [], "plan_id": []},
                                    geometry=empty, crs=4326)
        accepted_cov = empty
    else:
        accepted_cov = coverage_polygons(accepted).reset_index(drop=True)
    accepted_ids = set(accepted["camera_id"].astype(str))
    if existing is not None:
        keep = ~existing["camera_id"].astype(str).isin(accepted_ids).to_numpy(bool)
        cov = existing_coverage if existing_coverage is not None else empty
        cov = cov[keep] if len(cov) == len(existing) else cov
        return CameraLayers(existing[keep].reset_index(drop=True), cov, accepted, accepted_cov)
    cams = near_area(access.read("cameras", purpose="app"), area) if store.has("cameras") \
        else gpd.GeoDataFrame({"camera_id": [], "type": []}, geometry=empty, crs=4326)
    cov = empty
    if len(cams) and store.has("camera_coverage"):
        got = access.read("camera_coverage", filters=[
            ("camera_id", "in", [str(c) for c in cams["camera_id"]])], purpose="app")
        cov = got.geometry
    return CameraLayers(cams, cov, accepted, accepted_cov)


def coverage_view(model: AppModel, area: str | None, access: Any = None
                  ) -> tuple[go.Figure, str, str]:
    """Current coverage of an area: the largest gaps (risk x (1 - covered share)) on the map,
    with the existing and accepted cameras and their coverage, one line of coverage figures
    and the baseline of the next plan (``access``: the user's; default the model's)."""
    access = access if access is not None else model.access
    store = access.store
    try:
        chosen = select_area(model.mahallas, area)
    except RiskmapError as exc:
        return empty_figure(str(exc)), "", ""
    layers = camera_layers(access, chosen)
    if not store.has("coverage_h3"):
        return (empty_figure(_("Run `riskmap build --only coverage` to see coverage gaps")),
                coverage_summary_text(pd.DataFrame()), layers.baseline())
    ids = [str(i) for i in chosen["mahalla_id"]]
    where = [("mahalla_id", "in", ids)]
    figures = access.read("coverage_mahalla", filters=where, purpose="app")
    gaps = access.read("coverage_h3", columns=["h3", "gap", "risk", "mahalla_id"],
                       filters=[*where, ("gap", ">", 0.0)], purpose="app")
    gaps = gaps.sort_values("gap", ascending=False).head(MAX_GAP_CELLS)
    fig = plan_map(chosen, pd.DataFrame(gaps), layers.existing, layers.existing_coverage,
                   layers.existing.iloc[:0], gpd.GeoSeries([], crs=4326), value="gap",
                   value_label=_("Gap"), uirevision=str(area), accepted=layers.accepted,
                   accepted_coverage=layers.accepted_coverage,
                   **_base(model, chosen))
    return fig, coverage_summary_text(figures), layers.baseline()


def _base(model: AppModel, area: gpd.GeoDataFrame) -> dict[str, Any]:
    """What the map of ``area`` draws on: the app's MapLibre base map in a request (see
    :func:`app.map_tiles.request_style`), else the cartesian base map."""
    style = request_style()
    if style is not None:
        return {"style": style}
    return {"base_map": base_map_of(model, area)}


def base_map_of(model: AppModel, area: gpd.GeoDataFrame) -> BaseMap | None:
    """The base map around the mahallas ``area`` (the scope's, cached per area's bounds)."""
    if not len(area):
        return None
    bounds = tuple(round(float(v), 6) for v in shapely.total_bounds(area.geometry.to_numpy()))
    if not all(np.isfinite(bounds)):
        return None
    return data_for(model).base_layer_of(("bounds", bounds), bounds)  # type: ignore[arg-type]


def _result_map(model: AppModel, res: PlanResult, uirevision: str) -> tuple[go.Figure, str]:
    """The map of a plan with the accepted cameras as they are now, and the baseline line."""
    layers = camera_layers(current_access(), res.area, existing=res.existing,
                           existing_coverage=res.existing_coverage)
    fig = plan_map(res.area, res.cells, layers.existing, layers.existing_coverage, res.plan,
                   res.plan_coverage, uirevision=uirevision, accepted=layers.accepted,
                   accepted_coverage=layers.accepted_coverage, **_base(model, res.area))
    now = camera_layers(current_access(), res.area)
    return fig, now.baseline()


# ---- saved plans ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SavedPlan:
    """A finished plan job of the user, as the *Compare* control offers it."""

    job_id: str
    name: str


def _area_name(model: AppModel, area: Any) -> str:
    if area is None:
        return _("Everything in scope")
    if isinstance(area, list):
        return _("{n} mahallas").format(n=len(area))
    m = model.mahallas
    hit = m[(m["mahalla_id"].astype(str) == str(area)).to_numpy(bool)] if len(m) else m
    if len(hit):
        return f"{hit['name'].iloc[0]} ({hit['district'].iloc[0]})"
    return str(area)[:80]


def _plan_name(model: AppModel, st: JobStatus) -> str:
    """``area · k=5 · incidents · 2025-07-01 14:05`` (the time in the model's zone)."""
    p = st.params
    risk = _("KDE surface") if p.get("risk") == "kde" else _("incidents")
    when = ""
    if st.finished_at is not None:
        try:
            when = pd.Timestamp(st.finished_at).tz_convert(model.timezone).strftime(
                "%Y-%m-%d %H:%M")
        except (TypeError, ValueError):
            when = str(st.finished_at)[:16]
    budget = p.get("budget")
    k = f"k={budget}" if budget is not None else _("money budget")
    return " · ".join([_area_name(model, p.get("area")), k, risk, when])


def _in_scope(access: Any, st: JobStatus) -> bool:
    """A plan job of ``access.user`` whose region lies within the user's regions."""
    if st.owner != access.user or st.kind != PLAN_CAMERAS or not st.ok:
        return False
    return access.regions is None or (st.region is not None and st.region in access.regions)


def saved_plans(model: AppModel, access: Any) -> list[SavedPlan]:
    """The user's saved plans, newest first: every finished ``plan_cameras`` job of theirs
    (the jobs layer keeps each one's result) within their regions."""
    jobs = list_jobs(access.store, owner=access.user, kind=PLAN_CAMERAS, statuses=("done",),
                     limit=MAX_SAVED_PLANS)
    return [SavedPlan(st.job_id, _plan_name(model, st)) for st in jobs if _in_scope(access, st)]


def saved_plan_options(plans: list[SavedPlan]) -> list[dict[str, str]]:
    """Dropdown options of saved plans (labels are text: Dash escapes them)."""
    return [{"label": p.name, "value": p.job_id} for p in plans]


def saved_plan(model: AppModel, access: Any, job_id: Any) -> tuple[SavedPlan, PlanResult]:
    """A saved plan of the user by job id, re-read through their scope.

    Raises
    ------
    riskmap.jobs.JobNotFound
        Not a job id, or not a finished plan of this user within their regions.
    """
    if not valid_job_id(job_id):
        raise JobNotFound("no such plan")
    st = status(access.store, job_id, user=access.user)
    if not _in_scope(access, st):
        raise JobNotFound("no such plan")
    res = plan_from_job(access.store, job_id, user=access.user, mahallas=model.mahallas)
    return SavedPlan(job_id, _plan_name(model, st)), res


def plan_csv(plan: Any) -> str:
    """A plan's cameras as spreadsheet-safe CSV, the headers in the page's language (English:
    the column ids other systems read; the values keep their codes)."""
    return str(to_csv(plan_table(plan).rename(columns=column_header)))


def comparison_frame(model: AppModel, access: Any, a: Any, b: Any
                     ) -> tuple[pd.DataFrame, tuple[PlanResult, PlanResult]]:
    """The comparison of the saved plans ``a`` and ``b`` (job ids) of the user.

    Raises
    ------
    riskmap.jobs.JobNotFound
        Either is not a saved plan of the user (:func:`saved_plan`).
    riskmap.errors.ConfigError
        The same plan twice.
    """
    from riskmap.errors import ConfigError

    if a == b:
        raise ConfigError(_("choose two different plans"))
    (pa, ra), (pb, rb) = saved_plan(model, access, a), saved_plan(model, access, b)
    table = plan_comparison(ra, rb, (pa.name, pb.name))
    table.insert(1, "job_id", [pa.job_id, pb.job_id])
    return table, (ra, rb)


def _pct(value: Any, unit: str = "%") -> str:
    v = float(value)
    return "–" if not np.isfinite(v) else f"{v:.1f}{unit}"


def compare_view(table: pd.DataFrame, results: tuple[PlanResult, PlanResult],
                 access: Any = None) -> html.Div:
    """Two small maps and the table of a comparison, the better plan marked (``access``: the
    user's, to tell the accepted cameras in each plan's baseline from the existing ones)."""
    better = _("★ better")
    maps, heads = [], []
    for i, (res, graph_id) in enumerate(zip(results, (_IDS.COMPARE_MAP_A, _IDS.COMPARE_MAP_B),
                                            strict=True)):
        row = table.iloc[i]
        title = f"{row['plan']}: {row['name']}" + (f" {better}" if row["better"] else "")
        layers = None if access is None else camera_layers(
            access, res.area, existing=res.existing, existing_coverage=res.existing_coverage)
        maps.append(dcc.Graph(id=graph_id, figure=comparison_map(
            res, title, uirevision=str(row["job_id"]), layers=layers, style=request_style()),
            style={"height": "34vh", "width": "100%"},
            config={"displaylogo": False, "scrollZoom": True, "displayModeBar": False}))
        heads.append(html.Th([f"{row['plan']}: {row['name']}",
                              html.Strong(f" {better}", className="better")
                              if row["better"] else None],
                             className="better" if row["better"] else None))
    body = [
        (_("Cameras proposed"), [str(int(v)) for v in table["cameras"]]),
        (_("Risk covered"), [_pct(v) for v in table["risk_covered_pct"]]),
        (_("Added coverage"), [_pct(v, " pp") for v in table["added_coverage_pp"]]),
        (_("Cameras in common"), [str(int(v)) for v in table["cameras_in_common"]]),
    ]
    rows = [html.Tr([html.Th(label, scope="row"), *[html.Td(v) for v in values]])
            for label, values in body]
    if not table["better"].any():
        rows.append(html.Tr([html.Td(_("Neither plan is better: same coverage and cameras"),
                                     colSpan=3)]))
    return html.Div([
        html.Div(maps, style={"display": "grid", "gridTemplateColumns": "1fr 1fr",
                              "gap": "0.5rem"}),
        html.Table([html.Thead(html.Tr([html.Th(_("Plans compared")), *heads])),
                    html.Tbody(rows)], className="compare-table",
                   style={"width": "100%", "borderCollapse": "collapse"}),
    ])


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
        Output(_IDS.BASELINE, "children"),
        Input(_IDS.AREA, "value"),
    )
    def _coverage(area: Any) -> tuple[go.Figure, str, str]:
        area = area if isinstance(area, str) else None
        model.audit_view(PAGE, {"area": area} if area else None)
        return coverage_view(model, area, current_access())

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
        Output(_IDS.BASELINE, "children", allow_duplicate=True),
        Output(_IDS.SAVED_A, "options"),
        Output(_IDS.SAVED_A, "value"),
        Output(_IDS.SAVED_B, "options"),
        Output(_IDS.SAVED_B, "value"),
        Input(_IDS.POLL, "n_intervals"),
        State(_IDS.JOB, "data"),
        State(_IDS.AREA, "value"),
        prevent_initial_call=True,
    )
    def _poll(_: int, data: Any, area: Any) -> tuple[Any, ...]:
        keep = (no_update,) * 8
        same = (no_update,) * 5  # baseline and saved plans
        job_id = job_of(data)
        if job_id is None:
            return (*_IDLE, None, *keep, *same)
        try:
            st = _user_job(job_id)
        except JobNotFound:
            return (*_IDLE, None, no_update, no_update, "That plan is gone: run it again.",
                    *keep[:5], *same)
        text = job_progress_text(st.to_dict())
        if not st.finished:
            return (str(st.progress or 0.0), text, False, st.status == "cancel_requested",
                    True, False, *(no_update,) * 9, *same)
        if not st.ok:
            return (*_IDLE, None, no_update, no_update, text, *keep[:5], *same)
        try:
            res = _user_plan(model, job_id)
        except (RiskmapError, JobNotFound) as exc:
            return (*_IDLE, None, no_update, no_update, f"Cannot show the plan: {exc}",
                    *keep[:5], *same)
        fig, baseline = _result_map(model, res, str(area))
        none = len(res.plan) == 0
        plans = saved_plans(model, current_access())
        options = saved_plan_options(plans)
        newest = plans[0].job_id if plans else None
        before = plans[1].job_id if len(plans) > 1 else None
        return (*_IDLE, None, fig, gain_curve(res.curve, res.summary),
                plan_summary_text(res.summary), {"job_id": job_id}, none, none, none, "",
                baseline, options, before, options, newest)

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
            return {"content": plan_csv(res.plan), "filename": f"{plan_id}.csv",
                    "type": "text/csv"}
        return {"content": res.to_geojson(), "filename": f"{plan_id}.geojson",
                "type": "application/geo+json"}

    @app.callback(
        Output(_IDS.ACCEPTED, "children", allow_duplicate=True),
        Output(_IDS.ACCEPT, "disabled", allow_duplicate=True),
        Output(_IDS.MAP, "figure", allow_duplicate=True),
        Output(_IDS.BASELINE, "children", allow_duplicate=True),
        Input(_IDS.ACCEPT, "n_clicks"),
        State(_IDS.PLAN, "data"),
        State(_IDS.AREA, "value"),
        prevent_initial_call=True,
    )
    def _accept(_: int, data: Any, area: Any) -> tuple[Any, ...]:
        access = current_access()
        job_id = data.get("job_id") if isinstance(data, dict) else data
        try:
            n, plan_id = accept_plan_job(access, job_id, note="accepted in the app")
        except JobNotFound:
            return ("There is no plan of yours to accept: nothing was written.", True,
                    no_update, no_update)
        except (RiskmapError, PermissionError) as exc:
            return f"Not accepted: {exc}; nothing was written.", True, no_update, no_update
        text = (f"Accepted {n} camera{'s' if n != 1 else ''} into planned cameras "
                f"(plan {plan_id}).")
        try:  # redraw: the accepted layer and the baseline of the next plan now hold them
            fig, baseline = _result_map(model, _user_plan(model, job_id), str(area))
        except (RiskmapError, JobNotFound):
            return text, True, no_update, no_update
        return text, True, fig, baseline

    @app.callback(
        Output(_IDS.COMPARISON, "children"),
        Output(_IDS.COMPARE_CSV, "disabled"),
        Input(_IDS.COMPARE, "n_clicks"),
        State(_IDS.SAVED_A, "value"),
        State(_IDS.SAVED_B, "value"),
        prevent_initial_call=True,
    )
    def _compare(_clicks: int, a: Any, b: Any) -> tuple[Any, bool]:
        access = current_access()
        detail = {"a": str(a)[:40] if a is not None else None,
                  "b": str(b)[:40] if b is not None else None}
        if a is None or b is None:
            return html.P(_("Choose two saved plans to compare."), className="summary"), True
        try:
            table, results = comparison_frame(model, access, a, b)
        except JobNotFound:
            access.audit("compare_plans", layer="jobs", detail=detail, outcome="denied")
            return html.P(_("Choose two saved plans of yours to compare."),
                          className="summary"), True
        except RiskmapError as exc:
            return html.P(_("Cannot compare: {why}").format(why=exc), className="summary"), True
        access.audit("compare_plans", layer="jobs", detail=detail, rows=2)
        return compare_view(table, results, access), False

    @app.callback(
        Output(_IDS.COMPARE_DOWNLOAD, "data"),
        Input(_IDS.COMPARE_CSV, "n_clicks"),
        State(_IDS.SAVED_A, "value"),
        State(_IDS.SAVED_B, "value"),
        prevent_initial_call=True,
    )
    def _compare_csv(_: int, a: Any, b: Any) -> Any:
        access = current_access()
        try:
            table, _results = comparison_frame(model, access, a, b)
        except (RiskmapError, JobNotFound):
            return no_update
        access.audit("download_plan_comparison", layer="jobs",
                     detail={"a": str(a), "b": str(b)}, rows=len(table))
        return {"content": to_csv(table), "filename": "plan-comparison.csv",
                "type": "text/csv"}
