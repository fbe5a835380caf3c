"""Real police-recorded crime (../shared/data/real-crime) moved onto a test mahalla layer.

Chicago's aggravated assaults keep their pattern but are shifted onto Jizzakh's latitude, over
a grid of square test "mahallas" carrying real official mahalla names (unique in the layer).
As real exports do, 1% of the rows get lat/lon swapped and 1% lose their coordinates and
keep only the mahalla's name and district as an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from tests.conftest import shared_file

__all__ = ["ChicagoWorld", "chicago_world"]

#: Chicago (41.8 N, 87.7 W) onto Jizzakh (40.1 N, 67.8 E)
_DLAT, _DLON = 40.1 - 41.8, 67.8 + 87.7


@dataclass
class ChicagoWorld:
    """Paths of the files a user would load, and what they hold."""

    mahallas: Path
    incidents: Path
    rows: int
    swapped: int
    address_only: int
    first: pd.Timestamp
    last: pd.Timestamp


def _official_names(n: int) -> list[str]:
    q = pd.read_csv(shared_file("uzb-mahalla-names/quarters_2022-02-07.csv"), dtype=str)
    names = q["name_uz"].dropna().str.strip()
    names = names[names.str.fullmatch(r"[A-Za-z‘’'`ʻ\- ]+ (MFY|QFY)")].drop_duplicates()
    names = names.sample(frac=1, random_state=3).tolist()
    return names[:n] + [f"Sinov {i} MFY" for i in range(len(names), n)]


def chicago_world(folder: Path, *, since: str = "2018-01-01", cell: float = 0.02,
                  seed: int = 7) -> ChicagoWorld:
    """Write ``mahallas.gpkg`` and ``incidents.csv`` into ``folder`` (rows from ``since`` on)."""
    raw = pd.read_csv(shared_file("real-crime/chicago_aggravated_assaults.csv.gz"))
    raw = raw[raw["date"] >= since].dropna(subset=["latitude", "longitude"]).reset_index(drop=True)
    lat = (raw["latitude"] + _DLAT).round(6).to_numpy()
    lon = (raw["longitude"] + _DLON).round(6).to_numpy()
    x0, y0 = lon.min() - cell / 2, lat.min() - cell / 2
    nx = int(np.ceil((lon.max() + cell / 2 - x0) / cell))
    ny = int(np.ceil((lat.max() + cell / 2 - y0) / cell))
    col, row = np.divmod(np.arange(nx * ny), ny)
    gx, gy = x0 + col * cell, y0 + row * cell
    names = _official_names(nx * ny)
    districts = [f"Sinov {c // 5 + 1}-tumani" for c in col]
    gpd.GeoDataFrame({
        "mahalla_id": [f"T{i:05d}" for i in range(nx * ny)], "name": names,
        "district": districts, "region": "Sinov viloyati",
        "population": 2000 + (np.arange(nx * ny) * 37) % 6000,
    }, geometry=shapely.box(gx, gy, gx + cell, gy + cell), crs=4326).to_file(
        folder / "mahallas.gpkg", driver="GPKG")
    rng = np.random.default_rng(seed)
    swapped = rng.random(len(raw)) < 0.01
    address = (rng.random(len(raw)) < 0.01) & ~swapped
    which = ((lon - x0) // cell).astype(int) * ny + ((lat - y0) // cell).astype(int)
    out = pd.DataFrame({
        "incident_id": [f"CHI{i:06d}" for i in range(len(raw))],
        "occurred_at": raw["date"], "category": "assault",
        "lat": np.where(swapped, lon, lat), "lon": np.where(swapped, lat, lon),
        "address": "",
    })
    out.loc[address, "address"] = [f"{names[i]}, {districts[i]}" for i in which[address]]
    out.loc[address, ["lat", "lon"]] = np.nan
    out.to_csv(folder / "incidents.csv", index=False)
    dates = pd.to_datetime(raw["date"])
    return ChicagoWorld(folder / "mahallas.gpkg", folder / "incidents.csv", len(out),
                        int(swapped.sum()), int(address.sum()), dates.min(), dates.max())
