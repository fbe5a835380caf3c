"""Password hashing and rules; roles, permissions and scope."""

from __future__ import annotations

import pytest

from riskmap.auth.passwords import (
    MAX_WAITING,
    MIN_LENGTH,
    LaneBusy,
    check_rules,
    hash_password,
    needs_rehash,
    random_password,
    verify,
)
from riskmap.auth.roles import PERMISSIONS, ROLES, Principal, Visibility
from riskmap.errors import ConfigError
from tests.auth.lane import lane_full, queued, within


def test_hash_verifies_and_never_holds_the_password() -> None:
    secret = "Qashqadaryo-2025-tun"
    stored = hash_password(secret)
    assert stored.startswith("$argon2id$") and secret not in stored
    assert verify(stored, secret)
    assert not verify(stored, secret + "x")
    assert not verify(None, secret)  # no such user: False, after the same work
    assert not verify("not a hash", secret)
    assert not needs_rehash(stored)
    assert hash_password(secret) != stored  # salted


@pytest.mark.parametrize("bad", ["short1A", "password-1234567", "aaaaaaaaaaaaaaaa",
                                 "xoliqov-secret-9"])
def test_weak_passwords_are_refused(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_rules(bad, username="xoliqov")
    assert bad not in str(info.value)  # the message never echoes the password


def test_random_passwords_meet_the_rules() -> None:
    seen = {random_password() for _ in range(5)}
    assert len(seen) == 5
    for p in seen:
        assert len(p) >= MIN_LENGTH
        check_rules(p)


def test_roles_and_scope() -> None:
    assert set(PERMISSIONS) == set(ROLES)
    jizzakh = Principal("cmdr", "commander", regions=("Jizzax viloyati",))
    assert jizzakh.can("data:incidents") and not jizzakh.can("users:manage")
    assert jizzakh.visibility("Jizzax viloyati") == Visibility.FULL
    assert jizzakh.visibility("Surxondaryo viloyati") == Visibility.NONE
    assert jizzakh.readable_regions(["Surxondaryo viloyati", "Jizzax viloyati", None]) == [
        "Jizzax viloyati"]
    analyst = Principal("an", "analyst", regions=("Jizzax viloyati",),
                        suppressed_elsewhere=True)
    assert analyst.visibility("Surxondaryo viloyati") == Visibility.SUPPRESSED
    district = Principal("d", "commander", regions=("Jizzax viloyati",),
                         districts=("Arnasoy tumani",))
    assert district.visibility("Jizzax viloyati", "Arnasoy tumani") == Visibility.FULL
    assert district.visibility("Jizzax viloyati", "Zomin tumani") == Visibility.NONE
    assert Principal("root", "admin").scope_text == "all regions"
    with pytest.raises(ValueError, match="role"):
        Principal("x", "superuser")


def test_the_password_lane_refuses_a_check_beyond_its_queue() -> None:
    """At most ``MAX_WAITING`` checks wait for a process's lane (each ~0.1 s): one more is
    refused at once, so a flood of logins never holds every server thread; once the queue
    drains, checks are taken again and answer as before."""
    assert 0 < MAX_WAITING < 8  # fewer than `riskmap serve`'s default threads per process
    stored = hash_password("Qashqadaryo-2025-tun")
    with lane_full(MAX_WAITING):
        with pytest.raises(LaneBusy):
            within(5, lambda: verify(stored, "Qashqadaryo-2025-tun"))
        assert queued() == MAX_WAITING  # the refused check took no place
    assert queued() == 0
    assert verify(stored, "Qashqadaryo-2025-tun") and not verify(stored, "wrong-password-1")
