"""Texts in the reader's language: gettext catalogues read with Babel, locale number and date formats.

The catalogues are plain ``.po`` files under ``riskmap/i18n/locale/<lang>/LC_MESSAGES/
riskmap.po`` (package data; no compiled ``.mo``), read once per process with
:func:`babel.messages.pofile.read_po`. Languages: :data:`LANGUAGES`, Uzbek Latin first (the
default). Source texts are English; ``en`` has its own catalogue so that every language is
checked the same way (``tests/test_i18n.py``).

Which language a text takes:

1. the language set with :func:`use_language` (the CLI, reports, tests);
2. else the language a registered resolver finds (the app: ``?lang=``, the user's profile,
   ``Accept-Language``; see ``app/language.py``);
3. else none: the English source text (library calls outside the app keep their texts).

Mark texts with :func:`gettext` (``_``) where they are shown and :func:`N_` where they are
defined at import time (translated later, when shown). ``scripts/i18n`` extracts the marked
texts (``pybabel extract``) and updates the catalogues.
"""

from __future__ import annotations

import functools
import gettext as _stdlib_gettext
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from babel import Locale, dates, numbers
from babel.messages.pofile import read_po

__all__ = [
    "DEFAULT",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LOCALE_DIR",
    "MISSING",
    "N_",
    "best_match",
    "catalogue",
    "current_language",
    "format_date",
    "format_decimal",
    "format_decimals",
    "format_number",
    "format_percent",
    "gettext",
    "human_date",
    "lazy",
    "month_name",
    "ngettext",
    "normalize",
    "register_resolver",
    "translate",
    "use_language",
]

#: the languages of the app, the default first
LANGUAGES: tuple[str, ...] = ("uz_Latn", "uz_Cyrl", "ru", "en")
DEFAULT = "uz_Latn"
#: each language's name in itself (the language switch)
LANGUAGE_NAMES = {"uz_Latn": "Oʻzbekcha", "uz_Cyrl": "Ўзбекча", "ru": "Русский",
                  "en": "English"}
LOCALE_DIR = Path(__file__).with_name("locale")
DOMAIN = "riskmap"

_LANG: ContextVar[str | None] = ContextVar("riskmap_language", default=None)
_RESOLVERS: list[Callable[[], str | None]] = []


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (translate it where shown)."""
    return message


def normalize(value: object) -> str | None:
    """The language code of ``value`` (``"ru"``, ``"uz-Cyrl"``, ``"uz_latn"``), ``None`` if
    it is not one of :data:`LANGUAGES`.

    Examples
    --------
    >>> normalize("uz-cyrl"), normalize("RU"), normalize("uz"), normalize("de")
    ('uz_Cyrl', 'ru', 'uz_Latn', None)
    """
    if not isinstance(value, str) or not value or len(value) > 16:
        return None
    key = value.strip().replace("-", "_").lower()
    for lang in LANGUAGES:
        if key == lang.lower():
            return lang
    return {"uz": "uz_Latn", "oz": "uz_Latn", "en_us": "en", "en_gb": "en",
            "ru_ru": "ru", "uz_uz": "uz_Latn"}.get(key)


def best_match(accept_language: str | None) -> str | None:
    """The first of :data:`LANGUAGES` an ``Accept-Language`` header asks for (by weight).

    Examples
    --------
    >>> best_match("de-DE,ru;q=0.8,en;q=0.5")
    'ru'
    >>> best_match("uz-Cyrl-UZ") , best_match("fr") , best_match(None)
    ('uz_Cyrl', None, None)
    """
    if not accept_language:
        return None
    offers: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        offers.append((-weight, i, tag.strip()))
    for _, _, tag in sorted(offers):
        bits = tag.replace("_", "-").split("-")
        candidates = ["_".join(bits[:2]), bits[0]]
        if bits[0].lower() == "uz" and any(b.lower() == "cyrl" for b in bits):
            candidates.insert(0, "uz_Cyrl")
        for cand in candidates:
            lang = normalize(cand)
            if lang is not None:
                return lang
    return None


def register_resolver(resolver: Callable[[], str | None]) -> None:
    """Let ``resolver()`` name the language when none is set (the app: the request's)."""
    if resolver not in _RESOLVERS:
        _RESOLVERS.append(resolver)


def current_language() -> str | None:
    """The language texts take now (``None``: the English source texts)."""
    lang = _LANG.get()
    if lang is not None:
        return lang
    for resolver in _RESOLVERS:
        found = resolver()
        if found is not None:
            return found
    return None


@contextmanager
def use_language(lang: str | None) -> Iterator[str | None]:
    """Translate into ``lang`` (a code or alias; ``None`` or unknown: the default) inside."""
    chosen = normalize(lang) or DEFAULT
    token = _LANG.set(chosen)
    try:
        yield chosen
    finally:
        _LANG.reset(token)


@functools.cache
def catalogue(lang: str) -> tuple[dict[object, object], Callable[[int], int]]:
    """The messages of ``lang`` (msgid -> msgstr; plural ids are tuples) and its plural rule.

    Untranslated (empty) entries are left out, so they fall back to the source text.
    """
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as fh:
        cat = read_po(fh, locale=None, domain=DOMAIN)
    messages: dict[object, object] = {}
    for message in cat:
        if not message.id or message.fuzzy:
            continue
        if isinstance(message.id, tuple | list):
            forms = tuple(message.string)
            if all(forms):
                messages[tuple(message.id)] = forms
        elif message.string:
            messages[message.id] = message.string
    plural = _stdlib_gettext.c2py(cat.plural_expr or "(n != 1)")
    return messages, plural


def gettext(message: str, lang: str | None = None) -> str:
    """``message`` in ``lang`` (default: :func:`current_language`); the source if untranslated."""
    lang = lang or current_language()
    if lang is None or not message:
        return message
    found = catalogue(lang)[0].get(message)
    return found if isinstance(found, str) else message


_ = gettext


def lazy(message: str) -> Callable[..., str]:
    """A function giving ``message`` in the language current when it is called: for texts
    fixed at start-up but read per request (a page's browser tab title, which Dash calls
    with the page's path variables). Mark ``message`` with :func:`N_`.

    Examples
    --------
    >>> title = lazy("Region")
    >>> with use_language("ru"):
    ...     title()
    'Область'
    """
    def text(**_path_variables: object) -> str:
        return gettext(message)

    return text


def translate(message: str, lang: str | None = None) -> str:
    """:func:`gettext` of a text held in a variable (a name ``pybabel extract`` ignores; the
    text itself is marked with :func:`N_` where it is written)."""
    return gettext(message, lang)


def ngettext(singular: str, plural: str, n: int, lang: str | None = None) -> str:
    """The form of ``singular``/``plural`` for ``n`` items in ``lang``."""
    lang = lang or current_language()
    if lang is not None:
        messages, rule = catalogue(lang)
        forms = messages.get((singular, plural))
        if isinstance(forms, tuple):
            index = rule(int(n))
            return str(forms[min(index, len(forms) - 1)])
    return singular if n == 1 else plural


def _locale(lang: str | None) -> Locale:
    return _parsed_locale(lang or current_language() or "en")


@functools.lru_cache(maxsize=32)
def _parsed_locale(name: str) -> Locale:
    return Locale.parse(name)


#: what a number that is not there (None, NaN, infinite) is shown as
MISSING = "–"


def _missing(value: Any) -> bool:
    try:
        return value is None or not np.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def format_number(value: float | int, lang: str | None = None) -> str:
    """An integer count with the locale's grouping (``12 345`` in Uzbek and Russian);
    :data:`MISSING` for a value that is not a number.

    >>> format_number(12345, "ru").replace("\\xa0", " "), format_number(float("nan"))
    ('12 345', '–')
    """
    if _missing(value):
        return MISSING
    return numbers.format_decimal(value, format="#,##0", locale=_locale(lang))


def format_decimal(value: float, digits: int = 1, lang: str | None = None) -> str:
    """A number with ``digits`` decimals in the locale's symbols (``3,5`` in Russian); a
    number that rounds to zero is ``0.0``, not ``-0.0``; :data:`MISSING` for NaN or None
    (Babel would write ``NaN.0``).

    >>> format_decimal(-0.04, 1, "ru"), format_decimal(0.0, 1, "ru"), format_decimal(2.25, 1)
    ('0,0', '0,0', '2.2')
    >>> format_decimal(float("nan")), format_decimal(None, 2, "uz_Latn")
    ('–', '–')
    """
    if _missing(value):
        return MISSING
    return _formatted_decimal(_rounded(value, digits), digits, lang or current_language() or "en")


def _rounded(value: Any, digits: int) -> Any:
    # rounded here, once, as format_decimals does (half to even), and -0.0 made 0.0: the
    # cache below is keyed by the value, and -0.0 == 0.0 (one would be shown for the other)
    return np.round(value, digits) + 0.0


@functools.lru_cache(maxsize=65_536)
def _formatted_decimal(value: float, digits: int, lang: str) -> str:
    # remembered: a map draws the same mahallas' rates request after request, and Babel
    # takes ~80 us a number (a tenth of a map's time went to it)
    pattern = "#,##0." + "0" * digits if digits > 0 else "#,##0"
    return numbers.format_decimal(value, format=pattern, locale=_locale(lang))


def format_decimals(values: Any, digits: int = 1, lang: str | None = None,
                    missing: str = MISSING) -> np.ndarray:
    """:func:`format_decimal` of each value (an object array; ``missing`` where a value is
    not finite), each distinct rounded value formatted once: a map's tooltips format
    thousands of numbers that take a few dozen distinct values.

    >>> format_decimals([1.04, 1.0, float("nan"), 2.25], 1, "ru").tolist()
    ['1,0', '1,0', '–', '2,2']
    """
    x = np.asarray(values, dtype=float).reshape(-1)
    out = np.full(len(x), missing, dtype=object)
    ok = np.isfinite(x)
    if ok.any():
        uniq, inverse = np.unique(_rounded(x[ok], digits), return_inverse=True)
        chosen = lang or current_language() or "en"
        texts = np.array([_formatted_decimal(float(v), digits, chosen) for v in uniq.tolist()],
                         dtype=object)
        out[ok] = texts[inverse.reshape(-1)]
    return out


def format_percent(value: float, digits: int = 0, lang: str | None = None) -> str:
    """A share (0..1) as a percentage in the locale's format; :data:`MISSING` for NaN."""
    if _missing(value):
        return MISSING
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
    return numbers.format_percent(value, format=pattern, locale=_locale(lang))


def format_date(value: date | datetime, style: str = "medium", lang: str | None = None) -> str:
    """A day in the locale's format (``style``: short, medium, long)."""
    if isinstance(value, datetime):
        value = value.date()
    return dates.format_date(value, format=style, locale=_locale(lang))


#: the long date in Uzbek as it is written ("2025-yil 3-mart"; CLDR's is "3-mart, 2025")
_HUMAN_DATE = {"uz_Latn": "y-'yil' d-MMMM", "uz_Cyrl": "y-'йил' d-MMMM"}


def human_date(value: date | datetime | str | None, lang: str | None = None) -> str:
    """A day as people write it: ``2025-yil 3-mart``, ``3 марта 2025 г.``, ``March 3, 2025``.

    ``value`` may be an ISO text (``"2025-03-03"``, a time stamp); ``None`` or an unreadable
    text comes back as text (``""`` for ``None``).

    Examples
    --------
    >>> human_date("2025-03-03", "uz_Latn"), human_date("2025-03-03", "ru")
    ('2025-yil 3-mart', '3 марта 2025\u202fг.')
    >>> human_date(date(2025, 3, 3), "en"), human_date("soon", "ru")
    ('March 3, 2025', 'soon')
    """
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip()[:10]).date()
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = value.date()
    loc = _locale(lang)
    pattern = _HUMAN_DATE.get(str(lang or current_language()), "long")
    return dates.format_date(value, format=pattern, locale=loc)


def month_name(month: int, lang: str | None = None, *, width: str = "wide") -> str:
    """The stand-alone name of ``month`` (1-12), first letter capitalised."""
    name = _locale(lang).months["stand-alone"][width][month]
    return name[:1].upper() + name[1:]
