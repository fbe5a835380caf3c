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

__all__ = ["ALPOMISH", "CAMERA_DEFAULTS", "build_cameras", "build_zone_cameras"]

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


def _along(road: object, at: np.ndarray, inside: object, step: float) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """Points ``step`` metres from ``at`` along ``road``, on the ``inside`` side, and unit
    vectors from them back to ``at`` (looking out along the road)."""
    pos = shapely.line_locate_point(road, shapely.points(at))
    fwd = shapely.get_coordinates(shapely.line_interpolate_point(road, pos + step))
    back = shapely.get_coordinates(shapely.line_interpolate_point(road, pos - step))
    into = shapely.contains_xy(inside, fwd[:, 0], fwd[:, 1])
    xy = np.where(into[:, None], fwd, back)
    u = at - xy
    return xy, u / np.maximum(np.hypot(u[:, 0], u[:, 1]), 1e-9)[:, None]


def build_zone_cameras(zone: pd.DataFrame, rng: np.random.Generator, *, first: int = 0
                       ) -> pd.DataFrame:
    """Cameras of the demo tourist zone (plane metres): a partly covered zone.

    Overview domes at four of the seven camps (the first, second, fourth and sixth along
    the shore), three overview cameras on the landward side of the beach looking at the
    water, and a licence-plate and a traffic camera just inside the entrance of the main
    access road, looking out along it; the entrance of the track has none, so the
    readiness checklist finds 1 of 2 entrances covered, and three camps, most of the beach
    and most of the shore uncovered.  All active.

    Parameters
    ----------
    zone
        Rows of :func:`etl.demo.tourism.build_zone` (``kind``, ``road_class``, geometry).
    rng
        Random generator (heights and installation dates).
    first
        Number of cameras before these: their ids go on from ``CAM-{first + 1}``.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`build_cameras` (``alpomish`` False); empty without a zone.
    """
    if zone.empty:
        return pd.DataFrame()
    kind = zone["kind"].to_numpy(dtype=object)
    geoms = zone["geometry"].to_numpy(dtype=object)
    area = geoms[kind == "tourist_zone"][0]
    parts = []
    camps = shapely.get_coordinates(geoms[kind == "camp"])
    domes = camps[[i for i in (0, 1, 3, 5) if i < len(camps)]] + np.array([12.0, 0.0])
    cams = _frame("overview", domes, np.zeros(len(domes)))
    cams["fov_deg"] = 360.0
    parts.append(cams)
    water = shapely.union_all(geoms[kind == "water"])
    beach = geoms[kind == "beach"]
    if len(beach) and not water.is_empty:
        edge = shapely.line_merge(shapely.intersection(water.boundary, beach[0].buffer(1.0)))
        edge = max(shapely.get_parts(edge), key=lambda g: g.length)
        shore = shapely.get_coordinates(shapely.line_interpolate_point(
            edge, np.array([0.2, 0.5, 0.8]), normalized=True))
        ahead = shapely.get_coordinates(shapely.line_interpolate_point(
            edge, np.array([0.2, 0.5, 0.8]) * edge.length + 20.0))
        t = ahead - shore
        normal = np.column_stack([-t[:, 1], t[:, 0]]) / np.maximum(
            np.hypot(t[:, 0], t[:, 1]), 1e-9)[:, None]
        left = shore + 90.0 * normal
        wet = shapely.contains_xy(water, left[:, 0], left[:, 1])
        xy = np.where(wet[:, None], shore - 90.0 * normal, left)
        parts.append(_frame("overview", xy, _bearing(*(shore - xy).T)))
    # the entrance of the fastest access road gets a licence-plate and a traffic camera
    roads = zone[zone["kind"] == "road"]
    entrances = shapely.get_coordinates(geoms[kind == "entrance"])
    if len(roads) and len(entrances):
        rgeoms = roads["geometry"].to_numpy(dtype=object)
        near = np.argmin(shapely.distance(shapely.points(entrances)[:, None],
                                          rgeoms[None, :]), axis=1)
        speed = pd.to_numeric(roads["speed_kmh"], errors="coerce").fillna(0).to_numpy()
        j = int(np.argmax(speed[near]))
        at = entrances[j:j + 1]
        for cam_kind, step in (("licence_plate", 10.0), ("traffic", 25.0)):
            xy, u = _along(rgeoms[near[j]], at, area, step)
            parts.append(_frame(cam_kind, xy, _bearing(*u.T)))
    out = pd.concat(parts, ignore_index=True).assign(alpomish=False)
    n = len(out)
    lo = np.array([CAMERA_DEFAULTS[k][2][0] for k in out["type"]])
    hi = np.array([CAMERA_DEFAULTS[k][2][1] for k in out["type"]])
    out["height_m"] = np.round(lo + (hi - lo) * rng.random(n), 1)
    out["status"] = "active"
    day0 = dt.date(2022, 4, 1).toordinal()
    days = rng.integers(0, dt.date(2025, 4, 30).toordinal() - day0 + 1, n) + day0
    out["installed_on"] = [dt.date.fromordinal(int(d)).isoformat() for d in days]
    out.insert(0, "camera_id", [f"CAM-{first + i + 1:05d}" for i in range(n)])
    return out


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
