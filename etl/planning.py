"""Camera placement planning: assemble demand, candidate sites and existing cameras from the layers, then solve.

The glue between the store and :mod:`geo.placement`: :func:`load_plan_frames` reads the layers
through :class:`layers.access.DataAccess` (scoped and audited), :func:`plan_cameras` picks the
area, builds the risk demand (H3 res-9 risk spread over res-12 children), the candidate sites
and the fixed existing cameras, runs :class:`geo.placement.CameraPlanner` (greedy, plus the exact
MILP for small instances), and returns a :class:`PlanResult`. :func:`accept_plan` writes a plan
into the ``planned_cameras`` layer and the audit log in one transaction.

Before it builds anything large, :func:`plan_cameras` estimates the size of the problem
(:func:`estimate_plan_size`: demand points, candidate cameras, the coverage matrix and the KDE
window) and, given a memory budget, coarsens what would not fit (a coarser candidate grid, fewer
bearings, grid sites over the riskiest cells only, coarser demand), saying so in the summary,
or refuses with :class:`PlanTooLarge`. :func:`plan_result_to_json` and
:func:`plan_result_from_json` carry a plan through a background job's result.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from shapely import STRtree

from riskmap.errors import ConfigError
from riskmap.etl.derive_coverage import building_footprints, mahalla_entrances, risk_per_cell
from riskmap.geo.aggregate import sorted_unique
from riskmap.geo.coverage import CAMERA_DEFAULTS, coverage_polygons
from riskmap.geo.h3index import cell_centers
from riskmap.geo.join import PolygonIndex
from riskmap.geo.placement import CameraPlanner, h3_demand
from riskmap.layers.spec import CAMERA_TYPES, SRID

__all__ = [
    "DEFAULT_CANDIDATES",
    "EXACT_MAX_CAMERAS",
    "EXACT_MAX_CANDIDATES",
    "KDE_LAYER",
    "PlanFrames",
    "PlanRefused",
    "PlanResult",
    "PlanSize",
    "PlanTooLarge",
    "accept_plan",
    "accepted_cameras",
    "camera_bounds",
    "candidate_sites",
    "estimate_plan_size",
    "kde_demand",
    "load_plan_frames",
    "near_area",
    "plan_cameras",
    "plan_frame_from_geojson",
    "plan_result_from_json",
    "plan_result_to_json",
    "plan_table",
    "planned_cameras_frame",
    "road_intersections",
    "select_area",
]

#: candidate site kinds used when none are given
DEFAULT_CANDIDATES = ("bus_stop", "school", "market", "station", "intersection", "entrance")
_INFRA_KINDS = ("bus_stop", "school", "market", "station", "police_post", "medical", "hotel",
                "camp", "beach", "entrance")
#: the MILP runs automatically up to this many candidates ...
EXACT_MAX_CANDIDATES = 2_000
#: ... and this many new cameras
EXACT_MAX_CAMERAS = 20
_DEMAND_RES = 12
_GRID_RES = 10
#: the layer holding the KDE risk surface (written by the hotspots build step)
KDE_LAYER = "kde_surface"
_INCIDENT_COLUMNS = ["h3", "occurred_at", "category", "geocode_precision", "mahalla_id"]

# ---- the size of a plan ---------------------------------------------------------------------
# Memory (address space, what a job's RLIMIT_AS counts) per unit while CameraPlanner builds its
# inputs, measured on the medium demo world (peak VmSize growth; see docs/jobs.md) and rounded
# up: a demand point is held as a Shapely point in EPSG:4326 and again in the metric CRS (once
# for the candidates, once for the existing cameras) with its coordinates and weight; a
# candidate camera as a row, a point and a coverage polygon in both CRSs (prepared and in an
# STR-tree); a coverage pair as the int64 index pairs found, the COO/CSC int8 matrix and the
# planner's float64 copy.
_BYTES_PER_DEMAND = 700
_BYTES_PER_CANDIDATE = 2_600
_BYTES_PER_PAIR = 80
_BYTES_PER_KDE_PIXEL = 8 * 3
#: fixed working memory of a plan (frames copied, sites, solver)
_BYTES_FIXED = 64 * 2**20
#: share of the memory budget a plan may plan for (the rest is slack for what the model misses)
_BUDGET_SHARE = 0.8
#: average area (m²) of an H3 cell by resolution
_H3_AREA_M2 = {8: 737_327.6, 9: 105_332.5, 10: 15_047.5, 11: 2_149.6, 12: 307.1, 13: 43.9}
#: coarsest settings the planner falls back to before it refuses
_MIN_GRID_RES = 9
_MIN_DEMAND_RES = 11
_MIN_BEARINGS = 4
#: a grid over fewer of the riskiest cells than this (or than 5 per camera) is not worth it
_MIN_GRID_CELLS = 50


class PlanTooLarge(ConfigError):
    """A plan would not fit in its memory budget even at the coarsest settings; the message says
    how big it is and what to narrow."""


@dataclass(frozen=True)
class PlanSize:
    """The estimated size of a camera plan, before it is built.

    Attributes
    ----------
    n_demand
        Demand points (H3 cells at ``demand_res`` with risk).
    n_sites, n_candidates
        Candidate sites and candidate cameras (sites x types x bearings).
    n_pairs
        Expected non-zeros of the coverage matrix (candidate, demand point it covers).
    kde_pixels
        Cells of the KDE surface window read for the area (0 for ``risk="counts"``).
    demand_res, bearings
        The settings the estimate is for.
    demand_mb, candidates_mb, matrix_mb, kde_mb, total_mb
        Estimated memory, MiB (the total includes a fixed working share).
    """

    n_demand: int
    n_sites: int
    n_candidates: int
    n_pairs: int
    kde_pixels: int
    demand_res: int
    bearings: int
    demand_mb: float
    candidates_mb: float
    matrix_mb: float
    kde_mb: float
    total_mb: float

    def describe(self) -> str:
        """One line: the counts and the memory they need."""
        return (f"{self.n_candidates:,} candidate cameras at {self.n_sites:,} sites x "
                f"{self.n_demand:,} demand points (~{self.n_pairs:,} coverage pairs): about "
                f"{_mib_text(self.total_mb)}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (MiB rounded)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = round(value, 1) if isinstance(value, float) else value
        return out


def _mib_text(mib: float) -> str:
    return f"{mib / 1024:.1f} GiB" if mib >= 1024 else f"{mib:,.0f} MiB"


def _per_site(types: Sequence[str], bearings: int) -> tuple[int, float]:
    """Candidate cameras per site and the ground (m²) they cover together."""
    n, area = 0, 0.0
    for t in types:
        d = CAMERA_DEFAULTS[t]
        fov = min(float(d["fov_deg"]), 360.0)
        copies = 1 if fov >= 360.0 else bearings
        n += copies
        area += copies * fov / 360.0 * math.pi * float(d["range_m"]) ** 2
    return n, area


def estimate_plan_size(n_demand: int, n_sites: int, *, types: Sequence[str] = CAMERA_TYPES,
                       bearings: int = 8, demand_res: int = _DEMAND_RES,
                       kde_pixels: int = 0) -> PlanSize:
    """Estimate the memory a camera plan needs before it is built.

    The coverage matrix has one entry per (candidate camera, demand point it covers): each
    site's candidates cover together the ground of their fields of view (from
    :data:`~riskmap.geo.coverage.CAMERA_DEFAULTS`), holding one demand point per H3 cell of
    ``demand_res`` (at most every demand point per candidate).

    Parameters
    ----------
    n_demand
        Demand points.
    n_sites
        Candidate sites.
    types, bearings
        Camera types tried at each site and bearings per directional type.
    demand_res
        H3 resolution of the demand points.
    kde_pixels
        Cells of the KDE window read (0 when the risk is counts).

    Returns
    -------
    PlanSize

    Examples
    --------
    >>> size = estimate_plan_size(343_000, 7_000, types=["overview"], demand_res=12)
    >>> size.n_candidates, size.n_pairs   # one disc of 120 m a site: ~147 res-12 cells each
    (7000, 1031171)
    >>> size.total_mb > 300
    True
    >>> estimate_plan_size(0, 0).total_mb == _BYTES_FIXED / 2**20
    True
    """
    per_site, ground = _per_site(types, bearings)
    n_cand = int(n_sites) * per_site
    cell = _H3_AREA_M2.get(int(demand_res), 307.1)
    pairs = int(min(round(n_sites * ground / cell), n_cand * max(int(n_demand), 0)))
    mib = 2.0**20
    demand_mb = n_demand * _BYTES_PER_DEMAND / mib
    cand_mb = n_cand * _BYTES_PER_CANDIDATE / mib
    matrix_mb = pairs * _BYTES_PER_PAIR / mib
    kde_mb = kde_pixels * _BYTES_PER_KDE_PIXEL / mib
    total = demand_mb + cand_mb + matrix_mb + kde_mb + _BYTES_FIXED / mib
    return PlanSize(n_demand=int(n_demand), n_sites=int(n_sites), n_candidates=n_cand,
                    n_pairs=pairs, kde_pixels=int(kde_pixels), demand_res=int(demand_res),
                    bearings=int(bearings), demand_mb=demand_mb, candidates_mb=cand_mb,
                    matrix_mb=matrix_mb, kde_mb=kde_mb, total_mb=total)


@dataclass(frozen=True)
class _Settings:
    """How fine a plan is built: what coarsening changes."""

    demand_res: int = _DEMAND_RES
    grid_res: int = _GRID_RES
    bearings: int = 8
    grid_cells: int | None = None  # grid sites only over this many of the riskiest cells


@dataclass
class _Counts:
    """What the estimate needs to know about an area (known before anything large is built)."""

    n_risk_cells: int  # res-9 cells with risk (the grid's and the demand's parents)
    n_other_sites: int  # candidate sites that are not grid sites
    grid: bool  # whether grid sites are asked for
    types: Sequence[str]
    kde_pixels: int = 0
    demand_scale: float = 1.0  # demand points found / estimated, once the demand is built
    known_demand: dict[int, int] = field(default_factory=dict)  # resolution -> points found

    def size(self, st: _Settings) -> PlanSize:
        cells = self.n_risk_cells if st.grid_cells is None else min(st.grid_cells,
                                                                    self.n_risk_cells)
        grid_sites = cells * 7 ** max(st.grid_res - 9, 0) if self.grid else 0
        n_demand = self.known_demand.get(st.demand_res)
        if n_demand is None:
            n_demand = int(self.n_risk_cells * 7 ** (st.demand_res - 9) * self.demand_scale)
        return estimate_plan_size(n_demand, self.n_other_sites + grid_sites, types=self.types,
                                  bearings=st.bearings, demand_res=st.demand_res,
                                  kde_pixels=self.kde_pixels)


def _fit(counts: _Counts, st: _Settings, budget_mb: float | None, *, coarsen: bool,
         budget: int | None) -> tuple[_Settings, list[str], PlanSize]:
    """The finest settings (from ``st``, coarsening in order) whose estimate fits the budget.

    Order: the candidate grid one resolution coarser, 4 bearings instead of 8, grid sites only
    over the riskiest cells, demand one resolution coarser. Returns the settings, what was
    coarsened (sentences) and the estimate.

    Raises
    ------
    PlanTooLarge
        When the coarsest settings do not fit either (or ``coarsen`` is off).
    """
    notes: list[str] = []
    size = counts.size(st)
    if budget_mb is None or size.total_mb <= budget_mb:
        return st, notes, size
    first = size
    if coarsen:
        floor = max(_MIN_GRID_CELLS, 5 * (budget or 0))
        while size.total_mb > budget_mb:
            if counts.grid and st.grid_res > _MIN_GRID_RES and st.grid_cells is None:
                st = replace(st, grid_res=st.grid_res - 1)
                notes.append(f"candidate grid at H3 resolution {st.grid_res} instead of "
                             f"{st.grid_res + 1} (one site per ~{_area_text(st.grid_res)} "
                             f"instead of ~{_area_text(st.grid_res + 1)})")
            elif st.bearings > _MIN_BEARINGS:
                notes.append(f"{_MIN_BEARINGS} bearings per directional camera instead of "
                             f"{st.bearings}")
                st = replace(st, bearings=_MIN_BEARINGS)
            elif counts.grid and st.grid_cells is None and counts.n_risk_cells > floor:
                cells = _grid_cells_that_fit(counts, st, budget_mb)
                if cells < floor:
                    cells = floor
                st = replace(st, grid_cells=cells)
                notes.append(f"grid sites only over the {cells:,} riskiest of the "
                             f"{counts.n_risk_cells:,} risk cells")
            elif st.demand_res > _MIN_DEMAND_RES:
                st = replace(st, demand_res=st.demand_res - 1)
                notes.append(f"demand counted on H3 resolution {st.demand_res} cells "
                             f"(~{_area_text(st.demand_res)}) instead of "
                             f"{st.demand_res + 1} (~{_area_text(st.demand_res + 1)})")
            else:
                break
            size = counts.size(st)
        if size.total_mb <= budget_mb:
            return st, notes, size
    raise PlanTooLarge(
        f"the plan is too large for the memory it may use ({_mib_text(budget_mb)}): "
        f"{first.describe()}" + (f", and still {_mib_text(size.total_mb)} at the coarsest "
                                 "settings" if coarsen else "") +
        ": narrow the area, or try fewer camera types or candidate kinds")


def _grid_cells_that_fit(counts: _Counts, st: _Settings, budget_mb: float) -> int:
    """How many of the riskiest cells the grid may cover within the budget."""
    without = counts.size(replace(st, grid_cells=0)).total_mb
    one = counts.size(replace(st, grid_cells=1)).total_mb - without
    if one <= 0:
        return counts.n_risk_cells
    return max(0, int((budget_mb - without) / one))


def _area_text(res: int) -> str:
    m2 = _H3_AREA_M2[res]
    return f"{m2 / 1e4:,.1f} ha" if m2 >= 1e4 else f"{m2:,.0f} m²"


@dataclass
class PlanFrames:
    """The layers a plan needs (read once; the app keeps them between runs)."""

    mahallas: gpd.GeoDataFrame
    incidents: pd.DataFrame
    cameras: gpd.GeoDataFrame
    infrastructure: gpd.GeoDataFrame
    planned: gpd.GeoDataFrame | None = None
    risk_layer: pd.DataFrame | None = None  # the kde_surface table, read for risk="kde"


@dataclass
class PlanResult:
    """A camera plan and the figures around it.

    Attributes
    ----------
    plan
        Proposed cameras in selection order: ``camera_id, plan_id, rank, site_id, kind, type,
        bearing_deg, fov_deg, range_m, height_m, cost, marginal_gain`` (risk newly covered,
        non-increasing under a count budget), ``marginal_gain_share`` (of total risk),
        ``mahalla_id, district, region`` and points (EPSG:4326).
    plan_coverage
        Coverage polygon of each proposed camera (aligned with ``plan``).
    existing
        The fixed cameras (active and planned near the area) and ``existing_coverage`` their
        polygons.
    area
        The mahallas of the area.
    cells
        Risk per H3 res-9 cell of the area: ``h3, risk, incidents``.
    curve
        ``n_cameras, covered_risk, covered_share``: coverage against the number of new cameras.
    summary
        JSON-ready figures: ``budget``, ``covered_risk_before``/``after`` (shares of total risk),
        ``seconds``, ``optimality_gap`` (None when the MILP did not run), counts and options.
    """

    plan: gpd.GeoDataFrame
    plan_coverage: gpd.GeoSeries
    existing: gpd.GeoDataFrame
    existing_coverage: gpd.GeoSeries
    area: gpd.GeoDataFrame
    cells: pd.DataFrame
    curve: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def to_geojson(self) -> str:
        """The plan as a GeoJSON FeatureCollection string (the properties of :attr:`plan`)."""
        return self.plan.to_json(na="null", drop_id=True)

    def table(self) -> pd.DataFrame:
        """The plan as a flat table with ``lon``/``lat`` (for CSV and field teams)."""
        return plan_table(self.plan)

    def summary_json(self) -> str:
        """:attr:`summary` plus the curve, as indented JSON."""
        data = dict(self.summary)
        data["curve"] = self.curve.to_dict(orient="list")
        return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)


def plan_table(plan: gpd.GeoDataFrame) -> pd.DataFrame:
    """A plan as a flat table: its columns plus ``lon``/``lat`` of each camera."""
    geoms = np.asarray(plan.geometry.values, dtype=object)
    out = pd.DataFrame(plan.drop(columns="geometry"))
    out["lon"] = shapely.get_x(geoms) if len(geoms) else []
    out["lat"] = shapely.get_y(geoms) if len(geoms) else []
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if not np.isfinite(value) else float(value)
    return str(value)


# --------------------------------------------------------------------------------------------
# reading (edge)
# --------------------------------------------------------------------------------------------
def load_plan_frames(access: Any, *, area: str | Sequence[str] | None = None,
                     risk: str = "counts", purpose: str = "plan") -> PlanFrames:
    """Read the layers a plan needs through the data-access layer (a bare Store is wrapped).

    Incidents are read only for the mahallas of ``area`` (all when None); the ``kde_surface``
    layer (built by ``riskmap build --only hotspots``) only when ``risk="kde"``.
    """
    from riskmap.layers.access import DataAccess

    if not isinstance(access, DataAccess):
        access = DataAccess(access)
    mahallas = access.read("mahallas", purpose=purpose)
    filters = None
    if area is not None:
        chosen = select_area(mahallas, area)
        filters = [("mahalla_id", "in", chosen["mahalla_id"].astype(str).tolist())]
    incidents = access.read("incidents", columns=_INCIDENT_COLUMNS, filters=filters,
                            purpose=purpose)
    cameras = access.read("cameras", purpose=purpose)
    infrastructure = access.read("infrastructure", filters=[
        ("kind", "in", [*_INFRA_KINDS, "road"])], purpose=purpose)
    store = access.store
    planned = access.read("planned_cameras", purpose=purpose) \
        if store.has("planned_cameras") else None
    risk_layer = None
    if risk == "kde" and store.has(KDE_LAYER):
        risk_layer = pd.DataFrame(access.read(KDE_LAYER, purpose=purpose))
    return PlanFrames(mahallas=mahallas, incidents=incidents, cameras=cameras,
                      infrastructure=infrastructure, planned=planned, risk_layer=risk_layer)


def _cells_in_area(area: gpd.GeoDataFrame) -> np.ndarray:
    """The H3 res-9 cells (int64, unique) whose centre lies in the area."""
    import pyarrow as pa

    from h3ronpy.vector import ContainmentMode, wkb_to_cells

    if len(area) == 0:
        return np.empty(0, np.int64)
    wkb = shapely.to_wkb(np.asarray(area.geometry.values, dtype=object))
    cells = pa.array(wkb_to_cells(wkb, 9, ContainmentMode.ContainsCentroid, flatten=True)
                     ).to_numpy(zero_copy_only=False).astype(np.uint64).astype(np.int64)
    return sorted_unique(cells[cells > 0])


def _kde_window(kde_table: pd.DataFrame, area: gpd.GeoDataFrame) -> Any:
    """The KDE surface (a :class:`geo.surface.Surface`) over the area's bounds only; None when
    the area and the surface do not meet."""
    from affine import Affine

    from pyproj import Transformer
    from rasterio.errors import WindowError
    from rasterio.io import MemoryFile
    from rasterio.windows import Window, from_bounds

    from riskmap.etl.derive_hotspots import read_kde_cog
    from riskmap.geo.surface import Surface

    with MemoryFile(read_kde_cog(kde_table)) as mem, mem.open() as ds:
        pad = 0.01
        minx, miny, maxx, maxy = area.total_bounds
        bounds = Transformer.from_crs(4326, ds.crs.to_wkt(), always_xy=True).transform_bounds(
            minx - pad, miny - pad, maxx + pad, maxy + pad)
        try:
            window = from_bounds(*bounds, transform=ds.transform).round_offsets(
            ).round_lengths().intersection(Window(0, 0, ds.width, ds.height))
        except WindowError:  # the area and the surface do not meet
            return None
        return Surface(ds.read(1, window=window).astype(np.float64),
                       ds.transform @ Affine.translation(window.col_off, window.row_off),
                       ds.crs.to_wkt())


def _kde_at(surface: Any, cells: np.ndarray) -> np.ndarray:
    """KDE density (per km², >= 0) at the centre of each cell; 0 without a surface."""
    from riskmap.geo.surface import sample_surface

    if surface is None or len(cells) == 0:
        return np.zeros(len(cells))
    lon, lat = cell_centers(cells)
    return np.clip(np.nan_to_num(sample_surface(surface, lon, lat)), 0.0, None)


def kde_demand(kde_table: pd.DataFrame | None, area: gpd.GeoDataFrame, *,
               resolution: int = _DEMAND_RES, cells: np.ndarray | None = None,
               surface: Any = None) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Demand from the KDE surface: expected incidents at each H3 child of the area's cells.

    The surface (incidents per km², a COG in the ``kde_surface`` layer) is read only over the
    area's bounds, sampled at the centre of every child (at ``resolution``, res 12 by default)
    of the res-9 cells whose centre lies in the area, and multiplied by the child's area. The
    children are handled as arrays; points are made only for those with risk.

    Parameters
    ----------
    kde_table
        The ``kde_surface`` table (may be None when ``surface`` is given).
    area
        The mahallas of the area.
    resolution
        H3 resolution of the demand points (finer than 9).
    cells
        The res-9 cells to use (default: those whose centre lies in the area).
    surface
        The surface window already read (see ``_kde_window``).

    Returns
    -------
    tuple
        Risk per res-9 cell (``h3, incidents, risk``; ``incidents`` is 0: the surface has no
        counts) and the demand points (``h3, parent, risk``, only positive risk).
    """
    import pyarrow as pa

    from h3ronpy import cells_area_km2, change_resolution_paired
    from h3ronpy.vector import cells_to_coordinates

    from riskmap.geo.surface import sample_surface

    cells = _cells_in_area(area) if cells is None else np.asarray(cells, dtype=np.int64)
    empty = pd.DataFrame({"h3": np.empty(0, np.int64), "incidents": np.empty(0, np.int64),
                          "risk": np.empty(0)})
    if surface is None and len(cells) and kde_table is not None:
        surface = _kde_window(kde_table, area)
    if surface is None or len(cells) == 0:
        return empty, h3_demand(np.empty(0, np.int64), np.empty(0), resolution=resolution)
    pairs = pa.record_batch(change_resolution_paired(cells.astype(np.uint64), resolution))
    child = pairs.column("cell_after").to_numpy().astype(np.uint64)
    parent = pairs.column("cell_before").to_numpy().astype(np.int64)
    del pairs
    coords = pa.record_batch(cells_to_coordinates(child))
    lon = coords.column("lng").to_numpy()
    lat = coords.column("lat").to_numpy()
    del coords
    per_km2 = np.clip(np.nan_to_num(sample_surface(surface, lon, lat)), 0.0, None)
    km2 = pa.array(cells_area_km2(pa.array(child))).to_numpy(zero_copy_only=False)
    risk = per_km2 * km2
    del per_km2, km2
    keep = risk > 0
    demand = gpd.GeoDataFrame(
        {"h3": child[keep].astype(np.int64), "parent": parent[keep], "risk": risk[keep]},
        geometry=gpd.points_from_xy(lon[keep], lat[keep]), crs=SRID)
    per_cell = demand.groupby("parent")["risk"].sum()
    out = pd.DataFrame({"h3": per_cell.index.to_numpy(np.int64), "incidents": 0,
                        "risk": per_cell.to_numpy(np.float64)})
    return out[out["risk"] > 0].reset_index(drop=True), demand


# --------------------------------------------------------------------------------------------
# pure steps
# --------------------------------------------------------------------------------------------
def select_area(mahallas: gpd.GeoDataFrame, area: str | Sequence[str] | None
                ) -> gpd.GeoDataFrame:
    """The mahallas of an area given by region, district, mahalla name or mahalla id.

    Names match case-insensitively and ignore the Uzbek apostrophe variants (``' ‘ ’ ʻ``);
    several names select the union. None selects every mahalla.

    Raises
    ------
    riskmap.errors.ConfigError
        When a name matches nothing (the message lists some districts that exist).
    """
    if area is None or (not isinstance(area, str) and len(area) == 0):
        return mahallas
    names = [area] if isinstance(area, str) else list(area)
    keep = np.zeros(len(mahallas), dtype=bool)
    for name in names:
        wanted = _norm(name)
        hit = np.zeros(len(mahallas), dtype=bool)
        for col in ("region", "district", "name", "mahalla_id"):
            if col in mahallas:
                values = mahallas[col].astype(object).to_numpy()
                hit |= np.array([_norm(v) == wanted for v in values], dtype=bool)
        if not hit.any():
            districts = sorted({str(d) for d in mahallas["district"].dropna()})[:8]
            raise ConfigError(f"area {name!r} matches no region, district, mahalla name or id; "
                              f"districts include: {', '.join(districts)}")
        keep |= hit
    return mahallas[keep]


def _norm(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    text = str(value).strip().casefold()
    for ch in "‘’ʻʼ`´":
        text = text.replace(ch, "'")
    return text


def road_intersections(roads: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame:
    """Points where two road lines cross or meet (one row per place).

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id`` (``"intersection:<lon>,<lat>"``), ``kind`` (``"intersection"``) and points.
    """
    geoms = np.asarray(roads.geometry.values, dtype=object)
    geoms = geoms[np.isin(shapely.get_type_id(geoms), (1, 5))]
    if len(geoms) < 2:
        return _points_frame(np.empty(0, object), "intersection")
    a, b = STRtree(geoms).query(geoms, predicate="intersects")
    a, b = a[a < b], b[a < b]
    parts = shapely.get_parts(shapely.intersection(geoms[a], geoms[b]))
    parts = parts[shapely.get_type_id(parts) == 0]
    return _points_frame(parts, "intersection")


def _points_frame(points: np.ndarray, kind: str) -> gpd.GeoDataFrame:
    """Unique points (rounded to ~1 cm) as candidate sites named by their coordinates."""
    xy = np.round(shapely.get_coordinates(points), 7) if len(points) else np.empty((0, 2))
    xy = np.unique(xy, axis=0)
    ids = [f"{kind}:{x:.6f},{y:.6f}" for x, y in xy]
    return gpd.GeoDataFrame({"site_id": pd.Series(ids, dtype=object), "kind": kind},
                            geometry=gpd.GeoSeries(shapely.points(xy) if len(xy) else [],
                                                   crs=SRID), crs=SRID)


def candidate_sites(area: gpd.GeoDataFrame, infrastructure: gpd.GeoDataFrame,
                    kinds: Sequence[str], *, risk_cells: np.ndarray | None = None,
                    grid_res: int = _GRID_RES) -> gpd.GeoDataFrame:
    """Candidate sites inside the area.

    Parameters
    ----------
    area
        Mahallas of the area.
    infrastructure
        Infrastructure layer (points of the wanted kinds, ``road`` lines).
    kinds
        Infrastructure point kinds (``bus_stop``, ``school``, ...), ``intersection`` (road
        crossings), ``entrance`` (where roads cross the area's mahalla boundaries, plus
        ``entrance`` points of the infrastructure), and ``grid`` (centres of the H3 res-10
        children of the risk cells).
    risk_cells
        H3 res-9 cells with risk (needed for ``grid``).
    grid_res
        H3 resolution of the grid sites (10 by default; 9 puts one site at each risk cell).

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id, kind, name`` and points, one row per place (first kind wins).
    """
    kinds = list(dict.fromkeys(kinds))
    frames = []
    roads = infrastructure[(infrastructure["kind"] == "road").fillna(False).to_numpy(bool)] \
        if len(infrastructure) else infrastructure
    point_kinds = [k for k in kinds if k not in {"intersection", "grid"}]
    if point_kinds and len(infrastructure):
        geoms = np.asarray(infrastructure.geometry.values, dtype=object)
        sel = (infrastructure["kind"].isin(point_kinds).fillna(False).to_numpy(bool)
               & (shapely.get_type_id(geoms) == 0))
        infra = infrastructure[sel]
        frames.append(gpd.GeoDataFrame({
            "site_id": infra["feature_id"].astype(object).to_numpy(),
            "kind": infra["kind"].astype(object).to_numpy(),
            "name": infra["name"].astype(object).to_numpy() if "name" in infra else None,
        }, geometry=infra.geometry.to_numpy(), crs=SRID))
    if "entrance" in kinds and len(roads):
        frames.append(mahalla_entrances(area, roads)[["site_id", "kind", "name", "geometry"]])
    if "intersection" in kinds and len(roads):
        frames.append(road_intersections(roads))
    if "grid" in kinds and risk_cells is not None and len(risk_cells):
        import pyarrow as pa

        import h3ronpy

        kids = pa.array(h3ronpy.change_resolution(
            pa.array(np.asarray(risk_cells).astype(np.uint64)), grid_res)
        ).to_numpy(zero_copy_only=False).astype(np.int64)
        kids = sorted_unique(kids)
        lon, lat = cell_centers(kids)
        frames.append(gpd.GeoDataFrame({
            "site_id": [f"grid:{int(c):x}" for c in kids], "kind": "grid"},
            geometry=gpd.GeoSeries(shapely.points(lon, lat), crs=SRID), crs=SRID))
    unknown = sorted(set(kinds) - {*_INFRA_KINDS, "intersection", "grid"})
    if unknown:
        raise ConfigError(f"unknown candidate kinds {unknown}; expected some of "
                          f"{', '.join([*_INFRA_KINDS, 'intersection', 'grid'])}")
    if not frames:
        return _points_frame(np.empty(0, object), "none").assign(name=None)
    sites = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=SRID)
    if "name" not in sites:
        sites["name"] = None
    geoms = np.asarray(sites.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    sites, geoms = sites[ok], geoms[ok]
    # entrances lie on the boundary: keep points in or on an area mahalla
    hit, _ = STRtree(np.asarray(area.geometry.values, dtype=object)).query(
        geoms, predicate="intersects")
    sites = sites.iloc[np.unique(hit)]
    xy = np.round(shapely.get_coordinates(np.asarray(sites.geometry.values, dtype=object)), 7)
    dup = pd.DataFrame(xy).duplicated().to_numpy() | sites["site_id"].duplicated().to_numpy()
    return sites[~dup].reset_index(drop=True)


def _area_cells(cells: np.ndarray, area: gpd.GeoDataFrame) -> np.ndarray:
    """Whether each H3 cell's centre lies inside the area."""
    if len(cells) == 0:
        return np.zeros(0, dtype=bool)
    lon, lat = cell_centers(cells)
    return PolygonIndex(np.asarray(area.geometry.values, dtype=object)).locate(lon, lat) >= 0


def _existing(frames: PlanFrames, area: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Active (or unknown-status) and planned cameras within ~1 km of the area; never broken."""
    parts = [frames.cameras]
    if frames.planned is not None and len(frames.planned):
        parts.append(frames.planned[[c for c in frames.cameras.columns
                                     if c in frames.planned.columns]])
    cams = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry", crs=SRID)
    return near_area(cams, area)


def near_area(cams: gpd.GeoDataFrame, area: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The cameras a plan of ``area`` keeps fixed: not broken, within ~1 km (0.01 degree) of
    the area's bounds (the planner page counts and draws its baseline with this too)."""
    if len(cams) == 0 or len(area) == 0:
        return cams.iloc[:0].reset_index(drop=True)
    status = cams["status"].astype(object) if "status" in cams else pd.Series(None,
                                                                              index=cams.index)
    cams = cams[(status != "broken").fillna(True).to_numpy(bool)]
    minx, miny, maxx, maxy = area.total_bounds
    pad = 0.01
    geoms = np.asarray(cams.geometry.values, dtype=object)
    near = shapely.intersects(geoms, shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad))
    return cams[near].reset_index(drop=True)


def plan_cameras(frames: PlanFrames, *, area: str | Sequence[str] | None = None,
                 budget: int | None = None, types: Sequence[str] | None = None,
                 candidates: Sequence[str] | str = DEFAULT_CANDIDATES,
                 costs: Mapping[str, float] | None = None, money_budget: float | None = None,
                 exact: bool | None = None, risk: str = "counts", months: int = 12,
                 precise_only: bool = True, bearings: int = 8, plan_id: str | None = None,
                 time_limit: float = 60.0, memory_mb: float | None = None,
                 coarsen: bool = True,
                 progress: Callable[[float, str], None] | None = None) -> PlanResult:
    """Plan new cameras for an area: maximise the risk they newly cover (MCLP).

    Parameters
    ----------
    frames
        The layers (:func:`load_plan_frames`).
    area
        Region, district, mahalla name or id (or several); None plans for everything read.
    budget
        Number of new cameras ``k``.
    types
        Camera types to consider at each site (default: all of ``CAMERA_TYPES``).
    candidates
        Candidate site kinds (see :func:`candidate_sites`), a comma-separated string or a list.
    costs, money_budget
        Cost per camera type and the money available (both, or neither).
    exact
        Run the exact MILP too: True always, False never, None (default) when there are at most
        :data:`EXACT_MAX_CANDIDATES` candidates and at most :data:`EXACT_MAX_CAMERAS` cameras.
    risk
        ``"counts"``: incidents of the last ``months`` in spatial categories per H3 res-9 cell;
        ``"kde"``: the KDE surface of the ``kde_surface`` layer (see :func:`kde_demand`).
    months, precise_only
        Incident window and whether only incidents with coordinates count (see
        :func:`etl.derive_coverage.recent_spatial_mask`).
    bearings
        Bearings tried per directional camera type.
    plan_id
        Id of the plan (a short random one by default); camera ids are ``<plan_id>-<rank>``.
    time_limit
        Seconds allowed to the MILP.
    memory_mb
        Memory (MiB) the plan may still use; None: no limit. The size is estimated first
        (:func:`estimate_plan_size`); a plan that would not fit is coarsened (``coarsen``) or
        refused. ``summary["size"]`` holds the estimate, ``summary["coarsened"]`` what was made
        coarser, in words.
    coarsen
        Coarsen a plan that does not fit (keyword-only; on by default); off: refuse it.
    progress
        Called as ``progress(fraction, message)`` between the steps (a job's progress).

    Raises
    ------
    riskmap.errors.ConfigError
        Bad area, types, candidate kinds, budget, or ``--risk kde`` without a risk layer.
    PlanTooLarge
        The plan does not fit ``memory_mb`` even at the coarsest settings.
    """
    t0 = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    if budget is None and money_budget is None:
        raise ConfigError("give a budget: a number of cameras, or costs and a money budget")
    if budget is not None and budget < 1:
        raise ConfigError(f"budget={budget}: expected at least 1 camera")
    if (costs is None) != (money_budget is None):
        raise ConfigError("costs per camera type and a money budget go together")
    types = list(types) if types else list(CAMERA_TYPES)
    bad = sorted(set(types) - set(CAMERA_TYPES))
    if bad:
        raise ConfigError(f"unknown camera types {bad}; expected some of {', '.join(CAMERA_TYPES)}")
    kinds = [k.strip() for k in candidates.split(",")] if isinstance(candidates, str) \
        else list(candidates)
    if risk not in {"counts", "kde"}:
        raise ConfigError(f"risk={risk!r}: expected 'counts' or 'kde'")
    if risk == "kde" and frames.risk_layer is None:
        raise ConfigError(f"--risk kde needs the {KDE_LAYER!r} layer in the store: run "
                          "`riskmap build --only hotspots` first, or use --risk counts")
    area_m = select_area(frames.mahallas, area).reset_index(drop=True)
    if len(area_m) == 0:
        raise ConfigError("the area holds no mahallas (check the store and your region scope)")
    ids = set(area_m["mahalla_id"].astype(str))
    inc = frames.incidents
    inc = inc[inc["mahalla_id"].astype(object).isin(ids).to_numpy(bool)] if len(inc) else inc
    # 1. the risk cells and the other sites: small, and all the estimate needs
    report(0.02, "finding the risk cells")
    surface = None
    if risk == "kde":
        surface = _kde_window(frames.risk_layer, area_m)
        area_cells = _cells_in_area(area_m)
        n_risky = int((_kde_at(surface, area_cells) > 0).sum())  # cells with risk at the centre
        cells = None
    else:
        cells = risk_per_cell(inc, months=months, precise_only=precise_only)
        cells = cells[_area_cells(cells["h3"].to_numpy(np.int64), area_m)].reset_index(drop=True)
        area_cells = cells["h3"].to_numpy(np.int64)
        n_risky = len(area_cells)
    report(0.06, "candidate sites")
    other = candidate_sites(area_m, frames.infrastructure, [k for k in kinds if k != "grid"])
    counts = _Counts(n_risk_cells=n_risky, n_other_sites=len(other), grid="grid" in kinds,
                     types=types,
                     kde_pixels=int(surface.array.size) if surface is not None else 0)
    limit = None if memory_mb is None else max(0.0, float(memory_mb) * _BUDGET_SHARE)
    st, notes, size = _fit(counts, _Settings(bearings=bearings), limit, coarsen=coarsen,
                           budget=budget)
    first = counts.size(_Settings(bearings=bearings))
    # 2. the demand, at the resolution that fits; then the estimate again with what was found
    report(0.10, f"demand points (H3 resolution {st.demand_res})")
    demand, cells = _demand(frames, area_m, risk, area_cells, cells, surface, st.demand_res)
    if limit is not None and len(cells):
        counts.n_risk_cells = len(cells)
        counts.known_demand = {st.demand_res: len(demand)}
        counts.demand_scale = len(demand) / (len(cells) * 7 ** (st.demand_res - 9))
        st2, more, size = _fit(counts, st, limit, coarsen=coarsen, budget=budget)
        notes += more
        if st2.demand_res != st.demand_res:
            report(0.15, f"demand points (H3 resolution {st2.demand_res})")
            del demand
            demand, cells = _demand(frames, area_m, risk, area_cells, cells, surface,
                                    st2.demand_res)
        st = st2
    grid_cells = cells["h3"].to_numpy(np.int64)
    if st.grid_cells is not None and st.grid_cells < len(grid_cells):
        order = np.argsort(-cells["risk"].to_numpy(np.float64), kind="stable")
        grid_cells = grid_cells[order[:st.grid_cells]]
    sites = candidate_sites(area_m, frames.infrastructure, kinds, risk_cells=grid_cells,
                            grid_res=st.grid_res) if "grid" in kinds else other
    existing = _existing(frames, area_m)
    plan_id = plan_id or f"plan-{uuid.uuid4().hex[:8]}"
    summary: dict[str, Any] = {
        "plan_id": plan_id, "area": area if area is None or isinstance(area, str) else list(area),
        "n_mahallas": len(area_m), "risk": risk, "months": months, "precise_only": precise_only,
        "budget": budget, "money_budget": money_budget,
        "costs": dict(costs) if costs else None, "types": types, "candidates": kinds,
        "n_sites": len(sites), "n_risk_cells": len(cells),
        "total_risk": float(cells["risk"].sum()), "n_existing_cameras": len(existing),
        "memory_mb": None if memory_mb is None else round(float(memory_mb)),
        "size": size.as_dict(), "size_requested": first.as_dict(), "coarsened": notes,
        "bearings": st.bearings, "demand_res": st.demand_res,
        "grid_res": st.grid_res if "grid" in kinds else None,
    }
    if len(cells) == 0 or cells["risk"].sum() <= 0 or len(sites) == 0:
        return _empty_result(frames, area_m, cells, existing, summary, t0,
                             "no risk in the area" if len(sites) else "no candidate sites")
    report(0.20, f"coverage of {size.n_candidates:,} candidate cameras")
    planner = CameraPlanner.from_geodataframes(
        demand, sites, types=types, bearings=st.bearings, existing_cameras=existing,
        buildings=building_footprints(frames.infrastructure), costs=costs, k=budget,
        budget=money_budget)
    del demand
    n_cand = planner.coverage.shape[1]
    run_exact = exact if exact is not None else (
        n_cand <= EXACT_MAX_CANDIDATES and (budget or np.inf) <= EXACT_MAX_CAMERAS)
    report(0.80, "choosing cameras (" + ("exact MILP" if run_exact else "greedy") + ")")
    planner.solve("milp" if run_exact else "greedy", time_limit=time_limit)
    report(0.95, "the plan")
    return _result(planner, frames, area_m, cells, existing, sites, summary, t0,
                   run_exact=bool(run_exact))


def _demand(frames: PlanFrames, area_m: gpd.GeoDataFrame, risk: str, area_cells: np.ndarray,
            cells: pd.DataFrame | None, surface: Any, resolution: int
            ) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Demand points at ``resolution`` and the risk per res-9 cell (KDE: of the area's cells;
    counts: of ``cells``)."""
    if risk == "kde":
        cells, demand = kde_demand(frames.risk_layer, area_m, resolution=resolution,
                                   cells=area_cells, surface=surface)
        return demand, cells
    assert cells is not None
    demand = h3_demand(cells["h3"].to_numpy(), cells["risk"].to_numpy(), resolution=resolution)
    return demand, cells


def _result(planner: CameraPlanner, frames: PlanFrames, area_m: gpd.GeoDataFrame,
            cells: pd.DataFrame, existing: gpd.GeoDataFrame, sites: gpd.GeoDataFrame,
            summary: dict[str, Any], t0: float, *, run_exact: bool) -> PlanResult:
    sel = planner.selected
    assert planner.candidate_geometry is not None and planner.coverage_geometry is not None
    idx = sel["candidate"].to_numpy(np.int64)
    geoms = np.asarray(planner.candidate_geometry.values, dtype=object)[idx]
    cov = np.asarray(planner.coverage_geometry.values, dtype=object)[idx]
    total = float(planner.weights.sum())
    plan_id = summary["plan_id"]
    n = len(sel)
    kind = sel["kind"].astype(object).to_numpy() if "kind" in sel else np.full(n, None)
    plan = gpd.GeoDataFrame({
        "camera_id": [f"{plan_id}-{r:03d}" for r in range(1, n + 1)],
        "plan_id": plan_id,
        "rank": np.arange(1, n + 1, dtype=np.int64),
        "site_id": sel["site_id"].astype(object).to_numpy(),
        "kind": kind,
        "type": sel["type"].astype(object).to_numpy(),
        "bearing_deg": sel["bearing_deg"].to_numpy(np.float64),
        "fov_deg": sel["fov_deg"].to_numpy(np.float64),
        "range_m": sel["range_m"].to_numpy(np.float64),
        "height_m": sel["height_m"].to_numpy(np.float64),
        "cost": sel["cost"].to_numpy(np.float64),
        "marginal_gain": sel["marginal_gain"].to_numpy(np.float64),
        "marginal_gain_share": sel["marginal_gain"].to_numpy(np.float64) / total
        if total > 0 else np.nan,
    }, geometry=gpd.GeoSeries(geoms, crs=SRID), crs=SRID)
    plan = _locate(plan, area_m)
    ex_cov = coverage_polygons(existing, buildings=building_footprints(frames.infrastructure)) \
        if len(existing) else gpd.GeoSeries([], crs=SRID)
    gap = planner.optimality_gap
    summary.update({
        "n_candidates": int(planner.coverage.shape[1]), "n_demand": int(planner.coverage.shape[0]),
        "n_cameras": n, "method": "milp" if run_exact else "greedy",
        "covered_risk_before": _float(planner.covered_before),
        "covered_risk_after": _float(planner.covered_after),
        "new_covered_risk": _float(planner.objective),
        "total_cost": float(plan["cost"].sum()),
        "optimality_gap": _float(gap) if run_exact else None,
        "status": planner.status,
        "solve_seconds": round(float(planner.seconds), 3),
        "build_seconds": round(float(planner.build_seconds), 3),
        "seconds": round(time.perf_counter() - t0, 3),
    })
    return PlanResult(plan=plan, plan_coverage=gpd.GeoSeries(cov, crs=SRID), existing=existing,
                      existing_coverage=ex_cov, area=area_m, cells=cells,
                      curve=planner.curve.copy(), summary=summary)


def _float(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _empty_result(frames: PlanFrames, area_m: gpd.GeoDataFrame, cells: pd.DataFrame,
                  existing: gpd.GeoDataFrame, summary: dict[str, Any], t0: float,
                  reason: str) -> PlanResult:
    """A plan with no cameras (nothing to cover, or nowhere to put a camera)."""
    ex_cov = coverage_polygons(existing, buildings=building_footprints(frames.infrastructure)) \
        if len(existing) else gpd.GeoSeries([], crs=SRID)
    plan = gpd.GeoDataFrame({c: [] for c in ("camera_id", "plan_id", "rank", "site_id", "kind",
                                             "type", "bearing_deg", "fov_deg", "range_m",
                                             "height_m", "cost", "marginal_gain",
                                             "marginal_gain_share", "mahalla_id", "district",
                                             "region")},
                            geometry=gpd.GeoSeries([], crs=SRID), crs=SRID)
    summary.update({"n_candidates": 0, "n_demand": 0, "n_cameras": 0, "method": "none",
                    "covered_risk_before": None, "covered_risk_after": None,
                    "new_covered_risk": 0.0, "total_cost": 0.0, "optimality_gap": None,
                    "status": reason, "seconds": round(time.perf_counter() - t0, 3)})
    curve = pd.DataFrame({"n_cameras": [0], "covered_risk": [0.0], "covered_share": [np.nan]})
    return PlanResult(plan=plan, plan_coverage=gpd.GeoSeries([], crs=SRID), existing=existing,
                      existing_coverage=ex_cov, area=area_m, cells=cells, curve=curve,
                      summary=summary)


def _locate(plan: gpd.GeoDataFrame, area_m: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``mahalla_id, district, region`` of the mahalla holding each camera."""
    geoms = np.asarray(plan.geometry.values, dtype=object)
    where = PolygonIndex(np.asarray(area_m.geometry.values, dtype=object)).locate(
        shapely.get_x(geoms), shapely.get_y(geoms)) if len(geoms) else np.empty(0, np.int64)
    for col in ("mahalla_id", "district", "region"):
        lookup = _with_missing(area_m[col].astype(object).to_numpy())
        plan[col] = lookup[where] if len(geoms) else []
    return plan


# --------------------------------------------------------------------------------------------
# accepting a plan (edge)
# --------------------------------------------------------------------------------------------
def planned_cameras_frame(plan: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows of the ``planned_cameras`` layer for a plan (status ``planned``)."""
    cols = ["camera_id", "type", "bearing_deg", "fov_deg", "range_m", "height_m", "mahalla_id",
            "district", "region", "plan_id", "rank", "marginal_gain", "site_id"]
    out = pd.DataFrame({c: plan[c].to_numpy() for c in cols})
    out["status"] = "planned"
    out["installed_on"] = pd.NaT
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(plan.geometry.to_numpy(), crs=SRID),
                            crs=SRID)


def accept_plan(access: Any, plan: gpd.GeoDataFrame, *, note: str | None = None,
                detail: Mapping[str, Any] | None = None) -> int:
    """Write a plan into ``planned_cameras`` through the user's scoped, audited data access.

    Parameters
    ----------
    access
        The user's :class:`layers.access.DataAccess`: the write goes through
        :meth:`~riskmap.layers.access.DataAccess.write`, so rows outside the user's scope are
        refused (``PermissionError``, nothing written) and the outcome is audited as
        ``accept_plan``.
    plan
        :attr:`PlanResult.plan` (the app passes :func:`accepted_cameras` of a job's plan).
    note
        Optional text recorded in the audit detail.
    detail
        More audit detail (the job id).

    Returns
    -------
    int
        Number of cameras written (rows with the same ``camera_id`` are replaced).
    """
    rows = planned_cameras_frame(plan)
    plan_ids = sorted({str(p) for p in rows["plan_id"].dropna()})
    record = {"plan_id": plan_ids, "cameras": len(rows), "note": note, **(detail or {})}
    with access.write("accept_plan", layer="planned_cameras", detail=record) as txn:
        txn.upsert("planned_cameras", rows)
    return len(rows)


#: longest ``site_id`` kept from a plan
_MAX_SITE_ID = 80


class PlanRefused(ConfigError):
    """A plan (or the selection of its cameras) cannot be accepted; nothing was written."""


def camera_bounds(camera_type: str) -> dict[str, tuple[float, float]]:
    """The values a planned camera of ``camera_type`` may have: ``(low, high)`` per field.

    A camera's range, field of view and height never exceed the type's defaults in
    :data:`~riskmap.geo.coverage.CAMERA_DEFAULTS` (what the planner plans with).

    Raises
    ------
    PlanRefused
        An unknown camera type.

    Examples
    --------
    >>> camera_bounds("overview")["range_m"]
    (1.0, 120.0)
    """
    defaults = CAMERA_DEFAULTS.get(camera_type) if isinstance(camera_type, str) else None
    if defaults is None:
        raise PlanRefused(f"unknown camera type {str(camera_type)[:40]!r}; expected one of "
                          f"{', '.join(CAMERA_DEFAULTS)}")
    return {"range_m": (1.0, float(defaults["range_m"])),
            "fov_deg": (1.0, min(float(defaults["fov_deg"]), 360.0)),
            "height_m": (0.5, float(defaults["height_m"]))}


def _clamped(value: Any, low: float, high: float) -> float:
    """``value`` as a float within ``[low, high]``; ``high`` (the default) when not a number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return high
    return high if not math.isfinite(v) else min(max(v, low), high)


def _selection(plan: gpd.GeoDataFrame, ranks: Any) -> np.ndarray:
    """Positions in ``plan`` of the ranks chosen (all when ``ranks`` is None)."""
    have = pd.to_numeric(plan["rank"], errors="coerce").to_numpy(np.float64)
    if ranks is None:
        return np.arange(len(plan))
    if not isinstance(ranks, list) or not ranks or len(ranks) > len(plan) or not all(
            isinstance(r, int) and not isinstance(r, bool) for r in ranks):
        raise PlanRefused(f"the cameras chosen must be a list of 1 to {len(plan)} ranks")
    if len(set(ranks)) != len(ranks):
        raise PlanRefused("a camera was chosen twice")
    where = {int(r): i for i, r in enumerate(have) if math.isfinite(r)}
    missing = [r for r in ranks if r not in where]
    if missing:
        raise PlanRefused(f"the plan has no camera of rank {missing[0]}")
    return np.array(sorted(where[r] for r in ranks), dtype=np.int64)


def accepted_cameras(access: Any, plan: gpd.GeoDataFrame, *, plan_id: str,
                     ranks: Sequence[int] | None = None,
                     area_ids: Sequence[str] | None = None) -> gpd.GeoDataFrame:
    """The cameras to write for (a selection of) a plan, every field derived on the server.

    Nothing of ``plan`` is written as it is: a camera keeps only its type (which must be a
    known one), its point and its rank; the range, field of view and height are clamped to
    :func:`camera_bounds`, the bearing taken modulo 360, the gain kept when it is a finite
    number >= 0. The mahalla is the one of ``access``'s scope (among ``area_ids``) that holds
    the point, and its district and region are the mahalla's; camera ids are
    ``<plan_id>-<rank>``.

    Parameters
    ----------
    access
        The user's :class:`layers.access.DataAccess` (the mahallas are read through it).
    plan
        A plan (:func:`plan_frame_from_geojson` of a job's result).
    plan_id
        The id of the accepted plan (made by the server).
    ranks
        The ranks of the cameras to accept (None: all); each at most once.
    area_ids
        The mahallas of the plan's area (None: every mahalla in scope).

    Raises
    ------
    PlanRefused
        A bad selection, an unknown type, a camera not at a point, or a camera outside the
        mahallas the user may plan for (none is written then).
    """
    chosen = plan.iloc[_selection(plan, None if ranks is None else list(ranks))]
    filters = None if area_ids is None else [("mahalla_id", "in", [str(a) for a in area_ids])]
    mahallas = access.read("mahallas", columns=["mahalla_id", "district", "region", "geometry"],
                           filters=filters, purpose="accept_plan")
    geoms = np.asarray(chosen.geometry.values, dtype=object)
    if len(geoms):
        is_point = np.array([g is not None and shapely.get_type_id(g) == 0
                             and not shapely.is_empty(g) for g in geoms], dtype=bool)
        if not is_point.all():
            raise PlanRefused("a camera of the plan is not at a point")
    x = shapely.get_x(geoms) if len(geoms) else np.empty(0)
    y = shapely.get_y(geoms) if len(geoms) else np.empty(0)
    finite = np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180) & (np.abs(y) <= 90)
    where = np.full(len(geoms), -1, dtype=np.int64)
    if len(mahallas) and finite.any():
        where[finite] = PolygonIndex(np.asarray(mahallas.geometry.values, dtype=object)
                                     ).locate(x[finite], y[finite])
    outside = int((where < 0).sum())
    if outside:
        raise PlanRefused(f"{outside} camera(s) of the plan lie outside the mahallas you may "
                          "plan for")
    types = [str(t) if isinstance(t, str) else "" for t in chosen["type"].astype(object)]
    bounds = [camera_bounds(t) for t in types]
    ranks_kept = pd.to_numeric(chosen["rank"], errors="coerce").to_numpy(np.float64)
    gains = pd.to_numeric(chosen["marginal_gain"], errors="coerce").to_numpy(np.float64)
    bearings = pd.to_numeric(chosen["bearing_deg"], errors="coerce").to_numpy(np.float64)
    m = mahallas.iloc[where] if len(where) else mahallas.iloc[:0]
    out = gpd.GeoDataFrame({
        "camera_id": [f"{plan_id}-{int(r):03d}" for r in ranks_kept],
        "plan_id": plan_id,
        "rank": ranks_kept.astype(np.int64),
        "site_id": [None if s is None or (isinstance(s, float) and math.isnan(s))
                    else str(s)[:_MAX_SITE_ID] for s in chosen["site_id"].astype(object)],
        "type": types,
        "bearing_deg": np.where(np.isfinite(bearings), np.mod(bearings, 360.0), 0.0),
        **{col: np.array([_clamped(v, *b[col]) for v, b in
                          zip(chosen[col].astype(object), bounds, strict=True)], dtype=np.float64)
           for col in ("fov_deg", "range_m", "height_m")},
        "marginal_gain": np.where(np.isfinite(gains) & (gains >= 0), gains, np.nan),
        "mahalla_id": m["mahalla_id"].astype(object).to_numpy(),
        "district": m["district"].astype(object).to_numpy(),
        "region": m["region"].astype(object).to_numpy(),
    }, geometry=gpd.GeoSeries(shapely.points(x, y) if len(geoms) else [], crs=SRID), crs=SRID)
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# a plan as JSON (the result of a background job)
# --------------------------------------------------------------------------------------------
_PLAN_FLOATS = ("bearing_deg", "fov_deg", "range_m", "height_m", "cost", "marginal_gain",
                "marginal_gain_share")
_EXISTING_COLUMNS = ("camera_id", "type", "status", "bearing_deg", "fov_deg", "range_m")


def _geometries_json(geoms: Any) -> list[Any]:
    arr = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    if len(arr) == 0:
        return []
    missing = shapely.is_missing(arr)
    text = shapely.to_geojson(np.where(missing, None, arr))
    return [None if m else json.loads(t) for m, t in zip(missing, text, strict=True)]


def _geometries_from_json(items: Sequence[Any]) -> np.ndarray:
    if not items:
        return np.empty(0, dtype=object)
    text = np.array([json.dumps(g) if g is not None else None for g in items], dtype=object)
    out = np.empty(len(text), dtype=object)
    ok = np.array([t is not None for t in text], dtype=bool)
    if ok.any():
        out[ok] = shapely.from_geojson(text[ok])
    return out


def plan_result_to_json(res: PlanResult) -> dict[str, Any]:
    """A plan and what the planner page draws of it, as JSON values (a job's result).

    Holds the plan (GeoJSON), its coverage, the existing cameras and their coverage, the ids of
    the area's mahallas, the risk per H3 res-9 cell (ids as hex text), the curve and the
    summary. :func:`plan_result_from_json` turns it back into a :class:`PlanResult`.
    """
    ex = res.existing
    ex_cols = [c for c in _EXISTING_COLUMNS if c in ex.columns]
    existing = gpd.GeoDataFrame(pd.DataFrame(ex[ex_cols]).reset_index(drop=True),
                                geometry=gpd.GeoSeries(np.asarray(ex.geometry.values,
                                                                  dtype=object), crs=SRID),
                                crs=SRID)
    cells = res.cells
    return {
        "format": 1,
        "summary": json.loads(json.dumps(res.summary, default=_json_default)),
        "curve": json.loads(json.dumps(res.curve.to_dict(orient="list"),
                                       default=_json_default)),
        "plan": json.loads(res.to_geojson()),
        "plan_coverage": _geometries_json(res.plan_coverage),
        "existing": json.loads(existing.to_json(na="null", drop_id=True)),
        "existing_coverage": _geometries_json(res.existing_coverage),
        "area": [str(m) for m in res.area["mahalla_id"]],
        "cells": {"h3": [f"{int(h):x}" for h in cells["h3"]],
                  "risk": [_json_default(v) for v in cells["risk"].to_numpy(np.float64)],
                  "incidents": [int(v) for v in cells["incidents"].fillna(0)]},
    }


def plan_frame_from_geojson(geojson: Mapping[str, Any] | str) -> gpd.GeoDataFrame:
    """The plan (:attr:`PlanResult.plan`) from its GeoJSON, with its columns and dtypes."""
    data = json.loads(geojson) if isinstance(geojson, str) else dict(geojson)
    features = data.get("features") or []
    columns = ["camera_id", "plan_id", "rank", "site_id", "kind", "type", *_PLAN_FLOATS,
               "mahalla_id", "district", "region"]
    if not features:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=gpd.GeoSeries([], crs=SRID),
                                crs=SRID)
    plan = gpd.GeoDataFrame.from_features(features, crs=SRID)
    for col in columns:
        if col not in plan:
            plan[col] = None
    for col in _PLAN_FLOATS:
        plan[col] = pd.to_numeric(plan[col], errors="coerce").astype(np.float64)
    plan["rank"] = pd.to_numeric(plan["rank"]).astype(np.int64)
    return plan[[*columns, "geometry"]]


def plan_result_from_json(data: Mapping[str, Any],
                          mahallas: gpd.GeoDataFrame | None = None) -> PlanResult:
    """The :class:`PlanResult` of :func:`plan_result_to_json` (to draw it or accept it).

    ``mahallas``: the layer the area's mahallas are taken from (those the reader may see); None
    leaves :attr:`PlanResult.area` empty.
    """
    cells = data.get("cells") or {}
    cell_frame = pd.DataFrame({
        "h3": np.array([int(h, 16) for h in cells.get("h3", [])], dtype=np.int64),
        "incidents": np.array(cells.get("incidents", []), dtype=np.int64),
        "risk": np.array([np.nan if v is None else v for v in cells.get("risk", [])],
                         dtype=np.float64)})
    if mahallas is not None:
        keep = mahallas["mahalla_id"].astype(str).isin(set(data.get("area") or []))
        area = mahallas[keep.to_numpy(bool)].reset_index(drop=True)
    else:
        area = gpd.GeoDataFrame({"mahalla_id": []}, geometry=gpd.GeoSeries([], crs=SRID),
                                crs=SRID)
    ex_features = (data.get("existing") or {}).get("features") or []
    existing = gpd.GeoDataFrame.from_features(ex_features, crs=SRID) if ex_features else \
        gpd.GeoDataFrame({c: [] for c in _EXISTING_COLUMNS},
                         geometry=gpd.GeoSeries([], crs=SRID), crs=SRID)
    curve = pd.DataFrame(data.get("curve") or {"n_cameras": [0], "covered_risk": [0.0],
                                               "covered_share": [np.nan]})
    curve["covered_share"] = pd.to_numeric(curve["covered_share"], errors="coerce")
    return PlanResult(
        plan=plan_frame_from_geojson(data.get("plan") or {}),
        plan_coverage=gpd.GeoSeries(_geometries_from_json(data.get("plan_coverage") or []),
                                    crs=SRID),
        existing=existing,
        existing_coverage=gpd.GeoSeries(
            _geometries_from_json(data.get("existing_coverage") or []), crs=SRID),
        area=area, cells=cell_frame, curve=curve, summary=dict(data.get("summary") or {}))


def _with_missing(values: np.ndarray) -> np.ndarray:
    """``values`` (as objects) with a trailing None, so that index -1 looks up None."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values
    return out
