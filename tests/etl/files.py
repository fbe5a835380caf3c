"""Small input files for the ETL tests, written in a test's temp folder."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

__all__ = ["workbook"]


def workbook(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    """An XLSX file with these sheets (name -> rows, the header first); returns ``path``."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
    wb.save(path)
    return path
