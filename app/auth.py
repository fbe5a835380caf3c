"""HTTP basic auth for the app, on only when a password is configured (there is no default)."""

from __future__ import annotations

import hmac

from flask import Flask, Response, request
from pydantic import SecretStr

__all__ = ["REALM", "install_basic_auth"]

REALM = "riskmap"


def install_basic_auth(server: Flask, username: str,
                       password: SecretStr | str | None) -> bool:
    """Require HTTP basic auth on every request of ``server`` when ``password`` is set.

    Parameters
    ----------
    server
        The Flask server behind the Dash app.
    username
        The one accepted user name.
    password
        The accepted password; ``None`` or empty leaves the app open (loopback use only:
        the settings refuse a non-loopback host without a password).

    Returns
    -------
    bool
        True when auth was installed.
    """
    secret = password.get_secret_value() if isinstance(password, SecretStr) else password
    if not secret:
        return False
    want_user, want_pass = username.encode("utf-8"), secret.encode("utf-8")

    @server.before_request
    def _require_login() -> Response | None:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            user_ok = hmac.compare_digest((auth.username or "").encode("utf-8"), want_user)
            pass_ok = hmac.compare_digest((auth.password or "").encode("utf-8"), want_pass)
            if user_ok and pass_ok:
                return None
        return Response("Login required.\n", 401,
                        {"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
                        mimetype="text/plain")

    # run before Dash's own hooks (the pages router registers one at the first request)
    funcs = server.before_request_funcs.setdefault(None, [])
    funcs.insert(0, funcs.pop(funcs.index(_require_login)))
    return True
