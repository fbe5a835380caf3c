"""Declarative layer specs and the registry the built-in layers register through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from riskmap.errors import SchemaError

__all__ = [
    "CAMERA_TYPES",
    "CATEGORIES",
    "INFRA_KINDS",
    "PRECISIONS",
    "QUARANTINE_REASONS",
    "SRID",
    "Column",
    "LayerSpec",
    "conform",
    "get_spec",
    "register_layer",
    "registered_layers",
]

SRID = 4326

CATEGORIES = (
    "homicide", "assault", "sexual_violence", "robbery", "burglary", "theft", "vehicle_theft",
    "fraud", "cybercrime", "drugs", "domestic_violence", "hooliganism", "traffic", "weapons",
    "other",
)
#: categories recorded at the victim's home mahalla, not a place of occurrence
NON_SPATIAL_CATEGORIES = ("cybercrime", "fraud")
PRECISIONS = ("coordinates", "mahalla", "district")
CAMERA_TYPES = ("face_recognition", "traffic", "licence_plate", "overview")
INFRA_KINDS = (
    "tourist_zone", "school", "bus_stop", "market", "station", "police_post",
    "emergency_service", "fire_station", "medical", "road", "power_line", "camp", "beach",
    "hotel", "entrance", "town", "building", "water",
)
QUARANTINE_REASONS = (
    "missing_date", "invalid_date", "future_date", "unknown_category", "invalid_coordinates",
    "outside_area", "no_location", "conflicting_id",
    # a spreadsheet cell holding a formula without a calculated value
    "uncalculated_formula",
    # an id over 200 or another field over 500 characters; an id holding a NUL character
    "value_too_long", "invalid_id",
    # a geometry that is not a point (incidents need one)
    "invalid_geometry",
    # a focus field (sex, age or age group, a yes/no flag) that cannot be read
    "invalid_sex", "invalid_age", "invalid_flag",
)

# logical dtypes -> pandas dtypes used when conforming a frame
_PANDAS = {
    "str": "string",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "timestamp": "datetime64[us, UTC]",
    "date": "datetime64[us]",
}


@dataclass(frozen=True)
class Column:
    """One attribute column of a layer."""

    name: str
    dtype: str  # one of _PANDAS keys
    required: bool = False
    doc: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """What a layer holds: columns, geometry types, SRID and its key."""

    name: str
    columns: tuple[Column, ...]
    geometry_types: tuple[str, ...] | None = None  # None: a table without geometry
    key: str | None = None
    indexes: tuple[str, ...] = ()
    doc: str = ""
    extra_columns: bool = False  # keep columns not declared (derived layers)
    promote_to_multi: bool = False  # store Polygon as MultiPolygon (one type per column)

    @property
    def spatial(self) -> bool:
        """True when the layer has a geometry column."""
        return self.geometry_types is not None

    @property
    def column_names(self) -> list[str]:
        """Declared attribute names, in order (geometry excluded)."""
        return [c.name for c in self.columns]

    @property
    def dtypes(self) -> dict[str, Any]:
        """The pandas dtype of each declared column (computed once per spec: a store's read
        of a few rows asks for it every time)."""
        got = _DTYPES.get(self)
        if got is None:
            got = _DTYPES[self] = dict(self.empty().dtypes)
        return dict(got)

    def empty(self) -> pd.DataFrame:
        """An empty frame of this layer's schema."""
        frame = pd.DataFrame({c.name: pd.Series(dtype=_PANDAS[c.dtype]) for c in self.columns})
        if self.spatial:
            return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=SRID))
        return frame


_REGISTRY: dict[str, LayerSpec] = {}
_DTYPES: dict[LayerSpec, dict[str, Any]] = {}


def register_layer(spec: LayerSpec, *, replace: bool = False) -> LayerSpec:
    """Register a layer spec (built-in layers use this same call)."""
    if spec.name in _REGISTRY and not replace:
        raise SchemaError(f"layer {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def get_spec(name: str) -> LayerSpec | None:
    """The spec of a registered layer, or None for an ad-hoc (derived) table."""
    return _REGISTRY.get(name)


def registered_layers() -> dict[str, LayerSpec]:
    """A copy of the registry."""
    return dict(_REGISTRY)


def conform(spec: LayerSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with the spec's columns in order and dtypes, checking geometry and CRS.

    Raises
    ------
    SchemaError
        A required column is missing, a value cannot take the column's type, a geometry has
        a type the layer does not allow, or the CRS is not EPSG:4326.
    """
    out = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            if col.required:
                raise SchemaError(f"layer {spec.name!r}: required column {col.name!r} is missing")
            missing = np.nan if col.dtype == "float" else None
            out[col.name] = pd.Series(missing, index=frame.index, dtype=_PANDAS[col.dtype])
            continue
        try:
            out[col.name] = _cast(frame[col.name], col.dtype)
        except (TypeError, ValueError) as exc:
            raise SchemaError(
                f"layer {spec.name!r}, column {col.name!r}: cannot convert to {col.dtype}: {exc}"
            ) from exc
    if spec.extra_columns:
        for name in frame.columns:
            if name not in out and name != getattr(frame, "_geometry_column_name", None):
                out[name] = frame[name]
    result = pd.DataFrame(out, index=frame.index)
    if not spec.spatial:
        return result.reset_index(drop=True)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise SchemaError(f"layer {spec.name!r} needs a geometry column")
    if frame.crs is None or frame.crs.to_epsg() != SRID:
        raise SchemaError(f"layer {spec.name!r}: CRS must be EPSG:{SRID}, got {frame.crs}")
    geoms = np.asarray(frame.geometry.values)
    _check_geometry_types(spec, geoms)
    if spec.promote_to_multi:
        single = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
        if single.any():
            geoms = geoms.copy()
            geoms[single] = shapely.multipolygons(geoms[single][:, None])
    return gpd.GeoDataFrame(result, geometry=gpd.GeoSeries(geoms, index=frame.index, crs=SRID)
                            ).reset_index(drop=True)


#: the pandas dtype of each column type, as dtype objects (compared with a column's dtype)
_TARGET = {name: pd.api.types.pandas_dtype(value) for name, value in _PANDAS.items()}


def _cast(series: pd.Series, dtype: str) -> pd.Series:
    if series.dtype == _TARGET[dtype]:  # already the layer's type (e.g. conformed before)
        return series
    if dtype == "timestamp":
        s = pd.to_datetime(series, utc=True)
        return s.astype(_PANDAS[dtype])
    if dtype == "date":
        return pd.to_datetime(series).astype(_PANDAS[dtype])
    if dtype == "int":
        return pd.to_numeric(series).astype("Int64")
    if dtype == "float":
        return pd.to_numeric(series).astype("float64")
    return series.astype(_PANDAS[dtype])


def _check_geometry_types(spec: LayerSpec, geoms: np.ndarray) -> None:
    assert spec.geometry_types is not None
    kinds = shapely.get_type_id(geoms)
    names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                      "MultiLineString", "MultiPolygon", "GeometryCollection"])
    empty = shapely.is_empty(geoms) | shapely.is_missing(geoms)
    present_nonempty = set(names[np.unique(kinds[(kinds >= 0) & ~empty])].tolist())
    bad = present_nonempty - set(spec.geometry_types)
    if bad:
        raise SchemaError(
            f"layer {spec.name!r}: geometry types {sorted(bad)} are not allowed "
            f"(expected {', '.join(spec.geometry_types)})")
