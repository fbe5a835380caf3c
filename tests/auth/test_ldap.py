"""Directory login against a real slapd (started by ./scripts/test; see scripts/_ldap.sh for the
people and groups it holds)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from riskmap.auth import accounts
from riskmap.auth.ldap import Directory
from riskmap.errors import ConfigError
from riskmap.settings import LdapSettings
from tests.auth.conftest import LdapServer

JIZZAX = "Jizzax viloyati"
SAMARQAND = "Samarqand viloyati"

#: the people of scripts/_ldap.sh and their passwords
PASSWORDS = {
    "cmdr": "Jizzax-Commander-2025",
    "planner": "Planner-Samarqand-77",
    "boss": "Boss-Toshkent-2025!",
    "roving": "Roving-Commander-42",
    "nogroup": "Nogroup-Password-11",
    "c*": "Wildcard-Password-33",
    "tosh, a (ops*)": "Escaped-Analyst-2025",
}


def _settings(url: str | None, **over: Any) -> LdapSettings:
    values: dict[str, Any] = {
        "url": url,
        "user_dn": "uid={username},ou=people,dc=example,dc=org",
        "group_base": "ou=groups,dc=example,dc=org",
        "role_groups": {"riskmap-admins": "admin", "riskmap-commanders": "commander",
                        "riskmap-planners": "planner", "riskmap-analysts": "analyst"},
        "region_groups": {"region-jizzakh": JIZZAX, "region-samarkand": SAMARQAND},
        "timeout_s": 5.0,
    }
    values.update(over)
    return LdapSettings(**values)


@pytest.fixture
def directory(ldap_server: LdapServer) -> Directory:
    return Directory(_settings(ldap_server.url))


# ---- against the real server -----------------------------------------------------------------

def test_right_password_gives_role_regions_and_name(directory: Directory) -> None:
    found = directory.authenticate("cmdr", PASSWORDS["cmdr"])
    assert found is not None
    principal, display = found
    assert (principal.username, principal.role, principal.regions, principal.districts) == (
        "cmdr", "commander", (JIZZAX,), ())
    assert display == "Dilshod Karimov"
    planner, _ = directory.authenticate("planner", PASSWORDS["planner"]) or (None, None)
    assert planner is not None
    assert planner.role == "planner" and planner.regions == (JIZZAX, SAMARQAND)


def test_several_role_groups_give_the_most_powerful(directory: Directory) -> None:
    found = directory.authenticate("boss", PASSWORDS["boss"])
    assert found is not None
    assert found[0].role == "admin" and found[0].unscoped  # admin needs no region group


def test_a_name_that_needs_escaping_logs_in(directory: Directory) -> None:
    # uid "tosh, a (ops*)": ',' escaped in the DN, '(', '*', ')' and '\' in the group filter
    found = directory.authenticate("tosh, a (ops*)", PASSWORDS["tosh, a (ops*)"])
    assert found is not None
    assert found[0].role == "analyst" and found[0].regions == (SAMARQAND,)
    assert found[1] == "Aziz Toshmatov"


@pytest.mark.parametrize(("name", "password"), [
    ("cmdr", "wrong-password-123"),                # wrong password
    ("cmdr", PASSWORDS["planner"]),                # someone else's password
    ("cmdr", ""),                                  # empty: an "unauthenticated bind"
    ("nosuchuser", "Whatever-Password-1"),         # unknown user
    ("nosuchuser", ""),
    ("", "Whatever-Password-1"),
    ("nogroup", PASSWORDS["nogroup"]),             # right password, no riskmap group
    ("roving", PASSWORDS["roving"]),               # a role but no region: would be all regions
])
def test_refused(directory: Directory, name: str, password: str) -> None:
    assert directory.authenticate(name, password) is None


def test_empty_password_is_refused_before_any_bind(directory: Directory,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def no_connection(*args: object) -> None:
        raise AssertionError("an empty password must not reach the directory")

    monkeypatch.setattr(directory, "_connection", no_connection)
    assert directory.authenticate("cmdr", "") is None
    assert directory.authenticate("cmdr", None) is None  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [
    "*)(uid=*", "*", "cmdr)(|(uid=*", "admin,ou=people", "cmdr,ou=people,dc=example,dc=org",
    "cmdr+cn=Dilshod Karimov", "cn=admin,dc=example,dc=org", "#cmdr", "cmdr\x00",
    # the directory ignores surrounding spaces when it compares names: " cmdr" would be cmdr
    # under another riskmap name
    " cmdr", "cmdr ", "cmdr\t",
])
def test_injection_attempts_fail(directory: Directory, ldap_server: LdapServer,
                                 name: str) -> None:
    for password in (PASSWORDS["cmdr"], ldap_server.admin_password):
        assert directory.authenticate(name, password) is None


def test_a_wildcard_in_the_name_matches_no_one_elses_groups(directory: Directory) -> None:
    """The user "c*" (right password) is in no group: the '*' of their DN is escaped in the
    group filter, so it is no wildcard and they get no role."""
    assert directory.authenticate("c*", PASSWORDS["c*"]) is None


def test_district_groups_when_configured(ldap_server: LdapServer) -> None:
    class WithDistricts:  # LdapSettings has no district_groups (yet): duck-typed settings
        def __init__(self, base: LdapSettings) -> None:
            self.__dict__.update(base.__dict__)
            self.district_groups = {"staff": "Arnasoy tumani"}

    found = Directory(WithDistricts(_settings(ldap_server.url))).authenticate(
        "cmdr", PASSWORDS["cmdr"])
    assert found is not None and found[0].districts == ("Arnasoy tumani",)


def test_passwords_are_never_logged(directory: Directory,
                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    directory.authenticate("cmdr", "Wrong-But-Secret-99")
    directory.authenticate("nogroup", PASSWORDS["nogroup"])
    directory.authenticate("roving", PASSWORDS["roving"])
    directory.authenticate("cmdr", PASSWORDS["cmdr"])
    text = caplog.text
    assert text  # refusals are logged...
    for secret in ("Wrong-But-Secret-99", *PASSWORDS.values()):
        assert secret not in text  # ...without the password


def test_accounts_record_the_directory_user(store: object, directory: Directory) -> None:
    result = accounts.authenticate(store, "CMDR", PASSWORDS["cmdr"], client="10.0.0.7",
                                   directory=directory)
    assert result.principal is not None
    assert (result.principal.username, result.principal.role, result.principal.regions,
            result.principal.client) == ("cmdr", "commander", (JIZZAX,), "10.0.0.7")
    user = accounts.get_user(store, "cmdr")
    assert user is not None
    assert user["source"] == "ldap" and user["role"] == "commander"
    assert json.loads(user["regions"]) == [JIZZAX]
    assert user["display_name"] == "Dilshod Karimov"
    assert pd.isna(user["password_hash"])  # no password is kept for a directory user
    # the session works like a local user's
    token, _ = accounts.start_session(store, result.principal)
    again = accounts.session_principal(store, token)
    assert again is not None and again[0].role == "commander"
    # a directory user logs in through the directory again; a wrong password fails
    assert accounts.authenticate(store, "cmdr", "Wrong-Password-123", client="10.0.0.7",
                                 directory=directory).principal is None
    assert accounts.authenticate(store, "cmdr", "", client="10.0.0.7",
                                 directory=directory).principal is None
    assert accounts.authenticate(store, "nogroup", PASSWORDS["nogroup"], client="10.0.0.8",
                                 directory=directory).principal is None
    assert accounts.get_user(store, "nogroup") is None  # refused: not recorded
    # a disabled directory user stays out although the directory says yes
    accounts.disable_user(store, "cmdr")
    assert accounts.authenticate(store, "cmdr", PASSWORDS["cmdr"], client="10.0.0.9",
                                 directory=directory).principal is None


def test_a_local_account_is_never_taken_over_by_the_directory(store: object,
                                                               directory: Directory) -> None:
    accounts.add_user(store, "planner", "Local-Samarqand-Secret-2025", role="analyst",
                      regions=[SAMARQAND])
    # the directory's password for "planner" does not open the local account
    assert accounts.authenticate(store, "planner", PASSWORDS["planner"], client="10.0.0.7",
                                 directory=directory).principal is None
    local = accounts.authenticate(store, "planner", "Local-Samarqand-Secret-2025",
                                  client="10.0.0.7", directory=directory).principal
    assert local is not None and local.role == "analyst"
    user = accounts.get_user(store, "planner")
    assert user is not None and user["source"] == "local"


# ---- without a server ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_directory_fails_the_login_with_a_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    directory = Directory(_settings(f"ldap://127.0.0.1:{_free_port()}", timeout_s=2.0))
    with caplog.at_level(logging.WARNING, logger="riskmap.auth.ldap"):
        assert directory.authenticate("cmdr", "Some-Password-123") is None
    assert "unreachable" in caplog.text and "Some-Password-123" not in caplog.text


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()


def test_a_directory_that_does_not_answer_times_out(silent_server: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    directory = Directory(_settings(silent_server, timeout_s=1.0))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="riskmap.auth.ldap"):
        assert directory.authenticate("cmdr", "Some-Password-123") is None
    assert time.monotonic() - started < 10
    assert caplog.records and "Some-Password-123" not in caplog.text


@pytest.mark.parametrize(("over", "message"), [
    ({"url": None}, "url"),
    ({"url": "http://example.org"}, "ldap://"),
    ({"user_dn": "ou=people,dc=example,dc=org"}, "{username}"),
    ({"role_groups": {"riskmap-root": "superuser"}}, "superuser"),
])
def test_bad_settings_are_refused(over: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        Directory(_settings(**{"url": "ldap://127.0.0.1:389", **over}))  # type: ignore[arg-type]


def test_start_tls_that_fails_never_falls_back_to_plain(ldap_server: LdapServer,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    # the test server has no certificate: STARTTLS fails, and the password is not sent in clear
    directory = Directory(_settings(ldap_server.url, start_tls=True))
    with caplog.at_level(logging.WARNING, logger="riskmap.auth.ldap"):
        assert directory.authenticate("cmdr", PASSWORDS["cmdr"]) is None
    assert caplog.records and PASSWORDS["cmdr"] not in caplog.text
