"""Data behind the commanders' page: metric units, status, red list, mahalla panel, KDE, evaluation.

A :class:`CommandersData` wraps the app's :class:`app.data.AppModel` (one per app): counts come
from the model's cached integer codes (a mask plus ``np.bincount``), Gi* from
:func:`geo.hotspots.gi_star_z` over cached contiguity matrices, and the derived layers of
``riskmap build`` (``hotspots_h3``, ``hotspots_mahalla``, ``mahalla_status``, ``kde_surface``)
are read once through :class:`layers.access.DataAccess` (audited, purpose ``"app"``). When a
derived layer is missing it is computed from the model with :mod:`etl.hotspots_job`.

A :class:`CommandersView` is what the page shows; it round-trips through the URL query string.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

import geopandas as gpd
import shapely

from riskmap.app.data import AppModel, ViewQuery, resolve
from riskmap.app.figures_commanders import METRICS, RingIndex, ring_index
from riskmap.app.map_canvas import unit_geometries
from riskmap.app.urlstate import (
    encode_params,
    parse_focus,
    parse_list,
    parse_text,
    parse_window,
    search_string,
)
from riskmap.geo.basemap import (
    PLACE_KINDS,
    RIVER_KINDS,
    WATER_KINDS,
    BaseMap,
    base_map,
    group_outlines,
    tile_layers,
)
from riskmap.geo.focus import FOCUS_FIELDS, focus_bits, group_mask
from riskmap.geo.h3index import cell_centers
from riskmap.geo.hotspots import (
    CENTRE_RULE_FROM,
    benjamini_hochberg,
    classify_gi,
    gi_star_z,
    h3_weights,
    mahalla_weights,
    two_sided_p,
)
from riskmap.geo.surface import Surface, display_grid
from riskmap.geo.tiles import TileSource

__all__ = [
    "EVAL_HORIZON_DAYS",
    "EVAL_REPLICATES",
    "EVAL_TUNE_FOLDS",
    "LAYERS",
    "CommandersData",
    "CommandersView",
    "RequestData",
    "Viewport",
    "data_for",
    "month_starts",
]

#: optional map layers
LAYERS = ("kde", "cameras", "infrastructure")
_INCIDENT_LIST_COLUMNS = ["incident_id", "occurred_at", "category", "geocode_precision", "flags"]
_REGISTRY: dict[int, CommandersData] = {}
_REGISTRY_LOCK = threading.Lock()
#: the forecast check: test window after the cut-off, inner folds of the tuning, resamples
EVAL_HORIZON_DAYS = 28
EVAL_TUNE_FOLDS = 6
EVAL_REPLICATES = 300
_EVAL_COLUMNS = ["method", "coverage", "hit_rate", "pai", "pei", "area_share", "hit_rate_lo",
                 "hit_rate_hi", "pai_lo", "pai_hi", "pei_lo", "pei_hi", "params"]
#: one forecast evaluation at a time per process (they are CPU-bound; the page polls)
_EVAL_SLOT = threading.Lock()
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Viewport:
    """The H3 resolution shown and the lon/lat extent drawn (``None``: everything)."""

    res: int = 7
    extent: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class CommandersView:
    """The state of the commanders' page (all optional; defaults are the full picture).

    Parameters
    ----------
    level
        ``"mahalla"`` or ``"h3"`` (resolution follows the zoom).
    metric
        One of :data:`app.figures_commanders.METRICS`.
    region, district
        Area filter.
    start, end
        First and last local day.
    categories
        Categories kept (empty: all).
    layers
        Optional layers shown (:data:`LAYERS`).
    mahalla
        The mahalla whose side panel is open.
    focus
        Keep only the incidents of one focus group (:data:`riskmap.geo.focus.FOCUS_GROUPS`);
        ``None``: all.
    """

    level: str = "mahalla"
    metric: str = "count"
    region: str | None = None
    district: str | None = None
    start: date | None = None
    end: date | None = None
    categories: tuple[str, ...] = ()
    layers: tuple[str, ...] = ()
    mahalla: str | None = None
    focus: str | None = None

    def query(self, res: int | None = None) -> ViewQuery:
        """The model's :class:`ViewQuery` (``res`` for the H3 level, default 9; the coarser
        cells a zoomed-out map draws filter as res 7: the filters do not depend on it)."""
        level = "mahalla" if self.level == "mahalla" else f"h3_{min(max(res or 9, 7), 9)}"
        return ViewQuery(level=level, region=self.region, district=self.district,
                         start=self.start, end=self.end, categories=self.categories,
                         focus=self.focus)

    def to_params(self) -> dict[str, str]:
        """Non-default fields as URL query parameters."""
        return encode_params([
            ("level", None if self.level == "mahalla" else self.level),
            ("metric", None if self.metric == "count" else self.metric),
            ("region", self.region), ("district", self.district), ("mahalla", self.mahalla),
            ("start", self.start), ("end", self.end),
            ("categories", self.categories), ("layers", self.layers),
            ("focus", self.focus),
        ])

    def to_search(self) -> str:
        """The URL query string (``""`` for the default view)."""
        return search_string(self.to_params())

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CommandersView:
        """Parse URL query parameters leniently (bad values fall back to defaults).

        Examples
        --------
        >>> CommandersView.from_params({"level": "h3", "metric": "bogus", "layers": "kde,x"})
        ... # doctest: +NORMALIZE_WHITESPACE
        CommandersView(level='h3', metric='count', region=None, district=None, start=None,
                       end=None, categories=(), layers=('kde',), mahalla=None, focus=None)
        """
        start, end = parse_window(params)
        metric = str(params.get("metric") or "count")
        return cls(
            level="h3" if params.get("level") == "h3" else "mahalla",
            metric=metric if metric in METRICS else "count",
            region=parse_text(params, "region"),
            district=parse_text(params, "district"),
            start=start, end=end,
            categories=parse_list(params.get("categories")),
            layers=tuple(x for x in parse_list(params.get("layers")) if x in LAYERS),
            mahalla=parse_text(params, "mahalla"),
            focus=parse_focus(params),
        )


def month_starts(first: date | None, last: date | None) -> list[date]:
    """First day of every month from ``first``'s month to ``last``'s month.

    Examples
    --------
    >>> month_starts(date(2025, 1, 15), date(2025, 3, 2))
    [datetime.date(2025, 1, 1), datetime.date(2025, 2, 1), datetime.date(2025, 3, 1)]
    >>> month_starts(None, None)
    []
    """
    if first is None or last is None:
        return []
    idx = pd.period_range(pd.Period(first, "M"), pd.Period(last, "M"), freq="M")
    return [p.start_time.date() for p in idx]


class RequestData:
    """Stands for the :class:`CommandersData` of the current request's scope (and data
    version): callbacks registered once per app hold this, never one scope's data."""

    def __init__(self, model: AppModel) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(data_for(self._model), name)


def data_for(model: AppModel) -> CommandersData:
    """The (one, cached) :class:`CommandersData` of ``model`` (of the request's scope)."""
    model = resolve(model)
    with _REGISTRY_LOCK:
        got = _REGISTRY.get(id(model))
        model.load()  # notices new data in the store (see AppModel._stale)
        if got is None or got.model is not model or got.generation != model.generation:
            got = _REGISTRY[id(model)] = CommandersData(model)
        return got


#: callback answers kept per scope and data generation (:meth:`CommandersData.answer`)
ANSWERS_KEPT = 24


#: infrastructure kinds the base map draws
BASE_KINDS = sorted(WATER_KINDS | RIVER_KINDS | PLACE_KINDS | {"road"})
#: the base map's lines are simplified to this many degrees (about 50 m)
BASE_TOLERANCE = 0.0005
#: the MapLibre map's mahalla polygons are simplified to this many degrees (about 5 m)
MAHALLA_TOLERANCE = 0.00005
_POPULATION_KEYS = ("population", "pop_max", "pop_est", "pop", "aholi", "население")


def _kinds(layer: pd.DataFrame) -> pd.Series:
    """The infrastructure layer's ``kind`` in lower case ("" when missing)."""
    return layer["kind"].astype(object).fillna("").astype(str).str.lower()


def _population(attrs: object) -> float:
    """A place's population from its other properties (JSON; NaN when it has none)."""
    if not isinstance(attrs, str) or not attrs:
        return float("nan")
    try:
        got = json.loads(attrs)
    except ValueError:
        return float("nan")
    if not isinstance(got, dict):
        return float("nan")
    lower = {str(k).lower(): v for k, v in got.items()}
    for key in _POPULATION_KEYS:
        try:
            value = float(lower[key])
        except (KeyError, TypeError, ValueError):
            continue
        if np.isfinite(value):
            return value
    return float("nan")


class CommandersData:
    """Cached queries of the commanders' page over an :class:`AppModel`.

    Parameters
    ----------
    model
        The app's model (incidents and mahallas as integer codes).
    background
        Warm the H3 caches of an area in a background thread after its first map
        (:meth:`warm`).
    """

    def __init__(self, model: AppModel, *, background: bool = True) -> None:
        self.model = model
        self.generation = model.generation
        self.background = background
        self._lock = threading.RLock()
        self._key_locks: dict[Any, threading.Lock] = {}
        self._cache: dict[Any, Any] = {}
        self._lru: OrderedDict[Any, Any] = OrderedDict()
        self._answers: OrderedDict[Any, Any] = OrderedDict()
        self._answer_locks: dict[Any, threading.Lock] = {}

    # ---- small helpers ------------------------------------------------------------------
    def _cached(self, key: Any, build: Any) -> Any:
        """``build()`` once per key; concurrent callers of the same key wait for it."""
        got = self._cache.get(key)
        if got is None:
            with self._lock:
                key_lock = self._key_locks.setdefault(key, threading.Lock())
            with key_lock:
                got = self._cache.get(key)
                if got is None:
                    got = self._cache[key] = build()
        return got

    def _remember(self, key: Any, value: Any, size: int = 16) -> None:
        """Keep ``value`` in the small LRU cache (incident lists, live KDE surfaces)."""
        with self._lock:
            self._lru[key] = value
            self._lru.move_to_end(key)
            while len(self._lru) > size:
                self._lru.popitem(last=False)

    def answer(self, key: Any, build: Any, size: int = ANSWERS_KEPT) -> Any:
        """A callback's whole answer for ``key``, built once and shared (the last ``size``).

        The users of one scope open the same default view (and autosize to the same viewport):
        when fifty of them log in at once, one draws the map and the others wait for it
        instead of drawing it again. ``key`` must hold everything the answer depends on
        besides this scope and data generation (the view, viewport, language, ...); the
        answer must not be changed by the caller. Each caller still audits its own view.
        """
        with self._lock:
            if key in self._answers:
                self._answers.move_to_end(key)
                return self._answers[key]
            lock = self._answer_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._answers:
                    return self._answers[key]
            try:
                got = build()
                with self._lock:
                    self._answers[key] = got
                    while len(self._answers) > size:
                        self._answers.popitem(last=False)
            finally:
                with self._lock:
                    self._answer_locks.pop(key, None)
        return got

    def warm(self, view: CommandersView, resolutions: tuple[int, ...] = (7, 8, 9), *,
             maplibre: bool = False) -> None:
        """Prepare the H3 caches of the view's area (cells, shapes, contiguity) in the background.

        The first map at a resolution otherwise pays for them (seconds on 1M incidents; the
        GeoJSON of every cell at resolution 9 of the medium demo, 0.8 s). ``maplibre``: the
        cells' GeoJSON (the app's map), else their rings (a map on lon/lat axes). Runs once
        per area in a daemon thread; does nothing when ``background`` is off.
        """
        key = ("warm", *self._area(view))
        if not self.background or key in self._cache:
            return
        self._cache[key] = True

        def run() -> None:
            for res in resolutions:
                self._universe(view, res)
                if maplibre:
                    self.cell_geometries(res)
                else:
                    self.cell_rings(res)

        threading.Thread(target=run, name="commanders-warm", daemon=True).start()

    def _layer(self, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
        """A derived layer read once through DataAccess (``None`` when the store lacks it)."""
        def read() -> Any:
            access = self.model.access
            if not access.store.has(name):
                return False
            try:
                return access.read(name, columns=columns, purpose="app")
            except PermissionError:  # not region-scoped (e.g. the KDE): computed live instead
                return False
        got = self._cached(("layer", name, tuple(columns) if columns else None), read)
        return None if got is False else got

    def months(self) -> list[date]:
        """Month starts (local) from the first to the last incident (once per data version)."""
        return list(self._cached("months", lambda: month_starts(*self.model.date_bounds())))

    def mahalla_index(self) -> pd.Index:
        """Positions of the mahalla ids in ``model.mahallas``."""
        return self._cached("mindex", lambda: pd.Index(
            self.model.mahallas["mahalla_id"].astype(object).to_numpy()))

    def _positions(self, view: CommandersView) -> np.ndarray:
        return self.model.mahalla_positions(view.region, view.district)

    def _area(self, view: CommandersView) -> tuple[str | None, str | None]:
        """The view's (region, district) as a cache key: names the data does not know (a
        crafted request can send any) share one key, so caches stay bounded by the data."""
        regions, districts = self._cached("area_names", lambda: (
            set(self.model.mahallas["region"].dropna().astype(str)),
            set(self.model.mahallas["district"].dropna().astype(str))))
        unknown = "\0unknown"
        return (view.region if view.region is None or view.region in regions else unknown,
                view.district if view.district is None or view.district in districts
                else unknown)

    # ---- the map ------------------------------------------------------------------------
    def mahalla_units(self, view: CommandersView) -> pd.DataFrame:
        """Mahallas of the view with ``count, rate, gi_z, gi_class, trend, status, why``, the
        ``x``/``y`` label points and ``pos`` (the position in ``model.mahallas``, whose cached
        rings the map draws: no polygons here, a GeoDataFrame costs more than the counts)."""
        units = self.model.table(replace(view, level="mahalla").query()).reset_index(drop=True)
        units["rate"] = units["rate_per_1000"]
        pos = self.mahalla_index().get_indexer(units["mahalla_id"].astype(object).to_numpy())
        units["pos"] = pos
        area = self._area(view)

        def sliced() -> Any:  # the contiguity of the area's mahallas, once per area
            adj = self._cached("mahalla_adj",
                               lambda: mahalla_weights(self.model.mahallas).sparse)
            return sp.csr_matrix(adj[pos][:, pos])
        adj = self._cached(("mahalla_adj", *area), sliced)
        if adj.shape[0] != len(pos):  # (never: the area's mahallas are fixed per load)
            adj = sliced()
        z, cls = _gi(units["count"].to_numpy(dtype=float), adj)
        units["gi_z"] = z
        units["gi_class"] = cls
        trend = self._cached("trend_by_pos", self._trend_by_position)
        units["trend"] = trend[pos] if trend is not None else None
        status, why = self._status_by_position(view)
        units["status"] = status[pos]
        units["why"] = why[pos]
        return units

    def _trend_by_position(self) -> np.ndarray | bool:
        """The mahallas' trend class, aligned with ``model.mahallas`` (None where unknown)."""
        trend = self._trend_lookup("mahalla", None)
        if trend is None:
            return np.full(len(self.mahalla_index()), None, dtype=object)
        trend = trend[~trend.index.duplicated(keep="last")]
        return trend.reindex(self.mahalla_index()).astype(object).to_numpy(na_value=None)

    def _status_by_position(self, view: CommandersView) -> tuple[np.ndarray, np.ndarray]:
        """``status`` and ``why`` at the view's last month, aligned with ``model.mahallas``."""
        month = self._status_month(view)

        def build() -> tuple[np.ndarray, np.ndarray]:
            cur = self.status_at(view)
            cur = cur[~cur.index.duplicated(keep="last")]
            index = self.mahalla_index()
            return (cur["status"].reindex(index).astype(object).to_numpy(na_value=None),
                    cur["why"].reindex(index).astype(object).to_numpy(na_value=None))
        return self._cached(("status_by_pos", month), build)

    def h3_units(self, view: CommandersView, viewport: Viewport) -> gpd.GeoDataFrame:
        """Cells of the view at ``viewport.res`` inside its extent, with the metric columns.

        The Gi* universe is every cell at that resolution with at least one incident in the
        region/district (any date or category), so zero cells of the selection take part.
        """
        res = viewport.res
        universe = self._universe(view, res)
        counts_all = self._cell_counts(view, res)
        cells, upos, adj = universe
        shown, hidden, count_text = self.model.hide(counts_all[upos],
                                                    self.model.cell_suppressed(res)[upos])
        y = shown.astype(float)
        z, cls = _gi(y, adj)
        polys, cx, cy, hexes = self.model.cell_shapes(res)
        frame = pd.DataFrame({"h3": cells, "h3_hex": hexes[upos], "count": y.astype(np.int64),
                              "count_text": count_text, "suppressed": hidden,
                              "gi_z": z, "gi_class": cls, "pos": upos})
        total = frame["count"].sum()
        frame["share"] = frame["count"] * 100.0 / total if total else 0.0
        frame["rate"] = np.nan
        trend = self._trend_lookup("h3", res)
        if trend is not None and len(trend):
            got = frame["h3"].map(trend).to_numpy(dtype=object, copy=True)
            # the build leaves out the study cells with nothing to show (no count in the
            # window, not significant, no pattern): such a cell has no pattern, not "n/a"
            got[pd.isna(got) & self._study_mask(res)[upos]] = "no_pattern"
            frame["trend"] = got
        else:  # no layer, or one built without this resolution: unknown
            frame["trend"] = None
        frame["status"] = None
        frame["x"], frame["y"] = cx[upos], cy[upos]
        out = gpd.GeoDataFrame(frame, geometry=polys[upos], crs="EPSG:4326")
        show = ((out["count"] > 0).to_numpy(copy=True) if view.metric == "count"
                else np.ones(len(out), bool))
        if viewport.extent is not None:
            x0, y0, x1, y1 = viewport.extent
            show &= ((out["x"] >= x0) & (out["x"] <= x1) & (out["y"] >= y0)
                     & (out["y"] <= y1)).to_numpy()
        return out[show].reset_index(drop=True)

    def h3_resolution(self, view: CommandersView, chosen: int,
                      extent: tuple[float, float, float, float] | None, limit: int) -> int:
        """The finest resolution from ``chosen`` down to :data:`app.h3_view.MIN_RES` at which
        :meth:`h3_units` would draw at most ``limit`` cells in ``extent`` (a country at res 7
        is 42,000 cells, a 17 MB figure no browser without a GPU draws in time). Cells are
        counted from their centres, before any polygon is made."""
        from riskmap.app.h3_view import MIN_RES

        for res in range(int(chosen), MIN_RES - 1, -1):
            if self._h3_count(view, res, extent) <= limit:
                return res
        return MIN_RES

    def _h3_count(self, view: CommandersView, res: int,
                  extent: tuple[float, float, float, float] | None) -> int:
        """How many cells :meth:`h3_units` draws at ``res`` (with incidents of the view's
        filters for ``count``; every cell of the area's universe otherwise)."""
        _, upos = self._present(view, res)
        if view.metric == "count":
            upos = upos[self._cell_counts(view, res)[upos] > 0]
        if extent is None:
            return int(upos.size)
        cx, cy = self._centres(res)
        x0, y0, x1, y1 = extent
        x, y = cx[upos], cy[upos]
        return int(np.count_nonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)))

    def _cell_counts(self, view: CommandersView, res: int) -> np.ndarray:
        """Incidents of the view's filters in every cell at ``res`` (``model.cells(res)``
        order), those of regions seen suppressed included (their small counts are hidden
        later)."""
        q = view.query(res)
        uniq, codes = self.model.cells(res)
        counts = np.bincount(codes[self.model.mask(q) & (codes >= 0)], minlength=len(uniq))
        scodes = self.model.suppressed_cells(res)
        if len(scodes):
            skeep = self.model.mask(q, suppressed=True) & (scodes >= 0)
            counts = counts + np.bincount(scodes[skeep], minlength=len(uniq))
        return counts

    def _centres(self, res: int) -> tuple[np.ndarray, np.ndarray]:
        """Centre lon/lat of every cell at ``res`` (aligned with ``model.cells(res)``)."""
        return self._cached(("centres", res), lambda: cell_centers(self.model.cells(res)[0]))

    def _present(self, view: CommandersView, res: int) -> tuple[np.ndarray, np.ndarray]:
        """Cells at ``res`` with any incident of the view's area, and their positions."""
        def build() -> tuple[np.ndarray, np.ndarray]:
            uniq, codes = self.model.cells(res)
            area = self.model.mask(ViewQuery(region=view.region, district=view.district))
            present = np.bincount(codes[area & (codes >= 0)], minlength=len(uniq)) > 0
            scodes = self.model.suppressed_cells(res)
            if len(scodes):
                sarea = self.model.mask(ViewQuery(region=view.region, district=view.district),
                                        suppressed=True) & (scodes >= 0)
                present |= np.bincount(scodes[sarea], minlength=len(uniq)) > 0
            upos = np.flatnonzero(present)
            return uniq[upos], upos
        return self._cached(("present", res, *self._area(view)), build)

    def _universe(self, view: CommandersView, res: int) -> tuple[np.ndarray, np.ndarray, Any]:
        def build() -> tuple[np.ndarray, np.ndarray, Any]:
            cells, upos = self._present(view, res)
            return cells, upos, h3_weights(cells).sparse
        return self._cached(("universe", res, *self._area(view)), build)

    def _study_mask(self, res: int) -> np.ndarray:
        """Whether each of the model's cells at ``res`` is a study cell of the hot-spot layers
        (:func:`geo.hotspots.study_cells`: from ``CENTRE_RULE_FROM`` on, its centre lies in a
        mahalla; coarser, it meets one, as every cell holding an incident does)."""
        def build() -> np.ndarray:
            _, cx, cy, _ = self.model.cell_shapes(res)
            if res < CENTRE_RULE_FROM:
                return np.ones(len(cx), dtype=bool)
            geoms = self.model.mahallas.geometry.to_numpy()
            geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
            inside = np.zeros(len(cx), dtype=bool)
            if len(geoms) and len(cx):
                hit = shapely.STRtree(geoms).query(shapely.points(cx, cy),
                                                   predicate="intersects")
                inside[hit[0]] = True
            return inside
        return self._cached(("study", res), build)

    def _trend_lookup(self, level: str, res: int | None) -> pd.Series | None:
        if level == "mahalla":
            layer = self._layer("hotspots_mahalla", ["mahalla_id", "trend"])
            if layer is None or "trend" not in layer:
                return None
            return pd.Series(layer["trend"].astype(object).to_numpy(),
                             index=layer["mahalla_id"].astype(object).to_numpy())
        layer = self._layer("hotspots_h3", ["h3", "res", "trend"])
        if layer is None or "trend" not in layer:
            return None
        sel = layer[layer["res"].to_numpy() == res] if "res" in layer else layer
        return pd.Series(sel["trend"].astype(object).to_numpy(),
                         index=sel["h3"].to_numpy(dtype=np.int64))

    def base_map(self, view: CommandersView) -> np.ndarray:
        """Mahalla polygons of the view's area."""
        return self.model.mahallas.geometry.to_numpy()[self._positions(view)]

    def area_bounds(self, view: CommandersView) -> tuple[float, float, float, float] | None:
        """Lon/lat bounds of the view's mahallas (``None`` when there are none)."""
        def build() -> Any:
            base = self.base_map(view)
            return tuple(float(v) for v in shapely.total_bounds(base)) if len(base) else False
        got = self._cached(("bounds", *self._area(view)), build)
        return None if got is False else got

    def mahalla_rings(self) -> RingIndex:
        """Flattened rings of every mahalla (cached)."""
        return self._cached("mrings", lambda: ring_index(self.model.mahallas.geometry.to_numpy()))

    def cell_rings(self, res: int) -> RingIndex:
        """Flattened rings of every cell at ``res`` (aligned with the model's cells)."""
        return self._cached(("crings", res), lambda: ring_index(self.model.cell_shapes(res)[0]))

    def mahalla_geometries(self) -> np.ndarray:
        """GeoJSON geometry of every mahalla for the MapLibre map, simplified to about 5 m
        (:func:`app.map_canvas.unit_geometries`; cached, aligned with the model's
        mahallas)."""
        return self._cached("mgeojson", lambda: unit_geometries(
            self.model.mahallas.geometry.to_numpy(), MAHALLA_TOLERANCE))

    def cell_geometries(self, res: int) -> np.ndarray:
        """GeoJSON geometry of every cell at ``res`` (aligned with the model's cells)."""
        return self._cached(("cgeojson", res),
                            lambda: unit_geometries(self.model.cell_shapes(res)[0]))

    def base_rings(self, view: CommandersView,
                   extent: tuple[float, float, float, float] | None = None) -> RingIndex:
        """Rings of the mahallas of the view's area (cached per area); with ``extent``
        ``(x0, y0, x1, y1)``, only of those whose bounding box meets it (a zoomed-in map
        outlines what is near, not the whole area: each outline costs the browser a redraw)."""
        if extent is None:
            return self._cached(("brings", *self._area(view)),
                                lambda: self.mahalla_rings().take(self._positions(view)))
        pos = self._positions(view)
        b = self._cached("mbounds", lambda: shapely.bounds(
            self.model.mahallas.geometry.to_numpy()))[pos]
        near = (b[:, 0] <= extent[2]) & (b[:, 2] >= extent[0]) & (b[:, 1] <= extent[3]) & (
            b[:, 3] >= extent[1])
        return self.mahalla_rings().take(pos[near])

    def highlight_rings(self, mahalla_ids: list[str]) -> RingIndex:
        """Rings of the given mahallas (unknown ids are skipped)."""
        pos = self.mahalla_index().get_indexer(list(mahalla_ids))
        return self.mahalla_rings().take(pos[pos >= 0])

    def mahalla_at(self, x: float, y: float) -> str | None:
        """Id of the mahalla containing the point (``None`` outside every mahalla)."""
        geoms = self.model.mahallas.geometry.to_numpy()
        tree = self._cached("tree", lambda: shapely.STRtree(geoms))
        hits = tree.query(shapely.Point(x, y), predicate="intersects")
        if len(hits) == 0:
            return None
        return str(self.model.mahallas["mahalla_id"].iloc[int(np.min(hits))])

    # ---- status and the red list --------------------------------------------------------
    def status_history(self) -> pd.DataFrame:
        """The ``mahalla_status`` layer, or the history computed from the model."""
        def build() -> pd.DataFrame:
            layer = self._layer("mahalla_status")
            if layer is not None and len(layer):
                h = layer.copy()
            else:
                from riskmap.etl.hotspots_job import status_history_frame

                first, last = self.model.date_bounds()
                if first is None:
                    return pd.DataFrame(columns=["mahalla_id", "month", "status", "why",
                                                 "count", "rate_per_1000", "gi_z", "gi_class"])
                own = self.model.mahallas[~self.model.suppressed_mahallas()]  # no status
                h = status_history_frame(self._incident_frame(), own,  # of suppressed ones
                                         start=pd.Timestamp(first), end=pd.Timestamp(last))
            h["month"] = pd.to_datetime(h["month"], utc=True)
            h["mahalla_id"] = h["mahalla_id"].astype(object)
            return h.sort_values(["month", "mahalla_id"]).reset_index(drop=True)
        return self._cached("status", build)

    def _status_month(self, view: CommandersView) -> pd.Timestamp | None:
        months = self._cached("status_months", lambda: pd.DatetimeIndex(
            self.status_history()["month"].unique()).sort_values())
        if months.empty:
            return None
        if view.end is None:
            return months[-1]
        want = pd.Timestamp(view.end.replace(day=1), tz="UTC")
        ok = months[months <= want]
        return ok[-1] if len(ok) else months[0]

    def status_at(self, view: CommandersView) -> pd.DataFrame:
        """``status`` and ``why`` per mahalla id at the view's last month."""
        month = self._status_month(view)
        if month is None:
            return pd.DataFrame({"status": [], "why": []}, dtype=object)

        def build() -> pd.DataFrame:
            h = self.status_history()
            cur = h[h["month"] == month]
            return pd.DataFrame({"status": cur["status"].astype(object).to_numpy(),
                                 "why": cur["why"].astype(object).to_numpy()},
                                index=cur["mahalla_id"].to_numpy())

        # a copy: callers add columns; the month's rows are found once per data version
        return self._cached(("status_at", month), build).copy()

    def red_list(self, view: CommandersView, *, exact: bool = True) -> pd.DataFrame:
        """Red mahallas of the view's area at its last month; ``newly red`` when not red before.

        With a focus group (``view.focus``) each row also has ``focus`` (the mahalla's
        incidents of that group in the view's window and categories; ``"< 5"`` where hidden:
        ``exact=False`` or a region seen suppressed) and ``focus_count`` (0 where hidden), and
        the rows go by it (descending) after the newly red.

        Returns
        -------
        pandas.DataFrame
            ``id, mahalla_id, name, district, status ("red" | "newly red"), count,
            rate_per_1000, gi_z, why``, the newly red first, then by count (descending).
        """
        month = self._status_month(view)
        cols = ["id", "mahalla_id", "name", "district", "status", "count", "rate_per_1000",
                "gi_z", "why"]
        if month is None:
            out = pd.DataFrame(columns=cols)
        else:
            # one list per area and month (a few hundred at most), shared by every request
            out = self._cached(("red", *self._area(view), month),
                               lambda: self._red_list(view, month)).copy()
        return self._with_focus(out, view, exact) if view.focus else out

    def focus_by_mahalla(self, view: CommandersView) -> np.ndarray:
        """Incidents of the view's focus group (window and categories) per position in
        ``model.mahallas`` (all incidents when the view has no focus)."""
        d = self.model.codes()
        keep = self.model.mask(replace(view, level="mahalla", region=None,
                                       district=None).query())
        keep &= d.mahalla_code >= 0
        return np.bincount(d.mahalla_code[keep], minlength=len(self.mahalla_index()))

    def _with_focus(self, red: pd.DataFrame, view: CommandersView, exact: bool) -> pd.DataFrame:
        counts = self.focus_by_mahalla(view)
        pos = self.mahalla_index().get_indexer(red["mahalla_id"].astype(object).to_numpy())
        got = np.where(pos >= 0, counts[np.maximum(pos, 0)] if len(counts) else 0, 0)
        supp = self.model.suppressed_mahallas()
        hide = (supp[np.maximum(pos, 0)] if len(supp) else np.zeros(len(pos), bool)) | (
            not exact)
        shown, hidden, text = self.model.hide(got.astype(np.int64), hide)
        red["focus_count"] = shown
        red["focus"] = np.where(hidden, text, shown.astype(object))
        red["_new"] = red["status"] == "newly red"
        red = red.sort_values(["_new", "focus_count", "count"], ascending=[False, False, False],
                              kind="stable")
        return red.drop(columns="_new").reset_index(drop=True)

    def _red_list(self, view: CommandersView, month: pd.Timestamp) -> pd.DataFrame:
        h = self.status_history()
        cur = h[(h["month"] == month) & (h["status"] == "red")]
        prev = h[(h["month"] == month - pd.DateOffset(months=1)) & (h["status"] == "red")]
        m = self.model.mahallas.iloc[self._positions(view)]
        m = m.set_index(m["mahalla_id"].astype(object))
        cur = cur[cur["mahalla_id"].isin(m.index)]
        has_prev = (h["month"] == month - pd.DateOffset(months=1)).any()
        newly = ~cur["mahalla_id"].isin(set(prev["mahalla_id"])) if has_prev else False
        out = pd.DataFrame({
            "id": cur["mahalla_id"].to_numpy(),
            "mahalla_id": cur["mahalla_id"].to_numpy(),
            "name": m.loc[cur["mahalla_id"], "name"].astype(object).to_numpy(),
            "district": m.loc[cur["mahalla_id"], "district"].astype(object).to_numpy(),
            "status": np.where(np.asarray(newly, dtype=bool) & np.ones(len(cur), bool),
                               "newly red", "red"),
            "count": cur["count"].to_numpy(dtype=np.int64),
            "rate_per_1000": np.round(cur["rate_per_1000"].to_numpy(dtype=float), 2),
            "gi_z": np.round(cur["gi_z"].to_numpy(dtype=float), 2),
            "why": cur["why"].astype(object).to_numpy(),
        })
        out["_new"] = out["status"] == "newly red"
        out = out.sort_values(["_new", "count"], ascending=[False, False], kind="stable")
        return out.drop(columns="_new").reset_index(drop=True)

    # ---- the mahalla panel --------------------------------------------------------------
    def mahalla_info(self, mahalla_id: str) -> dict[str, Any] | None:
        """Name, district, region and population of a mahalla (``None``: unknown id)."""
        pos = self.mahalla_index().get_indexer([mahalla_id])[0]
        if pos < 0:
            return None
        row = self.model.mahallas.iloc[int(pos)]
        pop = pd.to_numeric(pd.Series([row["population"]]), errors="coerce").iloc[0]
        return {"mahalla_id": mahalla_id, "name": str(row["name"]),
                "district": str(row["district"]), "region": str(row["region"]),
                "population": None if pd.isna(pop) else float(pop)}

    def mahalla_profile(self, view: CommandersView, mahalla_id: str) -> dict[str, Any]:
        """Monthly counts (all months, view's categories) and category counts (view's window).

        Returns
        -------
        dict
            ``months`` (DatetimeIndex, local month starts), ``monthly`` (int64),
            ``categories`` (names), ``category_counts`` (int64), ``total`` (in the window),
            ``total_text``. In a region the user sees suppressed, counts below
            ``SUPPRESS_BELOW`` are NaN (floats) and ``total_text`` is ``"< 5"``.
        """
        supp = self.model.is_suppressed(mahalla_id)
        d = self.model.codes(suppressed=supp)
        pos = int(self.mahalla_index().get_indexer([mahalla_id])[0])
        cats_only = replace(view, start=None, end=None, region=None, district=None)
        here = d.mahalla_code == pos
        sel_all = self.model.mask(cats_only.query(), suppressed=supp) & here
        months = pd.DatetimeIndex([pd.Timestamp(m) for m in self.months()])
        local = pd.to_datetime(d.t[sel_all], utc=True).tz_convert(self.model.timezone)
        if len(months):
            idx = ((local.year - months[0].year) * 12 + (local.month - months[0].month)).to_numpy()
            monthly = np.bincount(idx[(idx >= 0) & (idx < len(months))], minlength=len(months))
        else:
            monthly = np.zeros(0, dtype=np.int64)
        sel = self.model.mask(replace(view, region=None, district=None).query(),
                              suppressed=supp) & here
        cat = np.bincount(d.cat_code[sel], minlength=len(d.cat_names))
        nz = np.flatnonzero(cat[1:]) + 1
        total, _, total_text = self.model.hide(np.array([int(sel.sum())]), supp)
        out = {"months": months, "monthly": monthly.astype(np.int64),
               "categories": [str(d.cat_names[i]) for i in nz],
               "category_counts": cat[nz].astype(np.int64), "total": int(total[0]),
               "total_text": str(total_text[0])}
        if supp:  # hidden numbers are no bars, not zeros
            for key in ("monthly", "category_counts"):
                _, hidden, _ = self.model.hide(out[key], True)
                out[key] = np.where(hidden, np.nan, out[key].astype(float))
        return out

    def mahalla_status(self, mahalla_id: str, months: int = 12) -> pd.DataFrame:
        """The last ``months`` rows of a mahalla's status history (newest first)."""
        h = self.status_history()
        rows = h[h["mahalla_id"] == mahalla_id].sort_values("month", ascending=False)
        out = rows.head(months)[["month", "status", "count", "why"]].copy()
        out["month"] = out["month"].dt.strftime("%Y-%m")
        return out.reset_index(drop=True)

    def cameras_in(self, mahalla_id: str) -> pd.DataFrame:
        """Cameras of a mahalla: ``camera_id, type, status, range_m``."""
        cams = self.cameras()
        if cams is None or cams.empty:
            return pd.DataFrame(columns=["camera_id", "type", "status", "range_m"])
        sel = cams[(cams["mahalla_id"].astype(object) == mahalla_id).to_numpy(dtype=bool)]
        return pd.DataFrame(sel[["camera_id", "type", "status", "range_m"]]).reset_index(drop=True)

    def incidents_of(self, view: CommandersView, mahalla_id: str, *,
                     purpose: str = "app") -> pd.DataFrame:
        """Incidents of a mahalla in the view's window and categories, newest first.

        Read through DataAccess with ``purpose`` (audited); the last few reads are cached.
        """
        key = (mahalla_id, purpose)
        frame = self._lru.get(key) if purpose == "app" else None
        if frame is None:
            frame = self.model.access.read("incidents",
                                           columns=[*_INCIDENT_LIST_COLUMNS, *FOCUS_FIELDS],
                                           filters=[("mahalla_id", "=", mahalla_id)],
                                           purpose=purpose)
            frame = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
            if purpose == "app":
                self._remember(key, frame)
        t = pd.to_datetime(frame["occurred_at"], utc=True).dt.tz_convert(self.model.timezone)
        keep = np.ones(len(frame), dtype=bool)
        if view.start is not None:
            keep &= (t >= pd.Timestamp(view.start, tz=self.model.timezone)).to_numpy()
        if view.end is not None:
            day_after = pd.Timestamp(view.end, tz=self.model.timezone) + pd.Timedelta(days=1)
            keep &= (t < day_after).to_numpy()
        if view.categories:
            keep &= frame["category"].isin(list(view.categories)).to_numpy(dtype=bool)
        if view.focus:
            bits = focus_bits(len(frame), **{f: frame[f].to_numpy(dtype=object)
                                             for f in FOCUS_FIELDS if f in frame})
            keep &= group_mask(bits, view.focus)
        out = frame[keep].copy()
        out["occurred_at"] = t[keep].dt.strftime("%Y-%m-%d %H:%M")
        out = out.sort_values("occurred_at", ascending=False, kind="stable")
        return out[[c for c in _INCIDENT_LIST_COLUMNS if c in out]].reset_index(drop=True)

    # ---- point layers -------------------------------------------------------------------
    def cameras(self) -> gpd.GeoDataFrame | None:
        """The cameras layer (``None`` when the store has none)."""
        return self._layer("cameras", ["camera_id", "type", "status", "range_m", "mahalla_id",
                                       "district", "region", "geometry"])

    def infrastructure(self) -> gpd.GeoDataFrame | None:
        """The infrastructure layer's sites: without roads and power lines, and without what
        the base map draws (water, rivers, towns: :data:`BASE_KINDS`)."""
        def build() -> Any:
            layer = self._layer("infrastructure", ["feature_id", "kind", "name", "mahalla_id",
                                                   "district", "region", "geometry"])
            if layer is None:
                return False
            keep = ~_kinds(layer).isin(["power_line", *BASE_KINDS]).to_numpy(dtype=bool)
            return layer[keep].reset_index(drop=True)
        got = self._cached("infra", build)
        return None if got is False else got

    def _base_sources(self) -> tuple[tuple[pd.Series, pd.Series], Any]:
        """District and region outlines of the mahallas in scope, and the infrastructure
        features the base map draws (``False``: no such layer); once per data version."""
        def outlines() -> Any:
            m = self.model.mahallas
            geoms = m.geometry.to_numpy()
            return (group_outlines(geoms, m["district"].astype(object).to_numpy(),
                                   tolerance=BASE_TOLERANCE),
                    group_outlines(geoms, m["region"].astype(object).to_numpy(),
                                   tolerance=BASE_TOLERANCE))

        def features() -> Any:
            layer = self._layer("infrastructure", ["kind", "name", "road_class", "attrs",
                                                   "geometry"])
            if layer is None:
                return False
            keep = _kinds(layer).isin(BASE_KINDS).to_numpy(dtype=bool)
            frame = layer[keep].reset_index(drop=True)
            frame["population"] = [_population(a) for a in frame["attrs"].astype(object)]
            return frame.drop(columns=["attrs"])

        return (self._cached("outlines", outlines), self._cached("base_features", features))

    def base_layer(self, view: CommandersView) -> BaseMap:
        """The base map of the view's area (:func:`geo.basemap.base_map`), cached per area.

        District and region outlines are dissolved from the mahallas in scope once per data
        version; water, rivers, roads and named places come from the infrastructure layer
        (read through DataAccess, so a scoped user sees the features of their regions).
        """
        return self.base_layer_of(("view", *self._area(view)), self.area_bounds(view))

    def base_layer_of(self, key: Any, area: tuple[float, float, float, float] | None) -> BaseMap:
        """The base map of the lon/lat bounds ``area`` (and a tenth around it), cached under
        ``key`` (which must be bounded by the data: an area name the data knows)."""
        def build() -> BaseMap:
            outlines, features = self._base_sources()
            districts, regions = outlines
            box = None
            if area is not None:
                pad = max(area[2] - area[0], area[3] - area[1]) * 0.1
                box = (area[0] - pad, area[1] - pad, area[2] + pad, area[3] + pad)
            return base_map(None if features is False else features, districts=districts,
                            regions=regions, box=box, focus=area, tolerance=BASE_TOLERANCE)
        return self._cached(("base_layer", key), build)

    def base_tiles(self) -> TileSource:
        """The base map as vector tiles (:func:`geo.basemap.tile_layers`) of the scope's
        mahallas and infrastructure: what the MapLibre maps draw under their layers (served
        by :mod:`app.map_tiles`). Built once per data version, at full resolution (each tile
        is simplified to its own zoom)."""
        def build() -> TileSource:
            outlines, features = self._base_sources()
            districts, regions = outlines
            m = self.model.mahallas
            return TileSource(tile_layers(None if features is False else features,
                                          districts=districts, regions=regions,
                                          mahallas=m[[c for c in ("name", "geometry")
                                                      if c in m]]))
        return self._cached("base_tiles", build)

    # ---- KDE ----------------------------------------------------------------------------
    def kde(self, view: CommandersView, *, target: str = "EPSG:3857"
            ) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
        """Density grid as the map shows it and its lon/lat bounds: the ``kde_surface``
        layer, else the selection's, resampled onto a grid of the map's projection
        (``target``: MapLibre's Web Mercator, or ``EPSG:4326`` for a lon/lat plot; see
        :func:`geo.surface.display_grid`)."""
        layer = self._cached("kde_layer", lambda: _read_kde_layer(self._layer("kde_surface"))
                             or False)
        if layer is not False:
            return self._cached(("kde_layer", target),  # type: ignore[no-any-return]
                                lambda: display_grid(layer, target=target))
        key = ("kde", view.region, view.district, view.start, view.end, view.categories,
               view.focus, target)
        got = self._lru.get(key)
        if got is None:
            surface = self._live_kde(view)
            got = None if surface is None else display_grid(surface, target=target)
            self._remember(key, got)
        return got  # type: ignore[no-any-return]

    def _live_kde(self, view: CommandersView) -> Surface | None:
        from riskmap.etl.hotspots_job import kde

        keep = self.model.mask(view.query())
        if not keep.any():
            return None
        return kde(self._incident_frame(keep), bandwidth_m=400.0, cell_m=200.0)

    # ---- evaluation ---------------------------------------------------------------------
    def evaluation(self, region: str | None, *, wait: float | None = 0.0) -> dict[str, Any]:
        """The region's forecast check, computed once per region and data version.

        The first call starts :meth:`_evaluate` in a background thread (one evaluation at a
        time per process) and returns at once with ``state`` ``"computing"``; later calls
        return the result when it is there. This object is rebuilt for new data
        (:func:`data_for`), so the cache is per (region, data version). Without
        ``background`` the evaluation runs in the calling thread.

        Parameters
        ----------
        region
            Region (``None``: every region in scope).
        wait
            Seconds to wait for a running evaluation (``None``: until it is done).

        Returns
        -------
        dict
            ``state``: ``"computing"`` (with ``seconds`` since it started, and ``queued``
            while another evaluation runs first), ``"error"``
            (with ``error``), ``"empty"`` (too little data) or ``"ready"``; the other keys
            are those of :meth:`_evaluate`.
        """
        key = ("eval", region)
        with self._lock:
            got: _Job | None = self._cache.get(key)
            fresh = got is None
            job = self._cache[key] = got or _Job()
        if fresh:
            if self.background:
                threading.Thread(target=job.run, args=(lambda: self._evaluate(region),),
                                 name="commanders-eval", daemon=True).start()
            else:
                job.run(lambda: self._evaluate(region))
        return job.result(wait)

    def _evaluate(self, region: str | None) -> dict[str, Any]:
        """Tuned evaluation of every method and both baselines on the region's mahallas.

        One cut-off :data:`EVAL_HORIZON_DAYS` before the last incident
        (:func:`geo.forecast.evaluate_forecast`, every method tuned on the history before
        it over :data:`EVAL_TUNE_FOLDS` inner folds, :data:`EVAL_REPLICATES` bootstrap
        resamples). Returns ``state`` (``"ready"`` or ``"empty"``), ``methods`` (one row
        per method and coverage with ``pai_lo``/``pai_hi`` and ``params``), ``recommended``
        (the method picked on the history alone, or ``None``), ``params`` (its tuned
        parameters), ``inner_score``, ``inner_folds``, ``best`` (the verdict per coverage
        against all-history counts), ``chosen``, ``test_incidents``, ``cutoff``
        (``YYYY-MM-DD``), ``horizon_days``, ``replicates``, ``seconds``.
        """
        from riskmap.geo.forecast import evaluate_forecast, mahalla_units

        started = time.perf_counter()
        view = CommandersView(region=region)
        pos = self._positions(view)
        mahallas = self.model.mahallas.iloc[pos].reset_index(drop=True)
        keep = self.model.mask(view.query())
        inc = self._incident_frame(keep)
        out: dict[str, Any] = {
            "state": "empty", "methods": pd.DataFrame(columns=_EVAL_COLUMNS),
            "recommended": None, "params": {}, "inner_score": None, "inner_folds": 0,
            "best": {}, "chosen": {}, "test_incidents": 0, "cutoff": "",
            "horizon_days": EVAL_HORIZON_DAYS, "replicates": EVAL_REPLICATES, "seconds": 0.0}
        if len(mahallas) < 3 or inc.empty:
            return out
        cutoff = (inc["occurred_at"].max() - pd.Timedelta(days=EVAL_HORIZON_DAYS)).floor("D")
        if not (inc["occurred_at"] < cutoff).any():
            return out
        res = evaluate_forecast(inc, mahalla_units(mahallas), cutoff,
                                horizon_days=EVAL_HORIZON_DAYS, replicates=EVAL_REPLICATES,
                                tune_folds=EVAL_TUNE_FOLDS)
        rec = res["recommended"]["method"]
        chosen = res["chosen"].get(rec, {}) if rec else {}
        out.update({
            "state": "ready" if res["test_incidents"] else "empty",
            "methods": pd.DataFrame(res["methods"]),
            "recommended": rec, "params": dict(chosen.get("params") or {}),
            "inner_score": res["recommended"]["inner_score"],
            "inner_folds": int(chosen.get("inner_folds") or 0),
            "best": res["best"], "chosen": res["chosen"],
            "test_incidents": res["test_incidents"],
            "cutoff": res["cutoff"].strftime("%Y-%m-%d"),
            "seconds": time.perf_counter() - started})
        return out

    # ---- internals ----------------------------------------------------------------------
    def _incident_frame(self, keep: np.ndarray | None = None) -> pd.DataFrame:
        """Incidents as the frame etl.hotspots_job and geo.forecast expect (no geometry)."""
        d = self.model.codes()
        sel = np.ones(len(d.t), bool) if keep is None else keep
        ids = np.append(self.model.mahallas["mahalla_id"].astype(object).to_numpy(),
                        np.array([None], dtype=object))
        return pd.DataFrame({
            "occurred_at": pd.to_datetime(d.t[sel], utc=True),
            "h3": d.cells9[sel],
            "mahalla_id": ids[d.mahalla_code[sel]],
            "category": d.cat_names[d.cat_code[sel]],
        })


class _Job:
    """One background computation: its result, or the error it raised."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.running = False
        self.done = threading.Event()
        self.value: dict[str, Any] | None = None
        self.error: str | None = None

    def run(self, build: Any) -> None:
        with _EVAL_SLOT:
            self.started, self.running = time.monotonic(), True  # queued time is not computing
            try:
                self.value = build()
            except Exception as exc:  # shown on the page instead of "computing" for ever
                _log.exception("forecast evaluation failed")
                self.error = f"{type(exc).__name__}: {exc}"
            finally:
                self.done.set()

    def result(self, wait: float | None) -> dict[str, Any]:
        if not self.done.wait(wait):
            return {"state": "computing", "queued": not self.running,
                    "seconds": time.monotonic() - self.started}
        if self.error is not None or self.value is None:
            return {"state": "error", "error": self.error or "no result"}
        return self.value


def _gi(y: np.ndarray, adj: Any) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z and the FDR-corrected class of ``y`` over the binary contiguity ``adj``."""
    if len(y) < 3:
        return np.zeros(len(y)), np.full(len(y), "not_significant", dtype=object)
    z = gi_star_z(y, sp.csr_matrix(adj))
    p = two_sided_p(z)
    return z, classify_gi(z, benjamini_hochberg(p))


def _read_kde_layer(layer: pd.DataFrame | None) -> Surface | None:
    """Decode the first row of the ``kde_surface`` layer (COG bytes) into a surface."""
    if layer is None or layer.empty or "cog" not in layer:
        return None
    from rasterio.io import MemoryFile
    from rasterio.transform import Affine

    row = layer.iloc[0]
    cog = row["cog"]
    raw = bytes(cog) if isinstance(cog, bytes | bytearray | memoryview) else base64.b64decode(str(cog))
    with MemoryFile(raw) as mem, mem.open() as src:
        array = src.read(1).astype(np.float32)
        crs = src.crs.to_wkt()
        tr = json.loads(row["transform"]) if isinstance(row.get("transform"), str) else None
        transform = Affine(*tr[:6]) if tr else src.transform
    return Surface(array, transform, crs)
