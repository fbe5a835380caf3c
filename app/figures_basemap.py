"""The base map as plotly traces: water, rivers, roads, district and region outlines under the
risk layers, named places on top (:mod:`riskmap.geo.basemap` computes what they hold).

Shared by the commanders' map and the camera planner's; names come from user data and are
HTML-escaped here.
"""

from __future__ import annotations

import html
from dataclasses import replace
from typing import Any

import numpy as np
import plotly.graph_objects as go

from riskmap.app.map_labels import pick_labels
from riskmap.geo.basemap import BaseMap
from riskmap.i18n import gettext as _

__all__ = ["LEGEND", "add_base", "add_base_to_figure", "base_traces", "static_places"]

#: width (px) of each road class on the base map; classes not named here get ``"other"``'s
_ROAD_WIDTH = {"motorway": 2.2, "trunk": 2.0, "primary": 1.6, "secondary": 1.2,
               "tertiary": 0.9, "other": 0.6}
_WATER = "#4a7fb5"


def static_places(base: BaseMap) -> BaseMap:
    """``base`` with at most one named place per cell of the label grid over its area, the
    most important first (:func:`~riskmap.app.map_labels.pick_labels`): for maps whose labels
    do not follow the zoom (the planner's, the overview's), so names do not pile up."""
    if base.box is None or len(base.places) < 2:
        return base
    x0, y0, x1, y1 = base.box
    got = pick_labels(base.places["x"].to_numpy(float), base.places["y"].to_numpy(float),
                      (x0, x1, y0, y1), max_in_view=10**9)
    return replace(base, places=base.places.iloc[got].reset_index(drop=True))


def base_traces(base: BaseMap) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Plotly traces of the base map: ``(under, over)``.

    ``under`` goes right above the filled classes (water, rivers, roads, district and region
    outlines: they show through nothing, so the fills must not hide them); ``over`` goes on
    top of everything (named places). Names come from user data: they are HTML-escaped.
    Every trace has ``meta.kind == "base-<what>"``; none takes part in tooltips or clicks.
    """
    under: list[dict[str, Any]] = []

    def lines(xy: tuple[np.ndarray, np.ndarray], name: str, what: str, style: dict[str, Any],
              *, legend: bool = True, **extra: Any) -> None:
        if len(xy[0]):
            under.append({"type": "scatter", "x": xy[0], "y": xy[1], "mode": "lines",
                          "line": style, "name": name, "hoverinfo": "skip",
                          "showlegend": legend, "legend": "legend2",
                          "legendgroup": f"base-{what}",
                          "legendrank": 1100 + len(under), "meta": {"kind": f"base-{what}"},
                          **extra})

    lines(base.water, _("Water"), "water", {"color": _WATER, "width": 0.6},
          fill="toself", fillcolor="rgba(120,170,220,0.85)")
    lines(base.rivers, _("Rivers and canals"), "river", {"color": _WATER, "width": 1.3})
    for i, (cls, xy) in enumerate(base.roads.items()):
        width = _ROAD_WIDTH.get(cls, _ROAD_WIDTH["other"])
        lines(xy, _("Roads"), "road", {"color": "rgba(95,70,50,0.8)", "width": width},
              legend=i == 0)
    lines(base.districts, _("District boundaries"), "district",
          {"color": "#3a3a3a", "width": 1.4})
    lines(base.regions, _("Region boundaries"), "region", {"color": "#111", "width": 2.6})
    over: list[dict[str, Any]] = []
    if len(base.places):
        names = [html.escape(str(n)) for n in base.places["name"]]
        over.append({"type": "scatter", "x": base.places["x"].to_numpy(dtype=np.float32),
                     "y": base.places["y"].to_numpy(dtype=np.float32),
                     "mode": "markers+text", "text": names, "textposition": "top right",
                     "textfont": {"size": 11, "color": "#1d1d1d"},
                     "marker": {"size": 6, "color": "#fff",
                                "line": {"color": "#1d1d1d", "width": 1.5}},
                     "name": _("Towns and villages"), "hoverinfo": "skip", "showlegend": False,
                     "meta": {"kind": "base-place", "n": len(names),
                              "major": int(base.places["major"].sum())}})
    return under, over


#: the base map's own legend, apart from the risk classes: bottom right (the mahalla search sits
#: bottom left), lifted a little off the foot (the commanders' page may reach past the screen)
LEGEND = {"orientation": "v", "x": 0.99, "y": 0.05, "xanchor": "right", "yanchor": "bottom",
          "bgcolor": "rgba(255,255,255,0.85)", "bordercolor": "#ccc", "borderwidth": 1,
          "font": {"size": 11}, "itemclick": False, "itemdoubleclick": False}


def add_base(fig: dict[str, Any], base: BaseMap) -> dict[str, Any]:
    """Put :func:`base_traces` into a :func:`metric_map` figure dict (in place; returned).

    A figure without data (the "no data" message) is left alone.
    """
    data = fig.get("data") or []
    if not data or base.empty:
        return fig
    under, over = base_traces(base)
    fills = sum(1 for t in data if (t.get("meta") or {}).get("kind") in ("mahalla", "h3"))
    data[fills:fills] = under
    data.extend(over)
    if under:
        fig.setdefault("layout", {})["legend2"] = LEGEND
    return fig


def add_base_to_figure(fig: go.Figure, base: BaseMap) -> go.Figure:
    """:func:`add_base` for a ``go.Figure`` (the overview's maps); returns ``fig``."""
    data = list(fig.data)
    if not data or base.empty:
        return fig
    under, over = base_traces(static_places(base))
    fills = sum(1 for t in data if (t.meta or {}).get("kind") in ("mahalla", "h3"))
    fig.add_traces([go.Scatter(t) for t in (*under, *over)])
    added = fig.data[len(data):]  # plotly takes only a permutation of its own traces
    fig.data = (*fig.data[:fills], *added[:len(under)], *fig.data[fills:len(data)],
                *added[len(under):])
    if under:
        fig.update_layout(legend2=LEGEND)
    return fig
