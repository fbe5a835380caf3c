"""Size presets and fixed dates of the demo world."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from riskmap.errors import ConfigError

__all__ = ["ANCHOR_DATE", "SIZES", "SizeSpec", "period", "size_spec"]

# The demo covers the two years that end with the last full month before this date; it is
# fixed (not "today") so the same seed gives the same files whenever it runs.
ANCHOR_DATE = dt.date(2026, 1, 15)


@dataclass(frozen=True)
class SizeSpec:
    """Knobs of one demo size.

    Attributes
    ----------
    name
        small, medium or large.
    whole_country
        All 14 regions (large) instead of Jizzakh, Surkhandarya and Kashkadarya.
    urban_pop
        Typical population of a town mahalla (sets how many mahallas a town has).
    steppe_spacing_m
        Spacing of the seed lattice of rural (steppe) mahallas.
    villages
        Villages per district besides the district centre.
    incidents
        Target number of incidents (CSV plus Excel, before dirty rows).
    excel_rows
        Rows of ``incidents_extra.xlsx``.
    cameras_per_10k
        Town cameras per 10,000 town inhabitants (Alpomish's 26 come on top).
    districts_per_other
        Synthetic districts in each region other than the three main ones (large only).
    """

    name: str
    whole_country: bool
    urban_pop: float
    steppe_spacing_m: float
    villages: int
    incidents: int
    excel_rows: int
    cameras_per_10k: float
    districts_per_other: int = 0


SIZES: dict[str, SizeSpec] = {
    "small": SizeSpec("small", False, 4_500.0, 21_000.0, 0, 20_000, 300, 0.8),
    "medium": SizeSpec("medium", False, 3_000.0, 7_000.0, 10, 200_000, 500, 1.2),
    "large": SizeSpec("large", True, 2_500.0, 9_500.0, 6, 1_050_000, 800, 1.0, 10),
}


def size_spec(size: str) -> SizeSpec:
    """Look up a size preset by name.

    Raises
    ------
    ConfigError
        When ``size`` is not one of small, medium, large.
    """
    try:
        return SIZES[size]
    except KeyError:
        raise ConfigError(
            f"demo size {size!r} is not known; expected one of {', '.join(SIZES)}") from None


def period() -> tuple[dt.date, dt.date]:
    """First and last day (inclusive) of the two demo years before :data:`ANCHOR_DATE`.

    Examples
    --------
    >>> period()
    (datetime.date(2024, 1, 1), datetime.date(2025, 12, 31))
    """
    end = ANCHOR_DATE.replace(day=1) - dt.timedelta(days=1)
    start = dt.date(end.year - 1, end.month % 12 + 1, 1) if end.month < 12 else dt.date(
        end.year - 1, 1, 1)
    return start, end
