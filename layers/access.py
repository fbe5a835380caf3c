"""The one data-access layer: every read the app, an export or a report makes goes through here.

It scopes reads to the regions a user may see and writes each read to the audit log, so that
access to police data is limited and audited in one place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from riskmap.layers.spec import get_spec
from riskmap.layers.store import Filter, Store

__all__ = ["DataAccess"]


class DataAccess:
    """Scoped, audited reads from a store.

    Parameters
    ----------
    store
        The store to read from.
    user
        Name written to the audit log.
    regions
        Regions this user may read; ``None`` or empty means all regions.
    audit
        Write an audit record for each read (keyword-only; on by default).
    """

    def __init__(self, store: Store, *, user: str = "local",
                 regions: Sequence[str] | None = None, audit: bool = True) -> None:
        self.store = store
        self.user = user
        self.regions = sorted(set(regions)) if regions else None
        self.audit_enabled = audit

    @property
    def scope(self) -> str:
        """Human-readable scope, e.g. ``"all regions"`` or ``"Jizzakh"``."""
        return ", ".join(self.regions) if self.regions else "all regions"

    def _scoped(self, layer: str, filters: Sequence[Filter] | None) -> list[Filter]:
        out = list(filters or ())
        if self.regions is None:
            return out
        spec = get_spec(layer)
        if spec is not None and "region" in spec.column_names:
            out.append(("region", "in", list(self.regions)))
        else:  # fail closed: a scoped user never reads a layer that cannot be scoped
            raise PermissionError(
                f"user {self.user!r} is scoped to {self.scope}: layer {layer!r} is not "
                "region-scoped")
        return out

    def read(self, layer: str, *, columns: Sequence[str] | None = None,
             filters: Sequence[Filter] | None = None, purpose: str = "read") -> pd.DataFrame:
        """Read ``layer`` within this user's scope and audit the read.

        ``purpose`` says why (``"app"``, ``"export"``, ``"report"``, ...) in the audit log.
        """
        if self.regions is not None and get_spec(layer) is None:
            return self._read_unregistered(layer, columns, filters, purpose)
        scoped = self._scoped(layer, filters)
        cols = None
        if columns is not None:
            cols = list(columns)
            if self.regions is not None and "region" not in cols:
                spec = get_spec(layer)
                if spec is not None and "region" in spec.column_names:
                    cols.append("region")
        frame = self.store.read(layer, columns=cols, filters=scoped)
        if columns is not None and cols is not None and len(cols) != len(columns):
            frame = frame[[c for c in frame.columns if c in columns or c == "geometry"]]
        self.audit(purpose, layer=layer, detail={"filters": _jsonable(filters), "columns":
                                                   list(columns) if columns else None},
                   rows=len(frame))
        return frame

    def _read_unregistered(self, layer: str, columns: Sequence[str] | None,
                           filters: Sequence[Filter] | None, purpose: str) -> pd.DataFrame:
        """A scoped read of a layer without a spec: filter by its ``region`` column, or refuse.

        Fails closed: a scoped user never sees a table that cannot be scoped.
        """
        frame = self.store.read(layer, filters=filters)
        if len(frame.columns) and "region" not in frame.columns:
            raise PermissionError(
                f"user {self.user!r} is scoped to {self.scope}: layer {layer!r} has no region "
                "column to scope it by")
        if "region" in frame.columns:
            frame = frame[frame["region"].isin(self.regions or []).to_numpy(dtype=bool)]
        if columns is not None:
            frame = frame[[c for c in frame.columns if c in columns or c == "geometry"]]
        self.audit(purpose, layer=layer, detail={"filters": _jsonable(filters), "columns":
                                                   list(columns) if columns else None},
                   rows=len(frame))
        return frame

    def audit(self, action: str, *, layer: str | None = None, detail: Any = None,
              rows: int | None = None) -> None:
        """Append one record to the audit log (no-op when auditing is off)."""
        if not self.audit_enabled:
            return
        record = pd.DataFrame({
            "at": [pd.Timestamp.now(tz="UTC")],
            "user": [self.user],
            "action": [action],
            "layer": [layer],
            "scope": [self.scope],
            "detail": [json.dumps(detail, ensure_ascii=False, default=str) if detail else None],
            "rows": [rows],
        })
        self.store.append("audit", record)


def _jsonable(filters: Sequence[Filter] | None) -> list[list[Any]] | None:
    if not filters:
        return None
    return [[c, op, v if isinstance(v, str | int | float) else
             [str(x) for x in v] if isinstance(v, list | tuple | set) else str(v)]
            for c, op, v in filters]
