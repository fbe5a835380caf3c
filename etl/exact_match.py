"""Resolve one parsed address by exact keys: region, district, then the mahalla name (the rules).

What the exact keys cannot settle is queued for :mod:`riskmap.etl.fuzzy_match` as a
:class:`riskmap.etl.place_index.Pending`. Internal to :mod:`riskmap.etl.gazetteer`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from riskmap.etl.address import (
    CITY,
    DISTRICT,
    MAHALLA,
    PARENT,
    REGION,
    Run,
    cover,
    ngram_keys,
    raw_key,
    ru_form,
    run_full_key,
    run_key,
    with_note,
)
from riskmap.etl.place_index import Hints, Outcome, Pending, PlaceIndex
from riskmap.etl.translit import loose_key

__all__ = [
    "RowPlaces",
    "RowText",
    "name_hints",
    "plain_district",
    "resolve",
    "row_places",
    "search_levels",
]

_PLAIN_CACHE = 100_000


def resolve(ix: PlaceIndex, runs: list[Run], russian: bool, alias_text: str | None,
            ) -> Outcome | Pending:
    """Resolve region and district, then try the exact mahalla keys; else queue fuzzy."""
    if ix.aliases is None or alias_text not in ix.aliases.texts:
        fast = _resolve_plain(ix, runs, russian)
        if fast is not None:
            return fast
    districts, d_score, scope, left = row_places(ix, runs)
    if ix.aliases is not None and alias_text is not None:
        got = ix.in_scope(ix.aliases.texts.get(alias_text, frozenset()), scope)
        if got:
            return ix.alias_outcome(got, districts, d_score)
    levels = search_levels(left)
    row = RowText(" ".join(w for r in left if r.note for w in r.words), russian, scope)
    lookups = [(True, run_full_key, ix.m_full), (True, run_full_key, ix.m_var),
               (False, run_full_key, ix.m_full), (False, run_key, ix.m_core),
               (False, run_key, ix.m_var)]
    for level in levels:
        if not level:
            continue
        for ext, key, index in lookups:
            if ext and not any(r.ext for r in level):
                continue
            hits, spans, leftover = _hits(ix, level, scope, index, key, row, ext=ext)
            if not hits:
                continue
            hints = partial(name_hints, spans, row)
            outcome = ix.decide(hits, 100.0, districts, d_score, hints,
                                wide=scope is None or len(scope) > 1)
            if leftover and outcome.precision == "mahalla":
                # a name found inside a longer one ("ling Bog‘olon"): unless the whole is
                # one typo from another name ("Ming Bog‘olon"), keep it
                return Pending(*_whole_queries(level), scope, districts, d_score,
                               hints, fallback=outcome)
            return outcome
    if ix.aliases is not None:
        for level in levels:
            for key in (run_full_key, run_key):
                hits, _, _ = _hits(ix, level, scope, ix.aliases.names, key, row,
                                   alias=True)
                if hits:
                    return ix.alias_outcome(frozenset(hits), districts, d_score)
    level = next((lv for lv in levels if lv), [])
    whole_ok = level is levels[0] or len(level) == 1
    queries: dict[str, bool] = {}
    for run in level:
        whole = {run_key(run.words), run_full_key(run.words), raw_key(" ".join(run.words))}
        for k in [*ngram_keys(run.words), *whole]:
            queries[k] = queries.get(k, False) or (whole_ok and k in whole)
    order = sorted(k for k in queries if len(k) >= 3)
    spans = [(r, 0, len(r.words)) for r in level]
    return Pending(order, [queries[q] for q in order], scope, districts, d_score,
                   partial(name_hints, spans, row))


class RowPlaces(NamedTuple):
    """What a row says of its places: the districts it names (None: no district) and their
    score, the search scope (those districts, else the districts of the regions it names,
    else None = everywhere) and the runs left for the mahalla name."""

    districts: frozenset[int] | None
    d_score: float
    scope: frozenset[int] | None
    left: list[Run]


def row_places(ix: PlaceIndex, runs: list[Run]) -> RowPlaces:
    """Read a row's region and district (see :func:`resolve`); the rest may name the mahalla."""
    allowed, used = _regions(ix, runs)
    districts, d_score, used = _districts(ix, runs, allowed, used)
    scope = districts if districts is not None else allowed
    return RowPlaces(districts, d_score, scope, _remaining(runs, used))


def _resolve_plain(ix: PlaceIndex, runs: list[Run], russian: bool) -> Outcome | Pending | None:
    """The common case, resolved with plain dictionary look-ups (else None).

    "[region,] district, name": at most one region-marked run, one district-marked run
    and one mahalla-marked run; the region a whole key, the district a whole key or a
    Russian form of one district, the name (a whole key; one word may also be a core or
    variant key) one mahalla of it, or (one word, no aliases) none: then the fuzzy pass
    is queued. Gives what the general rules give for such a row; anything else (several
    candidates, a city-region, a longer name that misses) goes the long way.
    """
    region = district = name = None
    for run in runs:
        if run.roles == (REGION,) and region is None and not run.note:
            region = run
        elif run.roles == (DISTRICT,) and district is None and not run.note:
            district = run
        elif run.roles == (MAHALLA,) and name is None and not run.note and not run.ext:
            name = run
        else:
            return None
    if district is None or name is None:
        return None
    d, d_score = plain_district(ix, region, district)
    if d < 0:
        return None
    words = name.words
    tiers = ((ix.m_full_in, run_full_key(words)),)
    if len(words) == 1:
        core = run_key(words)
        tiers += ((ix.m_core_in, core), (ix.m_var_in, core))
    for index, key in tiers:
        hits = index.get((key, d), ())
        if len(hits) == 1:
            return Outcome(hits[0], d, "mahalla", 100.0)
        if hits:
            return None
    if len(words) > 1 or ix.aliases is not None:
        return None
    # nothing: queue the fuzzy pass, with the queries the general rules would make
    scope = frozenset((d,))
    whole = {run_key(words), run_full_key(words), raw_key(" ".join(words))}
    queries = sorted(k for k in {*ngram_keys(words), *whole} if len(k) >= 3)
    return Pending(queries, [q in whole for q in queries], scope, scope, d_score,
                   partial(name_hints, [(name, 0, len(words))], RowText("", russian, scope)))


def plain_district(ix: PlaceIndex, region: Run | None, district: Run) -> tuple[int, float]:
    """The one district (and its score) a plain row's region and district runs name, else
    (-1, 0.0) (see :func:`_resolve_plain`; cached by the words and kind of the runs)."""
    key = (region.words if region is not None else None, district.words, district.kind)
    got = ix.plain_districts.get(key)
    if got is None:
        if len(ix.plain_districts) >= _PLAIN_CACHE:
            ix.plain_districts.clear()
        got = ix.plain_districts[key] = _plain_district(ix, region, district)
    return got


def _plain_district(ix: PlaceIndex, region: Run | None, district: Run) -> tuple[int, float]:
    no = (-1, 0.0)
    allowed = None
    if region is not None:
        hit = ix.r_index.get(run_key(region.words), frozenset())
        if not hit and len(region.words) == 1:
            got = ix.r_forms.by_form(region.words[0], None)
            hit = got[0] if got else hit
        if not hit:
            return no
        hit = (hit - ix.r_city) or hit
        allowed = frozenset().union(*(ix.r_districts[ix.r_names[r]] for r in hit))
    d_key = run_key(district.words)
    if district.kind == CITY and ix.r_index.get(d_key, frozenset()) & ix.r_city:
        return no  # "Toshkent shahri" is a region
    found = ix.d_index.get(d_key, frozenset())
    if allowed is not None:
        found &= allowed
    d_score = 100.0
    if not found and len(district.words) == 1:
        got = ix.d_names.by_form(district.words[0], allowed)
        found, d_score = got if got else (found, 0.0)
    found = ix.by_kind(found, {district.kind} if district.kind else set())
    if len(found) != 1:
        return no
    (d,) = found
    return d, d_score


def _hits(ix: PlaceIndex, level: list[Run], scope: frozenset[int] | None,
          index: dict[str, frozenset[int]], key: Callable[[Sequence[str]], str],
          row: RowText, *, ext: bool = False, alias: bool = False,
          ) -> tuple[set[int], list[tuple[Run, int, int]], bool]:
    """Mahallas the runs of one level name under ``index`` (by ``key``), and the spans.

    The flag says whether a run of the level has name words left over (not numbers).
    """
    lookup = (ix.alias_lookup if alias else ix.mahalla_lookup)(index, scope)
    hits: set[int] = set()
    spans: list[tuple[Run, int, int]] = []
    leftover = False
    for run in level:
        if ext:
            got = lookup(run_full_key(run.ext)) if run.ext else frozenset()
            found = [(0, len(run.words), got)] if got else []
        else:
            found = cover(run.words, lookup, key)
        covered = set()
        for lo, hi, got in found:
            hits |= got
            spans.append((run, lo, hi))
            covered.update(range(lo, hi))
        leftover = leftover or any(i not in covered and not w.isdigit()
                                   for i, w in enumerate(run.words))
    return hits, spans, leftover


def _whole_queries(level: list[Run]) -> tuple[list[str], list[bool]]:
    """Keys of the whole runs (and chains) of a level: core, full, as written."""
    keys = sorted({k for r in level for words in (r.words, r.ext) if words
                   for k in (run_key(words), run_full_key(words), raw_key(" ".join(words)))
                   if len(k) >= 3})
    return keys, [True] * len(keys)


def name_hints(spans: list[tuple[Run, int, int]], row: RowText) -> Hints:
    """Hints of the name spans that hit: kinds, written forms, loose keys (and scope)."""
    written = frozenset(" ".join(r.words[lo:hi]) for r, lo, hi in spans)
    wide = row.scope is None or len(row.scope) > 1
    loose = (frozenset(loose_key(tuple(r.words[lo:hi])) for r, lo, hi in spans) - {""}
             if wide else frozenset())  # the namesake check looks beyond one district only
    noted = frozenset(with_note(w, row.note) for w in written)
    if row.russian:
        written = frozenset(ru_form(w) for w in written)
        noted = frozenset(ru_form(w) for w in noted)
    return Hints(frozenset(r.mkind for r, _, _ in spans if r.mkind), written, noted,
                 row.russian, loose, row.scope)


def _regions(ix: PlaceIndex, runs: list[Run],
             ) -> tuple[frozenset[int] | None, set[tuple[int, int, int]]]:
    """Districts allowed by the region(s) named in the row (None = all) and words used.

    A region-marked run is looked up by exact key, else by Russian form / fuzzy name
    (``Сурхандарьинская область`` = Surxondaryo viloyati); where a key names both a
    province and a city-region (Toshkent viloyati / Toshkent shahri), the region word
    picks the province. A city-marked run ("г. Ташкент", "Toshkent shahri") that names a
    city-region is that region.
    """
    used: set[tuple[int, int, int]] = set()
    regions: set[int] = set()

    def city_lookup(key: str) -> frozenset[int]:
        return ix.r_index.get(key, frozenset()) & ix.r_city

    for i, run in enumerate(runs):
        if REGION in run.roles:
            spans = cover(run.words, lambda k: ix.r_index.get(k, frozenset()))
            if not spans:
                got = ix.r_forms.by_form(" ".join(run.words), None)
                spans = [(0, len(run.words), got[0])] if got else []
            spans = [(lo, hi, (hit - ix.r_city) or hit) for lo, hi, hit in spans]
        elif DISTRICT in run.roles and run.kind == CITY and MAHALLA not in run.roles:
            spans = cover(run.words, city_lookup)
        else:
            continue
        for lo, hi, hit in spans:
            regions |= hit
            used.add((i, lo, hi))
    if not regions:
        return None, used
    allowed = frozenset().union(*(ix.r_districts[ix.r_names[r]] for r in regions))
    return allowed, used


def _districts(ix: PlaceIndex, runs: list[Run], allowed: frozenset[int] | None,
               used: set[tuple[int, int, int]],
               ) -> tuple[frozenset[int] | None, float, set[tuple[int, int, int]]]:
    """Candidate districts: marked runs (exact, then Russian form / fuzzy), then bare
    names, then a mahalla run's prefix."""
    def lookup(key: str) -> frozenset[int]:
        got = ix.d_index.get(key, frozenset())
        return got & allowed if allowed is not None else got

    taken = {i for i, _, _ in used}  # runs read as a region
    marked = [(i, r) for i, r in enumerate(runs) if DISTRICT in r.roles and i not in taken]

    def groups() -> Iterable[tuple[int, list[tuple[int, Run]], bool]]:
        yield 0, marked, True
        yield 1, [(i, r) for i, r in enumerate(runs)
                  if not r.note and not any(role in r.roles for role in (
                      DISTRICT, MAHALLA, REGION, PARENT))], False
        # "Jizzax Do‘stlik MFY": a district name before the name, unless the whole run
        # is itself a mahalla name ("Uzun-ko‘chasi MFY")
        yield 2, [(i, r) for i, r in enumerate(runs)
                  if MAHALLA in r.roles and DISTRICT not in r.roles and len(r.words) > 1
                  and not _names_mahalla(ix, r.words, allowed)], False

    for level, group, consume in groups():
        spans = []
        for i, run in group:
            words = run.words[:-1] if level == 2 else run.words
            spans += [(i, lo, hi, got, run.kind) for lo, hi, got in cover(words, lookup)]
        if spans:
            found = frozenset().union(*(s[3] for s in spans))
            found = ix.by_kind(found, {s[4] for s in spans if s[4] is not None})
            keys = {run_key(runs[i].words[lo:hi]) for i, lo, hi, _, _ in spans}
            if consume or len(keys) == 1:
                used |= {(i, lo, hi) for i, lo, hi, _, _ in spans}
            return found, 100.0, used
        if level == 0:
            forms = _district_forms(ix, marked, allowed)
            if forms is not None:
                used |= {(i, 0, len(runs[i].words)) for i in forms[2]}
                return forms[0], forms[1], used
    return None, 0.0, used


def _names_mahalla(ix: PlaceIndex, words: tuple[str, ...],
                   allowed: frozenset[int] | None) -> bool:
    """Whether ``words`` are, as a whole, the name of a mahalla within ``allowed``."""
    for index, key in ((ix.m_full, run_full_key), (ix.m_core, run_key)):
        if ix.mahalla_lookup(index, allowed)(key(words)):
            return True
    return False


def _district_forms(ix: PlaceIndex, marked: list[tuple[int, Run]],
                    allowed: frozenset[int] | None,
                    ) -> tuple[frozenset[int], float, list[int]] | None:
    """Districts that district-marked runs name in a Russian or misspelt form.

    Returns the districts, the best score and the positions of the runs that matched.
    """
    found, best, hit_runs = frozenset[int](), 0.0, []
    for i, run in marked:
        got = ix.d_names.by_form(" ".join(run.words), allowed)
        if got is not None:
            found |= ix.by_kind(got[0], {run.kind} if run.kind else set())
            best = max(best, got[1])
            hit_runs.append(i)
    return (found, best, hit_runs) if found else None


def _remaining(runs: list[Run], used: set[tuple[int, int, int]]) -> list[Run]:
    """Runs left for the mahalla search once the region/district words are cut out.

    A district- or region-marked run that matched is dropped whole (its other words are not a
    mahalla name); other runs lose the matched words and keep their pieces.
    """
    out: list[Run] = []
    for i, run in enumerate(runs):
        cuts = sorted((lo, hi) for j, lo, hi in used if j == i)
        if not cuts:
            out.append(run)
            continue
        if DISTRICT in run.roles or REGION in run.roles:
            continue
        start = 0
        for lo, hi in [*cuts, (len(run.words), len(run.words))]:
            if lo > start:
                out.append(run._replace(words=run.words[start:lo], kind="", ext=()))
            start = max(start, hi)
    return out


def search_levels(runs: list[Run]) -> list[list[Run]]:
    """Runs in the order the mahalla search tries them: type-marked, plain, notes/parents."""
    aside = [r for r in runs if r.note or PARENT in r.roles]
    main = [r for r in runs if not (r.note or PARENT in r.roles)]
    return [[r for r in main if MAHALLA in r.roles],
            [r for r in main if MAHALLA not in r.roles], aside]


@dataclass(frozen=True)
class RowText:
    """What the mahalla search needs to know of the row's text: notes, script, scope."""

    note: str
    russian: bool
    scope: frozenset[int] | None

