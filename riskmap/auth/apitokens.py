"""API tokens of the systems that post live feeds (``riskmap tokens create|revoke|list``).

A token is a random string shown once, when it is made; the store keeps only its SHA-256 in
the ``api_tokens`` layer, with the token's scope (regions, districts: like a user's) and the
kinds of rows it may post (``incidents``, ``cameras``). A revoked token stays listed (its name
cannot be reused, so the audit log's ``token:<name>`` stays unambiguous). Every change is
audited; ``last_used_at`` is written at most once a minute.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from riskmap.auth.tokens import new_token, token_hash
from riskmap.errors import ConfigError
from riskmap.layers.store import Store

__all__ = ["KINDS", "ApiToken", "create_token", "list_tokens", "lookup_token", "revoke_token",
           "touch_token"]

#: what a token may post
KINDS = ("incidents", "cameras")
#: ``last_used_at`` is written at most this often per token
TOUCH_EVERY = pd.Timedelta(minutes=1)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
LAYER = "api_tokens"


@dataclass(frozen=True)
class ApiToken:
    """A valid token's row: who posts, in which scope, what."""

    name: str
    regions: tuple[str, ...]
    districts: tuple[str, ...]
    kinds: tuple[str, ...]
    last_used_at: pd.Timestamp | None = None

    @property
    def user(self) -> str:
        """The name the audit log records (``token:<name>``)."""
        return f"token:{self.name}"

    @property
    def scope_text(self) -> str:
        """``"all regions"`` or the regions (and districts)."""
        if not self.regions:
            return "all regions"
        text = ", ".join(self.regions)
        return f"{text} ({', '.join(self.districts)})" if self.districts else text


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("us")


def _check_name(name: str) -> str:
    clean = (name or "").strip().lower()
    if not _NAME_RE.match(clean):
        raise ConfigError(f"token name {name!r}: use 1-64 letters, digits and . _ - "
                          "(starting with a letter or digit)")
    return clean


def _check_kinds(kinds: Sequence[str]) -> list[str]:
    out = sorted({k.strip().lower() for k in kinds if k.strip()})
    bad = [k for k in out if k not in KINDS]
    if bad or not out:
        raise ConfigError(f"--kinds {','.join(kinds)!r}: expected one or more of "
                          f"{', '.join(KINDS)}")
    return out


def _audit(store: Store, action: str, name: str, *, actor: str,
           detail: dict[str, Any] | None = None) -> None:
    from riskmap.layers.access import DataAccess

    DataAccess(store, user=actor, client="cli").audit(
        action, layer=LAYER, detail={"token": name, **(detail or {})})


def _row(store: Store, name: str) -> dict[str, Any] | None:
    if not store.has(LAYER):
        return None
    rows = store.read(LAYER, filters=[("name", "=", name)])
    return None if len(rows) == 0 else rows.iloc[0].to_dict()


def create_token(store: Store, name: str, *, regions: Sequence[str] = (),
                 districts: Sequence[str] = (), kinds: Sequence[str] = KINDS,
                 actor: str = "cli") -> str:
    """Make a token for the system ``name``; return it (the only time it is shown).

    Raises
    ------
    ConfigError
        A bad name or kind, districts without regions, or the name is taken (also by a
        revoked token).
    """
    clean = _check_name(name)
    wanted = _check_kinds(kinds)
    if districts and not regions:
        raise ConfigError("districts need the region(s) they lie in (--region)")
    if _row(store, clean) is not None:
        raise ConfigError(f"a token named {clean!r} exists (revoked tokens keep their name): "
                          "choose another name")
    token = new_token()
    row = {"name": clean, "token_hash": token_hash(token),
           "regions": json.dumps(sorted(set(regions)), ensure_ascii=False),
           "districts": json.dumps(sorted(set(districts)), ensure_ascii=False),
           "kinds": ",".join(wanted), "created_by": actor, "created_at": _now(),
           "revoked_at": pd.NaT, "last_used_at": pd.NaT, "last_used_from": None}
    with store.transaction() as txn:
        txn.upsert(LAYER, pd.DataFrame([row]))
    _audit(store, "token_create", clean, actor=actor,
           detail={"regions": sorted(set(regions)), "districts": sorted(set(districts)),
                   "kinds": wanted})
    return token


def revoke_token(store: Store, name: str, *, actor: str = "cli") -> bool:
    """Revoke a token; ``False`` when it was revoked already.

    Raises
    ------
    ConfigError
        No token has this name.
    """
    clean = (name or "").strip().lower()
    row = _row(store, clean)
    if row is None:
        raise ConfigError(f"no token named {name!r} (see `riskmap tokens list`)")
    if pd.notna(row.get("revoked_at")):
        return False
    row["revoked_at"] = _now()
    with store.transaction() as txn:
        txn.upsert(LAYER, pd.DataFrame([row]))
    _audit(store, "token_revoke", clean, actor=actor)
    return True


def list_tokens(store: Store) -> pd.DataFrame:
    """Every token (revoked ones too), without its hash."""
    cols = ["name", "regions", "districts", "kinds", "created_by", "created_at", "revoked_at",
            "last_used_at", "last_used_from"]
    if not store.has(LAYER):
        return pd.DataFrame(columns=cols)
    rows = store.read(LAYER)
    return rows[cols].sort_values("name").reset_index(drop=True)


def lookup_token(store: Store, token: str | None) -> ApiToken | None:
    """The valid (not revoked) token ``token``, else ``None``."""
    if not token or len(token) > 200 or not store.has(LAYER):
        return None
    rows = store.read(LAYER, filters=[("token_hash", "=", token_hash(token))])
    if len(rows) != 1:
        return None
    row = rows.iloc[0].to_dict()
    if pd.notna(row.get("revoked_at")):
        return None
    last = row.get("last_used_at")
    return ApiToken(name=str(row["name"]),
                    regions=tuple(json.loads(row.get("regions") or "[]")),
                    districts=tuple(json.loads(row.get("districts") or "[]")),
                    kinds=tuple(k for k in str(row["kinds"]).split(",") if k),
                    last_used_at=None if pd.isna(last) else pd.Timestamp(last))


def touch_token(store: Store, found: ApiToken, client: str) -> None:
    """Record that ``found`` was used now (at most once a :data:`TOUCH_EVERY`)."""
    now = _now()
    if found.last_used_at is not None and now - found.last_used_at < TOUCH_EVERY:
        return
    row = _row(store, found.name)
    if row is None or pd.notna(row.get("revoked_at")):
        return
    row["last_used_at"], row["last_used_from"] = now, client[:64]
    with store.transaction() as txn:
        txn.upsert(LAYER, pd.DataFrame([row]))
