"""The audit log's hash chain: each record carries the SHA-256 of its fields and of the
record before it, so an edited, removed or inserted record breaks the chain.

Used by the stores when they append to ``audit`` (see :meth:`riskmap.layers.store.Store.
append_audit`) and by ``riskmap audit verify``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["FIELDS", "GENESIS", "MAX_DETAIL", "VERIFY_BATCH", "ChainCheck", "bound_detail", "chain",
           "chain_end", "verify", "verify_log"]

#: the record fields the hash covers, in order
FIELDS = ("at", "user", "action", "layer", "scope", "detail", "rows", "client", "outcome")
#: prev_hash of the first record
GENESIS = "0" * 64
#: longest detail kept (characters of JSON); longer requests are cut, saying so
MAX_DETAIL = 2000
#: records :func:`verify_log` reads at a time (a country's log holds tens of millions)
VERIFY_BATCH = 50_000


def bound_detail(detail: object, limit: int = MAX_DETAIL) -> str | None:
    """The request values as JSON of at most ``limit`` characters (long strings and lists
    shortened, so a record never grows to megabytes)."""
    if detail is None or detail == {} or detail == []:
        return None

    def shrink(value: object, depth: int = 0) -> object:
        if depth > 6:
            return "..."
        if isinstance(value, str):
            return value if len(value) <= 200 else value[:200] + f"...(+{len(value) - 200})"
        if isinstance(value, dict):
            items = list(value.items())[:50]
            return {str(k)[:100]: shrink(v, depth + 1) for k, v in items}
        if isinstance(value, list | tuple | set):
            seq = list(value)
            out = [shrink(v, depth + 1) for v in seq[:50]]
            return out + ([f"...(+{len(seq) - 50})"] if len(seq) > 50 else [])
        if isinstance(value, int | float | bool) or value is None:
            return value
        return shrink(str(value), depth + 1)

    text = json.dumps(shrink(detail), ensure_ascii=False, default=str, sort_keys=True)
    if len(text) > limit:
        text = json.dumps({"truncated": text[: limit - 40]}, ensure_ascii=False)
    return text


def _plain(value: object) -> object:
    """A field's value as the hash sees it (before JSON)."""
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").isoformat() if value.tzinfo else value.isoformat()
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _canonical(row: dict[str, object]) -> str:
    """The JSON the hash covers: the record's fields, keys sorted (one record)."""
    out = {name: _plain(row.get(name)) for name in FIELDS}
    return json.dumps(out, ensure_ascii=False, sort_keys=True, default=str)


def _canonical_many(records: pd.DataFrame) -> pa.Array:
    """:func:`_canonical` of each record (a string array), the same text, made a column at a
    time: each distinct value of a column is encoded once (a log's users, actions, layers,
    clients and most details repeat; times are formatted as arrays), then Arrow joins the
    records' texts. ~15 times faster than a record at a time."""
    names = sorted(FIELDS)  # json.dumps(sort_keys=True): this order, ", " and ": "
    parts = []
    for k, name in enumerate(names):
        head = ("{" if k == 0 else "") + json.dumps(name) + ": "
        tail = "}" if k == len(names) - 1 else ""
        texts = (_column_texts(records[name]) if name in records
                 else np.full(len(records), "null", dtype=object))
        parts.append(pa.array(head + texts + tail if len(texts) else texts, type=pa.string()))
    return pc.binary_join_element_wise(*parts, ", ")


def _encode(value: object) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, default=str)


def _column_texts(column: pd.Series) -> np.ndarray:
    """The JSON of each value of ``column`` as :func:`_canonical` writes it (object array)."""
    times = _time_texts(column)
    if times is not None:
        return times
    values = column.to_numpy(dtype=object)
    if column.dtype == object:  # mixed types: 1, 1.0 and True are equal keys but not texts
        cache: dict[object, str] = {}
        out = np.empty(len(values), dtype=object)
        for i, v in enumerate(values):
            try:
                key: object = (v.__class__, v)
                text = cache.get(key)
            except TypeError:  # unhashable (a list, a dict)
                key, text = None, None
            if text is None:
                text = _encode(v)
                if key is not None:
                    cache[key] = text
            out[i] = text
        return out
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    out = np.array([_encode(v) for v in uniques] + [""], dtype=object)[codes]
    missing = np.flatnonzero(codes < 0)  # NaN, NA, NaT: each as it is (NaT is not null)
    out[missing] = [_encode(v) for v in values[missing]]
    return out


def _time_texts(column: pd.Series) -> np.ndarray | None:
    """``Timestamp.isoformat()`` of each time of a UTC or naive datetime column, as JSON,
    formatted as arrays (a log's times are nearly all distinct); None for other columns, a
    missing time, or a time finer than a microsecond (left to :func:`_encode`)."""
    dtype = column.dtype
    utc = isinstance(dtype, pd.DatetimeTZDtype)
    if not (utc or (isinstance(dtype, np.dtype) and dtype.kind == "M")) or column.isna().any():
        return None
    stamps = column.dt.tz_convert("UTC") if utc else column
    ns = stamps.to_numpy(dtype="datetime64[ns]") if not utc else \
        stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    ticks = ns.astype(np.int64)
    if (ticks % 1000).any():
        return None
    micros = (ticks // 1000) % 1_000_000
    out = np.datetime_as_string(ns, unit="s").astype(object)
    fraction = np.char.zfill(micros.astype(str), 6).astype(object)
    out = np.where(micros > 0, out + ("." + fraction), out)
    return '"' + out + ('+00:00"' if utc else '"')


def chain(records: pd.DataFrame, prev_seq: int, prev_hash: str) -> pd.DataFrame:
    """``records`` with ``seq``, ``prev_hash`` and ``hash``, continuing a chain whose last
    record has ``prev_seq`` and ``prev_hash`` (``0`` and :data:`GENESIS` for a new log)."""
    out = records.copy()
    # hash what the stores keep: timestamps in microseconds, UTC
    out["at"] = pd.to_datetime(out["at"], utc=True).dt.floor("us")
    prevs, hashes = [], []
    prev = prev_hash or GENESIS
    for text in _canonical_many(out).cast(pa.binary()).to_pylist() if len(out) else []:
        digest = hashlib.sha256(prev.encode("ascii") + b"\n" + text).hexdigest()
        prevs.append(prev)
        hashes.append(digest)
        prev = digest
    out["seq"] = pd.array(np.arange(int(prev_seq) + 1, int(prev_seq) + 1 + len(out)),
                          dtype="Int64")
    out["prev_hash"] = prevs
    out["hash"] = hashes
    return out


@dataclass(frozen=True)
class ChainCheck:
    """The result of :func:`verify`."""

    records: int
    chained: int
    unchained: int  # records written before the chain existed (no seq)
    broken_at: int | None  # seq of the first record that does not check
    reason: str = ""
    first: int | None = None  # seq of the first record checked (None: none was)
    last: tuple[int, str] | None = None  # seq and hash of the last record that checked

    @property
    def ok(self) -> bool:
        """True when every chained record checks."""
        return self.broken_at is None


def verify(audit: pd.DataFrame, *, after: tuple[int, str] | None = None) -> ChainCheck:
    """Recompute the chain of an audit log; report the first record that does not check.

    A record fails when its hash is not the hash of its fields and its ``prev_hash``, when its
    ``prev_hash`` is not the hash of the record before, or when a ``seq`` is missing
    (a record removed) or repeated.

    ``after``: the ``(seq, hash)`` of a record already checked; only the records after it are
    checked, the first of them against it (so a long log is checked once, then only what was
    appended since). Records up to it, and records without a ``seq``, are then not counted.

    Examples
    --------
    >>> log = chain(pd.DataFrame({"at": [pd.Timestamp("2026-01-01", tz="UTC")] * 3,
    ...                           "user": ["a", "b", "c"]}), 0, GENESIS)
    >>> full = verify(log)
    >>> full.ok, full.chained, full.first, full.last[0]
    (True, 3, 1, 3)
    >>> later = verify(log[log["seq"] > 1], after=(1, log["hash"].iat[0]))
    >>> later.ok, later.chained, later.first
    (True, 2, 2)
    >>> verify(log[log["seq"] > 1], after=(1, "0" * 64)).broken_at
    2
    """
    if len(audit) == 0:
        return ChainCheck(0, 0, 0, None, last=after)
    has_seq = audit["seq"].notna().to_numpy(dtype=bool) if "seq" in audit else \
        np.zeros(len(audit), dtype=bool)
    chained = audit[has_seq].sort_values("seq", kind="stable")
    n_unchained = int((~has_seq).sum())
    prev, expected = GENESIS, 1
    if after is not None:
        chained = chained[pd.to_numeric(chained["seq"]).to_numpy() > int(after[0])]
        n_unchained = 0
        prev, expected = str(after[1]), int(after[0]) + 1
    n, first = len(chained), (expected if len(chained) else None)
    if not n:
        return ChainCheck(n_unchained, 0, n_unchained, None, first=None, last=after)
    # the record-by-record rule, a column at a time: at each record, in this order, its seq
    # is the next one, its prev_hash is the hash of the record before, and its hash is that
    # of its fields and prev_hash; the first record that fails any of them is reported
    seqs = pd.to_numeric(chained["seq"]).to_numpy(dtype=np.int64)
    stored, prevs = _text_array(chained["hash"]), _text_array(chained["prev_hash"])
    wanted = expected + np.arange(n, dtype=np.int64)
    bad_seq = seqs != wanted
    bad_prev = prevs != np.r_[np.array([prev], dtype=object), stored[:-1]]
    signed = pc.binary_join_element_wise(
        pa.array([p if isinstance(p, str) else "" for p in prevs], type=pa.string()),
        _canonical_many(chained), "\n").cast(pa.binary()).to_pylist()
    digests = np.array([hashlib.sha256(b).hexdigest() for b in signed], dtype=object)
    bad_hash = digests != stored
    bad = np.flatnonzero(bad_seq | bad_prev | bad_hash)
    if not bad.size:
        return ChainCheck(n + n_unchained, n, n_unchained, None, first=first,
                          last=(int(seqs[-1]), str(stored[-1])))
    i = int(bad[0])
    last = (int(seqs[i - 1]), str(stored[i - 1])) if i else after
    if bad_seq[i]:
        why = "a record is missing" if seqs[i] > wanted[i] else "a sequence number repeats"
        return ChainCheck(n + n_unchained, n, n_unchained, int(wanted[i]), why, first, last)
    why = ("its prev_hash is not the hash of the record before" if bad_prev[i]
           else "its fields do not match its hash (edited)")
    return ChainCheck(n + n_unchained, n, n_unchained, int(seqs[i]), why, first, last)


def _text_array(column: pd.Series) -> np.ndarray:
    """The column as an object array of ``str``, ``None`` where missing."""
    values = column.to_numpy(dtype=object)
    values[pd.isna(values)] = None
    return values




def verify_log(read: Callable[[Sequence[tuple[str, str, Any]], list[str] | None], pd.DataFrame],
               total: int, *, batch: int = VERIFY_BATCH) -> ChainCheck:
    """:func:`verify` on a whole log, read ``batch`` records at a time in ``seq`` order: the
    memory of a batch, however long the log (reading a log of tens of millions whole took
    gigabytes).

    ``read(filters, columns)`` reads records of the log (``store.read("audit", ...)``);
    ``total`` is how many records it holds (``store.count("audit")``): those the chained ones
    do not account for predate the chain. A record with a ``seq`` below 1, and a gap of any
    length (even longer than a batch) before records that follow it, break the chain as they
    do in :func:`verify`.

    Examples
    --------
    >>> from riskmap.layers.store import apply_filters
    >>> log = chain(pd.DataFrame({"at": [pd.Timestamp("2026-01-01", tz="UTC")] * 5,
    ...                           "user": list("abcde")}), 0, GENESIS)
    >>> def read(filters, columns):
    ...     return apply_filters(log, filters)
    >>> check = verify_log(read, len(log), batch=2)
    >>> check.ok, check.chained, check.last[0]
    (True, 5, 5)
    >>> log = log[log["seq"] != 4]
    >>> verify_log(read, len(log), batch=2).broken_at
    4
    """
    stray = read([("seq", "<", 1)], ["seq"])
    if len(stray):
        seq = int(pd.to_numeric(stray["seq"]).min())
        return ChainCheck(total, 0, 0, seq, "a sequence number repeats", None, None)
    after: tuple[int, str] | None = None
    first = None
    chained = 0
    while True:
        lo = 1 if after is None else after[0] + 1
        frame = read([("seq", ">=", lo), ("seq", "<", lo + batch)], None)
        if not len(frame):
            if len(read([("seq", ">=", lo)], ["seq"])):  # records after a gap of a batch or more
                return ChainCheck(total, chained, max(0, total - chained), lo,
                                  "a record is missing", first or lo, after)
            break
        check = verify(frame, after=after)
        first = first or check.first
        chained += check.chained
        if not check.ok:
            return ChainCheck(total, chained, max(0, total - chained), check.broken_at,
                              check.reason, first, check.last)
        after = check.last
    unchained = max(0, total - chained)  # (records appended meanwhile are not counted)
    return ChainCheck(chained + unchained, chained, unchained, None, first=first, last=after)


def chain_end(read: Callable[[Sequence[tuple[str, str, Any]], list[str] | None], pd.DataFrame],
              total: int) -> int | None:
    """The last ``seq`` of a log of ``total`` records when its chain numbers every record
    (1 to ``total``, and any appended since): found by reading the records from ``total`` on,
    not the whole log. None when it does not end there (records from before the chain, a
    gap) or the log is empty: the caller then reads it whole.

    Examples
    --------
    >>> from riskmap.layers.store import apply_filters
    >>> log = chain(pd.DataFrame({"at": [pd.Timestamp("2026-01-01", tz="UTC")] * 3}), 0, GENESIS)
    >>> chain_end(lambda f, c: apply_filters(log, f), 3), chain_end(lambda f, c: log[:0], 0)
    (3, None)
    """
    if total < 1:
        return None
    seqs = pd.to_numeric(read([("seq", ">=", total)], ["seq"])["seq"], errors="coerce")
    return int(seqs.max()) if (seqs == total).any() else None
