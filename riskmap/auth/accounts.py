"""Accounts kept in the store: users, logins with throttling and lock-out, sessions.

Every function takes the :class:`~riskmap.layers.store.Store`; what it changes is written in
one transaction and audited (``riskmap users ...`` on the command line, the admin page and the
login page call these). Sessions live in the store, so every app worker (gunicorn) shares
them; a session expires after ``idle`` without a request and at the latest after ``lifetime``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pandas as pd

from riskmap.auth import passwords, throttle
from riskmap.auth.roles import ROLES, Principal
from riskmap.auth.tokens import new_token, token_hash
from riskmap.errors import ConfigError
from riskmap.layers.store import Store

__all__ = ["LoginResult", "SessionPolicy", "add_user", "authenticate", "disable_user",
           "enable_user", "end_session", "get_user", "list_users", "principal_of",
           "session_principal", "set_language", "set_password", "set_role", "start_session",
           "upsert_directory_user", "user_language"]

_USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-@")


@dataclass(frozen=True)
class SessionPolicy:
    """How long a session lives."""

    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    touch_every: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class LoginResult:
    """The outcome of :func:`authenticate`: a principal, or why not (said the same way for a
    wrong name and a wrong password, so that names cannot be probed)."""

    principal: Principal | None
    reason: str = ""
    wait_s: float = 0.0
    busy: bool = False  # refused because the server is busy checking other logins


#: what a login refused for a busy server says, and how long to wait
BUSY = "the server is busy checking other logins: try again in a moment"
BUSY_WAIT_S = 2.0


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("us")


def _check_username(username: str) -> str:
    name = (username or "").strip().lower()
    if not name or len(name) > 64 or not set(name) <= _USERNAME_CHARS:
        raise ConfigError(f"user name {username!r}: use 1-64 letters, digits and . _ - @")
    return name


def _check_scope(role: str, regions: Sequence[str], districts: Sequence[str]) -> None:
    if role not in ROLES:
        raise ConfigError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if districts and not regions:
        raise ConfigError("districts need the region(s) they lie in (--region)")


def _audit(store: Store, action: str, user: str, *, actor: str, client: str = "cli",
           detail: dict[str, Any] | None = None, outcome: str = "ok",
           defer: bool = False) -> None:
    from riskmap.layers.access import DataAccess

    DataAccess(store, user=actor, client=client, defer_audit=defer).audit(
        action, layer="users", detail={"user": user, **(detail or {})}, outcome=outcome)


def get_user(store: Store, username: str) -> dict[str, Any] | None:
    """The user's row as a dict (``None`` when there is no such user)."""
    try:
        name = _check_username(username)
    except ConfigError:
        return None
    rows = store.read("users", filters=[("username", "=", name)])
    return None if len(rows) == 0 else rows.iloc[0].to_dict()


def list_users(store: Store) -> pd.DataFrame:
    """Every user, without the password hash."""
    users = store.read("users")
    return users.drop(columns=["password_hash"]).sort_values("username").reset_index(drop=True)


def add_user(store: Store, username: str, password: str | None, *, role: str,
             regions: Sequence[str] = (), districts: Sequence[str] = (),
             suppressed_elsewhere: bool = False, display_name: str | None = None,
             actor: str = "cli") -> dict[str, Any]:
    """Create a local user (a password that meets the rules is required)."""
    name = _check_username(username)
    _check_scope(role, regions, districts)
    if get_user(store, name) is not None:
        raise ConfigError(f"user {name!r} exists (use `riskmap users passwd` or `roles`)")
    if not password:
        raise ConfigError("a local user needs a password")
    now = _now()
    row = {"username": name, "display_name": display_name or name, "role": role,
           "regions": json.dumps(sorted(set(regions)), ensure_ascii=False),
           "districts": json.dumps(sorted(set(districts)), ensure_ascii=False),
           "suppressed_elsewhere": bool(suppressed_elsewhere),
           "password_hash": passwords.hash_password(password, username=name),
           "source": "local", "disabled": False, "locked_until": pd.NaT,
           "created_at": now, "updated_at": now}
    with store.transaction() as txn:
        txn.upsert("users", pd.DataFrame([row]))
    _audit(store, "user_add", name, actor=actor,
           detail={"role": role, "regions": list(regions), "districts": list(districts),
                   "suppressed_elsewhere": bool(suppressed_elsewhere)})
    return {k: v for k, v in row.items() if k != "password_hash"}


def _update(store: Store, username: str, actor: str, action: str,
            detail: dict[str, Any] | None = None, **changes: Any) -> None:
    user = get_user(store, username)
    if user is None:
        raise ConfigError(f"no user {username!r}")
    user.update(changes)
    user["updated_at"] = _now()
    with store.transaction() as txn:
        txn.upsert("users", pd.DataFrame([user]))
        if changes.get("disabled") or "password_hash" in changes or "role" in changes:
            sessions = store.read("sessions", columns=["token_hash"],
                                  filters=[("username", "=", user["username"])])
            if len(sessions):  # a changed password or role ends the user's sessions
                txn.delete("sessions", sessions["token_hash"].tolist())
    _audit(store, action, user["username"], actor=actor, detail=detail)


def set_password(store: Store, username: str, password: str, *, actor: str = "cli") -> None:
    """Give a local user a new password (ends their sessions)."""
    name = _check_username(username)
    _update(store, name, actor, "user_passwd",
            password_hash=passwords.hash_password(password, username=name))


def set_role(store: Store, username: str, *, role: str, regions: Sequence[str] = (),
             districts: Sequence[str] = (), suppressed_elsewhere: bool = False,
             actor: str = "cli") -> None:
    """Change a user's role and scope (ends their sessions)."""
    _check_scope(role, regions, districts)
    _update(store, _check_username(username), actor, "user_roles",
            detail={"role": role, "regions": list(regions), "districts": list(districts),
                    "suppressed_elsewhere": bool(suppressed_elsewhere)},
            role=role, regions=json.dumps(sorted(set(regions)), ensure_ascii=False),
            districts=json.dumps(sorted(set(districts)), ensure_ascii=False),
            suppressed_elsewhere=bool(suppressed_elsewhere))


def user_language(store: Store, username: str) -> str | None:
    """The language the user chose last (``None``: none chosen, or no such user)."""
    user = get_user(store, username)
    value = None if user is None else user.get("language")
    return value if isinstance(value, str) and value else None


def set_language(store: Store, username: str, language: str, *, actor: str | None = None) -> bool:
    """Keep ``language`` (a code of :data:`riskmap.i18n.LANGUAGES`) in the user's profile.

    Returns ``False`` when there is no such user (the local user of ``auth = "none"``) or the
    profile already holds it; a change is written and audited (``user_language``).
    """
    from riskmap.i18n import normalize

    lang = normalize(language)
    if lang is None:
        raise ConfigError(f"unknown language {language!r}")
    user = get_user(store, username)
    if user is None or user.get("language") == lang:
        return False
    _update(store, str(user["username"]), actor or str(user["username"]), "user_language",
            detail={"language": lang}, language=lang)
    return True


def disable_user(store: Store, username: str, *, actor: str = "cli") -> None:
    """Stop a user from logging in (ends their sessions)."""
    _update(store, _check_username(username), actor, "user_disable", disabled=True)


def enable_user(store: Store, username: str, *, actor: str = "cli") -> None:
    """Let a disabled or locked-out user log in again (clears their failed logins)."""
    name = _check_username(username)
    _update(store, name, actor, "user_enable", disabled=False, locked_until=pd.NaT)
    failures = store.read("login_failures", columns=["failure_id"],
                          filters=[("username", "=", name)])
    if len(failures):
        with store.transaction() as txn:
            txn.delete("login_failures", failures["failure_id"].tolist())


def upsert_directory_user(store: Store, principal: Principal, display_name: str) -> None:
    """Record (or refresh) a user who logged in through the directory (LDAP)."""
    now = _now()
    user = get_user(store, principal.username)
    row = {"username": principal.username, "display_name": display_name,
           "role": principal.role, "regions": json.dumps(list(principal.regions)),
           "districts": json.dumps(list(principal.districts)),
           "suppressed_elsewhere": principal.suppressed_elsewhere, "password_hash": None,
           "source": "ldap", "disabled": bool(user and user.get("disabled")),
           "locked_until": pd.NaT, "created_at": (user or {}).get("created_at", now),
           "language": (user or {}).get("language"), "updated_at": now}
    with store.transaction() as txn:
        txn.upsert("users", pd.DataFrame([row]))


def principal_of(user: dict[str, Any], client: str = "") -> Principal:
    """The :class:`Principal` of a user row."""
    return Principal(
        username=str(user["username"]), role=str(user["role"]),
        regions=tuple(json.loads(user.get("regions") or "[]")),
        districts=tuple(json.loads(user.get("districts") or "[]")),
        suppressed_elsewhere=bool(user.get("suppressed_elsewhere") or False),
        client=client)


def _failures(store: Store, column: str, value: str, since: pd.Timestamp) -> list[float]:
    rows = store.read("login_failures", columns=["at"],
                      filters=[(column, "=", value), ("at", ">=", since)])
    return [t.timestamp() for t in pd.to_datetime(rows["at"], utc=True)]


def authenticate(store: Store, username: str, password: str, *, client: str,
                 policy: throttle.Policy = throttle.DEFAULT,
                 directory: Any = None, defer_audit: bool = False) -> LoginResult:
    """Check a login; throttle, lock out and audit it.

    ``directory`` (an :class:`riskmap.auth.ldap.Directory`) is asked when the name is not a
    local user (or is a directory user). Failed attempts are recorded per name and per
    client; a name or client with too many recent failures must wait, and ten failures lock
    the account (``riskmap users enable`` unlocks it).

    ``defer_audit``: the login's audit record goes through the store's write-behind buffer
    (:mod:`layers.auditbuffer`, appended within a second) instead of its own chained
    append. The app does so: fifty logins at once otherwise queued on the audit log's lock.
    The throttle and the lock-out never depend on it (``login_failures`` is written at once).
    """
    now = _now()
    try:
        name = _check_username(username)
        valid = True
    except ConfigError:  # never a user: checked (for the same time) and refused
        name, valid = (username or "")[:64], False
    since = now - pd.Timedelta(seconds=policy.window_s)
    verdicts = [throttle.judge(_failures(store, "username", name, since), now.timestamp(),
                               policy),
                throttle.judge(_failures(store, "client", client, since), now.timestamp(),
                               policy)]
    blocked = [v for v in verdicts if not v.allowed]
    if blocked:
        wait = max(v.wait_s for v in blocked)
        _audit(store, "login", name, actor=name, client=client, outcome="denied",
               detail={"reason": "throttled", "wait_s": round(wait, 1)},
               defer=defer_audit)
        return LoginResult(None, "too many failed logins: try again later", wait)
    try:
        principal, user = _check_password(store, name, password, client=client, valid=valid,
                                          directory=directory, now=now)
    except passwords.LaneBusy:  # not the user's failure: nothing counts against them
        _audit(store, "login", name, actor=name, client=client, outcome="denied",
               detail={"reason": "busy"}, defer=defer_audit)
        return LoginResult(None, BUSY, BUSY_WAIT_S, busy=True)
    if principal is None:
        with store.transaction() as txn:
            txn.upsert("login_failures", pd.DataFrame([{
                "failure_id": uuid.uuid4().hex, "at": now, "username": name,
                "client": client}]))
        recent = _failures(store, "username", name, since)
        if user is not None and len(recent) >= policy.lock_after:
            until = now + pd.Timedelta(seconds=policy.lock_s)
            _update(store, name, name, "user_locked", detail={"until": str(until)},
                    locked_until=until)
        _audit(store, "login", name, actor=name, client=client, outcome="denied",
               detail={"reason": "wrong name or password"},
               defer=defer_audit)
        return LoginResult(None, "wrong user name or password")
    _audit(store, "login", name, actor=name, client=client, defer=defer_audit)
    return LoginResult(principal)


def _check_password(store: Store, name: str, password: str, *, client: str, valid: bool,
                    directory: Any, now: pd.Timestamp
                    ) -> tuple[Principal | None, dict[str, Any] | None]:
    """The principal whose password this is (None: refused), and the local user of ``name``.
    Every path costs one password check, so a refusal cannot tell names apart.

    Raises
    ------
    passwords.LaneBusy
        Too many checks are waiting in this process.
    """
    user = get_user(store, name)
    principal = None
    if user is not None and user.get("source") == "local":
        locked = user.get("locked_until")
        if bool(user.get("disabled")) or (pd.notna(locked) and locked > now):
            passwords.verify(None, password)  # the same work as a real check
        elif passwords.verify(user.get("password_hash"), password):
            principal = principal_of(user, client)
    elif directory is not None and valid:
        found = directory.authenticate(name, password)
        if found is not None:
            principal, display = found
            principal = Principal(**{**principal.__dict__, "client": client})
            upsert_directory_user(store, principal, display)
            if user is not None and bool(user.get("disabled")):
                principal = None
    else:
        passwords.verify(None, password)
    return principal, user


def start_session(store: Store, principal: Principal, *,
                  policy: SessionPolicy = SessionPolicy()) -> tuple[str, str]:
    """A new session for ``principal``: (cookie token, CSRF token); only hashes are stored."""
    token, csrf = new_token(), new_token(16)
    now = _now()
    with store.transaction() as txn:
        txn.upsert("sessions", pd.DataFrame([{
            "token_hash": token_hash(token), "username": principal.username,
            "created_at": now, "expires_at": now + policy.lifetime, "last_seen": now,
            "client": principal.client, "csrf": token_hash(csrf)}]))
    return token, csrf


def session_principal(store: Store, token: str | None, *, client: str = "",
                      policy: SessionPolicy = SessionPolicy()
                      ) -> tuple[Principal, str] | None:
    """The principal (and the CSRF token's hash) of a live session, else ``None``.

    Expired, idle and revoked sessions, and sessions of users since disabled, give ``None``.
    ``last_seen`` is written at most once a ``touch_every``.
    """
    if not token or len(token) > 200:
        return None
    key = token_hash(token)
    rows = store.read("sessions", filters=[("token_hash", "=", key)])
    if len(rows) == 0:
        return None
    sess = rows.iloc[0].to_dict()
    now = _now()
    if now >= sess["expires_at"] or now - sess["last_seen"] > policy.idle:
        end_session(store, token)
        return None
    user = get_user(store, str(sess["username"]))
    if user is None or bool(user.get("disabled")):
        end_session(store, token)
        return None
    if now - sess["last_seen"] > policy.touch_every:
        sess["last_seen"] = now
        with store.transaction() as txn:
            txn.upsert("sessions", pd.DataFrame([sess]))
    return principal_of(user, client), str(sess.get("csrf") or "")


def end_session(store: Store, token: str) -> None:
    """Log a session out."""
    with store.transaction() as txn:
        txn.delete("sessions", [token_hash(token)])
