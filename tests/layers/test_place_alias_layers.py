"""The place_aliases and incident_addresses layers: specs, migration 0003, both stores, scope."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest

import riskmap.layers  # noqa: F401 - registers the built-in layers
from riskmap.layers.access import DataAccess
from riskmap.layers.postgis import PostgisStore, sqlalchemy_url
from riskmap.layers.spec import get_spec

_SQL_TYPES = {"str": "text", "int": "bigint", "timestamp": "timestamp with time zone"}
NEW = ("place_aliases", "incident_addresses")


def _aliases() -> pd.DataFrame:
    return pd.DataFrame({
        "alias_key": ["eski bozor|jizzax shahri|jizzakh", "registon|samarqand shahri|samarqand",
                      "tuman joy|arnasoy tumani|jizzakh"],
        "alias": ["Eski bozor", "Registon", "Tuman joy"],
        "mahalla_id": ["M2", "S1", None],
        "district": ["Jizzax shahri", "Samarqand shahri", "Arnasoy tumani"],
        "region": ["Jizzakh", "Samarqand", "Jizzakh"],
        "created_by": ["ali", "vali", "ali"],
        "created_at": pd.to_datetime(["2026-01-02T10:00Z"] * 3, utc=True),
        "source": ["app", "aliases.csv", "aliases.csv"],
    })


def _addresses() -> pd.DataFrame:
    return pd.DataFrame({
        "incident_id": ["D1", "D2"], "address": ["Jizzax shahri, Paxtakor", "Samarqand, Bozor"],
        "location": ['{"address": "Jizzax shahri, Paxtakor"}', '{"address": "Samarqand, Bozor"}'],
        "district": ["Jizzax shahri", "Samarqand shahri"], "region": ["Jizzakh", "Samarqand"],
        "source_file": ["i.csv", "i.csv"], "source_row": [2, 3],
        "recorded_at": pd.to_datetime(["2026-01-02T10:00Z"] * 2, utc=True),
    })


def test_the_layers_are_registered_with_a_key_and_a_region() -> None:
    for name, key in (("place_aliases", "alias_key"), ("incident_addresses", "incident_id")):
        spec = get_spec(name)
        assert spec is not None and spec.key == key and not spec.spatial
        assert "region" in spec.column_names and "region" in spec.indexes


@pytest.mark.parametrize("layer", NEW)
def test_round_trip_and_upsert_on_both_stores(store: object, layer: str) -> None:
    frame = _aliases() if layer == "place_aliases" else _addresses()
    key = get_spec(layer).key
    store.replace(layer, frame)
    got = store.read(layer).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, frame.sort_values(key).reset_index(drop=True),
                                  check_dtype=False)
    assert str(got["source_row" if layer == "incident_addresses" else "created_at"].dtype) in {
        "Int64", "datetime64[us, UTC]"}
    changed = frame.iloc[[0]].copy()
    changed["region"] = "Jizzakh"
    changed["district"] = "Zafarobod"
    with store.transaction() as txn:
        txn.upsert(layer, changed)
        txn.delete(layer, [frame[key].iat[1]])
    got = store.read(layer).set_index(key)
    assert len(got) == len(frame) - 1 and got.loc[frame[key].iat[0], "district"] == "Zafarobod"


def test_a_scoped_user_sees_their_region_only(store: object) -> None:
    store.replace("place_aliases", _aliases())
    store.replace("incident_addresses", _addresses())
    access = DataAccess(store, user="s", regions=["Samarqand"])
    assert access.read("place_aliases")["alias"].tolist() == ["Registon"]
    assert access.read("incident_addresses")["incident_id"].tolist() == ["D2"]


@pytest.mark.postgis
def test_migration_0003_makes_the_tables_the_specs_describe(postgis_db: str) -> None:
    PostgisStore(postgis_db).close()
    with psycopg.connect(sqlalchemy_url(postgis_db).replace("postgresql+psycopg", "postgresql"),
                         autocommit=True) as conn:
        (version,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        assert version >= "0003"
        for name in NEW:
            spec = get_spec(name)
            cols = conn.execute("""
                SELECT column_name, data_type FROM information_schema.columns
                WHERE table_schema = 'public' AND table_name = %s
                ORDER BY ordinal_position""", (name,)).fetchall()
            assert cols == [(c.name, _SQL_TYPES[c.dtype]) for c in spec.columns], name
            pkey = conn.execute("""
                SELECT a.attname FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = %s::regclass AND i.indisprimary""", (name,)).fetchall()
            assert pkey == [(spec.key,)], name
            indexed = {r[0] for r in conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s", (name,)).fetchall()}
            for col in spec.indexes:
                assert any(f"({col})" in d for d in indexed), (name, col)
