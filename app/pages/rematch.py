"""The rematch page (``/rematch``): rows the gazetteer could not place, matched to a mahalla by hand."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from riskmap.app import ids
from riskmap.app.components import BUTTON, field, sidebar_page
from riskmap.app.data import AppModel
from riskmap.app.figures import empty_figure
from riskmap.i18n import N_, lazy
from riskmap.i18n import gettext as _

__all__ = ["PATH", "layout", "register"]

PATH = "/rematch"
_IDS = ids.REMATCH
_HINT = {"fontSize": "0.8rem", "color": "#5f625a", "margin": 0}


def register(app: dash.Dash, model: AppModel) -> None:
    """Register the page (Dash Pages) for ``app``."""
    dash.register_page(__name__, path=PATH, name=_("Rematch"), title=lazy(N_("riskmap · rematch")),
                       order=70, layout=layout)


def layout(**_query: Any) -> html.Div:
    """The page: the unmatched rows on the left; the chosen row's candidates and map beside.

    The lists are filled by the page's callbacks (``app/callbacks/rematch.py``).
    """
    return sidebar_page("rematch", [
        html.P(_("Rows the gazetteer could not place in a mahalla: quarantined without a "
               "location, or placed only in a district. Choose one, pick its mahalla and "
               "confirm: the address is kept as an alias that every later load uses."),
               style=_HINT),
        html.P(id=_IDS.SUMMARY, className="summary", role="status"),
        field(_("Unmatched rows"), dcc.RadioItems(
            id=_IDS.ROWS, options=[], value=None, className="radio-list",
            # one line per row: long lists are virtualised with a fixed row height
            labelStyle={"display": "block", "whiteSpace": "nowrap", "overflow": "hidden",
                        "textOverflow": "ellipsis", "minWidth": 0},
            inputStyle={"marginRight": "0.4rem"})),
        dcc.Store(id=_IDS.REFRESH, data=0),
        dcc.Store(id=_IDS.CHOICE),
    ], html.Section([
        html.Div(_("Choose a row on the left."), id=_IDS.ROW_TEXT, className="summary",
                 style={"overflowWrap": "anywhere"}),
        html.Div([
            html.Div([
                field(_("Candidates (best first)"), dcc.RadioItems(
                    id=_IDS.CANDIDATES, options=[], value=None, className="radio-list",
                    labelStyle={"display": "block", "padding": "0.15rem 0"},
                    inputStyle={"marginRight": "0.4rem"})),
                field(_("Or another mahalla"), dcc.Dropdown(
                    id=_IDS.OTHER, options=[], value=None,
                    placeholder=_("Search the mahallas in your scope"))),
                field(_("Alias to keep"), dcc.Input(
                    id=_IDS.ALIAS, type="text", value="", maxLength=500, debounce=False,
                    style={"width": "100%", "boxSizing": "border-box"})),
                html.P(_("Later loads place an address that reads as this alias (or holds it "
                       "as a name) in the chosen mahalla, within the district or region the "
                       "address names."), style=_HINT),
                html.Button(_("Confirm match"), id=_IDS.CONFIRM, n_clicks=0, disabled=True,
                            style={**BUTTON, "alignSelf": "flex-start"}),
                html.P(id=_IDS.RESULT, className="summary", role="status"),
            ], style={"display": "flex", "flexDirection": "column", "gap": "0.85rem",
                      "minWidth": 0}),
            dcc.Graph(id=_IDS.MAP, figure=empty_figure(_("Choose a row to see its candidates")),
                      responsive=True, style={"height": "60vh", "width": "100%"},
                      config={"displaylogo": False, "scrollZoom": True}),
        ], style={"display": "grid", "gridTemplateColumns": "minmax(16rem, 1fr) 1.3fr",
                  "gap": "1.25rem", "alignItems": "start"}),
    ], style={"padding": "0.75rem 1rem", "minWidth": 0, "display": "flex",
              "flexDirection": "column", "gap": "0.75rem"}), sidebar="26rem")
