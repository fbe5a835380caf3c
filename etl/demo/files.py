"""Write the demo world's raw input files byte-for-byte reproducibly."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyogrio
from openpyxl import Workbook

import geopandas as gpd

__all__ = ["write_csv", "write_geojson", "write_json", "write_xlsx"]

_FIXED_ZIP_TIME = (2026, 1, 1, 0, 0, 0)
_FIXED_XML_TIME = "2026-01-01T00:00:00Z"


def write_geojson(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    """Write a GeoDataFrame (EPSG:4326) as GeoJSON with 7-decimal coordinates."""
    if path.exists():
        path.unlink()
    pyogrio.write_dataframe(gdf, path, driver="GeoJSON",
                            layer_options={"COORDINATE_PRECISION": "7", "RFC7946": "NO",
                                           "WRITE_BBOX": "NO"})
    return path


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    """Write a frame as UTF-8 CSV with ``\\n`` line ends and no index.

    A frame of text columns (the demo's raw rows) is joined in Arrow, giving the bytes
    ``DataFrame.to_csv`` gives (minimal quoting, ``""`` inside quotes, missing as empty) about
    ten times faster (only a bare carriage return is quoted, which ``to_csv`` leaves bare); other
    frames go through ``to_csv``.
    """
    if not all(pd.api.types.infer_dtype(df[c], skipna=True) in ("string", "empty")
               for c in df.columns):
        df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        return path
    fields = [_csv_field(pa.array(df[c], type=pa.string(), from_pandas=True))
              for c in df.columns]
    header = _csv_field(pa.array([str(c) for c in df.columns])).to_pylist()
    with open(path, "wb") as fh:
        fh.write((",".join(header) + "\n").encode("utf-8"))
        for start in range(0, len(df), _CSV_CHUNK):
            part = [f.slice(start, _CSV_CHUNK) for f in fields]
            lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*part, ","), "",
                                                "\n")  # each row and its line end
            width = np.int64 if pa.types.is_large_string(lines.type) else np.int32
            offsets = np.frombuffer(lines.buffers()[1], width)[lines.offset:]
            data = lines.buffers()[2]
            fh.write(memoryview(data)[offsets[0]:offsets[len(lines)]])
    return path


_CSV_CHUNK = 200_000


def _csv_field(text: pa.Array) -> pa.Array:
    """Fields as Python's ``csv`` writes them (QUOTE_MINIMAL): quoted when holding a comma, a
    quote or a line break, quotes doubled; a missing value empty."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = pc.fill_null(text.cast(pa.string()), "")  # pandas' storage may be large_string
    need = pc.match_substring_regex(text, '[,"\r\n]')
    if not pc.any(need).as_py():
        return text
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(need, quoted, text)


def write_json(obj: object, path: Path) -> Path:
    """Write JSON (UTF-8, indented, non-ASCII kept)."""
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_xlsx(df: pd.DataFrame, path: Path, *, sheet: str = "incidents",
               date_format: str = "dd.mm.yyyy hh:mm") -> Path:
    """Write a frame to one Excel sheet; datetimes become real Excel dates.

    openpyxl stamps the time of writing into the archive and its properties; both are
    replaced by a fixed time so the same frame always gives the same bytes.
    """
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        ws.append(list(row))
    col = list(df.columns).index("occurred_at") + 1 if "occurred_at" in df.columns else None
    if col is not None:
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            if not isinstance(cell.value, str):
                cell.number_format = date_format
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_normalise_zip(buf.getvalue()))
    return path


def _normalise_zip(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)",
                              rb"\g<1>" + _FIXED_XML_TIME.encode() + rb"\g<3>", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, body)
    return out.getvalue()
