"""Ingest jobs: read a user's file (edge), transform (pure), write in one transaction (edge)."""

from __future__ import annotations

import gc
import json
import re
import time
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
from riskmap.etl.gazetteer import read_place_aliases
from riskmap.etl.incidents import (
    DATE_PARTS,
    IncidentContext,
    finalize,
    incidents_frame,
    quarantine_records,
    transform_chunk,
)
from riskmap.etl.progress import progress_bar
from riskmap.etl.readers import MAX_ID_CHARS, MAX_TEXT_CHARS, iter_raw, require_columns
from riskmap.etl.translit import name_key, prepare_text
from riskmap.geo.h3index import cells_from_lonlat
from riskmap.layers.builtin import INCIDENTS
from riskmap.layers.spec import PRECISIONS
from riskmap.layers.store import Store

__all__ = [
    "ADDRESS_FIELDS",
    "IngestReport",
    "PreparedIncidents",
    "alias_key",
    "check_place_aliases",
    "commit_incidents",
    "ingest_incidents",
    "ingest_place_aliases",
    "load_context",
    "prepare_incidents",
    "regeocode_addresses",
    "regeocode_quarantined",
    "stored_place_aliases",
]

#: the location fields of an incident row the gazetteer reads (kept for district-precision rows)
ADDRESS_FIELDS = ("address", "mahalla", "district", "region")
_WORD_RE = re.compile(r"[0-9a-z'~]+")  # words of a text as the gazetteer compares whole texts
_DISTRICT_CODE = PRECISIONS.index("district")


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
                 admin_margin: float = 10.0, place_aliases: bool = True,
                 notes: list[str] | None = None) -> IncidentContext:
    """Build the geocoding context from the store's mahalla and place-alias layers.

    Parameters
    ----------
    store
        The store to read ``mahallas`` and ``place_aliases`` from.
    aliases
        The *category* alias table (see :func:`load_aliases`).
    place_aliases
        Give the gazetteer the stored place aliases (keyword-only; on by default), so that a
        name or address an analyst matched by hand is placed so by this load.
    notes
        When given, a line is appended for stored place aliases the gazetteer cannot use
        (their mahalla or district is no longer in the mahallas layer); they are skipped.

    Raises
    ------
    StoreError
        The store holds no mahallas.
    """
    mahallas = store.read("mahallas")
    if len(mahallas) == 0:
        raise StoreError(f"store {store!r} has no mahallas: run `riskmap ingest mahallas FILE` "
                         "first (incidents are geocoded onto them)")
    ctx = IncidentContext.from_mahallas(mahallas, aliases=aliases, now=now, tz=tz,
                                        snap_m=snap_m, res=res, fuzzy_threshold=fuzzy_threshold,
                                        admin_threshold=admin_threshold,
                                        admin_margin=admin_margin)
    if place_aliases:
        usable, stale = stored_place_aliases(store, mahallas)
        if notes is not None:
            notes += stale
        if len(usable):
            ctx.gazetteer = ctx.gazetteer.with_aliases(usable)
    return ctx


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
                                 progress=progress, crs=crs, sheet=sheet,
                                 defaults=defaults)


def _ingest_incidents(path: str | Path, store: Store, ctx: IncidentContext, *,
                      mapping: Mapping[str, str] | None, chunk_rows: int,
                      progress: bool, crs: Any, sheet: str | None,
                      defaults: Mapping[str, str] | None) -> IngestReport:
    prepared = prepare_incidents(path, ctx, mapping=mapping, chunk_rows=chunk_rows,
                                 progress=progress, crs=crs, sheet=sheet, defaults=defaults)
    return commit_incidents(prepared, store, ctx)


@dataclass
class PreparedIncidents:
    """An incident file read, validated and geocoded, not yet compared with the store.

    ``rows`` and ``raw`` are :func:`etl.incidents.finalize`'s rows and the file's raw cells
    (both aligned); ``report`` holds what reading found (input rows, fixes, sheets, warnings).
    """

    path: Path
    rows: pd.DataFrame
    raw: pd.DataFrame
    report: IngestReport
    started: float


def prepare_incidents(path: str | Path, ctx: IncidentContext, *,
                      mapping: Mapping[str, str] | None = None, chunk_rows: int = 250_000,
                      progress: bool = False, crs: Any = None, sheet: str | None = None,
                      defaults: Mapping[str, str] | None = None) -> PreparedIncidents:
    """Read, validate and geocode an incident file without the store (a Dask task of
    ``riskmap ingest --workers``, see :mod:`etl.scaleout`); :func:`commit_incidents` loads it.

    Raises
    ------
    InputFileError
        As :func:`ingest_incidents`.
    """
    import time

    t0 = time.perf_counter()
    path = Path(path)
    source = path.name
    crs = parse_crs(crs)
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
    return PreparedIncidents(path, rows, raw_all, report, t0)


def commit_incidents(prepared: PreparedIncidents, store: Store,
                     ctx: IncidentContext) -> IngestReport:
    """Load a :func:`prepare_incidents` result into ``store`` in one transaction: new and changed
    rows upserted, repeats counted as duplicates, bad rows quarantined; the report completed."""
    import time

    rows, raw_all, report = prepared.rows, prepared.raw, prepared.report
    source = prepared.path.name
    bad = rows["reason"].notna().to_numpy(dtype=bool)
    in_file_dup = rows["dup_in_file"].to_numpy(dtype=bool) & ~bad
    good = ~bad & ~in_file_dup
    # in time order: the stores split incidents by month, and sorted rows split by slicing
    good_at = np.flatnonzero(good)
    months = rows["occurred_at"].to_numpy()[good_at].astype("datetime64[M]").astype("int64")
    if len(months) and months.min() >= 0 and months.max() < 2**15:  # 1970-4700: radix sort
        months = months.astype("int16")
    good_at = good_at[np.argsort(months, kind="stable")]
    cand = rows.drop(columns=["reason", "detail", "raw_hash", "dup_in_file"]).iloc[good_at]

    # only the file's ids are looked up (the stores answer from their key index): a daily
    # load costs about the same in a store of 10 M incidents as in an empty one
    existing = (store.read("incidents", columns=["incident_id", "content_hash"],
                           filters=[("incident_id", "in", cand["incident_id"].array)])
                if len(cand) and store.has("incidents") else None)
    if existing is not None and len(existing):
        # 64-bit hashes compared as integers (a reindex with missing ids would make them
        # float64, which cannot hold them: every known row would look changed)
        existing = existing.drop_duplicates("incident_id")
        stored = existing["content_hash"].astype("Int64")
        valid = stored.notna().to_numpy(dtype=bool)
        hashes = stored.fillna(0).to_numpy(dtype="int64")
        at = pd.Index(existing["incident_id"].to_numpy(dtype=object)).get_indexer(
            cand["incident_id"].to_numpy(dtype=object))
        is_known = at >= 0
        same = is_known & valid[at] & (hashes[at] == cand["content_hash"].to_numpy(dtype="int64"))
    else:  # none of the file's ids is stored
        is_known = same = np.zeros(len(cand), dtype=bool)
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

    to_write = incidents_frame(cand if (new | changed).all() else cand[new | changed], ctx,
                               source_file=source)
    addresses = _district_addresses(cand, raw_all, good_at, ctx, source=source, now=now)
    placed = to_write["incident_id"][to_write["geocode_precision"] != "district"]
    stale = _stale_addresses(store, placed)
    with store.transaction() as txn:
        if len(to_write):
            txn.upsert("incidents", to_write)
        if len(addresses):
            txn.upsert("incident_addresses", addresses)
        if stale:
            txn.delete("incident_addresses", stale)
        if len(quarantine):
            txn.upsert("quarantine", quarantine)
        if resolved:
            txn.delete("quarantine", resolved)
    report.seconds = round(time.perf_counter() - prepared.started, 3)
    return report


def _district_addresses(cand: pd.DataFrame, raw: pd.DataFrame, rows_at: np.ndarray,
                        ctx: IncidentContext, *, source: str,
                        now: pd.Timestamp) -> pd.DataFrame:
    """``incident_addresses`` rows of the candidate rows placed only in a district.

    ``rows_at`` are the positions in ``raw`` of the rows of ``cand``. Written for new, changed
    and unchanged rows alike, so that loading a file again records the addresses of
    incidents loaded before the layer existed.
    """
    at = cand["prec_code"].to_numpy() == _DISTRICT_CODE
    if not at.any():
        return pd.DataFrame()
    placed = incidents_frame(cand[at], ctx, source_file=source)
    cols = [f for f in ADDRESS_FIELDS if f in raw.columns]
    sub = raw.iloc[rows_at[at]][cols].reset_index(drop=True)
    given = {f: sub[f].astype("string").str.strip().replace("", pd.NA)
             for f in ADDRESS_FIELDS if f in sub.columns}
    location = [json.dumps({f: str(v) for f, v in zip(given, values, strict=True)
                            if not pd.isna(v)}, ensure_ascii=False)
                for values in zip(*given.values(), strict=True)] if given else ["{}"] * len(sub)
    address = pd.Series(pd.NA, index=sub.index, dtype="string")
    for f in ("mahalla", "address"):  # the address, else the mahalla column
        if f in given:
            address = given[f].fillna(address)
    return pd.DataFrame({
        "incident_id": placed["incident_id"].to_numpy(dtype=object),
        "address": address.to_numpy(dtype=object),
        "location": location,
        "district": placed["district"].to_numpy(dtype=object),
        "region": placed["region"].to_numpy(dtype=object),
        "source_file": placed["source_file"].to_numpy(dtype=object),
        "source_row": placed["source_row"].to_numpy(),
        "recorded_at": now,
    })


def _stale_addresses(store: Store, placed: pd.Series) -> list[str]:
    """Ids of ``incident_addresses`` rows whose incident is now placed better than a district."""
    if not len(placed) or not store.has("incident_addresses"):
        return []
    known = store.read("incident_addresses", columns=["incident_id"])["incident_id"]
    return sorted(set(placed[placed.isin(known).to_numpy(dtype=bool)].astype(str)))


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


# ---- place aliases ---------------------------------------------------------------------------

def alias_key(alias: str, district: str | None, region: str | None) -> str:
    """The ``place_aliases`` key: the alias as the gazetteer compares whole texts, its district
    and its region (script, case, apostrophes and punctuation set aside), joined by ``|``.

    Examples
    --------
    >>> alias_key("Eski  Chorsu, bozori!", "Jizzax shahri", "Jizzax viloyati")
    'eski chorsu bozori|jizzax shahri|jizzax viloyati'
    >>> alias_key("Эски Чорсу", "Jizzax shahri", None) == alias_key("eski chorsu", "JIZZAX shahri", "")
    True
    """
    return "|".join(" ".join(_WORD_RE.findall(prepare_text(text or "")))
                    for text in (alias, district, region))


def _cell(value: object) -> str:
    return "" if value is None or pd.isna(value) else str(value).strip()


def check_place_aliases(aliases: pd.DataFrame, mahallas: pd.DataFrame, *, user: str,
                        source: str, now: pd.Timestamp | None = None,
                        ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Check alias rows against the mahallas layer and turn them into ``place_aliases`` rows.

    A row names a mahalla by ``mahalla_id`` (its ``district`` and ``region``, when given,
    must be the mahalla's), or only a district by ``district`` (and ``region`` when the
    district's name is found in several regions). The stored district and region are always
    the mahallas layer's own, so a scoped user sees the aliases of their region.

    Parameters
    ----------
    aliases
        Columns ``alias`` and ``mahalla_id``, optionally ``district`` and ``region`` (as
        :func:`riskmap.etl.gazetteer.read_place_aliases` returns them).
    mahallas
        The mahallas layer (``mahalla_id``, ``district``, ``region``).
    user, source
        Written to ``created_by`` and ``source``.
    now
        ``created_at`` (default: now).

    Returns
    -------
    tuple
        ``(rows, reason, detail)``: one ``place_aliases`` row per input row (district and
        region filled from the mahallas layer where the row is good), and per row a reason
        code (None when good: ``missing_alias``, ``value_too_long``, ``invalid_text``,
        ``unknown_mahalla``, ``wrong_district``, ``wrong_region``, ``unknown_district``,
        ``ambiguous_district``) and a detail naming the column and value.
    """
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    ids = mahallas["mahalla_id"].astype(str).to_numpy(dtype=object)
    m_district = dict(zip(ids, mahallas["district"].astype(object), strict=True))
    m_region = dict(zip(ids, mahallas["region"].astype(object), strict=True))
    pairs = sorted({(str(d), str(r)) for d, r in zip(mahallas["district"], mahallas["region"],
                                                       strict=True) if _cell(d)})
    n = len(aliases)
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)
    out: dict[str, list[object]] = {c: [] for c in ("alias", "mahalla_id", "district", "region")}
    for i, row in enumerate(aliases.to_dict("records")):
        alias, mid = _cell(row.get("alias")), _cell(row.get("mahalla_id"))
        district, region = _cell(row.get("district")), _cell(row.get("region"))
        fault = _alias_fault(alias, mid, district, region)
        if fault is None and mid:
            if mid not in m_district:
                fault = ("unknown_mahalla", f"column 'mahalla_id': {mid!r} is not in the "
                                            "mahallas layer")
            else:
                md, mr = str(m_district[mid]), str(m_region[mid])
                if district and name_key(district) != name_key(md):
                    fault = ("wrong_district", f"column 'district': {district!r} is not "
                                               f"mahalla {mid!r}'s district ({md!r})")
                elif region and name_key(region) != name_key(mr):
                    fault = ("wrong_region", f"column 'region': {region!r} is not mahalla "
                                             f"{mid!r}'s region ({mr!r})")
                district, region = md, mr
        elif fault is None:
            hits = [(d, r) for d, r in pairs if name_key(d) == name_key(district)
                    and (not region or name_key(r) == name_key(region))]
            if len(hits) != 1:
                code = "unknown_district" if not hits else "ambiguous_district"
                fault = (code, f"column 'district': {district!r}"
                               + (f" (region {region!r})" if region else "")
                               + (" is not a district of the mahallas layer" if not hits else
                                  f" names {len(hits)} districts; give the region"))
            else:
                district, region = hits[0]
        if fault is not None:
            reason[i], detail[i] = fault
        out["alias"].append(alias or None)
        out["mahalla_id"].append(mid or None)
        out["district"].append(district or None)
        out["region"].append(region or None)
    rows = pd.DataFrame({
        "alias_key": [alias_key(a or "", d, r) for a, d, r in
                      zip(out["alias"], out["district"], out["region"], strict=True)],
        **{k: pd.array(v, dtype="string") for k, v in out.items()},
        "created_by": user,
        "created_at": now,
        "source": source,
    }, index=range(n))
    return rows, reason, detail


def _alias_fault(alias: str, mid: str, district: str, region: str) -> tuple[str, str] | None:
    """The first fault of an alias row that needs no look-up, or None."""
    for col, value, limit in (("alias", alias, MAX_TEXT_CHARS), ("mahalla_id", mid, MAX_ID_CHARS),
                              ("district", district, MAX_TEXT_CHARS),
                              ("region", region, MAX_TEXT_CHARS)):
        if len(value) > limit:
            return ("value_too_long", f"column {col!r}: {value[:20]!r}... ({len(value):,} "
                                      f"characters) is longer than the {limit:,} it may have")
        if "\x00" in value:
            return "invalid_text", f"column {col!r} holds a NUL character"
    if not _WORD_RE.findall(prepare_text(alias)):
        return "missing_alias", f"column 'alias': {alias!r} has no letter or digit"
    if not mid and not district:
        return "missing_mahalla", "column 'mahalla_id' is empty and there is no district"
    return None


def stored_place_aliases(store: Store, mahallas: pd.DataFrame | None = None,
                         ) -> tuple[pd.DataFrame, list[str]]:
    """The stored place aliases the gazetteer can use, and a note on those it cannot.

    An alias whose mahalla (or district) is no longer in the mahallas layer, or no longer in
    the alias's district, is left out (and counted in the note).

    Returns
    -------
    tuple
        ``(aliases, notes)``: the usable ``place_aliases`` rows and zero or one line.
    """
    stored = store.read("place_aliases")
    if len(stored) == 0:
        return stored, []
    if mahallas is None:
        mahallas = store.read("mahallas", columns=["mahalla_id", "district", "region"])
    _, reason, _ = check_place_aliases(stored, mahallas, user="", source="")
    bad = pd.notna(reason)
    notes = []
    if bad.any():
        first = stored[bad].iloc[0]
        notes.append(f"{int(bad.sum())} stored place alias(es) skipped: their mahalla or "
                     f"district is no longer in the mahallas layer (e.g. {first['alias']!r} -> "
                     f"{first['mahalla_id'] if pd.notna(first['mahalla_id']) else first['district']!r})")
    return stored[~bad].reset_index(drop=True), notes


def ingest_place_aliases(path: str | Path, store: Store, *, user: str,
                         replace: bool = False) -> IngestReport:
    """Load a CSV of place aliases (``riskmap ingest aliases FILE``).

    The file is read by :func:`riskmap.etl.gazetteer.read_place_aliases` (a missing column
    or an empty alias refuses the file, naming the row and column). Each row is then
    checked against the mahallas layer (:func:`check_place_aliases`); a bad row is
    quarantined with its reason, as is a row repeating an earlier row's alias (same text,
    district and region) with another mahalla (``conflicting_id``). Aliases are upserted by
    their key; an alias already stored with the same mahalla counts as a duplicate and keeps
    its creator. One transaction.

    Parameters
    ----------
    path
        UTF-8 CSV with ``alias``, ``mahalla_id`` and optional ``district``, ``region``.
    store
        The store (its mahallas layer is read).
    user
        Written to ``created_by``.
    replace
        Replace every stored alias (also those made in the app) by the file's.

    Raises
    ------
    InputFileError
        The file is missing or unreadable, lacks a column, or has a row with an empty alias.
    StoreError
        The store holds no mahallas.
    """
    t0 = time.perf_counter()
    path = Path(path)
    report = IngestReport(layer="place_aliases", file=str(path))
    if not path.is_file():
        raise InputFileError(path, "file not found")
    try:
        frame = read_place_aliases(path)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(path, f"cannot read the file as UTF-8 CSV: {exc}") from exc
    mahallas = store.read("mahallas", columns=["mahalla_id", "district", "region"])
    if len(mahallas) == 0:
        raise StoreError(f"store {store!r} has no mahallas: run `riskmap ingest mahallas FILE` "
                         "first (aliases name mahallas)")
    now = pd.Timestamp.now(tz="UTC")
    rows, reason, detail = check_place_aliases(frame, mahallas, user=user, source=path.name,
                                               now=now)
    line = np.arange(len(frame)) + 2  # the header is row 1
    repeat = _repeated_aliases(rows, reason, detail, line)
    good = pd.isna(reason) & ~repeat
    existing = (pd.DataFrame(columns=["alias_key", "mahalla_id", "district"]) if replace else
                store.read("place_aliases", columns=["alias_key", "mahalla_id", "district"]))
    before = dict(zip(existing["alias_key"].astype(str), _targets(existing), strict=True))
    prev = np.array([before.get(k) for k in rows["alias_key"]], dtype=object)
    same = good & (prev == np.array(_targets(rows), dtype=object))
    changed = good & pd.notna(prev) & ~same
    new = good & pd.isna(prev)
    report.input_rows = len(frame)
    report.loaded, report.updated = int(new.sum()), int(changed.sum())
    report.duplicates = int(same.sum() + repeat.sum())
    bad = pd.notna(reason)
    report.quarantined = int(bad.sum())
    report.by_reason = dict(Counter(reason[bad].tolist()).most_common())
    quarantine = _alias_quarantine(frame, reason, detail, line, source=path.name, now=now)
    resolved: list[str] = []
    if "quarantine_id" in frame.columns:  # a corrected `riskmap export quarantine` file
        qid = frame["quarantine_id"].astype("string")
        resolved = sorted(set(qid[~bad & qid.notna().to_numpy(dtype=bool)].tolist()))
        report.resolved_quarantine = len(resolved)
    with store.transaction() as txn:
        if replace:
            txn.replace("place_aliases", rows[good])
        elif (new | changed).any():
            txn.upsert("place_aliases", rows[new | changed])
        if len(quarantine):
            txn.upsert("quarantine", quarantine)
        if resolved:
            txn.delete("quarantine", resolved)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _targets(rows: pd.DataFrame) -> list[str]:
    """What each alias row points at: its mahalla, else ``district:<district>``."""
    return [str(m) if _cell(m) else f"district:{_cell(d)}"
            for m, d in zip(rows["mahalla_id"], rows["district"], strict=True)]


def _repeated_aliases(rows: pd.DataFrame, reason: np.ndarray, detail: np.ndarray,
                      line: np.ndarray) -> np.ndarray:
    """Mark later rows repeating a good row's alias key: a duplicate when they point at the
    same place (returned True), else ``conflicting_id`` (set in ``reason``)."""
    repeat = np.zeros(len(rows), dtype=bool)
    seen: dict[str, tuple[int, str]] = {}
    targets = _targets(rows)
    for i in np.flatnonzero(pd.isna(reason)):
        key = rows["alias_key"].iat[i]
        if key not in seen:
            seen[key] = (i, targets[i])
        elif seen[key][1] == targets[i]:
            repeat[i] = True
        else:
            j, target = seen[key]
            reason[i] = "conflicting_id"
            detail[i] = (f"column 'alias': {rows['alias'].iat[i]!r} (district "
                         f"{rows['district'].iat[i]!r}) is tied to {target!r} at row {line[j]}")
    return repeat


def _alias_quarantine(frame: pd.DataFrame, reason: np.ndarray, detail: np.ndarray,
                      line: np.ndarray, *, source: str, now: pd.Timestamp) -> pd.DataFrame:
    """Quarantine records (the original row as JSON) of the alias rows with a reason."""
    bad = pd.notna(reason)
    sub = frame[bad].drop(columns=[c for c in ("quarantine_id", "reason", "detail",
                                               "source_file", "source_row") if c in frame])
    records = sub.astype(object).where(sub.notna(), None).to_dict("records")
    given = (frame.loc[bad, "quarantine_id"].astype(object).tolist() if "quarantine_id" in frame
             else [None] * int(bad.sum()))
    return pd.DataFrame({
        "quarantine_id": [g if isinstance(g, str) and g.strip() and len(g) <= MAX_ID_CHARS
                          else f"pla:{source}:{r}" for g, r in zip(given, line[bad],
                                                                    strict=True)],
        "layer": "place_aliases",
        "source_file": source,
        "source_row": line[bad],
        "reason": reason[bad],
        "detail": detail[bad],
        "raw": [json.dumps(r, ensure_ascii=False) for r in records],
        "quarantined_at": now,
    })


# ---- geocoding rows again (after a new place alias) ------------------------------------------

def regeocode_quarantined(records: pd.DataFrame, ctx: IncidentContext,
                          ) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Run quarantined incident rows through the incident transform again.

    Used after a place alias was added (the Rematch page): each record's original row (its
    ``raw`` JSON, traced by ``source_file`` and ``source_row``) is validated and geocoded by
    ``ctx`` exactly as a load of its file would.

    Parameters
    ----------
    records
        Rows of the ``quarantine`` layer whose ``layer`` is ``incidents``.
    ctx
        The geocoding context (:func:`load_context`, with the new aliases).

    Returns
    -------
    tuple
        ``(incidents, resolved)``: the ``incidents`` rows of the records that now load, and
        the quarantine ids they resolve. Records that still fail are left out of both.
    """
    parts: list[gpd.GeoDataFrame] = []
    resolved: list[str] = []
    for source, group in records.groupby("source_file", sort=False, dropna=False):
        raws = [json.loads(r) if isinstance(r, str) and r else {} for r in group["raw"]]
        raw = pd.DataFrame(raws, index=range(len(group)))
        raw = raw.astype("string") if len(raw.columns) else raw
        raw.insert(0, "_row", group["source_row"].fillna(0).to_numpy(dtype="int64"))
        rows = finalize(transform_chunk(raw, ctx).rows, raw)
        ok = rows["reason"].isna().to_numpy(dtype=bool)
        if ok.any():
            name = "" if pd.isna(source) else str(source)
            parts.append(incidents_frame(rows[ok], ctx, source_file=name))
            resolved += group["quarantine_id"].astype(str).to_numpy()[ok].tolist()
    if not parts:
        return INCIDENTS.empty(), []
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=4326), resolved


def regeocode_addresses(incidents: gpd.GeoDataFrame, addresses: pd.DataFrame,
                        ctx: IncidentContext) -> gpd.GeoDataFrame:
    """Geocode incidents placed only in a district again, from their stored location text.

    Parameters
    ----------
    incidents
        Rows of the ``incidents`` layer.
    addresses
        Their ``incident_addresses`` rows (matched by ``incident_id``; an incident without
        one is left out).
    ctx
        The geocoding context (:func:`load_context`, with the new aliases).

    Returns
    -------
    geopandas.GeoDataFrame
        The incidents the gazetteer now places in a mahalla, with ``mahalla_id``,
        ``district``, ``region``, ``geocode_precision`` (``mahalla``) and ``h3`` (the cell of
        the mahalla's representative point, as a load sets it) updated; other columns as
        they were.
    """
    by_id = addresses.drop_duplicates("incident_id").set_index("incident_id")["location"]
    text = by_id.reindex(incidents["incident_id"].astype(str).to_numpy())
    have = text.notna().to_numpy(dtype=bool)
    sub = incidents[have].reset_index(drop=True)
    fields = [json.loads(t) if t else {} for t in text[have]]
    given = {f: pd.Series([d.get(f) for d in fields], dtype=object)
             for f in ADDRESS_FIELDS if any(f in d for d in fields)}
    if not len(sub) or not given:
        return sub.iloc[:0]
    m = ctx.gazetteer.match(given.get("address"), mahalla=given.get("mahalla"),
                            district=given.get("district"), region=given.get("region"))
    placed = (m["precision"] == "mahalla").fillna(False).to_numpy(dtype=bool)
    out = sub[placed].copy()
    hit = m[placed]
    out["mahalla_id"] = hit["mahalla_id"].astype("string").to_numpy()
    out["district"] = hit["district"].astype("string").to_numpy()
    out["region"] = hit["region"].astype("string").to_numpy()
    out["geocode_precision"] = "mahalla"
    out["h3"] = cells_from_lonlat(hit["lon"].to_numpy(dtype="float64"),
                                  hit["lat"].to_numpy(dtype="float64"), ctx.res)
    return out.reset_index(drop=True)
