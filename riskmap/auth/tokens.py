"""Secret tokens (sessions, API tokens, CSRF): random, stored only as their SHA-256.

A token is shown to its holder once (a session cookie, a system's API token) and kept in the
store as a hash, so that a copy of the store lets nobody log in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["new_token", "same", "token_hash"]


def new_token(nbytes: int = 32) -> str:
    """A random URL-safe token (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    """The hex SHA-256 under which a token is stored (a lookup key, not a password hash:
    tokens are long random strings, so no slow hash is needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
