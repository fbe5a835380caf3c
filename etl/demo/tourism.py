"""The Aydar-Arnasay tourist zone around the real Aydar lake outline, with its camps, beach,
posts, access roads and power lines.

The lake outline is derived from Natural Earth (public domain, naturalearthdata.com): the
1:10m lake "Aydar Ko'l" of ``ne_10m_lakes``, simplified with Douglas-Peucker at 500 m in UTM
42N and rounded to 0.001 degrees (64 vertices).  Only the outline is real; everything placed
around it is synthetic.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import substring

from riskmap.etl.demo.infra import ROAD_SPEEDS, road_line
from riskmap.etl.demo.mahallas import World
from riskmap.etl.demo.places import to_xy

__all__ = ["AYDAR_LAKE", "SEASON", "ZONE_NAME", "build_zone"]

ZONE_NAME = "Aydar-Arnasay"
SEASON = ("05-01", "09-30")
#: Outline (lon, lat) of Aydar lake (Aydarko'l, with the Tuzkan/Arnasay arm to the north-east).
#: Derived from Natural Earth 1:10m lakes (public domain): Douglas-Peucker at 500 m in UTM 42N,
#: rounded to 0.001 degrees.  The real water area varies from year to year.
AYDAR_LAKE = (
    (68.034, 41.043), (68.059, 41.055), (68.014, 40.934), (67.975, 40.861), (67.905, 40.815),
    (67.846, 40.819), (67.804, 40.783), (67.789, 40.784), (67.749, 40.806), (67.708, 40.810),
    (67.667, 40.793), (67.618, 40.758), (67.588, 40.749), (67.502, 40.748), (67.485, 40.729),
    (67.592, 40.632), (67.602, 40.610), (67.605, 40.551), (67.631, 40.513), (67.627, 40.501),
    (67.607, 40.497), (67.528, 40.532), (67.490, 40.566), (67.422, 40.596), (67.326, 40.669),
    (67.309, 40.689), (67.329, 40.747), (67.322, 40.766), (67.252, 40.769), (67.156, 40.801),
    (67.101, 40.775), (67.075, 40.776), (66.885, 40.883), (66.853, 40.893), (66.133, 40.993),
    (66.115, 41.004), (66.128, 41.018), (66.229, 41.014), (66.276, 41.027), (66.348, 41.009),
    (66.444, 41.003), (66.494, 41.019), (66.545, 41.006), (66.769, 40.994), (66.836, 41.002),
    (66.985, 41.002), (67.085, 40.977), (67.116, 40.953), (67.198, 40.961), (67.267, 40.947),
    (67.272, 40.917), (67.289, 40.891), (67.329, 40.880), (67.408, 40.874), (67.399, 40.860),
    (67.354, 40.831), (67.373, 40.820), (67.397, 40.818), (67.476, 40.824), (67.540, 40.821),
    (67.765, 40.882), (67.905, 40.952), (67.957, 40.991), (68.020, 41.061),
)
_DISTRICTS = ("Forish tumani", "Arnasoy tumani")
#: the zone keeps the lakes east of this longitude (the Aydar-Arnasay resort area)
_WEST_LON = 67.05
_SHORE_M = 1_500.0  # width of the shore band around the water
_CAMP_INLAND_M = 300.0  # camps and the beach sit this far from the water line
_CAMPS = ("Aydar", "Tuzkon", "Arnasoy", "Qo‘ng‘irot", "Sohil", "Baliqchi", "Qamish")


def _row(kind: str, name: str, geom: object, road_class: str | None = None,
         season: tuple[str, str] | None = None) -> dict[str, object]:
    return {"kind": kind, "name": name, "road_class": road_class,
                "speed_kmh": ROAD_SPEEDS[road_class] if road_class else None,
                "season_start": season[0] if season else None,
                "season_end": season[1] if season else None, "town": -1, "geometry": geom}


def _lake() -> Polygon:
    """Aydar lake in the demo plane (metres)."""
    lon, lat = np.array(AYDAR_LAKE).T
    return Polygon(np.column_stack(to_xy(lon, lat)))


def _inland(xy: np.ndarray, lake: Polygon, ring: LineString, dist: float) -> np.ndarray:
    """Points ``dist`` metres from the water line at ``xy`` (on ``ring``), on the land side."""
    at = shapely.line_locate_point(ring, shapely.points(xy))
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(ring, at + 50.0))
    tangent = ahead - xy
    tangent /= np.maximum(np.hypot(*tangent.T), 1e-9)[:, None]
    normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
    left, right = xy + dist * normal, xy - dist * normal
    wet = shapely.contains_xy(lake, left[:, 0], left[:, 1])
    return np.where(wet[:, None], right, left)


def build_zone(world: World, rng: np.random.Generator) -> pd.DataFrame:
    """Features of the Aydar-Arnasay tourist zone (plane metres).

    The zone is the real Aydar lake (outline from Natural Earth, public domain; see
    :data:`AYDAR_LAKE`) east of 67.05 E plus a 1.5 km shore band, clipped to the Forish and
    Arnasoy districts.  Seven camps sit 300 m inland along the longest stretch of shore, a
    beach on the shore between them; a police post, an emergency service (112) and a
    medical point stand by the fourth camp, hotels inland of the second and sixth; access
    roads lead from the district centres to the nearest camp, with an ``entrance`` where
    each crosses the zone boundary; a power line runs from the Arnasoy centre along the
    camps; a ``water`` polygon marks the lake inside the zone (help is measured to the
    shore, not into open water).  Returns an empty frame when Jizzakh region is not part
    of the world.
    """
    region = "Jizzax viloyati"
    parts = [world.district_polys.get((region, d)) for d in _DISTRICTS]
    if any(p is None for p in parts):
        return pd.DataFrame()
    host = shapely.union_all(parts)
    lake = _lake()
    west = float(to_xy(_WEST_LON, 40.0)[0])
    _x0, y0, x1, y1 = lake.bounds
    east = shapely.box(west, y0 - 2 * _SHORE_M, x1 + 2 * _SHORE_M, y1 + 2 * _SHORE_M)
    water = shapely.intersection(lake, east)
    zone = shapely.intersection(water.buffer(_SHORE_M, 16), shapely.intersection(host, east))
    if zone.geom_type == "MultiPolygon":  # keep the main body
        zone = max(zone.geoms, key=lambda g: g.area)
    zone = zone.simplify(20.0)
    rows = [_row("tourist_zone", ZONE_NAME, zone, season=SEASON)]
    # camps along the longest stretch of shore inside the zone, 300 m inland
    shore = shapely.line_merge(shapely.intersection(lake.exterior, zone.buffer(-_SHORE_M / 2)))
    shore = max(shapely.get_parts(shore), key=lambda g: g.length)
    fr = np.linspace(0.06, 0.94, len(_CAMPS)) + rng.uniform(-0.02, 0.02, len(_CAMPS))
    at = shapely.get_coordinates(shapely.line_interpolate_point(shore, fr, normalized=True))
    xy = _inland(at, lake, lake.exterior, _CAMP_INLAND_M)
    for n, (x, y) in zip(_CAMPS, xy, strict=True):
        rows.append(_row("camp", f"{n} oromgohi", Point(x, y)))
    beach_line = substring(shore, 0.40, 0.44, normalized=True)
    beach = shapely.difference(beach_line.buffer(_CAMP_INLAND_M, 8), lake)
    beach = shapely.intersection(beach, zone)
    rows.append(_row("beach", "Aydar plyaji", beach))
    hub = _inland(at[3:4], lake, lake.exterior, _CAMP_INLAND_M + 250.0)[0]
    site = {
        "police_post": ("Aydar-Arnasay IIB posti", (150, 0)),
        "emergency_service": ("112 Aydar-Arnasay", (-150, 60)),
        "medical": ("Aydar-Arnasay tibbiy punkti", (0, 180)),
    }
    for kind, (name, (dx, dy)) in site.items():
        rows.append(_row(kind, name, Point(hub[0] + dx, hub[1] + dy)))
    hotels = _inland(at[[1, 5]], lake, lake.exterior, _CAMP_INLAND_M + 400.0)
    for j, (x, y) in enumerate(hotels):
        rows.append(_row("hotel", f"Aydar mehmonxonasi {j + 1}", Point(x, y)))
    # access roads from the two district centres to their nearest camp, with entrances
    towns = world.towns
    centres = towns[towns["centre"] & towns["district"].isin(_DISTRICTS)]
    boundary = zone.exterior
    for cls, (_, t) in zip(("tertiary", "track"), centres.iterrows(), strict=False):
        tx, ty = xy[int(np.argmin(np.hypot(xy[:, 0] - t["x"], xy[:, 1] - t["y"])))]
        road = road_line(float(t["x"]), float(t["y"]), float(tx), float(ty), rng, 0.03)
        rows.append(_row("road", f"{t['name']} – {ZONE_NAME} yo‘li", road, road_class=cls))
        cross = shapely.get_parts(shapely.intersection(road, boundary))
        for c in cross[shapely.get_type_id(cross) == 0][:1]:
            rows.append(_row("entrance", f"{ZONE_NAME} kirish ({t['name']})", c))
        if str(t["district"]) == "Arnasoy tumani":
            line = LineString([(float(t["x"]), float(t["y"])), *map(tuple, xy[2:6])])
            rows.append(_row("power_line", "35 kV Arnasoy – Aydar elektr uzatish liniyasi",
                             line))
    # the zone's open water, so that the travel figures measure the shore, not the lake
    rows.append(_row("water", "Aydarko‘l", shapely.intersection(lake, zone)))
    return pd.DataFrame(rows)
