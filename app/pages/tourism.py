"""The tourism page (``/tourism``): pick a zone; see coverage, isochrones, the checklist and incidents by season."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from app import ids
from app.data import AppModel
from app.factory import current_model
from app.figures import empty_figure

__all__ = ["PATH", "layout", "register", "zone_options"]

PATH = "/tourism"


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
            _field("Tourist zone", dcc.Dropdown(id=ids.TOURISM.ZONE, options=options, value=zone,
                                                clearable=False,
                                                placeholder="No tourist zone in the store")),
            _field("Travel time from", dcc.RadioItems(id=ids.TOURISM.SOURCE, options=[
                {"label": " Police post", "value": "police"},
                {"label": " Emergency service (112)", "value": "emergency"}],
                value="police", className="radio-list")),
            html.P(id=ids.TOURISM.SUMMARY, className="summary", role="status"),
            _field("Readiness checklist", html.Ul(id=ids.TOURISM.CHECKLIST, style={
                "listStyle": "none", "padding": 0, "margin": 0, "display": "flex",
                "flexDirection": "column", "gap": "0.3rem"})),
            _field("Share of the zone beyond", html.Div(id=ids.TOURISM.SHARES)),
            html.Div([
                html.Button("Download report (HTML)", id=ids.TOURISM.DOWNLOAD_HTML, n_clicks=0,
                            disabled=True, style=_BUTTON),
                html.Button("Figures (JSON)", id=ids.TOURISM.DOWNLOAD_JSON, n_clicks=0,
                            disabled=True, style=_BUTTON),
            ], style={"display": "flex", "gap": "0.5rem", "flexWrap": "wrap"}),
            dcc.Download(id=ids.TOURISM.DOWNLOAD),
        ], className="controls"),
        html.Section([
            dcc.Loading(id=ids.TOURISM.LOADING, type="default", children=html.Div([
                dcc.Graph(id=ids.TOURISM.MAP, figure=empty_figure("Computing the zone ..."),
                          responsive=True, style={"height": "62vh", "width": "100%"},
                          config={"displaylogo": False, "scrollZoom": True}),
                dcc.Graph(id=ids.TOURISM.SEASON, figure=empty_figure(""),
                          style={"height": "30vh", "width": "100%"},
                          config={"displaylogo": False}),
            ])),
        ], style={"minWidth": 0}),
    ], className="page page-tourism",
        style={"flex": 1, "display": "grid", "gridTemplateColumns": "22rem 1fr",
               "minHeight": "calc(100vh - 3rem)"})


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, className="field-label"), control], className="field")
