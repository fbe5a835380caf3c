"""Parse incident date/time columns (ISO 8601, day-first, Excel serials, datetime objects) to UTC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["EXCEL_SERIAL_RANGE", "parse_datetimes"]

#: Excel serial numbers accepted as dates (1954-10-03 .. 2119-01-10).
EXCEL_SERIAL_RANGE: tuple[float, float] = (20000.0, 80000.0)

_EXCEL_EPOCH = np.datetime64("1899-12-30", "ms")  # 1900 date system (serial 61 = 1900-03-01)
_MISSING = "missing_date"
_INVALID = "invalid_date"

_DATE = r"\d{4}-\d{2}-\d{2}"
_TIME = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
_ISO_NAIVE_RE = rf"{_DATE}(?:[T ]{_TIME})?"
_ISO_OFFSET_RE = rf"{_DATE}[T ]{_TIME} ?(?:Z|[+-]\d{{2}}(?::?\d{{2}})?)"
_DMY_RE = (r"(?P<day>\d{1,2})[./-](?P<month>\d{1,2})[./-](?P<year>\d{4})"
           r"(?:[ T]+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?)?")
_DMY_LIMITS = {"day": 31, "month": 12, "year": 9999, "hour": 23, "minute": 59, "second": 59}
_NUMBER_RE = r"\d+(?:[.,]\d+)?"


def _to_utc_us(parsed: pd.Series, tz: str) -> np.ndarray:
    """Turn parsed timestamps (naive = local ``tz``, or aware) into naive-UTC ``M8[us]`` values."""
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    return parsed.dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("us").to_numpy()


def _excel_serials(numbers: np.ndarray) -> tuple[pd.Series, np.ndarray]:
    """Convert Excel serial days to naive local timestamps; also return the out-of-range mask."""
    lo, hi = EXCEL_SERIAL_RANGE
    ok = np.isfinite(numbers) & (numbers >= lo) & (numbers <= hi)
    ms = np.rint(np.where(ok, numbers, 0.0) * 86_400_000.0).astype(np.int64)
    stamps = (_EXCEL_EPOCH + ms.astype("m8[ms]")).astype("M8[us]")
    stamps[~ok] = np.datetime64("NaT")
    return pd.Series(stamps), ~ok


def _parse_day_first(text: pd.Series) -> pd.Series:
    """Parse strings that fully match ``_DMY_RE`` from their numeric parts (NaT if impossible).

    The parts are pulled out with one Arrow regex pass and assembled by pandas, which is several
    times faster than ``strptime`` formats; hours, minutes and seconds are range-checked here
    because assembly would roll 25:00 over into the next day.
    """
    arr = pa.array(text.array)
    if isinstance(arr, pa.ChunkedArray):  # pandas may hand over a chunked Arrow array
        arr = arr.combine_chunks()
    groups = pc.extract_regex(arr, _DMY_RE)
    parts: dict[str, np.ndarray] = {}
    for name in _DMY_LIMITS:
        field = groups.field(name)
        field = pc.if_else(pc.equal(field, ""), "0", field)
        parts[name] = pc.cast(field, pa.int64()).to_numpy(zero_copy_only=False)
    bad = np.zeros(len(text), dtype=bool)
    for name, limit in _DMY_LIMITS.items():
        bad |= parts[name] > limit
    for name in ("year", "month", "day"):
        parts[name] = np.where(bad, 1, parts[name])
    stamps = pd.to_datetime(pd.DataFrame(parts), errors="coerce").dt.as_unit("us")
    stamps[bad] = pd.NaT
    return stamps


class _Result:
    """Output buffers shared by the parsing steps: UTC values and reason codes by position."""

    def __init__(self, n: int) -> None:
        self.values = np.full(n, np.datetime64("NaT"), dtype="M8[us]")
        self.reasons = np.full(n, None, dtype=object)

    def put(self, positions: np.ndarray, parsed: pd.Series, tz: str) -> None:
        """Store ``parsed`` at ``positions``; NaT there becomes ``invalid_date``."""
        if len(positions) == 0:
            return
        vals = _to_utc_us(parsed.reset_index(drop=True), tz)
        self.values[positions] = vals
        self.reasons[positions[np.isnat(vals)]] = _INVALID


def _parse_strings(text: pd.Series, res: _Result, tz: str) -> None:
    """Classify stripped strings by shape and parse each shape with one explicit format."""
    pos = np.arange(len(text))
    missing = (text.isna() | (text == "")).to_numpy(dtype=bool)
    res.reasons[missing] = _MISSING
    pos, text = pos[~missing], text[~missing]

    iso = text.str.fullmatch(_ISO_NAIVE_RE).to_numpy(dtype=bool)
    res.put(pos[iso], pd.to_datetime(text[iso], format="ISO8601", errors="coerce"), tz)
    pos, text = pos[~iso], text[~iso]
    if len(text) == 0:
        return

    off = text.str.fullmatch(_ISO_OFFSET_RE).to_numpy(dtype=bool)
    res.put(pos[off], pd.to_datetime(text[off], format="ISO8601", errors="coerce", utc=True), tz)
    pos, text = pos[~off], text[~off]

    dmy = text.str.fullmatch(_DMY_RE).to_numpy(dtype=bool)
    if dmy.any():
        res.put(pos[dmy], _parse_day_first(text[dmy]), tz)
    pos, text = pos[~dmy], text[~dmy]

    num = text.str.fullmatch(_NUMBER_RE).to_numpy(dtype=bool)
    if num.any():
        numbers = pd.to_numeric(text[num].str.replace(",", ".")).to_numpy(dtype=float)
        stamps, _ = _excel_serials(numbers)
        res.put(pos[num], stamps, tz)
    res.reasons[pos[~num]] = _INVALID


def parse_datetimes(
    values: pd.Series, *, tz: str = "Asia/Tashkent"
) -> tuple[pd.Series, pd.Series]:
    """Parse a column of incident dates/times to UTC, with a reason code for each failure.

    Accepted forms (after stripping whitespace):

    - ISO 8601: ``2024-03-05``, ``2024-03-05T14:30``, ``2024-03-05 14:30:15.250``; a ``Z`` or
      ``+05:00``/``+0500``/``+05`` offset is respected, naive values are local time in ``tz``;
    - day-first ``dd.mm.yyyy[ HH:MM[:SS]]``, also with ``/`` or ``-`` between the date parts;
    - Excel serial dates (numbers or numeric strings, ``,`` or ``.`` decimal) in
      :data:`EXCEL_SERIAL_RANGE`, 1900 date system, the fraction being the local time of day
      (rounded to the millisecond);
    - ``datetime``/``date``/``pandas.Timestamp`` objects (as Excel readers return them) and
      datetime64 columns; naive ones are local time in ``tz``.

    Each shape is recognised with a vectorised regular expression and parsed with one explicit
    format, so the cost is that of :func:`pandas.to_datetime` on each subset.

    Parameters
    ----------
    values
        Raw date values (strings, numbers, datetime objects, or a datetime64 column).
    tz
        IANA time zone of naive values.

    Returns
    -------
    parsed : pd.Series
        dtype ``datetime64[us, UTC]``, NaT where parsing failed; same index as ``values``.
    reasons : pd.Series
        dtype object: None where parsed, ``"missing_date"`` for None/NaN/NaT/empty or blank
        strings, ``"invalid_date"`` for text that is not a date or is an impossible date
        (``31.02.2024``, ``2024-13-01``, ``25:00``) or a number outside the Excel range.

    Examples
    --------
    >>> parsed, reasons = parse_datetimes(
    ...     pd.Series(["2024-03-05 10:00", "05.03.2024", "2024-03-05T10:00Z", "", "31.02.2024"]))
    >>> [str(t) for t in parsed]
    ['2024-03-05 05:00:00+00:00', '2024-03-04 19:00:00+00:00', '2024-03-05 10:00:00+00:00', 'NaT', 'NaT']
    >>> reasons.tolist()
    [None, None, None, 'missing_date', 'invalid_date']
    """
    index = values.index
    res = _Result(len(values))
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    values = values.reset_index(drop=True)
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        missing = values.isna().to_numpy()
        res.reasons[missing] = _MISSING
        res.values[:] = _to_utc_us(values, tz)
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(numbers)
        stamps, bad = _excel_serials(numbers)
        res.values[:] = _to_utc_us(stamps, tz)
        res.reasons[bad] = _INVALID
        res.reasons[missing] = _MISSING
    else:
        _parse_strings(values.astype("str").str.strip(), res, tz)
    parsed = pd.Series(res.values, index=index, name=values.name).dt.tz_localize("UTC")
    reasons = pd.Series(res.reasons, index=index, dtype=object)
    return parsed, reasons
