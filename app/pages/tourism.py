"""The tourism page (``/tourism``): pick a zone; see coverage, isochrones, the checklist and incidents by season."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from app.data import AppModel
from app.factory import current_model
from app.figures import empty_figure
from app.ids import make_id

__all__ = ["IDS", "PATH", "layout", "register", "zone_options"]

PATH = "/tourism"


class IDS:
    """Ids of the tourism page (kept here until they move into ``app/ids.py``)."""

    ZONE = make_id("tourism", "zone")
    SOURCE = make_id("tourism", "source")
    SUMMARY = make_id("tourism", "summary")
    CHECKLIST = make_id("tourism", "checklist")
    SHARES = make_id("tourism", "shares")
    MAP = make_id("tourism", "map")
    SEASON = make_id("tourism", "season")
    LOADING = make_id("tourism", "loading")
    DOWNLOAD_HTML = make_id("tourism", "download-html")
    DOWNLOAD_JSON = make_id("tourism", "download-json")
    DOWNLOAD = make_id("tourism", "download")


_BUTTON = {"padding": "0.35rem 0.8rem", "cursor": "pointer"}


def register(app: dash.Dash, model: AppModel) -> None:
    """Register the page (Dash Pages) for ``app``."""
    dash.register_page(__name__, path=PATH, name="Tourism zones",
                       title="riskmap · tourism zones", order=60, layout=layout)


def zone_options(model: AppModel) -> list[dict[str, str]]:
    """Dropdown options: every tourist zone (label: name, value: feature id), by name."""
    store = model.access.store
    if not store.has("infrastructure"):
        return []
    zones = model.access.read("infrastructure", columns=["feature_id", "name", "kind"],
                              filters=[("kind", "=", "tourist_zone")], purpose="app")
    pairs = sorted({(str(n), str(i)) for n, i in zip(zones["name"].astype(object),
                                                      zones["feature_id"].astype(object),
                                                      strict=True)})
    return [{"label": n, "value": i} for n, i in pairs]


def layout(**query: Any) -> html.Div:
    """The page; ``?zone=FEATURE_ID`` preselects a zone (default: the first one)."""
    model = current_model()
    options = zone_options(model)
    values = [o["value"] for o in options]
    zone = query.get("zone") if query.get("zone") in values else (values[0] if values else None)
    return html.Div([
        html.Aside([
            _field("Tourist zone", dcc.Dropdown(id=IDS.ZONE, options=options, value=zone,
                                                clearable=False,
                                                placeholder="No tourist zone in the store")),
            _field("Travel time from", dcc.RadioItems(id=IDS.SOURCE, options=[
                {"label": " Police post", "value": "police"},
                {"label": " Emergency service (112)", "value": "emergency"}],
                value="police", className="radio-list")),
            html.P(id=IDS.SUMMARY, className="summary", role="status"),
            _field("Readiness checklist", html.Ul(id=IDS.CHECKLIST, style={
                "listStyle": "none", "padding": 0, "margin": 0, "display": "flex",
                "flexDirection": "column", "gap": "0.3rem"})),
            _field("Share of the zone beyond", html.Div(id=IDS.SHARES)),
            html.Div([
                html.Button("Download report (HTML)", id=IDS.DOWNLOAD_HTML, n_clicks=0,
                            disabled=True, style=_BUTTON),
                html.Button("Figures (JSON)", id=IDS.DOWNLOAD_JSON, n_clicks=0,
                            disabled=True, style=_BUTTON),
            ], style={"display": "flex", "gap": "0.5rem", "flexWrap": "wrap"}),
            dcc.Download(id=IDS.DOWNLOAD),
        ], className="controls"),
        html.Section([
            dcc.Loading(id=IDS.LOADING, type="default", children=html.Div([
                dcc.Graph(id=IDS.MAP, figure=empty_figure("Computing the zone ..."),
                          responsive=True, style={"height": "62vh", "width": "100%"},
                          config={"displaylogo": False, "scrollZoom": True}),
                dcc.Graph(id=IDS.SEASON, figure=empty_figure(""),
                          style={"height": "30vh", "width": "100%"},
                          config={"displaylogo": False}),
            ])),
        ], style={"minWidth": 0}),
    ], className="page page-tourism",
        style={"flex": 1, "display": "grid", "gridTemplateColumns": "22rem 1fr",
               "minHeight": "calc(100vh - 3rem)"})


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, className="field-label"), control], className="field")
