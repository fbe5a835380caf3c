"""A hand-checkable world for ETL tests: a 3x3 grid of square mahallas near Jizzakh."""

from __future__ import annotations

import geopandas as gpd
import shapely

X0, Y0, STEP = 67.80, 40.10, 0.01
NAMES = [
    # (id, name, cyrillic, district, region)
    ("M1", "Do‘stlik", "Дўстлик", "Jizzax shahri", "Jizzakh"),
    ("M2", "Yoshlik", "Ёшлик", "Jizzax shahri", "Jizzakh"),
    ("M3", "Navro‘z", "Наврўз", "Jizzax shahri", "Jizzakh"),
    ("M4", "Bahor", "Баҳор", "Sharof Rashidov tumani", "Jizzakh"),
    ("M5", "Madaniyat", "Маданият", "Sharof Rashidov tumani", "Jizzakh"),
    ("M6", "Navro‘z", "Наврўз", "Sharof Rashidov tumani", "Jizzakh"),
    ("M7", "G‘oliblar", "Ғолиблар", "Arnasoy tumani", "Jizzakh"),
    ("M8", "Tinchlik", "Тинчлик", "Arnasoy tumani", "Jizzakh"),
    ("M9", "Obod", "Обод", "Arnasoy tumani", "Jizzakh"),
]


def square(i: int) -> shapely.Polygon:
    """The i-th square (row-major from the south-west corner)."""
    r, c = divmod(i, 3)
    return shapely.box(X0 + c * STEP, Y0 + r * STEP, X0 + (c + 1) * STEP, Y0 + (r + 1) * STEP)


def centre(i: int) -> tuple[float, float]:
    """(lon, lat) of the i-th square's centre."""
    r, c = divmod(i, 3)
    return X0 + (c + 0.5) * STEP, Y0 + (r + 0.5) * STEP


def grid_frame() -> gpd.GeoDataFrame:
    """Nine square mahallas; 'Navro‘z' exists in two districts."""
    return gpd.GeoDataFrame(
        {"mahalla_id": [n[0] for n in NAMES], "name": [n[1] for n in NAMES],
         "name_cyrillic": [n[2] for n in NAMES], "district": [n[3] for n in NAMES],
         "region": [n[4] for n in NAMES], "population": [1000.0 * (i + 1) for i in range(9)]},
        geometry=[square(i) for i in range(9)], crs=4326)
