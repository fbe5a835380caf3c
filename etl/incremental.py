"""Incremental ``riskmap build``: the marks loads leave, the incident cube, and what depends on what.

Every write of a base layer the derived layers are computed from leaves marks in
``derived_dirty`` in the same transaction (:class:`layers.store.Store`, see
:data:`layers.store.TRACKED`): the months and regions of the incident rows it inserted,
updated or deleted, or "the whole layer" for mahallas, cameras and infrastructure (and for an
incident layer replaced whole). A crash between a load and the build therefore loses nothing,
and a build after several loads sees every month they touched. :func:`read_touched` reads the
marks; ``riskmap build`` deletes the ones it read once every step has succeeded (marks a load
added meanwhile stay for the next build).

The hotspot layers are computed from an **incident cube** kept as derived layers
(``incident_cube_mahalla``: incidents per mahalla and month; ``incident_cube_h3``: per res-9
cell and month, categories with a place only; ``incident_months``: count and first/last time
per month). A build recounts the cube only for the touched months (reading just those
months' partitions), then:

- ``hotspots_h3``, ``hotspots_mahalla`` (counts, Gi*, trend, current status) are recomputed
  from the cube when the window (the last ``status_months`` full months, which moves with the
  calendar) moved or a touched month lies in it; else left as they are;
- ``mahalla_status`` is recomputed for the months whose rolling window holds a touched month
  (month m depends on m-11..m) and for months new to the history; other months are kept;
- ``kde_surface`` is recomputed with the window layers, from the window's incident points (the
  surface bins points on a 100 m grid, finer than any cube we keep); its partitions only.

Coverage and zones depend on incidents only through their risk weights and incident figures.
Coverage runs in full when cameras, infrastructure or mahallas were written (or its settings
changed); after loads of incidents alone that touch its risk window (the ``status_months``
months up to the latest incident), :func:`etl.derive_coverage.update` keeps the camera
polygons and key sites, counts the units' incidents again and recomputes the risk figures of
the units holding a cell whose count changed. Zones run in full when the camera polygons,
infrastructure, cameras or mahallas changed; after loads of incidents alone,
:func:`etl.derive_zones.update` recounts the touched months (monthly figures kept in the
step's state) and patches the figures of the zones whose sums changed. The H3 study units of
the hotspot step are kept in ``study_units`` (keyed by a digest of the mahallas).

Mahallas written (or an incident layer replaced whole), other settings, or a missing cube make
the hotspot step a full one; ``riskmap build --full`` forces full steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd

from riskmap.geo.aggregate import parent_cells, rate_per_1000, sorted_unique, unit_codes
from riskmap.geo.hotspots import quiet_split_h3
from riskmap.geo.status import StatusRule, status_from_monthly
from riskmap.geo.trends import EmergingHotSpots
from riskmap.layers.spec import NON_SPATIAL_CATEGORIES
from riskmap.layers.store import DIRTY, NO_MONTH, month_bounds, month_codes
from riskmap.settings import HOTSPOT_RESOLUTIONS

__all__ = ["CUBE_LAYERS", "STATE", "UNITS", "Touched", "consume", "cube_frames", "history_layer",
           "read_state", "read_touched", "refresh_cube", "window_layers", "write_state"]

CUBE_LAYERS = ("incident_cube_mahalla", "incident_cube_h3", "incident_months")
STATE = "derived_state"
_INCIDENT_COLUMNS = ["h3", "mahalla_id", "occurred_at", "category", "region"]


# --------------------------------------------------------------------------- marks


@dataclass
class Touched:
    """What the writes since the last build touched (from the ``derived_dirty`` marks)."""

    mark_ids: list[str] = field(default_factory=list)
    #: tracked layers written whole (mahallas, cameras, infrastructure; incidents replaced)
    layers: set[str] = field(default_factory=set)
    #: month codes (months since 1970-01, see :func:`layers.store.month_codes`) of incidents
    months: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    regions: set[str] = field(default_factory=set)

    @property
    def nothing(self) -> bool:
        """True when no write touched anything."""
        return not self.layers and not self.months.size

    def incidents_whole(self) -> bool:
        """True when the incident layer was replaced whole (every month may have changed)."""
        return "incidents" in self.layers


def read_touched(store: Any) -> Touched:
    """The marks left by the writes since the last build that consumed them."""
    if not store.has(DIRTY):
        return Touched()
    marks = store.read(DIRTY)
    if not len(marks):
        return Touched()
    month = pd.to_datetime(marks["month"], utc=True)
    whole = month.isna().to_numpy(dtype=bool)
    codes = month_codes(month[~whole])
    return Touched(
        mark_ids=marks["mark_id"].astype(str).tolist(),
        layers=set(marks.loc[whole, "layer"].astype(str)),
        months=sorted_unique(codes[codes != NO_MONTH]).astype(np.int32),
        regions={str(r) for r in marks["region"].dropna()},
    )


def consume(store: Any, touched: Touched) -> None:
    """Delete the marks ``touched`` was read from (those added since stay)."""
    if touched.mark_ids:
        with store.transaction() as txn:
            txn.delete(DIRTY, touched.mark_ids)


def read_state(store: Any, step: str) -> dict[str, Any] | None:
    """What ``step`` last computed from (None before its first incremental-aware build)."""
    if not store.has(STATE):
        return None
    rows = store.read(STATE, filters=[("step", "=", step)])
    if not len(rows) or pd.isna(rows["state"].iloc[0]):
        return None
    return json.loads(str(rows["state"].iloc[0]))


def write_state(txn: Any, step: str, state: dict[str, Any]) -> None:
    """Record ``state`` for ``step`` in the transaction ``txn``."""
    txn.upsert(STATE, pd.DataFrame({"step": [step], "state": [json.dumps(state, sort_keys=True)],
                                    "built_at": [pd.Timestamp.now(tz="UTC").floor("us")]}))


# --------------------------------------------------------------------------- the cube


def cube_frames(incidents: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The three cube layers of ``incidents`` (pure).

    Parameters
    ----------
    incidents
        ``h3``, ``mahalla_id``, ``occurred_at``, ``category``, ``region``.

    Returns
    -------
    dict
        ``incident_cube_mahalla`` (``mahalla_id, month, count, region``: every category),
        ``incident_cube_h3`` (``h3, month, count, region``: categories with a place),
        ``incident_months`` (``month, count, first_at, last_at``).
    """
    occ = pd.to_datetime(incidents["occurred_at"], utc=True)
    ok = occ.notna().to_numpy(dtype=bool)
    # naive UTC datetime64 arrays from here on: a tz-aware Series' to_numpy() is an object
    # array of Timestamps (~2 s a million rows each time); months get their zone back below
    at = occ.dt.tz_localize(None).to_numpy()
    month = at.astype("datetime64[M]").astype("datetime64[us]")
    region = incidents["region"].astype("string") if "region" in incidents else \
        pd.Series(pd.NA, index=incidents.index, dtype="string")
    mid = incidents["mahalla_id"].astype("string")
    sel = ok & mid.notna().to_numpy(dtype=bool)
    by_m = (pd.DataFrame({"mahalla_id": mid.to_numpy()[sel], "month": month[sel],
                          "region": region.to_numpy()[sel]})
            .groupby(["mahalla_id", "month", "region"], dropna=False, sort=True).size()
            .rename("count").reset_index())
    cells = pd.to_numeric(incidents["h3"], errors="coerce").fillna(0).to_numpy(np.int64)
    spatial = ~incidents["category"].astype("string").isin(list(NON_SPATIAL_CATEGORIES)) \
        .fillna(False).to_numpy(dtype=bool)
    sel = ok & spatial & (cells != 0)
    by_h = (pd.DataFrame({"h3": cells[sel], "month": month[sel],
                          "region": region.to_numpy()[sel]})
            .groupby(["h3", "month", "region"], dropna=False, sort=True).size()
            .rename("count").reset_index())
    times = pd.DataFrame({"month": month[ok], "t": at[ok]})
    by_t = times.groupby("month", sort=True)["t"].agg(["size", "min", "max"]).reset_index()
    by_t.columns = ["month", "count", "first_at", "last_at"]
    for col in ("first_at", "last_at"):
        by_t[col] = by_t[col].dt.tz_localize("UTC")
    for frame in (by_m, by_h, by_t):
        frame["count"] = frame["count"].astype(np.int64)
        frame["month"] = frame["month"].dt.tz_localize("UTC")
    return {"incident_cube_mahalla": by_m[["mahalla_id", "month", "count", "region"]],
            "incident_cube_h3": by_h[["h3", "month", "count", "region"]],
            "incident_months": by_t}


def _runs(codes: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive month codes as ``(first, last)`` runs."""
    codes = sorted_unique(np.asarray(codes, dtype=np.int64))
    if not codes.size:
        return []
    cut = np.flatnonzero(np.diff(codes) > 1)
    starts = np.r_[codes[0], codes[cut + 1]]
    ends = np.r_[codes[cut], codes[-1]]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def read_incidents_in_months(store: Any, codes: np.ndarray,
                             columns: list[str] | None = None) -> pd.DataFrame:
    """The incidents of these months (a read per run of consecutive months: their partitions)."""
    columns = columns or _INCIDENT_COLUMNS
    parts = []
    for first, last in _runs(codes):
        parts.append(store.read("incidents", columns=columns, filters=[
            ("occurred_at", ">=", month_bounds(first)[0]),
            ("occurred_at", "<", month_bounds(last)[1])]))
    if not parts:
        return store.read("incidents", columns=columns).iloc[:0]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def refresh_cube(cube: dict[str, pd.DataFrame], store: Any,
                 codes: np.ndarray, client: Any = None) -> dict[str, pd.DataFrame]:
    """``cube`` with the rows of months ``codes`` counted again from the store (on the Dask
    ``client``'s workers when given, see :mod:`etl.scaleout`)."""
    codes = sorted_unique(np.asarray(codes, dtype=np.int32))
    if not codes.size:
        return cube
    if client is not None:
        from riskmap.etl.scaleout import cube_on

        fresh = cube_on(client, store, codes)
    else:
        fresh = cube_frames(read_incidents_in_months(store, codes))
    out = {}
    for name, frame in cube.items():
        keep = ~np.isin(month_codes(pd.to_datetime(frame["month"], utc=True)), codes)
        parts = [p for p in (frame[keep], fresh[name]) if len(p)]
        merged = pd.concat(parts, ignore_index=True) if parts else fresh[name]
        sort = [c for c in ("month", "mahalla_id", "h3", "region") if c in merged]
        out[name] = merged.sort_values(sort, kind="stable").reset_index(drop=True)
    return out


def read_cube(store: Any) -> dict[str, pd.DataFrame] | None:
    """The stored cube, or None when a part of it is missing."""
    if not all(store.has(name) for name in CUBE_LAYERS):
        return None
    return {name: store.read(name) for name in CUBE_LAYERS}


def _matrix(codes: np.ndarray, months: np.ndarray, counts: np.ndarray, n_units: int,
            first: int, n_months: int, dtype: Any = np.int64) -> np.ndarray:
    """Unit x month counts for the months ``first .. first + n_months - 1`` (whole numbers,
    as ``dtype``: float64 is made in place, for the Gi* and trend fits that take floats)."""
    ok = (codes >= 0) & (months >= first) & (months < first + n_months)
    flat = codes[ok] * n_months + (months[ok] - first)
    out = np.bincount(flat, weights=counts[ok].astype(float), minlength=n_units * n_months)
    out = out.astype(np.float64, copy=False)  # with nothing to count, bincount gives ints
    np.rint(out, out=out)
    return (out if np.dtype(dtype) == np.float64 else out.astype(dtype)).reshape(n_units,
                                                                                 n_months)


def _cube_codes(cube: dict[str, pd.DataFrame], level: str, ids: np.ndarray,
                res: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if level == "h3":
        frame = cube["incident_cube_h3"]
        cells = frame["h3"].to_numpy(dtype=np.int64, na_value=0)
        if res != 9:
            cells = parent_cells(cells, res)
        codes = unit_codes(cells, ids)
    else:
        frame = cube["incident_cube_mahalla"]
        codes = unit_codes(frame["mahalla_id"].astype(object).to_numpy(), ids)
    months = month_codes(pd.to_datetime(frame["month"], utc=True)).astype(np.int64)
    return codes, months, frame["count"].to_numpy(dtype=np.int64)


def monthly_matrix(cube: dict[str, pd.DataFrame], level: str, ids: np.ndarray, *, first: int,
                   n_months: int, res: int = 9, dtype: Any = np.int64) -> np.ndarray:
    """Counts per study unit (``ids``) and month from the cube, months ``first`` on."""
    codes, months, counts = _cube_codes(cube, level, ids, res)
    return _matrix(codes, months, counts, len(ids), first, n_months, dtype)


# --------------------------------------------------------------------------- hotspot layers


def window_layers(cube: dict[str, pd.DataFrame], mahallas: gpd.GeoDataFrame, *,
                  start: pd.Timestamp, end: pd.Timestamp, resolutions: tuple[int, ...],
                  months: int, fdr: bool, rule: StatusRule) -> dict[str, pd.DataFrame]:
    """``hotspots_h3`` and ``hotspots_mahalla`` for the window ``[start, end)`` from the cube.

    The same figures as :func:`etl.derive_hotspots.hotspot_layers` computes from the rows: the
    window is ``months`` full months, which are also the trend's bins and the status window.
    """
    from riskmap.etl.derive_hotspots import cell_places
    from riskmap.etl.hotspots_job import (
        _population,
        cell_status_from_counts,
        gi_star,
        gi_star_split,
        study_lattice,
        study_units,
    )

    first = int(month_codes(pd.Series([start]))[0])
    n = int(months)
    if rule.window_months != n:
        raise ValueError("the status window must be the hotspot window (status_months)")
    h3_frames = []
    for res in resolutions:
        ids, sizes = study_lattice(mahallas, res)
        codes, mons, counts = _cube_codes(cube, "h3", ids, res)
        inside = (codes >= 0) & (mons >= first) & (mons < first + n) & (counts > 0)
        # the fits run on the cells near any count and one row per star size of the quiet
        # cells: the same figures as on the whole lattice, on an eighth of a country's res-9
        # rows, and only the active cells' weights are made
        split = quiet_split_h3(ids, sizes, np.unique(codes[inside]))
        row = np.full(len(ids), -1, dtype=np.int64)
        row[split.rows] = np.arange(split.n_active)
        # as floats, as the fits take them (whole numbers: their sums are exact)
        mapped = np.full(codes.shape, -1, dtype=np.int64)  # a lattice may be empty
        mapped[codes >= 0] = row[codes[codes >= 0]]
        monthly = _matrix(mapped, mons, counts, split.n_active, first, n, np.float64)
        del row, mapped, codes, mons, counts
        count = np.zeros(split.card.size, dtype=np.int64)
        count[: split.n_active] = monthly.sum(axis=1)
        gi = gi_star_split(count, split, fdr=fdr)
        z, p, _, cls = gi
        z_months = split.gi_star_z(monthly)
        del monthly
        trend = EmergingHotSpots(fdr=fdr).fit_z(z_months, split.weight).category
        del z_months
        status, _ = cell_status_from_counts(
            count, None, rule=rule, explain=False,
            gi=gi if rule.fdr == fdr else gi_star_split(count, split, fdr=rule.fdr))
        # the cells with anything to show, chosen before any frame of the whole lattice is made
        keep = ((count > 0) | (cls != "not_significant") | (trend != "no_pattern")
                | (status != "green"))
        cells, src = split.expand(keep)
        frame = pd.DataFrame({"h3": ids[cells].astype(np.int64), "res": np.int64(res),
                              "count": count[src], "gi_z": z[src], "gi_p": p[src],
                              "gi_class": pd.array(cls[src], dtype="string"),
                              "trend": pd.array(trend[src], dtype="string"),
                              "status": pd.array(status[src], dtype="string")})
        h3_frames.append(pd.concat([frame, cell_places(mahallas, frame["h3"].to_numpy(), res)],
                                   axis=1))
    ids, w = study_units(mahallas, level="mahalla")
    monthly = monthly_matrix(cube, "mahalla", ids, first=first, n_months=n)
    count = monthly.sum(axis=1)
    z, p, _, cls = gi_star(count, w, fdr=fdr)
    ehs = EmergingHotSpots(fdr=fdr).fit(monthly, w)
    labels = pd.DatetimeIndex([month_bounds(first + k)[0] for k in range(n)])
    now = status_from_monthly(monthly, labels, mahallas, rule=rule, w=w)

    def col(name: str) -> Any:
        return mahallas[name].to_numpy() if name in mahallas else None

    hm = pd.DataFrame({
        "mahalla_id": mahallas["mahalla_id"].to_numpy(), "name": col("name"),
        "district": col("district"), "region": col("region"),
        "count": count, "rate": rate_per_1000(count, _population(mahallas)),
        "gi_z": z, "gi_p": p, "gi_class": pd.array(cls, dtype="string"),
        "trend": pd.array(ehs.category, dtype="string"),
        "status": now["status"].to_numpy(), "why": now["why"].to_numpy(),
    })
    return {"hotspots_h3": pd.concat(h3_frames, ignore_index=True), "hotspots_mahalla": hm}


def history_layer(cube: dict[str, pd.DataFrame], mahallas: gpd.GeoDataFrame, *,
                  report: np.ndarray, rule: StatusRule) -> pd.DataFrame:
    """``mahalla_status`` rows of the month codes ``report`` from the cube (pure).

    Month m's status depends on the counts of every mahalla in m and the
    ``rule.window_months - 1`` months before it, nothing else: the months asked are computed
    from one matrix spanning them and the windows, the others left out.
    """
    from riskmap.etl.hotspots_job import study_units

    report = sorted_unique(np.asarray(report, dtype=np.int64))
    if not report.size or not len(mahallas):
        return pd.DataFrame({"mahalla_id": pd.Series(dtype=object),
                             "month": pd.to_datetime([], utc=True)})
    win = rule.window_months
    first = int(report[0]) - (win - 1)
    n = int(report[-1]) - first + 1
    ids, w = study_units(mahallas, level="mahalla")
    monthly = monthly_matrix(cube, "mahalla", ids, first=first, n_months=n)
    labels = pd.DatetimeIndex([month_bounds(first + k)[0] for k in range(n)])
    hist = status_from_monthly(monthly, labels, mahallas, rule=rule, w=w)
    hist = hist[np.isin(month_codes(hist["month"]), report)].reset_index(drop=True)
    where = mahallas.set_index("mahalla_id")
    for c in ("district", "region"):
        hist[c] = where[c].reindex(hist["mahalla_id"]).to_numpy() if c in where else None
    return hist


# --------------------------------------------------------------------------- study units

#: derived layer keeping the H3 study cells and their Gi* star sizes per resolution, keyed by
#: the mahalla layer they were made from (see :func:`_warm_units`)
UNITS = "study_units"


def _units_key(key: tuple[Any, ...]) -> str:
    return ":".join(str(k) for k in key)


def _encode_units(ids: np.ndarray, sizes: np.ndarray) -> str:
    """An npz archive of a lattice's cells and star sizes (deflate level 1: numpy's default
    level 6 took 12 s for a country's 3.8 M res-9 cells). The cells are kept as the steps
    between sorted cells, which deflate to a fraction of the cells themselves."""
    import base64
    import io
    import zipfile

    ids = np.asarray(ids, dtype=np.int64)
    arrays = {"first": ids[:1], "steps": np.diff(ids),
              "sizes": np.asarray(sizes, dtype=np.int8)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, array in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _decode_units(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The cells and star sizes of an archive of :func:`_encode_units`, or of the older form
    that held the whole weight matrix (stores built before 2026-12-03)."""
    import base64
    import io

    with np.load(io.BytesIO(base64.b64decode(text))) as z:
        if "sizes" in z.files:
            first = z["first"]
            ids = np.concatenate([first, first[0] + np.cumsum(z["steps"])]) if first.size \
                else first
            return ids, z["sizes"]
        indptr, indices = z["indptr"], z["indices"]
        rows = np.repeat(np.arange(indptr.size - 1), np.diff(indptr))
        # the star size: 1 + the off-diagonal neighbours (the stored matrix held the diagonal)
        off = np.bincount(rows[(indices != rows) & (z["data"] != 0)],
                          minlength=indptr.size - 1)
        return z["ids"], (off + 1).astype(np.int8)


def _warm_units(store: Any, mahallas: gpd.GeoDataFrame,
                resolutions: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """Put the stored H3 study lattices of ``mahallas`` into the process cache of
    :func:`etl.hotspots_job.study_lattice`; return the keys it lacks (to store once made).

    A lattice (the cells whose centre is in a mahalla, and the star size of each) depends on
    the mahalla polygons alone, and costs seconds per resolution to make for a country: a
    build after a load of incidents reads it instead. The key holds a digest of the mahalla
    ids and polygons, so a changed mahalla layer never meets a stale lattice.
    """
    from riskmap.etl import hotspots_job as hj

    keys = [hj._layer_key(mahallas, "h3", int(r)) for r in resolutions]
    stored: dict[str, str] = {}
    if store.has(UNITS):
        rows = store.read(UNITS)
        stored = dict(zip(rows["key"].astype(str), rows["data"].astype(str), strict=True))
    missing = []
    for key in keys:
        text = stored.get(_units_key(key))
        if text is None:
            missing.append(key)  # made (or taken from the process cache) and stored
        elif (*key, "sizes") not in hj._CACHE:
            hj._CACHE[(*key, "sizes")] = _decode_units(text)
            if not _current_form(text):
                missing.append(key)  # stored again in today's form, a tenth of the size
    return missing


def _current_form(text: str) -> bool:
    import base64
    import io

    with np.load(io.BytesIO(base64.b64decode(text))) as z:
        return "sizes" in z.files


def _units_rows(mahallas: gpd.GeoDataFrame, resolutions: tuple[int, ...]) -> pd.DataFrame:
    """The ``study_units`` rows of ``mahallas`` at ``resolutions`` (made or from the cache)."""
    from riskmap.etl import hotspots_job as hj

    rows = []
    for r in resolutions:
        ids, sizes = hj.study_lattice(mahallas, int(r))
        rows.append({"key": _units_key(hj._layer_key(mahallas, "h3", int(r))), "res": int(r),
                     "cells": len(ids), "data": _encode_units(ids, sizes)})
    return pd.DataFrame(rows, columns=["key", "res", "cells", "data"])


# --------------------------------------------------------------------------- the steps


def _geo(settings: Any) -> Any:
    return getattr(settings, "geo", None)


def _sorted_history(hist: pd.DataFrame, mahallas: gpd.GeoDataFrame) -> pd.DataFrame:
    """By month, then in the order of the mahalla layer (as a full build writes it)."""
    pos = pd.Index(mahallas["mahalla_id"].to_numpy()).get_indexer(hist["mahalla_id"].to_numpy())
    order = np.lexsort((pos, month_codes(pd.to_datetime(hist["month"], utc=True))))
    return hist.iloc[order].reset_index(drop=True)


def build_hotspots(store: Any, settings: Any, touched: Touched, *, full: bool = False,
                   progress: bool = False, client: Any = None) -> dict[str, Any]:
    """The ``hotspots`` step, recomputing only what the touched months change.

    With a Dask ``client``, the cube and the KDE surface are counted on its workers, a run of
    months per task (:mod:`etl.scaleout`); the results are the same.

    Returns
    -------
    dict
        As :func:`etl.derive_hotspots.build`, plus ``mode`` (``full``, ``incremental`` or
        ``unchanged``) and ``recomputed`` (the layers written).
    """
    from riskmap.etl.derive_hotspots import history_start_at, kde_row
    from riskmap.etl.hotspots_job import default_window, kde
    from riskmap.etl.progress import progress_bar

    geo = _geo(settings)
    months = int(getattr(geo, "status_months", 12))
    params = {
        "resolutions": [int(r) for r in getattr(geo, "hotspot_resolutions", HOTSPOT_RESOLUTIONS)],
        "months": months, "fdr": bool(getattr(geo, "fdr", True)),
        "top_share": float(getattr(geo, "status_red_top_share", 0.10)),
        "bandwidth_m": float(getattr(geo, "kde_bandwidth_m", 300.0)),
        "cell_m": float(getattr(geo, "kde_cell_m", 100.0)),
    }
    rule = StatusRule(window_months=months, top_share=params["top_share"], fdr=params["fdr"])
    state = read_state(store, "hotspots")
    cube = None if full else read_cube(store)
    full = bool(full or state is None or cube is None or state.get("params") != params
                or touched.incidents_whole() or "mahallas" in touched.layers
                or not all(store.has(n) for n in ("hotspots_h3", "hotspots_mahalla",
                                                  "mahalla_status", "kde_surface")))
    write: dict[str, pd.DataFrame] = {}
    units: pd.DataFrame | None = None
    with progress_bar(desc="hotspots", unit="steps", total=3, enabled=progress) as bar:
        if full and client is not None:
            from riskmap.etl.scaleout import cube_on

            cube = cube_on(client, store)
        elif full:
            cube = cube_frames(store.read("incidents", columns=_INCIDENT_COLUMNS))
        elif touched.months.size:
            assert cube is not None
            cube = refresh_cube(cube, store, touched.months, client)
        assert cube is not None
        cube_changed = full or bool(touched.months.size)
        bar.update(1)
        mon = cube["incident_months"]
        start = end = None
        if len(mon):
            latest = pd.to_datetime(mon["last_at"], utc=True).max()
            start, end = default_window(pd.DataFrame({"occurred_at": [latest]}), months)
        window = [str(start), str(end)]
        history: list[int] = []
        mahallas = None
        if end is None:
            if full or (state or {}).get("window") != window:
                write["hotspots_h3"] = pd.DataFrame({"h3": pd.Series(dtype=np.int64)})
                write["hotspots_mahalla"] = pd.DataFrame({"mahalla_id": pd.Series(dtype=object)})
                write["mahalla_status"] = pd.DataFrame({"mahalla_id": [], "month": pd.to_datetime(
                    [], utc=True)})
                write["kde_surface"] = pd.DataFrame({"name": []})
        else:
            w0 = int(month_codes(pd.Series([start]))[0])
            w1 = int(month_codes(pd.Series([end]))[0])
            t = touched.months.astype(np.int64)
            if full or state.get("window") != window or ((t >= w0) & (t < w1)).any():
                mahallas = store.read("mahallas").reset_index(drop=True)
                res = tuple(params["resolutions"])
                if _warm_units(store, mahallas, res):
                    units = _units_rows(mahallas, res)
                write.update(window_layers(cube, mahallas, start=start, end=end,
                                           resolutions=tuple(params["resolutions"]),
                                           months=months, fdr=params["fdr"], rule=rule))
                bounds = None
                if len(mahallas):
                    x0, y0, x1, y1 = (float(v) for v in mahallas.total_bounds)
                    bounds = (x0, y0, x1, y1)
                if client is not None and bounds is not None:
                    from riskmap.etl.scaleout import kde_on

                    surface = kde_on(client, store, np.arange(w0, w1), bounds=bounds,
                                     bandwidth_m=params["bandwidth_m"],
                                     cell_m=params["cell_m"], start=start, end=end)
                else:
                    points = read_incidents_in_months(
                        store, np.arange(w0, w1), columns=["h3", "occurred_at", "category",
                                                           "geometry"])
                    surface = kde(points, bandwidth_m=params["bandwidth_m"],
                                  cell_m=params["cell_m"], start=start, end=end, bounds=bounds)
                    del points
                write["kde_surface"] = kde_row(surface, bandwidth_m=params["bandwidth_m"],
                                               cell_m=float(surface.transform.a), start=start,
                                               end=end)
            first_at = pd.to_datetime(mon["first_at"], utc=True).min()
            h0 = int(month_codes(pd.Series([history_start_at(first_at, end, months)]))[0])
            history = [h0, w1 - 1]
            report = np.arange(h0, w1, dtype=np.int64)
            if full:
                need = report
            else:
                p0, p1 = (state.get("history") or [0, -1])
                new = (report < p0) | (report > p1)
                hit = np.zeros(report.shape, dtype=bool)
                for m in t:
                    hit |= (report >= m) & (report <= m + rule.window_months - 1)
                need = report[new | hit]
            if full or need.size or state.get("history") != history:
                mahallas = store.read("mahallas").reset_index(drop=True) if mahallas is None \
                    else mahallas
                hist = history_layer(cube, mahallas, report=need, rule=rule)
                if not full:
                    old = store.read("mahalla_status")
                    oc = month_codes(pd.to_datetime(old["month"], utc=True)).astype(np.int64)
                    keep = (oc >= h0) & (oc < w1) & ~np.isin(oc, need)
                    parts = [p for p in (old[keep], hist) if len(p)]
                    hist = pd.concat(parts, ignore_index=True) if parts else hist
                write["mahalla_status"] = _sorted_history(hist, mahallas)
        bar.update(1)
        new_state = {"params": params, "window": window, "history": history}
        if write or cube_changed or new_state != state:
            with store.transaction() as txn:
                if cube_changed:
                    for name in CUBE_LAYERS:
                        txn.replace(name, cube[name])
                for name, frame in write.items():
                    txn.replace(name, frame)
                if units is not None:
                    txn.replace(UNITS, units)
                write_state(txn, "hotspots", new_state)
        bar.update(1)
    summary: dict[str, Any] = {
        "mode": "full" if full else ("incremental" if write or cube_changed else "unchanged"),
        "window": [str(start.date()) if start is not None else None,
                   str(end.date()) if end is not None else None],
        "recomputed": sorted(write),
        "months_touched": int(touched.months.size),
        **{name: len(frame) for name, frame in write.items()},
    }
    return summary


def _coverage_since(store: Any, months: int) -> int | None:
    """First month of the coverage risk window (``months`` before the latest incident)."""
    occ = store.read("incidents", columns=["occurred_at"])["occurred_at"] \
        if store.has("incidents") else pd.Series([], dtype="datetime64[us, UTC]")
    occ = pd.to_datetime(occ, utc=True).dropna()
    if occ.empty:
        return None
    return int(month_codes(pd.Series([occ.max() - pd.DateOffset(months=months)]))[0])


def build_coverage(store: Any, settings: Any, touched: Touched, *, full: bool = False,
                   progress: bool = False) -> dict[str, Any]:
    """The ``coverage`` step when one of its inputs changed (see the module docstring)."""
    from riskmap.etl import derive_coverage

    months = int(getattr(_geo(settings), "status_months", 12))
    dem = getattr(_geo(settings), "dem", None)
    dem = str(dem) if dem else None
    state = read_state(store, "coverage")
    since = None if state is None else state.get("since")
    t = touched.months.astype(np.int64)
    whole = (full or state is None or state.get("months") != months or state.get("dem") != dem
             or touched.layers & {"incidents", "mahallas", "cameras", "infrastructure"}
             or not all(store.has(n) for n in ("camera_coverage", "coverage_mahalla",
                                                "coverage_h3")))
    if not whole and not (t.size and (since is None or (t >= since).any())):
        return {"mode": "unchanged"}
    # incidents alone changed: the camera polygons and key sites stay, the risk figures of
    # the cells and units whose counts changed are recomputed
    summary = None if whole else derive_coverage.update(store, settings, progress=progress)
    mode = "incremental"
    if summary is None:
        summary, mode = derive_coverage.build(store, settings, progress=progress), "full"
    # the camera polygons the zones step computed from: a new stamp when they were made again
    polygons = (state or {}).get("camera_coverage") if mode == "incremental" else \
        pd.Timestamp.now(tz="UTC").isoformat()
    with store.transaction() as txn:
        write_state(txn, "coverage", {"months": months, "since": _coverage_since(store, months),
                                      "dem": dem, "camera_coverage": polygons})
    return {"mode": mode, **summary}


def build_zones(store: Any, settings: Any, touched: Touched, *, full: bool = False,
                progress: bool = False) -> dict[str, Any]:
    """The ``zones`` step: in full when cameras, infrastructure, mahallas or the camera
    polygons changed; after loads of incidents alone, the incident figures of the zones
    patched (:func:`etl.derive_zones.update`). The coverage step's state says when it made
    the camera polygons again."""
    from riskmap.etl import derive_zones

    tz = str(getattr(getattr(settings, "etl", None), "timezone", "Asia/Tashkent"))
    state = read_state(store, "zones")
    polygons = (read_state(store, "coverage") or {}).get("camera_coverage")
    whole = (full or state is None or "counts" not in state or state.get("tz") != tz
             or state.get("camera_coverage") != polygons
             or touched.layers & {"incidents", "mahallas", "cameras", "infrastructure"}
             or not all(store.has(n) for n in ("zone_readiness", "zone_isochrones",
                                                "zone_figures")))
    if not whole and not touched.months.size:
        return {"mode": "unchanged"}
    # incidents alone changed: only the zones' incident figures depend on them (the checklist
    # and the isochrones on the roads, facilities and camera coverage): recount the touched
    # months and patch the figures of the zones whose sums changed
    got = None if whole else derive_zones.update(store, settings, touched.months,
                                                 state["counts"])
    mode = "incremental"
    if got is None:
        got, mode = derive_zones.build_counted(store, settings, progress=progress), "full"
    summary, counts = got
    with store.transaction() as txn:
        write_state(txn, "zones", {"built": True, "tz": tz, "camera_coverage": polygons,
                                   "counts": counts})
    return {"mode": mode, **summary}
