"""Frames to and from PostgreSQL: binary COPY, the read query's transport, SQL/Arrow types.

Private to :mod:`layers.postgis`, which owns the connection; nothing here runs SQL. A write
splits a frame into Arrow attributes and shapely geometries (:func:`encode`) and streams them in
PostgreSQL's binary COPY format (:meth:`Encoded.binary_copy`: every value in the table column's
own binary form, geometries as WKB), built a column at a time with numpy and Arrow. A column
whose type has no binary encoder here falls back to ``COPY ... (FORMAT csv)``
(:meth:`Encoded.csv_chunks`). A read runs :func:`read_query` and :func:`decode` parses its rows
column-wise; :func:`to_frame` assembles the frame the embedded (GeoParquet) store would return.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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
    "BinaryCopy",
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

    def take(self, rows: np.ndarray) -> Encoded:
        """The rows at ``rows`` (positions), in that order."""
        return Encoded(self.attrs.take(pa.array(rows, type=pa.int64())),
                       None if self.geoms is None else self.geoms[rows])

    def slice(self, start: int, stop: int) -> Encoded:
        """Rows ``start:stop`` (no copy)."""
        return Encoded(self.attrs.slice(start, stop - start),
                       None if self.geoms is None else self.geoms[start:stop])

    def binary_copy(self, table: list[Column]) -> BinaryCopy | None:
        """The plan to COPY these rows in binary into ``table`` (its catalogue columns), or
        None when a column's type has no binary encoder here (then use :meth:`csv_chunks`)."""
        by_name = {c.name: c for c in table}
        encoders = []
        for name in self.names:
            col = by_name.get(name)
            if col is None:
                return None
            data = self.geoms if name == GEOM and self.geoms is not None else \
                self.attrs.column(name)
            encoder = _binary_encoder(col, data)
            if encoder is None:
                return None
            encoders.append((name, encoder))
        return BinaryCopy(self, encoders)

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


# ---- binary COPY -------------------------------------------------------------------------------
# A binary COPY stream is a header, then per row an int16 field count and per field an int32
# length (-1 for NULL) and the value in the type's binary receive format (big-endian), then an
# int16 -1. Fields of a fixed width and no NULL in a batch are packed into one numpy record per
# row; the others (text, NULLs, non-point geometries) are Arrow binary arrays of length +
# value; Arrow's ``binary_join_element_wise`` lays each row out. The COPY names the columns in
# that order, so fixed fields come first whatever the table's column order.

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
_COPY_TRAILER = b"\xff\xff"
_COPY_BATCH = 100_000  # rows encoded at a time
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds
_PG_EPOCH_DAYS = 10_957
_NULL_LENGTH = np.frombuffer(np.array([-1], dtype=">i4").tobytes(), dtype=np.uint8)
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")],
                      align=False)
_FIXED = {"int8": ">i8", "int4": ">i4", "int2": ">i2", "float8": ">f8", "float4": ">f4",
          "bool": "u1", "timestamptz": ">i8", "timestamp": ">i8", "date": ">i4"}
_TEXT = frozenset({"text", "varchar", "bpchar", "name"})


class _Encoder:
    """How one column is sent: ``fixed`` values (numpy, big-endian, with a null mask) or
    ``binary`` values (Arrow binary, nulls as null)."""

    def __init__(self, width: int | None, values: Any, *, nullable: bool = False) -> None:
        self.width = width  # bytes of a fixed-width value, None for variable width
        self.values = values  # callable(start, stop) -> (values, null mask or None)
        self.nullable = nullable  # a fixed-width column with a NULL somewhere

    @property
    def packed(self) -> bool:
        """Sent in the fixed-width record of each row (same place and width in every row)."""
        return self.width is not None and not self.nullable


def _binary_encoder(col: Column, data: Any) -> _Encoder | None:
    """The encoder of a column of table type ``col`` holding ``data`` (Arrow or geometries)."""
    if col.is_geometry:
        return _geometry_encoder(data)
    if isinstance(data, pa.ChunkedArray):  # one chunk is used as it is (no copy)
        data = (data.chunk(0) if data.num_chunks == 1 else data.combine_chunks()
                if data.num_chunks else pa.array([], data.type))
    typ = data.type
    if pa.types.is_dictionary(typ):
        data = data.cast(typ.value_type)
        typ = data.type
    base = col.base_type
    if base in _TEXT:
        if not (pa.types.is_null(typ) or pa.types.is_string(typ)
                or pa.types.is_large_string(typ)):
            return None
        text = data.cast(pa.large_string())
        return _Encoder(None, lambda a, b: (text.slice(a, b - a).cast(pa.large_binary()), None))
    numbers = _fixed_numbers(base, data)
    if numbers is None:
        return None
    kind = _FIXED[base]
    if base in ("int4", "int2") and len(numbers):
        info = np.iinfo(np.dtype(kind))
        if numbers.min() < info.min or numbers.max() > info.max:
            return None  # out of range: the text path reports it
    nulls = data.is_null().to_numpy(zero_copy_only=False) if data.null_count else None
    # to the wire's byte order a batch at a time, on the thread that encodes it
    return _Encoder(np.dtype(kind).itemsize, lambda a, b: (
        numbers[a:b].astype(kind), None if nulls is None else nulls[a:b]),
        nullable=nulls is not None)


def _fixed_numbers(base: str, data: pa.Array) -> np.ndarray | None:
    """The values of a fixed-width column as numbers of the table type (NULLs as 0), or None
    when the Arrow type does not go into that SQL type as the text would."""
    typ = data.type
    null = pa.types.is_null(typ)
    if base not in _FIXED:
        return None
    if base in ("int8", "int4", "int2"):
        ok = pa.types.is_integer(typ)
    elif base in ("float8", "float4"):
        ok = pa.types.is_floating(typ) or pa.types.is_integer(typ) or pa.types.is_decimal(typ)
    elif base == "bool":
        ok = pa.types.is_boolean(typ)
    elif base == "date":
        ok = pa.types.is_date(typ)
    else:
        ok = pa.types.is_timestamp(typ)
    if null:
        return np.zeros(len(data), dtype=np.int64)
    if not ok:
        return None
    if base in ("timestamptz", "timestamp"):
        raw = data.cast(pa.timestamp(typ.unit)).cast(pa.int64()).fill_null(0).to_numpy()
        per = {"s": 1_000_000, "ms": 1_000, "us": 1}.get(typ.unit)
        micros = raw * per if per is not None else (raw + 500) // 1000  # ns: rounded, as text
        return micros - _PG_EPOCH_US
    if base == "date":
        return data.cast(pa.date32()).cast(pa.int32()).fill_null(0).to_numpy() - _PG_EPOCH_DAYS
    if base == "bool":
        return data.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8)
    if pa.types.is_decimal(typ):
        data = data.cast(pa.float64())
    if not data.null_count:
        return data.to_numpy(zero_copy_only=False)  # without nulls: a view of the buffer
    try:
        filled = data.fill_null(0)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return filled.to_numpy(zero_copy_only=False)


def _geometry_encoder(geoms: np.ndarray) -> _Encoder:
    """WKB without SRID (the column's typmod gives it, as for text input); points with numpy."""
    missing = shapely.is_missing(geoms)
    kinds = shapely.get_type_id(geoms)
    if np.all((kinds == 0) | missing):
        def points(a: int, b: int) -> tuple[Any, Any]:
            part = geoms[a:b]
            gone = missing[a:b]
            solid = ~gone & ~shapely.is_empty(part)
            rec = np.empty(len(part), dtype=_WKB_POINT)
            rec["order"], rec["type"] = 1, 1
            rec["x"], rec["y"] = np.nan, np.nan  # WKB of POINT EMPTY
            rec["x"][solid] = shapely.get_x(part[solid])
            rec["y"][solid] = shapely.get_y(part[solid])
            return rec.view(np.uint8).reshape(len(part), _WKB_POINT.itemsize), gone
        return _Encoder(_WKB_POINT.itemsize, points, nullable=bool(missing.any()))

    def wkb(a: int, b: int) -> tuple[Any, Any]:
        part = geoms[a:b]
        return pa.array(shapely.to_wkb(part, output_dimension=2), type=pa.large_binary()), None
    return _Encoder(None, wkb)


def _length_prefix(lengths: np.ndarray) -> pa.Array:
    """A binary array of 4-byte big-endian lengths (-1: NULL)."""
    n = len(lengths)
    return pa.Array.from_buffers(pa.large_binary(), n, [
        None, pa.py_buffer(np.arange(n + 1, dtype=np.int64) * 4),
        pa.py_buffer(np.ascontiguousarray(lengths.astype(">i4")))])


def _fixed_with_nulls(raw: np.ndarray, nulls: np.ndarray, width: int) -> pa.Array:
    """length + value of each row, ``-1`` alone for a NULL, as one binary array."""
    n = len(nulls)
    rec = np.empty((n, 4 + width), dtype=np.uint8)
    rec[:, :4] = np.frombuffer(np.array([width], dtype=">i4").tobytes(), dtype=np.uint8)
    rec[:, 4:] = np.ascontiguousarray(raw).view(np.uint8).reshape(n, width)
    rec[nulls, :4] = _NULL_LENGTH
    keep = np.ones((n, 4 + width), dtype=bool)
    keep[nulls, 4:] = False
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.where(nulls, 4, 4 + width), out=offsets[1:])
    return pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets),
                                                        pa.py_buffer(rec[keep])])


class BinaryCopy:
    """Rows in PostgreSQL's binary COPY format: :attr:`columns` in the order sent, and
    :meth:`chunks` of bytes (header first, trailer last)."""

    def __init__(self, enc: Encoded, encoders: list[tuple[str, _Encoder]]) -> None:
        self.rows = len(enc)
        fixed = [(n, e) for n, e in encoders if e.packed]
        varying = [(n, e) for n, e in encoders if not e.packed]
        self._order = fixed + varying
        self.columns = [n for n, _ in self._order]

    def chunks(self, start: int = 0, stop: int | None = None,
               batch: int = _COPY_BATCH) -> Iterator[bytes | memoryview]:
        """The stream of rows ``start:stop``, ``batch`` rows at a time."""
        stop = self.rows if stop is None else stop
        yield _COPY_HEADER
        for a in range(start, stop, batch):
            yield self._batch(a, min(a + batch, stop))
        yield _COPY_TRAILER

    def _batch(self, a: int, b: int) -> bytes | memoryview:
        n = b - a
        fields: list[tuple[str, Any]] = [("count", ">i2")]
        packed: list[tuple[int, np.ndarray]] = []
        varying: list[pa.Array] = []
        for i, (_, enc) in enumerate(self._order):
            values, nulls = enc.values(a, b)
            if enc.packed:
                fields += [(f"l{i}", ">i4"), (f"v{i}", "V" + str(enc.width))]
                packed.append((i, values))
            elif enc.width is not None:
                varying.append(_fixed_with_nulls(values, nulls, enc.width))
            else:
                lengths = pc.binary_length(values).fill_null(-1).to_numpy(
                    zero_copy_only=False)
                varying += [_length_prefix(lengths), values]
        head = np.empty(n, dtype=np.dtype(fields, align=False))
        head["count"] = len(self._order)
        for i, values in packed:
            head[f"l{i}"] = values.dtype.itemsize if values.ndim == 1 else values.shape[1]
            head[f"v{i}"] = np.ascontiguousarray(values).view(head.dtype[f"v{i}"]).reshape(n)
        if not varying:
            return head.tobytes()
        first = pa.Array.from_buffers(pa.large_binary(), n, [
            None, pa.py_buffer(np.arange(n + 1, dtype=np.int64) * head.dtype.itemsize),
            pa.py_buffer(head)])
        joined = pc.binary_join_element_wise(first, *varying, pa.scalar(b"", pa.large_binary()),
                                             null_handling="replace", null_replacement=b"")
        offsets = np.frombuffer(joined.buffers()[1], dtype=np.int64)[joined.offset:][:n + 1]
        return memoryview(joined.buffers()[2])[int(offsets[0]):int(offsets[-1])]


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


def _frame(arrays: dict[str, pa.ChunkedArray], mapper: Any) -> pd.DataFrame:
    """Arrow columns as one pandas frame, dtypes chosen by ``mapper`` (one conversion for
    all of them: per column it cost ~1 ms each, most of a small read such as a session's)."""
    if not arrays:
        return pd.DataFrame()
    return pa.table(arrays).to_pandas(types_mapper=mapper)


def to_frame(arrays: dict[str, Any], cols: list[Column], spec: LayerSpec | None,
             schema: pa.Schema | None) -> pd.DataFrame:
    """Assemble the frame the embedded store would return for the same data."""
    spec_dtypes = spec.dtypes if spec is not None else {}
    exact: dict[str, pa.ChunkedArray] = {}
    loose: dict[str, pa.ChunkedArray] = {}
    geom_col: Column | None = None
    for col in cols:
        if col.is_geometry:
            geom_col = col
            continue
        arr = arrays[col.name]
        if col.name in spec_dtypes:
            if col.base_type == "date":
                arr = arr.cast(pa.timestamp("us"))
            exact[col.name] = arr
        else:
            if schema is not None and col.name in schema.names:
                arr = _to_target(arr, schema.field(col.name).type)
            loose[col.name] = arr
    parts = [p for p in (_frame(exact, _exact_mapper), _frame(loose, _string_mapper))
             if len(p.columns)]
    frame = (parts[0] if len(parts) == 1 else pd.concat(parts, axis=1) if parts
             else pd.DataFrame())
    order = [c.name for c in cols if c.name in frame.columns]
    if list(frame.columns) != order:
        frame = frame[order]
    fix = {name: spec_dtypes[name] for name in exact
           if frame[name].dtype != spec_dtypes[name]}
    if fix:
        frame = frame.astype(fix)
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
