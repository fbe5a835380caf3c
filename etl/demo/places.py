"""Real places for the demo world: regions, districts, district centres and coarse outlines.

Coordinates are approximate real town coordinates (facts, typed from memory), given as
``(lat, lon)``. Everything else in the demo world is synthetic. Geometry work happens in a
fixed equirectangular plane in metres (:func:`to_xy` / :func:`to_lonlat`); the map is affine,
so a tessellation built in the plane stays a tessellation in degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import shapely
import shapely.affinity
from shapely.geometry import MultiPoint, Point, Polygon

from riskmap.etl.demo.names import to_cyrillic

__all__ = [
    "LAT0",
    "LON0",
    "MAIN_REGIONS",
    "OTHER_REGIONS",
    "District",
    "Region",
    "build_admin",
    "to_lonlat",
    "to_xy",
    "town_radius",
]

LAT0 = 40.0
LON0 = 64.0
_KX = 111_320.0 * float(np.cos(np.radians(LAT0)))
_KY = 110_574.0


def to_xy(lon: np.ndarray | float, lat: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Project lon/lat degrees to the demo plane (metres, equirectangular at 40N).

    Parameters
    ----------
    lon, lat
        Degrees.

    Returns
    -------
    tuple of numpy.ndarray
        ``x`` (east) and ``y`` (north) in metres.
    """
    return ((np.asarray(lon, dtype=float) - LON0) * _KX,
            (np.asarray(lat, dtype=float) - LAT0) * _KY)


def to_lonlat(x: np.ndarray | float, y: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`to_xy`: plane metres to lon/lat degrees."""
    return (np.asarray(x, dtype=float) / _KX + LON0, np.asarray(y, dtype=float) / _KY + LAT0)


def _poly_xy(lonlat: list[tuple[float, float]]) -> Polygon:
    arr = np.asarray(lonlat, dtype=float)
    x, y = to_xy(arr[:, 0], arr[:, 1])
    return Polygon(np.column_stack([x, y]))


@dataclass(frozen=True)
class District:
    """A district (tuman) or city (shahar) with its centre town."""

    name: str  # Uzbek Latin, e.g. "Forish tumani"
    russian: str  # e.g. "Фаришский район" or "г. Джизак"
    town: str  # centre town, Uzbek Latin
    lat: float
    lon: float
    town_pop: int
    city: bool = False  # a city district: a compact urban polygon carved out of its neighbours
    station: bool = False  # the town has a railway station

    @property
    def cyrillic(self) -> str:
        """Uzbek Cyrillic name."""
        return to_cyrillic(self.name)


@dataclass(frozen=True)
class Region:
    """A region (viloyat) with its districts and, for the three main ones, an outline."""

    code: str
    name: str  # Uzbek Latin, e.g. "Jizzax viloyati"
    russian: str
    lat: float
    lon: float
    districts: tuple[District, ...]
    outline: tuple[tuple[float, float], ...] = ()  # (lon, lat) ring; empty = derived

    @property
    def cyrillic(self) -> str:
        """Uzbek Cyrillic name."""
        return to_cyrillic(self.name)


def _d(name: str, russian: str, town: str, lat: float, lon: float, pop: int,
       *, city: bool = False, station: bool = False) -> District:
    return District(name, russian, town, lat, lon, pop, city, station)


_JIZZAX = Region(
    "JZ", "Jizzax viloyati", "Джизакская область", 40.1158, 67.8422,
    (
        _d("Jizzax shahri", "г. Джизак", "Jizzax", 40.1158, 67.8422, 180_000, city=True,
           station=True),
        _d("Arnasoy tumani", "Арнасайский район", "G‘oliblar", 40.72, 67.85, 12_000),
        _d("Baxmal tumani", "Бахмальский район", "Usmat", 39.75, 67.60, 14_000),
        _d("Do‘stlik tumani", "Дустликский район", "Do‘stlik", 40.52, 68.04, 20_000,
           station=True),
        _d("Forish tumani", "Фаришский район", "Yangiqishloq", 40.55, 67.05, 12_000),
        _d("G‘allaorol tumani", "Галляаральский район", "G‘allaorol", 40.02, 67.60, 30_000,
           station=True),
        _d("Sharof Rashidov tumani", "Шараф-Рашидовский район", "Uchtepa", 40.15, 67.85,
           15_000),
        _d("Mirzacho‘l tumani", "Мирзачульский район", "Gagarin", 40.66, 68.17, 25_000,
           station=True),
        _d("Paxtakor tumani", "Пахтакорский район", "Paxtakor", 40.32, 67.95, 22_000),
        _d("Yangiobod tumani", "Янгиабадский район", "Balandchaqir", 40.02, 68.80, 8_000),
        _d("Zomin tumani", "Зааминский район", "Zomin", 39.96, 68.40, 20_000),
        _d("Zafarobod tumani", "Зафарабадский район", "Zafarobod", 40.42, 68.36, 10_000),
        _d("Zarbdor tumani", "Зарбдарский район", "Zarbdor", 40.08, 68.17, 12_000),
    ),
    ((66.55, 40.55), (66.75, 40.95), (67.00, 41.12), (67.50, 41.18), (68.05, 41.05),
     (68.45, 40.85), (68.55, 40.40), (68.90, 40.25), (69.05, 40.05), (68.70, 39.75),
     (68.30, 39.65), (67.90, 39.55), (67.50, 39.50), (67.25, 39.65), (67.10, 39.85),
     (66.90, 40.05), (66.70, 40.25)),
)

# The Kashkadarya/Surkhandarya border is one shared vertex chain, so the outlines meet exactly.
_SHARED = ((66.55, 37.70), (66.65, 38.00), (66.85, 38.30), (67.20, 38.55), (67.55, 38.75))

_SURXON = Region(
    "SU", "Surxondaryo viloyati", "Сурхандарьинская область", 37.2242, 67.2783,
    (
        _d("Termiz shahri", "г. Термез", "Termiz", 37.2242, 67.2783, 180_000, city=True,
           station=True),
        _d("Termiz tumani", "Термезский район", "Uchqizil", 37.33, 67.25, 12_000),
        _d("Angor tumani", "Ангорский район", "Angor", 37.46, 67.13, 15_000),
        _d("Bandixon tumani", "Бандиханский район", "Bandixon", 37.86, 67.38, 8_000),
        _d("Boysun tumani", "Байсунский район", "Boysun", 38.20, 67.20, 25_000, station=True),
        _d("Denov tumani", "Денауский район", "Denov", 38.27, 67.90, 70_000, station=True),
        _d("Jarqo‘rg‘on tumani", "Джаркурганский район", "Jarqo‘rg‘on", 37.50, 67.42, 25_000),
        _d("Qiziriq tumani", "Кизирикский район", "Sariq", 37.68, 67.25, 10_000),
        _d("Qumqo‘rg‘on tumani", "Кумкурганский район", "Qumqo‘rg‘on", 37.83, 67.60, 30_000,
           station=True),
        _d("Muzrabot tumani", "Музрабадский район", "Xalqobod", 37.45, 66.95, 10_000),
        _d("Oltinsoy tumani", "Алтынсайский район", "Qarluq", 38.10, 67.65, 10_000),
        _d("Sariosiyo tumani", "Сариасийский район", "Sariosiyo", 38.41, 67.96, 15_000),
        _d("Sherobod tumani", "Шерабадский район", "Sherobod", 37.67, 67.00, 30_000,
           station=True),
        _d("Sho‘rchi tumani", "Шурчинский район", "Sho‘rchi", 38.00, 67.79, 25_000,
           station=True),
        _d("Uzun tumani", "Узунский район", "Uzun", 38.37, 68.00, 15_000),
    ),
    (*_SHARED, (67.85, 38.95), (68.20, 38.85), (68.40, 38.55), (68.30, 38.20), (68.10, 37.90),
     (68.00, 37.50), (67.75, 37.15), (67.45, 37.13), (67.15, 37.17), (66.90, 37.30),
     (66.60, 37.40)),
)

_QASHQA = Region(
    "QA", "Qashqadaryo viloyati", "Кашкадарьинская область", 38.8606, 65.7891,
    (
        _d("Qarshi shahri", "г. Карши", "Qarshi", 38.8606, 65.7891, 280_000, city=True,
           station=True),
        _d("Qarshi tumani", "Каршинский район", "Beshkent", 38.82, 65.65, 20_000),
        _d("Shahrisabz tumani", "Шахрисабзский район", "Shahrisabz", 39.06, 66.83, 100_000,
           station=True),
        _d("Kitob tumani", "Китабский район", "Kitob", 39.12, 66.88, 45_000, station=True),
        _d("Chiroqchi tumani", "Чиракчинский район", "Chiroqchi", 39.03, 66.57, 25_000),
        _d("Dehqonobod tumani", "Дехканабадский район", "Qorashina", 38.35, 66.50, 10_000),
        _d("G‘uzor tumani", "Гузарский район", "G‘uzor", 38.62, 66.25, 30_000, station=True),
        _d("Kasbi tumani", "Касбийский район", "Mug‘lon", 38.95, 65.45, 12_000),
        _d("Koson tumani", "Касанский район", "Koson", 39.04, 65.58, 40_000, station=True),
        _d("Ko‘kdala tumani", "Кукдалинский район", "Ko‘kdala", 38.98, 66.12, 10_000),
        _d("Mirishkor tumani", "Миришкорский район", "Yangi Mirishkor", 38.88, 65.25, 10_000),
        _d("Muborak tumani", "Мубарекский район", "Muborak", 39.26, 65.15, 30_000,
           station=True),
        _d("Nishon tumani", "Нишанский район", "Yangi Nishon", 38.62, 65.68, 15_000),
        _d("Qamashi tumani", "Камашинский район", "Qamashi", 38.82, 66.46, 20_000),
        _d("Yakkabog‘ tumani", "Яккабагский район", "Yakkabog‘", 38.97, 66.69, 20_000),
    ),
    ((67.45, 39.05), (67.20, 39.25), (66.90, 39.35), (66.50, 39.35), (66.10, 39.30),
     (65.60, 39.45), (64.90, 39.45), (64.55, 39.20), (64.40, 38.90), (64.60, 38.55),
     (65.00, 38.30), (65.50, 38.15), (66.00, 37.95), (66.30, 37.80), *_SHARED),
)

MAIN_REGIONS: tuple[Region, ...] = (_JIZZAX, _SURXON, _QASHQA)


def _centre_only(code: str, name: str, russian: str, city: str, city_ru: str, lat: float,
                 lon: float, pop: int) -> Region:
    centre = _d(f"{city} shahri", f"г. {city_ru}", city, lat, lon, pop, city=True,
                station=True)
    return Region(code, name, russian, lat, lon, (centre,))


# The other eleven regions (large size only): real regional centres; their other districts are
# synthetic (named "<Region> N-tumani") and placed by the generator.
OTHER_REGIONS: tuple[Region, ...] = (
    _centre_only("TS", "Toshkent shahri", "г. Ташкент", "Toshkent", "Ташкент", 41.2995,
                 69.2401, 900_000),
    _centre_only("TO", "Toshkent viloyati", "Ташкентская область", "Nurafshon", "Нурафшон",
                 41.0411, 69.3583, 60_000),
    _centre_only("AN", "Andijon viloyati", "Андижанская область", "Andijon", "Андижан",
                 40.7821, 72.3442, 320_000),
    _centre_only("FA", "Farg‘ona viloyati", "Ферганская область", "Farg‘ona", "Фергана",
                 40.3842, 71.7843, 290_000),
    _centre_only("NA", "Namangan viloyati", "Наманганская область", "Namangan", "Наманган",
                 40.9983, 71.6726, 480_000),
    _centre_only("SI", "Sirdaryo viloyati", "Сырдарьинская область", "Guliston", "Гулистан",
                 40.4897, 68.7842, 90_000),
    _centre_only("SA", "Samarqand viloyati", "Самаркандская область", "Samarqand",
                 "Самарканд", 39.6542, 66.9597, 550_000),
    _centre_only("BU", "Buxoro viloyati", "Бухарская область", "Buxoro", "Бухара", 39.7747,
                 64.4286, 280_000),
    _centre_only("NV", "Navoiy viloyati", "Навоийская область", "Navoiy", "Навои", 40.0844,
                 65.3792, 150_000),
    _centre_only("XO", "Xorazm viloyati", "Хорезмская область", "Urganch", "Ургенч", 41.5506,
                 60.6317, 150_000),
    _centre_only("QR", "Qoraqalpog‘iston Respublikasi", "Республика Каракалпакстан", "Nukus",
                 "Нукус", 42.4531, 59.6103, 330_000),
)

# Regions that are one city (a compact disc, no other districts).
_CITY_REGIONS = frozenset({"TS"})

# Coarse outline of Uzbekistan (lon, lat); used only for the large (whole-country) size.
_COUNTRY = (
    (56.00, 45.00), (58.55, 45.55), (61.00, 44.40), (62.00, 43.50), (64.40, 43.60),
    (65.50, 43.30), (66.10, 42.95), (66.05, 42.00), (66.60, 41.60), (67.00, 41.12),
    (67.50, 41.18), (68.05, 41.05), (68.45, 40.85), (68.60, 40.95), (69.00, 41.25),
    (69.10, 41.45), (69.60, 42.00), (70.10, 42.30), (70.90, 42.25), (71.30, 41.60),
    (72.20, 41.15), (73.15, 40.85), (72.80, 40.45), (71.90, 40.20), (70.90, 40.25),
    (70.50, 40.45), (70.45, 40.90), (69.80, 40.85), (69.30, 40.60), (69.05, 40.25),
    (69.05, 40.05), (68.70, 39.75), (68.30, 39.50), (67.60, 39.40), (67.45, 39.05),
    (67.55, 38.75), (67.85, 38.95), (68.20, 38.85), (68.40, 38.55), (68.30, 38.20),
    (68.10, 37.90), (68.00, 37.50), (67.75, 37.15), (67.45, 37.13), (67.15, 37.17),
    (66.90, 37.30), (66.60, 37.40), (66.55, 37.70), (66.30, 37.80), (66.00, 37.95),
    (65.50, 38.15), (65.00, 38.30), (64.60, 38.55), (64.40, 38.90), (64.00, 39.20),
    (63.50, 39.50), (62.50, 40.00), (61.60, 40.90), (61.00, 41.20), (60.30, 41.25),
    (60.10, 41.75), (59.90, 42.05), (59.00, 42.30), (58.40, 42.60), (58.00, 42.40),
    (57.00, 41.30), (56.00, 41.30),
)

# Urban density used to size town polygons (people per square metre).
_URBAN_DENSITY = 8_000 / 1e6


def town_radius(pop: float) -> float:
    """Radius in metres of a town disc holding ``pop`` people at an urban density."""
    return float(np.sqrt(pop / _URBAN_DENSITY / np.pi))


def _largest_part(geom: object) -> object:
    parts = shapely.get_parts(geom)
    parts = parts[shapely.get_type_id(parts) == 3]
    return parts[np.argmax(shapely.area(parts))]


def _voronoi_cells(x: np.ndarray, y: np.ndarray, clip: object) -> np.ndarray:
    """Voronoi cells of the points (in input order) clipped to ``clip``."""
    if len(x) == 1:
        return np.array([clip], dtype=object)
    pts = MultiPoint(np.column_stack([x, y]))
    env = shapely.buffer(shapely.envelope(clip), 1e5)
    cells = shapely.get_parts(shapely.voronoi_polygons(pts, extend_to=env, ordered=True))
    return shapely.intersection(cells, clip)


def _synthetic_districts(region: Region, outline: object, n: int,
                         rng: np.random.Generator) -> Region:
    """Add ``n`` synthetic districts with centres spread over the region outline."""
    minx, miny, maxx, maxy = outline.bounds
    cx, cy = to_xy(region.lon, region.lat)
    keep_x: list[float] = [float(cx)]
    keep_y: list[float] = [float(cy)]
    area = outline.area
    min_gap = 0.45 * np.sqrt(area / max(n, 1))
    shapely.prepare(outline)
    tries = 0
    while len(keep_x) < n + 1 and tries < 5000:
        tries += 1
        px, py = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if not shapely.contains_xy(outline, px, py):
            continue
        d = np.hypot(np.asarray(keep_x) - px, np.asarray(keep_y) - py)
        if d.min() < min_gap:
            continue
        keep_x.append(px)
        keep_y.append(py)
    lon, lat = to_lonlat(np.asarray(keep_x[1:]), np.asarray(keep_y[1:]))
    short = region.name.split(" ")[0]
    extra = tuple(
        _d(f"{short} {k + 1}-tumani", f"{to_cyrillic(short)} {k + 1}-й район",
           f"{short} {k + 1}-shaharcha", float(la), float(lo), int(rng.integers(8, 40)) * 1000)
        for k, (la, lo) in enumerate(zip(lat, lon, strict=True)))
    return Region(region.code, region.name, region.russian, region.lat, region.lon,
                  region.districts + extra)


def _region_outlines(regions: tuple[Region, ...], other: tuple[Region, ...]) -> list[object]:
    """Outline polygons (plane metres) of the main regions, then the other regions."""
    main = [_poly_xy(list(r.outline)) for r in regions]
    if not other:
        return main
    country = shapely.union_all([_poly_xy(list(_COUNTRY)), *main])
    rest = shapely.difference(country, shapely.union_all(main))
    ox, oy = to_xy(np.array([r.lon for r in other]), np.array([r.lat for r in other]))
    # a city region (Tashkent city) is a compact disc carved out of its neighbours
    city = np.array([r.code in _CITY_REGIONS for r in other])
    discs = {i: shapely.intersection(
        Point(ox[i], oy[i]).buffer(1.6 * town_radius(other[i].districts[0].town_pop), 32), rest)
        for i in np.flatnonzero(city)}
    if discs:
        rest = shapely.difference(rest, shapely.union_all(list(discs.values())))
    cells = iter(_voronoi_cells(ox[~city], oy[~city], rest))
    outs = []
    for i, (px, py) in enumerate(zip(ox, oy, strict=True)):
        if i in discs:
            outs.append(discs[i])
            continue
        cell = next(cells)
        parts = shapely.get_parts(cell)
        parts = parts[shapely.get_type_id(parts) == 3]
        hit = parts[shapely.contains_xy(parts, px, py)]
        outs.append(hit[0] if len(hit) else _largest_part(cell))
    return main + outs


def build_admin(*, whole_country: bool, districts_per_other: int = 10,
                rng: np.random.Generator | None = None
                ) -> tuple[tuple[Region, ...], dict[str, object], dict[tuple[str, str], object]]:
    """Regions with outlines and district polygons in the demo plane (metres).

    Districts are Voronoi cells of the district centres clipped to the region; a city
    district is a compact disc around its centre carved out of its neighbours.

    Parameters
    ----------
    whole_country
        False: the three main regions (Jizzakh, Surkhandarya, Kashkadarya). True: all 14,
        the other eleven with synthetic districts around their real centres.
    districts_per_other
        Synthetic districts added to each other region.
    rng
        Generator for the synthetic district centres (needed when ``whole_country``).

    Returns
    -------
    regions, region_polygons, district_polygons
        The (possibly extended) regions, ``{region name: polygon}`` and
        ``{(region name, district name): polygon}``, all in plane metres.
    """
    other = OTHER_REGIONS if whole_country else ()
    outlines = _region_outlines(MAIN_REGIONS, other)
    regions = list(MAIN_REGIONS)
    if other:
        if rng is None:
            rng = np.random.default_rng(0)
        for reg, out in zip(other, outlines[len(MAIN_REGIONS):], strict=True):
            n = 0 if reg.code in _CITY_REGIONS else districts_per_other
            regions.append(_synthetic_districts(reg, out, n, rng))
    region_polys: dict[str, object] = {}
    district_polys: dict[tuple[str, str], object] = {}
    for reg, out in zip(regions, outlines, strict=True):
        region_polys[reg.name] = out
        district_polys.update(_district_polygons(reg, out))
    return tuple(regions), region_polys, district_polys


def _district_polygons(reg: Region, outline: object) -> dict[tuple[str, str], object]:
    ds = reg.districts
    x, y = to_xy(np.array([d.lon for d in ds]), np.array([d.lat for d in ds]))
    city = np.array([d.city for d in ds])
    polys: dict[tuple[str, str], object] = {}
    if city.all():  # a city region (Tashkent city): the whole outline is the city
        return {(reg.name, ds[0].name): outline}
    discs = []
    for d, cx, cy in zip(ds, x, y, strict=True):
        if d.city:
            # irregular compact city shape: a disc squashed along a fixed direction
            r = town_radius(d.town_pop) * 1.25
            disc = shapely.affinity.scale(Point(cx, cy).buffer(r, 16), 1.15, 0.87)
            disc = shapely.intersection(disc, outline)
            discs.append(disc)
            polys[(reg.name, d.name)] = disc
    rural = outline
    if discs:
        rural = shapely.difference(outline, shapely.union_all(discs))
    cells = _voronoi_cells(x[~city], y[~city], rural)
    for d, cell in zip([d for d in ds if not d.city], cells, strict=True):
        polys[(reg.name, d.name)] = cell
    return polys
