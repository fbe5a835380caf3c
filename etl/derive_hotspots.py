"""Build step ``hotspots``: Gi* hot spots, trends, mahalla status history and the KDE surface.

``riskmap build --only hotspots`` reads incidents and mahallas, computes for the default window
(the last ``geo.status_months`` full months of data, see :func:`etl.hotspots_job.default_window`)
with :mod:`etl.hotspots_job`, and replaces these derived layers in **one** transaction:

``hotspots_h3``
    Per study cell at each resolution of ``geo.hotspot_resolutions`` (5 to 9): ``h3``, ``res``,
    ``count``, ``gi_z``, ``gi_p``, ``gi_class``, ``trend``, ``status``, plus ``mahalla_id``,
    ``district`` and ``region`` of the mahalla holding the cell centre. Cybercrime and fraud
    are left out (no place of occurrence). Gi* runs over every study cell, but only cells
    that carry information are written (an incident in the window, a significant class, an
    emerging pattern or a non-green status): a study cell that is absent has count 0,
    ``not_significant``, ``no_pattern`` and ``green``.
``hotspots_mahalla``
    Per mahalla: ``mahalla_id``, ``name``, ``district``, ``region``, ``count``, ``rate`` (per
    1,000 residents), ``gi_z``, ``gi_p``, ``gi_class``, ``trend``, ``status``, ``why`` (all
    categories, non-spatial ones by the victim's mahalla).
``mahalla_status``
    Month-by-month status: ``mahalla_id``, ``month``, ``status``, ``why``, ``count``,
    ``rate_per_1000``, ``gi_z``, ``gi_class``, ``district``, ``region``; from the first month
    whose window is covered by data (at most 24 months back) to the last full month.
``kde_surface``
    One row: ``name``, ``crs_wkt``, ``transform`` (JSON list of the 6 affine coefficients
    a, b, c, d, e, f), ``width``, ``height``, ``bandwidth_m``, ``cell_m``, ``start``, ``end``
    and ``cog``: the Cloud-Optimised GeoTIFF (incidents per km², float32) written with
    :func:`etl.rasters.write_cog`, **base64-encoded** text so it travels in both backends
    (PostGIS text column, GeoParquet string). Decode with :func:`read_kde_cog`.

The derived layers are registered with a ``region`` column where they have one, so the
data-access layer scopes and audits reads of them like the base layers.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

import geopandas as gpd
import pyproj
import shapely
from h3ronpy.vector import ContainmentMode, wkb_to_cells

from riskmap.etl.hotspots_job import (
    compute_hotspots,
    default_window,
    kde,
    status_history_frame,
    trends_and_status,
)
from riskmap.etl.rasters import write_cog
from riskmap.geo.aggregate import unit_codes
from riskmap.geo.h3index import cell_centers
from riskmap.geo.hotspots import CENTRE_RULE_FROM
from riskmap.geo.status import StatusRule
from riskmap.settings import HOTSPOT_RESOLUTIONS

__all__ = ["HOTSPOT_LAYERS", "build", "cell_places", "history_start_at", "hotspot_layers",
           "kde_row", "read_kde_cog"]

HOTSPOT_LAYERS = ("hotspots_h3", "hotspots_mahalla", "mahalla_status", "kde_surface")
_HISTORY_MAX_MONTHS = 24




# --------------------------------------------------------------------------- pieces


def cell_places(mahallas: gpd.GeoDataFrame, cells: np.ndarray, res: int) -> pd.DataFrame:
    """``mahalla_id``, ``district``, ``region`` of the mahalla whose polygon holds each cell centre.

    Where mahallas overlap, the first in layer order wins; cells in no mahalla get missing
    values, except the coarse ones (res below :data:`geo.hotspots.CENTRE_RULE_FROM`, which
    are study cells when they meet the layer): those take the nearest mahalla's.

    Parameters
    ----------
    mahallas
        ``mahalla_id``, ``district``, ``region``, polygon ``geometry``.
    cells
        H3 cells (int64) at ``res``.
    res
        Their resolution.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``cells``.
    """
    cells = np.asarray(cells, dtype=np.int64)
    geoms = mahallas.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    owner_rows = np.flatnonzero(ok)
    lists = pa.array(wkb_to_cells(shapely.to_wkb(geoms[ok]), res,
                                  containment_mode=ContainmentMode.ContainsCentroid))
    offsets = lists.offsets.to_numpy()
    filled = lists.flatten().to_numpy().view(np.int64)
    owner = np.repeat(owner_rows, np.diff(offsets))
    uniq, first = np.unique(filled, return_index=True)
    pos = unit_codes(cells, uniq)
    row = np.full(len(cells), -1, dtype=np.int64)
    row[pos >= 0] = owner[first][pos[pos >= 0]]
    lost = np.flatnonzero(row < 0)
    if res < CENTRE_RULE_FROM and lost.size and owner_rows.size:
        # a coarse study cell meets the layer, but its centre may lie outside it (along the
        # edge, or over a small area): the nearest mahalla names its place
        lon, lat = cell_centers(cells[lost])
        tree = shapely.STRtree(geoms[ok])
        near = tree.query_nearest(shapely.points(lon, lat), all_matches=False)
        row[lost[near[0]]] = owner_rows[near[1]]
    out = {}
    for col in ("mahalla_id", "district", "region"):
        values = (mahallas[col].astype("string").to_numpy(dtype=object, na_value=None)
                  if col in mahallas else np.full(len(mahallas), None, dtype=object))
        picked = np.full(len(cells), None, dtype=object)
        picked[row >= 0] = values[row[row >= 0]]
        out[col] = pd.array(picked, dtype="string")
    return pd.DataFrame(out)


def kde_row(surface: Any, *, name: str = "risk", bandwidth_m: float, cell_m: float,
            start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """The one-row ``kde_surface`` table for a :class:`geo.surface.Surface` (COG as base64).

    Returns
    -------
    pandas.DataFrame
        Columns as described in the module docstring.
    """
    fd, tmp = tempfile.mkstemp(suffix=".tif")
    os.close(fd)
    try:
        write_cog(tmp, surface.array, surface.transform, surface.crs)
        data = Path(tmp).read_bytes()
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    t = surface.transform
    return pd.DataFrame({
        "name": [name],
        "crs_wkt": [pyproj.CRS.from_user_input(surface.crs).to_wkt()],
        "transform": [json.dumps([t.a, t.b, t.c, t.d, t.e, t.f])],
        "width": [int(surface.array.shape[1])],
        "height": [int(surface.array.shape[0])],
        "bandwidth_m": [float(bandwidth_m)],
        "cell_m": [float(cell_m)],
        "start": [start],
        "end": [end],
        "cog": [base64.b64encode(data).decode("ascii")],
    })


def read_kde_cog(row: pd.Series | pd.DataFrame) -> bytes:
    """The COG file bytes of a ``kde_surface`` row (or the first row of the table)."""
    if isinstance(row, pd.DataFrame):
        if row.empty:
            raise ValueError("the kde_surface table is empty: run `riskmap build`")
        row = row.iloc[0]
    return base64.b64decode(str(row["cog"]))


def _history_start(incidents: pd.DataFrame, end: pd.Timestamp, window: int) -> pd.Timestamp:
    occ = pd.to_datetime(incidents["occurred_at"], utc=True).dropna()
    return history_start_at(occ.min(), end, window)


def history_start_at(first: pd.Timestamp, end: pd.Timestamp, window: int) -> pd.Timestamp:
    """First month of ``mahalla_status``: the first whose window is covered by data (the
    first incident at ``first``), at most 24 months before ``end``."""
    first = pd.Timestamp(first).tz_convert("UTC").tz_localize(None)
    first_full = pd.Timestamp(first.year, first.month, 1).tz_localize("UTC")
    if first.day != 1 or first.hour or first.minute:
        first_full += pd.DateOffset(months=1)
    start = first_full + pd.DateOffset(months=window - 1)
    floor = end - pd.DateOffset(months=_HISTORY_MAX_MONTHS)
    last = end - pd.DateOffset(months=1)
    return pd.Timestamp(min(max(start, floor), last))


def hotspot_layers(
    incidents: pd.DataFrame,
    mahallas: gpd.GeoDataFrame,
    *,
    resolutions: tuple[int, ...] = HOTSPOT_RESOLUTIONS,
    months: int = 12,
    fdr: bool = True,
    top_share: float = 0.10,
    bandwidth_m: float = 300.0,
    cell_m: float = 100.0,
) -> dict[str, pd.DataFrame]:
    """The four derived layers (pure: frames in, frames out).

    Parameters
    ----------
    incidents
        ``h3``, ``mahalla_id``, ``occurred_at``, ``category`` (a GeoDataFrame's points feed
        the KDE; otherwise cell centres).
    mahallas
        ``mahalla_id``, ``name``, ``district``, ``region``, ``population``, ``geometry``.
    resolutions
        H3 resolutions of ``hotspots_h3``.
    months
        Window length in months (counts, Gi*, trend bins and the status rule's window).
    fdr, top_share
        Gi* FDR correction; share of mahallas flagged red by rate.
    bandwidth_m, cell_m
        KDE bandwidth and cell size.

    Returns
    -------
    dict
        Layer name -> frame (empty frames when there are no incidents).
    """
    start, end = default_window(incidents, months)
    mahallas = mahallas.reset_index(drop=True)
    rule = StatusRule(window_months=months, top_share=top_share, fdr=fdr)
    out: dict[str, pd.DataFrame] = {}
    h3_frames = []
    for res in resolutions:
        hs = compute_hotspots(incidents, mahallas, level="h3", res=res, start=start, end=end,
                              fdr=fdr)
        ts = trends_and_status(incidents, mahallas, level="h3", res=res, end=end, months=months,
                               fdr=fdr, rule=rule)
        frame = pd.DataFrame({"h3": hs["id"].to_numpy(np.int64), "res": np.int64(res),
                              "count": hs["count"], "gi_z": hs["gi_z"], "gi_p": hs["gi_p"],
                              "gi_class": hs["gi_class"], "trend": ts["trend"].to_numpy(),
                              "status": ts["status"].to_numpy()})
        keep = ((frame["count"] > 0) | (frame["gi_class"] != "not_significant")
                | (frame["trend"] != "no_pattern") | (frame["status"] != "green"))
        frame = frame[keep.fillna(True).to_numpy(dtype=bool)].reset_index(drop=True)
        h3_frames.append(pd.concat([frame, cell_places(mahallas, frame["h3"].to_numpy(), res)],
                                   axis=1))
    out["hotspots_h3"] = pd.concat(h3_frames, ignore_index=True)
    hm = compute_hotspots(incidents, mahallas, level="mahalla", start=start, end=end, fdr=fdr)
    tm = trends_and_status(incidents, mahallas, level="mahalla", end=end, months=months,
                           fdr=fdr, rule=rule)
    out["hotspots_mahalla"] = pd.DataFrame({
        "mahalla_id": mahallas["mahalla_id"].to_numpy(),
        "name": mahallas["name"].to_numpy() if "name" in mahallas else None,
        "district": mahallas["district"].to_numpy() if "district" in mahallas else None,
        "region": mahallas["region"].to_numpy() if "region" in mahallas else None,
        "count": hm["count"].to_numpy(), "rate": hm["rate"].to_numpy(),
        "gi_z": hm["gi_z"].to_numpy(), "gi_p": hm["gi_p"].to_numpy(),
        "gi_class": hm["gi_class"].to_numpy(), "trend": tm["trend"].to_numpy(),
        "status": tm["status"].to_numpy(), "why": tm["why"].to_numpy(),
    })
    if end is None:
        out["mahalla_status"] = pd.DataFrame({"mahalla_id": [], "month": pd.to_datetime([],
                                                                                   utc=True)})
        out["kde_surface"] = pd.DataFrame({"name": []})
        return out
    hist = status_history_frame(incidents, mahallas, start=_history_start(incidents, end, months),
                                end=end, rule=rule)
    where = mahallas.set_index("mahalla_id")
    for col in ("district", "region"):
        hist[col] = (where[col].reindex(hist["mahalla_id"]).to_numpy()
                     if col in where else None)
    out["mahalla_status"] = hist
    bounds = None
    if len(mahallas):
        x0, y0, x1, y1 = (float(v) for v in mahallas.total_bounds)
        bounds = (x0, y0, x1, y1)
    surface = kde(incidents, bandwidth_m=bandwidth_m, cell_m=cell_m, start=start, end=end,
                  bounds=bounds)
    out["kde_surface"] = kde_row(surface, bandwidth_m=bandwidth_m,
                                 cell_m=float(surface.transform.a), start=start, end=end)
    return out


# --------------------------------------------------------------------------- the step


def build(store: Any, settings: Any, *, progress: bool = False) -> dict[str, Any]:
    """Compute the hotspot layers from ``store`` and replace them in one transaction.

    Parameters
    ----------
    store
        The store (incidents and mahallas in, derived layers out).
    settings
        Root settings; ``settings.geo`` gives ``hotspot_resolutions``, ``status_months``,
        ``fdr``, ``status_red_top_share``, ``kde_bandwidth_m`` and ``kde_cell_m``.
    progress
        Show a progress bar on stderr (same code path either way).

    Returns
    -------
    dict
        Window, rows per layer, hot cells per resolution and mahallas per status.
    """
    from riskmap.etl.progress import progress_bar

    geo = getattr(settings, "geo", None)
    resolutions = tuple(int(r) for r in getattr(geo, "hotspot_resolutions", HOTSPOT_RESOLUTIONS))
    months = int(getattr(geo, "status_months", 12))
    with progress_bar(desc="hotspots", unit="steps", total=3, enabled=progress) as bar:
        incidents = store.read("incidents", columns=["h3", "mahalla_id", "occurred_at",
                                                     "category", "region", "geometry"])
        mahallas = store.read("mahallas")
        bar.update(1)
        layers = hotspot_layers(
            incidents, mahallas, resolutions=resolutions, months=months,
            fdr=bool(getattr(geo, "fdr", True)),
            top_share=float(getattr(geo, "status_red_top_share", 0.10)),
            bandwidth_m=float(getattr(geo, "kde_bandwidth_m", 300.0)),
            cell_m=float(getattr(geo, "kde_cell_m", 100.0)))
        bar.update(1)
        with store.transaction() as txn:
            for name, frame in layers.items():
                txn.replace(name, frame)
        bar.update(1)
    start, end = default_window(incidents, months)
    h3 = layers["hotspots_h3"]
    summary: dict[str, Any] = {
        "window": [str(start.date()) if start is not None else None,
                   str(end.date()) if end is not None else None],
        **{name: len(frame) for name, frame in layers.items()},
    }
    if len(h3):
        hot = h3["gi_class"].astype("string").str.startswith("hot").fillna(False)
        summary["hot_cells"] = {str(r): int(hot[h3["res"] == r].sum()) for r in resolutions}
    hm = layers["hotspots_mahalla"]
    if len(hm):
        summary["status"] = {k: int(v) for k, v in hm["status"].value_counts().items()}
    return summary
