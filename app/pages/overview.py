"""The overview page (``/``): incidents per mahalla or per H3 cell, with filters kept in the URL."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html

from riskmap.app import ids
from riskmap.app.components import area_fields, categories_field, field, map_panel
from riskmap.app.data import AppModel, ViewQuery
from riskmap.app.factory import current_model
from riskmap.i18n import N_, lazy, translate
from riskmap.i18n import gettext as _

__all__ = ["LEVEL_OPTIONS", "PATH", "layout", "register"]

PATH = "/"
#: aggregation choices (H3 areas are the average cell areas)
LEVEL_OPTIONS = (
    {"label": N_("Mahalla"), "value": "mahalla"},
    {"label": N_("H3 res 7 (~5 km²)"), "value": "h3_7"},
    {"label": N_("H3 res 8 (~0.7 km²)"), "value": "h3_8"},
    {"label": N_("H3 res 9 (~0.1 km²)"), "value": "h3_9"},
)
_PRECISE = "precise"


def register(app: dash.Dash, model: AppModel) -> None:
    """Register the page (Dash Pages) for ``app``."""
    dash.register_page(__name__, path=PATH, name=N_("Overview"), title=lazy(N_("riskmap · overview")),
                       order=0, layout=layout)


def layout(**query: Any) -> html.Div:
    """The page, its controls set from the URL query parameters (bad values are ignored)."""
    model = current_model()
    q = ViewQuery.from_params(query)
    first, last = model.date_bounds()
    return html.Div([
        html.Aside([
            field(_("Show"), dcc.RadioItems(
                id=ids.OVERVIEW.LEVEL, value=q.level,
                options=[{**o, "label": translate(o["label"])} for o in LEVEL_OPTIONS],
                className="radio-list")),
            *area_fields(model, ids.OVERVIEW.REGION, ids.OVERVIEW.DISTRICT, q.region,
                         q.district),
            field(_("Dates"), dcc.DatePickerRange(
                id=ids.OVERVIEW.DATES, min_date_allowed=first, max_date_allowed=last,
                start_date=q.start, end_date=q.end, display_format="YYYY-MM-DD",
                start_date_placeholder_text=_("from"), end_date_placeholder_text=_("to"),
                clearable=True, initial_visible_month=q.start or first)),
            categories_field(ids.OVERVIEW.CATEGORIES, model.categories(), q.categories),
            dcc.Checklist(
                id=ids.OVERVIEW.PRECISE,
                options=[{"label": " " + _("Only incidents with exact coordinates"),
                          "value": _PRECISE}],
                value=[_PRECISE] if q.precise else [], className="check"),
            html.P(id=ids.OVERVIEW.SUMMARY, className="summary", role="status"),
        ], className="controls"),
        map_panel(ids.OVERVIEW.MAP),
        dcc.Store(id=ids.OVERVIEW.QUERY),
        dcc.Store(id=ids.OVERVIEW.RANGE),
        dcc.Store(id=ids.OVERVIEW.DRAWN),
        dcc.Store(id=ids.OVERVIEW.FIGURE),
        html.Div(id=ids.OVERVIEW.URL_SINK, hidden=True),
    ], className="page page-overview")
