"""The app notices data loaded after it started (no restart), and audited reads don't count."""

from __future__ import annotations

import pandas as pd

from riskmap.app.commanders_data import data_for
from riskmap.app.data import AppModel
from riskmap.layers.access import DataAccess
from tests import fixtures


def test_store_version_ignores_the_audit_log_but_not_data(store):
    tiny = fixtures.tiny_world()
    store.replace("mahallas", tiny["mahallas"])
    v1 = store.version()
    DataAccess(store, user="u").read("mahallas")  # appends to the audit log
    assert store.version() == v1
    store.replace("incidents", tiny["incidents"])
    assert store.version() != v1


def test_the_model_reloads_when_the_store_changes(store):
    tiny = fixtures.tiny_world()
    store.replace("mahallas", tiny["mahallas"])
    store.replace("incidents", tiny["incidents"].iloc[:2])
    model = AppModel(DataAccess(store, user="u"), refresh_s=0.0)
    assert model.n_incidents == 2
    first = data_for(model)
    gen = model.generation
    assert model.n_incidents == 2 and model.generation == gen  # nothing changed: no reload
    with store.transaction() as txn:
        txn.upsert("incidents", tiny["incidents"])
    assert model.n_incidents == len(tiny["incidents"]) and model.generation == gen + 1
    assert data_for(model) is not first  # the commanders' caches start again


def test_a_slow_refresh_keeps_serving_what_it_has(store):
    tiny = fixtures.tiny_world()
    store.replace("mahallas", tiny["mahallas"])
    store.replace("incidents", tiny["incidents"].iloc[:2])
    model = AppModel(DataAccess(store, user="u"), refresh_s=3600.0)
    assert model.n_incidents == 2
    store.replace("incidents", pd.concat([tiny["incidents"]]))
    assert model.n_incidents == 2  # checked again only after refresh_s
