"""Callbacks of the camera planner page: run a plan, download it, accept it into ``planned_cameras``."""

from __future__ import annotations

import json
from typing import Any

import dash
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, no_update

import geopandas as gpd

from riskmap.app import ids
from riskmap.app.data import AppModel
from riskmap.app.figures import empty_figure
from riskmap.app.figures_planner import (
    coverage_summary_text,
    gain_curve,
    plan_map,
    plan_summary_text,
)
from riskmap.app.urlstate import encode_params
from riskmap.csvsafe import to_csv
from riskmap.errors import RiskmapError
from riskmap.etl.planning import (
    PlanResult,
    accept_plan,
    load_plan_frames,
    plan_cameras,
    plan_table,
    select_area,
)

__all__ = ["MAX_GAP_CELLS", "MAX_MAHALLAS_WITHOUT_AREA", "PAGE", "coverage_view",
           "plan_from_store", "plan_params", "register", "run_plan"]

_IDS = ids.PLANNER
#: the page name in the audit log
PAGE = "planner"

#: the map of current coverage draws at most this many gap cells (the largest)
MAX_GAP_CELLS = 3_000
#: above this many mahallas in scope the page asks for an area (a plan over all of them is slow)
MAX_MAHALLAS_WITHOUT_AREA = 200


def run_plan(model: AppModel, area: str | None, budget: Any, types: list[str] | None,
             candidates: list[str] | None, risk: str = "counts") -> PlanResult:
    """Read the layers through the model's DataAccess (audited as ``app``) and plan.

    Raises
    ------
    riskmap.errors.ConfigError
        For a bad budget, no types or no candidate kinds (shown on the page).
    """
    from riskmap.errors import ConfigError

    try:
        k = int(budget)
    except (TypeError, ValueError):
        raise ConfigError("enter the number of new cameras (1-200)") from None
    if not 1 <= k <= 200:
        raise ConfigError(f"budget {k}: expected 1-200 cameras")
    if not types:
        raise ConfigError("choose at least one camera type")
    if not candidates:
        raise ConfigError("choose at least one kind of candidate site")
    if area is None and len(model.mahallas) > MAX_MAHALLAS_WITHOUT_AREA:
        raise ConfigError(f"{len(model.mahallas):,} mahallas are in scope: choose a region, "
                          "district or mahalla first")
    frames = load_plan_frames(model.access, area=area, risk=risk, purpose="app")
    return plan_cameras(frames, area=area, budget=k, types=types, candidates=candidates,
                        risk=risk, time_limit=30.0)


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
    return encode_params([("area", area), ("budget", budget), ("types", list(types or ())),
                          ("candidates", list(candidates or ())), ("risk", risk or "counts")])


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


def plan_from_store(data: dict[str, Any] | None) -> gpd.GeoDataFrame | None:
    """The plan held by the page's ``dcc.Store`` as a GeoDataFrame (None when there is none)."""
    if not data or not data.get("geojson"):
        return None
    features = json.loads(data["geojson"]).get("features", [])
    if not features:
        return None
    return gpd.GeoDataFrame.from_features(features, crs=4326)


def register(app: dash.Dash, model: AppModel) -> None:
    """Attach the planner callbacks to ``app``."""

    @app.callback(
        Output(_IDS.MAP, "figure"),
        Output(_IDS.COVERAGE, "children"),
        Input(_IDS.AREA, "value"),
    )
    def _coverage(area: str | None) -> tuple[go.Figure, str]:
        model.audit_view(PAGE, {"area": area} if area else None)
        return coverage_view(model, area)

    @app.callback(
        Output(_IDS.MAP, "figure", allow_duplicate=True),
        Output(_IDS.CURVE, "figure"),
        Output(_IDS.SUMMARY, "children"),
        Output(_IDS.PLAN, "data"),
        Output(_IDS.DOWNLOAD_GEOJSON, "disabled"),
        Output(_IDS.DOWNLOAD_CSV, "disabled"),
        Output(_IDS.ACCEPT, "disabled"),
        Output(_IDS.ACCEPTED, "children"),
        Input(_IDS.RUN, "n_clicks"),
        State(_IDS.AREA, "value"),
        State(_IDS.BUDGET, "value"),
        State(_IDS.TYPES, "value"),
        State(_IDS.CANDIDATES, "value"),
        State(_IDS.RISK, "value"),
        prevent_initial_call=True,
    )
    def _run(_: int, area: str | None, budget: Any, types: list[str] | None,
             candidates: list[str] | None, risk: str | None) -> tuple[Any, ...]:
        model.audit_view(PAGE, plan_params(area, budget, types, candidates, risk))
        try:
            res = run_plan(model, area, budget, types, candidates, risk or "counts")
        except RiskmapError as exc:
            fig = empty_figure(str(exc))
            return fig, empty_figure(""), f"Cannot plan: {exc}", None, True, True, True, ""
        fig = plan_map(res.area, res.cells, res.existing, res.existing_coverage, res.plan,
                       res.plan_coverage, uirevision=str(area))
        curve: go.Figure = gain_curve(res.curve, res.summary)
        data = {"plan_id": res.summary["plan_id"], "summary": res.summary,
                "geojson": res.to_geojson()}
        none = len(res.plan) == 0
        return (fig, curve, plan_summary_text(res.summary), data, none, none, none, "")

    @app.callback(
        Output(_IDS.DOWNLOAD, "data"),
        Input(_IDS.DOWNLOAD_GEOJSON, "n_clicks"),
        Input(_IDS.DOWNLOAD_CSV, "n_clicks"),
        State(_IDS.PLAN, "data"),
        prevent_initial_call=True,
    )
    def _download(_g: int, _c: int, data: dict[str, Any] | None) -> Any:
        plan = plan_from_store(data)
        if plan is None or data is None:
            return no_update
        plan_id = data["plan_id"]
        model.access.audit("download_plan", layer="planned_cameras",
                           detail={"plan_id": plan_id}, rows=len(plan))
        if dash.ctx.triggered_id == _IDS.DOWNLOAD_CSV:
            table = plan_table(plan)
            return {"content": to_csv(table), "filename": f"{plan_id}.csv",
                    "type": "text/csv"}
        return {"content": data["geojson"], "filename": f"{plan_id}.geojson",
                "type": "application/geo+json"}

    @app.callback(
        Output(_IDS.ACCEPTED, "children", allow_duplicate=True),
        Output(_IDS.ACCEPT, "disabled", allow_duplicate=True),
        Input(_IDS.ACCEPT, "n_clicks"),
        State(_IDS.PLAN, "data"),
        prevent_initial_call=True,
    )
    def _accept(_: int, data: dict[str, Any] | None) -> tuple[str, bool]:
        plan = plan_from_store(data)
        if plan is None or data is None:
            return "There is no plan to accept: run one first.", True
        n = accept_plan(model.access, plan, note="accepted in the app")
        return (f"Accepted {n} camera{'s' if n != 1 else ''} into planned cameras "
                f"(plan {data['plan_id']}).", True)
