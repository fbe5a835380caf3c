"""Resolve the common "[region,] district, name" rows of a batch with array look-ups.

Most incident addresses name a district and a mahalla (and maybe a region) and nothing else.
For the groups of :func:`riskmap.etl.address_groups.group_rows` that do, this gives exactly
what :func:`riskmap.etl.exact_match.resolve` gives, with the per-row work done on arrays: each
distinct (region, district) pair is resolved once, each distinct name is keyed once, and the
names are looked up in their districts with :meth:`pandas.Index.get_indexer`. Groups it does
not settle are left to :func:`riskmap.etl.exact_match.resolve`.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from riskmap.etl.address import DISTRICT, MAHALLA, REGION, Run, raw_key
from riskmap.etl.address_groups import RowGroups
from riskmap.etl.exact_match import RowText, name_hints, plain_district
from riskmap.etl.place_index import Outcome, Pending, PlaceIndex
from riskmap.etl.translit import token_keys

__all__ = ["resolve_plain_groups"]

_REGION_RUN, _DISTRICT_RUN, _NAME_RUN, _OTHER = 0, 1, 2, 3


def _classes(run_sets: list[tuple[Run, ...]]) -> np.ndarray:
    """What each tuple of runs is in a plain row: a region, district or name run, or other."""
    out = np.full(len(run_sets), _OTHER, dtype=np.int64)
    for i, runs in enumerate(run_sets):
        if len(runs) != 1 or runs[0].note:
            continue
        run = runs[0]
        if run.roles == (REGION,):
            out[i] = _REGION_RUN
        elif run.roles == (DISTRICT,):
            out[i] = _DISTRICT_RUN
        elif run.roles == (MAHALLA,) and not run.ext:
            out[i] = _NAME_RUN
    return out


def _plain_members(groups: RowGroups) -> tuple[np.ndarray, np.ndarray]:
    """Which groups are plain, and per group its region, district and name run sets (-1)."""
    n = len(groups)
    owner = np.repeat(np.arange(n), np.diff(groups.offsets))
    cls = _classes(groups.run_sets)[groups.members]
    counts = np.bincount(owner * 4 + cls, minlength=4 * n).reshape(n, 4)
    plain = ((counts[:, _OTHER] == 0) & (counts[:, _REGION_RUN] <= 1)
             & (counts[:, _DISTRICT_RUN] == 1) & (counts[:, _NAME_RUN] == 1) & ~groups.empty)
    which = np.full((n, 3), -1, dtype=np.int64)
    known = cls < _OTHER
    which[owner[known], cls[known]] = groups.members[known]
    return plain, which


def _districts(ix: PlaceIndex, run_sets: list[tuple[Run, ...]], region: np.ndarray,
               district: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The district (-1: not one) and its score of each (region, district) run-set pair."""
    pairs, uniques = pd.factorize(region * (len(run_sets) + 1) + district)
    d = np.empty(len(uniques), dtype=np.int64)
    score = np.empty(len(uniques), dtype=np.float64)
    for i, code in enumerate(uniques.tolist()):
        r, k = divmod(code, len(run_sets) + 1)
        d[i], score[i] = plain_district(ix, run_sets[r][0] if r >= 0 else None,
                                        run_sets[k][0])
    return d[pairs], score[pairs]


def _name_numbers(ix: PlaceIndex, run_sets: list[tuple[Run, ...]], names: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per name run set: the numbers of its full and core keys (-1: no such key) and
    whether it is one word."""
    distinct, at = np.unique(names, return_inverse=True)
    full = np.empty(len(distinct), dtype=np.int64)
    core = np.empty(len(distinct), dtype=np.int64)
    single = np.empty(len(distinct), dtype=bool)
    for i, s in enumerate(distinct.tolist()):
        words = run_sets[s][0].words
        keys = token_keys(words)
        full[i] = ix.key_numbers.get(keys.full, -1)
        core[i] = ix.key_numbers.get(keys.core, -1)
        single[i] = len(words) == 1
    return full[at], core[at], single[at]


def _pending(name: Run, d: int, d_score: float, russian: bool) -> Pending:
    """The fuzzy search of a one-word name that no key of its district holds: its core and
    full keys and the word as written (for one word, its n-gram keys are among them)."""
    (word,) = name.words
    scope = frozenset((d,))
    keys = token_keys(name.words)
    queries = sorted(k for k in {keys.core, keys.full, raw_key(word)} if len(k) >= 3)
    return Pending(queries, [True] * len(queries), scope, scope, d_score,
                   partial(name_hints, [(name, 0, 1)], RowText("", russian, scope)))


def resolve_plain_groups(ix: PlaceIndex, groups: RowGroups) -> list[Outcome | Pending | None]:
    """Resolve the plain groups ("[region,] district, name"); None for every other group.

    A plain group has one district run, one name run (mahalla-marked, no settlement or street
    word after it) and at most one region run, and, with aliases, a text that is no alias.
    Its district is the one its region and district runs name (else it is left); its name is
    looked up in that district by full key, then, for one word, by core and variant key:
    one mahalla is the match, several leave the group; none queue a one-word name for the
    fuzzy pass (shared by the groups with the same name, district and script).
    """
    n = len(groups)
    out: list[Outcome | Pending | None] = [None] * n
    plain, which = _plain_members(groups)
    if ix.aliases is not None:
        texts = ix.aliases.texts
        plain &= np.array([t not in texts for t in groups.alias_text], dtype=bool)
    rows = np.flatnonzero(plain)
    if not len(rows):
        return out
    run_sets = groups.run_sets
    d, d_score = _districts(ix, run_sets, which[rows, _REGION_RUN], which[rows, _DISTRICT_RUN])
    rows, d, d_score = rows[d >= 0], d[d >= 0], d_score[d >= 0]
    names = which[rows, _NAME_RUN]
    full, core, single = _name_numbers(ix, run_sets, names)
    count, first = ix.full_in.look_up(full, d)
    for tier in (ix.core_in, ix.var_in):
        todo = (count == 0) & single
        c, f = tier.look_up(core[todo], d[todo])
        count[todo], first[todo] = c, f
    russian = groups.russian[rows]
    pending: dict[tuple[int, int, float, bool], Pending] = {}
    for g, m, k, dd, sc, s, name, ru in zip(
            rows.tolist(), first.tolist(), count.tolist(), d.tolist(), d_score.tolist(),
            single.tolist(), names.tolist(), russian.tolist(), strict=True):
        if k == 1:
            out[g] = Outcome(m, dd, "mahalla", 100.0)
        elif k == 0 and s and ix.aliases is None:
            key = (name, dd, sc, ru)
            got = pending.get(key)
            if got is None:
                got = pending[key] = _pending(run_sets[name][0], dd, sc, ru)
            out[g] = got
    return out
