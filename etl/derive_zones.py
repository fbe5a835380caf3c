"""Build step ``zones``: readiness checklist, isochrones and figures of every tourist zone.

``riskmap build --only zones`` reads infrastructure, incidents and camera coverage, computes
each tourist zone with :func:`etl.zone_report.compute_zone` (one road graph for all zones),
and replaces these derived layers in one transaction:

``zone_readiness``
    One row per zone and checklist item: ``zone, feature_id, item, ok, value, threshold,
    unit, detail, share_beyond`` (the travel items' share of the zone beyond the limit;
    NaN for the other items).
``zone_isochrones``
    ``zone, feature_id, minutes, source_kind`` (police|emergency), ``within`` (share of the
    zone) and the reached part of the zone.
``zone_figures``
    ``zone, feature_id`` and ``figures``: the JSON of :meth:`ZoneReport.to_json`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from riskmap.etl.zone_report import (
    ZoneReport,
    compute_zone,
    is_synthetic,
    list_zones,
    make_thresholds,
    road_graph,
)
from riskmap.geo.network import metric_crs
from riskmap.layers.spec import SRID

__all__ = ["ZONE_LAYERS", "build", "build_counted", "monthly_counts", "patch_figures",
           "summed_figures", "update", "zone_layers"]

#: layers written by this step
ZONE_LAYERS = ("zone_readiness", "zone_isochrones", "zone_figures")




def zone_layers(reports: list[ZoneReport]) -> dict[str, pd.DataFrame]:
    """The three derived layers from computed zone reports (pure).

    Returns
    -------
    dict
        Frames keyed by the names in :data:`ZONE_LAYERS`; empty frames for no reports.
    """
    readiness, iso, figures = [], [], []
    for r in reports:
        data = r.to_json()
        for row in data["checklist"]:
            readiness.append({"zone": r.name, "feature_id": r.feature_id, "item": row["item"],
                              "ok": bool(row["ok"]), "value": _float(row["value"]),
                              "threshold": _float(row["threshold"]), "unit": row["unit"],
                              "detail": row["detail"],
                              "share_beyond": _float(row.get("share_beyond"))})
        within = r.shares.set_index(["source_kind", "minutes"])["within"]
        for kind, minutes, geom in zip(r.isochrones["source_kind"], r.isochrones["minutes"],
                                       r.isochrones.geometry, strict=True):
            iso.append({"zone": r.name, "feature_id": r.feature_id, "minutes": float(minutes),
                        "source_kind": kind, "within": float(within.get((kind, minutes),
                                                                         float("nan"))),
                        "geometry": geom})
        figures.append({"zone": r.name, "feature_id": r.feature_id,
                        "figures": json.dumps(data, ensure_ascii=False)})
    cols = ("zone", "feature_id", "item", "ok", "value", "threshold", "unit", "detail",
            "share_beyond")
    ready = pd.DataFrame(readiness, columns=list(cols))
    ready["ok"] = ready["ok"].astype("boolean")
    ready[["value", "threshold", "share_beyond"]] = ready[
        ["value", "threshold", "share_beyond"]].astype(float)
    iso_cols = ["zone", "feature_id", "minutes", "source_kind", "within", "geometry"]
    iso_frame = gpd.GeoDataFrame(pd.DataFrame(iso, columns=iso_cols), geometry="geometry",
                                 crs=SRID)
    iso_frame[["minutes", "within"]] = iso_frame[["minutes", "within"]].astype(float)
    fig_frame = pd.DataFrame(figures, columns=["zone", "feature_id", "figures"])
    return {"zone_readiness": ready, "zone_isochrones": iso_frame, "zone_figures": fig_frame}


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


# --------------------------------------------------------------------------- incident figures
# The zone layers depend on incidents only through the incident figures of ``zone_figures``
# (counts inside each zone and its buffer, by season and category, and the unlocated count):
# sums over incidents, kept per calendar month (UTC) so that a load recounts only the months
# it touched and the figures are patched in (see :func:`patch_figures`).

_MARGIN_DEG = 0.01  # around a buffer's bounds, for the cheap pre-selection of incidents
_EMPTY_INFRA = gpd.GeoDataFrame({"kind": pd.Series(dtype=object)}, geometry=[], crs=SRID)


def _zone_key(zone: pd.Series) -> str:
    return str(zone.get("feature_id"))


def monthly_counts(zones: gpd.GeoDataFrame, incidents: gpd.GeoDataFrame, *,
                   buffer_m: float = 2000.0, tz: str = "Asia/Tashkent") -> dict[str, Any]:
    """Incident figures of every zone per month (UTC) of ``incidents`` (pure).

    Returns
    -------
    dict
        ``{"zones": {feature_id: {month code: incidents figures}}, "unlocated": {month
        code: count}}`` (month codes as text; months with nothing left out), the figures as
        ``geo.zones.zone_figures`` gives them under ``incidents``.
    """
    from riskmap.geo.zones import zone_figures
    from riskmap.layers.store import month_codes

    geoms = np.asarray(incidents.geometry.values, dtype=object) if len(incidents) else \
        np.empty(0, dtype=object)
    located = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    months = month_codes(pd.to_datetime(incidents["occurred_at"], utc=True)) if len(incidents) \
        else np.empty(0, np.int64)
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    x[located], y[located] = shapely.get_x(geoms[located]), shapely.get_y(geoms[located])
    unlocated = pd.Series(months[~located]).value_counts()
    out: dict[str, Any] = {"zones": {}, "unlocated": {str(int(m)): int(n)
                                                      for m, n in unlocated.items()}}
    for _, zone in zones.iterrows():
        crs = metric_crs(gpd.GeoSeries([zone.geometry], crs=SRID))
        around = gpd.GeoSeries([zone.geometry], crs=SRID).to_crs(crs).buffer(buffer_m) \
            .to_crs(SRID).iloc[0]
        x0, y0, x1, y1 = around.bounds
        near = located & (x >= x0 - _MARGIN_DEG) & (x <= x1 + _MARGIN_DEG) \
            & (y >= y0 - _MARGIN_DEG) & (y <= y1 + _MARGIN_DEG)
        per_month = {}
        for m in np.unique(months[near]):
            sel = near & (months == m)
            got = zone_figures(zone, _EMPTY_INFRA, incidents[sel], None, buffer_m=buffer_m,
                               tz=tz)["incidents"]
            if got["buffer"]["total"] or got["zone"]["total"]:
                per_month[str(int(m))] = got
        out["zones"][_zone_key(zone)] = per_month
    return out


def summed_figures(per_month: dict[str, Any], unlocated: dict[str, int], *,
                   season: bool) -> dict[str, Any]:
    """The report's incident figures (``incidents_by_season``, ``incidents_by_category``,
    ``incidents_unlocated``) from one zone's monthly figures (pure); ``season``: the zone has
    a season (else the season counts are None)."""
    names = ("total", "in_season", "off_season") if season else ("total",)
    by_season, by_category = {}, {}
    for area in ("zone", "buffer"):
        total = dict.fromkeys(names, 0)
        cats: dict[str, dict[str, int]] = {}
        for figures in per_month.values():
            f = figures[area]
            for n in names:
                total[n] += int(f[n])
            for cat, c in f["by_category"].items():
                acc = cats.setdefault(cat, dict.fromkeys(names, 0))
                for n in names:
                    acc[n] += int(c[n])
        if not season:
            total.update(in_season=None, off_season=None)
            for acc in cats.values():
                acc.update(in_season=None, off_season=None)
        by_season[area] = total
        by_category[area] = {k: cats[k] for k in sorted(cats) if cats[k]["total"]}
    return {"incidents_by_season": by_season, "incidents_by_category": by_category,
            "incidents_unlocated": int(sum(unlocated.values()))}


def patch_figures(stored: str, figures: dict[str, Any]) -> str | None:
    """The JSON of a zone's figures with its incident figures replaced (None if unchanged)."""
    data = json.loads(stored)
    if all(data.get(k) == v for k, v in figures.items()):
        return None
    data.update(figures)
    data["generated_at"] = pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
    return json.dumps(data, ensure_ascii=False)


def build(store: Any, settings: Any, *, progress: bool = False) -> dict[str, Any]:
    """Compute every tourist zone from ``store`` and replace the zone layers in one transaction.

    See :func:`build_counted`, which also returns the monthly incident figures.
    """
    return build_counted(store, settings, progress=progress)[0]


def update(store: Any, settings: Any, months: np.ndarray,
           counts: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Patch the zones' incident figures after loads that touched incidents of ``months``.

    ``counts`` are the monthly figures of the last build (:func:`monthly_counts`); the
    touched months are counted again from their partitions, and the figures of the zones
    whose sums changed are rewritten in ``zone_figures``. The readiness checklist and the
    isochrones do not depend on incidents and stay. None when the zones or the stored layers
    do not fit ``counts`` (the caller builds in full).

    Returns
    -------
    tuple
        The summary and the updated monthly figures.
    """
    from riskmap.etl.incremental import read_incidents_in_months

    tz = str(getattr(getattr(settings, "etl", None), "timezone", "Asia/Tashkent"))
    infrastructure = store.read("infrastructure") if store.has("infrastructure") else \
        _EMPTY_INFRA
    zones = list_zones(infrastructure) if len(infrastructure) else infrastructure
    keys = [_zone_key(z) for _, z in zones.iterrows()]
    if sorted(keys) != sorted(counts.get("zones", {})) or not store.has("zone_figures"):
        return None
    stored = store.read("zone_figures")
    if sorted(stored["feature_id"].astype(str)) != sorted(keys):
        return None
    fresh = monthly_counts(zones, read_incidents_in_months(
        store, months, columns=["incident_id", "occurred_at", "category", "geometry"]), tz=tz)
    codes = {str(int(m)) for m in months}
    unlocated = {m: n for m, n in counts.get("unlocated", {}).items() if m not in codes}
    unlocated.update(fresh["unlocated"])
    new: dict[str, Any] = {"zones": {}, "unlocated": unlocated}
    for key in keys:
        kept = {m: f for m, f in counts["zones"][key].items() if m not in codes}
        kept.update(fresh["zones"][key])
        new["zones"][key] = dict(sorted(kept.items(), key=lambda kv: int(kv[0])))
    figures = stored["figures"].astype(object).to_numpy().copy()
    patched = 0
    for i, key in enumerate(stored["feature_id"].astype(str)):
        season = json.loads(figures[i]).get("season") or {}
        got = patch_figures(figures[i], summed_figures(
            new["zones"][key], unlocated,
            season=season.get("start") is not None and season.get("end") is not None))
        if got is not None:
            figures[i], patched = got, patched + 1
    if patched:
        with store.transaction() as txn:
            txn.replace("zone_figures", stored.assign(figures=figures))
    return {"zones": len(keys), "patched": patched}, new


def build_counted(store: Any, settings: Any, *,
                  progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Compute every tourist zone from ``store`` and replace the zone layers in one transaction.

    Parameters
    ----------
    store
        The store (base layers and ``camera_coverage`` in, zone layers out).
    settings
        Root settings (``etl.timezone`` for the season dates).
    progress
        Show a progress bar on stderr (same code path either way).

    Returns
    -------
    tuple
        The summary (zones computed, rows written per layer and checklist items passed) and
        the monthly incident figures (:func:`monthly_counts`).
    """
    from riskmap.etl.progress import progress_bar

    tz = str(getattr(getattr(settings, "etl", None), "timezone", "Asia/Tashkent"))
    infrastructure = store.read("infrastructure") if store.has("infrastructure") else \
        gpd.GeoDataFrame({"kind": pd.Series(dtype=object)}, geometry=[], crs=SRID)
    zones = list_zones(infrastructure) if len(infrastructure) else infrastructure
    reports: list[ZoneReport] = []
    with progress_bar(desc="zones", unit="zones", total=max(len(zones), 1),
                      enabled=progress) as bar:
        if len(zones):
            incidents = store.read("incidents", columns=["incident_id", "occurred_at",
                                                         "category", "geometry"])
            coverage = store.read("camera_coverage").geometry \
                if store.has("camera_coverage") else None
            graph = road_graph(infrastructure)
            synthetic = is_synthetic(store)
            th = make_thresholds()
            for _, zone in zones.iterrows():
                reports.append(compute_zone(zone, infrastructure, incidents, coverage,
                                            graph=graph, thresholds=th, synthetic=synthetic,
                                            tz=tz))
                bar.update(1)
        layers = zone_layers(reports)
        if len(zones):  # zone layers carry their zone's region, so DataAccess can scope them
            region = dict(zip(zones["feature_id"], zones["region"], strict=True))
            for frame in layers.values():
                frame["region"] = frame["feature_id"].map(region)
        else:
            for frame in layers.values():
                frame["region"] = pd.Series(dtype="string")
        with store.transaction() as txn:
            for name, frame in layers.items():
                txn.replace(name, frame)
    summary: dict[str, Any] = {"zones": len(reports)}
    summary.update({name: len(frame) for name, frame in layers.items()})
    ready = layers["zone_readiness"]
    summary["items_passed"] = int(ready["ok"].fillna(False).sum()) if len(ready) else 0
    counts = monthly_counts(zones, incidents, tz=tz) if len(zones) else \
        {"zones": {}, "unlocated": {}}
    return summary, counts
