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
from pyproj import CRS, Transformer
from shapely.geometry.base import BaseGeometry

from riskmap.geo.isochrones import sample_travel_time
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
    "WATER_KIND",
    "ReadinessThresholds",
    "in_season",
    "land_part",
    "readiness_checklist",
    "zone_figures",
    "zone_reach_samples",
]

#: Infrastructure kinds whose camera coverage :func:`zone_figures` reports one by one.
SITE_KINDS = ("camp", "beach", "entrance")
#: Kinds of the places where people stay that the travel items must reach, one by one.
STAY_KINDS = ("camp", "beach", "hotel")
#: Infrastructure kind of water bodies (lakes, reservoirs): help is not sent into open water,
#: so the travel items measure only the land part of a zone that holds water.
WATER_KIND = "water"

_WGS84 = CRS.from_epsg(4326)
#: how the travel items' details name their facility
_WHOM = {"police_post": "a police post", "emergency_service": "the emergency service (112)",
         "medical": "a medical service"}
_MMDD = re.compile(r"^(\d{2})-(\d{2})$")


@dataclass(frozen=True)
class ReadinessThresholds:
    """Pass marks of :func:`readiness_checklist`.

    Attributes
    ----------
    power_line_km
        A power line must run within this distance of the zone.
    police_minutes, emergency_minutes, medical_minutes
        The fastest police post / emergency service (112) / medical facility must reach
        every part of the zone and every camp, beach and hotel in or at it within this many
        minutes (see ``beyond_tolerance``).
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
    sample_spacing_m
        Spacing of the grid of sample points the travel items measure over the zone.
    max_samples
        At most about this many grid samples: a larger zone gets a coarser grid.
    beyond_tolerance
        Share (0-1) of the zone's area a travel item may leave beyond its limit and still
        pass.  At 0 (the default) every sample, the farthest point included, must be within
        the limit; above 0 the share beyond must not exceed it and every camp, beach and
        hotel must still be within the limit.
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
    sample_spacing_m: float = 250.0
    max_samples: int = 20_000
    beyond_tolerance: float = 0.0


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


def land_part(zone: Any, infrastructure: gpd.GeoDataFrame) -> BaseGeometry | None:
    """Return the land part of a zone: the zone less the ``water`` polygons that meet it.

    A zone drawn around a lake holds open water; help is sent to the shore, the camps and
    the beaches, not into the water, so the travel items measure the land part only.

    Parameters
    ----------
    zone
        The zone (see :func:`zone_figures`).
    infrastructure
        Infrastructure layer; its (Multi)Polygon rows of kind :data:`WATER_KIND` are water.

    Returns
    -------
    shapely.geometry.base.BaseGeometry or None
        The land part as a (Multi)Polygon in EPSG:4326; None when no water polygon meets
        the zone, or when the zone is all water (then the whole zone counts, as before).

    Examples
    --------
    >>> lake = gpd.GeoDataFrame({"kind": ["water", "camp"]}, crs=4326,
    ...     geometry=[shapely.box(0.0, 0.0, 0.01, 0.02), shapely.Point(0.015, 0.01)])
    >>> round(land_part(shapely.box(0.0, 0.0, 0.02, 0.02), lake).area / 0.0004, 2)
    0.5
    >>> land_part(shapely.box(1.0, 1.0, 1.1, 1.1), lake) is None
    True
    """
    geom, _, _, _ = _zone_parts(zone, None)
    if "kind" not in infrastructure or len(infrastructure) == 0:
        return None
    water = _kind(infrastructure, [WATER_KIND])
    if water.empty:
        return None
    geoms = _project(water, _WGS84)
    geoms = geoms[np.isin(shapely.get_type_id(geoms), (3, 6))]
    geoms = shapely.get_parts(shapely.make_valid(geoms))
    geoms = geoms[shapely.get_type_id(geoms) == 3]
    geoms = geoms[shapely.intersects(geoms, geom)]
    if len(geoms) == 0:
        return None
    land = shapely.difference(geom, shapely.union_all(geoms))
    parts = shapely.get_parts(np.array([land], dtype=object))
    parts = parts[(shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)]
    if len(parts) == 0:
        return None
    return parts[0] if len(parts) == 1 else shapely.multipolygons(parts)


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
    - ``police_post``, ``emergency_service``, ``medical``: minutes for help to reach the
      WHOLE zone and its camps, beaches and hotels.  The zone is sampled
      (:func:`zone_reach_samples`: a grid every ``sample_spacing_m`` plus the boundary;
      only its land part, :func:`land_part`, when ``water`` polygons of the layer meet it,
      and the detail then speaks of "the land part of the zone")
      and each sample and site is timed from the fastest facility of the kind: by road
      (one multi-source search from all facilities, each joining the road at
      ``offroad_kmh``), then off the road at ``offroad_kmh``; or straight across country
      at ``offroad_kmh`` when that is faster.  ``value`` is the time to the farthest
      sample or site (the maximum; NaN when part of the zone is unreachable); extra keys
      ``share_beyond`` (share of the zone's area beyond the limit), ``farthest_lon``,
      ``farthest_lat`` and ``sites_beyond`` (camps/beaches/hotels beyond the limit).
      ``ok`` when the farthest point is within the limit, or, with a
      ``beyond_tolerance`` above 0, when the share beyond is within it and no site is
      beyond.  A post inside the zone does not make the zone reached.
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
        measured), ``threshold``, ``unit`` and a readable ``detail``; the travel items
        also ``share_beyond``, ``farthest_lon``, ``farthest_lat`` and ``sites_beyond``
        (None when there is no such facility).
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
    land = land_part(geom, infrastructure)
    area_m = zone_m if land is None else \
        gpd.GeoSeries([land], crs=_WGS84).to_crs(crs).iloc[0]
    samples = zone_reach_samples(area_m, th.sample_spacing_m, max_samples=th.max_samples)
    sites = _stay_sites(infrastructure, zone_m, crs, th.entrance_reach_m)
    where = "the zone" if land is None else "the land part of the zone"
    for item, kinds, limit in (("police_post", ["police_post"], th.police_minutes),
                               ("emergency_service", ["emergency_service"],
                                th.emergency_minutes),
                               ("medical", ["medical"], th.medical_minutes)):
        items.append(_facility_item(item, _kind(infrastructure, kinds), graph, samples,
                                    sites, crs, limit, th, where=where))
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
          detail: str, parts: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """One checklist row (``extra``: the travel items' share beyond and farthest point).

    ``detail`` is the English sentence; ``parts`` says the same as codes and values
    (``{"code": "by_road", "minutes": 12.5, "name": "Farish"}``, non-finite numbers as
    ``None``) for the edges to write in the reader's language.
    """
    clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
              for k, v in part.items()} for part in parts]
    return {"item": item, "ok": bool(ok), "value": float(value), "threshold": threshold,
            "unit": unit, "detail": detail, "detail_parts": clean, **extra}


def _pct(share: float) -> str:
    """A share as a readable percentage that never rounds a part beyond down to 0 %.

    Examples
    --------
    >>> _pct(0.0), _pct(0.003), _pct(0.8412), _pct(0.999), _pct(1.0)
    ('0%', '<1%', '84%', '>99%', '100%')
    """
    if 0 < share < 0.01:
        return "<1%"
    if 0.99 < share < 1:
        return ">99%"
    return f"{share:.0%}"


def _to_lonlat(xy_m: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of ``(n, 2)`` metre coordinates in ``crs``."""
    return Transformer.from_crs(crs, _WGS84, always_xy=True).transform(xy_m[:, 0], xy_m[:, 1])


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
        return _item("road_access", False, math.nan, limit, "min", "no town in the layer",
                     [{"code": "no_town"}])
    if graph.number_of_nodes() == 0:
        return _item("road_access", False, math.nan, limit, "min", "no roads in the layer",
                     [{"code": "no_roads"}])
    times = travel_times(graph, towns, offroad_kmh=th.offroad_kmh, max_access_m=th.max_access_m)
    minutes, src = time_to_area(graph, times, zone)
    if not np.isfinite(minutes):
        return _item("road_access", False, minutes, limit, "min",
                     "no road path from any town into the zone", [{"code": "no_road_path"}])
    ok = limit is None or minutes <= limit
    name = _label(towns, src)
    return _item("road_access", ok, minutes, limit, "min",
                 f"{minutes:.1f} min by road from {name}",
                 [{"code": "by_road", "minutes": float(minutes), "name": name}])


def _power_item(lines: gpd.GeoDataFrame, zone_m: BaseGeometry, crs: CRS,
                th: ReadinessThresholds) -> dict[str, Any]:
    """Distance to the nearest power line."""
    limit = th.power_line_km
    if lines.empty:
        return _item("power_line", False, math.nan, limit, "km", "no power line in the layer",
                     [{"code": "no_power_line"}])
    dist = shapely.distance(_project(lines, crs), zone_m) / 1000.0
    j = int(np.nanargmin(dist))
    km = float(dist[j])
    where = "touches the zone" if km == 0 else f"{km:.2f} km from the zone"
    name = _label(lines, j)
    part = ({"code": "power_line_touches", "name": name} if km == 0 else
            {"code": "power_line_km", "name": name, "km": km})
    return _item("power_line", km <= limit, km, limit, "km", f"power line {name} {where}",
                 [part])


def zone_reach_samples(
    zone_m: BaseGeometry,
    spacing_m: float,
    *,
    max_samples: int = 20_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Return sample points of a zone and the area each stands for.

    The zone's bounds are cut into square cells of ``spacing_m`` (coarser when that would
    make more than about ``max_samples`` cells); each cell that meets the zone gives one
    sample: its centre when the centre is inside the zone, else a point on the part of the
    cell inside the zone, weighted by that part's area.  The boundary, cut every
    ``spacing_m``, adds samples of weight 0, so the farthest point is looked for on the
    edge too.

    Parameters
    ----------
    zone_m
        Zone polygon in a projected (metre) CRS.
    spacing_m
        Grid spacing in metres.
    max_samples
        Upper bound on the number of grid cells (the spacing grows to keep within it).

    Returns
    -------
    tuple of numpy.ndarray
        ``(n, 2)`` sample coordinates and ``(n,)`` weights (m² of zone per sample; 0 for
        boundary samples).  Empty arrays for a None or empty zone.

    Raises
    ------
    ValueError
        If ``spacing_m`` is not a positive number.

    Examples
    --------
    >>> xy, w = zone_reach_samples(shapely.box(0, 0, 1000, 500), 250)
    >>> int((w > 0).sum()), float(w.sum())
    (8, 500000.0)
    """
    if not (np.isfinite(spacing_m) and spacing_m > 0):
        raise ValueError(f"sample_spacing_m must be a positive distance, got {spacing_m}")
    if zone_m is None or zone_m.is_empty:
        return np.zeros((0, 2)), np.zeros(0)
    x0, y0, x1, y1 = zone_m.bounds
    step = float(spacing_m)
    cells = ((x1 - x0) / step + 1) * ((y1 - y0) / step + 1)
    if cells > max_samples:
        step *= math.sqrt(cells / max(int(max_samples), 1))
    gx = np.arange(x0, x1, step) + step / 2
    gy = np.arange(y0, y1, step) + step / 2
    cx, cy = (a.ravel() for a in np.meshgrid(gx, gy))
    half = step / 2
    boxes = shapely.box(cx - half, cy - half, cx + half, cy + half)
    shapely.prepare(zone_m)
    meets = shapely.intersects(zone_m, boxes)
    boxes, cx, cy = boxes[meets], cx[meets], cy[meets]
    whole = shapely.contains_properly(zone_m, boxes)
    weight = np.full(len(boxes), step * step)
    part = shapely.intersection(boxes[~whole], zone_m)
    weight[~whole] = shapely.area(part)
    pxy = np.column_stack([cx, cy])
    centre_in = shapely.contains_xy(zone_m, cx[~whole], cy[~whole])
    moved = np.flatnonzero(~whole)[~centre_in]
    if moved.size:
        pxy[moved] = shapely.get_coordinates(shapely.point_on_surface(part[~centre_in]))
    edge = shapely.get_coordinates(shapely.segmentize(zone_m.boundary, spacing_m))
    keep = weight > 0
    return (np.concatenate([pxy[keep], edge]),
            np.concatenate([weight[keep], np.zeros(len(edge))]))


def _reach_minutes(graph: nx.Graph, facilities: gpd.GeoDataFrame, pts_xy: np.ndarray,
                   crs: CRS, th: ReadinessThresholds) -> np.ndarray:
    """Minutes from the fastest facility to each point: by road (one multi-source search,
    then off-road) or straight across country at ``offroad_kmh``; NaN when unreachable."""
    vo = th.offroad_kmh * 1000.0 / 60.0
    fxy = to_metric_xy(facilities, crs)
    fxy = fxy[np.isfinite(fxy).all(axis=1)]
    best = np.full(len(pts_xy), np.inf)
    if len(fxy) and len(pts_xy):
        dist, _ = cKDTree(fxy).query(pts_xy)
        best = dist / vo
    if graph.number_of_nodes() and len(pts_xy):
        times = travel_times(graph, facilities, offroad_kmh=th.offroad_kmh,
                             max_access_m=th.max_access_m)
        if not times.empty:
            pts = gpd.GeoSeries(shapely.points(pts_xy), crs=crs)
            by_road = sample_travel_time(graph, times, pts, offroad_kmh=th.offroad_kmh)
            best = np.fmin(best, np.where(np.isfinite(by_road), by_road, np.inf))
    return np.where(np.isfinite(best), best, np.nan)


def _stay_sites(infrastructure: gpd.GeoDataFrame, zone_m: BaseGeometry, crs: CRS,
                reach_m: float) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """Camps, beaches and hotels in the zone or within ``reach_m`` of it: points, labels."""
    sites = _kind(infrastructure, list(STAY_KINDS))
    if sites.empty:
        return np.zeros((0, 2)), []
    xy = to_metric_xy(sites, crs)
    ok = np.isfinite(xy).all(axis=1)
    ok[ok] = shapely.dwithin(shapely.points(xy[ok]), zone_m, reach_m)
    kinds = sites["kind"].astype("string").str.strip().str.lower().to_numpy(dtype=object)
    labels = [(str(kinds[i]), _label(sites, int(i))) for i in np.flatnonzero(ok)]
    return xy[ok], labels


def _facility_item(item: str, facilities: gpd.GeoDataFrame, graph: nx.Graph,
                   samples: tuple[np.ndarray, np.ndarray],
                   sites: tuple[np.ndarray, list[tuple[str, str]]],
                   crs: CRS, limit: float, th: ReadinessThresholds, *,
                   where: str = "the zone") -> dict[str, Any]:
    """Minutes for the fastest facility of a kind to reach the farthest part of the zone.

    Every sample of the zone (grid and boundary, :func:`zone_reach_samples`; of its land
    part when it holds water) and every camp, beach and hotel is timed; the value is the
    time to the farthest of them (the maximum, not a percentile), ``share_beyond`` the
    share of the sampled area beyond the limit (unreachable counts as beyond).  ``where``
    names the sampled area in the detail.
    """
    what = item.replace("_", " ")
    whom = _WHOM.get(item, f"a {what}")
    none = {"share_beyond": None, "farthest_lon": None, "farthest_lat": None,
            "sites_beyond": None}
    if facilities.empty:
        return _item(item, False, math.nan, limit, "min", f"no {what} in the layer",
                     [{"code": "no_facility", "facility": item}], **none)
    grid_xy, weight = samples
    site_xy, site_labels = sites
    pts = np.concatenate([grid_xy, site_xy])
    if len(pts) == 0:
        return _item(item, False, math.nan, limit, "min", "the zone has no area",
                     [{"code": "no_area"}], **none)
    minutes = _reach_minutes(graph, facilities, pts, crs, th)
    reached = np.isfinite(minutes)
    beyond = ~reached | (minutes > limit)
    total = float(weight.sum())
    share = float(weight[beyond[:len(grid_xy)]].sum() / total) if total > 0 else math.nan
    site_min = minutes[len(grid_xy):]
    site_beyond = beyond[len(grid_xy):]
    if not reached.all():
        far, value = int(np.flatnonzero(~reached)[0]), math.nan
    else:
        far = int(np.argmax(minutes))
        value = float(minutes[far])
    lon, lat = _to_lonlat(pts[far:far + 1], crs)
    area = "land" if where != "the zone" else "zone"
    parts = [f"{_pct(share)} of {where} is more than {limit:g} min from {whom}"
             if np.isfinite(share) else f"{where} has no area to measure from {whom}"]
    codes: list[dict[str, Any]] = [
        {"code": "share_beyond", "share": share, "area": area, "limit": float(limit),
         "facility": item} if np.isfinite(share) else
        {"code": "no_area_to_measure", "area": area, "facility": item}]
    parts.append(f"farthest point {value:.1f} min" if np.isfinite(value)
                 else f"part of {where} cannot be reached")
    codes.append({"code": "farthest", "minutes": value} if np.isfinite(value)
                 else {"code": "unreachable", "area": area})
    if len(site_labels):
        worst = int(np.nanargmax(np.where(np.isfinite(site_min), site_min, np.inf)))
        t = site_min[worst]
        kind, name = site_labels[worst]
        parts[-1] += (f" ({kind} {name} {t:.1f} min)" if np.isfinite(t)
                      else f" ({kind} {name} not reached)")
        codes.append({"code": "site_time", "kind": kind, "name": name, "minutes": float(t)}
                     if np.isfinite(t) else {"code": "site_unreached", "kind": kind,
                                             "name": name})
    tol = float(th.beyond_tolerance)
    if tol > 0:
        ok = np.isfinite(share) and share <= tol and not site_beyond.any()
    else:
        ok = bool(np.isfinite(value) and value <= limit)
    return _item(item, ok, value, limit, "min", "; ".join(parts), codes,
                 share_beyond=share, farthest_lon=float(lon[0]), farthest_lat=float(lat[0]),
                 sites_beyond=int(site_beyond.sum()))


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
                     "no entrance features and no road crosses the zone boundary",
                     [{"code": "no_entrances"}])
    cover = _coverage_union(coverage, crs)
    covered = shapely.dwithin(shapely.points(pts), cover, 1e-6) if not cover.is_empty else \
        np.zeros(len(pts), bool)
    share = float(covered.mean())
    return _item("entrance_cameras", share >= limit, share, limit, "share",
                 f"{int(covered.sum())} of {len(pts)} entrances covered ({source})",
                 [{"code": "entrances_covered", "covered": int(covered.sum()),
                   "total": len(pts),
                   "source": "features" if source == "entrance features" else "crossings"}])


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
