"""The embedded store: GeoParquet files in a data directory, committed by an atomic manifest swap.

Layout of a data directory::

    manifest.json          {"format": 1, "layers": {"incidents": ["incidents.<uuid>.parquet", ...]}}
    layers/*.parquet       one or more GeoParquet parts per layer
    .lock                  writers hold an exclusive flock on it

A transaction writes new part files beside the old ones and then replaces ``manifest.json``
with ``os.replace`` (atomic on POSIX). Until that rename nothing a reader sees has changed, so
a failed or killed load leaves the store exactly as it was; unreferenced parts are swept later.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import operator
import os
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

import geopandas as gpd
import pyproj
import shapely

from riskmap.errors import StoreError
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

__all__ = ["EmbeddedStore"]

_MANIFEST = "manifest.json"
_FORMAT = 1
_CRS_JSON = pyproj.CRS.from_epsg(SRID).to_json_dict()


class EmbeddedStore(Store):
    """Layers as GeoParquet files in ``path`` (created on first write)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.root = Path(path)
        self.url = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"store path {self.root} exists and is not a directory")

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.root)!r})"

    # ---- manifest ------------------------------------------------------------------------
    def _manifest(self) -> dict[str, Any]:
        path = self.root / _MANIFEST
        if not path.exists():
            return {"format": _FORMAT, "layers": {}}
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{path}: unreadable store manifest ({exc})") from exc
        if manifest.get("format") != _FORMAT:
            raise StoreError(f"{path}: unknown store format {manifest.get('format')!r}")
        return manifest

    def _paths(self, layer: str, manifest: dict[str, Any] | None = None) -> list[Path]:
        manifest = manifest if manifest is not None else self._manifest()
        return [self.root / "layers" / name for name in manifest["layers"].get(layer, [])]

    # ---- reads ---------------------------------------------------------------------------
    def layer_names(self) -> list[str]:
        """Layers present in the manifest."""
        return sorted(self._manifest()["layers"])

    def version(self) -> str:
        """Hash of the manifest's part files (the :data:`UNVERSIONED` layers left out)."""
        layers = {k: v for k, v in self._manifest()["layers"].items() if k not in UNVERSIONED}
        return uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(layers, sort_keys=True)).hex

    def count(self, layer: str) -> int:
        """Row count from the Parquet footers."""
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self._paths(layer))

    def read(self, layer: str, *, columns: Sequence[str] | None = None,
             filters: Sequence[Filter] | None = None) -> pd.DataFrame:
        """Read a layer, pushing filters down to Parquet."""
        return self._read_parts(layer, self._paths(layer), columns=columns, filters=filters)

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
        if columns is not None:
            unknown = [c for c in columns if c not in names and c != "geometry"]
            if unknown:
                raise KeyError(f"layer {layer!r} has no column(s) {unknown}; it has {names}")
            want = [c for c in names if c in columns]
            want += [c for c, _, _ in flist if c not in want]
        expr = _to_expression(flist, dataset.schema)
        table = dataset.to_table(columns=want, filter=expr)
        frame = _from_arrow(table, spec)
        return _select(frame, columns) if columns is not None else frame

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

    def _write_part(self, layer: str, spec: LayerSpec | None, frame: pd.DataFrame) -> str:
        name = f"{layer}.{uuid.uuid4().hex}.parquet"
        path = self.store.root / "layers" / name
        self.written.append(path)
        table = _to_arrow(frame, spec)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, compression="zstd", compression_level=1, row_group_size=256_000)
        _fsync(tmp)
        os.replace(tmp, path)
        return name

    def _current(self, layer: str) -> pd.DataFrame:
        return self.store._read_parts(layer, self.store._paths(layer, self.manifest),
                                      columns=None, filters=None)

    def replace(self, layer: str, frame: pd.DataFrame) -> None:
        spec, frame = prepare(layer, frame)
        self.manifest["layers"][layer] = [self._write_part(layer, spec, frame)]

    def append(self, layer: str, frame: pd.DataFrame) -> None:
        spec, frame = prepare(layer, frame)
        if len(frame) == 0 and layer in self.manifest["layers"]:
            return
        if spec is not None and spec.key is not None and layer in self.manifest["layers"]:
            have = self._current(layer)[spec.key]
            clash = frame[spec.key].isin(have)
            if clash.any():
                raise StoreError(f"layer {layer!r}: append would repeat key {spec.key!r} "
                                 f"({', '.join(map(str, frame.loc[clash, spec.key][:5]))}); "
                                 "use upsert")
        parts = list(self.manifest["layers"].get(layer, []))
        if len(parts) >= 32:  # compact many small appends (e.g. the audit log) into one part
            current = self._current(layer)
            frame = _concat(current, frame)
            parts = []
        self.manifest["layers"][layer] = [*parts, self._write_part(layer, spec, frame)]

    def upsert(self, layer: str, frame: pd.DataFrame) -> None:
        spec, frame = prepare(layer, frame)
        if spec is None or spec.key is None:
            raise StoreError(f"layer {layer!r} has no key to upsert on")
        current = self._current(layer)
        if len(current):
            keep = ~current[spec.key].isin(frame[spec.key])
            frame = _concat(current[keep.to_numpy(dtype=bool)], frame)
        self.manifest["layers"][layer] = [self._write_part(layer, spec, frame)]

    def delete(self, layer: str, key_values: Sequence[str]) -> None:
        spec = get_spec(layer)
        if spec is None or spec.key is None:
            raise StoreError(f"layer {layer!r} has no key to delete by")
        current = self._current(layer)
        keep = ~current[spec.key].isin(list(key_values))
        self.manifest["layers"][layer] = [
            self._write_part(layer, spec, current[keep.to_numpy(dtype=bool)])]

    def discard(self) -> None:
        for path in self.written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            with contextlib.suppress(FileNotFoundError):
                path.with_suffix(".tmp").unlink()

    def commit(self) -> None:
        root = self.store.root
        tmp = root / f"{_MANIFEST}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(self.manifest, indent=1, sort_keys=True), encoding="utf-8")
        _fsync(tmp)
        os.replace(tmp, root / _MANIFEST)
        _fsync_dir(root)
        self._sweep()

    def _sweep(self) -> None:
        """Remove part files no longer referenced (also those left by killed loads)."""
        live = {n for parts in self.manifest["layers"].values() for n in parts}
        for path in (self.store.root / "layers").iterdir():
            if path.name not in live:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        for path in self.store.root.glob(f"{_MANIFEST}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


# ---- arrow <-> pandas ----------------------------------------------------------------------

def _to_arrow(frame: pd.DataFrame, spec: LayerSpec | None) -> pa.Table:
    geo_meta = None
    if isinstance(frame, gpd.GeoDataFrame):
        if frame.crs is not None and frame.crs.to_epsg() != SRID:
            raise StoreError(f"refusing to write CRS {frame.crs}: the store holds EPSG:{SRID}")
        gcol = frame.geometry.name
        geoms = np.asarray(frame.geometry.values)
        attrs = pd.DataFrame(frame.drop(columns=[gcol]))
        table = pa.Table.from_pandas(attrs, preserve_index=False)
        table = table.append_column("geometry", _wkb_array(geoms))
        present = ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
        kinds = sorted(set(shapely.get_type_id(geoms[present]).tolist()))
        names = ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                 "MultiPolygon", "GeometryCollection"]
        bbox = list(shapely.total_bounds(geoms)) if len(geoms) else []
        geo_meta = {
            "version": "1.0.0",
            "primary_column": "geometry",
            "columns": {"geometry": {
                "encoding": "WKB",
                "geometry_types": [names[k] for k in kinds if k >= 0],
                "crs": _CRS_JSON,
                **({"bbox": bbox} if bbox and np.all(np.isfinite(bbox)) else {}),
            }},
        }
    else:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta.pop(b"pandas", None)
    if geo_meta is not None:
        meta[b"geo"] = json.dumps(geo_meta).encode()
    if spec is None:
        meta[b"riskmap.derived"] = b"1"
    return table.replace_schema_metadata(meta)


def _wkb_array(geoms: np.ndarray) -> pa.Array:
    """ISO WKB of geometries; all-point columns are encoded with numpy (no per-geometry calls).

    An empty point is written as a point with NaN coordinates, as WKB has it.
    """
    kinds = shapely.get_type_id(geoms)
    if len(geoms) and np.all(kinds == shapely.GeometryType.POINT):
        n = len(geoms)
        rec = np.empty(n, dtype=np.dtype([("order", "u1"), ("type", "<u4"), ("x", "<f8"),
                                          ("y", "<f8")], align=False))
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
    if isinstance(value, list | tuple | set | np.ndarray | pd.Series | pd.Index):
        return pa.array([_scalar_for(v, typ) for v in value], type=typ)
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
