"""De-identification for suppressed views: snap points to coarse H3 cells, months, small counts.

A user who sees a region *suppressed* (``Visibility.SUPPRESSED``: an analyst outside their own
regions) gets incidents that no longer point at a house, a person or a record: the point is
the centre of its coarse H3 cell, the time is the first day of its month, and identifying
columns (ids, source file and row, fix flags, content hash) are gone. Counts of such units
below a threshold are shown as ``"< k"``. Everything here is pure and works on whole columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from riskmap.geo.h3index import cell_centers, cells_from_lonlat, parents

#: H3 resolution whose cell centres the points of a suppressed view are snapped to. At 7 a
#: cell is ~5 km² (edge ~1.4 km): larger than most city mahallas (~0.5-1 km²) and than a
#: village's built-up area, so a snapped point names neither a street nor a household,
#: while district-level patterns still show; at 8 (~0.7 km²) a cell is about one mahalla
SUPPRESSED_H3_RES = 7

__all__ = [
    "DEIDENTIFIED_COLUMNS",
    "SUPPRESSED_H3_RES",
    "count_labels",
    "deidentify_incidents",
    "hide_small",
    "month_floor",
    "snap_to_cell_centres",
]

#: the incident columns a de-identified row keeps (plus ``geometry`` and ``suppressed``)
DEIDENTIFIED_COLUMNS = ("occurred_at", "category", "h3", "mahalla_id", "district", "region",
                        "geocode_precision")


def snap_to_cell_centres(cells: np.ndarray, res: int, *,
                         fine_res: int = 9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres of the parent cells at ``res`` of ``cells``, and the ``fine_res`` cell there.

    Returns ``(lon, lat, fine)``: the centre of each cell's ancestor at ``res`` and the cell
    at ``fine_res`` holding that centre (the ancestor's centre child), so that any coarser
    aggregation (res <= ``res``) of the snapped rows gives the same counts as the originals,
    and a finer one puts them all at the coarse cell's centre. A missing cell (0) gives NaN
    and 0.

    Examples
    --------
    >>> from riskmap.geo.h3index import cells_from_lonlat
    >>> c = cells_from_lonlat(np.array([67.84, 67.8401]), np.array([40.12, 40.1201]), 9)
    >>> lon, lat, fine = snap_to_cell_centres(np.append(c, 0), 7)
    >>> bool(lon[0] == lon[1]) and bool(fine[0] == fine[1]), bool(np.isnan(lon[2])), int(fine[2])
    (True, True, 0)
    """
    cells = np.asarray(cells, dtype="int64")
    coarse = parents(cells, res)
    lon = np.full(len(cells), np.nan)
    lat = np.full(len(cells), np.nan)
    fine = np.zeros(len(cells), dtype="int64")
    ok = coarse > 0
    if ok.any():
        uniq, inverse = np.unique(coarse[ok], return_inverse=True)
        ulon, ulat = cell_centers(uniq)
        lon[ok], lat[ok] = ulon[inverse], ulat[inverse]
        fine[ok] = cells_from_lonlat(ulon, ulat, fine_res)[inverse]
    return lon, lat, fine


def month_floor(times: pd.Series | pd.DatetimeIndex, timezone: str) -> pd.DatetimeIndex:
    """The first instant of each time's local calendar month, in UTC (NaT stays NaT).

    Examples
    --------
    >>> t = pd.to_datetime(["2025-03-31T20:00Z", "2025-03-15T10:00Z", None], utc=True)
    >>> [str(v) for v in month_floor(t, "Asia/Tashkent")]
    ['2025-03-31 19:00:00+00:00', '2025-02-28 19:00:00+00:00', 'NaT']
    """
    local = pd.DatetimeIndex(pd.to_datetime(times, utc=True)).tz_convert(timezone)
    naive = local.tz_localize(None).to_period("M").to_timestamp()
    return pd.DatetimeIndex(naive).tz_localize(timezone).tz_convert("UTC")


def hide_small(counts: np.ndarray, suppressed: np.ndarray | bool,
               below: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts with those of suppressed units below ``below`` set to 0, and where that was done.

    Zero counts of suppressed units are hidden too (``"< k"`` must not tell 0 from 3).

    Examples
    --------
    >>> shown, hidden = hide_small(np.array([0, 3, 7, 2]), np.array([True, True, True, False]), 5)
    >>> shown.tolist(), hidden.tolist()
    ([0, 0, 7, 2], [True, True, False, False])
    """
    counts = np.asarray(counts)
    hidden = np.asarray(suppressed, dtype=bool) & (counts < below)
    hidden = np.broadcast_to(hidden, counts.shape).copy()
    return np.where(hidden, 0, counts).astype(np.int64), hidden


def count_labels(counts: np.ndarray, hidden: np.ndarray, below: int) -> np.ndarray:
    """Counts as text (``"1,234"``), ``"< k"`` where hidden (object array).

    Examples
    --------
    >>> count_labels(np.array([1234, 0]), np.array([False, True]), 5).tolist()
    ['1,234', '< 5']
    """
    counts = np.asarray(counts)
    text = np.array([f"{int(c):,}" for c in counts], dtype=object)
    if len(text):
        text[np.asarray(hidden, dtype=bool)] = f"< {below}"
    return text


def deidentify_incidents(frame: pd.DataFrame, *, res: int, timezone: str) -> gpd.GeoDataFrame:
    """Incidents as a suppressed view may hold them.

    Keeps :data:`DEIDENTIFIED_COLUMNS` (those of them ``frame`` has): ``h3`` becomes the
    centre child of the row's cell at ``res`` (see :func:`snap_to_cell_centres`), the point
    its centre, ``occurred_at`` the start of the local month; every other column (the
    incident id, source file and row, flags, content hash) is dropped. Adds
    ``suppressed=True``. Rows without a cell keep no point (``None``).
    """
    keep = [c for c in DEIDENTIFIED_COLUMNS if c in frame.columns]
    out = pd.DataFrame({c: frame[c].to_numpy() for c in keep}, index=pd.RangeIndex(len(frame)))
    geometry = None
    if "h3" in frame.columns:
        cells = frame["h3"].to_numpy(dtype="int64", na_value=0)
        lon, lat, fine = snap_to_cell_centres(cells, res)
        out["h3"] = fine
        pts = shapely.points(lon, lat)
        pts[~np.isfinite(lon)] = None
        geometry = pts
    if "occurred_at" in frame.columns:
        out["occurred_at"] = month_floor(frame["occurred_at"], timezone)
    out["suppressed"] = True
    return gpd.GeoDataFrame(out, geometry=geometry, crs="EPSG:4326")
