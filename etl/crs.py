"""Coordinate reference systems of input files: ``--crs``, plausible degrees, reprojection.

A file that declares no CRS is taken as longitude/latitude only when its coordinates are
plausible degrees; projected metres are refused with advice to give ``--crs``
(:func:`crs_advice`), and with it they are reprojected to EPSG:4326.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import geopandas as gpd
import pyproj
import shapely

from riskmap.errors import ConfigError, InputFileError

__all__ = ["crs_advice", "crs_name", "georeference", "metre_features", "metre_like",
           "parse_crs", "to_lonlat"]


def parse_crs(value: Any) -> pyproj.CRS | None:
    """A ``--crs`` value (``EPSG:32642``, a WKT or PROJ string) as a CRS; None stays None."""
    if value is None or isinstance(value, pyproj.CRS):
        return value
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as exc:
        raise ConfigError(f"--crs {value!r} is not a coordinate reference system (expected "
                          "for example EPSG:32642, UTM zone 42N)") from exc


def to_lonlat(x: np.ndarray, y: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Reproject x/y in ``crs`` to longitude/latitude (EPSG:4326); NaN where impossible.

    Always x = easting/longitude, y = northing/latitude, whatever the CRS's axis order. The
    inputs are not written to (they may be read-only views).
    """
    transformer = pyproj.Transformer.from_crs(parse_crs(crs), 4326, always_xy=True)
    lon, lat = transformer.transform(np.asarray(x, dtype="float64"),
                                     np.asarray(y, dtype="float64"), errcheck=False)
    lon = np.array(lon, dtype="float64", copy=True)
    lat = np.array(lat, dtype="float64", copy=True)
    bad = ~(np.isfinite(lon) & np.isfinite(lat))
    lon[bad] = np.nan
    lat[bad] = np.nan
    return lon, lat


def metre_like(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pairs that look like projected metres: both numbers beyond any degree (> 180), one at
    least 1,000 (UTM eastings are 160,000-840,000, northings up to 9,300,000).

    A pair with one plausible degree value and one wild one (``lat=5000000, lon=67.8``) is a
    broken row, not a projection: it is quarantined as ``invalid_coordinates``.

    >>> metre_like(np.array([356015.0, 67.8, 5e6]), np.array([4157136.0, 5e6, 40.1])).tolist()
    [True, False, False]
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(x) & np.isfinite(y)
        beyond = (np.abs(x) > 180) & (np.abs(y) > 180)
        big = np.maximum(np.abs(x), np.abs(y)) >= 1000
    return finite & beyond & big


def crs_advice(*, table: bool = True) -> str:
    """What to do about projected coordinates: the ``--crs`` option, with Uzbekistan's zones."""
    text = ("give the file's coordinate reference system with --crs, e.g. --crs EPSG:32642 "
            "for UTM zone 42N (Uzbekistan lies in UTM zones 40N-43N, EPSG:32640-32643)")
    if table:
        text += ("; the easting/x column must be lon and the northing/y column lat (columns "
                 "named x and y are; rename others with --map EASTING=lon --map NORTHING=lat)")
    return text


def metre_features(geoms: np.ndarray) -> tuple[int, int, tuple[float, float] | None]:
    """(features whose coordinates look like metres, features with geometry, an example)."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not present.any():
        return 0, 0, None
    b = shapely.bounds(geoms[present])
    bad = metre_like(b[:, 0], b[:, 1]) | metre_like(b[:, 2], b[:, 3])
    example = tuple(b[np.flatnonzero(bad)[0], :2]) if bad.any() else None
    return int(bad.sum()), len(b), example


def georeference(path: Path, frame: gpd.GeoDataFrame, crs: pyproj.CRS | None,
                  notes: list[str]) -> gpd.GeoDataFrame:
    """The frame in EPSG:4326, from its own CRS, ``crs`` when it has none, or plausible degrees.

    A file that declares longitude/latitude (GeoJSON always does, by its specification) while
    its coordinates are mostly projected metres is treated like a file without a CRS.
    """
    declared = frame.crs
    lonlat = declared is None or declared.is_geographic
    bad, total, example = (metre_features(np.asarray(frame.geometry.values, dtype=object))
                           if lonlat else (0, 0, None))
    wrong = bad > 0 and 2 * bad > total
    if declared is None or wrong:
        if crs is None:
            if not wrong:
                return frame.set_crs(4326)
            what = ("the file has no coordinate reference system (no .prj file or CRS metadata)"
                    if declared is None else
                    f"the file says its coordinates are longitude/latitude ({crs_name(declared)})")
            raise InputFileError(
                path, f"{what} but {bad:,} of {total:,} features have coordinates that are not "
                      f"degrees (e.g. x={example[0]:.1f}, y={example[1]:.1f}; projected metres?): "
                      + crs_advice(table=False))
        if declared is not None:
            notes.append(f"the file says {crs_name(declared)} but its coordinates are not "
                         f"degrees: read as --crs {crs_name(crs)}")
        frame = frame.set_crs(crs, allow_override=True)
    elif crs is not None and not declared.equals(crs, ignore_axis_order=True):
        notes.append(f"the file declares its CRS ({crs_name(declared)}); "
                     f"--crs {crs_name(crs)} was not used")
    if frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    return frame


def crs_name(crs: pyproj.CRS) -> str:
    code = crs.to_authority()
    return f"{code[0]}:{code[1]}" if code else crs.name
