"""Synthetic infrastructure: town points, a road network, town streets and public sites."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay

import shapely
from shapely.geometry import LineString, Point

from riskmap.etl.demo.mahallas import World

__all__ = ["ROAD_SPEEDS", "Infra", "build_infra", "road_line"]

ROAD_SPEEDS: dict[str, float] = {
    "motorway": 90.0, "primary": 70.0, "secondary": 50.0, "tertiary": 40.0, "track": 20.0,
}

# Trunk roads, as chains of town names (consecutive towns are joined).
_MOTORWAYS: tuple[tuple[str, ...], ...] = (
    ("Gagarin", "Jizzax", "G‘allaorol"),
    ("Termiz", "Jarqo‘rg‘on", "Qumqo‘rg‘on", "Sho‘rchi", "Denov"),
    ("Termiz", "Sherobod", "Boysun"),
    ("Kitob", "Shahrisabz", "G‘uzor", "Qarshi", "Koson", "Muborak"),
    ("Toshkent", "Guliston", "Jizzax", "Samarqand", "Navoiy", "Buxoro", "Urganch", "Nukus"),
    ("Samarqand", "Kitob"),
    ("Toshkent", "Namangan", "Andijon", "Farg‘ona"),
    ("Toshkent", "Nurafshon"),
)


@dataclass
class Infra:
    """Generated infrastructure in plane metres.

    Attributes
    ----------
    features
        kind, name, road_class, speed_kmh, season_start, season_end, town (index or -1),
        geometry.
    streets
        Per town index: the array of street lines (for cameras and sites).
    crossings
        Per town index: street crossing points as an (n, 2) array.
    street_angle
        Per town index: the grid angle in radians (streets run at angle and angle + 90°).
    """

    features: pd.DataFrame
    streets: dict[int, np.ndarray] = field(default_factory=dict)
    crossings: dict[int, np.ndarray] = field(default_factory=dict)
    street_angle: dict[int, float] = field(default_factory=dict)


def road_line(ax: float, ay: float, bx: float, by: float, rng: np.random.Generator,
              wiggle: float = 0.04) -> LineString:
    """A gently bent road from a to b (two inner vertices offset across the line)."""
    t = np.array([0.0, 1 / 3, 2 / 3, 1.0])
    x = ax + (bx - ax) * t
    y = ay + (by - ay) * t
    length = float(np.hypot(bx - ax, by - ay))
    nx, ny = (-(by - ay) / length, (bx - ax) / length) if length > 0 else (0.0, 0.0)
    off = np.r_[0.0, rng.normal(0, wiggle * length, 2), 0.0]
    return LineString(np.column_stack([x + nx * off, y + ny * off]))


def _feature(kind: str, name: str, geom: object, *, town: int = -1, road_class: str | None = None,
             season: tuple[str, str] | None = None) -> dict[str, object]:
    return {"kind": kind, "name": name, "road_class": road_class,
                "speed_kmh": ROAD_SPEEDS[road_class] if road_class else None,
                "season_start": season[0] if season else None,
                "season_end": season[1] if season else None, "town": town, "geometry": geom}


def _region_roads(towns: pd.DataFrame, rng: np.random.Generator) -> list[dict[str, object]]:
    """Roads joining the towns of each region: a spanning tree plus short extra links."""
    out: list[dict[str, object]] = []
    for _, grp in towns.groupby("region", sort=False):
        idx = grp.index.to_numpy()
        if len(idx) < 2:
            continue
        pts = grp[["x", "y"]].to_numpy()
        if len(idx) == 2:
            edges = np.array([[0, 1]])
        else:
            tri = Delaunay(pts)
            s = tri.simplices
            edges = np.unique(np.sort(np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]]),
                                      axis=1), axis=0)
        length = np.hypot(*(pts[edges[:, 0]] - pts[edges[:, 1]]).T)
        n = len(idx)
        mst = minimum_spanning_tree(coo_matrix((length, (edges[:, 0], edges[:, 1])),
                                               shape=(n, n))).tocoo()
        in_mst = {(min(a, b), max(a, b)) for a, b in zip(mst.row, mst.col, strict=True)}
        cut = 1.3 * float(np.median(mst.data)) if mst.nnz else 0.0
        centre = grp["centre"].to_numpy()
        city = grp["city"].to_numpy()
        for (a, b), ln in zip(edges, length, strict=True):
            tree = (int(a), int(b)) in in_mst
            if not tree and ln > cut:
                continue
            if city[a] or city[b]:
                cls = "primary"
            elif centre[a] and centre[b]:
                cls = "secondary" if tree else "tertiary"
            else:
                cls = "tertiary" if tree else "track"
            name = f"{grp['name'].iloc[a]} – {grp['name'].iloc[b]} yo‘li"
            out.append(_feature("road", name, road_line(*pts[a], *pts[b], rng),
                                road_class=cls))
    return out


def _motorways(towns: pd.DataFrame, rng: np.random.Generator) -> list[dict[str, object]]:
    where = {n: (x, y) for n, x, y in zip(towns["name"], towns["x"], towns["y"], strict=True)}
    out = []
    for chain in _MOTORWAYS:
        present = [n for n in chain if n in where]
        for a, b in itertools.pairwise(present):
            if abs(chain.index(a) - chain.index(b)) != 1:
                continue
            out.append(_feature("road", f"{a} – {b} avtomagistrali",
                                road_line(*where[a], *where[b], rng, 0.02),
                                road_class="motorway"))
    return out


def _street_grid(k: int, t: pd.Series, rng: np.random.Generator
                 ) -> tuple[list[dict[str, object]], np.ndarray, np.ndarray, float]:
    """A rotated street grid clipped to the town disc; returns features, lines, crossings."""
    r = float(t["radius"]) * 1.05
    spacing = 380.0 if t["city"] else 320.0
    m = max(1, int(r // spacing))
    offs = np.arange(-m, m + 1) * spacing
    ang = float(rng.uniform(-np.pi / 6, np.pi / 6))
    ux, uy = np.cos(ang), np.sin(ang)  # along the first family
    vx, vy = -uy, ux
    cx, cy = float(t["x"]), float(t["y"])
    feats, lines = [], []
    for fam, (ax, ay, px, py) in enumerate(((ux, uy, vx, vy), (vx, vy, ux, uy))):
        for o in offs:
            half = np.sqrt(max(r * r - o * o, 0.0))
            if half < spacing / 2:
                continue
            ox, oy = cx + px * o, cy + py * o
            line = LineString([(ox - ax * half, oy - ay * half), (ox + ax * half, oy + ay * half)])
            main = o == 0
            cls = "secondary" if main else "tertiary"
            label = "Markaziy" if main else f"{fam + 1}-{round(o / spacing) + m + 1}"
            feats.append(_feature("road", f"{t['name']} {label} ko‘chasi", line, town=k,
                                  road_class=cls))
            lines.append(line)
    gi, gj = np.meshgrid(offs, offs, indexing="ij")
    gx = cx + ux * gi.ravel() + vx * gj.ravel()
    gy = cy + uy * gi.ravel() + vy * gj.ravel()
    inside = np.hypot(gx - cx, gy - cy) < r - spacing / 2
    return feats, np.array(lines, dtype=object), np.column_stack([gx[inside], gy[inside]]), ang


def street_points(lines: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random points on the given lines (uniform along a random line), as (n, 2)."""
    pick = rng.integers(0, len(lines), n)
    frac = rng.uniform(0.1, 0.9, n)
    pts = shapely.line_interpolate_point(lines[pick], frac, normalized=True)
    return shapely.get_coordinates(pts)


def _town_sites(k: int, t: pd.Series, lines: np.ndarray, rng: np.random.Generator
                ) -> list[dict[str, object]]:
    pop = float(t["pop"])
    name = str(t["name"])
    out: list[dict[str, object]] = []
    counts = {
        "school": max(1, round(pop / 6000)), "bus_stop": max(1, round(pop / 4000)),
        "market": 1 + int(pop // 80_000), "police_post": max(1, int(pop // 40_000)),
        "medical": max(1, int(pop // 30_000)) if t["centre"] else int(rng.random() < 0.5),
        "emergency_service": (1 + int(bool(t["city"]))) if t["centre"] else 0,
        "fire_station": (1 + int(bool(t["city"]))) if t["centre"] else 0,
        "station": int(bool(t["station"])),
    }
    labels = {
        "school": "{k}-sonli umumiy o‘rta ta’lim maktabi", "bus_stop": "{name} {k}-bekat",
        "market": "{name} dehqon bozori {k}", "police_post": "{name} IIB posti {k}",
        "medical": "{name} oilaviy poliklinikasi {k}", "emergency_service": "112 {name} {k}",
        "fire_station": "{name} yong‘in-qutqaruv qismi {k}",
        "station": "{name} temir yo‘l vokzali",
    }
    for kind, n in counts.items():
        if n == 0:
            continue
        if kind == "market":  # markets sit near the centre
            ang = rng.uniform(0, 2 * np.pi, n)
            rad = rng.uniform(0.05, 0.35, n) * float(t["radius"])
            xy = np.column_stack([t["x"] + rad * np.cos(ang), t["y"] + rad * np.sin(ang)])
        else:
            xy = street_points(lines, n, rng)
        for j, (x, y) in enumerate(xy):
            out.append(_feature(kind, labels[kind].format(name=name, k=j + 1), Point(x, y),
                                town=k))
    return out


def build_infra(world: World, rng: np.random.Generator) -> Infra:
    """Towns, roads (inter-town and town streets) and public sites for the world.

    Parameters
    ----------
    world
        Places and mahallas (plane metres).
    rng
        Random generator.

    Returns
    -------
    Infra
        Features in plane metres plus per-town streets and crossings.
    """
    towns = world.towns
    infra = Infra(features=pd.DataFrame())
    feats: list[dict[str, object]] = []
    for k, t in towns.iterrows():
        feats.append(_feature("town", str(t["name"]), Point(t["x"], t["y"]), town=int(k)))
        grid, lines, crossings, ang = _street_grid(int(k), t, rng)
        feats.extend(grid)
        infra.streets[int(k)] = lines
        infra.crossings[int(k)] = crossings
        infra.street_angle[int(k)] = ang
        feats.extend(_town_sites(int(k), t, lines, rng))
    feats.extend(_region_roads(towns, rng))
    motorways = _motorways(towns, rng)
    feats.extend(motorways)
    for j, f in enumerate(motorways):  # highway police posts midway
        mid = shapely.line_interpolate_point(f["geometry"], 0.5, normalized=True)
        feats.append(_feature("police_post", f"YHXB posti {j + 1}", mid))
    m = world.mahallas
    steppe = m.index[~m["urban"].to_numpy()]
    pick = steppe[rng.random(len(steppe)) < 0.25]
    for j, i in enumerate(pick):
        feats.append(_feature("school", f"{j + 1}-sonli qishloq maktabi",
                              Point(m.at[i, "sx"], m.at[i, "sy"])))
    infra.features = pd.DataFrame(feats)
    return infra
