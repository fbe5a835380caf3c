"""Find districts and regions by name: exact keys, Russian forms, initials, fuzzy with a margin."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from riskmap.etl.translit import admin_forms, admin_skeleton, name_key

__all__ = ["AdminNames", "key_index"]

_FORM_CACHE = 100_000


def key_index(keys: Iterable[tuple[str, int]]) -> dict[str, frozenset[int]]:
    """Index (key, position) pairs: key -> positions (empty keys are left out).

    Examples
    --------
    >>> key_index([("a", 1), ("b", 2), ("a", 3), ("", 4)])
    {'a': frozenset({1, 3}), 'b': frozenset({2})}
    """
    out: dict[str, set[int]] = {}
    for key, pos in keys:
        if key:
            out.setdefault(key, set()).add(pos)
    return {k: frozenset(v) for k, v in out.items()}


class AdminNames:
    """District or region names: exact keys, then Russian forms and fuzzy matches with a margin.

    ``exact`` maps :func:`name_key` -> unit positions. :meth:`by_form` resolves what the exact
    look-up missed: first the :func:`etl.translit.admin_skeleton` of the text's
    :func:`etl.translit.admin_forms` (accepted when every unit it hits shares one name key,
    i.e. namesakes such as Qarshi shahri/tumani), then names with initials read as the names
    they abbreviate (Шараф-Рашидовский = Sh.Rashidov), then rapidfuzz ``ratio`` on keys and
    skeletons, accepted only at >= ``threshold`` and ``margin`` points ahead of the next
    distinct name. Results are cached per (text, allowed units).
    """

    def __init__(self, names: Sequence[str], *, threshold: float, margin: float) -> None:
        self.keys = [name_key(n) for n in names]
        self.exact = key_index((k, i) for i, k in enumerate(self.keys))
        self._by_skel = key_index((admin_skeleton(f), i) for i, n in enumerate(names)
                                  for f in admin_forms(n))
        # a name with initials ("Sh.Rashidov") also stands for the names they abbreviate
        self._initials = [(re.compile("^" + re.escape(k).replace(r"\.", "[a-z]*") + "$"), i)
                          for i, k in enumerate(self.keys) if "." in k]
        self.threshold, self.margin = threshold, margin
        self._cache: dict[tuple[str, frozenset[int] | None],
                          tuple[frozenset[int], float] | None] = {}

    def by_form(self, text: str, allowed: frozenset[int] | None,
                ) -> tuple[frozenset[int], float] | None:
        """Units (within ``allowed``; None = all) that ``text`` names, and the match score."""
        ck = (text, allowed)
        if ck not in self._cache:
            if len(self._cache) >= _FORM_CACHE:
                self._cache.clear()
            self._cache[ck] = self._by_form(admin_forms(text), allowed)
        return self._cache[ck]

    def _by_form(self, forms: tuple[str, ...], allowed: frozenset[int] | None,
                 ) -> tuple[frozenset[int], float] | None:
        units = range(len(self.keys)) if allowed is None else sorted(allowed)
        groups: dict[str, list[int]] = {}
        for u in units:
            groups.setdefault(self.keys[u], []).append(u)
        if not forms or not groups:
            return None
        keys = list(groups)
        key_score = process.cdist(forms, keys, scorer=fuzz.ratio, dtype=np.float32).max(axis=0)
        skeletons = [admin_skeleton(f) for f in forms]
        for skel in skeletons:
            hits = {self.keys[u] for u in self._by_skel.get(skel, ())
                    if allowed is None or u in allowed}
            if len(hits) == 1:
                k = hits.pop()
                return frozenset(groups[k]), round(float(key_score[keys.index(k)]), 2)
            if hits:
                break
        hits = {self.keys[u] for pattern, u in self._initials if allowed is None or u in allowed
                if any(pattern.match(f) for f in forms)}
        if len(hits) == 1:
            k = hits.pop()
            return frozenset(groups[k]), round(float(key_score[keys.index(k)]), 2)
        cand_skel = [(j, admin_skeleton(f)) for j, k in enumerate(keys) for f in admin_forms(k)]
        skel_score = np.zeros(len(keys), dtype=np.float32)
        flat = process.cdist(skeletons, [sk for _, sk in cand_skel], scorer=fuzz.ratio,
                             dtype=np.float32).max(axis=0)
        np.maximum.at(skel_score, np.array([j for j, _ in cand_skel], dtype=np.intp), flat)
        score = np.maximum(key_score, skel_score)
        order = np.argsort(-score, kind="stable")
        best = float(score[order[0]])
        second = float(score[order[1]]) if len(order) > 1 else 0.0
        if best < self.threshold or best - second < self.margin:
            return None
        return frozenset(groups[keys[order[0]]]), round(best, 2)

