"""Read user files (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile, GeoParquet) into raw frames.

Every reader returns the file's rows with its original columns, renamed (see :func:`iter_raw`),
plus reader columns whose names start with ``_`` (:data:`READER_COLUMNS`):

- ``_row``: the row number a user sees (for CSV the line of the record, the header being row 1;
  for XLSX the spreadsheet row of its sheet; for vector formats the feature number);
- ``_sheet``: the worksheet of each row, for workbooks with more than one sheet;
- ``_formula``: for XLSX, the cells of the row that hold a formula without a calculated value
  (a workbook written by a program and never opened in a spreadsheet), else missing.

Tabular values are kept as text (CSV) or as the spreadsheet's own values (XLSX) so that nothing
is lost before validation. Vector and GeoParquet geometries come back in EPSG:4326: a file
without a CRS is taken as longitude/latitude only when its coordinates are plausible degrees,
otherwise it is refused with advice to give ``--crs``; the same check applies to projected x/y
given as ``lat``/``lon`` columns (see :mod:`riskmap.etl.crs`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

import geopandas as gpd
import pyproj

from riskmap.errors import InputFileError, MissingColumnError
from riskmap.etl.crs import georeference, parse_crs

__all__ = [
    "COMMON_ALIASES",
    "HEADER_ALIASES",
    "MAX_ID_CHARS",
    "MAX_TEXT_CHARS",
    "READER_COLUMNS",
    "RawChunk",
    "detect_format",
    "iter_raw",
    "parse_mapping",
    "read_raw",
    "require_columns",
    "source_labels",
    "text_faults",
]

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
        "incident_no": "incident_id", "incident_number": "incident_id",
        "case_no": "incident_id", "case_number": "incident_id",
        "№": "incident_id", "номер": "incident_id",
        "date": "occurred_at", "datetime": "occurred_at", "date_time": "occurred_at",
        "time": "occurred_at", "дата": "occurred_at", "sana": "occurred_at",
        "vaqt": "occurred_at", "offense_date": "occurred_at", "offence_date": "occurred_at",
        "type": "category", "crime_type": "category", "категория": "category",
        "вид": "category", "turi": "category", "jinoyat turi": "category",
        "offense": "category", "offence": "category",
        # date and time split over columns (assembled by the incident transform)
        "year": "year", "yil": "year", "год": "year",
        "month": "month", "oy": "month", "месяц": "month",
        "day": "day", "kun": "day", "день": "day",
        "hour": "hour", "soat": "hour", "час": "hour",
        "minute": "minute", "daqiqa": "minute", "минута": "minute",
        # focus fields (etl/focus.py reads their values)
        "вид преступления": "category", "жиноят тури": "category",
        "victim sex": "victim_sex", "victim_gender": "victim_sex",
        "jabrlanuvchi jinsi": "victim_sex", "жабрланувчи жинси": "victim_sex",
        "пол потерпевшего": "victim_sex", "пол жертвы": "victim_sex",
        "victim age": "victim_age", "jabrlanuvchi yoshi": "victim_age",
        "жабрланувчи ёши": "victim_age", "возраст потерпевшего": "victim_age",
        "возраст жертвы": "victim_age",
        "jabrlanuvchi yosh guruhi": "victim_age_group",
        "возрастная группа потерпевшего": "victim_age_group",
        "offender sex": "offender_sex", "offender_gender": "offender_sex",
        "suspect_sex": "offender_sex", "jinoyatchi jinsi": "offender_sex",
        "gumonlanuvchi jinsi": "offender_sex", "жиноятчи жинси": "offender_sex",
        "гумонланувчи жинси": "offender_sex", "пол подозреваемого": "offender_sex",
        "пол преступника": "offender_sex", "пол правонарушителя": "offender_sex",
        "offender age": "offender_age", "suspect_age": "offender_age",
        "jinoyatchi yoshi": "offender_age", "gumonlanuvchi yoshi": "offender_age",
        "жиноятчи ёши": "offender_age", "гумонланувчи ёши": "offender_age",
        "возраст подозреваемого": "offender_age", "возраст преступника": "offender_age",
        "возраст правонарушителя": "offender_age",
        "jinoyatchi yosh guruhi": "offender_age_group",
        "возрастная группа подозреваемого": "offender_age_group",
        "family": "domestic", "domestic_violence_context": "domestic",
        "oilaviy": "domestic", "oilaviy-maishiy": "domestic", "oilada": "domestic",
        "оилавий": "domestic", "оилавий-маиший": "domestic", "бытовое": "domestic",
        "семейно-бытовое": "domestic", "в семье": "domestic", "семейное": "domestic",
        "repeat": "repeat_offender", "recidivist": "repeat_offender",
        "takroriy": "repeat_offender", "ilgari sudlangan": "repeat_offender",
        "такрорий": "repeat_offender", "илгари судланган": "repeat_offender",
        "рецидив": "repeat_offender", "ранее судимый": "repeat_offender",
        "повторное": "repeat_offender",
        "probation": "on_probation", "shartli": "on_probation",
        "shartli hukm qilingan": "on_probation", "шартли": "on_probation",
        "probatsiya": "on_probation", "пробация": "on_probation",
        "условно осуждённый": "on_probation", "условно осужденный": "on_probation",
        "на пробации": "on_probation",
    },
    "mahallas": {"id": "mahalla_id", "mfy_id": "mahalla_id", "nomi": "name",
                 "название": "name", "население": "population", "aholi": "population"},
    "cameras": {"id": "camera_id", "camera": "camera_id", "camera_type": "type",
                "bearing": "bearing_deg", "azimuth": "bearing_deg", "fov": "fov_deg",
                "range": "range_m", "height": "height_m"},
    "infrastructure": {"id": "feature_id", "type": "kind", "category": "kind"},
}

#: fields a layer's input may carry besides its stored columns (see :func:`_expand_truncated`)
_INPUT_FIELDS: dict[str, tuple[str, ...]] = {
    "incidents": ("lat", "lon", "address", "mahalla", "quarantine_id",
                  "year", "month", "day", "hour", "minute", "second",
                  "victim_age", "offender_age"),
    "cameras": ("lat", "lon"),
    "infrastructure": ("lat", "lon"),
}

#: columns the readers add (never part of a user's row)
READER_COLUMNS = ("_row", "_sheet", "_formula")
#: the longest id (incident, camera, feature, mahalla or quarantine id) a row may carry
MAX_ID_CHARS = 200
#: the longest value of any other field a layer uses (PostgreSQL refuses index entries over
#: ~2,700 bytes; 500 characters stay below that even at 4 bytes per character)
MAX_TEXT_CHARS = 500

_VECTOR = {".geojson": "vector", ".json": "vector", ".gpkg": "vector", ".shp": "vector",
           ".zip": "vector", ".fgb": "vector"}
_SHAPEFILE_NAME_CHARS = 10


@dataclass
class RawChunk:
    """A block of raw rows (text columns plus ``_row``; a GeoDataFrame for vector files).

    ``notes`` (on the first chunk only) tell what the reader decided on the user's behalf:
    renamed duplicate or truncated headers, skipped empty sheets, an unused ``--crs``.
    """

    frame: pd.DataFrame
    total_rows: int | None  # rows in the whole file when known up front
    notes: list[str] = field(default_factory=list)


def parse_mapping(pairs: tuple[str, ...] | list[str] | None) -> dict[str, str]:
    """Parse ``--map SOURCE=FIELD`` (or ``--default FIELD=VALUE``) options."""
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
    """One of ``csv`` (also gzip-compressed, ``.csv.gz``), ``xlsx``, ``parquet``, ``vector``."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"} or (
            suffix == ".gz" and Path(path.stem).suffix.lower() in {".csv", ".txt", ".tsv"}):
        return "csv"
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        return "xlsx"
    if suffix in {".parquet", ".geoparquet"}:
        return "parquet"
    if suffix in _VECTOR:
        return "vector"
    raise InputFileError(path, f"unsupported file type {suffix!r} (expected CSV or .csv.gz, "
                         "XLSX, GeoJSON, GeoPackage, zipped Shapefile or GeoParquet)")


def read_raw(path: str | Path, *, mapping: Mapping[str, str] | None = None,
             layer: str | None = None, crs: Any = None, sheet: str | None = None,
             defaults: Mapping[str, str] | None = None,
             notes: list[str] | None = None) -> pd.DataFrame:
    """Read a whole file into one raw frame (see :func:`iter_raw`); ``notes`` collects notes."""
    chunks = list(iter_raw(path, mapping=mapping, chunk_rows=None, layer=layer, crs=crs,
                           sheet=sheet, defaults=defaults))
    if notes is not None:
        for c in chunks:
            notes.extend(c.notes)
    frames = [c.frame for c in chunks]
    if len(frames) == 1:
        return frames[0]
    out = pd.concat(frames, ignore_index=True)
    if isinstance(frames[0], gpd.GeoDataFrame):
        return gpd.GeoDataFrame(out, geometry="geometry", crs=frames[0].crs)
    return out


def iter_raw(path: str | Path, *, mapping: Mapping[str, str] | None = None,
             chunk_rows: int | None = 250_000, layer: str | None = None, crs: Any = None,
             sheet: str | None = None,
             defaults: Mapping[str, str] | None = None) -> Iterator[RawChunk]:
    """Yield raw chunks of a file (CSV is streamed; other formats are read whole then split).

    Headers are renamed in this order: a header that appears more than once gets ``_2``,
    ``_3``, ... on its later copies (reported in the notes); then ``--map`` renames
    (``mapping``, by header); then the header aliases of ``layer`` (see
    :data:`HEADER_ALIASES`) where they clash with nothing; then a 10-character header that is
    the start of exactly one field of the layer (a Shapefile's truncated ``occurred_a``)
    becomes that field. Two columns that still share a name (two ``--map`` to one field) are
    refused. ``defaults`` (``--default FIELD=VALUE``) then fill a field on rows where the
    file gives none (the column is missing or the cell is blank).

    ``crs`` is the source CRS of vector/GeoParquet files that declare none, or that declare
    longitude/latitude while their coordinates are mostly projected metres (a GeoJSON without
    a CRS, a wrong .prj); such a file without ``crs`` is refused. A file that declares a
    projected CRS keeps it (a note says ``--crs`` was not used). ``sheet`` chooses one
    worksheet of an XLSX workbook; by default every sheet with rows is read (their headers
    must match) and empty sheets are skipped with a note.
    """
    path = Path(path)
    aliases = {**COMMON_ALIASES, **HEADER_ALIASES.get(layer or "", {})}
    fields = _layer_fields(layer)
    if not path.exists():
        raise InputFileError(path, "file not found")
    fmt = detect_format(path)
    crs = parse_crs(crs)
    if sheet is not None and fmt != "xlsx":
        raise InputFileError(path, f"--sheet {sheet!r}: only XLSX workbooks have sheets")
    rename = _Renamer(path, mapping, aliases, fields, defaults)
    notes: list[str] = []
    try:
        if fmt == "csv":
            yield from _iter_csv(path, chunk_rows, rename)
            return
        if fmt == "xlsx":
            from riskmap.etl.xlsx import read_xlsx  # it imports READER_COLUMNS from here

            frame = read_xlsx(path, sheet, notes)
        elif fmt == "parquet":
            frame = _read_parquet(path, crs, notes)
        else:
            frame = _read_vector(path, crs, notes)
    except InputFileError:
        raise
    except Exception as exc:  # unreadable file of a known type
        raise InputFileError(path, f"cannot read {fmt.upper()} file: {exc}") from exc
    if "_row" not in frame.columns:
        frame.insert(0, "_row", np.arange(1, len(frame) + 1))
    frame = rename(frame)
    notes += rename.notes
    step = chunk_rows or max(len(frame), 1)
    for start in range(0, max(len(frame), 1), step):
        yield RawChunk(frame.iloc[start:start + step], len(frame), notes if start == 0 else [])


def require_columns(path: Path | str, frame: pd.DataFrame, columns: list[str]) -> None:
    """Raise :class:`MissingColumnError` for the first required column not in ``frame``."""
    for col in columns:
        if col not in frame.columns:
            raise MissingColumnError(path, col, [c for c in frame.columns
                                                 if c not in READER_COLUMNS])


def source_labels(raw: pd.DataFrame, name: str) -> np.ndarray:
    """Where each row came from: the file name, with ``[sheet]`` for multi-sheet workbooks.

    Square brackets cannot occur in a sheet name, so ``book.xlsx[Austin]`` is unambiguous.
    """
    if "_sheet" not in raw.columns:
        return np.full(len(raw), name, dtype=object)
    sheet = raw["_sheet"].astype("string")
    return (name + "[" + sheet + "]").fillna(name).to_numpy(dtype=object)


# ---- limits every store can hold ---------------------------------------------------------------

def text_faults(series: pd.Series, limit: int, *,
                nul: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values longer than ``limit`` characters, and (``nul``) values holding a NUL character.

    Returns ``(too_long, has_nul, lengths)``; numbers and missing values are never at fault.
    PostgreSQL refuses NUL in text and index entries over ~2,700 bytes, so a row with such a
    value is quarantined on every backend rather than failing one of them. Computed by Arrow
    over the whole column.
    """
    n = len(series)
    zero = np.zeros(n, dtype=bool)
    if n == 0 or pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series) \
            or pd.api.types.is_datetime64_any_dtype(series):
        return zero, zero, np.zeros(n, dtype="int64")
    text = series if isinstance(series.dtype, pd.StringDtype) else series.astype("string")
    arr = pa.chunked_array([pa.array(text.array, type=pa.large_string())]) \
        if not hasattr(text.array, "__arrow_array__") else text.array.__arrow_array__()
    lengths = pc.utf8_length(arr).fill_null(0).to_numpy().astype("int64", copy=False)
    has_nul = (pc.match_substring(arr, "\x00").fill_null(False).to_numpy(
        zero_copy_only=False).astype(bool, copy=False) if nul else zero)
    return lengths > limit, has_nul, lengths


# ---- coordinate reference systems --------------------------------------------------------------

# ---- headers -----------------------------------------------------------------------------------

def _layer_fields(layer: str | None) -> tuple[str, ...]:
    from riskmap.layers import builtin  # noqa: F401 - registers the built-in layers
    from riskmap.layers.spec import get_spec

    spec = get_spec(layer) if layer else None
    return (*(spec.column_names if spec else ()), *_INPUT_FIELDS.get(layer or "", ()))


def clean_header(name: object) -> str:
    return re.sub(r"\s+", " ", str(name).replace("\ufeff", "").strip())


class _Renamer:
    """Header renames and ``--default`` fills, the same for every chunk of a file."""

    def __init__(self, path: Path, mapping: Mapping[str, str] | None,
                 aliases: Mapping[str, str], fields: tuple[str, ...],
                 defaults: Mapping[str, str] | None) -> None:
        self.path = path
        self.mapping = dict(mapping or {})
        self.aliases = aliases
        self.fields = fields
        self.defaults = dict(defaults or {})
        self.notes: list[str] = []
        self._names: list[str] | None = None

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        geom = getattr(frame, "_geometry_column_name", None)
        if self._names is None:
            self._names = self._plan(list(frame.columns), geom)
        frame = frame.copy(deep=False)
        frame.columns = self._names
        for name, value in self.defaults.items():
            frame = _fill_default(frame, name, value)
        return frame

    def _plan(self, columns: list[object], geom: object) -> list[str]:
        fixed = {geom, *READER_COLUMNS}
        user = [i for i, c in enumerate(columns) if c not in fixed]
        names = [str(c) for c in columns]
        cleaned = {i: clean_header(columns[i]) for i in user}
        deduped = self._dedupe(cleaned)
        counts = pd.Series(list(cleaned.values())).value_counts()
        final: dict[int, str] = {}
        for i in user:
            orig, name = str(columns[i]), deduped[i]
            if name in self.mapping:
                final[i] = self.mapping[name]
            elif orig in self.mapping and counts[cleaned[i]] == 1:
                final[i] = self.mapping[orig]
        present = set(final.values()) | {deduped[i] for i in user if i not in final}
        for i in user:  # aliases where they clash with nothing
            if i in final:
                continue
            alias = self.aliases.get(deduped[i].lower())
            if alias and alias not in present:
                final[i] = alias
                present.add(alias)
        for i in user:  # a Shapefile's 10-character field names
            if i not in final:
                final[i] = self._expand_truncated(deduped[i], present)
                present.add(final[i])
        for i in user:
            names[i] = final[i]
        unused = [k for k in self.mapping if k not in deduped.values()
                  and k not in {str(columns[i]) for i in user}]
        if unused:
            self.notes.append("--map for columns the file does not have: "
                              + ", ".join(map(repr, unused)))
        clash = pd.Series(names)[pd.Series(names).duplicated(keep=False)]
        if len(clash):
            name = clash.iloc[0]
            where = [i + 1 - sum(1 for c in columns[:i] if c in fixed)
                     for i in clash[clash == name].index]
            raise InputFileError(self.path, f"columns {', '.join(map(str, where))} would all be "
                                 f"named {name!r} (check --map): give each field one column",
                                 column=name)
        return names

    def _dedupe(self, cleaned: dict[int, str]) -> dict[int, str]:
        taken = set(cleaned.values())
        seen: dict[str, list[int]] = {}
        out: dict[int, str] = {}
        for pos, (i, name) in enumerate(cleaned.items(), start=1):
            seen.setdefault(name, []).append(pos)
            if len(seen[name]) == 1:
                out[i] = name
                continue
            k = len(seen[name])
            while f"{name}_{k}" in taken:
                k += 1
            out[i] = f"{name}_{k}"
            taken.add(out[i])
        for name, positions in seen.items():
            if len(positions) > 1:
                later = [v for i, v in out.items() if v != name
                         and cleaned[i] == name]
                self.notes.append(
                    f"column {name!r} appears {len(positions)} times (columns "
                    f"{', '.join(map(str, positions))}): the first keeps the name, the others "
                    f"are read as {', '.join(map(repr, later))} (use --map {later[0]}=FIELD to "
                    "load another copy instead)")
        return out

    def _expand_truncated(self, name: str, present: set[str]) -> str:
        if len(name) != _SHAPEFILE_NAME_CHARS or name.lower() in self.fields:
            return name
        hits = [f for f in self.fields if len(f) > len(name) and f.startswith(name.lower())]
        if len(hits) != 1 or hits[0] in present:
            return name
        self.notes.append(f"column {name!r} read as {hits[0]!r} (Shapefile field names are "
                          "cut to 10 characters)")
        return hits[0]


def _fill_default(frame: pd.DataFrame, name: str, value: str) -> pd.DataFrame:
    if name not in frame.columns:
        frame[name] = pd.Series(value, index=frame.index, dtype="string")
        return frame
    col = frame[name]
    blank = col.isna().to_numpy(dtype=bool)  # may be read-only: combined, never written
    if not pd.api.types.is_numeric_dtype(col):
        blank = blank | (col.astype("string").str.strip() == "").fillna(True).to_numpy(
            dtype=bool)
    if blank.any():
        frame[name] = col.astype(object).where(~blank, value)
    return frame


# ---- CSV ---------------------------------------------------------------------------------------

def _iter_csv(path: Path, chunk_rows: int | None, rename: _Renamer) -> Iterator[RawChunk]:
    try:  # a .csv.gz is decompressed on the fly, here and by pyarrow
        with pa.input_stream(str(path), compression="detect") as fh:
            head = fh.read(65536)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputFileError(path, f"cannot read file: {exc}") from exc
    if not head.strip():
        raise InputFileError(path, "file is empty")
    text = head.decode("utf-8", errors="replace")
    first = text.splitlines()[0] if text.splitlines() else ""
    delimiter = max([",", ";", "\t"], key=first.count)
    read_opts = pacsv.ReadOptions(block_size=1 << 24, encoding="utf8")
    parse_opts = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    try:
        columns = _csv_header(path, read_opts, parse_opts)
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
    first_chunk = True
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
            yield _csv_chunk(buffer, row, rename, first_chunk)
            first_chunk = False
            row += buffered
            buffer, buffered = [], 0
    if buffer or row == 2:
        if not buffer:
            empty = pd.DataFrame({i: pd.Series(dtype="string") for i in range(len(columns))})
            empty.columns = columns
            empty.insert(0, "_row", pd.Series(dtype="int64"))
            yield RawChunk(rename(empty), None, list(rename.notes))
        else:
            yield _csv_chunk(buffer, row, rename, first_chunk)


def _csv_header(path: Path, read_opts: pacsv.ReadOptions,
                parse_opts: pacsv.ParseOptions) -> list[str]:
    """The CSV's column names, from its first 64 kB (parsing a whole 16 MB block only for
    them cost ~0.08 s); from a whole block when the header row is longer than that."""
    schema_only = pacsv.ConvertOptions(column_types={}, strings_can_be_null=False)
    small = pacsv.ReadOptions(block_size=1 << 16, encoding=read_opts.encoding)
    try:
        return pacsv.open_csv(path, read_options=small, parse_options=parse_opts,
                              convert_options=schema_only).schema.names
    except pa.ArrowInvalid:  # e.g. a header row straddling the small block
        return pacsv.open_csv(path, read_options=read_opts, parse_options=parse_opts,
                              convert_options=schema_only).schema.names


def _csv_chunk(batches: list[pa.RecordBatch], first_row: int, rename: _Renamer,
               first_chunk: bool) -> RawChunk:
    table = pa.Table.from_batches(batches)
    frame = table.to_pandas(types_mapper=lambda t: pd.StringDtype() if pa.types.is_string(t)
                            else None)
    frame.insert(0, "_row", np.arange(first_row, first_row + len(frame)))
    frame = rename(frame)
    return RawChunk(frame, None, list(rename.notes) if first_chunk else [])


# ---- XLSX --------------------------------------------------------------------------------------

def _read_parquet(path: Path, crs: pyproj.CRS | None, notes: list[str]) -> pd.DataFrame:
    import pyarrow.parquet as pq

    meta = pq.read_schema(path).metadata or {}
    if b"geo" in meta:
        return georeference(path, gpd.read_parquet(path), crs, notes)
    return pd.read_parquet(path)


def _read_vector(path: Path, crs: pyproj.CRS | None, notes: list[str]) -> gpd.GeoDataFrame:
    import pyogrio

    target = f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)
    try:
        frame = pyogrio.read_dataframe(target)
    except Exception as exc:
        raise InputFileError(path, f"cannot read vector file: {exc}") from exc
    if not isinstance(frame, gpd.GeoDataFrame):  # a table without geometry (e.g. a bare DBF)
        return frame
    return georeference(path, frame, crs, notes)
