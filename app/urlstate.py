"""URL query state shared by the pages: lenient parsing of query values and the query string."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any
from urllib.parse import urlencode

from riskmap.geo.focus import FOCUS_GROUPS

__all__ = ["encode_params", "parse_date", "parse_focus", "parse_list", "parse_text",
           "parse_window", "search_string"]


def parse_date(value: Any) -> date | None:
    """An ISO day (extra characters after ``YYYY-MM-DD`` ignored), ``None`` when bad or empty.

    Examples
    --------
    >>> parse_date("2025-03-01T00:00:00")
    datetime.date(2025, 3, 1)
    >>> parse_date("2025-13-01") is None and parse_date(None) is None and parse_date("") is None
    True
    """
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def parse_list(value: Any) -> tuple[str, ...]:
    """Comma-separated text or a sequence as a tuple of distinct non-blank items, in order.

    Examples
    --------
    >>> parse_list("theft, assault,,theft")
    ('theft', 'assault')
    >>> parse_list(None)
    ()
    """
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))


def parse_focus(params: Mapping[str, Any], key: str = "focus") -> str | None:
    """The focus group of ``params`` (one of :data:`riskmap.geo.focus.FOCUS_GROUPS`), ``None``
    when missing or unknown.

    Examples
    --------
    >>> parse_focus({"focus": "women"}), parse_focus({"focus": "aliens"}), parse_focus({})
    ('women', None, None)
    """
    value = params.get(key)
    return value if isinstance(value, str) and value in FOCUS_GROUPS else None


def parse_text(params: Mapping[str, Any], key: str) -> str | None:
    """``params[key]`` as text, ``None`` when missing or empty."""
    value = params.get(key)
    return str(value) if value else None


def parse_window(params: Mapping[str, Any]) -> tuple[date | None, date | None]:
    """The ``start``/``end`` days of ``params`` (swapped when reversed, ``None`` when bad).

    Examples
    --------
    >>> parse_window({"start": "2025-03-01", "end": "2025-01-31"})
    (datetime.date(2025, 1, 31), datetime.date(2025, 3, 1))
    """
    start, end = parse_date(params.get("start")), parse_date(params.get("end"))
    if start is not None and end is not None and start > end:
        start, end = end, start
    return start, end


def encode_params(pairs: Iterable[tuple[str, Any]]) -> dict[str, str]:
    """URL parameters of ``(key, value)`` pairs, in order, leaving out empty values.

    ``None``, ``""``, ``False`` and empty tuples are left out; days are ISO, tuples and lists
    comma-joined, ``True`` is ``"1"``.

    Examples
    --------
    >>> encode_params([("level", None), ("start", date(2025, 1, 2)), ("categories", ("a", "b")),
    ...                ("precise", True), ("region", "")])
    {'start': '2025-01-02', 'categories': 'a,b', 'precise': '1'}
    """
    out: dict[str, str] = {}
    for key, value in pairs:
        if value is None or value is False or value == "" or value == ():
            continue
        if value is True:
            out[key] = "1"
        elif isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, tuple | list):
            if value:
                out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


def search_string(params: Mapping[str, str]) -> str:
    """The URL query string of ``params`` (``"?a=1&b=x,y"``; ``""`` when there are none).

    Examples
    --------
    >>> search_string({"level": "h3_8", "categories": "theft,assault"})
    '?level=h3_8&categories=theft,assault'
    >>> search_string({})
    ''
    """
    return "?" + urlencode(params, safe=",") if params else ""
