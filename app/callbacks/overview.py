"""Callbacks of the overview page: controls -> query -> model aggregates -> map figure + URL."""

from __future__ import annotations

from typing import Any

import dash
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, State, ctx

import shapely

from riskmap.app import figures, ids
from riskmap.app.callbacks.common import keep_view_js, register_districts, register_url_writer
from riskmap.app.commanders_data import CommandersView, data_for
from riskmap.app.data import LEVELS, AppModel, ViewQuery
from riskmap.app.figures_basemap import add_base_to_figure
from riskmap.app.h3_view import (
    CellView,
    cells_for_view,
    cells_in_box,
    in_view,
    needs_redraw,
    view_range,
)
from riskmap.app.map_tiles import max_cells, request_style
from riskmap.i18n import format_number, ngettext
from riskmap.i18n import gettext as _

__all__ = ["PAGE", "VIEW_RANGE_JS", "query_from_controls", "register", "render", "show",
           "summary_text"]

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


def render(model: AppModel, query: ViewQuery, rng: list[float] | None = None, *,
           limit: int | None = None) -> tuple[go.Figure, str, dict[str, Any]]:
    """The map, the summary line and what was drawn (``{"range": ..., "res": ...}``, kept by
    the page to tell whether a later zoom or pan needs a redraw) of ``query`` seen over
    ``rng`` (``[x0, x1, y0, y1]``; None: the whole selection).

    H3 levels draw at most ``limit`` cells (:func:`app.h3_view.cells_for_view`; default: the
    app's ``map.max_cells``): coarser cells when zoomed out, only those near the view when
    zoomed in. The summary counts the incidents in view.
    """
    uirevision = f"{query.region}|{query.district}"
    # in the app: MapLibre over the app's base tiles; else (a test's call) the cartesian map
    style = request_style()
    if query.resolution is None:
        units = model.units(query)
        fig = figures.mahalla_map(units, uirevision=uirevision, style=style)
        drawn: dict[str, Any] = {"range": None, "res": None}
        text = summary_text(query, int(units["count"].sum()), int((units["count"] > 0).sum()))
    else:
        base = model.base_map(query)
        cells = cells_for_view(model, query, rng, max_cells=limit or max_cells())
        # the first view is the whole selection's, whatever was cut: a redraw of a zoomed-in
        # map keeps the user's view (the page puts the figure on at the view shown)
        bounds = _bounds(base, cells)
        fig = figures.h3_map(cells.units, _outlines(base, cells, style is not None),
                             resolution=cells.res, uirevision=uirevision, style=style,
                             bounds=bounds)
        drawn = {"range": rng if cells.box is not None else None, "res": cells.res}
        text = cells_summary(query, cells, rng)
    if style is None:
        area = CommandersView(region=query.region, district=query.district)
        add_base_to_figure(fig, data_for(model).base_layer(area))  # outlines, water, roads
    return fig, text, drawn


def _outlines(base: Any, cells: CellView, maplibre: bool) -> Any:
    """The mahalla outlines drawn over the cells: on MapLibre, those near the cells' box, and
    none while the cells are coarser than chosen (zoomed out, thousands of outlines over a few
    hundred large cells cost a quarter second a redraw and say nothing; the base map's district
    and region boundaries orient). Never none where there are no cells either: an empty figure
    would be a message, not a map one could pan back from."""
    if not maplibre:
        return base
    geoms = np.asarray(base, dtype=object)
    if cells.coarser and len(cells.units):
        return geoms[:0]
    if cells.box is not None and len(geoms):
        near = geoms[shapely.intersects(geoms, shapely.box(*cells.box))]
        return near if len(near) or len(cells.units) else geoms
    return geoms


def _bounds(base: Any, cells: CellView) -> tuple[float, float, float, float] | None:
    """The selection's extent: its mahallas (or, with none, the cells drawn)."""
    geoms = np.asarray(base, dtype=object) if len(base) else cells.units.geometry.to_numpy()
    if not len(geoms):
        return None
    b = shapely.total_bounds(geoms)
    return (float(b[0]), float(b[1]), float(b[2]), float(b[3])) if np.isfinite(b).all() \
        else None


def cells_summary(query: ViewQuery, cells: CellView, rng: list[float] | None) -> str:
    """The summary line of an H3 map: the incidents and cells in view, at the resolution drawn
    (and, when that is coarser than the chosen one, that zooming in shows it)."""
    shown = in_view(cells, rng)
    counts = cells.units["count"].to_numpy(dtype=np.int64)[shown]
    text = summary_text(query, int(counts.sum()), int((counts > 0).sum()), res=cells.res)
    if cells.coarser:
        text += " · " + _("res {chosen} when zoomed in").format(chosen=cells.chosen)
    return text


def show(model: AppModel, query: ViewQuery, rng: list[float] | None = None
         ) -> tuple[go.Figure, str, str, dict[str, Any]]:
    """Map, summary line, URL query string and what was drawn (:func:`render`) of ``query``;
    the view is audited (``overview``)."""
    fig, text, drawn = render(model, query, rng)
    model.audit_view(PAGE, query.to_params())
    return fig, text, query.to_search(), drawn


def summary_text(query: ViewQuery, total: int, n_units: int, *, res: int | None = None) -> str:
    """One line: ``"412 incidents in 9 mahallas, 2025-01-01 – 2025-03-31"`` (``res``: the
    resolution of the cells drawn, when not the query's).

    Examples
    --------
    >>> summary_text(ViewQuery(level="h3_8"), 1, 1)
    '1 incident in 1 H3 cell (res 8), all dates'
    >>> summary_text(ViewQuery(level="h3_8"), 1200, 30, res=6)
    '1,200 incidents in 30 H3 cells (res 6), all dates'
    """
    res = res if res is not None else query.resolution
    units = (ngettext("{n} mahalla", "{n} mahallas", n_units) if query.resolution is None
             else ngettext("{n} H3 cell", "{n} H3 cells", n_units))
    incidents = ngettext("{n} incident", "{n} incidents", total)
    text = _("{incidents} in {units}").format(
        incidents=incidents.format(n=format_number(total)),
        units=units.format(n=format_number(n_units)))
    if res is not None:
        text += " " + _("(res {resolution})").format(resolution=res)
    if query.start is None and query.end is None:
        return text + ", " + _("all dates")
    return text + f", {query.start or '…'} – {query.end or '…'}"


#: clientside: the bounds the MapLibre map shows after a zoom or pan (``relayoutData``), as
#: ``{"range": [west, east, south, north]}``; nothing for a figure without a map
VIEW_RANGE_JS = """
function(relayout) {
    const gd = document.querySelector("#MAP_ID .js-plotly-plot");
    const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    if (!relayout || !sub || !sub.map || !gd.data || !gd.data.length) {
        return window.dash_clientside.no_update;
    }
    const b = sub.map.getBounds();
    const got = {"range": [b.getWest(), b.getEast(), b.getSouth(), b.getNorth()]};
    const key = JSON.stringify(got);
    if (gd.__riskmapView === key) {  // an autosize that changed nothing
        return window.dash_clientside.no_update;
    }
    gd.__riskmapView = key;
    return got;
}
""".replace("MAP_ID", _IDS.MAP)

_CONTROLS = (_IDS.LEVEL, "value"), (_IDS.REGION, "value"), (_IDS.DISTRICT, "value"), \
    (_IDS.DATES, "start_date"), (_IDS.DATES, "end_date"), (_IDS.CATEGORIES, "value"), \
    (_IDS.PRECISE, "value")


def register(app: dash.Dash, model: AppModel) -> None:
    """Attach the overview callbacks to ``app``."""

    register_districts(app, model, _IDS.REGION, _IDS.DISTRICT)
    app.clientside_callback(VIEW_RANGE_JS, Output(_IDS.RANGE, "data"),
                            Input(_IDS.MAP, "relayoutData"), prevent_initial_call=True)
    app.clientside_callback(keep_view_js(_IDS.MAP, report_to=_IDS.RANGE), Output(_IDS.MAP, "figure"),
                            Input(_IDS.FIGURE, "data"), prevent_initial_call=True)

    @app.callback(
        Output(_IDS.FIGURE, "data"),
        Output(_IDS.SUMMARY, "children"),
        Output(_IDS.QUERY, "data"),
        Output(_IDS.DRAWN, "data"),
        *(Input(cid, prop) for cid, prop in _CONTROLS),
        Input(_IDS.RANGE, "data"),
        State(_IDS.DRAWN, "data"),
    )
    def _update(*values: Any) -> tuple[Any, ...]:
        *controls, shown, drawn = values
        query = query_from_controls(*controls)
        triggers = set(ctx.triggered_prop_ids or ())
        rng = view_range(shown)  # the browser's word: checked
        if triggers & {f"{_IDS.REGION}.value", f"{_IDS.DISTRICT}.value"}:
            rng = None  # a new area is drawn whole (its first view fits it)
        if triggers == {f"{_IDS.RANGE}.data"}:  # a zoom or pan
            if query.resolution is None or rng is None:
                raise dash.exceptions.PreventUpdate  # mahallas: all drawn, tiles name them
            limit = max_cells()
            if not needs_redraw(drawn, rng, query.resolution, limit,
                                count=lambda res, box: cells_in_box(model, query, res, box)):
                # the cells drawn hold the view: only the summary follows it
                kept = cells_for_view(model, query, view_range((drawn or {}).get("range")),
                                      max_cells=limit)
                return dash.no_update, cells_summary(query, kept, rng), dash.no_update, \
                    dash.no_update
            fig, text, drawn = render(model, query, rng)
            return fig, text, dash.no_update, drawn  # not a new view: not audited
        return show(model, query, rng)

    register_url_writer(app, _IDS.QUERY, _IDS.URL_SINK)

