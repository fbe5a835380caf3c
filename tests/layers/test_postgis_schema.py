"""The PostGIS schema made by the Alembic migrations, and PostGIS-only store behaviour."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from alembic.script import ScriptDirectory

import geopandas as gpd
import shapely

import riskmap.layers  # noqa: F401 - registers the built-in layers
from riskmap.errors import StoreError
from riskmap.layers.postgis import PostgisStore, alembic_config, sqlalchemy_url
from riskmap.layers.spec import get_spec
from riskmap.layers.store import PARTITIONED, month_codes, month_label
from tests import fixtures

pytestmark = pytest.mark.postgis

BUILTIN = ["mahallas", "incidents", "cameras", "planned_cameras", "infrastructure", "quarantine",
           "audit", "place_aliases", "incident_addresses", "users", "sessions", "login_failures", "jobs",
           "ingest_runs", "api_tokens", "roadmaps", "roadmap_measures"]
_SQL_TYPES = {"str": "text", "int": "bigint", "float": "double precision", "bool": "boolean",
              "timestamp": "timestamp with time zone", "date": "date"}


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(sqlalchemy_url(url).replace("postgresql+psycopg", "postgresql"),
                           autocommit=True)


def _catalog(conn: psycopg.Connection) -> dict[str, object]:
    """Tables, columns, indexes and the Alembic version: what a migration may change."""
    columns = conn.execute("""
        SELECT table_name, column_name, data_type, udt_name FROM information_schema.columns
        WHERE table_schema = 'public' ORDER BY table_name, ordinal_position""").fetchall()
    indexes = conn.execute("""
        SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public'
        ORDER BY tablename, indexdef""").fetchall()
    version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return {"columns": columns, "indexes": indexes, "version": version}


def _indexes(conn: psycopg.Connection, table: str) -> list[tuple[str, str, str]]:
    """(access method, indexed column, column type) of each single-column index on ``table``."""
    return conn.execute("""
        SELECT am.amname, a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_index i
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_class ix ON ix.oid = i.indexrelid
        JOIN pg_am am ON am.oid = ix.relam
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
        WHERE t.relname = %s AND i.indnatts = 1
        ORDER BY a.attname""", (table,)).fetchall()


# ---- migrations ------------------------------------------------------------------------------

def test_open_migrates_a_blank_database_to_head(blank_postgis_db: str) -> None:
    PostgisStore(blank_postgis_db).close()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with _connect(blank_postgis_db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head,)]
        # the newest revision file is the one head (a forgotten down_revision makes two)
        newest = max(p.name.split("_", 1)[0] for p in (Path(
            alembic_config().get_main_option("script_location")) / "versions").glob("0*.py"))
        assert head == newest
        assert conn.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'postgis'").fetchone() == (1,)
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()}
    assert set(BUILTIN) | {"riskmap_layers", "alembic_version"} <= tables


def test_migrating_twice_is_a_no_op(blank_postgis_db: str) -> None:
    store = PostgisStore(blank_postgis_db)
    try:
        with _connect(blank_postgis_db) as conn:
            first = _catalog(conn)
        store.migrate()
        PostgisStore(blank_postgis_db).close()
        with _connect(blank_postgis_db) as conn:
            assert _catalog(conn) == first
    finally:
        store.close()


def test_concurrent_opens_migrate_once(blank_postgis_db: str) -> None:
    errors: list[BaseException] = []

    def open_and_close() -> None:
        try:
            PostgisStore(blank_postgis_db).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with _connect(blank_postgis_db) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


# ---- the tables ------------------------------------------------------------------------------

def test_geometry_columns_have_srid_4326_and_gist_indexes(postgis_db: str) -> None:
    with _connect(postgis_db) as conn:
        rows = conn.execute("""
            SELECT f_table_name, srid, type FROM geometry_columns
            WHERE f_table_schema = 'public' ORDER BY f_table_name""").fetchall()
        assert rows == [("cameras", 4326, "POINT"), ("incidents", 4326, "POINT"),
                        ("infrastructure", 4326, "GEOMETRY"), ("mahallas", 4326, "MULTIPOLYGON"),
                        ("planned_cameras", 4326, "POINT")]
        typmod = {"POINT": "Point", "GEOMETRY": "Geometry", "MULTIPOLYGON": "MultiPolygon"}
        for table, _, kind in rows:
            assert ("gist", "geometry", f"geometry({typmod[kind]},4326)") in _indexes(conn, table)


def test_incidents_h3_is_a_bigint_with_a_btree_index(postgis_db: str) -> None:
    with _connect(postgis_db) as conn:
        assert ("btree", "h3", "bigint") in _indexes(conn, "incidents")


def test_tables_match_the_layer_specs(postgis_db: str) -> None:
    """Keys are primary keys, each spec index is a B-tree, columns and types follow the spec.

    When this fails after a spec change, the spec needs a new Alembic revision.
    """
    with _connect(postgis_db) as conn:
        # the bookkeeping of incremental builds is migrated too (two first loads must not
        # race to create it)
        for name in (*BUILTIN, "derived_dirty", "derived_state"):
            spec = get_spec(name)
            cols = conn.execute("""
                SELECT column_name, format_type(a.atttypid, a.atttypmod)
                FROM information_schema.columns c
                JOIN pg_attribute a ON a.attrelid = c.table_name::regclass
                                    AND a.attname = c.column_name
                WHERE c.table_schema = 'public' AND c.table_name = %s
                ORDER BY c.ordinal_position""", (name,)).fetchall()
            expected = [(c.name, _SQL_TYPES[c.dtype]) for c in spec.columns]
            assert [c for c in cols if c[0] != "geometry"] == expected, name
            assert any(c[0] == "geometry" for c in cols) == spec.spatial, name
            pkey = conn.execute("""
                SELECT a.attname FROM pg_index i
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = %s::regclass AND i.indisprimary""", (name,)).fetchall()
            # a partitioned table's primary key must hold its partition column (the store
            # keeps the key alone unique: see layers/postgis.py)
            key = [spec.key, PARTITIONED[name]] if name in PARTITIONED else [spec.key]
            assert sorted(r[0] for r in pkey) == (sorted(key) if spec.key else []), name
            btrees = {col for am, col, _ in _indexes(conn, name) if am == "btree"}
            assert set(spec.indexes) <= btrees, name


# ---- PostGIS-only behaviour ------------------------------------------------------------------

def test_empty_points_and_missing_geometries_are_stored_as_such(postgis_empty_db: str) -> None:
    frame = fixtures.incidents()
    frame.loc[frame["incident_id"] == "I5", "geometry"] = None
    with PostgisStore(postgis_empty_db) as store:
        store.replace("incidents", frame)
        store.replace("mahallas", fixtures.mahallas())
    with _connect(postgis_empty_db) as conn:
        rows = dict(conn.execute("""
            SELECT incident_id, CASE WHEN geometry IS NULL THEN 'null'
                                     WHEN ST_IsEmpty(geometry) THEN 'empty'
                                     ELSE ST_AsText(geometry) END
            FROM incidents""").fetchall())
        kinds = conn.execute("SELECT DISTINCT GeometryType(geometry) FROM mahallas").fetchall()
    assert rows["I6"] == "empty"
    assert rows["I5"] == "null"
    assert rows["I1"] == "POINT(67.8425 40.1025)"
    assert kinds == [("MULTIPOLYGON",)]


def test_polygons_are_promoted_with_st_multi(postgis_empty_db: str) -> None:
    """A Polygon reaching the MultiPolygon column (bypassing conform) goes through ST_Multi."""
    from riskmap.layers._pgcodec import encode as _encode
    from riskmap.layers.postgis import _PostgisTransaction

    frame = gpd.GeoDataFrame({"mahalla_id": ["P"], "name": ["Yangi"], "name_cyrillic": [None],
                              "district": ["D"], "region": ["R"], "population": [1.0]},
                             geometry=[fixtures.square(0, 0)], crs="EPSG:4326")
    with PostgisStore(postgis_empty_db) as store, store.transaction() as txn:
        txn = getattr(txn, "_inner", txn)  # the backend's, under the marking wrapper
        assert isinstance(txn, _PostgisTransaction)
        cols = txn._existing_or_new("mahallas", get_spec("mahallas"), _encode("mahallas", frame))
        txn._load("mahallas", cols, _encode("mahallas", frame))
    with _connect(postgis_empty_db) as conn:
        assert conn.execute("SELECT ST_AsText(geometry, 6) FROM mahallas").fetchone() == (
            "MULTIPOLYGON(((67.85 40.1,67.85 40.11,67.84 40.11,67.84 40.1,67.85 40.1)))",)


def test_table_with_another_srid_is_refused(postgis_empty_db: str) -> None:
    with _connect(postgis_empty_db) as conn:
        conn.execute("CREATE TABLE web_points (n bigint, geometry geometry(Point, 3857))")
    frame = gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.Point(67.84, 40.1)], crs=4326)
    with PostgisStore(postgis_empty_db) as store:
        with pytest.raises(StoreError, match="SRID is 3857"):
            store.append("web_points", frame)
        assert store.count("web_points") == 0


def test_duplicate_keys_are_refused_before_writing(postgis_empty_db: str) -> None:
    """PostGIS keys are primary keys, so a frame repeating a key is refused as a whole."""
    frame = pd.concat([fixtures.cameras(), fixtures.cameras().iloc[[0]]])
    with PostgisStore(postgis_empty_db) as store:
        store.replace("cameras", fixtures.cameras())
        with pytest.raises(StoreError, match="'camera_id' repeats"):
            store.replace("cameras", frame)
        assert store.count("cameras") == 3


def test_database_error_mid_transaction_rolls_back(postgis_empty_db: str) -> None:
    with PostgisStore(postgis_empty_db) as store:
        store.replace("cameras", fixtures.cameras())
        with pytest.raises(StoreError, match="rolled back"), store.transaction() as txn:
            txn.replace("incidents", fixtures.incidents())
            txn.append("cameras", fixtures.cameras().iloc[[0]])  # C1 exists: primary key
        assert store.count("incidents") == 0
        assert store.layer_names() == ["cameras", "derived_dirty"]  # the marks of cameras


def test_unknown_filter_column_is_not_sql(postgis_empty_db: str) -> None:
    with PostgisStore(postgis_empty_db) as store:
        store.replace("mahallas", fixtures.mahallas())
        with pytest.raises(KeyError):
            store.read("mahallas", filters=[("region; DROP TABLE mahallas; --", "=", "x")])
        assert store.count("mahallas") == 4


def test_repr_hides_the_password(postgis_empty_db: str) -> None:
    with PostgisStore(postgis_empty_db) as store:
        assert ":***@" in repr(store)


def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot migrate"):
        PostgisStore("postgresql+psycopg://nobody:pw@127.0.0.1:9/nowhere?connect_timeout=2")


def test_big_replace_rebuilds_the_same_indexes(postgis_db: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A replace past ``_REINDEX_ROWS`` drops indexes for the COPY and re-creates them as they were."""
    import riskmap.layers.postgis

    monkeypatch.setattr(riskmap.layers.postgis, "_REINDEX_ROWS", 2)
    with _connect(postgis_db) as conn:
        before = _catalog(conn)
    with PostgisStore(postgis_db) as store:
        store.replace("incidents", fixtures.incidents())
        store.replace("mahallas", fixtures.mahallas())
        assert store.count("incidents") == 6
        with pytest.raises(StoreError, match="rolled back"):
            store.append("incidents", fixtures.incidents().iloc[:1])  # the key is enforced again
    with _connect(postgis_db) as conn:
        after = _catalog(conn)
        months = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'incidents'::regclass").fetchall()}
        names = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'incidents'").fetchall()}
    # incidents gained its month partitions (each indexed like its parent); nothing else changed
    assert months == {"incidents_y" + month_label(m).replace("-", "m")
                      for m in set(month_codes(fixtures.incidents()["occurred_at"]).tolist())}
    # (the writes left their marks for `riskmap build` in derived_dirty, migrated: its index
    # is the same, its rows are compared apart)
    assert {k: [r for r in v if r[0] not in months]
            for k, v in after.items() if k != "version"} == {k: v for k, v in before.items()
                                                              if k != "version"}
    assert after["version"] == before["version"]
    assert {"incidents_pkey", "ix_incidents_h3", "gix_incidents_geometry"} <= names
