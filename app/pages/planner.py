"""The camera planner page (``/planner``): area, budget and types in; proposed cameras, coverage and gain curve out."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from riskmap.app import ids
from riskmap.app.components import BUTTON, field, map_and_chart, sidebar_page
from riskmap.app.data import AppModel
from riskmap.app.factory import current_model
from riskmap.etl.planning import DEFAULT_CANDIDATES, KDE_LAYER
from riskmap.layers.spec import CAMERA_TYPES

__all__ = ["CANDIDATE_OPTIONS", "PATH", "POLL_MS", "TYPE_OPTIONS", "area_options",
           "layout", "register"]

PATH = "/planner"
_IDS = ids.PLANNER
#: how often the page asks how the plan's job is doing, ms
POLL_MS = 1000


TYPE_OPTIONS = [{"label": " " + t.replace("_", " ").capitalize(), "value": t}
                for t in CAMERA_TYPES]
CANDIDATE_OPTIONS = [{"label": " " + k.replace("_", " ").capitalize() + (
    " (H3 res-10 grid over risk cells)" if k == "grid" else ""), "value": k}
    for k in (*DEFAULT_CANDIDATES, "grid")]


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
    return sidebar_page("planner", [
        field("Area", dcc.Dropdown(id=_IDS.AREA, options=options, value=area,
                                   placeholder="Everything in scope")),
        html.P(id=_IDS.COVERAGE, className="summary", role="status"),
        field("Risk", dcc.RadioItems(id=_IDS.RISK, options=[
            {"label": " Incidents, last 12 months", "value": "counts"},
            {"label": " KDE surface", "value": "kde",
             "disabled": not model.access.store.has(KDE_LAYER)}],
            value="counts", className="radio-list")),
        field("New cameras (budget)", dcc.Input(
            id=_IDS.BUDGET, type="number", min=1, max=200, step=1, value=budget,
            debounce=False, style={"width": "6rem"})),
        field("Camera types", dcc.Checklist(id=_IDS.TYPES, options=TYPE_OPTIONS,
                                            value=list(CAMERA_TYPES), className="check-list")),
        field("Candidate sites", dcc.Checklist(id=_IDS.CANDIDATES,
                                               options=CANDIDATE_OPTIONS,
                                               value=list(DEFAULT_CANDIDATES),
                                               className="check-list")),
        html.Button("Run plan", id=_IDS.RUN, n_clicks=0, style=BUTTON),
        html.Div([
            html.Progress(id=_IDS.PROGRESS_BAR, value="0", max="1",
                          style={"width": "100%"}),
            html.P(id=_IDS.PROGRESS_TEXT, className="summary", role="status"),
            html.Button("Cancel", id=_IDS.CANCEL, n_clicks=0, disabled=True, style=BUTTON),
        ], id=_IDS.PROGRESS, hidden=True),
        html.P("The map shows coverage gaps (risk not covered) until a plan runs. Existing "
               "active and planned cameras stay fixed; the plan maximises the risk newly "
               "covered (cybercrime and fraud have no place and do not count).",
               className="hint", style={"fontSize": "0.8rem", "color": "#5f625a"}),
        html.P(id=_IDS.SUMMARY, className="summary", role="status"),
        html.Div([
            html.Button("Download GeoJSON", id=_IDS.DOWNLOAD_GEOJSON, n_clicks=0,
                        disabled=True, style=BUTTON),
            html.Button("Download CSV", id=_IDS.DOWNLOAD_CSV, n_clicks=0, disabled=True,
                        style=BUTTON),
        ], style={"display": "flex", "gap": "0.5rem", "flexWrap": "wrap"}),
        html.Button("Accept into planned cameras", id=_IDS.ACCEPT, n_clicks=0,
                    disabled=True, style=BUTTON),
        html.P(id=_IDS.ACCEPTED, className="summary", role="status"),
        dcc.Download(id=_IDS.DOWNLOAD),
        dcc.Store(id=_IDS.PLAN),  # {"job_id": ...} of the plan shown (kept on the server)
        dcc.Store(id=_IDS.JOB),  # {"job_id": ...} of the plan being made
        dcc.Interval(id=_IDS.POLL, interval=POLL_MS, disabled=True),
    ], map_and_chart(_IDS.LOADING, _IDS.MAP, _IDS.CURVE,
                     map_text="Loading the current coverage ...",
                     chart_text="The gain curve appears here", map_height="65vh",
                     chart_height="28vh"), sidebar="19rem")
