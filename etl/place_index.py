"""Mahallas and districts by position, indexed by name key, and the rules that choose among hits.

Internal to :mod:`riskmap.etl.gazetteer`: :class:`PlaceIndex` is what a gazetteer knows (its
tables, keys, district and region names and aliases); :class:`Outcome` and :class:`Pending`
are what a row resolves to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from riskmap.etl.address import CITY, parse_address, raw_key, ru_form, with_note
from riskmap.etl.admin_names import AdminNames, key_index
from riskmap.etl.place_aliases import PlaceAliases, index_aliases
from riskmap.etl.translit import mahalla_keys

__all__ = ["DistrictKeys", "Hints", "Outcome", "Pending", "PlaceIndex"]


@dataclass
class Outcome:
    """What one distinct input combination resolved to."""

    mahalla: int = -1
    district: int = -1
    precision: str | None = None
    score: float = 0.0
    reason: str | None = None


@dataclass(frozen=True)
class Hints:
    """What the address says besides the name: the assembly kinds and the names as written.

    They choose between mahallas of one district whose keys coincide ("Kumakay MFY" and
    "Kumakay QFY"; "Qo‘rg‘oncha MFY" and "Qo‘rgoncha QFY"; "Birlik MFY" and "Birlik MFY
    (jamoat asosida)"), and their loose keys reveal namesakes a misspelling hides.
    """

    kinds: frozenset[str] = frozenset()
    written: frozenset[str] = frozenset()
    noted: frozenset[str] = frozenset()  # written, with the row's bracketed note
    russian: bool = False  # Russian text, which writes o‘ as u, q as k, h as x: compare so
    loose: frozenset[str] = frozenset()  # loose keys of the names (namesake check)
    scope: frozenset[int] | None = None  # the row's search scope


@dataclass
class Pending:
    """A combination whose mahalla needs the fuzzy pass."""

    queries: list[str]
    whole: list[bool]  # per query: a whole name (tried before the n-grams; may have a typo)
    scope: frozenset[int] | None
    districts: frozenset[int] | None
    district_score: float
    hints: Hints | Callable[[], Hints]  # or how to get them, when needed
    fallback: Outcome | None = None  # the outcome when the fuzzy pass finds nothing
    outcome: Outcome = field(default_factory=Outcome)


def _kind_of(name: str) -> str | None:
    """'city' or 'district' when the district's own name says which (Qarshi shahri/tumani)."""
    kinds = {r.kind for r in parse_address(name) if r.kind}
    return kinds.pop() if len(kinds) == 1 else None


@dataclass(frozen=True)
class DistrictKeys:
    """Mahallas by (name key, district) as arrays, for look-ups of many rows at once.

    ``codes`` holds key number * ``width`` (the number of districts) + district; per code,
    ``count`` is the number of mahallas of the district under the key and ``first`` the
    first of them (one entry more at the end: none, 0 and -1).
    """

    codes: pd.Index
    count: np.ndarray
    first: np.ndarray
    width: int

    @classmethod
    def build(cls, index: dict[tuple[str, int], tuple[int, ...]], numbers: dict[str, int],
              width: int) -> DistrictKeys:
        """From a (key, district) -> mahallas dictionary and the numbers of the keys."""
        codes = [numbers[k] * width + d for k, d in index]
        return cls(pd.Index(np.array(codes, dtype=np.int64)),
                   np.array([*(len(v) for v in index.values()), 0], dtype=np.int64),
                   np.array([*(v[0] for v in index.values()), -1], dtype=np.int64), width)

    def look_up(self, key_numbers: np.ndarray, districts: np.ndarray,
                ) -> tuple[np.ndarray, np.ndarray]:
        """(number of mahallas, first mahalla or -1) under each (key number, district);
        a key number of -1 finds nothing."""
        at = self.codes.get_indexer(np.where(key_numbers >= 0,
                                             key_numbers * self.width + districts, -1))
        return self.count[at], self.first[at]  # -1 (not found) is the last entry: none


class PlaceIndex:
    """Mahallas and districts by position, indexed by name key, with the rules that decide.

    Built by :class:`riskmap.etl.gazetteer.Gazetteer` from plain tables (see there for the
    parameters). Mahallas and districts are numbered by their row in the tables; a mahalla's
    district is ``m_district[p]``; districts are grouped into regions by name.
    """

    def __init__(self, mahallas: pd.DataFrame, districts: pd.DataFrame, *,
                 threshold: float = 88.0, admin_threshold: float = 80.0,
                 admin_margin: float = 10.0, aliases: pd.DataFrame | None = None) -> None:
        for name, value in (("threshold", threshold), ("admin_threshold", admin_threshold)):
            if not 0.0 < value <= 100.0:
                raise ValueError(f"{name} must be in (0, 100], got {value!r}")
        if not 0.0 <= admin_margin < 100.0:
            raise ValueError(f"admin_margin must be in [0, 100), got {admin_margin!r}")
        self.threshold = float(threshold)
        self.ids = pd.array(mahallas["mahalla_id"].to_numpy())
        self.m_lon = mahallas["lon"].to_numpy(dtype="float64")
        self.m_lat = mahallas["lat"].to_numpy(dtype="float64")
        d_pairs = list(zip(districts["region"].fillna("").astype(str),
                           districts["district"].fillna("").astype(str), strict=True))
        d_code = {pair: i for i, pair in enumerate(d_pairs)}
        m_pairs = zip(mahallas["region"].fillna("").astype(str),
                      mahallas["district"].fillna("").astype(str), strict=True)
        # district of each mahalla (a list: scalar look-ups in Python are cheaper than numpy)
        self.m_district: list[int] = [d_code[p] for p in m_pairs]
        self.d_code = d_code
        self.d_name = np.array([d for _, d in d_pairs], dtype=object)
        self.d_region = np.array([r for r, _ in d_pairs], dtype=object)
        self.d_kind = [_kind_of(d) for _, d in d_pairs]
        self.d_lon = districts["lon"].to_numpy(dtype="float64")
        self.d_lat = districts["lat"].to_numpy(dtype="float64")

        names = mahallas["name"].fillna("").astype(str).tolist()
        self.m_name = np.array(names, dtype=object)
        cyr = (mahallas["name_cyrillic"].fillna("").astype(str).tolist()
               if "name_cyrillic" in mahallas else [""] * len(names))
        self.build_names(names, cyr)
        admin = {"threshold": float(admin_threshold), "margin": float(admin_margin)}
        self.d_names = AdminNames([d for _, d in d_pairs], **admin)
        self.d_index = self.d_names.exact
        regions = sorted(set(self.d_region))
        self.r_districts = {
            r: frozenset(np.flatnonzero(self.d_region == r).tolist()) for r in regions}
        self.r_names = regions
        self.r_city = frozenset(i for i, r in enumerate(regions) if _kind_of(r) == CITY)
        self.r_forms = AdminNames(regions, **admin)
        self.r_index = self.r_forms.exact
        self.aliases: PlaceAliases | None = None
        if aliases is not None:
            self.aliases = self.index_aliases(aliases)

    def build_names(self, names: list[str], cyr: list[str]) -> None:
        """Index the mahalla names: full, core and variant keys; kinds; written forms."""
        full: list[tuple[str, int]] = []
        core: list[tuple[str, int]] = []
        var: list[tuple[str, int]] = []
        raw: list[tuple[str, int]] = []
        loose: list[tuple[str, int]] = []
        kinds: list[str | None] = [None] * len(names)
        written: list[set[str]] = [set() for _ in names]
        noted: list[set[str]] = [set() for _ in names]
        written_ru: list[set[str]] = [set() for _ in names]
        noted_ru: list[set[str]] = [set() for _ in names]
        for i, pair in enumerate(zip(names, cyr, strict=True)):
            for text in pair:
                if not text:
                    continue
                k = mahalla_keys(text)
                full.append((k.full, i))
                core.append((k.core, i))
                var += [(v, i) for v in k.variants]
                raw.append((raw_key(k.strict), i))
                loose.append((k.loose, i))
                kinds[i] = kinds[i] or k.kind
                written[i].add(k.strict)
                noted[i].add(with_note(k.strict, k.note))
                written_ru[i].add(ru_form(k.strict))
                noted_ru[i].add(ru_form(with_note(k.strict, k.note)))
        self.m_full, self.m_core, self.m_var = key_index(full), key_index(core), key_index(var)
        self.m_loose = key_index(loose)
        self.m_kind = kinds
        self.m_written = [frozenset(w) for w in written]
        self.m_noted = [frozenset(w) for w in noted]
        self.m_written_ru = [frozenset(w) for w in written_ru]
        self.m_noted_ru = [frozenset(w) for w in noted_ru]
        # (key, district) -> mahalla positions, for rows that name their district
        self.m_full_in, self.m_core_in, self.m_var_in = (
            self._in_district(index) for index in (self.m_full, self.m_core, self.m_var))
        # the same as arrays, for look-ups of many rows: key number * districts + district
        # -> number of mahallas and the first (see :class:`DistrictKeys`)
        self.key_numbers = {k: i for i, k in enumerate(sorted(
            {k for index in (self.m_full_in, self.m_core_in, self.m_var_in) for k, _ in index}))}
        self.full_in, self.core_in, self.var_in = (
            DistrictKeys.build(index, self.key_numbers, len(self.d_name))
            for index in (self.m_full_in, self.m_core_in, self.m_var_in))
        self._all_choices: dict[str, frozenset[int]] | None = None  # choices(None), once made
        # (region words, district words, district kind) -> (district or -1, score)
        self.plain_districts: dict[tuple[object, ...], tuple[int, float]] = {}
        # fuzzy choices per district: key -> mahalla positions
        self.d_choices: list[dict[str, frozenset[int]]] = [
            {} for _ in range(len(self.d_name))]
        for index in (self.m_full, self.m_core, self.m_var, key_index(raw)):
            for key, pos in index.items():
                for p in pos:
                    d = self.d_choices[self.m_district[p]]
                    d[key] = d.get(key, frozenset()) | {p}

    def _in_district(self, index: dict[str, frozenset[int]],
                     ) -> dict[tuple[str, int], tuple[int, ...]]:
        """``index`` keyed by (key, district): the mahallas of the district under the key."""
        out: dict[tuple[str, int], list[int]] = {}
        for key, pos in index.items():
            for p in sorted(pos):
                out.setdefault((key, self.m_district[p]), []).append(p)
        return {k: tuple(v) for k, v in out.items()}

    def index_aliases(self, aliases: pd.DataFrame) -> PlaceAliases:
        """Check analyst aliases against these places and index them (see
        :func:`riskmap.etl.place_aliases.index_aliases`)."""
        return index_aliases(aliases, mahalla_ids=self.ids.astype(str),
                             m_district=self.m_district, d_name=self.d_name,
                             d_region=self.d_region)

    def by_kind(self, found: frozenset[int], hints: set[str]) -> frozenset[int]:
        """Keep the districts whose kind (city/district) the address names, if that leaves any."""
        if len(found) < 2 or len(hints) != 1:
            return found
        kept = frozenset(d for d in found if self.d_kind[d] in hints)
        return kept or found

    def mahalla_lookup(self, index: dict[str, frozenset[int]], scope: frozenset[int] | None,
                       ) -> Callable[[str], frozenset[int]]:
        """A look-up of ``index`` keys that keeps the mahallas within ``scope``."""
        def lookup(key: str) -> frozenset[int]:
            got = index.get(key, frozenset())
            if scope is None or not got:
                return got
            return frozenset(p for p in got if self.m_district[p] in scope)
        return lookup

    def alias_lookup(self, index: dict[str, frozenset[int]], scope: frozenset[int] | None,
                     ) -> Callable[[str], frozenset[int]]:
        """A look-up of alias ``index`` keys that keeps the targets within ``scope``."""
        def lookup(key: str) -> frozenset[int]:
            return self.in_scope(index.get(key, frozenset()), scope)
        return lookup

    def in_scope(self, targets: frozenset[int], scope: frozenset[int] | None,
                 ) -> frozenset[int]:
        """Alias targets (mahalla positions, or -1 - district) within ``scope``."""
        if scope is None or not targets:
            return targets
        return frozenset(t for t in targets
                         if (self.m_district[t] if t >= 0 else -1 - t) in scope)

    def alias_outcome(self, targets: frozenset[int], districts: frozenset[int] | None,
                      d_score: float) -> Outcome:
        """Outcome of alias hits: mahallas as usual; district aliases at district precision."""
        mahallas = {t for t in targets if t >= 0}
        if mahallas:
            return self.decide(mahallas, 100.0, districts, d_score)
        return self.fallback(frozenset(-1 - t for t in targets), 100.0)

    def narrow(self, hits: set[int] | frozenset[int], hints: Hints) -> set[int]:
        """Among mahallas of one district, keep those of the written kind, then spelling.

        Spelling is compared with the bracketed note, then without, then without apostrophes;
        for Russian text as Russian spells it (:func:`ru_form`).
        """
        hits = set(hits)
        if len({self.m_district[p] for p in hits}) != 1:
            return hits
        of_kind = {p for p in hits if self.m_kind[p] in hints.kinds}
        hits = of_kind or hits
        noted, written = ((self.m_noted_ru, self.m_written_ru) if hints.russian
                          else (self.m_noted, self.m_written))
        if len(hits) > 1:
            hits = {p for p in hits if noted[p] & hints.noted} or hits
        if len(hits) > 1:
            hits = {p for p in hits if written[p] & hints.written} or hits
        if len(hits) > 1:  # "ortaqishloq": O‘rtaqishloq, not O‘rta qishloq
            bare = {w.replace("'", "") for w in hints.written}
            hits = {p for p in hits if bare & {w.replace("'", "") for w in written[p]}} or hits
        return hits

    def namesakes(self, district: int, hints: Hints) -> bool:
        """Whether a loose namesake of the names written is in another district of the scope."""
        for key in hints.loose:
            for p in self.m_loose.get(key, ()):
                d = self.m_district[p]
                if d != district and (hints.scope is None or d in hints.scope):
                    return True
        return False

    def decide(self, hits: set[int] | frozenset[int], score: float,
               districts: frozenset[int] | None, d_score: float,
               hints: Hints | Callable[[], Hints] | None = None, *,
               wide: bool = True) -> Outcome:
        """One mahalla -> matched; several in one district -> that district; else ambiguous.

        With ``hints``, mahallas of one district are first narrowed by the kind and spelling
        written, and, when the row's scope is ``wide`` (not one district), a loose namesake in
        another district of it makes the row ambiguous.
        """
        get = hints if callable(hints) else (lambda: hints)
        if hints is not None and len(hits) > 1:
            hits = self.narrow(hits, get())
        in_districts = {self.m_district[p] for p in hits}
        if (wide and len(in_districts) == 1 and hints is not None
                and self.namesakes(next(iter(in_districts)), get())):
            return Outcome(score=score, reason="ambiguous")
        if len(hits) == 1:
            (p,) = hits
            return Outcome(p, self.m_district[p], "mahalla", score)
        if len(in_districts) == 1:
            d = in_districts.pop()
            return Outcome(-1, d, "district", d_score if districts else score)
        return Outcome(score=score, reason="ambiguous")

    def fallback(self, districts: frozenset[int] | None, d_score: float) -> Outcome:
        """No mahalla: the district if exactly one is known."""
        if districts is not None and len(districts) == 1:
            return Outcome(-1, next(iter(districts)), "district", d_score)
        if districts:
            return Outcome(score=d_score, reason="ambiguous")
        return Outcome(reason="not_found")

    def choices(self, scope: frozenset[int] | None) -> dict[str, frozenset[int]]:
        """Mahalla keys (-> positions) searchable within ``scope`` (None = everywhere)."""
        if scope is not None and len(scope) == 1:
            (d,) = scope
            return self.d_choices[d]
        if scope is None and self._all_choices is not None:
            return self._all_choices
        out: dict[str, frozenset[int]] = {}
        for d in range(len(self.d_choices)) if scope is None else scope:
            for key, pos in self.d_choices[d].items():
                out[key] = out.get(key, frozenset()) | pos
        if scope is None:
            self._all_choices = out
        return out
