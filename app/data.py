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

from riskmap.app.urlstate import encode_params, parse_list, parse_text, parse_window, search_string
from riskmap.app.viewaudit import ViewAuditor
from riskmap.geo.aggregate import rate_per_1000
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
    """

    level: str = "mahalla"
    region: str | None = None
    district: str | None = None
    start: date | None = None
    end: date | None = None
    categories: tuple[str, ...] = ()
    precise: bool = False

    def __post_init__(self) -> None:
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
        ViewQuery(level='h3_8', region=None, district=None, start=None, end=None, categories=(), precise=False)
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
    """

    t: np.ndarray
    cells9: np.ndarray
    mahalla_code: np.ndarray
    cat_code: np.ndarray
    cat_names: np.ndarray


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
    cells: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    cell_shapes: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict)


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
                self._loaded = _load(self.access)
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
        t = self._data().t
        t = t[t != _NAT]
        if len(t) == 0:
            return None, None
        lo, hi = pd.to_datetime([t.min(), t.max()], utc=True).tz_convert(self.timezone)
        return lo.date(), hi.date()

    def codes(self) -> IncidentCodes:
        """The incident arrays behind every aggregate (read-only; one entry per incident)."""
        d = self._data()
        return IncidentCodes(t=_readonly(d.t), cells9=_readonly(d.cells9),
                             mahalla_code=_readonly(d.mahalla_code),
                             cat_code=_readonly(d.cat_code), cat_names=_readonly(d.cat_names))

    # ---- queries ----------------------------------------------------------------------
    def mask(self, query: ViewQuery) -> np.ndarray:
        """Boolean selection of the incidents a query keeps."""
        d = self._data()
        lo, hi = self._window(query)
        keep = (d.t >= lo) & (d.t < hi)
        if query.categories:
            keep &= _lookup(d.cat_names, query.categories)[d.cat_code]
        if query.region:
            keep &= _lookup(d.region_names, [query.region])[d.region_code]
        if query.district:
            keep &= _lookup(d.district_names, [query.district])[d.district_code]
        if query.precise:
            keep &= d.precise
        return keep

    def total(self, query: ViewQuery) -> int:
        """Number of incidents the query keeps (at any level)."""
        return int(self.mask(query).sum())

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
            pos = self.mahalla_positions(query.region, query.district)
            m = d.mahallas.iloc[pos]
            c = counts[pos].astype(np.int64)
            pop = m["population"].to_numpy(dtype=float, na_value=np.nan)
            frame = pd.DataFrame({
                "mahalla_id": m["mahalla_id"].to_numpy(),
                "name": m["name"].to_numpy(),
                "district": m["district"].to_numpy(),
                "region": m["region"].to_numpy(),
                "population": pop,
                "count": c,
                "rate_per_1000": rate_per_1000(c, pop),
            })
            geoms = m.geometry.to_numpy()
            x, y = d.rep_x[pos], d.rep_y[pos]
        else:
            uniq, codes = self.cells(res)
            counts = np.bincount(codes[keep & (codes >= 0)], minlength=len(uniq))
            pos = np.flatnonzero(counts)
            polys, cx, cy, hexes = self.cell_shapes(res)
            frame = pd.DataFrame({
                "h3": uniq[pos],
                "h3_hex": hexes[pos],
                "count": counts[pos].astype(np.int64),
            })
            geoms, x, y = polys[pos], cx[pos], cy[pos]
        total = frame["count"].sum()
        frame["share"] = frame["count"] * 100.0 / total if total else 0.0
        return frame, (geoms, x, y)

    # ---- cached units (also used by app.commanders_data) -----------------------------
    def mahalla_positions(self, region: str | None = None,
                          district: str | None = None) -> np.ndarray:
        """Positions in :attr:`mahallas` of the mahallas in ``region`` and ``district``."""
        m = self._data().mahallas
        keep = np.ones(len(m), dtype=bool)
        if region:
            keep &= (m["region"] == region).fillna(False).to_numpy(dtype=bool)
        if district:
            keep &= (m["district"] == district).fillna(False).to_numpy(dtype=bool)
        return np.flatnonzero(keep)

    def cells(self, res: int) -> tuple[np.ndarray, np.ndarray]:
        """Unique cells at ``res`` and each incident's position among them (-1: no cell)."""
        d = self._data()
        got = d.cells.get(res)
        if got is None:
            with self._lock:
                cells = d.cells9 if res == 9 else parents(d.cells9, res)
                uniq, inverse = np.unique(cells, return_inverse=True)
                codes = inverse.astype(np.int64)
                if len(uniq) and uniq[0] == 0:
                    uniq, codes = uniq[1:], codes - 1
                got = d.cells[res] = (uniq, codes)
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
    demo, timezone
        As for :class:`AppModel`.
    """

    def __init__(self, base: DataAccess, *, demo: bool = False,
                 timezone: str = "Asia/Tashkent", root: AppModel | None = None) -> None:
        self.base = base
        self.demo = demo
        self.timezone = timezone
        self._lock = threading.Lock()
        self._models: dict[tuple[tuple[str, ...], tuple[str, ...]], AppModel] = {}
        if root is not None:
            self._models[self._key(root.access.regions, root.access.districts)] = root

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
    def _key(regions: Sequence[str] | None,
             districts: Sequence[str] | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return tuple(sorted(regions or ())), tuple(sorted(districts or ()))

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
              districts: Sequence[str] | None = None) -> AppModel:
        """The model of a scope (created, not yet loaded, on first use)."""
        eff_regions, eff_districts = self.scope_of(regions, districts)
        key = self._key(eff_regions, eff_districts)
        with self._lock:
            got = self._models.get(key)
            if got is None:
                access = DataAccess(self.base.store, user=f"app:{self.base.user}",
                                    regions=eff_regions, districts=eff_districts,
                                    client="app", audit=self.base.audit_enabled)
                got = self._models[key] = AppModel(access, demo=self.demo,
                                                   timezone=self.timezone)
            return got

    def for_principal(self, principal: Any) -> AppModel:
        """The model of a logged-in user's scope."""
        return self.model(principal.regions or None, principal.districts or None)

    def access_for(self, principal: Any) -> DataAccess:
        """The user's own data access: their scope within the app's limit, audited as them."""
        regions, districts = self.scope_of(principal.regions or None,
                                           principal.districts or None)
        return DataAccess(self.base.store, user=principal.username, regions=regions,
                          districts=districts, client=principal.client or "app",
                          audit=self.base.audit_enabled)


def _load(access: DataAccess) -> _Loaded:
    mahallas = access.read("mahallas", columns=[*_MAHALLA_COLUMNS, "geometry"], purpose="app")
    if not isinstance(mahallas, gpd.GeoDataFrame):
        mahallas = gpd.GeoDataFrame(mahallas, geometry=gpd.GeoSeries([], crs=f"EPSG:{SRID}"))
    mahallas = mahallas.reset_index(drop=True)
    reps = shapely.point_on_surface(mahallas.geometry.to_numpy())
    rep_x, rep_y = shapely.get_x(reps), shapely.get_y(reps)
    inc = access.read("incidents", columns=list(INCIDENT_COLUMNS), purpose="app")

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
    return _Loaded(
        mahallas=mahallas, rep_x=rep_x, rep_y=rep_y, t=t, cells9=cells9,
        cat_code=cat_code, cat_names=cat_names, mahalla_code=mahalla_code,
        region_code=region_code, region_names=region_names,
        district_code=district_code, district_names=district_names, precise=precise,
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
