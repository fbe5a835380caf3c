"""The data-access layer scopes reads by region, audits them, and fails closed."""

from __future__ import annotations

import pandas as pd
import pytest

from riskmap.layers.access import DataAccess
from tests.etl.grid import grid_frame


def test_reads_are_scoped_and_audited(store):
    frame = grid_frame()
    frame.loc[[0, 1], "region"] = "Surxondaryo"
    store.replace("mahallas", frame)
    access = DataAccess(store, user="cmdr", regions=["Surxondaryo"])
    got = access.read("mahallas", columns=["mahalla_id", "name"], purpose="app")
    assert sorted(got["mahalla_id"]) == ["M1", "M2"]
    assert list(got.columns) == ["mahalla_id", "name"]
    audit = store.read("audit")
    assert audit["user"].tolist() == ["cmdr"] and audit["action"].tolist() == ["app"]
    assert audit["scope"].tolist() == ["Surxondaryo"] and audit["rows"].tolist() == [2]
    everyone = DataAccess(store, user="hq")
    assert len(everyone.read("mahallas")) == 9


def test_scoped_users_cannot_read_unscopable_tables(store):
    store.replace("summary_table", pd.DataFrame({"k": ["a"], "v": [1]}))
    store.replace("by_region", pd.DataFrame({"region": ["Jizzakh", "Surxondaryo"], "v": [1, 2]}))
    scoped = DataAccess(store, user="cmdr", regions=["Jizzakh"])
    with pytest.raises(PermissionError, match="summary_table"):
        scoped.read("summary_table")
    with pytest.raises(PermissionError, match="quarantine"):
        scoped.read("quarantine")
    with pytest.raises(PermissionError, match="kde_surface"):  # registered, but no region
        scoped.read("kde_surface")
    assert scoped.read("by_region")["v"].tolist() == [1]
    assert len(DataAccess(store, user="hq").read("summary_table")) == 1


def test_the_newest_rows_are_read_without_holding_the_whole_log(store):
    """``read_newest`` gives the newest n (ties by seq) and the count of every match, and its
    audited read holds only the rows from the n-th newest time on (ties included)."""
    t0 = pd.Timestamp("2026-03-01", tz="UTC")
    at = [t0 + pd.Timedelta(minutes=i // 3) for i in range(3_000)]  # 3 records a minute
    store.append_audit(pd.DataFrame({
        "at": at, "user": ["ali" if i % 2 else "vali" for i in range(3_000)], "action": "view",
        "layer": "overview", "scope": "all regions", "detail": [str(i) for i in range(3_000)],
        "rows": None, "client": "cli", "outcome": "ok"}))
    access = DataAccess(store, user="hq")
    got, matched = access.read_newest("audit", 7, columns=["detail", "user"],
                                      filters=[("user", "=", "ali")], purpose="audit_read")
    assert matched == 1_500 and list(got.columns) == ["detail", "user"]
    # what a whole read sorted by (at, seq) gives: the same 7 rows in the same order
    whole = store.read("audit", filters=[("user", "=", "ali"), ("action", "=", "view")])
    whole = whole.sort_values(["at", "seq"], ascending=False, kind="stable")
    assert got["detail"].tolist() == whole["detail"].iloc[:7].tolist()
    assert got["detail"].tolist() == ["2999", "2997", "2995", "2993", "2991", "2989", "2987"]
    record = store.read("audit", filters=[("action", "=", "audit_read")])
    assert record["rows"].tolist() == [8]  # the 7 newest and a tie at the 7th newest time
    # fewer matches than asked: all of them; a bad n is refused
    few, matched = access.read_newest("audit", 50, filters=[("detail", "in", ["5", "9"])])
    assert matched == 2 and few["detail"].tolist() == ["9", "5"]
    with pytest.raises(ValueError, match="at least 1"):
        access.read_newest("audit", 0)
    with pytest.raises(PermissionError, match="audit"):
        DataAccess(store, user="cmdr", regions=["Jizzakh"]).read_newest("audit", 5)


def test_the_newest_page_of_a_long_log_reads_its_tail(store, monkeypatch):
    """Unfiltered, the newest records of the audit log are found from its tail: the store's
    count says where the chain ends, and only the last ``TAIL_WINDOW`` records' times are
    read (a national log holds tens of millions); the page and the count are those of a
    whole read. A log with records from before the chain is read whole, and still right."""
    monkeypatch.setattr(DataAccess, "TAIL_WINDOW", 200)
    t0 = pd.Timestamp("2026-03-01", tz="UTC")

    def log(n, user, first=0):
        return pd.DataFrame({
            "at": [t0 + pd.Timedelta(seconds=first + i) for i in range(n)], "user": user,
            "action": "view", "layer": "overview", "scope": "all regions",
            "detail": [str(first + i) for i in range(n)], "rows": None, "client": "cli",
            "outcome": "ok"})

    store.append_audit(log(3_000, "ali"))
    rows_read = []
    read = store.read

    def counted(layer, **kw):
        frame = read(layer, **kw)
        rows_read.append(len(frame))
        return frame

    monkeypatch.setattr(store, "read", counted)
    access = DataAccess(store, user="hq", audit=False)
    got, matched = access.read_newest("audit", 7, columns=["detail"])
    assert matched == 3_000
    assert got["detail"].tolist() == [str(i) for i in range(2999, 2992, -1)]
    assert max(rows_read) <= 200  # the tail's times, then the 7 newest rows
    assert access.last_seq("audit") == 3_000 and max(rows_read) <= 200
    # records from before the chain: the count is not where the chain ends; read whole
    store.append("audit", log(5, "old", first=-100))
    rows_read.clear()
    got, matched = access.read_newest("audit", 3, columns=["detail"])
    assert matched == 3_005 and got["detail"].tolist() == ["2999", "2998", "2997"]
    assert max(rows_read) == 3_005
    assert access.last_seq("audit") == 3_000
