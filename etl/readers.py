"""Read user files (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile, GeoParquet) into raw frames.

Every reader returns the file's rows with its original columns, renamed by ``--map`` and by a
small table of common header spellings, plus ``_row``: the row number a user sees (for
CSV/XLSX the spreadsheet row, the header being row 1; for vector formats the feature number).
Tabular values are kept as text so that nothing is lost before validation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

import geopandas as gpd

from riskmap.errors import InputFileError, MissingColumnError

__all__ = ["COMMON_ALIASES", "HEADER_ALIASES", "RawChunk", "detect_format", "iter_raw", "parse_mapping", "read_raw"]

#: header spellings shared by every layer (matched case-insensitively)
COMMON_ALIASES: dict[str, str] = {
    "latitude": "lat", "y": "lat", "широта": "lat", "kenglik": "lat",
    "longitude": "lon", "lng": "lon", "long": "lon", "x": "lon", "долгота": "lon",
    "uzunlik": "lon",
    "адрес": "address", "manzil": "address",
    "махалля": "mahalla", "mfy": "mahalla", "mahalla_name": "mahalla",
    "район": "district", "tuman": "district",
    "область": "region", "viloyat": "region",
}

#: per-layer header spellings
HEADER_ALIASES: dict[str, dict[str, str]] = {
    "incidents": {
        "id": "incident_id", "incident": "incident_id", "case_id": "incident_id",
        "№": "incident_id", "номер": "incident_id",
        "date": "occurred_at", "datetime": "occurred_at", "date_time": "occurred_at",
        "time": "occurred_at", "дата": "occurred_at", "sana": "occurred_at",
        "vaqt": "occurred_at",
        "type": "category", "crime_type": "category", "категория": "category",
        "вид": "category", "turi": "category", "jinoyat turi": "category",
    },
    "mahallas": {"id": "mahalla_id", "mfy_id": "mahalla_id", "nomi": "name",
                 "название": "name", "население": "population", "aholi": "population"},
    "cameras": {"id": "camera_id", "camera": "camera_id", "camera_type": "type",
                "bearing": "bearing_deg", "azimuth": "bearing_deg", "fov": "fov_deg",
                "range": "range_m", "height": "height_m"},
    "infrastructure": {"id": "feature_id", "type": "kind", "category": "kind"},
}

_VECTOR = {".geojson": "vector", ".json": "vector", ".gpkg": "vector", ".shp": "vector",
           ".zip": "vector", ".fgb": "vector"}


@dataclass
class RawChunk:
    """A block of raw rows (text columns plus ``_row``; a GeoDataFrame for vector files)."""

    frame: pd.DataFrame
    total_rows: int | None  # rows in the whole file when known up front


def parse_mapping(pairs: tuple[str, ...] | list[str] | None) -> dict[str, str]:
    """Parse ``--map SOURCE=FIELD`` options."""
    out: dict[str, str] = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise ValueError(f"--map {pair!r}: expected SOURCE=FIELD")
        src, dst = pair.split("=", 1)
        if not src.strip() or not dst.strip():
            raise ValueError(f"--map {pair!r}: expected SOURCE=FIELD")
        out[src.strip()] = dst.strip()
    return out


def detect_format(path: Path) -> str:
    """One of ``csv``, ``xlsx``, ``parquet``, ``vector``."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"}:
        return "csv"
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        return "xlsx"
    if suffix in {".parquet", ".geoparquet"}:
        return "parquet"
    if suffix in _VECTOR:
        return "vector"
    raise InputFileError(path, f"unsupported file type {suffix!r} (expected CSV, XLSX, GeoJSON, "
                         "GeoPackage, zipped Shapefile or GeoParquet)")


def read_raw(path: str | Path, *, mapping: Mapping[str, str] | None = None,
             layer: str | None = None) -> pd.DataFrame:
    """Read a whole file into one raw frame."""
    chunks = [c.frame for c in iter_raw(path, mapping=mapping, chunk_rows=None, layer=layer)]
    if len(chunks) == 1:
        return chunks[0]
    out = pd.concat(chunks, ignore_index=True)
    if isinstance(chunks[0], gpd.GeoDataFrame):
        return gpd.GeoDataFrame(out, geometry="geometry", crs=chunks[0].crs)
    return out


def iter_raw(path: str | Path, *, mapping: Mapping[str, str] | None = None,
             chunk_rows: int | None = 250_000, layer: str | None = None) -> Iterator[RawChunk]:
    """Yield raw chunks of a file (CSV is streamed; other formats are read whole then split).

    ``layer`` picks that layer's header aliases (see :data:`HEADER_ALIASES`).
    """
    path = Path(path)
    aliases = {**COMMON_ALIASES, **HEADER_ALIASES.get(layer or "", {})}
    if not path.exists():
        raise InputFileError(path, "file not found")
    fmt = detect_format(path)
    try:
        if fmt == "csv":
            yield from _iter_csv(path, mapping, chunk_rows, aliases)
            return
        if fmt == "xlsx":
            frame = _read_xlsx(path)
        elif fmt == "parquet":
            frame = _read_parquet(path)
        else:
            frame = _read_vector(path)
    except InputFileError:
        raise
    except Exception as exc:  # unreadable file of a known type
        raise InputFileError(path, f"cannot read {fmt.upper()} file: {exc}") from exc
    frame = _rename(frame, mapping, aliases)
    frame.insert(0, "_row", np.arange(1, len(frame) + 1) + (1 if fmt == "xlsx" else 0))
    step = chunk_rows or max(len(frame), 1)
    for start in range(0, max(len(frame), 1), step):
        yield RawChunk(frame.iloc[start:start + step], len(frame))


def _rename(frame: pd.DataFrame, mapping: Mapping[str, str] | None,
            aliases: Mapping[str, str]) -> pd.DataFrame:
    """Apply ``--map`` renames, then the header aliases where they clash with nothing."""
    mapping = dict(mapping or {})
    geom = getattr(frame, "_geometry_column_name", None)
    cleaned = {c: mapping.get(str(c), re.sub(r"\s+", " ", str(c).replace("\ufeff", "").strip()))
               for c in frame.columns if c != geom}
    present = set(cleaned.values())
    final: dict[object, str] = {}
    for col, name in cleaned.items():
        alias = None if str(col) in mapping else aliases.get(name.lower())
        if alias and alias not in present:
            final[col] = alias
            present.add(alias)
        else:
            final[col] = name
    return frame.rename(columns=final)


def _iter_csv(path: Path, mapping: Mapping[str, str] | None, chunk_rows: int | None,
              aliases: Mapping[str, str]) -> Iterator[RawChunk]:
    try:
        head = path.open("rb").read(65536)
    except OSError as exc:
        raise InputFileError(path, f"cannot read file: {exc}") from exc
    if not head.strip():
        raise InputFileError(path, "file is empty")
    text = head.decode("utf-8", errors="replace")
    first = text.splitlines()[0] if text.splitlines() else ""
    delimiter = max([",", ";", "\t"], key=first.count)
    read_opts = pacsv.ReadOptions(block_size=1 << 24, encoding="utf8")
    parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        columns = pacsv.open_csv(path, read_options=read_opts, parse_options=parse_opts,
                                 convert_options=pacsv.ConvertOptions(
                                     column_types={}, strings_can_be_null=False)).schema.names
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns}, strings_can_be_null=False,
            quoted_strings_can_be_null=False)
        reader = pacsv.open_csv(path, read_options=read_opts, parse_options=parse_opts,
                                convert_options=convert)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"not a readable CSV file: {exc}") from exc
    row = 2  # the header is row 1
    buffer: list[pa.RecordBatch] = []
    buffered = 0
    target = chunk_rows or 1 << 62
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise InputFileError(path, f"malformed CSV near row {row + buffered}: {exc}",
                                 row=row + buffered) from exc
        buffer.append(batch)
        buffered += batch.num_rows
        if buffered >= target:
            yield _csv_chunk(buffer, row, mapping, aliases)
            row += buffered
            buffer, buffered = [], 0
    if buffer or row == 2:
        if not buffer:
            empty = pd.DataFrame({c: pd.Series(dtype="string") for c in columns})
            empty.insert(0, "_row", pd.Series(dtype="int64"))
            yield RawChunk(_rename(empty, mapping, aliases), None)
        else:
            yield _csv_chunk(buffer, row, mapping, aliases)


def _csv_chunk(batches: list[pa.RecordBatch], first_row: int,
               mapping: Mapping[str, str] | None, aliases: Mapping[str, str]) -> RawChunk:
    table = pa.Table.from_batches(batches)
    frame = table.to_pandas(types_mapper=lambda t: pd.StringDtype() if pa.types.is_string(t)
                            else None)
    frame = _rename(frame, mapping, aliases)
    frame.insert(0, "_row", np.arange(first_row, first_row + len(frame)))
    return RawChunk(frame, None)


def _read_xlsx(path: Path) -> pd.DataFrame:
    frame = pd.read_excel(path, dtype=object, engine="openpyxl")
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if b"geo" in meta:
        return gpd.read_parquet(path).to_crs(4326)
    return pd.read_parquet(path)


def _read_vector(path: Path) -> gpd.GeoDataFrame:
    import pyogrio

    target = f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)
    try:
        frame = pyogrio.read_dataframe(target)
    except Exception as exc:
        raise InputFileError(path, f"cannot read vector file: {exc}") from exc
    if frame.crs is None:
        frame = frame.set_crs(4326)
    elif frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    return frame


def require_columns(path: Path | str, frame: pd.DataFrame, columns: list[str]) -> None:
    """Raise :class:`MissingColumnError` for the first required column not in ``frame``."""
    for col in columns:
        if col not in frame.columns:
            raise MissingColumnError(path, col, [c for c in frame.columns if c != "_row"])
