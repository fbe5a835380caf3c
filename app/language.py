"""The app's language per request: ``?lang=``, else the user's profile, else the browser's.

A page load carries the language in its URL (``?lang=ru``; the pages' address-bar writer keeps
it); a callback request is answered in the language of the page it comes from (its
``Referer``, which ``Referrer-Policy: same-origin`` keeps). Without one the language the user
chose last (``users.language``) applies, then the browser's ``Accept-Language``, then Uzbek
Latin. The header's switch reloads the page with ``?lang=`` and keeps the choice in the
profile. The date pickers' month and day names come from Babel's CLDR data
(:func:`datefns_locales_js`, served as a script: Dash's date picker reads
``window.dateFns.locale``).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import dash
import flask
from dash import Input, Output, State, dcc, html
from flask import Response, request

from riskmap import i18n
from riskmap.app import ids
from riskmap.app.security import bad_input_guard

__all__ = ["DATEFNS_PATH", "datefns_locales_js", "install_language", "language_switch",
           "request_language", "with_language"]

#: the script giving the date pickers their month and day names
DATEFNS_PATH = "/_riskmap/datefns-locales.js"
_STORE_KEY = "riskmap_language_store"
#: the profile's language is read at most this often per worker and user
_CACHE_S = 5.0
_cache: dict[str, tuple[float, str | None]] = {}
_cache_lock = threading.Lock()


def _from_query(query: str) -> str | None:
    for key, value in parse_qsl(query, keep_blank_values=False):
        if key == "lang":
            return i18n.normalize(value)
    return None


def _profile_language(username: str) -> str | None:
    store = flask.current_app.extensions.get(_STORE_KEY)
    if store is None:
        return None
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(username)
    if hit is not None and now - hit[0] < _CACHE_S:
        return hit[1]
    from riskmap.auth.accounts import user_language

    lang = i18n.normalize(user_language(store, username))
    with _cache_lock:
        if len(_cache) > 4096:
            _cache.clear()
        _cache[username] = (now, lang)
    return lang


def _resolve() -> str:
    lang = i18n.normalize(request.args.get("lang"))
    if lang is None and request.path.startswith("/_"):  # Dash's requests: the page's URL
        lang = _from_query(urlsplit(request.headers.get("Referer", "")).query)
    if lang is None:
        principal = flask.g.get("riskmap_principal")
        if principal is not None:
            lang = _profile_language(principal.username)
    if lang is None:
        lang = i18n.best_match(request.headers.get("Accept-Language"))
    return lang or i18n.DEFAULT


def request_language() -> str | None:
    """The language of the current request (``None`` outside a request)."""
    if not flask.has_request_context():
        return None
    lang = flask.g.get("riskmap_language")
    if lang is None:
        lang = _resolve()
        flask.g.riskmap_language = lang
    return lang


def with_language(search: str | None, lang: str) -> str:
    """The query string ``search`` with ``lang=<lang>`` (replacing any other).

    Examples
    --------
    >>> with_language("?region=Toshkent&lang=en", "ru")
    '?region=Toshkent&lang=ru'
    >>> with_language("", "uz_Cyrl")
    '?lang=uz_Cyrl'
    """
    pairs = [(k, v) for k, v in parse_qsl((search or "").lstrip("?")) if k != "lang"]
    return "?" + urlencode([*pairs, ("lang", lang)], safe=",")


def language_switch(lang: str) -> html.Div:
    """The header's language switch (a reload of the page in the chosen language)."""
    return html.Div([
        dcc.Dropdown(id=ids.LANGUAGE, value=lang, clearable=False, searchable=False,
                     options=[{"label": name, "value": code}
                              for code, name in i18n.LANGUAGE_NAMES.items()],
                     style={"minWidth": "9rem"}),
        dcc.Location(id=ids.LANGUAGE_URL, refresh=True),
        html.Span(id=ids.LANGUAGE_MARK, hidden=True, **{"data-lang": lang}),
    ], className="language-switch", title=i18n.gettext("Language"))


def _weekdays(locale: Any, width: str) -> list[str]:
    names = locale.days["format"][width]
    return [names[(i + 6) % 7] for i in range(7)]  # date-fns counts from Sunday, CLDR Monday


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def datefns_locales_js() -> str:
    """A script setting ``window.dateFns.locale`` to the page's language (``data-lang`` of
    the header's mark), with month and day names from CLDR (Babel)."""
    from babel import Locale

    data = {}
    for lang in i18n.LANGUAGES:
        loc = Locale.parse(lang)
        months = {w: [_capital(loc.months["stand-alone"][w][m]) for m in range(1, 13)]
                  for w in ("wide", "abbreviated", "narrow")}
        days = {w: _weekdays(loc, w) for w in ("wide", "abbreviated", "short", "narrow")}
        data[lang] = {"code": lang.replace("_", "-"), "months": months, "days": days,
                      "weekStartsOn": loc.first_week_day + 1 if loc.first_week_day < 6 else 0}
    return """(function () {
  "use strict";
  var DATA = __DATA__;
  function pick(list, opts) { return list[(opts && opts.width) || "wide"] || list.wide; }
  function make(d) {
    var none = function () { return null; };
    return {
      code: d.code,
      localize: {
        ordinalNumber: function (n) { return String(n); },
        era: function (i) { return i ? "AD" : "BC"; },
        quarter: function (q) { return String(q); },
        month: function (i, o) { return pick(d.months, o)[i]; },
        day: function (i, o) { return pick(d.days, o)[i]; },
        dayPeriod: function (p) { return p; }
      },
      formatLong: {
        date: function () { return "yyyy-MM-dd"; },
        time: function () { return "HH:mm"; },
        dateTime: function () { return "{{date}} {{time}}"; }
      },
      match: {ordinalNumber: none, era: none, quarter: none, month: none, day: none,
              dayPeriod: none},
      options: {weekStartsOn: d.weekStartsOn, firstWeekContainsDate: 1}
    };
  }
  var LOCALES = {};
  Object.keys(DATA).forEach(function (k) { LOCALES[k] = make(DATA[k]); });
  function current() {
    var mark = document.getElementById(__MARK__);
    var lang = mark && mark.getAttribute("data-lang");
    var out = {};
    if (lang && LOCALES[lang]) { out[lang.replace("_", "")] = LOCALES[lang]; }
    return out;
  }
  window.dateFns = window.dateFns || {};
  Object.defineProperty(window.dateFns, "locale", {get: current, configurable: true});
}());
""".replace("__DATA__", json.dumps(data, ensure_ascii=False)).replace(
        "__MARK__", json.dumps(ids.LANGUAGE_MARK))


def install_language(app: dash.Dash, store: Any) -> None:
    """Resolve each request's language, serve the date pickers' names, wire the switch.

    ``store`` keeps the users' profiles (``None``: no profiles, e.g. ``auth = "none"``).
    """
    server = app.server
    server.extensions[_STORE_KEY] = store
    i18n.register_resolver(request_language)
    script = datefns_locales_js()

    def _datefns() -> Response:
        resp = Response(script, mimetype="text/javascript")
        resp.headers["Cache-Control"] = "private, max-age=3600"
        return resp

    server.add_url_rule(DATEFNS_PATH, "riskmap_datefns", _datefns, methods=["GET"])

    def _switch(lang: str | None, pathname: str | None, search: str | None) -> Any:
        chosen = i18n.normalize(lang)
        if chosen is None or pathname is None:
            return dash.no_update
        principal = flask.g.get("riskmap_principal")
        if store is not None and principal is not None:
            from riskmap.auth.accounts import set_language

            set_language(store, principal.username, chosen)
            with _cache_lock:
                _cache.pop(principal.username, None)
        if chosen == request_language() and _from_query((search or "").lstrip("?")) == chosen:
            return dash.no_update
        return pathname + with_language(search, chosen)

    app.callback(Output(ids.LANGUAGE_URL, "href"), Input(ids.LANGUAGE, "value"),
                 State(ids.LANGUAGE_URL, "pathname"), State(ids.LANGUAGE_URL, "search"),
                 prevent_initial_call=True)(bad_input_guard(_switch, "language:switch"))
