"""The camera planner page (``/planner``): area, budget and types in; proposed cameras, coverage and gain curve out."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from riskmap.app import ids
from riskmap.app.auth import current_access
from riskmap.app.components import BUTTON, field, map_and_chart, sidebar_page
from riskmap.app.data import AppModel
from riskmap.app.factory import current_model
from riskmap.etl.planning import DEFAULT_CANDIDATES, KDE_LAYER
from riskmap.i18n import N_, lazy
from riskmap.i18n import gettext as _
from riskmap.i18n.names import display_name
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
    dash.register_page(__name__, path=PATH, name=_("Camera planner"),
                       title=lazy(N_("riskmap · camera planner")), order=50, layout=layout)


def _named(options: list[dict[str, str]]) -> list[dict[str, str]]:
    """Camera types and candidate kinds named in the reader's language."""
    grid = _("Grid (H3 res-10 grid over risk cells)")
    return [{**o, "label": " " + (grid if o["value"] == "grid" else display_name(o["value"]))}
            for o in options]


def area_options(model: AppModel) -> list[dict[str, str]]:
    """Dropdown options: every region, district and mahalla in scope (value: the name or id)."""
    m = model.mahallas
    region, district = _("Region: {name}"), _("District: {name}")
    out = [{"label": region.format(name=r), "value": r} for r in model.regions()]
    out += [{"label": district.format(name=d), "value": d} for d in model.districts()]
    if len(m):
        names = m["name"].astype(object).to_numpy()
        dists = m["district"].astype(object).to_numpy()
        mids = m["mahalla_id"].astype(object).to_numpy()
        mahalla = _("Mahalla: {name} ({district})")
        out += [{"label": mahalla.format(name=n, district=d), "value": str(i)}
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
        field(_("Area"), dcc.Dropdown(id=_IDS.AREA, options=options, value=area,
                                   placeholder=_("Everything in scope"))),
        html.P(id=_IDS.COVERAGE, className="summary", role="status"),
        html.P(id=_IDS.BASELINE, className="summary", role="status"),
        field(_("Risk"), dcc.RadioItems(id=_IDS.RISK, options=[
            {"label": _(" Incidents, last 12 months"), "value": "counts"},
            {"label": _(" KDE surface"), "value": "kde",
             "disabled": not model.access.store.has(KDE_LAYER)}],
            value="counts", className="radio-list")),
        field(_("New cameras (budget)"), dcc.Input(
            id=_IDS.BUDGET, type="number", min=1, max=200, step=1, value=budget,
            debounce=False, style={"width": "6rem"})),
        field(_("Camera types"), dcc.Checklist(id=_IDS.TYPES, options=_named(TYPE_OPTIONS),
                                            value=list(CAMERA_TYPES), className="check-list")),
        field(_("Candidate sites"), dcc.Checklist(id=_IDS.CANDIDATES,
                                               options=_named(CANDIDATE_OPTIONS),
                                               value=list(DEFAULT_CANDIDATES),
                                               className="check-list")),
        html.Button(_("Run plan"), id=_IDS.RUN, n_clicks=0, style=BUTTON),
        html.Div([
            html.Progress(id=_IDS.PROGRESS_BAR, value="0", max="1",
                          style={"width": "100%"}),
            html.P(id=_IDS.PROGRESS_TEXT, className="summary", role="status"),
            html.Button(_("Cancel"), id=_IDS.CANCEL, n_clicks=0, disabled=True, style=BUTTON),
        ], id=_IDS.PROGRESS, hidden=True),
        html.P(_("The map shows coverage gaps (risk not covered) until a plan runs. Existing "
               "active and planned cameras stay fixed; the plan maximises the risk newly "
               "covered (cybercrime and fraud have no place and do not count)."),
               className="hint", style={"fontSize": "0.8rem", "color": "#5f625a"}),
        html.P(id=_IDS.SUMMARY, className="summary", role="status"),
        html.Div([
            html.Button(_("Download GeoJSON"), id=_IDS.DOWNLOAD_GEOJSON, n_clicks=0,
                        disabled=True, style=BUTTON),
            html.Button(_("Download CSV"), id=_IDS.DOWNLOAD_CSV, n_clicks=0, disabled=True,
                        style=BUTTON),
        ], style={"display": "flex", "gap": "0.5rem", "flexWrap": "wrap"}),
        html.Button(_("Accept into planned cameras"), id=_IDS.ACCEPT, n_clicks=0,
                    disabled=True, style=BUTTON),
        html.P(id=_IDS.ACCEPTED, className="summary", role="status"),
        *_compare_controls(model),
        dcc.Download(id=_IDS.DOWNLOAD),
        dcc.Download(id=_IDS.COMPARE_DOWNLOAD),
        dcc.Store(id=_IDS.PLAN),  # {"job_id": ...} of the plan shown (kept on the server)
        dcc.Store(id=_IDS.JOB),  # {"job_id": ...} of the plan being made
        dcc.Interval(id=_IDS.POLL, interval=POLL_MS, disabled=True),
    ], html.Div([
        map_and_chart(_IDS.LOADING, _IDS.MAP, _IDS.CURVE,
                      map_text=_("Loading the current coverage ..."),
                      chart_text=_("The gain curve appears here"), map_height="65vh",
                      chart_height="28vh"),
        html.Section(id=_IDS.COMPARISON, **{"aria-live": "polite"}),
    ], style={"minWidth": 0}), sidebar="19rem")


def _compare_controls(model: AppModel) -> list[Any]:
    """*Saved plans*: two dropdowns of the user's finished plans, *Compare*, its CSV."""
    from riskmap.app.callbacks.planner import saved_plan_options, saved_plans

    try:
        options = saved_plan_options(saved_plans(model, current_access()))
    except PermissionError:  # no user on this request: nothing to offer
        options = []
    return [
        html.H3(_("Saved plans"), style={"fontSize": "0.95rem", "margin": "0.8rem 0 0.2rem"}),
        field(_("Plan A"), dcc.Dropdown(id=_IDS.SAVED_A, options=options,
                                        value=options[1]["value"] if len(options) > 1
                                        else None, placeholder=_("Choose a saved plan"))),
        field(_("Plan B"), dcc.Dropdown(id=_IDS.SAVED_B, options=options,
                                        value=options[0]["value"] if options else None,
                                        placeholder=_("Choose a saved plan"))),
        html.Div([
            html.Button(_("Compare"), id=_IDS.COMPARE, n_clicks=0, style=BUTTON),
            html.Button(_("Download comparison CSV"), id=_IDS.COMPARE_CSV, n_clicks=0,
                        disabled=True, style=BUTTON),
        ], style={"display": "flex", "gap": "0.5rem", "flexWrap": "wrap"}),
    ]
