"""Camera placement as a maximal covering location problem: lazy greedy (CELF) and exact MILP."""

from __future__ import annotations

import heapq
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

import geopandas as gpd
import shapely
from shapely import STRtree

from riskmap.geo.coverage import (
    CAMERA_DEFAULTS,
    coverage_polygons,
    covered_pairs_xy,
    fill_camera_defaults,
    geoms_in_crs,
    points_xy_in_crs,
    resolve_metric_crs,
)

__all__ = [
    "CameraPlanner",
    "candidate_cameras",
    "coverage_matrix",
    "coverage_matrix_by_area",
    "coverage_matrix_from_arrays",
    "h3_demand",
]

Rule = Literal["centre", "area"]


# --------------------------------------------------------------------------------------------
# inputs: demand, candidates, coverage matrix
# --------------------------------------------------------------------------------------------
def h3_demand(cells: np.ndarray, risk: np.ndarray, *, resolution: int = 12,
              geometry: bool = True) -> gpd.GeoDataFrame | pd.DataFrame:
    """Split the risk of coarse H3 cells evenly over their children, as demand points.

    Camera footprints (30-120 m) are far smaller than a resolution-9 cell (~0.1 km2), so
    placement should count demand on a finer grid: by default resolution 12 (~300 m2, 343
    children per resolution-9 cell).

    Parameters
    ----------
    cells
        Unique H3 cell ids (int64/uint64) at a resolution below ``resolution``; duplicates
        would split one cell's risk twice, so aggregate them first.
    risk
        Risk per cell, aligned with ``cells``.
    resolution
        Resolution of the children.
    geometry
        False: the centres as ``lon`` and ``lat`` columns of a plain frame instead of points
        (the coverage sums take either; a country's millions of GEOS points cost a gigabyte).

    Returns
    -------
    geopandas.GeoDataFrame
        ``h3`` (child, int64), ``parent`` (int64), ``risk`` (parent risk / number of children) and
        the child centres as points in EPSG:4326.
    """
    import pyarrow as pa

    from h3ronpy import change_resolution_paired
    from h3ronpy.vector import cells_to_coordinates

    cells = np.asarray(cells).astype(np.uint64)
    risk = np.asarray(risk, dtype=np.float64)
    pairs = pa.record_batch(change_resolution_paired(cells, resolution))
    parent = pairs.column("cell_before").to_numpy().astype(np.uint64)
    child = pairs.column("cell_after").to_numpy().astype(np.uint64)
    which = pd.Index(cells).get_indexer(parent)
    n_children = np.bincount(which, minlength=len(cells))
    coords = pa.record_batch(cells_to_coordinates(child))
    lon, lat = coords.column("lng").to_numpy(), coords.column("lat").to_numpy()
    columns = {
        "h3": child.astype(np.int64),
        "parent": parent.astype(np.int64),
        "risk": risk[which] / n_children[which],
    }
    if not geometry:
        return pd.DataFrame({**columns, "lon": lon, "lat": lat})
    return gpd.GeoDataFrame(
        columns,
        geometry=gpd.points_from_xy(lon, lat),
        crs=4326,
    )


def candidate_cameras(
    sites: gpd.GeoDataFrame,
    *,
    types: Sequence[str] | None = None,
    bearings: int = 8,
    site_id: str = "site_id",
) -> gpd.GeoDataFrame:
    """Candidate cameras: every site x camera type x bearing.

    Directional types get ``bearings`` evenly spaced bearings (0, 45, ... for 8); a type whose
    default field of view is 360 gets one candidate with no bearing.

    Parameters
    ----------
    sites
        Candidate site points with a ``site_id`` column (``kind`` is carried along when present).
    types
        Camera types to try at every site. None uses each site's own ``type`` column.
    bearings
        Number of bearings per directional type.
    site_id
        Name of the site id column.

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id``, [``kind``], ``type``, ``bearing_deg``, ``fov_deg``, ``range_m``,
        ``height_m``, geometry; same CRS as ``sites``.
    """
    if types is None:
        if "type" not in sites:
            raise ValueError("sites have no 'type' column; pass types=[...]")
        site_idx = np.arange(len(sites))
        site_type = sites["type"].astype(object).to_numpy()
    else:
        unknown = sorted(set(types) - set(CAMERA_DEFAULTS))
        if unknown:
            raise ValueError(
                f"unknown camera types {unknown}; expected some of {sorted(CAMERA_DEFAULTS)}"
            )
        site_idx = np.repeat(np.arange(len(sites)), len(types))
        site_type = np.tile(np.asarray(types, dtype=object), len(sites))
    fov = pd.Series(site_type).map({t: d["fov_deg"] for t, d in CAMERA_DEFAULTS.items()})
    n_b = np.where(fov.to_numpy(dtype=np.float64, na_value=np.nan) >= 360, 1, bearings)
    rep = np.repeat(np.arange(len(site_idx)), n_b)
    step = 360.0 / np.maximum(n_b, 1)
    within = np.arange(len(rep)) - np.repeat(np.cumsum(n_b) - n_b, n_b)
    bearing = np.where(np.repeat(n_b, n_b) == 1, np.nan, within * np.repeat(step, n_b))
    rows = site_idx[rep]
    out = pd.DataFrame({"site_id": sites[site_id].to_numpy()[rows]})
    if "kind" in sites:
        out["kind"] = sites["kind"].to_numpy()[rows]
    out["type"] = site_type[rep]
    out["bearing_deg"] = bearing
    out = fill_camera_defaults(out)
    return gpd.GeoDataFrame(out, geometry=sites.geometry.to_numpy()[rows], crs=sites.crs)


def coverage_matrix_from_arrays(
    x: np.ndarray, y: np.ndarray, polygons: np.ndarray
) -> sp.csc_matrix:
    """Binary coverage matrix: entry (i, j) is 1 when demand point i lies in polygon j.

    Points on a boundary count as covered; NaN points and None polygons cover nothing.

    Returns
    -------
    scipy.sparse.csc_matrix
        Shape (n_points, n_polygons), int8; CSC so each candidate's column is contiguous.

    Examples
    --------
    >>> a = coverage_matrix_from_arrays(np.array([0.5, 1.5]), np.array([0.5, 0.5]),
    ...     np.array([shapely.box(0, 0, 1, 1), shapely.box(0, 0, 2, 1)]))
    >>> a.toarray().tolist()
    [[1, 1], [0, 1]]
    """
    pi, gi = covered_pairs_xy(x, y, polygons)
    shape = (len(np.asarray(x)), len(np.asarray(polygons)))
    data = np.ones(len(pi), dtype=np.int8)
    return sp.csc_matrix((data, (pi, gi)), shape=shape)


def coverage_matrix_by_area(
    units: np.ndarray, polygons: np.ndarray, *, threshold: float = 0.5
) -> sp.csc_matrix:
    """Coverage matrix for polygon demand: unit i is covered by j when >= threshold of its area is.

    Examples
    --------
    >>> coverage_matrix_by_area(np.array([shapely.box(0, 0, 1, 1)]),
    ...     np.array([shapely.box(0.5, 0, 2, 1), shapely.box(0.6, 0, 2, 1)])).toarray().tolist()
    [[1, 0]]
    """
    units = np.asarray(units, dtype=object)
    polygons = np.asarray(polygons, dtype=object)
    ui, pj = STRtree(polygons).query(units, predicate="intersects")
    share = shapely.area(shapely.intersection(units[ui], polygons[pj])) / shapely.area(units[ui])
    hit = share >= threshold - 1e-12
    data = np.ones(int(hit.sum()), dtype=np.int8)
    return sp.csc_matrix((data, (ui[hit], pj[hit])), shape=(len(units), len(polygons)))


def coverage_matrix(
    demand: gpd.GeoDataFrame | gpd.GeoSeries,
    polygons: gpd.GeoSeries,
    *,
    rule: Rule = "centre",
    crs_metric: Any = None,
) -> sp.csc_matrix:
    """Coverage matrix of demand units (points or polygons) by coverage polygons.

    ``rule="centre"``: a unit is covered when its centre (the point itself, or a polygon's
    centroid) lies inside the coverage polygon. ``rule="area"``: a polygon unit is covered when
    at least half its area does. Computed in a metric CRS (local UTM by default).
    """
    if demand.crs is None or polygons.crs is None:
        raise ValueError(f"both need a CRS: demand has {demand.crs}, polygons have {polygons.crs}")
    if rule not in ("centre", "area"):
        raise ValueError(f"rule must be 'centre' or 'area', got {rule!r}")
    crs = resolve_metric_crs(demand, crs_metric)
    pgeo = geoms_in_crs(polygons, crs, "coverage polygons")
    if rule == "area":
        return coverage_matrix_by_area(geoms_in_crs(demand, crs, "demand"), pgeo)
    x, y = points_xy_in_crs(demand, crs, "demand")
    return coverage_matrix_from_arrays(x, y, pgeo)


# --------------------------------------------------------------------------------------------
# solvers (array cores)
# --------------------------------------------------------------------------------------------
def _celf(
    a: sp.csc_matrix,
    w: np.ndarray,
    *,
    k: float,
    costs: np.ndarray,
    budget: float,
    site: np.ndarray,
    ratio: bool,
    allowed: np.ndarray | None = None,
) -> tuple[list[int], list[float]]:
    """Lazy greedy (CELF): pick the best marginal gain (or gain per cost) until k or budget."""
    w = w.astype(np.float64).copy()
    indptr, indices = a.indptr, a.indices
    gain = np.asarray(a.T @ w).ravel()
    ok = (gain > 0) & (costs <= budget)
    if allowed is not None:
        ok &= allowed
    score = gain / costs if ratio else gain
    heap = [(-s, int(j)) for s, j in zip(score[ok], np.flatnonzero(ok), strict=True)]
    heapq.heapify(heap)
    stamp = np.zeros(a.shape[1], dtype=np.int64)
    taken = np.zeros(int(site.max(initial=-1)) + 1, dtype=bool)
    chosen: list[int] = []
    gains: list[float] = []
    left = budget
    while heap and len(chosen) < k:
        _, j = heapq.heappop(heap)
        if taken[site[j]] or costs[j] > left:
            continue
        rows = indices[indptr[j] : indptr[j + 1]]
        if stamp[j] == len(chosen):
            chosen.append(j)
            gains.append(float(gain[j]))
            w[rows] = 0.0
            taken[site[j]] = True
            left -= costs[j]
            continue
        gain[j] = w[rows].sum()
        stamp[j] = len(chosen)
        if gain[j] > 0:
            heapq.heappush(heap, (-(gain[j] / costs[j] if ratio else gain[j]), j))
    return chosen, gains


def _milp(
    a: sp.csc_matrix,
    w: np.ndarray,
    *,
    k: float,
    costs: np.ndarray,
    budget: float,
    site: np.ndarray,
    time_limit: float,
) -> tuple[np.ndarray, float, int, str]:
    """Exact MCLP with HiGHS: max w.y s.t. y <= A x, count/cost budget, one camera per site."""
    by_row = a.tocsr()
    rows = np.flatnonzero((w > 0) & (np.diff(by_row.indptr) > 0))
    sub = by_row[rows]
    n_c, n_d = a.shape[1], len(rows)
    blocks = [sp.hstack([-sub, sp.identity(n_d, format="csr")])]
    upper = [np.zeros(n_d)]
    if np.isfinite(k):
        blocks.append(sp.hstack([sp.csr_matrix(np.ones((1, n_c))), sp.csr_matrix((1, n_d))]))
        upper.append(np.array([float(k)]))
    if np.isfinite(budget):
        blocks.append(sp.hstack([sp.csr_matrix(costs[None, :]), sp.csr_matrix((1, n_d))]))
        upper.append(np.array([float(budget)]))
    n_sites = int(site.max(initial=-1)) + 1
    if n_sites < n_c:  # some site holds more than one candidate
        per_site = sp.csr_matrix((np.ones(n_c), (site, np.arange(n_c))), shape=(n_sites, n_c))
        blocks.append(sp.hstack([per_site, sp.csr_matrix((n_sites, n_d))]))
        upper.append(np.ones(n_sites))
    matrix = sp.vstack(blocks).tocsr()
    ub = np.concatenate(upper)
    res = milp(
        c=np.concatenate([np.zeros(n_c), -w[rows]]),
        constraints=LinearConstraint(matrix, -np.inf, ub),
        integrality=np.concatenate([np.ones(n_c), np.zeros(n_d)]),
        bounds=Bounds(0, 1),
        options={"time_limit": time_limit},
    )
    if res.x is None:
        raise RuntimeError(f"MILP not solved: {res.message} (status {res.status})")
    chosen = np.flatnonzero(res.x[:n_c] > 0.5)
    return chosen, float(-res.fun), int(res.status), str(res.message)


# --------------------------------------------------------------------------------------------
# the planner
# --------------------------------------------------------------------------------------------
class CameraPlanner:
    """Choose new camera positions to cover the most risk (maximal covering location problem).

    Build it with :meth:`from_geodataframes` (sites, demand, existing cameras) or
    :meth:`from_matrix` (a sparse demand x candidate coverage matrix), then call :meth:`solve`.

    Parameters
    ----------
    coverage
        Sparse 0/1 matrix, demand units x candidate cameras.
    weights
        Risk weight of each demand unit (NaN counts as 0).
    k
        Maximum number of new cameras (None: no count limit).
    budget
        Maximum total cost (None: no money limit). At least one of ``k``/``budget`` is required.
    costs
        Cost of each candidate (ones when omitted).
    sites
        Site label of each candidate; with ``one_per_site`` at most one candidate (one type and
        bearing) is chosen per site. None: every candidate is its own site.
    existing
        Boolean per demand unit already covered by existing cameras; their weight is not
        counted again.
    candidates
        Optional table describing candidates (row j = column j), copied into ``selected``.
    one_per_site
        Enforce at most one camera per site in both solvers.

    Attributes
    ----------
    selected : pandas.DataFrame
        Chosen candidates in selection order: ``candidate`` (column index), the ``candidates``
        columns (site_id, type, bearing_deg, fov_deg, range_m...), ``cost``, ``marginal_gain``.
    gains : numpy.ndarray
        Marginal covered risk of each chosen camera. Non-increasing for the count budget; with a
        money budget the winning ratio greedy makes gain / cost non-increasing instead.
    curve : pandas.DataFrame
        ``n_cameras`` (0 = existing only), ``covered_risk``, ``covered_share``.
    covered_before, covered_after : float
        Share of total risk covered by the existing cameras, and with the chosen ones added.
    objective : float
        Newly covered risk.
    optimality_gap : float
        ``(opt - greedy) / opt`` after ``solve("milp")`` (NaN after ``solve("greedy")``).
    seconds : float
        Wall time of the last solve.
    status : str
        Solver message.
    build_seconds : float
        Time :meth:`from_geodataframes` took to build candidates and the matrix (else NaN).
    candidate_geometry, coverage_geometry : geopandas.GeoSeries or None
        Candidate points and their coverage polygons (set by :meth:`from_geodataframes`).
    """

    def __init__(
        self,
        coverage: sp.spmatrix | sp.sparray,
        weights: np.ndarray,
        *,
        k: int | None = None,
        budget: float | None = None,
        costs: np.ndarray | None = None,
        sites: np.ndarray | None = None,
        existing: np.ndarray | None = None,
        candidates: pd.DataFrame | None = None,
        one_per_site: bool = True,
    ) -> None:
        self.coverage = sp.csc_matrix(coverage, dtype=np.float64, copy=True)
        self.coverage.sum_duplicates()
        self.coverage.eliminate_zeros()
        self.coverage.data[:] = 1.0
        n_d, n_c = self.coverage.shape
        w = np.nan_to_num(np.asarray(weights, dtype=np.float64))
        if w.shape != (n_d,):
            raise ValueError(f"weights has shape {w.shape}; expected ({n_d},), one per demand row")
        if k is None and budget is None:
            raise ValueError("give k (number of cameras), budget (money) or both")
        self.weights = w
        self.k: float = np.inf if k is None else int(k)
        self.budget = np.inf if budget is None else float(budget)
        self.costs = np.ones(n_c) if costs is None else np.asarray(costs, dtype=np.float64)
        if (
            self.costs.shape != (n_c,)
            or (self.costs <= 0).any()
            or not np.isfinite(self.costs).all()
        ):
            raise ValueError(f"costs must be {n_c} positive finite numbers, one per candidate")
        if sites is None or not one_per_site:
            self.site_codes = np.arange(n_c)
        else:
            self.site_codes = pd.factorize(pd.Series(np.asarray(sites)), use_na_sentinel=False)[0]
        self.existing = np.zeros(n_d, bool) if existing is None else np.asarray(existing, bool)
        self.candidates = candidates
        self.build_seconds = float("nan")
        self.optimality_gap = float("nan")
        self.candidate_geometry: gpd.GeoSeries | None = None
        self.coverage_geometry: gpd.GeoSeries | None = None

    @classmethod
    def from_matrix(
        cls, coverage: sp.spmatrix | sp.sparray, weights: np.ndarray, **kwargs: Any
    ) -> CameraPlanner:
        """Planner over a ready coverage matrix (the array core; keywords as in the class)."""
        return cls(coverage, weights, **kwargs)

    @classmethod
    def from_geodataframes(
        cls,
        demand: gpd.GeoDataFrame,
        sites: gpd.GeoDataFrame,
        *,
        weight: str = "risk",
        types: Sequence[str] | None = None,
        bearings: int = 8,
        existing_cameras: gpd.GeoDataFrame | None = None,
        buildings: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
        costs: Mapping[str, float] | None = None,
        k: int | None = None,
        budget: float | None = None,
        rule: Rule = "centre",
        site_id: str = "site_id",
        one_per_site: bool = True,
        crs_metric: Any = None,
        resolution: int = 16,
    ) -> CameraPlanner:
        """Planner from demand units, candidate sites and existing cameras.

        Parameters
        ----------
        demand
            Demand points (e.g. :func:`h3_demand`) or polygons with a ``weight`` column.
        sites
            Candidate sites (points) with ``site_id`` and optionally ``kind``/``type``.
        weight
            Risk column of ``demand``.
        types, bearings, site_id
            Candidate generation, see :func:`candidate_cameras`.
        existing_cameras
            Camera layer whose coverage is fixed; cameras with ``status == "broken"`` are
            ignored (planned ones count as existing).
        buildings
            Optional footprints cutting every coverage polygon.
        costs
            Cost per camera type (every candidate type must be present).
        k, budget, one_per_site
            As in the class.
        rule
            ``"centre"``: a candidate covers a unit whose centre lies in its coverage polygon;
            ``"area"``: one whose area is at least 50% inside.
        crs_metric
            CRS to compute in; local UTM by default.
        resolution
            Arc segments of the coverage polygons.
        """
        if demand.crs is None or sites.crs is None:
            raise ValueError(f"both need a CRS: demand has {demand.crs}, sites have {sites.crs}")
        t0 = time.perf_counter()
        crs = resolve_metric_crs(demand, crs_metric)
        cands = candidate_cameras(sites, types=types, bearings=bearings, site_id=site_id)
        polys = coverage_polygons(cands, crs_metric=crs, buildings=buildings, resolution=resolution)
        a = coverage_matrix(demand, polys, rule=rule, crs_metric=crs)
        existing = None
        if existing_cameras is not None and "status" in existing_cameras:
            existing_cameras = existing_cameras[existing_cameras["status"] != "broken"]
        if existing_cameras is not None and len(existing_cameras):
            ex = coverage_polygons(
                existing_cameras, crs_metric=crs, buildings=buildings, resolution=resolution
            )
            existing = (
                np.asarray(
                    coverage_matrix(demand, ex, rule=rule, crs_metric=crs).sum(axis=1)
                ).ravel()
                > 0
            )
        cost = None
        if costs is not None:
            missing = sorted(set(cands["type"]) - set(costs))
            if missing:
                raise ValueError(f"costs has no entry for camera types {missing}")
            cost = cands["type"].map(dict(costs)).to_numpy(dtype=np.float64)
        planner = cls.from_matrix(
            a,
            demand[weight].to_numpy(dtype=np.float64, na_value=np.nan),
            k=k,
            budget=budget,
            costs=cost,
            sites=cands["site_id"].to_numpy(),
            existing=existing,
            candidates=pd.DataFrame(cands.drop(columns="geometry")),
            one_per_site=one_per_site,
        )
        planner.candidate_geometry = cands.geometry
        planner.coverage_geometry = polys
        planner.build_seconds = time.perf_counter() - t0
        return planner

    def _celf(
        self, w: np.ndarray, *, ratio: bool, allowed: np.ndarray | None
    ) -> tuple[list[int], list[float]]:
        """One CELF run with this planner's budgets and sites."""
        return _celf(
            self.coverage,
            w,
            k=self.k,
            costs=self.costs,
            budget=self.budget,
            site=self.site_codes,
            ratio=ratio,
            allowed=allowed,
        )

    def _run_greedy(
        self, w: np.ndarray, allowed: np.ndarray | None = None
    ) -> tuple[list[int], list[float]]:
        """Greedy by gain; with a money budget also by gain/cost, keeping the better."""
        best = self._celf(w, ratio=False, allowed=allowed)
        if np.isfinite(self.budget):
            alt = self._celf(w, ratio=True, allowed=allowed)
            if sum(alt[1]) > sum(best[1]):
                best = alt
        return best

    def solve(
        self, method: Literal["greedy", "milp"] = "greedy", *, time_limit: float = 60.0
    ) -> CameraPlanner:
        """Choose cameras and fill the result attributes; returns ``self``.

        Parameters
        ----------
        method
            ``"greedy"``: lazy greedy (CELF), at least (1 - 1/e) of the optimum under a count
            budget alone. ``"milp"``: exact, with scipy's HiGHS (small instances); also runs the
            greedy and sets ``optimality_gap``.
        time_limit
            Seconds allowed to HiGHS; on timeout the incumbent is returned and ``status`` says so.

        Raises
        ------
        ValueError
            For an unknown method.
        RuntimeError
            When HiGHS returns no solution.
        """
        t0 = time.perf_counter()
        w = np.where(self.existing, 0.0, self.weights)
        if method == "greedy":
            chosen, gains = self._run_greedy(w)
            self.status = "greedy"
            self.optimality_gap = float("nan")
        elif method == "milp":
            picked, opt, _, self.status = _milp(
                self.coverage,
                w,
                k=self.k,
                costs=self.costs,
                budget=self.budget,
                site=self.site_codes,
                time_limit=time_limit,
            )
            greedy_value = sum(self._run_greedy(w)[1])
            gap = (opt - greedy_value) / opt if opt > 0 else 0.0
            self.optimality_gap = 0.0 if abs(gap) < 1e-9 else gap
            allowed = np.zeros(self.coverage.shape[1], dtype=bool)
            allowed[picked] = True
            # order the optimal set by marginal gain for the curve
            saved = self.k, self.budget
            self.k, self.budget = np.inf, np.inf
            chosen, gains = self._run_greedy(w, allowed)
            self.k, self.budget = saved
        else:
            raise ValueError(f"method must be 'greedy' or 'milp', got {method!r}")
        self.seconds = time.perf_counter() - t0
        self._results(chosen, gains)
        return self

    def _results(self, chosen: list[int], gains: list[float]) -> None:
        """Fill selected, gains, curve and the covered shares."""
        idx = np.asarray(chosen, dtype=np.int64)
        self.gains = np.asarray(gains, dtype=np.float64)
        self.objective = float(self.gains.sum())
        total = float(self.weights.sum())
        before = float(self.weights[self.existing].sum())
        table = pd.DataFrame({"candidate": idx})
        if self.candidates is not None:
            table = pd.concat([table, self.candidates.iloc[idx].reset_index(drop=True)], axis=1)
        table["cost"] = self.costs[idx]
        table["marginal_gain"] = self.gains
        self.selected = table
        covered = before + np.concatenate([[0.0], np.cumsum(self.gains)])
        self.curve = pd.DataFrame(
            {
                "n_cameras": np.arange(len(covered)),
                "covered_risk": covered,
                "covered_share": covered / total if total > 0 else np.nan,
            }
        )
        self.covered_before = before / total if total > 0 else float("nan")
        self.covered_after = float(covered[-1]) / total if total > 0 else float("nan")
