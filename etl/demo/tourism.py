"""The Aydar-Arnasay tourist zone with its camps, beach, posts, access roads and power lines."""

from __future__ import annotations

import numpy as np
import pandas as pd

import shapely
from shapely.geometry import LineString, Point

from riskmap.etl.demo.infra import ROAD_SPEEDS, road_line
from riskmap.etl.demo.mahallas import World
from riskmap.etl.demo.places import to_xy

__all__ = ["SEASON", "ZONE_NAME", "build_zone"]

ZONE_NAME = "Aydar-Arnasay"
SEASON = ("05-01", "09-30")
# Axis along the Aydar-Arnasay lakes (lon, lat), west to east, in the Forish and Arnasoy
# districts of Jizzakh region.
_AXIS = ((67.05, 40.92), (67.30, 40.99), (67.60, 40.97), (67.80, 40.90), (67.95, 40.82))
_DISTRICTS = ("Forish tumani", "Arnasoy tumani")
_HALF_WIDTH_M = 3_500.0


def _row(kind: str, name: str, geom: object, road_class: str | None = None,
         season: tuple[str, str] | None = None) -> dict[str, object]:
    return {"kind": kind, "name": name, "road_class": road_class,
                "speed_kmh": ROAD_SPEEDS[road_class] if road_class else None,
                "season_start": season[0] if season else None,
                "season_end": season[1] if season else None, "town": -1, "geometry": geom}


def build_zone(world: World, rng: np.random.Generator) -> pd.DataFrame:
    """Features of the Aydar-Arnasay tourist zone (plane metres).

    The zone is a band along the lakes clipped to the Forish and Arnasoy districts; camps,
    a beach, hotels, a police post, an emergency service (112) and a medical point lie
    inside it; access roads lead from the nearest towns to it, with an ``entrance`` where
    each crosses the zone boundary; power lines run from the Arnasoy centre to the camps.
    Returns an empty frame when Jizzakh region is not part of the world.
    """
    region = "Jizzax viloyati"
    parts = [world.district_polys.get((region, d)) for d in _DISTRICTS]
    if any(p is None for p in parts):
        return pd.DataFrame()
    ax, ay = to_xy(np.array([p[0] for p in _AXIS]), np.array([p[1] for p in _AXIS]))
    axis = LineString(np.column_stack([ax, ay]))
    zone = shapely.intersection(axis.buffer(_HALF_WIDTH_M, 24), shapely.union_all(parts))
    inner = zone.buffer(-500)
    rows = [_row("tourist_zone", ZONE_NAME, zone, season=SEASON)]
    # camps along the axis, a little off it, kept inside the zone
    fr = np.linspace(0.08, 0.92, 7) + rng.uniform(-0.03, 0.03, 7)
    pts = shapely.line_interpolate_point(axis, fr, normalized=True)
    xy = shapely.get_coordinates(pts) + rng.normal(0, 600, (7, 2))
    ok = shapely.contains_xy(inner, xy[:, 0], xy[:, 1])
    xy = np.where(ok[:, None], xy, shapely.get_coordinates(pts))
    names = ("Aydar", "Tuzkon", "Arnasoy", "Qo‘ng‘irot", "Sohil", "Baliqchi", "Qamish")
    for n, (x, y) in zip(names, xy, strict=True):
        rows.append(_row("camp", f"{n} oromgohi", Point(x, y)))
    beach_axis = shapely.line_interpolate_point(axis, [0.40, 0.48], normalized=True)
    beach = shapely.intersection(LineString(shapely.get_coordinates(beach_axis)).buffer(120),
                                 inner)
    rows.append(_row("beach", "Aydar plyaji", beach))
    hub = xy[3]
    site = {
        "police_post": ("Aydar-Arnasay IIB posti", (150, 0)),
        "emergency_service": ("112 Aydar-Arnasay", (-150, 60)),
        "medical": ("Aydar-Arnasay tibbiy punkti", (0, 180)),
    }
    for kind, (name, (dx, dy)) in site.items():
        rows.append(_row(kind, name, Point(hub[0] + dx, hub[1] + dy)))
    for j, k in enumerate((1, 5)):
        rows.append(_row("hotel", f"Aydar mehmonxonasi {j + 1}", Point(xy[k, 0] + 200, xy[k, 1])))
    # access roads from the two nearest district centres to camps, with entrances
    towns = world.towns
    centres = towns[towns["centre"] & towns["district"].isin(_DISTRICTS)]
    targets = {"Forish tumani": xy[1], "Arnasoy tumani": xy[4]}
    for cls, (_, t) in zip(("tertiary", "track"), centres.iterrows(), strict=False):
        tx, ty = targets[str(t["district"])]
        road = road_line(float(t["x"]), float(t["y"]), float(tx), float(ty), rng, 0.03)
        rows.append(_row("road", f"{t['name']} – {ZONE_NAME} yo‘li", road, road_class=cls))
        cross = shapely.get_parts(shapely.intersection(road, zone.exterior
                                                       if zone.geom_type == "Polygon"
                                                       else zone.boundary))
        for c in cross[shapely.get_type_id(cross) == 0][:1]:
            rows.append(_row("entrance", f"{ZONE_NAME} kirish ({t['name']})", c))
        if str(t["district"]) == "Arnasoy tumani":
            line = LineString([(float(t["x"]), float(t["y"])), *map(tuple, xy[2:6])])
            rows.append(_row("power_line", "35 kV Arnasoy – Aydar elektr uzatish liniyasi",
                             line))
    return pd.DataFrame(rows)
