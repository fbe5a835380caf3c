"""Synthetic mahallas: Voronoi cells of seed points clipped to each district, with names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

import shapely
from shapely.geometry import MultiPoint, MultiPolygon

from riskmap.etl.demo.config import SizeSpec
from riskmap.etl.demo.names import MAHALLA_NAMES, to_cyrillic
from riskmap.etl.demo.places import District, Region, to_xy, town_radius

__all__ = ["NAMED_MAHALLAS", "World", "build_mahallas"]

# Real mahalla names placed in their real district: the first sits on the district centre,
# the others on the nearest town mahallas.
NAMED_MAHALLAS: dict[str, tuple[str, ...]] = {
    "Mirzacho‘l tumani": ("Mustaqillik",),
    "Jizzax shahri": ("Do‘stlik", "Yoshlik"),
    "Sharof Rashidov tumani": ("Madaniyat",),
    "Arnasoy tumani": ("G‘oliblar",),
    "Baxmal tumani": ("Bog‘ishamol",),
    "G‘allaorol tumani": ("Nurafshon", "Guliston"),
    "Termiz shahri": ("Alpomish",),
    "Qumqo‘rg‘on tumani": ("Yangishahar",),
}


@dataclass
class World:
    """Everything later steps need about the generated places (plane metres).

    Attributes
    ----------
    regions
        Region records (with districts).
    region_polys, district_polys
        Outlines keyed by region name and by (region, district).
    mahallas
        One row per mahalla: mahalla_id, name, name_cyrillic, district, region, population,
        urban (bool), town (index into ``towns`` or -1), sx, sy (seed), geometry (metres).
    towns
        One row per town: name, district, region, x, y, pop, radius, centre (bool: a district
        centre), city (bool), station (bool).
    """

    regions: tuple[Region, ...]
    region_polys: dict[str, object]
    district_polys: dict[tuple[str, str], object]
    mahallas: pd.DataFrame
    towns: pd.DataFrame


def _hex_lattice(cx: float, cy: float, radius: float, spacing: float,
                 rng: np.random.Generator, jitter: float) -> tuple[np.ndarray, np.ndarray]:
    """Jittered hexagonal lattice points within ``radius`` of a centre."""
    n = int(np.ceil(radius / spacing)) + 1
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1), indexing="ij")
    x = (i + 0.5 * (j % 2)) * spacing
    y = j * spacing * np.sqrt(3) / 2
    x, y = x.ravel(), y.ravel()
    keep = np.hypot(x, y) <= radius
    x, y = x[keep], y[keep]
    x = x + rng.uniform(-jitter, jitter, x.size) * spacing
    y = y + rng.uniform(-jitter, jitter, y.size) * spacing
    return cx + x, cy + y


def _towns_of_district(reg: Region, d: District, poly: object, spec: SizeSpec,
                       rng: np.random.Generator) -> list[dict[str, object]]:
    cx, cy = to_xy(d.lon, d.lat)
    towns: list[dict[str, object]] = [{
        "name": d.town, "district": d.name, "region": reg.name, "x": float(cx), "y": float(cy),
        "pop": float(d.town_pop), "radius": town_radius(d.town_pop), "centre": True, "city": d.city,
        "station": d.station}]
    if d.city or spec.villages == 0:
        return towns
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    tries = 0
    while len(towns) < spec.villages + 1 and tries < 400:
        tries += 1
        px, py = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not shapely.contains_xy(poly, px, py):
            continue
        pop = float(rng.integers(3, 12) * 500)
        r = town_radius(pop)
        if min(np.hypot(t["x"] - px, t["y"] - py) - t["radius"] for t in towns) < 3 * r + 1500:
            continue
        name = f"{rng.choice(MAHALLA_NAMES)} qishlog‘i"
        towns.append({"name": name, "district": d.name, "region": reg.name, "x": px, "y": py, "pop": pop,
                          "radius": r, "centre": False, "city": False, "station": False})
    return towns


def _seeds(poly: object, towns: list[dict[str, object]], spec: SizeSpec,
           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed points of one district and the town index (into ``towns``) of each, -1 = steppe."""
    xs, ys, tix = [], [], []
    for k, t in enumerate(towns):
        n = max(1, round(float(t["pop"]) / spec.urban_pop))
        spacing = np.sqrt(2 * np.pi * float(t["radius"]) ** 2 / n / np.sqrt(3))
        x, y = _hex_lattice(float(t["x"]), float(t["y"]), 2 * float(t["radius"]) + spacing,
                            spacing, rng, 0.22)
        near = np.argsort(np.hypot(x - float(t["x"]), y - float(t["y"])), kind="stable")[:n]
        x, y = x[near], y[near]
        xs.append(x)
        ys.append(y)
        tix.append(np.full(x.size, k))
    minx, miny, maxx, maxy = poly.bounds
    s = spec.steppe_spacing_m
    bx = 0.5 * (minx + maxx)
    by = 0.5 * (miny + maxy)
    radius = 0.5 * np.hypot(maxx - minx, maxy - miny) + s
    x, y = _hex_lattice(bx + rng.uniform(0, s), by + rng.uniform(0, s), radius, s, rng, 0.3)
    tx = np.array([t["x"] for t in towns])
    ty = np.array([t["y"] for t in towns])
    tr = np.array([t["radius"] for t in towns])
    far = (np.hypot(x[:, None] - tx, y[:, None] - ty) - tr > 0.5 * s).all(axis=1)
    xs.append(x[far])
    ys.append(y[far])
    tix.append(np.full(int(far.sum()), -1))
    x, y, t = np.concatenate(xs), np.concatenate(ys), np.concatenate(tix)
    inside = shapely.contains_xy(poly, x, y)
    x, y, t = x[inside], y[inside], t[inside]
    if x.size == 0:  # a tiny district: its representative point
        p = shapely.point_on_surface(poly)
        x, y, t = np.array([p.x]), np.array([p.y]), np.array([-1])
    return x, y, t


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only polygonal parts (a clip may add stray lines or points)."""
    out = geoms.copy()
    bad = ~np.isin(shapely.get_type_id(out), (3, 6))
    for i in np.flatnonzero(bad):
        parts = shapely.get_parts(out[i])
        parts = parts[shapely.get_type_id(parts) == 3]
        out[i] = MultiPolygon(list(parts)) if len(parts) > 1 else parts[0]
    return out


def _cells(x: np.ndarray, y: np.ndarray, poly: object) -> np.ndarray:
    if x.size == 1:
        return np.array([poly], dtype=object)
    env = shapely.buffer(shapely.envelope(poly), 50_000)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(MultiPoint(np.column_stack([x, y])), extend_to=env,
                                 ordered=True))
    return _polygonal(shapely.intersection(cells, poly))


def _names(n: int, rng: np.random.Generator) -> list[str]:
    """``n`` names unique within a district; common ones more likely."""
    v = len(MAHALLA_NAMES)
    w = np.ones(v)
    w[:20] = 4.0
    k = min(n, v)
    names = [MAHALLA_NAMES[i] for i in rng.choice(v, size=k, replace=False, p=w / w.sum())]
    extra = n - k
    rounds = 0
    while extra > 0:
        rounds += 1
        prefix = ("Yangi ", "Eski ", "Katta ", "Kichik ")
        for base in MAHALLA_NAMES:
            if extra == 0:
                break
            label = f"{prefix[rounds - 1]}{base}" if rounds <= 4 else f"{base}-{rounds - 3}"
            names.append(label)
            extra -= 1
    return names


def _place_named(names: list[str], district: str, x: np.ndarray, y: np.ndarray,
                 towns: list[dict[str, object]], tix: np.ndarray, cells: np.ndarray) -> None:
    wanted = NAMED_MAHALLAS.get(district, ())
    if not wanted:
        return
    cx, cy = float(towns[0]["x"]), float(towns[0]["y"])
    hit = np.flatnonzero(shapely.contains_xy(cells, cx, cy))
    first = int(hit[0]) if len(hit) else int(np.argmin(np.hypot(x - cx, y - cy)))
    order = [first] + [int(i) for i in np.argsort(np.hypot(x - cx, y - cy), kind="stable")
                       if i != first and tix[i] == 0]
    for name, idx in zip(wanted, order, strict=False):
        if name in names:
            j = names.index(name)
            names[j], names[idx] = names[idx], names[j]
        else:
            names[idx] = name


def build_mahallas(regions: tuple[Region, ...], region_polys: dict[str, object],
                   district_polys: dict[tuple[str, str], object], spec: SizeSpec,
                   rng: np.random.Generator) -> World:
    """Tessellate every district into mahallas.

    Parameters
    ----------
    regions, region_polys, district_polys
        From :func:`etl.demo.places.build_admin`.
    spec
        Size preset (town mahalla population, steppe seed spacing, villages).
    rng
        Random generator.

    Returns
    -------
    World
        Places with mahallas and towns (plane metres).
    """
    rows: list[pd.DataFrame] = []
    all_towns: list[dict[str, object]] = []
    for reg in regions:
        serial = 0
        for d in reg.districts:
            poly = district_polys[(reg.name, d.name)]
            towns = _towns_of_district(reg, d, poly, spec, rng)
            x, y, tix = _seeds(poly, towns, spec, rng)
            cells = _cells(x, y, poly)
            names = _names(x.size, rng)
            _place_named(names, d.name, x, y, towns, tix, cells)
            urban = tix >= 0
            area_km2 = shapely.area(cells) / 1e6
            typical = np.where(urban, spec.urban_pop, 0.0)
            pop = np.where(
                urban,
                np.clip(typical * rng.lognormal(0.0, 0.35, x.size), 1500, 8000),
                np.clip(area_km2 * rng.uniform(3, 20, x.size), 150, 4000))
            ids = [f"{reg.code}-{serial + k + 1:04d}" for k in range(x.size)]
            serial += x.size
            offset = len(all_towns)
            rows.append(pd.DataFrame({
                "mahalla_id": ids, "name": names,
                "name_cyrillic": [to_cyrillic(n) for n in names],
                "district": d.name, "region": reg.name,
                "population": np.round(pop / 10) * 10,
                "urban": urban, "town": np.where(urban, tix + offset, -1),
                "sx": x, "sy": y, "geometry": cells,
            }))
            all_towns.extend(towns)
    mahallas = pd.concat(rows, ignore_index=True)
    towns_df = pd.DataFrame(all_towns)
    return World(regions, region_polys, district_polys, mahallas, towns_df)

