"""The mahalla status's reason ("why") in the reader's language.

The store keeps the reason as ``geo/status.py`` writes it: one stable English text per row
(``red: 7 incidents in 12 months, 3.5 per 1,000 (top 10%: >= 2.9); Gi* z=2.4 hot 95%``), the
same in the embedded store and PostGIS, old rows and new (nothing migrated). Where it is shown
(the red list's tooltips, the map's hover, the brief, the review pack) :func:`render_why` reads
its figures back (:func:`riskmap.geo.status.why_parts`) and writes them out again in the
current language with the locale's numbers. A text of another form is shown as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from riskmap.i18n import N_, current_language, format_decimal, format_number, gettext, ngettext
from riskmap.i18n.names import display_name

__all__ = ["render_why"]

_GREEN = N_("{status}: no recorded crime in {months} months")
_FULL = N_("{status}: {incidents} in {months} months, {rate}; Gi* z={z} {gi_class}")
_RATE = N_("{rate} per 1,000")
_RATE_TOP = N_("{rate} per 1,000 (top {top}%: ≥ {threshold})")
_NO_RATE = N_("rate n/a (population unknown)")


def _num(value: float, lang: str) -> str:
    return format_decimal(float(value), 1, lang) if np.isfinite(value) else gettext("n/a", lang)


def render_why(why: Iterable[object]) -> list[str]:
    """Each stored reason in the current language (``None`` in, ``""`` out; no language set:
    the stored texts as they are, like every source text).

    Examples
    --------
    >>> from riskmap.i18n import use_language
    >>> stored = ["red: 7 incidents in 12 months, 1234.5 per 1,000 (top 10%: >= 2.9); "
    ...           "Gi* z=2.4 hot 95%", "green: no recorded crime in 12 months", "other"]
    >>> render_why(stored)[1:]
    ['green: no recorded crime in 12 months', 'other']
    >>> with use_language("en"):
    ...     render_why(stored)[1]
    'Green: no recorded crime in 12 months'
    >>> with use_language("ru"):
    ...     print(render_why(stored)[0].replace("\xa0", " "))  # Babel groups with a NBSP
    Красный: 7 происшествий за 12 мес., 1 234,5 на 1 000 жителей (верхние 10%: ≥ 2,9); Gi* z=2,4 горячая точка 95%
    """
    texts = ["" if w is None or (isinstance(w, float) and np.isnan(w)) else str(w) for w in why]
    lang = current_language()
    if lang is None:
        return texts
    # the same reasons come back on every redraw (one per mahalla and month): each is
    # rendered once per language (Babel's number formatting is slow: ~40 ms a map otherwise)
    cache = _RENDERED.setdefault(lang, {})
    missing = list(dict.fromkeys(t for t in texts if t not in cache))
    if missing:
        if len(cache) + len(missing) > _CACHE_SIZE:
            cache.clear()
        cache.update(zip(missing, _render(missing), strict=True))
    return [cache[t] for t in texts]


#: rendered reasons per language (bounded: cleared when full)
_RENDERED: dict[str, dict[str, str]] = {}
_CACHE_SIZE = 100_000


def _render(texts: list[str]) -> list[str]:
    from riskmap.geo.status import why_parts

    lang = current_language()
    parts = why_parts(texts)
    # the templates, statuses, classes and counts repeat from row to row: each is put into
    # words once (a map renders a thousand reasons when its window moves)
    said: dict[object, str] = {}

    def once(key: object, make: Callable[[], str]) -> str:
        got = said.get(key)
        if got is None:
            got = said[key] = make()
        return got

    out: list[str] = []
    for text, row in zip(texts, parts.itertuples(index=False), strict=True):
        if not row.parsed:
            out.append(text)
            continue
        status = once(("status", row.status), lambda r=row: display_name(r.status))
        months = int(row.months)
        if row.status == "green" and not np.isfinite(row.count):
            out.append(once(_GREEN, lambda: gettext(_GREEN, lang)).format(
                status=status, months=months))
            continue
        if not np.isfinite(row.rate):
            rate = once(_NO_RATE, lambda: gettext(_NO_RATE, lang))
        elif np.isfinite(row.top):
            rate = once(_RATE_TOP, lambda: gettext(_RATE_TOP, lang)).format(
                rate=_num(row.rate, lang), top=f"{row.top:g}",
                threshold=_num(row.threshold, lang))
        else:
            rate = once(_RATE, lambda: gettext(_RATE, lang)).format(rate=_num(row.rate, lang))
        n = int(row.count)
        gi = once(("gi", row.gi_class), lambda r=row: display_name(r.gi_class))
        incidents = once(("n", n), lambda n=n: ngettext(
            "{n} incident", "{n} incidents", n, lang).format(n=format_number(n, lang)))
        out.append(once(_FULL, lambda: gettext(_FULL, lang)).format(
            status=status, incidents=incidents, months=months, rate=rate,
            z=_num(row.z, lang), gi_class=gi[:1].lower() + gi[1:]))
    return out
