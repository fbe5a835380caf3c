"""Both backends refuse rows that would repeat a layer's key."""

from __future__ import annotations

import pandas as pd
import pytest

from riskmap.errors import StoreError
from tests.etl.grid import grid_frame


def test_a_key_repeated_within_the_rows_is_refused(store):
    frame = grid_frame()
    frame.loc[1, "mahalla_id"] = "M1"
    with pytest.raises(StoreError, match="M1"):
        store.replace("mahallas", frame)
    assert store.count("mahallas") == 0


def test_append_of_an_existing_key_is_refused_and_upsert_replaces(store):
    store.replace("mahallas", grid_frame())
    again = grid_frame().iloc[:1].copy()
    again["name"] = "Renamed"
    with pytest.raises(StoreError):
        store.append("mahallas", again)
    with store.transaction() as txn:
        txn.upsert("mahallas", again)
    got = store.read("mahallas").set_index("mahalla_id")
    assert got.loc["M1", "name"] == "Renamed" and len(got) == 9


def test_keyless_layers_take_repeats(store):
    rows = pd.DataFrame({"at": pd.to_datetime(["2025-01-01", "2025-01-01"], utc=True),
                         "user": ["a", "a"], "action": ["view", "view"]})
    store.append("audit", rows)
    store.append("audit", rows)
    assert store.count("audit") == 4
