"""The camera planner page (``/planner``): area, budget and types in; proposed cameras, coverage and gain curve out."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from app import ids
from app.data import AppModel
from app.factory import current_model
from app.figures import empty_figure
from etl.planning import DEFAULT_CANDIDATES, KDE_LAYER
from layers.spec import CAMERA_TYPES

__all__ = ["CANDIDATE_OPTIONS", "PATH", "TYPE_OPTIONS", "area_options", "layout",
           "register"]

PATH = "/planner"


TYPE_OPTIONS = [{"label": " " + t.replace("_", " ").capitalize(), "value": t}
                for t in CAMERA_TYPES]
CANDIDATE_OPTIONS = [{"label": " " + k.replace("_", " ").capitalize() + (
    " (H3 res-10 grid over risk cells)" if k == "grid" else ""), "value": k}
    for k in (*DEFAULT_CANDIDATES, "grid")]
_BUTTON = {"padding": "0.35rem 0.8rem", "cursor": "pointer"}


def register(app: dash.Dash, model: AppModel) -> None:
    """Register the page (Dash Pages) for ``app``."""
    dash.register_page(__name__, path=PATH, name="Camera planner",
                       title="riskmap · camera planner", order=50, layout=layout)


def area_options(model: AppModel) -> list[dict[str, str]]:
    """Dropdown options: every region, district and mahalla in scope (value: the name or id)."""
    m = model.mahallas
    out = [{"label": f"Region: {r}", "value": r} for r in model.regions()]
    out += [{"label": f"District: {d}", "value": d} for d in model.districts()]
    if len(m):
        names = m["name"].astype(object).to_numpy()
        dists = m["district"].astype(object).to_numpy()
        mids = m["mahalla_id"].astype(object).to_numpy()
        out += [{"label": f"Mahalla: {n} ({d})", "value": str(i)}
                for n, d, i in sorted(zip(names, dists, mids, strict=True),
                                      key=lambda t: (str(t[0]), str(t[1])))]
    return out


def layout(**query: Any) -> html.Div:
    """The page; ``?area=NAME&budget=K`` preselect the controls."""
    model = current_model()
    options = area_options(model)
    values = {o["value"] for o in options}
    area = query.get("area") if query.get("area") in values else None
    try:
        budget = max(1, min(200, int(query.get("budget", 10))))
    except (TypeError, ValueError):
        budget = 10
    return html.Div([
        html.Aside([
            _field("Area", dcc.Dropdown(id=ids.PLANNER.AREA, options=options, value=area,
                                        placeholder="Everything in scope")),
            html.P(id=ids.PLANNER.COVERAGE, className="summary", role="status"),
            _field("Risk", dcc.RadioItems(id=ids.PLANNER.RISK, options=[
                {"label": " Incidents, last 12 months", "value": "counts"},
                {"label": " KDE surface", "value": "kde",
                 "disabled": not model.access.store.has(KDE_LAYER)}],
                value="counts", className="radio-list")),
            _field("New cameras (budget)", dcc.Input(
                id=ids.PLANNER.BUDGET, type="number", min=1, max=200, step=1, value=budget,
                debounce=False, style={"width": "6rem"})),
            _field("Camera types", dcc.Checklist(id=ids.PLANNER.TYPES, options=TYPE_OPTIONS,
                                                 value=list(CAMERA_TYPES),
                                                 className="check-list")),
            _field("Candidate sites", dcc.Checklist(id=ids.PLANNER.CANDIDATES,
                                                    options=CANDIDATE_OPTIONS,
                                                    value=list(DEFAULT_CANDIDATES),
                                                    className="check-list")),
            html.Button("Run plan", id=ids.PLANNER.RUN, n_clicks=0, style=_BUTTON),
            html.P("The map shows coverage gaps (risk not covered) until a plan runs. Existing "
                   "active and planned cameras stay fixed; the plan maximises the risk newly "
                   "covered (cybercrime and fraud have no place and do not count).",
                   className="hint", style={"fontSize": "0.8rem", "color": "#5f625a"}),
            html.P(id=ids.PLANNER.SUMMARY, className="summary", role="status"),
            html.Div([
                html.Button("Download GeoJSON", id=ids.PLANNER.DOWNLOAD_GEOJSON, n_clicks=0,
                            disabled=True, style=_BUTTON),
                html.Button("Download CSV", id=ids.PLANNER.DOWNLOAD_CSV, n_clicks=0, disabled=True,
                            style=_BUTTON),
            ], style={"display": "flex", "gap": "0.5rem", "flexWrap": "wrap"}),
            html.Button("Accept into planned cameras", id=ids.PLANNER.ACCEPT, n_clicks=0,
                        disabled=True, style=_BUTTON),
            html.P(id=ids.PLANNER.ACCEPTED, className="summary", role="status"),
            dcc.Download(id=ids.PLANNER.DOWNLOAD),
            dcc.Store(id=ids.PLANNER.PLAN),
        ], className="controls"),
        html.Section([
            dcc.Loading(id=ids.PLANNER.LOADING, type="default", children=html.Div([
                dcc.Graph(id=ids.PLANNER.MAP, figure=empty_figure("Loading the current coverage ..."),
                    responsive=True, style={"height": "65vh", "width": "100%"},
                    config={"displaylogo": False, "scrollZoom": True}),
                dcc.Graph(id=ids.PLANNER.CURVE, figure=empty_figure("The gain curve appears here"),
                          style={"height": "28vh", "width": "100%"},
                          config={"displaylogo": False}),
            ])),
        ], style={"minWidth": 0}),
    ], className="page page-planner",
        style={"flex": 1, "display": "grid", "gridTemplateColumns": "19rem 1fr",
               "minHeight": "calc(100vh - 3rem)"})


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, className="field-label"), control], className="field")
