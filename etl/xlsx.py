"""Read XLSX workbooks: every sheet with rows (or one), uncalculated formulas marked."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskmap.errors import InputFileError
from riskmap.etl.readers import READER_COLUMNS, clean_header

__all__ = ["read_xlsx"]

_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def read_xlsx(path: Path, sheet: str | None, notes: list[str]) -> pd.DataFrame:
    """Every sheet with rows (or ``sheet``), one frame; uncalculated formulas in ``_formula``."""
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    formulas = None
    try:
        names = [ws.title for ws in book.worksheets]  # chart sheets hold no rows
        if sheet is not None and sheet not in names:
            raise InputFileError(path, f"--sheet {sheet!r}: the workbook has no such sheet "
                                 f"(sheets: {', '.join(map(repr, names))})")
        chosen = [sheet] if sheet is not None else names
        if _has_formulas(path):
            formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
        frames: list[tuple[str, pd.DataFrame]] = []
        headers: list[tuple[str, list[str]]] = []
        for name in chosen:
            values = list(book[name].iter_rows(values_only=True))
            cells = list(formulas[name].iter_rows(values_only=True)) if formulas else None
            header, frame = _sheet_frame(values, cells)
            if header is not None:
                headers.append((name, header))
            if frame is None or len(frame) == 0:
                if sheet is None and len(names) > 1:
                    notes.append(f"sheet {name!r} has no rows: skipped")
                continue
            if len(names) > 1:
                frame.insert(1, "_sheet", name)
            frames.append((name, frame))
    finally:
        book.close()
        if formulas is not None:
            formulas.close()
    if not frames:
        if not headers:
            raise InputFileError(path, "the workbook has no rows in any sheet")
        cols = headers[0][1]
        empty = pd.DataFrame({i: pd.Series(dtype=object) for i in range(len(cols))})
        empty.columns = cols
        empty.insert(0, "_row", pd.Series(dtype="int64"))
        return empty
    if any("_formula" in f.columns for _, f in frames):
        for _, f in frames:
            if "_formula" not in f.columns:
                f["_formula"] = pd.Series(None, index=f.index, dtype=object)
    first_name, first = frames[0]
    layout = _user_columns(first)
    aligned = [first]
    for name, frame in frames[1:]:
        other = _user_columns(frame)
        same_set = set(other) == set(layout) and len(set(layout)) == len(layout) == len(other)
        if other != layout and not same_set:
            raise InputFileError(
                path, f"sheets {first_name!r} and {name!r} have different columns "
                      f"({first_name!r}: {', '.join(map(repr, layout))}; "
                      f"{name!r}: {', '.join(map(repr, other))}): "
                      "load one sheet at a time with --sheet NAME")
        aligned.append(frame if other == layout else frame[
            [c for c in frame.columns if c in READER_COLUMNS] + layout])
    if len(frames) > 1:
        notes.append("sheets read: " + ", ".join(f"{n!r} ({len(f):,} rows)" for n, f in frames))
    return pd.concat(aligned, ignore_index=True)


def _user_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in READER_COLUMNS]


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of the workbook holds a formula (scanned in the raw XML)."""
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                with zf.open(info) as fh:
                    tail = b""
                    while block := fh.read(1 << 22):  # a tag may straddle two blocks
                        if _FORMULA_TAG.search(tail + block):
                            return True
                        tail = block[-16:]
    return False


def _sheet_frame(values: list[tuple[Any, ...]], cells: list[tuple[Any, ...]] | None
                 ) -> tuple[list[str] | None, pd.DataFrame | None]:
    """One sheet's header and rows: the first non-empty row is the header; blank rows skipped.

    ``_row`` is the spreadsheet row number; ``_formula`` lists the cells of a row holding a
    formula without a calculated value (``cells`` are the same rows read with formulas).
    """
    from openpyxl.utils import get_column_letter

    width = max((len(r) for r in values), default=0)
    grid = np.full((len(values), width), None, dtype=object)
    for i, r in enumerate(values):
        grid[i, :len(r)] = r
    filled = np.frompyfunc(lambda v: v is not None and v != "", 1, 1)(grid).astype(bool) \
        if grid.size else np.zeros(grid.shape, dtype=bool)
    rows_with = np.flatnonzero(filled.any(axis=1))
    if len(rows_with) == 0:
        return None, None
    head_at = rows_with[0]
    body = rows_with[rows_with > head_at]
    uncalculated = np.zeros(grid.shape, dtype=bool)
    if cells is not None:
        fgrid = np.full(grid.shape, None, dtype=object)
        for i, r in enumerate(cells[:len(values)]):
            fgrid[i, :min(len(r), width)] = r[:width]
        is_formula = np.frompyfunc(
            lambda v: (isinstance(v, str) and v.startswith("=")) or type(v).__name__ in
            {"ArrayFormula", "DataTableFormula"}, 1, 1)(fgrid).astype(bool)
        uncalculated = is_formula & np.equal(grid, None)
        body = np.union1d(body, np.flatnonzero(uncalculated.any(axis=1)))
        body = body[body > head_at]
    keep = filled[head_at] | filled[body].any(axis=0) | uncalculated[body].any(axis=0)
    cols = np.flatnonzero(keep)
    header = [clean_header(grid[head_at, c]) if filled[head_at, c]
              else f"column {get_column_letter(c + 1)}" for c in cols]
    frame = pd.DataFrame(grid[np.ix_(body, cols)] if len(body) else
                         np.empty((0, len(cols)), dtype=object), dtype=object)
    frame.columns = header
    frame.insert(0, "_row", (body + 1).astype("int64"))
    if uncalculated[body].any():
        sub = uncalculated[np.ix_(body, cols)]
        text = [
            "; ".join(f"{get_column_letter(cols[j] + 1)}{body[i] + 1} (column {header[j]!r}: "
                      f"{fgrid[body[i], cols[j]]})" for j in np.flatnonzero(sub[i]))
            if sub[i].any() else None
            for i in range(len(body))]
        frame["_formula"] = pd.Series(text, dtype=object)
    return header, frame


# ---- GeoParquet and vector files ---------------------------------------------------------------
