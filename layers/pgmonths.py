"""New month partitions of a PostGIS layer, built beside the writing transaction.

A big load into months the table does not have yet spends most of the server's time building
the new partitions' indexes (six per month for incidents), one after another on the
transaction's one connection, while the loader waits. Here each new month is copied and
indexed on a connection of its own, :data:`SIDE_WORKERS` at a time (the server runs each
connection in its own process, so on its own core), as a plain table nobody reads. The
transaction then renames and attaches them: each already has its indexes and a CHECK
constraint of its month's bounds, so ``ATTACH PARTITION`` adopts the indexes and skips the
scan of the rows, and takes milliseconds.

**Nothing is seen before the transaction commits.** The side tables are committed by their
own connections, but a table that is not a partition is not part of the layer: no read
reaches it. If the transaction fails, :func:`drop_tables` removes them; a crash between the
two leaves them behind, and the next side load of the layer (which holds the layer's writer
lock, so no other load of it is running) drops them first (:func:`drop_orphans`).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg
import sqlalchemy as sa
from psycopg import sql

__all__ = ["SIDE_ROWS", "SIDE_WORKERS", "IndexPlan", "Month", "attach", "attach_partition",
           "blocks_side", "build",
           "can_connect", "drop_orphans", "drop_tables", "index_plan", "months_for",
           "side_prefix"]

#: new months holding at least this many rows in all are built beside the transaction
SIDE_ROWS = 100_000
#: connections building months at once
SIDE_WORKERS = 2
#: a side connection waits at most this long for a lock (the transaction never holds one
#: that conflicts, see :func:`blocks_side`; this is the safety net against a deadlock)
_LOCK_TIMEOUT = "60s"
_INDEX = re.compile(r"CREATE (?P<unique>UNIQUE )?INDEX \S+ ON (?:ONLY )?\S+ USING "
                    r"(?P<method>\w+) \((?P<columns>[^()]*)\)(?P<rest>.*)", re.S)


@dataclass(frozen=True)
class IndexPlan:
    """The parent's indexes as statements for one new month: ``{table}`` is the side table,
    ``{final}`` the partition's name (index names follow PostgreSQL's own for partitions)."""

    statements: tuple[str, ...]


def index_plan(rows: Iterable[tuple[str, str, str | None, str | None]]) -> IndexPlan | None:
    """The plan from :file:`sql/table_indexes.sql` rows of the parent; None when an index
    has a form this module does not rebuild (expressions, predicates), so that the caller
    falls back to attaching (which builds them itself).

    >>> plan = index_plan([("incidents_pkey", "CREATE UNIQUE INDEX incidents_pkey ON ONLY "
    ...     "public.incidents USING btree (incident_id, occurred_at)", "incidents_pkey",
    ...     "PRIMARY KEY (incident_id, occurred_at)"), ("incidents_h3_idx",
    ...     "CREATE INDEX incidents_h3_idx ON ONLY public.incidents USING btree (h3)", None,
    ...     None)])
    >>> for s in plan.statements: print(s)
    ALTER TABLE {table} ADD CONSTRAINT "{final}_pkey" PRIMARY KEY (incident_id, occurred_at)
    CREATE INDEX "{final}_h3_idx" ON {table} USING btree (h3)
    """
    out = []
    for _, index_def, constraint, constraint_def in rows:
        if constraint is not None:
            if not constraint_def or not constraint_def.startswith(("PRIMARY KEY", "UNIQUE")):
                return None
            if constraint_def.startswith("PRIMARY KEY"):
                kind = "pkey"
            else:  # one name per unique constraint, as PostgreSQL names them
                found = re.search(r"\(([^()]*)\)", constraint_def)
                cols = [c.strip().strip('"') for c in found[1].split(",")] if found else []
                if not cols or not all(re.fullmatch(r"\w+", c) for c in cols):
                    return None
                kind = "_".join(cols) + "_key"
            out.append(f'ALTER TABLE {{table}} ADD CONSTRAINT "{{final}}_{kind}" '
                       f"{constraint_def}")
            continue
        m = _INDEX.fullmatch(index_def)
        if m is None or m["rest"].strip() or "(" in m["columns"]:
            return None
        names = [part.strip().split(" ")[0].strip('"') for part in m["columns"].split(",")]
        if not all(re.fullmatch(r"\w+", n) for n in names):
            return None
        name = "_".join(names)
        out.append(f'CREATE {m["unique"] or ""}INDEX "{{final}}_{name}_idx" ON {{table}} '
                   f'USING {m["method"]} ({m["columns"]})')
    return IndexPlan(tuple(out))


def side_prefix(layer: str) -> str:
    """The name every side table of ``layer`` starts with."""
    return f"_riskmap_side_{layer}_"


def blocks_side(cur: psycopg.Cursor[Any], layer: str) -> bool:
    """Whether this transaction holds a lock on ``layer`` that a side connection's
    ``CREATE TABLE .. (LIKE layer)`` would wait for (then it must not wait for them)."""
    row = cur.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE pid = pg_backend_pid() "
        "AND relation = to_regclass(%s) AND mode = 'AccessExclusiveLock')", (layer,)).fetchone()
    return bool(row and row[0])


@contextlib.contextmanager
def _side_cursor(engine: sa.Engine) -> Iterator[psycopg.Cursor[Any]]:
    """A cursor of a new transaction on a connection of its own (committed on exit)."""
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        with raw.cursor() as cur:
            cur.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
            cur.execute("SET LOCAL synchronous_commit = off")
            yield cur


def can_connect(engine: sa.Engine, n: int) -> bool:
    """Whether ``n`` more connections can be opened now (a role's or the server's connection
    limit may forbid them; then the load builds its months on its own connection). They go
    back to the engine's pool, open, for the side loads to use."""
    opened = []
    try:
        for _ in range(n):
            opened.append(engine.connect())
        return True
    except (sa.exc.OperationalError, sa.exc.TimeoutError, psycopg.OperationalError):
        return False
    finally:
        for conn in opened:
            conn.close()


def drop_orphans(engine: sa.Engine, layer: str, keep: Sequence[str] = ()) -> list[str]:
    """Drop the side tables of ``layer`` that are not partitions (left by a crashed load)
    except ``keep``; committed at once, before new side tables take their index names.
    Call only while holding the layer's writer lock."""
    prefix = side_prefix(layer)
    with _side_cursor(engine) as cur:
        names = [r[0] for r in cur.execute(
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r' "
            "AND left(c.relname, %s) = %s AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits "
            "i WHERE i.inhrelid = c.oid)", (len(prefix), prefix)).fetchall()
            if r[0] not in keep]
        for name in names:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    return names


def drop_tables(engine: sa.Engine, names: Sequence[str]) -> None:
    """Drop side tables of a failed transaction (those it had not attached in the end)."""
    if not names:
        return
    with _side_cursor(engine) as cur:
        for name in names:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def _bounds(column: str, start: pd.Timestamp, end: pd.Timestamp) -> sql.Composable:
    """The partition constraint of a month, as a CHECK that implies it."""
    col = sql.Identifier(column)
    return sql.SQL("CHECK ({c} IS NOT NULL AND {c} >= {a} AND {c} < {b})").format(
        c=col, a=sql.Literal(start.to_pydatetime()), b=sql.Literal(end.to_pydatetime()))


@dataclass(frozen=True)
class Month:
    """One new month to build: its code, bounds, final partition name and side table."""

    code: int
    start: pd.Timestamp
    end: pd.Timestamp
    final: str
    side: str


def build(engine: sa.Engine, layer: str, column: str, months: Sequence[Month],
          plan: IndexPlan, copy_columns: Sequence[str], binary: bool,
          chunks: Callable[[Month], Iterable[bytes | memoryview]]) -> None:
    """Copy and index each month into its side table, :data:`SIDE_WORKERS` at once.

    ``chunks(month)`` encodes the month's rows for ``COPY`` (binary, or CSV when not
    ``binary``); it runs on the worker's thread. Every month is attempted; the first error
    is raised after all have ended (the tables that were built stay for the caller to drop).
    """
    options = "FORMAT binary, FREEZE" if binary else "FORMAT csv, FREEZE"

    def one(month: Month) -> None:
        data = chunks(month)
        table = sql.Identifier(month.side)
        with _side_cursor(engine) as cur:
            cur.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING "
                                "CONSTRAINTS)").format(table, sql.Identifier(layer)))
            cur.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                table, sql.Identifier(f"{month.final}_bounds"),
                _bounds(column, month.start, month.end)))
            query = sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
                table, sql.SQL(", ").join(map(sql.Identifier, copy_columns)), sql.SQL(options))
            with cur.copy(query) as copy:
                for chunk in data:
                    copy.write(chunk)
            ident = table.as_string(cur)
            for statement in plan.statements:
                cur.execute(sql.SQL(statement.format(table=ident, final=month.final)))  # type: ignore[arg-type]

    with ThreadPoolExecutor(min(SIDE_WORKERS, len(months))) as pool:
        futures = [pool.submit(one, m) for m in months]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]  # type: ignore[misc]


def attach(cur: psycopg.Cursor[Any], layer: str, months: Sequence[Month]) -> None:
    """In the transaction: rename each side table to its partition's name and attach it (its
    indexes are adopted and its CHECK proves the bounds: no index build, no scan), then drop
    the CHECK, which the partition's own constraint now states."""
    for month in months:
        final = sql.Identifier(month.final)
        cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
            sql.Identifier(month.side), final))
        attach_partition(cur, layer, month.final, month.start, month.end)
        cur.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            final, sql.Identifier(f"{month.final}_bounds")))


def attach_partition(cur: psycopg.Cursor[Any], layer: str, table: str, start: pd.Timestamp,
                     end: pd.Timestamp) -> None:
    """``ALTER TABLE layer ATTACH PARTITION table`` for the month ``[start, end)``."""
    cur.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})")
                .format(sql.Identifier(layer), sql.Identifier(table),
                        sql.Literal(start.to_pydatetime()), sql.Literal(end.to_pydatetime())))


def months_for(layer: str, codes: Sequence[int], bounds: Callable[[int], tuple[pd.Timestamp,
               pd.Timestamp]], name: Callable[[str, int], str]) -> list[Month]:
    """The :class:`Month` of each new month code (side tables named with one token)."""
    token = uuid.uuid4().hex[:8]
    prefix = side_prefix(layer)
    out = []
    for code in codes:
        final = name(layer, code)
        start, end = bounds(code)
        out.append(Month(int(code), start, end, final, f"{prefix}{token}_{final[len(layer) + 1:]}"))
    return out
