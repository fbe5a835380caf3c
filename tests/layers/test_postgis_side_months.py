"""PostGIS only: the new months of a big load built on side connections (layers.pgmonths)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import psycopg
import pytest

import riskmap.layers  # noqa: F401 - registers the built-in layers
from riskmap.layers import pgmonths
from riskmap.layers.postgis import PostgisStore
from tests.conftest import _libpq
from tests.layers.test_partitions import FEB, JAN, MAR, _ids, incidents, three_months

pytestmark = pytest.mark.postgis

PREFIX = pgmonths.side_prefix("incidents")


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(_libpq(url), autocommit=True)


@pytest.fixture
def side_loads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Side loads on from 4 rows; the partitions each side load built, in order."""
    monkeypatch.setattr(pgmonths, "SIDE_ROWS", 4)
    calls: list[list[str]] = []
    build = pgmonths.build

    def spy(engine: Any, layer: str, column: str, months: Any, *args: Any) -> None:
        calls.append([m.final for m in months])
        build(engine, layer, column, months, *args)
    monkeypatch.setattr(pgmonths, "build", spy)
    return calls


def _side_tables(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT relname FROM pg_class WHERE left(relname, %s) = %s",
        (len(PREFIX), PREFIX)).fetchall()]


def _partitions(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'incidents'::regclass ORDER BY 1").fetchall()]


def _indexes(conn: psycopg.Connection, table: str) -> list[str]:
    """The table's index definitions, its name and the indexes' names taken out."""
    defs = [r[0] for r in conn.execute(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = %s::regclass",
        (table,)).fetchall()]
    return sorted(re.sub(r"INDEX \S+ ON (ONLY )?\S+", "INDEX ON T", d) for d in defs)


def test_new_months_are_built_beside_and_match_a_month_attached_here(
        postgis_db: str, side_loads: list[list[str]]) -> None:
    store = PostgisStore(postgis_db)
    try:
        with store.transaction() as txn:  # January and February: two new months, beside
            txn.upsert("incidents", three_months().iloc[:4])
        with store.transaction() as txn:  # March alone: one new month, attached here
            txn.upsert("incidents", three_months().iloc[4:])
        got = store.read("incidents")
    finally:
        store.close()
    assert side_loads == [["incidents_y2024m01", "incidents_y2024m02"]]
    assert _ids(got) == ["F1", "F2", "J1", "J2", "M1", "M2"]
    with _connect(postgis_db) as conn:
        assert _partitions(conn) == ["incidents_y2024m01", "incidents_y2024m02",
                                     "incidents_y2024m03"]
        assert _side_tables(conn) == []
        # the same indexes as a month whose indexes ATTACH built, one per index of the table
        parent = _indexes(conn, "incidents")
        assert _indexes(conn, "incidents_y2024m01") == _indexes(conn, "incidents_y2024m03")
        assert len(_indexes(conn, "incidents_y2024m01")) == len(parent) >= 6
        names = {r[0] for r in conn.execute(
            "SELECT indexrelid::regclass::text FROM pg_index "
            "WHERE indrelid = 'incidents_y2024m02'::regclass").fetchall()}
        assert {"incidents_y2024m02_pkey", "incidents_y2024m02_h3_idx",
                "incidents_y2024m02_geometry_idx"} <= names
        # each adopted by the table's index (an index ATTACH built would be one more)
        attached = conn.execute(
            "SELECT count(*) FROM pg_inherits i JOIN pg_index x ON x.indexrelid = i.inhrelid "
            "WHERE x.indrelid = 'incidents_y2024m02'::regclass").fetchone()[0]
        assert attached == len(parent)
        # the bounds' CHECK is gone: the partition's own constraint states them
        assert conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'c' "
                            "AND conrelid = 'incidents_y2024m01'::regclass").fetchone()[0] == 0
        keys = conn.execute("SELECT incident_id FROM incidents_keys ORDER BY 1").fetchall()
        assert [k[0] for k in keys] == ["F1", "F2", "J1", "J2", "M1", "M2"]
        # and the month holds only its own rows, in the right partition
        assert sorted(r[0] for r in conn.execute(
            "SELECT incident_id FROM incidents_y2024m02").fetchall()) == ["F1", "F2"]


def test_attach_adopts_the_indexes_without_scanning_the_rows(
        postgis_db: str, side_loads: list[list[str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    notices: list[str] = []
    attach = pgmonths.attach

    def listened(cur: psycopg.Cursor[Any], layer: str, months: Any) -> None:
        cur.connection.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        cur.execute("SET LOCAL client_min_messages = debug1")
        attach(cur, layer, months)
        cur.execute("SET LOCAL client_min_messages = notice")
    monkeypatch.setattr(pgmonths, "attach", listened)
    store = PostgisStore(postgis_db)
    try:
        with store.transaction() as txn:
            txn.upsert("incidents", three_months())
    finally:
        store.close()
    assert side_loads == [["incidents_y2024m01", "incidents_y2024m02", "incidents_y2024m03"]]
    implied = [n for n in notices if "is implied by existing constraints" in n]
    assert len(implied) == 3, notices
    assert not any("building index" in n or "create index" in n.lower() for n in notices)


def test_a_failed_transaction_leaves_no_month_and_no_side_table(
        postgis_db: str, side_loads: list[list[str]]) -> None:
    store = PostgisStore(postgis_db)
    try:
        with pytest.raises(RuntimeError, match="after the load"), \
                store.transaction() as txn:
            txn.upsert("incidents", three_months())
            raise RuntimeError("after the load")
        assert store.count("incidents") == 0
        # a statement of the same transaction failing in the database after the load
        with pytest.raises(psycopg.errors.DivisionByZero), store.transaction() as txn:
            txn.upsert("incidents", three_months())
            txn.cur.execute("SELECT 1/0")  # type: ignore[attr-defined]
        assert store.count("incidents") == 0
    finally:
        store.close()
    assert len(side_loads) == 2
    with _connect(postgis_db) as conn:
        assert _partitions(conn) == []
        assert _side_tables(conn) == []
        assert conn.execute("SELECT count(*) FROM incidents_keys").fetchone()[0] == 0


def test_tables_left_by_a_crashed_load_are_dropped_by_the_next(
        postgis_db: str, side_loads: list[list[str]]) -> None:
    orphan = f"{PREFIX}deadbeef_y2024m01"
    with _connect(postgis_db) as conn:  # as a load that died between its side and its commit
        conn.execute(f'CREATE TABLE "{orphan}" (LIKE incidents INCLUDING DEFAULTS)')
        conn.execute(f'CREATE INDEX "incidents_y2024m01_h3_idx" ON "{orphan}" (h3)')
        conn.execute(f"INSERT INTO \"{orphan}\" (incident_id, occurred_at, category) "
                     "VALUES ('ghost', '2024-01-20', 'theft')")
    store = PostgisStore(postgis_db)
    try:
        with store.transaction() as txn:  # the same month's index names: no clash
            txn.upsert("incidents", three_months())
        got = store.read("incidents")
    finally:
        store.close()
    assert len(side_loads) == 1
    assert "ghost" not in set(got["incident_id"].astype(str))
    assert len(got) == 6
    with _connect(postgis_db) as conn:
        assert _side_tables(conn) == []


def test_a_transaction_holding_the_table_builds_its_months_itself(
        postgis_db: str, side_loads: list[list[str]]) -> None:
    """A replace drops the months (a lock on the table a side connection would wait for):
    its new months are attached on its own connection, without waiting."""
    store = PostgisStore(postgis_db)
    try:
        with store.transaction() as txn:
            txn.upsert("incidents", three_months())
        with store.transaction() as txn:
            txn.replace("incidents", incidents(["A", "B", "C", "D"], [JAN, FEB, MAR, MAR]))
        got = store.read("incidents")
    finally:
        store.close()
    assert len(side_loads) == 1  # the first load only
    assert _ids(got) == ["A", "B", "C", "D"]


def test_the_index_plan_refuses_forms_it_does_not_rebuild() -> None:
    assert pgmonths.index_plan([("i", "CREATE INDEX i ON ONLY public.t USING btree "
                                 "(lower(x))", None, None)]) is None
    assert pgmonths.index_plan([("i", "CREATE INDEX i ON ONLY public.t USING btree (x) "
                                 "WHERE (x > 0)", None, None)]) is None
    assert pgmonths.index_plan([("c", "CREATE UNIQUE INDEX c ON ONLY public.t USING btree "
                                 "(x)", "c", "EXCLUDE USING gist (x WITH =)")]) is None
    two = pgmonths.index_plan([  # two unique constraints: a name each
        ("a", "CREATE UNIQUE INDEX a ON ONLY public.t USING btree (x, m)", "a",
         "UNIQUE (x, m)"),
        ("b", "CREATE UNIQUE INDEX b ON ONLY public.t USING btree (y, m)", "b",
         "UNIQUE (y, m)")])
    assert two is not None and two.statements == (
        'ALTER TABLE {table} ADD CONSTRAINT "{final}_x_m_key" UNIQUE (x, m)',
        'ALTER TABLE {table} ADD CONSTRAINT "{final}_y_m_key" UNIQUE (y, m)')
    plan = pgmonths.index_plan([("i", 'CREATE INDEX i ON ONLY public.t USING btree '
                                 '(mahalla_id COLLATE "C")', None, None)])
    assert plan is not None
    assert plan.statements == ('CREATE INDEX "{final}_mahalla_id_idx" ON {table} USING '
                               'btree (mahalla_id COLLATE "C")',)


def test_a_role_that_may_not_open_more_connections_loads_on_its_own(
        postgis_db: str, side_loads: list[list[str]]) -> None:
    """A role allowed two connections (CONNECTION LIMIT 2: the transaction's, and the one the
    store reads on during it): the side connections cannot be opened, so the load builds its
    new months on its own connection, and succeeds."""
    from sqlalchemy.engine import make_url

    role = f"rm_two_{uuid.uuid4().hex[:8]}"
    with _connect(postgis_db) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 2')
        conn.execute(f'GRANT ALL ON SCHEMA public TO "{role}"')
        # the store's tables become the role's (ATTACH PARTITION needs the table's owner)
        for (table,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'spatial_ref_sys'").fetchall():
            conn.execute(f'ALTER TABLE "{table}" OWNER TO "{role}"')
    url = make_url(postgis_db).set(username=role, password=None).render_as_string(
        hide_password=False)
    try:
        store = PostgisStore(url, migrate=False)
        try:
            with store.transaction() as txn:
                txn.upsert("incidents", three_months())
            got = store.read("incidents")
        finally:
            store.close()
        assert side_loads == []
        assert _ids(got) == ["F1", "F2", "J1", "J2", "M1", "M2"]
    finally:
        with _connect(postgis_db) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER')
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def test_a_load_into_stored_and_new_months_at_once(
        postgis_db: str, side_loads: list[list[str]]) -> None:
    """January is stored: its rows go in on the load's own connection while February and
    March are built beside; a row moved from January to March leaves January."""
    store = PostgisStore(postgis_db)
    try:
        with store.transaction() as txn:  # one new month: built here
            txn.upsert("incidents", incidents(["J1", "J2", "J3"], [JAN, JAN, JAN]))
        later = incidents(["J1", "J3", "F1", "F2", "M1"], [JAN, MAR, FEB, FEB, MAR],
                          category="fraud")
        with store.transaction() as txn:
            txn.upsert("incidents", later)
        got = store.read("incidents").set_index("incident_id")
    finally:
        store.close()
    assert side_loads == [["incidents_y2024m02", "incidents_y2024m03"]]
    assert sorted(got.index) == ["F1", "F2", "J1", "J2", "J3", "M1"]
    assert got.loc["J3", "occurred_at"] == MAR and got.loc["J1", "category"] == "fraud"
    assert got.loc["J2", "category"] == "theft"
    with _connect(postgis_db) as conn:
        months = {name: sorted(r[0] for r in conn.execute(
            f'SELECT incident_id FROM "{name}"').fetchall()) for name in _partitions(conn)}
        assert months == {"incidents_y2024m01": ["J1", "J2"],
                          "incidents_y2024m02": ["F1", "F2"],
                          "incidents_y2024m03": ["J3", "M1"]}
        keys = dict(conn.execute("SELECT incident_id, occurred_at FROM incidents_keys")
                    .fetchall())
        assert sorted(keys) == ["F1", "F2", "J1", "J2", "J3", "M1"]
        assert keys["J3"] == MAR.to_pydatetime()
        assert _side_tables(conn) == []
