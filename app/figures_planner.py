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
    polygon_xy,
)
from riskmap.geo.h3index import cell_polygons
from riskmap.geo.points import xy

__all__ = [
    "EXISTING_COLOUR",
    "PROPOSED_COLOUR",
    "coverage_summary_text",
    "gain_curve",
    "job_progress_text",
    "plan_map",
    "plan_summary_text",
]

#: fill/marker colours: existing coverage (blue) and proposed coverage (green)
EXISTING_COLOUR = "#2b6cb0"
PROPOSED_COLOUR = "#1a7f37"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"


def _fill_trace(geoms: Any, name: str, fill: str, line: str, kind: str, *,
                rank: int = 0) -> go.Scatter | None:
    x, y = polygon_xy(np.asarray(geoms, dtype=object))
    if len(x) == 0:
        return None
    return go.Scatter(x=x, y=y, mode="lines", fill="toself", fillcolor=fill,
                      line={"color": line, "width": 0.8}, name=name, hoverinfo="skip",
                      meta={"kind": kind}, legendrank=rank)


def plan_map(area: gpd.GeoDataFrame, cells: pd.DataFrame, existing: gpd.GeoDataFrame,
             existing_coverage: gpd.GeoSeries, plan: gpd.GeoDataFrame,
             plan_coverage: gpd.GeoSeries, *, value: str = "risk", value_label: str = "Risk",
             uirevision: str = "planner") -> go.Figure:
    """Map of a plan: risk cells, existing and proposed coverage, existing and proposed cameras.

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

    Returns
    -------
    plotly.graph_objects.Figure
        Traces carry ``meta.kind``: ``base``, ``risk``, ``existing-coverage``,
        ``proposed-coverage``, ``existing``, ``proposed``.
    """
    if len(area) == 0:
        return empty_figure("No mahallas in this area")
    fig = go.Figure()
    base = _fill_trace(area.geometry.to_numpy(), BASE_NAME, "rgba(250,250,248,1)", "#9a9a96",
                       "base", rank=1000)
    if base is not None:
        fig.add_trace(base)
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
            trace = _fill_trace(polys[sel], f"{value_label} {labels[i - 1]}",
                                _rgba(colours[i - 1], 0.55), "rgba(120,120,120,0.4)", "risk",
                                rank=100 + i)
            if trace is not None:
                fig.add_trace(trace)
    for geoms, name, colour, kind, rank in (
            (existing_coverage, "Existing coverage", EXISTING_COLOUR, "existing-coverage", 10),
            (plan_coverage, "Proposed coverage", PROPOSED_COLOUR, "proposed-coverage", 5)):
        arr = np.asarray(geoms.to_numpy() if len(geoms) else [], dtype=object)
        arr = arr[~(shapely.is_missing(arr) | shapely.is_empty(arr))] if len(arr) else arr
        trace = _fill_trace(arr, name, _rgba(colour, 0.35), colour, kind, rank=rank)
        if trace is not None:
            fig.add_trace(trace)
    if len(existing):
        ex = np.asarray(existing.geometry.values, dtype=object)
        fig.add_trace(go.Scatter(
            x=xy(ex)[0], y=xy(ex)[1], mode="markers", name="Existing cameras",
            marker={"size": 7, "color": EXISTING_COLOUR, "symbol": "circle",
                    "line": {"color": "white", "width": 1}},
            customdata=np.column_stack([plot_text(existing["camera_id"].astype(object)),
                                        plot_text(existing["type"].astype(object))]),
            hovertemplate="<b>%{customdata[0]}</b><br>%{customdata[1]}<extra></extra>",
            meta={"kind": "existing"}, legendrank=20))
    if len(plan):
        pts = np.asarray(plan.geometry.values, dtype=object)
        bearing = [("dome" if not np.isfinite(b) else f"{b:.0f}°")
                   for b in plan["bearing_deg"].to_numpy(float)]
        custom = np.column_stack([
            plan["rank"].to_numpy(), plot_text(plan["type"].astype(object)), bearing,
            plan["range_m"].to_numpy(float), plan["marginal_gain"].to_numpy(float),
            plot_text(plan["site_id"].astype(object))])
        fig.add_trace(go.Scatter(
            x=xy(pts)[0], y=xy(pts)[1], mode="markers+text",
            name="Proposed cameras", text=[str(r) for r in plan["rank"]],
            textposition="top center", textfont={"size": 11, "color": PROPOSED_COLOUR},
            marker={"size": 11, "color": PROPOSED_COLOUR, "symbol": "diamond",
                    "line": {"color": "white", "width": 1}},
            customdata=custom,
            hovertemplate=("<b>#%{customdata[0]} %{customdata[1]}</b><br>bearing "
                           "%{customdata[2]}, range %{customdata[3]:.0f} m<br>risk gained "
                           "%{customdata[4]:.2f}<br>site %{customdata[5]}<extra></extra>"),
            meta={"kind": "proposed"}, legendrank=1))
    _map_layout(fig, area, uirevision)
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


def _map_layout(fig: go.Figure, area: gpd.GeoDataFrame, uirevision: str) -> None:
    _, miny, _, maxy = area.total_bounds
    lat0 = float((miny + maxy) / 2) if np.isfinite(miny) else 0.0
    fig.update_layout(
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, plot_bgcolor="#f4f4f1", paper_bgcolor="white",
        font={"family": _FONT, "size": 12}, dragmode="pan", hovermode="closest",
        uirevision=uirevision, showlegend=True,
        legend={"title": {"text": "Camera plan"}, "x": 0.01, "y": 0.99, "xanchor": "left",
                "yanchor": "top", "bgcolor": "rgba(255,255,255,0.85)", "bordercolor": "#ccc",
                "borderwidth": 1},
        xaxis={"visible": False, "constrain": "domain"},
        yaxis={"visible": False, "scaleanchor": "x",
               "scaleratio": 1.0 / math.cos(math.radians(max(min(lat0, 85.0), -85.0)))},
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
        return empty_figure("No risk to cover in this area")
    y = (100.0 * curve["covered_share"].to_numpy(float)).round(3)
    fig = go.Figure(go.Scatter(
        x=curve["n_cameras"].to_numpy(), y=y, mode="lines+markers", name="Covered risk",
        line={"color": PROPOSED_COLOUR, "width": 2}, marker={"size": 6},
        hovertemplate="%{x} new cameras: %{y:.1f}% of risk covered<extra></extra>",
        meta={"kind": "curve"}))
    fig.add_hline(y=float(y[0]), line={"color": EXISTING_COLOUR, "dash": "dot", "width": 1},
                  annotation_text=f"before {y[0]:.1f}%", annotation_position="bottom right")
    title = "Risk covered vs new cameras"
    if summary and summary.get("optimality_gap") is not None:
        title += f" (MILP gap {100 * summary['optimality_gap']:.1f}%)"
    fig.update_layout(
        margin={"l": 50, "r": 10, "t": 30, "b": 40}, font={"family": _FONT, "size": 12},
        title={"text": title, "font": {"size": 13}, "x": 0.01}, plot_bgcolor="white",
        xaxis={"title": {"text": "new cameras"}, "dtick": max(1, len(y) // 10),
               "gridcolor": "#eee"},
        yaxis={"title": {"text": "% of risk covered"}, "rangemode": "tozero",
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
    """One line on a plan's background job (:meth:`riskmap.jobs.JobStatus.to_dict`).

    Examples
    --------
    >>> job_progress_text({"status": "running", "progress": 0.42, "message": "coverage"})
    'Planning: 42% (coverage)'
    >>> job_progress_text({"status": "failed", "message": "needed more than 2 GiB of memory"})
    'The plan failed: needed more than 2 GiB of memory'
    >>> job_progress_text({"status": "queued"})
    'Waiting for a worker ...'
    """
    state = job.get("status")
    message = str(job.get("message") or "")
    if state == "queued":
        return "Waiting for a worker ..."
    if state == "running":
        share = float(job.get("progress") or 0.0)
        return f"Planning: {100 * share:.0f}%" + (f" ({message})" if message else "")
    if state == "cancel_requested":
        return "Cancelling ..."
    if state == "cancelled":
        return "The plan was cancelled."
    if state == "refused":
        return f"The plan was refused: {message}" if message else "The plan was refused."
    if state == "failed":
        return f"The plan failed: {message}" if message else "The plan failed."
    return f"Done: {message}" if message else "Done."


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
        return "No coverage figures: run `riskmap build --only coverage`"

    def pct(part: str, whole: str) -> str:
        total = float(frame[whole].sum()) if whole in frame else 0.0
        return "n/a" if total <= 0 else f"{100 * float(frame[part].sum()) / total:.1f}%"

    n = int(frame["cameras"].sum()) if "cameras" in frame else 0
    return (f"Now: {n:,} camera{'s' if n != 1 else ''} cover {pct('covered_m2', 'area_m2')} of "
            f"the area, {pct('incidents_covered', 'incidents')} of recent incidents and "
            f"{pct('risk_covered', 'risk')} of the risk")
