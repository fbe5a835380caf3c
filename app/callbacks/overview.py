"""Callbacks of the overview page: controls -> query -> model aggregates -> map figure + URL."""

from __future__ import annotations

from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output

from riskmap.app import figures, ids
from riskmap.app.callbacks.common import register_districts, register_url_writer
from riskmap.app.commanders_data import CommandersView, data_for
from riskmap.app.data import LEVELS, AppModel, ViewQuery
from riskmap.app.figures_basemap import add_base_to_figure
from riskmap.app.map_tiles import request_style
from riskmap.i18n import format_number, ngettext
from riskmap.i18n import gettext as _

__all__ = ["PAGE", "query_from_controls", "register", "render", "show", "summary_text"]

_IDS = ids.OVERVIEW
#: the page name in the audit log
PAGE = "overview"

def query_from_controls(level: str | None, region: str | None, district: str | None,
                        start: str | None, end: str | None, categories: list[str] | None,
                        precise: list[str] | None) -> ViewQuery:
    """The :class:`ViewQuery` of the control values (lenient, like a URL)."""
    return ViewQuery.from_params({
        "level": level if level in LEVELS else "mahalla",
        "region": region, "district": district, "start": start, "end": end,
        "categories": list(categories or ()), "precise": "1" if precise else "",
    })


def render(model: AppModel, query: ViewQuery) -> tuple[go.Figure, str]:
    """The map and the summary line of ``query``."""
    units = model.units(query)
    uirevision = f"{query.region}|{query.district}"
    # in the app: MapLibre over the app's base tiles; else (a test's call) the cartesian map
    style = request_style()
    if query.resolution is None:
        fig = figures.mahalla_map(units, uirevision=uirevision, style=style)
    else:
        fig = figures.h3_map(units, model.base_map(query), resolution=query.resolution,
                             uirevision=uirevision, style=style)
    if style is None:
        area = CommandersView(region=query.region, district=query.district)
        add_base_to_figure(fig, data_for(model).base_layer(area))  # outlines, water, roads
    return fig, summary_text(query, int(units["count"].sum()),
                             int((units["count"] > 0).sum()))


def show(model: AppModel, query: ViewQuery) -> tuple[go.Figure, str, str]:
    """Map, summary line and URL query string of ``query``; the view is audited (``overview``)."""
    fig, text = render(model, query)
    model.audit_view(PAGE, query.to_params())
    return fig, text, query.to_search()


def summary_text(query: ViewQuery, total: int, n_units: int) -> str:
    """One line: ``"412 incidents in 9 mahallas, 2025-01-01 – 2025-03-31"``.

    Examples
    --------
    >>> summary_text(ViewQuery(level="h3_8"), 1, 1)
    '1 incident in 1 H3 cell (res 8), all dates'
    """
    units = (ngettext("{n} mahalla", "{n} mahallas", n_units) if query.resolution is None
             else ngettext("{n} H3 cell", "{n} H3 cells", n_units))
    incidents = ngettext("{n} incident", "{n} incidents", total)
    text = _("{incidents} in {units}").format(
        incidents=incidents.format(n=format_number(total)),
        units=units.format(n=format_number(n_units)))
    if query.resolution is not None:
        text += " " + _("(res {resolution})").format(resolution=query.resolution)
    if query.start is None and query.end is None:
        return text + ", " + _("all dates")
    return text + f", {query.start or '…'} – {query.end or '…'}"


def register(app: dash.Dash, model: AppModel) -> None:
    """Attach the overview callbacks to ``app``."""

    register_districts(app, model, _IDS.REGION, _IDS.DISTRICT)

    @app.callback(
        Output(_IDS.MAP, "figure"),
        Output(_IDS.SUMMARY, "children"),
        Output(_IDS.QUERY, "data"),
        Input(_IDS.LEVEL, "value"),
        Input(_IDS.REGION, "value"),
        Input(_IDS.DISTRICT, "value"),
        Input(_IDS.DATES, "start_date"),
        Input(_IDS.DATES, "end_date"),
        Input(_IDS.CATEGORIES, "value"),
        Input(_IDS.PRECISE, "value"),
    )
    def _update(*controls: Any) -> tuple[go.Figure, str, str]:
        return show(model, query_from_controls(*controls))

    register_url_writer(app, _IDS.QUERY, _IDS.URL_SINK)
