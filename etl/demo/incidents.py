"""Synthetic incidents: a clustered, self-exciting (Hawkes-like) point process, vectorised.

Background events fall in mahallas in proportion to population times a smooth risk field
(towns, markets and stations are hotter), plus a few hot spots: persistent ones, one that
emerges (grows over the two years) and one that diminishes. Each located event may trigger
near-repeat offspring 50–300 m and 1–14 days away. Cybercrime and fraud have no place of
occurrence: they are tied to the victim's home mahalla.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

import shapely

from riskmap.etl.demo.config import period
from riskmap.etl.demo.infra import Infra
from riskmap.etl.demo.mahallas import World
from riskmap.etl.demo.places import to_lonlat

__all__ = ["ADDRESS_SHARE", "FOCUS_RAW_COLUMNS", "LOCATED_MIX", "Events", "Hotspot",
           "focus_columns", "simulate_incidents"]

# Shares of all incidents: cybercrime and fraud (address only) and the located categories.
ADDRESS_SHARE = {"cybercrime": 0.42, "fraud": 0.08}
LOCATED_MIX = {
    "theft": 0.28, "burglary": 0.10, "assault": 0.10, "hooliganism": 0.10, "traffic": 0.10,
    "drugs": 0.08, "domestic_violence": 0.08, "robbery": 0.04, "vehicle_theft": 0.04,
    "weapons": 0.02, "sexual_violence": 0.02, "homicide": 0.006, "other": 0.034,
}
# Expected near-repeat offspring per event (branching ratio) by category.
_BRANCHING = {"burglary": 0.35, "vehicle_theft": 0.30, "theft": 0.25, "robbery": 0.25,
              "assault": 0.20, "hooliganism": 0.20, "drugs": 0.15, "domestic_violence": 0.10}
_DEFAULT_BRANCHING = 0.05
_HOURS_STREET = np.array([0.5, 0.35, 0.25, 0.2, 0.2, 0.25, 0.4, 0.6, 0.8, 0.9, 1.0, 1.05, 1.1,
                          1.1, 1.1, 1.15, 1.25, 1.4, 1.6, 1.75, 1.8, 1.6, 1.2, 0.8])
_HOURS_ONLINE = np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.2, 0.4, 0.8, 1.2, 1.5, 1.6, 1.6, 1.5, 1.5,
                          1.6, 1.6, 1.5, 1.4, 1.3, 1.3, 1.2, 1.0, 0.7, 0.5])
_HOTSPOT_SIGMA_M = 200.0


@dataclass(frozen=True)
class Hotspot:
    """A planted hot spot (for checking hot-spot analytics against a known truth)."""

    kind: str  # persistent | emerging | diminishing
    town: str
    x: float
    y: float
    share: float  # share of located background events it draws (time-averaged)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready record with lon/lat."""
        lon, lat = to_lonlat(self.x, self.y)
        return {"kind": self.kind, "town": self.town, "lat": round(float(lat), 6),
                "lon": round(float(lon), 6), "sigma_m": _HOTSPOT_SIGMA_M,
                "share_of_located_background": self.share}


@dataclass
class Events:
    """Simulated incidents as columns (plane metres, minutes since the period start).

    ``x``/``y`` are NaN and ``mahalla`` is the home mahalla for address-only events;
    ``mahalla`` is -1 for located events whose mahalla is not recorded (hot spots, offspring).
    """

    t_min: np.ndarray
    category: np.ndarray
    x: np.ndarray
    y: np.ndarray
    mahalla: np.ndarray
    hotspots: list[Hotspot]


def _day_weights(n_days: int, start: dt.date, seasonal: float) -> np.ndarray:
    days = np.arange(n_days)
    doy = np.array([(start + dt.timedelta(days=int(d))).timetuple().tm_yday for d in days])
    wd = (np.arange(n_days) + start.weekday()) % 7
    w = 1 + seasonal * np.cos(2 * np.pi * (doy - 196) / 365.25)
    return w * np.where(wd >= 4, 1.1, 1.0) * np.where(wd == 6, 0.9, 1.0)


def _times(n: int, day_w: np.ndarray, hour_w: np.ndarray, rng: np.random.Generator
           ) -> np.ndarray:
    day = rng.choice(len(day_w), size=n, p=day_w / day_w.sum())
    hour = rng.choice(24, size=n, p=hour_w / hour_w.sum())
    return day.astype(np.int64) * 1440 + hour * 60 + rng.integers(0, 60, n)


def _risk(world: World, infra: Infra) -> np.ndarray:
    m = world.mahallas
    f = infra.features
    sx, sy = m["sx"].to_numpy(), m["sy"].to_numpy()
    risk = 1.0 + 1.5 * m["urban"].to_numpy()
    for kind, amp, sig in (("market", 4.0, 500.0), ("station", 3.0, 600.0),
                           ("bus_stop", 0.5, 300.0)):
        xy = shapely.get_coordinates(f.loc[f["kind"] == kind, "geometry"].to_numpy())
        for chunk in np.array_split(xy, max(1, len(xy) // 200)):
            if len(chunk) == 0:
                continue
            d2 = (sx[:, None] - chunk[:, 0]) ** 2 + (sy[:, None] - chunk[:, 1]) ** 2
            risk = risk + amp * np.exp(-d2 / (2 * sig**2)).sum(axis=1)
    return risk


def _hotspots(world: World, infra: Infra) -> list[Hotspot]:
    f = infra.features
    towns = world.towns
    plan = (("persistent", "Jizzax", 0.02), ("persistent", "Termiz", 0.02),
            ("persistent", "Qarshi", 0.02), ("persistent", "Toshkent", 0.02),
            ("emerging", "Denov", 0.03), ("diminishing", "Shahrisabz", 0.03))
    out = []
    for kind, town, share in plan:
        k = towns.index[towns["name"] == town]
        if len(k) == 0:
            continue
        site = f[(f["town"] == k[0]) & (f["kind"] == ("market" if kind != "emerging"
                                                      else "bus_stop"))]
        p = site["geometry"].iloc[0]
        out.append(Hotspot(kind, town, float(p.x), float(p.y), share))
    return out


def _points_in_mahallas(geoms: np.ndarray, idx: np.ndarray, fallback: np.ndarray,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform random points inside the mahallas ``geoms[idx]`` by rejection sampling."""
    b = shapely.bounds(geoms)[idx]
    x = np.full(idx.size, np.nan)
    y = np.full(idx.size, np.nan)
    todo = np.arange(idx.size)
    for _ in range(30):
        if todo.size == 0:
            break
        px = rng.uniform(b[todo, 0], b[todo, 2])
        py = rng.uniform(b[todo, 1], b[todo, 3])
        ok = shapely.contains_xy(geoms[idx[todo]], px, py)
        x[todo[ok]], y[todo[ok]] = px[ok], py[ok]
        todo = todo[~ok]
    x[todo], y[todo] = fallback[idx[todo], 0], fallback[idx[todo], 1]
    return x, y


def _offspring(t: np.ndarray, cat: np.ndarray, x: np.ndarray, y: np.ndarray, land: object,
               end_min: int, cats: np.ndarray, mix: np.ndarray, rng: np.random.Generator
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All generations of near-repeat offspring of the given events."""
    branching = np.array([_BRANCHING.get(c, _DEFAULT_BRANCHING) for c in cats])
    out_t, out_c, out_x, out_y = [], [], [], []
    for _ in range(5):
        k = rng.poisson(branching[cat])
        if k.sum() == 0:
            break
        par = np.repeat(np.arange(t.size), k)
        n = par.size
        dt_min = ((1 + 13 * rng.random(n) ** 2) * 1440).astype(np.int64)
        dist = rng.uniform(50, 300, n)
        ang = rng.uniform(0, 2 * np.pi, n)
        ct = t[par] + dt_min
        cx = x[par] + dist * np.cos(ang)
        cy = y[par] + dist * np.sin(ang)
        same = rng.random(n) < 0.8
        cc = np.where(same, cat[par], rng.choice(cats.size, size=n, p=mix))
        keep = (ct < end_min) & shapely.contains_xy(land, cx, cy)
        t, cat, x, y = ct[keep], cc[keep], cx[keep], cy[keep]
        out_t.append(t)
        out_c.append(cat)
        out_x.append(x)
        out_y.append(y)
    if not out_t:
        return (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0))
    return (np.concatenate(out_t), np.concatenate(out_c), np.concatenate(out_x),
            np.concatenate(out_y))


def simulate_incidents(world: World, infra: Infra, n_target: int,
                       rng: np.random.Generator) -> Events:
    """Simulate about ``n_target`` incidents over the demo period.

    Parameters
    ----------
    world, infra
        Places, mahallas and infrastructure (plane metres).
    n_target
        Wanted number of incidents; the result is within a few percent.
    rng
        Random generator.

    Returns
    -------
    Events
        Columns sorted by time (categories as canonical codes).
    """
    start, end = period()
    n_days = (end - start).days + 1
    end_min = n_days * 1440
    m = world.mahallas
    geoms = m["geometry"].to_numpy()
    shapely.prepare(geoms)
    land = shapely.union_all(list(world.region_polys.values()))
    shapely.prepare(land)
    seeds = m[["sx", "sy"]].to_numpy()
    cats = np.array(list(LOCATED_MIX))
    mix = np.array(list(LOCATED_MIX.values()))
    mix = mix / mix.sum()
    day_w = _day_weights(n_days, start, 0.3)
    located_target = n_target * (1 - sum(ADDRESS_SHARE.values()))
    n_bg = round(located_target * 0.83)
    hotspots = _hotspots(world, infra)
    # which component each background event belongs to: 0 = mahalla field, 1.. = hot spots
    shares = np.array([h.share for h in hotspots])
    comp = rng.choice(len(hotspots) + 1, size=n_bg, p=np.r_[1 - shares.sum(), shares])
    t = np.empty(n_bg, np.int64)
    x = np.empty(n_bg)
    y = np.empty(n_bg)
    mahalla = np.full(n_bg, -1, np.int64)
    base = comp == 0
    weight = m["population"].to_numpy() * _risk(world, infra)
    mahalla[base] = rng.choice(len(m), size=int(base.sum()), p=weight / weight.sum())
    x[base], y[base] = _points_in_mahallas(geoms, mahalla[base], seeds, rng)
    t[base] = _times(int(base.sum()), day_w, _HOURS_STREET, rng)
    ramp = np.arange(n_days) / (n_days - 1)
    for j, h in enumerate(hotspots, start=1):
        sel = np.flatnonzero(comp == j)
        trend = {"emerging": 2 * ramp, "diminishing": 2 * (1 - ramp)}.get(h.kind, 1.0)
        t[sel] = _times(sel.size, day_w * trend, _HOURS_STREET, rng)
        x[sel] = h.x + rng.normal(0, _HOTSPOT_SIGMA_M, sel.size)
        y[sel] = h.y + rng.normal(0, _HOTSPOT_SIGMA_M, sel.size)
    inland = shapely.contains_xy(land, x, y)
    t, x, y, mahalla = t[inland], x[inland], y[inland], mahalla[inland]
    cat = rng.choice(cats.size, size=t.size, p=mix)
    ot, oc, ox, oy = _offspring(t, cat, x, y, land, end_min, cats, mix, rng)
    t = np.r_[t, ot]
    cat = np.r_[cat, oc]
    x = np.r_[x, ox]
    y = np.r_[y, oy]
    mahalla = np.r_[mahalla, np.full(ot.size, -1, np.int64)]
    names = cats[cat]
    # address-only crimes, sized so that the shares hold exactly for the final total
    total = round(t.size / (1 - sum(ADDRESS_SHARE.values())))
    n_cyber = round(total * ADDRESS_SHARE["cybercrime"])
    n_addr = total - t.size
    home_w = m["population"].to_numpy() * np.where(m["urban"].to_numpy(), 1.6, 1.0)
    home = rng.choice(len(m), size=n_addr, p=home_w / home_w.sum())
    at = _times(n_addr, _day_weights(n_days, start, 0.05), _HOURS_ONLINE, rng)
    acat = np.where(np.arange(n_addr) < n_cyber, "cybercrime", "fraud")
    rng.shuffle(acat)
    t = np.r_[t, at]
    names = np.r_[names, acat]
    x = np.r_[x, np.full(n_addr, np.nan)]
    y = np.r_[y, np.full(n_addr, np.nan)]
    mahalla = np.r_[mahalla, home]
    order = np.argsort(t, kind="stable")
    return Events(t[order], names[order], x[order], y[order], mahalla[order], hotspots)


# ---- focus fields: victims, offenders, family context ------------------------------------------

#: share of incidents whose victim (sex and age) is recorded, by category (default 0.8)
_VICTIM_KNOWN = {"drugs": 0.0, "weapons": 0.0, "traffic": 0.6, "hooliganism": 0.5,
                 "vehicle_theft": 0.7, "other": 0.4}
#: probability that a recorded victim is female, by category (default 0.35)
_VICTIM_FEMALE = {"domestic_violence": 0.85, "sexual_violence": 0.9, "fraud": 0.55,
                  "cybercrime": 0.5, "theft": 0.45}
#: victim age group weights (minor, youth, adult, senior), by category
_VICTIM_AGE = {"sexual_violence": (0.25, 0.45, 0.28, 0.02),
               "cybercrime": (0.06, 0.40, 0.44, 0.10), "fraud": (0.02, 0.25, 0.48, 0.25),
               "domestic_violence": (0.10, 0.35, 0.48, 0.07)}
_VICTIM_AGE_DEFAULT = (0.08, 0.32, 0.48, 0.12)
#: share of incidents whose offender is recorded (default 0.6)
_OFFENDER_KNOWN = {"cybercrime": 0.2, "fraud": 0.3, "domestic_violence": 0.95,
                   "drugs": 0.9, "weapons": 0.9, "homicide": 0.9}
#: offender age group weights (minor, youth, adult, senior), by category
_OFFENDER_AGE = {"hooliganism": (0.22, 0.55, 0.22, 0.01), "theft": (0.16, 0.48, 0.34, 0.02),
                 "drugs": (0.05, 0.60, 0.33, 0.02), "domestic_violence": (0.01, 0.30, 0.60,
                                                                          0.09)}
_OFFENDER_AGE_DEFAULT = (0.10, 0.45, 0.40, 0.05)
#: share of incidents in a family (domestic) context, by category (default 0.03)
_DOMESTIC = {"domestic_violence": 1.0, "homicide": 0.35, "assault": 0.25,
             "sexual_violence": 0.3, "theft": 0.04}
#: years drawn within each age group, and how each value is spelt in the raw rows
_AGE_YEARS = ((10, 18), (18, 31), (31, 60), (60, 86))
_SEX_TEXT = {"female": ("ayol", "аёл", "женский", "Ж", "F"),
             "male": ("erkak", "эркак", "мужской", "М", "M")}
_FLAG_TEXT = {True: ("ha", "ҳа", "да", "yes"), False: ("yo‘q", "йўқ", "нет", "no")}
FOCUS_RAW_COLUMNS = ("victim_sex", "victim_age", "offender_sex", "offender_age", "domestic",
                     "repeat_offender", "on_probation")


def _per_category(factorized: tuple[np.ndarray, np.ndarray], table: dict[str, float],
                  default: float) -> np.ndarray:
    codes, categories = factorized  # one lookup per category, not per row
    return np.array([table.get(str(c), default) for c in categories], dtype=float)[codes]


def _spell(values: np.ndarray, spellings: dict[object, tuple[str, ...]], known: np.ndarray,
           rng: np.random.Generator) -> np.ndarray:
    out = np.full(values.size, "", dtype=object)
    pick = rng.integers(0, 5, values.size)
    for value, texts in spellings.items():
        at = known & (values == value)
        out[at] = np.array(texts, dtype=object)[pick[at] % len(texts)]
    return out


def _ages(factorized: tuple[np.ndarray, np.ndarray], table: dict[str, tuple[float, ...]],
          default: tuple[float, ...], known: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    codes, categories = factorized  # categories in np.unique's (sorted) order
    n = codes.size
    group = np.zeros(n, dtype=np.int64)
    for i, cat in enumerate(categories):
        at = codes == i
        w = np.asarray(table.get(str(cat), default))
        group[at] = rng.choice(4, size=int(at.sum()), p=w / w.sum())
    lo = np.array([a for a, _ in _AGE_YEARS])[group]
    hi = np.array([b for _, b in _AGE_YEARS])[group]
    years = rng.integers(lo, hi)
    text = years.astype(str).astype(object)
    band = rng.random(n) < 0.15  # some sources give bands, not years
    text[band & (group == 0)] = "14-17"
    text[band & (group == 1)] = "18-30"
    text[band & (group == 3)] = "60+"
    return np.where(known, text, "")


def focus_columns(category: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Raw focus columns (:data:`FOCUS_RAW_COLUMNS`, text in mixed languages, ``""`` when not
    recorded) for incidents of canonical ``category``, deterministic for a ``seed``.

    Victims of domestic and sexual violence are mostly women, hooliganism and theft have the
    youngest offenders, drug and weapon offences have no victim, online crimes seldom a known
    offender; about a quarter of known offenders offended before, a few are on probation.
    A generator of its own (not the caller's) keeps the other demo columns as they were.
    """
    cat = np.asarray(category, dtype=object)
    n = cat.size
    rng = np.random.default_rng([20261130, seed, n])
    codes = pd.factorize(cat, sort=True, use_na_sentinel=False)  # (codes, categories), once
    victim = rng.random(n) < _per_category(codes, _VICTIM_KNOWN, 0.8)
    female = rng.random(n) < _per_category(codes, _VICTIM_FEMALE, 0.35)
    offender = rng.random(n) < _per_category(codes, _OFFENDER_KNOWN, 0.6)
    off_female = rng.random(n) < np.where(cat == "fraud", 0.25, 0.12)
    domestic = rng.random(n) < _per_category(codes, _DOMESTIC, 0.03)
    repeat = rng.random(n) < np.where(np.isin(cat, ["theft", "burglary", "drugs"]), 0.35, 0.22)
    probation = rng.random(n) < 0.06
    flagged = offender | (cat == "domestic_violence")
    return {
        "victim_sex": _spell(np.where(female, "female", "male"), _SEX_TEXT, victim, rng),
        "victim_age": _ages(codes, _VICTIM_AGE, _VICTIM_AGE_DEFAULT, victim, rng),
        "offender_sex": _spell(np.where(off_female, "female", "male"), _SEX_TEXT, offender,
                               rng),
        "offender_age": _ages(codes, _OFFENDER_AGE, _OFFENDER_AGE_DEFAULT, offender, rng),
        "domestic": _spell(domestic, _FLAG_TEXT, flagged, rng),
        "repeat_offender": _spell(repeat, _FLAG_TEXT, offender, rng),
        "on_probation": _spell(probation, _FLAG_TEXT, offender, rng),
    }
