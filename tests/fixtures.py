"""A tiny, hand-checkable world near Jizzakh shared by the tests (mahallas, incidents, cameras, ...).

Four square mahallas of ``SIZE`` (0.01 deg) in a 2 x 2 grid whose south-west corner is
``ORIGIN`` (67.84 E, 40.10 N)::

    40.12 +------------+------------+
          | M3         | M4         |      M1, M2: district "Sharof Rashidov"
          | Do‘stlik   | Bog‘bon    |      M3, M4: district "Zafarobod"
    40.11 +------------+------------+      "Do‘stlik" (Дўстлик) is in both districts;
          | M1         | M2         |      M4's population is unknown (NaN).
          | Do‘stlik   | Navro‘z    |
    40.10 +------------+------------+
        67.84        67.85        67.86

Every frame is in EPSG:4326 and uses the canonical layer fields. The values are plain literals so
that a test can check a result by hand; H3 cells are computed with h3-py at resolution 9.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import geopandas as gpd
import h3
import shapely

__all__ = [
    "ORIGIN",
    "REGION",
    "SIZE",
    "audit",
    "cameras",
    "cell",
    "incidents",
    "infrastructure",
    "mahallas",
    "quarantine",
    "square",
    "tiny_world",
]

ORIGIN = (67.84, 40.10)  # lon, lat of the grid's south-west corner
SIZE = 0.01  # side of a mahalla square, degrees
REGION = "Jizzakh"
CRS = "EPSG:4326"


def square(col: int, row: int) -> shapely.Polygon:
    """The mahalla square at grid ``col`` (west->east) and ``row`` (south->north)."""
    x0, y0 = ORIGIN[0] + col * SIZE, ORIGIN[1] + row * SIZE
    return shapely.box(x0, y0, x0 + SIZE, y0 + SIZE)


def cell(lon: float, lat: float) -> int:
    """The resolution-9 H3 cell of a point, as a 64-bit integer."""
    return int(h3.str_to_int(h3.latlng_to_cell(lat, lon, 9)))


def mahallas() -> gpd.GeoDataFrame:
    """Four 0.01-degree square mahallas; "Do‘stlik" appears in two districts."""
    return gpd.GeoDataFrame(
        {
            "mahalla_id": ["M1", "M2", "M3", "M4"],
            "name": ["Do‘stlik", "Navro‘z", "Do‘stlik", "Bog‘bon"],
            "name_cyrillic": ["Дўстлик", "Наврўз", "Дўстлик", "Боғбон"],
            "district": ["Sharof Rashidov", "Sharof Rashidov", "Zafarobod", "Zafarobod"],
            "region": [REGION] * 4,
            "population": [1200.0, 800.0, 450.0, np.nan],
        },
        geometry=[square(0, 0), square(1, 0), square(0, 1), square(1, 1)],
        crs=CRS,
    )


def _centre(col: int, row: int) -> tuple[float, float]:
    return ORIGIN[0] + (col + 0.5) * SIZE, ORIGIN[1] + (row + 0.5) * SIZE


def incidents() -> gpd.GeoDataFrame:
    """Six incidents; the fraud has no place (empty point, h3 of its mahalla's centre)."""
    lonlat = [
        (67.8425, 40.1025),  # I1 in M1
        (67.8475, 40.1075),  # I2 in M1
        (67.8575, 40.1025),  # I3 in M2
        (67.8450, 40.1150),  # I4 in M3
        (67.8575, 40.1175),  # I5 in M4
        _centre(1, 0),       # I6 fraud at M2 (victim's home mahalla, no point)
    ]
    geoms = [shapely.Point(x, y) for x, y in lonlat[:5]] + [shapely.Point()]
    return gpd.GeoDataFrame(
        {
            "incident_id": ["I1", "I2", "I3", "I4", "I5", "I6"],
            "occurred_at": pd.to_datetime([
                "2024-01-05T22:30:00Z", "2024-02-10T08:15:00Z", "2024-03-01T12:00:00Z",
                "2024-03-15T23:59:59.250000Z", "2025-06-01T00:00:00Z", "2025-07-20T09:00:00Z",
            ], utc=True, format="ISO8601"),
            "category": ["theft", "assault", "theft", "robbery", "hooliganism", "fraud"],
            "h3": [cell(x, y) for x, y in lonlat],
            "mahalla_id": ["M1", "M1", "M2", "M3", "M4", "M2"],
            "district": ["Sharof Rashidov", "Sharof Rashidov", "Sharof Rashidov", "Zafarobod",
                         "Zafarobod", "Sharof Rashidov"],
            "region": [REGION] * 6,
            "geocode_precision": ["coordinates"] * 5 + ["mahalla"],
            "flags": [None, "snapped", None, None, "time_fixed,snapped", None],
            "source_file": ["jan.csv", "jan.csv", "mar.xlsx", "mar.xlsx", "jun.csv", "jun.csv"],
            "source_row": [2, 3, 2, 3, 2, 3],
            "content_hash": [11, 12, 13, 14, 2**62 + 15, -16],
        },
        geometry=geoms,
        crs=CRS,
    )


def cameras() -> gpd.GeoDataFrame:
    """Three cameras: a dome in M1, a face-recognition camera facing east in M2, one planned."""
    return gpd.GeoDataFrame(
        {
            "camera_id": ["C1", "C2", "C3"],
            "type": ["overview", "face_recognition", "licence_plate"],
            "bearing_deg": [0.0, 90.0, 180.0],
            "fov_deg": [360.0, 60.0, 40.0],
            "range_m": [80.0, 50.0, 120.0],
            "height_m": [6.0, 4.5, np.nan],
            "installed_on": pd.to_datetime(["2023-04-01", "2024-09-15", None]),
            "status": ["active", "active", "planned"],
            "mahalla_id": ["M1", "M2", "M3"],
            "district": ["Sharof Rashidov", "Sharof Rashidov", "Zafarobod"],
            "region": [REGION] * 3,
        },
        geometry=[shapely.Point(*_centre(0, 0)), shapely.Point(67.852, 40.104),
                  shapely.Point(67.845, 40.118)],
        crs=CRS,
    )


def infrastructure() -> gpd.GeoDataFrame:
    """A school, a bus stop, a road across the grid and a seasonal tourist zone."""
    return gpd.GeoDataFrame(
        {
            "feature_id": ["F1", "F2", "F3", "F4"],
            "kind": ["school", "bus_stop", "road", "tourist_zone"],
            "name": ["12-maktab", "Bekat", "Toshkent yo‘li", "Aydar ko‘li oromgohi"],
            "road_class": [None, None, "primary", None],
            "speed_kmh": [np.nan, np.nan, 60.0, np.nan],
            "season_start": [None, None, None, "05-01"],
            "season_end": [None, None, None, "09-30"],
            "mahalla_id": ["M1", "M2", None, "M4"],
            "district": ["Sharof Rashidov", "Sharof Rashidov", None, "Zafarobod"],
            "region": [REGION] * 4,
            "attrs": ['{"pupils": 640}', "{}", None, '{"capacity": 300}'],
        },
        geometry=[
            shapely.Point(67.843, 40.103),
            shapely.Point(67.858, 40.101),
            shapely.LineString([(67.84, 40.11), (67.86, 40.11)]),
            shapely.box(67.852, 40.112, 67.858, 40.118),
        ],
        crs=CRS,
    )


def quarantine() -> pd.DataFrame:
    """Two quarantined input rows with their reason codes."""
    return pd.DataFrame({
        "quarantine_id": ["Q1", "Q2"],
        "layer": ["incidents", "incidents"],
        "source_file": ["jan.csv", "jan.csv"],
        "source_row": [7, 9],
        "reason": ["missing_date", "unknown_category"],
        "detail": ["column 'date' is empty", "category 'xyz' is not known"],
        "raw": ['{"id": "X7"}', '{"id": "X9", "category": "xyz"}'],
        "quarantined_at": pd.to_datetime(["2024-04-01T10:00:00Z"] * 2, utc=True),
    })


def audit() -> pd.DataFrame:
    """Two audit records (the audit log has no key)."""
    return pd.DataFrame({
        "at": pd.to_datetime(["2024-04-01T10:00:00Z", "2024-04-01T10:05:00Z"], utc=True),
        "user": ["analyst", "analyst"],
        "action": ["read", "export"],
        "layer": ["incidents", "mahallas"],
        "scope": ["Jizzakh", "all regions"],
        "detail": [None, "csv"],
        "rows": [6, 4],
    })


def tiny_world() -> dict[str, pd.DataFrame]:
    """Every built-in layer of the tiny world, keyed by layer name."""
    return {
        "mahallas": mahallas(),
        "incidents": incidents(),
        "cameras": cameras(),
        "infrastructure": infrastructure(),
        "quarantine": quarantine(),
        "audit": audit(),
    }
