"""The Store interface shared by the embedded (GeoParquet) and PostGIS backends.

Every write goes through :meth:`Store.transaction`: the writes made inside it become visible
together when the block ends, and not at all if it raises or the process dies first.

Filters are a list of ``(column, op, value)`` with op one of ``= != < <= > >= in``; they are
ANDed. Both backends apply them the same way, so the data-access layer can scope reads.

The layers of :data:`PARTITIONED` are split by the calendar month (UTC) of a timestamp column on
both backends: GeoParquet parts per month (embedded), declarative range partitions (PostGIS).
A write touches only the months it changes, and a read filtered on that column skips the rest.
"""

from __future__ import annotations

import abc
import functools
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskmap.errors import StoreError
from riskmap.layers.auditbuffer import flush_for, flush_store
from riskmap.layers.spec import LayerSpec, conform, get_spec

__all__ = ["APPEND_ONLY", "DIRTY", "NO_MONTH", "PARTITIONED", "TRACKED", "UNVERSIONED", "Filter",
           "Store", "Transaction", "key_hashes", "month_bounds", "month_codes", "month_label",
           "open_store"]

Filter = tuple[str, str, Any]
#: layers whose writes do not change :meth:`Store.version` (bookkeeping, not data)
UNVERSIONED = ("audit", "store_meta", "users", "sessions", "login_failures", "jobs",
               "ingest_runs", "api_tokens", "review_packs",
               # roadmap edits are the programme's bookkeeping: reloading every incident for
               # each saved measure would stall the app (they are read fresh, per request)
               "roadmaps", "roadmap_measures",
               # what loads touched since the last build, and what that build computed from:
               # bookkeeping written with the data it describes (which changes the version)
               "derived_dirty", "derived_state")
#: the layer of "dirty" marks: what the writes since the last ``riskmap build`` touched
DIRTY = "derived_dirty"
#: base layers the derived layers are computed from: a write of one of them leaves marks in
#: :data:`DIRTY` in the same transaction (the months and regions of the incident rows
#: inserted, updated or deleted; the whole layer for the others)
TRACKED = ("incidents", "mahallas", "cameras", "infrastructure")
#: layers split into one partition per calendar month (UTC) of this timestamp column
PARTITIONED: dict[str, str] = {"incidents": "occurred_at"}
#: layers that may only be appended to (the audit log; a PostGIS trigger enforces it too)
APPEND_ONLY = ("audit",)
#: :func:`month_codes` of a missing timestamp
NO_MONTH = np.iinfo(np.int32).min
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

    def append_audit(self, records: pd.DataFrame) -> None:
        """Append audit records chained to the last one (see :meth:`Store.append_audit`).

        The backend's transaction holds its audit lock from here to its end, so the records
        commit together with the other writes of the block.
        """
        raise StoreError(f"{type(self).__name__} cannot chain audit records")


class Store(abc.ABC):
    """A place layers live. Use :func:`open_store` to get one."""

    url: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every backend's :meth:`transaction` marks what writes of :data:`TRACKED` touched."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("transaction")
        if own is not None and not getattr(own, "_tracks_writes", False):
            cls.transaction = _tracking(own)  # type: ignore[method-assign]

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
        if layer == "audit":
            flush_for(self.url)  # records the app queued count
        return layer in self.layer_names()

    @abc.abstractmethod
    def count(self, layer: str) -> int:
        """Number of rows in ``layer`` (0 when absent)."""

    @abc.abstractmethod
    def version(self) -> str:
        """A cheap token that changes whenever a data layer is written.

        Long-running readers (the app) compare it to know when to read again. The layers of
        :data:`UNVERSIONED` are left out: every audited read appends to the audit log, and
        ``store_meta`` holds bookkeeping (such as the version a demo was built at); users,
        sessions, failed logins and jobs change with every login and are not data; nor is
        the record of an ingest run (a load that changed data changes the version itself).
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

    def append_audit(self, records: pd.DataFrame) -> None:
        """Append records to the audit log, continuing its hash chain.

        ``records`` hold the fields of :data:`~layers.auditlog.FIELDS` (``at``, ``user``,
        ``action``, ...); each is given ``seq``, ``prev_hash`` and ``hash`` by
        :func:`~layers.auditlog.chain`, after the last chained record of the log, so that
        :func:`~layers.auditlog.verify` finds no gap. Reading the last ``(seq, hash)`` and
        appending is one critical section across threads and processes: a transaction holding
        ``pg_advisory_xact_lock`` on PostGIS, the store's write lock (an exclusive ``flock``)
        on the embedded store. The audit log is append-only: ``replace``, ``upsert`` and
        ``delete`` of it are refused.

        Raises
        ------
        StoreError
            The records could not be written; the log is as it was.
        """
        if len(records) == 0:
            return
        with self.transaction() as txn:
            txn.append_audit(records)

    def close(self) -> None:
        """Write the audit records still queued for this store; release connections."""
        flush_store(self)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tracking(transaction: Any) -> Any:
    """Wrap a backend's ``transaction`` so that writes of :data:`TRACKED` layers leave marks
    in :data:`DIRTY`, written in the same transaction (a crash loses data and marks together)."""

    @functools.wraps(transaction)
    @contextmanager
    def tracked(self: Store) -> Iterator[Transaction]:
        with transaction(self) as txn:
            marking = _MarkingTransaction(self, txn)
            yield marking
            marking.flush()

    tracked._tracks_writes = True  # type: ignore[attr-defined]
    return tracked


class _MarkingTransaction(Transaction):
    """A backend transaction that notes which months, regions and layers its writes touched.

    An incident row counts in the month (and region) it had before the write, when it was
    stored, and in the one it has after: an update that moves a row to another month touches
    both, a delete touches the row's old month. A write of another tracked layer marks the
    whole layer (``month`` missing).
    """

    def __init__(self, store: Store, inner: Transaction) -> None:
        self._store = store
        self._inner = inner
        self._marks: set[tuple[str, int, str | None]] = set()

    def __getattr__(self, name: str) -> Any:  # backend extras pass through
        return getattr(self._inner, name)

    def replace(self, layer: str, frame: pd.DataFrame) -> None:
        if layer in TRACKED:
            self._marks.add((layer, NO_MONTH, None))  # every month, stored or new
        self._inner.replace(layer, frame)

    def upsert(self, layer: str, frame: pd.DataFrame) -> None:
        if layer in TRACKED:
            spec = get_spec(layer)
            if layer in PARTITIONED and spec is not None and spec.key in frame:
                self._note_stored(layer, spec, frame[spec.key].array)
            self._note(layer, frame)
        self._inner.upsert(layer, frame)

    def append(self, layer: str, frame: pd.DataFrame) -> None:
        if layer in TRACKED:
            self._note(layer, frame)
        self._inner.append(layer, frame)

    def delete(self, layer: str, key_values: Sequence[str]) -> None:
        if layer in TRACKED:
            spec = get_spec(layer)
            if layer in PARTITIONED and spec is not None and spec.key is not None:
                self._note_stored(layer, spec, [str(k) for k in key_values])
            else:
                self._marks.add((layer, NO_MONTH, None))
        self._inner.delete(layer, key_values)

    def append_audit(self, records: pd.DataFrame) -> None:
        self._inner.append_audit(records)

    # ---- marks ---------------------------------------------------------------------------
    def _note(self, layer: str, frame: pd.DataFrame) -> None:
        column = PARTITIONED.get(layer)
        if column is None or column not in frame:
            if len(frame) or layer not in PARTITIONED:
                self._marks.add((layer, NO_MONTH, None))
            return
        self._note_rows(layer, frame[column], frame.get("region"))

    def _note_rows(self, layer: str, times: Any, regions: Any) -> None:
        if len(times) == 0:
            return
        months = month_codes(pd.to_datetime(times, utc=True))
        if regions is None:
            codes, names = np.full(len(months), -1), np.empty(0, dtype=object)
        else:  # region codes, not a million strings, into the de-duplication
            codes, names = pd.factorize(pd.Series(regions).astype("string"))
            names = np.asarray(names, dtype=object)
        pairs = pd.DataFrame({"m": months, "r": codes}).drop_duplicates()
        for m, r in zip(pairs["m"].tolist(), pairs["r"].tolist(), strict=True):
            self._marks.add((layer, int(m), None if r < 0 else str(names[r])))

    def _note_stored(self, layer: str, spec: LayerSpec, keys: Any) -> None:
        """The months and regions of the stored rows these keys name (read before the write)."""
        if len(keys) == 0 or not self._store.has(layer):
            return
        column = PARTITIONED[layer]
        cols = [column] + (["region"] if "region" in spec.column_names else [])
        old = self._store.read(layer, columns=cols, filters=[(str(spec.key), "in", keys)])
        self._note_rows(layer, old[column], old.get("region"))

    def flush(self) -> None:
        """Write the marks (called at the end of the block, inside the transaction)."""
        if not self._marks:
            return
        marks = sorted(self._marks, key=lambda m: (m[0], m[1], m[2] or ""))
        token = uuid.uuid4().hex
        months = [pd.NaT if m == NO_MONTH else month_bounds(m)[0] for _, m, _ in marks]
        frame = pd.DataFrame({
            "mark_id": [f"{token}-{i}" for i in range(len(marks))],
            "layer": [layer for layer, _, _ in marks],
            "month": pd.to_datetime(pd.Series(months, dtype=object), utc=True),
            "region": pd.array([r for _, _, r in marks], dtype="string"),
            "marked_at": pd.Timestamp.now(tz="UTC").floor("us"),
        })
        self._inner.upsert(DIRTY, frame)
        self._marks.clear()


def prepare(layer: str, frame: pd.DataFrame) -> tuple[LayerSpec | None, pd.DataFrame]:
    """Conform ``frame`` to the layer's spec when the layer is registered (shared by backends)."""
    spec, frame, _ = prepare_keyed(layer, frame)
    return spec, frame


def prepare_keyed(layer: str, frame: pd.DataFrame
                  ) -> tuple[LayerSpec | None, pd.DataFrame, np.ndarray | None]:
    """:func:`prepare`, with the :func:`key_hashes` of the key column it computed to find
    repeats (None when the layer has no key or the keys are not text)."""
    spec = get_spec(layer)
    if spec is None:
        return None, frame.reset_index(drop=True), None
    frame = conform(spec, frame)
    column = PARTITIONED.get(layer)
    if column is not None:
        missing = frame[column].isna()
        if missing.any():
            raise StoreError(f"layer {layer!r}: {int(missing.sum())} row(s) have no {column!r} "
                             "(the layer is partitioned by its month)")
    if spec.key is not None:
        missing = frame[spec.key].isna()
        if missing.any():
            raise StoreError(f"layer {layer!r}: {int(missing.sum())} row(s) have no {spec.key!r}")
        repeats, hashes = _repeats(frame[spec.key])
        if repeats:
            dup = frame[spec.key].duplicated(keep=False)
            shown = sorted(set(frame.loc[dup.to_numpy(dtype=bool), spec.key].astype(str)))[:5]
            raise StoreError(f"layer {layer!r}: key {spec.key!r} repeats within the rows to write "
                             f"({', '.join(shown)}{', ...' if dup.sum() > 5 else ''})")
        return spec, frame, hashes
    return spec, frame, None


def refuse_append_only(layer: str, what: str) -> None:
    """Raise when ``what`` (replace, upsert, delete) would change an append-only layer."""
    if layer in APPEND_ONLY:
        raise StoreError(f"layer {layer!r} is append-only: {what} is not allowed (records are "
                         "only added, with Store.append_audit)")


def audit_records(records: pd.DataFrame, prev_seq: int, prev_hash: str) -> pd.DataFrame:
    """``records`` conformed to the audit layer (the values the store keeps, hence hashes) and
    chained after ``(prev_seq, prev_hash)``; shared by the backends' ``append_audit``."""
    from riskmap.layers.auditlog import chain

    spec = get_spec("audit")
    frame = records if spec is None else conform(spec, records)
    return chain(frame, prev_seq, prev_hash)


def _repeats(keys: pd.Series) -> tuple[bool, np.ndarray | None]:
    """Whether a value occurs twice (sorted 64-bit hashes first, pandas only on a hash
    repeat), and the keys' hashes in row order (None when they could not be made)."""
    try:
        hashes = key_hashes(pa.array(keys.array, from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return bool(keys.duplicated().any()), None
    if len(keys) < 2:
        return False, hashes
    ordered = np.sort(hashes)
    if not (ordered[1:] == ordered[:-1]).any():
        return False, hashes
    return bool(keys.duplicated().any()), hashes


# ---- keys: a 64-bit hash computed column-wise ------------------------------------------------
# The UTF-8 bytes of a key, zero-padded to whole 8-byte little-endian words w_0, w_1, ..., are
# summed as w_0 + w_1 Q + w_2 Q^2 + ... (mod 2**64), xored with the length times a constant and
# finished with splitmix64. ASCII keys up to 64 bytes (ids) are padded by Arrow and hashed a
# word column at a time (~20x pandas' per-object SipHash); other keys byte by byte, to the
# same value. Not cryptographic: equal hashes are always confirmed by comparing the keys.

_Q = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = (np.uint64(30), np.uint64(0xBF58476D1CE4E5B9), np.uint64(27),
        np.uint64(0x94D049BB133111EB), np.uint64(31))
_WEIGHTS: list[np.ndarray] = []


def _byte_weights(n: int) -> np.ndarray:
    """Weight of the byte at each position < n: ``256 ** (p % 8) * Q ** (p // 8)``."""
    if _WEIGHTS and len(_WEIGHTS[0]) >= n:
        return _WEIGHTS[0]
    words = -(-max(n, 256) // 8)
    powers = np.empty(words, dtype=np.uint64)
    powers[0] = 1
    with np.errstate(over="ignore"):
        for i in range(1, words):
            powers[i] = powers[i - 1] * _Q
        shifts = np.uint64(1) << (np.arange(8, dtype=np.uint64) * np.uint64(8))
        out = (powers[:, None] * shifts[None, :]).ravel()
    _WEIGHTS[:] = [out]
    return out


def key_hashes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit hash (uint64) of each string key; a missing key hashes like ``""`` (to 0).

    Examples
    --------
    >>> h = key_hashes(pa.array(["I1", "I2", "I1", "", None]))
    >>> bool(h[0] == h[2]), bool(h[0] != h[1]), h[3:].tolist()
    (True, True, [0, 0])
    >>> long = "Дўстлик " * 20
    >>> bool(key_hashes(pa.array([long]))[0] == key_hashes(pa.array([long, "x"]))[0])
    True
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.large_string())
    if not pa.types.is_large_string(values.type):
        values = pc.cast(values, pa.large_string())
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    if values.null_count:
        values = values.fill_null("")
    lengths = pc.binary_length(values).to_numpy().astype(np.int64)
    longest = int(lengths.max())
    with np.errstate(over="ignore"):
        if longest <= 64 and pc.all(pc.string_is_ascii(values)).as_py():
            out = _word_sums(values, n, max(8, -(-longest // 8) * 8))
        else:
            out = _byte_sums(values, n, lengths)
        out ^= lengths.astype(np.uint64) * _GOLDEN
        s1, m1, s2, m2, s3 = _MIX
        out ^= out >> s1
        out *= m1
        out ^= out >> s2
        out *= m2
        out ^= out >> s3
    return out


def _word_sums(values: pa.Array, n: int, width: int) -> np.ndarray:
    """The word sums of ASCII keys of at most ``width`` bytes, padded to it by Arrow."""
    padded = pc.utf8_rpad(values, width=width, padding="\x00")
    offsets = np.frombuffer(padded.buffers()[1], dtype=np.int64)[padded.offset:][:n + 1]
    words = np.frombuffer(padded.buffers()[2], dtype="<u8", offset=int(offsets[0]),
                          count=n * width // 8).reshape(n, width // 8)
    weights = _byte_weights(width)[::8]
    out = words[:, 0].copy()
    for i in range(1, width // 8):
        out += words[:, i] * weights[i]
    return out


def _byte_sums(values: pa.Array, n: int, lengths: np.ndarray) -> np.ndarray:
    """The same sums byte by byte (keys with other characters, or longer)."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset:][:n + 1]
    start = int(offsets[0])
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[start:int(offsets[-1])]
    out = np.zeros(n, dtype=np.uint64)
    if len(data):
        position = np.arange(len(data)) - np.repeat(offsets[:-1] - start, lengths)
        products = data.astype(np.uint64) * _byte_weights(int(lengths.max()))[position]
        filled = lengths > 0
        out[filled] = np.add.reduceat(products, (offsets[:-1] - start)[filled])
    return out


def month_codes(values: pd.Series | np.ndarray | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Months since January 1970 (UTC) of timestamps; :data:`NO_MONTH` where missing.

    Examples
    --------
    >>> month_codes(pd.Series(pd.to_datetime(["1970-01-31T23:59Z", "2024-03-01T00:00Z", None],
    ...                                      utc=True))).tolist()
    [0, 650, -2147483648]
    >>> month_codes(pa.array([0, None], pa.timestamp("us", tz="UTC"))).tolist()
    [0, -2147483648]
    """
    if isinstance(values, pa.Array | pa.ChunkedArray):
        micros = pc.cast(pc.cast(values, pa.timestamp("us", tz=values.type.tz), safe=False),
                         pa.int64())
        missing = pc.is_null(micros).to_numpy(zero_copy_only=False)
        raw = micros.fill_null(0).to_numpy(zero_copy_only=False).astype("datetime64[us]")
    else:
        stamps = pd.DatetimeIndex(values)
        if stamps.tz is not None:
            stamps = stamps.tz_convert("UTC").tz_localize(None)
        raw = stamps.to_numpy(dtype="datetime64[us]")
        missing = np.isnat(raw)
    months = raw.astype("datetime64[M]").astype("int64")
    return np.where(missing, NO_MONTH, months).astype("int32")


def month_label(code: int) -> str:
    """``YYYY-MM`` of a :func:`month_codes` value (``none`` for :data:`NO_MONTH`).

    >>> month_label(650), month_label(NO_MONTH)
    ('2024-03', 'none')
    """
    if code == NO_MONTH:
        return "none"
    year, month = divmod(int(code), 12)
    return f"{1970 + year:04d}-{month + 1:02d}"


def month_bounds(code: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Start (inclusive) and end (exclusive) of a month, in UTC.

    >>> [str(t) for t in month_bounds(650)]
    ['2024-03-01 00:00:00+00:00', '2024-04-01 00:00:00+00:00']
    """
    start = np.datetime64(int(code), "M")
    return (pd.Timestamp(start.astype("datetime64[us]")).tz_localize("UTC"),
            pd.Timestamp((start + 1).astype("datetime64[us]")).tz_localize("UTC"))


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
