"""The LDAP test server: ``./scripts/test`` starts a throwaway slapd (scripts/_ldap.sh) with the
test people and groups and exports ``RISKMAP_TEST_LDAP_URL`` and the admin bind values.

Without it (pytest run directly, or slapd could not be installed) the LDAP tests skip, saying
why.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest

LDAP_URL_ENV = "RISKMAP_TEST_LDAP_URL"
LDAP_UNAVAILABLE_ENV = "RISKMAP_TEST_LDAP_UNAVAILABLE"


@dataclass(frozen=True)
class LdapServer:
    """The running test server."""

    url: str
    admin_dn: str
    admin_password: str
    base: str


@pytest.fixture(scope="session")
def ldap_server() -> LdapServer:
    """The slapd started by ``./scripts/test``; skips (with the reason) when there is none."""
    url = os.environ.get(LDAP_URL_ENV)
    if not url:
        why = os.environ.get(LDAP_UNAVAILABLE_ENV) or (
            f"{LDAP_URL_ENV} is not set: run ./scripts/test, which installs and starts slapd")
        pytest.skip(f"no LDAP test server: {why}")
    return LdapServer(url=url,
                      admin_dn=os.environ.get("RISKMAP_TEST_LDAP_ADMIN_DN",
                                              "cn=admin,dc=example,dc=org"),
                      admin_password=os.environ.get("RISKMAP_TEST_LDAP_ADMIN_PASSWORD", ""),
                      base=os.environ.get("RISKMAP_TEST_LDAP_BASE", "dc=example,dc=org"))
