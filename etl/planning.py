"""Camera placement planning: assemble demand, candidate sites and existing cameras from the layers, then solve.

The glue between the store and :mod:`geo.placement`: :func:`load_plan_frames` reads the layers
through :class:`layers.access.DataAccess` (scoped and audited), :func:`plan_cameras` picks the
area, builds the risk demand (H3 res-9 risk spread over res-12 children), the candidate sites
and the fixed existing cameras, runs :class:`geo.placement.CameraPlanner` (greedy, plus the exact
MILP for small instances), and returns a :class:`PlanResult`. :func:`accept_plan` writes a plan
into the ``planned_cameras`` layer and the audit log in one transaction.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from shapely import STRtree

from riskmap.errors import ConfigError
from riskmap.etl.derive_coverage import building_footprints, mahalla_entrances, risk_per_cell
from riskmap.geo.coverage import coverage_polygons
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
    "PlanResult",
    "accept_plan",
    "candidate_sites",
    "kde_demand",
    "load_plan_frames",
    "plan_cameras",
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


def kde_demand(kde_table: pd.DataFrame, area: gpd.GeoDataFrame
               ) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Demand from the KDE surface: expected incidents at each H3 res-12 child of the area.

    The surface (incidents per km², a COG in the ``kde_surface`` layer) is read only over the
    area's bounds, sampled at the centre of every res-12 child of the res-9 cells whose centre
    lies in the area, and multiplied by the child's area.

    Returns
    -------
    tuple
        Risk per res-9 cell (``h3, incidents, risk``; ``incidents`` is 0: the surface has no
        counts) and the demand points (``h3, parent, risk``, only positive risk).
    """
    import pyarrow as pa
    from affine import Affine

    from h3ronpy import cells_area_km2
    from h3ronpy.vector import ContainmentMode, wkb_to_cells
    from pyproj import Transformer
    from rasterio.errors import WindowError
    from rasterio.io import MemoryFile
    from rasterio.windows import Window, from_bounds

    from riskmap.etl.derive_hotspots import read_kde_cog
    from riskmap.geo.surface import Surface, sample_surface

    wkb = shapely.to_wkb(np.asarray(area.geometry.values, dtype=object))
    cells = pa.array(wkb_to_cells(wkb, 9, ContainmentMode.ContainsCentroid, flatten=True)
                     ).to_numpy(zero_copy_only=False).astype(np.uint64).astype(np.int64)
    cells = np.unique(cells[cells > 0])
    empty = pd.DataFrame({"h3": np.empty(0, np.int64), "incidents": np.empty(0, np.int64),
                          "risk": np.empty(0)})
    if len(cells) == 0:
        return empty, h3_demand(cells, np.empty(0), resolution=_DEMAND_RES)
    demand = h3_demand(cells, np.ones(len(cells)), resolution=_DEMAND_RES)
    lon = shapely.get_x(np.asarray(demand.geometry.values, dtype=object))
    lat = shapely.get_y(np.asarray(demand.geometry.values, dtype=object))
    with MemoryFile(read_kde_cog(kde_table)) as mem, mem.open() as ds:
        pad = 0.01
        minx, miny, maxx, maxy = area.total_bounds
        bounds = Transformer.from_crs(4326, ds.crs.to_wkt(), always_xy=True).transform_bounds(
            minx - pad, miny - pad, maxx + pad, maxy + pad)
        try:
            window = from_bounds(*bounds, transform=ds.transform).round_offsets(
            ).round_lengths().intersection(Window(0, 0, ds.width, ds.height))
        except WindowError:  # the area and the surface do not meet
            return empty, demand.iloc[:0]
        surface = Surface(ds.read(1, window=window).astype(np.float64),
                          ds.transform @ Affine.translation(window.col_off, window.row_off),
                          ds.crs.to_wkt())
    per_km2 = np.nan_to_num(sample_surface(surface, lon, lat))
    km2 = pa.array(cells_area_km2(pa.array(demand["h3"].to_numpy().astype(np.uint64)))
                   ).to_numpy(zero_copy_only=False)
    demand["risk"] = np.clip(per_km2, 0.0, None) * km2
    per_cell = demand.groupby("parent")["risk"].sum()
    out = pd.DataFrame({"h3": per_cell.index.to_numpy(np.int64), "incidents": 0,
                        "risk": per_cell.to_numpy(np.float64)})
    return out[out["risk"] > 0].reset_index(drop=True), \
        demand[demand["risk"] > 0].reset_index(drop=True)


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
                    kinds: Sequence[str], *, risk_cells: np.ndarray | None = None
                    ) -> gpd.GeoDataFrame:
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
            pa.array(np.asarray(risk_cells).astype(np.uint64)), _GRID_RES)
        ).to_numpy(zero_copy_only=False).astype(np.int64)
        lon, lat = cell_centers(np.unique(kids))
        frames.append(gpd.GeoDataFrame({
            "site_id": [f"grid:{int(c):x}" for c in np.unique(kids)], "kind": "grid"},
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
    if len(cams) == 0:
        return cams
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
                 time_limit: float = 60.0) -> PlanResult:
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

    Raises
    ------
    riskmap.errors.ConfigError
        Bad area, types, candidate kinds, budget, or ``--risk kde`` without a risk layer.
    """
    t0 = time.perf_counter()
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
    if risk == "kde":
        cells, demand = kde_demand(frames.risk_layer, area_m)
    else:
        cells = risk_per_cell(inc, months=months, precise_only=precise_only)
        cells = cells[_area_cells(cells["h3"].to_numpy(np.int64), area_m)].reset_index(drop=True)
        demand = None
    sites = candidate_sites(area_m, frames.infrastructure, kinds,
                            risk_cells=cells["h3"].to_numpy(np.int64))
    existing = _existing(frames, area_m)
    plan_id = plan_id or f"plan-{uuid.uuid4().hex[:8]}"
    summary: dict[str, Any] = {
        "plan_id": plan_id, "area": area if area is None or isinstance(area, str) else list(area),
        "n_mahallas": len(area_m), "risk": risk, "months": months, "precise_only": precise_only,
        "budget": budget, "money_budget": money_budget,
        "costs": dict(costs) if costs else None, "types": types, "candidates": kinds,
        "n_sites": len(sites), "n_risk_cells": len(cells),
        "total_risk": float(cells["risk"].sum()), "n_existing_cameras": len(existing),
    }
    if len(cells) == 0 or cells["risk"].sum() <= 0 or len(sites) == 0:
        return _empty_result(frames, area_m, cells, existing, summary, t0,
                             "no risk in the area" if len(sites) else "no candidate sites")
    if demand is None:
        demand = h3_demand(cells["h3"].to_numpy(), cells["risk"].to_numpy(),
                           resolution=_DEMAND_RES)
    planner = CameraPlanner.from_geodataframes(
        demand, sites, types=types, bearings=bearings, existing_cameras=existing,
        buildings=building_footprints(frames.infrastructure), costs=costs, k=budget,
        budget=money_budget)
    n_cand = planner.coverage.shape[1]
    run_exact = exact if exact is not None else (
        n_cand <= EXACT_MAX_CANDIDATES and (budget or np.inf) <= EXACT_MAX_CAMERAS)
    planner.solve("milp" if run_exact else "greedy", time_limit=time_limit)
    return _result(planner, frames, area_m, cells, existing, sites, summary, t0,
                   run_exact=bool(run_exact))


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


def accept_plan(access: Any, plan: gpd.GeoDataFrame, *, note: str | None = None) -> int:
    """Write a plan into ``planned_cameras`` and the audit log, in one transaction.

    Parameters
    ----------
    access
        The user's :class:`layers.access.DataAccess` (its store, user and scope are used).
    plan
        :attr:`PlanResult.plan`.
    note
        Optional text recorded in the audit detail.

    Returns
    -------
    int
        Number of cameras written (rows with the same ``camera_id`` are replaced).
    """
    rows = planned_cameras_frame(plan)
    plan_ids = sorted({str(p) for p in rows["plan_id"].dropna()})
    record = pd.DataFrame({
        "at": [pd.Timestamp.now(tz="UTC")], "user": [access.user], "action": ["accept_plan"],
        "layer": ["planned_cameras"], "scope": [access.scope],
        "detail": [json.dumps({"plan_id": plan_ids, "cameras": len(rows), "note": note},
                              ensure_ascii=False)],
        "rows": [len(rows)],
    })
    with access.store.transaction() as txn:
        txn.upsert("planned_cameras", rows)
        if access.audit_enabled:
            txn.append("audit", record)
    return len(rows)


def _with_missing(values: np.ndarray) -> np.ndarray:
    """``values`` (as objects) with a trailing None, so that index -1 looks up None."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values
    return out
