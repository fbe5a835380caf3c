"""Incident ETL transform: raw rows -> validated incidents on H3 cells and mahallas, or quarantine.

:func:`transform_chunk` is pure (frames in, frames out) and shared by every source format;
:mod:`etl.ingest` does the reading and the one-transaction write around it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import geopandas as gpd
import shapely

from riskmap.etl.categories import normalize_categories
from riskmap.etl.dates import parse_datetimes
from riskmap.etl.gazetteer import Gazetteer
from riskmap.geo.h3index import cells_from_lonlat
from riskmap.geo.join import PolygonIndex
from riskmap.layers.spec import CATEGORIES, PRECISIONS

__all__ = ["IncidentContext", "TransformResult", "finalize", "transform_chunk"]

_COORD_COLS = ("lat", "lon")
_ADDRESS_COLS = ("address", "mahalla", "district", "region")
_EMPTY = shapely.Point()
#: fix flags as bits of an int mask, in the order they are written
FLAGS = ("swapped_coordinates", "snapped_to_mahalla", "coordinates_replaced_by_address")
_SWAPPED, _SNAPPED, _REPLACED = 1, 2, 4
#: where a row's coordinates stand
_NONE, _INVALID, _OUTSIDE, _LOCATED = 0, 1, 2, 3
_PRECISION_CODE = {p: i for i, p in enumerate(PRECISIONS)}


@dataclass
class IncidentContext:
    """What the transform needs to know about the world (built once per load)."""

    mahalla_ids: np.ndarray
    districts: np.ndarray
    regions: np.ndarray
    index: PolygonIndex
    gazetteer: Gazetteer
    aliases: dict[str, str]
    now: pd.Timestamp
    tz: str = "Asia/Tashkent"
    snap_m: float = 200.0
    res: int = 9
    mahalla_lookup: pd.Index = field(init=False)
    district_lookup: pd.MultiIndex = field(init=False)

    def __post_init__(self) -> None:
        self.mahalla_lookup = pd.Index(self.mahalla_ids)
        pairs = pd.MultiIndex.from_arrays([self.districts, self.regions])
        self.district_lookup = pairs.unique()

    @classmethod
    def from_mahallas(cls, mahallas: gpd.GeoDataFrame, *, aliases: dict[str, str],
                      now: pd.Timestamp | None = None, tz: str = "Asia/Tashkent",
                      snap_m: float = 200.0, res: int = 9,
                      fuzzy_threshold: float = 88.0, admin_threshold: float = 80.0,
                      admin_margin: float = 10.0) -> IncidentContext:
        """Build the context from the mahalla layer."""
        return cls(
            mahalla_ids=mahallas["mahalla_id"].astype(str).to_numpy(dtype=object),
            districts=mahallas["district"].astype(str).to_numpy(dtype=object),
            regions=mahallas["region"].astype(str).to_numpy(dtype=object),
            index=PolygonIndex(np.asarray(mahallas.geometry.values)),
            gazetteer=Gazetteer.from_mahallas(mahallas, threshold=fuzzy_threshold,
                                              admin_threshold=admin_threshold,
                                              admin_margin=admin_margin),
            aliases=aliases,
            now=now if now is not None else pd.Timestamp.now(tz="UTC"),
            tz=tz, snap_m=snap_m, res=res,
        )


@dataclass
class TransformResult:
    """Output of one chunk: candidate incidents, and per-row state for the whole-file checks."""

    rows: pd.DataFrame  # one row per input row: _row, raw_hash, incident_id, reason, detail, ...
    raw: pd.DataFrame  # the input rows (kept for quarantine records)
    fixed: dict[str, int] = field(default_factory=dict)


def transform_chunk(raw: pd.DataFrame, ctx: IncidentContext) -> TransformResult:
    """Validate and geocode one block of raw incident rows.

    Returns a frame with one row per input row holding integer codes (category, mahalla index,
    precision, flags), the point, the H3 cell, a ``reason`` (quarantine code or None) and a
    ``detail`` naming the column and value at fault. Text is materialised once, at the end.
    """
    n = len(raw)
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)

    def fail(mask: np.ndarray, code: str, col: str, values: Any, what: str) -> None:
        mask = mask & (reason == None)  # noqa: E711 - elementwise on object array
        if not mask.any():
            return
        reason[mask] = code
        vals = values(mask) if callable(values) else np.asarray(values, dtype=object)[mask]
        detail[mask] = [f"column {col!r}: {v!r} {what}" for v in vals]

    # dates ------------------------------------------------------------------------------
    when_raw = _col(raw, "occurred_at")
    when, date_reason = parse_datetimes(when_raw, tz=ctx.tz)
    date_reason = date_reason.to_numpy(dtype=object)
    fail(date_reason == "missing_date", "missing_date", "occurred_at", when_raw, "is empty")
    fail(date_reason == "invalid_date", "invalid_date", "occurred_at", when_raw,
         "is not a date (expected ISO 8601, dd.mm.yyyy [HH:MM[:SS]] or an Excel date)")
    future = (when > ctx.now).fillna(False).to_numpy(dtype=bool)
    fail(future, "future_date", "occurred_at", when_raw,
         f"is in the future (after {ctx.now:%Y-%m-%d %H:%M} UTC)")

    # categories -------------------------------------------------------------------------
    cat_raw = _col(raw, "category")
    cat_code = _category_codes(normalize_categories(cat_raw, ctx.aliases))
    fail(cat_code < 0, "unknown_category", "category", cat_raw,
         "is not a known category or alias")

    # coordinates ------------------------------------------------------------------------
    loc = _locate_coordinates(raw, ctx)
    flags, state, m_idx = loc["flags"], loc["state"], loc["idx"]
    located = m_idx >= 0
    precision = np.where(located, _PRECISION_CODE["coordinates"], -1).astype("int8")
    lon = np.where(located, loc["lon"], np.nan)
    lat = np.where(located, loc["lat"], np.nan)
    point_lon, point_lat = lon.copy(), lat.copy()  # the geometry (empty unless coordinates)
    d_idx = np.full(n, -1, dtype="int32")  # district index for district-precision rows

    # address geocoding for rows without usable coordinates ------------------------------
    want_address = ~located & _has_address(raw) & (reason == None)  # noqa: E711
    if want_address.any():
        sub = raw.loc[want_address]
        m = ctx.gazetteer.match(
            _opt(sub, "address"), mahalla=_opt(sub, "mahalla"),
            district=_opt(sub, "district"), region=_opt(sub, "region"))
        prec = m["precision"].to_numpy(dtype=object)
        got = pd.notna(prec)
        rows_at = np.flatnonzero(want_address)
        hit = rows_at[got]
        precision[hit] = [_PRECISION_CODE[p] for p in prec[got]]
        m_idx[hit] = ctx.mahalla_lookup.get_indexer(m["mahalla_id"].to_numpy(dtype=object)[got])
        d_idx[hit] = ctx.district_lookup.get_indexer(
            list(zip(m["district"].to_numpy(dtype=object)[got],
                     m["region"].to_numpy(dtype=object)[got], strict=True)))
        lon[hit] = m["lon"].to_numpy(dtype="float64")[got]
        lat[hit] = m["lat"].to_numpy(dtype="float64")[got]
        flags[hit[state[hit] != _NONE]] |= _REPLACED
    unplaced = precision < 0
    fail((state == _INVALID) & unplaced, "invalid_coordinates", "lat/lon",
         lambda mask: _coord_text(raw, mask), "are not valid coordinates")
    fail((state == _OUTSIDE) & unplaced, "outside_area", "lat/lon",
         lambda mask: _coord_text(raw, mask),
         f"is more than {ctx.snap_m:g} m from every mahalla, even swapped")
    fail((state == _NONE) & unplaced, "no_location", "address",
         lambda mask: _address_text(raw[mask]),
         "matches no mahalla (and there are no coordinates)")

    cells = cells_from_lonlat(lon, lat, ctx.res)
    good = reason == None  # noqa: E711
    fixed = {name: int(((flags[good] & (1 << bit)) > 0).sum())
             for bit, name in enumerate(FLAGS)}
    fixed = {k: v for k, v in fixed.items() if v}
    rows = pd.DataFrame({
        "_row": raw["_row"].to_numpy(dtype="int64"),
        "incident_id": pd.Series(_ids(raw), dtype=object, copy=False),
        "occurred_at": when.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(),  # UTC
        "cat_code": cat_code,
        "h3": cells,
        "m_idx": m_idx.astype("int32"),
        "d_idx": d_idx,
        "prec_code": precision,
        "flags": flags,
        "lon": point_lon,
        "lat": point_lat,
        "reason": pd.Series(reason, dtype=object, copy=False),
        "detail": pd.Series(detail, dtype=object, copy=False),
    })
    return TransformResult(rows=rows, raw=raw, fixed=fixed)


def finalize(rows: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Whole-file checks: in-file duplicates and ``conflicting_id``; content hashes and ids.

    Adds ``content_hash`` (int64, from the normalised content), ``raw_hash`` (of the original
    row, for rows sharing an id) and ``dup_in_file``; ids missing in the file become
    ``h<hash>``.
    """
    rows = rows.copy()
    ids = rows["incident_id"].to_numpy(dtype=object)
    no_id = pd.isna(ids)
    parts = [
        pd.util.hash_array(rows["occurred_at"].to_numpy().view("int64")),
        pd.util.hash_array(rows["cat_code"].to_numpy()),
        pd.util.hash_array(np.round(rows["lon"].to_numpy(), 7)),
        pd.util.hash_array(np.round(rows["lat"].to_numpy(), 7)),
        pd.util.hash_array(rows["m_idx"].to_numpy()),
        pd.util.hash_array(rows["d_idx"].to_numpy()),
        pd.util.hash_array(rows["prec_code"].to_numpy()),
        pd.util.hash_array(np.where(no_id, "", ids).astype(object), categorize=False),
    ]
    content = parts[0]
    for i, h in enumerate(parts[1:], start=1):
        content = content * np.uint64(1000003 + 2 * i) ^ h
    content = content.view("int64")
    rows["content_hash"] = content
    if no_id.any():
        ids = ids.copy()
        ids[no_id] = [f"h{int(c) & 0xFFFFFFFFFFFFFFFF:016x}" for c in content[no_id]]
        rows["incident_id"] = pd.Series(ids, dtype=object, copy=False)
    key = rows["incident_id"]
    shared = key.duplicated(keep=False).to_numpy(dtype=bool)
    raw_hash = np.zeros(len(rows), dtype="int64")
    dup_in_file = np.zeros(len(rows), dtype=bool)
    if shared.any():
        at = np.flatnonzero(shared)
        raw_hash[at] = _raw_hash(raw.iloc[at])
        sub = pd.DataFrame({"key": key.to_numpy(dtype=object)[at], "h": raw_hash[at],
                            "row": rows["_row"].to_numpy()[at]})
        first = ~sub["key"].duplicated(keep="first").to_numpy(dtype=bool)
        first_of = sub[first].set_index("key")
        seen_hash = first_of["h"].reindex(sub["key"]).to_numpy()
        seen_row = first_of["row"].reindex(sub["key"]).to_numpy()
        same = seen_hash == sub["h"].to_numpy()
        dup_in_file[at[~first & same]] = True
        conflict = at[~first & ~same]
        if len(conflict):
            bad = ~first & ~same
            rows.loc[conflict, "reason"] = "conflicting_id"
            rows.loc[conflict, "detail"] = [
                f"column 'incident_id': {k!r} was seen at row {r} with different content"
                for k, r in zip(sub["key"].to_numpy()[bad], seen_row[bad], strict=True)]
    rows["raw_hash"] = raw_hash
    rows["dup_in_file"] = dup_in_file
    return rows


def quarantine_records(rows: pd.DataFrame, raw: pd.DataFrame, *, source_file: str,
                       now: pd.Timestamp) -> pd.DataFrame:
    """Quarantine-layer rows (original row as JSON, one reason code) for rows with a reason."""
    bad = rows["reason"].notna().to_numpy(dtype=bool)
    sub = rows[bad]
    raw_sub = raw[bad]
    cols = [c for c in raw_sub.columns if c not in {"_row", "quarantine_id", "reason", "detail",
                                                    "source_file", "source_row"}]
    records = raw_sub[cols].astype(object).where(raw_sub[cols].notna(), None)
    raw_json = [json.dumps({k: _jsonable(v) for k, v in rec.items()}, ensure_ascii=False)
                for rec in records.to_dict(orient="records")]
    if "quarantine_id" in raw_sub.columns:
        given = raw_sub["quarantine_id"].astype(object).where(raw_sub["quarantine_id"].notna(),
                                                              None).to_numpy()
    else:
        given = np.full(len(sub), None, dtype=object)
    qids = [g if isinstance(g, str) and g else f"q{int(h) & 0xFFFFFFFFFFFFFFFF:016x}"
            for g, h in zip(given, _qhash(source_file, sub), strict=True)]
    return pd.DataFrame({
        "quarantine_id": qids,
        "layer": "incidents",
        "source_file": source_file,
        "source_row": sub["_row"].to_numpy(),
        "reason": sub["reason"].to_numpy(dtype=object),
        "detail": sub["detail"].to_numpy(dtype=object),
        "raw": raw_json,
        "quarantined_at": now,
    })


def incidents_frame(rows: pd.DataFrame, ctx: IncidentContext, *,
                    source_file: str) -> gpd.GeoDataFrame:
    """The incidents-layer frame of rows that loaded (geometry empty unless coordinates)."""
    lon = rows["lon"].to_numpy(dtype="float64")
    lat = rows["lat"].to_numpy(dtype="float64")
    has = np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(len(rows), _EMPTY, dtype=object)
    if has.any():
        geoms[has] = shapely.points(lon[has], lat[has])
    m_idx = rows["m_idx"].to_numpy()
    d_idx = rows["d_idx"].to_numpy()
    mahalla_id = _take_text(ctx.mahalla_ids, m_idx)
    district = _take_text(ctx.districts, m_idx)
    region = _take_text(ctx.regions, m_idx)
    if (d_idx >= 0).any():  # district precision: no mahalla, the district and its region
        only = (m_idx < 0) & (d_idx >= 0)
        names = np.array([d for d, _ in ctx.district_lookup], dtype=object)
        regions = np.array([r for _, r in ctx.district_lookup], dtype=object)
        district = pd.Series(district, dtype=object).where(~only, names[np.maximum(d_idx, 0)])
        region = pd.Series(region, dtype=object).where(~only, regions[np.maximum(d_idx, 0)])
    frame = pd.DataFrame({
        "incident_id": pd.array(rows["incident_id"].to_numpy(dtype=object), dtype="string"),
        "occurred_at": pd.DatetimeIndex(rows["occurred_at"].to_numpy()).tz_localize("UTC"),
        "category": _take_text(np.array(CATEGORIES, dtype=object), rows["cat_code"].to_numpy()),
        "h3": rows["h3"].to_numpy(dtype="int64"),
        "mahalla_id": mahalla_id,
        "district": district,
        "region": region,
        "geocode_precision": _take_text(np.array(PRECISIONS, dtype=object),
                                        rows["prec_code"].to_numpy()),
        "flags": _take_text(_flag_names(rows["flags"].to_numpy()),
                            _flag_index(rows["flags"].to_numpy())),
        "source_file": source_file,
        "source_row": rows["_row"].to_numpy(dtype="int64"),
        "content_hash": rows["content_hash"].to_numpy(dtype="int64"),
    })
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326))


def _take_text(values: np.ndarray, codes: np.ndarray) -> pd.Series:
    """Strings by integer code (-1 gives missing), built as Arrow strings in one pass."""
    codes = np.asarray(codes)
    table = pa.array([*list(values), None], type=pa.string())
    taken = table.take(pa.array(np.where(codes < 0, len(values), codes).astype("int64")))
    return pd.Series(pd.arrays.ArrowStringArray(taken) if hasattr(pd.arrays, "ArrowStringArray")
                     else taken.to_pandas(), dtype="string")


# ---- helpers ---------------------------------------------------------------------------

def _col(raw: pd.DataFrame, name: str) -> pd.Series:
    if name in raw.columns:
        return raw[name]
    return pd.Series(pd.NA, index=raw.index, dtype=object)


def _opt(raw: pd.DataFrame, name: str) -> pd.Series | None:
    if name not in raw.columns:
        return None
    return raw[name].astype(object).where(raw[name].notna(), None)


def _blank(series: pd.Series) -> np.ndarray:
    s = series.astype("string")
    return (s.isna() | (s.str.strip() == "")).to_numpy(dtype=bool)


def _has_address(raw: pd.DataFrame) -> np.ndarray:
    out = np.zeros(len(raw), dtype=bool)
    for c in _ADDRESS_COLS:
        if c in raw.columns:
            out |= ~_blank(raw[c])
    return out


def _address_text(raw: pd.DataFrame) -> np.ndarray:
    parts = [raw[c].astype("string").fillna("") for c in _ADDRESS_COLS if c in raw.columns]
    if not parts:
        return np.full(len(raw), "", dtype=object)
    text = parts[0]
    for p in parts[1:]:
        text = text.str.cat(p, sep=" ")
    return text.str.strip().to_numpy(dtype=object)


def _to_float(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse numbers (decimal comma allowed): (values, blank mask)."""
    if pd.api.types.is_numeric_dtype(series):
        vals = series.to_numpy(dtype="float64", na_value=np.nan)
        return vals, ~np.isfinite(vals)
    blank = _blank(series)
    try:  # fast path: clean numeric text, cast by Arrow in C++
        arr = pa.array(series.astype("string"), type=pa.string())
        arr = pc.if_else(pa.array(blank), pa.scalar(None, pa.string()), arr)
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), blank
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
        pass
    text = series.astype("string").str.strip().str.replace(",", ".", regex=False)
    vals = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return vals, blank


def _locate_coordinates(raw: pd.DataFrame, ctx: IncidentContext) -> dict[str, Any]:
    n = len(raw)
    flags = np.zeros(n, dtype="int64")
    idx = np.full(n, -1, dtype="int64")
    state = np.full(n, _NONE, dtype="int8")
    if not all(c in raw.columns for c in _COORD_COLS):
        nan = np.full(n, np.nan)
        return {"idx": idx, "lon": nan, "lat": nan, "flags": flags, "state": state}
    lat, lat_blank = _to_float(raw["lat"])
    lon, lon_blank = _to_float(raw["lon"])
    both_blank = lat_blank & lon_blank
    parsed = np.isfinite(lat) & np.isfinite(lon)
    in_range = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    swapped_range = (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    null_island = (lat == 0) & (lon == 0)
    usable = parsed & (in_range | swapped_range) & ~null_island
    state[~both_blank & ~usable] = _INVALID
    state[usable] = _OUTSIDE  # until located
    x, y = np.where(usable, lon, np.nan), np.where(usable, lat, np.nan)
    x = np.where(in_range, x, np.nan)
    idx[:] = ctx.index.locate(x, y)
    # swapped lat/lon
    todo = usable & (idx < 0)
    if todo.any():
        sw = ctx.index.locate(np.where(todo, lat, np.nan), np.where(todo, lon, np.nan))
        fix = todo & (sw >= 0)
        idx[fix] = sw[fix]
        lon[fix], lat[fix] = lat[fix].copy(), lon[fix].copy()
        flags[fix] |= _SWAPPED
    # snapping, as given and then swapped
    for swap in (False, True):
        todo = usable & (idx < 0)
        if not todo.any():
            break
        qx, qy = (lat, lon) if swap else (lon, lat)
        near, _ = ctx.index.nearest_within(np.where(todo, qx, np.nan), np.where(todo, qy, np.nan),
                                           ctx.snap_m)
        fix = todo & (near >= 0)
        idx[fix] = near[fix]
        if swap:
            lon[fix], lat[fix] = lat[fix].copy(), lon[fix].copy()
        flags[fix] |= (_SWAPPED | _SNAPPED) if swap else _SNAPPED
    state[idx >= 0] = _LOCATED
    return {"idx": idx, "lon": lon, "lat": lat, "flags": flags, "state": state}


def _flag_names(flags: np.ndarray) -> np.ndarray:
    """Comma-separated names of each distinct flag mask (sorted like ``np.unique``)."""
    return np.array([",".join(f for b, f in enumerate(FLAGS) if u & (1 << b))
                     for u in np.unique(flags)], dtype=object)


def _flag_index(flags: np.ndarray) -> np.ndarray:
    return np.unique(flags, return_inverse=True)[1]


def _category_codes(category: pd.Series) -> np.ndarray:
    """Index of each canonical code in CATEGORIES (-1 when missing)."""
    return pd.Categorical(category, categories=list(CATEGORIES)).codes.astype("int8")


def _coord_text(raw: pd.DataFrame, mask: np.ndarray) -> list[str]:
    sub = raw[mask]
    return [f"{a}, {b}" for a, b in zip(sub["lat"], sub["lon"], strict=True)]


def _ids(raw: pd.DataFrame) -> np.ndarray:
    if "incident_id" not in raw.columns:
        return np.full(len(raw), None, dtype=object)
    s = raw["incident_id"].astype("string").str.strip()
    s = s.mask(s == "")
    return s.astype(object).where(s.notna(), None).to_numpy(dtype=object)


def _raw_hash(raw: pd.DataFrame) -> np.ndarray:
    cols = [c for c in raw.columns if c not in {"_row", "quarantine_id", "reason", "detail",
                                                "source_file", "source_row"}]
    if not cols:
        return np.zeros(len(raw), dtype="int64")
    frame = raw[cols].astype("string").fillna("")
    return pd.util.hash_pandas_object(frame, index=False).to_numpy().view("int64")


def _qhash(source_file: str, rows: pd.DataFrame) -> np.ndarray:
    key = pd.DataFrame({"f": source_file, "r": rows["_row"].to_numpy(),
                        "h": rows["raw_hash"].to_numpy(), "c": rows["content_hash"].to_numpy()})
    return pd.util.hash_pandas_object(key, index=False).to_numpy().view("int64")


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, str | int | float | bool):
        return v
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v)
