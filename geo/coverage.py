"""Camera field-of-view polygons and coverage figures per unit, H3 cell and key site."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from affine import Affine

import geopandas as gpd
import shapely
from pyproj import CRS, Transformer
from shapely import STRtree

from riskmap.geo.join import metric_crs_for, utm_epsg
from riskmap.geo.points import xy
from riskmap.geo.viewshed import viewshed_polygon

__all__ = [
    "CAMERA_DEFAULTS",
    "centroid_xy",
    "coverage_gaps",
    "coverage_polygons",
    "covered_area",
    "covered_mask",
    "covered_pairs_xy",
    "cut_by_buildings",
    "fill_camera_defaults",
    "geoms_in_crs",
    "h3_coverage",
    "h3_polygons",
    "key_site_coverage",
    "local_utm_crs",
    "points_xy_in_crs",
    "raster_points",
    "resolve_metric_crs",
    "sector_polygons",
    "unit_coverage",
    "unit_weight_sums",
]

#: Defaults per camera type, used where a camera's own value is missing. ``fov_deg`` 360 means a
#: dome (a disc); any type may be given 360 explicitly. ``height_m`` is the mounting height above
#: the ground (used only by the viewshed cut).
CAMERA_DEFAULTS: dict[str, dict[str, float]] = {
    "face_recognition": {"range_m": 30.0, "fov_deg": 60.0, "height_m": 3.0},
    "licence_plate": {"range_m": 40.0, "fov_deg": 30.0, "height_m": 4.0},
    "traffic": {"range_m": 80.0, "fov_deg": 90.0, "height_m": 6.0},
    "overview": {"range_m": 120.0, "fov_deg": 360.0, "height_m": 8.0},
}

#: Buildings closer than this to a camera are taken to carry it and never block its view.
_MOUNT_TOLERANCE_M = 1.0
_ARC_SAMPLES = 9
_CHUNK = 500_000
_WGS84 = CRS.from_epsg(4326)

Raster = tuple[np.ndarray, Affine, Any]


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------
def local_utm_crs(lon: float, lat: float) -> CRS:
    """WGS 84 / UTM zone containing a longitude/latitude (EPSG:326zz north, 327zz south).

    Examples
    --------
    >>> local_utm_crs(69.24, 41.31).to_epsg()  # Tashkent
    32642
    >>> local_utm_crs(66.5, 40.6).to_epsg()  # Aydar-Arnasay
    32642
    >>> local_utm_crs(62.0, 42.0).to_epsg()
    32641
    """
    return CRS.from_epsg(utm_epsg(lon, lat))


def resolve_metric_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, crs_metric: Any) -> CRS:
    """The CRS to measure in: ``crs_metric`` when given, else local UTM at the centre of ``frame``.

    Raises ValueError when ``crs_metric`` is None and ``frame`` has no CRS; a frame with nothing
    located gets the zone of Tashkent (any zone will do).

    Examples
    --------
    >>> resolve_metric_crs(gpd.GeoSeries([shapely.Point(66.5, 40.6)], crs=4326), None).to_epsg()
    32642
    >>> resolve_metric_crs(gpd.GeoSeries([None], crs=4326), "EPSG:32641").to_epsg()
    32641
    """
    if crs_metric is not None:
        return CRS.from_user_input(crs_metric)
    if frame.crs is None:
        raise ValueError("geometries have no CRS; set one (EPSG:4326) or pass crs_metric")
    geo = frame.to_crs(4326) if not frame.crs.equals(CRS.from_epsg(4326)) else frame
    bounds = tuple(geo.total_bounds)
    if not np.all(np.isfinite(bounds)):
        return local_utm_crs(69.0, 41.0)  # nothing located: any zone will do
    return metric_crs_for(bounds)


def geoms_in_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS, what: str) -> np.ndarray:
    """Geometry array of ``frame`` in ``crs``; ValueError naming ``what`` when it has no CRS.

    Examples
    --------
    >>> geoms_in_crs(gpd.GeoSeries([None], crs=4326), CRS.from_epsg(32642), "cameras")
    array([None], dtype=object)
    """
    if frame.crs is None:
        raise ValueError(f"{what} have no CRS; expected one (normally EPSG:4326)")
    series = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    return np.asarray(series.to_crs(crs).values, dtype=object)


def centroid_xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates of points (centroids of other shapes); NaN for None or empty geometries.

    Examples
    --------
    >>> x, y = centroid_xy(np.array([shapely.box(0, 0, 2, 2), None, shapely.Point()]))
    >>> x.tolist(), y.tolist()
    ([1.0, nan, nan], [1.0, nan, nan])
    """
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    x[ok], y[ok] = xy(shapely.centroid(geoms[ok]))
    return x, y


def points_xy_in_crs(frame: gpd.GeoDataFrame | gpd.GeoSeries | pd.DataFrame, crs: CRS,
                     what: str) -> tuple[np.ndarray, np.ndarray]:
    """x and y in ``crs`` of each geometry of ``frame``: a point's own coordinates, another
    shape's centroid (taken in ``crs``); NaN for None or empty geometries. A plain (not geo)
    frame gives its points as ``lon`` and ``lat`` columns in EPSG:4326 (as millions of demand
    points come, see :func:`geo.placement.h3_demand`), NaN for missing values.

    The same numbers as ``centroid_xy(geoms_in_crs(frame, crs, what))`` (geopandas projects
    with the same always-xy transformer), but points, the usual case (incidents, cameras,
    demand), are projected as coordinate arrays: no GEOS point is made per row, twice
    (re-projected, then its centroid), which cost more than the coverage sums themselves on a
    national store. ValueError naming ``what`` when ``frame`` has no CRS.

    Examples
    --------
    >>> pts = gpd.GeoSeries([shapely.Point(69, 41), None, shapely.Point(),
    ...                      shapely.box(69, 41, 69.001, 41.001)], crs=4326)
    >>> x, y = points_xy_in_crs(pts, CRS.from_epsg(32642), "points")
    >>> np.round(x, 1).tolist()
    [500000.0, nan, nan, 500042.1]
    """
    if not isinstance(frame, (gpd.GeoDataFrame, gpd.GeoSeries)):
        if not {"lon", "lat"} <= set(frame.columns):
            raise ValueError(f"{what}: a plain frame needs lon and lat columns (EPSG:4326)")
        lon = frame["lon"].to_numpy(dtype=np.float64, na_value=np.nan)
        lat = frame["lat"].to_numpy(dtype=np.float64, na_value=np.nan)
        x, y = np.full(len(lon), np.nan), np.full(len(lon), np.nan)
        ok = np.isfinite(lon) & np.isfinite(lat)
        if ok.any():
            x[ok], y[ok] = Transformer.from_crs(_WGS84, crs, always_xy=True).transform(
                lon[ok], lat[ok])
        return x, y
    if frame.crs is None:
        raise ValueError(f"{what} have no CRS; expected one (normally EPSG:4326)")
    series = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    geoms = np.asarray(series.values, dtype=object)
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    if len(geoms) == 0:
        return x, y
    point = shapely.get_type_id(geoms) == 0
    px, py = xy(geoms[point])
    ok = np.isfinite(px) & np.isfinite(py)
    if ok.any() and not series.crs.is_exact_same(crs):
        px[ok], py[ok] = Transformer.from_crs(series.crs, crs, always_xy=True).transform(
            px[ok], py[ok])
    x[point], y[point] = px, py
    other = ~point & ~shapely.is_missing(geoms)
    if other.any():
        x[other], y[other] = centroid_xy(geoms_in_crs(series[other], crs, what))
    return x, y


def fill_camera_defaults(cameras: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``cameras`` with ``fov_deg``, ``range_m``, ``height_m`` filled from the type.

    Missing columns are created. Values already present are kept; values missing for a type not
    in :data:`CAMERA_DEFAULTS` stay NaN (such cameras get no coverage polygon).

    Examples
    --------
    >>> df = pd.DataFrame({"type": ["traffic", "overview", "unknown"], "range_m": [50.0, None, None]})
    >>> fill_camera_defaults(df)[["fov_deg", "range_m"]].to_numpy().tolist()
    [[90.0, 50.0], [360.0, 120.0], [nan, nan]]
    """
    out = cameras.copy()
    types = out["type"].astype(object) if "type" in out else pd.Series(None, index=out.index)
    for col in ("fov_deg", "range_m", "height_m", "bearing_deg"):
        values = pd.to_numeric(out[col], errors="coerce") if col in out else np.nan
        out[col] = pd.Series(values, index=out.index, dtype="float64")
        if col == "bearing_deg":
            continue
        default = types.map({t: d[col] for t, d in CAMERA_DEFAULTS.items()}).astype("float64")
        out[col] = out[col].fillna(default)
    return out


# --------------------------------------------------------------------------------------------
# sectors (array core)
# --------------------------------------------------------------------------------------------
def sector_polygons(
    x: np.ndarray,
    y: np.ndarray,
    bearing_deg: np.ndarray,
    fov_deg: np.ndarray,
    range_m: np.ndarray,
    *,
    resolution: int = 32,
) -> np.ndarray:
    """Field-of-view sectors (discs for ``fov_deg >= 360``) built from arrays of arc vertices.

    Parameters
    ----------
    x, y
        Camera positions in a metric CRS.
    bearing_deg
        Centre of the view, degrees clockwise from north; ignored for discs. A sector wrapping
        through north (bearing 350, fov 40 spans 330..10) needs no special handling.
    fov_deg
        Horizontal field of view in degrees; >= 360 gives a disc.
    range_m
        Radius in metres.
    resolution
        Number of straight segments approximating the arc of each sector or disc.

    Returns
    -------
    numpy.ndarray
        Object array of Polygons; None where a position, bearing (of a directional camera), fov
        or range is missing, or fov/range is not positive.

    Examples
    --------
    >>> p = sector_polygons([0.0], [0.0], [0.0], [360.0], [10.0], resolution=64)
    >>> round(float(shapely.area(p[0])), 1)  # pi * 100 = 314.2, less the polygon's chord loss
    313.7
    >>> sector_polygons([0.0], [np.nan], [0.0], [90.0], [10.0])[0] is None
    True
    """
    x, y, b, f, r = np.broadcast_arrays(
        *(np.asarray(a, dtype=np.float64) for a in (x, y, bearing_deg, fov_deg, range_m))
    )
    out = np.full(x.shape, None, dtype=object)
    valid = np.isfinite(x) & np.isfinite(y) & np.isfinite(f) & np.isfinite(r) & (r > 0) & (f > 0)
    disc = valid & (f >= 360.0)
    sector = valid & ~disc & np.isfinite(b)
    if disc.any():
        t = np.linspace(0.0, 2.0 * np.pi, resolution + 1)
        ring = np.stack(
            [
                x[disc, None] + r[disc, None] * np.sin(t),
                y[disc, None] + r[disc, None] * np.cos(t),
            ],
            axis=-1,
        )
        ring[:, -1] = ring[:, 0]
        out[disc] = shapely.polygons(ring)
    if sector.any():
        frac = np.linspace(-0.5, 0.5, resolution + 1)
        ang = np.radians(b[sector, None] + f[sector, None] * frac)
        arc = np.stack(
            [
                x[sector, None] + r[sector, None] * np.sin(ang),
                y[sector, None] + r[sector, None] * np.cos(ang),
            ],
            axis=-1,
        )
        apex = np.stack([x[sector], y[sector]], axis=-1)[:, None, :]
        out[sector] = shapely.polygons(np.concatenate([apex, arc, apex], axis=1))
    return out


def cut_by_buildings(
    sectors: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    range_m: np.ndarray,
    buildings: np.ndarray,
) -> np.ndarray:
    """Remove building footprints and the shadow each casts away from the camera.

    A building's shadow is the convex hull of its hull vertices and of points on an arc just
    beyond the range, between the two rays that graze the building. Buildings are treated as
    opaque and tall (anything behind them is hidden); a non-convex footprint blocks like its
    convex hull. A building within 1 m of the camera, or whose hull contains it, is taken to be
    the one the camera is mounted on and is ignored. Everything is in one metric CRS.

    Parameters
    ----------
    sectors
        Coverage polygons (None allowed), one per camera.
    x, y, range_m
        Camera positions and ranges.
    buildings
        Footprint polygons (None/empty ignored).

    Returns
    -------
    numpy.ndarray
        The cut polygons (possibly MultiPolygon or empty), None where the sector was None.
    """
    sectors = np.asarray(sectors, dtype=object)
    buildings = np.asarray(buildings, dtype=object)
    out = sectors.copy()
    x, y, range_m = (np.asarray(a, dtype=np.float64) for a in (x, y, range_m))
    if len(buildings) == 0 or len(sectors) == 0:
        return out
    si, bi = STRtree(buildings).query(sectors, predicate="intersects")
    cams = shapely.points(x[si], y[si])
    hull = shapely.convex_hull(buildings[bi])
    keep = (shapely.distance(cams, buildings[bi]) > _MOUNT_TOLERANCE_M) & ~shapely.contains(
        hull, cams
    )
    si, bi, hull = si[keep], bi[keep], hull[keep]
    if len(si) == 0:
        return out
    n = len(si)
    coords, idx = shapely.get_coordinates(hull, return_index=True)
    centre = shapely.centroid(hull)
    c_ang = np.arctan2(shapely.get_x(centre) - x[si], shapely.get_y(centre) - y[si])
    v_ang = np.arctan2(coords[:, 0] - x[si][idx], coords[:, 1] - y[si][idx])
    phi = np.angle(np.exp(1j * (v_ang - c_ang[idx])))  # wrapped to (-pi, pi]
    lo = np.full(n, np.inf)
    hi = np.full(n, -np.inf)
    np.minimum.at(lo, idx, phi)
    np.maximum.at(hi, idx, phi)
    t = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, _ARC_SAMPLES)
    # chords between arc samples must stay beyond the range
    radius = 1.01 * range_m[si] / np.cos((hi - lo) / (2 * (_ARC_SAMPLES - 1)))
    ang = c_ang[:, None] + t
    far = np.stack(
        [x[si, None] + radius[:, None] * np.sin(ang), y[si, None] + radius[:, None] * np.cos(ang)],
        axis=-1,
    ).reshape(-1, 2)
    allc = np.concatenate([coords, far])
    alli = np.concatenate([idx, np.repeat(np.arange(n), _ARC_SAMPLES)])
    order = np.argsort(alli, kind="stable")
    shadows = shapely.convex_hull(shapely.multipoints(allc[order], indices=alli[order]))
    # one (valid) union of shadows per camera
    order = np.argsort(si, kind="stable")
    cams_hit, first = np.unique(si[order], return_index=True)
    group = np.repeat(np.arange(len(cams_hit)), np.diff(np.append(first, len(order))))
    blocked = shapely.make_valid(
        shapely.multipolygons(shadows[order], indices=group), method="structure"
    )
    out[cams_hit] = shapely.difference(sectors[cams_hit], blocked)
    return out


def coverage_polygons(
    cameras: gpd.GeoDataFrame,
    *,
    crs_metric: Any = None,
    viewshed: Raster | None = None,
    buildings: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    resolution: int = 32,
) -> gpd.GeoSeries:
    """Each camera's field of view as a polygon in EPSG:4326.

    Parameters
    ----------
    cameras
        Camera layer: ``type``, ``bearing_deg``, ``fov_deg``, ``range_m``, ``height_m`` and point
        geometry. Missing fov/range/height are filled from :data:`CAMERA_DEFAULTS`.
    crs_metric
        CRS to build sectors in; by default the local UTM zone (EPSG:32641/32642 in Uzbekistan)
        of the cameras' centre, or the raster CRS when ``viewshed`` is given.
    viewshed
        Optional ``(surface, transform, crs)``: terrain plus building heights (metres) on a grid
        in a metric CRS. Each sector is intersected with the camera's line-of-sight viewshed
        (camera at ``height_m`` above the surface; one ray cast per camera).
    buildings
        Optional building footprints; each blocks itself and what lies behind it
        (see :func:`cut_by_buildings`).
    resolution
        Segments per arc.

    Returns
    -------
    geopandas.GeoSeries
        Indexed like ``cameras``; None for a camera without position, without bearing (unless it
        is a 360 dome), or of an unknown type with no fov/range of its own.
    """
    if cameras.crs is None:
        raise ValueError("cameras have no CRS; expected EPSG:4326")
    cams = fill_camera_defaults(cameras)
    if viewshed is not None:
        crs_metric = viewshed[2] if viewshed[2] is not None else crs_metric
    crs = resolve_metric_crs(cameras, crs_metric)
    x, y = points_xy_in_crs(cameras, crs, "cameras")
    rng = cams["range_m"].to_numpy()
    polys = sector_polygons(
        x,
        y,
        cams["bearing_deg"].to_numpy(),
        cams["fov_deg"].to_numpy(),
        rng,
        resolution=resolution,
    )
    if buildings is not None:
        polys = cut_by_buildings(polys, x, y, rng, geoms_in_crs(buildings, crs, "buildings"))
    if viewshed is not None:
        surface, transform, _ = viewshed
        height = cams["height_m"].fillna(0.0).to_numpy()
        for i in np.flatnonzero(~shapely.is_missing(polys)):
            seen = viewshed_polygon(
                surface, transform, x[i], y[i], height_m=height[i], range_m=rng[i]
            )
            polys[i] = shapely.intersection(polys[i], seen)
    return gpd.GeoSeries(polys, index=cameras.index, crs=crs).to_crs(4326)


# --------------------------------------------------------------------------------------------
# coverage figures (array cores)
# --------------------------------------------------------------------------------------------
def covered_pairs_xy(
    x: np.ndarray, y: np.ndarray, polygons: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """All (point, polygon) index pairs where the point lies in or on the polygon.

    Candidates are the points in each polygon's bounding box, then ``shapely.intersects_xy``
    on the prepared polygons. Small polygons over many points (camera footprints over a
    region's incidents or demand points) find their candidates by binary search in the points
    sorted by x, with no GEOS point made; polygons whose boxes span much of the points (mahallas
    tiling the area) query an STRtree with the points, in chunks. Both give the same pairs, in
    no particular order. NaN points and None or empty polygons match nothing.

    Examples
    --------
    >>> pi, gi = covered_pairs_xy(np.array([0.5, 5.0]), np.array([0.5, 5.0]),
    ...                           np.array([shapely.box(0, 0, 1, 1), None]))
    >>> pi.tolist(), gi.tolist()
    ([0], [0])
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    polygons = np.asarray(polygons, dtype=object)
    none = np.empty(0, dtype=np.int64)
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    valid = np.flatnonzero(~(shapely.is_missing(polygons) | shapely.is_empty(polygons)))
    if len(ok) == 0 or len(valid) == 0:
        return none, none.copy()
    shapely.prepare(polygons)
    box = shapely.bounds(polygons[valid])
    by_x = ok[np.argsort(x[ok], kind="stable")]
    xs = x[by_x]
    lo = np.searchsorted(xs, box[:, 0], side="left")
    hi = np.searchsorted(xs, box[:, 2], side="right")
    width = hi - lo
    if width.sum() > len(ok):  # boxes that span the points: the tree
        return _covered_pairs_tree(x, y, polygons, ok)
    out_p, out_g = [], []
    ends = np.cumsum(width)
    cuts = np.searchsorted(ends, np.arange(_CHUNK, ends[-1], _CHUNK), side="left")
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(valid)], strict=True):
        if b <= a:
            continue
        count = width[a:b]
        gi = np.repeat(np.arange(a, b), count)
        start = np.repeat(lo[a:b] - (np.cumsum(count) - count), count)
        pi = by_x[np.arange(count.sum()) + start]
        near = (y[pi] >= box[gi, 1]) & (y[pi] <= box[gi, 3])
        pi, gi = pi[near], valid[gi[near]]
        hit = shapely.intersects_xy(polygons[gi], x[pi], y[pi])
        out_p.append(pi[hit])
        out_g.append(gi[hit])
    if not out_p:
        return none, none.copy()
    return np.concatenate(out_p).astype(np.int64), np.concatenate(out_g).astype(np.int64)


def _covered_pairs_tree(x: np.ndarray, y: np.ndarray, polygons: np.ndarray,
                        ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`covered_pairs_xy` by an STRtree query with the points ``ok``, in chunks."""
    tree = STRtree(polygons)
    out_p, out_g = [], []
    for start in range(0, len(ok), _CHUNK):
        sel = ok[start : start + _CHUNK]
        pi, gi = tree.query(shapely.points(x[sel], y[sel]))
        hit = shapely.intersects_xy(polygons[gi], x[sel][pi], y[sel][pi])
        out_p.append(sel[pi[hit]])
        out_g.append(gi[hit])
    if not out_p:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.concatenate(out_p).astype(np.int64), np.concatenate(out_g).astype(np.int64)


def covered_mask(x: np.ndarray, y: np.ndarray, polygons: np.ndarray,
                 runs: np.ndarray | None = None) -> np.ndarray:
    """Whether each point lies in (or on) any of the polygons; False for NaN points.

    ``runs``: as :func:`_assign`; a run whose box touches no polygon, or lies in one, is
    settled without a test per point. The result is the same.

    Examples
    --------
    >>> covered_mask(np.array([0.5, 2.0, np.nan]), np.array([0.5, 2.0, 0.0]),
    ...              np.array([shapely.box(0, 0, 1, 1)])).tolist()
    [True, False, False]
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    polygons = np.asarray(polygons, dtype=object)
    mask = np.zeros(len(x), dtype=bool)
    rest = np.arange(len(x))
    if runs is not None and len(x):
        valid = polygons[~(shapely.is_missing(polygons) | shapely.is_empty(polygons))]
        hits = _run_hits(x, y, valid, runs, settle="any")
        if hits is None:
            return mask
        pi, _, whole, lengths, rest = hits
        mask = np.repeat(whole >= 0, lengths)
        mask[pi] = True
    if len(rest):
        pi, _ = covered_pairs_xy(x[rest], y[rest], polygons)
        mask[rest[pi]] = True
    return mask


def covered_area(units: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Area of each unit covered by the union of the polygons (units of the CRS squared).

    Overlapping polygons are counted once. None units give NaN.

    Examples
    --------
    >>> covered_area(np.array([shapely.box(0, 0, 2, 2), None]),
    ...              np.array([shapely.box(1, 0, 3, 1), shapely.box(1, 0, 3, 2)])).tolist()
    [2.0, nan]
    """
    units = np.asarray(units, dtype=object)
    out = np.where(shapely.is_missing(units), np.nan, 0.0)
    polygons = np.asarray(polygons, dtype=object)
    polygons = polygons[~(shapely.is_missing(polygons) | shapely.is_empty(polygons))]
    if len(polygons) == 0:
        return out
    parts = shapely.get_parts(shapely.union_all(polygons))
    ui, pj = STRtree(parts).query(units, predicate="intersects")
    areas = shapely.area(shapely.intersection(units[ui], parts[pj]))
    out += np.bincount(ui, weights=areas, minlength=len(units))
    return out


def _assign(x: np.ndarray, y: np.ndarray, units: np.ndarray,
            runs: np.ndarray | None = None) -> np.ndarray:
    """Index of the (first) unit containing each point, -1 when none does.

    ``runs``: a key per point (e.g. the H3 parent of demand points). A run of consecutive
    points with one key whose bounding box lies in one unit and touches no other gets that
    unit without a test per point; the points of the other runs are tested only against the
    units their box touches (see :func:`_run_hits`). The result is the same.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    units = np.asarray(units, dtype=object)
    none = np.iinfo(np.int64).max
    out = np.full(len(x), none, dtype=np.int64)
    if runs is not None and len(x):
        valid = np.flatnonzero(~(shapely.is_missing(units) | shapely.is_empty(units)))
        hits = _run_hits(x, y, units[valid], runs, settle="one")
        rest = np.empty(0, dtype=np.int64)  # no unit: every point stays -1
        if hits is not None:
            pi, gi, whole, lengths, rest = hits
            out = np.repeat(np.where(whole >= 0, valid[np.maximum(whole, 0)], none), lengths)
            np.minimum.at(out, pi, valid[gi])
    else:
        rest = np.arange(len(x))
    if runs is None or len(rest):
        pi, ui = covered_pairs_xy(x[rest], y[rest], units)
        np.minimum.at(out, rest[pi], np.asarray(ui, dtype=np.int64))  # 20x a lexsort of pairs
    out[out == none] = -1
    return out


def _run_hits(x: np.ndarray, y: np.ndarray, polygons: np.ndarray, runs: np.ndarray, *,
              settle: str, chunk: int = 2_000_000) -> tuple[np.ndarray, ...] | None:
    """Points in runs of one key, against valid ``polygons``: the runs settled by their box,
    and the (point, polygon) hits of the points of the other runs, each point tested only
    against the polygons its run's box touches.

    ``settle``: ``"one"`` settles a run whose box lies in a polygon and touches no other
    (for the first polygon holding a point); ``"any"`` a run whose box lies in any polygon
    (for whether a point is covered at all). A run whose box touches nothing is settled as
    in none. Runs that cannot be boxed (NaN, a point or a line) are left to the caller.

    Returns
    -------
    tuple or None
        ``(point_index, polygon_index, whole, lengths, rest)``: the hits; per run the polygon
        all its points are in (-1: none, or not settled); the run lengths; the points left to
        the caller. None when there is no polygon.
    """
    if len(polygons) == 0:
        return None
    starts, ends, boxes, ok = _run_boxes(x, y, runs)
    lengths = ends - starts
    tree = STRtree(polygons)
    bi, gi = tree.query(boxes, predicate="intersects")
    touching = np.bincount(bi, minlength=len(boxes))
    whole = np.full(len(boxes), -1, dtype=np.int64)
    if settle == "one":
        one = np.zeros(len(boxes), dtype=np.int64)
        one[bi] = gi
        single = np.flatnonzero((touching == 1) & ok)
        inside = single[shapely.contains(polygons[one[single]], boxes[single])]
        whole[inside] = one[inside]
    else:
        wb, wg = tree.query(boxes, predicate="within")
        whole[wb] = wg
        whole[~ok] = -1
    settled = ok & ((whole >= 0) | (touching == 0))
    # the other boxed runs: each point against the polygons its run's box touches
    test = ok[bi] & ~settled[bi]
    bi, gi = bi[test], gi[test]
    pts, polys = [], []
    count = lengths[bi]
    ends_at = np.cumsum(count)
    cuts = np.searchsorted(ends_at, np.arange(chunk, ends_at[-1], chunk)) if len(count) \
        else np.empty(0, dtype=np.int64)
    for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(bi)], strict=True):
        if b <= a:
            continue
        c = count[a:b]
        offset = np.repeat(starts[bi[a:b]] - (np.cumsum(c) - c), c)
        pi = offset + np.arange(c.sum())
        g = np.repeat(gi[a:b], c)
        hit = shapely.intersects_xy(polygons[g], x[pi], y[pi])
        pts.append(pi[hit])
        polys.append(g[hit])
    empty = np.empty(0, dtype=np.int64)
    return (np.concatenate(pts) if pts else empty, np.concatenate(polys) if polys else empty,
            whole, lengths, np.flatnonzero(np.repeat(~ok, lengths)))


def _run_boxes(x: np.ndarray, y: np.ndarray,
               runs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The runs of consecutive equal keys: their starts, ends, bounding boxes, and whether
    each box can stand for its points (finite, and wider and taller than nothing: a box that
    is a point or a line is tested point by point)."""
    runs = np.asarray(runs)
    cut = np.flatnonzero(runs[1:] != runs[:-1]) + 1
    starts = np.r_[0, cut].astype(np.int64)
    ends = np.r_[cut, len(runs)].astype(np.int64)
    x0, x1 = np.minimum.reduceat(x, starts), np.maximum.reduceat(x, starts)
    y0, y1 = np.minimum.reduceat(y, starts), np.maximum.reduceat(y, starts)
    ok = np.isfinite(x0) & np.isfinite(x1) & np.isfinite(y0) & np.isfinite(y1) \
        & (x1 > x0) & (y1 > y0)
    boxes = np.full(len(starts), None, dtype=object)
    boxes[ok] = shapely.box(x0[ok], y0[ok], x1[ok], y1[ok])
    return starts, ends, boxes, ok


def raster_points(array: np.ndarray, transform: Affine, crs: Any) -> gpd.GeoDataFrame:
    """Cell centres of a weight raster as points with a ``risk`` column (NaN/zero cells dropped).

    Examples
    --------
    >>> g = raster_points(np.array([[1.0, 0.0], [np.nan, 2.0]]), Affine(10, 0, 0, 0, -10, 20), 32642)
    >>> g["risk"].tolist(), g.geometry.x.tolist()
    ([1.0, 2.0], [5.0, 15.0])
    """
    array = np.asarray(array, dtype=np.float64)
    rows, cols = np.nonzero(np.isfinite(array) & (array != 0))
    xs = transform.a * (cols + 0.5) + transform.b * (rows + 0.5) + transform.c
    ys = transform.d * (cols + 0.5) + transform.e * (rows + 0.5) + transform.f
    return gpd.GeoDataFrame(
        {"risk": array[rows, cols]}, geometry=gpd.points_from_xy(xs, ys), crs=crs
    )


def _weighted(
    points: gpd.GeoDataFrame | Raster, column: str, crs: CRS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y, weight arrays of weighted points or of a weight raster, in ``crs``."""
    if isinstance(points, tuple):
        points = raster_points(*points)
        column = "risk"
    x, y = points_xy_in_crs(points, crs, "risk points")
    w = pd.to_numeric(points[column], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return x, y, np.nan_to_num(w)


def _runs_of(points: Any) -> np.ndarray | None:
    """The ``parent`` key of demand points (:func:`geo.placement.h3_demand`: the children of a
    cell come together), by which :func:`_assign` settles whole runs; None for other points."""
    if isinstance(points, pd.DataFrame) and "parent" in points.columns:
        return points["parent"].to_numpy()
    return None


def unit_coverage(
    units: gpd.GeoDataFrame,
    coverage: gpd.GeoSeries,
    *,
    unit_id: str = "mahalla_id",
    incidents: gpd.GeoDataFrame | None = None,
    risk: gpd.GeoDataFrame | Raster | None = None,
    risk_column: str = "risk",
    cameras: gpd.GeoDataFrame | None = None,
    crs_metric: Any = None,
) -> pd.DataFrame:
    """Coverage figures per polygon unit (mahalla, district or zone).

    Parameters
    ----------
    units
        Polygons with an id column ``unit_id``.
    coverage
        Camera coverage polygons (from :func:`coverage_polygons`).
    incidents
        Optional incident points; adds ``incidents``, ``incidents_covered``, ``incident_share``.
        Points without geometry count towards no unit.
    risk
        Optional weighted points (column ``risk_column``; a GeoDataFrame, or a plain frame with
        ``lon``/``lat`` in EPSG:4326) or a ``(array, transform, crs)`` weight raster (cell
        centres are used); adds ``risk``, ``risk_covered``, ``risk_share``. With a ``parent``
        column (the demand of :func:`geo.placement.h3_demand`), the points of a parent are
        placed together where their box lies in one mahalla: the same sums, several times
        faster on a country's millions of demand points.
    cameras
        Optional camera points with ``type``; adds ``cameras`` and ``cameras_<type>`` counts.
    crs_metric
        CRS for areas; local UTM by default.

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``unit_id``, ``area_m2``, ``covered_m2``, ``area_share`` and the optional
        columns above. Shares are NaN where the denominator is zero.
    """
    crs = resolve_metric_crs(units, crs_metric)
    ugeo = geoms_in_crs(units, crs, "units")
    cov = geoms_in_crs(coverage, crs, "coverage polygons")
    n = len(units)
    area = np.where(shapely.is_missing(ugeo), np.nan, shapely.area(ugeo))
    covered = covered_area(ugeo, cov)
    out = pd.DataFrame({unit_id: units[unit_id].to_numpy(), "area_m2": area, "covered_m2": covered})
    out["area_share"] = _share(covered, area)

    def counts(x: np.ndarray, y: np.ndarray, w: np.ndarray,
               runs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        total, hit, _ = _unit_sums(x, y, w, ugeo, cov, runs)
        return total, hit

    if incidents is not None:
        ix, iy = points_xy_in_crs(incidents, crs, "incidents")
        total, hit = counts(ix, iy, np.ones(len(ix)))
        out["incidents"] = total.astype(np.int64)
        out["incidents_covered"] = hit.astype(np.int64)
        out["incident_share"] = _share(hit, total)
    if risk is not None:
        total, hit = counts(*_weighted(risk, risk_column, crs), _runs_of(risk))
        out["risk"], out["risk_covered"], out["risk_share"] = total, hit, _share(hit, total)
    if cameras is not None:
        cx, cy = points_xy_in_crs(cameras, crs, "cameras")
        where = _assign(cx, cy, ugeo)
        types = cameras["type"].astype(object).fillna("unknown").to_numpy()
        out["cameras"] = np.bincount(where[where >= 0], minlength=n)
        for t in sorted(set(types)):
            sel = (where >= 0) & (types == t)
            out[f"cameras_{t}"] = np.bincount(where[sel], minlength=n)
    return out


def _unit_sums(x: np.ndarray, y: np.ndarray, w: np.ndarray, ugeo: np.ndarray,
               cov: np.ndarray, runs: np.ndarray | None = None,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weight per unit of the points it holds (first unit), its covered part, each point's unit.

    ``runs``: see :func:`_assign` (the same sums, faster for points that come in groups)."""
    n = len(ugeo)
    where = _assign(x, y, ugeo, runs)
    inside = covered_mask(x, y, cov, runs)
    ok = where >= 0
    total = np.bincount(where[ok], weights=w[ok], minlength=n)
    hit = np.bincount(where[ok & inside], weights=w[ok & inside], minlength=n)
    return total, hit, where


def unit_weight_sums(
    units: gpd.GeoDataFrame,
    coverage: gpd.GeoSeries,
    points: gpd.GeoDataFrame,
    *,
    column: str | None = None,
    crs_metric: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unit, the weight of the points it holds and of those covered; and each point's unit.

    The sums :func:`unit_coverage` makes (``incidents``/``incidents_covered`` with no
    ``column``, ``risk``/``risk_covered`` with one), for any subset of the points: a point
    counts towards the first unit (in layer order) holding it, whatever the other points, and
    a unit's sum adds its points in their order. So the sums of the units every one of whose
    points is in ``points`` equal those of the whole set, bit for bit; the others are partial.

    Parameters
    ----------
    units
        Polygons (all of them, so that a point in overlapping units goes to the same one).
    coverage
        Camera coverage polygons.
    points
        Points (centroids of other shapes); weights in ``column`` (ones when None).
    crs_metric
        CRS to measure in: pass :func:`unit_coverage`'s (local UTM of ``units`` by default).

    Returns
    -------
    total, covered : numpy.ndarray
        float, one per unit.
    where : numpy.ndarray
        Index of each point's unit, -1 for none.

    Examples
    --------
    >>> units = gpd.GeoDataFrame(geometry=[shapely.box(66, 40, 66.01, 40.01)], crs=4326)
    >>> cov = gpd.GeoSeries([shapely.box(66, 40, 66.005, 40.01)], crs=4326)
    >>> pts = gpd.GeoDataFrame(geometry=[shapely.Point(66.002, 40.005),
    ...                                  shapely.Point(66.008, 40.005)], crs=4326)
    >>> total, covered, where = unit_weight_sums(units, cov, pts)
    >>> total.tolist(), covered.tolist(), where.tolist()
    ([2.0], [1.0], [0, 0])
    """
    crs = resolve_metric_crs(units, crs_metric)
    ugeo = geoms_in_crs(units, crs, "units")
    cov = geoms_in_crs(coverage, crs, "coverage polygons")
    if column is None:
        x, y = points_xy_in_crs(points, crs, "points")
        w = np.ones(len(x))
    else:
        x, y, w = _weighted(points, column, crs)
    return _unit_sums(x, y, w, ugeo, cov)


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole with NaN where whole is zero or NaN."""
    whole = np.asarray(whole, dtype=np.float64)
    return np.divide(part, whole, out=np.full(len(whole), np.nan), where=whole > 0)


# --------------------------------------------------------------------------------------------
# H3 cells, gaps and key sites
# --------------------------------------------------------------------------------------------
def h3_polygons(cells: np.ndarray) -> gpd.GeoSeries:
    """H3 cells (64-bit ints) as EPSG:4326 polygons, built by h3ronpy.

    Examples
    --------
    >>> h3_polygons(np.array([0x8920A52D23BFFFF])).geom_type.tolist()
    ['Polygon']
    """
    import pyarrow as pa

    from h3ronpy.vector import cells_to_wkb_polygons

    cells = np.asarray(cells).astype(np.uint64)
    wkb = pa.array(cells_to_wkb_polygons(cells)).to_numpy(zero_copy_only=False)
    return gpd.GeoSeries(shapely.from_wkb(wkb), crs=4326)


def h3_coverage(
    cells: np.ndarray,
    coverage: gpd.GeoSeries,
    *,
    risk: np.ndarray | None = None,
    crs_metric: Any = None,
) -> pd.DataFrame:
    """Covered share of each H3 cell's area, and the uncovered risk ``gap = risk * (1 - share)``.

    Parameters
    ----------
    cells
        H3 cell ids (int64/uint64).
    coverage
        Camera coverage polygons.
    risk
        Risk per cell (aligned with ``cells``); ones when omitted.
    crs_metric
        CRS for areas; local UTM by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``h3`` (int64), ``area_m2``, ``covered_m2``, ``covered_share``, ``risk``, ``gap``.
    """
    cells = np.asarray(cells)
    polys = h3_polygons(cells)
    crs = resolve_metric_crs(polys, crs_metric)
    geoms = geoms_in_crs(polys, crs, "cells")
    area = shapely.area(geoms)
    covered = covered_area(geoms, geoms_in_crs(coverage, crs, "coverage polygons"))
    share = np.clip(_share(covered, area), 0.0, 1.0)
    r = np.ones(len(cells)) if risk is None else np.asarray(risk, dtype=np.float64)
    return pd.DataFrame(
        {
            "h3": cells.astype(np.int64),
            "area_m2": area,
            "covered_m2": covered,
            "covered_share": share,
            "risk": r,
            "gap": r * (1.0 - share),
        }
    )


def coverage_gaps(
    cells: np.ndarray,
    coverage: gpd.GeoSeries,
    risk: np.ndarray,
    *,
    top: int | None = None,
    crs_metric: Any = None,
) -> pd.DataFrame:
    """H3 cells ranked by uncovered risk, ``risk * (1 - covered share)``, highest first.

    Returns the :func:`h3_coverage` frame sorted by ``gap`` (ties by ``h3``) with a 1-based
    ``rank`` column, cut to the ``top`` rows when given.
    """
    frame = h3_coverage(cells, coverage, risk=risk, crs_metric=crs_metric)
    frame = frame.sort_values(["gap", "h3"], ascending=[False, True], ignore_index=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame if top is None else frame.head(top)


def key_site_coverage(
    sites: gpd.GeoDataFrame,
    coverage: gpd.GeoSeries,
    cameras: gpd.GeoDataFrame,
    *,
    camera_id: str = "camera_id",
    crs_metric: Any = None,
) -> pd.DataFrame:
    """Whether each key site (school, bus stop, market...) is covered, and its nearest camera.

    Parameters
    ----------
    sites
        Site geometries (centroids used for non-points), e.g. infrastructure with ``kind``.
    coverage
        Coverage polygons, aligned with ``cameras`` (from :func:`coverage_polygons`).
    cameras
        Camera points with a ``camera_id`` column.
    camera_id
        Name of the camera id column.
    crs_metric
        CRS for distances; local UTM by default.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``sites``: ``kind`` (when present), ``covered`` (bool), ``n_cameras``
        (cameras whose coverage contains the site), ``nearest_camera`` and ``nearest_m``
        (metres; None/NaN for sites without geometry or when there are no cameras).
    """
    crs = resolve_metric_crs(sites, crs_metric)
    sx, sy = points_xy_in_crs(sites, crs, "sites")
    cov = geoms_in_crs(coverage, crs, "coverage polygons")
    pi, _ = covered_pairs_xy(sx, sy, cov)
    n_cov = np.bincount(pi, minlength=len(sites))
    out = pd.DataFrame(index=sites.index)
    if "kind" in sites:
        out["kind"] = sites["kind"].to_numpy()
    out["covered"] = n_cov > 0
    out["n_cameras"] = n_cov
    nearest = np.full(len(sites), None, dtype=object)
    dist = np.full(len(sites), np.nan)
    cgeo = geoms_in_crs(cameras, crs, "cameras")
    ok = ~(shapely.is_missing(cgeo) | shapely.is_empty(cgeo))
    if ok.any():
        (si, cj), d = STRtree(cgeo[ok]).query_nearest(
            shapely.points(sx, sy), return_distance=True, all_matches=False
        )
        ids = cameras[camera_id].to_numpy()[np.flatnonzero(ok)]
        nearest[si] = ids[cj]
        dist[si] = d
    out["nearest_camera"] = nearest
    out["nearest_m"] = dist
    return out
