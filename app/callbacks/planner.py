"""Callbacks of the camera planner page: run a plan, download it, accept it into ``planned_cameras``."""

from __future__ import annotations

import json
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, no_update

import geopandas as gpd

from app.data import AppModel
from app.figures import empty_figure
from app.figures_planner import gain_curve, plan_map, plan_summary_text
from app.pages.planner import IDS
from etl.planning import PlanResult, accept_plan, load_plan_frames, plan_cameras, plan_table
from riskmap.errors import RiskmapError

__all__ = ["MAX_MAHALLAS_WITHOUT_AREA", "plan_from_store", "register", "run_plan"]

#: above this many mahallas in scope the page asks for an area (a plan over all of them is slow)
MAX_MAHALLAS_WITHOUT_AREA = 200


def run_plan(model: AppModel, area: str | None, budget: Any, types: list[str] | None,
             candidates: list[str] | None) -> PlanResult:
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
    frames = load_plan_frames(model.access, area=area, purpose="app")
    return plan_cameras(frames, area=area, budget=k, types=types, candidates=candidates,
                        time_limit=30.0)


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
        Output(IDS.MAP, "figure"),
        Output(IDS.CURVE, "figure"),
        Output(IDS.SUMMARY, "children"),
        Output(IDS.PLAN, "data"),
        Output(IDS.DOWNLOAD_GEOJSON, "disabled"),
        Output(IDS.DOWNLOAD_CSV, "disabled"),
        Output(IDS.ACCEPT, "disabled"),
        Output(IDS.ACCEPTED, "children"),
        Input(IDS.RUN, "n_clicks"),
        State(IDS.AREA, "value"),
        State(IDS.BUDGET, "value"),
        State(IDS.TYPES, "value"),
        State(IDS.CANDIDATES, "value"),
        prevent_initial_call=True,
    )
    def _run(_: int, area: str | None, budget: Any, types: list[str] | None,
             candidates: list[str] | None) -> tuple[Any, ...]:
        try:
            res = run_plan(model, area, budget, types, candidates)
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
        Output(IDS.DOWNLOAD, "data"),
        Input(IDS.DOWNLOAD_GEOJSON, "n_clicks"),
        Input(IDS.DOWNLOAD_CSV, "n_clicks"),
        State(IDS.PLAN, "data"),
        prevent_initial_call=True,
    )
    def _download(_g: int, _c: int, data: dict[str, Any] | None) -> Any:
        plan = plan_from_store(data)
        if plan is None or data is None:
            return no_update
        plan_id = data["plan_id"]
        model.access.audit("download_plan", layer="planned_cameras",
                           detail={"plan_id": plan_id}, rows=len(plan))
        if dash.ctx.triggered_id == IDS.DOWNLOAD_CSV:
            table = plan_table(plan)
            return {"content": table.to_csv(index=False), "filename": f"{plan_id}.csv",
                    "type": "text/csv"}
        return {"content": data["geojson"], "filename": f"{plan_id}.geojson",
                "type": "application/geo+json"}

    @app.callback(
        Output(IDS.ACCEPTED, "children", allow_duplicate=True),
        Output(IDS.ACCEPT, "disabled", allow_duplicate=True),
        Input(IDS.ACCEPT, "n_clicks"),
        State(IDS.PLAN, "data"),
        prevent_initial_call=True,
    )
    def _accept(_: int, data: dict[str, Any] | None) -> tuple[str, bool]:
        plan = plan_from_store(data)
        if plan is None or data is None:
            return "There is no plan to accept: run one first.", True
        n = accept_plan(model.access, plan, note="accepted in the app")
        return (f"Accepted {n} camera{'s' if n != 1 else ''} into planned cameras "
                f"(plan {data['plan_id']}).", True)
