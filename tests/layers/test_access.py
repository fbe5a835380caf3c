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
