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

import geopandas as gpd
import shapely

from etl.categories import normalize_categories
from etl.dates import parse_datetimes
from etl.gazetteer import Gazetteer
from geo.h3index import cells_from_lonlat
from geo.join import PolygonIndex

__all__ = ["IncidentContext", "TransformResult", "finalize", "transform_chunk"]

_COORD_COLS = ("lat", "lon")
_ADDRESS_COLS = ("address", "mahalla", "district", "region")
_EMPTY = shapely.Point()
#: fix flags as bits of an int mask, in the order they are written
FLAGS = ("swapped_coordinates", "snapped_to_mahalla", "coordinates_replaced_by_address")
_SWAPPED, _SNAPPED, _REPLACED = 1, 2, 4


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

    @classmethod
    def from_mahallas(cls, mahallas: gpd.GeoDataFrame, *, aliases: dict[str, str],
                      now: pd.Timestamp | None = None, tz: str = "Asia/Tashkent",
                      snap_m: float = 200.0, res: int = 9,
                      fuzzy_threshold: float = 88.0) -> IncidentContext:
        """Build the context from the mahalla layer."""
        return cls(
            mahalla_ids=mahallas["mahalla_id"].astype(str).to_numpy(dtype=object),
            districts=mahallas["district"].astype(str).to_numpy(dtype=object),
            regions=mahallas["region"].astype(str).to_numpy(dtype=object),
            index=PolygonIndex(np.asarray(mahallas.geometry.values)),
            gazetteer=Gazetteer.from_mahallas(mahallas, threshold=fuzzy_threshold),
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

    Returns a frame with one row per input row holding the canonical fields, a ``reason``
    (quarantine code or <NA>) and a ``detail`` naming the column and value at fault.
    """
    n = len(raw)
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)

    def fail(mask: np.ndarray, code: str, col: str, values: Any, what: str) -> None:
        mask = mask & (reason == None)  # noqa: E711 - elementwise on object array
        if not mask.any():
            return
        reason[mask] = code
        vals = np.asarray(values, dtype=object)[mask]
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
    category = normalize_categories(cat_raw, ctx.aliases)
    fail(category.isna().to_numpy(dtype=bool), "unknown_category", "category", cat_raw,
         "is not a known category or alias")

    # coordinates ------------------------------------------------------------------------
    loc = _locate_coordinates(raw, ctx)
    flags = loc["flags"]

    # address geocoding for rows without usable coordinates ------------------------------
    has_address = _has_address(raw)
    want_address = (loc["idx"] < 0) & has_address & (reason == None)  # noqa: E711
    precision = np.where(loc["idx"] >= 0, "coordinates", None).astype(object)
    mahalla_id = np.full(n, None, dtype=object)
    district = np.full(n, None, dtype=object)
    region = np.full(n, None, dtype=object)
    ok = loc["idx"] >= 0
    mahalla_id[ok] = ctx.mahalla_ids[loc["idx"][ok]]
    district[ok] = ctx.districts[loc["idx"][ok]]
    region[ok] = ctx.regions[loc["idx"][ok]]
    lon = np.where(ok, loc["lon"], np.nan)
    lat = np.where(ok, loc["lat"], np.nan)
    point_lon, point_lat = lon.copy(), lat.copy()  # the geometry (empty unless coordinates)
    if want_address.any():
        sub = raw.loc[want_address]
        m = ctx.gazetteer.match(
            _opt(sub, "address"), mahalla=_opt(sub, "mahalla"),
            district=_opt(sub, "district"), region=_opt(sub, "region"))
        got = m["precision"].notna().to_numpy(dtype=bool)
        rows = np.flatnonzero(want_address)
        hit = rows[got]
        precision[hit] = m["precision"].to_numpy(dtype=object)[got]
        mahalla_id[hit] = m["mahalla_id"].to_numpy(dtype=object)[got]
        district[hit] = m["district"].to_numpy(dtype=object)[got]
        region[hit] = m["region"].to_numpy(dtype=object)[got]
        lon[hit] = m["lon"].to_numpy(dtype="float64")[got]
        lat[hit] = m["lat"].to_numpy(dtype="float64")[got]
        flags[hit[loc["state"][hit] != "none"]] |= _REPLACED
    state = loc["state"]
    fail((state == "invalid") & (precision == None), "invalid_coordinates", "lat/lon",  # noqa: E711
         loc["text"], "are not valid coordinates")
    fail((state == "outside") & (precision == None), "outside_area", "lat/lon",  # noqa: E711
         loc["text"], f"is more than {ctx.snap_m:g} m from every mahalla, even swapped")
    addr_text = _address_text(raw)
    fail((state == "none") & (precision == None), "no_location",  # noqa: E711
         "address", addr_text, "matches no mahalla (and there are no coordinates)")

    cells = cells_from_lonlat(lon, lat, ctx.res)
    flag_text = _flag_text(flags)
    good = reason == None  # noqa: E711
    fixed = {name: int(((flags[good] & (1 << bit)) > 0).sum())
             for bit, name in enumerate(FLAGS)}
    fixed = {k: v for k, v in fixed.items() if v}

    def obj(values: np.ndarray) -> pd.Series:  # keep text as objects until the final frame
        return pd.Series(values, dtype=object, copy=False)

    rows = pd.DataFrame({
        "_row": raw["_row"].to_numpy(dtype="int64"),
        "incident_id": obj(_ids(raw)),
        "occurred_at": when.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(),  # UTC
        "category": obj(category.to_numpy(dtype=object)),
        "h3": cells,
        "mahalla_id": obj(mahalla_id),
        "district": obj(district),
        "region": obj(region),
        "geocode_precision": obj(precision),
        "flags": obj(flag_text),
        "lon": point_lon,
        "lat": point_lat,
        "reason": obj(reason),
        "detail": obj(detail),
    })
    return TransformResult(rows=rows, raw=raw, fixed=fixed)


def finalize(rows: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Whole-file checks: in-file duplicates and ``conflicting_id``; content hashes and ids.

    Adds ``content_hash`` (int64), ``raw_hash`` (for rows sharing an id) and ``dup_in_file``
    (bool); ids missing in the file become ``h<hash>``.
    """
    rows = rows.copy()
    norm = pd.DataFrame({
        "id": rows["incident_id"].fillna(""),
        "t": rows["occurred_at"].to_numpy().view("int64"),
        "c": rows["category"].fillna(""),
        "x": np.round(rows["lon"].to_numpy(dtype="float64"), 7),
        "y": np.round(rows["lat"].to_numpy(dtype="float64"), 7),
        "m": rows["mahalla_id"].fillna(""),
        "p": rows["geocode_precision"].fillna(""),
    })
    content = pd.util.hash_pandas_object(norm, index=False).to_numpy().view("int64")
    rows["content_hash"] = content
    no_id = rows["incident_id"].isna().to_numpy(dtype=bool)
    if no_id.any():
        rows.loc[no_id, "incident_id"] = [f"h{int(c) & 0xFFFFFFFFFFFFFFFF:016x}"
                                          for c in content[no_id]]
    key = rows["incident_id"]
    shared = key.duplicated(keep=False).to_numpy(dtype=bool)
    raw_hash = np.zeros(len(rows), dtype="int64")
    if shared.any():
        raw_hash[shared] = _raw_hash(raw[shared])
    rows["raw_hash"] = raw_hash
    first = ~key.duplicated(keep="first")
    first_hash = pd.Series(rows["raw_hash"].to_numpy(), index=key.to_numpy())[first.to_numpy()]
    seen_hash = first_hash.reindex(key.to_numpy()).to_numpy()
    later = ~first.to_numpy(dtype=bool)
    same = seen_hash == rows["raw_hash"].to_numpy()
    rows["dup_in_file"] = later & same
    conflict = later & ~same
    if conflict.any():
        first_row = pd.Series(rows["_row"].to_numpy(), index=key.to_numpy())[first.to_numpy()]
        seen_row = first_row.reindex(key[conflict].to_numpy()).to_numpy()
        rows.loc[conflict, "reason"] = "conflicting_id"
        rows.loc[conflict, "detail"] = [
            f"column 'incident_id': {k!r} was seen at row {r} with different content"
            for k, r in zip(key[conflict], seen_row, strict=True)]
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


def incidents_frame(rows: pd.DataFrame, *, source_file: str) -> gpd.GeoDataFrame:
    """The incidents-layer frame of rows that loaded (geometry empty unless coordinates)."""
    lon = rows["lon"].to_numpy(dtype="float64")
    lat = rows["lat"].to_numpy(dtype="float64")
    has = np.isfinite(lon) & np.isfinite(lat)
    geoms = np.full(len(rows), _EMPTY, dtype=object)
    if has.any():
        geoms[has] = shapely.points(lon[has], lat[has])
    frame = pd.DataFrame({
        "incident_id": rows["incident_id"].to_numpy(dtype=object),
        "occurred_at": pd.DatetimeIndex(rows["occurred_at"].to_numpy()).tz_localize("UTC"),
        "category": rows["category"].to_numpy(dtype=object),
        "h3": rows["h3"].to_numpy(dtype="int64"),
        "mahalla_id": rows["mahalla_id"].to_numpy(dtype=object),
        "district": rows["district"].to_numpy(dtype=object),
        "region": rows["region"].to_numpy(dtype=object),
        "geocode_precision": rows["geocode_precision"].to_numpy(dtype=object),
        "flags": rows["flags"].to_numpy(dtype=object),
        "source_file": source_file,
        "source_row": rows["_row"].to_numpy(dtype="int64"),
        "content_hash": rows["content_hash"].to_numpy(dtype="int64"),
    })
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326))


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
    blank = _blank(series)
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype="float64", na_value=np.nan), blank
    text = series.astype("string").str.strip().str.replace(",", ".", regex=False)
    vals = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return vals, blank


def _locate_coordinates(raw: pd.DataFrame, ctx: IncidentContext) -> dict[str, Any]:
    n = len(raw)
    flags = np.zeros(n, dtype="int64")
    idx = np.full(n, -1, dtype="int64")
    state = np.full(n, "none", dtype=object)
    text = np.full(n, "", dtype=object)
    if not all(c in raw.columns for c in _COORD_COLS):
        nan = np.full(n, np.nan)
        return {"idx": idx, "lon": nan, "lat": nan, "flags": flags, "state": state, "text": text}
    lat, lat_blank = _to_float(raw["lat"])
    lon, lon_blank = _to_float(raw["lon"])
    text = (raw["lat"].astype("string").fillna("") + ", "
            + raw["lon"].astype("string").fillna("")).to_numpy(dtype=object)
    both_blank = lat_blank & lon_blank
    parsed = np.isfinite(lat) & np.isfinite(lon)
    in_range = (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    swapped_range = (np.abs(lon) <= 90) & (np.abs(lat) <= 180)
    null_island = (lat == 0) & (lon == 0)
    usable = parsed & (in_range | swapped_range) & ~null_island
    state[~both_blank & ~usable] = "invalid"
    state[usable] = "outside"  # until located
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
    state[idx >= 0] = "located"
    return {"idx": idx, "lon": lon, "lat": lat, "flags": flags, "state": state, "text": text}


def _flag_text(flags: np.ndarray) -> np.ndarray:
    uniq, inverse = np.unique(flags, return_inverse=True)
    names = np.array([",".join(f for b, f in enumerate(FLAGS) if u & (1 << b)) for u in uniq],
                     dtype=object)
    return names[inverse]


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
