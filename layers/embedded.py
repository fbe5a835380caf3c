"""The embedded store: GeoParquet files in a data directory, committed by an atomic manifest swap.

Layout of a data directory::

    manifest.json     {"format": 2,
                       "layers": {"mahallas": ["mahallas.<uuid>.parquet"], ...},
                       "parts": {"incidents": [{"month": "2024-01", "rows": 41230,
                                                "min": <µs>, "max": <µs>,
                                                "data": "incidents.2024-01.<uuid>.parquet",
                                                "keys": "incidents.2024-01.<uuid>.keys.npy"},
                                               ...]}}
    layers/*.parquet  GeoParquet parts
    layers/*.keys.npy the key index of each part of a partitioned layer
    .lock             writers hold an exclusive flock on it
    audit/*.parquet   the audit log's journal: one file per append, named by the first and
                      last ``seq`` it holds (``000000000001-000000000003.parquet``)
    .audit.lock       appenders to the audit log hold an exclusive flock on it

The audit log is kept apart from the manifest, under its own lock, so that recording a read
never waits for a load: a load holds the store's write lock for as long as it stages its
files, an audited read of the app only the audit lock for one small file. Each append reads
the last ``(seq, hash)`` and writes its chained records as a new file; the newest small files
are merged into one (:data:`_JOURNAL_MERGE`), the merged file written before the small ones are
removed (a reader that lists both keeps the merged one). Audit records written before the
journal (in the manifest) are read before it.

A layer of :data:`~layers.store.PARTITIONED` (incidents) is kept as parts per calendar month
(UTC) of its timestamp column; ``layers`` lists their data files too. The key index of a part
is a plain ``.npy`` array of uint64 (16 bytes a row): the 64-bit hashes of its keys, sorted,
then the row of the part each belongs to. It is memory-mapped to be searched: finding which
parts hold a day's keys touches a few pages of each index, not the rows nor the whole index, so
it costs about the same in a store of 10 M rows as in an empty one. A matching hash is
confirmed against the key in that row of the part. An upsert reads and rewrites only
the parts holding keys it replaces (a row whose month changed leaves its old part and joins the
new month), writes its new rows as one new part per month, and merges a month's smaller parts
when it has more than :data:`_MAX_PARTS`. Reads filtered on the timestamp column skip parts by
their min/max; reads filtered on the key use the key index. Other layers are single-part files
rewritten by each write.

A transaction writes new part files beside the old ones and then replaces ``manifest.json``
with ``os.replace`` (atomic on POSIX). Until that rename nothing a reader sees has changed, so
a failed or killed load leaves the store exactly as it was; unreferenced parts are swept later.
A format-1 store (every layer one file) is read as it is; its first write to a partitioned layer
splits that layer into months.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import operator
import os
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

import geopandas as gpd
import pyproj
import shapely

from riskmap.errors import StoreError
from riskmap.layers.auditbuffer import flush_for
from riskmap.layers.auditlog import GENESIS
from riskmap.layers.spec import SRID, LayerSpec, get_spec
from riskmap.layers.store import (
    NO_MONTH,
    PARTITIONED,
    UNVERSIONED,
    Filter,
    Store,
    Transaction,
    apply_filters,
    audit_records,
    check_filters,
    key_hashes,
    month_codes,
    month_label,
    prepare,
    prepare_keyed,
    refuse_append_only,
)

__all__ = ["EmbeddedStore"]

_MANIFEST = "manifest.json"
_FORMAT = 2
#: the audit journal's folder and file names
_JOURNAL = "audit"
_JOURNAL_NAME = re.compile(r"(\d{12})-(\d{12})\.parquet")
#: merge the newest small journal files once there are this many of them...
_JOURNAL_MERGE = 64
#: ... where a file of this many records or more is no longer small
_JOURNAL_BIG = 20_000
_READABLE = (1, 2)
_CRS_JSON = pyproj.CRS.from_epsg(SRID).to_json_dict()
#: parts a month may have before its smaller ones are merged into one
_MAX_PARTS = 8
#: columns a read by key answers from the parts it finds, without reading the others
_KEY_EXTRAS = ("content_hash",)
#: key indexes kept memory-mapped per store
_MAPPED = 4096
#: threads writing month parts
_WRITERS = max(1, min(4, os.cpu_count() or 1))
_GEOMETRY_NAMES = ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                   "MultiLineString", "MultiPolygon", "GeometryCollection"]
#: the files the store writes in ``layers/`` (the sweep removes no other file)
_PART_NAME = re.compile(r"[^/]+\.([0-9a-f]{32})\.(parquet|keys\.npy|tmp|keys\.tmp)")
_WKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")], align=False)


class EmbeddedStore(Store):
    """Layers as GeoParquet files in ``path`` (created on first write)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path)
        self.url = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"store path {self.root} exists and is not a directory")
        self._mapped: OrderedDict[str, np.ndarray] = OrderedDict()
        self._mapping = threading.Lock()  # readers of the app share the store

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.root)!r})"

    # ---- manifest ------------------------------------------------------------------------
    def _manifest(self) -> dict[str, Any]:
        path = self.root / _MANIFEST
        if not path.exists():
            return {"format": _FORMAT, "layers": {}, "parts": {}}
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{path}: unreadable store manifest ({exc})") from exc
        if manifest.get("format") not in _READABLE:
            raise StoreError(f"{path}: unknown store format {manifest.get('format')!r}")
        manifest.setdefault("parts", {})
        return manifest

    def _paths(self, layer: str, manifest: dict[str, Any] | None = None) -> list[Path]:
        manifest = manifest if manifest is not None else self._manifest()
        return [self.root / "layers" / name for name in manifest["layers"].get(layer, [])]

    # ---- the audit journal -----------------------------------------------------------------
    def _journal_files(self) -> list[tuple[int, int, Path]]:
        """The journal's files as ``(first seq, last seq, path)`` in order; a file whose
        records another (merged) file also holds is left out."""
        folder = self.root / _JOURNAL
        if not folder.is_dir():
            return []
        found = []
        for path in folder.iterdir():
            match = _JOURNAL_NAME.fullmatch(path.name)
            if match:
                found.append((int(match[1]), int(match[2]), path))
        keep, last = [], 0
        for first, end, path in sorted(found, key=lambda f: (f[0], -f[1])):
            if end > last:
                keep.append((first, end, path))
                last = end
        return keep

    def _journal_tail(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last chained audit record (journal, else the manifest)."""
        files = self._journal_files()
        paths = [files[-1][2]] if files else list(reversed(self._paths("audit")))
        for path in paths:
            table = pq.ParquetFile(path)
            if not {"seq", "hash"} <= set(table.schema_arrow.names):
                continue
            cols = table.read(columns=["seq", "hash"])
            seqs = cols.column("seq")
            if seqs.null_count == len(seqs):
                continue
            at = int(pc.index(seqs, pc.max(seqs)).as_py())
            return int(seqs[at].as_py()), str(cols.column("hash")[at].as_py())
        return 0, GENESIS

    def append_audit(self, records: pd.DataFrame) -> None:
        """Chain ``records`` after the last audit record and write them to the journal, under
        the audit lock only (see the module docstring): never waits for a load."""
        if len(records) == 0:
            return
        folder = self.root / _JOURNAL
        folder.mkdir(parents=True, exist_ok=True)
        lock = open(self.root / ".audit.lock", "a+")  # noqa: SIM115 - held for the block
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            seq, last = self._journal_tail()
            chained = audit_records(records, seq, last)
            self._write_journal(chained, seq + 1, seq + len(chained))
            small = [f for f in self._journal_files() if f[1] - f[0] + 1 < _JOURNAL_BIG]
            if len(small) >= _JOURNAL_MERGE:
                self._merge_journal(small)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()

    def _write_journal(self, frame: pd.DataFrame, first: int, last: int) -> None:
        path = self.root / _JOURNAL / f"{first:012d}-{last:012d}.parquet"
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        _write_parquet(_to_arrow(frame, get_spec("audit")), tmp)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_dir(path.parent)

    def _merge_journal(self, files: list[tuple[int, int, Path]]) -> None:
        """Merge the newest run of small journal files into one (called under the lock)."""
        run: list[tuple[int, int, Path]] = []
        for item in reversed(files):  # the newest contiguous run
            if run and item[1] + 1 != run[-1][0]:
                break
            run.append(item)
        run.reverse()
        if len(run) < 2:
            return
        frame = self._read_parts("audit", [p for _, _, p in run], columns=None, filters=None)
        self._write_journal(frame, run[0][0], run[-1][1])
        for _, _, path in run:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _audit_paths(self, manifest: dict[str, Any]) -> list[Path]:
        return self._paths("audit", manifest) + [p for _, _, p in self._journal_files()]

    # ---- reads ---------------------------------------------------------------------------
    def layer_names(self) -> list[str]:
        """Layers present in the manifest (and the audit log when its journal holds records)."""
        names = set(self._manifest()["layers"])
        if self._journal_files():
            names.add("audit")
        return sorted(names)

    def version(self) -> str:
        """Hash of the manifest's part files (the :data:`UNVERSIONED` layers left out)."""
        layers = {k: v for k, v in self._manifest()["layers"].items() if k not in UNVERSIONED}
        return uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(layers, sort_keys=True)).hex

    def count(self, layer: str) -> int:
        """Row count from the manifest (partitioned layers) or the Parquet footers."""
        if layer == "audit":
            flush_for(self.url)
        return int(self._retrying(lambda: self._count_once(layer)))

    def _count_once(self, layer: str) -> int:
        manifest = self._manifest()
        if layer in manifest["parts"]:
            return sum(int(p["rows"]) for p in manifest["parts"][layer])
        if layer == "audit":
            return sum(pq.ParquetFile(p).metadata.num_rows for p in self._audit_paths(manifest))
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self._paths(layer, manifest))

    @staticmethod
    def _retrying(read: Any) -> Any:
        """``read()``, again (from a fresh manifest) when a file it listed was swept by a
        write that committed meanwhile; a store that keeps losing files is an error."""
        for attempt in range(8):
            try:
                return read()
            except FileNotFoundError as exc:
                if attempt == 7:
                    raise StoreError(f"store files keep disappearing while read ({exc})") \
                        from exc
        return None

    def read(self, layer: str, *, columns: Sequence[str] | None = None,
             filters: Sequence[Filter] | None = None) -> pd.DataFrame:
        """Read a layer, pushing filters down to Parquet (and to the month parts).

        Readers take no lock: a write that commits meanwhile and sweeps the files this read
        listed makes it start again from the new manifest.
        """
        if layer == "audit":
            flush_for(self.url)  # records the app queued (layers.auditbuffer) show too
        return self._retrying(lambda: self._read_once(layer, columns, filters))

    def _read_once(self, layer: str, columns: Sequence[str] | None,
                   filters: Sequence[Filter] | None) -> pd.DataFrame:
        manifest = self._manifest()
        if layer in manifest["parts"]:
            return self._read_partitioned(layer, manifest["parts"][layer], columns=columns,
                                          filters=filters)
        if layer == "audit":
            return self._read_parts(layer, self._audit_paths(manifest), columns=columns,
                                    filters=filters)
        return self._read_parts(layer, self._paths(layer, manifest), columns=columns,
                                filters=filters)

    def _read_parts(self, layer: str, paths: list[Path], *, columns: Sequence[str] | None,
                    filters: Sequence[Filter] | None) -> pd.DataFrame:
        spec = get_spec(layer)
        flist = check_filters(filters)
        if not paths:
            frame = spec.empty() if spec is not None else pd.DataFrame()
            frame = apply_filters(frame, flist) if len(frame.columns) else frame
            return _select(frame, columns)
        dataset = pads.dataset([str(p) for p in paths], format="parquet")
        names = dataset.schema.names
        want = None
        absent: list[str] = []  # columns of the spec added after these files were written
        if columns is not None:
            unknown = [c for c in columns if c not in names and c != "geometry"]
            if unknown and spec is not None and len(paths) > 1:  # parts of either schema
                schema = pa.unify_schemas([pq.read_schema(p) for p in paths],
                                          promote_options="permissive")
                dataset = pads.dataset([str(p) for p in paths], schema=schema,
                                       format="parquet")
                names = dataset.schema.names
                unknown = [c for c in columns if c not in names and c != "geometry"]
            absent = [c for c in unknown if spec is not None and c in spec.column_names]
            unknown = [c for c in unknown if c not in absent]
            if unknown:
                raise KeyError(f"layer {layer!r} has no column(s) {unknown}; it has {names}")
            want = [c for c in names if c in columns]
            want += [c for c, _, _ in flist if c not in want]
        expr = _to_expression(flist, dataset.schema)
        table = dataset.to_table(columns=want, filter=expr)
        frame = _from_arrow(table, spec)
        if absent and spec is not None:  # written before the column existed: all missing
            empty = spec.empty()
            for c in absent:
                frame[c] = pd.Series(pd.NA, index=frame.index, dtype=empty[c].dtype)
        return _select(frame, columns) if columns is not None else frame

    def _read_partitioned(self, layer: str, parts: list[dict[str, Any]], *,
                          columns: Sequence[str] | None,
                          filters: Sequence[Filter] | None) -> pd.DataFrame:
        """Read the month parts the filters can match: by min/max, then by the key index."""
        spec = get_spec(layer)
        assert spec is not None and spec.key is not None
        flist = check_filters(filters)
        names = [*spec.column_names, "geometry"]
        unknown = [c for c in (columns or ()) if c not in names]
        if unknown:
            raise KeyError(f"layer {layer!r} has no column(s) {unknown}; it has {names}")
        for col, _, _ in flist:
            if col not in names:
                raise KeyError(f"filter on unknown column {col!r}")
        parts = _prune_by_time(parts, PARTITIONED[layer], flist)
        by_key = [f for f in flist if f[0] == spec.key and f[1] in ("=", "in")]
        if by_key and parts:
            wanted = _key_values(by_key[0])
            hits = self._lookup(parts, spec.key, wanted)
            extras = [c for c in _KEY_EXTRAS if c in spec.column_names]
            if (columns is not None and set(columns) <= {spec.key, *extras}
                    and all(f[0] == spec.key for f in flist)):
                return self._read_from_keys(layer, spec, parts, hits, columns, flist)
            parts = [parts[i] for i, _, _ in hits]
        paths = [self.root / "layers" / p["data"] for p in parts]
        return self._read_parts(layer, paths, columns=columns, filters=flist)

    def _read_from_keys(self, layer: str, spec: LayerSpec, parts: list[dict[str, Any]],
                        hits: list[tuple[int, np.ndarray, np.ndarray]], columns: Sequence[str],
                        flist: list[Filter]) -> pd.DataFrame:
        """Answer a read of key columns by key from the rows the key index found."""
        want = [c for c in (spec.key, *_KEY_EXTRAS) if c in spec.column_names]
        tables = [self._part_columns(parts[i], want).take(pa.array(rows))
                  for i, _, rows in hits]
        frame = (_from_arrow(pa.concat_tables(tables), spec) if tables
                 else pd.DataFrame(spec.empty()[want]))
        frame = apply_filters(frame, flist)
        return _select(frame.reset_index(drop=True), columns)

    # ---- the key index -------------------------------------------------------------------
    def _index(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A part's key index, memory-mapped: (sorted key hashes, the row of each)."""
        with self._mapping:
            mapped = self._mapped.get(name)
            if mapped is None:
                mapped = _map_npy(self.root / "layers" / name)
                self._mapped[name] = mapped
                while len(self._mapped) > _MAPPED:
                    self._mapped.popitem(last=False)
            else:
                self._mapped.move_to_end(name)
        n = len(mapped) // 2
        return mapped[:n], mapped[n:]

    def _part_columns(self, part: dict[str, Any], columns: list[str]) -> pa.Table:
        return pq.ParquetFile(self.root / "layers" / part["data"]).read(columns=columns)

    def _lookup(self, parts: list[dict[str, Any]], key: str, values: pa.Array | pa.ChunkedArray,
                hashes: np.ndarray | None = None) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Where keys are: ``(part index, positions in values, rows of the part)``.

        Joins the sorted hashes of ``values`` (``hashes`` when already computed) with each
        part's memory-mapped key index, then confirms each matching hash against the part's
        keys (read only for parts with a match).
        """
        if len(values) == 0 or not parts:
            return []
        wanted = key_hashes(values) if hashes is None else hashes
        order = np.argsort(wanted)
        wanted = wanted[order]
        out = []
        for i, part in enumerate(parts):
            sorted_hashes, rows_of = self._index(part["keys"])
            at_values, at_index = _sorted_join(wanted, sorted_hashes)
            if not len(at_values):
                continue
            at_values = order[at_values]
            rows = np.asarray(rows_of[at_index]).astype(np.int64)
            keys = self._part_columns(part, [key]).column(0)
            same = pc.equal(pc.cast(keys.take(pa.array(rows)), pa.large_string()),
                            pc.cast(values.take(pa.array(at_values)), pa.large_string()))
            same_np = same.to_numpy(zero_copy_only=False).astype(bool)
            if same_np.any():
                out.append((i, at_values[same_np], rows[same_np]))
        return out

    # ---- writes --------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Stage part files, then swap the manifest in one rename."""
        (self.root / "layers").mkdir(parents=True, exist_ok=True)
        lock = open(self.root / ".lock", "a+")  # noqa: SIM115 - held for the whole block
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            txn = _EmbeddedTransaction(self, self._manifest())
            try:
                yield txn
            except BaseException:
                txn.discard()
                raise
            txn.commit()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()


class _EmbeddedTransaction(Transaction):
    def __init__(self, store: EmbeddedStore, manifest: dict[str, Any]) -> None:
        self.store = store
        self.before = json.loads(json.dumps(manifest))
        self.manifest = manifest
        self.written: list[Path] = []
        self.audit_after: list[pd.DataFrame] = []

    def _write_part(self, layer: str, spec: LayerSpec | None, frame: pd.DataFrame) -> str:
        name = f"{layer}.{uuid.uuid4().hex}.parquet"
        self._write_table(_to_arrow(frame, spec), name)
        return name

    def _write_table(self, table: pa.Table, name: str) -> None:
        path = self.store.root / "layers" / name
        self.written.append(path)
        tmp = path.with_suffix(".tmp")
        _write_parquet(table, tmp)
        _fsync(tmp)
        os.replace(tmp, path)

    def _current(self, layer: str) -> pd.DataFrame:
        return self.store._read_parts(layer, self.store._paths(layer, self.manifest),
                                      columns=None, filters=None)

    def replace(self, layer: str, frame: pd.DataFrame) -> None:
        refuse_append_only(layer, "replace")
        spec, frame = prepare(layer, frame)
        if layer in PARTITIONED and spec is not None:
            self._apply(layer, spec, [], _to_arrow(frame, spec, describe=False), [])
            return
        self.manifest["layers"][layer] = [self._write_part(layer, spec, frame)]

    def append(self, layer: str, frame: pd.DataFrame) -> None:
        spec, frame = prepare(layer, frame)
        if layer in PARTITIONED and spec is not None and spec.key is not None:
            parts = self._parts(layer, spec)
            if len(frame) == 0 and layer in self.manifest["layers"]:
                return
            keys = pa.array(frame[spec.key].array, from_pandas=True)
            hits = self.store._lookup(parts, spec.key, keys)
            if hits:
                at = np.concatenate([q for _, q, _ in hits])
                _refuse_repeats(layer, spec.key, [str(k) for k in keys.take(at[:5]).to_pylist()])
            self._apply(layer, spec, parts, _to_arrow(frame, spec, describe=False), [])
            return
        if len(frame) == 0 and layer in self.manifest["layers"]:
            return
        if spec is not None and spec.key is not None and layer in self.manifest["layers"]:
            have = self._current(layer)[spec.key]
            clash = frame[spec.key].isin(have)
            if clash.any():
                _refuse_repeats(layer, spec.key, list(map(str, frame.loc[clash, spec.key][:5])))
        parts = list(self.manifest["layers"].get(layer, []))
        if len(parts) >= 32:  # compact many small appends (e.g. the audit log) into one part
            current = self._current(layer)
            frame = _concat(current, frame)
            parts = []
        self.manifest["layers"][layer] = [*parts, self._write_part(layer, spec, frame)]

    def upsert(self, layer: str, frame: pd.DataFrame) -> None:
        spec, frame, hashes = prepare_keyed(layer, frame)
        if spec is None or spec.key is None:
            raise StoreError(f"layer {layer!r} has no key to upsert on")
        refuse_append_only(layer, "upsert")
        if layer in PARTITIONED:
            parts = self._parts(layer, spec)
            add = _to_arrow(frame, spec, describe=False)
            if hashes is None:
                hashes = key_hashes(add.column(spec.key))
            hits = self.store._lookup(parts, spec.key, add.column(spec.key), hashes)
            self._apply(layer, spec, parts, add, hits, hashes)
            return
        current = self._current(layer)
        if len(current):
            keep = ~current[spec.key].isin(frame[spec.key])
            frame = _concat(current[keep.to_numpy(dtype=bool)], frame)
        self.manifest["layers"][layer] = [self._write_part(layer, spec, frame)]

    def delete(self, layer: str, key_values: Sequence[str]) -> None:
        spec = get_spec(layer)
        refuse_append_only(layer, "delete")
        if spec is None or spec.key is None:
            raise StoreError(f"layer {layer!r} has no key to delete by")
        if layer in PARTITIONED:
            parts = self._parts(layer, spec)
            keys = pa.array([str(k) for k in key_values], type=pa.large_string())
            self._apply(layer, spec, parts, None, self.store._lookup(parts, spec.key, keys))
            return
        current = self._current(layer)
        keep = ~current[spec.key].isin(list(key_values))
        self.manifest["layers"][layer] = [
            self._write_part(layer, spec, current[keep.to_numpy(dtype=bool)])]

    def append_audit(self, records: pd.DataFrame) -> None:
        """Audit records of this transaction: written to the audit journal when the
        transaction commits (and not at all when it fails)."""
        if len(records):
            self.audit_after.append(records)

    # ---- partitioned layers --------------------------------------------------------------
    def _parts(self, layer: str, spec: LayerSpec) -> list[dict[str, Any]]:
        """The layer's month parts; a layer stored whole (format 1) is split into months."""
        if layer in self.manifest["parts"]:
            return list(self.manifest["parts"][layer])
        paths = self.store._paths(layer, self.manifest)
        if not paths:
            return []
        whole = pa.concat_tables([_strip(pq.read_table(p)) for p in paths],
                                 promote_options="permissive")
        self._apply(layer, spec, [], whole, [])
        return list(self.manifest["parts"][layer])

    def _apply(self, layer: str, spec: LayerSpec, parts: list[dict[str, Any]],
               add: pa.Table | None, hits: list[tuple[int, np.ndarray, np.ndarray]],
               hashes: np.ndarray | None = None) -> None:
        """Drop the rows ``hits`` found, add the rows of ``add`` (whose key hashes are
        ``hashes`` when given): only the parts holding dropped rows and the months of added
        rows are written; untouched parts stay as they are."""
        assert spec.key is not None
        rewrite = {i: rows for i, _, rows in hits}
        by_month: dict[int, list[tuple[pa.Table, np.ndarray]]] = {}
        for i, rows in rewrite.items():  # the part without the rows of the keys it held
            part = parts[i]
            keep = np.ones(int(part["rows"]), dtype=bool)
            keep[rows] = False
            table = _strip(pq.read_table(self.store.root / "layers" / part["data"]))
            by_month.setdefault(_month_code(part), []).append(
                (table.filter(pa.array(keep)), self._row_hashes(part)[keep]))
        if add is not None and add.num_rows:
            for month, piece, piece_hashes in _split_by_month(
                    _strip(add), PARTITIONED[layer], spec.key, hashes):
                by_month.setdefault(month, []).append((piece, piece_hashes))
        kept = [p for i, p in enumerate(parts) if i not in rewrite]
        jobs = []
        for month, pieces in sorted(by_month.items()):
            same = [p for p in kept if _month_code(p) == month]
            if len(same) + 1 > _MAX_PARTS:  # merge all but the biggest part of the month
                biggest = max(same, key=lambda p: int(p["rows"]))
                merge = [p for p in same if p is not biggest]
                pieces += [(_strip(pq.read_table(self.store.root / "layers" / p["data"])),
                            self._row_hashes(p)) for p in merge]
                kept = [p for p in kept if not any(p is m for m in merge)]
            target = pieces[0][0].schema if add is None else _strip(add).schema
            table = pa.concat_tables([_conform_table(t, target) for t, _ in pieces])
            if table.num_rows:
                jobs.append((table, np.concatenate([h for _, h in pieces]), month))
        if len(jobs) > 1:  # Parquet encodes without the GIL: the months are written at once
            with ThreadPoolExecutor(min(_WRITERS, len(jobs))) as pool:
                made = list(pool.map(lambda job: self._write_month(layer, *job), jobs))
        else:
            made = [self._write_month(layer, *job) for job in jobs]
        parts = sorted(kept + made, key=lambda p: (_month_code(p), p["data"]))
        self.manifest["parts"][layer] = parts
        self.manifest["layers"][layer] = [p["data"] for p in parts]

    def _row_hashes(self, part: dict[str, Any]) -> np.ndarray:
        """The key hash of each row of a part, in row order (from its key index)."""
        sorted_hashes, rows = self.store._index(part["keys"])
        out = np.empty(len(sorted_hashes), dtype=np.uint64)
        out[np.asarray(rows)] = sorted_hashes
        return out

    def _write_month(self, layer: str, table: pa.Table, hashes: np.ndarray,
                     month: int) -> dict[str, Any]:
        """Write one month part and its key index (sorted hashes, then the row of each)."""
        label = month_label(month)
        token = uuid.uuid4().hex
        data_name = f"{layer}.{label}.{token}.parquet"
        keys_name = f"{layer}.{label}.{token}.keys.npy"
        table = _with_geo_metadata(table)
        self._write_table(table, data_name)
        order = np.argsort(hashes)
        path = self.store.root / "layers" / keys_name
        self.written.append(path)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, np.concatenate([hashes[order], order.astype(np.uint64)]))
        _fsync(tmp)
        os.replace(tmp, path)
        times = table.column(PARTITIONED[layer])  # bounds in µs, whatever the stored unit
        times = pc.cast(times, pa.timestamp("us", tz=times.type.tz), safe=False)
        bounds = pc.min_max(pc.cast(times, pa.int64()))
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        return {"month": label, "rows": table.num_rows, "min": low, "max": high,
                "data": data_name, "keys": keys_name}

    # ---- commit / discard ----------------------------------------------------------------
    def discard(self) -> None:
        for path in self.written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            with contextlib.suppress(FileNotFoundError):
                path.with_suffix(".tmp").unlink()

    def commit(self) -> None:
        root = self.store.root
        self.manifest["format"] = _FORMAT
        tmp = root / f"{_MANIFEST}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(self.manifest, indent=1, sort_keys=True), encoding="utf-8")
        _fsync(tmp)
        os.replace(tmp, root / _MANIFEST)
        _fsync_dir(root)
        self._sweep()
        for records in self.audit_after:
            self.store.append_audit(records)

    def _sweep(self) -> None:
        """Remove part files no longer referenced (also those left by killed loads)."""
        live = {n for parts in self.manifest["layers"].values() for n in parts}
        live |= {p["keys"] for parts in self.manifest["parts"].values() for p in parts}
        with self.store._mapping:
            for name in [n for n in self.store._mapped if n not in live]:
                del self.store._mapped[name]  # unmap: the file's space is freed when swept
        for path in (self.store.root / "layers").iterdir():
            # only files the store names: never anything else in a mistaken directory
            if path.name not in live and _PART_NAME.fullmatch(path.name) and path.is_file():
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        for path in self.store.root.glob(f"{_MANIFEST}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _refuse_repeats(layer: str, key: str, shown: list[str]) -> None:
    raise StoreError(f"layer {layer!r}: append would repeat key {key!r} "
                     f"({', '.join(shown)}); use upsert")


# ---- month parts -----------------------------------------------------------------------------

def _month_code(part: dict[str, Any]) -> int:
    label = part["month"]
    if label == "none":
        return int(NO_MONTH)
    year, month = label.split("-")
    return (int(year) - 1970) * 12 + int(month) - 1


def _map_npy(path: Path) -> np.ndarray:
    """A 1-d ``.npy`` array of little-endian uint64, memory-mapped (no copy, pages read when
    touched); ~10x cheaper to open than ``np.load(mmap_mode="r")``."""
    with open(path, "rb") as fh:
        mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    if bytes(mapped[:6]) != b"\x93NUMPY":
        raise StoreError(f"{path}: not a key index (.npy) file")
    size = 2 if mapped[6] == 1 else 4
    start = 8 + size + int.from_bytes(mapped[8:8 + size], "little")
    return np.frombuffer(mapped, dtype="<u8", offset=start)


def _sorted_join(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(i, j)`` of every pair with ``a[i] == b[j]`` in two sorted arrays.

    The smaller array is searched in the bigger one, so a day's keys touch a few pages of a
    memory-mapped index, and a big load reads each small index once.
    """
    if len(a) == 0 or len(b) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    swap = len(b) < len(a)
    small, big = (b, a) if swap else (a, b)
    small = np.asarray(small)
    low = np.searchsorted(big, small, side="left")
    inside = low < len(big)
    found = np.flatnonzero(inside)
    found = found[big[low[found]] == small[found]]
    if not len(found):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    counts = np.zeros(len(small), dtype=np.int64)  # equal runs: only where a value matched
    counts[found] = np.searchsorted(big, small[found], side="right") - low[found]
    hit = np.flatnonzero(counts)
    counts = counts[hit]
    at_small = np.repeat(hit, counts)
    firsts = np.repeat(low[hit] - (np.cumsum(counts) - counts), counts)
    at_big = firsts + np.arange(len(at_small))
    return (at_big, at_small) if swap else (at_small, at_big)


def _split_by_month(table: pa.Table, column: str, key: str, hashes: np.ndarray | None
                    ) -> Iterator[tuple[int, pa.Table, np.ndarray]]:
    """``(month, rows, their key hashes)`` per month; zero-copy slices when the rows come
    sorted by month (the incident loader sorts them), else one reordering."""
    months = _table_months(table, column)
    if hashes is None:
        hashes = key_hashes(table.column(key))
    if len(months) > 1 and (np.diff(months) < 0).any():
        order = np.argsort(months, kind="stable")
        table, months, hashes = table.take(pa.array(order)), months[order], hashes[order]
    starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    ends = np.r_[starts[1:], len(months)]
    for a, b in zip(starts, ends, strict=True):
        yield int(months[a]), table.slice(a, b - a), hashes[a:b]


def _table_months(table: pa.Table, column: str) -> np.ndarray:
    """:func:`~layers.store.month_codes` of an Arrow timestamp column."""
    return month_codes(table.column(column))


def _prune_by_time(parts: list[dict[str, Any]], column: str,
                   filters: list[Filter]) -> list[dict[str, Any]]:
    """The parts whose [min, max] of ``column`` can satisfy every filter on it."""
    terms = [(op, value) for col, op, value in filters if col == column and op != "!="]
    if not terms:
        return parts
    out = []
    for part in parts:
        low, high = part.get("min"), part.get("max")
        if low is None or high is None:  # only missing times: no comparison matches them
            continue
        if all(_may_match(low, high, op, value) for op, value in terms):
            out.append(part)
    return out


def _micros(value: Any) -> int:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return int(ts.tz_convert("UTC").tz_localize(None).as_unit("us").asm8.astype("int64"))


def _may_match(low: int, high: int, op: str, value: Any) -> bool:
    if op == "in":
        values = [_micros(v) for v in value if v is not None and not pd.isna(v)]
        return any(low <= v <= high for v in values)
    if value is None or pd.isna(value):
        return False
    v = _micros(value)
    return {"=": low <= v <= high, "<": low < v, "<=": low <= v, ">": high > v,
            ">=": high >= v}[op]


def _key_values(term: Filter) -> pa.Array:
    """The keys a ``=``/``in`` filter names, as Arrow strings (an Arrow-backed array as is)."""
    _, op, value = term
    values = [value] if op == "=" else value
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        arr = pa.array([str(v) for v in values if v is not None and not pd.isna(v)])
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], pa.large_string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pa.array([str(v) for v in arr.to_pylist() if v is not None])
    return pc.unique(pc.drop_null(arr).cast(pa.large_string()))


def _strip(table: pa.Table) -> pa.Table:
    """A table without schema metadata (parts are concatenated, then described again)."""
    return table.replace_schema_metadata(None)


def _conform_table(table: pa.Table, target: pa.Schema) -> pa.Table:
    """``table`` with the columns and types of ``target`` (a column it lacks is all null)."""
    for field in target:
        if field.name not in table.column_names:
            table = table.append_column(field, pa.nulls(table.num_rows, field.type))
    table = table.select(target.names)
    return table if table.schema.equals(target) else table.cast(target)


def _with_geo_metadata(table: pa.Table) -> pa.Table:
    """GeoParquet metadata (types and bbox from the WKB column) for one part."""
    if "geometry" not in table.column_names:
        return table
    kinds, bbox = _wkb_summary(table.column("geometry"))
    meta = dict(table.schema.metadata or {})
    meta[b"geo"] = json.dumps(_geo_meta(kinds, bbox)).encode()
    return table.replace_schema_metadata(meta)


def _wkb_summary(column: pa.ChunkedArray) -> tuple[list[str], list[float]]:
    """Geometry types and bbox of a WKB column; points are read with numpy."""
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    n = len(arr)
    if n == 0:
        return [], []
    if arr.null_count == 0 and pa.types.is_binary(arr.type):
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + n + 1]
        if np.all(np.diff(offsets) == _WKB_POINT.itemsize):
            raw = np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
            rec = raw.view(_WKB_POINT)
            if np.all(rec["order"] == 1) and np.all(rec["type"] == 1):
                solid = np.isfinite(rec["x"]) & np.isfinite(rec["y"])
                if not solid.any():
                    return [], []
                x, y = rec["x"][solid], rec["y"][solid]
                return ["Point"], [float(x.min()), float(y.min()), float(x.max()),
                                   float(y.max())]
    geoms = shapely.from_wkb(arr.to_numpy(zero_copy_only=False))
    return _kinds_and_bbox(geoms)


def _kinds_and_bbox(geoms: np.ndarray) -> tuple[list[str], list[float]]:
    present = ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    kinds = sorted(set(shapely.get_type_id(geoms[present]).tolist()))
    bbox = list(shapely.total_bounds(geoms)) if len(geoms) else []
    return [_GEOMETRY_NAMES[k] for k in kinds if k >= 0], (
        bbox if bbox and np.all(np.isfinite(bbox)) else [])


def _geo_meta(kinds: list[str], bbox: list[float]) -> dict[str, Any]:
    return {
        "version": "1.0.0",
        "primary_column": "geometry",
        "columns": {"geometry": {
            "encoding": "WKB",
            "geometry_types": kinds,
            "crs": _CRS_JSON,
            **({"bbox": bbox} if bbox else {}),
        }},
    }


# ---- arrow <-> pandas ----------------------------------------------------------------------

def _to_arrow(frame: pd.DataFrame, spec: LayerSpec | None, *, describe: bool = True
              ) -> pa.Table:
    """The frame as an Arrow table with WKB geometry; ``describe``: with its GeoParquet
    metadata (a partitioned layer describes each part when it writes it)."""
    geo_meta = None
    if isinstance(frame, gpd.GeoDataFrame):
        if frame.crs is not None and frame.crs.to_epsg() != SRID:
            raise StoreError(f"refusing to write CRS {frame.crs}: the store holds EPSG:{SRID}")
        gcol = frame.geometry.name
        geoms = np.asarray(frame.geometry.values)
        attrs = pd.DataFrame(frame.drop(columns=[gcol]))
        table = pa.Table.from_pandas(attrs, preserve_index=False)
        table = table.append_column("geometry", _wkb_array(geoms))
        geo_meta = _geo_meta(*_kinds_and_bbox(geoms)) if describe else _geo_meta([], [])
    else:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.pop(b"pandas", None)
    if geo_meta is not None:
        meta[b"geo"] = json.dumps(geo_meta).encode()
    if spec is None:
        meta[b"riskmap.derived"] = b"1"
    return table.replace_schema_metadata(meta)


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Zstd Parquet; dictionaries only for repetitive strings, statistics only for numbers.

    A dictionary tried on a column of unique values (ids, hashes, WKB) is built and thrown
    away, and min/max of strings are rarely of use: both cost more than the rest of the write.
    """
    dictionary = [f.name for f in table.schema if _repetitive(table.column(f.name))]
    numeric = [f.name for f in table.schema
               if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
               or pa.types.is_temporal(f.type)]
    pq.write_table(table, path, compression="zstd", compression_level=1,
                   row_group_size=256_000, use_dictionary=dictionary or False,
                   write_statistics=numeric or False)


def _repetitive(column: pa.ChunkedArray) -> bool:
    """Whether a string column repeats its values (its first 4,096 rows are looked at)."""
    typ = column.type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)
            or pa.types.is_dictionary(typ)):
        return False
    if pa.types.is_dictionary(typ) or len(column) < 16:
        return True
    sample = column.slice(0, 4096)
    return int(pc.count_distinct(sample).as_py()) * 4 <= len(sample)


def _wkb_array(geoms: np.ndarray) -> pa.Array:
    """ISO WKB of geometries; all-point columns are encoded with numpy (no per-geometry calls).

    An empty point is written as a point with NaN coordinates, as WKB has it.
    """
    kinds = shapely.get_type_id(geoms)
    if len(geoms) and np.all(kinds == shapely.GeometryType.POINT):
        n = len(geoms)
        rec = np.empty(n, dtype=_WKB_POINT)
        rec["order"] = 1
        rec["type"] = 1
        empty = shapely.is_empty(geoms)
        rec["x"] = np.nan
        rec["y"] = np.nan
        if (~empty).any():
            rec["x"][~empty] = shapely.get_x(geoms[~empty])
            rec["y"][~empty] = shapely.get_y(geoms[~empty])
        offsets = np.arange(0, 21 * (n + 1), 21, dtype="int32")
        return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets),
                                                      pa.py_buffer(rec.tobytes())])
    return pa.array(shapely.to_wkb(geoms, flavor="iso"), type=pa.binary())


def _from_arrow(table: pa.Table, spec: LayerSpec | None) -> pd.DataFrame:
    meta = table.schema.metadata or {}
    has_geo = b"geo" in meta and "geometry" in table.column_names
    geom = None
    if has_geo:
        geom = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
        table = table.drop_columns(["geometry"])
    frame = table.to_pandas(types_mapper=_types_mapper)
    if spec is not None:
        for col in spec.columns:  # nullable ints straight from Arrow: no float64 detour
            if col.dtype == "int" and col.name in table.column_names:
                frame[col.name] = table.column(col.name).to_pandas(
                    types_mapper={pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype()}.get)
        frame = _restore(spec, frame)
    if has_geo:
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geom, crs=SRID))
    return frame


def _types_mapper(t: pa.DataType) -> Any:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return pd.StringDtype()
    return None


def _restore(spec: LayerSpec, frame: pd.DataFrame) -> pd.DataFrame:
    from riskmap.layers.spec import _PANDAS

    for col in spec.columns:
        if col.name in frame.columns:
            want = _PANDAS[col.dtype]
            if str(frame[col.name].dtype) != want:
                frame[col.name] = frame[col.name].astype(want)
    return frame


def _to_expression(filters: list[Filter], schema: pa.Schema) -> Any:
    expr = None
    for col, op, value in filters:
        if col not in schema.names:
            raise KeyError(f"filter on unknown column {col!r}")
        field = pads.field(col)
        typ = schema.field(col).type
        value = _scalar_for(value, typ)
        term = _compare(field, op, value)
        expr = term if expr is None else expr & term
    return expr


def _compare(field: Any, op: str, value: Any) -> Any:
    if op == "in":
        return field.isin(value)
    return {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}[op](field, value)


def _scalar_for(value: Any, typ: pa.DataType) -> Any:
    if isinstance(value, pa.Array | pa.ChunkedArray):
        value = value.to_pylist()
    if isinstance(value, list | tuple | set | np.ndarray | pd.Series | pd.Index
                  | pd.api.extensions.ExtensionArray):
        return pa.array([None if v is None or (np.ndim(v) == 0 and pd.isna(v))
                         else _scalar_for(v, typ) for v in value], type=typ)
    if pa.types.is_timestamp(typ):
        ts = pd.Timestamp(value)
        if ts.tzinfo is None and typ.tz is not None:
            ts = ts.tz_localize("UTC")
        return pa.scalar(ts.to_pydatetime(), type=typ)
    return pa.scalar(value, type=typ) if value is not None else value


def _select(frame: pd.DataFrame, columns: Sequence[str] | None) -> pd.DataFrame:
    if columns is None:
        return frame
    cols = [c for c in columns if c in frame.columns]
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name not in cols:
        return pd.DataFrame(frame[cols])
    return frame[cols]


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    if len(a) == 0:
        return b
    if len(b) == 0:
        return a
    out = pd.concat([a, b], ignore_index=True)
    if isinstance(a, gpd.GeoDataFrame):
        return gpd.GeoDataFrame(out, geometry="geometry", crs=SRID)
    return out


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(path)
