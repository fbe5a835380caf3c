"""Write the demo world's raw input files byte-for-byte reproducibly."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pandas as pd
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
    """Write a frame as UTF-8 CSV with ``\\n`` line ends and no index."""
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    return path


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
