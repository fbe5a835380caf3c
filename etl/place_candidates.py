"""Rank the mahallas an address could mean, for an analyst who places an unmatched row by hand.

:meth:`riskmap.etl.gazetteer.Gazetteer.candidates` reads the address as
:meth:`~riskmap.etl.gazetteer.Gazetteer.match` does (region and district words, Russian forms,
type words, house numbers), then scores every mahalla of the recognised scope against the
name words left: rapidfuzz ``ratio`` of the name's keys against the mahallas' keys (full,
core, apostrophe-free and initial-free variants, and as written), so that an exact key, a
spelling variant and a typo are ranked on one 0-100 scale. Nothing is decided here: namesakes
all come back, each with its district.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from riskmap.etl.address import (
    DISTRICT,
    REGION,
    STREET,
    Run,
    cyrillic_flags,
    forced_runs,
    parse_address,
    raw_key,
)
from riskmap.etl.exact_match import RowText, name_hints, row_places, search_levels
from riskmap.etl.place_index import Hints, PlaceIndex
from riskmap.etl.translit import token_keys

__all__ = ["CANDIDATE_COLUMNS", "MIN_CANDIDATE_SCORE", "rank_candidates"]

#: Columns of the frame returned by :func:`rank_candidates`, in order.
CANDIDATE_COLUMNS = ("mahalla_id", "name", "district", "region", "score")
#: The least score (0-100) of a candidate: below it a name is not close to the address.
MIN_CANDIDATE_SCORE = 60.0
_MAX_NGRAM = 4


def _empty() -> pd.DataFrame:
    return pd.DataFrame({
        "mahalla_id": pd.array([], dtype="string"), "name": pd.array([], dtype="string"),
        "district": pd.array([], dtype="string"), "region": pd.array([], dtype="string"),
        "score": np.array([], dtype=np.float64)})


class _Query(NamedTuple):
    """A key to compare: its weight (1 for a whole run, else the share of the run's letters
    it covers) and its rank among equal scores (lower first, see :func:`_rank`)."""

    weight: float
    rank: int


#: The order in which the matcher tries the keys of a run (exact_match.resolve): its chain
#: (the run with the settlement or street words after it) by full key, then the run by full
#: key, then by core key; parts of it last.
_CHAIN, _FULL, _CORE, _PART = 0, 1, 2, 3


def _rank(level: int, how: int) -> int:
    """Rank of a match among equal scores: by search level of the run (0 type-marked, 1
    plain, 2 notes/parents), then by the kind of key."""
    return 4 * level + how


def _queries(levels: list[list[Run]]) -> dict[str, _Query]:
    """Keys of the name runs (whole runs, their chains and their n-grams) to compare."""
    out: dict[str, _Query] = {}

    def add(key: str, weight: float, rank: int) -> None:
        old = out.get(key)
        if len(key) >= 3 and (old is None or (weight, -rank) > (old.weight, -old.rank)):
            out[key] = _Query(weight, rank)

    for level, runs in enumerate(levels):
        for run in runs:
            if run.ext:
                ext = token_keys(run.ext)
                for key in (ext.full, ext.core, raw_key(" ".join(run.ext))):
                    add(key, 1.0, _rank(level, _CHAIN))
            words = run.words
            keys = token_keys(words)
            add(keys.full, 1.0, _rank(level, _FULL))
            for key in (keys.core, raw_key(" ".join(words))):
                add(key, 1.0, _rank(level, _CORE))
            whole = max(len(keys.core), 1)
            for n in range(1, min(_MAX_NGRAM, len(words) - 1) + 1):
                for i in range(len(words) - n + 1):
                    part = token_keys(words[i:i + n]).core
                    add(part, min(len(part) / whole, 1.0), _rank(level, _PART))
    return out


def _exact(ix: PlaceIndex, levels: list[list[Run]], scope: frozenset[int] | None,
           best: dict[int, tuple[float, int]]) -> None:
    """Mahallas whose key is a whole run's key (of any length): score 100."""
    for level, runs in enumerate(levels):
        for run in runs:  # the look-ups of the matcher (exact_match.resolve)
            keys = token_keys(run.words)
            found = [(ix.m_full, keys.full, _FULL), (ix.m_core, keys.core, _CORE),
                     (ix.m_var, keys.core, _CORE)]
            if run.ext:
                ext = token_keys(run.ext).full
                found += [(ix.m_full, ext, _CHAIN), (ix.m_var, ext, _CHAIN)]
            for index, key, how in found:
                for p in ix.mahalla_lookup(index, scope)(key):
                    _keep(best, p, 100.0, _rank(level, how))


def _keep(best: dict[int, tuple[float, int]], p: int, score: float, rank: int) -> None:
    """Keep mahalla ``p``'s best (score, rank)."""
    old = best.get(p)
    if old is None or (score, -rank) > (old[0], -old[1]):
        best[p] = (score, rank)


def _fuzzy(ix: PlaceIndex, queries: dict[str, _Query], scope: frozenset[int] | None,
           best: dict[int, tuple[float, int]]) -> None:
    """Mahallas whose keys are close to a query: ``ratio`` times the query's weight."""
    choices = ix.choices(scope)
    keys = list(choices)
    if not keys:
        return
    scores = process.cdist(list(queries), keys, scorer=fuzz.ratio, dtype=np.float32,
                           score_cutoff=MIN_CANDIDATE_SCORE, workers=-1)
    weighted = scores * np.array([q.weight for q in queries.values()], dtype=np.float32)[:, None]
    top = weighted.max(axis=0)
    ranks = np.array([q.rank for q in queries.values()], dtype=np.int64)[:, None]
    rank = np.where(weighted == top, ranks, _rank(3, 0)).min(axis=0)
    for k in np.flatnonzero(top >= MIN_CANDIDATE_SCORE).tolist():
        for p in choices[keys[k]]:
            _keep(best, p, float(top[k]), int(rank[k]))


def _agreement(ix: PlaceIndex, p: int, hints: Hints) -> int:
    """How well mahalla ``p`` agrees with what is written besides its key, for ties: the
    assembly kind (MFY/QFY/...), then the spelling with the bracketed note, the spelling,
    the spelling without apostrophes (the order in which
    :meth:`riskmap.etl.place_index.PlaceIndex.narrow` tells namesakes apart)."""
    noted, written = ((ix.m_noted_ru, ix.m_written_ru) if hints.russian
                      else (ix.m_noted, ix.m_written))
    bare = {w.replace("'", "") for w in hints.written}
    return (8 * (ix.m_kind[p] in hints.kinds) + 4 * bool(noted[p] & hints.noted)
            + 2 * bool(written[p] & hints.written)
            + bool(bare & {w.replace("'", "") for w in written[p]}))


def rank_candidates(ix: PlaceIndex, text: str | None, *, district: str | None = None,
                    region: str | None = None, limit: int = 5) -> pd.DataFrame:
    """The mahallas ``text`` could mean, best first (see
    :meth:`riskmap.etl.gazetteer.Gazetteer.candidates`)."""
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit!r}")
    texts = [text if isinstance(text, str) else ""]
    runs = list(parse_address(texts[0]))
    for value, role in ((district, DISTRICT), (region, REGION)):
        if isinstance(value, str) and value.strip():
            runs += forced_runs(value, role)
            texts.append(value)
    runs = sorted(r for r in runs if STREET not in r.roles or len(r.roles) > 1)
    places = row_places(ix, runs)
    if len(texts) > 1 and places.scope is None:
        return _empty()  # a district or region was given but none is known: no scope
    levels = search_levels(places.left)
    queries = _queries(levels)
    if limit == 0 or not any(levels):
        return _empty()
    best: dict[int, tuple[float, int]] = {}
    _exact(ix, levels, places.scope, best)
    if queries:
        _fuzzy(ix, queries, places.scope, best)
    if ix.aliases is not None:  # an analyst's alias of a whole name is as good as the name
        for key, query in queries.items():
            if query.weight == 1.0:
                for t in ix.in_scope(ix.aliases.names.get(key, frozenset()), places.scope):
                    if t >= 0:
                        _keep(best, t, 100.0, query.rank)
    if not best:
        return _empty()
    flags = [cyrillic_flags(t) for t in texts]
    russian = any(c for c, _ in flags) and not any(u for _, u in flags)
    note = " ".join(w for r in places.left if r.note for w in r.words)
    spans = [(r, 0, len(r.words)) for level in levels for r in level]
    hints = name_hints(spans, RowText(note, russian, places.scope))
    pos = np.array(sorted(best), dtype=np.int64)
    score = np.round(np.array([best[p][0] for p in pos.tolist()], dtype=np.float64), 2)
    rank = np.array([best[p][1] for p in pos.tolist()], dtype=np.int64)
    agree = np.array([_agreement(ix, p, hints) for p in pos.tolist()], dtype=np.int64)
    order = np.lexsort((pos, -agree, rank, -score))[:limit]
    pos, score = pos[order], score[order]
    d = np.array([ix.m_district[p] for p in pos.tolist()], dtype=np.int64)
    ids = ix.ids.take(pos)
    return pd.DataFrame({
        "mahalla_id": pd.array(np.asarray(ids, dtype=object).astype(str), dtype="string"),
        "name": pd.array(ix.m_name[pos], dtype="string"),
        "district": pd.array(ix.d_name[d], dtype="string"),
        "region": pd.array(ix.d_region[d], dtype="string"),
        "score": score,
    })
