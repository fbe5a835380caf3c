"""Build step ``zones``: readiness checklist, isochrones and figures of every tourist zone.

``riskmap build --only zones`` reads infrastructure, incidents and camera coverage, computes
each tourist zone with :func:`etl.zone_report.compute_zone` (one road graph for all zones),
and replaces these derived layers in one transaction:

``zone_readiness``
    One row per zone and checklist item: ``zone, feature_id, item, ok, value, threshold,
    unit, detail``.
``zone_isochrones``
    ``zone, feature_id, minutes, source_kind`` (police|emergency), ``within`` (share of the
    zone) and the reached part of the zone.
``zone_figures``
    ``zone, feature_id`` and ``figures``: the JSON of :meth:`ZoneReport.to_json`.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

import geopandas as gpd

from riskmap.etl.zone_report import (
    ZoneReport,
    compute_zone,
    is_synthetic,
    list_zones,
    make_thresholds,
    road_graph,
)
from riskmap.layers.spec import SRID

__all__ = ["ZONE_LAYERS", "build", "zone_layers"]

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
                              "detail": row["detail"]})
        within = r.shares.set_index(["source_kind", "minutes"])["within"]
        for kind, minutes, geom in zip(r.isochrones["source_kind"], r.isochrones["minutes"],
                                       r.isochrones.geometry, strict=True):
            iso.append({"zone": r.name, "feature_id": r.feature_id, "minutes": float(minutes),
                        "source_kind": kind, "within": float(within.get((kind, minutes),
                                                                         float("nan"))),
                        "geometry": geom})
        figures.append({"zone": r.name, "feature_id": r.feature_id,
                        "figures": json.dumps(data, ensure_ascii=False)})
    cols = ("zone", "feature_id", "item", "ok", "value", "threshold", "unit", "detail")
    ready = pd.DataFrame(readiness, columns=list(cols))
    ready["ok"] = ready["ok"].astype("boolean")
    ready[["value", "threshold"]] = ready[["value", "threshold"]].astype(float)
    iso_cols = ["zone", "feature_id", "minutes", "source_kind", "within", "geometry"]
    iso_frame = gpd.GeoDataFrame(pd.DataFrame(iso, columns=iso_cols), geometry="geometry",
                                 crs=SRID)
    iso_frame[["minutes", "within"]] = iso_frame[["minutes", "within"]].astype(float)
    fig_frame = pd.DataFrame(figures, columns=["zone", "feature_id", "figures"])
    return {"zone_readiness": ready, "zone_isochrones": iso_frame, "zone_figures": fig_frame}


def _float(value: Any) -> float:
    return float("nan") if value is None else float(value)


def build(store: Any, settings: Any, *, progress: bool = False) -> dict[str, Any]:
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
    dict
        Zones computed, rows written per layer and checklist items passed.
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
    return summary
