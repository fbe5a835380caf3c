"""PostGIS only: the migration to monthly partitions, binary COPY, pruning and the writer lock."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from alembic import command

import geopandas as gpd
import shapely

import riskmap.layers  # noqa: F401 - registers the built-in layers
from riskmap.errors import SchemaError, StoreError
from riskmap.layers._pgcodec import Column, encode
from riskmap.layers.postgis import PostgisStore, alembic_config
from tests.conftest import _libpq
from tests.layers.test_partitions import FEB, JAN, MAR, _ids, incidents, three_months

pytestmark = pytest.mark.postgis


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(_libpq(url), autocommit=True)


# ---- the migration ---------------------------------------------------------------------------

_OLD_ROWS = """
INSERT INTO incidents (incident_id, occurred_at, category, h3, mahalla_id, district, region,
                       geocode_precision, flags, source_file, source_row, content_hash, geometry)
VALUES
 ('A', '2024-01-31 23:59:59.999999+00', 'theft', 617700169958293503, 'M1', 'D', 'Jizzakh',
  'coordinates', NULL, 'a.csv', 2, 11, ST_GeomFromText('POINT(67.84 40.1)', 4326)),
 ('B', '2024-02-01 00:00:00+00', 'assault', NULL, 'M2', 'D', 'Jizzakh', 'mahalla',
  'snapped_to_mahalla', 'a.csv', 3, -9223372036854775807,
  ST_GeomFromText('POINT EMPTY', 4326)),
 ('C', '2025-06-15 12:00:00+05', 'robbery', 617700169958293504, 'M3', NULL, NULL,
  'district', NULL, NULL, NULL, NULL, NULL),
 ('N', NULL, 'theft', NULL, 'M1', 'D', 'Jizzakh', 'coordinates', NULL, 'b.csv', 7, 1,
  ST_GeomFromText('POINT(67.85 40.11)', 4326))
"""


def test_migration_partitions_an_unpartitioned_table_with_data(blank_postgis_db: str) -> None:
    cfg = alembic_config(blank_postgis_db)
    command.upgrade(cfg, "0003")
    with _connect(blank_postgis_db) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE relname = 'incidents'"
                            ).fetchone() == ("r",)
        conn.execute(_OLD_ROWS)
        before = conn.execute("SELECT incident_id, occurred_at, category, h3, mahalla_id, "
                              "district, region, geocode_precision, flags, source_file, "
                              "source_row, content_hash, ST_AsEWKB(geometry) FROM incidents "
                              "WHERE occurred_at IS NOT NULL ORDER BY 1").fetchall()
    PostgisStore(blank_postgis_db).close()  # migrates to head
    with _connect(blank_postgis_db) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE relname = 'incidents'"
                            ).fetchone() == ("p",)
        after = conn.execute("SELECT incident_id, occurred_at, category, h3, mahalla_id, "
                             "district, region, geocode_precision, flags, source_file, "
                             "source_row, content_hash, ST_AsEWKB(geometry) FROM incidents "
                             "ORDER BY 1").fetchall()
        where = dict(conn.execute("SELECT incident_id, tableoid::regclass::text FROM incidents"
                                  ).fetchall())
        pkey = conn.execute("""
            SELECT a.attname FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = 'incidents'::regclass AND i.indisprimary ORDER BY 1""").fetchall()
        indexes = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'incidents'").fetchall()}
        quarantined = conn.execute("SELECT quarantine_id, layer, reason, source_file, "
                                   "source_row, raw FROM quarantine").fetchall()
        leftovers = conn.execute("SELECT count(*) FROM pg_class WHERE relname = "
                                 "'incidents_unpartitioned'").fetchone()
    assert after == before  # every dated row, every value, the same geometry bytes
    assert where == {"A": "incidents_y2024m01", "B": "incidents_y2024m02",
                     "C": "incidents_y2025m06"}
    assert pkey == [("incident_id",), ("occurred_at",)]
    assert {"incidents_pkey", "ix_incidents_h3", "ix_incidents_mahalla_id",
            "ix_incidents_occurred_at", "ix_incidents_region",
            "gix_incidents_geometry"} <= indexes
    assert leftovers == (0,)
    # the row without a date is quarantined, not dropped
    assert len(quarantined) == 1
    qid, layer, reason, source, row, raw = quarantined[0]
    assert (qid, layer, reason, source, row) == ("m0004:N", "incidents", "missing_date",
                                                 "b.csv", 7)
    assert '"incident_id": "N"' in raw and "POINT(67.85 40.11)" in raw
    # and the store works on the migrated table: reads, a moved row, a new month
    with PostgisStore(blank_postgis_db) as store:
        got = store.read("incidents").set_index("incident_id")
        assert got.loc["B", "geometry"].is_empty and got.loc["C", "geometry"] is None
        assert got.loc["B", "content_hash"] == -9223372036854775807
        with store.transaction() as txn:
            txn.upsert("incidents", incidents(["A", "Z"], [MAR, pd.Timestamp("2026-01-05T00:00Z")]))
        assert sorted(store.read("incidents")["incident_id"]) == ["A", "B", "C", "Z"]
    with _connect(blank_postgis_db) as conn:
        assert conn.execute("SELECT tableoid::regclass::text FROM incidents WHERE "
                            "incident_id = 'A'").fetchone() == ("incidents_y2024m03",)


def test_migration_back_and_forth_keeps_the_rows(blank_postgis_db: str) -> None:
    cfg = alembic_config(blank_postgis_db)
    command.upgrade(cfg, "0004")
    with PostgisStore(blank_postgis_db, migrate=False) as store:
        store.replace("incidents", three_months())
    command.downgrade(cfg, "0003")
    with _connect(blank_postgis_db) as conn:
        assert conn.execute("SELECT relkind FROM pg_class WHERE relname = 'incidents'"
                            ).fetchone() == ("r",)
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (6,)
    command.upgrade(cfg, "0004")
    with _connect(blank_postgis_db) as conn:
        assert conn.execute("SELECT count(DISTINCT tableoid) FROM incidents").fetchone() == (3,)


# ---- partitions ------------------------------------------------------------------------------

def test_reads_filtered_by_time_prune_the_other_months(postgis_db: str) -> None:
    with PostgisStore(postgis_db) as store:
        store.replace("incidents", three_months())
    with _connect(postgis_db) as conn:
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN SELECT * FROM incidents WHERE occurred_at >= %s AND occurred_at < %s",
            (pd.Timestamp("2024-02-01T00:00Z").to_pydatetime(),
             pd.Timestamp("2024-03-01T00:00Z").to_pydatetime())).fetchall())
    assert "incidents_y2024m02" in plan
    assert "incidents_y2024m01" not in plan and "incidents_y2024m03" not in plan


def test_a_month_table_name_is_not_a_layer_name(postgis_db: str) -> None:
    with PostgisStore(postgis_db) as store, pytest.raises(SchemaError, match="reserved"):
        store.replace("incidents_y2024m01", pd.DataFrame({"x": [1]}))


def test_writers_of_a_key_in_two_months_are_serialised(postgis_db: str) -> None:
    """Two loads of one new id in different months: the second waits, then moves the row."""
    with PostgisStore(postgis_db) as store:
        store.replace("incidents", three_months())
    first_in = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with PostgisStore(postgis_db) as store, store.transaction() as txn:
                txn.upsert("incidents", incidents(["X"], [JAN]))
                first_in.set()
                time.sleep(1.0)  # the second writer starts meanwhile
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
            first_in.set()

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(30)
    with PostgisStore(postgis_db) as store, store.transaction() as txn:
        txn.upsert("incidents", incidents(["X"], [FEB]))
    thread.join()
    assert errors == []
    with _connect(postgis_db) as conn:
        rows = conn.execute("SELECT tableoid::regclass::text FROM incidents "
                            "WHERE incident_id = 'X'").fetchall()
    assert rows == [("incidents_y2024m02",)]


def test_a_long_key_list_reads_through_a_temporary_table(postgis_db: str) -> None:
    n = 30_000
    frame = incidents([f"K{i}" for i in range(n)], [JAN] * (n // 2) + [MAR] * (n - n // 2))
    wanted = [f"K{i}" for i in range(0, n, 3)] + ["missing"] * 10
    with PostgisStore(postgis_db) as store:
        store.replace("incidents", frame)
        got = store.read("incidents", columns=["incident_id", "content_hash"],
                         filters=[("incident_id", "in", wanted)])
        few = store.read("incidents", columns=["incident_id"],
                         filters=[("incident_id", "in", ["K1", "K29999", "nope"])])
    assert len(got) == 10_000
    assert set(got["incident_id"]) == {f"K{i}" for i in range(0, n, 3)}
    assert sorted(few["incident_id"]) == ["K1", "K29999"]


# ---- the key directory (revision 0012) -------------------------------------------------------

def _directory(url: str) -> list[tuple[str, str]]:
    """(id, partition) per directory entry, and the same of the incidents table: equal when the
    directory is in step."""
    with _connect(url) as conn:
        keys = conn.execute(
            "SELECT incident_id, to_char(occurred_at AT TIME ZONE 'UTC', "
            "'\"incidents_y\"YYYY\"m\"MM') FROM incidents_keys ORDER BY 1").fetchall()
        rows = conn.execute("SELECT incident_id, tableoid::regclass::text FROM incidents "
                            "ORDER BY 1").fetchall()
    assert keys == rows
    return rows


def test_key_directory_follows_every_write(postgis_db: str) -> None:
    """Replace, append, an upsert moving rows between months, delete, a big upsert and a
    big replace: after each, one directory entry per stored incident, in its month."""
    with PostgisStore(postgis_db) as store:
        store.replace("incidents", three_months())
        assert len(_directory(postgis_db)) == 6
        with store.transaction() as txn:
            txn.append("incidents", incidents(["A1"], [pd.Timestamp("2024-04-02T00:00Z")]))
        with pytest.raises(StoreError, match="would repeat key"), store.transaction() as txn:
            txn.append("incidents", incidents(["J1"], [MAR]))  # stored, in January
        with store.transaction() as txn:  # J1 moves to March, M1 to January, N1 is new
            txn.upsert("incidents", incidents(["J1", "M1", "N1"], [MAR, JAN, FEB]))
        moved = dict(_directory(postgis_db))
        assert (moved["J1"], moved["M1"], moved["N1"]) == (
            "incidents_y2024m03", "incidents_y2024m01", "incidents_y2024m02")
        assert len(moved) == 8
        with store.transaction() as txn:
            txn.delete("incidents", ["F1", "A1", "never-stored"])
        assert sorted(dict(_directory(postgis_db))) == ["F2", "J1", "J2", "M1", "M2", "N1"]
        got = store.read("incidents", columns=["incident_id", "occurred_at"],
                         filters=[("incident_id", "in", ["J1", "F1", "N1"])])
        assert dict(zip(got["incident_id"], got["occurred_at"], strict=True)) == {
            "J1": MAR, "N1": FEB}
        # a load past _PROBE_KEYS keys goes through a staged key table on both sides
        n = 25_000
        big = incidents([f"B{i}" for i in range(n)] + ["J2"],
                        [JAN] * (n // 2) + [MAR] * (n - n // 2) + [FEB])
        with store.transaction() as txn:
            txn.upsert("incidents", big)
        assert len(_directory(postgis_db)) == 6 + n
        with store.transaction() as txn:
            txn.upsert("incidents", big.assign(occurred_at=FEB))
        # every B and J2 moved to February, beside F2 and N1
        assert sum(p == "incidents_y2024m02" for _, p in _directory(postgis_db)) == n + 3
        store.replace("incidents", three_months())
        assert [k for k, _ in _directory(postgis_db)] == ["F1", "F2", "J1", "J2", "M1", "M2"]


def test_reads_and_deletes_by_id_look_in_the_months_the_directory_names(
        postgis_db: str) -> None:
    """The directory, not every month's key index, says where an id is: an entry removed by
    hand hides the row from reads by id (the whole-layer read still has it), and an entry
    pointing at the wrong month deletes nothing there."""
    with PostgisStore(postgis_db) as store:
        store.replace("incidents", three_months())
        with _connect(postgis_db) as conn:
            conn.execute("DELETE FROM incidents_keys WHERE incident_id = 'F1'")
        assert store.read("incidents", filters=[("incident_id", "=", "F1")]).empty
        assert "F1" in set(store.read("incidents")["incident_id"])
        assert _ids(store.read("incidents", filters=[("incident_id", "in", ["F2", "M1"])])) \
            == ["F2", "M1"]


def test_migration_fills_the_directory_from_stored_rows(blank_postgis_db: str) -> None:
    """Rows written before revision 0012 (the store then probes every month) are all in the
    directory after it; downgrading drops only the directory."""
    cfg = alembic_config(blank_postgis_db)
    command.upgrade(cfg, "0011")
    with PostgisStore(blank_postgis_db, migrate=False) as store:
        store.replace("incidents", three_months())
        with store.transaction() as txn:
            txn.upsert("incidents", incidents(["J1", "X"], [MAR, FEB]))
        assert _ids(store.read("incidents", filters=[("incident_id", "in", ["J1", "X"])])) \
            == ["J1", "X"]
    command.upgrade(cfg, "head")
    assert dict(_directory(blank_postgis_db))["J1"] == "incidents_y2024m03"
    assert len(_directory(blank_postgis_db)) == 7
    with PostgisStore(blank_postgis_db) as store:
        with store.transaction() as txn:
            txn.upsert("incidents", incidents(["X"], [JAN]))
        assert dict(_directory(blank_postgis_db))["X"] == "incidents_y2024m01"
    command.downgrade(cfg, "0011")
    with _connect(blank_postgis_db) as conn:
        assert conn.execute("SELECT to_regclass('incidents_keys')").fetchone() == (None,)
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == (7,)


# ---- binary COPY -----------------------------------------------------------------------------

LONG = "Дўстлик " * 20_000 + "\t\n\\\"',;()\r"


def _typed() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "i64": pd.array([2**62 + 1, None, -(2**63), 0], dtype="Int64"),
        "i32": pd.array([2**31 - 1, -(2**31), None, 7], dtype="Int32"),
        "f64": [1e308, np.nan, -0.0, 5e-324],
        "f32": np.array([1.5, np.inf, -np.inf, 0.1], dtype="float32"),
        "flag": pd.array([True, None, False, True], dtype="boolean"),
        "text": pd.array(["", None, LONG, "NULL"], dtype="string"),
        "at": pd.to_datetime(["2024-01-31T23:59:59.999999Z", None, "1900-01-01T00:00:00Z",
                              "2262-04-11T00:00:00Z"], utc=True, format="ISO8601"
                             ).astype("datetime64[us, UTC]"),
        "naive": pd.to_datetime(["2024-06-01T12:00:00", None, "1999-12-31T23:59:59.5",
                                 "2000-01-01T00:00:00"], format="ISO8601"
                                ).astype("datetime64[us]"),
        "day": pa.array([19000, None, -1, 0], type=pa.date32()).to_pandas(
            types_mapper=pd.ArrowDtype),
    }, geometry=[shapely.Point(67.8, 40.1), shapely.Point(), None,
                 shapely.Polygon([(0, 0), (1, 0), (1, 1), (0, 0)])], crs=4326)


def test_binary_copy_round_trips_types_nulls_and_long_text(postgis_db: str) -> None:
    frame = _typed()
    with PostgisStore(postgis_db) as store:
        store.replace("typed", frame)
        got = store.read("typed")
    assert pd.isna(got["i64"].iloc[1]) and pd.isna(got["i32"].iloc[2])
    assert got["f64"].iloc[0] == 1e308 and np.isnan(got["f64"].iloc[1])
    assert np.signbit(got["f64"].iloc[2]) and got["f64"].iloc[3] == 5e-324
    assert got["f32"].tolist()[1:3] == [np.inf, -np.inf]
    assert got["flag"].tolist()[0] is True and pd.isna(got["flag"].iloc[1])
    assert got["text"].iloc[0] == "" and pd.isna(got["text"].iloc[1])
    assert got["text"].iloc[2] == LONG and got["text"].iloc[3] == "NULL"
    assert got["at"].iloc[0] == pd.Timestamp("2024-01-31T23:59:59.999999Z")
    assert pd.isna(got["at"].iloc[1])
    assert got["at"].iloc[2] == pd.Timestamp("1900-01-01T00:00Z")
    assert got["naive"].iloc[2] == pd.Timestamp("1999-12-31T23:59:59.5")
    geoms = got.geometry
    assert geoms.iloc[0].equals(shapely.Point(67.8, 40.1))
    assert geoms.iloc[1].is_empty and geoms.iloc[1].geom_type == "Point"
    assert geoms.iloc[2] is None
    assert geoms.iloc[3].equals(frame.geometry.iloc[3])
    with _connect(postgis_db) as conn:
        row = conn.execute("SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                           "WHERE a.attrelid = 'typed'::regclass AND a.attname = 'day'"
                           ).fetchone()
        days = conn.execute("SELECT day::text FROM typed ORDER BY i32 NULLS FIRST").fetchall()
        srids = conn.execute("SELECT DISTINCT ST_SRID(geometry) FROM typed "
                             "WHERE geometry IS NOT NULL").fetchall()
        empty = conn.execute("SELECT count(*) FROM typed WHERE ST_IsEmpty(geometry)").fetchone()
        ints = conn.execute("SELECT i64::text, i32::text, format_type(a.atttypid, -1) FROM typed "
                            "JOIN pg_attribute a ON a.attrelid = 'typed'::regclass "
                            "AND a.attname = 'i32' ORDER BY f32").fetchall()
    assert row == ("date",)
    assert sorted(d for (d,) in days if d) == ["1969-12-31", "1970-01-01", "2022-01-08"]
    assert srids == [(4326,)] and empty == (1,)
    assert sorted(ints, key=str) == sorted([
        (str(2**62 + 1), str(2**31 - 1), "bigint"), (None, str(-(2**31)), "bigint"),
        (str(-(2**63)), None, "bigint"), ("0", "7", "bigint")], key=str)  # every bit kept


def test_incident_points_empty_and_null_go_in_binary(postgis_db: str) -> None:
    frame = three_months()
    frame.loc[1, "geometry"] = shapely.Point()
    frame.loc[2, "geometry"] = None
    frame.loc[3, "flags"] = "snapped_to_mahalla,swapped_coordinates"
    frame.loc[4, "incident_id"] = "x" * 200 + "Ъ"
    with PostgisStore(postgis_db) as store:
        store.replace("incidents", frame)
        got = store.read("incidents").set_index("incident_id")
    with _connect(postgis_db) as conn:
        kinds = dict(conn.execute(
            "SELECT incident_id, CASE WHEN geometry IS NULL THEN 'null' WHEN ST_IsEmpty(geometry)"
            " THEN 'empty' ELSE ST_AsText(geometry) END FROM incidents").fetchall())
    assert kinds["J2"] == "empty" and kinds["F1"] == "null"
    assert kinds["J1"] == "POINT(67.84 40.1)"
    assert got.loc["F2", "flags"] == "snapped_to_mahalla,swapped_coordinates"
    assert "x" * 200 + "Ъ" in got.index


def test_column_types_without_a_binary_encoder_go_as_csv(postgis_db: str) -> None:
    with _connect(postgis_db) as conn:
        conn.execute("CREATE TABLE money (n bigint, amount numeric(12, 2), note varchar(20))")
    frame = pd.DataFrame({"n": [1, 2], "amount": [12.5, 0.25], "note": ["a", None]})
    enc = encode("money", frame)
    cols = [Column("n", "int8", "bigint", None, None),
            Column("amount", "numeric", "numeric(12,2)", None, None),
            Column("note", "varchar", "character varying(20)", None, None)]
    assert enc.binary_copy(cols) is None  # numeric: no binary encoder, so CSV
    assert enc.binary_copy([cols[0], cols[2], Column("amount", "float8", "x", None, None)])
    with PostgisStore(postgis_db) as store:
        store.append("money", frame)
        assert store.read("money").sort_values("n")["amount"].tolist() == [12.5, 0.25]


def test_out_of_range_ints_are_refused_not_wrapped(postgis_db: str) -> None:
    with _connect(postgis_db) as conn:
        conn.execute("CREATE TABLE small (n integer)")
    with PostgisStore(postgis_db) as store:
        with pytest.raises(StoreError, match="out of range"):
            store.append("small", pd.DataFrame({"n": [2**40]}))
        assert store.count("small") == 0


def test_nanoseconds_are_rounded_to_microseconds(postgis_db: str) -> None:
    frame = pd.DataFrame({"t": pd.to_datetime(["2024-01-01T00:00:00.0000015Z",
                                               "2024-01-01T00:00:00.0000014Z"], utc=True)})
    assert str(frame["t"].dtype) == "datetime64[ns, UTC]"
    with PostgisStore(postgis_db) as store:
        store.replace("stamps", frame)
    with _connect(postgis_db) as conn:
        got = [r[0] for r in conn.execute("SELECT to_char(t, 'US') FROM stamps ORDER BY t")]
    assert got == ["000001", "000002"]
