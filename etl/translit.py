"""Uzbek/Russian Cyrillic to Uzbek Latin transliteration and phonetic matching keys for place names."""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

import pandas as pd

__all__ = [
    "APOSTROPHES",
    "ASSEMBLY_KIND",
    "ASSEMBLY_WORDS",
    "INITIAL_MARK",
    "NAME_TYPE_WORDS",
    "SETTLEMENT_WORDS",
    "MahallaKeys",
    "TokenKeys",
    "admin_forms",
    "admin_skeleton",
    "cyr_to_lat",
    "loose_key",
    "mahalla_keys",
    "name_key",
    "name_keys",
    "prepare_text",
    "token_keys",
    "unify_apostrophes",
]

#: Characters used for the Uzbek o‘/g‘ diacritic and the tutuq belgisi (ʼ) in the wild.
APOSTROPHES = "'‘’ʻʼ`´′‛ʹ"

_APOSTROPHE_TABLE = str.maketrans(dict.fromkeys(APOSTROPHES, "'"))

# Lower-case Cyrillic -> Uzbek Latin (Uzbek Cyrillic alphabet, Russian extras, a few Karakalpak letters).
_CYR: dict[str, str] = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "yo", "ж": "j",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "x", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "’", "ы": "i", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "ў": "o‘", "қ": "q", "ғ": "g‘", "ҳ": "h", "ә": "a", "ө": "o", "ү": "u",
    "ң": "ng", "і": "i", "ї": "yi", "є": "ye",
}
_CYR_VOWELS = frozenset("аеёиоуэюяўыәөүіaeiou")
_CYR_SOFT = frozenset("ъь")
# Letters left to str.translate: lower case, and capitals whose Latin is one letter (or none).
_CYR_TABLE = str.maketrans({
    **_CYR, **{k.upper(): v.upper() for k, v in _CYR.items() if len(v) <= 1}})
# Letters that need their context: е (ye after a vowel or at a word start) and capitals whose
# Latin has two letters (Ш -> Sh or SH).
_CONTEXT_RE = re.compile(
    "[еЕ" + "".join(k.upper() for k, v in _CYR.items() if len(v) > 1) + "]")
_ANY_CYR_RE = re.compile("[\u0400-\u04ff]")

# Words that name the *type* of a place rather than the place, spelled as they look after
# ``prepare_text`` (lower case, apostrophes as "'", abbreviations canonical).
#: Words for a citizens' assembly (MFY, QFY, "fuqarolar yig‘ini", mahalla, ...) and the
#: filler "nomli" (named after): never part of a mahalla's name.
ASSEMBLY_WORDS: frozenset[str] = frozenset(
    {
        "mfy", "qfy", "kfy", "ofy", "shfy", "pfy", "fy", "ssg", "mfi", "msg", "mp", "ap", "mpj",
        "mahalla", "mahallasi", "mahallya", "maxalla", "maxallya", "maxallasi", "mahalli",
        "maxalli", "max", "mah", "mfylari", "fuqarolar", "fuqarolari", "fuqarolai", "fukarolar",
        "yig'ini", "yigini", "yiyini",
        # filler of official names: "A.Navoiy nomli MFY" (named after A.Navoiy)
        "nomli", "nomidagi", "imeni",
    }
)
#: Words for a settlement or a town, which are also part of some mahalla names ("Yangi
#: qishloq", "Yangi shahar"): dropped by ``name_key``, kept by the full mahalla key.
SETTLEMENT_WORDS: frozenset[str] = frozenset(
    {
        "ovul", "ovuli", "qishloq", "qishlog'i", "qishlogi", "kishlak", "kishlog'i", "kishlogi",
        "aul", "posyolok", "poselok", "poselkasi", "shaharcha", "shaharchasi", "shaxarcha",
        "shaxarchasi",
    }
)
# districts, cities and regions
_ADMIN_WORDS = frozenset(
    {
        "shahri", "shahar", "shaxri", "shaxar", "sh", "tumani", "tuman", "t", "rayon", "rayoni",
        "rayona", "rayone", "rayonu", "gorod", "goroda", "gorode", "g", "gor",
        "viloyati", "viloyat", "vil", "oblast", "oblasti", "obl", "respublikasi", "respublika",
        "resp",
    }
)
#: Every type word: removed by :func:`name_key` wherever it occurs.
NAME_TYPE_WORDS: frozenset[str] = ASSEMBLY_WORDS | SETTLEMENT_WORDS | _ADMIN_WORDS

# Assembly abbreviations as the official lists write them: MFY, M.F.Y, "M F Y", Q.F.Y, k.FY,
# Sh.FY, ShchaFY, KMFY -> one canonical word each (letter before "FY" -> kind).
_ABBR_RE = re.compile(r"(?<![a-z'~])(shcha|sh|km|m|q|k|o|p)[ .]*f[ .]*y(?![a-z'])\.?",
                      re.IGNORECASE)
_ABBR_CANON = {"shcha": "shfy", "sh": "shfy", "km": "mfy", "m": "mfy", "q": "qfy", "k": "qfy",
               "o": "ofy", "p": "pfy"}
#: Kind of assembly an abbreviation names: mahalla, village (QFY = KFY), aul, town.
ASSEMBLY_KIND: dict[str, str] = {"mfy": "mfy", "mfi": "mfy", "qfy": "qfy", "kfy": "qfy", "ofy": "ofy",
              "shfy": "shfy", "pfy": "shfy"}
# "SarbozorMFY", "Yangi hayotMFY": a type word glued to the name (KFY/OFY only after a
# lower-case letter in the source, as "...kfy"/"...ofy" may end a word)
_GLUED_UPPER_RE = re.compile(r"(?<=[a-z'])(KFY|OFY)(?![a-z])")
_GLUED_RE = re.compile(r"(?<=[a-z'])(mfy|qfy|shfy)(?![a-z'])")
_TRAILING_V_RE = re.compile(r"\b(mfy|qfy|kfy|ofy|shfy)v\b")  # "MFYВ": a stray Cyrillic В
_NUMBERED_RE = re.compile(r"\b(mfy|qfy|shfy)(\d+)\b")  # "Madaniy-mexnat MFY1"
# Initials ("Sh.Rashidov", "Ш. Рашидов", "K.Kurgoncha", "A.Navoiy"): one capital (or a
# Latin digraph of one Cyrillic letter) with a dot, before a capitalised word. "G." stays
# the Russian "г." (город). In lower-case text only a dot glued to the next word counts.
_INITIAL_RE = re.compile(
    r"(?<![\w'~])([A-FH-Z]|Sh|Ch|Yu|Ya|Yo|Ts|O'|G'|SH|CH|YU|YA|YO|TS)(?:\.( ?)|,)(?=[A-Z])")
_INITIAL_LOWER_RE = re.compile(r"(?<![\w'~])([a-fh-z]|sh|ch|yu|ya|yo|ts|o'|g')[.,](?=[a-z])")
_HAS_LOWER_RE = re.compile("[a-z]")
#: "X tarkibidagi Y MFY": Y within X (X is the parent assembly, not the name).
_PARENT_WORDS = frozenset({"tarkibidagi", "tasarrufidagi"})
#: Marks an initial in prepared text and in keys ("sh~ rashidov"; key "sh.rashidov").
INITIAL_MARK = "~"

_QUOTES_RE = re.compile(r"[«»\"“”„‟‹›〈〉]")
_BRACKET_RE = re.compile(r"\(([^()]*)\)")
# apostrophe look-alikes -> "'", quotes -> " " (one str.translate)
_PREPARE_TABLE = str.maketrans({**dict.fromkeys(APOSTROPHES, "'"),
                                **dict.fromkeys("«»\"“”„‟‹›〈〉", " ")})
_PAREN_RE = re.compile(r"[()]")
_RN_RE = re.compile(r"\br-n\b")
_WORD_SPLIT_RE = re.compile(r"[^0-9a-z'~]+")
# Russian adjective endings, nominative and the common oblique cases ("в Денауском районе").
_RU_SUFFIX_RE = re.compile(
    r"(?<=[a-z]{3})(?:skiy|skij|skaya|skoye|skoe|sky|skogo|skomu|skom|skoy|skoj|skuyu|skiye|skie"
    r"|skikh|skix)$")
_DOUBLE_RE = re.compile(r"([a-z])\1+")  # letters only: "11-MFY" is not "1-MFY"
_MAX_FORMS = 8
_SKEL_SOFT_Y_RE = re.compile(r"(?<=[^aeiouy])y(?=[aeiou])")
_SKEL_TAIL_RE = re.compile(r"[aeiouy]+$")
_SKEL_VOWELS_RE = re.compile(r"[aeiou]+")


def _case_like(out: str, ch: str, prev: str, nxt: str) -> str:
    """Give the Latin output ``out`` of Cyrillic letter ``ch`` the case its context implies."""
    if not ch.isupper() or not out:
        return out
    if len(out) == 1 or not out[1].isalpha():
        return out.upper()
    # "Ш" in "ШАҲАР" -> "SH"; in "Шаҳар" -> "Sh"; a lone capital "Ш" -> "Sh".
    if nxt.isupper() or (not nxt.isalpha() and prev.isupper()):
        return out.upper()
    return out[0].upper() + out[1:]


def cyr_to_lat(text: str) -> str:
    """Transliterate Uzbek (and Russian) Cyrillic to the Uzbek Latin alphabet.

    Latin letters, digits and punctuation pass through unchanged, so mixed-script text is safe.
    Rules: ў -> o‘, ғ -> g‘, қ -> q, ҳ -> h, х -> x, ш/щ -> sh, ч -> ch, ж -> j, ц -> ts,
    ё -> yo, ю -> yu, я -> ya, й -> y, ы -> i, э -> e, ъ -> ’ (tutuq belgisi), ь is dropped,
    and е -> ye at the start of a word or after a vowel, ъ or ь (else e). Case follows the
    source: "Шаҳар" -> "Shahar", "ШАҲАР" -> "SHAHAR".

    Parameters
    ----------
    text
        Any text; None and NaN are returned as "".

    Returns
    -------
    str
        The transliterated text.

    Examples
    --------
    >>> cyr_to_lat("Қумқўрғон")
    'Qumqo‘rg‘on'
    >>> cyr_to_lat("Ер, Шаҳар")
    'Yer, Shahar'
    >>> cyr_to_lat("")
    ''
    """
    if not isinstance(text, str):
        return ""
    if not _ANY_CYR_RE.search(text):
        return text
    return _CONTEXT_RE.sub(_context_letter, text).translate(_CYR_TABLE)


def _context_letter(m: re.Match[str]) -> str:
    """Latin for a letter whose spelling depends on its neighbours (е -> e/ye; Ш -> Sh/SH)."""
    ch, i, text = m.group(0), m.start(), m.string
    prev = text[i - 1] if i else ""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    low = ch.lower()
    lat = _CYR[low]
    if low == "е" and (not prev.isalpha() or prev.lower() in _CYR_VOWELS
                       or prev.lower() in _CYR_SOFT):
        lat = "ye"
    return _case_like(lat, ch, prev, nxt)


def unify_apostrophes(text: str) -> str:
    """Replace every apostrophe look-alike (‘ ’ ʻ ʼ ` ´ ′ ...) with the ASCII apostrophe.

    Examples
    --------
    >>> unify_apostrophes("Do‘stlik Oʻzbekiston")
    "Do'stlik O'zbekiston"
    """
    return text.translate(_APOSTROPHE_TABLE)


@lru_cache(maxsize=200_000)
def prepare_text(text: str) -> str:
    """Return ``text`` as the gazetteer reads it: Latin, lower case, type words made canonical.

    Steps: Unicode NFC; Cyrillic transliterated (:func:`cyr_to_lat`); apostrophe look-alikes
    made "'"; quotes removed; assembly abbreviations written one way ("M.F.Y", "M F Y",
    "Q.F.Y", "k.FY", "Sh.FY", "ShchaFY" -> mfy, qfy, shfy; a type glued to the name,
    "SarbozorMFY" -> "sarbozor mfy"; "MFYВ" -> mfy; "MFY1" -> "1 mfy"); initials marked with
    :data:`INITIAL_MARK` ("Sh.Rashidov", "Ш. Рашидов", "k.kurgoncha" -> "sh~ rashidov", "k~
    kurgoncha", so that they are not read as "sh." = shahri or "k." = korpus); "р-н" read as
    "rayon"; lower case.

    An initial is one capital letter (or Sh, Ch, Yu, Ya, Yo, Ts, O‘, G‘: one Cyrillic letter)
    and a dot before a capitalised word, with at most one space between; in text without
    lower-case letters the dot must touch the word, and in lower-case text as well. A comma
    touching both ("Yu,Zarkaynar", a slip of the official list) counts as the dot. "G." is
    never an initial (it is the Russian "г." = город).

    Parameters
    ----------
    text
        Any text; None/NaN give "".

    Returns
    -------
    str
        The prepared text (words still separated as in ``text``).

    Examples
    --------
    >>> prepare_text("Sh.Rashidov tumani, Sarbozor M.F.Y")
    'sh~ rashidov tumani, sarbozor mfy'
    >>> prepare_text("Жиззах ш. ҚўрғончаМФЙ")
    "jizzax sh. qo'rg'oncha mfy"
    >>> prepare_text("")
    ''
    """
    if not isinstance(text, str):
        return ""
    s = text if text.isascii() else cyr_to_lat(unicodedata.normalize("NFC", text))
    s = s.translate(_PREPARE_TABLE)
    low = s.lower()
    typed = "f" in low and "y" in low  # the regexes below are skipped when they cannot match
    if typed:
        s = _GLUED_UPPER_RE.sub(_space_group1, s)
        s = _ABBR_RE.sub(lambda m: " " + _ABBR_CANON[m.group(1).lower()], s)
    dotted = "." in s or "," in s
    if dotted:
        mixed_case = bool(_HAS_LOWER_RE.search(s))
        s = _INITIAL_RE.sub(
            lambda m: m.group(0) if m.group(2) and not mixed_case else m.group(1) + "~ ", s)
    s = s.lower()
    if dotted:
        s = _INITIAL_LOWER_RE.sub(_initial_mark, s)
    if "r-n" in s:
        s = _RN_RE.sub(" rayon ", s)
    if typed:
        s = _GLUED_RE.sub(_space_group1, s)
        s = _TRAILING_V_RE.sub(_group1, s)
        s = _NUMBERED_RE.sub(_number_first, s)
    return s


# Replacements as functions: a template string ("\\1") costs more to expand than a call.
def _group1(m: re.Match[str]) -> str:
    return m.group(1)


def _space_group1(m: re.Match[str]) -> str:
    return " " + m.group(1)


def _initial_mark(m: re.Match[str]) -> str:
    return m.group(1) + "~ "


def _number_first(m: re.Match[str]) -> str:
    return m.group(2) + " " + m.group(1)


def _latin_words(text: str) -> list[str]:
    """Lower-case Latin words of ``text`` (see :func:`prepare_text`); initials end in "~"."""
    return [w.strip("'") for w in _WORD_SPLIT_RE.split(prepare_text(text)) if w.strip("'")]


def _join_key(words: list[str] | tuple[str, ...]) -> str:
    """Fold and join words into a key (doubled letters collapsed, initials as "x.")."""
    key = "".join([_fold(w) for w in words])
    if _DOUBLE_RE.search(key):  # (searching first is cheaper: most keys have none)
        key = _DOUBLE_RE.sub(_group1, key)
    return key.replace(INITIAL_MARK, ".") if INITIAL_MARK in key else key


@lru_cache(maxsize=200_000)
def _fold(word: str) -> str:
    """Phonetically fold one lower-case Latin word (see ``name_key``)."""
    w = _RU_SUFFIX_RE.sub("", word)
    w = w.replace("o'", "u").replace("g'", "g").replace("'", "")
    w = w.replace("dj", "j").replace("zh", "j").replace("ts", "s").replace("iy", "i")
    w = w.replace("sh", "\x01").replace("ch", "\x02")
    w = w.replace("x", "h").replace("q", "k").replace("o", "a").replace("w", "v")
    if w.endswith("h"):
        w = w[:-1] + "k"
    if w.endswith("au"):
        w = w[:-1] + "v"
    return w.replace("\x01", "sh").replace("\x02", "ch")


def _name_words(text: str) -> list[str]:
    """Lower-case Latin words of ``text`` without type words (all of them if only those)."""
    words = _latin_words(text)
    return [w for w in words if w not in NAME_TYPE_WORDS] or words


@lru_cache(maxsize=200_000)
def name_key(text: str) -> str:
    """Return a phonetic key under which spelling variants of one place name coincide.

    The key is meant for exact look-up (and as the string given to fuzzy matching) of mahalla,
    district and region names written in Uzbek Latin, Uzbek Cyrillic or Russian.

    Rules, in order:

    1. The text is read with :func:`prepare_text`: Unicode NFC; Cyrillic transliterated with
       :func:`cyr_to_lat`; all apostrophe look-alikes (‘ ’ ʻ ʼ ` ´) made "'"; quotes (« » " “
       ” „) removed; type abbreviations written one way (M.F.Y, "SarbozorMFY"); initials
       marked ("Sh.Rashidov"); "р-н" read as "rayon"; lower case.
    2. The text is split into words at anything that is not a letter, digit or apostrophe
       (spaces, hyphens, dots, commas).
    3. Type words are dropped wherever they occur: MFY, QFY, SHFY, ССГ, mahalla, mahallasi,
       махалля, махалла, маҳалла, max, fuqarolar yig‘ini, nomli, ovul, qishloq, shaharcha,
       shahri, sh., tumani, t., район, р-н, город, г., viloyati, область, ...
       (:data:`NAME_TYPE_WORDS`). If nothing else is left the words are kept.
    4. Russian adjective endings -skiy/-skaya/-skoye/-sky are cut when at least three letters
       remain ("Юнусабадский" -> "yunusabad").
    5. Each word is folded: o‘ -> u, g‘ -> g, other apostrophes dropped, dj/zh -> j, ts -> s,
       iy -> i (Navoiy = Навои), x -> h, q -> k, o -> a (Toshkent = Ташкент), w -> v, a
       word-final h -> k (Jizzax = Джизак) and a word-final au -> av (Denov = Денау); "sh"
       and "ch" are kept as units.
    6. The words are joined without spaces (Yangi Hayot = Yangihayot) and runs of one letter
       are collapsed to one (Jizzax = Jizax); digits are not ("11-MFY" is not "1-MFY"). An
       initial keeps a dot ("Sh.Rashidov" -> "sh.rashidav").

    Parameters
    ----------
    text
        A place name; None/NaN give "".

    Returns
    -------
    str
        The key (ASCII letters and digits; a dot after an initial).

    Examples
    --------
    >>> {name_key(s) for s in ["Дўстлик", "Дустлик", "Do‘stlik", "Do'stlik", "Dustlik", "DO`STLIK MFY"]}
    {'dustlik'}
    >>> name_key("г. Джизак") == name_key("Jizzax shahri") == name_key("Жиззах")
    True
    >>> name_key(None)
    ''
    """
    if not isinstance(text, str):
        return ""
    return _join_key(_name_words(text))


class MahallaKeys(NamedTuple):
    """The keys under which one mahalla name is looked up (see :func:`mahalla_keys`)."""

    full: str
    core: str
    strict: str
    kind: str | None
    variants: tuple[str, ...]
    note: str = ""
    loose: str = ""


def _word_keys(words: list[str]) -> tuple[str, str, str]:
    """(full, core, strict) of a name's words (assembly words dropped unless that is all)."""
    named = [w for w in words if w not in ASSEMBLY_WORDS] or words
    core = [w for w in named if w not in NAME_TYPE_WORDS] or named
    full = _join_key(named)
    return full, full if core == named else _join_key(core), " ".join(named)


class TokenKeys(NamedTuple):
    """Keys of a run of prepared words (see :func:`token_keys`)."""

    full: str
    core: str


@lru_cache(maxsize=200_000)
def token_keys(words: tuple[str, ...]) -> TokenKeys:
    """The full and core keys (as in :func:`mahalla_keys`) of prepared words.

    For words that already went through :func:`prepare_text` and were split there (the
    address parser's runs); cheaper than preparing their text again.

    Examples
    --------
    >>> token_keys(("yangi", "shaxar"))
    TokenKeys(full='yangishahar', core='yangi')
    >>> token_keys(())
    TokenKeys(full='', core='')
    """
    full, core, _ = _word_keys(list(words))
    return TokenKeys(full, core)


@lru_cache(maxsize=100_000)
def loose_key(words: tuple[str, ...]) -> str:
    """The loose key (as in :func:`mahalla_keys`) of prepared words.

    Examples
    --------
    >>> loose_key(("yangi", "shaxar")), loose_key(())
    ('anga', '')
    """
    return _loose_key(list(words)) if words else ""


def _loose_key(words: list[str]) -> str:
    """The core key without initials or one-letter words, every run of vowels made "a"."""
    named = [w for w in words if w not in NAME_TYPE_WORDS] or words
    kept = [w for w in named
            if not w.endswith(INITIAL_MARK) and (len(w) > 1 or w.isdigit())] or named
    return _SKEL_VOWELS_RE.sub("a", _join_key(kept).replace("y", ""))


@lru_cache(maxsize=200_000)
def mahalla_keys(name: str) -> MahallaKeys:
    """Return the keys of a mahalla name: full, core, strict, its kind and variant keys.

    The name is read with :func:`prepare_text`. A bracketed note ("Qizilnavr (Jamoatchi)
    MFY", "Olmos (S.Sultonova) MFY") and words after the assembly abbreviation ("Kurgontosh
    QFY chegara xudud") are not part of the name, and in "X ovul fuqarolar yig‘ini
    tarkibidagi "Y" MFY" (Y within X; also "tasarrufidagi") the name is Y.

    - ``full``: the folded words (as in :func:`name_key`) without assembly words (MFY, QFY,
      fuqarolar yig‘ini, mahalla, ...; :data:`ASSEMBLY_WORDS`) but with settlement and town
      words, which tell "Yangi shahar" from "Yangi qishloq".
    - ``core``: :func:`name_key` of the name: without any type word ("yangi").
    - ``strict``: the unfolded words without assembly words, apostrophes kept
      ("qo'rgoncha" vs "qo'rg'oncha"): tells apart names whose keys coincide.
    - ``kind``: "mfy", "qfy" (also KFY), "ofy" or "shfy" when an abbreviation says which kind
      of assembly it is, else None.
    - ``variants``: other keys the name may be written as: with every "o‘" written "o"
      (the apostrophe dropped: "Qo‘rg‘on" -> "Qorgon"), without initials ("Sh.Rashidov" ->
      "Rashidov") and with the bracketed note.
    - ``note``: the bracketed note, unfolded ("jamoatchi"), or "".
    - ``loose``: the core key without initials or one-letter words, "y" dropped and every
      run of vowels made "a": names that may be one name misspelt ("Bo‘kaylar" = "Bokaylar",
      "X Olimjon" = "X.Olimjon") share it.

    Parameters
    ----------
    name
        An official mahalla name (any script); None/NaN give empty keys.

    Returns
    -------
    MahallaKeys

    Examples
    --------
    >>> k = mahalla_keys("Yangi shaxar MFY")
    >>> k.full, k.core, k.kind
    ('yangishahar', 'yangi', 'mfy')
    >>> mahalla_keys("Qo`rg`oncha QFY").variants
    ('kargancha',)
    >>> mahalla_keys("Sh.Rashidov MFY")[:2], mahalla_keys("Sh.Rashidov MFY").variants
    (('sh.rashidav', 'sh.rashidav'), ('rashidav',))
    >>> mahalla_keys("Bo`kaylar MFY").loose == mahalla_keys("Bokaylar").loose
    True
    >>> mahalla_keys("")
    MahallaKeys(full='', core='', strict='', kind=None, variants=(), note='', loose='')
    """
    if not isinstance(name, str):
        return MahallaKeys("", "", "", None, (), "", "")
    text = prepare_text(name)
    notes = _BRACKET_RE.findall(text)
    main = _WORD_SPLIT_RE.split(_PAREN_RE.sub(" ", _BRACKET_RE.sub(" ", text)))
    words = [w.strip("'") for w in main if w.strip("'")]
    kind = next((ASSEMBLY_KIND[w] for w in words if w in ASSEMBLY_KIND), None)
    parents = [i for i, w in enumerate(words[:-1]) if w in _PARENT_WORDS]
    if parents:
        words = words[parents[-1] + 1:]
    note_words = [w.strip("'") for n in notes for w in _WORD_SPLIT_RE.split(n) if w.strip("'")]
    typed = [i for i, w in enumerate(words) if w in ASSEMBLY_KIND]
    if typed and 0 < typed[-1] < len(words) - 1:  # "Kurgontosh QFY chegara xudud": a note
        note_words = words[typed[-1] + 1:] + note_words
        words = words[:typed[-1] + 1]
    full, core, strict = _word_keys(words)
    variants: list[str] = []
    for other in ([w.replace("'", "") for w in words],
                  [w for w in words if not w.endswith(INITIAL_MARK)],
                  words + note_words if note_words else []):
        if other and other != words:
            variants += [k for k in _word_keys(other)[:2] if k]
    unique = tuple(dict.fromkeys(k for k in variants if k not in (full, core)))
    return MahallaKeys(full, core, strict, kind, unique, " ".join(note_words),
                       _loose_key(words) if words else "")


@lru_cache(maxsize=50_000)
def admin_forms(text: str) -> tuple[str, ...]:
    """Return the name keys a district, city or region name may stand for.

    The first is :func:`name_key` of ``text``. A Russian adjective in -инский/-ынский/-инская
    is built on a stem that may or may not keep its "-ин-" (Кукдалинский = Ko‘kdala,
    Каршинский = Qarshi, Сурхандарьинская = Surxondaryo, but Зааминский = Zomin), so for each
    such word a second key without the "in" follows; likewise a stem in a vowel and "н" may
    have gained the "н" (Пешкунский = Peshku, but Ромитанский = Romitan). At most eight
    keys in all.

    Parameters
    ----------
    text
        A district/city/region name, with or without type words; None/NaN give ().

    Returns
    -------
    tuple of str
        Distinct keys, :func:`name_key` first; empty for empty text.

    Examples
    --------
    >>> admin_forms("Кукдалинский район")
    ('kukdalin', 'kukdal')
    >>> admin_forms("г. Термез")
    ('termez',)
    >>> admin_forms("")
    ()
    """
    if not isinstance(text, str):
        return ()
    options: list[list[str]] = []
    for word in _name_words(text):
        opts = [_fold(word)]
        if word.endswith(INITIAL_MARK):
            opts.append("")  # "Sh.Rashidov" is also written "Rashidov"
        cut = _RU_SUFFIX_RE.search(word)
        stem = word[:cut.start()] if cut is not None else ""
        if len(stem) >= 5 and stem.endswith("in"):
            opts.append(_fold(stem[:-2]))
        elif len(stem) >= 5 and stem[-1] == "n" and stem[-2] in "aeou":
            opts.append(_fold(stem[:-1]))  # Пешкунский = Peshku
        options.append(opts)
    out: list[str] = []
    for combo in itertools.islice(itertools.product(*options), _MAX_FORMS):
        key = _DOUBLE_RE.sub(_group1, "".join(combo)).replace(INITIAL_MARK, ".")
        if key and key not in out:
            out.append(key)
    return tuple(out)


@lru_cache(maxsize=50_000)
def admin_skeleton(key: str) -> str:
    """Reduce a name key to the consonant skeleton shared by its Russian and Uzbek spellings.

    Meant for district, city and region names only (few candidates, compared within a
    region): Russian spelling changes the vowels of Uzbek names (Термез = Termiz, Мубарек =
    Muborak, Хорезм = Xorazm, Фергана = Farg‘ona), drops or adds a final vowel (Бухара =
    Buxoro, Карши(н-) = Qarshi, Сурхандарь(ин-) = Surxondaryo) and softens consonants with я
    (Галляарал = G‘allaorol); a final -bot/-bad alternates too (Музрабад = Muzrabot), and
    so does a voiced "sg" (Избаскан = Izbosgan).

    Rules, applied to a :func:`name_key`: a "y" between a consonant and a vowel is dropped;
    "sg" is read "sk"; the final run of vowels (and "y") is cut when at least three letters
    remain; a final "d" becomes "t"; every run of vowels becomes "a"; doubled letters
    collapse.

    Parameters
    ----------
    key
        A key from :func:`name_key` or :func:`admin_forms`.

    Returns
    -------
    str
        The skeleton ("" for "").

    Examples
    --------
    >>> admin_skeleton(name_key("Termiz")) == admin_skeleton(name_key("Термез"))
    True
    >>> admin_skeleton("surhandarya"), admin_skeleton("surhandar")
    ('sarhandar', 'sarhandar')
    >>> admin_skeleton("")
    ''
    """
    s = _SKEL_SOFT_Y_RE.sub("", key).replace("sg", "sk")
    cut = _SKEL_TAIL_RE.sub("", s)
    s = cut if len(cut) >= 3 else s
    if s.endswith("d"):
        s = s[:-1] + "t"
    return _DOUBLE_RE.sub(_group1, _SKEL_VOWELS_RE.sub("a", s))


def name_keys(values: pd.Series) -> pd.Series:
    """Apply :func:`name_key` to a Series, computing each distinct value once.

    Parameters
    ----------
    values
        Names (any dtype; missing values give "").

    Returns
    -------
    pd.Series
        String keys, same index as ``values``.

    Examples
    --------
    >>> name_keys(pd.Series(["Дўстлик", None, "Dustlik"])).tolist()
    ['dustlik', '', 'dustlik']
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    keys = [name_key(u) if isinstance(u, str) else "" for u in uniques] + [""]
    arr = pd.array(keys, dtype=object).to_numpy()
    return pd.Series(arr[codes], index=values.index, dtype="str", name=values.name)
