"""Tests for the ``hotspots`` build step (etl.derive_hotspots), on both store backends."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import h3
import shapely
from rasterio.io import MemoryFile

from riskmap.etl.derive_hotspots import build, cell_places, hotspot_layers, kde_row, read_kde_cog
from riskmap.geo.surface import Surface, grid_transform
from riskmap.settings import GeoSettings
from tests import fixtures


def _world_incidents() -> gpd.GeoDataFrame:
    """The tiny world's incidents plus a December 2024 cluster in M1 (7 cells x 6)."""
    base = fixtures.incidents()
    centre = h3.latlng_to_cell(40.106, 67.848, 9)
    pts = [h3.cell_to_latlng(c) for c in h3.grid_disk(centre, 1)]
    rows = []
    for k, (lat, lng) in enumerate(pts):
        for d in range(6):
            rows.append({
                "incident_id": f"C{k}-{d}",
                "occurred_at": pd.Timestamp(f"2024-12-{d + 1:02d}T12:00Z"),
                "category": "theft",
                "h3": fixtures.cell(lng, lat),
                "mahalla_id": "M1",
                "district": "Sharof Rashidov",
                "region": fixtures.REGION,
                "geocode_precision": "coordinates",
                "geometry": shapely.Point(lng, lat),
            })
    extra = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326)
    return gpd.GeoDataFrame(pd.concat([base, extra], ignore_index=True), crs=4326)


def test_cell_places_by_centre() -> None:
    mahallas = fixtures.mahallas()
    inside = fixtures.cell(67.8425, 40.1025)
    far = fixtures.cell(69.0, 41.0)
    out = cell_places(mahallas, np.array([inside, far]), 9)
    assert out["mahalla_id"].tolist()[0] == "M1"
    assert out["district"].tolist()[0] == "Sharof Rashidov"
    assert out["region"].tolist()[0] == fixtures.REGION
    assert out["mahalla_id"].isna().tolist() == [False, True]


def test_kde_row_round_trips_the_cog() -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    surface = Surface(arr, grid_transform(500_000.0, 4_440_000.0, 100.0), "EPSG:32642")
    row = kde_row(surface, bandwidth_m=300, cell_m=100)
    assert row[["width", "height"]].iloc[0].tolist() == [4, 3]
    assert json.loads(row["transform"].iloc[0]) == [100.0, 0.0, 500_000.0, 0.0, -100.0,
                                                    4_440_000.0]
    with MemoryFile(read_kde_cog(row)) as mem, mem.open() as src:
        assert src.read(1).tolist() == arr.tolist()
        assert src.crs.to_epsg() == 32642
    with pytest.raises(ValueError, match="empty"):
        read_kde_cog(row.iloc[:0])


def test_hotspot_layers_on_the_tiny_world() -> None:
    layers = hotspot_layers(_world_incidents(), fixtures.mahallas(), months=12)
    assert set(layers) == {"hotspots_h3", "hotspots_mahalla", "mahalla_status", "kde_surface"}
    h3l = layers["hotspots_h3"]
    # no res-7 cell centre (5 km² cells) falls in the 4 km² world: no study cell at res 7;
    # the coarser cells that meet it are study cells, and hold every incident on a cell
    assert sorted(h3l["res"].unique().tolist()) == [5, 6, 8, 9]
    for res in (5, 6):
        assert h3l.loc[h3l["res"] == res, "count"].sum() == 43
    # window = 2024-08-01 .. 2025-08-01 (latest incident 2025-07-20; July 2025 is over, so it is
    # a full month): the cluster (42) + I5 (June 2025) on cells; the fraud I6 is not on a cell
    assert h3l.loc[h3l["res"] == 9, "count"].sum() == 43
    centre = fixtures.cell(67.848, 40.106)
    row = h3l[(h3l["res"] == 9) & (h3l["h3"] == centre)].iloc[0]
    assert row["count"] == 6 and row["gi_class"].startswith("hot")
    assert row["mahalla_id"] == "M1"
    hm = layers["hotspots_mahalla"].set_index("mahalla_id")
    # the fraud I6 (2025-07-20) counts at the victim's mahalla M2; I5 (June 2025) for M4
    assert hm.loc[["M1", "M2", "M3", "M4"], "count"].tolist() == [42, 1, 0, 1]
    assert hm.loc["M1", "rate"] == pytest.approx(42 / 1200 * 1000)
    assert np.isnan(hm.loc["M4", "rate"])  # population unknown
    assert hm.loc[["M2", "M3"], "status"].tolist() == ["yellow", "green"]  # M2: the fraud I6
    hist = layers["mahalla_status"]
    assert set(hist.columns) >= {"mahalla_id", "month", "status", "why", "count",
                                 "rate_per_1000", "gi_z", "gi_class", "region"}
    assert hist["month"].max() == pd.Timestamp("2025-07-01", tz="UTC")
    kde = layers["kde_surface"].iloc[0]
    assert kde["bandwidth_m"] == 300.0
    with MemoryFile(read_kde_cog(layers["kde_surface"])) as mem, mem.open() as src:
        band = src.read(1)
        assert band.shape == (kde["height"], kde["width"])
        cell_km2 = (src.transform.a / 1000) ** 2
        # 43 located incidents in the window, all well inside the padded grid
        assert band.sum() * cell_km2 == pytest.approx(43, rel=1e-3)


def test_build_writes_the_layers_in_one_go(store: object) -> None:
    store.replace("mahallas", fixtures.mahallas())
    store.replace("incidents", _world_incidents())
    settings = SimpleNamespace(geo=GeoSettings(hotspot_resolutions=[8, 9]))
    summary = build(store, settings, progress=False)
    assert summary["window"] == ["2024-08-01", "2025-08-01"]
    assert summary["hotspots_mahalla"] == 4 and summary["kde_surface"] == 1
    for layer in ("hotspots_h3", "hotspots_mahalla", "mahalla_status", "kde_surface"):
        assert store.has(layer)
    h3l = store.read("hotspots_h3")
    assert sorted(h3l["res"].unique().tolist()) == [8, 9]
    assert len(h3l) == summary["hotspots_h3"]
    hm = store.read("hotspots_mahalla").set_index("mahalla_id")
    assert hm.loc["M1", "count"] == 42
    assert hm.loc["M1", "why"].startswith(hm.loc["M1", "status"] + ": 42 incidents")
    row = store.read("kde_surface")
    with MemoryFile(read_kde_cog(row)) as mem, mem.open() as src:
        assert src.width == int(row["width"].iloc[0])
    # a second build replaces, it does not append
    build(store, settings, progress=False)
    assert store.count("hotspots_mahalla") == 4
