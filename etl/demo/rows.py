"""Turn simulated incidents into raw input rows: varied spellings, formats and dirty rows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import shapely

from riskmap.etl.demo.config import period
from riskmap.etl.demo.incidents import Events, focus_columns
from riskmap.etl.demo.mahallas import World
from riskmap.etl.demo.names import APOSTROPHES, to_cyrillic, to_russian
from riskmap.etl.demo.places import to_lonlat

__all__ = [
    "CATEGORY_ALIASES",
    "DIRTY_RATES",
    "DISTRICT_ONLY_COLUMNS",
    "DISTRICT_ONLY_SHARE",
    "FIX_FLAGS",
    "RAW_COLUMNS",
    "address_table",
    "alias_lookup",
    "excel_rows",
    "format_rows",
    "inject_dirty",
]

RAW_COLUMNS = ("incident_id", "occurred_at", "category", "lat", "lon", "address")

# canonical code -> (Uzbek Latin, Uzbek Cyrillic, Russian)
CATEGORY_ALIASES: dict[str, tuple[str, str, str]] = {
    "homicide": ("qasddan odam o‘ldirish", "қасддан одам ўлдириш", "убийство"),
    "assault": ("tan jarohati yetkazish", "тан жароҳати етказиш", "телесные повреждения"),
    "sexual_violence": ("jinsiy zo‘ravonlik", "жинсий зўравонлик", "половое насилие"),
    "robbery": ("talonchilik", "талончилик", "грабёж"),
    "burglary": ("xonadon o‘g‘riligi", "хонадон ўғрилиги", "квартирная кража"),
    "theft": ("o‘g‘irlik", "ўғирлик", "кража"),
    "vehicle_theft": ("avtomobil o‘g‘irligi", "автомобил ўғирлиги", "угон автомобиля"),
    "fraud": ("firibgarlik", "фирибгарлик", "мошенничество"),
    "cybercrime": ("kiberjinoyat", "кибержиноят", "киберпреступление"),
    "drugs": ("giyohvandlik", "гиёҳвандлик", "наркотики"),
    "domestic_violence": ("oilaviy zo‘ravonlik", "оилавий зўравонлик", "бытовое насилие"),
    "hooliganism": ("bezorilik", "безорилик", "хулиганство"),
    "traffic": ("yo‘l-transport hodisasi", "йўл-транспорт ҳодисаси", "ДТП"),
    "weapons": ("qurol saqlash", "қурол сақлаш", "незаконное оружие"),
    "other": ("boshqa", "бошқа", "прочее"),
}
# Extra robbery spelling (armed robbery, "bosqinchilik"), mapped to robbery too.
_ROBBERY_EXTRA = ("bosqinchilik", "босқинчилик", "разбой")

# Injected per row of incidents.csv: fix flags (row loads, with a flag) and quarantine reasons.
DIRTY_RATES: dict[str, float] = {
    "swapped_coordinates": 0.0015, "snapped_to_mahalla": 0.0010,
    "missing_date": 0.0005, "invalid_date": 0.0005, "future_date": 0.0005,
    "unknown_category": 0.0005, "invalid_coordinates": 0.0005, "outside_area": 0.0005,
    "no_location": 0.0005, "conflicting_id": 0.0005, "duplicate_row": 0.0010,
}
FIX_FLAGS = ("swapped_coordinates", "snapped_to_mahalla")
# Share of address-only incidents whose address names only the district (no mahalla), and the
# columns of :func:`address_table` holding those spellings.
DISTRICT_ONLY_SHARE = 0.01
DISTRICT_ONLY_COLUMNS = (8, 9, 10)
_INVALID_DATES = ("31.02.2024", "yesterday", "2024-13-45T10:00:00", "32.01.2025 10:00",
                  "vchera")
_UNKNOWN_CATEGORIES = ("qwerty", "категория 17", "misc-42", "???", "xyz-kod")
_NOWHERE = ("Atlantida shahri, Xayoliy MFY", "г. Атлантида, махалля Несуществующая",
            "Narniya tumani, Sehrgar MFY", "Луна шаҳри, Юлдуз МФЙ", "")
# Far outside Uzbekistan and not fixed by swapping (Kazakhstan: Almaty, Astana, Karaganda,
# Kyzylorda), (lat, lon).
_ABROAD = ((43.238, 76.889), (51.169, 71.449), (49.806, 73.085), (44.853, 65.509))
_TZ = "+05:00"


def alias_lookup() -> dict[str, str]:
    """Lower-cased alias -> canonical code (codes map to themselves)."""
    out = {c: c for c in CATEGORY_ALIASES}
    out.update({a.lower(): c for c, forms in CATEGORY_ALIASES.items() for a in forms})
    out.update({a.lower(): "robbery" for a in _ROBBERY_EXTRA})
    out.update({a.replace("‘", "'"): c for a, c in list(out.items()) if "‘" in a})
    return out


def _fmt(v: np.ndarray) -> np.ndarray:
    """``"%.6f" % x`` for each ``x`` of ``v`` (already rounded to 6 decimals; ``""`` for NaN), in
    integer arithmetic: ten times faster than ``np.char.mod``."""
    micro = np.rint(np.abs(np.nan_to_num(v)) * 1e6).astype(np.int64)
    whole = pc.cast(pa.array(micro // 1_000_000), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(micro % 1_000_000), pa.string()), width=6, padding="0")
    signed = pc.binary_join_element_wise(pa.array(np.where(np.signbit(v), "-", "")), whole, "")
    out = pc.binary_join_element_wise(signed, frac, ".").to_numpy(zero_copy_only=False)
    return np.where(np.isnan(v), "", out.astype(object))


def _category_text(cat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    codes = list(CATEGORY_ALIASES)
    table = np.array([[c, *CATEGORY_ALIASES[c]] for c in codes], dtype=object)
    ci = pd.Index(codes).get_indexer(cat)
    var = rng.choice(4, size=cat.size, p=[0.55, 0.20, 0.10, 0.15])
    out = table[ci, var]
    rob = (cat == "robbery") & (rng.random(cat.size) < 0.4)
    out[rob] = np.array(_ROBBERY_EXTRA, dtype=object)[np.maximum(var[rob] - 1, 0)]
    cap = (var == 1) & (rng.random(cat.size) < 0.3)
    out[cap] = np.array([s[:1].upper() + s[1:] for s in out[cap]], dtype=object)
    ascii_ = (var == 1) & (rng.random(cat.size) < 0.4)
    out[ascii_] = np.array([s.replace("‘", "'") for s in out[ascii_]], dtype=object)
    return out


def address_table(world: World) -> np.ndarray:
    """Per mahalla, spellings of its address: eight with the mahalla, three district-only.

    Columns 0-7 name the mahalla (Uzbek Latin with varied apostrophes, Uzbek Cyrillic,
    Russian; some with the region first); columns 8-10 name only the district (Latin,
    Cyrillic, Russian), for incidents that can be placed in a district but no mahalla.
    """
    m = world.mahallas
    ru_d = {(r.name, d.name): d.russian for r in world.regions for d in r.districts}
    ru_r = {r.name: r.russian for r in world.regions}
    rows = []
    for name, cyr, dist, reg in zip(m["name"], m["name_cyrillic"], m["district"], m["region"],
                                    strict=True):
        dcy = to_cyrillic(dist)
        rus = to_russian(cyr)
        rows.append((
            f"{dist}, {name} MFY",
            f"{dist}, {name.replace('‘', APOSTROPHES[1])} MFY",
            f"{reg}, {dist}, {name.replace('‘', APOSTROPHES[2])} mahallasi",
            f"{dist.lower()}, {name.replace('‘', APOSTROPHES[3]).lower()} mfy",
            f"{dcy}, {cyr} МФЙ",
            f"{to_cyrillic(reg)}, {dcy}, {cyr} маҳалласи",
            f"{ru_d[(reg, dist)]}, махалля {rus}",
            f"{ru_r[reg]}, {ru_d[(reg, dist)]}, махалля {rus}",
            dist, f"{to_cyrillic(reg)}, {dcy}", ru_d[(reg, dist)],
        ))
    return np.array(rows, dtype=object)


def _timestamps(t_min: np.ndarray, rng: np.random.Generator, *, iso_share: float = 0.80,
                dmy_share: float = 0.12) -> np.ndarray:
    start, _ = period()
    local = pa.array((np.datetime64(start.isoformat(), "m")
                      + t_min.astype("timedelta64[m]")).astype("datetime64[s]"))
    u = rng.random(t_min.size)
    form = np.where(u < iso_share, 0, np.where(u < iso_share + dmy_share, 1, 2))
    out = np.empty(t_min.size, dtype=object)
    for i, fmt in enumerate((f"%Y-%m-%dT%H:%M:00{_TZ}", "%d.%m.%Y %H:%M", "%Y-%m-%d %H:%M:00")):
        at = np.flatnonzero(form == i)  # each row formatted once, in its own spelling
        out[at] = pc.strftime(local.take(at), format=fmt).to_numpy(zero_copy_only=False)
    return out


def format_rows(ev: Events, world: World, rng: np.random.Generator, *,
                prefix: str = "INC-", addresses: np.ndarray | None = None) -> pd.DataFrame:
    """Raw incident rows (all text) with varied spellings of categories, dates and addresses.

    Parameters
    ----------
    ev
        Simulated events (time order); their ids are ``prefix`` plus a 7-digit serial.
    world
        For mahalla addresses.
    rng
        Random generator.
    prefix
        Start of every incident id.
    addresses
        The per-mahalla address spellings from :func:`address_table` (built when None).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RAW_COLUMNS` and the focus columns (:func:`focus_columns`), all
        strings.
    """
    n = ev.t_min.size
    lon, lat = to_lonlat(ev.x, ev.y)
    located = ~np.isnan(ev.x)
    table = address_table(world) if addresses is None else addresses
    var = rng.choice(8, size=n, p=[0.2, 0.12, 0.08, 0.1, 0.15, 0.1, 0.15, 0.1])
    district_only = ~located & (rng.random(n) < DISTRICT_ONLY_SHARE)
    var[district_only] = DISTRICT_ONLY_COLUMNS[0] + rng.integers(0, 3, int(district_only.sum()))
    addr = np.full(n, "", dtype=object)
    has = ~located | ((ev.mahalla >= 0) & (rng.random(n) < 0.25))
    addr[has] = table[ev.mahalla[has], np.where(located[has], 0, var[has])]
    return pd.DataFrame({
        "incident_id": [f"{prefix}{i + 1:07d}" for i in range(n)],
        "occurred_at": _timestamps(ev.t_min, rng),
        "category": _category_text(ev.category, rng),
        "lat": _fmt(np.round(lat, 6)), "lon": _fmt(np.round(lon, 6)),
        "address": addr,
        **focus_columns(ev.category, seed=len(prefix)),
    })


def excel_rows(ev: Events, world: World, rng: np.random.Generator, *,
               addresses: np.ndarray | None = None) -> pd.DataFrame:
    """Rows for the Excel file: numbers as numbers, dates half real datetimes, half text."""
    rows = format_rows(ev, world, rng, prefix="XLS-", addresses=addresses)
    start, _ = period()
    base = dt.datetime(start.year, start.month, start.day)
    when = [base + dt.timedelta(minutes=int(m)) for m in ev.t_min]
    text = rng.random(len(when)) < 0.5
    rows["occurred_at"] = [w.strftime("%d.%m.%Y %H:%M") if tx else w
                           for w, tx in zip(when, text, strict=True)]
    lon, lat = to_lonlat(ev.x, ev.y)
    rows["lat"] = [None if np.isnan(v) else round(float(v), 6) for v in lat]
    rows["lon"] = [None if np.isnan(v) else round(float(v), 6) for v in lon]
    return rows


def _outside_points(world: World, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points 20–150 m outside the outer boundary of the world, as (lat, lon)."""
    land = shapely.union_all(list(world.region_polys.values()))
    ring = shapely.boundary(land)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        k = 8 * (n - got) + 8
        f = rng.random(k)
        p = shapely.get_coordinates(shapely.line_interpolate_point(ring, f, normalized=True))
        q = shapely.get_coordinates(shapely.line_interpolate_point(ring, np.minimum(f + 1e-5, 1),
                                                                   normalized=True))
        tx, ty = (q - p).T
        norm = np.hypot(tx, ty)
        ok = norm > 0
        nx, ny = -ty / np.where(ok, norm, 1), tx / np.where(ok, norm, 1)
        d = rng.uniform(30, 130, k)
        side = np.where(rng.random(k) < 0.5, 1.0, -1.0)
        cand = np.column_stack([p[:, 0] + side * d * nx, p[:, 1] + side * d * ny])
        dist = shapely.distance(shapely.points(cand), land)
        good = ok & (dist >= 25) & (dist <= 140)
        out.append(cand[good][: n - got])
        got += int(min(good.sum(), n - got))
    xy = np.vstack(out)
    lon, lat = to_lonlat(xy[:, 0], xy[:, 1])
    return np.column_stack([lat, lon])


def inject_dirty(rows: pd.DataFrame, world: World, rng: np.random.Generator
                 ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Spoil a sprinkling (~0.8%) of rows, one way each, and count them by reason.

    Each spoilt row comes from a distinct clean row. ``conflicting_id`` and ``duplicate_row``
    add rows (later in the file than the row they copy); the others change rows in place.

    Returns
    -------
    rows, counts
        The new table and ``{reason or flag: rows}``.
    """
    n = len(rows)
    counts = {k: max(3, round(n * r)) for k, r in DIRTY_RATES.items()}
    located = np.flatnonzero((rows["lat"] != "").to_numpy())
    address = np.flatnonzero((rows["lat"] == "").to_numpy())
    loc_pick = rng.permutation(located)
    addr_pick = rng.permutation(address)
    pos = 0
    out = rows.copy()
    col = {c: out.columns.get_loc(c) for c in out.columns}

    def take(k: int) -> np.ndarray:
        nonlocal pos
        sel = loc_pick[pos:pos + k]
        pos += k
        return sel

    sel = take(counts["swapped_coordinates"])
    lat = out.iloc[sel, col["lat"]].to_numpy().copy()
    out.iloc[sel, col["lat"]] = out.iloc[sel, col["lon"]].to_numpy()
    out.iloc[sel, col["lon"]] = lat
    sel = take(counts["snapped_to_mahalla"])
    pts = _outside_points(world, sel.size, rng)
    out.iloc[sel, col["lat"]] = _fmt(pts[:, 0])
    out.iloc[sel, col["lon"]] = _fmt(pts[:, 1])
    sel = take(counts["missing_date"])
    out.iloc[sel, col["occurred_at"]] = ""
    sel = take(counts["invalid_date"])
    out.iloc[sel, col["occurred_at"]] = np.resize(np.array(_INVALID_DATES, dtype=object),
                                                  sel.size)
    sel = take(counts["future_date"])
    mon = rng.integers(1, 13, sel.size)
    day = rng.integers(1, 29, sel.size)
    out.iloc[sel, col["occurred_at"]] = [f"2031-{a:02d}-{b:02d}T{h:02d}:15:00{_TZ}" for a, b, h
                                         in zip(mon, day, rng.integers(0, 24, sel.size),
                                                strict=True)]
    sel = take(counts["unknown_category"])
    out.iloc[sel, col["category"]] = np.resize(np.array(_UNKNOWN_CATEGORIES, dtype=object),
                                               sel.size)
    sel = take(counts["invalid_coordinates"])
    half = sel[: sel.size // 2]
    out.iloc[half, col["lat"]] = "abc"
    out.iloc[sel[sel.size // 2:], col["lon"]] = "999"
    sel = take(counts["outside_area"])
    where = np.array(_ABROAD)[rng.integers(0, len(_ABROAD), sel.size)]
    where = where + rng.uniform(-0.05, 0.05, where.shape)
    out.iloc[sel, col["lat"]] = _fmt(where[:, 0])
    out.iloc[sel, col["lon"]] = _fmt(where[:, 1])
    sel = addr_pick[: counts["no_location"]]
    out.iloc[sel, col["address"]] = np.resize(np.array(_NOWHERE, dtype=object), sel.size)
    # copies: sources are clean rows not used above
    used = np.zeros(n, bool)
    used[loc_pick[:pos]] = True
    used[sel] = True
    conf = loc_pick[pos:pos + counts["conflicting_id"]]  # located, so only the id conflicts
    used[conf] = True
    dup = rng.choice(np.flatnonzero(~used), size=counts["duplicate_row"], replace=False)
    conf_rows = out.iloc[conf].copy()
    canon = conf_rows["category"].str.lower().map(alias_lookup())
    conf_rows["category"] = np.where(canon == "theft", "assault", "theft")
    dup_rows = out.iloc[dup].copy()
    key = np.r_[np.arange(n, dtype=float),
                rng.uniform(conf + 0.5, n), rng.uniform(dup + 0.5, n)]
    allrows = pd.concat([out, conf_rows, dup_rows], ignore_index=True)
    allrows = allrows.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    return allrows, counts

