"""The audit log's hash chain on both backends: ``Store.append_audit`` reads the last record
and appends the chained ones in one critical section, so concurrent writers (threads, and
processes on the embedded store) leave one chain without gaps; the log is append-only."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from riskmap.errors import StoreError
from riskmap.layers import auditlog
from riskmap.layers.embedded import EmbeddedStore
from riskmap.layers.store import Store, apply_filters, open_store
from tests.conftest import _libpq

REPO = Path(__file__).resolve().parents[2]


def records(user: str, n: int = 1, *, rows: int | None = 3) -> pd.DataFrame:
    """``n`` audit records of ``user`` (fields only: the store chains them)."""
    return pd.DataFrame({
        "at": [pd.Timestamp.now(tz="UTC")] * n,
        "user": [user] * n,
        "action": ["read"] * n,
        "layer": ["incidents"] * n,
        "scope": [None] * n,
        "detail": ['{"filters": [["region", "=", "Jizzakh"]]}'] * n,
        "rows": [rows] * n,
        "client": ["127.0.0.1"] * n,
        "outcome": ["ok"] * n,
    })


def _check(store: Store, expected: int) -> pd.DataFrame:
    log = store.read("audit")
    check = auditlog.verify(log)
    assert check.ok, check
    assert (check.records, check.chained) == (expected, expected)
    log = log.sort_values("seq").reset_index(drop=True)
    assert log["seq"].astype(int).tolist() == list(range(1, expected + 1))
    return log


def test_records_are_chained_and_verify(store: Store) -> None:
    store.append_audit(records("a", 2))
    store.append_audit(records("b", 1, rows=None))  # missing values hash as they read back
    store.append_audit(records("c", 0))  # nothing to add
    log = _check(store, 3)
    assert log["user"].tolist() == ["a", "a", "b"]
    assert log["prev_hash"].iloc[0] == auditlog.GENESIS
    assert log["prev_hash"].tolist()[1:] == log["hash"].tolist()[:-1]


def test_concurrent_appends_from_threads_leave_one_chain(store_url: str) -> None:
    open_store(store_url).close()
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def writer(name: str) -> None:
        try:
            with open_store(store_url) as own:
                start.wait(30)
                for i in range(8):
                    own.append_audit(records(name, 1 + i % 2))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"u{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_store(store_url) as store:
        log = _check(store, 4 * 12)
    assert log["user"].value_counts().to_dict() == {f"u{i}": 12 for i in range(4)}


_CHILD = """
import sys
import pandas as pd
from riskmap.layers.embedded import EmbeddedStore
store = EmbeddedStore(sys.argv[1])
for i in range(int(sys.argv[3])):
    store.append_audit(pd.DataFrame({"at": [pd.Timestamp.now(tz="UTC")], "user": [sys.argv[2]],
                                     "action": ["read"], "rows": [i]}))
"""


def test_embedded_appends_from_two_processes_leave_one_chain(tmp_path: Path) -> None:
    root = tmp_path / "store"
    EmbeddedStore(root).append_audit(records("first"))
    children = [subprocess.Popen([sys.executable, "-c", _CHILD, str(root), f"p{i}", "25"],
                                 cwd=REPO) for i in range(2)]
    assert [c.wait(timeout=300) for c in children] == [0, 0]
    log = _check(EmbeddedStore(root), 51)
    assert log["user"].value_counts().to_dict() == {"p0": 25, "p1": 25, "first": 1}


def test_records_before_the_chain_stay_unchained(store: Store) -> None:
    store.append("audit", records("old", 2))  # as written before revision 0005
    store.append_audit(records("new", 2))
    check = auditlog.verify(store.read("audit"))
    assert check.ok and (check.chained, check.unchained) == (2, 2)


@pytest.mark.parametrize("at", [
    ["2026-01-01T00:00:00.123456Z", None, "2026-02-01T00:00:00Z"],  # a missing time
    ["2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00.000001Z", "1969-12-31T23:59:59Z"],
    ["2026-01-01T05:00:00.5+05:00", "2026-01-01T00:00:00+05:00", "2026-03-01T00:00:00+05:00"],
    ["2026-01-01T00:00:00.5", "2026-01-01T00:00:00", "1969-12-31T23:59:59.999999"],  # naive
])
def test_records_are_hashed_a_column_at_a_time_as_one_at_a_time(at: list[str | None]) -> None:
    """The chain's text of each record is made a column at a time (distinct values encoded
    once, times formatted as arrays): the very text :func:`auditlog._canonical` makes of each
    record, for awkward values too (quotes, Cyrillic, a line separator, NA, NaN, NaT, mixed
    types, nanoseconds, other time zones, times before 1970)."""
    times = pd.to_datetime(pd.Series(at), format="ISO8601")
    if "+05:00" in str(at[0]):
        times = times.dt.tz_convert("Asia/Tashkent")
    frame = pd.DataFrame({
        "at": times, "user": ['a"b\\c', "ўзбек", None],
        "action": pd.array(["x", pd.NA, "y"], dtype="string"), "rows": [1, 1.0, True],
        "detail": [np.nan, '{"a": [1, 2]}', "line\nbreak\u2028"],
        "scope": pd.array([1, None, 3], dtype="Int64"), "client": [1.5, np.nan, 2.0]})
    want = [auditlog._canonical(r) for r in frame.to_dict(orient="records")]
    assert auditlog._canonical_many(frame).to_pylist() == want
    # and a chain made from them checks, record by record and as a whole
    log = auditlog.chain(frame.dropna(subset=["at"]), 0, auditlog.GENESIS)
    prev = auditlog.GENESIS
    for row in log.to_dict(orient="records"):  # the hashes, as the record-by-record code made
        text = prev + "\n" + auditlog._canonical(row)
        assert row["hash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
        prev = row["hash"]
    assert auditlog.verify(log).ok


def test_the_whole_log_is_verified_a_batch_at_a_time(store: Store) -> None:
    """``riskmap audit verify`` reads the log a batch of ``seq`` at a time (``verify_log``):
    the same answer as :func:`verify` on the whole log, for any batch, through each store's
    filters; a removed run of records longer than a batch, an edited record in a later batch
    and a record slipped in before the first are each found where they are."""
    store.append("audit", records("old", 2))  # as written before revision 0005
    for i in range(7):
        store.append_audit(records(f"u{i}", 3))
    whole = auditlog.verify(store.read("audit"))
    assert whole.ok and (whole.chained, whole.unchained) == (21, 2)

    def read(filters: Any, columns: Any) -> pd.DataFrame:
        return store.read("audit", filters=filters, columns=columns)

    for batch in (1, 4, 21, 1000):
        assert auditlog.verify_log(read, store.count("audit"), batch=batch) == whole

    def altered(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Any:
        """A reader of the log as it would read after ``change`` (the store refuses it)."""
        log = change(store.read("audit"))
        return lambda filters, columns: apply_filters(log, filters)[columns or list(log)]

    gap = auditlog.verify_log(altered(lambda f: f[~f["seq"].between(5, 12)]), 15, batch=4)
    assert (gap.broken_at, gap.reason) == (5, "a record is missing")

    def edit(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[frame["seq"] == 17, "user"] = "someone else"
        return frame

    edited = auditlog.verify_log(altered(edit), 23, batch=4)
    assert (edited.broken_at, edited.reason) == (17, "its fields do not match its hash (edited)")
    assert edited.last is not None and edited.last[0] == 16
    early = auditlog.verify_log(altered(lambda f: pd.concat([f, f.tail(1).assign(seq=0)])), 24,
                                batch=4)
    assert (early.broken_at, early.reason) == (0, "a sequence number repeats")


@pytest.mark.parametrize("change", ["replace", "delete", "upsert"])
def test_the_audit_log_is_append_only(store: Store, change: str) -> None:
    store.append_audit(records("a", 2))
    with pytest.raises(StoreError, match=r"append-only|no key"), store.transaction() as txn:
        if change == "replace":
            txn.replace("audit", records("x"))
        elif change == "delete":
            txn.delete("audit", ["1"])
        else:
            txn.upsert("audit", records("x"))
    _check(store, 2)


def test_a_chained_record_in_a_failed_transaction_is_not_kept(store: Store) -> None:
    store.append_audit(records("a"))
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as txn:
        txn.append_audit(records("lost"))
        raise RuntimeError("boom")
    store.append_audit(records("b"))
    assert _check(store, 2)["user"].tolist() == ["a", "b"]


def test_an_edited_embedded_audit_file_is_found(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    for user in ("a", "b", "c"):
        store.append_audit(records(user))
    path = store._journal_files()[1][2]  # the second record's journal file
    table = pq.read_table(path)  # someone edits the file in place
    at = table.schema.get_field_index("rows")
    pq.write_table(table.set_column(at, "rows", pa.array([999] * table.num_rows,
                                                         table.schema.field(at).type)), path)
    check = auditlog.verify(store.read("audit"))
    assert not check.ok and check.broken_at == 2 and "edited" in check.reason


@pytest.mark.postgis
def test_postgis_refuses_edits_of_the_audit_log(postgis_empty_db: str) -> None:
    with open_store(postgis_empty_db) as store:
        store.append_audit(records("a", 3))
    with psycopg.connect(_libpq(postgis_empty_db), autocommit=True) as conn:
        for statement in ("UPDATE audit SET \"user\" = 'x' WHERE seq = 2",
                          "DELETE FROM audit WHERE seq = 3", "TRUNCATE audit"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
    with open_store(postgis_empty_db) as store:
        assert _check(store, 3)["user"].tolist() == ["a"] * 3


@pytest.mark.postgis
def test_a_store_at_0003_with_audit_records_upgrades_and_chains(blank_postgis_db: str) -> None:
    from alembic import command

    from riskmap.layers.postgis import PostgisStore, alembic_config

    command.upgrade(alembic_config(blank_postgis_db), "0003")
    with psycopg.connect(_libpq(blank_postgis_db), autocommit=True) as conn:
        conn.execute("INSERT INTO audit (at, \"user\", action, layer, rows) VALUES "
                     "('2024-05-01 10:00+00', 'old', 'read', 'incidents', 4)")
    with PostgisStore(blank_postgis_db) as store:  # migrates to head
        assert store.read("audit")["user"].tolist() == ["old"]
        store.append_audit(records("new", 2))
        check = auditlog.verify(store.read("audit"))
    assert check.ok and (check.records, check.chained, check.unchained) == (3, 2, 1)


def test_an_embedded_audit_record_never_waits_for_a_load(tmp_path: Path) -> None:
    """A load holds the store's write lock while it stages its files; recording an audited
    read takes only the audit journal's lock, so it goes through meanwhile."""
    store = EmbeddedStore(tmp_path / "store")
    written = threading.Event()

    def audit_meanwhile() -> None:
        EmbeddedStore(tmp_path / "store").append_audit(records("reader"))
        written.set()

    with store.transaction() as txn:  # a load in progress: the write lock is held
        txn.append("store_meta", pd.DataFrame({"key": ["k"], "value": ["v"]}))
        thread = threading.Thread(target=audit_meanwhile)
        thread.start()
        assert written.wait(60), "the audit record waited for the load"
        txn.append_audit(records("loader"))  # the load's own record: after its commit
    thread.join()
    assert _check(store, 2)["user"].tolist() == ["reader", "loader"]


def test_the_embedded_journal_merges_small_files_and_keeps_the_chain(tmp_path: Path) -> None:
    from riskmap.layers import embedded

    store = EmbeddedStore(tmp_path / "store")
    for i in range(embedded._JOURNAL_MERGE + 5):
        store.append_audit(records(f"u{i}"))
    files = store._journal_files()
    assert len(files) < embedded._JOURNAL_MERGE  # merged
    assert [f[0] for f in files] == sorted(f[0] for f in files)
    assert len(list((tmp_path / "store" / "audit").glob("*.parquet"))) == len(files)
    log = _check(store, embedded._JOURNAL_MERGE + 5)
    assert log["user"].tolist() == [f"u{i}" for i in range(embedded._JOURNAL_MERGE + 5)]
    assert store.count("audit") == embedded._JOURNAL_MERGE + 5
