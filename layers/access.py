"""The one data-access layer: every read and write the app, an export, a report or the API
makes goes through here.

A :class:`DataAccess` is built for one user (a :class:`~riskmap.auth.roles.Principal`, or a
user name and regions for the CLI): it scopes every read to the regions (and districts) that
user may see, refuses writes outside them, and records each read and write in the audit log
with the user, the client's address and how it ended. Audit records are appended with a hash
chain (see :mod:`riskmap.layers.auditlog`) and bounded in size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskmap.layers.auditbuffer import buffer_for
from riskmap.layers.auditlog import bound_detail, chain_end
from riskmap.layers.spec import get_spec
from riskmap.layers.store import Filter, Store, Transaction, apply_filters

__all__ = ["SUPPRESSED_LAYERS", "DataAccess", "ScopedTransaction"]

#: layers a user with ``suppressed_elsewhere`` may read outside their scope (suppressed)
SUPPRESSED_LAYERS = ("mahallas", "incidents")
#: filters of a suppressed incidents read applied to the de-identified values
_AFTER_DEIDENTIFY = ("occurred_at", "h3")


class DataAccess:
    """Scoped, audited reads and writes of a store for one user.

    Parameters
    ----------
    store
        The store.
    user
        Name written to the audit log.
    regions
        Regions this user may read and write; ``None`` or empty means all regions.
    districts
        Districts within those regions (``None``: whole regions).
    client
        The client's address ("cli" for the command line), written to the audit log.
    audit
        Write an audit record for each read and write (keyword-only; on by default).
    suppressed_elsewhere
        Outside its scope the user sees suppressed, de-identified rows
        (:meth:`read_suppressed`); ``read`` itself never returns them.
    limit
        Regions the suppressed view may reach (the app's own limit; ``None``: every region).
    defer_audit
        Queue the audit records for a background thread that appends them in batches
        (:mod:`layers.auditbuffer`) instead of appending each before returning: the app's
        requests do not wait for the audit log's lock. Off by default (the CLI, ingests and
        builds append at once).
    """

    def __init__(self, store: Store, *, user: str = "local",
                 regions: Sequence[str] | None = None,
                 districts: Sequence[str] | None = None, client: str = "cli",
                 audit: bool = True, suppressed_elsewhere: bool = False,
                 limit: Sequence[str] | None = None, defer_audit: bool = False) -> None:
        self.store = store
        self.user = user
        self.regions = sorted(set(regions)) if regions else None
        self.districts = sorted(set(districts)) if districts and self.regions else None
        self.client = client
        self.audit_enabled = audit
        self.defer_audit = defer_audit
        self.suppressed_elsewhere = bool(suppressed_elsewhere) and self.regions is not None
        self.limit = sorted(set(limit)) if limit else None

    @classmethod
    def for_principal(cls, store: Store, principal: Any, *, audit: bool = True,
                      limit: Sequence[str] | None = None,
                      defer_audit: bool = False) -> DataAccess:
        """The data access of a logged-in :class:`~riskmap.auth.roles.Principal`.

        A principal with ``suppressed_elsewhere`` also reads the rows of the other regions
        (within ``limit``) suppressed, through :meth:`read_suppressed`.
        """
        return cls(store, user=principal.username, regions=principal.regions or None,
                   districts=principal.districts or None, client=principal.client or "app",
                   audit=audit,
                   suppressed_elsewhere=bool(getattr(principal, "suppressed_elsewhere", False)),
                   limit=limit, defer_audit=defer_audit)

    @property
    def scope(self) -> str:
        """Human-readable scope, e.g. ``"all regions"`` or ``"Jizzakh"``."""
        if not self.regions:
            return "all regions"
        text = ", ".join(self.regions)
        return f"{text} ({', '.join(self.districts)})" if self.districts else text

    def in_scope(self, region: object, district: object = None) -> bool:
        """Whether a row of ``region`` (and ``district``) is within this user's scope."""
        if self.regions is None:
            return True
        if region not in self.regions:
            return False
        return self.districts is None or district in self.districts

    # ---- reads ---------------------------------------------------------------------------
    def _scoped(self, layer: str, filters: Sequence[Filter] | None) -> list[Filter]:
        out = list(filters or ())
        if self.regions is None:
            return out
        spec = get_spec(layer)
        if spec is not None and "region" in spec.column_names:
            out.append(("region", "in", list(self.regions)))
            if self.districts is not None and "district" in spec.column_names:
                out.append(("district", "in", list(self.districts)))
        else:  # fail closed: a scoped user never reads a layer that cannot be scoped
            raise PermissionError(
                f"user {self.user!r} is scoped to {self.scope}: layer {layer!r} is not "
                "region-scoped")
        return out

    def read(self, layer: str, *, columns: Sequence[str] | None = None,
             filters: Sequence[Filter] | None = None, purpose: str = "read") -> pd.DataFrame:
        """Read ``layer`` within this user's scope and audit the read.

        ``purpose`` says why (``"app"``, ``"export"``, ``"report"``, ...) in the audit log.
        """
        if self.regions is not None and get_spec(layer) is None:
            return self._read_unregistered(layer, columns, filters, purpose)
        scoped = self._scoped(layer, filters)
        cols = None
        if columns is not None:
            cols = list(columns)
            if self.regions is not None:
                spec = get_spec(layer)
                for extra in ("region", "district"):
                    if spec is not None and extra in spec.column_names and extra not in cols:
                        cols.append(extra)
        frame = self.store.read(layer, columns=cols, filters=scoped)
        if columns is not None and cols is not None and len(cols) != len(columns):
            frame = frame[[c for c in frame.columns if c in columns or c == "geometry"]]
        self.audit(purpose, layer=layer, detail={"filters": _jsonable(filters), "columns":
                                                   list(columns) if columns else None},
                   rows=len(frame))
        return frame

    def read_newest(self, layer: str, n: int, *, at: str = "at", tiebreak: str | None = "seq",
                    columns: Sequence[str] | None = None,
                    filters: Sequence[Filter] | None = None,
                    purpose: str = "read") -> tuple[pd.DataFrame, int]:
        """The newest ``n`` rows of ``layer`` matching ``filters`` (newest first, by ``at`` then
        ``tiebreak``), and how many rows match in all; the read is audited once, as ``purpose``.

        Bounded whatever the layer's size: a first pass reads only the ordering columns of the
        matching rows, a second every column of just the rows at or after the ``n``-th newest
        time (ties included, then cut). So the admin's audit tab and its CSV never hold the
        whole log, on either backend. Rows without a time sort last.

        Raises
        ------
        ValueError
            ``n`` below 1.
        PermissionError
            A scoped user and a layer that cannot be scoped (as :meth:`read`).
        """
        if int(n) < 1:
            raise ValueError(f"n must be at least 1, got {n!r}")
        n = int(n)
        order = [at] + ([tiebreak] if tiebreak else [])
        scoped = self._scoped(layer, filters)
        tail = self._chain_tail(layer, n) if not scoped and tiebreak == "seq" else None
        if tail is not None:
            keys, matched = tail
        else:
            keys = self.store.read(layer, columns=order, filters=scoped)
            matched = len(keys)
        when = pd.to_datetime(keys[at], utc=True) if matched else None
        wanted = list(filters or ())
        if when is not None and int(when.notna().sum()) >= n:
            wanted.append((at, ">=", when.nlargest(n).iloc[-1]))  # from the n-th newest time
        del keys, when
        cols = None if columns is None else list(dict.fromkeys([*columns, *order]))
        frame = self.read(layer, columns=cols, filters=wanted, purpose=purpose)
        if len(frame):
            tb = pd.to_numeric(frame[tiebreak], errors="coerce").fillna(-1) \
                if tiebreak and tiebreak in frame.columns else 0
            frame = (frame.assign(_at=pd.to_datetime(frame[at], utc=True), _tb=tb)
                     .sort_values(["_at", "_tb"], ascending=False, kind="stable",
                                  na_position="last")
                     .drop(columns=["_at", "_tb"]).iloc[:n].reset_index(drop=True))
        if columns is not None:
            frame = frame[[c for c in frame.columns if c in columns or c == "geometry"]]
        return frame, matched

    def last_seq(self, layer: str = "audit", *, purpose: str = "read") -> int | None:
        """The highest ``seq`` of a chained layer (None: no chained record), audited as a read
        of ``purpose``. The tail the store's count points at is read, not the whole column
        (a log of tens of millions); the whole column only when the chain does not end
        there (records from before the chain, or a gap)."""
        if self.regions is None:
            end = chain_end(lambda filters, columns: self.read(
                layer, columns=columns, filters=filters, purpose=purpose),
                self.store.count(layer))
            if end is not None:
                return end
        seqs = pd.to_numeric(self.read(layer, columns=["seq"], purpose=purpose)["seq"],
                             errors="coerce")
        top = seqs.max() if len(seqs) else None
        return int(top) if top is not None and pd.notna(top) else None

    #: sequence numbers :meth:`_chain_tail` reads at the least (the newest records by time
    #: are the last appended but for a second or so of buffered records)
    TAIL_WINDOW = 10_000

    def _chain_tail(self, layer: str, n: int) -> tuple[pd.DataFrame, int] | None:
        """The ``at`` and ``seq`` of the last appended records of the whole audit log (at
        least ``4 n`` and :data:`TAIL_WINDOW` of them), and how many records it holds; None
        when that cannot be told without reading the whole log (another layer, records from
        before the chain, a log shorter than the window).

        A log of tens of millions of records is never read whole for its newest page: its
        count is the store's, and its chain numbers records 1, 2, ... in the order appended.
        """
        if layer != "audit":
            return None
        total = self.store.count(layer)
        first = total - max(4 * n, self.TAIL_WINDOW) + 1
        if first <= 1:
            return None
        keys = self.store.read(layer, columns=["at", "seq"], filters=[("seq", ">=", first)])
        # every record from `first` to `total` is there: none predates the chain, none is
        # missing (otherwise the general read, which finds them where they are)
        seqs = pd.to_numeric(keys["seq"], errors="coerce")
        if seqs.notna().sum() < total - first + 1 or seqs.min() != first:
            return None
        return keys, total

    def _read_unregistered(self, layer: str, columns: Sequence[str] | None,
                           filters: Sequence[Filter] | None, purpose: str) -> pd.DataFrame:
        """A scoped read of a layer without a spec: filter by its ``region`` column, or refuse.

        Fails closed: a scoped user never sees a table that cannot be scoped.
        """
        frame = self.store.read(layer, filters=filters)
        if len(frame.columns) and "region" not in frame.columns:
            raise PermissionError(
                f"user {self.user!r} is scoped to {self.scope}: layer {layer!r} has no region "
                "column to scope it by")
        if "region" in frame.columns:
            keep = frame["region"].isin(self.regions or [])
            if self.districts is not None and "district" in frame.columns:
                keep &= frame["district"].isin(self.districts)
            frame = frame[keep.to_numpy(dtype=bool)]
        if columns is not None:
            frame = frame[[c for c in frame.columns if c in columns or c == "geometry"]]
        self.audit(purpose, layer=layer, detail={"filters": _jsonable(filters), "columns":
                                                   list(columns) if columns else None},
                   rows=len(frame))
        return frame

    # ---- suppressed views ----------------------------------------------------------------
    def suppressed_regions(self) -> list[str]:
        """Regions whose rows this user sees suppressed (none without ``suppressed_elsewhere``).

        Every region of the mahallas layer within :attr:`limit` outside the scope; with a
        district scope, the scope's own regions too (their other districts are suppressed).
        """
        if not self.suppressed_elsewhere or self.regions is None:
            return []
        names = set(self.limit) if self.limit else set(
            self.store.read("mahallas", columns=["region"])["region"].dropna().astype(str))
        if self.districts is None:
            names -= set(self.regions)
        return sorted(names)

    def read_suppressed(self, layer: str, *, columns: Sequence[str] | None = None,
                        filters: Sequence[Filter] | None = None, purpose: str = "read",
                        timezone: str = "Asia/Tashkent") -> pd.DataFrame:
        """Rows of ``layer`` outside the scope, as a suppressed view may show them, audited.

        Only :data:`SUPPRESSED_LAYERS` can be read so: ``mahallas`` as they are (names,
        polygons and population are not about people), ``incidents`` de-identified on the
        server (:func:`riskmap.geo.deidentify.deidentify_incidents`: the point at the centre
        of its H3 cell at :data:`~riskmap.geo.deidentify.SUPPRESSED_H3_RES`, the month instead of
        the time, no id, source, flags or hash). Both carry ``suppressed=True``. Returns no
        rows for a user without ``suppressed_elsewhere``; any other layer is refused.
        """
        from riskmap.geo.deidentify import (
            DEIDENTIFIED_COLUMNS,
            SUPPRESSED_H3_RES,
            deidentify_incidents,
        )

        if layer not in SUPPRESSED_LAYERS:
            raise PermissionError(f"layer {layer!r} has no suppressed view")
        regions = self.suppressed_regions()
        cols = None if columns is None else list(dict.fromkeys(
            [*columns, "region", "district", *(
                ("h3", "occurred_at") if layer == "incidents" else ())]))
        pushed, after = list(filters or ()), []
        if layer == "incidents":
            wanted = [*DEIDENTIFIED_COLUMNS, "geometry"]
            cols = [c for c in (cols or wanted) if c in wanted]
            # a filter on the exact time or cell would tell what de-identification hides:
            # those apply to the month and the snapped cell; other columns are refused
            after = [f for f in pushed if f[0] in _AFTER_DEIDENTIFY]
            pushed = [f for f in pushed if f[0] not in _AFTER_DEIDENTIFY]
            bad = sorted({f[0] for f in pushed} - set(DEIDENTIFIED_COLUMNS))
            if bad:
                raise PermissionError(f"a suppressed view cannot be filtered by {bad}")
        frame = self.store.read(layer, columns=cols, filters=[
            *pushed, ("region", "in", regions or [""])])
        inside = np.zeros(len(frame), dtype=bool)
        if self.districts is not None and len(frame):  # the scope's own districts: full view
            inside = (frame["region"].isin(self.regions or []).to_numpy(dtype=bool)
                      & frame["district"].isin(self.districts).to_numpy(dtype=bool))
        frame = frame[~inside].reset_index(drop=True)
        if layer == "incidents":
            frame = deidentify_incidents(frame, res=SUPPRESSED_H3_RES, timezone=timezone)
            if after:
                frame = apply_filters(frame, after).reset_index(drop=True)
        else:
            frame = frame.assign(suppressed=True)
        if columns is not None:
            frame = frame[[c for c in frame.columns
                           if c in columns or c in ("geometry", "suppressed")]]
        self.audit(purpose, layer=layer, rows=len(frame), detail={
            "visibility": "suppressed", "regions": regions, "filters": _jsonable(filters),
            "columns": list(columns) if columns else None})
        return frame

    def read_visible(self, layer: str, *, columns: Sequence[str] | None = None,
                     filters: Sequence[Filter] | None = None, purpose: str = "read",
                     timezone: str = "Asia/Tashkent") -> pd.DataFrame:
        """:meth:`read` (``suppressed=False``) followed by :meth:`read_suppressed` rows.

        For a user without ``suppressed_elsewhere`` (or a layer without a suppressed view)
        this is :meth:`read` plus the column. A suppressed incident has no ``incident_id``,
        source or flags (missing values).
        """
        full = self.read(layer, columns=columns, filters=filters, purpose=purpose)
        full = full.assign(suppressed=False)
        if not self.suppressed_elsewhere or layer not in SUPPRESSED_LAYERS:
            return full
        more = self.read_suppressed(layer, columns=columns, filters=filters, purpose=purpose,
                                    timezone=timezone)
        if not len(more):
            return full
        if not len(full):
            return more
        out = pd.concat([full, more], ignore_index=True)
        if "geometry" in full.columns:
            import geopandas as gpd

            out = gpd.GeoDataFrame(out, geometry="geometry", crs=getattr(full, "crs", None))
        return out

    # ---- writes --------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self, action: str, *, layer: str | None = None,
              detail: Any = None) -> Iterator[ScopedTransaction]:
        """A store transaction whose writes must lie within this user's scope, audited.

        Every frame written through it must carry a ``region`` (and ``district``, for a
        district scope) inside the scope when the user is scoped, or the write is refused
        before anything is written (``PermissionError``). The audit record says ``ok`` after
        the commit, ``denied`` or ``failed`` (and the exception goes on) otherwise.
        """
        rows = [0]
        try:
            with self.store.transaction() as txn:
                yield ScopedTransaction(txn, self, rows)
        except PermissionError:
            self.audit(action, layer=layer, detail=detail, rows=rows[0], outcome="denied")
            raise
        except BaseException:
            self.audit(action, layer=layer, detail=detail, rows=rows[0], outcome="failed")
            raise
        self.audit(action, layer=layer, detail=detail, rows=rows[0])

    # ---- the audit log -------------------------------------------------------------------
    def audit(self, action: str, *, layer: str | None = None, detail: Any = None,
              rows: int | None = None, outcome: str = "ok") -> None:
        """Append one record to the audit log (no-op when auditing is off).

        ``detail`` (the request's values) is kept as JSON of at most 2,000 characters.
        """
        if not self.audit_enabled:
            return
        fields = {
            "at": pd.Timestamp.now(tz="UTC").floor("us"),
            "user": self.user,
            "action": action,
            "layer": layer,
            "scope": self.scope,
            "detail": bound_detail(detail),
            "rows": rows,
            "client": self.client,
            "outcome": outcome,
        }
        if self.defer_audit:
            buffer_for(self.store).put(fields)
            return
        record = pd.DataFrame({k: [v] for k, v in fields.items()})
        append = getattr(self.store, "append_audit", None)
        if append is not None:
            append(record)
        else:  # a store without a chain (older backends): the record without seq/hash
            self.store.append("audit", record)


class ScopedTransaction(Transaction):
    """A :class:`~riskmap.layers.store.Transaction` that refuses rows outside a user's scope.

    Rows of a layer without ``region``/``district`` columns (an alias, a quarantined row)
    can be written by a scoped user only when the caller names where each row lies
    (``place=``: a frame with ``region`` and ``district``, one row per row written, which the
    caller derived on the server, e.g. from the mahalla the row is placed in); those places
    are checked against the scope like rows that carry their own.
    """

    def __init__(self, txn: Transaction, access: DataAccess, rows: list[int]) -> None:
        self._txn = txn
        self._access = access
        self._rows = rows

    def _check(self, layer: str, frame: pd.DataFrame) -> None:
        self._rows[0] += len(frame)
        access = self._access
        if access.regions is None or len(frame) == 0:
            return
        if "region" not in frame.columns:
            raise PermissionError(f"user {access.user!r} is scoped to {access.scope}: rows of "
                                  f"{layer!r} without a region cannot be written")
        districts = frame["district"] if "district" in frame.columns else None
        outside = [
            (r, d) for r, d in zip(frame["region"].astype(object),
                                   (districts.astype(object) if districts is not None
                                    else [None] * len(frame)), strict=True)
            if not access.in_scope(r, d if access.districts is not None else None)]
        if outside:
            raise PermissionError(f"user {access.user!r} is scoped to {access.scope}: "
                                  f"{len(outside)} row(s) of {layer!r} lie outside it")

    def replace(self, layer: str, frame: pd.DataFrame) -> None:
        """Replacing a whole layer is for unscoped users only."""
        if self._access.regions is not None:
            raise PermissionError(f"user {self._access.user!r} is scoped to "
                                  f"{self._access.scope}: cannot replace layer {layer!r}")
        self._check(layer, frame)
        self._txn.replace(layer, frame)

    def _placed(self, layer: str, n: int, place: pd.DataFrame | None,
                frame: pd.DataFrame | None = None) -> None:
        if place is None:
            self._check(layer, frame if frame is not None else pd.DataFrame(index=range(n)))
            return
        if len(place) != n or "region" not in place.columns:
            raise PermissionError(f"the places given for {layer!r} do not match its rows")
        self._check(layer, place)

    def upsert(self, layer: str, frame: pd.DataFrame, *,
               place: pd.DataFrame | None = None) -> None:
        """Upsert rows within the scope (``place``: where rows without a region lie)."""
        self._placed(layer, len(frame), place, frame)
        self._txn.upsert(layer, frame)

    def append(self, layer: str, frame: pd.DataFrame, *,
               place: pd.DataFrame | None = None) -> None:
        """Append rows within the scope (``place``: where rows without a region lie)."""
        self._placed(layer, len(frame), place, frame)
        self._txn.append(layer, frame)

    def delete(self, layer: str, key_values: Sequence[str], *,
               place: pd.DataFrame | None = None) -> None:
        """Delete rows by key: the rows must exist within the scope (or, for a layer without
        a region, lie at the ``place`` the caller derived)."""
        access = self._access
        spec = get_spec(layer)
        if place is not None:
            self._placed(layer, len(key_values), place)
            self._txn.delete(layer, key_values)
            return
        if access.regions is not None:
            if spec is None or spec.key is None or "region" not in spec.column_names:
                raise PermissionError(f"user {access.user!r} is scoped to {access.scope}: "
                                      f"cannot delete from {layer!r}")
            have = access.store.read(layer, columns=[spec.key, "region"],
                                     filters=[(spec.key, "in", list(key_values))])
            self._check(layer, have)
        else:
            self._rows[0] += len(key_values)
        self._txn.delete(layer, key_values)


def _jsonable(filters: Sequence[Filter] | None) -> list[list[Any]] | None:
    if not filters:
        return None
    return [[c, op, v if isinstance(v, str | int | float) else
             [str(x) for x in v] if isinstance(v, list | tuple | set) else str(v)]
            for c, op, v in filters]
