"""The README's first command on the embedded store: `riskmap demo`, then the README's exports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner

import geopandas as gpd

from riskmap.cli import cli
from riskmap.layers import open_store

pytestmark = pytest.mark.slow


def test_demo_builds_once_and_exports_in_every_format(tmp_path: Path) -> None:
    store = str(tmp_path / "riskmap-data")
    first = CliRunner().invoke(cli, ["demo", "--no-serve", "--no-progress", "--store", store])
    assert first.exit_code == 0, first.output
    assert "demo store ready" in first.output
    assert (tmp_path / "riskmap-data-demo-files" / "reports").is_dir()  # as --help says
    with open_store(store) as opened:
        version = opened.version()
        n = opened.count("incidents")
        precisions = opened.read("incidents", columns=["geocode_precision"])
        figures = opened.read("zone_figures")
    assert set(precisions["geocode_precision"]) >= {"coordinates", "mahalla"}  # address rows
    # the zone figures (and the reports made from them) say the data are synthetic
    assert figures["figures"].str.contains('"synthetic": true').all() and len(figures)

    again = CliRunner().invoke(cli, ["demo", "--no-serve", "--no-progress", "--store", store])
    assert again.exit_code == 0, again.output
    assert "already holds this world" in again.output and "riskmap ingest" not in again.output
    with open_store(store) as opened:
        assert opened.version() == version

    out = tmp_path / "out"
    for fmt in ("csv", "parquet", "geojson"):
        res = CliRunner().invoke(cli, ["export", "incidents", "--format", fmt, "-o",
                                       str(out / f"incidents.{fmt}"), "--store", store])
        assert res.exit_code == 0, res.output
    csv = pd.read_csv(out / "incidents.csv")
    assert len(csv) == len(pd.read_parquet(out / "incidents.parquet")) == n
    assert len(gpd.read_file(out / "incidents.geojson")) == n
    placed = csv["geocode_precision"] != "coordinates"
    assert csv.loc[placed, "lat"].isna().all() and csv.loc[~placed, "lat"].notna().all()

    # the GIS bundle: every layer with its CRS; a region's bundle holds that region only
    res = CliRunner().invoke(cli, ["export", "bundle", "-o", str(out / "demo.gpkg"),
                                   "--store", store])
    assert res.exit_code == 0, res.output
    layers = dict(pyogrio.list_layers(out / "demo.gpkg"))
    assert {"mahallas", "incidents", "cameras", "infrastructure", "hotspots_h3",
            "hotspots_mahalla", "mahalla_status", "coverage_mahalla", "zone_readiness"} \
        <= set(layers)
    assert "audit" not in layers and "store_meta" not in layers
    for name, geometry_type in layers.items():
        info = pyogrio.read_info(out / "demo.gpkg", layer=name)
        assert info["crs"] == ("EPSG:4326" if geometry_type else None), name
    assert pyogrio.read_info(out / "demo.gpkg", layer="incidents")["features"] == n
    region = csv["region"].value_counts().index[-1]
    res = CliRunner().invoke(cli, ["export", "bundle", "-o", str(out / "one.gpkg"),
                                   "--region", region, "--store", store])
    assert res.exit_code == 0, res.output
    one = pyogrio.read_dataframe(out / "one.gpkg", layer="incidents", read_geometry=False)
    assert set(one["region"]) == {region} and len(one) == (csv["region"] == region).sum()
    assert "quarantine" not in dict(pyogrio.list_layers(out / "one.gpkg"))  # not scopable
