"""Match free-text addresses and mahalla/district/region names to mahallas (the geocoding gazetteer)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

import geopandas as gpd
import shapely

from riskmap.errors import SchemaError
from riskmap.etl.translit import (
    admin_forms,
    admin_skeleton,
    cyr_to_lat,
    name_key,
    unify_apostrophes,
)
from riskmap.geo.points import xy

__all__ = ["MATCH_COLUMNS", "Gazetteer", "parse_address"]

#: Columns of the frame returned by :meth:`Gazetteer.match`, in order.
MATCH_COLUMNS = ("mahalla_id", "district", "region", "precision", "score", "lon", "lat", "reason")

_MAHALLA, _DISTRICT, _REGION, _STREET = "mahalla", "district", "region", "street"
_CITY, _RURAL = "city", "district"
_POST, _PRE, _EITHER = "post", "pre", "either"
_MAX_NGRAM = 4
_FUZZY_CHUNK = 2048
_FORM_CACHE = 100_000

# Marker words (as they look after transliteration, lower case, apostrophes as "'"):
# word -> (role, preferred side, district kind). Uzbek markers follow the name ("Do'stlik MFY",
# "Jizzax shahri"), Russian ones usually precede it ("г. Джизак", "махалля Дустлик").
_MARKERS: dict[str, tuple[str, str, str | None]] = {
    **dict.fromkeys(
        ["mfy", "qfy", "kfy", "mfi", "ssg", "msg", "mahalla", "mahallasi", "mahallasida",
         "maxallasi", "mahalli", "maxalli", "ovul", "ovuli", "qishloq", "qishlog'i", "qishlogi",
         "fuqarolar", "fuqarolari", "yig'ini", "yigini", "shaharcha", "shaharchasi"],
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
}
# Words that carry no name: house/flat parts and filler. They end a name like a comma does.
_STOPWORDS = frozenset(
    ["uy", "uyi", "dom", "d", "kv", "kvartira", "xonadon", "xonadoni", "korpus", "k", "bino",
     "binosi", "yaqinida", "yonida", "oldida", "orqasida", "ro'parasi", "hududida", "hududi",
     "ryadom", "okolo", "u", "v", "va", "i", "bilan", "raqamli", "raqam", "n", "no", "nomli",
     "imeni", "im"]
)
_SEGMENT_RE = re.compile(r"[,;()\[\]{}|\n\r\t/\\]+")
_TOKEN_RE = re.compile(r"[0-9a-z']+")
_QUOTES_RE = re.compile(r"[«»\"“”„‟‹›]")
_RN_RE = re.compile(r"\br-n\b")
_DIGIT_RE = re.compile(r"\d")


# --------------------------------------------------------------------------- address parsing


@dataclass(frozen=True)
class _Run:
    """A maximal run of name words in one address segment, with the roles its markers give."""

    words: tuple[str, ...]
    roles: frozenset[str] = frozenset()
    kind: str | None = None


def _tokens(segment: str) -> list[tuple[str, str]]:
    """Classify the tokens of one segment as ("word"|"num"|"stop"|"marker", text)."""
    raw = [t.lstrip("'") for t in _TOKEN_RE.findall(segment)]
    raw = [t if len(t) == 2 and t[1] == "'" else t.rstrip("'") for t in raw if t.strip("'")]
    out: list[tuple[str, str]] = []
    for i, tok in enumerate(raw):
        if tok in _MARKERS:
            out.append(("marker", tok))
        elif tok in _STOPWORDS:
            out.append(("stop", tok))
        elif _DIGIT_RE.search(tok):
            # a number glued to a following name word belongs to the name ("8-mart"), and so
            # does one between a name and its type word ("Toshkent 1-tumani", "Bahor 2-MFY")
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            glued = nxt and nxt not in _MARKERS and nxt not in _STOPWORDS and nxt.isalpha()
            numbered = (bool(out) and out[-1][0] == "word" and nxt in _MARKERS
                        and _MARKERS[nxt][0] != _STREET)
            out.append(("word" if glued or numbered else "num", tok))
        else:
            out.append(("word", tok))
    return out


def _segment_runs(tokens: list[tuple[str, str]]) -> list[_Run]:
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
        if target >= 0:
            roles[target].add(role)
            kinds[target] = kinds[target] or dkind
    return [_Run(tuple(w), frozenset(r), k) for w, r, k in zip(runs, roles, kinds, strict=True)]


@lru_cache(maxsize=100_000)
def parse_address(text: str) -> tuple[_Run, ...]:
    """Split an address into name runs, each tagged with the roles its type words give it.

    The text is transliterated to Latin and lower-cased; commas, semicolons, brackets and
    slashes split it into segments; inside a segment, numbers, house/flat words (uy, d., kv.)
    and type words end a run of name words. A type word tags the adjacent run: Uzbek ones the
    run before ("Do‘stlik MFY", "Jizzax shahri", "Navoiy ko‘chasi"), Russian ones the run after
    ("г. Джизак", "махалля Дустлик", "ул. Навои"), falling back to the other side.

    Parameters
    ----------
    text
        A free-text address.

    Returns
    -------
    tuple of runs
        Each has ``words`` (tuple of str), ``roles`` (subset of mahalla, district, region,
        street) and ``kind`` ("city" or "district" when a district word said which).

    Examples
    --------
    >>> [(r.words, sorted(r.roles)) for r in parse_address("Jizzax shahri, Do‘stlik MFY, 12-uy")]
    [(('jizzax',), ['district']), (("do'stlik",), ['mahalla'])]
    >>> [(r.words, sorted(r.roles)) for r in parse_address("г. Джизак, махалля Дустлик, д. 5")]
    [(('djizak',), ['district']), (('dustlik',), ['mahalla'])]
    >>> parse_address("")
    ()
    """
    s = unicodedata.normalize("NFC", text)
    s = unify_apostrophes(cyr_to_lat(s)).lower()
    s = _RN_RE.sub(" rayon ", _QUOTES_RE.sub(" ", s))
    return tuple(run for segment in _SEGMENT_RE.split(s) for run in _parse_segment(segment))


@lru_cache(maxsize=100_000)
def _parse_segment(segment: str) -> tuple[_Run, ...]:
    """Runs of one cleaned segment (cached: segments repeat far more than whole addresses)."""
    return tuple(_segment_runs(_tokens(segment)))


def _forced(text: str, role: str) -> tuple[_Run, ...]:
    """Parse a name given in its own column and give every run the column's role."""
    return tuple(_Run(r.words, r.roles | {role}, r.kind) for r in parse_address(text))


def _key(words: Sequence[str]) -> str:
    return name_key(" ".join(words))


def _cover(words: Sequence[str], lookup: Callable[[str], frozenset[int]],
           ) -> list[tuple[int, int, frozenset[int]]]:
    """Greedy longest-first cover of ``words`` by n-grams whose key ``lookup`` finds.

    Returns (start, stop, hits) spans that do not overlap; a matched span hides its sub-spans, so
    "Yangi Hayot" does not also report "Hayot".
    """
    found: list[tuple[int, int, frozenset[int]]] = []
    todo = [(0, len(words))]
    while todo:
        lo, hi = todo.pop()
        sizes = [hi - lo, *range(min(_MAX_NGRAM, hi - lo - 1), 0, -1)]
        hit = None
        for n in sizes:
            for i in range(lo, hi - n + 1):
                got = lookup(_key(words[i:i + n]))
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
    keys = {_key(words)}
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


@dataclass
class _Pending:
    """A combination whose mahalla needs the fuzzy pass."""

    combo: int
    queries: list[str]
    scope: frozenset[int] | None
    districts: frozenset[int] | None
    district_score: float
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
    i.e. namesakes such as Qarshi shahri/tumani), then rapidfuzz ``ratio`` on keys and
    skeletons, accepted only at >= ``threshold`` and ``margin`` points ahead of the next
    distinct name. Results are cached per (text, allowed units).
    """

    def __init__(self, names: Sequence[str], *, threshold: float, margin: float) -> None:
        self.keys = [name_key(n) for n in names]
        self.exact = _index((k, i) for i, k in enumerate(self.keys))
        self._by_skel = _index((admin_skeleton(f), i) for i, n in enumerate(names)
                               for f in admin_forms(n))
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
    :meth:`match`. Names are compared by :func:`etl.translit.name_key`, so Uzbek Latin, Uzbek
    Cyrillic and Russian spellings of one name coincide.

    Parameters
    ----------
    mahallas
        One row per mahalla: mahalla_id, name, name_cyrillic (may be missing), district,
        region, lon, lat (its representative point, EPSG:4326).
    districts
        One row per (region, district): district, region, lon, lat (representative point of
        the union of its mahallas).
    threshold
        Minimum rapidfuzz ``ratio`` (0..100) of a fuzzy mahalla match.
    admin_threshold
        Minimum score (0..100) of a fuzzy district/region match. Lower than ``threshold``:
        the candidates are few (the districts of the named region, else all) and Russian
        forms differ from Uzbek ones in vowels (Термез/Termiz).
    admin_margin
        Points by which the best fuzzy district/region must beat the next distinct name;
        closer candidates leave the district unknown rather than guess.
    """

    def __init__(self, mahallas: pd.DataFrame, districts: pd.DataFrame, *,
                 threshold: float = 88.0, admin_threshold: float = 80.0,
                 admin_margin: float = 10.0) -> None:
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
        self._m_district = np.array([d_code[p] for p in m_pairs], dtype=np.int64)
        self._d_name = np.array([d for _, d in d_pairs], dtype=object)
        self._d_region = np.array([r for r, _ in d_pairs], dtype=object)
        self._d_kind = [_kind_of(d) for _, d in d_pairs]
        self._d_lon = districts["lon"].to_numpy(dtype="float64")
        self._d_lat = districts["lat"].to_numpy(dtype="float64")

        names = mahallas["name"].fillna("").astype(str).tolist()
        cyr = (mahallas["name_cyrillic"].fillna("").astype(str).tolist()
               if "name_cyrillic" in mahallas else [""] * len(names))
        m_keys = [(name_key(n), i) for i, n in enumerate(names)]
        m_keys += [(name_key(c), i) for i, c in enumerate(cyr)]
        self._m_index = _index(m_keys)
        admin = {"threshold": float(admin_threshold), "margin": float(admin_margin)}
        self._d_names = _AdminNames([d for _, d in d_pairs], **admin)
        self._d_index = self._d_names.exact
        regions = sorted(set(self._d_region))
        self._r_districts = {
            r: frozenset(np.flatnonzero(self._d_region == r).tolist()) for r in regions}
        self._r_names = regions
        self._r_forms = _AdminNames(regions, **admin)
        self._r_index = self._r_forms.exact
        # fuzzy choices per district: key -> mahalla positions
        self._d_choices: list[dict[str, frozenset[int]]] = [{} for _ in d_pairs]
        for key, pos in self._m_index.items():
            for p in pos:
                d = self._d_choices[self._m_district[p]]
                d[key] = d.get(key, frozenset()) | {p}

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_mahallas(cls, mahallas: gpd.GeoDataFrame, *, threshold: float = 88.0,
                      admin_threshold: float = 80.0, admin_margin: float = 10.0) -> Gazetteer:
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

        Returns
        -------
        Gazetteer

        Raises
        ------
        riskmap.errors.SchemaError
            If a required column is missing.
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
                   admin_margin=admin_margin)

    # ------------------------------------------------------------------ matching

    def match(self, address: pd.Series | None = None, *, mahalla: pd.Series | None = None,
              district: pd.Series | None = None, region: pd.Series | None = None,
              ) -> pd.DataFrame:
        """Match each row to a mahalla (or only a district), never guessing between namesakes.

        Rules: names are compared by phonetic key (exact match first, then rapidfuzz
        ``ratio`` >= ``threshold``); a region or district found in the row (given columns, or
        words such as "shahri", "tumani", "г.", "район", "viloyati" in the address, or a bare
        district name) restricts the mahalla search to it. A marked district or region the
        keys miss is read as a Russian form (Денауский район = Denov tumani, г. Термез =
        Termiz shahri, Сурхандарьинская область = Surxondaryo viloyati; see
        :func:`etl.translit.admin_skeleton`), else fuzzily with ``admin_threshold`` and
        ``admin_margin``, among the districts of the named region if any; a mahalla name that exists in
        several candidate districts leaves the row unmatched with reason "ambiguous"; a row
        where only one district is recognisable gets precision "district" at the district's
        representative point. Streets ("Navoiy ko‘chasi", "ул. Навои") and house numbers are
        ignored. Each distinct (address, mahalla, district, region) combination is resolved
        once.

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
        outcomes = [self._resolve_exact(i, c) for i, c in enumerate(combos)]
        pending = [o for o in outcomes if isinstance(o, _Pending)]
        self._resolve_fuzzy(pending)
        final = [o.outcome if isinstance(o, _Pending) else o for o in outcomes]
        return self._frame(final, codes, index)

    # ------------------------------------------------------------------ steps

    def _resolve_exact(self, combo: int, texts: dict[str, str]) -> _Outcome | _Pending:
        """Resolve region and district, then try an exact mahalla match; else queue fuzzy."""
        if not any(t.strip() for t in texts.values()):
            return _Outcome(reason="empty")
        runs = list(parse_address(texts.get("address", "")))
        for col, role in (("mahalla", _MAHALLA), ("district", _DISTRICT), ("region", _REGION)):
            runs += _forced(texts.get(col, ""), role)
        runs = [r for r in runs if _STREET not in r.roles or len(r.roles) > 1]
        allowed, used = self._regions(runs)
        districts, d_score, used = self._districts(runs, allowed, used)
        scope = districts if districts is not None else allowed
        left = _remaining(runs, used)
        marked = [r for r in left if _MAHALLA in r.roles]
        levels = [marked, [r for r in left if _MAHALLA not in r.roles]]
        for level in levels:
            hits: set[int] = set()
            for run in level:
                for _, _, got in _cover(run.words, self._mahalla_lookup(scope)):
                    hits |= got
            if hits:
                return self._decide(hits, 100.0, districts, d_score)
        queries = sorted({k for r in (marked or levels[1]) for k in _ngram_keys(r.words)})
        return _Pending(combo, queries, scope, districts, d_score)

    def _regions(self, runs: list[_Run]) -> tuple[frozenset[int] | None, set[tuple[int, int, int]]]:
        """Districts allowed by the region(s) named in the row (None = all) and words used.

        A region-marked run is looked up by exact key, else by Russian form / fuzzy name
        (``Сурхандарьинская область`` = Surxondaryo viloyati).
        """
        used: set[tuple[int, int, int]] = set()
        regions: set[int] = set()
        for i, run in enumerate(runs):
            if _REGION not in run.roles:
                continue
            spans = _cover(run.words, lambda k: self._r_index.get(k, frozenset()))
            if not spans:
                got = self._r_forms.by_form(" ".join(run.words), None)
                spans = [(0, len(run.words), got[0])] if got else []
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

        marked = [(i, r) for i, r in enumerate(runs) if _DISTRICT in r.roles]
        bare = [(i, r) for i, r in enumerate(runs) if not r.roles & {_DISTRICT, _MAHALLA, _REGION}]
        prefixed = [(i, r) for i, r in enumerate(runs)
                    if _MAHALLA in r.roles and _DISTRICT not in r.roles and len(r.words) > 1]
        for level, (group, consume) in enumerate(((marked, True), (bare, False),
                                                  (prefixed, False))):
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

    def _mahalla_lookup(self, scope: frozenset[int] | None) -> Callable[[str], frozenset[int]]:
        def lookup(key: str) -> frozenset[int]:
            got = self._m_index.get(key, frozenset())
            if scope is None or not got:
                return got
            return frozenset(p for p in got if self._m_district[p] in scope)
        return lookup

    def _decide(self, hits: set[int] | frozenset[int], score: float,
                districts: frozenset[int] | None, d_score: float) -> _Outcome:
        """One mahalla -> matched; several in one district -> that district; else ambiguous."""
        if len(hits) == 1:
            (p,) = hits
            return _Outcome(p, int(self._m_district[p]), "mahalla", score)
        in_districts = {int(self._m_district[p]) for p in hits}
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
            flat = [q for it in items for q in it.queries]
            owner = np.repeat(np.arange(len(items)), [len(it.queries) for it in items])
            best = np.zeros(len(items), dtype=np.float64)
            hit_sets: list[set[int]] = [set() for _ in items]
            for lo in range(0, len(flat), _FUZZY_CHUNK):
                if not keys:
                    break
                scores = process.cdist(flat[lo:lo + _FUZZY_CHUNK], keys, scorer=fuzz.ratio,
                                       score_cutoff=self.threshold, dtype=np.float32,
                                       workers=-1)
                row_max = scores.max(axis=1)
                for r in np.flatnonzero(row_max > 0):
                    it = owner[lo + r]
                    top = float(row_max[r])
                    cols = np.flatnonzero(scores[r] == row_max[r])
                    if top > best[it]:
                        best[it], hit_sets[it] = top, set()
                    if top == best[it]:
                        for c in cols:
                            hit_sets[it] |= choices[keys[c]]
            for it, item in enumerate(items):
                if hit_sets[it]:
                    item.outcome = self._decide(hit_sets[it], round(float(best[it]), 2),
                                                item.districts, item.district_score)
                else:
                    item.outcome = self._fallback(item.districts, item.district_score)

    def _choices(self, scope: frozenset[int] | None) -> dict[str, frozenset[int]]:
        """Mahalla keys (-> positions) searchable within ``scope`` (None = everywhere)."""
        if scope is None:
            return self._m_index
        out: dict[str, frozenset[int]] = {}
        for d in scope:
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
        if cuts and run.roles & {_DISTRICT, _REGION}:
            continue
        start = 0
        for lo, hi in [*cuts, (len(run.words), len(run.words))]:
            if lo > start:
                out.append(_Run(run.words[start:lo], run.roles - {_DISTRICT, _REGION}, None))
            start = max(start, hi)
    return out


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
