"""Uzbek/Russian Cyrillic to Uzbek Latin transliteration and phonetic matching keys for place names."""

from __future__ import annotations

import itertools
import re
import unicodedata
from functools import lru_cache

import pandas as pd

__all__ = [
    "APOSTROPHES",
    "NAME_TYPE_WORDS",
    "admin_forms",
    "admin_skeleton",
    "cyr_to_lat",
    "name_key",
    "name_keys",
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

# Words that name the *type* of a place rather than the place: removed by ``name_key`` wherever
# they occur. Spelled as they look after ``cyr_to_lat``, lower-cased, apostrophes as "'".
NAME_TYPE_WORDS: frozenset[str] = frozenset(
    {
        # mahalla / village citizens' assemblies
        "mfy", "qfy", "kfy", "ssg", "mfi", "msg", "mahalla", "mahallasi", "mahallya", "maxalla",
        "maxallya", "maxallasi", "mahalli", "maxalli", "fuqarolar", "fuqarolari", "yig'ini",
        "yigini", "yiyini", "ovul", "ovuli", "qishloq", "qishlog'i", "qishlogi", "kishlak",
        "aul", "posyolok", "poselok", "shaharcha", "shaharchasi",
        # districts and cities
        "shahri", "shahar", "shaxri", "shaxar", "sh", "tumani", "tuman", "t", "rayon", "rayoni",
        "rayona", "rayone", "rayonu", "gorod", "goroda", "gorode", "g", "gor",
        # regions
        "viloyati", "viloyat", "vil", "oblast", "oblasti", "obl", "respublikasi", "respublika",
        "resp",
    }
)

_QUOTES_RE = re.compile(r"[«»\"“”„‟‹›〈〉]")
_RN_RE = re.compile(r"\br-n\b")
_WORD_SPLIT_RE = re.compile(r"[^0-9a-z']+")
# Russian adjective endings, nominative and the common oblique cases ("в Денауском районе").
_RU_SUFFIX_RE = re.compile(
    r"(?<=[a-z]{3})(?:skiy|skij|skaya|skoye|skoe|sky|skogo|skomu|skom|skoy|skoj|skuyu|skiye|skie"
    r"|skikh|skix)$")
_DOUBLE_RE = re.compile(r"(.)\1+")
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


def _latin_words(text: str) -> list[str]:
    """Lower-case Latin words of ``text`` (transliterated, apostrophes unified, quotes removed)."""
    s = unicodedata.normalize("NFC", text)
    s = unify_apostrophes(cyr_to_lat(s)).lower()
    s = _QUOTES_RE.sub(" ", s)
    s = _RN_RE.sub(" rayon ", s)
    return [w.strip("'") for w in _WORD_SPLIT_RE.split(s) if w.strip("'")]


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

    1. Unicode NFC; Cyrillic transliterated with :func:`cyr_to_lat`; lower case; all apostrophe
       look-alikes (‘ ’ ʻ ʼ ` ´) made "'"; quotes (« » " “ ” „) removed; "р-н" read as "rayon".
    2. The text is split into words at anything that is not a letter, digit or apostrophe
       (spaces, hyphens, dots, commas).
    3. Type words are dropped wherever they occur: MFY, QFY, ССГ, mahalla, mahallasi, махалля,
       махалла, маҳалла, fuqarolar yig‘ini, ovul, qishloq, shahri, sh., tumani, t., район, р-н,
       город, г., viloyati, область, ... (:data:`NAME_TYPE_WORDS`). If nothing else is left the
       words are kept.
    4. Russian adjective endings -skiy/-skaya/-skoye/-sky are cut when at least three letters
       remain ("Юнусабадский" -> "yunusabad").
    5. Each word is folded: o‘ -> u, g‘ -> g, other apostrophes dropped, dj/zh -> j, ts -> s,
       iy -> i (Navoiy = Навои), x -> h, q -> k, o -> a (Toshkent = Ташкент), w -> v, a
       word-final h -> k (Jizzax = Джизак) and a word-final au -> av (Denov = Денау); "sh"
       and "ch" are kept as units.
    6. The words are joined without spaces (Yangi Hayot = Yangihayot) and runs of one letter
       are collapsed to one (Jizzax = Jizax).

    Parameters
    ----------
    text
        A place name; None/NaN give "".

    Returns
    -------
    str
        The key (ASCII letters and digits only).

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
    return _DOUBLE_RE.sub(r"\1", "".join(_fold(w) for w in _name_words(text)))


@lru_cache(maxsize=50_000)
def admin_forms(text: str) -> tuple[str, ...]:
    """Return the name keys a district, city or region name may stand for.

    The first is :func:`name_key` of ``text``. A Russian adjective in -инский/-ынский/-инская
    is built on a stem that may or may not keep its "-ин-" (Кукдалинский = Ko‘kdala,
    Каршинский = Qarshi, Сурхандарьинская = Surxondaryo, but Зааминский = Zomin), so for each
    such word a second key without the "in" follows (at most eight keys in all).

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
        cut = _RU_SUFFIX_RE.search(word)
        if cut is not None and cut.start() >= 5 and word[:cut.start()].endswith("in"):
            opts.append(_fold(word[:cut.start() - 2]))
        options.append(opts)
    out: list[str] = []
    for combo in itertools.islice(itertools.product(*options), _MAX_FORMS):
        key = _DOUBLE_RE.sub(r"\1", "".join(combo))
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
    (Галляарал = G‘allaorol); a final -bot/-bad alternates too (Музрабад = Muzrabot).

    Rules, applied to a :func:`name_key`: a "y" between a consonant and a vowel is dropped;
    the final run of vowels (and "y") is cut when at least three letters remain; a final "d"
    becomes "t"; every run of vowels becomes "a"; doubled letters collapse.

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
    s = _SKEL_SOFT_Y_RE.sub("", key)
    cut = _SKEL_TAIL_RE.sub("", s)
    s = cut if len(cut) >= 3 else s
    if s.endswith("d"):
        s = s[:-1] + "t"
    return _DOUBLE_RE.sub(r"\1", _SKEL_VOWELS_RE.sub("a", s))


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
