"""Pure figure builders of the tourism page and zone report: zone map with isochrones, incidents by season."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from riskmap.app.figures import empty_figure, plot_text, polygon_xy
from riskmap.geo.points import xy

__all__ = [
    "BAND_COLOURS",
    "FAIL_COLOUR",
    "PASS_COLOUR",
    "checklist_label",
    "checklist_value",
    "season_chart",
    "zone_map",
]

#: fill colours of the 10/20/30-minute bands (fast = green, slow = orange)
BAND_COLOURS = ("rgba(26,127,55,0.45)", "rgba(191,164,0,0.40)", "rgba(230,110,20,0.35)")
#: checklist colours
PASS_COLOUR = "#1a7f37"
FAIL_COLOUR = "#b3261e"
COVERAGE_COLOUR = "#2b6cb0"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"
_LABELS = {
    "road_access": "Road access from the nearest town",
    "power_line": "Power line nearby",
    "police_post": "Police post within reach",
    "emergency_service": "Emergency service (112) within reach",
    "medical": "Medical service within reach",
    "entrance_cameras": "Cameras at the entrances",
}
_FACILITY_STYLE = {
    "police_post": ("Police posts", "#1f3a93", "square"),
    "emergency_service": ("Emergency (112)", "#b3261e", "diamond"),
    "fire_station": ("Fire stations", "#e66e14", "triangle-up"),
    "medical": ("Medical", "#7b2d8e", "cross"),
    "camp": ("Camps", "#2f6b2f", "triangle-up"),
    "hotel": ("Hotels", "#5f625a", "circle"),
    "entrance": ("Entrances", "#000000", "x"),
    "town": ("Towns", "#444444", "circle-open"),
}


def checklist_label(item: str) -> str:
    """Readable name of a checklist item, e.g. ``"Power line nearby"``."""
    return _LABELS.get(item, item.replace("_", " ").capitalize())


def checklist_value(row: Mapping[str, Any]) -> str:
    """Figure against threshold, e.g. ``"12.3 min (limit 20 min)"`` or ``"not measured"``.

    Examples
    --------
    >>> checklist_value({"value": 0.5, "threshold": 1.0, "unit": "share"})
    '50% (needs 100%)'
    >>> checklist_value({"value": float("nan"), "threshold": 2.0, "unit": "km"})
    'not measured (limit 2 km)'
    """
    value, limit, unit = row.get("value"), row.get("threshold"), row.get("unit") or ""
    measured = value is not None and math.isfinite(float(value))
    if unit == "share":
        text = f"{100 * float(value):.0f}%" if measured else "not measured"
        return text + (f" (needs {100 * float(limit):.0f}%)" if limit is not None else "")
    text = f"{float(value):.1f} {unit}" if measured else "not measured"
    return text + (f" (limit {float(limit):g} {unit})" if limit is not None else "")


def _line_xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines (and polygon rings) as x/y arrays with NaN between parts."""
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return np.empty(0), np.empty(0)
    parts = shapely.get_parts(arr)
    polys = shapely.get_type_id(parts) == 3
    parts[polys] = shapely.get_exterior_ring(parts[polys])
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    if len(coords) == 0:
        return np.empty(0), np.empty(0)
    coords = np.insert(coords, np.flatnonzero(np.diff(idx)) + 1, np.nan, axis=0)
    return coords[:, 0], coords[:, 1]


def _kind_rows(infra: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    if len(infra) == 0:
        return infra
    return infra[(infra["kind"].astype("string") == kind).fillna(False).to_numpy(bool)]


def _poly_trace(geoms: Any, name: str, fill: str, line: str, meta: dict[str, Any], *,
                width: float = 0.8, dash: str | None = None) -> go.Scatter | None:
    x, y = polygon_xy(np.asarray(geoms, dtype=object))
    if len(x) == 0:
        return None
    return go.Scatter(x=x, y=y, mode="lines", fill="toself", fillcolor=fill,
                      line={"color": line, "width": width, "dash": dash}, name=name,
                      hoverinfo="name", meta=meta)


def zone_map(zone: BaseGeometry, isochrones: gpd.GeoDataFrame,
             coverage: gpd.GeoSeries | None = None,
             infrastructure: gpd.GeoDataFrame | None = None,
             incidents: pd.DataFrame | None = None, *, source_kind: str = "police",
             uirevision: str = "zone") -> go.Figure:
    """Map of a tourist zone (lon/lat axes, no tiles): bands, coverage, roads, sites, incidents.

    Parameters
    ----------
    zone
        Zone polygon (EPSG:4326).
    isochrones
        ``source_kind``, ``minutes`` and geometry (see :func:`etl.zone_report.zone_isochrones`).
        The bands of ``source_kind`` are filled (slowest first, so faster ones lie on top);
        the other kind's fastest band is outlined.
    coverage
        Camera coverage polygons.
    infrastructure
        Features near the zone (``kind``, ``name``, geometry).
    incidents
        ``lon``, ``lat``, ``category``, ``in_season``.
    source_kind
        Responder whose bands are filled.
    uirevision
        Plotly ``uirevision``.

    Returns
    -------
    plotly.graph_objects.Figure
        Traces carry ``meta.kind``: ``zone``, ``isochrone`` (with ``minutes`` and
        ``source``), ``coverage``, ``road``, ``power_line``, ``beach``, a facility or site
        kind, ``incident``.
    """
    if zone is None or zone.is_empty:
        return empty_figure("No zone")
    fig = go.Figure()
    zone_trace = _poly_trace([zone], "Zone", "rgba(240,246,252,0.6)", "#2b2b2b",
                             {"kind": "zone"}, width=2)
    if zone_trace is not None:
        fig.add_trace(zone_trace)
    _add_isochrones(fig, isochrones, source_kind)
    if coverage is not None and len(coverage):
        trace = _poly_trace(coverage.to_numpy(), "Camera coverage", "rgba(43,108,176,0.35)",
                            COVERAGE_COLOUR, {"kind": "coverage"})
        if trace is not None:
            fig.add_trace(trace)
    infra = infrastructure if infrastructure is not None else gpd.GeoDataFrame()
    for kind, name, colour, width in (("road", "Roads", "#6b6b6b", 1.6),
                                      ("power_line", "Power lines", "#c9a100", 1.6)):
        x, y = _line_xy(np.asarray(_kind_rows(infra, kind).geometry.values, dtype=object)) \
            if len(infra) else (np.empty(0), np.empty(0))
        if len(x):
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name, hoverinfo="name",
                                     line={"color": colour, "width": width,
                                           "dash": "dot" if kind == "power_line" else None},
                                     meta={"kind": kind}))
    beach = _kind_rows(infra, "beach") if len(infra) else infra
    if len(beach):
        trace = _poly_trace(beach.geometry.to_numpy(), "Beach", "rgba(240,200,90,0.8)",
                            "#b08a00", {"kind": "beach"})
        if trace is not None:
            fig.add_trace(trace)
    _add_incidents(fig, incidents)
    _add_points(fig, infra)
    fig.update_layout(
        xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x",
                                         "scaleratio": 1 / max(math.cos(math.radians(
                                             zone.centroid.y)), 0.2)},
        plot_bgcolor="white", margin={"l": 0, "r": 0, "t": 0, "b": 0},
        legend={"bgcolor": "rgba(255,255,255,0.85)", "x": 1.0, "xanchor": "left", "y": 0.93,
                "font": {"size": 11}},
        font={"family": _FONT}, uirevision=uirevision, dragmode="pan")
    return fig


def _add_isochrones(fig: go.Figure, iso: gpd.GeoDataFrame, source_kind: str) -> None:
    if iso is None or len(iso) == 0:
        return
    own = iso[iso["source_kind"] == source_kind].sort_values("minutes", ascending=False)
    label = "police" if source_kind == "police" else "112"
    colours = dict(zip(sorted(own["minutes"].tolist()), BAND_COLOURS, strict=False))
    for m, geom in zip(own["minutes"], own.geometry, strict=True):
        trace = _poly_trace([geom], f"≤ {m:g} min from {label}",
                            colours.get(m, "rgba(120,120,120,0.3)"), "rgba(60,60,60,0.5)",
                            {"kind": "isochrone", "minutes": float(m), "source": source_kind})
        if trace is not None:
            fig.add_trace(trace)
    other = iso[iso["source_kind"] != source_kind].sort_values("minutes")
    for kind, group in other.groupby("source_kind", sort=True):
        m, geom = group["minutes"].iloc[0], group.geometry.iloc[0]
        x, y = _line_xy(np.array([geom], dtype=object))
        if len(x):
            name = "112" if kind == "emergency" else html.escape(str(kind), quote=False)
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"≤ {m:g} min from {name}",
                                     line={"color": FAIL_COLOUR, "width": 1.5, "dash": "dash"},
                                     hoverinfo="name",
                                     meta={"kind": "isochrone", "minutes": float(m),
                                           "source": str(kind)}))


def _add_incidents(fig: go.Figure, incidents: pd.DataFrame | None) -> None:
    if incidents is None or len(incidents) == 0:
        return
    season = incidents["in_season"].to_numpy(bool)
    for sel, name, colour in ((season, "Incidents in season", "#800026"),
                              (~season, "Incidents off season", "#fd8d3c")):
        if not sel.any():
            continue
        sub = incidents[sel]
        fig.add_trace(go.Scatter(
            x=sub["lon"], y=sub["lat"], mode="markers", name=name,
            marker={"size": 5, "color": colour, "opacity": 0.8},
            text=plot_text(sub["category"].astype(str)), hovertemplate="%{text}<extra></extra>",
            meta={"kind": "incident"}))


def _add_points(fig: go.Figure, infra: gpd.GeoDataFrame) -> None:
    for kind, (name, colour, symbol) in _FACILITY_STYLE.items():
        rows = _kind_rows(infra, kind) if len(infra) else infra
        if len(rows) == 0:
            continue
        x, y = xy(shapely.point_on_surface(np.asarray(rows.geometry.values, dtype=object)))
        names = plot_text(rows["name"].astype(object).fillna("").astype(str)) \
            if "name" in rows else np.full(len(rows), "")
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="markers", name=name,
            marker={"size": 10 if kind != "town" else 8, "color": colour, "symbol": symbol,
                    "line": {"color": "white", "width": 1}},
            text=names, hovertemplate="%{text}<extra>" + name + "</extra>",
            meta={"kind": kind}))


def season_chart(by_category: Mapping[str, Mapping[str, Any]], *,
                 title: str = "Incidents in the zone and buffer") -> go.Figure:
    """Bars of incidents per category, in season and off season (stacked).

    Parameters
    ----------
    by_category
        ``{category: {"total", "in_season", "off_season"}}`` (season counts None when the
        zone has no season: then one "All year" bar per category).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces with ``meta.kind`` ``in_season``, ``off_season`` or ``total``.
    """
    if not by_category:
        return empty_figure("No incidents in the zone or its buffer")
    cats = sorted(by_category, key=lambda c: (-int(by_category[c]["total"]), c))
    fig = go.Figure()
    seasonal = all(by_category[c].get("in_season") is not None for c in cats)
    series = (("in_season", "In season", "#800026"), ("off_season", "Off season", "#fd8d3c")) \
        if seasonal else (("total", "All year", "#800026"),)
    for key, name, colour in series:
        fig.add_trace(go.Bar(x=cats, y=[int(by_category[c][key] or 0) for c in cats],
                             name=name, marker={"color": colour}, meta={"kind": key}))
    fig.update_layout(barmode="stack", title={"text": title, "font": {"size": 14}},
                      margin={"l": 40, "r": 10, "t": 40, "b": 60}, plot_bgcolor="white",
                      font={"family": _FONT}, legend={"orientation": "h", "y": -0.25},
                      yaxis={"gridcolor": "#e5e5e0", "title": "incidents"})
    return fig
