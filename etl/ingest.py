"""Ingest jobs: read a user's file (edge), transform (pure), write in one transaction (edge)."""

from __future__ import annotations

import gc
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd

from riskmap.errors import InputFileError, StoreError
from riskmap.etl.categories import build_alias_table, load_alias_file
from riskmap.etl.crs import crs_advice, parse_crs
from riskmap.etl.incidents import (
    DATE_PARTS,
    IncidentContext,
    finalize,
    incidents_frame,
    quarantine_records,
    transform_chunk,
)
from riskmap.etl.progress import progress_bar
from riskmap.etl.readers import iter_raw, require_columns
from riskmap.layers.store import Store

__all__ = ["IngestReport", "ingest_incidents", "load_context"]


@dataclass
class IngestReport:
    """What a load did. ``input_rows == loaded + updated + duplicates + quarantined``."""

    layer: str
    file: str
    input_rows: int = 0
    loaded: int = 0
    updated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    by_precision: dict[str, int] = field(default_factory=dict)
    by_sheet: dict[str, int] = field(default_factory=dict)  # input rows per XLSX sheet
    fixed: dict[str, int] = field(default_factory=dict)
    resolved_quarantine: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    def write(self, path: str | Path) -> None:
        """Write the report as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n",
                              encoding="utf-8")

    def summary(self) -> str:
        """A few lines for the terminal."""
        lines = [
            f"{self.file}: {self.input_rows} rows -> {self.loaded} loaded, {self.updated} updated, "
            f"{self.duplicates} duplicates, {self.quarantined} quarantined",
        ]
        if self.by_reason:
            lines.append("  quarantined: " + ", ".join(f"{k} {v}" for k, v in
                                                       sorted(self.by_reason.items())))
        if self.by_sheet:
            lines.append("  sheets: " + ", ".join(f"{k} {v}" for k, v in self.by_sheet.items()))
        if self.by_precision:
            lines.append("  precision: " + ", ".join(f"{k} {v}" for k, v in
                                                     sorted(self.by_precision.items())))
        if self.fixed:
            lines.append("  fixed: " + ", ".join(f"{k} {v}" for k, v in sorted(self.fixed.items())))
        if self.resolved_quarantine:
            lines.append(f"  resolved {self.resolved_quarantine} earlier quarantined rows")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def load_aliases(extra: Mapping[str, str] | None = None,
                 alias_file: str | Path | None = None) -> dict[str, str]:
    """The category alias table: defaults, then a file, then explicit extras."""
    merged: dict[str, str] = {}
    if alias_file:
        merged.update(load_alias_file(alias_file))
    merged.update(extra or {})
    return build_alias_table(merged)


def load_context(store: Store, *, aliases: dict[str, str], now: pd.Timestamp | None = None,
                 tz: str = "Asia/Tashkent", snap_m: float = 200.0, res: int = 9,
                 fuzzy_threshold: float = 88.0, admin_threshold: float = 80.0,
                 admin_margin: float = 10.0) -> IncidentContext:
    """Build the geocoding context from the store's mahalla layer."""
    mahallas = store.read("mahallas")
    if len(mahallas) == 0:
        raise StoreError(f"store {store!r} has no mahallas: run `riskmap ingest mahallas FILE` "
                         "first (incidents are geocoded onto them)")
    return IncidentContext.from_mahallas(mahallas, aliases=aliases, now=now, tz=tz,
                                         snap_m=snap_m, res=res, fuzzy_threshold=fuzzy_threshold,
                                         admin_threshold=admin_threshold,
                                         admin_margin=admin_margin)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of small objects are made.

    Shapely points and Arrow/pandas buffers hold no reference cycles; without the pause each
    allocation burst triggers collections that rescan everything alive (2-3x slower).
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def ingest_incidents(path: str | Path, store: Store, ctx: IncidentContext, *,
                     mapping: Mapping[str, str] | None = None, chunk_rows: int = 250_000,
                     progress: bool = False, crs: Any = None, sheet: str | None = None,
                     defaults: Mapping[str, str] | None = None) -> IngestReport:
    """Load an incident file into ``store``: every row is loaded, a duplicate, or quarantined.

    The whole load is one transaction: if anything fails, the store is left as it was.

    Parameters
    ----------
    path
        CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile or GeoParquet.
    mapping
        ``--map`` renames, SOURCE column -> canonical field.
    crs
        Source CRS (``--crs``) of a file that declares none: vector/GeoParquet geometries
        and the lat/lon (x/y) columns of tables are reprojected from it to longitude/latitude.
        Without it, a table whose coordinates are mostly projected metres, or a CRS-less
        vector file that is, is refused with advice to give ``--crs``: every row would
        otherwise be quarantined although nothing is wrong with them but the missing CRS.
    sheet
        One worksheet of an XLSX workbook (``--sheet``); by default every sheet with rows.
    defaults
        ``--default FIELD=VALUE``: the value of a field on rows where the file gives none.

    Raises
    ------
    InputFileError
        The file cannot be read, lacks a required column, or its coordinates need ``--crs``.
    """
    with _gc_paused():
        return _ingest_incidents(path, store, ctx, mapping=mapping, chunk_rows=chunk_rows,
                                 progress=progress, crs=parse_crs(crs), sheet=sheet,
                                 defaults=defaults)


def _ingest_incidents(path: str | Path, store: Store, ctx: IncidentContext, *,
                      mapping: Mapping[str, str] | None, chunk_rows: int,
                      progress: bool, crs: Any, sheet: str | None,
                      defaults: Mapping[str, str] | None) -> IngestReport:
    import time

    t0 = time.perf_counter()
    path = Path(path)
    source = path.name
    report = IngestReport(layer="incidents", file=str(path))
    results = []
    with progress_bar(desc=f"ingest {source}", unit="rows", enabled=progress) as bar:
        for i, chunk in enumerate(iter_raw(path, mapping=mapping, chunk_rows=chunk_rows,
                                           layer="incidents", crs=crs, sheet=sheet,
                                           defaults=defaults)):
            raw = chunk.frame
            report.warnings += chunk.notes
            if i == 0:
                _check_columns(path, raw)
                if chunk.total_rows:
                    bar.total = chunk.total_rows
            results.append(transform_chunk(raw, ctx, crs=crs))
            bar.update(len(raw))
    _check_metres(path, results)
    if results and results[0].assembled_dates:
        report.warnings.append(
            "occurred_at assembled from the columns " + ", ".join(results[0].assembled_dates)
            + f" (local time, {ctx.tz})")
    rows = pd.concat([r.rows for r in results], ignore_index=True)
    raw_all = pd.concat([r.raw for r in results], ignore_index=True)
    for r in results:
        for k, v in r.fixed.items():
            report.fixed[k] = report.fixed.get(k, 0) + v
    rows = finalize(rows, raw_all)
    report.input_rows = len(rows)
    if "_sheet" in raw_all.columns:
        counts = raw_all["_sheet"].astype(object).value_counts(sort=False)
        report.by_sheet = {str(k): int(v) for k, v in counts.items()}

    bad = rows["reason"].notna().to_numpy(dtype=bool)
    in_file_dup = rows["dup_in_file"].to_numpy(dtype=bool) & ~bad
    good = ~bad & ~in_file_dup
    cand = rows[good]

    existing = store.read("incidents", columns=["incident_id", "content_hash"])
    known = pd.Series(existing["content_hash"].to_numpy(dtype="int64"),
                      index=existing["incident_id"].to_numpy(dtype=object))
    known = known[~known.index.duplicated()]
    prev = known.reindex(cand["incident_id"].to_numpy(dtype=object))
    is_known = prev.notna().to_numpy(dtype=bool)
    same = is_known & (prev.fillna(0).astype("int64").to_numpy()
                       == cand["content_hash"].to_numpy(dtype="int64"))
    new = ~is_known
    changed = is_known & ~same
    report.loaded = int(new.sum())
    report.updated = int(changed.sum())
    report.duplicates = int(same.sum() + in_file_dup.sum())
    report.quarantined = int(bad.sum())
    report.by_reason = {str(k): int(v) for k, v in
                        Counter(rows.loc[bad, "reason"].tolist()).most_common()}
    from riskmap.layers.spec import PRECISIONS

    codes = np.bincount(cand["prec_code"].to_numpy()[new | changed].astype("int64"),
                        minlength=len(PRECISIONS))
    report.by_precision = {p: int(c) for p, c in zip(PRECISIONS, codes, strict=True) if c}
    now = pd.Timestamp.now(tz="UTC")
    quarantine = quarantine_records(rows, raw_all, source_file=source, now=now)
    resolved: list[str] = []
    if "quarantine_id" in raw_all.columns:
        qid = raw_all["quarantine_id"].astype("string")
        ok_rows = (~bad) & qid.notna().to_numpy(dtype=bool)
        resolved = sorted(set(qid[ok_rows].tolist()))
        report.resolved_quarantine = len(resolved)

    to_write = incidents_frame(cand[new | changed], ctx, source_file=source)
    with store.transaction() as txn:
        if len(to_write):
            txn.upsert("incidents", to_write)
        if len(quarantine):
            txn.upsert("quarantine", quarantine)
        if resolved:
            txn.delete("quarantine", resolved)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _check_columns(path: Path, raw: pd.DataFrame) -> None:
    """A date (``occurred_at``, or year/month/day columns), a category and a location."""
    if "occurred_at" not in raw.columns and not all(p in raw.columns
                                                    for p in DATE_PARTS[:3]):
        require_columns(path, raw, ["occurred_at"])
    require_columns(path, raw, ["category"])
    has_xy = "lat" in raw.columns and "lon" in raw.columns
    has_geom = isinstance(raw, gpd.GeoDataFrame) or any(c in raw.columns
                                                        for c in ("geometry", "wkt", "geom"))
    has_addr = any(c in raw.columns for c in ("address", "mahalla", "district"))
    if not has_xy and not has_geom and not has_addr:
        missing = "lat" if "lat" not in raw.columns else "lon"
        raise InputFileError(
            path, f"required column {missing!r} is missing: a location needs lat and lon, a "
                  "point geometry, or an address / mahalla / district column (rename with "
                  "--map SOURCE=FIELD)",
            column=missing)


def _check_metres(path: Path, results: list[Any]) -> None:
    """Refuse a table whose coordinates are mostly projected metres (it needs ``--crs``)."""
    numeric = sum(r.coordinate_rows for r in results)
    metres = sum(r.metre_rows for r in results)
    if metres and 2 * metres > numeric:
        example = next(r.metre_example for r in results if r.metre_example)
        raise InputFileError(
            path, f"{metres:,} of {numeric:,} rows have coordinates that are not degrees but "
                  f"look like projected metres ({example}); nothing was loaded: "
                  + crs_advice(), column="lat")
