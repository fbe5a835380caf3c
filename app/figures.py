"""Pure figure builders: frames in, ``plotly.graph_objects.Figure`` out (offline lon/lat maps).

Maps are plain cartesian plotly figures in lon/lat (no tile server, no topojson, no web
fonts): ``x`` is longitude, ``y`` latitude, and the y axis is anchored to x with
``scaleratio = 1 / cos(latitude)`` so shapes keep their proportions. Polygons are drawn as
one ``fill="toself"`` trace per colour class with NaN-separated rings (float32: ~0.5 m, half
the payload); an invisible marker trace at the label points carries the hover tooltips.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import geopandas as gpd
import shapely

from riskmap.geo.points import xy
from riskmap.i18n import N_, format_decimal, format_number
from riskmap.i18n import gettext as _

__all__ = [
    "BASE_NAME",
    "GL_HOVER_MIN",
    "PALETTE",
    "ZERO_COLOUR",
    "HoverField",
    "blank_figure",
    "class_breaks",
    "class_labels",
    "classify",
    "empty_figure",
    "h3_map",
    "mahalla_map",
    "plot_text",
    "polygon_xy",
]

#: sequential colours for up to 7 classes (ColorBrewer YlOrRd, light to dark)
PALETTE = ("#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026", "#800026")
#: fill of mahallas without incidents
ZERO_COLOUR = "#eeeeec"
#: name of the mahalla-boundary base trace
BASE_NAME = N_("Mahalla boundaries")
#: above this many units the invisible hover markers are WebGL (thousands of SVG nodes are slow)
GL_HOVER_MIN = 5_000
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"


class HoverField(NamedTuple):
    """One line of a tooltip: ``label: value`` with a d3 format (``""`` for text)."""

    column: str
    label: str
    fmt: str = ""


def class_breaks(values: np.ndarray | pd.Series, k: int = 6) -> np.ndarray:
    """Upper bounds of up to ``k`` classes of the positive values (quantiles, rounded up).

    Parameters
    ----------
    values
        Counts (NaN and values <= 0 are ignored: they form the "none" class).
    k
        Largest number of classes (1..7).

    Returns
    -------
    numpy.ndarray
        Sorted, unique, integer-valued float upper bounds; the last is the maximum.
        Empty when no value is positive.

    Examples
    --------
    >>> class_breaks(np.array([1, 2, 3, 4, 5, 6]), k=3).tolist()
    [2.0, 4.0, 6.0]
    >>> class_breaks(np.array([0, np.nan])).tolist()
    []
    """
    if not 1 <= k <= len(PALETTE):
        raise ValueError(f"k={k}: expected 1..{len(PALETTE)} classes")
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) == 0:
        return np.empty(0)
    qs = np.quantile(v, np.linspace(0, 1, k + 1)[1:], method="inverted_cdf")
    return np.unique(np.ceil(qs))


def classify(values: np.ndarray | pd.Series, breaks: np.ndarray) -> np.ndarray:
    """Class of each value: 0 for NaN / <= 0, else ``i + 1`` where ``breaks[i-1] < v <= breaks[i]``.

    Examples
    --------
    >>> classify(np.array([0, 1, 2, 3, 6, np.nan]), np.array([2.0, 4.0, 6.0])).tolist()
    [0, 1, 1, 2, 3, 0]
    """
    v = np.asarray(values, dtype=float)
    out = np.searchsorted(np.asarray(breaks, dtype=float), v, side="left") + 1
    out[~(np.isfinite(v) & (v > 0))] = 0
    return np.minimum(out, len(breaks)).astype(np.int64) if len(breaks) else out * 0


def class_labels(breaks: np.ndarray) -> list[str]:
    """Legend labels of integer classes: ``["1–2", "3–4", "5–6"]``; a one-value class is ``"5"``.

    Examples
    --------
    >>> class_labels(np.array([2.0, 3.0, 10.0]))
    ['1–2', '3', '4–10']
    """
    labels, lo = [], 1
    for b in np.asarray(breaks, dtype=float).astype(np.int64):
        labels.append(format_number(lo) if lo == b
                      else f"{format_number(lo)}–{format_number(int(b))}")
        lo = int(b) + 1
    return labels


def polygon_xy(geoms: np.ndarray | gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Exterior rings of all polygon parts as x/y arrays with a NaN between rings.

    None and empty geometries are skipped; holes are not drawn (they would be filled).

    Examples
    --------
    >>> x, y = polygon_xy(np.array([shapely.box(0, 0, 1, 1), None, shapely.box(2, 0, 3, 1)]))
    >>> len(x), int(np.isnan(x).sum())
    (11, 1)
    """
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return np.empty(0), np.empty(0)
    parts = shapely.get_parts(arr)
    rings = shapely.get_exterior_ring(parts[shapely.get_type_id(parts) == 3])
    coords, idx = shapely.get_coordinates(rings, return_index=True)
    if len(coords) == 0:
        return np.empty(0), np.empty(0)
    cuts = np.flatnonzero(np.diff(idx)) + 1
    coords = np.insert(coords, cuts, np.nan, axis=0)
    return coords[:, 0], coords[:, 1]


def empty_figure(message: str = "No data") -> go.Figure:
    """A blank map-sized figure showing ``message``."""
    return go.Figure(blank_figure(message))


def blank_figure(message: str = "No data") -> dict[str, Any]:
    """:func:`empty_figure` as a plain figure dict (no plotly validation: for callbacks that
    answer often, where ``go.Figure``'s copies cost more than the answer)."""
    return {"data": [], "layout": {
        "annotations": [{"text": message, "showarrow": False, "x": 0.5, "y": 0.5,
                         "xref": "paper", "yref": "paper",
                         "font": {"size": 16, "color": "#555"}}],
        "xaxis": {"visible": False}, "yaxis": {"visible": False}, "plot_bgcolor": "white",
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "font": {"family": _FONT}}}


def mahalla_map(units: gpd.GeoDataFrame, *, k: int = 6, uirevision: str = "map",
                style: dict[str, Any] | None = None) -> go.Figure:
    """Choropleth of incident counts per mahalla.

    Parameters
    ----------
    units
        One row per mahalla: ``geometry``, ``name``, ``district``, ``count``,
        ``rate_per_1000`` (NaN when population is unknown), ``population``; optional ``x``/``y``
        label points (else a point on the surface).
    k
        Largest number of colour classes of positive counts (mahallas with 0 get their own).
    uirevision
        Plotly ``uirevision``: zoom is kept while it stays the same.
    style
        A MapLibre style (:func:`app.map_tiles.map_style`): drawn over the app's offline base
        map (see :mod:`app.map_canvas`); None: on lon/lat axes.
    """
    frame = units.copy()
    frame["rate_text"] = _fmt(frame["rate_per_1000"], 2)
    frame["population_text"] = _fmt(frame["population"], 0)
    frame["count_text"] = _count_text(frame)
    hover = (HoverField("name", _("Mahalla")), HoverField("district", _("District")),
             HoverField("count_text", _("Incidents")),
             HoverField("rate_text", _("Per 1,000 residents")),
             HoverField("population_text", _("Population")))
    return _choropleth(frame, hover=hover, k=k, base=None, zero_class=True,
                       legend_title=_("Incidents per mahalla"), uirevision=uirevision,
                       meta_kind="mahalla", style=style)


def h3_map(units: gpd.GeoDataFrame, base: gpd.GeoSeries | np.ndarray | None = None, *,
           resolution: int | None = None, k: int = 6, uirevision: str = "map",
           style: dict[str, Any] | None = None,
           bounds: tuple[float, float, float, float] | None = None) -> go.Figure:
    """Hexagon map of incident counts per H3 cell over the mahalla boundaries.

    Parameters
    ----------
    units
        One row per cell with >= 1 incident: ``geometry`` (hexagon), ``h3_hex``, ``count``,
        ``share`` (% of the selection); optional ``x``/``y`` label points.
    base
        Mahalla polygons drawn as outlines over the cells (``None``: no base map).
    resolution
        H3 resolution, shown in the legend title.
    k
        Largest number of colour classes.
    uirevision
        Plotly ``uirevision``: zoom is kept while it stays the same.
    style
        A MapLibre style, as for :func:`mahalla_map`.
    bounds
        ``(x0, y0, x1, y1)`` of the first view (default: the cells and base together).
    """
    units = units.assign(count_text=_count_text(units))
    hover = (HoverField("h3_hex", _("H3 cell")), HoverField("count_text", _("Incidents")),
             HoverField("share", _("Share of selection (%)"), ":.1f"))
    title = "Incidents per H3 cell" + (f" (res {resolution})" if resolution is not None else "")
    return _choropleth(units, hover=hover, k=k, base=base, zero_class=False,
                       legend_title=title, uirevision=uirevision, meta_kind="h3",
                       style=style, bounds=bounds)


def _count_text(units: pd.DataFrame) -> np.ndarray:
    """The counts as shown: ``count_text`` when the model gave it ("< 5" for the small counts
    of a region seen suppressed), else the counts with thousands separators."""
    if "count_text" in units:
        return units["count_text"].astype(object).to_numpy()
    return np.array([format_number(int(c)) for c in units["count"]], dtype=object)


def _choropleth(units: gpd.GeoDataFrame, *, hover: Sequence[HoverField], k: int,
                base: gpd.GeoSeries | np.ndarray | None, zero_class: bool, legend_title: str,
                uirevision: str, meta_kind: str,
                style: dict[str, Any] | None = None,
                bounds: tuple[float, float, float, float] | None = None) -> go.Figure:
    from riskmap.app.map_canvas import Canvas  # it draws with this module's polygon_xy

    geoms = units.geometry.to_numpy() if len(units) else np.empty(0, dtype=object)
    base_geoms = np.asarray(base, dtype=object) if base is not None else np.empty(0, object)
    if len(geoms) == 0 and len(base_geoms) == 0:
        return empty_figure(_("No mahallas or incidents match the filters"))
    canvas = Canvas(style)
    fig = canvas.fig
    counts = units["count"].to_numpy(dtype=float) if len(units) else np.empty(0)
    breaks = class_breaks(counts, k)
    cls = classify(counts, breaks)
    colours = _colours(len(breaks))
    names = [*(["0"] if zero_class else []), *class_labels(breaks)]
    fills = [*([ZERO_COLOUR] if zero_class else []), *colours]
    # MapLibre: each polygon carries its tooltip (no layer of hover points to draw)
    tips = _hover_data(units, hover) if canvas.maplibre and len(units) else None
    for offset, cls_id in enumerate(range(0 if zero_class else 1, len(breaks) + 1)):
        sel = cls == cls_id
        if not sel.any():
            continue
        if canvas.maplibre and tips is not None:
            canvas.area(geoms[sel], names[offset], fills[offset], "rgba(90,90,90,0.7)",
                        {"kind": meta_kind, "class": cls_id}, width=0.6,
                        customdata=tips[0][sel], hovertemplate=tips[1],
                        legendgroup="classes", legendrank=cls_id)
            continue
        x, y = polygon_xy(geoms[sel])
        fig.add_trace(go.Scatter(
            x=x.astype(np.float32), y=y.astype(np.float32), mode="lines", fill="toself",
            fillcolor=fills[offset],
            line={"color": "rgba(90,90,90,0.7)", "width": 0.6}, name=names[offset],
            hoverinfo="skip", legendgroup="classes", legendrank=cls_id,
            meta={"kind": meta_kind, "class": cls_id}))
    if len(base_geoms):  # outlines on top of the cells so boundaries stay readable
        bx, by = polygon_xy(base_geoms)
        canvas.trace(bx.astype(np.float32), by.astype(np.float32), mode="lines",
                     line={"color": "rgba(40,40,40,0.55)", "width": 1},
                     name=_(BASE_NAME), hoverinfo="skip", meta={"kind": "base"},
                     legendrank=1000)
    if len(units) and not canvas.maplibre:
        _hover_trace(canvas, units, hover, meta_kind)
    return canvas.finish(bounds or _bounds(geoms, base_geoms), (1000, 760),
                         **_layout(legend_title, uirevision))


def _bounds(*geoms: np.ndarray) -> tuple[float, float, float, float]:
    """The lon/lat bounds of the geometry arrays together."""
    b = shapely.total_bounds(np.concatenate([np.asarray(g, dtype=object) for g in geoms]))
    return float(b[0]), float(b[1]), float(b[2]), float(b[3])


def _layout(legend_title: str, uirevision: str) -> dict[str, Any]:
    """The overview map's layout, on either canvas."""
    return {
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "plot_bgcolor": "#f4f4f1",
        "paper_bgcolor": "white", "font": {"family": _FONT, "size": 12}, "dragmode": "pan",
        "hovermode": "closest", "uirevision": uirevision, "showlegend": True,
        "legend": {"title": {"text": legend_title}, "x": 0.01, "y": 0.99, "xanchor": "left",
                   "yanchor": "top", "bgcolor": "rgba(255,255,255,0.85)",
                   "bordercolor": "#ccc", "borderwidth": 1, "itemclick": False,
                   "itemdoubleclick": False}}


def plot_text(values: object) -> np.ndarray:
    """Texts as plotly may show them: HTML-escaped, so that a name a user supplied can never
    become markup in a tooltip, label or legend (plotly reads ``<a href>``, ``<b>``, ``<br>``
    in them). Numbers and missing values pass through for numeric formats.

    Quotes stay as they are (Uzbek names are full of apostrophes; only ``<``, ``>`` and ``&``
    can start markup).

    >>> plot_text(["<a href='x'>O'zbekiston</a>", 3, None]).tolist()
    ["&lt;a href='x'&gt;O'zbekiston&lt;/a&gt;", 3, None]
    """
    arr = np.array(list(values) if not isinstance(values, np.ndarray) else values,
                   dtype=object).reshape(-1)
    return np.array([html.escape(v, quote=False) if isinstance(v, str) else v for v in arr],
                    dtype=object)


def _hover_data(units: gpd.GeoDataFrame, hover: Sequence[HoverField]) -> tuple[np.ndarray, str]:
    """Each unit's tooltip fields (escaped: ``customdata`` rows) and the tooltip template."""
    custom = np.column_stack([plot_text(units[f.column].to_numpy(dtype=object))
                              for f in hover])
    lines = [f"{f.label}: %{{customdata[{i}]{f.fmt}}}" for i, f in enumerate(hover)]
    lines[0] = f"<b>{lines[0]}</b>"
    return custom, "<br>".join(lines) + "<extra></extra>"


def _hover_trace(canvas: Any, units: gpd.GeoDataFrame, hover: Sequence[HoverField],
                 kind: str) -> None:
    """Unseen points carrying the tooltips of a cartesian map's polygons."""
    if "x" in units and "y" in units:
        x, y = units["x"].to_numpy(dtype=float), units["y"].to_numpy(dtype=float)
    else:
        x, y = xy(shapely.point_on_surface(units.geometry.to_numpy()))
    custom, template = _hover_data(units, hover)
    kw = {"mode": "markers", "customdata": custom,
          "marker": {"size": 14, "opacity": 0, "color": "#000"},
          "hovertemplate": template, "showlegend": False,
          "name": "details", "meta": {"kind": f"{kind}-hover"}}
    trace = go.Scattergl if len(units) > GL_HOVER_MIN else go.Scatter
    canvas.fig.add_trace(trace(x=x.astype(np.float32), y=y.astype(np.float32), **kw))


def _colours(n: int) -> list[str]:
    if n == 0:
        return []
    pick = np.round(np.linspace(0, len(PALETTE) - 1, n)).astype(int) if n > 1 else [3]
    return [PALETTE[i] for i in pick]


def _fmt(values: pd.Series, digits: int) -> list[str]:
    """Numbers with ``digits`` decimals in the locale's symbols; missing ones as unknown."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    unknown = _("unknown")
    return [format_decimal(x, digits) if np.isfinite(x) else unknown for x in v]


