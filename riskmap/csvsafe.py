"""CSV for spreadsheets: cells that a spreadsheet would run as a formula are neutralised.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel and LibreOffice (``=HYPERLINK(...)``, ``=cmd|' /C calc'!A0``). Every CSV
riskmap writes (exports, briefs, plans) goes through :func:`to_csv`, which prefixes such text
cells with an apostrophe, as OWASP recommends; numbers are left alone (``-5`` stays a
number), and so is text that is a plain number (``"-12.5"``).
"""

from __future__ import annotations

import os
import re
from typing import Any

import pandas as pd

__all__ = ["neutralize_formulas", "to_csv"]

_TRIGGER = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_TRIGGER) and not _NUMBER.match(value):
        return "'" + value
    return value


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    Column names are treated the same way.

    Examples
    --------
    >>> f = pd.DataFrame({"name": ["=HYPERLINK(\\"http://x\\")", "Do‘stlik", "-3", "@SUM(A1)"],
    ...                   "n": [-1, 2, 3, 4]})
    >>> neutralize_formulas(f)["name"].tolist()
    ['\\'=HYPERLINK("http://x")', 'Do‘stlik', '-3', "'@SUM(A1)"]
    >>> neutralize_formulas(f)["n"].tolist()
    [-1, 2, 3, 4]
    """
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
            out[col] = s.map(_safe, na_action="ignore")
    out.columns = [_safe(c) if isinstance(c, str) else c for c in out.columns]
    return out


def to_csv(frame: pd.DataFrame, target: str | os.PathLike[str] | Any | None = None,
           **kwargs: Any) -> str | None:
    """``frame.to_csv(target, index=False, ...)`` with formula cells neutralised (UTF-8, \\n)."""
    kwargs.setdefault("index", False)
    kwargs.setdefault("lineterminator", "\n")
    if target is None or not hasattr(target, "write"):
        kwargs.setdefault("encoding", "utf-8")
    return neutralize_formulas(frame).to_csv(target, **kwargs)
