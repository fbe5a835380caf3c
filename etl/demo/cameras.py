"""Synthetic cameras: a fixed set in Alpomish (Termez city), sparser ones in other towns."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

import shapely
from shapely.geometry import Point

from riskmap.etl.demo.config import SizeSpec
from riskmap.etl.demo.infra import Infra, street_points
from riskmap.etl.demo.mahallas import World

__all__ = ["ALPOMISH", "CAMERA_DEFAULTS", "build_cameras"]

# Documented defaults per camera type: (range_m, fov_deg, height range in metres).
CAMERA_DEFAULTS: dict[str, tuple[float, float, tuple[float, float]]] = {
    "face_recognition": (30.0, 60.0, (3.0, 4.5)),
    "licence_plate": (40.0, 30.0, (4.5, 6.0)),
    "traffic": (80.0, 90.0, (6.0, 8.0)),
    "overview": (120.0, 90.0, (8.0, 12.0)),
}
DOME_SHARE = 0.25  # share of overview cameras that are 360-degree domes
# Alpomish (Termez city): the district, the mahalla name and its cameras per type.
ALPOMISH = ("Termiz shahri", "Alpomish",
            {"face_recognition": 20, "traffic": 3, "licence_plate": 3})
_TYPE_SHARE = {"overview": 0.35, "face_recognition": 0.30, "traffic": 0.20,
               "licence_plate": 0.15}


def _bearing(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Compass bearing (degrees clockwise from north) of the vector (dx east, dy north)."""
    return np.round((np.degrees(np.arctan2(dx, dy)) + 360.0) % 360.0, 1)


def _frame(kind: str, xy: np.ndarray, bearing: np.ndarray) -> pd.DataFrame:
    rng_m, fov, _ = CAMERA_DEFAULTS[kind]
    n = len(xy)
    return pd.DataFrame({"x": xy[:, 0] if n else [], "y": xy[:, 1] if n else [],
                         "type": kind, "bearing_deg": bearing, "fov_deg": fov,
                         "range_m": rng_m})


def _alpomish(world: World, infra: Infra, rng: np.random.Generator
              ) -> tuple[pd.DataFrame, list[dict[str, object]], object]:
    """Alpomish's cameras, its school and bus-stop features, and its polygon."""
    district, name, _ = ALPOMISH
    m = world.mahallas
    row = m[(m["district"] == district) & (m["name"] == name)]
    if row.empty:
        return pd.DataFrame(), [], None
    poly = row["geometry"].iloc[0]
    towns = world.towns
    k = int(towns.index[(towns["district"] == district) & towns["centre"]][0])
    lines = infra.streets[k]
    ang = infra.street_angle[k]
    inner = poly.buffer(-40)
    inside = shapely.intersection(lines, inner)
    inside = inside[~shapely.is_empty(inside) & (shapely.length(inside) > 20)]
    inside = np.concatenate([shapely.get_parts(g) for g in inside])
    inside = inside[shapely.get_type_id(inside) == 1]
    # schools and bus stops on the streets inside
    sites = street_points(inside, 6, rng)
    feats = [{"kind": "school" if j < 2 else "bus_stop",
                  "name": f"Alpomish {j + 1}-sonli maktabi" if j < 2 else f"Alpomish {j - 1}-bekat",
                  "road_class": None, "speed_kmh": None, "season_start": None, "season_end": None, "town": k,
                  "geometry": Point(x, y)} for j, (x, y) in enumerate(sites)]
    # face recognition: 3 per school, 2 per bus stop, 6 along the streets; looking at the site
    per_site = np.r_[3, 3, 2, 2, 2, 2]
    targets = np.vstack([np.repeat(sites, per_site, axis=0), street_points(inside, 6, rng)])
    ang_f = rng.uniform(0, 2 * np.pi, len(targets))
    cam = targets + 15.0 * np.column_stack([np.cos(ang_f), np.sin(ang_f)])
    bad = ~shapely.contains_xy(poly, cam[:, 0], cam[:, 1])
    cam[bad] = targets[bad]  # no room beside the site: mount it on the site itself
    face = _frame("face_recognition", cam, _bearing(*(targets - cam).T))
    # traffic: at street crossings inside, looking along a street
    cr = infra.crossings[k]
    cr = cr[shapely.contains_xy(inner, cr[:, 0], cr[:, 1])]
    if len(cr) < 3:
        cr = np.vstack([cr, street_points(inside, 3 - len(cr), rng)])
    cr = cr[:3]
    dirs = ang + rng.integers(0, 4, len(cr)) * np.pi / 2
    traffic = _frame("traffic", cr, _bearing(np.cos(dirs), np.sin(dirs)))
    # licence plates: just inside three entrances (streets crossing the boundary), looking out
    cross = shapely.intersection(lines, poly.boundary)
    pts, owner = shapely.get_parts(cross, return_index=True)
    keep = shapely.get_type_id(pts) == 0
    pts, owner = shapely.get_coordinates(pts[keep]), owner[keep]
    cen = np.array(shapely.get_coordinates(poly.centroid))[0]
    order = np.argsort(np.arctan2(pts[:, 1] - cen[1], pts[:, 0] - cen[0]), kind="stable")
    pick = order[np.linspace(0, len(order), 3, endpoint=False).astype(int)]
    ends = shapely.get_coordinates(lines[owner[pick]]).reshape(-1, 2, 2)
    u = ends[:, 1] - ends[:, 0]
    u = u / np.hypot(u[:, 0], u[:, 1])[:, None]
    p = pts[pick]
    step_in = np.where(shapely.contains_xy(poly, *(p + 8 * u).T)[:, None], u, -u)
    lp_xy = p + 8 * step_in
    lp = _frame("licence_plate", lp_xy, _bearing(*(-step_in).T))
    return pd.concat([face, traffic, lp], ignore_index=True), feats, poly


def _town_cameras(world: World, infra: Infra, spec: SizeSpec, rng: np.random.Generator
                  ) -> pd.DataFrame:
    f = infra.features
    roads = f[(f["kind"] == "road") & (f["town"] == -1)]["geometry"].to_numpy()
    tree = shapely.STRtree(roads)
    out = []
    for k, t in world.towns.iterrows():
        n = round(float(t["pop"]) / 10_000 * spec.cameras_per_10k)
        if not t["centre"]:
            n = int(rng.random() < 0.2)
        if n == 0:
            continue
        kinds = rng.choice(list(_TYPE_SHARE), size=n, p=list(_TYPE_SHARE.values()))
        lines = infra.streets[int(k)]
        ang = infra.street_angle[int(k)]
        sites = f[(f["town"] == k) & f["kind"].isin(["school", "bus_stop", "market"])]
        site_xy = shapely.get_coordinates(sites["geometry"].to_numpy())
        for kind in _TYPE_SHARE:
            m = int((kinds == kind).sum())
            if m == 0:
                continue
            if kind == "face_recognition" and len(site_xy):
                tgt = site_xy[rng.integers(0, len(site_xy), m)]
                a = rng.uniform(0, 2 * np.pi, m)
                xy = tgt + 15.0 * np.column_stack([np.cos(a), np.sin(a)])
                out.append(_frame(kind, xy, _bearing(*(tgt - xy).T)))
                continue
            if kind == "licence_plate":
                circle = Point(t["x"], t["y"]).buffer(float(t["radius"]), 32).boundary
                hits = roads[tree.query(circle, predicate="intersects")]
                ent = shapely.get_coordinates(shapely.intersection(hits, circle))
                if len(ent):
                    e = ent[rng.integers(0, len(ent), m)]
                    u = np.array([t["x"], t["y"]]) - e
                    u = u / np.maximum(np.hypot(u[:, 0], u[:, 1]), 1e-9)[:, None]
                    out.append(_frame(kind, e + 10 * u, _bearing(*(-u).T)))
                    continue
            xy = (infra.crossings[int(k)] if kind == "traffic" and len(infra.crossings[int(k)])
                  else street_points(lines, m, rng))
            xy = xy[rng.integers(0, len(xy), m)]
            d = ang + rng.integers(0, 4, m) * np.pi / 2
            cams = _frame(kind, xy, _bearing(np.cos(d), np.sin(d)))
            if kind == "overview":
                dome = rng.random(m) < DOME_SHARE
                cams.loc[dome, "fov_deg"] = 360.0
                cams.loc[dome, "bearing_deg"] = 0.0
            out.append(cams)
    motorway = f[(f["kind"] == "road") & (f["road_class"] == "motorway")]["geometry"].to_numpy()
    use = motorway[rng.random(len(motorway)) < 0.5]
    if len(use):
        fr = rng.uniform(0.2, 0.8, len(use))
        p = shapely.get_coordinates(shapely.line_interpolate_point(use, fr, normalized=True))
        q = shapely.get_coordinates(shapely.line_interpolate_point(use, fr + 0.01,
                                                                   normalized=True))
        out.append(_frame("traffic", p, _bearing(*(q - p).T)))
    return pd.concat(out, ignore_index=True)


def build_cameras(world: World, infra: Infra, spec: SizeSpec, rng: np.random.Generator
                  ) -> tuple[pd.DataFrame, list[dict[str, object]]]:
    """All cameras (plane metres) and Alpomish's extra school/bus-stop features.

    Returns
    -------
    cameras, features
        cameras: camera_id, x, y, type, bearing_deg, fov_deg, range_m, height_m,
        installed_on (``YYYY-MM-DD`` or empty when planned), status, alpomish (bool).
    """
    alp, feats, poly = _alpomish(world, infra, rng)
    town = _town_cameras(world, infra, spec, rng)
    if poly is not None:
        town = town[~shapely.contains_xy(poly.buffer(5), town["x"], town["y"])]
    alp = alp.assign(alpomish=True)
    town = town.assign(alpomish=False)
    cams = pd.concat([alp, town], ignore_index=True)
    n = len(cams)
    lo = np.array([CAMERA_DEFAULTS[k][2][0] for k in cams["type"]])
    hi = np.array([CAMERA_DEFAULTS[k][2][1] for k in cams["type"]])
    cams["height_m"] = np.round(lo + (hi - lo) * rng.random(n), 1)
    status = rng.choice(["active", "planned", "broken"], size=n, p=[0.85, 0.10, 0.05])
    status[cams["alpomish"].to_numpy()] = "active"
    cams["status"] = status
    day0 = dt.date(2017, 1, 1).toordinal()
    days = rng.integers(0, dt.date(2025, 12, 31).toordinal() - day0 + 1, n) + day0
    cams["installed_on"] = [dt.date.fromordinal(int(d)).isoformat() for d in days]
    cams.loc[cams["status"] == "planned", "installed_on"] = ""
    cams.insert(0, "camera_id", [f"CAM-{i + 1:05d}" for i in range(n)])
    return cams, feats
