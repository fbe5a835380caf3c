"""Vector tiles of the base map: what MapLibre draws under the app's layers, served by the app.

Pure computation, nothing read or served here: a :class:`TileSource` holds named layers of
lon/lat geometries with their properties (built once per scope and data version) and answers
``tile(z, x, y)`` with the bytes of one Mapbox Vector Tile (``mapbox-vector-tile`` encodes
them). Geometries are projected to Web Mercator once, found per tile with an STRtree, cut to
the tile and a buffer around it, and simplified to the tile's resolution, so a tile at region
zoom costs about what one at street zoom does. Each feature has a ``minzoom``: minor roads and
small places join as the reader zooms in.

Examples
--------
>>> import mapbox_vector_tile
>>> src = TileSource({"road": TileLayer.of([shapely.LineString([(66.9, 39.6), (67.0, 39.7)])],
...                                        {"class": ["primary"]})})
>>> tile = mapbox_vector_tile.decode(src.tile(*tile_of(66.95, 39.65, 10)))
>>> [f["properties"]["class"] for f in tile["road"]["features"]]
['primary']
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

import mapbox_vector_tile
import numpy as np
from mapbox_vector_tile.encoder import on_invalid_geometry_make_valid

import shapely

__all__ = ["EXTENT", "MAX_ZOOM", "TileLayer", "TileSource", "mercator", "tile_bounds",
           "tile_of", "valid_tile"]

#: tile coordinates per side (the MVT default)
EXTENT = 4096
#: tiles are made up to this zoom; MapLibre overzooms beyond it (street level)
MAX_ZOOM = 14
#: half the Web Mercator world's width, metres
_HALF = 20037508.342789244
#: the buffer around each tile, in tile units (lines and labels run on across the edge)
_BUFFER = 64


def mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator (EPSG:3857) metres of lon/lat degrees; latitudes clamped to ±85.05°.

    >>> [round(float(v)) for v in np.concatenate(mercator(np.array([180.0]), np.array([0.0])))]
    [20037508, 0]
    """
    lat = np.clip(np.asarray(lat, dtype=float), -85.05112878, 85.05112878)
    x = np.asarray(lon, dtype=float) * (_HALF / 180.0)
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * (_HALF / np.pi)
    return x, y


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Web Mercator bounds (minx, miny, maxx, maxy) of XYZ tile ``z/x/y`` (y from the north).

    >>> [round(v) for v in tile_bounds(1, 1, 0)]
    [0, 0, 20037508, 20037508]
    """
    size = 2 * _HALF / (1 << z)
    minx = -_HALF + x * size
    maxy = _HALF - y * size
    return minx, maxy - size, minx + size, maxy


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile holding a lon/lat point at zoom ``z``.

    >>> tile_of(66.95, 39.65, 10)
    (10, 702, 388)
    """
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    lat_r = math.radians(max(min(lat, 85.05112878), -85.05112878))
    y = int((1 - math.asinh(math.tan(lat_r)) / math.pi) / 2 * n)
    return z, min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def valid_tile(z: int, x: int, y: int) -> bool:
    """Whether ``z/x/y`` names a tile (0 ≤ z ≤ 22, x and y within the zoom's grid).

    >>> valid_tile(2, 3, 3), valid_tile(2, 4, 0), valid_tile(-1, 0, 0)
    (True, False, False)
    """
    return 0 <= z <= 22 and 0 <= x < (1 << z) and 0 <= y < (1 << z)


@dataclass
class TileLayer:
    """One layer of a :class:`TileSource`: geometries in Web Mercator, their properties
    (columns of equal length; None or NaN values are left out of a feature) and the zoom each
    feature first shows at."""

    geometry: np.ndarray
    properties: dict[str, np.ndarray] = field(default_factory=dict)
    minzoom: np.ndarray | None = None
    tree: shapely.STRtree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.geometry = np.asarray(self.geometry, dtype=object)
        n = len(self.geometry)
        self.minzoom = (np.zeros(n, dtype=np.int8) if self.minzoom is None
                        else np.asarray(self.minzoom, dtype=np.int8))
        self.properties = {k: np.asarray(v, dtype=object) for k, v in self.properties.items()}
        for name, values in self.properties.items():
            if len(values) != n:
                raise ValueError(f"property {name!r} has {len(values)} values for {n} features")
        if len(self.minzoom) != n:
            raise ValueError(f"minzoom has {len(self.minzoom)} values for {n} features")
        self.tree = shapely.STRtree(self.geometry)

    @classmethod
    def of(cls, geoms: Sequence[Any] | np.ndarray, properties: Mapping[str, Any] | None = None,
           minzoom: Sequence[int] | np.ndarray | None = None) -> TileLayer:
        """A layer of lon/lat (EPSG:4326) geometries: empty and missing ones are dropped."""
        arr = np.asarray(geoms, dtype=object)
        keep = ~(shapely.is_missing(arr) | shapely.is_empty(arr)) if len(arr) else \
            np.zeros(0, dtype=bool)
        projected = shapely.transform(arr[keep], _project) if keep.any() else \
            np.empty(0, dtype=object)
        props = {k: np.asarray(v, dtype=object)[keep] for k, v in (properties or {}).items()}
        mz = None if minzoom is None else np.asarray(minzoom)[keep]
        return cls(projected, props, mz)


def _project(coords: np.ndarray) -> np.ndarray:
    x, y = mercator(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


class TileSource:
    """Named :class:`TileLayer` s that answer ``tile(z, x, y)`` with MVT bytes (layers in the
    order given; the last ``cache`` tiles are kept)."""

    def __init__(self, layers: Mapping[str, TileLayer], *, cache: int = 512) -> None:
        self.layers = dict(layers)
        self._cache: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._size = cache
        self._lock = Lock()

    def tile(self, z: int, x: int, y: int) -> bytes:
        """The MVT bytes of tile ``z/x/y`` (possibly empty: a tile with no feature).

        Raises ``ValueError`` for a tile that does not exist.
        """
        if not valid_tile(z, x, y):
            raise ValueError(f"no tile {z}/{x}/{y}")
        key = (z, x, y)
        with self._lock:
            got = self._cache.get(key)
            if got is not None:
                self._cache.move_to_end(key)
                return got
        data = self._encode(z, x, y)
        with self._lock:
            self._cache[key] = data
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return data

    def _encode(self, z: int, x: int, y: int) -> bytes:
        bounds = tile_bounds(z, x, y)
        unit = (bounds[2] - bounds[0]) / EXTENT
        pad = _BUFFER * unit
        clip = (bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
        out = []
        for name, layer in self.layers.items():
            features = _features(layer, z, clip, unit, (bounds[0], bounds[1]))
            if features:
                out.append({"name": name, "features": features})
        if not out:
            return b""
        # coordinates are in tile units already (y up): the encoder's own quantisation goes
        # through a deprecated shapely function, one coordinate at a time
        return mapbox_vector_tile.encode(out, default_options={
            "extents": EXTENT, "on_invalid_geometry": on_invalid_geometry_make_valid})


def _features(layer: TileLayer, z: int, clip: tuple[float, float, float, float],
              unit: float, origin: tuple[float, float]) -> list[dict[str, Any]]:
    """The layer's features in the (buffered) tile: cut, simplified to a tile unit, in tile
    units from the tile's lower left ``origin``."""
    if len(layer.geometry) == 0:
        return []
    idx = layer.tree.query(shapely.box(*clip))
    assert layer.minzoom is not None
    idx = np.sort(idx[layer.minzoom[idx] <= z])
    if len(idx) == 0:
        return []
    geoms = shapely.clip_by_rect(layer.geometry[idx], *clip)
    kinds = shapely.get_type_id(geoms)
    points = kinds == shapely.GeometryType.POINT
    geoms = np.where(points, geoms, shapely.simplify(geoms, unit, preserve_topology=True))
    keep = ~shapely.is_empty(geoms)
    geoms = shapely.transform(geoms[keep], lambda c: (c - origin) / unit)
    out = []
    for i, geom in zip(idx[keep], geoms, strict=True):
        props = {}
        for key, values in layer.properties.items():
            value = values[i]
            if value is None or (isinstance(value, float) and math.isnan(value)):
                continue
            props[key] = value.item() if isinstance(value, np.generic) else value
        out.append({"geometry": geom, "properties": props})
    return out
