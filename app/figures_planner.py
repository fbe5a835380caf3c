"""Pure figure builders of the camera planner: plan map (risk, coverage before/after, cameras) and gain curve."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import geopandas as gpd
import shapely

from riskmap.app.figures import (
    BASE_NAME,
    PALETTE,
    class_breaks,
    class_labels,
    classify,
    empty_figure,
    plot_text,
)
from riskmap.app.figures_basemap import LEGEND as BASE_LEGEND
from riskmap.app.figures_basemap import base_traces, static_places
from riskmap.app.job_status import job_line
from riskmap.app.map_canvas import Canvas
from riskmap.geo.basemap import BaseMap
from riskmap.geo.h3index import cell_polygons
from riskmap.geo.points import xy
from riskmap.i18n import format_number, format_percent, gettext, ngettext

__all__ = [
    "ACCEPTED_COLOUR",
    "EXISTING_COLOUR",
    "PROPOSED_COLOUR",
    "baseline_text",
    "better_plan",
    "comparison_map",
    "coverage_summary_text",
    "gain_curve",
    "job_progress_text",
    "plan_comparison",
    "plan_map",
    "plan_summary_text",
]

#: fill/marker colours: existing coverage (blue), accepted (planned) cameras (amber) and
#: proposed coverage (green)
EXISTING_COLOUR = "#2b6cb0"
ACCEPTED_COLOUR = "#b7791f"
PROPOSED_COLOUR = "#1a7f37"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"


def _fill(canvas: Canvas, geoms: Any, name: str, fill: str, line: str, kind: str, *,
          rank: int = 0, group: str | None = None) -> None:
    canvas.area(np.asarray(geoms, dtype=object), name, fill, line, {"kind": kind},
                hoverinfo="skip", legendrank=rank, legendgroup=group)


def _polygons(geoms: Any) -> np.ndarray:
    """The present, non-empty polygons of a GeoSeries (or array)."""
    arr = np.asarray(geoms.to_numpy() if hasattr(geoms, "to_numpy") else geoms, dtype=object) \
        if geoms is not None and len(geoms) else np.empty(0, dtype=object)
    return arr[~(shapely.is_missing(arr) | shapely.is_empty(arr))] if len(arr) else arr


def plan_map(area: gpd.GeoDataFrame, cells: pd.DataFrame, existing: gpd.GeoDataFrame,
             existing_coverage: gpd.GeoSeries, plan: gpd.GeoDataFrame,
             plan_coverage: gpd.GeoSeries, *, value: str = "risk", value_label: str = "Risk",
             uirevision: str = "planner", accepted: gpd.GeoDataFrame | None = None,
             accepted_coverage: gpd.GeoSeries | None = None,
             legend: bool = True, base_map: BaseMap | None = None,
             style: dict[str, Any] | None = None, size: tuple[int, int] = (960, 540)
             ) -> go.Figure:
    """Map of a plan: risk cells and three camera layers, each with its coverage polygons and
    its own legend entries: existing cameras, accepted (planned) cameras, proposed cameras.

    Parameters
    ----------
    area
        Mahallas of the area (drawn as the base).
    cells
        Values per H3 res-9 cell (``h3`` and the ``value`` column); cells with a positive value
        are coloured in quantile classes labelled ``value_label``.
    existing, existing_coverage
        Fixed cameras (points) and their coverage polygons.
    plan, plan_coverage
        Proposed cameras (``rank, site_id, type, bearing_deg, range_m, marginal_gain``) and
        their coverage polygons.
    uirevision
        Plotly ``uirevision`` (zoom kept while it stays the same).
    accepted, accepted_coverage
        Cameras accepted into ``planned_cameras`` (``camera_id, type, plan_id``; points) and
        their coverage polygons (None: no such layer).
    legend
        Show the legend (off for the small maps of a comparison).
    base_map
        Boundaries, water, roads and named places drawn over the mahallas and under the risk
        (:meth:`~riskmap.app.commanders_data.CommandersData.base_layer_of`; None: none), on
        cartesian axes.
    style, size
        A MapLibre style (:func:`app.map_tiles.map_style`): the map is drawn over the app's
        offline base map (which has the boundaries, water, roads and places; ``base_map`` is
        not drawn then), the area in view in a ``size`` px map (see :mod:`app.map_canvas`).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces carry ``meta.kind``: ``base``, ``risk``, ``existing-coverage``,
        ``accepted-coverage``, ``proposed-coverage``, ``existing``, ``accepted``,
        ``proposed``; each layer's cameras and coverage share a ``legendgroup``.
    """
    if len(area) == 0:
        return empty_figure(gettext("No mahallas in this area"))
    canvas = Canvas(style)
    fig = canvas.fig
    # on MapLibre the mahallas let the base map's roads and water show through
    _fill(canvas, area.geometry.to_numpy(), gettext(BASE_NAME),
          "rgba(250,250,248,1)" if style is None else "rgba(250,250,248,0.5)", "#9a9a96",
          "base", rank=1000)
    under, over = (base_traces(static_places(base_map)) if base_map is not None and style is None
                   else ([], []))
    for trace in under:
        fig.add_trace(trace)
    values = cells[value].to_numpy(float) if len(cells) else np.empty(0)
    risky = cells[values > 0] if len(cells) else cells
    if len(risky):
        polys = cell_polygons(risky["h3"].to_numpy(np.int64))
        v = risky[value].to_numpy(float)
        breaks, labels = _breaks(v, 5)
        cls = classify(v, breaks)
        colours = [PALETTE[i] for i in np.round(np.linspace(0, 4, max(len(breaks), 1))).astype(int)]
        for i in range(1, len(breaks) + 1):
            sel = cls == i
            _fill(canvas, polys[sel], f"{value_label} {labels[i - 1]}",
                  _rgba(colours[i - 1], 0.55), "rgba(120,120,120,0.4)", "risk", rank=100 + i)
    for geoms, name, colour, kind, rank in (
            (existing_coverage, gettext("Existing coverage"), EXISTING_COLOUR,
             "existing-coverage", 21),
            (accepted_coverage, gettext("Accepted coverage"), ACCEPTED_COLOUR,
             "accepted-coverage", 11),
            (plan_coverage, gettext("Proposed coverage"), PROPOSED_COLOUR,
             "proposed-coverage", 2)):
        _fill(canvas, _polygons(geoms), name, _rgba(colour, 0.35), colour, kind, rank=rank,
              group=kind.split("-")[0])
    for cams, name, colour, symbol, kind, rank in (
            (existing, gettext("Existing cameras"), EXISTING_COLOUR, "circle", "existing", 20),
            (accepted, gettext("Accepted (planned) cameras"), ACCEPTED_COLOUR, "square",
             "accepted", 10)):
        if cams is None or len(cams) == 0:
            continue
        pts = np.asarray(cams.geometry.values, dtype=object)
        extra = (plot_text(cams["plan_id"].astype(object)) if "plan_id" in cams
                 else np.full(len(cams), "", dtype=object))
        canvas.trace(
            xy(pts)[0], xy(pts)[1], mode="markers", name=name,
            marker={"size": 8 if kind == "accepted" else 7, "color": colour, "symbol": symbol,
                    "line": {"color": "white", "width": 1}},
            customdata=np.column_stack([plot_text(cams["camera_id"].astype(object)),
                                        plot_text(cams["type"].astype(object)), extra]),
            hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}<br>%{customdata[2]}"
                          "<extra></extra>",
            meta={"kind": kind}, legendrank=rank, legendgroup=kind)
    if len(plan):
        pts = np.asarray(plan.geometry.values, dtype=object)
        bearing = [("dome" if not np.isfinite(b) else f"{b:.0f}°")
                   for b in plan["bearing_deg"].to_numpy(float)]
        custom = np.column_stack([
            plan["rank"].to_numpy(), plot_text(plan["type"].astype(object)), bearing,
            plan["range_m"].to_numpy(float), plan["marginal_gain"].to_numpy(float),
            plot_text(plan["site_id"].astype(object))])
        canvas.trace(
            xy(pts)[0], xy(pts)[1], mode="markers+text",
            name=gettext("Proposed cameras"), text=[str(r) for r in plan["rank"]],
            textposition="top center", textfont={"size": 11, "color": PROPOSED_COLOUR},
            marker={"size": 11, "color": PROPOSED_COLOUR, "symbol": "diamond",
                    "line": {"color": "white", "width": 1}},
            customdata=custom,
            hovertemplate=(gettext("<b>#%{customdata[0]} %{customdata[1]}</b><br>bearing "
                           "%{customdata[2]}, range %{customdata[3]:.0f} m<br>risk gained "
                           "%{customdata[4]:.2f}<br>site %{customdata[5]}<extra></extra>")),
            meta={"kind": "proposed"}, legendrank=1, legendgroup="proposed")
    for trace in over:
        fig.add_trace(trace)
    _map_layout(canvas, area, uirevision, size)
    if under:
        fig.update_layout(legend2=BASE_LEGEND)
    if not legend:
        fig.update_layout(showlegend=False)
    return fig


def _breaks(values: np.ndarray, k: int) -> tuple[np.ndarray, list[str]]:
    """Quantile class bounds and labels: integer classes for counts, 2 decimals otherwise."""
    if np.allclose(values, np.round(values)) and values.max() >= k:
        breaks = class_breaks(values, k)
        return breaks, class_labels(breaks)
    breaks = np.unique(np.quantile(values, np.linspace(0, 1, k + 1)[1:]))
    lows = np.r_[values.min(), breaks[:-1]]
    return breaks, [f"{lo:.2f}–{hi:.2f}" for lo, hi in zip(lows, breaks, strict=True)]


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _map_layout(canvas: Canvas, area: gpd.GeoDataFrame, uirevision: str,
                size: tuple[int, int]) -> None:
    canvas.finish(
        tuple(float(v) for v in area.total_bounds), size,  # type: ignore[arg-type]
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, plot_bgcolor="#f4f4f1", paper_bgcolor="white",
        font={"family": _FONT, "size": 12}, dragmode="pan", hovermode="closest",
        uirevision=uirevision, showlegend=True,
        legend={"title": {"text": gettext("Camera plan")}, "x": 0.01, "y": 0.99, "xanchor": "left",
                "yanchor": "top", "bgcolor": "rgba(255,255,255,0.85)", "bordercolor": "#ccc",
                "borderwidth": 1},
    )


def gain_curve(curve: pd.DataFrame, summary: dict[str, Any] | None = None) -> go.Figure:
    """Share of risk covered (%) against the number of new cameras (0 = existing cameras only).

    Examples
    --------
    >>> fig = gain_curve(pd.DataFrame({"n_cameras": [0, 1, 2],
    ...                                "covered_share": [0.1, 0.4, 0.5]}))
    >>> [float(v) for v in fig.data[0].y]
    [10.0, 40.0, 50.0]
    """
    if len(curve) == 0 or not np.isfinite(curve["covered_share"].to_numpy(float)).any():
        return empty_figure(gettext("No risk to cover in this area"))
    y = (100.0 * curve["covered_share"].to_numpy(float)).round(3)
    fig = go.Figure(go.Scatter(
        x=curve["n_cameras"].to_numpy(), y=y, mode="lines+markers", name=gettext("Covered risk"),
        line={"color": PROPOSED_COLOUR, "width": 2}, marker={"size": 6},
        hovertemplate=gettext("%{x} new cameras: %{y:.1f}% of risk covered<extra></extra>"),
        meta={"kind": "curve"}))
    fig.add_hline(y=float(y[0]), line={"color": EXISTING_COLOUR, "dash": "dot", "width": 1},
                  annotation_text=f"before {y[0]:.1f}%", annotation_position="bottom right")
    title = "Risk covered vs new cameras"
    if summary and summary.get("optimality_gap") is not None:
        title += f" (MILP gap {100 * summary['optimality_gap']:.1f}%)"
    fig.update_layout(
        margin={"l": 50, "r": 10, "t": 30, "b": 40}, font={"family": _FONT, "size": 12},
        title={"text": title, "font": {"size": 13}, "x": 0.01}, plot_bgcolor="white",
        xaxis={"title": {"text": gettext("new cameras")}, "dtick": max(1, len(y) // 10),
               "gridcolor": "#eee"},
        yaxis={"title": {"text": gettext("% of risk covered")}, "rangemode": "tozero",
               "gridcolor": "#eee"},
        showlegend=False)
    return fig


def plan_summary_text(summary: dict[str, Any]) -> str:
    """One line for the page: cameras proposed and covered risk before -> after.

    Examples
    --------
    >>> plan_summary_text({"n_cameras": 5, "covered_risk_before": 0.1,
    ...                    "covered_risk_after": 0.35, "method": "milp", "seconds": 1.26,
    ...                    "optimality_gap": 0.0})
    '5 cameras proposed: risk covered 10.0% → 35.0% (exact MILP, gap 0.0%; 1.3 s)'
    >>> plan_summary_text({"n_cameras": 0, "status": "no risk in the area"})
    'No cameras proposed: no risk in the area'
    """
    n = int(summary.get("n_cameras") or 0)
    if n == 0:
        return f"No cameras proposed: {summary.get('status', 'nothing to cover')}"
    before, after = summary.get("covered_risk_before"), summary.get("covered_risk_after")
    method = "exact MILP" if summary.get("method") == "milp" else "greedy"
    if summary.get("optimality_gap") is not None:
        method += f", gap {100 * summary['optimality_gap']:.1f}%"
    seconds = float(summary.get("seconds") or 0.0)
    return (f"{n} camera{'s' if n != 1 else ''} proposed: risk covered "
            f"{100 * (before or 0):.1f}% → {100 * (after or 0):.1f}% ({method}; {seconds:.1f} s)")


def job_progress_text(job: dict[str, Any]) -> str:
    """One line on a plan's background job (:func:`riskmap.app.job_status.job_line`).

    Examples
    --------
    >>> job_progress_text({"status": "running", "progress": 0.42, "message": "coverage"})
    'Planning: 42% (coverage)'
    >>> job_progress_text({"status": "queued"})
    'Waiting for a worker ...'
    """
    return job_line(job, "plan")


def coverage_summary_text(frame: pd.DataFrame) -> str:
    """Current coverage of an area from its ``coverage_mahalla`` rows.

    Examples
    --------
    >>> coverage_summary_text(pd.DataFrame({"area_m2": [3e5, 1e5], "covered_m2": [4e3, 0.0],
    ...     "incidents": [8, 2], "incidents_covered": [1, 0], "risk": [8.0, 2.0],
    ...     "risk_covered": [0.5, 0.0], "cameras": [3, 0]}))
    'Now: 3 cameras cover 1.0% of the area, 10.0% of recent incidents and 5.0% of the risk'
    >>> coverage_summary_text(pd.DataFrame())
    'No coverage figures: run `riskmap build --only coverage`'
    """
    if len(frame) == 0 or "area_m2" not in frame:
        return gettext("No coverage figures: run `riskmap build --only coverage`")

    def pct(part: str, whole: str) -> str:
        total = float(frame[whole].sum()) if whole in frame else 0.0
        return gettext("n/a") if total <= 0 else format_percent(
            float(frame[part].sum()) / total, 1)

    n = int(frame["cameras"].sum()) if "cameras" in frame else 0
    return ngettext("Now: {n} camera covers {area} of the area, {incidents} of recent "
                    "incidents and {risk} of the risk",
                    "Now: {n} cameras cover {area} of the area, {incidents} of recent "
                    "incidents and {risk} of the risk", n).format(
        n=format_number(n), area=pct("covered_m2", "area_m2"),
        incidents=pct("incidents_covered", "incidents"), risk=pct("risk_covered", "risk"))


def baseline_text(existing: int, accepted: int) -> str:
    """The cameras the next plan of an area keeps fixed, in words.

    Examples
    --------
    >>> baseline_text(124, 12)
    'Baseline of the next plan: 124 existing + 12 accepted cameras'
    """
    return gettext("Baseline of the next plan: {existing} existing + {accepted} accepted "
                   "cameras").format(existing=format_number(existing),
                                     accepted=format_number(accepted))


def _share(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out if math.isfinite(out) else float("nan")


def _sites(plan: gpd.GeoDataFrame) -> set[tuple[float, float, str]]:
    """Each proposed camera as (lon, lat rounded to ~1 m, type)."""
    if len(plan) == 0:
        return set()
    pts = np.asarray(plan.geometry.values, dtype=object)
    lon, lat = np.round(xy(pts)[0], 5), np.round(xy(pts)[1], 5)
    return set(zip(lon.tolist(), lat.tolist(), plan["type"].astype(str).tolist(), strict=True))


def plan_comparison(a: Any, b: Any, names: tuple[str, str]) -> pd.DataFrame:
    """Two plans (:class:`riskmap.etl.planning.PlanResult`) side by side, one row each.

    Columns: ``plan`` (A/B), ``name``, ``cameras`` (proposed), ``risk_covered_pct`` (share of
    the area's risk covered after the plan, %), ``added_coverage_pp`` (percentage points the
    plan adds to what its baseline covered), ``cameras_in_common`` (cameras of the same type at
    the same place, to ~1 m, in both plans) and ``better`` (see :func:`better_plan`).
    """
    sites = [_sites(r.plan) for r in (a, b)]
    common = len(sites[0] & sites[1])
    rows = []
    for label, res, name in zip(("A", "B"), (a, b), names, strict=True):
        s = res.summary
        after = _share(s.get("covered_risk_after"))
        before = _share(s.get("covered_risk_before"))
        rows.append({"plan": label, "name": name, "cameras": len(res.plan),
                     "risk_covered_pct": round(100 * after, 2) if math.isfinite(after)
                     else float("nan"),
                     "added_coverage_pp": round(100 * (after - before), 2)
                     if math.isfinite(after) and math.isfinite(before) else float("nan"),
                     "cameras_in_common": common})
    out = pd.DataFrame(rows)
    better = better_plan(out)
    out["better"] = [better == i for i in range(len(out))]
    return out


def better_plan(table: pd.DataFrame) -> int | None:
    """Row of the better of two plans: more of the risk covered; on a tie, fewer cameras;
    None when they are equal on both (or neither covers anything).

    Examples
    --------
    >>> better_plan(pd.DataFrame({"risk_covered_pct": [40.0, 55.0], "cameras": [5, 8]}))
    1
    >>> better_plan(pd.DataFrame({"risk_covered_pct": [40.0, 40.0], "cameras": [5, 8]}))
    0
    >>> better_plan(pd.DataFrame({"risk_covered_pct": [float("nan"), float("nan")],
    ...                           "cameras": [0, 0]})) is None
    True
    """
    cov = np.nan_to_num(table["risk_covered_pct"].to_numpy(float), nan=-1.0)
    cams = table["cameras"].to_numpy(int)
    if (cov < 0).all():
        return None
    if cov[0] != cov[1]:
        return int(np.argmax(cov))
    if cams[0] != cams[1]:
        return int(np.argmin(cams))
    return None


def comparison_map(res: Any, title: str, *, uirevision: str, layers: Any = None,
                   style: dict[str, Any] | None = None) -> go.Figure:
    """A small map of one plan of a comparison: its risk, baseline and proposed cameras
    (``title`` is escaped: it may hold an area a user typed). ``layers``: the baseline split
    into existing and accepted cameras (``existing, existing_coverage, accepted,
    accepted_coverage`` attributes); None draws the plan's whole baseline as existing.
    ``style``: drawn on MapLibre (see :func:`plan_map`)."""
    if layers is None:
        fig = plan_map(res.area, res.cells, res.existing, res.existing_coverage, res.plan,
                       res.plan_coverage, uirevision=uirevision, legend=False, style=style,
                       size=(420, 300))
    else:
        fig = plan_map(res.area, res.cells, layers.existing, layers.existing_coverage,
                       res.plan, res.plan_coverage, uirevision=uirevision, legend=False,
                       accepted=layers.accepted, accepted_coverage=layers.accepted_coverage,
                       style=style, size=(420, 300))
    if len(res.area):
        fig.update_layout(margin={"l": 0, "r": 0, "t": 28, "b": 0},
                          title={"text": str(plot_text([title])[0]), "font": {"size": 12},
                                 "x": 0.01})
    return fig
