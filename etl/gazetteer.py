"""Match free-text addresses and mahalla/district/region names to mahallas (the geocoding gazetteer)."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

import geopandas as gpd
import shapely

from riskmap.errors import InputFileError, MissingColumnError, SchemaError
from riskmap.etl.translit import (
    ASSEMBLY_KIND,
    ASSEMBLY_WORDS,
    SETTLEMENT_WORDS,
    admin_forms,
    admin_skeleton,
    loose_key,
    mahalla_keys,
    name_key,
    prepare_text,
    token_keys,
)
from riskmap.geo.points import xy

__all__ = ["MATCH_COLUMNS", "Gazetteer", "parse_address", "read_place_aliases"]

#: Columns of the frame returned by :meth:`Gazetteer.match`, in order.
MATCH_COLUMNS = ("mahalla_id", "district", "region", "precision", "score", "lon", "lat", "reason")

_MAHALLA, _DISTRICT, _REGION, _STREET = "mahalla", "district", "region", "street"
_PARENT = "parent"  # "X ovul fuqarolar yig‘ini tarkibidagi Y MFY": X holds the mahalla Y
_CITY, _RURAL = "city", "district"
_POST, _PRE, _EITHER = "post", "pre", "either"
_MAX_NGRAM = 4
_FUZZY_CHUNK = 2048
_FORM_CACHE = 100_000
# A fuzzy mahalla match below ``threshold`` is still taken when the whole name written in the
# address is at most this many insert/delete steps from a name of the search scope (one
# letter replaced, swapped, added or dropped), both keys have at least _TYPO_MIN_LEN
# letters, and no other name of the scope is as close (or one step further).
_TYPO_STEPS = 2
_TYPO_MIN_LEN = 5

# Marker words (as they look after :func:`etl.translit.prepare_text`): word -> (role,
# preferred side, district kind). Uzbek markers follow the name ("Do'stlik MFY", "Jizzax
# shahri"), Russian ones usually precede it ("г. Джизак", "махалля Дустлик").
_MARKERS: dict[str, tuple[str, str, str | None]] = {
    **dict.fromkeys(
        ["mfy", "qfy", "kfy", "ofy", "shfy", "pfy", "fy", "mfi", "ssg", "msg", "mp", "ap", "mpj",
         "mahalla", "mahallasi", "mahallasida", "maxallasi", "mahalli", "maxalli", "max", "mah",
         "mfylari", "ovul", "ovuli", "qishloq", "qishlog'i", "qishlogi", "kishlog'i", "kishlogi",
         "fuqarolar", "fuqarolari", "fuqarolai", "fukarolar", "yig'ini", "yigini", "yiyini",
         "shaharcha", "shaharchasi", "shaxarcha", "shaxarchasi", "poselkasi"],
        (_MAHALLA, _POST, None)),
    **dict.fromkeys(
        ["maxallya", "maxalla", "mahallya", "kishlak", "aul", "posyolok", "poselok", "pos"],
        (_MAHALLA, _PRE, None)),
    **dict.fromkeys(["shahri", "shahar", "shaxri", "shaxar", "sh"], (_DISTRICT, _POST, _CITY)),
    **dict.fromkeys(["tumani", "tuman", "t"], (_DISTRICT, _POST, _RURAL)),
    **dict.fromkeys(["gorod", "goroda", "gorode", "g", "gor"], (_DISTRICT, _PRE, _CITY)),
    **dict.fromkeys(["rayon", "rayoni", "rayona", "rayone", "rayonu"],
                    (_DISTRICT, _EITHER, _RURAL)),
    **dict.fromkeys(["viloyati", "viloyat", "vil", "respublikasi"], (_REGION, _POST, None)),
    **dict.fromkeys(["oblast", "oblasti", "obl", "respublika", "resp"], (_REGION, _EITHER, None)),
    **dict.fromkeys(
        ["ko'chasi", "ko'cha", "kochasi", "kocha", "kuchasi", "kucha", "prospekti", "shoh",
         "massivi", "mavzesi", "kvartali", "dahasi", "tor", "berk"],
        (_STREET, _POST, None)),
    **dict.fromkeys(
        ["ulitsa", "ul", "prospekt", "pr", "prosp", "pereulok", "per", "proezd", "tupik",
         "massiv", "mavze", "kvartal", "mkr", "mikrorayon", "bulvar", "ploshad"],
        (_STREET, _PRE, None)),
    **dict.fromkeys(["tarkibidagi", "tasarrufidagi"], (_PARENT, _POST, None)),
}
# Markers that name an assembly (MFY, "fuqarolar yig‘ini", mahalla): a settlement, town or
# street word right before one of them is part of the name ("Yangi shaxar MFY", "Kumshungil
# ovul fuqarolar yig‘ini", "Bog kucha MFY").
_ASSEMBLY_MARKERS = frozenset(w for w, (role, _, _) in _MARKERS.items()
                              if role == _MAHALLA and w in ASSEMBLY_WORDS)
_NAME_LIKE_MARKERS = frozenset(
    w for w, (role, _, _) in _MARKERS.items()
    if (role == _STREET or w in SETTLEMENT_WORDS
        or w in {"shahar", "shaxar", "shahri", "shaxri", "sh", "tuman"})
    and w not in _ASSEMBLY_MARKERS)
# Words that carry no name: house/flat parts and filler. They end a name like a comma does.
_STOPWORDS = frozenset(
    ["uy", "uyi", "dom", "d", "kv", "kvartira", "xonadon", "xonadoni", "korpus", "k", "bino",
     "binosi", "yaqinida", "yonida", "oldida", "orqasida", "ro'parasi", "hududida", "hududi",
     "ryadom", "okolo", "u", "v", "va", "i", "bilan", "raqamli", "raqam", "n", "no"]
)
# House words that are also part of names ("Oq uy MFY", "махалля Беш уй").
_NAME_LIKE_STOPWORDS = frozenset(["uy", "uyi"])
# Words dropped without ending the name: "A.Navoiy nomli MFY", "махалля им. Навои".
_FILLER = frozenset(["nomli", "nomidagi", "imeni", "im"])
_SEGMENT_RE = re.compile(r"[,;()\[\]{}|\n\r\t/\\]+")
_PART_RE = re.compile(r"\s*[,;|\n\r\t/\\][,;|/\\\s]*")  # splits an address into parts
_GLUED_COMMA_RE = re.compile(r"[^\W\d_],[^\W\d_]")
_INITIAL_COMMA_RE = re.compile(r"(?<=(?<![^\W\d_])[^\W\d_]),(?=[^\W\d_])|(?<=(?<![^\W\d_])"
                               r"[^\W\d_]{2}),(?=[^\W\d_])")
_BRACKET_RE = re.compile(r"\(([^()]*)\)")
_TOKEN_RE = re.compile(r"[0-9a-z'~]+")
_DIGIT_RE = re.compile(r"\d")


# --------------------------------------------------------------------------- address parsing


class _Run(NamedTuple):
    """A maximal run of name words in one address segment, with what its markers say.

    ``roles`` (sorted) and ``kind`` (city/district, or "") come from the adjacent type words;
    ``ext`` is the run's chain (:func:`_chains`) when longer than the run, else empty;
    ``mkind`` is the kind of assembly a type word names (mfy, qfy, ofy, shfy, or ""); ``note``
    marks a run written in brackets. A tuple, so that runs sort and hash fast.
    """

    words: tuple[str, ...]
    roles: tuple[str, ...] = ()
    kind: str = ""
    ext: tuple[str, ...] = ()
    mkind: str = ""
    note: bool = False


def _number_kind(raw: list[str], i: int, out: list[tuple[str, str]]) -> str:
    """"word" when the number at ``raw[i]`` belongs to a name, else "num".

    A number belongs to the name when glued to a following name word ("8-mart"), when a
    mahalla type word follows it ("13-MFY", "Bahor 2-MFY") or a district one does after a name
    ("Toshkent 1-tumani"), and when it follows a name word and no house word follows it
    ("Жобу-1", "Бахшитепа 1"; not "Do'stlik 12-uy" nor "ул. Навои 5").
    """
    nxt = raw[i + 1] if i + 1 < len(raw) else ""
    after_word = bool(out) and out[-1][0] == "word"
    if after_word:  # a house number after a street: "ул. Навои 5"
        j = len(out) - 1
        while j >= 0 and out[j][0] == "word":
            j -= 1
        after_word = not (j >= 0 and out[j][0] == "marker" and _MARKERS[out[j][1]][0] == _STREET)
    if nxt in _MARKERS:
        role = _MARKERS[nxt][0]
        return "word" if role == _MAHALLA or (after_word and role != _STREET) else "num"
    if nxt in _STOPWORDS:
        return "num"
    if nxt and nxt.isalpha():
        return "word"
    return "word" if after_word else "num"


def _tokens(segment: str) -> list[tuple[str, str]]:
    """Classify the tokens of one segment as ("word"|"num"|"stop"|"marker", text)."""
    raw = [t.lstrip("'") for t in _TOKEN_RE.findall(segment)]
    raw = [t if len(t) == 2 and t[1] == "'" else t.rstrip("'") for t in raw
           if t.strip("'") and t not in _FILLER]
    # a type word is the name when nothing else is ("Tuman MFY", "махалля Шахар")
    alone = not any(t not in _MARKERS and t not in _STOPWORDS and not _DIGIT_RE.search(t)
                    for t in raw) and any(t in _ASSEMBLY_MARKERS or (
                        t in _MARKERS and _MARKERS[t][0] == _MAHALLA) for t in raw)
    out: list[tuple[str, str]] = []
    for i, tok in enumerate(raw):
        if tok in _MARKERS:
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            after_word = bool(out) and out[-1][0] == "word"
            name_part = tok in _NAME_LIKE_MARKERS and (
                alone or (nxt in _ASSEMBLY_MARKERS and after_word)
                # "tarkibidagi Tor Yop MFY": a street word that follows no name starts one
                or (_MARKERS[tok][:2] == (_STREET, _POST) and not after_word and nxt
                    and nxt not in _MARKERS and nxt not in _STOPWORDS and nxt.isalpha()))
            out.append(("word" if name_part else "marker", tok))
        elif tok in _STOPWORDS:
            out.append(("stop", tok))
        elif _DIGIT_RE.search(tok):
            out.append((_number_kind(raw, i, out), tok))
        else:
            out.append(("word", tok))
    return out


def _segment_runs(tokens: list[tuple[str, str]], note: bool = False) -> list[_Run]:
    """Group words into runs and attach each marker to the run on its preferred side."""
    run_of = [-1] * len(tokens)
    runs: list[list[str]] = []
    for i, (kind, tok) in enumerate(tokens):
        if kind == "word":
            if i == 0 or tokens[i - 1][0] != "word":
                runs.append([])
            runs[-1].append(tok)
            run_of[i] = len(runs) - 1
    roles: list[set[str]] = [set() for _ in runs]
    kinds: list[str | None] = [None] * len(runs)
    mkinds: list[str | None] = [None] * len(runs)

    def neighbour(i: int, step: int) -> int:
        j = i + step
        while 0 <= j < len(tokens) and tokens[j][0] == "marker":
            j += step
        return run_of[j] if 0 <= j < len(tokens) else -1

    for i, (kind, tok) in enumerate(tokens):
        if kind != "marker":
            continue
        role, side, dkind = _MARKERS[tok]
        before, after = neighbour(i, -1), neighbour(i, +1)
        if side == _POST:
            target = before if before >= 0 else after
        elif side == _PRE:
            target = after if after >= 0 else before
        else:
            target = before if before >= 0 and not roles[before] else (
                after if after >= 0 else before)
        if role == _PARENT:  # "X ... tarkibidagi Y MFY": everything before names X
            for r in range(before + 1):
                roles[r].add(_PARENT)
        elif target >= 0:
            roles[target].add(role)
            kinds[target] = kinds[target] or dkind
            mkinds[target] = mkinds[target] or ASSEMBLY_KIND.get(tok)
    ext = _chains(tokens, run_of, len(runs))
    return [_Run(tuple(w), tuple(sorted(r)), k or "", e if e != tuple(w) else (), mk or "", note)
            for w, r, k, e, mk in zip(runs, roles, kinds, ext, mkinds, strict=True)]


def _chains(tokens: list[tuple[str, str]], run_of: list[int], n_runs: int,
            ) -> list[tuple[str, ...]]:
    """Each run's chain: the runs joined by the settlement, town or street words between and
    after them ("Xalaqabad shaharchasi 3-sonli", "Бог куча", "Беш уй"), which may be one
    name."""
    chains: list[list[str]] = []
    chain_of = [-1] * n_runs
    current: list[str] | None = None
    for i, (kind, tok) in enumerate(tokens):
        if kind == "word":
            if current is None:
                current = []
                chains.append(current)
            current.append(tok)
            chain_of[run_of[i]] = len(chains) - 1
        elif current is not None and ((kind == "marker" and tok in _NAME_LIKE_MARKERS)
                                      or (kind == "stop" and tok in _NAME_LIKE_STOPWORDS)):
            current.append(tok)
        else:
            current = None
    return [tuple(chains[c]) if c >= 0 else () for c in chain_of]


@lru_cache(maxsize=100_000)
def parse_address(text: str) -> tuple[_Run, ...]:
    """Split an address into name runs, each tagged with the roles its type words give it.

    Commas, semicolons and slashes split the text into parts, each read with
    :func:`etl.translit.prepare_text` (Latin, lower case, type abbreviations canonical,
    initials such as "Sh.Rashidov" kept with their name); bracketed notes ("Qizilnavr
    (Jamoatchi) MFY") are set apart as runs of their own; unclosed brackets split a part into
    segments too; inside a segment, numbers,
    house/flat words (uy, d., kv.) and type words end a run of name words. A type word tags
    the adjacent run: Uzbek ones the run before ("Do‘stlik MFY", "Jizzax shahri", "Navoiy
    ko‘chasi"), Russian ones the run after ("г. Джизак", "махалля Дустлик", "ул. Навои"),
    falling back to the other side. A settlement, town or street word right before an
    assembly word is part of the name ("Yangi shaxar MFY"); a number after a name word is too
    ("Жобу-1"), unless a house word follows it.

    Parameters
    ----------
    text
        A free-text address.

    Returns
    -------
    tuple of runs
        Each has ``words`` (tuple of str), ``roles`` (subset of mahalla, district, region,
        street, parent) and ``kind`` ("city" or "district" when a district word said which),
        ``ext``, ``mkind`` and ``note`` (see the run class).

    Examples
    --------
    >>> [(r.words, sorted(r.roles)) for r in parse_address("Jizzax shahri, Do‘stlik MFY, 12-uy")]
    [(('jizzax',), ['district']), (("do'stlik",), ['mahalla'])]
    >>> [(r.words, sorted(r.roles)) for r in parse_address("г. Джизак, махалля Дустлик, д. 5")]
    [(('djizak',), ['district']), (('dustlik',), ['mahalla'])]
    >>> parse_address("")
    ()
    """
    if "," in text and _GLUED_COMMA_RE.search(text):  # "Yu,Zarkaynar": an initial's dot
        text = _INITIAL_COMMA_RE.sub(".", text)
    runs: list[_Run] = []
    for part in _PART_RE.split(text.strip()):
        runs += _parse_part(part)
    return tuple(runs)


@lru_cache(maxsize=100_000)
def _parse_part(part: str) -> tuple[_Run, ...]:
    """Runs of one comma-separated part of an address (cached: parts repeat far more than
    whole addresses: "Jizzax viloyati", "12-uy", a mahalla written the same way)."""
    s = prepare_text(part)
    notes = _BRACKET_RE.findall(s)
    main = _BRACKET_RE.sub(" ", s) if notes else s
    runs = [run for segment in _SEGMENT_RE.split(main) for run in _parse_segment(segment)]
    runs += [run for note in notes for segment in _SEGMENT_RE.split(note)
             for run in _parse_segment(segment, note=True)]
    return tuple(runs)


@lru_cache(maxsize=100_000)
def _parse_segment(segment: str, note: bool = False) -> tuple[_Run, ...]:
    """Runs of one cleaned segment (cached: segments repeat far more than whole addresses)."""
    return tuple(_segment_runs(_tokens(segment), note))


def _forced(text: str, role: str) -> tuple[_Run, ...]:
    """Parse a name given in its own column and give every run the column's role."""
    return tuple(r._replace(roles=tuple(sorted({*r.roles, role}))) for r in parse_address(text))


def _key(words: Sequence[str]) -> str:
    """The core key of parsed words (:func:`name_key`: no type words)."""
    return token_keys(tuple(words)).core


def _full_key(words: Sequence[str]) -> str:
    """The full mahalla key of parsed words (settlement and town words kept)."""
    return token_keys(tuple(words)).full


def _cover(words: Sequence[str], lookup: Callable[[str], frozenset[int]],
           key: Callable[[Sequence[str]], str] = _key,
           ) -> list[tuple[int, int, frozenset[int]]]:
    """Greedy longest-first cover of ``words`` by n-grams whose ``key`` ``lookup`` finds.

    Returns (start, stop, hits) spans that do not overlap; a matched span hides its sub-spans, so
    "Yangi Hayot" does not also report "Hayot".
    """
    if len(words) == 1:
        got = lookup(key(words))
        return [(0, 1, got)] if got else []
    found: list[tuple[int, int, frozenset[int]]] = []
    todo = [(0, len(words))]
    while todo:
        lo, hi = todo.pop()
        sizes = [hi - lo, *range(min(_MAX_NGRAM, hi - lo - 1), 0, -1)]
        hit = None
        for n in sizes:
            for i in range(lo, hi - n + 1):
                got = lookup(key(words[i:i + n]))
                if got:
                    hit = (i, i + n, got)
                    break
            if hit:
                break
        if hit:
            found.append(hit)
            todo += [(lo, hit[0]), (hit[1], hi)]
    return found


def _ngram_keys(words: Sequence[str]) -> list[str]:
    """Keys of the whole run and of its n-grams (for fuzzy matching)."""
    keys = {_key(words), _full_key(tuple(words))}
    for n in range(1, min(_MAX_NGRAM, len(words)) + 1):
        keys.update(_key(words[i:i + n]) for i in range(len(words) - n + 1))
    return [k for k in keys if len(k) >= 3]


# --------------------------------------------------------------------------- the gazetteer


@dataclass
class _Outcome:
    """What one distinct input combination resolved to."""

    mahalla: int = -1
    district: int = -1
    precision: str | None = None
    score: float = 0.0
    reason: str | None = None


@dataclass(frozen=True)
class _Hints:
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
class _Pending:
    """A combination whose mahalla needs the fuzzy pass."""

    queries: list[str]
    whole: list[bool]  # per query: a whole name (tried before the n-grams; may have a typo)
    scope: frozenset[int] | None
    districts: frozenset[int] | None
    district_score: float
    hints: _Hints
    fallback: _Outcome | None = None  # the outcome when the fuzzy pass finds nothing
    outcome: _Outcome = field(default_factory=_Outcome)


def _kind_of(name: str) -> str | None:
    """'city' or 'district' when the district's own name says which (Qarshi shahri/tumani)."""
    kinds = {r.kind for r in parse_address(name) if r.kind}
    return kinds.pop() if len(kinds) == 1 else None


def _index(keys: Iterable[tuple[str, int]]) -> dict[str, frozenset[int]]:
    out: dict[str, set[int]] = {}
    for key, pos in keys:
        if key:
            out.setdefault(key, set()).add(pos)
    return {k: frozenset(v) for k, v in out.items()}


class _AdminNames:
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
        self.exact = _index((k, i) for i, k in enumerate(self.keys))
        self._by_skel = _index((admin_skeleton(f), i) for i, n in enumerate(names)
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


class Gazetteer:
    """Look-up of mahallas and districts by name, for geocoding addresses without coordinates.

    Build it with :meth:`from_mahallas` (or from plain tables with the constructor) and call
    :meth:`match`. Names are compared by key (:func:`etl.translit.mahalla_keys`,
    :func:`etl.translit.name_key`), so Uzbek Latin, Uzbek Cyrillic and Russian spellings of
    one name coincide.

    Parameters
    ----------
    mahallas
        One row per mahalla: mahalla_id, name, name_cyrillic (may be missing), district,
        region, lon, lat (its representative point, EPSG:4326).
    districts
        One row per (region, district): district, region, lon, lat (representative point of
        the union of its mahallas).
    threshold
        Minimum rapidfuzz ``ratio`` (0..100) of a fuzzy mahalla match. A whole name written
        with one typo (one letter replaced, swapped, added or dropped; names of five letters
        or more) is taken below it when no other name of the search scope is as close.
    admin_threshold
        Minimum score (0..100) of a fuzzy district/region match. Lower than ``threshold``:
        the candidates are few (the districts of the named region, else all) and Russian
        forms differ from Uzbek ones in vowels (Термез/Termiz).
    admin_margin
        Points by which the best fuzzy district/region must beat the next distinct name;
        closer candidates leave the district unknown rather than guess.
    aliases
        Place aliases an analyst recorded (see :meth:`with_aliases`), or None.
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
        self._ids = pd.array(mahallas["mahalla_id"].to_numpy())
        self._m_lon = mahallas["lon"].to_numpy(dtype="float64")
        self._m_lat = mahallas["lat"].to_numpy(dtype="float64")
        d_pairs = list(zip(districts["region"].fillna("").astype(str),
                           districts["district"].fillna("").astype(str), strict=True))
        d_code = {pair: i for i, pair in enumerate(d_pairs)}
        m_pairs = zip(mahallas["region"].fillna("").astype(str),
                      mahallas["district"].fillna("").astype(str), strict=True)
        # district of each mahalla (a list: scalar look-ups in Python are cheaper than numpy)
        self._m_district: list[int] = [d_code[p] for p in m_pairs]
        self._d_code = d_code
        self._d_name = np.array([d for _, d in d_pairs], dtype=object)
        self._d_region = np.array([r for r, _ in d_pairs], dtype=object)
        self._d_kind = [_kind_of(d) for _, d in d_pairs]
        self._d_lon = districts["lon"].to_numpy(dtype="float64")
        self._d_lat = districts["lat"].to_numpy(dtype="float64")

        names = mahallas["name"].fillna("").astype(str).tolist()
        cyr = (mahallas["name_cyrillic"].fillna("").astype(str).tolist()
               if "name_cyrillic" in mahallas else [""] * len(names))
        self._build_names(names, cyr)
        admin = {"threshold": float(admin_threshold), "margin": float(admin_margin)}
        self._d_names = _AdminNames([d for _, d in d_pairs], **admin)
        self._d_index = self._d_names.exact
        regions = sorted(set(self._d_region))
        self._r_districts = {
            r: frozenset(np.flatnonzero(self._d_region == r).tolist()) for r in regions}
        self._r_names = regions
        self._r_city = frozenset(i for i, r in enumerate(regions) if _kind_of(r) == _CITY)
        self._r_forms = _AdminNames(regions, **admin)
        self._r_index = self._r_forms.exact
        self._aliases: _Aliases | None = None
        if aliases is not None:
            self._aliases = self._alias_index(aliases)

    def _build_names(self, names: list[str], cyr: list[str]) -> None:
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
                raw.append((_raw_key(k.strict), i))
                loose.append((k.loose, i))
                kinds[i] = kinds[i] or k.kind
                written[i].add(k.strict)
                noted[i].add(_noted(k.strict, k.note))
                written_ru[i].add(_ru_form(k.strict))
                noted_ru[i].add(_ru_form(_noted(k.strict, k.note)))
        self._m_full, self._m_core, self._m_var = _index(full), _index(core), _index(var)
        self._m_loose = _index(loose)
        self._m_kind = kinds
        self._m_written = [frozenset(w) for w in written]
        self._m_noted = [frozenset(w) for w in noted]
        self._m_written_ru = [frozenset(w) for w in written_ru]
        self._m_noted_ru = [frozenset(w) for w in noted_ru]
        # fuzzy choices per district: key -> mahalla positions
        self._d_choices: list[dict[str, frozenset[int]]] = [
            {} for _ in range(len(self._d_name))]
        for index in (self._m_full, self._m_core, self._m_var, _index(raw)):
            for key, pos in index.items():
                for p in pos:
                    d = self._d_choices[self._m_district[p]]
                    d[key] = d.get(key, frozenset()) | {p}

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_mahallas(cls, mahallas: gpd.GeoDataFrame, *, threshold: float = 88.0,
                      admin_threshold: float = 80.0, admin_margin: float = 10.0,
                      aliases: pd.DataFrame | None = None) -> Gazetteer:
        """Build the gazetteer from the mahallas layer.

        Parameters
        ----------
        mahallas
            Columns mahalla_id, name, district, region, geometry, and optionally
            name_cyrillic. Any CRS (points are reported in EPSG:4326); empty or missing
            geometries give NaN points.
        threshold
            Minimum fuzzy mahalla score (rapidfuzz ``ratio``, 0..100).
        admin_threshold, admin_margin
            Minimum fuzzy district/region score and its lead over the next name (see the
            class).
        aliases
            Place aliases (columns alias, mahalla_id and optionally district, region; see
            :meth:`with_aliases`), or None.

        Returns
        -------
        Gazetteer

        Raises
        ------
        riskmap.errors.SchemaError
            If a required column is missing, or an alias names an unknown mahalla/district.
        """
        required = ["mahalla_id", "name", "district", "region", "geometry"]
        missing = [c for c in required if c not in mahallas.columns]
        if missing:
            raise SchemaError(
                f"mahallas frame lacks column(s) {', '.join(missing)} needed by the gazetteer "
                f"(found: {', '.join(map(str, mahallas.columns))})")
        geoms = gpd.GeoSeries(mahallas.geometry.to_numpy(), crs=mahallas.crs)
        table = pd.DataFrame({
            "mahalla_id": mahallas["mahalla_id"].to_numpy(),
            "name": mahallas["name"].to_numpy(),
            "district": mahallas["district"].fillna("").astype(str).to_numpy(),
            "region": mahallas["region"].fillna("").astype(str).to_numpy(),
        })
        if "name_cyrillic" in mahallas:
            table["name_cyrillic"] = mahallas["name_cyrillic"].to_numpy()
        table["lon"], table["lat"] = _lonlat(shapely.point_on_surface(geoms.to_numpy()),
                                             mahallas.crs)
        groups = table.groupby(["region", "district"], sort=False).indices
        unions = [shapely.union_all(geoms.to_numpy()[idx]) for idx in groups.values()]
        d_lon, d_lat = _lonlat(shapely.point_on_surface(np.array(unions, dtype=object)),
                               mahallas.crs)
        districts = pd.DataFrame({
            "region": [r for r, _ in groups], "district": [d for _, d in groups],
            "lon": d_lon, "lat": d_lat})
        return cls(table, districts, threshold=threshold, admin_threshold=admin_threshold,
                   admin_margin=admin_margin, aliases=aliases)

    def with_aliases(self, aliases: pd.DataFrame) -> Gazetteer:
        """A copy of this gazetteer that also knows the analyst's place aliases.

        An alias is a name, or a whole address, that an analyst tied to a mahalla by hand
        (from a review of unmatched rows). Later loads use it:

        - a row whose whole address (or, without one, its mahalla column) reads as an alias
          (compared after :func:`etl.translit.prepare_text`: script, case, apostrophes and
          punctuation do not matter) goes to the alias's mahalla, before any other rule;
        - a name in the address that matches no official mahalla name exactly is looked up
          among the aliases by key, before fuzzy matching.

        An alias only places a row within the row's recognised region/district (as names
        do), and two aliases of one name in different districts make it ambiguous. An alias
        with an empty mahalla_id and a district places rows at district precision.

        Parameters
        ----------
        aliases
            Columns alias and mahalla_id, optionally district and region (which must agree
            with the mahalla's, or name the district for a district-only alias). Rows with
            an empty alias are refused; see :func:`read_place_aliases` for a file.

        Returns
        -------
        Gazetteer
            A new gazetteer (this one is unchanged); its aliases replace any it had.

        Raises
        ------
        riskmap.errors.SchemaError
            If a column is missing, an alias is empty, or an alias names a mahalla or
            district the gazetteer does not have (or a district that is not the mahalla's).
        """
        out = copy.copy(self)
        out._aliases = self._alias_index(aliases)
        return out

    def _alias_index(self, aliases: pd.DataFrame) -> _Aliases:
        """Check the alias rows and index them by text and by name key."""
        missing = [c for c in ("alias", "mahalla_id") if c not in aliases.columns]
        if missing:
            raise SchemaError(
                f"place aliases lack column(s) {', '.join(missing)} (found: "
                f"{', '.join(map(str, aliases.columns)) or 'none'})")
        by_id = {str(m): i for i, m in enumerate(self._ids.astype(str))}

        def cell(row: pd.Series, col: str) -> str:
            value = row.get(col)
            return "" if value is None or pd.isna(value) else str(value).strip()

        texts: list[tuple[str, int]] = []
        names: list[tuple[str, int]] = []
        for n, (_, row) in enumerate(aliases.iterrows(), start=1):
            alias, mid = cell(row, "alias"), cell(row, "mahalla_id")
            district, region = cell(row, "district"), cell(row, "region")
            if not alias:
                raise SchemaError(f"place alias row {n}: the alias is empty")
            target = self._alias_target(n, mid, district, region, by_id)
            texts.append((_text_key(alias), target))
            k = mahalla_keys(alias)
            names += [(k.full, target), (k.core, target)]
        return _Aliases(_index(texts), _index(names))

    def _alias_target(self, n: int, mid: str, district: str, region: str,
                      by_id: dict[str, int]) -> int:
        """Mahalla position of an alias row (>= 0), or -1 - district for a district alias."""
        if mid:
            if mid not in by_id:
                raise SchemaError(f"place alias row {n}: mahalla_id {mid!r} is not in the "
                                  "mahallas layer")
            p = by_id[mid]
            d = self._m_district[p]
            if district and name_key(district) != name_key(self._d_name[d]):
                raise SchemaError(
                    f"place alias row {n}: mahalla {mid!r} is in {self._d_name[d]!r}, not in "
                    f"district {district!r}")
            if region and name_key(region) != name_key(self._d_region[d]):
                raise SchemaError(
                    f"place alias row {n}: mahalla {mid!r} is in {self._d_region[d]!r}, not in "
                    f"region {region!r}")
            return p
        hits = [i for i, (r, d) in enumerate(zip(self._d_region, self._d_name, strict=True))
                if district and name_key(d) == name_key(district)
                and (not region or name_key(r) == name_key(region))]
        if len(hits) != 1:
            raise SchemaError(
                f"place alias row {n}: no mahalla_id, and district {district!r} (region "
                f"{region!r}) names {len(hits)} districts of the mahallas layer, not one")
        return -1 - hits[0]

    # ------------------------------------------------------------------ matching

    def match(self, address: pd.Series | None = None, *, mahalla: pd.Series | None = None,
              district: pd.Series | None = None, region: pd.Series | None = None,
              ) -> pd.DataFrame:
        """Match each row to a mahalla (or only a district), never guessing between namesakes.

        Rules: a region or district found in the row (given columns, or words such as
        "shahri", "tumani", "г.", "район", "viloyati" in the address, or a bare district
        name) restricts the mahalla search to it. A marked district or region the keys miss
        is read as a Russian form (Денауский район = Denov tumani, г. Термез = Termiz shahri,
        Сурхандарьинская область = Surxondaryo viloyati; see
        :func:`etl.translit.admin_skeleton`), else fuzzily with ``admin_threshold`` and
        ``admin_margin``, among the districts of the named region if any; "г. Ташкент" /
        "Toshkent shahri" names the region Toshkent shahri.

        Mahalla names are then looked up, names tagged by a type word (MFY, махалля, ...)
        first, by exact key in this order: the name with the settlement/street words after
        it ("махалля Янги шахар"), the full key, the core key (no type words), the variant
        keys (apostrophe dropped, initials dropped; :func:`etl.translit.mahalla_keys`),
        bracketed notes last; then the analyst's aliases; then rapidfuzz ``ratio`` >=
        ``threshold`` (or one typo in a whole name). Several mahallas of one district under
        one key are told apart by the assembly kind written (MFY/QFY/...) and the spelling
        written; a name that exists in several candidate districts leaves the row unmatched
        with reason "ambiguous"; a row where only one district is recognisable gets
        precision "district" at the district's representative point. Streets ("Navoiy
        ko‘chasi", "ул. Навои") and house numbers are ignored. Each distinct (address,
        mahalla, district, region) combination is resolved once.

        Parameters
        ----------
        address
            Free text in Uzbek Latin, Uzbek Cyrillic or Russian.
        mahalla, district, region
            Names from their own columns (same index as ``address``).

        Returns
        -------
        pd.DataFrame
            Same index as the inputs; columns mahalla_id, district, region, precision
            ("mahalla" | "district" | <NA>), score (0..100; 0 when nothing matched), lon, lat
            (representative point), reason (<NA> when matched, else "not_found",
            "ambiguous" or "empty").

        Raises
        ------
        ValueError
            If no input is given or the inputs' indexes differ.
        """
        inputs = {"address": address, "mahalla": mahalla, "district": district,
                  "region": region}
        given = {k: v for k, v in inputs.items() if v is not None}
        if not given:
            raise ValueError("match() needs at least one of address, mahalla, district, region")
        index = next(iter(given.values())).index
        for name, ser in given.items():
            if not ser.index.equals(index):
                raise ValueError(f"match(): the index of {name!r} differs from the others")
        combos, codes = _distinct_combos(given, len(index))
        memo: dict[tuple[object, ...], _Outcome | _Pending] = {}
        outcomes = [self._resolve_exact(c, memo) for c in combos]
        pending = list({id(o): o for o in outcomes if isinstance(o, _Pending)}.values())
        self._resolve_fuzzy(pending)
        final = [o.outcome if isinstance(o, _Pending) else o for o in outcomes]
        return self._frame(final, codes, index)

    # ------------------------------------------------------------------ steps

    def _resolve_exact(self, texts: dict[str, str],
                       memo: dict[tuple[object, ...], _Outcome | _Pending],
                       ) -> _Outcome | _Pending:
        """Parse one combination and resolve it, once per distinct parse (see ``_resolve``).

        Texts that parse alike (differing only in house numbers, punctuation, case or the
        order of their parts) share one result.
        """
        if not any(t.strip() for t in texts.values()):
            return _Outcome(reason="empty")
        runs = list(parse_address(texts.get("address", "")))
        for col, role in (("mahalla", _MAHALLA), ("district", _DISTRICT), ("region", _REGION)):
            if texts.get(col):
                runs += _forced(texts[col], role)
        # in a canonical order: the result does not depend on the order of the parts
        runs = sorted(r for r in runs if _STREET not in r.roles or len(r.roles) > 1)
        alias_text = None
        if self._aliases is not None:
            alias_text = _text_key(texts.get("address", "").strip() or texts.get("mahalla", ""))
        key = (tuple(runs), _russian(texts), alias_text)
        got = memo.get(key)
        if got is None:
            got = memo[key] = self._resolve(runs, key[1], alias_text)
        return got

    def _resolve(self, runs: list[_Run], russian: bool, alias_text: str | None,
                 ) -> _Outcome | _Pending:
        """Resolve region and district, then try the exact mahalla keys; else queue fuzzy."""
        if self._aliases is None or alias_text not in self._aliases.texts:
            fast = self._resolve_plain(runs, russian)
            if fast is not None:
                return fast
        allowed, used = self._regions(runs)
        districts, d_score, used = self._districts(runs, allowed, used)
        scope = districts if districts is not None else allowed
        if self._aliases is not None and alias_text is not None:
            got = self._in_scope(self._aliases.texts.get(alias_text, frozenset()), scope)
            if got:
                return self._alias_outcome(got, districts, d_score)
        left = _remaining(runs, used)
        levels = _levels(left)
        row = _RowText(" ".join(w for r in left if r.note for w in r.words), russian, scope)
        lookups = [(True, _full_key, self._m_full), (True, _full_key, self._m_var),
                   (False, _full_key, self._m_full), (False, _key, self._m_core),
                   (False, _key, self._m_var)]
        for level in levels:
            if not level:
                continue
            for ext, key, index in lookups:
                if ext and not any(r.ext for r in level):
                    continue
                hits, spans, leftover = self._hits(level, scope, index, key, row, ext=ext)
                if not hits:
                    continue
                hints = partial(self._hints, spans, row)
                outcome = self._decide(hits, 100.0, districts, d_score, hints,
                                       wide=scope is None or len(scope) > 1)
                if leftover and outcome.precision == "mahalla":
                    # a name found inside a longer one ("ling Bog‘olon"): unless the whole is
                    # one typo from another name ("Ming Bog‘olon"), keep it
                    return _Pending(*self._whole_queries(level), scope, districts, d_score,
                                    hints(), fallback=outcome)
                return outcome
        if self._aliases is not None:
            for level in levels:
                for key in (_full_key, _key):
                    hits, _, _ = self._hits(level, scope, self._aliases.names, key, row,
                                            alias=True)
                    if hits:
                        return self._alias_outcome(frozenset(hits), districts, d_score)
        level = next((lv for lv in levels if lv), [])
        whole_ok = level is levels[0] or len(level) == 1
        queries: dict[str, bool] = {}
        for run in level:
            whole = {_key(run.words), _full_key(run.words), _raw_key(" ".join(run.words))}
            for k in [*_ngram_keys(run.words), *whole]:
                queries[k] = queries.get(k, False) or (whole_ok and k in whole)
        order = sorted(k for k in queries if len(k) >= 3)
        spans = [(r, 0, len(r.words)) for r in level]
        return _Pending(order, [queries[q] for q in order], scope, districts, d_score,
                        self._hints(spans, row))

    def _resolve_plain(self, runs: list[_Run], russian: bool) -> _Outcome | _Pending | None:
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
            if run.roles == (_REGION,) and region is None and not run.note:
                region = run
            elif run.roles == (_DISTRICT,) and district is None and not run.note:
                district = run
            elif run.roles == (_MAHALLA,) and name is None and not run.note and not run.ext:
                name = run
            else:
                return None
        if district is None or name is None:
            return None
        allowed = None
        if region is not None:
            hit = self._r_index.get(_key(region.words), frozenset())
            if not hit and len(region.words) == 1:
                got = self._r_forms.by_form(region.words[0], None)
                hit = got[0] if got else hit
            if not hit:
                return None
            hit = (hit - self._r_city) or hit
            allowed = frozenset().union(*(self._r_districts[self._r_names[r]] for r in hit))
        d_key = _key(district.words)
        if district.kind == _CITY and self._r_index.get(d_key, frozenset()) & self._r_city:
            return None  # "Toshkent shahri" is a region
        found = self._d_index.get(d_key, frozenset())
        if allowed is not None:
            found &= allowed
        d_score = 100.0
        if not found and len(district.words) == 1:
            got = self._d_names.by_form(district.words[0], allowed)
            found, d_score = got if got else (found, 0.0)
        found = self._by_kind(found, {district.kind} if district.kind else set())
        if len(found) != 1:
            return None
        (d,) = found
        tiers = ((self._m_full, _full_key(name.words)),)
        if len(name.words) == 1:
            tiers += ((self._m_core, _key(name.words)), (self._m_var, _key(name.words)))
        for index, key in tiers:
            hits = [p for p in index.get(key, ()) if self._m_district[p] == d]
            if len(hits) == 1:
                return _Outcome(hits[0], d, "mahalla", 100.0)
            if hits:
                return None
        if len(name.words) > 1 or self._aliases is not None:
            return None
        # nothing: queue the fuzzy pass, with the queries the general rules would make
        scope = frozenset((d,))
        whole = {_key(name.words), _full_key(name.words), _raw_key(" ".join(name.words))}
        queries = sorted(k for k in {*_ngram_keys(name.words), *whole} if len(k) >= 3)
        return _Pending(queries, [q in whole for q in queries], scope, scope, d_score,
                        self._hints([(name, 0, len(name.words))], _RowText("", russian, scope)))

    def _hits(self, level: list[_Run], scope: frozenset[int] | None,
              index: dict[str, frozenset[int]], key: Callable[[Sequence[str]], str],
              row: _RowText, *, ext: bool = False, alias: bool = False,
              ) -> tuple[set[int], list[tuple[_Run, int, int]], bool]:
        """Mahallas the runs of one level name under ``index`` (by ``key``), and the spans.

        The flag says whether a run of the level has name words left over (not numbers).
        """
        lookup = (self._alias_lookup if alias else self._mahalla_lookup)(index, scope)
        hits: set[int] = set()
        spans: list[tuple[_Run, int, int]] = []
        leftover = False
        for run in level:
            if ext:
                got = lookup(_full_key(run.ext)) if run.ext else frozenset()
                found = [(0, len(run.words), got)] if got else []
            else:
                found = _cover(run.words, lookup, key)
            covered = set()
            for lo, hi, got in found:
                hits |= got
                spans.append((run, lo, hi))
                covered.update(range(lo, hi))
            leftover = leftover or any(i not in covered and not w.isdigit()
                                     for i, w in enumerate(run.words))
        return hits, spans, leftover

    @staticmethod
    def _whole_queries(level: list[_Run]) -> tuple[list[str], list[bool]]:
        """Keys of the whole runs (and chains) of a level: core, full, as written."""
        keys = sorted({k for r in level for words in (r.words, r.ext) if words
                       for k in (_key(words), _full_key(words), _raw_key(" ".join(words)))
                       if len(k) >= 3})
        return keys, [True] * len(keys)

    def _hints(self, spans: list[tuple[_Run, int, int]], row: _RowText) -> _Hints:
        """Hints of the name spans that hit: kinds, written forms, loose keys (and scope)."""
        written = frozenset(" ".join(r.words[lo:hi]) for r, lo, hi in spans)
        loose = frozenset(loose_key(tuple(r.words[lo:hi])) for r, lo, hi in spans) - {""}
        wide = row.scope is None or len(row.scope) > 1
        noted = frozenset(_noted(w, row.note) for w in written)
        if row.russian:
            written = frozenset(_ru_form(w) for w in written)
            noted = frozenset(_ru_form(w) for w in noted)
        return _Hints(frozenset(r.mkind for r, _, _ in spans if r.mkind), written, noted,
                      row.russian, loose if wide else frozenset(), row.scope)

    def _regions(self, runs: list[_Run]) -> tuple[frozenset[int] | None, set[tuple[int, int, int]]]:
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
            return self._r_index.get(key, frozenset()) & self._r_city

        for i, run in enumerate(runs):
            if _REGION in run.roles:
                spans = _cover(run.words, lambda k: self._r_index.get(k, frozenset()))
                if not spans:
                    got = self._r_forms.by_form(" ".join(run.words), None)
                    spans = [(0, len(run.words), got[0])] if got else []
                spans = [(lo, hi, (hit - self._r_city) or hit) for lo, hi, hit in spans]
            elif _DISTRICT in run.roles and run.kind == _CITY and _MAHALLA not in run.roles:
                spans = _cover(run.words, city_lookup)
            else:
                continue
            for lo, hi, hit in spans:
                regions |= hit
                used.add((i, lo, hi))
        if not regions:
            return None, used
        allowed = frozenset().union(*(self._r_districts[self._r_names[r]] for r in regions))
        return allowed, used

    def _districts(self, runs: list[_Run], allowed: frozenset[int] | None,
                   used: set[tuple[int, int, int]],
                   ) -> tuple[frozenset[int] | None, float, set[tuple[int, int, int]]]:
        """Candidate districts: marked runs (exact, then Russian form / fuzzy), then bare
        names, then a mahalla run's prefix."""
        def lookup(key: str) -> frozenset[int]:
            got = self._d_index.get(key, frozenset())
            return got & allowed if allowed is not None else got

        taken = {i for i, _, _ in used}  # runs read as a region
        marked = [(i, r) for i, r in enumerate(runs) if _DISTRICT in r.roles and i not in taken]

        def groups() -> Iterable[tuple[int, list[tuple[int, _Run]], bool]]:
            yield 0, marked, True
            yield 1, [(i, r) for i, r in enumerate(runs)
                      if not r.note and not any(role in r.roles for role in (
                          _DISTRICT, _MAHALLA, _REGION, _PARENT))], False
            # "Jizzax Do‘stlik MFY": a district name before the name, unless the whole run
            # is itself a mahalla name ("Uzun-ko‘chasi MFY")
            yield 2, [(i, r) for i, r in enumerate(runs)
                      if _MAHALLA in r.roles and _DISTRICT not in r.roles and len(r.words) > 1
                      and not self._names_mahalla(r.words, allowed)], False

        for level, group, consume in groups():
            spans = []
            for i, run in group:
                words = run.words[:-1] if level == 2 else run.words
                spans += [(i, lo, hi, got, run.kind) for lo, hi, got in _cover(words, lookup)]
            if spans:
                found = frozenset().union(*(s[3] for s in spans))
                found = self._by_kind(found, {s[4] for s in spans if s[4] is not None})
                keys = {_key(runs[i].words[lo:hi]) for i, lo, hi, _, _ in spans}
                if consume or len(keys) == 1:
                    used |= {(i, lo, hi) for i, lo, hi, _, _ in spans}
                return found, 100.0, used
            if level == 0:
                forms = self._district_forms(marked, allowed)
                if forms is not None:
                    used |= {(i, 0, len(runs[i].words)) for i in forms[2]}
                    return forms[0], forms[1], used
        return None, 0.0, used

    def _names_mahalla(self, words: tuple[str, ...], allowed: frozenset[int] | None) -> bool:
        """Whether ``words`` are, as a whole, the name of a mahalla within ``allowed``."""
        for index, key in ((self._m_full, _full_key), (self._m_core, _key)):
            if self._mahalla_lookup(index, allowed)(key(words)):
                return True
        return False

    def _by_kind(self, found: frozenset[int], hints: set[str]) -> frozenset[int]:
        """Keep the districts whose kind (city/district) the address names, if that leaves any."""
        if len(found) < 2 or len(hints) != 1:
            return found
        kept = frozenset(d for d in found if self._d_kind[d] in hints)
        return kept or found

    def _district_forms(self, marked: list[tuple[int, _Run]], allowed: frozenset[int] | None,
                        ) -> tuple[frozenset[int], float, list[int]] | None:
        """Districts that district-marked runs name in a Russian or misspelt form.

        Returns the districts, the best score and the positions of the runs that matched.
        """
        found, best, hit_runs = frozenset[int](), 0.0, []
        for i, run in marked:
            got = self._d_names.by_form(" ".join(run.words), allowed)
            if got is not None:
                found |= self._by_kind(got[0], {run.kind} if run.kind else set())
                best = max(best, got[1])
                hit_runs.append(i)
        return (found, best, hit_runs) if found else None

    def _mahalla_lookup(self, index: dict[str, frozenset[int]], scope: frozenset[int] | None,
                        ) -> Callable[[str], frozenset[int]]:
        def lookup(key: str) -> frozenset[int]:
            got = index.get(key, frozenset())
            if scope is None or not got:
                return got
            return frozenset(p for p in got if self._m_district[p] in scope)
        return lookup

    def _alias_lookup(self, index: dict[str, frozenset[int]], scope: frozenset[int] | None,
                      ) -> Callable[[str], frozenset[int]]:
        def lookup(key: str) -> frozenset[int]:
            return self._in_scope(index.get(key, frozenset()), scope)
        return lookup

    def _in_scope(self, targets: frozenset[int], scope: frozenset[int] | None,
                  ) -> frozenset[int]:
        """Alias targets (mahalla positions, or -1 - district) within ``scope``."""
        if scope is None or not targets:
            return targets
        return frozenset(t for t in targets
                         if (self._m_district[t] if t >= 0 else -1 - t) in scope)

    def _alias_outcome(self, targets: frozenset[int], districts: frozenset[int] | None,
                       d_score: float) -> _Outcome:
        """Outcome of alias hits: mahallas as usual; district aliases at district precision."""
        mahallas = {t for t in targets if t >= 0}
        if mahallas:
            return self._decide(mahallas, 100.0, districts, d_score)
        return self._fallback(frozenset(-1 - t for t in targets), 100.0)

    def _narrow(self, hits: set[int] | frozenset[int], hints: _Hints) -> set[int]:
        """Among mahallas of one district, keep those of the written kind, then spelling.

        Spelling is compared with the bracketed note, then without, then without apostrophes;
        for Russian text as Russian spells it (:func:`_ru_form`).
        """
        hits = set(hits)
        if len({self._m_district[p] for p in hits}) != 1:
            return hits
        of_kind = {p for p in hits if self._m_kind[p] in hints.kinds}
        hits = of_kind or hits
        noted, written = ((self._m_noted_ru, self._m_written_ru) if hints.russian
                          else (self._m_noted, self._m_written))
        if len(hits) > 1:
            hits = {p for p in hits if noted[p] & hints.noted} or hits
        if len(hits) > 1:
            hits = {p for p in hits if written[p] & hints.written} or hits
        if len(hits) > 1:  # "ortaqishloq": O‘rtaqishloq, not O‘rta qishloq
            bare = {w.replace("'", "") for w in hints.written}
            hits = {p for p in hits if bare & {w.replace("'", "") for w in written[p]}} or hits
        return hits

    def _namesakes(self, district: int, hints: _Hints) -> bool:
        """Whether a loose namesake of the names written is in another district of the scope."""
        for key in hints.loose:
            for p in self._m_loose.get(key, ()):
                d = self._m_district[p]
                if d != district and (hints.scope is None or d in hints.scope):
                    return True
        return False

    def _decide(self, hits: set[int] | frozenset[int], score: float,
                districts: frozenset[int] | None, d_score: float,
                hints: _Hints | Callable[[], _Hints] | None = None, *,
                wide: bool = True) -> _Outcome:
        """One mahalla -> matched; several in one district -> that district; else ambiguous.

        With ``hints``, mahallas of one district are first narrowed by the kind and spelling
        written, and, when the row's scope is ``wide`` (not one district), a loose namesake in
        another district of it makes the row ambiguous.
        """
        get = hints if callable(hints) else (lambda: hints)
        if hints is not None and len(hits) > 1:
            hits = self._narrow(hits, get())
        in_districts = {self._m_district[p] for p in hits}
        if (wide and len(in_districts) == 1 and hints is not None
                and self._namesakes(next(iter(in_districts)), get())):
            return _Outcome(score=score, reason="ambiguous")
        if len(hits) == 1:
            (p,) = hits
            return _Outcome(p, self._m_district[p], "mahalla", score)
        if len(in_districts) == 1:
            d = in_districts.pop()
            return _Outcome(-1, d, "district", d_score if districts else score)
        return _Outcome(score=score, reason="ambiguous")

    def _fallback(self, districts: frozenset[int] | None, d_score: float) -> _Outcome:
        """No mahalla: the district if exactly one is known."""
        if districts is not None and len(districts) == 1:
            return _Outcome(-1, next(iter(districts)), "district", d_score)
        if districts:
            return _Outcome(score=d_score, reason="ambiguous")
        return _Outcome(reason="not_found")

    def _resolve_fuzzy(self, pending: list[_Pending]) -> None:
        """Fuzzy-match the queued rows, batched by search scope with ``process.cdist``."""
        groups: dict[frozenset[int] | None, list[_Pending]] = {}
        for item in pending:
            if item.queries:
                groups.setdefault(item.scope, []).append(item)
            else:
                item.outcome = self._fallback(item.districts, item.district_score)
        for scope, items in groups.items():
            choices = self._choices(scope)
            keys = list(choices)
            sets = [choices[k] for k in keys]
            # per item: the best (whole name?, score) and the mahallas at it
            best = [(False, 0.0)] * len(items)
            hit_sets: list[set[int]] = [set() for _ in items]
            doubt = [False] * len(items)  # a near match that was not clear
            if keys:
                for it, rank, found in self._fuzzy_best(items, keys, sets):
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
                    outcome = self._decide(hit_sets[it], round(best[it][1], 2),
                                           item.districts, item.district_score, item.hints)
                if item.fallback is not None and not doubt[it] and (
                        outcome is None or outcome.precision != "mahalla"):
                    # the name found inside the longer one stands, unless the whole was
                    # near other names ("Kut Chovdur": Kul Chovdur or Chovdur?)
                    outcome = item.fallback
                item.outcome = outcome or self._fallback(item.districts, item.district_score)

    def _fuzzy_best(self, items: list[_Pending], keys: list[str], sets: list[frozenset[int]],
                    ) -> Iterable[tuple[int, tuple[bool, float], frozenset[int] | None]]:
        """(item, (whole name?, score), mahallas) of each query's best match (None: unclear).

        A key is a candidate at ``ratio`` >= ``threshold``; for a whole name also at most
        :data:`_TYPO_STEPS` insert/delete steps away when both have at least
        :data:`_TYPO_MIN_LEN` letters. The best candidate is taken only when every key within
        one step more than it names the same mahallas (else a typo could as well be another
        name: "Tergak" is one step from Terak and two from Tersak). A whole name's match
        outranks any match of a part of it ("uTrk-Kurgon" is Turk-Kurgon, not Okkurgon).
        """
        flat = [q for it in items for q in it.queries]
        typo = np.array([f for it in items for f in it.whole], dtype=bool)
        owner = np.repeat(np.arange(len(items)), [len(it.queries) for it in items])
        q_len = np.array([len(q) for q in flat], dtype=np.float32)
        k_len = np.array([len(k) for k in keys], dtype=np.float32)
        floor = 100.0 * (1.0 - (_TYPO_STEPS + 1) / (2.0 * _TYPO_MIN_LEN))
        cutoff = min(self.threshold, floor)
        for lo in range(0, len(flat), _FUZZY_CHUNK):
            scores = process.cdist(flat[lo:lo + _FUZZY_CHUNK], keys, scorer=fuzz.ratio,
                                   score_cutoff=cutoff, dtype=np.float32, workers=-1)
            n = len(scores)
            steps = np.where(scores > 0, np.rint((100.0 - scores) / 100.0
                                                 * (q_len[lo:lo + n, None] + k_len)), np.inf)
            ok = scores >= self.threshold
            ok |= (typo[lo:lo + n, None] & (steps <= _TYPO_STEPS)
                   & (np.minimum(q_len[lo:lo + n, None], k_len) >= _TYPO_MIN_LEN))
            for r in np.flatnonzero(ok.any(axis=1)):
                q = lo + int(r)
                cols = np.flatnonzero(scores[r])
                score, near_steps, good = scores[r, cols], steps[r, cols], ok[r, cols]
                top = float(score[good].max())
                at = good & (score == top)
                found = frozenset().union(*(sets[c] for c in cols[at]))
                near = near_steps[at].min()
                close = frozenset().union(*(sets[c] for c in cols[near_steps <= near + 1]))
                yield int(owner[q]), (bool(typo[q]), top), found if close <= found else None

    def _choices(self, scope: frozenset[int] | None) -> dict[str, frozenset[int]]:
        """Mahalla keys (-> positions) searchable within ``scope`` (None = everywhere)."""
        out: dict[str, frozenset[int]] = {}
        for d in range(len(self._d_choices)) if scope is None else scope:
            for key, pos in self._d_choices[d].items():
                out[key] = out.get(key, frozenset()) | pos
        return out

    def _frame(self, outcomes: list[_Outcome], codes: np.ndarray, index: pd.Index) -> pd.DataFrame:
        """Expand per-combination outcomes to the input rows."""
        m = np.array([o.mahalla for o in outcomes], dtype=np.int64)[codes]
        d = np.array([o.district for o in outcomes], dtype=np.int64)[codes]
        is_m, is_d = m >= 0, d >= 0
        lon = np.where(is_m, self._m_lon[np.maximum(m, 0)], self._d_lon[np.maximum(d, 0)])
        lat = np.where(is_m, self._m_lat[np.maximum(m, 0)], self._d_lat[np.maximum(d, 0)])
        lon[~is_d] = np.nan
        lat[~is_d] = np.nan

        def text(values: np.ndarray, valid: np.ndarray) -> pd.api.extensions.ExtensionArray:
            out = values.astype(object)
            out[~valid] = None
            return pd.array(out, dtype="string")

        ids = self._ids.take(m, allow_fill=True)
        if not isinstance(ids.dtype, pd.StringDtype):
            ids = pd.array(ids.astype(str), dtype="string").copy()
            ids[~is_m] = pd.NA
        return pd.DataFrame({
            "mahalla_id": ids,
            "district": text(self._d_name[np.maximum(d, 0)], is_d),
            "region": text(self._d_region[np.maximum(d, 0)], is_d),
            "precision": text(np.array([o.precision for o in outcomes], dtype=object)[codes],
                              is_d),
            "score": np.array([o.score for o in outcomes], dtype=np.float64)[codes],
            "lon": lon, "lat": lat,
            "reason": pd.array(np.array([o.reason for o in outcomes], dtype=object)[codes],
                               dtype="string"),
        }, index=index)


# --------------------------------------------------------------------------- helpers


def _remaining(runs: list[_Run], used: set[tuple[int, int, int]]) -> list[_Run]:
    """Runs left for the mahalla search once the region/district words are cut out.

    A district- or region-marked run that matched is dropped whole (its other words are not a
    mahalla name); other runs lose the matched words and keep their pieces.
    """
    out: list[_Run] = []
    for i, run in enumerate(runs):
        cuts = sorted((lo, hi) for j, lo, hi in used if j == i)
        if not cuts:
            out.append(run)
            continue
        if _DISTRICT in run.roles or _REGION in run.roles:
            continue
        start = 0
        for lo, hi in [*cuts, (len(run.words), len(run.words))]:
            if lo > start:
                out.append(run._replace(words=run.words[start:lo], kind="", ext=()))
            start = max(start, hi)
    return out


def _levels(runs: list[_Run]) -> list[list[_Run]]:
    """Runs in the order the mahalla search tries them: type-marked, plain, notes/parents."""
    aside = [r for r in runs if r.note or _PARENT in r.roles]
    main = [r for r in runs if not (r.note or _PARENT in r.roles)]
    return [[r for r in main if _MAHALLA in r.roles],
            [r for r in main if _MAHALLA not in r.roles], aside]


@dataclass(frozen=True)
class _RowText:
    """What the mahalla search needs to know of the row's text: notes, script, scope."""

    note: str
    russian: bool
    scope: frozenset[int] | None


_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
_UZBEK_CYRILLIC_RE = re.compile(
    r"[ўқғҳЎҚҒҲ]|\b(?:мфй|қфй|кфй|шфй|офй|тумани|вилояти|шаҳри|шахри|маҳалла\w*|махалласи"
    r"|фуқаролар|фукаролар|кўчаси|кучаси)\b", re.IGNORECASE)


def _russian(texts: dict[str, str]) -> bool:
    """Whether the row is in Russian: Cyrillic without Uzbek letters (ў қ ғ ҳ) or words."""
    text = " ".join(texts.values())
    if text.isascii():
        return False
    return bool(_CYRILLIC_RE.search(text)) and not _UZBEK_CYRILLIC_RE.search(text)


def _ru_form(written: str) -> str:
    """A written name as Russian spells it: o‘ -> u, g‘ -> g, q -> k, h -> x."""
    return written.replace("o'", "u").replace("g'", "g").replace("q", "k").replace("h", "x")


def _noted(written: str, note: str) -> str:
    """A written name with its bracketed note ("birlik | jamoat asosida")."""
    return f"{written} | {note}" if note else written


def _raw_key(written: str) -> str:
    """A written name without spaces, unfolded (for one-typo matching)."""
    return written.replace(" ", "")


def _text_key(text: str) -> str:
    """A whole text as alias look-ups compare it: prepared words, single-spaced."""
    return " ".join(_TOKEN_RE.findall(prepare_text(text)))


@dataclass(frozen=True)
class _Aliases:
    """Analyst aliases: whole-text key -> targets and name key -> targets.

    A target is a mahalla position (>= 0) or, for a district-only alias, -1 - district.
    """

    texts: dict[str, frozenset[int]]
    names: dict[str, frozenset[int]]


def read_place_aliases(path: str | Path) -> pd.DataFrame:
    """Read a place-alias file: UTF-8 CSV with alias, mahalla_id and optional district, region.

    Parameters
    ----------
    path
        The CSV file (a header row; extra columns are kept and ignored by the gazetteer).

    Returns
    -------
    pd.DataFrame
        The rows as strings (missing cells as <NA>), ready for :meth:`Gazetteer.with_aliases`.

    Raises
    ------
    riskmap.errors.MissingColumnError
        If the alias or mahalla_id column is missing.
    riskmap.errors.InputFileError
        If a row has an empty alias, or neither a mahalla_id nor a district.
    """
    frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""],
                        encoding="utf-8-sig")
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in ("alias", "mahalla_id"):
        if col not in frame.columns:
            raise MissingColumnError(path, col, list(frame.columns))
    for i, row in enumerate(frame.itertuples(index=False), start=2):
        values = row._asdict()
        if pd.isna(values["alias"]) or not str(values["alias"]).strip():
            raise InputFileError(path, "empty alias", row=i, column="alias")
        if pd.isna(values["mahalla_id"]) and pd.isna(values.get("district", pd.NA)):
            raise InputFileError(path, "neither a mahalla_id nor a district", row=i,
                                 column="mahalla_id")
    return frame


def _distinct_combos(given: dict[str, pd.Series], n: int,
                     ) -> tuple[list[dict[str, str]], np.ndarray]:
    """Distinct (address, mahalla, district, region) combinations and each row's combo code."""
    codes = np.zeros(n, dtype=np.int64)
    texts: dict[str, np.ndarray] = {}
    for name, ser in given.items():
        col, uniques = pd.factorize(ser.to_numpy(dtype=object), use_na_sentinel=True)
        texts[name] = np.array(["" if pd.isna(u) else str(u) for u in uniques] + [""],
                               dtype=object)
        col = np.where(col < 0, len(uniques), col).astype(np.int64)
        codes = pd.factorize(codes * (len(uniques) + 1) + col)[0].astype(np.int64)
        texts[name] = texts[name][col]
    if n == 0:
        return [], codes
    _, first = np.unique(codes, return_index=True)
    combos = [{k: v[i] for k, v in texts.items()} for i in first]
    return combos, codes


def _lonlat(points: np.ndarray, crs: object) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude of points (NaN for empty/missing), reprojected to EPSG:4326."""
    ser = gpd.GeoSeries(points, crs=crs)
    if crs is not None and not ser.crs.equals("EPSG:4326"):
        ser = ser.to_crs("EPSG:4326")
    return xy(ser.to_numpy())
