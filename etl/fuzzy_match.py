"""Fuzzy-match the names the exact keys missed (rapidfuzz ``cdist``, batched by search scope)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from rapidfuzz import fuzz, process

from riskmap.etl.place_index import Pending, PlaceIndex

__all__ = ["resolve_fuzzy"]

_FUZZY_CHUNK = 2048
# cdist runs on all cores from this many (query, key) pairs; below, threads cost more than
# they save (most scopes are one district: tens of queries against a hundred keys)
_THREADED_CELLS = 1_000_000
# A fuzzy mahalla match below ``threshold`` is still taken when the whole name written in the
# address is at most this many insert/delete steps from a name of the search scope (one
# letter replaced, swapped, added or dropped), both keys have at least _TYPO_MIN_LEN
# letters, and no other name of the scope is as close (or one step further).
_TYPO_STEPS = 2
_TYPO_MIN_LEN = 5


def resolve_fuzzy(ix: PlaceIndex, pending: list[Pending]) -> None:
    """Fuzzy-match the queued rows, batched by search scope with ``process.cdist``."""
    groups: dict[frozenset[int] | None, list[Pending]] = {}
    for item in pending:
        if item.queries:
            groups.setdefault(item.scope, []).append(item)
        else:
            item.outcome = ix.fallback(item.districts, item.district_score)
    for scope, items in groups.items():
        choices = ix.choices(scope)
        keys = list(choices)
        sets = [choices[k] for k in keys]
        # per item: the best (whole name?, score) and the mahallas at it
        best = [(False, 0.0)] * len(items)
        hit_sets: list[set[int]] = [set() for _ in items]
        doubt = [False] * len(items)  # a near match that was not clear
        if keys:
            for it, rank, found in _fuzzy_best(ix, items, keys, sets):
                if found is None:
                    doubt[it] = True
                    continue
                if rank > best[it]:
                    best[it], hit_sets[it] = rank, set()
                if rank == best[it]:
                    hit_sets[it] |= found
        for it, item in enumerate(items):
            outcome = None
            if hit_sets[it]:
                outcome = ix.decide(hit_sets[it], round(best[it][1], 2),
                                    item.districts, item.district_score, item.hints)
            if item.fallback is not None and not doubt[it] and (
                    outcome is None or outcome.precision != "mahalla"):
                # the name found inside the longer one stands, unless the whole was
                # near other names ("Kut Chovdur": Kul Chovdur or Chovdur?)
                outcome = item.fallback
            item.outcome = outcome or ix.fallback(item.districts, item.district_score)


def _fuzzy_best(ix: PlaceIndex, items: list[Pending], keys: list[str], sets: list[frozenset[int]],
                ) -> Iterable[tuple[int, tuple[bool, float], frozenset[int] | None]]:
    """(item, (whole name?, score), mahallas) of each query's best match (None: unclear).

    A key is a candidate at ``ratio`` >= ``threshold``; for a whole name also at most
    :data:`_TYPO_STEPS` insert/delete steps away when both have at least
    :data:`_TYPO_MIN_LEN` letters. The best candidate is taken only when every key within
    one step more than it names the same mahallas (else a typo could as well be another
    name: "Tergak" is one step from Terak and two from Tersak). A whole name's match
    outranks any match of a part of it ("uTrk-Kurgon" is Turk-Kurgon, not Okkurgon).

    The scores, steps and tests are computed on whole chunks of queries; only a query whose
    best and near keys name different sets of mahallas is settled one by one.
    """
    flat = [q for it in items for q in it.queries]
    typo = np.array([f for it in items for f in it.whole], dtype=bool)
    owner = np.repeat(np.arange(len(items)), [len(it.queries) for it in items])
    q_len = np.array([len(q) for q in flat], dtype=np.float32)
    k_len = np.array([len(k) for k in keys], dtype=np.float32)
    floor = 100.0 * (1.0 - (_TYPO_STEPS + 1) / (2.0 * _TYPO_MIN_LEN))
    cutoff = min(ix.threshold, floor)
    set_id = _set_ids(sets)
    for lo in range(0, len(flat), _FUZZY_CHUNK):
        chunk = flat[lo:lo + _FUZZY_CHUNK]
        workers = -1 if len(chunk) * len(keys) >= _THREADED_CELLS else 1
        scores = process.cdist(chunk, keys, scorer=fuzz.ratio, score_cutoff=cutoff,
                               dtype=np.float32, workers=workers)
        n = len(scores)
        steps = np.where(scores > 0, np.rint((100.0 - scores) / 100.0
                                             * (q_len[lo:lo + n, None] + k_len)), np.inf)
        ok = scores >= ix.threshold
        ok |= (typo[lo:lo + n, None] & (steps <= _TYPO_STEPS)
               & (np.minimum(q_len[lo:lo + n, None], k_len) >= _TYPO_MIN_LEN))
        rows = np.flatnonzero(ok.any(axis=1))
        if not len(rows):
            continue
        scores, steps, ok = scores[rows], steps[rows], ok[rows]
        # the best score among the candidates, the keys at it, and the keys as near as them
        # (or one step further: ``steps`` is inf for keys below the cutoff)
        top = np.where(ok, scores, -1.0).max(axis=1)
        at = ok & (scores == top[:, None])
        near = np.where(at, steps, np.inf).min(axis=1)
        close = steps <= (near + 1.0)[:, None]
        # clear when every key at the top and every near key names one set of mahallas
        first = at.argmax(axis=1)
        same = set_id[None, :] == set_id[first][:, None]
        simple = ~((at | close) & ~same).any(axis=1)
        for i, (q, t, c, easy) in enumerate(zip((rows + lo).tolist(), top.tolist(),
                                                first.tolist(), simple.tolist(), strict=True)):
            rank = (bool(typo[q]), t)
            if easy:
                yield int(owner[q]), rank, sets[c]
                continue
            found = frozenset().union(*(sets[k] for k in np.flatnonzero(at[i])))
            near_sets = (sets[k] for k in np.flatnonzero(close[i]))
            yield int(owner[q]), rank, found if frozenset().union(*near_sets) <= found else None


def _set_ids(sets: list[frozenset[int]]) -> np.ndarray:
    """A number for each distinct set of mahallas (equal sets, equal numbers)."""
    ids: dict[frozenset[int], int] = {}
    return np.array([ids.setdefault(s, len(ids)) for s in sets], dtype=np.int64)
