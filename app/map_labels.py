"""Names on the commanders' map: mahalla labels when zoomed in, district labels at region view,
and markers on red mahallas too small to see.

The rule (:func:`pick_labels`, mirrored in the browser by :data:`LABELS_JS` so that labels
follow every pan and zoom without a round trip): count the mahallas whose label point is in
view; more than :data:`MAX_IN_VIEW` and the map shows district names instead (one per
district, at its largest mahalla's label point); otherwise mahalla names in priority order
(the open mahalla, then red, then by incidents), at most one per cell of a
:data:`GRID_COLS` x :data:`GRID_ROWS` grid over the view, so they never pile up (at most 60).
With district names come the base map's named places: cities first, then district names,
then towns and villages in the cells left free; with mahalla names they are hidden.
Names come from user data: they are HTML-escaped before plotly sees them.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

import shapely

from riskmap.app.figures_commanders import as_maplibre, is_maplibre
from riskmap.i18n import gettext as _

__all__ = ["GRID_COLS", "GRID_ROWS", "LABELS_JS", "MAX_IN_VIEW", "TINY_SHARE", "add_map_labels",
           "district_points", "label_cells", "label_order", "pick_labels", "tiny_red"]

#: more mahallas than this in view: district names instead of mahalla names
MAX_IN_VIEW = 150
#: the view is cut into this grid; each cell shows at most one label (6 x 10 = 60 at most)
GRID_COLS, GRID_ROWS = 6, 10
#: a red mahalla narrower than this share of the area's width gets a marker (about 2 px)
TINY_SHARE = 1 / 300

_LOCK = threading.Lock()
_CACHE: dict[Any, Any] = {}


def _per_model(model: Any, name: str, build: Callable[[], Any]) -> Any:
    """``build()`` once per model, data generation and ``name`` (a small bounded cache)."""
    key = (id(model), getattr(model, "generation", None), name)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
    got = build()
    with _LOCK:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = got
    return got


def label_order(status: np.ndarray, count: np.ndarray, *, first: np.ndarray | None = None,
                ) -> np.ndarray:
    """Positions in label priority: ``first`` (True: the open mahalla), red, then by count.

    Examples
    --------
    >>> label_order(np.array(["green", "red", "red"], dtype=object), np.array([9, 1, 5]))
    array([2, 1, 0])
    >>> label_order(np.array([], dtype=object), np.array([])).tolist()
    []
    """
    status = np.asarray(status, dtype=object)
    red = np.array([s in ("red", "newly red") for s in status], dtype=bool)
    count = np.nan_to_num(np.asarray(count, dtype=float), nan=0.0)
    top = np.zeros(len(status), bool) if first is None else np.asarray(first, dtype=bool)
    return np.lexsort((-count, ~red, ~top)).astype(np.int64)


def pick_labels(x: np.ndarray, y: np.ndarray, view: tuple[float, float, float, float], *,
                max_in_view: int = MAX_IN_VIEW, cols: int = GRID_COLS,
                rows: int = GRID_ROWS, taken: np.ndarray | None = None) -> np.ndarray | None:
    """Which labels to draw: indices into ``x``/``y`` (given in priority order).

    Parameters
    ----------
    x, y
        Label points, highest priority first (NaN: never drawn).
    view
        ``(x0, x1, y0, y1)``: the ranges shown (either order).
    max_in_view
        More points than this in view: ``None`` (too many: show districts instead).
    taken
        Grid cells already labelled (:func:`label_cells` of other labels): left empty.

    Returns
    -------
    numpy.ndarray or None
        Indices of the labels to draw, in priority order: the first point of each grid cell.

    Examples
    --------
    >>> x = np.array([0.5, 0.51, 0.9, 5.0]); y = np.array([0.5, 0.5, 0.9, 5.0])
    >>> pick_labels(x, y, (0, 1, 0, 1)).tolist()  # 0.51 shares 0.5's cell; 5.0 is out
    [0, 2]
    >>> pick_labels(x, y, (0, 1, 0, 1), max_in_view=2) is None
    True
    >>> pick_labels(np.array([]), np.array([]), (0, 1, 0, 1)).tolist()
    []
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x0, x1 = sorted(view[:2])
    y0, y1 = sorted(view[2:])
    inside = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
    if len(inside) > max_in_view:
        return None
    cell = label_cells(x[inside], y[inside], view, cols=cols, rows=rows)
    if taken is not None and len(taken):
        free = ~np.isin(cell, taken)
        inside, cell = inside[free], cell[free]
    _, first = np.unique(cell, return_index=True)
    return inside[np.sort(first)]


def label_cells(x: np.ndarray, y: np.ndarray, view: tuple[float, float, float, float], *,
                cols: int = GRID_COLS, rows: int = GRID_ROWS) -> np.ndarray:
    """The grid cell (``row * cols + col``) of each point in view (see :func:`pick_labels`).

    Examples
    --------
    >>> label_cells(np.array([0.05, 0.95]), np.array([0.05, 0.95]), (0, 1, 0, 1)).tolist()
    [0, 59]
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x0, x1 = sorted(view[:2])
    y0, y1 = sorted(view[2:])
    w, h = max(x1 - x0, 1e-12), max(y1 - y0, 1e-12)
    cx = np.minimum(((x - x0) / w * cols).astype(np.int64), cols - 1)
    cy = np.minimum(((y - y0) / h * rows).astype(np.int64), rows - 1)
    return cy * cols + cx


def district_points(district: np.ndarray, area: np.ndarray, x: np.ndarray,
                    y: np.ndarray) -> pd.DataFrame:
    """One label point per district: that of its largest mahalla (by ``area``).

    Examples
    --------
    >>> district_points(np.array(["A", "A", "B"], dtype=object), np.array([1.0, 3.0, 2.0]),
    ...                 np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0]))
      district    x    y
    0        A  1.0  1.0
    1        B  2.0  2.0
    """
    frame = pd.DataFrame({"district": np.asarray(district, dtype=object),
                          "area": np.nan_to_num(np.asarray(area, dtype=float), nan=-1.0),
                          "x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float)})
    frame = frame[frame["district"].notna() & (frame["district"].astype(str) != "")]
    top = frame.sort_values("area", ascending=False, kind="stable").drop_duplicates("district")
    return top.sort_values("district")[["district", "x", "y"]].reset_index(drop=True)


def tiny_red(width: np.ndarray, red: np.ndarray, area_width: float, *,
             share: float = TINY_SHARE) -> np.ndarray:
    """Mask of the red mahallas narrower than ``share`` of the area's width (sub-pixel).

    Examples
    --------
    >>> tiny_red(np.array([0.001, 0.5, 0.001]), np.array([True, True, False]), 1.0).tolist()
    [True, False, False]
    """
    width = np.asarray(width, dtype=float)
    return np.asarray(red, dtype=bool) & (np.nan_to_num(width, nan=0.0)
                                          < share * max(float(area_width), 0.0))


# ---------------------------------------------------------------------------- the figure
def _statics(model: Any) -> dict[str, Any]:
    """Per model: label points, escaped names, widths and areas of the mahallas."""
    def build() -> dict[str, Any]:
        m = model.mahallas
        geoms = m.geometry.to_numpy()
        pts = shapely.point_on_surface(geoms)
        b = shapely.bounds(geoms)
        return {"x": shapely.get_x(pts), "y": shapely.get_y(pts),
                "name": np.array([html.escape(str(v)) for v in m["name"].astype(object)],
                                 dtype=object),
                "district": m["district"].astype(object).to_numpy(),
                "width": np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]),
                "area": shapely.area(geoms),
                "ids": m["mahalla_id"].astype(str).to_numpy()}
    return _per_model(model, "labels", build)


def _round(v: np.ndarray) -> list[float | None]:
    return [None if not np.isfinite(f) else round(float(f), 6) for f in np.asarray(v, float)]


def add_map_labels(fig: dict[str, Any], data: Any, view: Any,
                   rng: list[float] | None) -> dict[str, Any]:
    """Add the label traces (mahallas, districts) and the small-red markers to ``fig``.

    ``data`` is the page's :class:`~riskmap.app.commanders_data.CommandersData`, ``view`` its
    :class:`~riskmap.app.commanders_data.CommandersView` and ``rng`` the shown
    ``[x0, x1, y0, y1]`` (``None``: the view's area). The label traces carry every candidate
    in ``meta`` so the browser picks again after each pan or zoom (:data:`LABELS_JS`).
    Returns ``fig`` (changed in place); a figure without data (a message) is left alone. A
    MapLibre figure gets the small-red markers only: its base map's tiles carry the names.
    """
    if not fig.get("data"):
        return fig
    model = data.model
    pos = np.asarray(model.mahalla_positions(view.region, view.district), dtype=np.int64)
    supp = model.suppressed_mahallas()
    if len(supp):
        pos = pos[~supp[pos]]
    area = data.area_bounds(view)
    if not len(pos) or area is None:
        return fig
    st = _statics(model)
    status_at = data.status_at(view)
    ids_ = st["ids"][pos]
    status = status_at["status"].reindex(ids_).to_numpy(dtype=object) if len(status_at) \
        else np.full(len(pos), None, dtype=object)
    counts = np.asarray(data.focus_by_mahalla(view))
    count = counts[pos] if len(counts) else np.zeros(len(pos))
    order = pos[label_order(status, count, first=ids_ == (view.mahalla or "\0"))]
    status_by_pos = dict(zip(pos.tolist(), status.tolist(), strict=True))
    x, y, names = st["x"][order], st["y"][order], st["name"][order]
    red = np.array([status_by_pos.get(p) in ("red", "newly red") for p in order.tolist()])
    tiny = tiny_red(st["width"][order], red, area[2] - area[0])
    maplibre = is_maplibre(fig)
    if tiny.any():
        marks = {
            "type": "scatter", "x": _round(x[tiny]), "y": _round(y[tiny]), "mode": "markers",
            "marker": {"size": 8, "color": "#e31a1c", "symbol": "circle",
                       "line": {"color": "#67000d", "width": 1.5}},
            "customdata": st["ids"][order][tiny].tolist(), "text": names[tiny].tolist(),
            "hovertemplate": "%{text}<extra></extra>",
            "name": _("Red mahalla (too small to see)"), "showlegend": True,
            "legendrank": 998, "meta": {"kind": "tiny-red", "n": int(tiny.sum())}}
        fig["data"].append(as_maplibre(marks) if maplibre else marks)
    if maplibre:  # the base map's tiles carry the names, placed by MapLibre as it zooms
        return fig
    dist = district_points(st["district"][pos], st["area"][pos], st["x"][pos], st["y"][pos])
    dnames = np.array([html.escape(str(d)) for d in dist["district"]], dtype=object)
    shown = rng if rng else [area[0], area[2], area[1], area[3]]
    picked = pick_labels(x, y, tuple(shown))
    dpick = _district_and_place_labels(fig, dist, tuple(shown), zoomed_out=picked is None)
    picked = np.empty(0, np.int64) if picked is None else picked
    meta = {"kind": "labels", "max_in_view": MAX_IN_VIEW, "cols": GRID_COLS, "rows": GRID_ROWS,
            "cx": _round(x), "cy": _round(y), "ct": names.tolist(),
            "dx": _round(dist["x"].to_numpy()), "dy": _round(dist["y"].to_numpy()),
            "dt": dnames.tolist()}
    fig["data"].append({
        "type": "scatter", "mode": "text", "x": _round(dist["x"].to_numpy()[dpick]),
        "y": _round(dist["y"].to_numpy()[dpick]), "text": dnames[dpick].tolist(),
        "textfont": {"size": 13, "color": "#1a1a1a"}, "hoverinfo": "skip",
        "showlegend": False, "name": "districts", "meta": {"kind": "district-labels"}})
    fig["data"].append({
        "type": "scatter", "mode": "text", "x": _round(x[picked]), "y": _round(y[picked]),
        "text": names[picked].tolist(), "textfont": {"size": 11, "color": "#1a1a1a"},
        "hoverinfo": "skip", "showlegend": False, "name": "labels", "meta": meta})
    return fig


def _district_and_place_labels(fig: dict[str, Any], dist: pd.DataFrame,
                               shown: tuple[float, float, float, float], *,
                               zoomed_out: bool) -> np.ndarray:
    """District names and the base map's named places (the ``base-place`` trace) when zoomed
    out; neither while mahalla names show. The major places (cities) claim their grid cells
    first, then the district names, then the other places the cells left free. Returns the
    district labels picked; sets the places trace to those picked and keeps all of them in
    its ``meta`` for the browser's pick (:data:`LABELS_JS`)."""
    none = np.empty(0, np.int64)
    trace = next((t for t in fig["data"] if (t.get("meta") or {}).get("kind") == "base-place"),
                 None)
    if trace is not None and "pt" not in trace["meta"]:
        trace["meta"].update(px=_round(np.asarray(trace["x"], dtype=float)),
                             py=_round(np.asarray(trace["y"], dtype=float)),
                             pt=list(trace["text"]))
    if not zoomed_out:
        if trace is not None:
            trace["x"], trace["y"], trace["text"] = [], [], []
        return none
    dx, dy = dist["x"].to_numpy(dtype=float), dist["y"].to_numpy(dtype=float)
    if trace is None:
        return pick_labels(dx, dy, shown, max_in_view=10**9)
    meta = trace["meta"]
    px, py = np.array(meta["px"], dtype=float), np.array(meta["py"], dtype=float)
    nm = int(meta.get("major", 0))
    first = pick_labels(px[:nm], py[:nm], shown, max_in_view=10**9)
    taken = label_cells(px[first], py[first], shown)
    dpick = pick_labels(dx, dy, shown, max_in_view=10**9, taken=taken)
    taken = np.concatenate([taken, label_cells(dx[dpick], dy[dpick], shown)])
    rest = nm + pick_labels(px[nm:], py[nm:], shown, max_in_view=10**9, taken=taken)
    got = np.concatenate([first, rest]).astype(np.int64)
    trace["x"], trace["y"] = _round(px[got]), _round(py[got])
    trace["text"] = [meta["pt"][i] for i in got.tolist()]
    return dpick


#: the clientside callback (inputs: the map's figure and the reported ranges): binds, once per
#: map, a handler that picks the labels again (the rule of :func:`pick_labels`) after every
#: plot and relayout, and restyles the two label traces only when their text changes
LABELS_JS = """
function(_figure, _range) {
    const gd = document.querySelector("#MAP_ID .js-plotly-plot");
    if (!gd || !window.Plotly) { return window.dash_clientside.no_update; }
    const pick = function(xs, ys, v, limit, cols, rows, taken) {
        const x0 = Math.min(v[0], v[1]), x1 = Math.max(v[0], v[1]);
        const y0 = Math.min(v[2], v[3]), y1 = Math.max(v[2], v[3]);
        const w = Math.max(x1 - x0, 1e-12), h = Math.max(y1 - y0, 1e-12);
        const inside = [];
        for (let i = 0; i < xs.length; i++) {
            const x = xs[i], y = ys[i];
            if (x !== null && y !== null && x >= x0 && x <= x1 && y >= y0 && y <= y1) {
                inside.push(i);
            }
        }
        if (inside.length > limit) { return null; }
        const seen = taken || new Set(), out = [];
        for (const i of inside) {
            const cx = Math.min(Math.floor((xs[i] - x0) / w * cols), cols - 1);
            const cy = Math.min(Math.floor((ys[i] - y0) / h * rows), rows - 1);
            const cell = cy * cols + cx;
            if (!seen.has(cell)) { seen.add(cell); out.push(i); }
        }
        return out;
    };
    const update = function() {
        const full = gd._fullLayout;
        if (!gd.data || !full || !full.xaxis || !full.yaxis) { return; }
        const li = gd.data.findIndex(t => t.meta && t.meta.kind === "labels");
        const di = gd.data.findIndex(t => t.meta && t.meta.kind === "district-labels");
        const pi = gd.data.findIndex(t => t.meta && t.meta.kind === "base-place");
        if (li < 0 || di < 0) { return; }
        const m = gd.data[li].meta, pm = pi >= 0 ? gd.data[pi].meta : null;
        const v = [...full.xaxis.range, ...full.yaxis.range];
        let got = pick(m.cx, m.cy, v, m.max_in_view, m.cols, m.rows);
        let dgot = [], pgot = [];
        if (got === null) {  // zoomed out: cities, district names, then the other places
            got = [];
            const taken = new Set();
            if (pm && pm.pt) {
                const nm = pm.major || 0;
                pgot = pick(pm.px.slice(0, nm), pm.py.slice(0, nm), v, Infinity, m.cols,
                            m.rows, taken);
            }
            dgot = pick(m.dx, m.dy, v, Infinity, m.cols, m.rows, taken);
            if (pm && pm.pt) {
                const nm = pm.major || 0;
                const rest = pick(pm.px.slice(nm), pm.py.slice(nm), v, Infinity, m.cols,
                                  m.rows, taken);
                pgot = pgot.concat(rest.map(i => i + nm));
            }
        }
        const text = got.map(i => m.ct[i]), dtext = dgot.map(i => m.dt[i]);
        const ptext = pm && pm.pt ? pgot.map(i => pm.pt[i]) : [];
        const same = (a, b) => a.length === (b || []).length && a.every((t, k) => t === b[k]);
        if (same(text, gd.data[li].text) && same(dtext, gd.data[di].text)
            && (pi < 0 || same(ptext, gd.data[pi].text))) { return; }
        const upd = {x: [got.map(i => m.cx[i]), dgot.map(i => m.dx[i])],
                     y: [got.map(i => m.cy[i]), dgot.map(i => m.dy[i])],
                     text: [text, dtext]};
        const idx = [li, di];
        if (pi >= 0 && pm && pm.pt) {
            upd.x.push(pgot.map(i => pm.px[i]));
            upd.y.push(pgot.map(i => pm.py[i]));
            upd.text.push(ptext);
            idx.push(pi);
        }
        window.Plotly.restyle(gd, upd, idx);
    };
    if (gd.on && gd._ev && gd.__riskmapEvents !== gd._ev) {  // once per plotly emitter
        gd.__riskmapEvents = gd._ev;
        {
            gd.on("plotly_relayout", () => setTimeout(update, 0));
            gd.on("plotly_afterplot", () => setTimeout(update, 0));
        }
    }
    setTimeout(update, 0);
    return window.dash_clientside.no_update;
}
"""
