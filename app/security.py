"""HTTP hardening of the app: security headers, bounded requests, no stack traces, checked
callback payloads.

- Headers on every response: a Content-Security-Policy that allows only the app's own
  scripts (plus the hashes of Dash's inline bootstrap scripts), styles, images and requests;
  ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
  ``Cross-Origin-Opener-Policy``, and HSTS over HTTPS.
- Request bodies are bounded (``MAX_CONTENT_LENGTH``; larger ones get 413).
- A callback request (``/_dash-update-component``) must be a JSON object of the shape the Dash
  renderer sends, name a registered callback, and stay within a nesting depth; otherwise 400.
  Values of well-known properties must have their type (a ``pathname`` is a string, an
  ``n_clicks`` a count, a ``value`` no object, ...); other values are the callbacks' to
  check, and a callback that fails on a value it was sent answers 400 with one log line
  (:func:`bad_input_guard`), not a 500 and a traceback.
- Errors never show a stack trace: the traceback goes to the log, the client gets one line.
"""

from __future__ import annotations

import logging
from typing import Any

import dash
from flask import Response, request
from werkzeug.exceptions import HTTPException

__all__ = ["MAX_DEPTH", "bad_input_guard", "check_callback_payload", "install_security"]

_LOG = logging.getLogger("riskmap.app")
#: deepest nesting of lists/objects accepted in a callback payload
MAX_DEPTH = 24


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a JSON value, stopping at ``limit`` (no recursion)."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, d = stack.pop()
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, d + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, d + 1) for v in item)
    return deepest


def _scalar(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool)


def _count(v: Any) -> bool:
    return v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**53)


#: the JSON types the Dash components' properties may have (a crafted request sending an
#: object where a string belongs is refused before any callback runs)
PROP_TYPES: dict[str, Any] = {
    "pathname": lambda v: v is None or (isinstance(v, str) and v.startswith("/")),
    "search": lambda v: v is None or isinstance(v, str),
    "hash": lambda v: v is None or isinstance(v, str),
    "href": lambda v: v is None or isinstance(v, str),
    "n_clicks": _count,
    "n_intervals": _count,
    "n_submit": _count,
    "n_blur": _count,
    "value": lambda v: _scalar(v) or (isinstance(v, list) and all(_scalar(i) for i in v)),
    "start_date": lambda v: v is None or isinstance(v, str),
    "end_date": lambda v: v is None or isinstance(v, str),
    "date": lambda v: v is None or isinstance(v, str),
    "active_tab": lambda v: v is None or isinstance(v, str),
    "clickData": lambda v: v is None or isinstance(v, dict),
    "selectedData": lambda v: v is None or isinstance(v, dict),
    "hoverData": lambda v: v is None or isinstance(v, dict),
    "relayoutData": lambda v: v is None or isinstance(v, dict),
    "selected_rows": lambda v: v is None or (isinstance(v, list) and all(_count(i) for i in v)),
    "active_cell": lambda v: v is None or isinstance(v, dict),
}


def _typed(item: dict[str, Any]) -> bool:
    check = PROP_TYPES.get(item.get("property", ""))
    return check is None or "value" not in item or bool(check(item["value"]))


def bad_input_guard(func: Any, name: str) -> Any:
    """``func`` (a callback) answering 400 when it fails on the values it was sent.

    Callbacks validate what they use; this is the net under them: a crafted value that still
    makes one fail (a type it did not expect) gets "400 Bad Request" and one warning line in
    the log, never a 500 with a traceback. Refusals (``PermissionError``: 403) and Dash's
    ``PreventUpdate`` pass through.
    """
    import functools

    from werkzeug.exceptions import BadRequest

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError,
                OverflowError) as exc:
            _LOG.warning("callback %s refused its input: %s: %s", name, type(exc).__name__,
                         str(exc)[:200])
            raise BadRequest("a value of the request is not valid here") from None
    return guarded


def _valid_item(item: Any) -> bool:
    if isinstance(item, list):  # pattern-matching callbacks send lists of items
        return all(_valid_item(i) for i in item)
    return isinstance(item, dict) and "id" in item and isinstance(item.get("property"), str)


def check_callback_payload(body: Any, callback_map: dict[str, Any]) -> str | None:
    """Why a callback request is malformed, or ``None`` when its shape is right."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if _depth(body, MAX_DEPTH) > MAX_DEPTH:
        return "the payload is nested too deeply"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return "no such callback"
    for key in ("inputs", "state"):
        if key in body and (not isinstance(body[key], list)
                            or not all(_valid_item(i) for i in body[key])):
            return f"'{key}' is not a list of inputs"
    if not isinstance(body.get("inputs", []), list):
        return "'inputs' is missing"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' is not a list of names"
    spec = callback_map[output]
    for key in ("inputs", "state"):
        declared = spec.get(key, []) if isinstance(spec, dict) else []
        sent = body.get(key, [])
        if len(sent) != len(declared):
            return f"the {key} do not match the callback"
        for want, got in zip(declared, sent, strict=True):
            if isinstance(want.get("id"), str) and (
                    not isinstance(got, dict) or got.get("id") != want["id"]
                    or got.get("property") != want.get("property")):
                return f"the {key} do not match the callback"
        for got in sent:
            items = got if isinstance(got, list) else [got]
            bad = next((i for i in items if not _typed(i)), None)
            if bad is not None:
                return f"{str(bad.get('property'))[:40]!r} has a value of the wrong type"
    return None


def _csp(app: dash.Dash) -> str:
    # Dash gives the hashes quoted already ("'sha256-...'")
    hashes = " ".join(h if h.startswith("'") else f"'{h}'" for h in app.csp_hashes())
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' {hashes} 'unsafe-eval'",  # plotly.js compiles its expressions
        "style-src 'self' 'unsafe-inline'",  # plotly and Dash set element styles
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        # data: MapLibre fetches an image layer (the commanders' KDE, a PNG data URI);
        # a data: URI carries its bytes in itself, it reaches no server
        "connect-src 'self' data:",
        "worker-src 'self' blob:",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ])


def install_security(app: dash.Dash, *, max_request_bytes: int = 2 * 1024 * 1024) -> None:
    """Harden ``app`` (see the module docstring)."""
    server = app.server
    server.config["MAX_CONTENT_LENGTH"] = int(max_request_bytes)

    @server.before_request
    def _check_callback() -> Response | None:
        if request.path.endswith("/_dash-update-component") and request.method == "POST":
            if request.mimetype != "application/json":
                return Response("Refused: a callback request is JSON.\n", 415,
                                mimetype="text/plain")
            body = request.get_json(silent=True)
            why = check_callback_payload(body, app.callback_map)
            if why is not None:
                return Response(f"Bad callback request: {why}.\n", 400,
                                mimetype="text/plain")
        return None

    @server.after_request
    def _headers(resp: Response) -> Response:
        # per response: Dash adds inline scripts (pages' own clientside callbacks) at the first
        # request it serves, which may come after the first response (a login redirect)
        resp.headers.setdefault("Content-Security-Policy", _csp(app))
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")  # no-referrer: Origin "null" on form posts
        resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        resp.headers.setdefault("Permissions-Policy", "geolocation=(), camera=(), microphone=()")
        if request.is_secure:
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return resp

    @server.errorhandler(Exception)
    def _no_trace(exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            return Response(f"{exc.code} {exc.name}\n", exc.code or 500, mimetype="text/plain")
        if isinstance(exc, PermissionError):
            _LOG.warning("refused %s %s: %s", request.method, request.path, exc)
            return Response("Refused: outside your scope.\n", 403, mimetype="text/plain")
        _LOG.exception("error serving %s %s", request.method, request.path)
        return Response("Internal error: the server log has the details.\n", 500,
                        mimetype="text/plain")
