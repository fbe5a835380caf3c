"""The app's data model: incidents and mahallas read once through DataAccess, aggregated with numpy.

Pages never read the store themselves: they ask an :class:`AppModel` (one per app, shared by
every request) for aggregates. The model reads the incident columns it needs and the mahallas
once per process through :class:`layers.access.DataAccess` (so reads are region-scoped and
audited), turns every attribute into integer codes, and answers each query with a boolean
mask plus ``np.bincount`` on those codes; no per-incident geometry is ever built. H3 parent
cells, their polygons and hex ids are computed once per resolution and cached.

A :class:`ViewQuery` is what a page shows (level, region, district, dates, categories); it
round-trips through the URL query string so a view can be shared.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from riskmap.app.urlstate import (
    encode_params,
    parse_focus,
    parse_list,
    parse_text,
    parse_window,
    search_string,
)
from riskmap.app.viewaudit import ViewAuditor
from riskmap.auth.roles import SUPPRESS_BELOW
from riskmap.geo.aggregate import rate_per_1000
from riskmap.geo.deidentify import count_labels, hide_small
from riskmap.geo.focus import FOCUS_FIELDS, FOCUS_GROUPS, focus_bits, group_counts, group_mask
from riskmap.geo.h3index import cell_centers, cell_polygons, parents
from riskmap.layers.access import DataAccess
from riskmap.layers.spec import CATEGORIES, SRID

__all__ = [
    "INCIDENT_COLUMNS",
    "LEVELS",
    "NO_REGION",
    "AppModel",
    "IncidentCodes",
    "ModelRegistry",
    "ViewQuery",
    "resolve",
]

#: a region name no row has: the scope of a user whose regions lie outside the app's
NO_REGION = "\x00no region"

#: aggregation levels: mahalla polygons or H3 cells at resolution 7, 8 or 9
LEVELS = ("mahalla", "h3_7", "h3_8", "h3_9")
#: the incident columns the app reads (never the geometry: cells carry the location)
INCIDENT_COLUMNS = ("h3", "mahalla_id", "occurred_at", "category", "region", "district",
                    "geocode_precision")
_MAHALLA_COLUMNS = ("mahalla_id", "name", "district", "region", "population")
_NAT = np.iinfo(np.int64).min


@dataclass(frozen=True)
class ViewQuery:
    """What a map shows: aggregation level and filters (all optional).

    Parameters
    ----------
    level
        One of :data:`LEVELS`.
    region, district
        Keep incidents (and mahallas) of this region / district; ``None`` keeps all.
    start, end
        First and last local calendar day included (``None``: open).
    categories
        Categories to keep; empty keeps all.
    precise
        Keep only incidents geocoded to coordinates (drops those placed at a mahalla's
        representative point, e.g. fraud and cybercrime).
    focus
        Keep only the incidents of one focus group (:data:`riskmap.geo.focus.FOCUS_GROUPS`:
        minors, youth, women, family, repeat, probation); ``None`` keeps all.
    """

    level: str = "mahalla"
    region: str | None = None
    district: str | None = None
    start: date | None = None
    end: date | None = None
    categories: tuple[str, ...] = ()
    precise: bool = False
    focus: str | None = None

    def __post_init__(self) -> None:
        if self.focus is not None and self.focus not in FOCUS_GROUPS:
            raise ValueError(f"focus={self.focus!r}: expected one of {', '.join(FOCUS_GROUPS)}")
        if self.level not in LEVELS:
            raise ValueError(f"level={self.level!r}: expected one of {', '.join(LEVELS)}")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"start={self.start} is after end={self.end}")

    @property
    def resolution(self) -> int | None:
        """H3 resolution of the level, ``None`` for mahallas."""
        return None if self.level == "mahalla" else int(self.level.rsplit("_", 1)[1])

    def to_params(self) -> dict[str, str]:
        """Non-default fields as URL query parameters (categories comma-separated)."""
        return encode_params([
            ("level", None if self.level == "mahalla" else self.level),
            ("region", self.region), ("district", self.district),
            ("start", self.start), ("end", self.end),
            ("categories", self.categories), ("precise", self.precise),
            ("focus", self.focus),
        ])

    def to_search(self) -> str:
        """The URL query string (``"?level=h3_8&..."``, or ``""`` for the default view)."""
        return search_string(self.to_params())

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ViewQuery:
        """Parse URL query parameters leniently: a bad or unknown value falls back to its default.

        Examples
        --------
        >>> ViewQuery.from_params({"level": "h3_8", "start": "2025-13-01"})
        ViewQuery(level='h3_8', region=None, district=None, start=None, end=None, categories=(), precise=False, focus=None)
        >>> ViewQuery.from_params({}) == ViewQuery()
        True
        """
        level = str(params.get("level") or "mahalla")
        start, end = parse_window(params)
        return cls(
            level=level if level in LEVELS else "mahalla",
            region=parse_text(params, "region"),
            district=parse_text(params, "district"),
            start=start,
            end=end,
            categories=parse_list(params.get("categories")),
            precise=str(params.get("precise", "")).lower() in {"1", "true", "yes"},
            focus=parse_focus(params),
        )


@dataclass(frozen=True)
class IncidentCodes:
    """The incidents as the model holds them: one array entry per incident (read-only views).

    Attributes
    ----------
    t
        Occurrence time, int64 ns UTC (``np.iinfo(np.int64).min`` when missing).
    cells9
        H3 cell at resolution 9 (int64, 0 when missing).
    mahalla_code
        Position in :attr:`AppModel.mahallas` (int32, -1 when unknown).
    cat_code, cat_names
        Category code (int16/int32, 0 = missing) and the name of each code (index 0: None).
    focus_bits
        Focus groups of each incident as bits (uint8, :func:`riskmap.geo.focus.focus_bits`;
        0 for the de-identified incidents of suppressed regions, which carry no focus fields).
    """

    t: np.ndarray
    cells9: np.ndarray
    mahalla_code: np.ndarray
    cat_code: np.ndarray
    cat_names: np.ndarray
    focus_bits: np.ndarray | None = None


@dataclass
class _Loaded:
    """Everything read from the store, as arrays (built once by :meth:`AppModel.load`)."""

    mahallas: gpd.GeoDataFrame
    rep_x: np.ndarray
    rep_y: np.ndarray
    t: np.ndarray                 # int64 ns UTC, _NAT when missing
    cells9: np.ndarray            # int64, 0 when missing
    cat_code: np.ndarray          # int16 into CATEGORY order + others, 0 = missing
    cat_names: np.ndarray         # object, index 0 = missing
    mahalla_code: np.ndarray      # int32 into mahallas, -1 when unknown
    region_code: np.ndarray       # int32 into region_names (+1; 0 = missing)
    region_names: np.ndarray
    district_code: np.ndarray     # int32 into district_names (+1; 0 = missing)
    district_names: np.ndarray
    precise: np.ndarray           # bool
    focus_bits: np.ndarray        # uint8: focus groups (riskmap.geo.focus)
    mahalla_suppressed: np.ndarray | None = None  # bool per mahalla: a suppressed region's
    supp: _Suppressed | None = None  # the incidents of the regions seen suppressed
    cells: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    supp_cells: dict[int, np.ndarray] = field(default_factory=dict)
    cell_shapes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict)
    #: small values derived from the arrays once (date bounds, mahalla columns as arrays)
    memo: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Suppressed:
    """The de-identified incidents of the regions a user sees suppressed (a separate block:
    :meth:`AppModel.codes`, :meth:`AppModel.mask` and everything built on them never see
    them; only the counts that hide small numbers do). Codes as in :class:`_Loaded`."""

    t: np.ndarray                 # int64 ns UTC of the month start
    cells9: np.ndarray            # int64: the centre child of the coarse cell
    cat_code: np.ndarray
    mahalla_code: np.ndarray
    region_code: np.ndarray
    district_code: np.ndarray
    precise: np.ndarray
    focus_bits: np.ndarray        # all 0: focus fields are not part of a suppressed view


class AppModel:
    """A cached, read-through-DataAccess model of what the pages show.

    Parameters
    ----------
    access
        Scoped, audited access to the store.
    demo
        The data is a synthetic demo (pages show a badge).
    timezone
        Zone of the calendar days in :class:`ViewQuery` (incidents are stored in UTC).

    Notes
    -----
    Typical use: ``AppModel(access).counts(ViewQuery(level="h3_8", categories=("theft",)))``.
    The first call reads the store; later calls only aggregate in memory.
    """

    def __init__(self, access: DataAccess, *, demo: bool = False,
                 timezone: str = "Asia/Tashkent", refresh_s: float = 60.0) -> None:
        self.access = access
        self.demo = demo
        self.timezone = timezone
        self.refresh_s = refresh_s
        self.generation = 0  # bumped on every (re)load; page caches compare it
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._version: str | None = None
        self._checked = 0.0
        self._views = ViewAuditor(access)

    # ---- loading ----------------------------------------------------------------------
    def load(self) -> AppModel:
        """Read mahallas and incident columns (once; later calls return at once)."""
        self._data()
        return self

    def reload(self) -> AppModel:
        """Drop the cache and read again (after a load into the store)."""
        with self._lock:
            self._loaded = None
        return self.load()

    def _data(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None and not self._stale():
            return loaded
        with self._lock:
            if self._loaded is None or self._loaded is loaded:
                version = self.access.store.version()
                self._loaded = _load(self.access, self.timezone)
                self._version = version
                self._checked = time.monotonic()
                self.generation += 1
            return self._loaded

    def _stale(self) -> bool:
        """True when the store changed since the load (checked at most every ``refresh_s``).

        New data loaded by ``riskmap ingest`` or ``riskmap build`` shows up without a restart.
        """
        now = time.monotonic()
        if now - self._checked < self.refresh_s:
            return False
        self._checked = now
        try:
            return self.access.store.version() != self._version
        except Exception:  # a store that cannot answer now keeps serving what it has
            return False

    @property
    def data_version(self) -> str | None:
        """The store version the data in memory was read at, after the (rate-limited) check
        for new data: cheap unless the store changed (then the data is read again)."""
        self._data()
        return self._version

    def audit_view(self, page: str, params: dict[str, Any] | None = None, *,
                   access: DataAccess | None = None) -> bool:
        """Audit that a user opened the view ``params`` of ``page`` (once per minute per view
        and user); ``access`` is the user's (default: the model's own).

        See :class:`app.viewaudit.ViewAuditor`; returns whether a record was written.
        """
        return self._views.record(page, params, access=access)

    # ---- vocabulary for the controls ----------------------------------------------------
    @property
    def n_incidents(self) -> int:
        """Number of incidents in scope."""
        return len(self._data().t)

    @property
    def mahallas(self) -> gpd.GeoDataFrame:
        """The mahallas in scope (``mahalla_id, name, district, region, population, geometry``)."""
        return self._data().mahallas

    def regions(self) -> list[str]:
        """Regions present in the mahallas or incidents, sorted."""
        d = self._data()
        names = set(d.mahallas["region"].dropna()) | set(d.region_names[1:])
        return sorted(str(n) for n in names)

    def districts(self, region: str | None = None) -> list[str]:
        """Districts (of ``region`` when given), sorted."""
        m = self._data().mahallas
        if region:
            m = m[(m["region"] == region).fillna(False).to_numpy(dtype=bool)]
        return sorted(str(n) for n in set(m["district"].dropna()))

    def categories(self) -> list[str]:
        """Categories present, in the canonical order (unknown ones last)."""
        present = {str(c) for c in self._data().cat_names[1:]}
        known = [c for c in CATEGORIES if c in present]
        return known + sorted(present - set(known))

    def date_bounds(self) -> tuple[date | None, date | None]:
        """First and last local day with an incident (``None`` when there are none)."""
        d = self._data()
        got = d.memo.get("date_bounds")
        if got is None:
            t = d.t[d.t != _NAT]
            if len(t) == 0:
                got = (None, None)
            else:
                lo, hi = pd.to_datetime([t.min(), t.max()], utc=True).tz_convert(self.timezone)
                got = (lo.date(), hi.date())
            d.memo["date_bounds"] = got
        return got

    def mahalla_columns(self) -> dict[str, np.ndarray]:
        """``mahalla_id, name, district, region, population`` of :attr:`mahallas` as arrays
        (positions as in :attr:`mahallas`; built once per load: indexing them is cheap where
        ``GeoDataFrame.iloc`` is not)."""
        d = self._data()
        got = d.memo.get("mahalla_columns")
        if got is None:
            m = d.mahallas
            got = {c: _readonly(m[c].astype(object).to_numpy())
                   for c in ("mahalla_id", "name", "district", "region")}
            got["population"] = _readonly(m["population"].to_numpy(dtype=float,
                                                                   na_value=np.nan))
            d.memo["mahalla_columns"] = got
        return got

    def codes(self, *, suppressed: bool = False) -> IncidentCodes:
        """The incident arrays behind every aggregate (read-only; one entry per incident).

        ``suppressed``: those of the de-identified incidents of the regions the user sees
        suppressed (month-start times, snapped cells), aligned with ``mask(q, suppressed=True)``.
        """
        d = self._data()
        blk: Any = d
        if suppressed:
            blk = d.supp if d.supp is not None else _Suppressed(
                *(np.zeros(0, dtype=a.dtype) for a in (d.t, d.cells9, d.cat_code,
                                                       d.mahalla_code, d.region_code,
                                                       d.district_code, d.precise,
                                                       d.focus_bits)))
        return IncidentCodes(t=_readonly(blk.t), cells9=_readonly(blk.cells9),
                             mahalla_code=_readonly(blk.mahalla_code),
                             cat_code=_readonly(blk.cat_code), cat_names=_readonly(d.cat_names),
                             focus_bits=_readonly(blk.focus_bits))

    # ---- queries ----------------------------------------------------------------------
    def mask(self, query: ViewQuery, *, suppressed: bool = False) -> np.ndarray:
        """Boolean selection of the incidents a query keeps.

        ``suppressed``: of the de-identified incidents of the regions the user sees
        suppressed (aligned with ``codes(suppressed=True)``; empty when there are none).
        """
        d = self._data()
        blk: Any = d
        if suppressed:
            if d.supp is None:
                return np.zeros(0, dtype=bool)
            blk = d.supp
        lo, hi = self._window(query)
        keep = (blk.t >= lo) & (blk.t < hi)
        if query.categories:
            keep &= _lookup(d.cat_names, query.categories)[blk.cat_code]
        if query.region:
            keep &= _lookup(d.region_names, [query.region])[blk.region_code]
        if query.district:
            keep &= _lookup(d.district_names, [query.district])[blk.district_code]
        if query.precise:
            keep &= blk.precise
        if query.focus:
            keep &= group_mask(blk.focus_bits, query.focus)
        return keep

    def focus_counts(self, query: ViewQuery, *, mahalla_id: str | None = None,
                     exact: bool = True) -> pd.DataFrame:
        """Incidents of each focus group among those ``query`` keeps (its own ``focus`` set
        aside), in one mahalla when ``mahalla_id`` is given.

        An incident may count in several groups. ``exact=False`` (a role that may not see
        small focus-group counts, see :data:`riskmap.auth.roles.FOCUS_EXACT`) hides counts
        below :data:`~riskmap.auth.roles.SUPPRESS_BELOW`; so does a mahalla of a region seen
        suppressed, whose incidents carry no focus fields.

        Returns
        -------
        pandas.DataFrame
            ``group`` (:data:`~riskmap.geo.focus.FOCUS_GROUPS` order), ``count`` (0 where
            hidden), ``count_text`` (``"< 5"`` where hidden), ``suppressed``.
        """
        d = self._data()
        base = ViewQuery(level="mahalla", region=query.region, district=query.district,
                         start=query.start, end=query.end, categories=query.categories,
                         precise=query.precise)
        supp = self.is_suppressed(mahalla_id)
        if supp:
            counts = np.zeros(len(FOCUS_GROUPS), dtype=np.int64)
        else:
            keep = self.mask(base)
            if mahalla_id is not None:
                keep &= d.mahalla_code == self._mahalla_position(mahalla_id)
            counts = group_counts(d.focus_bits, keep)
        shown, hidden, text = self.hide(counts, supp or not exact)
        return pd.DataFrame({"group": list(FOCUS_GROUPS), "count": shown, "count_text": text,
                             "suppressed": hidden})

    def total(self, query: ViewQuery) -> int:
        """Number of incidents the query keeps (at any level).

        Incidents of regions seen suppressed count only when they are at least
        :data:`~riskmap.auth.roles.SUPPRESS_BELOW` together (a smaller number is not shown).
        """
        own = int(self.mask(query).sum())
        supp = int(self.mask(query, suppressed=True).sum())
        return own + (supp if supp >= SUPPRESS_BELOW else 0)

    # ---- suppressed views -------------------------------------------------------------
    @property
    def has_suppressed(self) -> bool:
        """Whether this model holds regions the user sees suppressed."""
        d = self._data()
        return d.mahalla_suppressed is not None and bool(d.mahalla_suppressed.any())

    def suppressed_mahallas(self) -> np.ndarray:
        """Per position in :attr:`mahallas`: True for a mahalla of a suppressed region."""
        d = self._data()
        if d.mahalla_suppressed is None:
            return np.zeros(len(d.mahallas), dtype=bool)
        return _readonly(d.mahalla_suppressed)

    def is_suppressed(self, mahalla_id: str | None) -> bool:
        """Whether ``mahalla_id`` lies in a region the user sees suppressed."""
        d = self._data()
        if d.mahalla_suppressed is None or mahalla_id is None:
            return False
        pos = self._mahalla_position(mahalla_id)
        return bool(pos >= 0 and d.mahalla_suppressed[pos])

    def _mahalla_position(self, mahalla_id: str) -> int:
        """Position of ``mahalla_id`` in :attr:`mahallas` (-1: not there); the index of ids
        is built once per load."""
        d = self._data()
        index = d.memo.get("mahalla_index")
        if index is None:
            index = d.memo["mahalla_index"] = pd.Index(
                d.mahallas["mahalla_id"].astype(object))
        return int(index.get_indexer([mahalla_id])[0])

    def suppressed_cells(self, res: int) -> np.ndarray:
        """Each suppressed incident's position among :meth:`cells` ``(res)[0]`` (-1: none)."""
        self.cells(res)
        return self._data().supp_cells.get(res, np.zeros(0, dtype=np.int64))

    def cell_suppressed(self, res: int) -> np.ndarray:
        """Per cell of :meth:`cells` ``(res)[0]``: True when a suppressed incident lies in it."""
        uniq, _ = self.cells(res)
        codes = self.suppressed_cells(res)
        return np.bincount(codes[codes >= 0], minlength=len(uniq)) > 0

    @staticmethod
    def hide(counts: np.ndarray, suppressed: np.ndarray | bool) -> tuple[np.ndarray, np.ndarray,
                                                                            np.ndarray]:
        """``(shown, hidden, text)``: counts of suppressed units below
        :data:`~riskmap.auth.roles.SUPPRESS_BELOW` set to 0 and labelled ``"< 5"``."""
        shown, hidden = hide_small(counts, suppressed, SUPPRESS_BELOW)
        return shown, hidden, count_labels(shown, hidden, SUPPRESS_BELOW)

    def counts(self, query: ViewQuery) -> pd.DataFrame:
        """Counts per unit of the query's level.

        Returns
        -------
        pandas.DataFrame
            For ``mahalla``: every mahalla in the region/district filter with ``mahalla_id,
            name, district, region, population, count, rate_per_1000`` (zeros included).
            For H3 levels: ``h3`` (int64), ``h3_hex`` and ``count`` for cells with >= 1
            incident, sorted by cell. Both also carry ``share`` (% of the selection).
        """
        frame, _ = self._counts(query)
        return frame

    def units(self, query: ViewQuery) -> gpd.GeoDataFrame:
        """:meth:`counts` plus ``geometry`` (polygons) and ``x``/``y`` label points, EPSG:4326."""
        frame, (geoms, x, y) = self._counts(query)
        out = gpd.GeoDataFrame(frame, geometry=geoms, crs=f"EPSG:{SRID}")
        out["x"] = x
        out["y"] = y
        return out

    def table(self, query: ViewQuery) -> pd.DataFrame:
        """:meth:`counts` plus ``x``/``y`` label points, without the polygons (for maps that
        draw cached outlines: a GeoDataFrame costs more to build than the counts)."""
        frame, (_, x, y) = self._counts(query)
        frame["x"] = x
        frame["y"] = y
        return frame

    def base_map(self, query: ViewQuery) -> gpd.GeoSeries:
        """Mahalla polygons inside the query's region/district (the base layer of a map)."""
        pos = self.mahalla_positions(query.region, query.district)
        return self._data().mahallas.geometry.iloc[pos]

    # ---- internals --------------------------------------------------------------------
    def _window(self, query: ViewQuery) -> tuple[int, int]:
        lo, hi = _NAT + 1, np.iinfo(np.int64).max
        if query.start is not None:
            lo = pd.Timestamp(query.start).tz_localize(self.timezone).tz_convert("UTC").value
        if query.end is not None:
            day_after = pd.Timestamp(query.end) + pd.Timedelta(days=1)
            hi = day_after.tz_localize(self.timezone).tz_convert("UTC").value
        return lo, hi

    def _counts(self, query: ViewQuery) -> tuple[pd.DataFrame,
                                                 tuple[np.ndarray, np.ndarray, np.ndarray]]:
        d = self._data()
        keep = self.mask(query)
        res = query.resolution
        if res is None:
            counts = np.bincount(d.mahalla_code[keep & (d.mahalla_code >= 0)],
                                 minlength=len(d.mahallas))
            if d.supp is not None:
                skeep = self.mask(query, suppressed=True)
                counts = counts + np.bincount(
                    d.supp.mahalla_code[skeep & (d.supp.mahalla_code >= 0)],
                    minlength=len(d.mahallas))
            pos = self.mahalla_positions(query.region, query.district)
            cols = self.mahalla_columns()
            c, hidden, text = self.hide(counts[pos].astype(np.int64),
                                        self.suppressed_mahallas()[pos])
            pop = cols["population"][pos]
            frame = pd.DataFrame({
                "mahalla_id": cols["mahalla_id"][pos],
                "name": cols["name"][pos],
                "district": cols["district"][pos],
                "region": cols["region"][pos],
                "population": pop,
                "count": c,
                "rate_per_1000": np.where(hidden, np.nan, rate_per_1000(c, pop)),
                "count_text": text,
                "suppressed": hidden,
            })
            geoms = d.mahallas.geometry.to_numpy()[pos]
            x, y = d.rep_x[pos], d.rep_y[pos]
        else:
            return self._cell_counts(query, res, keep)
        total = frame["count"].sum()
        frame["share"] = frame["count"] * 100.0 / total if total else 0.0
        return frame, (geoms, x, y)

    def cell_counts(self, query: ViewQuery, res: int
                    ) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`counts` of the query's filters per H3 cell at ``res`` (0-9, not only the
        levels a user picks: a map zoomed out draws coarser cells), with the cells' polygons
        and centres (lon, lat) aligned with the rows."""
        if not 0 <= res <= 9:
            raise ValueError(f"res={res}: expected an H3 resolution from 0 to 9")
        return self._cell_counts(query, res, self.mask(query))

    def cell_units(self, query: ViewQuery, res: int) -> gpd.GeoDataFrame:
        """:meth:`cell_counts` as :meth:`units` gives them (polygons, ``x``/``y`` centres)."""
        frame, (geoms, x, y) = self.cell_counts(query, res)
        out = gpd.GeoDataFrame(frame, geometry=geoms, crs=f"EPSG:{SRID}")
        out["x"] = x
        out["y"] = y
        return out

    def _cell_counts(self, query: ViewQuery, res: int, keep: np.ndarray
                     ) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        d = self._data()
        uniq, codes = self.cells(res)
        counts = np.bincount(codes[keep & (codes >= 0)], minlength=len(uniq))
        if d.supp is not None:
            scodes = self.suppressed_cells(res)
            skeep = self.mask(query, suppressed=True)
            counts = counts + np.bincount(scodes[skeep & (scodes >= 0)],
                                          minlength=len(uniq))
        pos = np.flatnonzero(counts)
        polys, cx, cy, hexes = self.cell_shapes(res)
        shown, hidden, text = self.hide(counts[pos].astype(np.int64),
                                        self.cell_suppressed(res)[pos])
        frame = pd.DataFrame({
            "h3": uniq[pos],
            "h3_hex": hexes[pos],
            "count": shown,
            "count_text": text,
            "suppressed": hidden,
        })
        total = frame["count"].sum()
        frame["share"] = frame["count"] * 100.0 / total if total else 0.0
        return frame, (polys[pos], cx[pos], cy[pos])

    # ---- cached units (also used by app.commanders_data) -----------------------------
    def mahalla_positions(self, region: str | None = None,
                          district: str | None = None) -> np.ndarray:
        """Positions in :attr:`mahallas` of the mahallas in ``region`` and ``district``."""
        cols = self.mahalla_columns()
        keep = np.ones(len(cols["region"]), dtype=bool)
        if region:
            keep &= cols["region"] == region
        if district:
            keep &= cols["district"] == district
        return np.flatnonzero(keep)

    def cells(self, res: int) -> tuple[np.ndarray, np.ndarray]:
        """Unique cells at ``res`` and each incident's position among them (-1: no cell)."""
        d = self._data()
        got = d.cells.get(res)
        if got is None:
            with self._lock:
                n = len(d.cells9)
                all9 = d.cells9 if d.supp is None else np.concatenate([d.cells9,
                                                                        d.supp.cells9])
                cells = all9 if res == 9 else parents(all9, res)
                uniq, inverse = np.unique(cells, return_inverse=True)
                codes = inverse.astype(np.int64)
                if len(uniq) and uniq[0] == 0:
                    uniq, codes = uniq[1:], codes - 1
                d.supp_cells[res] = codes[n:]
                got = d.cells[res] = (uniq, codes[:n])
        return got

    def cell_shapes(self, res: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Cached polygons, centre lon/lat and hex ids of every cell at ``res``."""
        d = self._data()
        got = d.cell_shapes.get(res)
        if got is None:
            uniq, _ = self.cells(res)
            cx, cy = cell_centers(uniq)
            hexes = np.array([format(int(c), "x") for c in uniq], dtype=object)
            got = d.cell_shapes[res] = (cell_polygons(uniq), cx, cy, hexes)
        return got


def resolve(model: Any) -> AppModel:
    """The :class:`AppModel` behind ``model`` (the per-request stand-in of the app, or a model):
    what a cache must be keyed by, so that no two scopes share an entry."""
    resolver = getattr(model, "resolve", None)
    return resolver() if callable(resolver) else model


class ModelRegistry:
    """One :class:`AppModel` per scope (regions and districts), made when first needed.

    A user's requests read only the model of their scope, which only ever loaded the rows of
    that scope (through a :class:`DataAccess` limited to it): nothing of another region is in
    its memory to leak. The app's own limit (``RISKMAP_APP__REGIONS``, the ``base`` access's
    regions) narrows every scope further.

    Parameters
    ----------
    base
        The app's data access (its store and its regions limit); its user name is what the
        cache loads are audited as.
    demo, timezone, refresh_s
        As for :class:`AppModel`.
    """

    def __init__(self, base: DataAccess, *, demo: bool = False,
                 timezone: str = "Asia/Tashkent", root: AppModel | None = None,
                 refresh_s: float = 60.0) -> None:
        self.base = base
        self.refresh_s = refresh_s
        self.demo = demo
        self.timezone = timezone
        self._lock = threading.Lock()
        self._models: dict[tuple[tuple[str, ...], tuple[str, ...], bool], AppModel] = {}
        if root is not None:
            self._models[self._key(root.access.regions, root.access.districts,
                                   root.access.suppressed_elsewhere)] = root

    @property
    def store(self) -> Any:
        """The store the models read."""
        return self.base.store

    @property
    def access(self) -> DataAccess:
        """The app's own data access (its regions limit)."""
        return self.base

    def load(self) -> ModelRegistry:
        """Read the data of the app's whole scope now (so a bad store fails at start-up)."""
        self.model().load()
        return self

    @staticmethod
    def _key(regions: Sequence[str] | None, districts: Sequence[str] | None,
             suppressed: bool = False) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
        return (tuple(sorted(regions or ())), tuple(sorted(districts or ())),
                bool(suppressed) and bool(regions))

    def scope_of(self, regions: Sequence[str] | None,
                 districts: Sequence[str] | None = None) -> tuple[list[str] | None,
                                                              list[str] | None]:
        """The effective (regions, districts) of a user's scope within the app's limit."""
        limit = self.base.regions
        if not regions:
            return (list(limit) if limit else None), (list(self.base.districts or []) or None)
        wanted = sorted(set(regions) & set(limit)) if limit else sorted(set(regions))
        return (wanted or [NO_REGION]), (sorted(set(districts)) if districts else None)

    def model(self, regions: Sequence[str] | None = None,
              districts: Sequence[str] | None = None, *,
              suppressed_elsewhere: bool = False) -> AppModel:
        """The model of a scope (created, not yet loaded, on first use).

        ``suppressed_elsewhere``: the model also holds the other regions (within the app's
        limit) suppressed and de-identified (:meth:`DataAccess.read_suppressed`); its
        counts of them hide numbers below :data:`~riskmap.auth.roles.SUPPRESS_BELOW`.
        """
        eff_regions, eff_districts = self.scope_of(regions, districts)
        key = self._key(eff_regions, eff_districts, suppressed_elsewhere)
        with self._lock:
            got = self._models.get(key)
            if got is None:
                access = DataAccess(self.base.store, user=f"app:{self.base.user}",
                                    regions=eff_regions, districts=eff_districts,
                                    client="app", audit=self.base.audit_enabled,
                                    suppressed_elsewhere=key[2], limit=self.base.regions,
                                    defer_audit=True)
                got = self._models[key] = AppModel(access, demo=self.demo,
                                                   timezone=self.timezone,
                                                   refresh_s=self.refresh_s)
            return got

    def for_principal(self, principal: Any) -> AppModel:
        """The model of a logged-in user's scope (and of the regions they see suppressed)."""
        return self.model(principal.regions or None, principal.districts or None,
                          suppressed_elsewhere=bool(getattr(principal, "suppressed_elsewhere",
                                                            False)))

    def access_for(self, principal: Any) -> DataAccess:
        """The user's own data access: their scope within the app's limit, audited as them."""
        regions, districts = self.scope_of(principal.regions or None,
                                           principal.districts or None)
        return DataAccess(self.base.store, user=principal.username, regions=regions,
                          districts=districts, client=principal.client or "app",
                          audit=self.base.audit_enabled,
                          suppressed_elsewhere=bool(getattr(principal, "suppressed_elsewhere",
                                                            False)),
                          limit=self.base.regions, defer_audit=True)


def _load(access: DataAccess, timezone: str = "Asia/Tashkent") -> _Loaded:
    supp = access.suppressed_elsewhere
    cols = [*_MAHALLA_COLUMNS, "geometry"]
    mahallas = (access.read_visible("mahallas", columns=cols, purpose="app", timezone=timezone)
                if supp else access.read("mahallas", columns=cols, purpose="app"))
    if not isinstance(mahallas, gpd.GeoDataFrame):
        mahallas = gpd.GeoDataFrame(mahallas, geometry=gpd.GeoSeries([], crs=f"EPSG:{SRID}"))
    mahallas = mahallas.reset_index(drop=True)
    mahalla_suppressed = (mahallas.pop("suppressed").to_numpy(dtype=bool, copy=True)
                          if supp and "suppressed" in mahallas else None)
    reps = shapely.point_on_surface(mahallas.geometry.to_numpy())
    rep_x, rep_y = shapely.get_x(reps), shapely.get_y(reps)
    inc = access.read("incidents", columns=[*INCIDENT_COLUMNS, *FOCUS_FIELDS], purpose="app")
    n_own = len(inc)
    bits = focus_bits(n_own, **{f: inc[f].to_numpy(dtype=object) for f in FOCUS_FIELDS})
    if supp:  # the other regions' incidents, de-identified on the server: coded together
        more = access.read_suppressed("incidents", columns=list(INCIDENT_COLUMNS),
                                      purpose="app", timezone=timezone)
        inc = pd.concat([pd.DataFrame(f.drop(columns=["geometry", "suppressed"],
                                             errors="ignore"))[list(INCIDENT_COLUMNS)]
                         for f in (inc, more)], ignore_index=True)

    t = pd.to_datetime(inc["occurred_at"], utc=True).to_numpy(dtype="datetime64[ns]")
    t = t.astype(np.int64)
    cells9 = inc["h3"].to_numpy(dtype=np.int64, na_value=0)
    mahalla_ids = inc["mahalla_id"].astype(object).to_numpy()
    mahalla_code = pd.Index(mahallas["mahalla_id"].astype(object)).get_indexer(mahalla_ids)
    mahalla_code = mahalla_code.astype(np.int32)
    # incidents without a district/region take their mahalla's
    district = _fill_from_mahalla(inc["district"], mahallas["district"], mahalla_code)
    region = _fill_from_mahalla(inc["region"], mahallas["region"], mahalla_code)
    cat_code, cat_names = _codes(inc["category"])
    region_code, region_names = _codes(region)
    district_code, district_names = _codes(district)
    precise = (inc["geocode_precision"] == "coordinates").fillna(False).to_numpy(dtype=bool)
    own = slice(0, n_own)
    block = None
    if supp:
        rest = slice(n_own, len(t))
        block = _Suppressed(t=t[rest], cells9=cells9[rest], cat_code=cat_code[rest],
                            mahalla_code=mahalla_code[rest], region_code=region_code[rest],
                            district_code=district_code[rest], precise=precise[rest],
                            focus_bits=np.zeros(len(t) - n_own, dtype=np.uint8))
    return _Loaded(
        mahallas=mahallas, rep_x=rep_x, rep_y=rep_y, t=t[own], cells9=cells9[own],
        cat_code=cat_code[own], cat_names=cat_names, mahalla_code=mahalla_code[own],
        region_code=region_code[own], region_names=region_names,
        district_code=district_code[own], district_names=district_names,
        precise=precise[own], focus_bits=bits, mahalla_suppressed=mahalla_suppressed,
        supp=block,
    )


def _fill_from_mahalla(values: pd.Series, by_mahalla: pd.Series,
                       mahalla_code: np.ndarray) -> np.ndarray:
    out = values.astype(object).to_numpy(na_value=None).copy()
    lookup = np.append(by_mahalla.astype(object).to_numpy(na_value=None), None)
    missing = pd.isna(out)
    out[missing] = lookup[mahalla_code[missing]]  # code -1 picks the appended None
    return out


def _codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes starting at 1 (0 = missing) and the names they stand for (index 0: None)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    names = np.empty(len(uniques) + 1, dtype=object)
    names[1:] = np.asarray(uniques, dtype=object)
    return (codes + 1).astype(np.int32), names


def _readonly(values: np.ndarray) -> np.ndarray:
    view = values.view()
    view.flags.writeable = False
    return view


def _lookup(names: np.ndarray, wanted: Sequence[str]) -> np.ndarray:
    """Boolean lookup table over codes: True where the name is wanted (index 0 never)."""
    table = pd.Series(names).isin(list(wanted)).to_numpy(dtype=bool, copy=True)
    table[0] = False
    return table
