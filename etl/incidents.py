"""Incident ETL transform: raw rows -> validated incidents on H3 cells and mahallas, or quarantine.

:func:`transform_chunk` is pure (frames in, frames out) and shared by every source format;
:mod:`etl.ingest` does the reading and the one-transaction write around it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import geopandas as gpd
import shapely

from riskmap.etl.categories import normalize_categories
from riskmap.etl.crs import crs_advice, metre_like, to_lonlat
from riskmap.etl.dates import parse_datetimes
from riskmap.etl.focus import FOCUS_INPUTS, read_age_groups, read_flags, read_sexes
from riskmap.etl.gazetteer import Gazetteer
from riskmap.etl.readers import MAX_ID_CHARS, MAX_TEXT_CHARS, READER_COLUMNS, text_faults
from riskmap.geo.focus import FOCUS_FIELDS
from riskmap.geo.h3index import cells_from_lonlat
from riskmap.geo.join import PolygonIndex
from riskmap.geo.points import xy
from riskmap.layers.spec import CATEGORIES, PRECISIONS

__all__ = ["IncidentContext", "TransformResult", "finalize", "transform_chunk"]

_COORD_COLS = ("lat", "lon")
_ADDRESS_COLS = ("address", "mahalla", "district", "region")
#: date and time split over columns, assembled when there is no ``occurred_at`` column
DATE_PARTS = ("year", "month", "day", "hour", "minute", "second")
_PART_RANGE = {"year": (1, 9999), "month": (1, 12), "day": (1, 31), "hour": (0, 23),
               "minute": (0, 59), "second": (0, 59)}
#: columns a value of which is stored as given (ids) and the other columns the transform reads
_ID_COLS = ("incident_id", "quarantine_id")
_TEXT_COLS = ("occurred_at", "category", *_COORD_COLS, *_ADDRESS_COLS, *DATE_PARTS,
              *FOCUS_INPUTS)
_WKT_COLS = ("geometry", "wkt", "geom")
_EMPTY = shapely.Point()
#: fix flags as bits of an int mask, in the order they are written
FLAGS = ("swapped_coordinates", "snapped_to_mahalla", "coordinates_replaced_by_address")
_SWAPPED, _SNAPPED, _REPLACED = 1, 2, 4
#: where a row's coordinates stand
_NONE, _INVALID, _OUTSIDE, _LOCATED, _NOT_POINT = 0, 1, 2, 3, 4
#: where a row's coordinates come from
_SRC_NONE, _SRC_COLUMNS, _SRC_GEOMETRY = 0, 1, 2
_SHORT = 80  # characters of a value quoted in a detail
#: text that means "no value" in exports (R's NA, Excel's #N/A, SQL's NULL)
_MISSING_TOKENS = ("na", "n/a", "#n/a", "null", "nan", "none")
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
            gazetteer=_LazyGazetteer(lambda: Gazetteer.from_mahallas(
                mahallas, threshold=fuzzy_threshold, admin_threshold=admin_threshold,
                admin_margin=admin_margin)),
            aliases=aliases,
            now=now if now is not None else pd.Timestamp.now(tz="UTC"),
            tz=tz, snap_m=snap_m, res=res,
        )


class _LazyGazetteer:
    """The gazetteer, built on first use: a file whose rows all have coordinates never needs
    it, and building it costs about as much as geocoding a million points."""

    __slots__ = ("_build", "_built")

    def __init__(self, build: Callable[[], Gazetteer]) -> None:
        self._build = build
        self._built: Gazetteer | None = None

    def _get(self) -> Gazetteer:
        if self._built is None:
            self._built = self._build()
        return self._built

    def with_aliases(self, aliases: pd.DataFrame) -> _LazyGazetteer:
        """:meth:`Gazetteer.with_aliases`, applied when the gazetteer is first used."""
        return _LazyGazetteer(lambda: self._get().with_aliases(aliases))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its recipe (e.g. to Dask workers): each builds it on first use."""
        return _LazyGazetteer, (self._build,)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in self.__slots__:  # copy/pickle probes, not yet set
            raise AttributeError(name)
        return getattr(self._get(), name)


@dataclass
class TransformResult:
    """Output of one chunk: candidate incidents, and per-row state for the whole-file checks.

    ``coordinate_rows`` counts rows with numeric lat/lon (or WKT) coordinates read from the
    table, ``metre_rows`` those of them that look like projected metres, not degrees (see
    :func:`riskmap.etl.readers.metre_like`; zero when a source CRS was given), with
    ``metre_example`` the first such row; the ingest refuses a file that is mostly metres.
    """

    rows: pd.DataFrame  # one row per input row: _row, raw_hash, incident_id, reason, detail, ...
    raw: pd.DataFrame  # the input rows (kept for quarantine records)
    fixed: dict[str, int] = field(default_factory=dict)
    coordinate_rows: int = 0
    metre_rows: int = 0
    metre_example: str | None = None
    assembled_dates: tuple[str, ...] = ()  # the date-part columns occurred_at was built from


def transform_chunk(raw: pd.DataFrame, ctx: IncidentContext, *,
                    crs: Any = None) -> TransformResult:
    """Validate and geocode one block of raw incident rows.

    Returns a frame with one row per input row holding integer codes (category, mahalla index,
    precision, flags), the point, the H3 cell, a ``reason`` (quarantine code or None) and a
    ``detail`` naming the column and value at fault. Text is materialised once, at the end.

    Where a row's location comes from: a point geometry (vector and GeoParquet files, or a
    WKT ``geometry``/``wkt`` column) when it has one, else its ``lat``/``lon`` columns, else
    its address columns. A geometry that is not a point (a line or a polygon; a multipoint of
    one point counts as that point) is not reduced to a representative point, which would
    invent a place: the row falls back to its address, or is quarantined as
    ``invalid_geometry``. ``crs`` is the CRS of tabular coordinates (``lon``/``lat`` columns
    holding x/y, or WKT); they are reprojected to longitude/latitude first.

    Without an ``occurred_at`` column, a date split over ``year``, ``month``, ``day``
    [``hour``, ``minute``, ``second``] columns is assembled (local time, like any naive date).

    A row is quarantined, first reason wins, as ``uncalculated_formula`` (an XLSX cell holding
    a formula without a value), ``value_too_long`` (an id over :data:`MAX_ID_CHARS` or another
    field read over :data:`MAX_TEXT_CHARS` characters), ``invalid_id`` (an id holding a NUL
    character, which PostgreSQL cannot store), then the date, category and location reasons.
    """
    n = len(raw)
    reason = np.full(n, None, dtype=object)
    detail = np.full(n, None, dtype=object)
    free = np.ones(n, dtype=bool)  # rows without a reason yet

    def fail(mask: np.ndarray, code: str, col: str, values: Any, what: str, *,
             quote: bool = True) -> None:
        if not mask.any():
            return
        mask = mask & free
        if not mask.any():
            return
        free[mask] = False
        reason[mask] = code
        vals = values(mask) if callable(values) else np.asarray(values, dtype=object)[mask]
        detail[mask] = [f"column {col!r}: {_short(v) if quote else v} {what}" for v in vals]

    # spreadsheet formulas without values, over-long values --------------------------------
    if "_formula" in raw.columns:
        cells = raw["_formula"].astype(object).to_numpy()
        has = pd.notna(cells)
        free[has] = False
        reason[has] = "uncalculated_formula"
        detail[has] = [f"cell {c} is a formula without a calculated value (the workbook was "
                       "saved by a program that does not calculate formulas: open and save it "
                       "in Excel or LibreOffice, or export the values, then load it again)"
                       for c in cells[has]]
    work = _check_text(raw, fail)

    # dates ------------------------------------------------------------------------------
    assembled: tuple[str, ...] = ()
    if "occurred_at" not in work.columns and all(p in work.columns for p in DATE_PARTS[:3]):
        assembled = tuple(p for p in DATE_PARTS if p in work.columns)
        when, date_reason = _assemble_dates(work, assembled, ctx.tz)
        date_col = "/".join(assembled)
        shown = lambda mask: _parts_text(raw, assembled, mask)  # noqa: E731
    else:
        when_raw = _col(work, "occurred_at")
        when, date_reason = parse_datetimes(when_raw, tz=ctx.tz)
        date_reason = date_reason.to_numpy(dtype=object)
        date_col, shown = "occurred_at", when_raw
    fail(date_reason == "missing_date", "missing_date", date_col, shown, "is empty")
    fail(date_reason == "invalid_date", "invalid_date", date_col, shown,
         "is not a date (expected ISO 8601, dd.mm.yyyy [HH:MM[:SS]] or an Excel date)")
    future = (when > ctx.now).fillna(False).to_numpy(dtype=bool)
    fail(future, "future_date", date_col, shown,
         f"is in the future (after {ctx.now:%Y-%m-%d %H:%M} UTC)")

    # categories -------------------------------------------------------------------------
    cat_raw = _col(work, "category")
    cat_code = _category_codes(normalize_categories(cat_raw, ctx.aliases))
    fail(cat_code < 0, "unknown_category", "category", _col(raw, "category"),
         "is not a known category or alias")

    # focus fields: sex, age group, family context, repeat offender, probation -----------
    focus = _focus_fields(work, raw, fail)

    # coordinates ------------------------------------------------------------------------
    loc = _locate_coordinates(work, ctx, crs)
    flags, state, m_idx, src = loc["flags"], loc["state"], loc["idx"], loc["src"]
    located = m_idx >= 0
    precision = np.where(located, _PRECISION_CODE["coordinates"], -1).astype("int8")
    lon = np.where(located, loc["lon"], np.nan)
    lat = np.where(located, loc["lat"], np.nan)
    point_lon, point_lat = lon.copy(), lat.copy()  # the geometry (empty unless coordinates)
    d_idx = np.full(n, -1, dtype="int32")  # district index for district-precision rows

    # address geocoding for rows without usable coordinates ------------------------------
    want_address = ~located & free & _has_address(work)
    if want_address.any():
        sub = work.loc[want_address]
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
    from_cols, from_geom = src == _SRC_COLUMNS, src == _SRC_GEOMETRY
    metres = loc["metres"]
    fail((state == _INVALID) & unplaced & from_cols & metres, "invalid_coordinates", "lat/lon",
         lambda mask: _coord_text(raw, mask),
         "are not valid coordinates: not degrees but projected metres? " + crs_advice())
    fail((state == _INVALID) & unplaced & from_cols, "invalid_coordinates", "lat/lon",
         lambda mask: _coord_text(raw, mask), "are not valid coordinates")
    fail((state == _INVALID) & unplaced & from_geom & metres, "invalid_coordinates",
         loc["geom_col"], loc["geom_text"],
         "is not a longitude/latitude point: projected metres? " + crs_advice())
    fail((state == _INVALID) & unplaced & from_geom, "invalid_coordinates", loc["geom_col"],
         loc["geom_text"], "is not a valid longitude/latitude point")
    fail((state == _NOT_POINT) & unplaced, "invalid_geometry", loc["geom_col"],
         loc["geom_text"], "is not a point (an incident needs a point: convert the features "
         "to points, e.g. their centroids, or give an address)")
    fail((state == _OUTSIDE) & unplaced & from_geom, "outside_area", loc["geom_col"],
         loc["geom_text"], f"is more than {ctx.snap_m:g} m from every mahalla, even swapped")
    fail((state == _OUTSIDE) & unplaced & from_cols, "outside_area", "lat/lon",
         lambda mask: _coord_text(raw, mask),
         f"is more than {ctx.snap_m:g} m from every mahalla, even swapped")
    fail((state == _NONE) & unplaced, "no_location", "address",
         lambda mask: _address_text(raw[mask]),
         "matches no mahalla (and there are no coordinates)")

    cells = cells_from_lonlat(lon, lat, ctx.res)
    good = free
    fixed = {name: int(((flags[good] & (1 << bit)) > 0).sum())
             for bit, name in enumerate(FLAGS)}
    fixed = {k: v for k, v in fixed.items() if v}
    sheet = (raw["_sheet"].astype(object).to_numpy() if "_sheet" in raw.columns
             else np.full(n, None, dtype=object))
    rows = pd.DataFrame({
        "_row": raw["_row"].to_numpy(dtype="int64"),
        "sheet": pd.Series(sheet, dtype=object, copy=False),
        "incident_id": _ids(work),
        "occurred_at": when.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(),  # UTC
        "cat_code": cat_code,
        "h3": cells,
        "m_idx": m_idx.astype("int32"),
        "d_idx": d_idx,
        "prec_code": precision,
        "flags": flags,
        "lon": point_lon,
        "lat": point_lat,
        **{f: pd.Series(v, dtype=object, copy=False) for f, v in focus.items()},
        "reason": pd.Series(reason, dtype=object, copy=False),
        "detail": pd.Series(detail, dtype=object, copy=False),
    }, copy=False)  # every array is made here for it (pandas copies a dict's otherwise)
    metre_at = np.flatnonzero(metres)
    example = None
    if len(metre_at):
        i = metre_at[0]
        example = (f"row {raw['_row'].iloc[i]}: lon {loc['raw_x'][i]:.1f}, "
                   f"lat {loc['raw_y'][i]:.1f}")
    return TransformResult(
        rows=rows, raw=raw, fixed=fixed, coordinate_rows=int(loc["numeric"].sum()),
        metre_rows=len(metre_at), metre_example=example, assembled_dates=assembled)


def finalize(rows: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Whole-file checks: in-file duplicates and ``conflicting_id``; content hashes and ids.

    Adds ``content_hash`` (int64, from the normalised content), ``raw_hash`` (of the original
    row, for rows sharing an id) and ``dup_in_file``; ids missing in the file become
    ``h<hash>``.
    """
    rows = rows.copy(deep=False)  # columns are added or replaced, never written into
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
    focus = [c for c in FOCUS_FIELDS if c in rows.columns]
    if focus:  # rows without focus values keep the hash they had before the fields existed
        given = rows[focus].notna().to_numpy(dtype=bool).any(axis=1)
        if given.any():  # a row's hash is its own: only the rows with focus values are hashed
            at = np.flatnonzero(given)
            text = rows[focus].iloc[at].astype("string").fillna("")
            fh = pd.util.hash_pandas_object(text, index=False).to_numpy()
            content = content.copy()
            content[at] = content[at] * np.uint64(1000003 + 2 * len(parts)) ^ fh
    content = content.view("int64")
    rows["content_hash"] = content
    key_hash = parts[-1]
    if no_id.any():
        ids = ids.copy()
        ids[no_id] = [f"h{int(c) & 0xFFFFFFFFFFFFFFFF:016x}" for c in content[no_id]]
        rows["incident_id"] = pd.array(ids, dtype="string")
        key_hash = key_hash.copy()
        key_hash[no_id] = pd.util.hash_array(ids[no_id], categorize=False)
    key = rows["incident_id"]
    # equal ids have equal hashes: only a file with a repeated hash needs pandas' check
    ordered = np.sort(key_hash)
    shared = (key.duplicated(keep=False).to_numpy(dtype=bool)
              if (ordered[1:] == ordered[:-1]).any() else np.zeros(len(rows), dtype=bool))
    raw_hash = np.zeros(len(rows), dtype="int64")
    dup_in_file = np.zeros(len(rows), dtype=bool)
    if shared.any():
        at = np.flatnonzero(shared)
        raw_hash[at] = _raw_hash(raw.iloc[at])
        sheets = (rows["sheet"].to_numpy(dtype=object)[at] if "sheet" in rows.columns
                  else np.full(len(at), None, dtype=object))
        sub = pd.DataFrame({"key": key.to_numpy(dtype=object)[at], "h": raw_hash[at],
                            "row": rows["_row"].to_numpy()[at], "sheet": sheets})
        first = ~sub["key"].duplicated(keep="first").to_numpy(dtype=bool)
        first_of = sub[first].set_index("key")
        seen_hash = first_of["h"].reindex(sub["key"]).to_numpy()
        seen_row = first_of["row"].reindex(sub["key"]).to_numpy()
        seen_sheet = first_of["sheet"].reindex(sub["key"]).to_numpy(dtype=object)
        # rows without an id are keyed by their content: the same key is the same incident
        same = (seen_hash == sub["h"].to_numpy()) | no_id[at]
        dup_in_file[at[~first & same]] = True
        # a row that already has a reason keeps it: an id is conflicting only on a good row
        bad = ~first & ~same & rows["reason"].isna().to_numpy(dtype=bool)[at]
        conflict = at[bad]
        if len(conflict):
            rows.loc[conflict, "reason"] = "conflicting_id"
            rows.loc[conflict, "detail"] = [
                f"column 'incident_id': {k!r} was seen at row {r}"
                + (f" of sheet {sh!r}" if isinstance(sh, str) else "") + " with different content"
                for k, r, sh in zip(sub["key"].to_numpy()[bad], seen_row[bad], seen_sheet[bad],
                                    strict=True)]
    rows["raw_hash"] = raw_hash
    rows["dup_in_file"] = dup_in_file
    return rows


def quarantine_records(rows: pd.DataFrame, raw: pd.DataFrame, *, source_file: str,
                       now: pd.Timestamp) -> pd.DataFrame:
    """Quarantine-layer rows (original row as JSON, one reason code) for rows with a reason.

    ``source_file`` is the file's name; rows of a multi-sheet workbook are traced as
    ``name[sheet]`` with their spreadsheet row. A ``quarantine_id`` carried by the row (a
    corrected quarantine export) is kept when it is a usable id.
    """
    bad = rows["reason"].notna().to_numpy(dtype=bool)
    sub = rows[bad]
    raw_sub = raw[bad]
    cols = [c for c in raw_sub.columns if c not in {*READER_COLUMNS, "quarantine_id", "reason",
                                                    "detail", "source_file", "source_row"}]
    records = pd.DataFrame(raw_sub[cols]).astype(object)
    records = records.where(pd.DataFrame(raw_sub[cols]).notna(), None)
    raw_json = [json.dumps({k: _jsonable(v) for k, v in rec.items()}, ensure_ascii=False)
                for rec in records.to_dict(orient="records")]
    if "quarantine_id" in raw_sub.columns:
        text = raw_sub["quarantine_id"].astype("string")
        usable = (text.str.len() <= MAX_ID_CHARS) & ~text.str.contains("\x00", regex=False)
        given = text.astype(object).where(usable.fillna(False), None).to_numpy()
    else:
        given = np.full(len(sub), None, dtype=object)
    sources = _sources(sub, source_file)
    qids = [g if isinstance(g, str) and g else f"q{int(h) & 0xFFFFFFFFFFFFFFFF:016x}"
            for g, h in zip(given, _qhash(sources, sub), strict=True)]
    return pd.DataFrame({
        "quarantine_id": qids,
        "layer": "incidents",
        "source_file": sources,
        "source_row": sub["_row"].to_numpy(),
        "reason": sub["reason"].to_numpy(dtype=object),
        "detail": sub["detail"].to_numpy(dtype=object),
        "raw": raw_json,
        "quarantined_at": now,
    })


def _sources(rows: pd.DataFrame, source_file: str) -> np.ndarray:
    """The file name, or ``name[sheet]`` for rows of a multi-sheet workbook."""
    if "sheet" not in rows.columns:
        return np.full(len(rows), source_file, dtype=object)
    sheet = rows["sheet"].to_numpy(dtype=object)
    has = pd.notna(sheet)
    out = np.full(len(rows), source_file, dtype=object)
    if has.any():
        out[has] = (source_file + "[" + pd.Series(sheet[has], dtype="string") + "]").to_numpy(
            dtype=object)
    return out


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
        "incident_id": rows["incident_id"].astype("string").array,
        "occurred_at": pd.DatetimeIndex(rows["occurred_at"].to_numpy()).tz_localize("UTC"),
        "category": _take_text(np.array(CATEGORIES, dtype=object), rows["cat_code"].to_numpy()),
        "h3": rows["h3"].to_numpy(dtype="int64"),
        "mahalla_id": mahalla_id,
        "district": district,
        "region": region,
        "geocode_precision": _take_text(np.array(PRECISIONS, dtype=object),
                                        rows["prec_code"].to_numpy()),
        "flags": _take_text(*_flag_text(rows["flags"].to_numpy())),
        "source_file": (_sources(rows, source_file) if "sheet" in rows.columns
                        and rows["sheet"].notna().any()
                        else _take_text(np.array([source_file], dtype=object),
                                        np.zeros(len(rows), dtype="int64"))),
        "source_row": rows["_row"].to_numpy(dtype="int64"),
        "content_hash": rows["content_hash"].to_numpy(dtype="int64"),
        **{f: _focus_column(rows, f) for f in FOCUS_FIELDS},
    }, copy=False)
    # (both constructors would copy every column: 0.2-0.3 s at a million rows)
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), copy=False)


def _focus_column(rows: pd.DataFrame, name: str) -> pd.Series:
    """A focus field of the loaded rows in its stored type (all missing when not given)."""
    kind = "boolean" if name in ("domestic", "repeat_offender", "on_probation") else "string"
    if name not in rows.columns:
        return pd.Series(pd.NA, index=range(len(rows)), dtype=kind)
    values = rows[name].to_numpy(dtype=object)
    return pd.Series(pd.array(np.where(pd.isna(values), None, values), dtype=kind))


def _take_text(values: np.ndarray, codes: np.ndarray) -> pd.Series:
    """Strings by integer code (-1 gives missing), built as Arrow strings in one pass."""
    codes = np.asarray(codes)
    table = pa.array([*list(values), None], type=pa.large_string())  # pandas' own type
    taken = table.take(pa.array(np.where(codes < 0, len(values), codes).astype("int64")))
    return pd.Series(pd.arrays.ArrowStringArray(taken) if hasattr(pd.arrays, "ArrowStringArray")
                     else taken.to_pandas(), dtype="string")


# ---- helpers ---------------------------------------------------------------------------

_FOCUS_READERS: dict[str, tuple[Any, str, str]] = {
    "sex": (read_sexes, "invalid_sex",
            "is not a sex (expected male/female, erkak/ayol, мужской/женский, M/F)"),
    "age": (read_age_groups, "invalid_age",
            "is not an age (expected years 0-120, a band within one group such as 14-17, "
            "18-30, 31-59, 60+, or minor/youth/adult/senior in any of the languages)"),
    "flag": (read_flags, "invalid_flag",
             "is not yes or no (expected yes/no, ha/yo'q, да/нет, 1/0)"),
}


def _focus_fields(work: pd.DataFrame, raw: pd.DataFrame, fail: Any) -> dict[str, np.ndarray]:
    """The focus fields given by the file (canonical values, None where unknown); rows with
    an unreadable value fail with ``invalid_sex``, ``invalid_age`` or ``invalid_flag``.

    An age may come as years (``victim_age``) or a group (``victim_age_group``); the group
    wins where both are given.
    """
    out: dict[str, np.ndarray] = {}
    for col, (field_name, kind) in FOCUS_INPUTS.items():
        if col not in work.columns:
            continue
        read, code, what = _FOCUS_READERS[kind]
        values, bad = read(work[col])
        fail(bad, code, col, _col(raw, col), what)
        have = out.get(field_name)
        out[field_name] = values if have is None else np.where(pd.isna(have), values, have)
    return out


def _col(raw: pd.DataFrame, name: str) -> pd.Series:
    if name in raw.columns:
        return raw[name]
    return pd.Series(pd.NA, index=raw.index, dtype=object)


def _opt(raw: pd.DataFrame, name: str) -> pd.Series | None:
    if name not in raw.columns:
        return None
    text = raw[name].astype("string")
    return text.astype(object).where(text.notna(), None)


def _short(value: Any) -> str:
    """``repr`` of a value, cut to :data:`_SHORT` characters (a detail never quotes 1 MB)."""
    text = repr(value)
    if len(text) <= _SHORT:
        return text
    return f"{text[:_SHORT]}... ({len(str(value)):,} characters)"


def _check_text(raw: pd.DataFrame, fail: Any) -> pd.DataFrame:
    """Quarantine over-long values and ids with NUL; the frame with those cells blanked.

    The returned frame is what the later steps read, so a 1 MB value never reaches the
    date parser, the category table or the gazetteer.
    """
    work = raw
    for col, limit in [*((c, MAX_ID_CHARS) for c in _ID_COLS),
                       *((c, MAX_TEXT_CHARS) for c in _TEXT_COLS)]:
        if col not in raw.columns:
            continue
        too_long, has_nul, lengths = text_faults(raw[col], limit, nul=col in _ID_COLS)
        kind = "an id" if col in _ID_COLS else "a field"
        fail(too_long, "value_too_long", col,
             lambda mask, c=col, n=lengths: [
                 f"{v!r}... ({k:,} characters)" for v, k in zip(
                     raw[c].astype("string")[mask].str.slice(0, 20), n[mask], strict=True)],
             f"is longer than the {limit:,} characters {kind} may have", quote=False)
        if col in _ID_COLS:
            fail(has_nul, "invalid_id", col, raw[col].astype("string"),
                 "holds a NUL character, which an id may not")
        bad = too_long | (has_nul if col in _ID_COLS else False)
        if bad.any():
            if work is raw:
                work = raw.copy(deep=False)
            work[col] = raw[col].astype(object).where(~bad, None)
    return work


def _blank(series: pd.Series) -> np.ndarray:
    """Missing, empty, or a missing-value token (``NA``, ``N/A``, ``NULL``, ``nan``, ...)."""
    s = series.astype("string").str.strip()
    token = s.str.lower().isin(_MISSING_TOKENS)
    return (s.isna() | (s == "") | token).fillna(True).to_numpy(dtype=bool)


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
    if isinstance(series.dtype, pd.StringDtype):  # fastest: every given value a plain number
        try:
            arr = pa.array(series.array)
            vals = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
            missing = arr.is_null().to_numpy(zero_copy_only=False)
            if np.isfinite(vals[~missing]).all():  # "nan", "inf" are tokens: the slow path
                return vals, missing
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError):
            pass
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


def _assemble_dates(raw: pd.DataFrame, parts: tuple[str, ...],
                    tz: str) -> tuple[pd.Series, np.ndarray]:
    """Dates from year/month/day[/hour/minute/second] columns: (UTC times, reason codes).

    A row whose date parts are all blank is ``missing_date``; a part that is not a whole
    number in its range (month 13, hour 24), or an impossible day (31 April), makes the row
    ``invalid_date``. Missing time parts are 0.
    """
    n = len(raw)
    values: dict[str, np.ndarray] = {}
    blank_date = np.ones(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for name in DATE_PARTS:
        if name in parts:
            vals, blank = _to_float(raw[name])
        else:
            vals, blank = np.zeros(n), np.zeros(n, dtype=bool)
        if name in DATE_PARTS[:3]:
            blank_date &= blank
        elif name in parts:  # a blank time part is 0
            vals = np.where(blank, 0.0, vals)
        lo, hi = _PART_RANGE[name]
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(vals) & (vals == np.floor(vals)) & (vals >= lo) & (vals <= hi)
        bad |= ~ok
        values[name] = np.where(ok, vals, lo).astype("int64")
    stamps = pd.to_datetime(pd.DataFrame(values), errors="coerce")
    local = stamps.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    bad |= local.isna().to_numpy(dtype=bool)
    reasons = np.full(n, None, dtype=object)
    reasons[bad] = "invalid_date"
    reasons[blank_date] = "missing_date"
    when = local.dt.tz_convert("UTC").where(reasons == None)  # noqa: E711
    when.index = raw.index
    return when.dt.as_unit("us"), reasons


def _parts_text(raw: pd.DataFrame, parts: tuple[str, ...], mask: np.ndarray) -> list[str]:
    sub = raw.loc[mask, list(parts)].astype("string").fillna("")
    text = sub[parts[0]]
    for p in parts[1:]:
        text = text.str.cat(sub[p], sep="/")
    return text.tolist()


def _geometry_points(raw: pd.DataFrame, crs: Any) -> dict[str, Any]:
    """Points of a geometry column: x/y (as given and swapped), a kind per row, the text.

    Kinds: 0 no geometry (missing, empty, blank WKT), 1 a point (or a multipoint of one),
    2 another geometry type, 3 text that is not WKT. A GeoDataFrame's geometry is already in
    EPSG:4326 (the reader saw to it); WKT text is in ``crs`` when given.
    """
    n = len(raw)
    nan = np.full(n, np.nan)
    none = {"kind": np.zeros(n, dtype="int8"), "x": nan, "y": nan, "sx": nan, "sy": nan,
            "col": None, "text": None, "tabular": False}
    if isinstance(raw, gpd.GeoDataFrame) and raw._geometry_column_name in raw.columns:
        col = raw._geometry_column_name
        geoms = np.array(raw.geometry.values, dtype=object)
        kind = np.zeros(n, dtype="int8")
        tabular = False
    else:
        col = next((c for c in _WKT_COLS if c in raw.columns), None)
        if col is None or pd.api.types.is_numeric_dtype(raw[col]):
            return none
        text = raw[col].astype("string").str.strip()
        given = (text.notna() & (text != "")).to_numpy(dtype=bool)
        geoms = shapely.from_wkt(text.fillna("").to_numpy(dtype=object), on_invalid="ignore")
        geoms = np.array(geoms, dtype=object)
        kind = np.where(given & shapely.is_missing(geoms), 3, 0).astype("int8")
        tabular = True
    if n == 0:
        return none
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    types = shapely.get_type_id(geoms)
    single = present & (types == shapely.GeometryType.MULTIPOINT) & (
        shapely.get_num_geometries(geoms) == 1)
    if single.any():
        geoms[single] = shapely.get_geometry(geoms[single], 0)
        types = shapely.get_type_id(geoms)
    point = present & (types == shapely.GeometryType.POINT)
    kind[point] = 1
    kind[present & ~point] = 2
    x, y = xy(np.where(point, geoms, None))
    if tabular and crs is not None:
        gx, gy = to_lonlat(x, y, crs)
        sx, sy = to_lonlat(y, x, crs)
    else:
        gx, gy, sx, sy = x, y, y.copy(), x.copy()
    wkt = shapely.to_wkt(np.where(present, geoms, None), rounding_precision=7)
    text_vals = np.where(kind == 3, raw[col].astype(object).to_numpy() if tabular else None, wkt)
    return {"kind": kind, "x": gx, "y": gy, "sx": sx, "sy": sy, "raw_x": x, "raw_y": y,
            "col": str(col), "text": text_vals, "tabular": tabular}


def _in_degrees(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & np.isfinite(y) & (np.abs(y) <= 90) & (np.abs(x) <= 180)


def _locate_coordinates(raw: pd.DataFrame, ctx: IncidentContext, crs: Any = None
                        ) -> dict[str, Any]:
    """Each row's mahalla from its point (geometry, else lat/lon), trying swapped and snapping.

    Every array here is built fresh: nothing writes into a view of the input (pandas 3 and
    Arrow hand out read-only arrays).
    """
    n = len(raw)
    flags = np.zeros(n, dtype="int64")
    idx = np.full(n, -1, dtype="int64")
    state = np.full(n, _NONE, dtype="int8")
    src = np.full(n, _SRC_NONE, dtype="int8")
    x, y, sx, sy = (np.full(n, np.nan) for _ in range(4))
    raw_x, raw_y = np.full(n, np.nan), np.full(n, np.nan)
    numeric = np.zeros(n, dtype=bool)  # tabular rows with numeric coordinates
    if all(c in raw.columns for c in _COORD_COLS):
        lat, lat_blank = _to_float(raw["lat"])
        lon, lon_blank = _to_float(raw["lon"])
        has = ~(lat_blank & lon_blank)
        src[has] = _SRC_COLUMNS
        state[has] = _INVALID  # until usable
        raw_x[has], raw_y[has] = lon[has], lat[has]
        if crs is not None:
            x[:], y[:] = to_lonlat(lon, lat, crs)
            sx[:], sy[:] = to_lonlat(lat, lon, crs)
        else:
            x[:], y[:], sx[:], sy[:] = lon, lat, lat, lon
        with np.errstate(invalid="ignore"):
            null_island = (lat == 0) & (lon == 0)
        x[null_island] = y[null_island] = sx[null_island] = sy[null_island] = np.nan
        numeric |= has & np.isfinite(lat) & np.isfinite(lon)
    geom = _geometry_points(raw, crs)
    gkind = geom["kind"]
    at = gkind > 0  # a geometry, when given, is the location
    src[at] = _SRC_GEOMETRY
    state[at] = np.where(gkind[at] == 2, _NOT_POINT, _INVALID)
    pt = gkind == 1
    x[at], y[at], sx[at], sy[at] = geom["x"][at], geom["y"][at], geom["sx"][at], geom["sy"][at]
    raw_x[at], raw_y[at] = np.nan, np.nan
    numeric[at] = False  # a GeoDataFrame's points were checked by the reader
    if geom["tabular"]:
        raw_x[pt], raw_y[pt] = geom["raw_x"][pt], geom["raw_y"][pt]
        numeric |= pt & np.isfinite(raw_x) & np.isfinite(raw_y)
    metres = numeric & (crs is None) & metre_like(raw_x, raw_y)

    in_range = _in_degrees(x, y)
    swapped_range = _in_degrees(sx, sy)
    usable = (state == _INVALID) & (in_range | swapped_range)
    state[usable] = _OUTSIDE  # until located
    idx[:] = ctx.index.locate(np.where(usable & in_range, x, np.nan),
                              np.where(usable & in_range, y, np.nan))
    # swapped lat/lon
    todo = usable & (idx < 0) & swapped_range
    if todo.any():
        sw = ctx.index.locate(np.where(todo, sx, np.nan), np.where(todo, sy, np.nan))
        fix = todo & (sw >= 0)
        idx[fix] = sw[fix]
        x[fix], y[fix] = sx[fix], sy[fix]
        flags[fix] |= _SWAPPED
    # snapping, as given and then swapped
    for swap in (False, True):
        ok = swapped_range if swap else in_range
        todo = usable & (idx < 0) & ok
        if not todo.any():
            continue
        qx, qy = (sx, sy) if swap else (x, y)
        near, _ = ctx.index.nearest_within(np.where(todo, qx, np.nan), np.where(todo, qy, np.nan),
                                           ctx.snap_m)
        fix = todo & (near >= 0)
        idx[fix] = near[fix]
        if swap:
            x[fix], y[fix] = sx[fix], sy[fix]
        flags[fix] |= (_SWAPPED | _SNAPPED) if swap else _SNAPPED
    state[idx >= 0] = _LOCATED
    return {"idx": idx, "lon": x, "lat": y, "flags": flags, "state": state, "src": src,
            "numeric": numeric, "metres": metres, "raw_x": raw_x, "raw_y": raw_y,
            "geom_col": geom["col"] or "geometry",
            "geom_text": geom["text"] if geom["text"] is not None
            else np.full(n, None, dtype=object)}


def _flag_text(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(names of each distinct mask, index of each row's mask): one sort, not two."""
    masks, index = np.unique(flags, return_inverse=True)
    names = np.array([",".join(f for b, f in enumerate(FLAGS) if u & (1 << b)) for u in masks],
                     dtype=object)
    return names, index


def _category_codes(category: pd.Series) -> np.ndarray:
    """Index of each canonical code in CATEGORIES (-1 when missing)."""
    return pd.Categorical(category, categories=list(CATEGORIES)).codes.astype("int8")


def _coord_text(raw: pd.DataFrame, mask: np.ndarray) -> list[str]:
    sub = raw[mask]
    return [f"{a}, {b}" for a, b in zip(sub["lat"], sub["lon"], strict=True)]


def _ids(raw: pd.DataFrame) -> pd.api.extensions.ExtensionArray:
    """The ids as strings (Arrow-backed: kept so up to the store), missing where blank."""
    if "incident_id" not in raw.columns:
        return pd.array([pd.NA] * len(raw), dtype="string")
    s = raw["incident_id"].astype("string").str.strip()
    return s.mask(s == "").array


def _raw_hash(raw: pd.DataFrame) -> np.ndarray:
    cols = [c for c in raw.columns if c not in {*READER_COLUMNS, "quarantine_id", "reason",
                                                "detail", "source_file", "source_row"}]
    if not cols:
        return np.zeros(len(raw), dtype="int64")
    frame = raw[cols].astype("string").fillna("")
    return pd.util.hash_pandas_object(frame, index=False).to_numpy().view("int64")


def _qhash(source_file: str | np.ndarray, rows: pd.DataFrame) -> np.ndarray:
    key = pd.DataFrame({"f": source_file, "r": rows["_row"].to_numpy(),
                        "h": rows["raw_hash"].to_numpy(), "c": rows["content_hash"].to_numpy()})
    return pd.util.hash_pandas_object(key, index=False).to_numpy().view("int64")


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, str | int | float | bool):
        return v
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v)
