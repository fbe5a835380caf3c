"""Directory login (LDAP / Active Directory) with ldap3.

:class:`Directory` checks a name and password by binding to the directory *as that user*
(a simple bind on ``settings.user_dn`` with the name escaped), reads the user's ``displayName``
(or ``cn``), and finds the groups under ``settings.group_base`` that list the user's DN in
``member``. The groups give the role (``role_groups``: group cn -> role) and the scope
(``region_groups``: group cn -> region; optionally ``district_groups``: group cn -> district).
:func:`riskmap.auth.accounts.authenticate` asks the directory for names that are not local
users, and records the directory user in the ``users`` layer (source ``ldap``).

Rules, so that the directory can never widen what someone may do:

* an empty password is refused before any bind: to an LDAP server a DN with an empty password
  is an "unauthenticated bind", which many servers (Active Directory among them) accept;
* the name is escaped for the DN (RFC 4514) and the DN again for the group filter (RFC 4515),
  so ``*)(uid=*`` or ``admin,ou=people`` is just a name that does not exist;
* several role groups give the most powerful role, in the order of
  :data:`~riskmap.auth.roles.ROLES` (``admin`` first); no role group: no login;
* every role but ``admin`` needs at least one region group: an empty scope would mean every
  region, which only an admin (or an admin's explicit choice for a local user) may have;
* an unreachable or failing directory is *not* an error: :meth:`Directory.authenticate` logs a
  warning and returns ``None`` (a failed login), so that a directory outage never locks out
  the local accounts;
* passwords are never logged. Nested groups (AD ``memberOf`` chains) are not followed.

TLS (``ldaps://`` or ``start_tls``) verifies the server's certificate against the system's
CA certificates and its host name.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import ssl
import warnings
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from riskmap.auth.roles import ROLES, Principal
from riskmap.errors import ConfigError

__all__ = ["Directory"]

log = logging.getLogger(__name__)

@functools.cache
def _ldap3() -> ModuleType:
    """ldap3, imported on first use without the DeprecationWarning its ``ldap3.utils.asn1``
    raises at import time with pyasn1 >= 0.6.2 (``tagMap``/``typeMap``): that warning is
    ldap3's, and the test suite turns warnings into errors."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"(tagMap|typeMap) is deprecated",
                                DeprecationWarning)
        import ldap3
        import ldap3.core.exceptions
        import ldap3.utils.asn1
        import ldap3.utils.conv
        import ldap3.utils.dn
    return ldap3


#: the longest name tried against the directory (riskmap's own names are at most 64)
_MAX_NAME = 256


class Directory:
    """An LDAP directory to log in against.

    Parameters
    ----------
    settings
        A :class:`riskmap.settings.LdapSettings` (``url``, ``user_dn``, ``group_base``,
        ``role_groups``, ``region_groups``, ``start_tls``, ``timeout_s``; an optional
        ``district_groups`` mapping is honoured when present).
    """

    def __init__(self, settings: Any) -> None:
        url = getattr(settings, "url", None)
        if not url:
            raise ConfigError("app.ldap.url: set ldap://host:389 or ldaps://host:636")
        if not str(url).lower().startswith(("ldap://", "ldaps://")):
            raise ConfigError(f"app.ldap.url {url!r}: expected ldap://host:389 or "
                              "ldaps://host:636")
        user_dn = str(settings.user_dn)
        if user_dn.count("{username}") != 1:
            raise ConfigError(f"app.ldap.user_dn {user_dn!r}: needs {{username}} exactly once")
        self.url = str(url)
        self.user_dn = user_dn
        self.group_base = str(settings.group_base)
        self.role_groups = _lower_keys(settings.role_groups, "role_groups")
        for cn, role in self.role_groups.items():
            if role not in ROLES:
                raise ConfigError(f"app.ldap.role_groups[{cn!r}] = {role!r}: expected one of "
                                  f"{', '.join(ROLES)}")
        self.region_groups = _lower_keys(settings.region_groups, "region_groups")
        self.district_groups = _lower_keys(getattr(settings, "district_groups", None) or {},
                                           "district_groups")
        self.start_tls = bool(getattr(settings, "start_tls", False))
        self.timeout_s = float(getattr(settings, "timeout_s", 5.0))

    def __repr__(self) -> str:
        return f"Directory({self.url!r})"

    # ---- the login ---------------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> tuple[Principal, str] | None:
        """``(principal, display name)`` when the directory accepts the name and password and
        the user is in a role group (and a region group, unless admin); else ``None``.

        A directory that cannot be reached, or fails, gives ``None`` and a logged warning.
        """
        LDAPException = _ldap3().core.exceptions.LDAPException

        name = username or ""
        if (not password or not name or len(name) > _MAX_NAME or not name.isprintable()
                or name != name.strip()):
            # an empty password would be an anonymous bind; the directory ignores surrounding
            # spaces when comparing names (" cmdr" is cmdr), riskmap would not
            return None
        dn = self._dn_of(name)
        try:
            conn = self._connection(dn, password)
        except LDAPException as exc:
            log.warning("LDAP directory %s unreachable (%s); directory logins fail, local "
                        "accounts still work", self.url, type(exc).__name__)
            return None
        try:
            if not conn.bind():
                result = conn.result or {}
                if result.get("result") in (49, 32, 34, 53):  # invalid credentials, no such
                    # object, invalid DN syntax, unwilling to perform: a plain failed login
                    log.info("LDAP login refused for %r", name)
                else:
                    log.warning("LDAP bind for %r failed: %s %s", name,
                                result.get("description"), result.get("message"))
                return None
            display = self._display_name(conn, dn) or name
            groups = self._groups(conn, dn)
        except LDAPException as exc:
            log.warning("LDAP directory %s failed during a login (%s); directory logins fail, "
                        "local accounts still work", self.url, type(exc).__name__)
            return None
        finally:
            with contextlib.suppress(Exception):  # closing a broken socket may fail too
                conn.unbind()
        return self._principal(name, display, groups)

    # ---- helpers -----------------------------------------------------------------------------

    def _dn_of(self, name: str) -> str:
        return self.user_dn.replace("{username}", _ldap3().utils.dn.escape_rdn(name))

    def _connection(self, dn: str, password: str) -> Any:
        """An opened (not yet bound) connection; raises ldap3's LDAPException when the server
        cannot be reached."""
        ldap3 = _ldap3()
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED)
        server = ldap3.Server(self.url, connect_timeout=self.timeout_s, get_info=ldap3.NONE,
                              tls=tls)
        conn = ldap3.Connection(server, user=dn, password=password,
                                authentication=ldap3.SIMPLE, auto_bind=ldap3.AUTO_BIND_NONE,
                                # ldap3 packs it into SO_RCVTIMEO: whole seconds
                                receive_timeout=max(1, math.ceil(self.timeout_s)),
                                auto_referrals=False,
                                raise_exceptions=False, read_only=True)
        try:
            conn.open()
            if self.start_tls and not server.ssl and not conn.start_tls():
                raise ldap3.core.exceptions.LDAPStartTLSError(
                    f"STARTTLS refused: {(conn.result or {}).get('description')}")
        except Exception:
            with contextlib.suppress(Exception):
                conn.unbind()
            raise
        return conn

    def _display_name(self, conn: Any, dn: str) -> str | None:
        ldap3 = _ldap3()
        if not conn.search(dn, "(objectClass=*)", search_scope=ldap3.BASE,
                           attributes=["displayName", "cn"], size_limit=1,
                           time_limit=max(1, math.ceil(self.timeout_s))):
            return None  # the directory may not let users read their own entry
        attrs = conn.response[0].get("attributes", {}) if conn.response else {}
        for key in ("displayName", "cn"):
            value = attrs.get(key)
            if isinstance(value, list):
                value = value[0] if value else None
            if value:
                return str(value)
        return None

    def _groups(self, conn: Any, dn: str) -> set[str]:
        """The (lower-case) cn of every group under the group base whose ``member`` is ``dn``."""
        ldap3 = _ldap3()
        query = f"(member={ldap3.utils.conv.escape_filter_chars(dn)})"
        ok = conn.search(self.group_base, query, search_scope=ldap3.SUBTREE,
                         attributes=["cn"], size_limit=1000,
                         time_limit=max(1, math.ceil(self.timeout_s)))
        if not ok and (conn.result or {}).get("result") not in (0, 4):  # 4: size limit
            log.warning("LDAP group search under %s failed: %s", self.group_base,
                        (conn.result or {}).get("description"))
        names: set[str] = set()
        for entry in conn.response or []:
            if entry.get("type") != "searchResEntry":
                continue  # referrals
            cns = entry.get("attributes", {}).get("cn") or []
            names.update(str(cn).lower() for cn in ([cns] if isinstance(cns, str) else cns))
        return names

    def _principal(self, name: str, display: str, groups: set[str]
                   ) -> tuple[Principal, str] | None:
        roles = {self.role_groups[g] for g in groups if g in self.role_groups}
        if not roles:
            log.info("LDAP user %r is in no riskmap role group; login refused", name)
            return None
        role = min(roles, key=ROLES.index)  # the most powerful: ROLES lists admin first
        regions = tuple(sorted({self.region_groups[g] for g in groups
                                if g in self.region_groups}))
        districts = tuple(sorted({self.district_groups[g] for g in groups
                                  if g in self.district_groups})) if regions else ()
        if role != "admin" and not regions:
            log.warning("LDAP user %r has role %s but no region group: an empty scope means "
                        "every region (admin only); login refused", name, role)
            return None
        return Principal(username=name, role=role, regions=regions, districts=districts), display


def _lower_keys(mapping: Mapping[str, str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in dict(mapping or {}).items():
        if not str(key).strip() or not str(value).strip():
            raise ConfigError(f"app.ldap.{what}: empty group name or value")
        out[str(key).strip().lower()] = str(value).strip()
    return out
