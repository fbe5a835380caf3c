"""The Store interface shared by the embedded (GeoParquet) and PostGIS backends.

Every write goes through :meth:`Store.transaction`: the writes made inside it become visible
together when the block ends, and not at all if it raises or the process dies first.

Filters are a list of ``(column, op, value)`` with op one of ``= != < <= > >= in``; they are
ANDed. Both backends apply them the same way, so the data-access layer can scope reads.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from riskmap.errors import StoreError
from riskmap.layers.spec import LayerSpec, conform, get_spec

__all__ = ["UNVERSIONED", "Filter", "Store", "Transaction", "open_store"]

Filter = tuple[str, str, Any]
#: layers whose writes do not change :meth:`Store.version` (bookkeeping, not data)
UNVERSIONED = ("audit", "store_meta")
_OPS = {"=", "!=", "<", "<=", ">", ">=", "in"}


class Transaction(abc.ABC):
    """Writes staged inside :meth:`Store.transaction`."""

    @abc.abstractmethod
    def replace(self, layer: str, frame: pd.DataFrame) -> None:
        """Replace the whole layer by ``frame``."""

    @abc.abstractmethod
    def upsert(self, layer: str, frame: pd.DataFrame) -> None:
        """Insert rows, replacing those whose key (the spec's ``key``) already exists."""

    @abc.abstractmethod
    def append(self, layer: str, frame: pd.DataFrame) -> None:
        """Append rows (for keyless layers such as the audit log)."""

    @abc.abstractmethod
    def delete(self, layer: str, key_values: Sequence[str]) -> None:
        """Delete the rows whose key is in ``key_values``."""


class Store(abc.ABC):
    """A place layers live. Use :func:`open_store` to get one."""

    url: str

    # ---- reads -------------------------------------------------------------------------
    @abc.abstractmethod
    def read(self, layer: str, *, columns: Sequence[str] | None = None,
             filters: Sequence[Filter] | None = None) -> pd.DataFrame:
        """Read a layer (a GeoDataFrame for spatial layers); an absent layer reads empty."""

    @abc.abstractmethod
    def layer_names(self) -> list[str]:
        """Names of the layers that hold data."""

    def has(self, layer: str) -> bool:
        """True when ``layer`` has been written."""
        return layer in self.layer_names()

    @abc.abstractmethod
    def count(self, layer: str) -> int:
        """Number of rows in ``layer`` (0 when absent)."""

    @abc.abstractmethod
    def version(self) -> str:
        """A cheap token that changes whenever a data layer is written.

        Long-running readers (the app) compare it to know when to read again. The layers of
        :data:`UNVERSIONED` are left out: every audited read appends to the audit log, and
        ``store_meta`` holds bookkeeping (such as the version a demo was built at).
        """

    # ---- writes ------------------------------------------------------------------------
    @abc.abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Stage writes; commit all of them at the end of the block, or none."""

    def replace(self, layer: str, frame: pd.DataFrame) -> None:
        """Replace one layer in its own transaction."""
        with self.transaction() as txn:
            txn.replace(layer, frame)

    def append(self, layer: str, frame: pd.DataFrame) -> None:
        """Append to one layer in its own transaction."""
        with self.transaction() as txn:
            txn.append(layer, frame)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare(layer: str, frame: pd.DataFrame) -> tuple[LayerSpec | None, pd.DataFrame]:
    """Conform ``frame`` to the layer's spec when the layer is registered (shared by backends)."""
    spec = get_spec(layer)
    if spec is None:
        return None, frame.reset_index(drop=True)
    frame = conform(spec, frame)
    if spec.key is not None:
        missing = frame[spec.key].isna()
        if missing.any():
            raise StoreError(f"layer {layer!r}: {int(missing.sum())} row(s) have no {spec.key!r}")
        dup = frame[spec.key].duplicated(keep=False)
        if dup.any():
            shown = sorted(set(frame.loc[dup.to_numpy(dtype=bool), spec.key].astype(str)))[:5]
            raise StoreError(f"layer {layer!r}: key {spec.key!r} repeats within the rows to write "
                             f"({', '.join(shown)}{', ...' if dup.sum() > 5 else ''})")
    return spec, frame


def check_filters(filters: Sequence[Filter] | None) -> list[Filter]:
    """Validate a filter list (shared by backends)."""
    out = []
    for f in filters or ():
        if len(f) != 3 or f[1] not in _OPS:
            raise ValueError(f"bad filter {f!r}: expected (column, op, value) with op in {_OPS}")
        out.append((f[0], f[1], f[2]))
    return out


def apply_filters(frame: pd.DataFrame, filters: Sequence[Filter] | None) -> pd.DataFrame:
    """Apply filters to an in-memory frame (used by the embedded backend after a pushdown)."""
    mask = pd.Series(True, index=frame.index)
    for col, op, value in check_filters(filters):
        s = frame[col]
        if op == "in":
            mask &= s.isin(list(value))
        elif op == "=":
            mask &= s == value
        elif op == "!=":
            mask &= s != value
        elif op == "<":
            mask &= s < value
        elif op == "<=":
            mask &= s <= value
        elif op == ">":
            mask &= s > value
        elif op == ">=":
            mask &= s >= value
    return frame[mask.fillna(False).to_numpy(dtype=bool)]


def open_store(url: str | os.PathLike[str]) -> Store:
    """Open the store named by ``url``: a ``postgresql`` URL for PostGIS, else a directory."""
    url = os.fspath(url)
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        from riskmap.layers.postgis import PostgisStore

        return PostgisStore(url)
    from riskmap.layers.embedded import EmbeddedStore

    return EmbeddedStore(url)
