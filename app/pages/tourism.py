"""The tourism page (``/tourism``): pick a zone; see coverage, isochrones, the checklist and incidents by season."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from riskmap.app import ids
from riskmap.app.components import BUTTON, field, map_and_chart, sidebar_page
from riskmap.app.data import AppModel
from riskmap.app.factory import current_model
from riskmap.i18n import N_, lazy
from riskmap.i18n import gettext as _

__all__ = ["PATH", "layout", "register", "zone_options"]

PATH = "/tourism"
_IDS = ids.TOURISM




def register(app: dash.Dash, model: AppModel) -> None:
    """Register the page (Dash Pages) for ``app``."""
    dash.register_page(__name__, path=PATH, name=_("Tourism zones"),
                       title=lazy(N_("riskmap · tourism zones")), order=60, layout=layout)


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
    return sidebar_page("tourism", [
        field(_("Tourist zone"), dcc.Dropdown(id=_IDS.ZONE, options=options, value=zone,
                                           clearable=False,
                                           placeholder=_("No tourist zone in the store"))),
        field(_("Travel time from"), dcc.RadioItems(id=_IDS.SOURCE, options=[
            {"label": _(" Police post"), "value": "police"},
            {"label": _(" Emergency service (112)"), "value": "emergency"}],
            value="police", className="radio-list")),
        html.P(id=_IDS.SUMMARY, className="summary", role="status"),
        field(_("Readiness checklist"), html.Ul(id=_IDS.CHECKLIST, style={
            "listStyle": "none", "padding": 0, "margin": 0, "display": "flex",
            "flexDirection": "column", "gap": "0.3rem"})),
        field(_("Share of the zone beyond"), html.Div(id=_IDS.SHARES)),
        html.Div([
            html.Button(_("Download report (HTML)"), id=_IDS.DOWNLOAD_HTML, n_clicks=0,
                        disabled=True, style=BUTTON),
            html.Button(_("Figures (JSON)"), id=_IDS.DOWNLOAD_JSON, n_clicks=0,
                        disabled=True, style=BUTTON),
        ], style={"display": "flex", "gap": "0.5rem", "flexWrap": "wrap"}),
        dcc.Download(id=_IDS.DOWNLOAD),
    ], map_and_chart(_IDS.LOADING, _IDS.MAP, _IDS.SEASON,
                     map_text=_("Computing the zone ..."), chart_text="", map_height="62vh",
                     chart_height="30vh"), sidebar="22rem")
