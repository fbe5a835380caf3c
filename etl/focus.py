"""Read the focus fields of incident rows (sex, age group, family context, repeat and probation
flags) written in Uzbek (Latin or Cyrillic), Russian or English.

Each reader takes a raw column and returns the canonical values (see
:mod:`riskmap.geo.focus`) and a mask of the values it could not read (the transform
quarantines those rows, naming the column). Blank cells and missing-value tokens (``NA``,
``-``, ...) are unknown, never an error. Each distinct text is read once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from riskmap.etl.categories import alias_key
from riskmap.geo.focus import AGE_GROUPS, SEXES, age_group_of_years

__all__ = ["FOCUS_INPUTS", "read_age_groups", "read_flags", "read_sexes"]

#: input column -> (stored field, reader kind); an age may be given as years or as a group
FOCUS_INPUTS: dict[str, tuple[str, str]] = {
    "victim_sex": ("victim_sex", "sex"),
    "victim_age_group": ("victim_age_group", "age"),
    "victim_age": ("victim_age_group", "age"),
    "offender_sex": ("offender_sex", "sex"),
    "offender_age_group": ("offender_age_group", "age"),
    "offender_age": ("offender_age_group", "age"),
    "domestic": ("domestic", "flag"),
    "repeat_offender": ("repeat_offender", "flag"),
    "on_probation": ("on_probation", "flag"),
}

_SEX_ALIASES: dict[str, tuple[str, ...]] = {
    "male": ("male", "m", "man", "men", "boy", "erkak", "er", "o'g'il bola", "эркак", "эр",
             "мужской", "мужчина", "муж", "м", "мальчик"),
    "female": ("female", "f", "w", "woman", "women", "girl", "ayol", "xotin", "qiz",
               "аёл", "хотин", "қиз", "женский", "женщина", "жен", "ж", "девочка"),
}
_AGE_ALIASES: dict[str, tuple[str, ...]] = {
    "minor": ("minor", "juvenile", "child", "children", "under 18", "voyaga yetmagan",
              "voyaga yetmaganlar", "bola", "вояга етмаган", "бола", "несовершеннолетний",
              "несовершеннолетняя", "несовершеннолетние", "ребёнок", "до 18"),
    "youth": ("youth", "young", "yosh", "yoshlar", "ёш", "ёшлар", "молодёжь", "молодой",
              "молодая"),
    "adult": ("adult", "katta", "katta yoshli", "voyaga yetgan", "катта", "вояга етган",
              "взрослый", "взрослая"),
    "senior": ("senior", "elderly", "old", "keksa", "qariya", "кекса", "қария", "пожилой",
               "пожилая", "пенсионер"),
}
_FLAG_ALIASES: dict[bool, tuple[str, ...]] = {
    True: ("yes", "y", "true", "t", "1", "ha", "bor", "ҳа", "бор", "да", "д", "есть", "1.0"),
    False: ("no", "n", "false", "f", "0", "yo'q", "йўқ", "нет", "н", "0.0"),
}
#: text that means "unknown" (left blank), compared after :func:`alias_key`
_UNKNOWN = {"", "na", "n a", "null", "nan", "none", "unknown", "nomalum", "номаълум",
            "noma lum", "неизвестно", "нет данных"}
_UNKNOWN_KEYS = {alias_key(u) for u in _UNKNOWN} | {""}


def _table(aliases: dict[object, tuple[str, ...]]) -> dict[str, object]:
    return {alias_key(a): value for value, words in aliases.items() for a in words}


_SEX = {**_table(_SEX_ALIASES), **{alias_key(s): s for s in SEXES}}
_AGE_WORDS = {**_table(_AGE_ALIASES), **{alias_key(a): a for a in AGE_GROUPS}}
_FLAG = _table(_FLAG_ALIASES)
_NUMBER = re.compile(r"^\d{1,3}(?:[.,]\d+)?$")
_BAND = re.compile(r"^(\d{1,3})\s*[-–—]\s*(\d{1,3})$")
_UNDER = re.compile(r"^(?:<|under|до|gacha|below)\s*(\d{1,3})$|^(\d{1,3})\s*(?:gacha|yoshgacha)$")
_OVER = re.compile(r"^(\d{1,3})\s*\+$|^(?:>=|≥|60 dan|over|старше|от)\s*(\d{1,3})$")


def _read(values: pd.Series, one: Callable[[str], object | None]) -> tuple[np.ndarray, np.ndarray]:
    """Apply ``one`` to each distinct text: (values as objects, None when unknown; bad mask).

    ``one`` returns the value, ``None`` for unknown, or raises ``ValueError`` when unreadable.
    """
    codes, uniques = pd.factorize(values.astype("string"), use_na_sentinel=True)
    out = np.full(len(uniques) + 1, None, dtype=object)  # last slot: missing
    bad = np.zeros(len(uniques) + 1, dtype=bool)
    for i, text in enumerate(uniques):
        try:
            out[i] = one(str(text))
        except ValueError:
            bad[i] = True
    at = np.where(np.asarray(codes) < 0, len(uniques), codes)
    return out[at], bad[at]


def _sex(text: str) -> object | None:
    key = alias_key(text)
    if key in _UNKNOWN_KEYS:
        return None
    if key in _SEX:
        return _SEX[key]
    raise ValueError(text)


def _group_of_range(lo: int, hi: int) -> str:
    a, b = age_group_of_years([lo, hi])
    if a < 0 or b < 0 or a != b or lo > hi:
        raise ValueError(f"{lo}-{hi}")
    return AGE_GROUPS[int(a)]


def _age(text: str) -> object | None:
    raw = re.sub(r"\s+", " ", text.strip().lower())
    raw = re.sub(r"\s*(?:yosh|лет|год|года|years?|y\.?o\.?)$", "", raw)
    if _NUMBER.match(raw):
        group = age_group_of_years([float(raw.replace(",", "."))])[0]
        if group < 0:
            raise ValueError(text)
        return AGE_GROUPS[int(group)]
    if m := _BAND.match(raw):
        return _group_of_range(int(m[1]), int(m[2]))
    if m := _UNDER.match(raw):
        n = int(m[1] or m[2])
        return _group_of_range(0, n - 1)
    if m := _OVER.match(raw):
        n = int(m[1] or m[2])
        if n < 60:
            raise ValueError(text)  # "18+" spans several groups
        return "senior"
    key = alias_key(text)
    if key in _UNKNOWN_KEYS:
        return None
    if key in _AGE_WORDS:
        return _AGE_WORDS[key]
    raise ValueError(text)


def _flag(text: str) -> object | None:
    stripped = text.strip()
    if stripped in ("+", "-"):
        return stripped == "+"
    key = alias_key(text)
    if key in _UNKNOWN_KEYS:
        return None
    if key in _FLAG:
        return _FLAG[key]
    raise ValueError(text)


def read_sexes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``"male"``/``"female"`` (None: unknown) and the unreadable values.

    Examples
    --------
    >>> v, bad = read_sexes(pd.Series(["Ayol", "эркак", "Ж", "M", None, "x"]))
    >>> v.tolist(), bad.tolist()
    (['female', 'male', 'female', 'male', None, None], [False, False, False, False, False, True])
    """
    return _read(values, _sex)


def read_age_groups(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """An age group of :data:`~riskmap.geo.focus.AGE_GROUPS` from years (``16``, ``"16 лет"``),
    a band inside one group (``"14-17"``, ``"<18"``, ``"60+"``) or a word (``"voyaga
    yetmagan"``, ``"несовершеннолетний"``, ``"youth"``); a band across groups (``"15-25"``)
    or an age over 120 is unreadable.

    Examples
    --------
    >>> v, bad = read_age_groups(pd.Series(["16", "25 yosh", "14-17", "60+", "молодёжь",
    ...                                     "15-25", "200", ""]))
    >>> v.tolist(), bad.tolist()
    (['minor', 'youth', 'minor', 'senior', 'youth', None, None, None], [False, False, False, False, False, True, True, False])
    """
    return _read(values, _age)


def read_flags(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """True/False (None: unknown) from yes/no in any of the languages, ``1``/``0``, ``+``/``-``.

    Examples
    --------
    >>> v, bad = read_flags(pd.Series(["ha", "yo‘q", "Да", "нет", 1, "", "maybe"]))
    >>> v.tolist(), bad.tolist()
    ([True, False, True, False, True, None, None], [False, False, False, False, False, False, True])
    """
    if pd.api.types.is_bool_dtype(values):
        vals = values.astype("boolean")
        return vals.astype(object).where(vals.notna(), None).to_numpy(), np.zeros(
            len(values), dtype=bool)
    return _read(values, _flag)
