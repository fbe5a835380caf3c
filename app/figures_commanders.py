"""Pure figure builders of the commanders' page: metric maps, KDE image, point layers, panel charts.

Everything here takes frames or arrays and returns ``plotly.graph_objects.Figure`` objects
or plain dicts, with no store access, so each builder is unit-testable. Maps follow
:mod:`app.figures` (offline lon/lat cartesian axes, one filled trace per colour class, an
invisible marker trace carrying the tooltips); the legend entries are the class traces, so
the legend always shows the colours the polygons are filled with.
"""

from __future__ import annotations

import base64
import html
import math
import re
import struct
import zlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import geopandas as gpd
import shapely

from riskmap.app.figures import (
    BASE_NAME,
    PALETTE,
    ZERO_COLOUR,
    HoverField,
    blank_figure,
    class_breaks,
    class_labels,
    classify,
    empty_figure,
)
from riskmap.i18n import N_
from riskmap.i18n import gettext as _
from riskmap.i18n.names import display_name

__all__ = [
    "BASELINES",
    "CATEGORICAL_COLOURS",
    "METHOD_LABELS",
    "METRICS",
    "MetricClasses",
    "RingIndex",
    "as_maplibre",
    "category_chart",
    "class_name",
    "highlight_trace",
    "hover_text",
    "is_maplibre",
    "kde_image",
    "kde_layer",
    "method_label",
    "metric_classes",
    "metric_map",
    "pai_chart",
    "png_data_uri",
    "point_layer",
    "resolution_for_span",
    "ring_index",
    "trend_chart",
    "verdict_lines",
    "verdict_text",
    "wrap_words",
]

#: map metrics and their legend titles
METRICS = {
    "count": N_("Incidents"),
    "rate": N_("Incidents per 1,000 residents"),
    "gi_class": N_("Gi* hot / cold spot"),
    "trend": N_("Emerging hot spot trend"),
    "status": N_("Mahalla status"),
}
#: fixed colours of the categorical metrics (Gi* classes, status, emerging-trend classes)
CATEGORICAL_COLOURS: dict[str, str] = {
    "hot_99": "#b2182b", "hot_95": "#ef8a62", "hot_90": "#fddbc7",
    "not_significant": "#f2f2f0",
    "cold_90": "#d1e5f0", "cold_95": "#67a9cf", "cold_99": "#2166ac",
    "red": "#d73027", "yellow": "#fee08b", "green": "#1a9850",
    "new_hot_spot": "#67000d", "consecutive_hot_spot": "#a50f15",
    "intensifying_hot_spot": "#cb181d", "persistent_hot_spot": "#ef3b2c",
    "diminishing_hot_spot": "#fb6a4a", "sporadic_hot_spot": "#fc9272",
    "oscillating_hot_spot": "#fcbba1", "historical_hot_spot": "#fee0d2",
    "new_cold_spot": "#08306b", "consecutive_cold_spot": "#08519c",
    "intensifying_cold_spot": "#2171b5", "persistent_cold_spot": "#4292c6",
    "diminishing_cold_spot": "#6baed6", "sporadic_cold_spot": "#9ecae1",
    "oscillating_cold_spot": "#c6dbef", "historical_cold_spot": "#deebf7",
    "no_pattern": "#f2f2f0",
}
_MISSING = "#d0d0cc"
_OTHER = ("#8c6bb1", "#41ae76", "#fe9929", "#737373", "#e7298a", "#66a61e")
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"
#: forecast methods and baselines in words (the forecast check)
METHOD_LABELS = {
    "naive": N_("recent counts"), "kde": N_("kernel density (KDE)"), "gi": N_("Gi* hot spots"),
    "near_repeat": N_("near-repeat"), "blend": N_("long-term + recent blend"),
    "sepp": N_("self-exciting point process"), "counts": N_("all-history counts"),
    "kde_200m": N_("plain 200 m KDE"),
    "shrink": N_("shrunk counts (empirical Bayes)"), "adaptive": N_("adaptive-bandwidth KDE"),
}
#: the two baselines every forecast is checked against (drawn dashed)
BASELINES = ("counts", "kde_200m")
_METHOD_COLOURS = {"naive": "#a6761d", "kde": "#d95f02", "gi": "#1b9e77",
                   "near_repeat": "#7570b3", "blend": "#e7298a", "sepp": "#66a61e",
                   "counts": "#252525", "kde_200m": "#3182bd"}
#: x-range spans (degrees of longitude) above which the next coarser resolution is shown
_SPAN_RES = ((0.6, 7), (0.15, 8))


class MetricClasses:
    """Colour classes of one metric over a set of units.

    Attributes
    ----------
    codes
        Class position of each unit (into ``names``/``colours``).
    names
        Legend label of each class.
    colours
        Fill colour of each class (hex).
    """

    def __init__(self, codes: np.ndarray, names: list[str], colours: list[str]) -> None:
        self.codes = codes
        self.names = names
        self.colours = colours


def resolution_for_span(span_deg: float | None) -> int:
    """H3 resolution to show for a map whose x-range spans ``span_deg`` degrees of longitude.

    Examples
    --------
    >>> resolution_for_span(2.0), resolution_for_span(0.3), resolution_for_span(0.05)
    (7, 8, 9)
    >>> resolution_for_span(None)
    7
    """
    if span_deg is None or not np.isfinite(span_deg):
        return _SPAN_RES[0][1]
    for limit, res in _SPAN_RES:
        if span_deg > limit:
            return res
    return 9


def metric_classes(values: pd.Series | np.ndarray, metric: str, *, k: int = 6) -> MetricClasses:
    """Classes and colours of ``values`` for ``metric`` (see :data:`METRICS`).

    ``count``: quantile classes of the positive counts (:func:`app.figures.class_breaks`),
    plus a ``0`` class; ``rate``: quantile classes of the positive rates (one decimal) plus
    ``0`` and ``unknown`` (NaN: population unknown); categorical metrics: one class per
    value present, in the order of :data:`CATEGORICAL_COLOURS`, missing values as ``n/a``.

    Examples
    --------
    >>> c = metric_classes(np.array(["red", "green", None], dtype=object), "status")
    >>> c.names, c.codes.tolist()
    (['Red', 'Green', 'n/a'], [0, 1, 2])
    """
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r}: expected one of {', '.join(METRICS)}")
    if metric == "count":
        v = np.asarray(values, dtype=float)
        breaks = class_breaks(v, k)
        cls = classify(v, breaks)
        return MetricClasses(cls, ["0", *class_labels(breaks)], [ZERO_COLOUR, *_ramp(len(breaks))])
    if metric == "rate":
        return _rate_classes(np.asarray(values, dtype=float), k)
    return _categorical_classes(np.asarray(values, dtype=object))


def _rate_classes(v: np.ndarray, k: int) -> MetricClasses:
    pos = v[np.isfinite(v) & (v > 0)]
    breaks = (np.unique(np.round(np.quantile(pos, np.linspace(0, 1, k + 1)[1:]), 1))
              if len(pos) else np.empty(0))
    if len(breaks):
        breaks[-1] = max(breaks[-1], float(pos.max()))
    codes = np.searchsorted(breaks, v, side="left") + 1
    codes = np.minimum(codes, len(breaks))
    codes[~(np.isfinite(v) & (v > 0))] = 0
    names = ["0"]
    lo = 0.0
    for b in breaks:
        names.append(f"{lo:.1f}–{b:.1f}")
        lo = float(b)
    colours = [ZERO_COLOUR, *_ramp(len(breaks))]
    unknown = ~np.isfinite(v)
    if unknown.any():
        codes[unknown] = len(names)
        names.append("unknown")
        colours.append(_MISSING)
    return MetricClasses(codes.astype(np.int64), names, colours)


def _categorical_classes(v: np.ndarray) -> MetricClasses:
    labels = np.array(["n/a" if (x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)))
                       else str(x) for x in v], dtype=object)
    present = set(labels.tolist())
    order = [c for c in CATEGORICAL_COLOURS if c in present]
    order += sorted(present - set(order) - {"n/a"})
    if "n/a" in present:
        order.append("n/a")
    extra = iter(_OTHER * 10)
    colours = [CATEGORICAL_COLOURS.get(c) or (_MISSING if c == "n/a" else next(extra))
               for c in order]
    codes = pd.Index(order).get_indexer(labels).astype(np.int64)
    return MetricClasses(codes, [class_name(c) for c in order], colours)


def class_name(value: str) -> str:
    """Legend label of a categorical class.

    Examples
    --------
    >>> class_name("hot_99"), class_name("not_significant"), class_name("new_hot_spot")
    ('Hot spot 99%', 'Not significant', 'New hot spot')
    """
    if value == "n/a":
        return value
    text = display_name(value)  # in the reader's language
    return text[:1].upper() + text[1:]


def _ramp(n: int) -> list[str]:
    if n == 0:
        return []
    pick = np.round(np.linspace(0, len(PALETTE) - 1, n)).astype(int) if n > 1 else [3]
    return [PALETTE[i] for i in pick]


class RingIndex(NamedTuple):
    """Exterior rings of many polygons, flattened once for fast per-class gathering.

    ``x``/``y`` hold every ring followed by a NaN (float32); unit ``i`` owns the slice
    ``start[i]:stop[i]`` (all its parts, each with its trailing NaN; empty for None/empty).
    """

    x: np.ndarray
    y: np.ndarray
    start: np.ndarray
    stop: np.ndarray

    def take(self, positions: np.ndarray) -> RingIndex:
        """The rings of the units at ``positions`` (a new, compact index)."""
        pos = np.asarray(positions, dtype=np.int64)
        idx = _ranges(self.start[pos], self.stop[pos])
        lengths = self.stop[pos] - self.start[pos]
        stop = np.cumsum(lengths)
        return RingIndex(self.x[idx], self.y[idx], stop - lengths, stop)

    def gather(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x/y of the units where ``mask`` is True, NaN-separated (float32)."""
        sel = np.flatnonzero(mask)
        idx = _ranges(self.start[sel], self.stop[sel])
        return self.x[idx], self.y[idx]


def _ranges(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(start[i], stop[i])`` for all i, vectorised."""
    lengths = (stop - start).astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(start - np.cumsum(lengths) + lengths, lengths)
    return np.arange(total, dtype=np.int64) + offsets


def ring_index(geoms: np.ndarray | gpd.GeoSeries) -> RingIndex:
    """Flatten the exterior rings of polygons (holes are not drawn: they would be filled).

    Examples
    --------
    >>> r = ring_index(np.array([shapely.box(0, 0, 1, 1), None], dtype=object))
    >>> len(r.x), r.start.tolist(), r.stop.tolist()
    (6, [0, 6], [6, 6])
    """
    arr = np.asarray(geoms, dtype=object)
    n = len(arr)
    if n == 0:
        return RingIndex(np.empty(0, np.float32), np.empty(0, np.float32),
                         np.zeros(0, np.int64), np.zeros(0, np.int64))
    parts, owner = shapely.get_parts(arr, return_index=True)
    poly = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    rings = shapely.get_exterior_ring(parts[poly])
    owner = owner[poly]
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    counts = np.bincount(ring_of, minlength=len(rings)) + 1  # + the NaN separator
    ring_end = np.cumsum(counts)
    ring_start = ring_end - counts
    xy = np.full((int(ring_end[-1]) if len(rings) else 0, 2), np.nan, dtype=np.float32)
    if len(coords):
        within = np.arange(len(coords)) - (np.cumsum(counts - 1) - (counts - 1))[ring_of]
        xy[ring_start[ring_of] + within] = coords
    per_unit = np.bincount(owner, weights=counts, minlength=n).astype(np.int64)
    stop = np.cumsum(per_unit)
    return RingIndex(xy[:, 0], xy[:, 1], stop - per_unit, stop)


def hover_text(units: pd.DataFrame, hover: Sequence[HoverField]) -> np.ndarray:
    """One tooltip string per unit (``<b>first</b><br>label: value ...``), as an object array.

    ``fmt`` ``":,d"`` formats integers with thousands separators, ``":.1f"`` one decimal;
    other values are shown as text (missing as ``n/a``), a long one (the status "why")
    wrapped at about :data:`TIP_WIDTH` characters so that the tooltip fits the map.

    Examples
    --------
    >>> hover_text(pd.DataFrame({"n": [1200], "s": ["x"]}),
    ...            [HoverField("n", "Incidents", ":,d"), HoverField("s", "Name")]).tolist()
    ['<b>Incidents: 1,200</b><br>Name: x']
    >>> hover_text(pd.DataFrame({"s": ["a " * 40]}), [HoverField("s", "Why")])[0].count("<br>")
    1
    """
    out = None
    for i, f in enumerate(hover):
        # each distinct value formatted once (a column takes a few dozen values over
        # thousands of units; a missing one is "n/a")
        codes, uniq = pd.factorize(units[f.column], use_na_sentinel=True)
        fmt = "{" + f.fmt + "}" if f.fmt else "{}"
        text = np.array([_wrapped(fmt.format(v)) for v in uniq.tolist()] + ["n/a"],
                        dtype=object)[codes]
        label = html.escape(_(f.label))  # the labels are marked with N_ where defined
        line = (f"<b>{label}: " + text + "</b>") if i == 0 else (f"{label}: " + text)
        out = line if out is None else out + "<br>" + line
    return out if out is not None else np.full(len(units), "", dtype=object)


#: tooltip values longer than this many characters are wrapped onto more lines
TIP_WIDTH = 64


def _wrapped(text: str) -> str:
    """``text`` HTML-escaped, on lines of at most about :data:`TIP_WIDTH` characters."""
    if len(text) <= TIP_WIDTH:
        return html.escape(text)
    return "<br>".join(html.escape(line) for line in wrap_words(text, TIP_WIDTH))


_SPACES = re.compile(r"[\t\n\x0b\x0c\r ]+")


def wrap_words(text: str, width: int) -> list[str]:
    """Lines of whole words at most ``width`` long (a longer word alone), split at ASCII
    white space only (a no-break space, as Babel groups digits, holds), a run of spaces
    made one: ``textwrap.wrap(text, width, break_long_words=False,
    break_on_hyphens=False)`` on single-spaced text, in a third of its time.

    >>> wrap_words("aa bb  cc\u00a0dd", 5)
    ['aa bb', 'cc\xa0dd']
    """
    lines: list[str] = []
    line = ""
    for word in _SPACES.split(text):
        if not word or word.isspace():
            continue
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def metric_map(units: gpd.GeoDataFrame, metric: str, *, hover: Sequence[HoverField],
               key: str = "mahalla_id", rings: RingIndex | None = None,
               base: RingIndex | None = None, highlight: RingIndex | None = None,
               kind: str = "mahalla", title: str | None = None,
               uirevision: str = "map", style: dict[str, Any] | None = None,
               shapes: np.ndarray | None = None,
               bounds: tuple[float, float, float, float] | None = None) -> dict[str, Any]:
    """Map of ``units`` coloured by ``metric``: one filled trace per class, outlines, tooltips.

    Returns a plain plotly figure dict (what ``dcc.Graph`` takes; ``go.Figure(fig)`` to
    inspect it): building ``go.Figure`` objects would deep-copy every coordinate array.

    Parameters
    ----------
    units
        One row per unit: polygon ``geometry``, the ``metric`` column (``rate`` reads
        ``rate_per_1000`` when there is no ``rate`` column), the hover columns, ``key`` and
        optional ``x``/``y`` tooltip points (else a point on the surface).
    metric
        One of :data:`METRICS`.
    hover
        Tooltip lines; the first is shown in bold.
    key
        Column whose value each tooltip point carries as ``customdata`` (for clicks).
    rings
        :func:`ring_index` of ``units.geometry`` (precomputed by the caller to save time;
        computed here when ``None``).
    base
        Rings of the mahalla outlines drawn on top (``None``: none).
    highlight
        Rings drawn with a thick outline (selected mahallas), ``meta.kind == "highlight"``.
    kind
        ``"mahalla"`` or ``"h3"``: ``meta.kind`` of the class traces (``"<kind>-hover"`` for
        the tooltip trace).
    title
        Legend title (default: the metric's label).
    uirevision
        Plotly ``uirevision``: the zoom is kept while it stays the same.
    style
        A MapLibre style (:func:`app.map_tiles.map_style`): the map is drawn over it with
        ``choroplethmap`` fills that carry their own tooltips and click ids, and fits its
        first view to the units; ``None``: cartesian lon/lat axes (a file read anywhere).
    shapes
        With ``style``: :func:`app.map_canvas.unit_geometries` of ``units.geometry``
        (precomputed by the caller; computed here when ``None``).
    bounds
        With ``style``: the lon/lat bounds the map first shows (the area's; default: the
        units').

    Returns
    -------
    dict
        ``{"data": [...], "layout": {...}}``.
    """
    n_base = 0 if base is None else len(base.start)
    if len(units) == 0 and n_base == 0:
        return blank_figure(_("No mahallas or incidents match the filters"))
    if style is not None:
        return _metric_maplibre(units, metric, hover=hover, key=key, shapes=shapes, base=base,
                                highlight=highlight, kind=kind, style=style, bounds=bounds,
                                title=title or _(METRICS[metric]), uirevision=uirevision)
    rings = rings if rings is not None else ring_index(units.geometry.to_numpy())
    column = "rate_per_1000" if metric == "rate" and "rate" not in units else metric
    values = units[column].to_numpy() if len(units) else np.empty(0)
    classes = metric_classes(values, metric)
    data: list[dict[str, Any]] = []
    for code, (name, colour) in enumerate(zip(classes.names, classes.colours, strict=True)):
        sel = classes.codes == code
        if not sel.any():
            continue
        x, y = rings.gather(sel)
        data.append({
            "type": "scatter", "x": x, "y": y, "mode": "lines", "fill": "toself",
            "fillcolor": colour, "line": {"color": "rgba(90,90,90,0.6)", "width": 0.5},
            "name": name, "hoverinfo": "skip", "legendgroup": "classes", "legendrank": code + 1,
            "meta": {"kind": kind, "class": name, "n": int(sel.sum())}})
    if base is not None and n_base:
        data.append({"type": "scatter", "x": base.x, "y": base.y, "mode": "lines",
                     "line": {"color": "rgba(40,40,40,0.5)", "width": 0.8},
                     "name": _(BASE_NAME), "hoverinfo": "skip",
                     "meta": {"kind": "base"}, "legendrank": 1000})
    if highlight is not None and len(highlight.start):
        data.append({"type": "scatter", "x": highlight.x, "y": highlight.y, "mode": "lines",
                     "line": {"color": "#111", "width": 3}, "name": _("Selected"),
                     "hoverinfo": "skip", "legendrank": 1001,
                     "meta": {"kind": "highlight", "n": len(highlight.start)}})
    if len(units):
        data.append(_hover_trace(units, hover, kind, key))
    return {"data": data, "layout": _map_layout(data, title or _(METRICS[metric]), uirevision)}


def _metric_maplibre(units: gpd.GeoDataFrame, metric: str, *, hover: Sequence[HoverField],
                     key: str, shapes: np.ndarray | None, base: RingIndex | None,
                     highlight: RingIndex | None, kind: str, style: dict[str, Any], title: str,
                     uirevision: str,
                     bounds: tuple[float, float, float, float] | None) -> dict[str, Any]:
    """:func:`metric_map` over the offline base map: one ``choroplethmap`` per class (under
    the base map's water, roads, boundaries and names), each polygon hovering and clicking
    as itself (``customdata``: its ``key``); mahalla outlines and the selection as lines."""
    from riskmap.app.map_canvas import FILLS_BELOW, FrozenGeoJSON, unit_geometries

    if shapes is None:
        shapes = unit_geometries(units.geometry.to_numpy())
    column = "rate_per_1000" if metric == "rate" and "rate" not in units else metric
    values = units[column].to_numpy() if len(units) else np.empty(0)
    classes = metric_classes(values, metric)
    drawn = np.array([g is not None for g in shapes], dtype=bool)
    keys = units[key].astype(str).to_numpy() if len(units) else np.empty(0, dtype=object)
    tips = hover_text(units, hover) if len(units) else np.empty(0, dtype=object)
    data: list[dict[str, Any]] = []
    for code, (name, colour) in enumerate(zip(classes.names, classes.colours, strict=True)):
        sel = np.flatnonzero((classes.codes == code) & drawn)
        if not len(sel):
            continue
        ids = [str(i) for i in sel.tolist()]
        geojson = FrozenGeoJSON(type="FeatureCollection", features=[
            {"type": "Feature", "id": i, "geometry": shapes[p]}
            for i, p in zip(ids, sel.tolist(), strict=True)])
        data.append({
            "type": "choroplethmap", "geojson": geojson, "locations": ids,
            "z": np.ones(len(sel), dtype=np.int8), "colorscale": [[0, colour], [1, colour]],
            "showscale": False, "zmin": 0, "zmax": 1, "below": FILLS_BELOW,
            "marker": {"line": {"color": "rgba(90,90,90,0.6)", "width": 0.5}},
            "customdata": keys[sel].tolist(), "text": tips[sel].tolist(),
            "hovertemplate": "%{text}<extra></extra>", "name": name, "showlegend": True,
            "legendgroup": "classes", "legendrank": code + 1,
            "uid": f"{kind}-class-{code}",
            "meta": {"kind": kind, "class": name, "n": len(sel)}})
    if base is not None and len(base.start):
        data.append({"type": "scattermap", "lon": base.x, "lat": base.y, "mode": "lines",
                     "line": {"color": "rgba(40,40,40,0.5)", "width": 0.8},
                     "name": _(BASE_NAME), "hoverinfo": "skip", "uid": "base",
                     "meta": {"kind": "base"}, "legendrank": 1000})
    # the selection first, always (empty when none): a new selection is sent as this one
    # trace (app/callbacks/commanders.py), and the browser redraws nothing else
    data.insert(0, highlight_trace(highlight))
    from riskmap.app.map_canvas import fit_zoom

    layout = _map_layout([], title, uirevision)
    for k in ("xaxis", "yaxis", "plot_bgcolor", "dragmode"):
        layout.pop(k, None)
    if bounds is None:
        b = (shapely.total_bounds(units.geometry.to_numpy()) if len(units) and "geometry" in units
             else np.full(4, np.nan))
        bounds = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
    # a first view for a map of about the page's size; the browser then fits the area at the
    # map's real size (meta.fit, once per area: app/callbacks/commanders.py), and the
    # uirevision keeps the user's zoom and pan over later redraws
    layout["map"] = {"style": style, "uirevision": uirevision}
    if all(np.isfinite(bounds)):
        layout["map"].update(center={"lon": (bounds[0] + bounds[2]) / 2,
                                     "lat": (bounds[1] + bounds[3]) / 2},
                             zoom=fit_zoom(bounds, (640, 760)))
        layout["meta"] = {"fit": [round(v, 6) for v in bounds], "fit_key": uirevision}
    return {"data": data, "layout": layout}


def highlight_trace(highlight: RingIndex | None) -> dict[str, Any]:
    """The selection's outline on the MapLibre map: always the figure's first trace (empty
    when nothing is selected), so that a new selection replaces it alone."""
    n_marked = 0 if highlight is None else len(highlight.start)
    return {"type": "scattermap", "mode": "lines", "uid": "highlight", "below": "",
            "lon": highlight.x if highlight is not None and n_marked else [],
            "lat": highlight.y if highlight is not None and n_marked else [],
            "line": {"color": "#111", "width": 3}, "name": _("Selected"),
            "hoverinfo": "skip", "legendrank": 1001, "showlegend": bool(n_marked),
            "meta": {"kind": "highlight", "n": n_marked}}


def _hover_trace(units: gpd.GeoDataFrame, hover: Sequence[HoverField], kind: str,
                 key: str) -> dict[str, Any]:
    if "x" in units and "y" in units:
        x, y = units["x"].to_numpy(dtype=float), units["y"].to_numpy(dtype=float)
    else:
        pts = shapely.point_on_surface(units.geometry.to_numpy())
        x, y = shapely.get_x(pts), shapely.get_y(pts)
    return {"type": "scatter", "x": x.astype(np.float32), "y": y.astype(np.float32),
            "mode": "markers", "customdata": units[key].astype(str).tolist(),
            "text": hover_text(units, hover).tolist(),
            "marker": {"size": 14, "opacity": 0, "color": "#000"},
            "hovertemplate": "%{text}<extra></extra>", "showlegend": False,
            "name": "details", "meta": {"kind": f"{kind}-hover"}}


def _map_layout(data: list[dict[str, Any]], legend_title: str, uirevision: str) -> dict[str, Any]:
    lo, hi = np.inf, -np.inf
    for t in data:
        y = np.asarray(t.get("y", ()), dtype=float)
        y = y[np.isfinite(y)]
        if len(y):
            lo, hi = min(lo, float(y.min())), max(hi, float(y.max()))
    lat0 = (lo + hi) / 2 if np.isfinite(lo) else 0.0
    return {
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "plot_bgcolor": "#f4f4f1",
        "paper_bgcolor": "white", "font": {"family": _FONT, "size": 12}, "dragmode": "pan",
        "hovermode": "closest", "uirevision": uirevision, "showlegend": True,
        "clickmode": "event",
        "legend": {"title": {"text": legend_title}, "x": 0.01, "y": 0.99, "xanchor": "left",
                   "yanchor": "top", "bgcolor": "rgba(255,255,255,0.88)", "bordercolor": "#ccc",
                   "borderwidth": 1, "itemclick": False, "itemdoubleclick": False},
        "xaxis": {"visible": False, "constrain": "domain"},
        "yaxis": {"visible": False, "scaleanchor": "x",
                  "scaleratio": 1.0 / math.cos(math.radians(max(min(lat0, 85.0), -85.0)))},
    }


def point_layer(fig: dict[str, Any], x: np.ndarray, y: np.ndarray, *, name: str, kind: str,
                hover: pd.DataFrame, colour: str, symbol: str = "circle",
                size: int = 8) -> dict[str, Any]:
    """Add a point layer (cameras, infrastructure) to a figure dict, tooltips from ``hover``.

    Rows with a missing coordinate are dropped. Returns ``fig`` (modified in place).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    fields = [HoverField(c, c.replace("_", " ").capitalize()) for c in hover.columns]
    trace = {
        "type": "scatter", "x": x[ok].astype(np.float32), "y": y[ok].astype(np.float32),
        "mode": "markers", "name": name,
        "customdata": hover[hover.columns[0]].astype(str).to_numpy()[ok].tolist(),
        "text": hover_text(hover, fields)[ok].tolist(),
        "marker": {"size": size, "color": colour, "symbol": symbol,
                   "line": {"color": "#fff", "width": 1}},
        "hovertemplate": "%{text}<extra></extra>", "meta": {"kind": kind}, "legendrank": 900}
    fig["data"].append(as_maplibre(trace) if is_maplibre(fig) else trace)
    return fig


def is_maplibre(fig: dict[str, Any]) -> bool:
    """Whether a figure dict draws over MapLibre (its layout has a ``map``)."""
    return "map" in fig.get("layout", {})


def as_maplibre(trace: dict[str, Any]) -> dict[str, Any]:
    """A cartesian ``scatter`` trace dict as a ``scattermap`` one (markers are circles; a
    stable ``uid`` from its kind, so a redraw updates its MapLibre layer in place)."""
    out = {k: v for k, v in trace.items() if k not in ("x", "y", "type")}
    out.update(type="scattermap", lon=trace.get("x", []), lat=trace.get("y", []))
    marker = {k: v for k, v in (trace.get("marker") or {}).items() if k not in ("symbol", "line")}
    if marker:
        out["marker"] = marker
    if "line" in trace:
        out["line"] = {k: v for k, v in trace["line"].items() if k != "dash"}
    if out.get("mode") == "text":  # a text-only scattermap needs a sprite the style has not
        out["mode"] = "markers+text"
        out["marker"] = {"size": 1, "opacity": 0}
    out.setdefault("uid", "pts-" + str((trace.get("meta") or {}).get("kind", "layer")))
    out.setdefault("below", "")  # over the base map's names: a marker is meant to be seen
    return out


def kde_layer(array: np.ndarray, bounds: tuple[float, float, float, float], *,
              opacity: float = 0.65, below: str = "river") -> dict[str, Any]:
    """:func:`kde_image` as a MapLibre image layer (``layout.map.layers``): above the risk
    fills and water, under rivers, roads, boundaries and names (``below``)."""
    img = kde_image(array, bounds, opacity=opacity)
    west, south, east, north = bounds
    return {"sourcetype": "image", "source": img["source"], "type": "raster",
            "coordinates": [[west, north], [east, north], [east, south], [west, south]],
            "opacity": opacity, "below": below, "name": "kde"}


def png_data_uri(rgba: np.ndarray) -> str:
    """Encode an ``(h, w, 4)`` uint8 RGBA array as a ``data:image/png;base64,...`` URI.

    A minimal PNG writer (zlib only): no imaging library, nothing fetched.

    Examples
    --------
    >>> png_data_uri(np.zeros((1, 1, 4), dtype=np.uint8))[:22]
    'data:image/png;base64,'
    """
    arr = np.ascontiguousarray(rgba, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 4:
        raise ValueError(f"png_data_uri: expected an (h, w, 4) RGBA array, got {arr.shape}")
    h, w = arr.shape[:2]
    raw = np.concatenate([np.zeros((h, 1), np.uint8), arr.reshape(h, w * 4)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def kde_image(array: np.ndarray, bounds: tuple[float, float, float, float], *,
              opacity: float = 0.65, max_pixels: int = 600) -> dict[str, Any]:
    """A plotly layout image of a density grid placed by its lon/lat ``bounds``.

    Parameters
    ----------
    array
        Density, row 0 to the north; NaN and values <= 0 are transparent.
    bounds
        ``(west, south, east, north)`` in degrees.
    opacity
        Image opacity.
    max_pixels
        Longest side after striding down (keeps the data URI small).

    Returns
    -------
    dict
        A ``layout.images`` entry (``source`` is a PNG data URI; ``name == "kde"``).
    """
    a = np.asarray(array, dtype=float)
    step = max(1, math.ceil(max(a.shape) / max_pixels))
    a = a[::step, ::step]
    finite = np.isfinite(a) & (a > 0)
    top = float(np.quantile(a[finite], 0.98)) if finite.any() else 1.0
    t = np.clip(np.where(finite, a, 0.0) / (top or 1.0), 0.0, 1.0)
    ramp = np.array([[255, 255, 178], [254, 204, 92], [253, 141, 60], [240, 59, 32],
                     [189, 0, 38]], dtype=float)
    pos = t * (len(ramp) - 1)
    i = np.minimum(pos.astype(int), len(ramp) - 2)
    f = (pos - i)[..., None]
    rgb = ramp[i] * (1 - f) + ramp[i + 1] * f
    alpha = np.where(t > 0.02, 70 + 185 * np.sqrt(t), 0)
    rgba = np.dstack([rgb, alpha]).round().astype(np.uint8)
    west, south, east, north = bounds
    return {"source": png_data_uri(rgba), "xref": "x", "yref": "y", "x": west, "y": north,
            "sizex": east - west, "sizey": north - south, "sizing": "stretch",
            "opacity": opacity, "layer": "above", "name": "kde"}


def trend_chart(months: pd.DatetimeIndex, counts: np.ndarray, *,
                title: str = "") -> dict[str, Any]:
    """Bar chart of incidents per month (``meta.kind == "trend"``), as a plain figure dict.

    Plain dicts, not ``go.Figure``: the panel redraws on every filter change and plotly's
    validation cost ~40 ms per chart (measured), more than the counts behind it.
    """
    bar = {"type": "bar", "x": [m.strftime("%Y-%m") for m in months],
           "y": np.asarray(counts).tolist(), "marker": {"color": "#bd0026"},
           "name": _("Incidents"), "meta": {"kind": "trend"},
           "hovertemplate": "%{x}: %{y:,d}<extra></extra>"}
    return {"data": [bar], "layout": small_layout(title, _("Incidents per month"))}


def category_chart(categories: Sequence[str], counts: np.ndarray, *,
                   title: str = "") -> dict[str, Any]:
    """Horizontal bars of incidents per category, largest on top (``meta.kind == "categories"``),
    as a plain figure dict."""
    values = np.asarray(counts)
    order = np.argsort(values, kind="stable")
    labels = [html.escape(display_name(str(categories[i]))) for i in order]  # in the language
    bar = {"type": "bar", "x": values[order].tolist(), "y": labels, "orientation": "h",
           "marker": {"color": "#fc4e2a"}, "meta": {"kind": "categories"},
           "hovertemplate": "%{y}: %{x:,d}<extra></extra>"}
    layout = small_layout(title, "")
    layout["height"] = max(140, 22 * len(labels) + 50)
    return {"data": [bar], "layout": layout}


def method_label(method: str | None) -> str:
    """A forecast method in words (unknown names as they are, ``_`` as spaces)."""
    label = METHOD_LABELS.get(str(method))
    return _(label) if label else str(method).replace("_", " ")


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _curve(methods: pd.DataFrame, method: str) -> pd.DataFrame:
    g = methods[methods["method"] == method].sort_values("coverage")
    return g[np.isfinite(g["pai"].to_numpy(dtype=float))]


def pai_chart(methods: pd.DataFrame, method: str | None = None, *,
              level: str = "95%") -> go.Figure:
    """PAI over the share of area flagged: one method with its interval, and the baselines.

    Parameters
    ----------
    methods
        Evaluation rows: ``method``, ``coverage`` (0-1), ``pai``; ``pai_lo``/``pai_hi``
        (the band) and ``area_share`` (the share actually flagged, in the tooltip) when
        present.
    method
        The method shown (the recommended one): a solid line over its interval band
        (``meta.kind`` ``"pai"`` and ``"pai-band"``). ``None``: the baselines only.
    level
        Interval level, for the legend.

    Returns
    -------
    plotly.graph_objects.Figure
        The baselines of :data:`BASELINES` as dashed lines (``meta.kind == "pai-baseline"``)
        on a log x axis at the evaluated coverages (y log too when every figure is above
        0 and they span a factor of 3); "No evaluation" without rows.
    """
    if methods.empty:
        return empty_figure(_("No evaluation"))
    fig = go.Figure()
    ticks = sorted({float(c) * 100 for c in methods["coverage"]})
    g = _curve(methods, method) if method else methods.iloc[:0]
    colour = _METHOD_COLOURS.get(str(method), "#444")
    name = method_label(method)
    if len(g) and {"pai_lo", "pai_hi"} <= set(g.columns):
        band = g[np.isfinite(g["pai_lo"].to_numpy(dtype=float))
                 & np.isfinite(g["pai_hi"].to_numpy(dtype=float))]
        x = band["coverage"].to_numpy(dtype=float) * 100
        fig.add_trace(go.Scatter(
            x=np.concatenate([x, x[::-1]]),
            y=np.concatenate([band["pai_hi"].to_numpy(dtype=float),
                              band["pai_lo"].to_numpy(dtype=float)[::-1]]),
            fill="toself", fillcolor=_rgba(colour, 0.2), line={"width": 0}, mode="lines",
            name=_("{name}: {level} interval").format(name=name, level=level),
            hoverinfo="skip",
            meta={"kind": "pai-band", "method": str(method)}))
    for base in BASELINES:
        b = _curve(methods, base)
        if not len(b):
            continue
        fig.add_trace(go.Scatter(
            x=b["coverage"].to_numpy(dtype=float) * 100, y=b["pai"].to_numpy(dtype=float),
            mode="lines+markers", name=_("{method} (baseline)").format(method=method_label(base)),
            line={"color": _METHOD_COLOURS[base], "dash": "dash", "width": 1.5},
            marker={"size": 4}, meta={"kind": "pai-baseline", "method": base},
            hovertemplate=_("%{x:g}% of area: PAI %{y:.2f}") + "<extra>" + method_label(base)
                          + "</extra>"))
    if len(g):
        lo = g["pai_lo"].to_numpy(dtype=float) if "pai_lo" in g else np.full(len(g), np.nan)
        hi = g["pai_hi"].to_numpy(dtype=float) if "pai_hi" in g else np.full(len(g), np.nan)
        share = (g["area_share"].to_numpy(dtype=float) * 100 if "area_share" in g
                 else g["coverage"].to_numpy(dtype=float) * 100)
        fig.add_trace(go.Scatter(
            x=g["coverage"].to_numpy(dtype=float) * 100, y=g["pai"].to_numpy(dtype=float),
            customdata=np.column_stack([lo, hi, share]), mode="lines+markers", name=name,
            line={"color": colour, "width": 2.5}, marker={"size": 6},
            meta={"kind": "pai", "method": str(method)},
            hovertemplate=_("%{x:g}% of area (flagged %{customdata[2]:.1f}%): PAI %{y:.2f} "
                            "[%{customdata[0]:.2f}, %{customdata[1]:.2f}]") + "<extra>" + name
                          + "</extra>"))
    fig = _small_layout(fig, "", _("PAI (hit rate ÷ area)"))
    # PAI falls steeply with the area: a log axis keeps the gaps at 5-10% visible
    ys = (np.concatenate([np.asarray(t.y, dtype=float) for t in fig.data]) if fig.data
          else np.zeros(0))
    ys = ys[np.isfinite(ys)]
    log_y = ys.size > 0 and bool(ys.min() > 0) and ys.max() / ys.min() >= 3
    ticks_y = _ticks_125(ys) if log_y else []
    fig.update_layout(
        showlegend=True, height=290, legend={"orientation": "h", "y": -0.3, "x": 0},
        margin={"l": 44, "r": 10, "t": 8, "b": 30},
        xaxis={"title": {"text": _("share of area flagged")}, "type": "log",
               "tickvals": ticks, "ticktext": [f"{t:g}%" for t in ticks]},
        yaxis={"type": "log", "tickvals": ticks_y, "ticktext": [f"{t:g}" for t in ticks_y]}
        if log_y else {"type": "linear"})
    return fig


def _ticks_125(values: np.ndarray) -> list[float]:
    """1-2-5 ticks from just below to just above the positive ``values`` (log axes).

    Examples
    --------
    >>> _ticks_125(np.array([7.5, 58.9]))
    [5.0, 10.0, 20.0, 50.0, 100.0]
    """
    lo, hi = float(values.min()), float(values.max())
    exps = range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1)
    ticks = [m * 10.0**e for e in exps for m in (1, 2, 5)]
    below = [t for t in ticks if t <= lo]
    above = [t for t in ticks if t >= hi]
    return [t for t in ticks if (below[-1] if below else lo) <= t <= (above[0] if above else hi)]


def verdict_text(coverage: str | float | Sequence[str | float], verdict: dict[str, Any]) -> str:
    """The verdict against all-history counts at one coverage (or several alike), in words.

    ``verdict`` is an entry of the evaluation's ``best`` (``method`` is set only when the
    leader's paired bootstrap interval of the PAI difference lies above 0).

    Examples
    --------
    >>> print(verdict_text("0.05", {"method": "kde", "leader": "kde", "pai": 5.8,
    ...     "counts_pai": 5.6, "diff": 0.2, "diff_lo": 0.05, "diff_hi": 0.31,
    ...     "beats_counts": True}))
    5% of the area: kernel density (KDE) beats all-history counts by +0.20 [+0.05, +0.31]
    PAI (5.80 vs 5.60)
    >>> print(verdict_text(0.1, {"method": None, "leader": "gi", "pai": 4.6, "counts_pai": 4.5,
    ...     "diff": 0.1, "diff_lo": -0.2, "diff_hi": 0.4, "beats_counts": False}))
    10% of the area: no method beats all-history counts here: use counts (closest: Gi* hot
    spots +0.10 [-0.20, +0.40])
    """
    covs = [coverage] if isinstance(coverage, str | float | int) else list(coverage)
    shares = [f"{float(c):.0%}" for c in covs]
    joined = (", ".join(shares[:-1]) + _(" and ") if len(shares) > 1 else "") + shares[-1]
    where = _("{shares} of the area").format(shares=joined)
    leader = method_label(verdict.get("leader") or verdict.get("method"))
    if verdict.get("beats_counts") is None:
        return _("{where}: {leader} leads (PAI {pai}); all-history counts were not "
                 "scored").format(where=where, leader=leader, pai=_num(verdict.get("pai"), ".2f"))
    diff = (f"{_num(verdict.get('diff'), '+.2f')} [{_num(verdict.get('diff_lo'), '+.2f')}, "
            f"{_num(verdict.get('diff_hi'), '+.2f')}]")
    if verdict["beats_counts"]:
        return _("{where}: {method} beats all-history counts by {diff} PAI ({pai} vs "
                 "{counts_pai})").format(where=where, method=method_label(verdict["method"]),
                                         diff=diff, pai=_num(verdict.get("pai"), ".2f"),
                                         counts_pai=_num(verdict.get("counts_pai"), ".2f"))
    return _("{where}: no method beats all-history counts here: use counts (closest: "
             "{leader} {diff})").format(where=where, leader=leader, diff=diff)


def verdict_lines(best: dict[str, dict[str, Any]]) -> list[str]:
    """:func:`verdict_text` of every coverage of ``best``; coverages with the same verdict
    (same leader and figures) share one line.

    Examples
    --------
    >>> same = {"method": None, "leader": "gi", "pai": 1.2, "counts_pai": 1.1, "diff": 0.1,
    ...         "diff_lo": -1.0, "diff_hi": 1.1, "beats_counts": False}
    >>> print(verdict_lines({"0.01": same, "0.05": same}))
    ['1% and 5% of the area: no method beats all-history counts here: use counts (closest:
    Gi* hot spots +0.10 [-1.00, +1.10])']
    """
    groups: dict[str, list[str]] = {}
    for cov, verdict in best.items():
        groups.setdefault(verdict_text("1", verdict), []).append(cov)
    return [verdict_text(covs, best[covs[0]]) for covs in groups.values()]


def _num(value: Any, spec: str) -> str:
    return (_("n/a") if value is None or not math.isfinite(float(value))
            else format(float(value), spec))


def small_layout(title: str, ytitle: str) -> dict[str, Any]:
    """The layout of the panel's small charts (a plain dict)."""
    return {
        "title": {"text": title, "font": {"size": 13}} if title else None,
        "margin": {"l": 40, "r": 10, "t": 28 if title else 8, "b": 30}, "height": 200,
        "paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"family": _FONT, "size": 11},
        "showlegend": False, "yaxis": {"title": {"text": ytitle}, "gridcolor": "#eee"},
        "xaxis": {"gridcolor": "#eee"}}


def _small_layout(fig: go.Figure, title: str, ytitle: str) -> go.Figure:
    fig.update_layout(**small_layout(title, ytitle))
    return fig
