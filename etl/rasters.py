"""Write and read risk surfaces as Cloud-Optimised GeoTIFFs (the raster I/O edge)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

import rasterio
from rasterio.enums import Resampling
from rasterio.shutil import copy as rio_copy
from rasterio.transform import Affine

__all__ = ["read_raster", "write_cog"]


def _has_cog_driver() -> bool:
    with rasterio.Env() as env:
        return "COG" in env.drivers()


def write_cog(
    path: str | os.PathLike[str],
    array: np.ndarray,
    transform: Affine,
    crs: str,
    *,
    nodata: float | None = None,
) -> Path:
    """Write a 2-D array as a single-band Cloud-Optimised GeoTIFF, atomically.

    Uses GDAL's ``COG`` driver when available; otherwise writes a tiled GTiff with overviews
    and copies it with ``COPY_SRC_OVERVIEWS=YES``. The file is written beside ``path`` and
    renamed into place, so a failed write leaves no partial file.

    Parameters
    ----------
    path
        Destination ``.tif``.
    array
        2-D array (row 0 = north).
    transform
        rasterio Affine transform of the array.
    crs
        CRS, e.g. ``"EPSG:32642"``.
    nodata
        Optional nodata value.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    ValueError
        If ``array`` is not 2-D.
    """
    arr = np.asarray(array)
    if arr.ndim != 2:
        raise ValueError(f"write_cog({path!s}): expected a 2-D array, got shape {arr.shape}")
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff",
        "height": arr.shape[0],
        "width": arr.shape[1],
        "count": 1,
        "dtype": arr.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
    }
    fd, tmp_src = tempfile.mkstemp(suffix=".tif", dir=dest.parent)
    os.close(fd)
    fd, tmp_dst = tempfile.mkstemp(suffix=".tif", dir=dest.parent)
    os.close(fd)
    try:
        with rasterio.open(tmp_src, "w", **profile) as dst:
            dst.write(arr, 1)
            factors = [f for f in (2, 4, 8, 16, 32) if min(arr.shape) // f >= 1]
            if factors and not _has_cog_driver():
                dst.build_overviews(factors, Resampling.average)
        if _has_cog_driver():
            rio_copy(tmp_src, tmp_dst, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=256)
        else:
            rio_copy(
                tmp_src,
                tmp_dst,
                driver="GTiff",
                TILED="YES",
                COPY_SRC_OVERVIEWS="YES",
                COMPRESS="DEFLATE",
            )
        os.replace(tmp_dst, dest)
    finally:
        for tmp in (tmp_src, tmp_dst):
            if os.path.exists(tmp):
                os.remove(tmp)
    return dest


def read_raster(path: str | os.PathLike[str]) -> tuple[np.ndarray, Affine, str]:
    """Read band 1 of a raster: (array, transform, crs string such as ``"EPSG:32642"``)."""
    with rasterio.open(path) as src:
        arr = src.read(1)
        crs = src.crs.to_string() if src.crs is not None else ""
        return arr, src.transform, crs
