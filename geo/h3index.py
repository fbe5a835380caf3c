"""H3 indexing of points and cells, vectorised with h3ronpy (cells are int64 arrays)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

import h3
import h3ronpy
import shapely
from h3ronpy import vector as h3v

__all__ = [
    "cell_centers",
    "cell_polygons",
    "cells_from_lonlat",
    "cells_to_hex",
    "hex_to_cells",
    "parents",
]


def cells_from_lonlat(lon: np.ndarray, lat: np.ndarray, res: int) -> np.ndarray:
    """H3 cells (int64) of points; 0 where lon/lat is NaN or out of range.

    Examples
    --------
    >>> bool(cells_from_lonlat(np.array([67.84]), np.array([40.12]), 9)[0] > 0)
    True
    >>> cells_from_lonlat(np.array([np.nan]), np.array([40.0]), 9).tolist()
    [0]
    """
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    ok = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    out = np.zeros(len(lon), dtype="int64")
    if ok.any():
        res_arr = np.full(int(ok.sum()), res, dtype="uint8")
        cells = h3v.coordinates_to_cells(lat[ok], lon[ok], res_arr)
        out[ok] = _to_numpy(cells).astype("int64")
    return out


def parents(cells: np.ndarray, res: int) -> np.ndarray:
    """Parent cells at a coarser resolution (0 stays 0)."""
    cells = np.asarray(cells, dtype="int64")
    out = np.zeros(len(cells), dtype="int64")
    ok = cells > 0
    if ok.any():
        got = h3ronpy.change_resolution(pa.array(cells[ok].astype("uint64")), res)
        out[ok] = _to_numpy(got).astype("int64")
    return out


def cell_centers(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of cell centres."""
    cells = np.asarray(cells, dtype="int64")
    if len(cells) == 0:
        return np.empty(0), np.empty(0)
    batch = h3v.cells_to_coordinates(pa.array(cells.astype("uint64")))
    table = pa.table(batch)
    return (table.column("lng").to_numpy(), table.column("lat").to_numpy())


def cell_polygons(cells: np.ndarray) -> np.ndarray:
    """Shapely polygons of cells (lon/lat)."""
    cells = np.asarray(cells, dtype="int64")
    if len(cells) == 0:
        return np.empty(0, dtype=object)
    wkb = h3v.cells_to_wkb_polygons(pa.array(cells.astype("uint64")))
    return shapely.from_wkb(_to_pylist_bytes(wkb))


def cells_to_hex(cells: np.ndarray) -> np.ndarray:
    """Hex strings of cells ('' for 0)."""
    cells = np.asarray(cells, dtype="int64")
    return np.array([h3.int_to_str(int(c)) if c > 0 else "" for c in cells], dtype=object)


def hex_to_cells(hexes: np.ndarray) -> np.ndarray:
    """Cells from hex strings."""
    return np.array([h3.str_to_int(h) if h else 0 for h in hexes], dtype="int64")


def _to_numpy(arr: object) -> np.ndarray:
    return pa.array(arr).to_numpy(zero_copy_only=False)


def _to_pylist_bytes(arr: object) -> np.ndarray:
    return pa.array(arr).to_numpy(zero_copy_only=False)
