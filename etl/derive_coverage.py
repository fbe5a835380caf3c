"""Build step ``coverage``: camera coverage polygons and coverage figures per mahalla, H3 cell, zone and key site.

``riskmap build --only coverage`` reads mahallas, cameras, incidents and infrastructure, calls the
pure functions of :mod:`geo.coverage`, and replaces these derived layers in one transaction:

``camera_coverage``
    Field-of-view polygon of every active camera (``camera_id, type, mahalla_id, district,
    region``; status ``active`` or unknown; planned and broken cameras are left out).
``coverage_mahalla``
    Per mahalla: ``area_covered_pct``, ``incidents_covered_pct`` (incidents of the last
    ``months`` with coordinates, spatial categories only), ``risk_covered_pct`` (risk-weighted:
    the risk of each H3 res-9 cell spread evenly over its res-11 children), ``cameras`` and
    ``cameras_<type>`` for every camera type, with the mahalla polygon.
``coverage_h3``
    Per H3 res-9 cell with recent incidents or inside a mahalla with cameras: ``covered_share``,
    ``risk``, ``gap = risk * (1 - covered_share)``, ``rank`` by gap, with the hexagon.
``coverage_zones``
    As ``coverage_mahalla`` for tourist-zone polygons of the infrastructure layer.
``coverage_sites``
    Key sites: mahalla entrances (where ``road`` lines cross a mahalla boundary) and bus stops,
    schools, markets and stations, each with ``covered``, ``n_cameras``, ``nearest_camera`` and
    ``nearest_camera_m``.

Risk is the count of incidents of the last ``months`` (default 12, ending at the latest
incident) in the spatial categories (cybercrime and fraud have no place) per H3 res-9 cell
(see :func:`risk_per_cell`, which also accepts a risk table per cell).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from shapely import STRtree

from riskmap.geo.aggregate import sorted_unique
from riskmap.geo.coverage import (
    Raster,
    coverage_polygons,
    h3_coverage,
    key_site_coverage,
    unit_coverage,
)
from riskmap.geo.h3index import cell_centers, cell_polygons
from riskmap.geo.join import PolygonIndex
from riskmap.geo.placement import h3_demand
from riskmap.geo.points import xy
from riskmap.layers.spec import (
    CAMERA_TYPES,
    NON_SPATIAL_CATEGORIES,
    SRID,
)

__all__ = [
    "COVERAGE_LAYERS",
    "SITE_KINDS",
    "build",
    "changed_cells",
    "coverage_layers",
    "key_sites",
    "mahalla_entrances",
    "recent_spatial_mask",
    "risk_per_cell",
    "update",
    "updated_coverage_layers",
]

#: infrastructure kinds that are key sites (besides mahalla entrances)
SITE_KINDS = ("bus_stop", "school", "market", "station")
#: layers written by this step, by export level
COVERAGE_LAYERS = {
    "camera": "camera_coverage",
    "mahalla": "coverage_mahalla",
    "h3": "coverage_h3",
    "zone": "coverage_zones",
    "site": "coverage_sites",
}
#: value columns accepted in a risk table per H3 cell (see :func:`risk_per_cell`)
_VALUE_COLUMNS = ("risk", "kde", "density", "score", "forecast", "value", "expected")
_DEMAND_RES = 11
_RES = 9




# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------
def recent_spatial_mask(incidents: pd.DataFrame, *, months: int = 12,
                        until: pd.Timestamp | None = None,
                        precise_only: bool = True) -> np.ndarray:
    """Incidents of the last ``months`` (ending at ``until``) in categories that have a place.

    Parameters
    ----------
    incidents
        Incident columns ``occurred_at``, ``category`` and (for ``precise_only``)
        ``geocode_precision``.
    months
        Length of the window in calendar months.
    until
        End of the window (exclusive of nothing: incidents at ``until`` count); default the
        latest incident, so an old extract still gives a full year.
    precise_only
        Keep only incidents geocoded to coordinates (those placed at a mahalla's representative
        point would pull cameras onto that point).

    Returns
    -------
    numpy.ndarray
        Boolean mask; all False for an empty frame.
    """
    if len(incidents) == 0:
        return np.zeros(0, dtype=bool)
    t = pd.to_datetime(incidents["occurred_at"], utc=True)
    end = t.max() if until is None else pd.Timestamp(until)
    if end.tzinfo is None:
        end = end.tz_localize("UTC")
    keep = ((t > end - pd.DateOffset(months=months)) & (t <= end)).fillna(False)
    keep &= ~incidents["category"].isin(list(NON_SPATIAL_CATEGORIES)).fillna(False)
    if precise_only and "geocode_precision" in incidents:
        keep &= (incidents["geocode_precision"] == "coordinates").fillna(False)
    return keep.to_numpy(dtype=bool)


def risk_per_cell(incidents: pd.DataFrame, *, kde: pd.DataFrame | None = None, months: int = 12,
                  until: pd.Timestamp | None = None,
                  precise_only: bool = True) -> pd.DataFrame:
    """Risk per H3 res-9 cell: recent spatial incident counts, or a KDE/forecast layer.

    Parameters
    ----------
    incidents
        Incidents with ``h3`` and the columns :func:`recent_spatial_mask` needs.
    kde
        Optional table with an ``h3`` column (int64, res 9) and one value column named
        ``risk``, ``kde``, ``density``, ``score``, ``forecast``, ``value`` or ``expected``;
        when given it replaces the counts as ``risk`` (``incidents`` still counted).
    months, until, precise_only
        See :func:`recent_spatial_mask`.

    Returns
    -------
    pandas.DataFrame
        ``h3`` (int64, unique, sorted), ``incidents`` (recent count), ``risk`` (float); only
        cells with positive risk or incidents.
    """
    keep = recent_spatial_mask(incidents, months=months, until=until, precise_only=precise_only)
    cells = incidents["h3"].to_numpy(dtype=np.int64, na_value=0)[keep] if len(keep) else \
        np.empty(0, np.int64)
    cells = cells[cells > 0]
    uniq, counts = np.unique(cells, return_counts=True)
    out = pd.DataFrame({"h3": uniq.astype(np.int64), "incidents": counts.astype(np.int64)})
    if kde is None:
        out["risk"] = out["incidents"].astype(np.float64)
        return out
    column = next((c for c in _VALUE_COLUMNS if c in kde.columns), None)
    if column is None or "h3" not in kde:
        raise ValueError(f"the risk layer has columns {list(kde.columns)}; expected 'h3' and one "
                         f"of {', '.join(_VALUE_COLUMNS)}")
    values = kde.groupby(kde["h3"].to_numpy(dtype=np.int64, na_value=0))[column].sum()
    values = values[(values.index > 0) & (values.to_numpy(dtype=float, na_value=0.0) > 0)]
    merged = pd.DataFrame({"h3": values.index.to_numpy(np.int64),
                           "risk": values.to_numpy(dtype=np.float64)})
    out = out[["h3", "incidents"]].merge(merged, on="h3", how="outer")
    out["incidents"] = out["incidents"].fillna(0).astype(np.int64)
    out["risk"] = out["risk"].fillna(0.0)
    return out.sort_values("h3", ignore_index=True)


def mahalla_entrances(mahallas: gpd.GeoDataFrame, roads: gpd.GeoDataFrame | gpd.GeoSeries
                      ) -> gpd.GeoDataFrame:
    """Points where roads cross mahalla boundaries: the entrances and exits of each mahalla.

    A crossing on a boundary shared by two mahallas is an entrance of both (one row each). Where
    a road runs along a boundary, the midpoint of the shared stretch is used.

    Parameters
    ----------
    mahallas
        ``mahalla_id`` (``district``/``region`` carried when present) and polygons.
    roads
        Road lines (other geometry types are ignored).

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id`` (``"entrance:<mahalla_id>:<n>"``), ``kind`` (``"entrance"``), ``name``,
        ``mahalla_id``, ``district``, ``region`` and points, EPSG:4326; empty when nothing
        crosses.
    """
    m_geom = np.asarray(mahallas.geometry.values, dtype=object)
    r_geom = np.asarray(roads.geometry.values if isinstance(roads, gpd.GeoDataFrame)
                        else roads.values, dtype=object)
    r_geom = r_geom[np.isin(shapely.get_type_id(r_geom), (1, 5))]  # (Multi)LineString
    boundaries = shapely.boundary(m_geom)
    if len(r_geom) == 0 or len(m_geom) == 0:
        mi, ri = np.empty(0, np.int64), np.empty(0, np.int64)
    else:
        mi, ri = STRtree(r_geom).query(boundaries, predicate="intersects")
    cross = shapely.intersection(boundaries[mi], r_geom[ri])
    parts, owner = shapely.get_parts(cross, return_index=True)
    lines = shapely.get_type_id(parts) != 0
    parts[lines] = shapely.line_interpolate_point(parts[lines], 0.5, normalized=True)
    which = mi[owner]
    # one entrance per mahalla and place (several road pieces may meet at one crossing)
    xy = np.round(shapely.get_coordinates(parts), 7) if len(parts) else np.empty((0, 2))
    key = pd.DataFrame({"m": which, "x": xy[:, 0], "y": xy[:, 1]})
    first = ~key.duplicated().to_numpy()
    which, parts = which[first], parts[first]
    order = np.lexsort((xy[first, 1], xy[first, 0], which))
    which, parts = which[order], parts[order]
    ids = mahallas["mahalla_id"].astype(object).to_numpy()[which]
    n = _rank_within(which)
    out = pd.DataFrame({
        "site_id": [f"entrance:{m}:{k}" for m, k in zip(ids, n, strict=True)],
        "kind": "entrance",
        "name": [f"Entrance {k} of {m}" for m, k in zip(ids, n, strict=True)],
        "mahalla_id": ids,
    })
    for col in ("district", "region"):
        out[col] = mahallas[col].astype(object).to_numpy()[which] if col in mahallas else None
    return gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(parts, crs=SRID), crs=SRID)


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """1, 2, ... within each run of equal (sorted) group values."""
    if len(groups) == 0:
        return np.empty(0, np.int64)
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    lengths = np.diff(np.r_[starts, len(groups)])
    return np.arange(len(groups)) - np.repeat(starts, lengths) + 1


def key_sites(mahallas: gpd.GeoDataFrame, infrastructure: gpd.GeoDataFrame, *,
              kinds: Sequence[str] = SITE_KINDS, entrances: bool = True) -> gpd.GeoDataFrame:
    """Key sites: mahalla entrances plus infrastructure points of ``kinds``.

    Infrastructure sites keep their ``feature_id`` as ``site_id``; a missing ``mahalla_id`` is
    filled from the mahalla containing the point.

    Returns
    -------
    geopandas.GeoDataFrame
        ``site_id, kind, name, mahalla_id, district, region`` and points, EPSG:4326.
    """
    frames = []
    if entrances and len(infrastructure):
        roads = infrastructure[(infrastructure["kind"] == "road").fillna(False).to_numpy(bool)]
        frames.append(mahalla_entrances(mahallas, roads))
    if len(infrastructure):
        geoms = np.asarray(infrastructure.geometry.values, dtype=object)
        sel = (infrastructure["kind"].isin(list(kinds)).fillna(False).to_numpy(bool)
               & np.isin(shapely.get_type_id(geoms), (0,)) & ~shapely.is_empty(geoms))
        infra = infrastructure[sel]
        pts = pd.DataFrame({
            "site_id": infra["feature_id"].astype(object).to_numpy(),
            "kind": infra["kind"].astype(object).to_numpy(),
            "name": infra["name"].astype(object).to_numpy() if "name" in infra else None,
        })
        for col in ("mahalla_id", "district", "region"):
            pts[col] = infra[col].astype(object).to_numpy() if col in infra else None
        frames.append(gpd.GeoDataFrame(pts, geometry=infra.geometry.to_numpy(), crs=SRID))
    if not frames:
        return gpd.GeoDataFrame(
            {c: pd.Series(dtype=object) for c in
             ("site_id", "kind", "name", "mahalla_id", "district", "region")},
            geometry=gpd.GeoSeries([], crs=SRID), crs=SRID)
    sites = pd.concat(frames, ignore_index=True)
    sites = gpd.GeoDataFrame(sites, geometry="geometry", crs=SRID)
    return _fill_units(sites, mahallas)


def _fill_units(frame: gpd.GeoDataFrame, mahallas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Fill missing ``mahalla_id``/``district``/``region`` from the mahalla containing the point."""
    if len(frame) == 0 or len(mahallas) == 0:
        return frame
    missing = pd.isna(frame["mahalla_id"]).to_numpy() | pd.isna(frame["region"]).to_numpy()
    if not missing.any():
        return frame
    pts = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object)[missing])
    where = PolygonIndex(np.asarray(mahallas.geometry.values, dtype=object)).locate(*xy(pts))
    frame = frame.copy()
    for col in ("mahalla_id", "district", "region"):
        values = frame[col].astype(object).to_numpy().copy()
        lookup = _with_missing(mahallas[col].astype(object).to_numpy())
        fill = lookup[where]
        old = values[missing]
        values[missing] = np.where(pd.isna(old), fill, old)
        frame[col] = values
    return frame


# --------------------------------------------------------------------------------------------
# the pure step
# --------------------------------------------------------------------------------------------
def active_cameras(cameras: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cameras whose status is ``active`` or unknown."""
    if "status" not in cameras or len(cameras) == 0:
        return cameras
    status = cameras["status"].astype(object)
    return cameras[(status.isna() | (status == "active")).to_numpy(dtype=bool)]


def _percent_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the ``*_pct`` columns (0-100) from the shares of :func:`geo.coverage.unit_coverage`."""
    for share, pct in (("area_share", "area_covered_pct"), ("incident_share",
                       "incidents_covered_pct"), ("risk_share", "risk_covered_pct")):
        if share in frame:
            frame[pct] = 100.0 * frame[share]
    for t in CAMERA_TYPES:
        if f"cameras_{t}" not in frame:
            frame[f"cameras_{t}"] = 0
    if "cameras" not in frame:
        frame["cameras"] = 0
    return frame


def coverage_layers(mahallas: gpd.GeoDataFrame, cameras: gpd.GeoDataFrame,
                    incidents: gpd.GeoDataFrame, infrastructure: gpd.GeoDataFrame, *,
                    risk: pd.DataFrame | None = None, months: int = 12,
                    until: pd.Timestamp | None = None,
                    viewshed: Raster | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Compute every coverage layer from the base layers (pure: no store access).

    Parameters
    ----------
    mahallas, cameras, incidents, infrastructure
        The base layers (incidents need ``occurred_at, category, h3, geocode_precision`` and
        point geometry; mahalla-only incidents have empty points and count towards no mahalla).
    risk
        Risk per H3 res-9 cell (``h3``, ``risk``, ``incidents``) as made by
        :func:`risk_per_cell`; computed from ``incidents`` when omitted.
    months, until
        Window of the incidents counted (see :func:`recent_spatial_mask`).
    viewshed
        Optional ``(surface, transform, crs)`` terrain + building heights: each camera's
        sector is cut by its line of sight. Building footprints (infrastructure of kind
        ``building``) always cut the sectors behind them.

    Returns
    -------
    dict
        Frames keyed by layer name (see :data:`COVERAGE_LAYERS`), all EPSG:4326.
    """
    cams = active_cameras(cameras).reset_index(drop=True)
    cov = coverage_polygons(cams, viewshed=viewshed, buildings=building_footprints(
        infrastructure)) if len(cams) else gpd.GeoSeries([], crs=SRID)
    has_cov = ~(cov.isna().to_numpy() | cov.is_empty.to_numpy()) if len(cov) else np.zeros(0, bool)
    cam_cov = gpd.GeoDataFrame({
        "camera_id": cams["camera_id"].astype(object).to_numpy()[has_cov],
        "type": cams["type"].astype(object).to_numpy()[has_cov],
        **{c: (cams[c].astype(object).to_numpy()[has_cov] if c in cams else None)
           for c in ("mahalla_id", "district", "region")},
    }, geometry=gpd.GeoSeries(cov.to_numpy()[has_cov], crs=SRID), crs=SRID)
    cam_cov = _fill_units(cam_cov, mahallas)
    if risk is None:
        risk = risk_per_cell(incidents, months=months, until=until)
    recent = incidents[recent_spatial_mask(incidents, months=months, until=until)]
    demand = h3_demand(risk["h3"].to_numpy(), risk["risk"].to_numpy(), resolution=_DEMAND_RES,
                       geometry=False) \
        if len(risk) else gpd.GeoDataFrame({"risk": []}, geometry=gpd.GeoSeries([], crs=SRID))

    def per_unit(units: gpd.GeoDataFrame, unit_id: str) -> pd.DataFrame:
        if len(units) == 0:
            return _percent_columns(pd.DataFrame({unit_id: pd.Series(dtype=object)}))
        got = unit_coverage(units, cam_cov.geometry, unit_id=unit_id, incidents=recent,
                            risk=demand, cameras=cams)
        return _percent_columns(got)

    m_fig = per_unit(mahallas, "mahalla_id")
    keep = [c for c in ("mahalla_id", "name", "district", "region") if c in mahallas]
    m_out = gpd.GeoDataFrame(
        pd.concat([mahallas[keep].reset_index(drop=True),
                   m_fig.drop(columns="mahalla_id").reset_index(drop=True)], axis=1),
        geometry=mahallas.geometry.reset_index(drop=True), crs=SRID)

    zones = _tourist_zones(infrastructure)
    z_fig = per_unit(zones, "feature_id")
    zkeep = [c for c in ("feature_id", "name", "district", "region") if c in zones]
    z_out = gpd.GeoDataFrame(
        pd.concat([zones[zkeep].reset_index(drop=True),
                   z_fig.drop(columns="feature_id").reset_index(drop=True)], axis=1),
        geometry=gpd.GeoSeries(zones.geometry.to_numpy() if len(zones) else [], crs=SRID),
        crs=SRID)

    h3_out = _h3_layer(mahallas, cams, cam_cov, risk)
    sites = key_sites(mahallas, infrastructure)
    if len(sites):
        ks = key_site_coverage(sites, cov, cams) if len(cams) else _uncovered(len(sites))
        sites = sites.assign(covered=ks["covered"].to_numpy(), n_cameras=ks["n_cameras"].to_numpy(),
                             nearest_camera=ks["nearest_camera"].to_numpy(),
                             nearest_camera_m=ks["nearest_m"].to_numpy())
    else:
        sites = sites.assign(covered=pd.Series(dtype=bool), n_cameras=pd.Series(dtype=np.int64),
                             nearest_camera=pd.Series(dtype=object),
                             nearest_camera_m=pd.Series(dtype=float))
    return {"camera_coverage": cam_cov, "coverage_mahalla": m_out, "coverage_h3": h3_out,
            "coverage_zones": z_out, "coverage_sites": sites}


def _tourist_zones(infrastructure: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The tourist-zone polygons of the infrastructure layer (as :func:`coverage_layers`)."""
    zones = infrastructure[(infrastructure["kind"] == "tourist_zone").fillna(False).to_numpy(bool)
                           ] if len(infrastructure) else infrastructure
    return zones[np.isin(shapely.get_type_id(np.asarray(zones.geometry.values, dtype=object)),
                         (3, 6))].reset_index(drop=True) if len(zones) else zones


def _fraction(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """part / whole with NaN where whole is zero (as :func:`geo.coverage.unit_coverage`)."""
    whole = np.asarray(whole, dtype=np.float64)
    return np.divide(part, whole, out=np.full(len(whole), np.nan), where=whole > 0)


#: how far (degrees) a res-11 child's centre may lie from its res-9 parent's centre, with room
#: (at most 0.0023 in the medium demo world, 0.0026 at 46 N)
_CHILD_REACH_DEG = 0.004


def _patched_units(old: pd.DataFrame, units: gpd.GeoDataFrame, unit_id: str,
                   coverage: gpd.GeoSeries, recent: gpd.GeoDataFrame, risk: pd.DataFrame,
                   changed: np.ndarray) -> pd.DataFrame | None:
    """``old`` (a ``coverage_mahalla``/``coverage_zones`` frame) with its incident figures
    counted again and the risk figures of the units holding a ``changed`` cell recomputed.

    The camera coverage and ``units`` are those ``old`` was computed from. The risk of a unit
    is the sum over the res-11 demand points it holds; only the units receiving a point of a
    changed cell can change, and their sums are made from every demand point near them, in
    the order of the full computation (so bit for bit its figures). None when ``old`` does not
    match ``units`` (the caller builds in full).
    """
    from riskmap.geo.coverage import resolve_metric_crs, unit_weight_sums
    from riskmap.geo.h3index import cell_centers

    if not len(units) and not len(old):
        return old  # no zones (an empty layer may read back without its columns)
    need = {unit_id, "incidents", "incidents_covered", "incident_share", "risk",
            "risk_covered", "risk_share"}
    if len(old) != len(units) or not need <= set(old.columns) or not np.array_equal(
            old[unit_id].astype(object).to_numpy(), units[unit_id].astype(object).to_numpy()):
        return None
    out = old.copy()
    if not len(units):
        return out
    crs = resolve_metric_crs(units, None)
    total, hit, _ = unit_weight_sums(units, coverage, recent, crs_metric=crs)
    out["incidents"] = total.astype(np.int64)
    out["incidents_covered"] = hit.astype(np.int64)
    out["incident_share"] = _fraction(hit, total)
    out["incidents_covered_pct"] = 100.0 * out["incident_share"].to_numpy(dtype=float)
    if not len(changed):
        return out
    probe = h3_demand(changed, np.zeros(len(changed)), resolution=_DEMAND_RES, geometry=False)
    _, _, where = unit_weight_sums(units, coverage, probe, column="risk", crs_metric=crs)
    hit_units = sorted_unique(where[where >= 0])
    if not len(hit_units):
        return out
    near = np.empty(0, np.int64)
    if len(risk):
        lon, lat = cell_centers(risk["h3"].to_numpy(np.int64))
        tree = STRtree(np.asarray(units.geometry.values, dtype=object)[hit_units])
        near, _ = tree.query(shapely.points(lon, lat), predicate="dwithin",
                             distance=_CHILD_REACH_DEG)
        near = sorted_unique(near)
    r_total = np.zeros(len(units))
    r_hit = np.zeros(len(units))
    if len(near):
        demand = h3_demand(risk["h3"].to_numpy(np.int64)[near],
                           risk["risk"].to_numpy(np.float64)[near], resolution=_DEMAND_RES,
                           geometry=False)
        r_total, r_hit, _ = unit_weight_sums(units, coverage, demand, column="risk",
                                             crs_metric=crs)
    for name, values in (("risk", r_total), ("risk_covered", r_hit),
                         ("risk_share", _fraction(r_hit, r_total))):
        column = out[name].to_numpy(dtype=np.float64, na_value=np.nan).copy()
        column[hit_units] = values[hit_units]
        out[name] = column
    out["risk_covered_pct"] = 100.0 * out["risk_share"].to_numpy(dtype=float)
    return out


def changed_cells(old_h3: pd.DataFrame, risk: pd.DataFrame) -> np.ndarray:
    """Cells whose recent incident count or risk differs between ``old_h3`` and ``risk``.

    ``old_h3`` is the ``coverage_h3`` layer of the last build (its cells with incidents are the
    risk table that build used); ``risk`` the new :func:`risk_per_cell` table.
    """
    had = old_h3[old_h3["incidents"].to_numpy(dtype=np.int64, na_value=0) > 0]
    before = pd.DataFrame({"h3": had["h3"].to_numpy(np.int64),
                           "n0": had["incidents"].to_numpy(np.int64),
                           "r0": had["risk"].to_numpy(np.float64, na_value=np.nan)})
    now = pd.DataFrame({"h3": risk["h3"].to_numpy(np.int64),
                        "n1": risk["incidents"].to_numpy(np.int64),
                        "r1": risk["risk"].to_numpy(np.float64)})
    both = before.merge(now, on="h3", how="outer")
    diff = (both["n0"].fillna(0).to_numpy() != both["n1"].fillna(0).to_numpy()) | (
        both["r0"].fillna(0.0).to_numpy() != both["r1"].fillna(0.0).to_numpy())
    return np.sort(both["h3"].to_numpy(np.int64)[diff])


def updated_coverage_layers(old: dict[str, pd.DataFrame], mahallas: gpd.GeoDataFrame,
                            cameras: gpd.GeoDataFrame, infrastructure: gpd.GeoDataFrame,
                            incidents: gpd.GeoDataFrame, *, months: int = 12,
                            until: pd.Timestamp | None = None
                            ) -> dict[str, gpd.GeoDataFrame] | None:
    """The risk-weighted coverage layers after incidents changed (pure).

    ``old`` holds the last build's ``camera_coverage``, ``coverage_mahalla``,
    ``coverage_zones`` and ``coverage_h3``, computed from the same mahallas, cameras and
    infrastructure: the camera polygons are reused, the incident figures of every unit
    counted again from ``incidents`` (those of the risk window suffice), the risk figures of
    the units holding a cell whose count changed recomputed (:func:`_patched_units`), and
    ``coverage_h3`` made again. The layers equal those of :func:`coverage_layers`;
    ``camera_coverage`` and ``coverage_sites`` do not change and are not returned. None when
    ``old`` does not fit the inputs (a full build is needed).
    """
    cams = active_cameras(cameras).reset_index(drop=True)
    cam_cov = old["camera_coverage"]
    risk = risk_per_cell(incidents, months=months, until=until)
    recent = incidents[recent_spatial_mask(incidents, months=months, until=until)]
    changed = changed_cells(old["coverage_h3"], risk)
    m_out = _patched_units(pd.DataFrame(old["coverage_mahalla"]), mahallas, "mahalla_id",
                           cam_cov.geometry, recent, risk, changed)
    zones = _tourist_zones(infrastructure)
    z_out = _patched_units(pd.DataFrame(old["coverage_zones"]), zones, "feature_id",
                           cam_cov.geometry, recent, risk, changed)
    if m_out is None or z_out is None:
        return None
    return {"coverage_mahalla": gpd.GeoDataFrame(m_out, geometry="geometry", crs=SRID),
            "coverage_zones": gpd.GeoDataFrame(z_out, geometry="geometry", crs=SRID)
            if "geometry" in z_out else gpd.GeoDataFrame(
                z_out, geometry=gpd.GeoSeries([], crs=SRID), crs=SRID),
            "coverage_h3": _h3_layer(mahallas, cams, cam_cov, risk)}


def _uncovered(n: int) -> pd.DataFrame:
    """Key-site figures when there is no active camera."""
    return pd.DataFrame({"covered": np.zeros(n, bool), "n_cameras": np.zeros(n, np.int64),
                         "nearest_camera": [None] * n, "nearest_m": np.full(n, np.nan)})


def _h3_layer(mahallas: gpd.GeoDataFrame, cams: gpd.GeoDataFrame, cam_cov: gpd.GeoDataFrame,
              risk: pd.DataFrame) -> gpd.GeoDataFrame:
    """Cells with risk, plus the cells of mahallas holding a camera, with coverage and gap."""
    import pyarrow as pa

    from h3ronpy.vector import ContainmentMode, wkb_to_cells

    cells = risk["h3"].to_numpy(np.int64)
    with_cams = set(cams["mahalla_id"].dropna().astype(str)) if "mahalla_id" in cams else set()
    sel = mahallas["mahalla_id"].astype(object).isin(with_cams).to_numpy(bool)
    if sel.any():
        wkb = shapely.to_wkb(np.asarray(mahallas.geometry.values, dtype=object)[sel])
        inside = pa.array(wkb_to_cells(wkb, _RES, ContainmentMode.ContainsCentroid,
                                       flatten=True)).to_numpy(zero_copy_only=False)
        cells = np.union1d(cells, inside.astype(np.uint64).astype(np.int64))
    cells = sorted_unique(cells[cells > 0])
    by_cell = risk.set_index("h3")
    r = by_cell["risk"].reindex(cells).fillna(0.0).to_numpy(np.float64)
    n = by_cell["incidents"].reindex(cells).fillna(0).to_numpy(np.int64)
    if len(cells) == 0:
        frame = pd.DataFrame({"h3": pd.Series(dtype=np.int64), "covered_share": [], "risk": [],
                              "gap": [], "rank": pd.Series(dtype=np.int64)})
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=SRID), crs=SRID)
    frame = h3_coverage(cells, cam_cov.geometry, risk=r)
    frame["incidents"] = n
    frame["risk_covered"] = frame["risk"] * frame["covered_share"]
    frame["covered_pct"] = 100.0 * frame["covered_share"]
    order = np.lexsort((frame["h3"].to_numpy(), -frame["gap"].to_numpy()))
    rank = np.empty(len(frame), np.int64)
    rank[order] = np.arange(1, len(frame) + 1)
    frame["rank"] = rank
    frame["h3_hex"] = [format(int(c), "x") for c in cells]
    lon, lat = cell_centers(cells)
    where = PolygonIndex(np.asarray(mahallas.geometry.values, dtype=object)).locate(lon, lat) \
        if len(mahallas) else np.full(len(cells), -1)
    for col in ("mahalla_id", "district", "region"):
        lookup = _with_missing(mahallas[col].astype(object).to_numpy()) if col in mahallas \
            else np.array([None])
        frame[col] = lookup[where]
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(cell_polygons(cells), crs=SRID),
                            crs=SRID)


# --------------------------------------------------------------------------------------------
# the build step (edge)
# --------------------------------------------------------------------------------------------
def building_footprints(infrastructure: gpd.GeoDataFrame) -> gpd.GeoSeries | None:
    """Polygons of infrastructure of kind ``building`` (None when there are none)."""
    if len(infrastructure) == 0 or "kind" not in infrastructure:
        return None
    keep = (infrastructure["kind"] == "building").fillna(False).to_numpy(dtype=bool)
    polys = infrastructure.geometry[keep]
    polys = polys[polys.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy(dtype=bool)]
    return polys if len(polys) else None


def read_dem(path: Any) -> Raster:
    """Read the line-of-sight raster (edge): it must be in a projected, metric CRS."""
    import pyproj

    from riskmap.errors import ConfigError
    from riskmap.etl.rasters import read_raster

    array, transform, crs = read_raster(path)
    crs = pyproj.CRS.from_user_input(crs) if crs is not None else None
    if crs is None or not crs.is_projected:
        raise ConfigError(f"{path}: the DEM must be in a projected CRS in metres (got {crs}); "
                          "reproject it, e.g. gdalwarp -t_srs EPSG:32642")
    return array, transform, crs


def _window_incidents(store: Any, months: int) -> tuple[gpd.GeoDataFrame, pd.Timestamp | None]:
    """The incidents of the risk window (the ``months`` up to the latest incident, as
    :func:`recent_spatial_mask` takes them), read alone; and the latest incident's time.

    The window is all the coverage figures count: a national history of many years is never
    read whole (nor its points made) for one year of them.
    """
    occ = pd.to_datetime(store.read("incidents", columns=["occurred_at"])["occurred_at"],
                         utc=True).dropna() if store.has("incidents") else pd.Series([])
    columns = ["incident_id", "occurred_at", "category", "h3", "geocode_precision", "geometry"]
    if not len(occ):
        return store.read("incidents", columns=columns), None
    latest = occ.max()
    return store.read("incidents", columns=columns, filters=[
        ("occurred_at", ">", latest - pd.DateOffset(months=months)),
        ("occurred_at", "<=", latest)]), latest


def build(store: Any, settings: Any, *, progress: bool = False) -> dict[str, Any]:
    """Compute the coverage layers from ``store`` and replace them in one transaction.

    Parameters
    ----------
    store
        The store (base layers in, derived layers out).
    settings
        Root settings (``geo.status_months`` sets the incident window; ``geo.dem`` an
        optional line-of-sight raster).
    progress
        Show a progress bar on stderr (same code path either way).

    Returns
    -------
    dict
        Rows written per layer, cameras used, and the risk source (``"counts"`` or ``"kde"``).
    """
    from riskmap.etl.progress import progress_bar

    months = int(getattr(getattr(settings, "geo", None), "status_months", 12))
    with progress_bar(desc="coverage", unit="steps", total=3, enabled=progress) as bar:
        mahallas = store.read("mahallas")
        cameras = store.read("cameras")
        incidents, _ = _window_incidents(store, months)  # all that the figures count
        infrastructure = store.read("infrastructure")
        bar.update(1)
        risk = risk_per_cell(incidents, months=months)
        dem = getattr(getattr(settings, "geo", None), "dem", None)
        layers = coverage_layers(mahallas, cameras, incidents, infrastructure, risk=risk,
                                 months=months, viewshed=read_dem(dem) if dem else None)
        bar.update(1)
        with store.transaction() as txn:
            for name, frame in layers.items():
                txn.replace(name, frame)
        bar.update(1)
    summary: dict[str, Any] = {name: len(frame) for name, frame in layers.items()}
    summary["risk"] = "counts"
    summary["months"] = months
    cm = layers["coverage_mahalla"]
    if len(cm) and cm["area_m2"].sum() > 0:
        summary["area_covered_pct"] = round(100 * float(cm["covered_m2"].sum()
                                                        / cm["area_m2"].sum()), 3)
    if "risk" in cm and cm["risk"].sum() > 0:
        summary["risk_covered_pct"] = round(100 * float(cm["risk_covered"].sum()
                                                        / cm["risk"].sum()), 2)
    return summary


def update(store: Any, settings: Any, *, progress: bool = False) -> dict[str, Any] | None:
    """Recompute the risk-weighted coverage layers after a load of incidents (edge).

    For a build after writes of incidents only (same mahallas, cameras, infrastructure and
    settings as the last build): reads the incidents of the risk window alone, keeps
    ``camera_coverage`` and ``coverage_sites``, and rewrites ``coverage_mahalla``,
    ``coverage_zones`` and ``coverage_h3`` as :func:`updated_coverage_layers` makes them.

    Returns
    -------
    dict or None
        As :func:`build` (plus ``latest``: the time of the latest incident); None when the
        stored layers do not fit (the caller runs :func:`build`).
    """
    from riskmap.etl.progress import progress_bar

    months = int(getattr(getattr(settings, "geo", None), "status_months", 12))
    if not all(store.has(name) for name in ("camera_coverage", "coverage_mahalla",
                                            "coverage_h3")):
        return None
    with progress_bar(desc="coverage", unit="steps", total=3, enabled=progress) as bar:
        incidents, latest = _window_incidents(store, months)
        old = {name: store.read(name) for name in ("camera_coverage", "coverage_mahalla",
                                                   "coverage_zones", "coverage_h3")
               if store.has(name)}
        old.setdefault("coverage_zones", pd.DataFrame({"feature_id": pd.Series(dtype=object)}))
        mahallas = store.read("mahallas")
        layers = updated_coverage_layers(old, mahallas, store.read("cameras"),
                                         store.read("infrastructure"), incidents,
                                         months=months, until=latest)
        bar.update(2)
        if layers is None:
            return None
        with store.transaction() as txn:
            for name, frame in layers.items():
                txn.replace(name, frame)
        bar.update(1)
    summary: dict[str, Any] = {name: len(frame) for name, frame in layers.items()}
    summary.update(risk="counts", months=months, reused=["camera_coverage", "coverage_sites"])
    cm = layers["coverage_mahalla"]
    if len(cm) and cm["area_m2"].sum() > 0:
        summary["area_covered_pct"] = round(100 * float(cm["covered_m2"].sum()
                                                        / cm["area_m2"].sum()), 3)
    if "risk" in cm and cm["risk"].sum() > 0:
        summary["risk_covered_pct"] = round(100 * float(cm["risk_covered"].sum()
                                                        / cm["risk"].sum()), 2)
    return summary


def _with_missing(values: np.ndarray) -> np.ndarray:
    """``values`` (as objects) with a trailing None, so that index -1 looks up None."""
    out = np.empty(len(values) + 1, dtype=object)
    out[:-1] = values
    return out
