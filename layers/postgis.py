"""The PostGIS store: SQLAlchemy 2 + psycopg 3, bulk COPY in and out, schema managed by Alembic.

Registered layers live in tables created by the Alembic migrations in ``layers/migrations``
(``geometry(<type>, 4326)`` with GiST indexes, the spec's key as primary key, B-tree indexes on
the spec's ``indexes``). Unregistered (derived) layers are tables created when first written.
``riskmap_layers`` lists the layers that hold data, with the Arrow schema their attributes were
written with, so that reads give back the same dtypes as the embedded (GeoParquet) store.

Writes are one database transaction per :meth:`PostgisStore.transaction` block and are bulk
loaded with ``COPY ... FROM STDIN (FORMAT csv)`` (CSV written by Arrow, geometries as hex WKB).
Reads run one parameterised query (filters pushed down) whose rows Arrow's CSV reader parses.
The encoding both ways lives in :mod:`layers._pgcodec`; this module runs the SQL.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
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

import geopandas as gpd
import shapely

from riskmap.errors import SchemaError, StoreError
from riskmap.layers._pgcodec import (
    GEOM,
    MULTI,
    SPEC_SQL,
    TYPE_IDS,
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
from riskmap.layers.spec import SRID, LayerSpec, get_spec
from riskmap.layers.store import (
    UNVERSIONED,
    Filter,
    Store,
    Transaction,
    apply_filters,
    check_filters,
    prepare,
)

__all__ = ["PostgisStore", "alembic_config", "sqlalchemy_url"]

_MIGRATION_LOCK = 0x7269736B6D6170  # pg_advisory_xact_lock key: "riskmap"
_INTERNAL = frozenset({"riskmap_layers", "alembic_version", "spatial_ref_sys"})
_REINDEX_ROWS = 20_000  # a replace this big drops the indexes and builds them after the COPY
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
    rows = cur.execute(_sql("table_columns"), {"table": table}).fetchall()
    return [Column(*row) for row in rows]


def _arrow_schema(cur: psycopg.Cursor[Any], layer: str) -> pa.Schema | None:
    row = cur.execute("SELECT arrow_schema FROM riskmap_layers WHERE name = %s",
                      (layer,)).fetchone()
    if row is None or row[0] is None:
        return None
    return schema_from_b64(row[0])


def _check_name(layer: str, spec: LayerSpec | None) -> None:
    if not layer or len(layer.encode()) > 63 or "\x00" in layer:
        raise SchemaError(f"layer name {layer!r} cannot be a PostgreSQL table name (1-63 bytes)")
    if spec is None and (layer in _INTERNAL or layer.startswith("pg_")):
        raise SchemaError(f"layer name {layer!r} is reserved by the PostGIS store")


def _select(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    if columns is None:
        return frame
    cols = [c for c in columns if c in frame.columns]
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name not in cols:
        return pd.DataFrame(frame[cols])
    return frame[cols]


def _where(layer: str, filters: list[Filter],
           by_name: dict[str, Column]) -> tuple[sql.Composable, list[Any]]:
    """Parameterised WHERE clause; column names are checked against the table's columns."""
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
            values = value.tolist() if hasattr(value, "tolist") else list(value)
            terms.append(sql.SQL("{} = ANY(CAST(%s AS {}[]))").format(ident, typ))
            params.append([py_value(v) for v in values])
        else:
            terms.append(sql.SQL("{} {} CAST(%s AS {})").format(ident, sql.SQL(ops[op]), typ))
            params.append(py_value(value))
    return sql.SQL(" WHERE ") + sql.SQL(" AND ").join(terms), params


# ---- the store -----------------------------------------------------------------------------

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
            sqlalchemy_url(url), pool_pre_ping=True,
            connect_args={"options": SESSION_OPTIONS, "application_name": "riskmap",
                          **KEEPALIVES})
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
        spec = get_spec(layer)
        flist = check_filters(filters)
        with self._cursor() as cur:
            cols = _columns(cur, layer)
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
            schema = _arrow_schema(cur, layer)
            where, params = _where(layer, flist, by_name)
            blocks: list[bytes] = []
            if cols:
                cur.execute(read_query(layer, cols, where), params or None, binary=True)
                blocks = [row[0] for row in cur.fetchall()]
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
        try:
            with self.engine.begin() as conn:
                raw = conn.connection.driver_connection
                assert isinstance(raw, psycopg.Connection)
                with raw.cursor() as cur:
                    yield _PostgisTransaction(cur)
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"{self!r}: transaction rolled back: {exc.orig}") from exc

    def close(self) -> None:
        """Close the connection pool."""
        self.engine.dispose()


class _PostgisTransaction(Transaction):
    """Writes inside one database transaction (see :meth:`PostgisStore.transaction`)."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.cur = cur
        self._stage_ids = itertools.count()
        self._created = False

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
        """Replace the whole layer (TRUNCATE + COPY; derived tables are dropped and re-created)."""
        spec, enc = self._prepare(layer, frame)
        with self._step(layer, "replace"):
            cols = _columns(self.cur, layer)
            if cols and spec is not None and self._fits(layer, cols, enc, exact=True):
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
            self._load(layer, cols, enc)
            self._mark(layer, spec, enc if self._created else None)

    def upsert(self, layer: str, frame: pd.DataFrame) -> None:
        """Insert rows, replacing those whose key exists (COPY to a temp table + ON CONFLICT)."""
        spec = get_spec(layer)
        if spec is None or spec.key is None:
            raise StoreError(f"layer {layer!r} has no key to upsert on")
        spec, enc = self._prepare(layer, frame)
        assert spec is not None and spec.key is not None
        with self._step(layer, "upsert"):
            cols = self._existing_or_new(layer, spec, enc)
            if len(enc):
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
        if spec is None or spec.key is None:
            raise StoreError(f"layer {layer!r} has no key to delete by")
        _check_name(layer, spec)
        with self._step(layer, "delete"):
            cols = _columns(self.cur, layer)
            if not cols:
                cols = self._create(layer, spec, encode(layer, spec.empty()), drop=False)
            key = next(c for c in cols if c.name == spec.key)
            values = [py_value(v) for v in list(key_values)]
            self.cur.execute(sql.SQL("DELETE FROM {} WHERE {} = ANY(CAST(%s AS {}[]))").format(
                sql.Identifier(layer), sql.Identifier(spec.key), sql.SQL(key.sql_type)),
                (values,))
            self._mark(layer, spec, None)

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
            self._copy(layer, enc)
            return
        stage = self._stage(layer, cols, enc)
        names = enc.names
        self.cur.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            sql.Identifier(layer), sql.SQL(", ").join(map(sql.Identifier, names)),
            self._select_from_stage(cols, names), sql.Identifier(stage)))
        self.cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(stage)))

    def _copy(self, table: str, enc: Encoded) -> None:
        query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, enc.names)))
        with self.cur.copy(query) as copy:
            for chunk in enc.csv_chunks():
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
        self._copy(stage, enc)
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
