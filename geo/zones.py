"""Tourism-zone readiness: zone figures (coverage, incidents by season) and the checklist."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

import geopandas as gpd
import shapely
from pyproj import CRS
from shapely.geometry.base import BaseGeometry

from riskmap.geo.network import (
    OFFROAD_KMH,
    build_road_graph,
    metric_crs,
    time_to_area,
    to_metric_xy,
    travel_times,
)

__all__ = [
    "SITE_KINDS",
    "ReadinessThresholds",
    "in_season",
    "readiness_checklist",
    "zone_figures",
]

#: Infrastructure kinds whose camera coverage :func:`zone_figures` reports one by one.
SITE_KINDS = ("camp", "beach", "entrance")

_WGS84 = CRS.from_epsg(4326)
_MMDD = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class ReadinessThresholds:
    """Pass marks of :func:`readiness_checklist`.

    Attributes
    ----------
    power_line_km
        A power line must run within this distance of the zone.
    police_minutes, emergency_minutes, medical_minutes
        The nearest police post / emergency service (112) / medical facility must reach
        the zone within this many minutes.
    road_minutes
        Maximum minutes by road from the nearest town; None only asks that a path exists.
    entrance_coverage
        Share (0-1) of entrances a camera must cover.
    max_access_m
        A town or facility farther than this from every road node is not on the network.
    offroad_kmh
        Speed off the roads (access legs, and a facility's straight run to the zone).
    entrance_reach_m
        ``entrance`` features within this distance of the zone count as its entrances.
    entrance_merge_m
        Road crossings of the boundary closer than this merge into one entrance.
    """

    power_line_km: float = 2.0
    police_minutes: float = 20.0
    emergency_minutes: float = 30.0
    medical_minutes: float = 30.0
    road_minutes: float | None = None
    entrance_coverage: float = 1.0
    max_access_m: float = 1000.0
    offroad_kmh: float = OFFROAD_KMH
    entrance_reach_m: float = 200.0
    entrance_merge_m: float = 50.0


# --------------------------------------------------------------------------- seasons


def _mmdd(value: object, what: str) -> int | None:
    """Parse ``"MM-DD"`` into ``month * 100 + day``; None for a missing value."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    match = _MMDD.match(str(value).strip())
    if not match or not (1 <= int(match[1]) <= 12 and 1 <= int(match[2]) <= 31):
        raise ValueError(f"{what}: {value!r} is not a season date; expected 'MM-DD', e.g. '06-01'")
    return int(match[1]) * 100 + int(match[2])


def in_season(
    occurred_at: pd.Series | pd.DatetimeIndex | Sequence[Any],
    season_start: str,
    season_end: str,
    *,
    tz: str = "Asia/Tashkent",
) -> np.ndarray:
    """Return whether each timestamp falls in the season ``season_start``-``season_end``.

    Both ends are inclusive and read in the local time zone ``tz``.  A season whose start
    is later in the year than its end wraps the new year (``"11-15"``-``"03-01"`` holds
    December and January).

    Parameters
    ----------
    occurred_at
        Timestamps; naive values are taken as UTC.
    season_start, season_end
        ``"MM-DD"``.
    tz
        Time zone the season dates are meant in.

    Returns
    -------
    numpy.ndarray
        Boolean per timestamp; False for missing (NaT) timestamps.

    Raises
    ------
    ValueError
        If a season date is not ``"MM-DD"``.

    Examples
    --------
    >>> in_season(["2024-12-31T12:00Z", "2024-07-01T00:00Z", None], "11-15", "03-01").tolist()
    [True, False, False]
    """
    start = _mmdd(season_start, "season_start")
    end = _mmdd(season_end, "season_end")
    if start is None or end is None:
        raise ValueError("in_season: both season_start and season_end are needed")
    md, valid = _month_day(occurred_at, tz)
    inside = (md >= start) & (md <= end) if start <= end else (md >= start) | (md <= end)
    return inside & valid


def _month_day(occurred_at: Any, tz: str) -> tuple[np.ndarray, np.ndarray]:
    """Local ``month * 100 + day`` per timestamp and a mask of non-missing timestamps."""
    series = occurred_at if isinstance(occurred_at, pd.Series) else pd.Series(occurred_at)
    ts = pd.Series(pd.to_datetime(series.reset_index(drop=True), utc=True))
    local = ts.dt.tz_convert(tz)
    valid = local.notna().to_numpy()
    md = (local.dt.month.fillna(0) * 100 + local.dt.day.fillna(0)).to_numpy(dtype=int)
    return md, valid


# --------------------------------------------------------------------------- inputs


def _zone_parts(zone: Any, season: tuple[str | None, str | None] | None
                ) -> tuple[BaseGeometry, str | None, str | None, str | None]:
    """(geometry, name, season_start, season_end) from a row, one-row frame or polygon."""
    if isinstance(zone, gpd.GeoDataFrame):
        if len(zone) != 1:
            raise ValueError(f"zone: expected one zone row, got {len(zone)}")
        zone = zone.to_crs(_WGS84).iloc[0] if zone.crs is not None else zone.iloc[0]
    if isinstance(zone, pd.Series):
        geom = zone.get("geometry")
        name, start, end = (zone.get("name"), zone.get("season_start"), zone.get("season_end"))
    else:
        geom, name, start, end = zone, None, None, None
    if not isinstance(geom, BaseGeometry) or geom.is_empty or \
            geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"zone: expected a (Multi)Polygon in EPSG:4326, got {geom!r}")
    if season is not None:
        start, end = season
    start = None if _mmdd(start, "season_start") is None else str(start).strip()
    end = None if _mmdd(end, "season_end") is None else str(end).strip()
    return geom, (None if pd.isna(name) else str(name)), start, end


def _project(frame: gpd.GeoDataFrame | gpd.GeoSeries, crs: CRS) -> np.ndarray:
    """Geometries of ``frame`` in ``crs`` as an object array (EPSG:4326 assumed if unset)."""
    series = frame.geometry if isinstance(frame, gpd.GeoDataFrame) else frame
    if series.crs is None:
        series = series.set_crs(_WGS84)
    return np.asarray(series.to_crs(crs).array, dtype=object)


def _kind(infrastructure: gpd.GeoDataFrame, kinds: Sequence[str]) -> gpd.GeoDataFrame:
    """Rows of the given kinds with a non-empty geometry."""
    if "kind" not in infrastructure:
        raise ValueError("infrastructure: column 'kind' is missing")
    kind = infrastructure["kind"].astype("string").str.strip().str.lower()
    present = ~(infrastructure.geometry.isna() | infrastructure.geometry.is_empty)
    return infrastructure.loc[(kind.isin(list(kinds)).fillna(False) & present).to_numpy()]


def _coverage_union(coverage: gpd.GeoSeries | None, crs: CRS) -> BaseGeometry:
    """Union of the coverage polygons in ``crs``; an empty polygon when None."""
    if coverage is None or len(coverage) == 0:
        return shapely.Polygon()
    geoms = _project(coverage, crs)
    return shapely.union_all(geoms[~shapely.is_missing(geoms)])


def _incident_xy(incidents: pd.DataFrame, crs: CRS) -> np.ndarray:
    """Metric coordinates of incidents from a geometry column or ``lon``/``lat`` columns."""
    if isinstance(incidents, gpd.GeoDataFrame):
        series = incidents.geometry if incidents.crs is not None else \
            incidents.geometry.set_crs(_WGS84)
        return to_metric_xy(series, crs)
    if not {"lon", "lat"} <= set(incidents.columns):
        raise ValueError("incidents: expected a GeoDataFrame or columns 'lon' and 'lat' "
                         f"(found: {', '.join(map(str, incidents.columns))})")
    lonlat = np.column_stack([pd.to_numeric(incidents["lon"], errors="coerce"),
                              pd.to_numeric(incidents["lat"], errors="coerce")]).astype(float)
    return to_metric_xy(lonlat, crs)


# --------------------------------------------------------------------------- zone figures


def zone_figures(
    zone: Any,
    infrastructure: gpd.GeoDataFrame,
    incidents: pd.DataFrame,
    coverage: gpd.GeoSeries | None = None,
    *,
    buffer_m: float = 2000.0,
    season: tuple[str | None, str | None] | None = None,
    tz: str = "Asia/Tashkent",
    site_kinds: Sequence[str] = SITE_KINDS,
) -> dict[str, Any]:
    """Return the safety figures of one recreation zone.

    Parameters
    ----------
    zone
        The zone: an infrastructure row (Series with ``geometry`` and optional ``name``,
        ``season_start``, ``season_end``), a one-row GeoDataFrame, or a polygon in EPSG:4326.
    infrastructure
        Infrastructure layer (``kind``, geometry; ``feature_id`` and ``name`` if present).
    incidents
        Incidents as a GeoDataFrame of points, or a frame with ``lon``/``lat``; both with
        ``occurred_at`` and ``category``.  Incidents with no location are counted apart.
    coverage
        Camera coverage polygons (e.g. ``geo.coverage.coverage_polygons``); None means no
        camera covers anything (0 %).
    buffer_m
        Width of the surroundings counted with the zone (access roads, sites, incidents).
    season
        ``(start, end)`` as ``"MM-DD"`` to override the zone's own season dates.
    tz
        Time zone the season dates are meant in.
    site_kinds
        Kinds reported one by one with their camera coverage.

    Returns
    -------
    dict
        ``name``, ``area_km2``, ``buffer_m``, ``season_start``, ``season_end``,
        ``camera_coverage_pct`` (of the zone's area), ``access_road_km`` and
        ``access_road_covered_pct`` (road length inside the buffered zone, and the covered
        part of it; NaN without roads), ``sites`` (one dict per camp/beach/entrance within
        the buffer: ``feature_id``, ``kind``, ``name``, ``covered_share``, ``covered``;
        points are covered or not, lines and polygons by length/area share with
        ``covered`` at >= 0.5), ``sites_covered``, ``sites_total``, ``incidents`` with keys
        ``zone`` and ``buffer`` (each ``total``, ``in_season``, ``off_season``,
        ``by_category`` -> {category: {total, in_season, off_season}}; season counts are
        None when the zone has no season), and ``incidents_unlocated``.

    Raises
    ------
    ValueError
        If the zone is not a polygon, a season date is malformed or columns are missing.
    """
    geom, name, start, end = _zone_parts(zone, season)
    crs = metric_crs(gpd.GeoSeries([geom], crs=_WGS84))
    zone_m = gpd.GeoSeries([geom], crs=_WGS84).to_crs(crs).iloc[0]
    around = zone_m.buffer(buffer_m)
    cover = _coverage_union(coverage, crs)
    road_km, road_pct = _road_figures(_kind(infrastructure, ["road"]), around, cover, crs)
    sites = _site_figures(_kind(infrastructure, list(site_kinds)), around, cover, crs)
    counts, unlocated = _incident_figures(incidents, zone_m, around, start, end, tz, crs)
    return {
        "name": name,
        "area_km2": zone_m.area / 1e6,
        "buffer_m": float(buffer_m),
        "season_start": start,
        "season_end": end,
        "camera_coverage_pct": 100.0 * zone_m.intersection(cover).area / zone_m.area,
        "access_road_km": road_km,
        "access_road_covered_pct": road_pct,
        "sites": sites,
        "sites_covered": sum(bool(s["covered"]) for s in sites),
        "sites_total": len(sites),
        "incidents": counts,
        "incidents_unlocated": unlocated,
    }


def _road_figures(roads: gpd.GeoDataFrame, around: BaseGeometry, cover: BaseGeometry,
                  crs: CRS) -> tuple[float, float]:
    """Road km inside ``around`` and the covered percentage of it."""
    if roads.empty:
        return 0.0, float("nan")
    clipped = shapely.intersection(_project(roads, crs), around)
    total = float(shapely.length(clipped).sum())
    if total == 0:
        return 0.0, float("nan")
    covered = float(shapely.length(shapely.intersection(clipped, cover)).sum())
    return total / 1000.0, 100.0 * covered / total


def _site_figures(sites: gpd.GeoDataFrame, around: BaseGeometry, cover: BaseGeometry,
                  crs: CRS) -> list[dict[str, Any]]:
    """One dict per site within ``around`` with its covered share."""
    if sites.empty:
        return []
    geoms = _project(sites, crs)
    near = shapely.intersects(geoms, around)
    sites, geoms = sites.loc[near], geoms[near]
    dim = shapely.get_dimensions(geoms)
    share = np.where(shapely.intersects(geoms, cover), 1.0, 0.0)
    inter = shapely.intersection(geoms, cover)
    size = np.where(dim == 1, shapely.length(geoms), shapely.area(geoms))
    part = np.where(dim == 1, shapely.length(inter), shapely.area(inter))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(dim >= 1, np.where(size > 0, part / size, share), share)
    ids = sites["feature_id"].astype(object).tolist() if "feature_id" in sites else \
        sites.index.tolist()
    names = sites["name"].astype(object).tolist() if "name" in sites else [None] * len(sites)
    kinds = sites["kind"].astype("string").str.strip().str.lower().astype(object).tolist()
    out = [{"feature_id": i, "kind": k, "name": None if pd.isna(n) else n,
            "covered_share": float(s), "covered": bool(s >= 0.5 if d >= 1 else s > 0)}
           for i, k, n, s, d in zip(ids, kinds, names, share.tolist(), dim.tolist(),
                                    strict=True)]
    return sorted(out, key=lambda r: (str(r["kind"]), str(r["feature_id"])))


def _incident_figures(incidents: pd.DataFrame, zone_m: BaseGeometry, around: BaseGeometry,
                      start: str | None, end: str | None, tz: str,
                      crs: CRS) -> tuple[dict[str, Any], int]:
    """Counts inside the zone and its buffer, by season and category; and unlocated count."""
    for col in ("occurred_at", "category"):
        if col not in incidents:
            raise ValueError(f"incidents: column {col!r} is missing")
    xy = _incident_xy(incidents, crs)
    located = np.isfinite(xy).all(axis=1)
    x, y = np.nan_to_num(xy[:, 0]), np.nan_to_num(xy[:, 1])
    category = incidents["category"].astype("string").fillna("other").to_numpy(dtype=object)
    _, valid = _month_day(incidents["occurred_at"], tz)
    if start is not None and end is not None:
        season = in_season(incidents["occurred_at"], start, end, tz=tz)
    else:
        season = None
    out = {}
    for key, area in (("zone", zone_m), ("buffer", around)):
        shapely.prepare(area)
        mask = located & shapely.contains_xy(area, x, y)
        out[key] = _count(mask, category, season, valid)
    return out, int((~located).sum())


def _count(mask: np.ndarray, category: np.ndarray, season: np.ndarray | None,
           valid: np.ndarray) -> dict[str, Any]:
    """Totals and per-category counts of the masked incidents."""
    frame = pd.DataFrame({"category": category[mask]})
    if season is not None:
        frame["in_season"] = season[mask]
        frame["off_season"] = ~season[mask] & valid[mask]
    by_cat = {}
    for cat, group in frame.groupby("category", sort=True):
        by_cat[str(cat)] = {
            "total": len(group),
            "in_season": int(group["in_season"].sum()) if season is not None else None,
            "off_season": int(group["off_season"].sum()) if season is not None else None,
        }
    return {
        "total": int(mask.sum()),
        "in_season": int(frame["in_season"].sum()) if season is not None else None,
        "off_season": int(frame["off_season"].sum()) if season is not None else None,
        "by_category": by_cat,
    }


# --------------------------------------------------------------------------- checklist


def readiness_checklist(
    zone: Any,
    infrastructure: gpd.GeoDataFrame,
    coverage: gpd.GeoSeries | None = None,
    *,
    graph: nx.Graph | None = None,
    thresholds: ReadinessThresholds | Mapping[str, Any] | None = None,
    speeds: Mapping[str, float] | None = None,
    max_segment_m: float = 100.0,
) -> list[dict[str, Any]]:
    """Return the readiness checklist of a recreation zone, each item passed or failed.

    Items (in this order):

    - ``road_access``: a road path from the nearest town (``town`` features) into the zone;
      value = minutes by road from the fastest town (``ok`` when a path exists and, if
      ``road_minutes`` is set, within it).
    - ``power_line``: km from the zone to the nearest ``power_line`` (0 when touching).
    - ``police_post``, ``emergency_service``, ``medical``: minutes for the fastest such
      facility to reach the zone: by road to where the road first enters the zone
      (facility to its road node at ``offroad_kmh``), or straight across country at
      ``offroad_kmh`` when that is faster; 0 for a facility inside the zone.
    - ``entrance_cameras``: share of entrances covered by a camera.  Entrances are the
      ``entrance`` features within ``entrance_reach_m`` of the zone, or, when there are
      none, the points where roads cross the zone boundary (merged within
      ``entrance_merge_m``).

    Parameters
    ----------
    zone
        The zone (see :func:`zone_figures`).
    infrastructure
        Infrastructure layer with ``kind`` (towns, roads, power lines, facilities, entrances).
    coverage
        Camera coverage polygons; None means no coverage.
    graph
        Road graph; by default built from the ``road`` rows with :func:`build_road_graph`.
    thresholds
        :class:`ReadinessThresholds` or a mapping of its fields to override.
    speeds
        Road speeds by class when the graph is built here.
    max_segment_m
        Densification of the roads when the graph is built here (see
        :func:`~geo.network.build_road_graph`), so facilities join long straight roads
        at their foot rather than at a far vertex.

    Returns
    -------
    list of dict
        One dict per item: ``item``, ``ok`` (bool), ``value`` (float, NaN when it cannot be
        measured), ``threshold``, ``unit`` and a readable ``detail``.
    """
    th = _thresholds(thresholds)
    geom, _, _, _ = _zone_parts(zone, None)
    crs = metric_crs(gpd.GeoSeries([geom], crs=_WGS84))
    zone_m = gpd.GeoSeries([geom], crs=_WGS84).to_crs(crs).iloc[0]
    roads = _kind(infrastructure, ["road"])
    if graph is None:
        graph = (build_road_graph(roads, speeds=speeds, max_segment_m=max_segment_m)
                 if not roads.empty else nx.Graph(crs=crs))
    items = [_road_item(graph, geom, infrastructure, th)]
    items.append(_power_item(_kind(infrastructure, ["power_line"]), zone_m, crs, th))
    for item, kinds, limit in (("police_post", ["police_post"], th.police_minutes),
                               ("emergency_service", ["emergency_service"],
                                th.emergency_minutes),
                               ("medical", ["medical"], th.medical_minutes)):
        items.append(_facility_item(item, _kind(infrastructure, kinds), graph, geom, zone_m,
                                    crs, limit, th))
    items.append(_entrance_item(infrastructure, roads, zone_m, coverage, crs, th))
    return items


def _thresholds(value: ReadinessThresholds | Mapping[str, Any] | None) -> ReadinessThresholds:
    """Normalise the thresholds argument."""
    if value is None:
        return ReadinessThresholds()
    if isinstance(value, ReadinessThresholds):
        return value
    known = set(ReadinessThresholds.__dataclass_fields__)
    unknown = set(value) - known
    if unknown:
        raise ValueError(f"thresholds: unknown {sorted(unknown)}; expected some of {sorted(known)}")
    return ReadinessThresholds(**dict(value))


def _item(item: str, ok: bool, value: float, threshold: float | None, unit: str,
          detail: str) -> dict[str, Any]:
    """One checklist row."""
    return {"item": item, "ok": bool(ok), "value": float(value), "threshold": threshold,
            "unit": unit, "detail": detail}


def _label(frame: gpd.GeoDataFrame, pos: int) -> str:
    """Name (or id) of row ``pos`` for a readable detail."""
    row = frame.iloc[pos]
    for col in ("name", "feature_id"):
        if col in frame and not pd.isna(row[col]):
            return str(row[col])
    return str(frame.index[pos])


def _road_item(graph: nx.Graph, zone: BaseGeometry, infrastructure: gpd.GeoDataFrame,
               th: ReadinessThresholds) -> dict[str, Any]:
    """Road access from the fastest town."""
    towns = _kind(infrastructure, ["town"])
    limit = th.road_minutes
    if towns.empty:
        return _item("road_access", False, math.nan, limit, "min", "no town in the layer")
    if graph.number_of_nodes() == 0:
        return _item("road_access", False, math.nan, limit, "min", "no roads in the layer")
    times = travel_times(graph, towns, offroad_kmh=th.offroad_kmh, max_access_m=th.max_access_m)
    minutes, src = time_to_area(graph, times, zone)
    if not np.isfinite(minutes):
        return _item("road_access", False, minutes, limit, "min",
                     "no road path from any town into the zone")
    ok = limit is None or minutes <= limit
    return _item("road_access", ok, minutes, limit, "min",
                 f"{minutes:.1f} min by road from {_label(towns, src)}")


def _power_item(lines: gpd.GeoDataFrame, zone_m: BaseGeometry, crs: CRS,
                th: ReadinessThresholds) -> dict[str, Any]:
    """Distance to the nearest power line."""
    limit = th.power_line_km
    if lines.empty:
        return _item("power_line", False, math.nan, limit, "km", "no power line in the layer")
    dist = shapely.distance(_project(lines, crs), zone_m) / 1000.0
    j = int(np.nanargmin(dist))
    km = float(dist[j])
    where = "touches the zone" if km == 0 else f"{km:.2f} km from the zone"
    return _item("power_line", km <= limit, km, limit, "km",
                 f"power line {_label(lines, j)} {where}")


def _facility_item(item: str, facilities: gpd.GeoDataFrame, graph: nx.Graph,
                   zone: BaseGeometry, zone_m: BaseGeometry, crs: CRS, limit: float,
                   th: ReadinessThresholds) -> dict[str, Any]:
    """Minutes for the fastest facility of a kind to reach the zone."""
    what = item.replace("_", " ")
    if facilities.empty:
        return _item(item, False, math.nan, limit, "min", f"no {what} in the layer")
    xy = to_metric_xy(facilities, crs)
    straight = shapely.distance(zone_m, shapely.points(xy)) / (th.offroad_kmh * 1000.0 / 60.0)
    best, src, how = float(np.nanmin(straight)), int(np.nanargmin(straight)), "across country"
    if graph.number_of_nodes():
        times = travel_times(graph, facilities, offroad_kmh=th.offroad_kmh,
                             max_access_m=th.max_access_m)
        by_road, road_src = time_to_area(graph, times, zone)
        if np.isfinite(by_road) and by_road < best:
            best, src, how = by_road, road_src, "by road"
    if best == 0:
        detail = f"{what} {_label(facilities, src)} is inside the zone"
    else:
        detail = f"{best:.1f} min {how} from {what} {_label(facilities, src)}"
    return _item(item, best <= limit, best, limit, "min", detail)


def _entrance_item(infrastructure: gpd.GeoDataFrame, roads: gpd.GeoDataFrame,
                   zone_m: BaseGeometry, coverage: gpd.GeoSeries | None, crs: CRS,
                   th: ReadinessThresholds) -> dict[str, Any]:
    """Share of the zone's entrances covered by cameras."""
    limit = th.entrance_coverage
    features = _kind(infrastructure, ["entrance"])
    pts = np.zeros((0, 2))
    source = "entrance features"
    if not features.empty:
        xy = to_metric_xy(features, crs)
        ok = np.isfinite(xy).all(axis=1)
        xy = xy[ok]
        pts = xy[shapely.dwithin(shapely.points(xy), zone_m, th.entrance_reach_m)]
    if len(pts) == 0 and not roads.empty:
        source = "road crossings of the boundary"
        cross = shapely.intersection(_project(roads, crs), zone_m.boundary)
        pts = _merge_points(shapely.get_coordinates(cross), th.entrance_merge_m)
    if len(pts) == 0:
        return _item("entrance_cameras", False, math.nan, limit, "share",
                     "no entrance features and no road crosses the zone boundary")
    cover = _coverage_union(coverage, crs)
    covered = shapely.dwithin(shapely.points(pts), cover, 1e-6) if not cover.is_empty else \
        np.zeros(len(pts), bool)
    share = float(covered.mean())
    return _item("entrance_cameras", share >= limit, share, limit, "share",
                 f"{int(covered.sum())} of {len(pts)} entrances covered ({source})")


def _merge_points(xy: np.ndarray, merge_m: float) -> np.ndarray:
    """Centroids of clusters of points closer than ``merge_m``."""
    if len(xy) < 2 or merge_m <= 0:
        return xy
    pairs = cKDTree(xy).query_pairs(merge_m, output_type="ndarray")
    adj = sparse.coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                           shape=(len(xy), len(xy)))
    _, label = connected_components(adj, directed=False)
    count = np.bincount(label).astype(float)
    return np.column_stack([np.bincount(label, weights=xy[:, 0]) / count,
                            np.bincount(label, weights=xy[:, 1]) / count])
