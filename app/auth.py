"""Logins for the app: a login page, server-side sessions in the store, scope per request.

Every request but the login page and the static assets needs a live session: its cookie
(``riskmap_session``: HttpOnly, SameSite=Strict, Secure over HTTPS) holds a random token whose
SHA-256 names a row of the ``sessions`` layer, which every app worker shares. The request then
acts for that user's :class:`~riskmap.auth.roles.Principal`: :func:`current_principal` and
:func:`current_access` (a :class:`~riskmap.layers.access.DataAccess` scoped to the user,
auditing with the user's name and address) are what pages and callbacks use.

State-changing requests (every POST: Dash callbacks, the login form, logout) must come from the
app's own pages: their ``Origin`` (or ``Referer``) must be this host, and the login form also
carries a token bound to a cookie. Without a session a page request is sent to the login page,
an API or callback request gets 401. ``auth = "none"`` (loopback only, for a developer or the
demo) lets every request act as a local admin.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import flask
from flask import Flask, Response, request

from riskmap import i18n
from riskmap.auth.roles import Principal
from riskmap.auth.tokens import new_token, same, token_hash
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store

__all__ = ["COOKIE", "LOGIN_PATH", "current_access", "current_principal", "install_auth",
           "login_page"]

COOKIE = "riskmap_session"
FORM_COOKIE = "riskmap_form"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"
#: the ingest API: no session or Origin; its own bearer tokens (riskmap.app.api)
API_PATH = "/api/v1/"
#: paths served without a session (the login page, its stylesheet, the health check)
_OPEN = ("/login", "/assets/login.css", "/assets/riskmap.css", "/healthz", "/favicon.ico",
         "/_favicon.ico")
#: a session is looked up in the store at most this often per worker and token
_CACHE_S = 5.0


def current_principal() -> Principal:
    """The principal the current request acts for (set by :func:`install_auth`)."""
    principal = flask.g.get("riskmap_principal")
    if principal is None:
        raise PermissionError("no logged-in user for this request")
    return principal


def current_access() -> DataAccess:
    """The current user's scoped, audited data access."""
    access = flask.g.get("riskmap_access")
    if access is None:
        raise PermissionError("no logged-in user for this request")
    return access


def _client() -> str:
    return (request.remote_addr or "")[:64]


def _same_origin() -> bool:
    """True when a state-changing request comes from a page of this host."""
    source = request.headers.get("Origin") or request.headers.get("Referer") or ""
    if not source or source == "null":
        return False
    return urlsplit(source).netloc == request.host


def login_page(message: str = "", *, username: str = "", form_token: str = "",
               next_path: str = "/", lang: str = i18n.DEFAULT, chosen: bool = False) -> str:
    """The login form in ``lang`` (plain HTML; every value escaped), with a language switch.

    ``chosen``: the user picked ``lang`` (``?lang=``): the form keeps it for after the login.
    """
    esc = html.escape
    lang = i18n.normalize(lang) or i18n.DEFAULT

    def _(text: str) -> str:
        return esc(i18n.gettext(text, lang))

    title, sub, user_label = _("log in"), _("Mahalla public-safety risk maps"), _("User name")
    password_label, submit = _("Password"), _("Log in")

    note = f'<p class="login-error" role="alert">{esc(message)}</p>' if message else ""
    current = {code: ' aria-current="true"' if code == lang else ""
               for code in i18n.LANGUAGE_NAMES}
    switch = " · ".join(
        f'<a href="{LOGIN_PATH}?lang={code}&amp;next={esc(_quote(next_path))}" hreflang="{code}"'
        f'{current[code]}>{esc(name)}</a>' for code, name in i18n.LANGUAGE_NAMES.items())
    action = LOGIN_PATH + (f"?lang={lang}" if chosen else "")
    return f"""<!DOCTYPE html>
<html lang="{lang.replace("_", "-")}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>riskmap: {title}</title><link rel="stylesheet" href="/assets/login.css"></head>
<body><main class="login">
<nav class="login-languages" id="login-languages">{switch}</nav>
<h1>riskmap</h1><p class="login-sub">{sub}</p>{note}
<form method="post" action="{action}" autocomplete="on">
<input type="hidden" name="form_token" value="{esc(form_token)}">
<input type="hidden" name="next" value="{esc(next_path)}">
<label for="username">{user_label}</label>
<input id="username" name="username" value="{esc(username)}" autocomplete="username" required
 autofocus maxlength="64">
<label for="password">{password_label}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required
 maxlength="200">
<button type="submit" id="login-submit">{submit}</button>
</form></main></body></html>"""


def _safe_next(value: str | None) -> str:
    """A local path to go back to after login (never another site)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value[:500]


def install_auth(server: Flask, store: Store, *, mode: str = "accounts",
                 directory: Any = None, session_policy: Any = None,
                 access_for: Callable[[Principal], DataAccess] | None = None,
                 local_user: str = "local") -> None:
    """Require a login on every request of ``server`` (see the module docstring).

    Parameters
    ----------
    server
        The Flask server behind the Dash app.
    store
        Where users and sessions are kept.
    mode
        ``"accounts"`` (log in with a user of the store or the directory) or ``"none"``
        (every request acts as a local admin; the settings allow it on loopback only).
    directory
        An LDAP :class:`riskmap.auth.ldap.Directory`, or ``None``.
    access_for
        The data access of a principal (the app narrows it to its own regions limit);
        default: :meth:`DataAccess.for_principal`.
    local_user
        The name every request acts as with ``mode="none"`` (an admin of the app's scope).
    """
    from riskmap.auth import accounts

    policy = session_policy or accounts.SessionPolicy()
    cache: dict[str, tuple[float, Principal, str]] = {}
    token_locks: dict[str, threading.Lock] = {}
    lookup_lock = threading.Lock()

    def _set_request_user(principal: Principal) -> None:
        flask.g.riskmap_principal = principal
        flask.g.riskmap_access = (access_for(principal) if access_for is not None
                                  else DataAccess.for_principal(store, principal))

    def _lookup(token: str | None) -> tuple[Principal, str] | None:
        if not token:
            return None
        hit = cache.get(token)
        if hit is not None and time.monotonic() - hit[0] < _CACHE_S:
            return hit[1], hit[2]
        # single-flight: a page load sends its callbacks at once; one of them reads the
        # session from the store and the others of the same token wait for that answer
        with lookup_lock:
            if len(token_locks) > 4096:
                token_locks.clear()
            lock = token_locks.setdefault(token, threading.Lock())
        with lock:
            hit = cache.get(token)
            now = time.monotonic()
            if hit is not None and now - hit[0] < _CACHE_S:
                return hit[1], hit[2]
            found = accounts.session_principal(store, token, client=_client(), policy=policy)
            if found is None:
                cache.pop(token, None)
                return None
            if len(cache) > 4096:
                cache.clear()
            cache[token] = (now, found[0], found[1])
            return found

    @server.before_request
    def _require_login() -> Response | None:
        if request.path.startswith(API_PATH):  # API tokens, checked by riskmap.app.api
            return None
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin():
            return Response("Refused: the request does not come from this app's pages.\n",
                            403, mimetype="text/plain")
        if mode == "none":
            _set_request_user(Principal(local_user, "admin", client=_client()))
            return None
        path = request.path
        if path in _OPEN or path == LOGOUT_PATH:
            return None
        found = _lookup(request.cookies.get(COOKIE))
        if found is not None:
            principal, _ = found
            _set_request_user(Principal(**{**principal.__dict__, "client": _client()}))
            return None
        if path.startswith(("/_dash-", "/api/", "/map/")) or request.method != "GET":
            return Response('{"error": "login required"}\n', 401,
                            mimetype="application/json")
        target = path + (f"?{request.query_string.decode('utf-8', 'replace')}"
                         if request.query_string else "")
        return flask.redirect(f"{LOGIN_PATH}?next={_quote(target)}", code=303)

    # run before Dash's own hooks (the pages router registers one at the first request)
    funcs = server.before_request_funcs.setdefault(None, [])
    funcs.insert(0, funcs.pop(funcs.index(_require_login)))

    def _login_language() -> str:
        return (i18n.normalize(request.args.get("lang"))
                or i18n.best_match(request.headers.get("Accept-Language")) or i18n.DEFAULT)

    def _form(message: str = "", status: int = 200, username: str = "") -> Response:
        token = new_token(16)
        body = login_page(message, username=username, form_token=token,
                          next_path=_safe_next(request.values.get("next")),
                          lang=_login_language(),
                          chosen=i18n.normalize(request.args.get("lang")) is not None)
        resp = Response(body, status, mimetype="text/html")
        resp.set_cookie(FORM_COOKIE, token_hash(token), httponly=True, samesite="Strict",
                        secure=request.is_secure, max_age=3600, path=LOGIN_PATH)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def login() -> Response:
        if mode == "none":
            return flask.redirect("/", code=303)
        if request.method == "GET":
            return _form()
        form_ok = same(token_hash(request.form.get("form_token", "")),
                       request.cookies.get(FORM_COOKIE, "-"))
        username = request.form.get("username", "")[:64]
        lang = _login_language()
        if not form_ok:
            return _form(i18n.gettext("The form expired: please log in again.", lang), 400,
                         username)
        result = accounts.authenticate(store, username, request.form.get("password", "")[:200],
                                       client=_client(), directory=directory,
                                       defer_audit=True)
        if result.principal is None:
            wait = i18n.gettext("wait {seconds} s", lang).format(seconds=f"{result.wait_s:.0f}")
            message = (i18n.gettext(result.reason, lang)
                       + (f" ({wait})" if result.wait_s else ""))
            message = message[:1].upper() + message[1:] + "."
            if result.busy:  # the login was not checked: the browser may send it again
                busy = _form(message, 503, username)
                busy.headers["Retry-After"] = f"{result.wait_s:.0f}"
                return busy
            return _form(message, 401, username)
        token, csrf = accounts.start_session(store, result.principal, policy=policy)
        target = _safe_next(request.form.get("next"))
        chosen = i18n.normalize(request.args.get("lang"))
        if chosen is None:
            # the page this redirect opens needs no second read of what was just written
            # (in this worker: the others read the session from the store once each)
            cache[token] = (time.monotonic(), result.principal, token_hash(csrf))
        else:  # picked on the login page: kept in the profile and the URL
            accounts.set_language(store, result.principal.username, chosen)
            path, _q, query = target.partition("?")
            from riskmap.app.language import with_language

            target = path + with_language(query, chosen)
        resp = flask.redirect(target, code=303)
        resp.set_cookie(COOKIE, token, httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/",
                        max_age=int(policy.lifetime.total_seconds()))
        resp.delete_cookie(FORM_COOKIE, path=LOGIN_PATH)
        return resp

    def logout() -> Response:
        token = request.cookies.get(COOKIE)
        if token:
            found = _lookup(token)
            cache.pop(token, None)
            accounts.end_session(store, token)
            if found is not None:
                (access_for(found[0]) if access_for is not None
                 else DataAccess.for_principal(store, found[0])).audit("logout")
        lang = i18n.normalize(request.args.get("lang"))
        resp = flask.redirect(LOGIN_PATH + (f"?lang={lang}" if lang else ""), code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    server.add_url_rule(LOGIN_PATH, "riskmap_login", login, methods=["GET", "POST"])
    server.add_url_rule(LOGOUT_PATH, "riskmap_logout", logout, methods=["POST"])


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
