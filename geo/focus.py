"""Focus groups of incidents (minors, youth, women, family, repeat offenders): vocabulary and masks.

An incident may carry its victim's and offender's sex and age group, whether it happened in a
family (domestic) context, and whether the offender is a repeat offender or on probation
(the ``incidents`` layer's focus fields). The focus groups are views over those fields:

=============  ==========================================================
``minors``     the victim or the offender is under 18
``youth``      the victim or the offender is 18-30
``women``      the victim is female
``family``     the incident happened in a family (domestic) context
``repeat``     the offender is a repeat offender
``probation``  the offender was on probation
=============  ==========================================================

Each incident's membership is one ``uint8`` of bits (:func:`focus_bits`), so a filter or a
breakdown is a bit test over a column. Pure: arrays in, arrays out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "AGE_GROUPS",
    "FOCUS_FIELDS",
    "FOCUS_GROUPS",
    "SEXES",
    "age_group_of_years",
    "focus_bits",
    "group_counts",
    "group_mask",
]

#: the canonical values of ``victim_sex`` / ``offender_sex``
SEXES: tuple[str, ...] = ("male", "female")
#: the canonical values of ``victim_age_group`` / ``offender_age_group``: under 18, 18-30,
#: 31-59, 60 and over
AGE_GROUPS: tuple[str, ...] = ("minor", "youth", "adult", "senior")
#: the first age (years) of each of :data:`AGE_GROUPS`
AGE_STARTS: tuple[int, ...] = (0, 18, 31, 60)
#: the incidents layer's focus fields, in schema order
FOCUS_FIELDS: tuple[str, ...] = ("victim_sex", "victim_age_group", "offender_sex",
                                 "offender_age_group", "domestic", "repeat_offender",
                                 "on_probation")
#: the focus groups, in the order of their bits
FOCUS_GROUPS: tuple[str, ...] = ("minors", "youth", "women", "family", "repeat", "probation")


def age_group_of_years(years: np.ndarray | Sequence[float]) -> np.ndarray:
    """Index into :data:`AGE_GROUPS` of each age in years (-1: missing, negative or over 120).

    Examples
    --------
    >>> age_group_of_years([5, 17.9, 18, 30, 31, 59, 60, np.nan, -1, 130]).tolist()
    [0, 0, 1, 1, 2, 2, 3, -1, -1, -1]
    """
    y = np.asarray(years, dtype="float64")
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(y) & (y >= 0) & (y <= 120)
        group = np.searchsorted(np.asarray(AGE_STARTS, dtype="float64"),
                                np.floor(np.where(ok, y, 0)), side="right") - 1
    return np.where(ok, group, -1).astype("int8")


def _is(values: np.ndarray | Sequence[object] | None, wanted: str, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    text = pd.Series(np.asarray(values, dtype=object), dtype="string")
    return text.eq(wanted).fillna(False).to_numpy(dtype=bool)


def _true(values: np.ndarray | Sequence[object] | None, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    flags = pd.Series(np.asarray(values, dtype=object)).astype("boolean")
    return flags.fillna(False).to_numpy(dtype=bool)


def focus_bits(n: int, *, victim_sex: Sequence[object] | None = None,
               victim_age_group: Sequence[object] | None = None,
               offender_sex: Sequence[object] | None = None,
               offender_age_group: Sequence[object] | None = None,
               domestic: Sequence[object] | None = None,
               repeat_offender: Sequence[object] | None = None,
               on_probation: Sequence[object] | None = None) -> np.ndarray:
    """Each incident's focus groups as bits (bit ``i``: ``FOCUS_GROUPS[i]``), ``uint8``.

    Fields are arrays of canonical values (``None``/NA: unknown, never a member); a field not
    given counts as unknown for every incident.

    Examples
    --------
    >>> focus_bits(3, victim_sex=["female", None, "male"], offender_age_group=["minor", "youth",
    ...            None], domestic=[True, None, False]).tolist()
    [13, 2, 0]
    """
    minors = _is(victim_age_group, "minor", n) | _is(offender_age_group, "minor", n)
    youth = _is(victim_age_group, "youth", n) | _is(offender_age_group, "youth", n)
    groups = (minors, youth, _is(victim_sex, "female", n), _true(domestic, n),
              _true(repeat_offender, n), _true(on_probation, n))
    bits = np.zeros(n, dtype=np.uint8)
    for i, member in enumerate(groups):
        bits |= member.astype(np.uint8) << np.uint8(i)
    return bits


def group_mask(bits: np.ndarray, group: str) -> np.ndarray:
    """True for the incidents in ``group`` (one of :data:`FOCUS_GROUPS`).

    Raises
    ------
    ValueError
        For a name that is not a focus group.

    Examples
    --------
    >>> group_mask(np.array([13, 2, 0], dtype=np.uint8), "women").tolist()
    [True, False, False]
    """
    if group not in FOCUS_GROUPS:
        raise ValueError(f"focus group {group!r}: expected one of {', '.join(FOCUS_GROUPS)}")
    return (np.asarray(bits) & np.uint8(1 << FOCUS_GROUPS.index(group))) > 0


def group_counts(bits: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Number of kept incidents in each of :data:`FOCUS_GROUPS` (an incident may count in
    several), ``int64``.

    Examples
    --------
    >>> group_counts(np.array([13, 2, 0], dtype=np.uint8)).tolist()
    [1, 1, 1, 1, 0, 0]
    """
    b = np.asarray(bits) if keep is None else np.asarray(bits)[keep]
    return np.array([int(((b >> np.uint8(i)) & np.uint8(1)).sum())
                     for i in range(len(FOCUS_GROUPS))], dtype=np.int64)
