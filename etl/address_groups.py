"""Group the rows of a geocoding batch whose addresses parse alike, working on distinct texts.

The gazetteer resolves each group once. A row is its address and, optionally, its mahalla,
district and region columns. Each column is factorised; the distinct addresses are split into
parts by Arrow kernels (:mod:`pyarrow.compute`), and each distinct part is parsed once (so
that "Jizzax viloyati" or "Do‘stlik MFY" is read once however many addresses share it). A
part's runs are numbered; a row's *members* are the numbers of its parts' runs (and of its
name columns' runs). Rows with the same multiset of members, script and alias text form one
group: addresses that differ only in house numbers, punctuation or the order of their parts
share one result. Everything per row is done on integer arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskmap.etl.address import (
    DISTRICT,
    MAHALLA,
    MAYBE_INITIAL_COMMA,
    PART_SEPARATORS,
    REGION,
    STREET,
    Run,
    cyrillic_flags,
    forced_runs,
    initial_commas,
    parse_part,
    text_key,
)

__all__ = ["RowGroups", "group_rows"]

#: the role a name given in its own column takes
_COLUMN_ROLES = {"mahalla": MAHALLA, "district": DISTRICT, "region": REGION}


@dataclass(frozen=True)
class RowGroups:
    """Rows grouped by what the gazetteer reads in them.

    ``codes[i]`` is the group of row ``i``. ``run_sets`` holds the distinct tuples of runs that
    parts and name columns gave (street-only runs left out); group ``g``'s members (indexes
    into ``run_sets``) are ``members[offsets[g]:offsets[g + 1]]``, sorted. Per group:
    ``russian`` (Cyrillic text without Uzbek letters or words), ``alias_text`` (the text an
    alias look-up compares; None without aliases) and ``empty`` (every text blank).
    """

    codes: np.ndarray
    run_sets: list[tuple[Run, ...]]
    members: np.ndarray
    offsets: np.ndarray
    russian: np.ndarray
    alias_text: list[str | None]
    empty: np.ndarray

    def __len__(self) -> int:
        return len(self.russian)

    def runs(self, group: int) -> tuple[Run, ...]:
        """The runs of a group in the canonical (sorted) order the rules read them in."""
        ids = self.members[self.offsets[group]:self.offsets[group + 1]].tolist()
        return tuple(sorted(chain.from_iterable(self.run_sets[i] for i in ids)))


class _Interner:
    """Numbers distinct tuples of runs (the empty tuple is -1)."""

    def __init__(self) -> None:
        self.ids: dict[tuple[Run, ...], int] = {}
        self.values: list[tuple[Run, ...]] = []

    def __call__(self, runs: tuple[Run, ...]) -> int:
        if not runs:
            return -1
        got = self.ids.get(runs)
        if got is None:
            got = self.ids[runs] = len(self.values)
            self.values.append(runs)
        return got


@dataclass(frozen=True)
class _Column:
    """One input column: the distinct texts, their members, script flags and blankness."""

    codes: np.ndarray  # per row: its distinct text (the last text is a missing value, "")
    texts: list[str]
    owner: np.ndarray  # (owner text, run-tuple id) pairs: a text's members
    ids: np.ndarray
    cyrillic: np.ndarray
    uzbek: np.ndarray
    blank: np.ndarray


def _kept(runs: tuple[Run, ...]) -> tuple[Run, ...]:
    """The runs the search uses: a street alone is not a place."""
    return tuple(r for r in runs if STREET not in r.roles or len(r.roles) > 1)


def _combine(codes: np.ndarray, more: np.ndarray) -> np.ndarray:
    """Codes of the distinct pairs (codes[i], more[i]) (``more`` may hold -1)."""
    width = int(more.max(initial=-1)) + 2
    return pd.factorize(codes * width + (more + 1))[0].astype(np.int64)


def _factorize(ser: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes of the distinct texts of a column; a missing value is the last text, ""."""
    if isinstance(ser.dtype, pd.StringDtype):
        codes, uniques = pd.factorize(ser, use_na_sentinel=True)
        texts = uniques.tolist()
    else:
        codes, uniques = pd.factorize(ser.to_numpy(dtype=object), use_na_sentinel=True)
        texts = [u if isinstance(u, str) else str(u) for u in uniques]
    texts.append("")
    return np.where(codes < 0, len(texts) - 1, codes).astype(np.int64), texts


def _flags(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(has Cyrillic, has Uzbek Cyrillic) of each text."""
    flags = np.array([cyrillic_flags(t) for t in texts], dtype=bool).reshape(-1, 2)
    return flags[:, 0], flags[:, 1]


def _blank(texts: Sequence[str]) -> np.ndarray:
    return np.array([not t or t.isspace() for t in texts], dtype=bool)


def _split_parts(texts: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Split texts into parts as :func:`riskmap.etl.address.address_parts` does.

    Returns each part's text number, the distinct parts and each part's distinct-part code.
    Parts are trimmed of spaces; a part may come out empty, or with a rare space character
    (one Arrow does not trim) at its ends: neither changes what the part says.
    """
    arr = pa.array(texts, type=pa.string())
    maybe = pc.match_substring_regex(arr, MAYBE_INITIAL_COMMA)
    fix = np.flatnonzero(maybe.to_numpy(zero_copy_only=False))
    if len(fix):  # "Yu,Zarkaynar": the comma is an initial's dot
        fixed = list(texts)
        for i in fix.tolist():
            fixed[i] = initial_commas(texts[i])
        arr = pa.array(fixed, type=pa.string())
    lists = pc.split_pattern_regex(arr, PART_SEPARATORS)
    owner = pc.list_parent_indices(lists).to_numpy().astype(np.int64)
    encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(pc.list_flatten(lists)))
    return owner, encoded.dictionary.to_pylist(), encoded.indices.to_numpy().astype(np.int64)


def _address_column(ser: pd.Series, intern: _Interner) -> _Column:
    """Parse the distinct addresses part by part (each distinct part once)."""
    codes, texts = _factorize(ser)
    owner, parts, part_codes = _split_parts(texts)
    part_ids = np.array([intern(_kept(parse_part(p))) for p in parts], dtype=np.int64)
    p_cyr, p_uzb = _flags(parts)
    n = len(texts)
    cyrillic = np.bincount(owner, weights=p_cyr[part_codes], minlength=n) > 0
    uzbek = np.bincount(owner, weights=p_uzb[part_codes], minlength=n) > 0
    return _Column(codes, texts, owner, part_ids[part_codes], cyrillic, uzbek, _blank(texts))


def _name_column(ser: pd.Series, role: str, intern: _Interner) -> _Column:
    """Parse the distinct names of a mahalla/district/region column, forced to its role."""
    codes, texts = _factorize(ser)
    ids = np.array([intern(_kept(forced_runs(t, role))) if t else -1 for t in texts],
                   dtype=np.int64)
    cyrillic, uzbek = _flags(texts)
    return _Column(codes, texts, np.arange(len(texts)), ids, cyrillic, uzbek, _blank(texts))


def _multisets(owner: np.ndarray, ids: np.ndarray, n: int,
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Code of each owner's multiset of ids (ids < 0 left out), and the sorted members.

    Returns the codes (one per owner), the kept ids sorted by owner then id, and each owner's
    offset in them (n + 1 offsets).
    """
    keep = ids >= 0
    owner, ids = owner[keep], ids[keep]
    order = np.lexsort((ids, owner))
    owner, ids = owner[order], ids[order]
    counts = np.bincount(owner, minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    pos = np.arange(len(owner)) - offsets[owner]
    codes = np.zeros(n, dtype=np.int64)
    for j in range(int(counts.max(initial=0))):
        col = np.full(n, -1, dtype=np.int64)
        at = pos == j
        col[owner[at]] = ids[at]
        codes = _combine(codes, col)
    return codes, ids, offsets


def _alias_texts(columns: dict[str, _Column], n: int) -> np.ndarray:
    """Per row, the text an alias look-up compares: the whole address, else the mahalla."""
    out = np.full(n, text_key(""), dtype=object)
    if "mahalla" in columns:
        col = columns["mahalla"]
        out = np.array([text_key(t) for t in col.texts], dtype=object)[col.codes]
    if "address" in columns:
        col = columns["address"]
        keys = np.array([text_key(t.strip()) if t.strip() else None for t in col.texts],
                        dtype=object)[col.codes]
        out = np.where(col.blank[col.codes], out, keys)
    return out


def _row_members(columns: dict[str, _Column], rows: np.ndarray,
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(owner, id) pairs of the members of the given rows (owner = position in ``rows``)."""
    owners, ids = [], []
    for col in columns.values():
        counts = np.bincount(col.owner, minlength=len(col.texts))
        offsets = np.concatenate([[0], np.cumsum(counts)])
        order = np.argsort(col.owner, kind="stable")
        text = col.codes[rows]
        take = counts[text]
        starts = np.repeat(offsets[text] - np.cumsum(take) + take, take)
        owners.append(np.repeat(np.arange(len(rows)), take))
        ids.append(col.ids[order[starts + np.arange(int(take.sum()))]])
    return np.concatenate(owners), np.concatenate(ids)


def group_rows(given: dict[str, pd.Series], *, aliases: bool = False) -> RowGroups:
    """Group rows whose texts the gazetteer reads alike (see the module).

    Parameters
    ----------
    given
        Columns by name (address, mahalla, district, region), all with one index; at least one.
    aliases
        Whether the gazetteer has place aliases (then the text an alias compares is kept).

    Returns
    -------
    RowGroups
    """
    n = len(next(iter(given.values())))
    intern = _Interner()
    columns = {name: _address_column(ser, intern) if name == "address"
               else _name_column(ser, _COLUMN_ROLES[name], intern)
               for name, ser in given.items()}
    codes = np.zeros(n, dtype=np.int64)
    cyrillic = np.zeros(n, dtype=bool)
    uzbek = np.zeros(n, dtype=bool)
    empty = np.ones(n, dtype=bool)
    for col in columns.values():
        multiset, _, _ = _multisets(col.owner, col.ids, len(col.texts))
        codes = _combine(codes, multiset[col.codes])
        cyrillic |= col.cyrillic[col.codes]
        uzbek |= col.uzbek[col.codes]
        empty &= col.blank[col.codes]
    russian = cyrillic & ~uzbek
    codes = _combine(codes, russian.astype(np.int64))
    codes = _combine(codes, empty.astype(np.int64))
    alias = _alias_texts(columns, n) if aliases else None
    if alias is not None:
        codes = _combine(codes, pd.factorize(alias)[0].astype(np.int64))
    _, first = np.unique(codes, return_index=True)  # a row of each group
    owner, ids = _row_members(columns, first)
    _, members, offsets = _multisets(owner, ids, len(first))
    alias_text = [None] * len(first) if alias is None else alias[first].tolist()
    return RowGroups(codes, intern.values, members, offsets, russian[first], alias_text,
                     empty[first])
