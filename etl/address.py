"""Split free-text addresses into runs of name words tagged by their type words (the gazetteer's parser).

Internal to :mod:`riskmap.etl.gazetteer`, which re-exports :func:`parse_address`. Besides the
parser: the keys of parsed words (:func:`run_key`, :func:`run_full_key`, :func:`ngram_keys`),
the greedy n-gram cover used by every look-up (:func:`cover`) and what the text of a row says
about its script (:func:`cyrillic_flags`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import NamedTuple

from riskmap.etl.translit import (
    ASSEMBLY_KIND,
    ASSEMBLY_WORDS,
    SETTLEMENT_WORDS,
    prepare_text,
    token_keys,
)

__all__ = [
    "CITY",
    "DISTRICT",
    "MAHALLA",
    "MAYBE_INITIAL_COMMA",
    "PARENT",
    "PART_SEPARATORS",
    "REGION",
    "RURAL",
    "STREET",
    "Run",
    "address_parts",
    "cover",
    "cyrillic_flags",
    "forced_runs",
    "initial_commas",
    "ngram_keys",
    "parse_address",
    "parse_part",
    "raw_key",
    "ru_form",
    "run_full_key",
    "run_key",
    "text_key",
    "with_note",
]

#: Roles a type word gives the run of name words next to it.
MAHALLA, DISTRICT, REGION, STREET = "mahalla", "district", "region", "street"
PARENT = "parent"  # "X ovul fuqarolar yig‘ini tarkibidagi Y MFY": X holds the mahalla Y
#: Kinds of district a district word names (shahri = city, tumani = district).
CITY, RURAL = "city", "district"
_MAHALLA, _DISTRICT, _REGION, _STREET, _PARENT = MAHALLA, DISTRICT, REGION, STREET, PARENT
_CITY, _RURAL = CITY, RURAL
_POST, _PRE, _EITHER = "post", "pre", "either"
_MAX_NGRAM = 4

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
#: The characters that separate the parts of an address, as a character class (the same in
#: Python's and in RE2's syntax); spaces around them go with them.
PART_SEPARATORS = r"[,;|\n\r\t/\\]"
_PART_RE = re.compile(r"\s*" + PART_SEPARATORS + r"[,;|/\\\s]*")  # splits an address into parts
_GLUED_COMMA_RE = re.compile(r"[^\W\d_],[^\W\d_]")
_INITIAL_COMMA_RE = re.compile(r"(?<=(?<![^\W\d_])[^\W\d_]),(?=[^\W\d_])|(?<=(?<![^\W\d_])"
                               r"[^\W\d_]{2}),(?=[^\W\d_])")
_BRACKET_RE = re.compile(r"\(([^()]*)\)")
_TOKEN_RE = re.compile(r"[0-9a-z'~]+")
_DIGIT_RE = re.compile(r"\d")


# --------------------------------------------------------------------------- address parsing


class Run(NamedTuple):
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


def _raw_tokens(segment: str) -> list[str]:
    """The tokens of one segment: words and numbers, apostrophes trimmed, filler dropped."""
    raw = [t.lstrip("'") for t in _TOKEN_RE.findall(segment)]
    return [t if len(t) == 2 and t[1] == "'" else t.rstrip("'") for t in raw
            if t.strip("'") and t not in _FILLER]


def _tokens(segment: str) -> list[tuple[str, str]]:
    """Classify the tokens of one segment as ("word"|"num"|"stop"|"marker", text)."""
    return _classify(_raw_tokens(segment))


def _classify(raw: list[str]) -> list[tuple[str, str]]:
    """Classify tokens as ("word"|"num"|"stop"|"marker", text) (see :func:`_tokens`)."""
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


def _segment_runs(tokens: list[tuple[str, str]], note: bool = False) -> list[Run]:
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
    return [Run(tuple(w), tuple(sorted(r)), k or "", e if e != tuple(w) else (), mk or "", note)
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
def parse_address(text: str) -> tuple[Run, ...]:
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
    runs: list[Run] = []
    for part in address_parts(text):
        runs += parse_part(part)
    return tuple(runs)


def address_parts(text: str) -> list[str]:
    """The parts of an address that :func:`parse_address` reads one by one (see there).

    Examples
    --------
    >>> address_parts(" Jizzax shahri, Do‘stlik MFY; 12-uy")
    ['Jizzax shahri', 'Do‘stlik MFY', '12-uy']
    >>> address_parts("Yu,Zarkaynar MFY")  # a comma between letters: an initial's dot
    ['Yu.Zarkaynar MFY']
    """
    return _PART_RE.split(initial_commas(text).strip())

#: A regular expression (RE2 or Python) that every text :func:`initial_commas` changes
#: matches: a comma before a character that may be a letter.
MAYBE_INITIAL_COMMA = r",[^\s,;.0-9\-]"


def initial_commas(text: str) -> str:
    """``text`` with a comma between two letters read as an initial's dot ("Yu,Zarkaynar").

    Examples
    --------
    >>> initial_commas("Yu,Zarkaynar MFY, 5-uy"), initial_commas("Jizzax,Do‘stlik")
    ('Yu.Zarkaynar MFY, 5-uy', 'Jizzax,Do‘stlik')
    """
    if "," in text and _GLUED_COMMA_RE.search(text):
        return _INITIAL_COMMA_RE.sub(".", text)
    return text


@lru_cache(maxsize=100_000)
def parse_part(part: str) -> tuple[Run, ...]:
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
def _parse_segment(segment: str, note: bool = False) -> tuple[Run, ...]:
    """Runs of one cleaned segment (cached: segments repeat far more than whole addresses)."""
    raw = _raw_tokens(segment)
    simple = _simple_runs(raw, note)
    return simple if simple is not None else tuple(_segment_runs(_classify(raw), note))


def _plain_word(token: str) -> bool:
    return token not in _MARKERS and token not in _STOPWORDS and not _DIGIT_RE.search(token)


def _simple_runs(raw: list[str], note: bool) -> tuple[Run, ...] | None:
    """The runs of a segment of a common shape, else None: what the general rules give.

    The shapes: name words only ("Do‘stlik"); name words and one type word after them
    ("Do‘stlik MFY", "Jizzax shahri") or before them ("махалля Дустлик", "г. Джизак"), but
    not a "parent" word nor a street word that may begin a name; no name word at all, only
    house words and numbers ("12-uy", "д. 5"), which give no run.
    """
    if not raw:
        return ()
    lead, trail = raw[0] in _MARKERS, raw[-1] in _MARKERS
    words = raw[1:] if lead else raw[:-1] if trail else raw
    if not words:
        return None
    if not all(map(_plain_word, words)):
        if not lead and not trail and all(
                t in _STOPWORDS or _DIGIT_RE.search(t) for t in raw):
            return ()  # no name word: nothing for a number to belong to
        return None
    if not lead and not trail:
        return (Run(tuple(words), (), "", (), "", note),)
    marker = raw[0] if lead else raw[-1]
    role, side, dkind = _MARKERS[marker]
    if role == _PARENT or (lead and marker in _NAME_LIKE_MARKERS and side == _POST
                           and role == _STREET):
        return None
    ext = (*words, marker) if trail and marker in _NAME_LIKE_MARKERS else ()
    return (Run(tuple(words), (role,), dkind or "", ext, ASSEMBLY_KIND.get(marker) or "",
                note),)


def forced_runs(text: str, role: str) -> tuple[Run, ...]:
    """Parse a name given in its own column and give every run the column's role."""
    return tuple(r._replace(roles=tuple(sorted({*r.roles, role}))) for r in parse_address(text))


def run_key(words: Sequence[str]) -> str:
    """The core key of parsed words (:func:`name_key`: no type words)."""
    return token_keys(tuple(words)).core


def run_full_key(words: Sequence[str]) -> str:
    """The full mahalla key of parsed words (settlement and town words kept)."""
    return token_keys(tuple(words)).full


def cover(words: Sequence[str], lookup: Callable[[str], frozenset[int]],
          key: Callable[[Sequence[str]], str] = run_key,
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


def ngram_keys(words: Sequence[str]) -> list[str]:
    """Keys of the whole run and of its n-grams (for fuzzy matching)."""
    keys = {run_key(words), run_full_key(tuple(words))}
    for n in range(1, min(_MAX_NGRAM, len(words)) + 1):
        keys.update(run_key(words[i:i + n]) for i in range(len(words) - n + 1))
    return [k for k in keys if len(k) >= 3]


_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")
_UZBEK_CYRILLIC_RE = re.compile(
    r"[ўқғҳЎҚҒҲ]|\b(?:мфй|қфй|кфй|шфй|офй|тумани|вилояти|шаҳри|шахри|маҳалла\w*|махалласи"
    r"|фуқаролар|фукаролар|кўчаси|кучаси)\b", re.IGNORECASE)


def cyrillic_flags(text: str) -> tuple[bool, bool]:
    """(has Cyrillic, has Uzbek Cyrillic letters or words) of a text.

    A row is Russian when some of its texts have Cyrillic and none has Uzbek Cyrillic (ў қ ғ
    ҳ, or words such as МФЙ, тумани, маҳалла). Both patterns match within words only, so the
    flags of a text are those of its parts (:func:`address_parts`) combined with ``any``.

    Examples
    --------
    >>> cyrillic_flags("махалля Дустлик"), cyrillic_flags("Дўстлик МФЙ"), cyrillic_flags("MFY")
    ((True, False), (True, True), (False, False))
    """
    if text.isascii():
        return False, False
    return bool(_CYRILLIC_RE.search(text)), bool(_UZBEK_CYRILLIC_RE.search(text))


def ru_form(written: str) -> str:
    """A written name as Russian spells it: o‘ -> u, g‘ -> g, q -> k, h -> x."""
    return written.replace("o'", "u").replace("g'", "g").replace("q", "k").replace("h", "x")


def with_note(written: str, note: str) -> str:
    """A written name with its bracketed note ("birlik | jamoat asosida")."""
    return f"{written} | {note}" if note else written


def raw_key(written: str) -> str:
    """A written name without spaces, unfolded (for one-typo matching)."""
    return written.replace(" ", "")


def text_key(text: str) -> str:
    """A whole text as alias look-ups compare it: prepared words, single-spaced."""
    return " ".join(_TOKEN_RE.findall(prepare_text(text)))
