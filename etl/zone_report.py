"""The tourism-zone report: figures, readiness checklist and isochrones of one zone, as JSON and HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from riskmap.errors import ConfigError
from riskmap.etl.translit import name_key
from riskmap.geo.isochrones import isochrone_share, isochrones
from riskmap.geo.network import build_road_graph, metric_crs, to_metric_xy, travel_times
from riskmap.geo.points import xy
from riskmap.geo.zones import ReadinessThresholds, land_part, readiness_checklist, zone_figures
from riskmap.i18n import N_, current_language
from riskmap.i18n import gettext as _
from riskmap.i18n.names import display_name

__all__ = [
    "MAP_KINDS",
    "SOURCE_KINDS",
    "ZONE_MINUTES",
    "UnknownZoneError",
    "ZoneReport",
    "compute_zone",
    "find_zone",
    "list_zones",
    "make_thresholds",
    "road_graph",
    "zone_isochrones",
    "zone_report",
]

#: isochrone thresholds in minutes
ZONE_MINUTES: tuple[float, ...] = (10.0, 20.0, 30.0)
#: responders the isochrones are drawn from: ``source_kind`` -> infrastructure kind
SOURCE_KINDS: Mapping[str, str] = {"police": "police_post", "emergency": "emergency_service"}
#: infrastructure kinds drawn on the zone map (when near the zone)
MAP_KINDS = ("road", "power_line", "camp", "beach", "hotel", "entrance", "police_post",
             "emergency_service", "fire_station", "medical", "town")
_WGS84 = "EPSG:4326"
_MAX_MAP_INCIDENTS = 5_000
_MAP_REACH_M = 10_000.0


class UnknownZoneError(ConfigError):
    """No tourist zone matches the name given (the message lists the zones)."""


@dataclass
class ZoneReport:
    """Everything the report shows about one tourist zone.

    Attributes
    ----------
    name, feature_id, region, district
        The zone's identity.
    geometry
        Zone polygon (EPSG:4326).
    figures
        Result of :func:`geo.zones.zone_figures`.
    checklist
        Result of :func:`geo.zones.readiness_checklist`.
    isochrones
        ``source_kind`` (police|emergency), ``minutes`` and the part of the zone reached
        within them (EPSG:4326); of its land part when ``water`` polygons meet the zone
        (:func:`geo.zones.land_part`), as the travel items of the checklist.
    shares
        ``source_kind``, ``minutes``, ``within``, ``beyond`` and ``area_km2`` (of the land
        part when the zone holds water).
    thresholds
        Pass marks used for the checklist.
    synthetic
        The store holds synthetic demo data.
    context
        Frames for the map: ``infrastructure`` near the zone, ``coverage`` (camera coverage
        polygons near the zone), ``incidents`` (points within the buffer with
        ``category``, ``occurred_at``, ``in_season``, ``mahalla`` and ``precision``),
        ``beyond_police`` (the part of the zone, or of its land, the police do not reach
        within ``police_minutes``, EPSG:4326), ``police_minutes`` and ``land`` (the land
        part of the zone, None when it holds no water).
    """

    name: str
    feature_id: str | None
    region: str | None
    district: str | None
    geometry: BaseGeometry
    figures: dict[str, Any]
    checklist: list[dict[str, Any]]
    isochrones: gpd.GeoDataFrame
    shares: pd.DataFrame
    thresholds: ReadinessThresholds
    synthetic: bool = False
    generated_at: str = ""
    context: dict[str, Any] = field(default_factory=dict)

    def share_beyond(self, source_kind: str = "police") -> dict[str, float | None]:
        """``{minutes: share of the zone beyond}`` for one responder kind (keys as text)."""
        rows = self.shares[self.shares["source_kind"] == source_kind]
        return {_minutes_key(m): _num(b) for m, b in zip(rows["minutes"], rows["beyond"],
                                                          strict=True)}

    def land_km2(self) -> float | None:
        """Area of the zone's land part in km² (None when the zone holds no water)."""
        land = self.context.get("land")
        if land is None:
            return None
        crs = metric_crs(gpd.GeoSeries([land], crs=_WGS84))
        return float(gpd.GeoSeries([land], crs=_WGS84).to_crs(crs).area.iloc[0] / 1e6)

    def to_json(self) -> dict[str, Any]:
        """The report's figures as a JSON-ready dict (NaN written as None).

        ``isochrone_share`` is the share of the zone's area beyond each threshold from the
        nearest police post; ``isochrone_share_by_source`` gives it for every responder.
        Both are of the zone's land part when it holds water (``land_km2`` is then its
        area, else None).
        """
        f = self.figures
        inc = f["incidents"]
        out = {
            "zone": self.name,
            "feature_id": self.feature_id,
            "region": self.region,
            "district": self.district,
            "synthetic": self.synthetic,
            "generated_at": self.generated_at,
            "area_km2": f["area_km2"],
            "land_km2": self.land_km2(),
            "season": {"start": f["season_start"], "end": f["season_end"]},
            "buffer_m": f["buffer_m"],
            "camera_coverage_pct": f["camera_coverage_pct"],
            "access_road_km": f["access_road_km"],
            "access_road_covered_pct": f["access_road_covered_pct"],
            "sites": f["sites"],
            "sites_covered": f["sites_covered"],
            "sites_total": f["sites_total"],
            "incidents_by_season": {k: {n: v[n] for n in ("total", "in_season", "off_season")}
                                    for k, v in inc.items()},
            "incidents_by_category": {k: v["by_category"] for k, v in inc.items()},
            "incidents_unlocated": f["incidents_unlocated"],
            "checklist": self.checklist,
            "readiness": {"passed": sum(bool(i["ok"]) for i in self.checklist),
                          "total": len(self.checklist)},
            "isochrone_share": self.share_beyond("police"),
            "isochrone_share_by_source": {
                kind: {_minutes_key(m): {"within": _num(w), "beyond": _num(b)}
                       for m, w, b in zip(g["minutes"], g["within"], g["beyond"], strict=True)}
                for kind, g in self.shares.groupby("source_kind", sort=True)},
            "thresholds": asdict(self.thresholds),
        }
        return _clean(out)

    def to_html(self) -> str:
        """A self-contained, printable HTML page (plotly.js inlined once; nothing fetched)."""
        return _render_html(self)


# --------------------------------------------------------------------------- zones


def list_zones(infrastructure: pd.DataFrame) -> gpd.GeoDataFrame:
    """Tourist-zone polygons of the infrastructure layer, sorted by name."""
    kind = infrastructure["kind"].astype("string")
    zones = infrastructure[(kind == "tourist_zone").fillna(False).to_numpy(bool)]
    geoms = np.asarray(zones.geometry.values, dtype=object)
    zones = zones[np.isin(shapely.get_type_id(geoms), (3, 6))]
    return zones.sort_values(["name", "feature_id"], na_position="last")


def find_zone(zones: pd.DataFrame, name: str) -> pd.Series:
    """The zone whose name (apostrophes, case and script folded) or feature id is ``name``.

    Raises
    ------
    UnknownZoneError
        If none or several zones match; the message lists the zones.
    """
    names = zones["name"].astype(object).to_numpy()
    ids = zones["feature_id"].astype(object).to_numpy() if "feature_id" in zones else \
        np.full(len(zones), None)
    key = name_key(name)
    hit = np.array([bool(key) and name_key(str(n)) == key if n is not None else False
                    for n in names], dtype=bool) | (ids == name)
    listing = ", ".join(f"{n} ({i})" for n, i in zip(names, ids, strict=True)) or "none"
    if not hit.any():
        raise UnknownZoneError(f"no tourist zone named {name!r}; zones in the store: {listing}")
    if hit.sum() > 1:
        raise UnknownZoneError(f"{int(hit.sum())} tourist zones match {name!r}; give the "
                               f"feature id instead: {listing}")
    return zones.iloc[int(np.flatnonzero(hit)[0])]


def make_thresholds(base: ReadinessThresholds | Mapping[str, Any] | None = None,
                    **overrides: Any) -> ReadinessThresholds:
    """Thresholds from ``base`` with the non-None ``overrides`` on top."""
    values = asdict(base) if isinstance(base, ReadinessThresholds) else dict(base or {})
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = set(ReadinessThresholds.__dataclass_fields__)
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"thresholds: unknown {sorted(unknown)}; expected some of "
                          f"{sorted(known)}")
    return ReadinessThresholds(**values)


# --------------------------------------------------------------------------- isochrones


def zone_isochrones(graph: nx.Graph, zone: BaseGeometry, infrastructure: pd.DataFrame, *,
                    minutes: Sequence[float] = ZONE_MINUTES,
                    thresholds: ReadinessThresholds | None = None) -> gpd.GeoDataFrame:
    """Parts of the zone each responder kind reaches within each threshold.

    A place is reached by road (:func:`geo.isochrones.isochrones`: drive, then go straight at
    ``offroad_kmh``) or straight across country from the facility at ``offroad_kmh``
    (which matters for a post inside the zone away from any road).

    Returns
    -------
    geopandas.GeoDataFrame
        ``source_kind``, ``minutes`` and a (Multi)Polygon (empty when nothing is reached),
        one row per kind of :data:`SOURCE_KINDS` and threshold, EPSG:4326.
    """
    th = thresholds or ReadinessThresholds()
    crs = metric_crs(gpd.GeoSeries([zone], crs=_WGS84))
    zone_m = gpd.GeoSeries([zone], crs=_WGS84).to_crs(crs).iloc[0]
    vo = th.offroad_kmh * 1000.0 / 60.0
    kinds = infrastructure["kind"].astype("string")
    rows: list[tuple[str, float, BaseGeometry]] = []
    mins = sorted(float(m) for m in minutes)
    for source_kind, kind in SOURCE_KINDS.items():
        facilities = infrastructure[(kinds == kind).fillna(False).to_numpy(bool)]
        facilities = facilities[~(facilities.geometry.isna() | facilities.geometry.is_empty)]
        if len(facilities):  # a facility farther than the fastest road allows cannot count
            reach = mins[-1] * max(_top_speed(graph), th.offroad_kmh) * 1000.0 / 60.0
            fm = np.asarray(facilities.geometry.to_crs(crs).values, dtype=object)
            facilities = facilities[shapely.dwithin(fm, zone_m, reach)]
        if len(facilities) and graph.number_of_nodes():
            times = travel_times(graph, facilities, offroad_kmh=th.offroad_kmh,
                                 max_access_m=th.max_access_m)
            by_road = isochrones(graph, times, mins, zone=zone, offroad_kmh=th.offroad_kmh)
            road_m = np.asarray(by_road.to_crs(crs).geometry.array, dtype=object)
        else:
            road_m = np.array([shapely.Polygon()] * len(mins), dtype=object)
        xy = to_metric_xy(facilities, crs) if len(facilities) else np.zeros((0, 2))
        pts = shapely.points(xy[np.isfinite(xy).all(axis=1)])
        for limit, road in zip(mins, road_m, strict=True):
            near = pts[shapely.dwithin(pts, zone_m, limit * vo)] if len(pts) else pts
            discs = shapely.buffer(near, limit * vo, quad_segs=16)
            reach = shapely.union_all(np.concatenate([discs, [road]]))
            rows.append((source_kind, limit, shapely.intersection(reach, zone_m)))
    frame = gpd.GeoDataFrame({"source_kind": [r[0] for r in rows],
                              "minutes": [r[1] for r in rows]},
                             geometry=gpd.GeoSeries([r[2] for r in rows], crs=crs), crs=crs)
    return frame.to_crs(_WGS84)


def _beyond(graph: nx.Graph, zone: BaseGeometry, infrastructure: pd.DataFrame,
            iso: gpd.GeoDataFrame, th: ReadinessThresholds) -> BaseGeometry:
    """The part of the zone the police do not reach within ``police_minutes`` (EPSG:4326)."""
    limit = float(th.police_minutes)
    police = iso[(iso["source_kind"] == "police") & np.isclose(iso["minutes"], limit)]
    if police.empty:
        more = zone_isochrones(graph, zone, infrastructure, minutes=[limit], thresholds=th)
        police = more[more["source_kind"] == "police"]
    reached = police.geometry.iloc[0]
    if reached is None or reached.is_empty:
        return zone
    crs = metric_crs(gpd.GeoSeries([zone], crs=_WGS84))
    zm, rm = gpd.GeoSeries([zone, reached], crs=_WGS84).to_crs(crs)
    # a sliver narrower than a few metres along the reached edge is rounding, not a gap
    rest = shapely.difference(zm, rm.buffer(5.0))
    return gpd.GeoSeries([rest], crs=crs).to_crs(_WGS84).iloc[0]


def _top_speed(graph: nx.Graph) -> float:
    """Fastest edge speed of the graph in km/h (0 for no edges); a frozen graph from
    :func:`geo.network.build_road_graph` carries it, so its 300,000 edges are not walked."""
    known = graph.graph.get("top_speed_kmh") if nx.is_frozen(graph) else None
    if known is not None:
        return float(known)
    speeds = [d.get("speed_kmh", 0.0) for _, _, d in graph.edges(data=True)]
    return float(max(speeds, default=0.0))


def _shares(zone: BaseGeometry, iso: gpd.GeoDataFrame) -> pd.DataFrame:
    """Within/beyond shares per responder kind and threshold."""
    parts = []
    for kind, group in iso.groupby("source_kind", sort=False):
        share = isochrone_share(zone, group[["minutes", "geometry"]]).reset_index()
        share.insert(0, "source_kind", kind)
        parts.append(share)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["source_kind", "minutes", "within", "beyond", "area_km2"])


# --------------------------------------------------------------------------- pure step


def compute_zone(zone: pd.Series, infrastructure: gpd.GeoDataFrame, incidents: pd.DataFrame,
                 coverage: gpd.GeoSeries | None = None, *, graph: nx.Graph | None = None,
                 thresholds: ReadinessThresholds | None = None, buffer_m: float = 2000.0,
                 minutes: Sequence[float] = ZONE_MINUTES, synthetic: bool = False,
                 tz: str = "Asia/Tashkent") -> ZoneReport:
    """Compute the report of one zone from frames (pure: no store access).

    Parameters
    ----------
    zone
        A tourist-zone row of the infrastructure layer.
    infrastructure
        The infrastructure layer (roads, power lines, sites and facilities).
    incidents
        Incidents (points, ``occurred_at``, ``category``).
    coverage
        Camera coverage polygons; None means no camera.
    graph
        Road graph to reuse (default: built from the ``road`` rows, 100 m segments).
    thresholds
        Checklist pass marks (also ``offroad_kmh`` and ``max_access_m`` of the isochrones).
    buffer_m
        Surroundings counted with the zone.
    minutes
        Isochrone thresholds.
    synthetic
        Label the report as synthetic demo data.
    tz
        Time zone of the season dates.

    Returns
    -------
    ZoneReport
    """
    th = thresholds or ReadinessThresholds()
    geom = zone["geometry"]
    if graph is None:
        graph = road_graph(infrastructure)
    incidents = _empty_as_missing(incidents)
    figures = zone_figures(zone, infrastructure, incidents, coverage, buffer_m=buffer_m, tz=tz)
    checklist = readiness_checklist(zone, infrastructure, coverage, graph=graph, thresholds=th)
    # help goes to the shore, not into open water: travel is measured on the zone's land
    land = land_part(geom, infrastructure)
    area = geom if land is None else land
    iso = zone_isochrones(graph, area, infrastructure, minutes=minutes, thresholds=th)
    context = _context(geom, infrastructure, incidents, coverage, buffer_m, figures, tz)
    context["police_minutes"] = float(th.police_minutes)
    context["beyond_police"] = _beyond(graph, area, infrastructure, iso, th)
    context["land"] = land
    return ZoneReport(
        name=str(zone.get("name")), feature_id=_opt(zone.get("feature_id")),
        region=_opt(zone.get("region")), district=_opt(zone.get("district")),
        geometry=geom, figures=figures, checklist=checklist, isochrones=iso,
        shares=_shares(area, iso), thresholds=th, synthetic=synthetic,
        generated_at=pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC"), context=context)


def _empty_as_missing(incidents: pd.DataFrame) -> pd.DataFrame:
    """Empty points (incidents known only by mahalla) as None: geo.network cannot read them."""
    if not isinstance(incidents, gpd.GeoDataFrame) or len(incidents) == 0:
        return incidents
    geoms = np.asarray(incidents.geometry.values, dtype=object)
    empty = shapely.is_empty(geoms)
    if not empty.any():
        return incidents
    geoms = geoms.copy()
    geoms[empty] = None
    return incidents.set_geometry(gpd.GeoSeries(geoms, index=incidents.index,
                                                crs=incidents.crs))


def road_graph(infrastructure: pd.DataFrame) -> nx.Graph:
    """The road graph of the ``road`` rows (100 m segments), reused for every zone; frozen,
    so its arrays are converted once for all of a zone's travel times
    (:meth:`geo.network.GraphArrays.of`)."""
    kind = infrastructure["kind"].astype("string")
    roads = infrastructure[(kind == "road").fillna(False).to_numpy(bool)]
    if len(roads) == 0:
        return nx.freeze(nx.Graph(crs=None))
    return nx.freeze(build_road_graph(roads, max_segment_m=100.0))


def _context(geom: BaseGeometry, infrastructure: gpd.GeoDataFrame, incidents: pd.DataFrame,
             coverage: gpd.GeoSeries | None, buffer_m: float, figures: dict[str, Any],
             tz: str) -> dict[str, Any]:
    """Map layers near the zone: incidents and coverage within the buffer, features within
    3 buffers or 10 km."""
    from riskmap.geo.zones import in_season

    crs = metric_crs(gpd.GeoSeries([geom], crs=_WGS84))
    zone_m = gpd.GeoSeries([geom], crs=_WGS84).to_crs(crs).iloc[0]
    around = gpd.GeoSeries([zone_m.buffer(buffer_m)], crs=crs).to_crs(_WGS84).iloc[0]
    wide = gpd.GeoSeries([zone_m.buffer(max(3 * buffer_m, _MAP_REACH_M))],
                         crs=crs).to_crs(_WGS84).iloc[0]
    kind = infrastructure["kind"].astype("string")
    infra = infrastructure[kind.isin(list(MAP_KINDS)).fillna(False).to_numpy(bool)]
    g = np.asarray(infra.geometry.values, dtype=object)
    infra = infra[shapely.intersects(g, wide) & ~shapely.is_empty(g)]
    cov = gpd.GeoSeries([], crs=_WGS84)
    if coverage is not None and len(coverage):
        c = np.asarray(coverage.to_crs(_WGS84).values, dtype=object)
        cov = gpd.GeoSeries(c[shapely.intersects(c, around)], crs=_WGS84)
    pts = incidents
    if isinstance(incidents, gpd.GeoDataFrame) and len(incidents):
        p = np.asarray(incidents.geometry.values, dtype=object)
        pts = incidents[shapely.intersects(p, around)].head(_MAX_MAP_INCIDENTS)
    lon, lat = xy(pts.geometry.values) if len(pts) else ([], [])
    pts = pd.DataFrame({
        "lon": lon,
        "lat": lat,
        "category": pts["category"].astype(object).to_numpy() if len(pts) else [],
        "occurred_at": pd.to_datetime(pts["occurred_at"], utc=True).to_numpy()
        if len(pts) else [],
        "mahalla": _column(pts, "mahalla", "mahalla_id"),
        "precision": _column(pts, "geocode_precision"),
    })
    start, end = figures["season_start"], figures["season_end"]
    pts["in_season"] = (in_season(pts["occurred_at"], start, end, tz=tz)
                        if start and end and len(pts) else np.zeros(len(pts), bool))
    return {"infrastructure": infra, "coverage": cov, "incidents": pts, "buffer": around}


def _column(frame: pd.DataFrame, *names: str) -> np.ndarray:
    """The first of ``names`` present in ``frame`` as objects (None where missing)."""
    for name in names:
        if name in frame:
            col = frame[name].astype(object)
            return col.where(col.notna(), None).to_numpy(dtype=object)
    return np.full(len(frame), None, dtype=object)


# --------------------------------------------------------------------------- edge


def zone_report(access: Any, name: str, *,
                thresholds: ReadinessThresholds | Mapping[str, Any] | None = None,
                buffer_m: float = 2000.0, minutes: Sequence[float] = ZONE_MINUTES,
                purpose: str = "report", tz: str = "Asia/Tashkent") -> ZoneReport:
    """Read the layers through ``access`` (audited with ``purpose``) and report on one zone.

    Parameters
    ----------
    access
        :class:`layers.access.DataAccess`.
    name
        Zone name (tolerant of apostrophes, case and script) or feature id.
    thresholds
        :class:`~geo.zones.ReadinessThresholds` or a mapping of its fields.
    buffer_m, minutes, tz
        See :func:`compute_zone`.
    purpose
        Why the layers are read (audit log).

    Raises
    ------
    UnknownZoneError
        If no zone matches ``name`` (the message lists the zones).
    """
    th = make_thresholds(thresholds)
    infrastructure = access.read("infrastructure", purpose=purpose)
    zone = find_zone(list_zones(infrastructure), name)
    store = access.store
    incidents = _read_incidents(access, zone, buffer_m, purpose)
    coverage = _read_coverage(access, purpose)
    return compute_zone(zone, infrastructure, incidents, coverage, thresholds=th,
                        buffer_m=buffer_m, minutes=minutes, synthetic=is_synthetic(store),
                        tz=tz)


def is_synthetic(store: Any) -> bool:
    """True when the store's ``store_meta`` says ``synthetic = true``."""
    if not store.has("store_meta"):
        return False
    meta = store.read("store_meta")
    if len(meta) == 0 or "key" not in meta.columns:
        return False
    flags = meta.loc[meta["key"] == "synthetic", "value"].astype(str).tolist()
    return bool(flags) and flags[0].lower() == "true"


def _read_incidents(access: Any, zone: pd.Series, buffer_m: float,
                    purpose: str) -> gpd.GeoDataFrame:
    """Incidents of the regions whose mahallas touch the buffered zone."""
    columns = ["incident_id", "occurred_at", "category", "region", "mahalla_id",
               "geocode_precision", "geometry"]
    filters = None
    mahallas = None
    if access.store.has("mahallas"):
        mahallas = access.read("mahallas", columns=["mahalla_id", "name", "region", "geometry"],
                               purpose=purpose)
        if len(mahallas):
            crs = metric_crs(gpd.GeoSeries([zone.geometry], crs=_WGS84))
            around = gpd.GeoSeries([zone.geometry], crs=_WGS84).to_crs(crs).buffer(
                buffer_m).to_crs(_WGS84).iloc[0]
            hit = shapely.intersects(np.asarray(mahallas.geometry.values, dtype=object), around)
            regions = sorted({str(r) for r in mahallas.loc[hit, "region"].dropna()})
            if regions:
                filters = [("region", "in", regions)]
    incidents = access.read("incidents", columns=columns, filters=filters, purpose=purpose)
    if mahallas is not None and len(incidents) and "mahalla_id" in incidents:
        names = pd.Series(mahallas["name"].astype(object).to_numpy(),
                          index=mahallas["mahalla_id"].astype(object).to_numpy())
        names = names[~names.index.duplicated()]
        incidents = incidents.assign(
            mahalla=incidents["mahalla_id"].astype(object).map(names).to_numpy(dtype=object))
    return incidents


def _read_coverage(access: Any, purpose: str) -> gpd.GeoSeries | None:
    """Camera coverage: the ``camera_coverage`` layer, else computed from active cameras."""
    store = access.store
    if store.has("camera_coverage"):
        return access.read("camera_coverage", purpose=purpose).geometry
    if not store.has("cameras"):
        return None
    from riskmap.etl.derive_coverage import active_cameras
    from riskmap.geo.coverage import coverage_polygons

    cams = active_cameras(access.read("cameras", purpose=purpose))
    return coverage_polygons(cams) if len(cams) else None


# --------------------------------------------------------------------------- helpers


def _opt(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _num(value: Any) -> float | None:
    v = float(value)
    return v if math.isfinite(v) else None


def _minutes_key(m: float) -> str:
    return f"{float(m):g}"


def _clean(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, recursively (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _esc(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _fmt(value: Any, pattern: str = "{:.1f}", none: str = "–") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return none
    return pattern.format(value)


_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif;
       color: #22231f; margin: 1.5rem auto; max-width: 62rem; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0 0 0.2rem; } h2 { font-size: 1.1rem; margin: 1.4rem 0 0.4rem;
     border-bottom: 1px solid #d9d9d3; padding-bottom: 0.2rem; }
.meta { color: #5f625a; font-size: 0.9rem; }
.synthetic { background: #fff3cd; border: 1px solid #e5c66b; color: #6b4a00; padding: 0.4rem
             0.7rem; border-radius: 6px; font-weight: 600; margin: 0.6rem 0; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid #e5e5e0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.ok td.status { color: #1a7f37; font-weight: 700; }
tr.fail td.status { color: #b3261e; font-weight: 700; }
tr.ok { background: #eef8f0; } tr.fail { background: #fbeeed; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 0.5rem; }
.kpi { border: 1px solid #d9d9d3; border-radius: 6px; padding: 0.4rem 0.6rem; }
.kpi b { display: block; font-size: 1.3rem; } .kpi span { color: #5f625a; font-size: 0.8rem; }
.figure { page-break-inside: avoid; break-inside: avoid; }
.note { color: #5f625a; font-size: 0.8rem; }
@media print {
  body { margin: 0; max-width: none; }
  .synthetic, tr.ok, tr.fail { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { page-break-after: avoid; break-after: avoid; }
  .modebar-container { display: none !important; }
}
@page { size: A4; margin: 12mm; }
"""


def _render_html(report: ZoneReport) -> str:
    """The report as one self-contained HTML page."""
    from riskmap.app.figures_tourism import (
        checklist_detail,
        checklist_label,
        checklist_value,
        season_chart,
        zone_map,
    )

    data = report.to_json()
    ctx = report.context
    fig = zone_map(report.geometry, report.isochrones, ctx.get("coverage"),
                   ctx.get("infrastructure"), ctx.get("incidents"),
                   beyond=ctx.get("beyond_police"), beyond_minutes=ctx.get("police_minutes"),
                   land=ctx.get("land"))
    fig.update_layout(height=560)
    bars = season_chart(data["incidents_by_category"].get("buffer", {}),
                        title=_("Incidents within {km} km of the zone").format(
                            km=f"{data['buffer_m'] / 1000:g}"))
    bars.update_layout(height=340)
    config = {"displaylogo": False, "responsive": True}
    map_html = fig.to_html(full_html=False, include_plotlyjs=True, config=config,
                           default_width="100%")
    bar_html = bars.to_html(full_html=False, include_plotlyjs=False, config=config,
                            default_width="100%")
    season = data["season"]
    season_text = (_("{start} to {end}").format(start=season["start"], end=season["end"])
                   if season["start"] else _("no season set"))
    ready = data["readiness"]
    parts = [
        "<!DOCTYPE html>", f'<html lang="{_esc((current_language() or "en").split("_")[0])}">'
        '<head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(_('Zone report: {name}').format(name=report.name))}</title>"
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{_esc(_('Tourism zone report: {name}').format(name=report.name))}</h1>",
        f'<p class="meta">{_esc(report.district or "")}{", " if report.district else ""}'
        f'{_esc(report.region or "")} · '
        + _esc(_("feature {feature} · season {season} · generated {when}").format(
            feature=report.feature_id, season=season_text, when=report.generated_at)) + "</p>",
    ]
    if report.synthetic:
        parts.append('<p class="synthetic" id="synthetic">' + _esc(_(
            "Synthetic demo data: generated, not real incidents, cameras or facilities."))
            + "</p>")
    inc = data["incidents_by_season"]
    parts.append('<div class="kpis">' + "".join(
        f'<div class="kpi"><b>{v}</b><span>{_esc(k)}</span></div>' for v, k in (
            (_fmt(data["area_km2"]) + " km²", _("zone area")),
            (_fmt(data["camera_coverage_pct"]) + " %", _("of the zone under cameras")),
            (f"{ready['passed']} / {ready['total']}", _("readiness items passed")),
            (str(inc.get("zone", {}).get("total", 0)), _("incidents inside the zone")))) + "</div>")
    # the checklist's details: geo/zones' codes and values, written in the reader's language
    heads = (_("Item"), _("Status"), _("Figure"), _("Detail"))
    parts.append(f"<h2>{_esc(_('Readiness checklist'))}</h2><table id=\"checklist\"><tr>"
                 + "".join(f"<th>{_esc(h)}</th>" for h in heads) + "</tr>")
    for row in data["checklist"]:
        cls = "ok" if row["ok"] else "fail"
        parts.append(f'<tr class="{cls}"><td>{_esc(checklist_label(row["item"]))}</td>'
                     f'<td class="status">{_esc(_("PASS") if row["ok"] else _("FAIL"))}</td>'
                     f"<td>{_esc(checklist_value({**row, 'value': _nan(row['value'])}))}</td>"
                     + f"<td>{_esc(checklist_detail(row))}</td></tr>")
    parts.append("</table>")
    parts.append("<h2>" + _esc(_("Map: camera coverage and travel time from the nearest police "
                                 "post")) + "</h2>"
                 f'<div class="figure">{map_html}</div>'
                 '<p class="note">' + _esc(_(
                     "Filled bands: parts of the zone a police patrol reaches within 10, 20 and "
                     "30 minutes (by road, then off-road at {kmh} km/h, or straight across "
                     "country). Dashed line: the 10-minute reach of the emergency service "
                     "(112).").format(kmh=f"{report.thresholds.offroad_kmh:g}")) + "</p>")
    of_zone = _("the zone") if data["land_km2"] is None else \
        _("the zone's land ({km2} km², open water left out)").format(km2=_fmt(data["land_km2"]))
    parts.append("<h2>" + _esc(_("Travel time: share of {of_zone} beyond each threshold").format(
                     of_zone=of_zone)) + "</h2><table>"
                 f'<tr><th>{_esc(_("From"))}</th>' + "".join(
                     f'<th class="num">≤ {_esc(_("{n} min").format(n=n))}</th>'
                     for n in (10, 20, 30)) + "</tr>")
    labels = {"police": _("Police post"), "emergency": _("Emergency service (112)")}
    for kind, shares in data["isochrone_share_by_source"].items():
        cells = "".join('<td class="num">' + _esc(_("{share} beyond").format(
                            share=_fmt(v["beyond"], "{:.0%}"))) + "</td>"
                        for v in shares.values())
        parts.append(f"<tr><td>{_esc(labels.get(kind, kind))}</td>{cells}</tr>")
    parts.append("</table>")
    parts.append(f"<h2>{_esc(_('Camera coverage'))}</h2><table>"
                 f'<tr><td>{_esc(_("Zone area covered"))}</td><td class="num">'
                 f'{_fmt(data["camera_coverage_pct"])} %</td></tr>'
                 f'<tr><td>{_esc(_("Access roads within the buffer"))}</td><td class="num">'
                 + _esc(_("{km} km, {pct} % covered").format(
                     km=_fmt(data["access_road_km"]), pct=_fmt(data["access_road_covered_pct"])))
                 + "</td></tr>"
                 f'<tr><td>{_esc(_("Camps, beaches and entrances covered"))}</td><td class="num">'
                 + _esc(_("{covered} of {total}").format(covered=data["sites_covered"],
                                                        total=data["sites_total"]))
                 + "</td></tr></table>")
    if data["sites"]:
        parts.append(f'<table><tr><th>{_esc(_("Site"))}</th><th>{_esc(_("Kind"))}</th>'
                     f'<th class="num">{_esc(_("Covered share"))}</th>'
                     "</tr>" + "".join(
                         f"<tr><td>{_esc(s['name'] or s['feature_id'])}</td><td>"
                         f"{_esc(display_name(s['kind']))}</td><td class=\"num\">"
                         f"{_fmt(s['covered_share'], '{:.0%}')}</td></tr>"
                         for s in data["sites"]) + "</table>")
    parts.append("<h2>" + _esc(_("Incidents by season ({season})").format(season=season_text))
                 + "</h2>"
                 f'<div class="figure">{bar_html}</div>')
    parts.append(_incident_table(data))
    th = data["thresholds"]
    parts.append('<p class="note">' + _esc(_(
        "Thresholds: power line within {power} km; police within {police} min; 112 within "
        "{emergency} min; medical within {medical} min; entrance coverage {entrance} %. "
        "Incidents of the region located only at a mahalla ({unlocated}) cannot be placed and "
        "are not counted. Produced by riskmap.").format(
            power=f"{th['power_line_km']:g}", police=f"{th['police_minutes']:g}",
            emergency=f"{th['emergency_minutes']:g}", medical=f"{th['medical_minutes']:g}",
            entrance=f"{100 * th['entrance_coverage']:g}",
            unlocated=data["incidents_unlocated"])) + "</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


#: texts translated inside f-strings above, which ``pybabel extract`` does not see
_MARKED = (N_("Zone report: {name}"), N_("Tourism zone report: {name}"), N_("PASS"), N_("FAIL"),
           N_("From"), N_("Camera coverage"), N_("Zone area covered"),
           N_("Access roads within the buffer"), N_("Camps, beaches and entrances covered"),
           N_("Site"), N_("Kind"), N_("Covered share"), N_("Zone, in season"),
           N_("Zone, off season"), N_("Zone + buffer, total"), N_("All"))


def _nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _incident_table(data: dict[str, Any]) -> str:
    """Per-category counts inside the zone and within the buffer."""
    zone = data["incidents_by_category"].get("zone", {})
    buf = data["incidents_by_category"].get("buffer", {})
    rows = [f'<table id="incidents"><tr><th>{_esc(_("Category"))}</th>'
            f'<th class="num">{_esc(_("Zone, in season"))}</th>'
            f'<th class="num">{_esc(_("Zone, off season"))}</th>'
            f'<th class="num">{_esc(_("Zone + buffer, total"))}</th></tr>']
    for cat in sorted(buf, key=lambda c: (-buf[c]["total"], c)):
        z = zone.get(cat, {"in_season": 0, "off_season": 0})
        rows.append(f"<tr><td>{_esc(display_name(cat))}</td><td class=\"num\">{_fmt(z['in_season'], '{}')}"
                    f"</td><td class=\"num\">{_fmt(z['off_season'], '{}')}</td>"
                    f"<td class=\"num\">{buf[cat]['total']}</td></tr>")
    s = data["incidents_by_season"]
    rows.append(f"<tr><th>{_esc(_('All'))}</th><th class=\"num\">{_fmt(s['zone']['in_season'], '{}')}</th>"
                f"<th class=\"num\">{_fmt(s['zone']['off_season'], '{}')}</th>"
                f"<th class=\"num\">{s['buffer']['total']}</th></tr></table>")
    return "".join(rows)
