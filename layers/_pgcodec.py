"""Frames to and from PostgreSQL: CSV for COPY, the read query's transport, SQL/Arrow types.

Private to :mod:`layers.postgis`, which owns the connection; nothing here runs SQL. A write
splits a frame into Arrow attributes and shapely geometries (:func:`encode`) and streams them as
CSV for ``COPY ... FROM STDIN (FORMAT csv)`` (geometries as hex WKB). A read runs
:func:`read_query` and :func:`decode` parses its rows column-wise; :func:`to_frame` assembles
the frame the embedded (GeoParquet) store would return for the same data.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

import geopandas as gpd
import shapely

from riskmap.errors import SchemaError, StoreError
from riskmap.layers.spec import SRID, LayerSpec

__all__ = [
    "GEOM",
    "MULTI",
    "SPEC_SQL",
    "TYPE_IDS",
    "Column",
    "Encoded",
    "arrow_sql_type",
    "decode",
    "encode",
    "py_value",
    "read_query",
    "schema_from_b64",
    "spec_geometry_type",
    "to_frame",
]

#: Name of the geometry column of every spatial table.
GEOM = "geometry"
#: SQL type of each :class:`~layers.spec.LayerSpec` column dtype.
SPEC_SQL = {"str": "text", "int": "bigint", "float": "double precision", "bool": "boolean",
            "timestamp": "timestamp with time zone", "date": "date"}
#: Multi-part geometry type -> the single-part type ``ST_Multi`` promotes into it.
MULTI = {"MultiPolygon": "Polygon", "MultiLineString": "LineString", "MultiPoint": "Point"}
#: Shapely type id of each single-part type in :data:`MULTI`.
TYPE_IDS = {"Point": 0, "LineString": 1, "Polygon": 3}
_COPY_ROWS = 100_000  # rows per CSV chunk sent to COPY
_INT_T = frozenset({"int2", "int4", "int8", "oid"})
_FLOAT_T = frozenset({"float4", "float8", "numeric"})
_TIME_T = frozenset({"timestamptz", "timestamp"})


# ---- table columns -------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """A table column as the catalogue describes it (see ``layers/sql/table_columns.sql``)."""

    name: str
    base_type: str
    sql_type: str
    srid: int | None
    geometry_type: str | None

    @property
    def is_geometry(self) -> bool:
        """Whether this is a PostGIS geometry column."""
        return self.base_type == "geometry"


# ---- frames -> COPY ------------------------------------------------------------------------

@dataclass
class Encoded:
    """A frame split into Arrow attributes and a shapely geometry array."""

    attrs: pa.Table
    geoms: np.ndarray | None

    @property
    def names(self) -> list[str]:
        """Column names in COPY order: the attributes, then the geometry (if any)."""
        return list(self.attrs.column_names) + ([GEOM] if self.geoms is not None else [])

    def __len__(self) -> int:
        return self.attrs.num_rows

    def schema_b64(self) -> str:
        """The attributes' Arrow schema, IPC-serialised and base64-encoded (see
        :func:`schema_from_b64`)."""
        return base64.b64encode(self.attrs.schema.serialize().to_pybytes()).decode("ascii")

    def csv_chunks(self) -> Iterator[bytes]:
        """The rows as CSV for ``COPY ... (FORMAT csv)``: NULL unquoted, strings quoted."""
        table = self.attrs
        for i, field in enumerate(table.schema):
            col = table.column(i)
            if pa.types.is_dictionary(field.type):
                col = col.cast(field.type.value_type)
            elif pa.types.is_null(field.type):
                col = col.cast(pa.large_string())
            elif pa.types.is_timestamp(field.type) and field.type.tz is not None:
                # the same instants as naive UTC wall times (the session's TimeZone is UTC):
                # Arrow writes those several times faster than zoned ones
                col = col.cast(pa.timestamp(field.type.unit))
            table = table.set_column(i, field.name, col)
        if self.geoms is not None:
            table = table.append_column(GEOM, _wkb_hex(self.geoms))
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        for start in range(0, table.num_rows, _COPY_ROWS):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(table.slice(start, _COPY_ROWS), sink, options)
            yield sink.getvalue().to_pybytes()


def _wkb_hex(geoms: np.ndarray) -> pa.Array:
    """Hex WKB (2D, SRID taken from the column) of each geometry; null for missing ones.

    Points (the big layers) are packed with numpy; other geometries go through shapely.
    """
    n = len(geoms)
    missing = shapely.is_missing(geoms)
    kinds = shapely.get_type_id(geoms)
    if np.all((kinds == 0) | missing):
        solid = ~missing & ~shapely.is_empty(geoms)
        rec = np.zeros(n, dtype=[("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
        rec["order"], rec["kind"] = 1, 1
        rec["x"], rec["y"] = np.nan, np.nan  # WKB of POINT EMPTY
        rec["x"][solid] = shapely.get_x(geoms[solid])
        rec["y"][solid] = shapely.get_y(geoms[solid])
        data = rec.tobytes()
        offsets = np.arange(n + 1, dtype=np.int64) * rec.dtype.itemsize
    else:
        binary = pa.array(shapely.to_wkb(geoms, output_dimension=2), type=pa.large_binary())
        data = binary.buffers()[2].to_pybytes() if n and binary.buffers()[2] else b""
        offsets = np.frombuffer(binary.buffers()[1], dtype=np.int64)[:n + 1] - (
            np.frombuffer(binary.buffers()[1], dtype=np.int64)[0] if n else 0)
    validity = pa.array(~missing).buffers()[1] if missing.any() else None
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer((offsets * 2).astype(np.int64)), pa.py_buffer(data.hex().encode()),
        validity, int(missing.sum()))


def encode(layer: str, frame: pd.DataFrame) -> Encoded:
    """Split ``frame`` into Arrow attributes and geometries; StoreError/SchemaError name ``layer``.

    Refuses a CRS other than EPSG:4326, a non-geometry column named ``geometry`` and a column
    Arrow cannot hold.
    """
    geoms = None
    attrs = frame
    if isinstance(frame, gpd.GeoDataFrame):
        if frame.crs is not None and frame.crs.to_epsg() != SRID:
            raise StoreError(
                f"layer {layer!r}: refusing to write CRS {frame.crs}: the store holds EPSG:{SRID}")
        geoms = np.asarray(frame.geometry.values)
        attrs = pd.DataFrame(frame.drop(columns=[frame.geometry.name]))
    if GEOM in attrs.columns:
        raise SchemaError(f"layer {layer!r}: a non-geometry column may not be named {GEOM!r}")
    try:
        table = pa.Table.from_pandas(attrs, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"layer {layer!r}: a column cannot be stored: {exc}") from exc
    return Encoded(table.replace_schema_metadata(None), geoms)


def arrow_sql_type(layer: str, name: str, typ: pa.DataType) -> str:
    """SQL type of a column of Arrow type ``typ`` in a derived table (SchemaError if none)."""
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_boolean(typ):
        return "boolean"
    if pa.types.is_integer(typ):
        return "bigint"
    if pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return "double precision"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_null(typ):
        return "text"
    if pa.types.is_timestamp(typ):
        return "timestamp with time zone" if typ.tz is not None else "timestamp"
    if pa.types.is_date(typ):
        return "date"
    raise SchemaError(f"layer {layer!r}, column {name!r}: type {typ} cannot be stored in PostGIS")


def spec_geometry_type(spec: LayerSpec) -> str:
    """PostGIS geometry type of a registered layer: its one type, the Multi of a pair, else Geometry."""
    kinds = set(spec.geometry_types or ())
    if len(kinds) == 1:
        return kinds.pop()
    for multi, single in MULTI.items():
        if kinds == {multi, single}:
            return multi
    return "Geometry"


# ---- SQL -> frames --------------------------------------------------------------------------
# A read selects each row rendered by PostgreSQL's record output, "(v1,v2,...)": CSV-like (NULL
# is an empty unquoted field; a value with a quote, backslash, comma, parenthesis or space is
# quoted, with '"' and '\\' doubled). Constant first and last fields absorb the parentheses.
# The rows arrive as bytes, are joined, and Arrow's CSV reader parses them column-wise.
# Timestamps travel as epoch microseconds, dates as epoch days, points as x/y, other geometries
# as hex WKB.

_FIRST, _LAST = "_riskmap_first", "_riskmap_last"


def _transport(col: Column) -> list[tuple[str, sql.Composable, pa.DataType]]:
    """(field name, SQL expression, Arrow CSV type) of each value sent for ``col``."""
    ident = sql.Identifier(col.name)
    if col.is_geometry and col.geometry_type == "Point":
        return [(f"{col.name}.x", sql.SQL("ST_X({})").format(ident), pa.float64()),
                (f"{col.name}.y", sql.SQL("ST_Y({})").format(ident), pa.float64()),
                (f"{col.name}.null", sql.SQL("{} IS NULL").format(ident), pa.bool_())]
    if col.is_geometry:
        return [(col.name, sql.SQL("encode(ST_AsBinary({}), 'hex')").format(ident),
                 pa.large_string())]
    if col.base_type in _TIME_T:
        expr: sql.Composable = sql.SQL("(extract(epoch FROM {}) * 1000000)::bigint").format(ident)
        return [(col.name, expr, pa.int64())]
    if col.base_type == "date":
        return [(col.name, sql.SQL("({} - DATE '1970-01-01')").format(ident), pa.int64())]
    if col.base_type in _INT_T:
        return [(col.name, sql.SQL("{}::bigint").format(ident), pa.int64())]
    if col.base_type in _FLOAT_T:
        return [(col.name, sql.SQL("{}::float8").format(ident), pa.float64())]
    if col.base_type == "bool":
        return [(col.name, ident, pa.bool_())]
    return [(col.name, sql.SQL("{}::text").format(ident), pa.large_string())]


def read_query(layer: str, cols: list[Column], where: sql.Composable) -> sql.Composed:
    """The read's SELECT: one record-text row per table row, parsed by :func:`decode`."""
    fields = [f for col in cols for f in _transport(col)]
    select = sql.SQL(", ").join(
        [sql.SQL("1 AS {}").format(sql.Identifier(_FIRST))]
        + [sql.SQL("{} AS {}").format(expr, sql.Identifier(name)) for name, expr, _ in fields]
        + [sql.SQL("1 AS {}").format(sql.Identifier(_LAST))])
    return sql.SQL("SELECT convert_to(r::text, 'UTF8') FROM (SELECT {} FROM {}{}) AS r").format(
        select, sql.Identifier(layer), where)


def _natural(col: Column, arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Turn the transport encoding back into the column's own Arrow type."""
    if col.base_type == "timestamptz":
        return arr.cast(pa.timestamp("us", tz="UTC"))
    if col.base_type == "timestamp":
        return arr.cast(pa.timestamp("us"))
    if col.base_type == "date":
        return arr.cast(pa.int32()).cast(pa.date32())
    return arr


def _points(x: np.ndarray, y: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Points from x/y; NaN coordinates are POINT EMPTY, unless ``null`` (then None)."""
    out = shapely.points(np.column_stack([x, y]))
    empty = np.isnan(x) & ~null
    out[empty] = shapely.Point()
    out[null] = None
    return out


def decode(blocks: list[bytes], cols: list[Column]) -> dict[str, Any]:
    """Parse the read query's rows: Arrow arrays and shapely geometries per column."""
    fields = [f for col in cols for f in _transport(col)]
    types = {name: typ for name, _, typ in fields}
    if not blocks:
        table = pa.table({name: pa.array([], type=typ) for name, typ in types.items()})
    else:
        table = pacsv.read_csv(
            pa.py_buffer(b"\n".join(blocks)),
            read_options=pacsv.ReadOptions(column_names=[_FIRST, *types, _LAST],
                                           block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, double_quote=True,
                                             escape_char="\\"),
            convert_options=pacsv.ConvertOptions(
                column_types={_FIRST: pa.string(), **types, _LAST: pa.string()},
                null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
                true_values=["t"], false_values=["f"]),
        )
    out: dict[str, Any] = {}
    for col in cols:
        if col.is_geometry and col.geometry_type == "Point":
            x, y, null = (table.column(f"{col.name}.{k}") for k in ("x", "y", "null"))
            out[col.name] = _points(x.to_numpy(), y.to_numpy(),
                                    null.fill_null(True).to_numpy().astype(bool))
        elif col.is_geometry:
            hexes = table.column(col.name).to_numpy(zero_copy_only=False)
            out[col.name] = shapely.from_wkb(hexes)
        else:
            out[col.name] = _natural(col, table.column(col.name))
    return out


def _string_mapper(t: pa.DataType) -> Any:
    """Arrow -> pandas dtype mapper: strings as pandas' string dtype, others by default."""
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype()
    return None


def _exact_mapper(t: pa.DataType) -> Any:
    """Like :func:`_string_mapper`, with nullable Int64 and boolean for spec columns."""
    if pa.types.is_integer(t):
        return pd.Int64Dtype()
    if pa.types.is_boolean(t):
        return pd.BooleanDtype()
    return _string_mapper(t)


def _to_target(arr: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """Cast a derived column back to the Arrow type it was written with."""
    if arr.type == target:
        return arr
    if pa.types.is_dictionary(target):
        return arr.cast(target.value_type).dictionary_encode()
    if pa.types.is_null(target):
        return pa.chunked_array([pa.nulls(len(arr))])
    return arr.cast(target, safe=False)


def _series(name: str, arr: pa.ChunkedArray, mapper: Any) -> pd.Series:
    """One Arrow column as a pandas Series, dtypes chosen by ``mapper``."""
    return pa.table({name: arr}).to_pandas(types_mapper=mapper)[name]


def to_frame(arrays: dict[str, Any], cols: list[Column], spec: LayerSpec | None,
             schema: pa.Schema | None) -> pd.DataFrame:
    """Assemble the frame the embedded store would return for the same data."""
    spec_dtypes = dict(spec.empty().dtypes) if spec is not None else {}
    data: dict[str, pd.Series] = {}
    geom_col: Column | None = None
    for col in cols:
        if col.is_geometry:
            geom_col = col
            continue
        arr = arrays[col.name]
        if col.name in spec_dtypes:
            if col.base_type == "date":
                arr = arr.cast(pa.timestamp("us"))
            s = _series(col.name, arr, _exact_mapper)
            want = spec_dtypes[col.name]
            data[col.name] = s if s.dtype == want else s.astype(want)
        else:
            if schema is not None and col.name in schema.names:
                arr = _to_target(arr, schema.field(col.name).type)
            data[col.name] = _series(col.name, arr, _string_mapper)
    frame = pd.DataFrame(data)
    if geom_col is None:
        return frame
    geoms = gpd.GeoSeries(arrays[geom_col.name], crs=SRID)
    return gpd.GeoDataFrame(frame, geometry=geoms.rename(GEOM))


def schema_from_b64(text: str) -> pa.Schema:
    """The Arrow schema written by :meth:`Encoded.schema_b64`."""
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def py_value(value: Any) -> Any:
    """A query parameter psycopg adapts: pandas timestamps and numpy scalars as Python values."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value
