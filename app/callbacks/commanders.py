"""Callbacks of the commanders' page: thin wrappers over pure functions of ``CommandersData``.

Every function the callbacks call (``render_map``, ``viewport_update``, ``panel``,
``incident_page``, ``red_list_rows``, ``evaluation_panel``, ``make_brief``) takes plain values
and returns plain values or figures, so tests and ``benchmarks/bench_commanders.py`` call them
directly, without a browser.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import dash
import numpy as np
import orjson
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, ctx, html

import shapely

from riskmap.app import ids
from riskmap.app.brief import Brief, brief_csv, brief_filename, brief_html
from riskmap.app.callbacks.common import register_districts, register_url_writer
from riskmap.app.callbacks.data_poll import register_data_poll
from riskmap.app.callbacks.review import register_review
from riskmap.app.callbacks.roadmap import attach as attach_roadmap
from riskmap.app.callbacks.roadmap import red_list_roadmaps
from riskmap.app.callbacks.search import attach as attach_search
from riskmap.app.commanders_data import (
    CommandersData,
    CommandersView,
    RequestData,
    Viewport,
    data_for,
)
from riskmap.app.data import AppModel
from riskmap.app.figures import HoverField, blank_figure, empty_figure
from riskmap.app.figures_basemap import add_base
from riskmap.app.figures_commanders import (
    METRICS,
    as_maplibre,
    category_chart,
    highlight_trace,
    is_maplibre,
    kde_image,
    kde_layer,
    method_label,
    metric_map,
    pai_chart,
    point_layer,
    resolution_for_span,
    trend_chart,
    verdict_lines,
)
from riskmap.app.focus import focus_exact, focus_label
from riskmap.app.map_canvas import fit_zoom, shown_bounds
from riskmap.app.map_labels import add_map_labels
from riskmap.app.map_tiles import max_cells, request_style
from riskmap.app.pages.commanders import EVAL_POLL
from riskmap.i18n import (
    N_,
    current_language,
    format_decimals,
    format_number,
    human_date,
    ngettext,
    translate,
)
from riskmap.i18n import gettext as _
from riskmap.i18n.names import display_name, display_names
from riskmap.i18n.why import render_why

__all__ = [
    "PAGE",
    "area_viewport",
    "evaluation_panel",
    "first_view",
    "incident_page",
    "make_brief",
    "only_marks",
    "panel",
    "play_step",
    "red_list_rows",
    "register",
    "render_map",
    "view_from_controls",
    "viewport_update",
]

_IDS = ids.COMMANDERS
#: the page name in the audit log
PAGE = "commanders"

_ACTUAL_RANGE = """
function(relayout) {
    const gd = document.querySelector("#MAP_ID .js-plotly-plot");
    const full = gd && gd._fullLayout;
    const sub = full && full.map && full.map._subplot;
    if (relayout && sub && sub.map && gd.data && gd.data.length) {
        // MapLibre: the bounds shown, in the axes' terms the server reads, and the map's size
        // in pixels (the first view of the next area is computed for it)
        const b = sub.map.getBounds(), c = sub.map.getContainer();
        const got = {"xaxis.range[0]": b.getWest(), "xaxis.range[1]": b.getEast(),
                     "yaxis.range[0]": b.getSouth(), "yaxis.range[1]": b.getNorth(),
                     "size": [c.clientWidth, c.clientHeight]};
        const key = JSON.stringify(got);
        if (gd.__riskmapShown === key) {  // an autosize that changed nothing
            return window.dash_clientside.no_update;
        }
        gd.__riskmapShown = key;
        return got;
    }
    if (!relayout || !full || !full.xaxis || !full.yaxis) {
        return window.dash_clientside.no_update;
    }
    // the blank figure a page starts with (or a "no data" message) has plotly's default
    // ranges: they are no view of the data (taken as one, the H3 level drew 0 cells)
    if (!gd.data || !gd.data.length) {
        return window.dash_clientside.no_update;
    }
    const x = full.xaxis.range, y = full.yaxis.range;
    return {"xaxis.range[0]": x[0], "xaxis.range[1]": x[1],
            "yaxis.range[0]": y[0], "yaxis.range[1]": y[1]};
}
""".replace("MAP_ID", _IDS.MAP)
#: the MapLibre map's setup, after every draw: shift-drag box zoom on (plotly leaves it off;
#: its end is reported as a relayout, as a pan or wheel zoom is),
#: and a new area's first view fitted to the area at the map's real size (the layout's
#: ``meta.fit``, once per ``meta.fit_key``). The move carries an ``originalEvent`` as a user's
#: does, so plotly keeps it over later redraws of the same area and reports it (relayout).
_MAP_SETUP = """
function(_figure) {
    const gd = document.querySelector("#MAP_ID .js-plotly-plot");
    if (!gd) { return window.dash_clientside.no_update; }
    const setup = function() {
        const full = gd._fullLayout, sub = full && full.map && full.map._subplot;
        const m = sub && sub.map;
        if (!m) { return; }
        if (m.boxZoom && !m.boxZoom.isEnabled()) { m.boxZoom.enable(); }
        if (!m.__riskmapBox) {  // a box zoom's move carries no user event: report it
            m.__riskmapBox = true;
            // and jump to the box: MapLibre eases there over half a second, which a
            // software-drawn map takes twice as long to play
            const fit = m.fitScreenCoordinates.bind(m);
            m.fitScreenCoordinates = (p0, p1, bearing, options, eventData) =>
                fit(p0, p1, bearing, Object.assign({}, options, {animate: false}), eventData);
            m.on("boxzoomend", () => m.once("moveend", () => {
                const c = m.getCenter();  // (an event, not a relayout: nothing is redrawn)
                gd.emit("plotly_relayout", {"map.center": {lon: c.lng, lat: c.lat},
                                            "map.zoom": m.getZoom()});
            }));
        }
        const meta = gd.layout && gd.layout.meta;
        if (!meta || !Array.isArray(meta.fit) || meta.fit.length !== 4
            || gd.__riskmapFitted === meta.fit_key) { return; }
        gd.__riskmapFitted = meta.fit_key;
        const f = meta.fit, cam = m.cameraForBounds([[f[0], f[1]], [f[2], f[3]]], {padding: 16});
        const b = m.getBounds();
        if (cam && Math.abs(cam.zoom - m.getZoom()) < 0.35 && b.getWest() <= f[0]
            && b.getEast() >= f[2] && b.getSouth() <= f[1] && b.getNorth() >= f[3]) {
            return;  // the server's first view already fits (it had the map's size)
        }
        m.fitBounds([[f[0], f[1]], [f[2], f[3]]], {padding: 16, animate: false},
                    {originalEvent: {type: "fit"}});
    };
    if (gd.on && gd._ev && gd.__riskmapSetup !== gd._ev) {  // once per plotly emitter
        gd.__riskmapSetup = gd._ev;
        gd.on("plotly_afterplot", () => setTimeout(setup, 0));
    }
    setTimeout(setup, 0);
    return window.dash_clientside.no_update;
}
""".replace("MAP_ID", _IDS.MAP)
#: the server's map figure onto the map: a redraw of the same area (``meta.fit_key``) keeps
#: the centre and zoom the map shows at that moment (a pan or zoom made while the redraw was
#: on its way included), so the map never springs back; a new area starts from the server's
#: view and is fitted to the area (:data:`_MAP_SETUP`)
_MAP_KEEP_VIEW = """
function(fig) {
    if (!fig || !fig.layout) { return window.dash_clientside.no_update; }
    const gd = document.querySelector("#MAP_ID .js-plotly-plot");
    const full = gd && gd._fullLayout, sub = full && full.map && full.map._subplot;
    const m = sub && sub.map, meta = fig.layout.meta, was = gd && gd.layout && gd.layout.meta;
    if (!m || !fig.layout.map || !meta || !was || was.fit_key !== meta.fit_key) { return fig; }
    const c = m.getCenter();
    const view = {center: {lon: c.lng, lat: c.lat}, zoom: m.getZoom()};
    return Object.assign({}, fig, {layout: Object.assign({}, fig.layout, {
        map: Object.assign({}, fig.layout.map, view)})});
}
""".replace("MAP_ID", _IDS.MAP)
#: the map's size in CSS pixels as the page laid it out (null before it has a size)
_MAP_SIZE = """
function(_id) {
    const el = document.getElementById("MAP_ID");
    const r = el && el.getBoundingClientRect();
    return r && r.width > 0 && r.height > 0 ? [Math.round(r.width), Math.round(r.height)] : null;
}
""".replace("MAP_ID", _IDS.MAP)
_MAHALLA_HOVER = (HoverField("name", N_("Mahalla")), HoverField("district", N_("District")),
                  HoverField("count_text", N_("Incidents")),
                  HoverField("rate_text", N_("Per 1,000")),
                  HoverField("gi_text", N_("Gi*")), HoverField("trend_text", N_("Trend")),
                  HoverField("status_text", N_("Status")), HoverField("why", N_("Why")),
                  HoverField("mahalla_id", N_("Id")))
#: tooltip points of mahallas carry the mahalla id as customdata; cells their hex id
_H3_HOVER = (HoverField("h3_hex", N_("H3 cell")), HoverField("count_text", N_("Incidents")),
             HoverField("share", N_("Share of selection (%)"), ":.1f"),
             HoverField("gi_text", N_("Gi*")), HoverField("trend_text", N_("Trend")))


# ---------------------------------------------------------------------------- pure steps
def view_from_controls(months: list[date], level: str | None, metric: str | None,
                       region: str | None, district: str | None, span: list[int] | None,
                       categories: list[str] | None, layers: list[str] | None,
                       mahalla: str | None = None, focus: str | None = None) -> CommandersView:
    """The :class:`CommandersView` of the control values (a full month range means "all").

    The values come from the browser: anything of the wrong type counts as not set.
    """
    level, metric, region, district, mahalla = (
        _control_text(v) for v in (level, metric, region, district, mahalla))
    categories, layers = _control_texts(categories), _control_texts(layers)
    if not (isinstance(span, list) and len(span) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
                    for v in span)):
        span = None
    start = end = None
    if months and span and len(span) == 2 and list(span) != [0, len(months) - 1]:
        lo, hi = (min(max(int(v), 0), len(months) - 1) for v in span)
        start = months[lo]
        end = _month_end(months[hi])
    return CommandersView.from_params({
        "level": level, "metric": metric, "region": region, "district": district,
        "start": start, "end": end, "categories": list(categories or ()),
        "layers": ",".join(layers or ()), "mahalla": mahalla, "focus": _control_text(focus),
    })


def _control_text(value: Any) -> str | None:
    """A control's string value, or ``None`` for anything else a request may carry."""
    return value[:200] if isinstance(value, str) else None


def _control_texts(values: Any) -> list[str]:
    """A multi-select's values: the strings among them (at most 100)."""
    return [v[:200] for v in values[:100] if isinstance(v, str)] if isinstance(values, list) \
        else []


def _month_end(first: date) -> date:
    nxt = (pd.Timestamp(first) + pd.DateOffset(months=1)).date()
    return nxt - timedelta(days=1)


def _span(rng: list[float] | None, area: tuple[float, float, float, float] | None) -> float | None:
    if rng:
        return abs(rng[1] - rng[0])
    if area is not None and all(np.isfinite(area)):
        return area[2] - area[0]
    return None


def viewport_update(relayout: dict[str, Any] | None, current: dict[str, Any] | None,
                    level: str, area_span: float | None = None) -> dict[str, Any] | None:
    """New viewport store after a pan/zoom, or ``None`` when the map need not be redrawn.

    The store is ``{"range": [x0, x1, y0, y1] | None}`` (``None``: the whole area, at the
    resolution of its own span ``area_span``, degrees of longitude). A redraw is
    needed when the H3 resolution for the new x-span changes, or (H3 level) when the view
    leaves the drawn extent (the old range padded by its own size on each side).

    Examples
    --------
    >>> viewport_update({"xaxis.range[0]": 67.0, "xaxis.range[1]": 67.1,
    ...                  "yaxis.range[0]": 40.0, "yaxis.range[1]": 40.1}, None, "h3")
    {'range': [67.0, 67.1, 40.0, 40.1]}
    >>> viewport_update({"autosize": True}, None, "h3") is None
    True

    Cells drawn coarser than the zoom's resolution (too many in view, ``"coarser"``) are
    drawn again on any zoom in:

    >>> zoom = {"xaxis.range[0]": 67.0, "xaxis.range[1]": 68.5,
    ...         "yaxis.range[0]": 40.0, "yaxis.range[1]": 40.8}
    >>> viewport_update(zoom, {"range": [66.0, 70.0, 39.0, 41.5], "coarser": True}, "h3")
    {'range': [67.0, 68.5, 40.0, 40.8]}
    >>> viewport_update(zoom, {"range": [66.0, 70.0, 39.0, 41.5]}, "h3") is None
    True
    """
    if not relayout:
        return None
    if relayout.get("xaxis.autorange") or relayout.get("yaxis.autorange"):
        return {"range": None} if (current or {}).get("range") else None
    keys = ("xaxis.range[0]", "xaxis.range[1]", "yaxis.range[0]", "yaxis.range[1]")
    if all(k in relayout for k in keys):
        rng = [float(relayout[k]) for k in keys]
    elif "xaxis.range" in relayout and "yaxis.range" in relayout:
        rng = [*map(float, relayout["xaxis.range"]), *map(float, relayout["yaxis.range"])]
    else:
        return None
    old = (current or {}).get("range")
    if level == "h3" and (current or {}).get("coarser") and (
            old is None or _span(rng, None) < _span(old, None)):
        return {"range": rng}  # zoomed in on cells drawn coarser than the zoom's: finer ones
    if old is None:
        if level != "h3" and area_span is not None and (
                resolution_for_span(_span(rng, None)) == resolution_for_span(area_span)):
            return None  # mahallas: the H3 level would draw the whole area at this resolution
        return {"range": rng}  # H3: the summary counts what is in view
    if resolution_for_span(_span(rng, None)) != resolution_for_span(_span(old, None)):
        return {"range": rng}
    if level == "h3":
        x0, x1, y0, y1 = _padded(old)
        if not (min(rng[:2]) >= x0 and max(rng[:2]) <= x1 and min(rng[2:]) >= y0
                and max(rng[2:]) <= y1):
            return {"range": rng}
    return None


def _mark_coarser(fig: dict[str, Any], view: CommandersView, keep: Any,
                  current: dict[str, Any] | None) -> Any:
    """The viewport store to keep after drawing ``fig``: it says whether the H3 cells were drawn
    coarser than the zoom's resolution (:func:`render_map`'s ``limit``), so that
    :func:`viewport_update` draws a zoom in again."""
    h3 = ((fig.get("layout") or {}).get("meta") or {}).get("h3") or {}
    coarser = view.level == "h3" and bool(h3) and h3.get("res", 0) < h3.get("chosen", 0)
    base = keep if isinstance(keep, dict) else (current or {"range": None})
    if bool(base.get("coarser")) == coarser:
        return keep
    return {"range": base.get("range"), **({"coarser": True} if coarser else {})}


def _padded(rng: list[float]) -> tuple[float, float, float, float]:
    x0, x1 = sorted(rng[:2])
    y0, y1 = sorted(rng[2:])
    dx, dy = x1 - x0, y1 - y0
    return x0 - dx, x1 + dx, y0 - dy, y1 + dy


def render_map(data: CommandersData, view: CommandersView, viewport: dict[str, Any] | None,
               highlight: list[str] | None = None,
               style: dict[str, Any] | None = None, *,
               limit: int | None = None) -> tuple[dict[str, Any], str]:
    """The map figure and the summary line of ``view``.

    Parameters
    ----------
    data
        The page's data.
    view
        The page state.
    viewport
        ``{"range": [x0, x1, y0, y1] | None}`` (sets the H3 resolution and drawn extent).
    highlight
        Mahalla ids outlined (red-list selection and the open panel's mahalla).
    style
        The MapLibre style of the request (:func:`app.map_tiles.request_style`): the map is
        drawn over the app's offline base map, whose tiles carry the boundaries, water,
        roads and the names that follow the zoom; ``None``: cartesian lon/lat axes with the
        base map and names drawn as traces (a figure read outside the app).
    limit
        Most H3 cells drawn (default: the app's ``map.max_cells``): a view that holds more
        at the zoom's resolution is drawn with coarser cells (``layout.meta.h3`` says which:
        ``{"res": drawn, "chosen": the zoom's}``), and zooming in brings the finer ones.
    """
    area = data.area_bounds(view)
    rng = (viewport or {}).get("range")
    metric = view.metric
    uirev = f"{view.region}|{view.district}"
    ids = list(dict.fromkeys([*(highlight or ()), *([view.mahalla] if view.mahalla else [])]))
    hl = data.highlight_rings(ids) if ids else None
    coarser = ""
    if view.level == "h3" and metric not in {"status", "rate"}:  # mahalla measures
        chosen = resolution_for_span(_span(rng, area))
        extent = None
        if rng:
            x0, x1, y0, y1 = _padded(rng)
            extent = (x0, y0, x1, y1)
        res = data.h3_resolution(view, chosen, extent, limit or max_cells())
        if res < chosen:
            coarser = " · " + _("res {chosen} when zoomed in").format(chosen=chosen)
        units = data.h3_units(view, Viewport(res=res, extent=extent))
        units["gi_text"] = _gi_text(units)
        units["trend_text"] = _text(units["trend"])
        pos = units["pos"].to_numpy()
        fig = metric_map(units, metric, hover=_H3_HOVER, key="h3_hex",
                         rings=None if style else data.cell_rings(res).take(pos),
                         shapes=data.cell_geometries(res)[pos] if style else None,
                         style=style, bounds=area, base=data.base_rings(view, extent),
                         highlight=hl,
                         kind="h3",
                         title=_("{metric} (H3 res {res})").format(
                             metric=_(METRICS[metric]), res=res), uirevision=uirev)
        # the summary counts what is in view (drawn cells reach past it, for panning)
        counts = units["count"].to_numpy(dtype=np.int64)
        if rng:  # cells that show at least in part
            (x0, x1), (y0, y1) = sorted(rng[:2]), sorted(rng[2:])
            counts = counts[shapely.intersects(units.geometry.to_numpy(),
                                               shapely.box(x0, y0, x1, y1))]
            total = int(counts.sum())
        else:
            total = data.model.total(view.query(res))
        what = _("{n} H3 cells (res {res})").format(n=format_number(int((counts > 0).sum())),
                                                    res=res)
        layout = fig.setdefault("layout", {})
        layout["meta"] = {**(layout.get("meta") or {}), "h3": {"res": res, "chosen": chosen}}
    else:
        units = data.mahalla_units(view)
        units["rate_text"] = format_decimals(units["rate"].to_numpy(dtype=float), 2,
                                             missing=_("unknown"))
        units["gi_text"] = _gi_text(units)
        units["trend_text"] = _text(units["trend"])
        units["status_text"] = _text(units["status"])
        units["why"] = render_why(units["why"])  # stored in English: in the reader's language
        pos = units["pos"].to_numpy()
        fig = metric_map(units, metric, hover=_MAHALLA_HOVER,
                         rings=None if style else data.mahalla_rings().take(pos),
                         shapes=data.mahalla_geometries()[pos] if style else None,
                         style=style, bounds=area, highlight=hl, kind="mahalla",
                         uirevision=uirev)
        total = int(units["count"].sum())
        what = ngettext("{n} mahalla", "{n} mahallas", len(units)).format(
            n=format_number(len(units)))
    if style is None:  # MapLibre: the base map's tiles carry all of this
        add_base(fig, data.base_layer(view))  # boundaries, water, roads, places: orientation
    _add_layers(fig, data, view)
    add_map_labels(fig, data, view, rng)  # names by zoom, small red mahallas marked
    data.warm(view, maplibre=style is not None)
    when = (_("all dates") if view.start is None and view.end is None
            else f"{human_date(view.start) or '…'} – {human_date(view.end) or '…'}")
    focus = f" · {_('Focus')}: {focus_label(view.focus)}" if view.focus else ""
    return fig, _("{incidents} in {what}, {when}").format(
        incidents=ngettext("{n} incident", "{n} incidents", total).format(n=format_number(total)),
        what=what, when=when) + coarser + focus


def only_marks(triggered: Any, fig: dict[str, Any]) -> bool:
    """Whether a redraw was set off by the selection alone (a mahalla opened, red-list rows
    ticked) and ``fig`` has the selection as its first trace (the MapLibre map): then only
    that trace need be sent.

    >>> fig = {"data": [{"meta": {"kind": "highlight"}}]}
    >>> only_marks({"cmd-selected.data": 1}, fig), only_marks({"cmd-level.value": 1}, fig)
    (True, False)
    """
    marks = {f"{_IDS.SELECTED}.data", f"{_IDS.REDLIST}.selected_row_ids"}
    keys = set(triggered or ())
    return bool(keys) and keys <= marks and bool(fig.get("data")) and (
        (fig["data"][0].get("meta") or {}).get("kind") == "highlight")


def map_answer(data: CommandersData, view: CommandersView, viewport: Any,
               highlight: list[str],
               style: dict[str, Any] | None = None) -> tuple[dict[str, Any], str]:
    """:func:`render_map`, shared by the requests of this scope with the same view, viewport,
    highlight and language (:meth:`CommandersData.answer`); on MapLibre the fills are shared
    whatever the selection, which is put in as the first trace per request. A viewport or
    highlight list that is not plain, small JSON is drawn for the request alone."""
    try:
        port = orjson.dumps(viewport, option=orjson.OPT_SORT_KEYS)
        marked = tuple(str(v) for v in highlight)
    except (TypeError, orjson.JSONEncodeError):
        port, marked = None, ()
    if port is None or len(port) > 2048 or len(marked) > 64:
        return render_map(data, view, viewport, highlight, style)
    if style is None:
        key = ("map", view, port, marked, current_language(), focus_exact(), None)
        return data.answer(key, lambda: render_map(data, view, viewport, highlight, style))
    # MapLibre: the fills of a view are shared by every selection on it (a mahalla opened,
    # red-list rows ticked); the selection, the figure's first trace, is put in per request.
    # The style names the address the browser used (its tiles and glyphs).
    bare = dataclasses.replace(view, mahalla=None)
    key = ("map", bare, port, (), current_language(), focus_exact(),
           orjson.dumps(style, option=orjson.OPT_SORT_KEYS))
    fig, summary = data.answer(key, lambda: render_map(data, bare, viewport, [], style))
    ids = list(dict.fromkeys([*marked, *([view.mahalla] if view.mahalla else [])]))
    first = (fig.get("data") or [{}])[0]
    if ids and (first.get("meta") or {}).get("kind") == "highlight":
        fig = {**fig, "data": [highlight_trace(data.highlight_rings(ids)), *fig["data"][1:]]}
    return fig, summary


def _size(value: Any) -> tuple[int, int] | None:
    """A map size the browser reported, ``[width, height]`` px (anything else: None)."""
    if isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, int | float) and not isinstance(v, bool) and 100 <= v <= 20000
            for v in value):
        return int(value[0]), int(value[1])
    return None


def _first_zoom(area: tuple[float, float, float, float], size: tuple[int, int]) -> float:
    return fit_zoom(area, size, pad=0.05)


def area_viewport(area: tuple[float, float, float, float] | None,
                  size: Any) -> dict[str, Any] | None:
    """The viewport a new area is first shown with in a map of ``size`` (see
    :func:`first_view`): its H3 cells are those of the width shown. None: unknown size."""
    got = _size(size)
    if area is None or got is None:
        return None
    x0, y0, x1, y1 = shown_bounds(((area[0] + area[2]) / 2, (area[1] + area[3]) / 2),
                                  _first_zoom(area, got), got)
    return {"range": [x0, x1, y0, y1]}


def first_view(fig: dict[str, Any], size: Any) -> dict[str, Any]:
    """``fig`` (a MapLibre map answer, shared: not changed) with its first view fitted to its
    area in a map of ``size`` ``[width, height]`` px (what the browser reported; anything
    else leaves the server's guess).

    >>> fig = {"data": [], "layout": {"map": {"zoom": 1}, "meta": {"fit": [67, 40, 68, 41]}}}
    >>> round(first_view(fig, [800, 600])["layout"]["map"]["zoom"], 2), fig["layout"]["map"]
    (8.25, {'zoom': 1})
    >>> first_view(fig, ["800", None]) is fig
    True
    """
    fit = (fig.get("layout", {}).get("meta") or {}).get("fit")
    got = _size(size)
    if not (got and fit and "map" in fig["layout"]):
        return fig
    x0, y0, x1, y1 = fit
    view = {"center": {"lon": (x0 + x1) / 2, "lat": (y0 + y1) / 2},
            "zoom": _first_zoom((x0, y0, x1, y1), got)}
    return {**fig, "layout": {**fig["layout"], "map": {**fig["layout"]["map"], **view}}}


def _gi_text(units: pd.DataFrame) -> np.ndarray:
    """``Hot spot 95% (z=2.4)`` per unit: the class in the reader's language (the code,
    ``not_significant``, is not a word), each distinct class and z formatted once."""
    z = format_decimals(units["gi_z"].to_numpy(dtype=float), 1)
    return display_names(units["gi_class"], missing="") + " (z=" + z + ")"


def _text(values: pd.Series) -> np.ndarray:
    return display_names(values, missing=_("n/a"))


def _in_area(frame: pd.DataFrame, view: CommandersView) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    for key in ("region", "district"):
        if getattr(view, key) and key in frame:
            keep &= (frame[key].astype(object) == getattr(view, key)).to_numpy(dtype=bool)
    return frame[keep]


def _add_layers(fig: dict[str, Any], data: CommandersData, view: CommandersView) -> None:
    maplibre = is_maplibre(fig)
    if "kde" in view.layers:
        got = data.kde(view, target="EPSG:3857" if maplibre else "EPSG:4326")
        if got is not None:
            if maplibre:
                fig["layout"]["map"].setdefault("layers", []).append(kde_layer(*got))
            else:
                fig["layout"].setdefault("images", []).append(kde_image(*got))
            # an image has no legend entry: a legend-only trace names the layer and its ramp
            legend = {
                "type": "scatter", "x": [None], "y": [None], "mode": "markers",
                "marker": {"symbol": "square", "size": 12, "color": "#f03b20",
                           "line": {"color": "#bd0026", "width": 1}},
                "name": _("Kernel density (yellow low → red high)"), "hoverinfo": "skip",
                "showlegend": True, "legendrank": 999, "meta": {"kind": "kde-legend"}}
            fig["data"].append(as_maplibre(legend) if maplibre else legend)
    if "cameras" in view.layers:
        _add_points(fig, data.cameras(), view, ["camera_id", "type", "status", "range_m"],
                    name=_("Cameras"), kind="cameras", colour="#1f4e9c", symbol="diamond")
    if "infrastructure" in view.layers:
        _add_points(fig, data.infrastructure(), view, ["name", "kind"], blank_missing=True,
                    name=_("Infrastructure"), kind="infrastructure", colour="#2a7f62",
                    symbol="square", size=6)


def _add_points(fig: dict[str, Any], frame: pd.DataFrame | None, view: CommandersView,
                hover: list[str], *, blank_missing: bool = False, **style: Any) -> None:
    """A point layer of ``frame`` (features in the view's area; ``hover`` columns in tooltips)."""
    if frame is None or not len(frame):
        return
    frame = _in_area(frame, view)
    pts = shapely.point_on_surface(frame.geometry.to_numpy())
    tips = frame[hover].fillna("") if blank_missing else frame[hover]
    point_layer(fig, shapely.get_x(pts), shapely.get_y(pts), hover=tips, **style)


def panel(data: CommandersData, view: CommandersView, mahalla_id: str | None, *,
          exact: bool = True) -> dict[str, Any]:
    """Contents of the mahalla side panel (title, meta line, charts, tables).

    ``focus`` holds the mahalla's incidents by focus group in the view's window and
    categories; ``exact=False`` (a role without :data:`~riskmap.auth.roles.FOCUS_EXACT`)
    shows counts below :data:`~riskmap.auth.roles.SUPPRESS_BELOW` as "< 5".
    """
    info = data.mahalla_info(mahalla_id) if mahalla_id else None
    if info is None:
        return {"title": _("Click a mahalla on the map"), "meta": "", "trend": blank_figure(""),
                "categories": blank_figure(""), "status": [], "cameras": [], "disabled": True,
                "focus": []}
    assert mahalla_id is not None
    prof = data.mahalla_profile(view, mahalla_id)
    focus = data.model.focus_counts(view.query(), mahalla_id=mahalla_id, exact=exact)
    status = data.mahalla_status(mahalla_id)
    pop = info["population"]
    now = (_(" · status {status} ({month})").format(status=display_name(status["status"].iloc[0]),
                                                   month=status["month"].iloc[0])
           if len(status) else "")
    meta = _("{district}, {region} · population {population} · {n} incidents in the "
             "window").format(district=info["district"], region=info["region"],
                              population=_("unknown") if pop is None else format_number(pop),
                              n=prof["total_text"]) + now
    status = status.assign(status=_text(status["status"]), why=render_why(status["why"]))
    return {
        "title": f"{info['name']} ({mahalla_id})", "meta": meta,
        "trend": trend_chart(prof["months"], prof["monthly"], title=_("Incidents per month")),
        "categories": category_chart(prof["categories"], prof["category_counts"],
                                     title=_("By category (window)")),
        "status": status.to_dict("records"),
        "cameras": data.cameras_in(mahalla_id).to_dict("records"),
        "disabled": data.model.is_suppressed(mahalla_id),  # no brief of a suppressed region
        "focus": [{"group": focus_label(g), "count": t} for g, t in zip(
            focus["group"], focus["count_text"], strict=True)],
    }


def incident_page(data: CommandersData, view: CommandersView, mahalla_id: str | None,
                  page: int, size: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the mahalla's incidents (newest first) and the number of pages."""
    if not mahalla_id or data.mahalla_info(mahalla_id) is None:
        return [], 1
    rows = data.incidents_of(view, mahalla_id)
    pages = max(1, -(-len(rows) // max(size, 1)))
    page = min(max(page, 0), pages - 1)
    return rows.iloc[page * size:(page + 1) * size].astype(object).to_dict("records"), pages


def red_list_rows(data: CommandersData, view: CommandersView, *,
                  exact: bool = True) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of the red list and their tooltips (the status "why"); with the view's focus
    group counts (``exact``: see :meth:`CommandersData.red_list`)."""
    frame = data.red_list(view, exact=exact)
    tips = [{"status": {"value": w, "type": "text"}} for w in render_why(frame["why"])]
    rows = frame.drop(columns="why").astype(object)
    # the status cell in the reader's language; the code stays in a hidden column that the
    # row highlighting (style_data_conditional) matches
    rows["status_code"] = rows["status"]
    rows["status"] = [translate(_RED_STATUS[s]) if s in _RED_STATUS else s
                      for s in rows["status_code"]]
    return rows.to_dict("records"), tips


#: the red list's status codes (CommandersData.red_list) in words
_RED_STATUS = {"red": N_("red"), "newly red": N_("newly red")}


def evaluation_panel(data: CommandersData, region: str | None, *,
                     wait: float | None = 0.0) -> tuple[Any, go.Figure, bool]:
    """The forecast check of the region: text, PAI chart, and whether it is still computing.

    The evaluation runs once per region and data version in the background
    (:meth:`CommandersData.evaluation`); until it is done the text says so and the chart is
    blank (``wait``: seconds to wait for it first, ``None`` until done). Then the text names
    the method recommended by the history before the cut-off, its tuned parameters, its hit
    rate and PAI at 5% of the area, and the verdict against all-history counts per coverage;
    the chart shows its PAI with the bootstrap band and the two baselines dashed.
    """
    ev = data.evaluation(region, wait=wait)
    where = region or _("all regions")
    state = ev["state"]
    if state == "computing":
        what = (_("waiting for another forecast check to finish") if ev.get("queued") else
                _("tuning each method on the history, {seconds} s so far").format(
                    seconds=f"{ev['seconds']:.0f}"))
        return ([html.P(_("Computing the forecast check for {where}… ({what})").format(
                    where=where, what=what), className="note")],
                empty_figure(_("Computing…")), True)
    if state == "error":
        return ([html.P(_("The forecast check failed for {where}: {error}").format(
                    where=where, error=ev["error"]), className="note")],
                empty_figure(_("No evaluation")), False)
    if state != "ready":
        return ([html.P(_("Not enough data to check forecasts for {where}.").format(where=where),
                        className="note")],
                empty_figure(_("No evaluation")), False)
    m = ev["methods"]
    rec = ev["recommended"]
    level = "95%"
    horizon = ev["horizon_days"]
    cutoff = human_date(ev["cutoff"])
    scope = _("{where}: {n} incidents in the {horizon} days after {cutoff}").format(
        where=where, n=format_number(ev["test_incidents"]), horizon=horizon, cutoff=cutoff)
    head: list[Any]
    if rec is None:
        head = [html.B(_("No method recommended: ")),
                _("too little history before the cut-off to compare them; use all-history "
                  "counts.")]
    else:
        from riskmap.i18n.params import render_params as describe_params

        params = ev["params"]
        tuned = bool((ev["chosen"].get(rec) or {}).get("tuned"))
        how = (_("no parameters to tune") if not params else
               _("tuned: {params}").format(params=describe_params(params)) if tuned else
               _("defaults, too little history to tune: {params}").format(
                   params=describe_params(params)))
        head = [html.B(_("Recommended: ")), html.Span(method_label(rec), className="eval-method"),
                _(" ({how}). Picked on the incidents before {cutoff} by a rolling backtest over "
                  "{folds} windows of {horizon} days.").format(
                      how=how, cutoff=cutoff, folds=ev["inner_folds"], horizon=horizon)]
    lines: list[Any] = [html.P(head, style={"fontSize": "0.9rem", "margin": "0.25rem 0"}),
             html.P(scope + _hit_sentence(m, rec, level), className="note")]
    verdicts = [html.Li(line) for line in verdict_lines(ev["best"])]
    if verdicts:
        lines += [html.P(_("The best method on those {horizon} days against all-history "
                           "counts ({level} interval of the PAI difference, {replicates} "
                           "resamples of the incidents):").format(
                               horizon=horizon, level=level, replicates=ev["replicates"]),
                         className="note"),
                  html.Ul(verdicts, className="eval-verdicts note")]
    return lines, pai_chart(m, rec, level=level), False


def _hit_sentence(methods: pd.DataFrame, method: str | None, level: str) -> str:
    """``. Flagging 5% of the area with it would have caught ...`` (just ``.`` when unknown)."""
    if method is None:
        return "."
    row = methods[(methods["method"] == method) & np.isclose(methods["coverage"], 0.05)]
    if row.empty or not np.isfinite(float(row["pai"].iloc[0])):
        return "."
    r = row.iloc[0]
    share = float(r.get("area_share", 0.05))
    flagged = (_("5% of the area") if abs(share - 0.05) < 0.005
               else _("{share} of the area (whole mahallas, for the 5% target)").format(
                   share=f"{share:.0%}"))
    return _(". Flagging {flagged} with it would have caught {hit} [{hit_lo}, {hit_hi}] of "
             "them: PAI {pai} [{pai_lo}, {pai_hi}] ({level} intervals).").format(
        flagged=flagged, hit=f"{float(r['hit_rate']):.0%}", hit_lo=f"{float(r['hit_rate_lo']):.0%}",
        hit_hi=f"{float(r['hit_rate_hi']):.0%}", pai=f"{float(r['pai']):.2f}",
        pai_lo=f"{float(r['pai_lo']):.2f}", pai_hi=f"{float(r['pai_hi']):.2f}", level=level)


def make_brief(data: CommandersData, view: CommandersView, mahalla_id: str, *,
               demo: bool = False) -> Brief:
    """The brief of one mahalla; its reads go through DataAccess with purpose ``"brief"``."""
    info = data.mahalla_info(mahalla_id)
    if info is None:
        raise ValueError(f"unknown mahalla {mahalla_id!r}")
    if data.model.is_suppressed(mahalla_id):
        raise PermissionError("no brief of a mahalla of a region seen suppressed")
    access = data.model.access
    incidents = data.incidents_of(view, mahalla_id, purpose="brief")
    prof = data.mahalla_profile(view, mahalla_id)
    status = pd.DataFrame(columns=["month", "status", "count", "why"])
    if access.store.has("mahalla_status"):
        h = access.read("mahalla_status", columns=["mahalla_id", "month", "status", "count",
                                                   "why"],
                        filters=[("mahalla_id", "=", mahalla_id)], purpose="brief")
        h = h.sort_values("month", ascending=False).head(12)
        status = pd.DataFrame({"month": pd.to_datetime(h["month"], utc=True).dt.strftime("%Y-%m"),
                               "status": h["status"].astype(object), "count": h["count"],
                               "why": h["why"].astype(object)}).reset_index(drop=True)
    else:
        status = data.mahalla_status(mahalla_id)
    cameras = pd.DataFrame(columns=["camera_id", "type", "status", "range_m"])
    if access.store.has("cameras"):
        cams = access.read("cameras", columns=list(cameras.columns),
                           filters=[("mahalla_id", "=", mahalla_id)], purpose="brief")
        cameras = pd.DataFrame(cams.drop(columns="geometry", errors="ignore"))
    cats = ", ".join(view.categories) if view.categories else "all categories"
    when = ("all dates" if view.start is None and view.end is None
            else f"{view.start or '…'} – {view.end or '…'}")
    access.audit("brief", layer="incidents", rows=len(incidents),
                 detail={"mahalla_id": mahalla_id, "window": when, "categories": cats})
    shown_cats = (", ".join(display_name(c) for c in view.categories) if view.categories
                  else _("all categories"))
    shown_when = (_("all dates") if view.start is None and view.end is None
                  else f"{human_date(view.start) or '…'} – {human_date(view.end) or '…'}")
    return Brief(
        mahalla=info, window=f"{shown_when}, {shown_cats}", incidents=incidents,
        months=[m.strftime("%Y-%m") for m in prof["months"]],
        monthly=[int(v) for v in prof["monthly"]],
        categories=pd.DataFrame({"category": prof["categories"],
                                 "count": prof["category_counts"]}).sort_values(
                                     "count", ascending=False, kind="stable"),
        status=status, cameras=cameras,
        generated=_("{when} for {user}").format(
            when=f"{pd.Timestamp.now(tz=data.model.timezone):%Y-%m-%d %H:%M}", user=access.user),
        demo=demo or data.model.demo)


def play_step(span: list[int], n_months: int, *, start: bool) -> tuple[list[int], bool]:
    """Next window of the month play-through and whether playing goes on.

    Starting from the full range plays one month at a time from the first month; each step
    shifts the window by one month, and playing stops at the last month.

    Examples
    --------
    >>> play_step([0, 11], 12, start=True)
    ([0, 0], True)
    >>> play_step([3, 5], 12, start=False)
    ([4, 6], True)
    >>> play_step([10, 11], 12, start=False)
    ([10, 11], False)
    """
    lo, hi = int(span[0]), int(span[1])
    last = max(n_months - 1, 0)
    if start:
        if (lo, hi) == (0, last) or hi >= last:
            width = 0 if (lo, hi) == (0, last) else hi - lo
            return [0, width], last > width
        return [lo, hi], True
    if hi >= last:
        return [lo, hi], False
    return [lo + 1, hi + 1], hi + 1 < last


# ---------------------------------------------------------------------------- wiring
def register(app: dash.Dash, model: AppModel) -> None:
    """Attach the commanders' callbacks to ``app``."""
    data = RequestData(model)  # resolves to the request's scope and data version
    controls = [Input(_IDS.LEVEL, "value"), Input(_IDS.METRIC, "value"),
                Input(_IDS.REGION, "value"), Input(_IDS.DISTRICT, "value"),
                Input(_IDS.MONTHS, "value"), Input(_IDS.CATEGORIES, "value"),
                Input(_IDS.LAYERS, "value"), Input(_IDS.FOCUS, "value")]

    def view_of(level: str | None, metric: str | None, region: str | None,
                district: str | None, span: list[int] | None, categories: list[str] | None,
                layers: list[str] | None, focus: str | None = None,
                mahalla: str | None = None) -> CommandersView:
        return view_from_controls(data.months(), level, metric, region, district, span,
                                  categories, layers, mahalla, focus)

    register_districts(app, model, _IDS.REGION, _IDS.DISTRICT)
    register_review(app, model)  # the "Review pack" tab (guarded as this page's)
    register_data_poll(app, model, poll=_IDS.DATA_POLL, version=_IDS.DATA_VERSION,
                       note=_IDS.UPDATED)  # new data redraws the map and the red list
    attach_roadmap(app, model)  # the "Roadmap" tab (guarded as this page's)
    attach_search(app, model)  # the map tools: search, labels, red-list exports

    # every relayout (zoom, pan, autosize) reports the axis ranges actually shown: a later
    # autosize event must not lose the range of a zoom whose callback is still in flight
    app.clientside_callback(_ACTUAL_RANGE, Output(_IDS.RANGE, "data"),
                            Input(_IDS.MAP, "relayoutData"), prevent_initial_call=True)
    app.clientside_callback(_MAP_SETUP, Output(_IDS.MAP_SETUP, "data"),
                            Input(_IDS.MAP, "figure"))
    # the map's size, once, before its first figure is drawn (which waits for it)
    app.clientside_callback(_MAP_SIZE, Output(_IDS.MAP_SIZE, "data"), Input(_IDS.MAP, "id"))
    app.clientside_callback(_MAP_KEEP_VIEW, Output(_IDS.MAP, "figure"),
                            Input(_IDS.MAP_FIGURE, "data"), prevent_initial_call=True)

    @app.callback(Output(_IDS.MAP_FIGURE, "data"), Output(_IDS.SUMMARY, "children"),
                  Output(_IDS.QUERY, "data"), Output(_IDS.MONTHS_TEXT, "children"),
                  Output(_IDS.VIEWPORT, "data"),
                  *controls, Input(_IDS.RANGE, "data"), Input(_IDS.SELECTED, "data"),
                  Input(_IDS.REDLIST, "selected_row_ids"), Input(_IDS.DATA_VERSION, "data"),
                  Input(_IDS.MAP_SIZE, "data"), State(_IDS.VIEWPORT, "data"))
    def _map(*values: Any) -> tuple[Any, ...]:
        # shown: the bounds and size the map reported last (a zoom or pan: the view to
        # draw, in the same round trip); current: the viewport drawn; _version: new data,
        # redraw; laid_out: the map's size at load
        *ctrl, shown, selected, red_ids, _version, laid_out, current = values
        shown = shown if isinstance(shown, dict) else None  # the browser's word: checked
        current = current if isinstance(current, dict) else None
        view = view_of(*ctrl, mahalla=selected)
        style = request_style()
        viewport, keep = current, dash.no_update
        moved = f"{_IDS.RANGE}.data"
        triggers = set(ctx.triggered_prop_ids or ())
        only_moved = triggers == {moved}
        if moved in triggers:
            area = data.area_bounds(view_of("mahalla", None, view.region, view.district,
                                            None, None, None))
            got = viewport_update(shown, current, view.level,
                                  None if area is None else area[2] - area[0])
            if got is not None:
                viewport = keep = got
            if only_moved and got is None:  # the view drawn holds what is shown now
                raise dash.exceptions.PreventUpdate
            if only_moved and style is not None and (
                    view.level != "h3" or view.metric in {"status", "rate"}):
                # mahallas on MapLibre: a zoom or pan needs nothing new (the tiles name
                # them); the viewport is kept for a later change to the H3 level
                return (dash.no_update,) * 4 + (keep,)
        if triggers & {f"{_IDS.REGION}.value", f"{_IDS.DISTRICT}.value"}:
            # a new area is drawn whole: its H3 resolution follows its own extent, not the
            # zoom of the area before (the map's uirevision changes with it, so plotly
            # autoranges to it too)
            viewport = None
            keep = {"range": None} if (current or {}).get("range") else dash.no_update
        size = shown.get("size") if isinstance(shown, dict) and "size" in shown else laid_out
        if style is not None and not (viewport or {}).get("range"):
            # a whole area: shown at the zoom that fits it in this map, so its H3 cells are
            # those of the width shown (a tall area shows wider than itself)
            viewport = area_viewport(data.area_bounds(view), size) or viewport
        fig, summary = map_answer(data, view, viewport, list(red_ids or ()), style)
        keep = _mark_coarser(fig, view, keep, current)
        fig = first_view(fig, size)
        if style is not None and only_marks(ctx.triggered_prop_ids, fig):
            # the selection alone changed: its trace alone goes (the map keeps its fills)
            patch = dash.Patch()
            patch["data"][0] = fig["data"][0]
            fig = patch
        # a zoom or pan is not a new view, nor is new data (the first draw is)
        if not triggers or triggers - {moved, f"{_IDS.DATA_VERSION}.data"}:
            model.audit_view(PAGE, view.to_params())
        months = data.months()
        text = ""
        if months:
            lo, hi = (min(max(int(v), 0), len(months) - 1)
                      for v in (ctrl[4] or [0, len(months) - 1]))
            text = f"{months[lo]:%b %Y} – {months[hi]:%b %Y}"
        return fig, summary, view.to_search(), text, keep

    register_url_writer(app, _IDS.QUERY, _IDS.URL_SINK)

    @app.callback(Output(_IDS.SELECTED, "data"), Output(_IDS.TABS, "value"),
                  Input(_IDS.MAP, "clickData"), Input(_IDS.CLICK_POINT, "data"),
                  prevent_initial_call=True)
    def _click(click: dict[str, Any] | None, where: Any) -> tuple[Any, Any]:
        if ctx.triggered_id == _IDS.CLICK_POINT:  # a click inside a mahalla's polygon
            x, y = (where.get(k) if isinstance(where, dict) else None for k in ("x", "y"))
            if not all(isinstance(v, int | float) and not isinstance(v, bool)
                       and np.isfinite(v) for v in (x, y)):
                return dash.no_update, dash.no_update
            mahalla = data.mahalla_at(float(x), float(y))
            return (mahalla, "mahalla") if mahalla is not None else (dash.no_update,
                                                                     dash.no_update)
        points = (click or {}).get("points") or []
        if not points:
            return dash.no_update, dash.no_update
        pt = points[0]
        if "location" in pt:  # a MapLibre polygon: the click's point opened it (map_click.js)
            return dash.no_update, dash.no_update
        custom = pt.get("customdata")
        mahalla = None
        if isinstance(custom, str) and data.mahalla_info(custom) is not None:
            mahalla = custom  # a mahalla's tooltip point carries its id
        if mahalla is None and pt.get("x") is not None and pt.get("y") is not None:
            mahalla = data.mahalla_at(float(pt["x"]), float(pt["y"]))
        if mahalla is None:
            return dash.no_update, dash.no_update
        return mahalla, "mahalla"

    @app.callback(Output(_IDS.PANEL_TITLE, "children"), Output(_IDS.PANEL_META, "children"),
                  Output(_IDS.TREND, "figure"), Output(_IDS.CATS_CHART, "figure"),
                  Output(_IDS.STATUS, "data"), Output(_IDS.CAMERAS, "data"),
                  Output(_IDS.BRIEF_HTML, "disabled"), Output(_IDS.BRIEF_CSV, "disabled"),
                  Output(_IDS.FOCUS_TABLE, "data"),
                  Input(_IDS.SELECTED, "data"), *controls)
    def _panel(selected: str | None, *ctrl: Any) -> tuple[Any, ...]:
        p = panel(data, view_of(*ctrl), _control_text(selected), exact=focus_exact())
        return (p["title"], p["meta"], p["trend"], p["categories"], p["status"],
                p["cameras"], p["disabled"], p["disabled"], p["focus"])

    @app.callback(Output(_IDS.INCIDENTS, "data"), Output(_IDS.INCIDENTS, "page_count"),
                  Output(_IDS.INCIDENTS, "page_current"),
                  Input(_IDS.SELECTED, "data"), Input(_IDS.INCIDENTS, "page_current"),
                  Input(_IDS.INCIDENTS, "page_size"), *controls)
    def _incidents(selected: str | None, page: int | None, size: int | None,
                   *ctrl: Any) -> tuple[Any, ...]:
        if ctx.triggered_id != _IDS.INCIDENTS:
            page = 0
        page = page if isinstance(page, int) and 0 <= page < 10**6 else 0
        size = size if isinstance(size, int) and 1 <= size <= 100 else 10
        rows, pages = incident_page(data, view_of(*ctrl), _control_text(selected), page, size)
        return rows, pages, min(page, pages - 1)

    @app.callback(Output(_IDS.REDLIST, "data"), Output(_IDS.REDLIST, "tooltip_data"),
                  Output(_IDS.REDLIST, "selected_rows"),
                  Input(_IDS.REGION, "value"), Input(_IDS.DISTRICT, "value"),
                  Input(_IDS.MONTHS, "value"), Input(_IDS.FOCUS, "value"),
                  Input(_IDS.DATA_VERSION, "data"))
    def _red(region: str | None, district: str | None, span: list[int] | None,
             focus: str | None, _version: Any = None) -> Any:
        view = view_of("mahalla", None, region, district, span, None, None, focus)
        exact = focus_exact()
        # the rows are shared by the users of this scope (a page load of fifty commanders
        # builds them once); the roadmap column is read per request: roadmaps change without
        # a new data generation
        rows, tips = data.answer(("red", view, current_language(), exact),
                                 lambda: red_list_rows(data, view, exact=exact))
        return red_list_roadmaps(model, rows), tips, []

    @app.callback(Output(_IDS.EVAL_TEXT, "children"), Output(_IDS.EVAL_CHART, "figure"),
                  Output(EVAL_POLL, "disabled"),
                  Input(_IDS.TABS, "value"), Input(_IDS.REGION, "value"),
                  Input(EVAL_POLL, "n_intervals"))
    def _evaluation(tab: str, region: str | None, _polls: int) -> Any:
        if tab != "eval":
            return dash.no_update, dash.no_update, True
        polled = ctx.triggered_id == EVAL_POLL
        if not polled:
            model.audit_view(PAGE, {"tab": "eval", "region": region} if region
                             else {"tab": "eval"})
        # a fresh lookup: new data in the store means a new evaluation (never blocks)
        text, fig, computing = evaluation_panel(data_for(model), region)
        return text, dash.no_update if polled and computing else fig, not computing

    @app.callback(Output(_IDS.TICK, "disabled"), Output(_IDS.PLAY, "children"),
                  Output(_IDS.MONTHS, "value"),
                  Input(_IDS.PLAY, "n_clicks"), Input(_IDS.TICK, "n_intervals"),
                  State(_IDS.TICK, "disabled"), State(_IDS.MONTHS, "value"),
                  prevent_initial_call=True)
    def _play(_clicks: int, _ticks: int, stopped: bool, span: list[int]) -> Any:
        n = len(data.months())
        if ctx.triggered_id == _IDS.PLAY:
            if not stopped:
                return True, _("▶ Play by month"), dash.no_update
            new, going = play_step(span, n, start=True)
        else:
            if stopped:
                return dash.no_update, dash.no_update, dash.no_update
            new, going = play_step(span, n, start=False)
        return (not going, _("⏸ Pause") if going else _("▶ Play by month"), new)

    def _brief(selected: str | None, ctrl: tuple[Any, ...]) -> Brief | None:
        selected = _control_text(selected)
        if (not selected or data.mahalla_info(selected) is None
                or data.model.is_suppressed(selected)):  # no brief of a suppressed region
            return None
        return make_brief(data, view_of(*ctrl), selected)

    def _brief_download(kind: str, selected: str | None, ctrl: tuple[Any, ...]) -> Any:
        brief = _brief(selected, ctrl)
        if brief is None:
            return dash.no_update
        render, mime = (brief_html, "text/html") if kind == "html" else (brief_csv, "text/csv")
        return {"content": render(brief), "filename": brief_filename(brief, kind),
                "type": mime, "base64": False}

    states = [State(c.component_id, c.component_property) for c in controls]

    @app.callback(Output(_IDS.DOWNLOAD_HTML, "data"), Input(_IDS.BRIEF_HTML, "n_clicks"),
                  State(_IDS.SELECTED, "data"), *states, prevent_initial_call=True)
    def _brief_html(_n: int, selected: str | None, *ctrl: Any) -> Any:
        return _brief_download("html", selected, ctrl)

    @app.callback(Output(_IDS.DOWNLOAD_CSV, "data"), Input(_IDS.BRIEF_CSV, "n_clicks"),
                  State(_IDS.SELECTED, "data"), *states, prevent_initial_call=True)
    def _brief_csv(_n: int, selected: str | None, *ctrl: Any) -> Any:
        return _brief_download("csv", selected, ctrl)
