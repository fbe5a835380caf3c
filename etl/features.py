"""Ingest the mahalla, camera and infrastructure layers (geometry repair, checks, quarantine)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from riskmap.errors import InputFileError
from riskmap.etl.crs import crs_advice, metre_like, parse_crs, to_lonlat
from riskmap.etl.ingest import IngestReport
from riskmap.etl.readers import (
    MAX_ID_CHARS,
    MAX_TEXT_CHARS,
    read_raw,
    require_columns,
    source_labels,
    text_faults,
)
from riskmap.geo.coverage import CAMERA_DEFAULTS
from riskmap.geo.join import PolygonIndex
from riskmap.geo.points import xy
from riskmap.layers.builtin import INFRASTRUCTURE
from riskmap.layers.spec import CAMERA_TYPES
from riskmap.layers.store import Store

__all__ = [
    "CAMERA_TYPE_ALIASES",
    "INFRA_KIND_ALIASES",
    "check_topology",
    "ingest_cameras",
    "ingest_infrastructure",
    "ingest_mahallas",
]

CAMERA_TYPE_ALIASES = {
    "face": "face_recognition", "fr": "face_recognition", "face recognition": "face_recognition",
    "facial": "face_recognition", "yuzni tanish": "face_recognition",
    "распознавание лиц": "face_recognition",
    "lpr": "licence_plate", "anpr": "licence_plate", "license_plate": "licence_plate",
    "license plate": "licence_plate", "licence plate": "licence_plate", "plate": "licence_plate",
    "raqam": "licence_plate", "номер": "licence_plate",
    "traffic camera": "traffic", "speed": "traffic", "yo'l": "traffic", "дорожная": "traffic",
    "dome": "overview", "ptz": "overview", "cctv": "overview", "общая": "overview",
    "umumiy": "overview",
}

INFRA_KIND_ALIASES = {
    "bus stop": "bus_stop", "busstop": "bus_stop", "bekat": "bus_stop", "остановка": "bus_stop",
    "police": "police_post", "police station": "police_post", "militsiya": "police_post",
    "ипх": "police_post", "пост": "police_post",
    "112": "emergency_service", "emergency": "emergency_service", "ambulance": "medical",
    "hospital": "medical", "clinic": "medical", "poliklinika": "medical",
    "fire": "fire_station", "fire station": "fire_station",
    "bazaar": "market", "bozor": "market", "рынок": "market",
    "railway station": "station", "bus station": "station", "vokzal": "station",
    "maktab": "school", "школа": "school",
    "zone": "tourist_zone", "tourism zone": "tourist_zone", "recreation": "tourist_zone",
    "power": "power_line", "powerline": "power_line", "lep": "power_line",
    "lake": "water", "reservoir": "water", "pond": "water", "suv ombori": "water",
    "озеро": "water", "водохранилище": "water", "alkaline lake": "water", "ko'l": "water",
    "ko‘l": "water", "ko’l": "water",
    "daryo": "river", "река": "river", "kanal": "canal", "канал": "canal",
    # named places of the base map (Natural Earth's FEATURECLA, OSM's place=*, local words)
    "populated place": "settlement", "admin 0 capital": "city", "admin 1 capital": "city",
    "admin 1 region capital": "city", "admin 0 region capital": "city",
    "hamlet": "village", "shahar": "city", "shaharcha": "town", "qishloq": "village",
    "город": "city", "посёлок": "town", "поселок": "town", "село": "village",
    "кишлак": "village",
}


def _empty_report(layer: str, path: Path) -> IngestReport:
    return IngestReport(layer=layer, file=str(path))


def _strings(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    s = frame[col].astype("string").str.strip()
    return s.mask(s == "")


def _as_geoframe(path: Path, raw: pd.DataFrame, *, points_ok: bool,
                 crs: object = None) -> gpd.GeoDataFrame:
    """Vector files come with geometry; tables need lat/lon (points) or a WKT column.

    Table coordinates are in ``crs`` when given (``--crs``), else longitude/latitude; a table
    whose coordinates are mostly projected metres is refused with advice to give ``--crs``.
    """
    if isinstance(raw, gpd.GeoDataFrame):
        return raw
    for wkt_col in ("wkt", "geometry", "geom"):
        if wkt_col in raw.columns:
            geoms = shapely.from_wkt(raw[wkt_col].astype("string").fillna("").to_numpy(
                dtype=object), on_invalid="ignore")
            frame = gpd.GeoDataFrame(raw.drop(columns=[wkt_col]), geometry=geoms,
                                     crs=crs if crs is not None else 4326)
            if crs is not None:
                return frame.to_crs(4326)
            present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
            if present.any():
                b = shapely.bounds(geoms[present])
                _refuse_metres(path, np.concatenate([b[:, 0], b[:, 2]]),
                               np.concatenate([b[:, 1], b[:, 3]]), wkt_col)
            return frame
    if points_ok and "lat" in raw.columns and "lon" in raw.columns:
        lat = pd.to_numeric(raw["lat"].astype("string").str.replace(",", ".", regex=False),
                            errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        lon = pd.to_numeric(raw["lon"].astype("string").str.replace(",", ".", regex=False),
                            errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        if crs is not None:
            lon, lat = to_lonlat(lon, lat, crs)
        else:
            _refuse_metres(path, lon, lat, "lat")
        ok = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        geoms = np.full(len(raw), None, dtype=object)
        geoms[ok] = shapely.points(lon[ok], lat[ok])
        return gpd.GeoDataFrame(raw.drop(columns=["lat", "lon"]), geometry=geoms, crs=4326)
    need = "lat" if points_ok else "geometry"
    raise InputFileError(path, f"required column {need!r} is missing: a table needs "
                         + ("lat and lon or a WKT column" if points_ok else "a WKT column"),
                         column=need)


def _refuse_metres(path: Path, x: np.ndarray, y: np.ndarray, column: str) -> None:
    """Refuse coordinates that are mostly projected metres rather than degrees."""
    numeric = np.isfinite(x) & np.isfinite(y)
    metres = metre_like(x, y)
    if metres.any() and 2 * metres.sum() > numeric.sum():
        at = np.flatnonzero(metres)[0]
        raise InputFileError(
            path, f"{int(metres.sum()):,} of {int(numeric.sum()):,} coordinates are not degrees "
                  f"but look like projected metres (x {x[at]:.1f}, y {y[at]:.1f}); nothing was "
                  "loaded: " + crs_advice(), column=column)


class _Quarantine:
    """Collects bad rows with one reason each."""

    def __init__(self, frame: pd.DataFrame, layer: str, source: str) -> None:
        self.frame = frame
        self.layer = layer
        self.source = source
        self.sources = source_labels(frame, source)  # name[sheet] for multi-sheet workbooks
        self.reason = np.full(len(frame), None, dtype=object)
        self.detail = np.full(len(frame), None, dtype=object)
        if "_formula" in frame.columns:
            cells = frame["_formula"].astype(object).to_numpy()
            self.fail(pd.notna(cells), "uncalculated_formula",
                      lambda i: f"cell {cells[i]} is a formula without a calculated value "
                                "(open and save the workbook in Excel or LibreOffice, or "
                                "export the values, then load it again)")

    def check_text(self, key: str, columns: list[str]) -> None:
        """Quarantine ids over MAX_ID_CHARS, other values over MAX_TEXT_CHARS, NUL in text.

        PostgreSQL refuses NUL characters and index entries over ~2,700 bytes; such rows are
        quarantined on every backend instead of failing the whole load on one of them.
        """
        for col in [key, *columns]:
            if col not in self.frame.columns:
                continue
            limit = MAX_ID_CHARS if col == key else MAX_TEXT_CHARS
            too_long, has_nul, lengths = text_faults(self.frame[col], limit)
            self.fail(too_long, "value_too_long",
                      lambda i, c=col, n=lengths, k=limit: f"column {c!r}: {n[i]:,} characters, "
                      f"more than the {k:,} it may have")
            self.fail(has_nul, "invalid_text",
                      lambda i, c=col: f"column {c!r} holds a NUL character, which the store "
                                       "cannot hold")
            bad = too_long | has_nul
            if bad.any():
                self.frame[col] = self.frame[col].astype(object).where(~bad, None)

    def fail(self, mask: np.ndarray, code: str, message: Callable[[int], str]) -> None:
        mask = np.asarray(mask, dtype=bool) & (self.reason == None)  # noqa: E711
        for i in np.flatnonzero(mask):
            self.reason[i] = code
            self.detail[i] = message(i)

    @property
    def ok(self) -> np.ndarray:
        return self.reason == None  # noqa: E711

    def records(self) -> pd.DataFrame:
        bad = ~self.ok
        sub = self.frame[bad]
        attrs = pd.DataFrame(sub.drop(columns=[c for c in ("geometry", "_row", "_sheet",
                                                           "_formula") if c in sub.columns]))
        geoms = sub.geometry if isinstance(sub, gpd.GeoDataFrame) else None
        raws = []
        for i, rec in enumerate(attrs.astype(object).where(attrs.notna(), None).to_dict("records")):
            rec = {k: (v if isinstance(v, str | int | float | bool) or v is None else str(v))
                   for k, v in rec.items()}
            if geoms is not None:
                g = geoms.iloc[i]
                rec["wkt"] = None if g is None else shapely.to_wkt(g)
            raws.append(json.dumps(rec, ensure_ascii=False))
        rows = sub["_row"].to_numpy()
        sources = self.sources[bad]
        return pd.DataFrame({
            "quarantine_id": [f"{self.layer[:3]}:{s}:{r}" for s, r in zip(sources, rows,
                                                                          strict=True)],
            "layer": self.layer,
            "source_file": sources,
            "source_row": rows,
            "reason": self.reason[bad],
            "detail": self.detail[bad],
            "raw": raws,
            "quarantined_at": pd.Timestamp.now(tz="UTC"),
        })


def _classify(report: IngestReport, store: Store, layer: str, key: str,
              frame: gpd.GeoDataFrame, q: _Quarantine, replace: bool) -> gpd.GeoDataFrame:
    """Fill the report's counts; return the rows to write."""
    ids = frame[key]
    dup_in_file = ids.duplicated(keep="first").to_numpy(dtype=bool)
    q.fail(dup_in_file, "conflicting_id",
           lambda i: f"column {key!r}: {ids.iloc[i]!r} appears earlier in the file")
    good = frame[q.ok]
    existing = set() if replace else set(store.read(layer, columns=[key])[key].astype(str))
    known = good[key].astype(str).isin(existing).to_numpy(dtype=bool)
    report.input_rows = len(frame)
    report.loaded = int((~known).sum())
    report.updated = int(known.sum())
    report.quarantined = int((~q.ok).sum())
    report.by_reason = dict(Counter(q.reason[~q.ok].tolist()))
    return good


def _write(store: Store, layer: str, frame: gpd.GeoDataFrame, q: _Quarantine,
           replace: bool) -> None:
    quarantine = q.records()
    with store.transaction() as txn:
        if replace:
            txn.replace(layer, frame)
        elif len(frame):
            txn.upsert(layer, frame)
        if len(quarantine):
            txn.upsert("quarantine", quarantine)


# ---- mahallas ----------------------------------------------------------------------------

def ingest_mahallas(path: str | Path, store: Store, *, mapping: Mapping[str, str] | None = None,
                    replace: bool = False, crs: object = None, sheet: str | None = None,
                    defaults: Mapping[str, str] | None = None) -> IngestReport:
    """Load mahalla polygons: repair invalid geometries, report overlaps and gaps.

    Rows without an id, name, district, region or a polygon are quarantined. ``crs``,
    ``sheet`` and ``defaults`` are the ``--crs``, ``--sheet`` and ``--default`` options (see
    :func:`riskmap.etl.readers.iter_raw`); a CRS-less file whose coordinates are not degrees
    is refused.
    """
    t0 = time.perf_counter()
    path = Path(path)
    report = _empty_report("mahallas", path)
    raw = read_raw(path, mapping=mapping, layer="mahallas", crs=crs, sheet=sheet,
                   defaults=defaults, notes=report.warnings)
    frame = _as_geoframe(path, raw, points_ok=False, crs=parse_crs(crs))
    require_columns(path, frame, ["mahalla_id", "name", "district", "region"])
    q = _Quarantine(frame, "mahallas", path.name)
    q.check_text("mahalla_id", ["name", "name_cyrillic", "district", "region"])
    for col in ("mahalla_id", "name", "district", "region"):
        s = _strings(frame, col)
        frame[col] = s
        q.fail(s.isna().to_numpy(dtype=bool), f"missing_{col}" if col != "mahalla_id"
               else "missing_id", lambda i, c=col: f"column {c!r} is empty")
    geoms = np.array(frame.geometry.values, dtype=object)  # a copy: written below
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    q.fail(missing, "invalid_geometry", lambda i: "geometry is empty")
    invalid = ~missing & ~shapely.is_valid(np.where(missing, None, geoms))
    if invalid.any():
        geoms[invalid] = _polygonal(shapely.make_valid(geoms[invalid]))
        report.fixed["make_valid"] = int(invalid.sum())
    kinds = shapely.get_type_id(geoms)
    polygonal = np.isin(kinds, [shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON])
    q.fail(~missing & ~polygonal, "invalid_geometry",
           lambda i: f"geometry is a {shapely.get_type_id(geoms[i])!s} type, not a polygon")
    frame = frame.set_geometry(geoms, crs=4326)
    frame["mahalla_id"] = frame["mahalla_id"].astype("string")
    if "population" in frame.columns:
        frame["population"] = pd.to_numeric(frame["population"], errors="coerce")
    if "name_cyrillic" not in frame.columns:
        frame["name_cyrillic"] = pd.NA
    good = _classify(report, store, "mahallas", "mahalla_id", frame, q, replace)
    report.warnings += check_topology(np.asarray(good.geometry.values), good["mahalla_id"])
    _write(store, "mahallas", good, q, replace)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal part of make_valid's output (collections may hold lines)."""
    out = geoms.copy()
    for i, g in enumerate(geoms):
        if shapely.get_type_id(g) == shapely.GeometryType.GEOMETRYCOLLECTION:
            parts = [p for p in shapely.get_parts(g)
                     if shapely.get_type_id(p) in (shapely.GeometryType.POLYGON,
                                                   shapely.GeometryType.MULTIPOLYGON)]
            out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out


def check_topology(geoms: np.ndarray, ids: pd.Series, *, min_area_m2: float = 100.0,
                   max_listed: int = 5) -> list[str]:
    """Warnings about overlapping mahallas and gaps (holes) between them."""
    if len(geoms) == 0:
        return []
    # Work in degrees: reprojecting vertices would bend shared edges whose vertex sets differ
    # and invent slivers. Areas are scaled to m² at the layer's mean latitude.
    metric = np.asarray(geoms, dtype=object)
    lat0 = float(np.mean(shapely.total_bounds(metric)[[1, 3]]))
    m2_per_deg2 = 111_320.0 ** 2 * float(np.cos(np.radians(lat0)))
    tree = shapely.STRtree(metric)
    a, b = tree.query(metric, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    warnings = []
    if len(a):
        area = shapely.area(shapely.intersection(metric[a], metric[b])) * m2_per_deg2
        big = area > min_area_m2
        if big.any():
            ida = ids.to_numpy(dtype=object)
            pairs = [f"{ida[i]}/{ida[j]} ({ar:,.0f} m²)"
                     for i, j, ar in sorted(zip(a[big], b[big], area[big], strict=True),
                                            key=lambda t: -t[2])[:max_listed]]
            warnings.append(f"{int(big.sum())} overlapping mahalla pairs, "
                            f"{area[big].sum():,.0f} m² in all, e.g. " + ", ".join(pairs))
    union = shapely.coverage_union_all(metric) if not len(a) else shapely.union_all(metric)
    parts = shapely.get_parts(union)
    n_rings = shapely.get_num_interior_rings(parts)
    owner = np.repeat(np.arange(len(parts)), n_rings)
    ring_no = np.concatenate([np.arange(k) for k in n_rings]) if len(parts) else owner
    holes = shapely.area(shapely.polygons(shapely.get_interior_ring(parts[owner], ring_no)))
    holes = holes * m2_per_deg2
    holes = holes[holes > min_area_m2]
    if len(holes):
        warnings.append(f"{len(holes)} gaps between mahallas, {holes.sum():,.0f} m² in all")
    return warnings


# ---- cameras -----------------------------------------------------------------------------

def _norm_word(s: pd.Series) -> pd.Series:
    return s.str.lower().str.replace(r"[\s\-]+", " ", regex=True).str.strip()


def _assign_areas(store: Store, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    mahallas = store.read("mahallas", columns=["mahalla_id", "district", "region", "geometry"])
    if len(mahallas) == 0 or len(frame) == 0:
        return frame
    pts = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
    idx = PolygonIndex(np.asarray(mahallas.geometry.values)).locate(*xy(pts))
    for col in ("mahalla_id", "district", "region"):
        vals = mahallas[col].to_numpy(dtype=object)[np.maximum(idx, 0)]
        vals = np.where(idx >= 0, vals, None)
        if col in frame.columns:
            given = frame[col].astype(object).where(frame[col].notna(), None).to_numpy()
            vals = np.where(pd.isna(given), vals, given)
        frame[col] = vals
    return frame


def ingest_cameras(path: str | Path, store: Store, *, mapping: Mapping[str, str] | None = None,
                   replace: bool = False, crs: object = None, sheet: str | None = None,
                   defaults: Mapping[str, str] | None = None) -> IngestReport:
    """Load cameras (CSV with lat/lon or vector points), filling per-type defaults.

    ``crs``, ``sheet`` and ``defaults`` as for :func:`ingest_mahallas`.
    """
    t0 = time.perf_counter()
    path = Path(path)
    report = _empty_report("cameras", path)
    raw = read_raw(path, mapping=mapping, layer="cameras", crs=crs, sheet=sheet,
                   defaults=defaults, notes=report.warnings)
    frame = _as_geoframe(path, raw, points_ok=True, crs=parse_crs(crs))
    require_columns(path, frame, ["camera_id", "type"])
    q = _Quarantine(frame, "cameras", path.name)
    q.check_text("camera_id", ["type", "status", "mahalla_id", "district", "region"])
    frame["camera_id"] = _strings(frame, "camera_id")
    q.fail(frame["camera_id"].isna().to_numpy(dtype=bool), "missing_id",
           lambda i: "column 'camera_id' is empty")
    t = _norm_word(_strings(frame, "type").fillna(""))
    t = t.str.replace(" ", "_").where(t.str.replace(" ", "_").isin(CAMERA_TYPES),
                                      t.map(CAMERA_TYPE_ALIASES))
    bad_type = t.isna().to_numpy(dtype=bool)
    type_raw = frame["type"].astype("string")
    q.fail(bad_type, "unknown_type",
           lambda i: f"column 'type': {type_raw.iloc[i]!r} is not one of {', '.join(CAMERA_TYPES)}")
    frame["type"] = t
    geoms = np.asarray(frame.geometry.values, dtype=object)
    bad_pt = (shapely.is_missing(geoms) | shapely.is_empty(geoms)
              | (shapely.get_type_id(geoms) != shapely.GeometryType.POINT))
    q.fail(bad_pt, "invalid_coordinates", lambda i: "no valid point (lat/lon or geometry)")
    for col in ("bearing_deg", "fov_deg", "range_m", "height_m"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce") if col in frame.columns \
            else np.nan
    for typ, defaults in CAMERA_DEFAULTS.items():
        is_t = (frame["type"] == typ).fillna(False).to_numpy(dtype=bool)
        for col in ("range_m", "fov_deg", "height_m"):
            val = defaults[col]
            frame.loc[is_t & frame[col].isna().to_numpy(dtype=bool), col] = val
    frame["bearing_deg"] = frame["bearing_deg"].fillna(0.0) % 360
    frame["status"] = _strings(frame, "status").fillna("active").str.lower()
    if "installed_on" in frame.columns:
        frame["installed_on"] = pd.to_datetime(frame["installed_on"], errors="coerce")
    frame = _assign_areas(store, frame)
    good = _classify(report, store, "cameras", "camera_id", frame, q, replace)
    _write(store, "cameras", good, q, replace)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


# ---- infrastructure ----------------------------------------------------------------------

def ingest_infrastructure(path: str | Path, store: Store, *,
                          mapping: Mapping[str, str] | None = None,
                          replace: bool = False, crs: object = None, sheet: str | None = None,
                          defaults: Mapping[str, str] | None = None) -> IngestReport:
    """Load infrastructure features of any geometry with a ``kind``.

    ``crs``, ``sheet`` and ``defaults`` as for :func:`ingest_mahallas`.
    """
    t0 = time.perf_counter()
    path = Path(path)
    report = _empty_report("infrastructure", path)
    raw = read_raw(path, mapping=mapping, layer="infrastructure", crs=crs, sheet=sheet,
                   defaults=defaults, notes=report.warnings)
    frame = _as_geoframe(path, raw, points_ok=True, crs=parse_crs(crs))
    require_columns(path, frame, ["kind"])
    q = _Quarantine(frame, "infrastructure", path.name)
    q.check_text("feature_id", ["kind", "name", "road_class", "season_start", "season_end",
                                "mahalla_id", "district", "region"])
    kind = _norm_word(_strings(frame, "kind").fillna(""))
    kind = kind.map(INFRA_KIND_ALIASES).fillna(kind.str.replace(r"[^\w]+", "_", regex=True))
    kind = kind.mask(kind == "")
    q.fail(kind.isna().to_numpy(dtype=bool), "missing_kind", lambda i: "column 'kind' is empty")
    frame["kind"] = kind
    geoms = np.array(frame.geometry.values, dtype=object)  # a copy: written below
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    q.fail(empty, "invalid_geometry", lambda i: "geometry is empty")
    invalid = ~empty & ~shapely.is_valid(np.where(empty, None, geoms))
    if invalid.any():
        geoms[invalid] = shapely.make_valid(geoms[invalid])
        report.fixed["make_valid"] = int(invalid.sum())
        frame = frame.set_geometry(geoms, crs=4326)
    ids = _strings(frame, "feature_id")
    if ids.isna().any():
        wkb = shapely.to_wkb(np.where(empty, None, geoms))
        h = pd.util.hash_pandas_object(pd.DataFrame({"k": kind.fillna(""),
                                                     "g": [bytes(b or b"") for b in wkb]}),
                                       index=False).to_numpy()
        gen = pd.Series([f"{k}-{x:016x}" for k, x in zip(kind.fillna("feature"), h, strict=True)],
                        index=frame.index, dtype="string")
        ids = ids.fillna(gen)
    frame["feature_id"] = ids
    known = set(INFRASTRUCTURE.column_names)
    extra = [c for c in frame.columns if c not in known
             and c not in {"geometry", "_row", "_sheet", "_formula"}]
    if extra:
        frame["attrs"] = [json.dumps({k: (v if isinstance(v, str | int | float | bool) else str(v))
                                      for k, v in rec.items() if v is not None and v == v},
                                     ensure_ascii=False)
                          for rec in frame[extra].astype(object).to_dict("records")]
    if "speed_kmh" in frame.columns:
        frame["speed_kmh"] = pd.to_numeric(frame["speed_kmh"], errors="coerce")
    for col in ("season_start", "season_end", "road_class", "name"):
        if col in frame.columns:
            frame[col] = _strings(frame, col)
    frame = _assign_areas(store, frame)
    good = _classify(report, store, "infrastructure", "feature_id", frame, q, replace)
    _write(store, "infrastructure", good, q, replace)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report

