"""Passwords: Argon2id hashes (argon2-cffi), the rules a new password must meet, random ones.

Nothing here ever logs or returns a password in clear; a hash is ``$argon2id$...`` text that
:func:`verify` checks in constant time.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import string
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from riskmap.errors import ConfigError

__all__ = ["MAX_WAITING", "MIN_LENGTH", "LaneBusy", "check_rules", "hash_password",
           "needs_rehash", "random_password", "verify"]

#: the shortest password accepted
MIN_LENGTH = 12
#: OWASP's minimum for Argon2id (19 MiB, 2 passes) raised to 46 MiB / 1 pass: one check costs
#: ~0.1 s of one core here, a guessing attack on a stolen hash is slow
_HASHER = PasswordHasher(time_cost=1, memory_cost=46 * 1024, parallelism=1)
#: verified against when the user does not exist, so both answers take as long
_DUMMY = _HASHER.hash(secrets.token_urlsafe(16))
_COMMON = {"password", "qwerty", "123456", "riskmap", "admin", "letmein", "parol", "пароль"}


def check_rules(password: str, *, username: str = "") -> None:
    """Refuse a password that is too short, common, or contains the user name.

    Raises
    ------
    ConfigError
        Naming the rule broken (never the password).
    """
    if len(password) < MIN_LENGTH:
        raise ConfigError(f"a password needs at least {MIN_LENGTH} characters")
    lowered = password.lower()
    if any(word in lowered for word in _COMMON) or len(set(password)) < 5:
        raise ConfigError("this password is too easy to guess")
    if username and username.lower() in lowered:
        raise ConfigError("a password must not contain the user name")


def hash_password(password: str, *, username: str = "") -> str:
    """The Argon2id hash of a password that meets :func:`check_rules`."""
    check_rules(password, username=username)
    return _HASHER.hash(password)


#: the CPU priority (nice, 0-19) of the thread that checks passwords (Linux; elsewhere 0)
LANE_NICENESS = 10

#: checks that may wait for a process's lane at once (each takes ~0.1 s); one more is refused
#: at once (:class:`LaneBusy`): a flood of logins holds at most this many of a server
#: process's threads (``riskmap serve --threads``, 8 by default), never all of them
MAX_WAITING = 4

_LANE: ThreadPoolExecutor | None = None
_LANE_LOCK = threading.Lock()
_WAITING = 0


class LaneBusy(Exception):
    """:data:`MAX_WAITING` password checks are already waiting in this process."""


def _lower_priority() -> None:
    """Lower the calling thread's CPU priority (Linux: a thread has a nice value of its own)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LANE_NICENESS)


def _lane() -> ThreadPoolExecutor:
    """The process's one password-checking thread (created on first use, again after a fork)."""
    global _LANE
    with _LANE_LOCK:
        if _LANE is None:
            _LANE = ThreadPoolExecutor(1, thread_name_prefix="riskmap-argon2",
                                       initializer=_lower_priority)
        return _LANE


def _forget_lane() -> None:
    global _LANE
    _LANE = None  # a forked child has no threads: it starts its own lane on first use
    global _WAITING
    _WAITING = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_lane)


def _check(stored_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (``None``: no such user; still slow).

    Checks run one at a time per process, on a thread of lower CPU priority
    (:data:`LANE_NICENESS`): a burst of logins (fifty users arriving, or a guessing attack
    from many addresses) queues behind itself instead of taking the CPU from the pages of
    the users already logged in, and holds at most one hash's memory (46 MiB) per process.

    Raises
    ------
    LaneBusy
        When :data:`MAX_WAITING` checks are already waiting: the login is refused at once
        (the user tries again in a moment) rather than holding one more server thread.
    """
    global _WAITING
    with _LANE_LOCK:
        if _WAITING >= MAX_WAITING:
            raise LaneBusy(f"{_WAITING} password checks are waiting")
        _WAITING += 1
    try:
        return _lane().submit(_check, stored_hash, password).result()
    finally:
        with _LANE_LOCK:
            _WAITING -= 1


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def random_password(length: int = 20) -> str:
    """A random password (letters and digits) that meets the rules, e.g. for the demo user."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        try:
            check_rules(candidate)
        except ConfigError:
            continue
        return candidate
