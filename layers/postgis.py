"""The PostGIS store: SQLAlchemy 2 + psycopg 3, bulk COPY in and out, schema managed by Alembic.

Registered layers live in tables created by the Alembic migrations in ``layers/migrations``
(``geometry(<type>, 4326)`` with GiST indexes, the spec's key as primary key, B-tree indexes on
the spec's ``indexes``). Unregistered (derived) layers are tables created when first written.
``riskmap_layers`` lists the layers that hold data, with the Arrow schema their attributes were
written with, so that reads give back the same dtypes as the embedded (GeoParquet) store.

The layers of :data:`~layers.store.PARTITIONED` (incidents) are range-partitioned by the month
of their timestamp column (revision 0004): one table per month, ``<layer>_yYYYYmMM``, created by
the write that first needs it. The primary key is (key, timestamp), as PostgreSQL requires of a
partitioned table; the key alone stays unique because every write of the store deletes the
rows of the keys it writes, whatever their month, before it inserts them (so a row whose month
changed moves), writers of the layer are serialised by an advisory lock, and an append refuses
keys already stored. A month that gets its first rows is loaded as a plain table, then indexed
and attached (building an index once is several times faster than inserting into it row by row).

Writes are one database transaction per :meth:`PostgisStore.transaction` block and are bulk
loaded with binary ``COPY ... FROM STDIN`` (``layers._pgcodec``; CSV for a column type it does
not encode). Reads run one parameterised query (filters pushed down; a long ``in`` list goes
through a temporary table) whose rows Arrow's CSV reader parses. This module runs the SQL.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import itertools
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

import geopandas as gpd
import shapely

from riskmap.errors import SchemaError, StoreError
from riskmap.layers import pgmonths
from riskmap.layers._pgcodec import (
    GEOM,
    MULTI,
    SPEC_SQL,
    TYPE_IDS,
    BinaryCopy,
    Column,
    Encoded,
    arrow_sql_type,
    decode,
    encode,
    py_value,
    read_query,
    schema_from_b64,
    spec_geometry_type,
    to_frame,
)
from riskmap.layers.auditbuffer import flush_for, flush_store
from riskmap.layers.auditlog import GENESIS
from riskmap.layers.spec import SRID, LayerSpec, get_spec
from riskmap.layers.store import (
    PARTITIONED,
    UNVERSIONED,
    Filter,
    Store,
    Transaction,
    apply_filters,
    audit_records,
    check_filters,
    month_bounds,
    month_codes,
    prepare,
    refuse_append_only,
)

__all__ = ["PostgisStore", "alembic_config", "sqlalchemy_url"]

_MIGRATION_LOCK = 0x7269736B6D6170  # pg_advisory_xact_lock key: "riskmap"
_WRITE_LOCK = 0x726D6170  # first key of the per-layer writer lock: "rmap"
_AUDIT_LOCK = 0x726D617061756474  # pg_advisory_xact_lock key of the audit chain: "rmapaudt"
_INTERNAL = frozenset({"riskmap_layers", "alembic_version", "spatial_ref_sys"})
_REINDEX_ROWS = 20_000  # a replace this big drops the indexes and builds them after the COPY
_IN_TABLE = 5_000  # an ``in`` filter with more values goes through a temporary table
_PROBE_KEYS = 20_000  # up to this many keys are looked up in each month's key index
#: the month code (:func:`~layers.store.month_codes`) of a timestamptz column, in SQL
_MONTH_CODE = ("(extract(year FROM {c} AT TIME ZONE 'UTC')::int - 1970) * 12"
               " + extract(month FROM {c} AT TIME ZONE 'UTC')::int - 1")
_COPY_QUEUE_ROWS = 20_000  # a COPY this big is sent by a thread while the next rows encode
#: name of a month partition: ``<layer>_yYYYYmMM``
_PARTITION = re.compile(r"(?P<layer>.+)_y(?P<year>\d{4})m(?P<month>\d{2})")
#: per-session settings. A client that dies (killed, machine gone) must not leave its session
#: running a statement and holding locks that make the next load wait: the server checks the
#: client's socket every second during a statement (PostgreSQL 14+), TCP keepalives find a
#: silent peer within about a minute, and a session idle inside a transaction ends after 10
#: minutes.
SESSION_OPTIONS = ("-c TimeZone=UTC -c extra_float_digits=3"
                   " -c client_connection_check_interval=1000"
                   " -c idle_in_transaction_session_timeout=600000")
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}


# ---- helpers: SQL files, URLs, Alembic -----------------------------------------------------

@functools.cache
def _sql(name: str) -> str:
    """The text of ``layers/sql/<name>.sql`` without its comment lines."""
    text = (resources.files("riskmap.layers") / "sql" / f"{name}.sql").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def sqlalchemy_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver (``postgresql+psycopg://``).

    Examples
    --------
    >>> sqlalchemy_url("postgres://u@h/db")
    'postgresql+psycopg://u@h/db'
    """
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise StoreError(f"not a PostgreSQL URL: {url.split('@')[-1]!r}")


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the store's migrations, built in code (no alembic.ini).

    Parameters
    ----------
    url
        Database URL, used when Alembic opens its own connection (the ``alembic`` CLI);
        :meth:`PostgisStore.migrate` passes its connection instead.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("riskmap.layers") / "migrations"))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return cfg


# ---- table introspection -------------------------------------------------------------------

def _columns(cur: psycopg.Cursor[Any], table: str) -> list[Column]:
    return _columns_and_schema(cur, table)[0]


@functools.lru_cache(maxsize=256)
def _schema(b64: str) -> pa.Schema:
    """:func:`schema_from_b64`, remembered (every read of a layer parses the same text)."""
    return schema_from_b64(b64)


def _columns_and_schema(cur: psycopg.Cursor[Any],
                        layer: str) -> tuple[list[Column], pa.Schema | None]:
    """The columns of a table and the Arrow schema of its layer (None without one), in one
    round trip (a read's first question; a session check asks it on every request)."""
    rows = cur.execute(_sql("table_columns"), {"table": layer}).fetchall()
    cols = [Column(*row[:-1]) for row in rows]
    b64 = rows[0][-1] if rows else None
    return cols, (_schema(b64) if b64 is not None else None)


def _check_name(layer: str, spec: LayerSpec | None) -> None:
    if not layer or len(layer.encode()) > 63 or "\x00" in layer:
        raise SchemaError(f"layer name {layer!r} cannot be a PostgreSQL table name (1-63 bytes)")
    month = _PARTITION.fullmatch(layer)
    if spec is None and (layer in _INTERNAL or layer.startswith("pg_")
                         or (month is not None and month["layer"] in PARTITIONED)):
        raise SchemaError(f"layer name {layer!r} is reserved by the PostGIS store")


def _partition_name(layer: str, month: int) -> str:
    """``incidents_y2024m03`` for March 2024 (a :func:`~layers.store.month_codes` value)."""
    year, index = divmod(int(month), 12)
    return f"{layer}_y{1970 + year:04d}m{index + 1:02d}"


def _partitions(cur: psycopg.Cursor[Any], layer: str) -> dict[int, str] | None:
    """Month -> partition of a partitioned table; None when the table is not partitioned."""
    row = cur.execute("SELECT c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
                      " ON n.oid = c.relnamespace WHERE n.nspname = current_schema()"
                      " AND c.relname = %s", (layer,)).fetchone()
    if row is None or row[0] != "p":
        return None
    out = {}
    for name, _ in cur.execute(_sql("partitions"), {"table": layer}).fetchall():
        m = _PARTITION.fullmatch(name)
        if m is not None and m["layer"] == layer:
            out[(int(m["year"]) - 1970) * 12 + int(m["month"]) - 1] = name
    return out


def _directory_name(layer: str) -> str:
    """The key directory of a partitioned layer: ``incidents_keys`` (revision 0012)."""
    return f"{layer}_keys"


def _exists(cur: psycopg.Cursor[Any], table: str) -> bool:
    row = cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    return bool(row and row[0])


def _month_code(column: str) -> sql.Composable:
    return sql.SQL(_MONTH_CODE.replace("{c}", "{}")).format(
        sql.Identifier(column), sql.Identifier(column))


def _key_months(cur: psycopg.Cursor[Any], layer: str, spec: LayerSpec,
                filters: list[Filter], by_name: dict[str, Column]) -> set[int] | None:
    """The months holding the keys a read asks for, from the layer's key directory (one
    index probe a key, whatever the number of months); None when the schema has none."""
    directory = _directory_name(layer)
    if spec.key is None or not _exists(cur, directory):
        return None
    terms = [f for f in filters if f[0] == spec.key and f[1] in ("=", "in")]
    where, params = _where(directory, terms, {spec.key: by_name[spec.key]}, cur)
    rows = cur.execute(sql.SQL("SELECT DISTINCT {} FROM {}{}").format(
        _month_code(PARTITIONED[layer]), sql.Identifier(directory), where), params or None)
    return {int(row[0]) for row in rows.fetchall()}


def _select(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    if columns is None:
        return frame
    cols = [c for c in columns if c in frame.columns]
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name not in cols:
        return pd.DataFrame(frame[cols])
    return frame[cols]


def _where(layer: str, filters: list[Filter], by_name: dict[str, Column],
           cur: psycopg.Cursor[Any] | None = None) -> tuple[sql.Composable, list[Any]]:
    """Parameterised WHERE clause; column names are checked against the table's columns.

    With ``cur``, an ``in`` list of more than :data:`_IN_TABLE` values is copied into a
    temporary table of the session and joined (a hash join, not a million-value array).
    """
    if not filters:
        return sql.SQL(""), []
    ops = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
    terms: list[sql.Composable] = []
    params: list[Any] = []
    for name, op, value in filters:
        col = by_name.get(name)
        if col is None:
            raise KeyError(f"filter on unknown column {name!r} of layer {layer!r}")
        if col.is_geometry:
            raise SchemaError(f"layer {layer!r}: cannot filter on the geometry column")
        ident = sql.Identifier(name)
        typ = sql.SQL(col.sql_type)
        if op == "in":
            staged = _in_table(cur, layer, col, value) if cur is not None else None
            if staged is not None:
                terms.append(sql.SQL("{} IN (SELECT v FROM {})").format(ident, staged))
                continue
            values = value.tolist() if hasattr(value, "tolist") else list(value)
            terms.append(sql.SQL("{} = ANY(CAST(%s AS {}[]))").format(ident, typ))
            params.append([py_value(v) for v in values])
        else:
            terms.append(sql.SQL("{} {} CAST(%s AS {})").format(ident, sql.SQL(ops[op]), typ))
            params.append(py_value(value))
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(terms), params


def _few_keys(layer: str, spec: LayerSpec | None, filters: list[Filter]) -> bool:
    """Whether a read of a partitioned layer looks up at most :data:`_PROBE_KEYS` keys.

    Then the key directory names the months that hold them (:func:`_key_months`), and only
    those months' key indexes are probed: without a hint the planner, costing random reads
    high, scans a month in full for a thousand keys, which grows with the store (~0.2 s a
    million rows) while the probes stay ~1 ms a month. Only sequential scans are turned off,
    for this one read's transaction. (A schema before revision 0012 has no directory: every
    month is probed, ~16 ms a month for 1,000 keys.)
    """
    if spec is None or spec.key is None or layer not in PARTITIONED:
        return False
    for col, op, value in filters:
        if col == spec.key and op == "=":
            return True
        if col == spec.key and op == "in" and len(value) <= _PROBE_KEYS:
            return True
    return False


def _in_table(cur: psycopg.Cursor[Any], layer: str, col: Column,
              value: Any) -> sql.Composable | None:
    """A temporary table holding the values of a long ``in`` list, or None (short list, or a
    type the binary COPY does not encode)."""
    if len(value) <= _IN_TABLE:
        return None
    try:
        arr = pa.array(value, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    enc = Encoded(pa.table({"v": arr}), None)
    column = Column("v", col.base_type, col.sql_type, None, None)
    plan = enc.binary_copy([column])
    if plan is None:
        return None
    name = sql.Identifier(f"_riskmap_in_{next(_TEMP_IDS)}")
    cur.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} AS v FROM {} "
                        "WITH NO DATA").format(name, sql.Identifier(col.name),
                                               sql.Identifier(layer)))
    with cur.copy(sql.SQL("COPY {} (v) FROM STDIN (FORMAT binary)").format(name)) as copy:
        for chunk in plan.chunks():
            copy.write(chunk)
    cur.execute(sql.SQL("ANALYZE {}").format(name))
    return name


_TEMP_IDS = itertools.count()


# ---- the store -----------------------------------------------------------------------------

#: a pooled connection unused for longer than this is pinged before it is handed out
PING_IDLE_S = 5.0


def _ping_when_idle(engine: sa.Engine, idle_s: float = PING_IDLE_S) -> None:
    """SQLAlchemy's ``pool_pre_ping``, only for connections idle more than ``idle_s``.

    A connection used a moment ago is alive; pinging it anyway cost one round trip per
    checkout, ~5% of the app's time under load (a session check checks out two). A stale
    one (the server restarted, a firewall dropped it) fails its ping, and the pool replaces
    it (``DisconnectionError``) before the caller sees it.
    """
    @sa.event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["riskmap_used"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        used = record.info.get("riskmap_used")
        if used is not None and time.monotonic() - used < idle_s:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError(f"stale connection: {exc}") from exc
        if not alive:
            raise sa.exc.DisconnectionError("stale connection")


class PostgisStore(Store):
    """Layers as PostGIS tables in the database at ``url``.

    Parameters
    ----------
    url
        ``postgresql+psycopg://user:password@host:port/dbname`` (``postgresql://`` and
        ``postgres://`` are accepted and use psycopg 3).
    migrate
        Create or upgrade the schema with Alembic on open (keyword-only; on by default).

    Examples
    --------
    >>> store = PostgisStore("postgresql+psycopg://riskmap@127.0.0.1/riskmap")  # doctest: +SKIP
    >>> store.read("mahallas", filters=[("region", "=", "Jizzakh")])  # doctest: +SKIP
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = sa.create_engine(
            sqlalchemy_url(url),
            connect_args={"options": SESSION_OPTIONS, "application_name": "riskmap",
                          **KEEPALIVES})
        _ping_when_idle(self.engine)
        if migrate:
            try:
                self.migrate()
            except BaseException:
                self.engine.dispose()
                raise

    def __repr__(self) -> str:
        return f"PostgisStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (a no-op when it is there).

        Concurrent callers are serialised with a transaction-level advisory lock.

        Raises
        ------
        StoreError
            The database is unreachable or a migration failed; nothing was changed.
        """
        cfg = alembic_config()
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"{self!r}: cannot migrate the schema: {exc.orig}") from exc

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[Any]]:
        try:
            with self.engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert isinstance(raw, psycopg.Connection)
                with raw.cursor() as cur:
                    yield cur
        except (psycopg.OperationalError, sa.exc.OperationalError) as exc:
            raise StoreError(f"{self!r}: {exc}") from exc

    # ---- reads ---------------------------------------------------------------------------
    def layer_names(self) -> list[str]:
        """Layers that hold data (written at least once and not dropped)."""
        with self._cursor() as cur:
            return [row[0] for row in cur.execute(_sql("layer_names")).fetchall()]

    def version(self) -> str:
        """Latest write time and count of the layers in ``riskmap_layers``.

        The :data:`UNVERSIONED` layers are left out.
        """
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT coalesce(max(updated_at)::text, '') || '/' || count(*) "
                "FROM riskmap_layers WHERE name <> ALL(%s)", (list(UNVERSIONED),)).fetchone()
            return str(row[0]) if row else ""

    def count(self, layer: str) -> int:
        """Number of rows in ``layer`` (0 when absent)."""
        if layer == "audit":
            flush_for(self.url)
        with self._cursor() as cur:
            if not _columns(cur, layer):
                return 0
            row = cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(layer)))
            return int(row.fetchone()[0])  # type: ignore[index]

    def read(self, layer: str, *, columns: Sequence[str] | None = None,
             filters: Sequence[Filter] | None = None) -> pd.DataFrame:
        """Read a layer with the filters pushed down into SQL.

        Parameters
        ----------
        layer
            Layer name.
        columns
            Columns to return, in this order; a spatial layer keeps its geometry only when
            ``"geometry"`` is listed. ``None`` returns every column.
        filters
            ``(column, op, value)`` terms, ANDed; see :mod:`layers.store`.

        Returns
        -------
        pandas.DataFrame
            A GeoDataFrame in EPSG:4326 for spatial layers, with the spec's dtypes; an absent
            layer reads as the spec's empty frame.

        Raises
        ------
        KeyError
            A requested or filtered column does not exist.
        """
        if layer == "audit":
            flush_for(self.url)  # records the app queued (layers.auditbuffer) show too
        spec = get_spec(layer)
        flist = check_filters(filters)
        with self._cursor() as cur:
            cols, schema = _columns_and_schema(cur, layer)
            if not cols:
                frame = spec.empty() if spec is not None else pd.DataFrame()
                frame = apply_filters(frame, flist) if len(frame.columns) else frame
                return _select(frame, columns)
            by_name = {c.name: c for c in cols}
            if columns is not None:
                unknown = [c for c in columns if c not in by_name and c != GEOM]
                if unknown:
                    raise KeyError(f"layer {layer!r} has no column(s) {unknown}; "
                                   f"it has {list(by_name)}")
                cols = [c for c in cols if c.name in columns]
            where, params = _where(layer, flist, by_name, cur)
            tables = [layer]
            if _few_keys(layer, spec, flist):
                assert spec is not None
                cur.execute("SET LOCAL enable_seqscan = off")  # see _few_keys
                months = _key_months(cur, layer, spec, flist, by_name)
                if months is not None:  # only the months that hold these keys
                    parts = _partitions(cur, layer) or {}
                    tables = [parts[m] for m in sorted(months) if m in parts]
            blocks: list[bytes] = []
            for table in tables if cols else ():
                cur.execute(read_query(table, cols, where), params or None, binary=True)
                blocks.extend(row[0] for row in cur.fetchall())
        arrays = decode(blocks, cols)
        return _select(to_frame(arrays, cols, spec, schema), columns)

    # ---- writes --------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One database transaction: every write in the block commits together, or none does.

        Raises
        ------
        StoreError
            A database error; the transaction was rolled back.
        """
        txn = None
        committed = False
        try:
            with self.engine.begin() as conn:
                raw = conn.connection.driver_connection
                assert isinstance(raw, psycopg.Connection)
                with raw.cursor() as cur:
                    txn = _PostgisTransaction(cur, self.engine)
                    yield txn
            committed = True
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"{self!r}: transaction rolled back: {exc.orig}") from exc
        finally:
            if not committed and txn is not None and txn.side_tables:
                # months built beside it and not attached: not part of the layer, but dropped
                # now (if this fails too, the next load of the layer drops them)
                with contextlib.suppress(psycopg.Error, sa.exc.SQLAlchemyError):
                    pgmonths.drop_tables(self.engine, txn.side_tables)

    def close(self) -> None:
        """Write the audit records still queued for this store; close the connection pool."""
        flush_store(self)
        self.engine.dispose()


class _PostgisTransaction(Transaction):
    """Writes inside one database transaction (see :meth:`PostgisStore.transaction`)."""

    def __init__(self, cur: psycopg.Cursor[Any], engine: sa.Engine | None = None) -> None:
        self.cur = cur
        self._engine = engine  # for side connections (layers.pgmonths); None: none are made
        #: side tables made by this transaction: dropped if it fails (attached if it commits)
        self.side_tables: list[str] = []
        self._stage_ids = itertools.count()
        self._created = False
        self._locked: set[str] = set()
        self._directories: dict[str, str | None] = {}

    @contextlib.contextmanager
    def _step(self, layer: str, what: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise StoreError(f"layer {layer!r}: {what} failed, transaction rolled back: "
                             f"{exc}") from exc

    def _prepare(self, layer: str, frame: pd.DataFrame) -> tuple[LayerSpec | None, Encoded]:
        """Conform to the spec, check the name and keys, and encode: all before any SQL."""
        spec, frame = prepare(layer, frame)
        _check_name(layer, spec)  # keys were checked (present, unique) by prepare()
        return spec, encode(layer, frame)

    # ---- the four operations ---------------------------------------------------------
    def replace(self, layer: str, frame: pd.DataFrame) -> None:
        """Replace the whole layer (TRUNCATE + COPY; derived tables are dropped and re-created;
        a partitioned layer's months are dropped and loaded again)."""
        refuse_append_only(layer, "replace")
        spec, enc = self._prepare(layer, frame)
        with self._step(layer, "replace"):
            cols = _columns(self.cur, layer)
            parts = self._partitioned(layer, spec) if cols else None
            if parts is not None and self._fits(layer, cols, enc, exact=True):
                for name in parts.values():
                    self.cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                directory = self._directory(layer)
                if directory is not None:
                    self.cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(directory)))
                self._load_months(layer, cols, enc, {})
            elif cols and spec is not None and self._fits(layer, cols, enc, exact=True):
                self.cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(layer)))
                big = len(enc) >= _REINDEX_ROWS  # then building indexes after the COPY is faster
                with self._indexes_dropped(layer) if big else contextlib.nullcontext():
                    self._load(layer, cols, enc)
            else:
                cols = self._create(layer, spec, enc, drop=bool(cols))
                self._load(layer, cols, enc)
            self._mark(layer, spec, enc)

    def append(self, layer: str, frame: pd.DataFrame) -> None:
        """Append rows (COPY); a derived table is created on the first append."""
        spec, enc = self._prepare(layer, frame)
        with self._step(layer, "append"):
            cols = self._existing_or_new(layer, spec, enc)
            parts = self._partitioned(layer, spec)
            if parts is not None and spec is not None and spec.key is not None:
                if parts and len(enc):
                    self._refuse_stored_keys(layer, spec.key, cols, enc)
                self._load_months(layer, cols, enc, parts)
            else:
                self._load(layer, cols, enc)
            self._mark(layer, spec, enc if self._created else None)

    def upsert(self, layer: str, frame: pd.DataFrame) -> None:
        """Insert rows, replacing those whose key exists (COPY to a temp table + ON CONFLICT;
        a partitioned layer: delete the stored rows of these keys in any month, then COPY)."""
        spec = get_spec(layer)
        if spec is None or spec.key is None:
            raise StoreError(f"layer {layer!r} has no key to upsert on")
        refuse_append_only(layer, "upsert")
        spec, enc = self._prepare(layer, frame)
        assert spec is not None and spec.key is not None
        with self._step(layer, "upsert"):
            cols = self._existing_or_new(layer, spec, enc)
            parts = self._partitioned(layer, spec)
            if parts is not None:
                if parts and len(enc):
                    self._delete_staged(layer, spec.key, cols, enc, parts)
                self._load_months(layer, cols, enc, parts)
            elif len(enc):
                stage = self._stage(layer, cols, enc)
                names = enc.names
                ident = sql.Identifier
                query = sql.SQL(_sql("upsert_from_stage")).format(
                    table=ident(layer), stage=ident(stage),
                    columns=sql.SQL(", ").join(map(ident, names)),
                    select=self._select_from_stage(cols, names),
                    key=ident(spec.key),
                    updates=sql.SQL(", ").join(
                        sql.SQL("{} = EXCLUDED.{}").format(ident(n), ident(n))
                        for n in names if n != spec.key),
                )
                self.cur.execute(query)
                self.cur.execute(sql.SQL("DROP TABLE {}").format(ident(stage)))
            self._mark(layer, spec, enc if self._created else None)

    def delete(self, layer: str, key_values: Sequence[str]) -> None:
        """Delete the rows whose key is in ``key_values`` (``DELETE .. WHERE key = ANY(..)``)."""
        spec = get_spec(layer)
        refuse_append_only(layer, "delete")
        if spec is None or spec.key is None:
            raise StoreError(f"layer {layer!r} has no key to delete by")
        _check_name(layer, spec)
        with self._step(layer, "delete"):
            cols = _columns(self.cur, layer)
            if not cols:
                cols = self._create(layer, spec, encode(layer, spec.empty()), drop=False)
            key = next(c for c in cols if c.name == spec.key)
            values = [py_value(v) for v in list(key_values)]
            parts = self._partitioned(layer, spec)
            if parts is not None and self._directory(layer) is not None:
                if parts and values:
                    keys = Encoded(pa.table({spec.key: pa.array(values)}), None)
                    self._delete_staged(layer, spec.key, cols, keys, parts)
                self._mark(layer, spec, None)
                return
            probe = layer in PARTITIONED and len(values) <= _PROBE_KEYS
            if probe:  # each month's key index, not every month read in full (see _few_keys)
                self.cur.execute("SET LOCAL enable_seqscan = off")
            self.cur.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(CAST(%s AS {}[]))").format(
                sql.Identifier(layer), sql.Identifier(spec.key), sql.SQL(key.sql_type)),
                (values,))
            if probe:
                self.cur.execute("RESET enable_seqscan")
            self._mark(layer, spec, None)

    def append_audit(self, records: pd.DataFrame) -> None:
        """Chain ``records`` after the last audit record and append them, holding
        ``pg_advisory_xact_lock(_AUDIT_LOCK)`` to the end of the transaction: another writer
        waits for it, then (read committed: a new snapshot per statement) sees these records
        as the last. The unique index on ``seq`` would refuse a fork of the chain anyway."""
        if not len(records):
            return
        with self._step("audit", "append_audit"):
            self.cur.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))
            row = self.cur.execute("SELECT seq, hash FROM audit WHERE seq IS NOT NULL "
                                   "ORDER BY seq DESC LIMIT 1").fetchone()
        prev = (int(row[0]), str(row[1])) if row is not None else (0, GENESIS)
        self.append("audit", audit_records(records, *prev))

    # ---- partitioned layers ----------------------------------------------------------
    def _partitioned(self, layer: str, spec: LayerSpec | None) -> dict[int, str] | None:
        """Month -> partition when ``layer`` is a partitioned table, else None. Takes the
        layer's writer lock first (held to the end of the transaction)."""
        if spec is None or layer not in PARTITIONED:
            return None
        if layer not in self._locked:
            self.cur.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                             (_WRITE_LOCK, layer))
            self._locked.add(layer)
        return _partitions(self.cur, layer)

    def _stage_keys(self, layer: str, key: str, cols: list[Column], enc: Encoded) -> str:
        """A temp table of the rows' keys (analysed, so a small one is probed by index), of
        the key column's type and collation."""
        stage = f"_riskmap_keys_{next(self._stage_ids)}"
        column = next(c for c in cols if c.name == key)
        self.cur.execute(sql.SQL(
            "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(stage), sql.Identifier(key), sql.Identifier(layer)))
        self._copy(stage, Encoded(enc.attrs.select([key]), None), [column])
        self.cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(stage)))
        return stage

    def _directory(self, layer: str) -> str | None:
        """The key directory of a partitioned layer (revision 0012), None without one."""
        if layer not in self._directories:
            name = _directory_name(layer)
            self._directories[layer] = (name if layer in PARTITIONED and _exists(self.cur, name)
                                        else None)
        return self._directories[layer]

    def _delete_staged(self, layer: str, key: str, cols: list[Column], enc: Encoded,
                       parts: dict[int, str]) -> None:
        """Delete the stored rows of the keys of ``enc``, in whichever month they are: the
        months the key directory names (and their directory entries), else every month."""
        column = next(c for c in cols if c.name == key)
        values = enc.attrs.column(key).to_pylist() if len(enc) <= _PROBE_KEYS else None
        stage = None if values is not None else self._stage_keys(layer, key, cols, enc)
        directory = self._directory(layer)
        tables = [layer]
        if directory is not None:
            gone = (sql.SQL("DELETE FROM {} AS d WHERE d.{} = ANY(CAST(%s AS {}[])) RETURNING d.{}")
                    .format(sql.Identifier(directory), sql.Identifier(key),
                            sql.SQL(column.sql_type), sql.Identifier(PARTITIONED[layer]))
                    if stage is None else
                    sql.SQL("DELETE FROM {} AS d USING {} AS s WHERE d.{} = s.{} RETURNING d.{}")
                    .format(sql.Identifier(directory), sql.Identifier(stage),
                            sql.Identifier(key), sql.Identifier(key),
                            sql.Identifier(PARTITIONED[layer])))
            months = self.cur.execute(sql.SQL("WITH gone AS ({}) SELECT DISTINCT {} FROM gone")
                                      .format(gone, _month_code(PARTITIONED[layer])),
                                      (values,) if stage is None else None).fetchall()
            tables = [parts[m] for m in sorted(int(r[0]) for r in months) if m in parts]
        for table in tables:
            if stage is None:  # probe the month's key index (see _few_keys)
                self.cur.execute("SET LOCAL enable_seqscan = off")
                self.cur.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(CAST(%s AS {}[]))")
                                 .format(sql.Identifier(table), sql.Identifier(key),
                                         sql.SQL(column.sql_type)), (values,))
                self.cur.execute("RESET enable_seqscan")
            else:
                self.cur.execute(sql.SQL(_sql("delete_staged_keys")).format(
                    table=sql.Identifier(table), stage=sql.Identifier(stage),
                    key=sql.Identifier(key)))
        if stage is not None:
            self.cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(stage)))

    def _refuse_stored_keys(self, layer: str, key: str, cols: list[Column],
                            enc: Encoded) -> None:
        stage = self._stage_keys(layer, key, cols, enc)
        clash = self.cur.execute(sql.SQL(_sql("staged_keys_present")).format(
            table=sql.Identifier(self._directory(layer) or layer), stage=sql.Identifier(stage),
            key=sql.Identifier(key))).fetchall()
        self.cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(stage)))
        if clash:
            raise StoreError(f"layer {layer!r}: append failed, transaction rolled back: it "
                             f"would repeat key {key!r} ({', '.join(str(r[0]) for r in clash)});"
                             " use upsert")

    def _load_months(self, layer: str, cols: list[Column], enc: Encoded,
                     parts: dict[int, str]) -> None:
        """COPY rows into their month partitions; a month without one gets a new table,
        loaded, then attached (which builds its indexes: several times faster than inserting
        into them). The next month is encoded by a thread while the server takes this one.

        A big load into new months builds them on side connections instead, two at a time,
        while this connection takes the rows of existing months and the key directory; they
        are attached at the end (:mod:`layers.pgmonths`)."""
        if not len(enc):
            return
        months = month_codes(enc.attrs.column(PARTITIONED[layer]))
        if len(months) > 1 and (np.diff(months) < 0).any():
            order = np.argsort(months, kind="stable")
            enc, months = enc.take(order), months[order]
        starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
        ends = np.r_[starts[1:], len(months)]
        plan = enc.binary_copy(cols)
        groups = [(int(months[a]), int(a), int(b)) for a, b in zip(starts, ends, strict=True)]

        def encoded_lazy(a: int, b: int) -> Iterable[bytes | memoryview]:
            return enc.slice(a, b).csv_chunks() if plan is None else plan.chunks(a, b)

        def encoded(a: int, b: int) -> list[bytes | memoryview]:
            return list(encoded_lazy(a, b))

        side = self._side_months(layer, [(m, a, b) for m, a, b in groups if m not in parts])
        if side is None:
            self._send_months(layer, plan, enc, groups, parts, encoded)
            self._add_keys(layer, cols, enc)
            return
        # the new months are built on side connections while this one takes the rest
        months, index_plan, spans = side
        self.side_tables += [m.side for m in months]
        with ThreadPoolExecutor(1) as pool:
            built = pool.submit(
                pgmonths.build, self._engine, layer, PARTITIONED[layer], months, index_plan,
                plan.columns if plan is not None else enc.names, plan is not None,
                lambda m: encoded_lazy(*spans[m.code]))
            try:
                self._send_months(layer, plan, enc, [g for g in groups if g[0] in parts],
                                  parts, encoded)
                self._add_keys(layer, cols, enc)
            finally:
                wait([built])
        built.result()
        pgmonths.attach(self.cur, layer, months)
        for m in months:
            parts[m.code] = m.final

    def _send_months(self, layer: str, plan: BinaryCopy | None, enc: Encoded,
                     groups: list[tuple[int, int, int]], parts: dict[int, str],
                     encoded: Any) -> None:
        """COPY each month's rows ``(month, start, stop)`` here: into its partition, or into a
        new table then attached. The next months are encoded by a thread meanwhile."""
        new = []
        with ThreadPoolExecutor(1) as pool:
            ahead = collections.deque(pool.submit(encoded, a, b) for _, a, b in groups[:2])
            for i, (month, _, _) in enumerate(groups):
                chunks = ahead.popleft().result()
                if i + 2 < len(groups):
                    ahead.append(pool.submit(encoded, *groups[i + 2][1:]))
                if month in parts:
                    self._send(parts[month], plan, enc, chunks)
                    continue
                name = _partition_name(layer, month)  # loaded now, indexed when attached
                self.cur.execute(sql.SQL(
                    "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
                    sql.Identifier(name), sql.Identifier(layer)))
                self._send(name, plan, enc, chunks, freeze=True)
                new.append(month)
        for month in new:
            pgmonths.attach_partition(self.cur, layer, _partition_name(layer, month),
                                      *month_bounds(month))
            parts[month] = _partition_name(layer, month)

    def _side_months(self, layer: str, new: list[tuple[int, int, int]]
                     ) -> tuple[list[pgmonths.Month], pgmonths.IndexPlan,
                                dict[int, tuple[int, int]]] | None:
        """The new months to build on side connections (:mod:`layers.pgmonths`): when they
        are at least two and hold :data:`~layers.pgmonths.SIDE_ROWS` rows, the table and
        its indexes were committed before this transaction (a side connection sees them),
        this transaction holds no lock a side connection would wait for, and the server lets
        the role open the connections. None otherwise."""
        if (self._engine is None or len(new) < 2
                or sum(b - a for _, a, b in new) < pgmonths.SIDE_ROWS):
            return None
        row = self.cur.execute(
            "SELECT c.xmin::text = (txid_current() %% 4294967296)::text FROM pg_catalog.pg_class c"
            " WHERE c.oid = to_regclass(%s)", (layer,)).fetchone()
        if row is None or row[0] or pgmonths.blocks_side(self.cur, layer):
            return None
        index_plan = pgmonths.index_plan(
            self.cur.execute(_sql("table_indexes"), {"table": layer}).fetchall())
        if index_plan is None or not pgmonths.can_connect(self._engine, pgmonths.SIDE_WORKERS):
            return None
        pgmonths.drop_orphans(self._engine, layer, keep=self.side_tables)
        months = pgmonths.months_for(layer, [m for m, _, _ in new], month_bounds,
                                     _partition_name)
        return months, index_plan, {m: (a, b) for m, a, b in new}

    def _add_keys(self, layer: str, cols: list[Column], enc: Encoded) -> None:
        """Enter the rows' keys and months in the layer's key directory (the stored rows of
        these keys were deleted, or refused, before). Into an empty directory, a big load is
        copied first and its primary key built after (several times faster)."""
        directory = self._directory(layer)
        spec = get_spec(layer)
        if directory is None or spec is None or spec.key is None:
            return
        names = (spec.key, PARTITIONED[layer])
        kcols = [c for c in cols if c.name in names]
        keys = Encoded(enc.attrs.select([c.name for c in kcols]), None)
        big = len(enc) >= _REINDEX_ROWS and not (self.cur.execute(sql.SQL(
            "SELECT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(directory))).fetchone()
            or (False,))[0]
        with self._indexes_dropped(directory) if big else contextlib.nullcontext():
            self._copy(directory, keys, kcols)

    # ---- steps -----------------------------------------------------------------------
    def _existing_or_new(self, layer: str, spec: LayerSpec | None,
                         enc: Encoded) -> list[Column]:
        """The table's columns, creating the table when absent; refuse unknown columns."""
        cols = _columns(self.cur, layer)
        self._created = not cols
        if not cols:
            return self._create(layer, spec, enc, drop=False)
        if not self._fits(layer, cols, enc, exact=False):
            raise SchemaError(f"layer {layer!r}: columns {enc.names} do not match the "
                              f"table's {[c.name for c in cols]}")
        return cols

    def _fits(self, layer: str, cols: list[Column], enc: Encoded, *, exact: bool) -> bool:
        """Whether ``enc`` can go into the table as it is (and its SRID matches)."""
        table = {c.name: c for c in cols}
        for col in cols:
            if col.is_geometry and enc.geoms is not None and col.srid not in (SRID, 0):
                raise StoreError(f"layer {layer!r}: the table's SRID is {col.srid}, "
                                 f"the frame's is {SRID}; refusing to write")
        names = set(enc.names)
        return names == set(table) if exact else names <= set(table)

    @contextlib.contextmanager
    def _indexes_dropped(self, layer: str) -> Iterator[None]:
        """Drop the table's indexes (and key constraints) for the block, then re-create them."""
        rows = self.cur.execute(_sql("table_indexes"), {"table": layer}).fetchall()
        table = sql.Identifier(layer)
        for index, _, constraint, _ in rows:
            if constraint is not None:
                self.cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                    table, sql.Identifier(constraint)))
            else:
                self.cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
        yield
        for _, index_def, constraint, constraint_def in rows:
            if constraint is not None:
                self.cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                    table, sql.Identifier(constraint), sql.SQL(constraint_def)))
            else:
                self.cur.execute(sql.SQL(index_def))

    def _create(self, layer: str, spec: LayerSpec | None, enc: Encoded, *,
                drop: bool) -> list[Column]:
        """Create the layer's table: from its spec when registered, else from the frame."""
        ident = sql.Identifier
        if drop:
            self.cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident(layer)))
        declared = {c.name: SPEC_SQL[c.dtype] for c in spec.columns} if spec else {}
        defs = []
        for field in enc.attrs.schema:
            sql_type = declared.get(field.name) or arrow_sql_type(layer, field.name, field.type)
            primary = sql.SQL(" PRIMARY KEY") if spec and field.name == spec.key else sql.SQL("")
            defs.append(sql.SQL("{} {}{}").format(ident(field.name), sql.SQL(sql_type), primary))
        spatial = spec.spatial if spec is not None else enc.geoms is not None
        if spatial:
            kind = spec_geometry_type(spec) if spec is not None else "Geometry"
            defs.append(sql.SQL("{} geometry({}, {})").format(
                ident(GEOM), sql.SQL(kind), sql.Literal(SRID)))
        self.cur.execute(sql.SQL("CREATE TABLE {} ({})").format(
            ident(layer), sql.SQL(", ").join(defs)))
        if spatial:
            self.cur.execute(sql.SQL("CREATE INDEX ON {} USING gist ({})").format(
                ident(layer), ident(GEOM)))
        for name in spec.indexes if spec is not None else ():
            self.cur.execute(sql.SQL("CREATE INDEX ON {} ({})").format(ident(layer), ident(name)))
        return _columns(self.cur, layer)

    def _needs_multi(self, cols: list[Column], enc: Encoded) -> bool:
        geom = next((c for c in cols if c.is_geometry), None)
        if geom is None or enc.geoms is None or geom.geometry_type not in MULTI:
            return False
        single = MULTI[geom.geometry_type]
        return bool(np.any(shapely.get_type_id(enc.geoms) == TYPE_IDS[single]))

    def _load(self, layer: str, cols: list[Column], enc: Encoded) -> None:
        """COPY the rows in; through a staging table when single parts need ST_Multi."""
        if not len(enc):
            return
        if not self._needs_multi(cols, enc):
            self._copy(layer, enc, cols)
            return
        stage = self._stage(layer, cols, enc)
        names = enc.names
        self.cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            sql.Identifier(layer), sql.SQL(", ").join(map(sql.Identifier, names)),
            self._select_from_stage(cols, names), sql.Identifier(stage)))
        self.cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(stage)))

    def _copy(self, table: str, enc: Encoded, cols: list[Column], *,
              freeze: bool = False) -> None:
        """COPY ``enc`` into ``table`` (whose columns are ``cols``): binary, else CSV."""
        if not len(enc):
            return
        plan = enc.binary_copy(cols)
        self._send(table, plan, enc, plan.chunks() if plan is not None else enc.csv_chunks(),
                   freeze=freeze, queued=len(enc) > _COPY_QUEUE_ROWS)

    def _send(self, table: str, plan: BinaryCopy | None, enc: Encoded,
              chunks: Iterable[bytes | memoryview], *, freeze: bool = False,
              queued: bool = False) -> None:
        """Run one COPY of ``chunks`` (encoded by ``plan``, or CSV of ``enc`` when None);
        ``queued``: a thread sends them while the caller encodes the next."""
        options = ("FORMAT binary" if plan is not None else "FORMAT csv") + (
            ", FREEZE" if freeze else "")
        names = plan.columns if plan is not None else enc.names
        query = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(options))
        writer = QueuedLibpqWriter(self.cur) if queued else None
        with self.cur.copy(query, writer=writer) as copy:
            for chunk in chunks:
                copy.write(chunk)

    def _stage(self, layer: str, cols: list[Column], enc: Encoded) -> str:
        """A temp table shaped like the layer (geometry unconstrained) holding ``enc``."""
        stage = f"_riskmap_stage_{next(self._stage_ids)}"
        select = sql.SQL(", ").join(
            sql.SQL("{}::geometry AS {}").format(sql.Identifier(c.name), sql.Identifier(c.name))
            if c.is_geometry else sql.Identifier(c.name) for c in cols)
        self.cur.execute(sql.SQL(
            "CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
            sql.Identifier(stage), select, sql.Identifier(layer)))
        self._copy(stage, enc, cols)
        return stage

    @staticmethod
    def _select_from_stage(cols: list[Column], names: list[str]) -> sql.Composable:
        multi = {c.name for c in cols if c.is_geometry and c.geometry_type in MULTI}
        return sql.SQL(", ").join(
            sql.SQL("ST_Multi({})").format(sql.Identifier(n)) if n in multi
            else sql.Identifier(n) for n in names)

    def _mark(self, layer: str, spec: LayerSpec | None, enc: Encoded | None) -> None:
        self.cur.execute(_sql("mark_layer"), {
            "name": layer, "registered": spec is not None,
            "arrow_schema": enc.schema_b64() if enc is not None else None})
