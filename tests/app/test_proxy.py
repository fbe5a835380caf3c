"""Behind a reverse proxy (``RISKMAP_APP__TRUSTED_PROXIES``) the client address of the audit log
and of login throttling is the person's, as the proxy saw it; without it, a forwarded header a
client sends itself is ignored (it could otherwise dodge the throttle or forge the audit log)."""

from __future__ import annotations

import json
import re
from typing import Any

from riskmap.layers.store import Store
from tests.app.test_auth import LOGIN_PATH, ORIGIN, _app, store  # noqa: F401 (fixture)


def _login_as(client: Any, address: str, password: str) -> Any:
    headers = {**ORIGIN, "X-Forwarded-For": address}
    form = client.get(LOGIN_PATH, headers=headers)
    token = re.search(r'name="form_token" value="([^"]+)"', form.get_data(as_text=True))
    assert token is not None
    return client.post(LOGIN_PATH, headers=headers, data={
        "form_token": token.group(1), "username": "jiz", "password": password, "next": "/"})


def _denied_clients(where: Store) -> list[str]:
    log = where.read("audit")
    denied = log[(log["action"] == "login") & (log["outcome"] == "denied")]
    return denied["client"].tolist()


def test_behind_one_trusted_proxy_the_forwarded_client_is_audited_and_throttled(
        store: Store) -> None:  # noqa: F811
    client = _app(store, trusted_proxies=1).server.test_client()
    guesses = [_login_as(client, "10.20.0.7", f"guess {i}") for i in range(6)]
    assert b"Too many failed logins" in guesses[-1].data
    assert set(_denied_clients(store)) == {"10.20.0.7"}
    # another person behind the same proxy is throttled on their own address, not with the
    # first one's (the user name's own throttle still counts: that is per account)
    reasons = [json.loads(d)["reason"] for d in store.read("audit").query(
        "action == 'login' and outcome == 'denied'")["detail"]]
    assert "throttled" in reasons


def test_without_a_trusted_proxy_a_forwarded_header_is_ignored(store: Store) -> None:  # noqa: F811
    client = _app(store).server.test_client()
    reply = _login_as(client, "10.20.0.7", "a wrong guess")
    assert reply.status_code == 401
    assert _denied_clients(store) == ["127.0.0.1"]
