"""Real police-recorded crime through every command a user runs, on both stores.

Chicago's aggravated assaults of 2018-2019 (27,000 rows; see ``tests/realcrime.py``) are
ingested, ingested again, built, exported in every format and evaluated, the way
``../shared/tools/realdata-smoke`` runs them from a shell.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd

from riskmap.cli import cli
from riskmap.layers import open_store
from tests.realcrime import chicago_world

pytestmark = pytest.mark.slow


def _ok(args: list[str]) -> str:
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, (args, res.output)
    return res.output


def test_chicago_end_to_end(store_url: str, tmp_path: Path) -> None:
    world = chicago_world(tmp_path)
    store = ["--store", store_url]
    _ok(["ingest", "mahallas", str(world.mahallas), *store])
    _ok(["ingest", "incidents", str(world.incidents), *store,
         "--report", str(tmp_path / "r1.json")])
    first = json.loads((tmp_path / "r1.json").read_text())
    assert first["input_rows"] == world.rows
    assert first["input_rows"] == (first["loaded"] + first["updated"] + first["duplicates"]
                                   + first["quarantined"])
    assert first["loaded"] >= world.rows * 0.995  # a few real rows fall outside the grid
    assert first["fixed"]["swapped_coordinates"] == pytest.approx(world.swapped, abs=5)
    assert first["by_precision"]["mahalla"] == world.address_only  # every real name matched
    # loading the same file again changes nothing
    _ok(["ingest", "incidents", str(world.incidents), *store, "--report", str(tmp_path / "r2.json")])
    second = json.loads((tmp_path / "r2.json").read_text())
    assert (second["loaded"], second["updated"]) == (0, 0)
    assert second["duplicates"] == first["loaded"]

    built = json.loads(_ok(["build", *store]))
    assert {step: s["ok"] for step, s in built.items()} == {
        "hotspots": True, "coverage": True, "zones": True, "roadmaps": True}

    out = tmp_path / "out"
    for fmt in ("csv", "parquet", "geojson"):
        _ok(["export", "incidents", "--format", fmt, "-o", str(out / f"inc.{fmt}"), *store])
    csv = pd.read_csv(out / "inc.csv", dtype={"h3": str})
    parquet = pd.read_parquet(out / "inc.parquet")
    geojson = gpd.read_file(out / "inc.geojson")
    assert len(csv) == len(parquet) == len(geojson) == first["loaded"]
    by_address = csv["geocode_precision"] == "mahalla"
    assert by_address.sum() == world.address_only
    assert csv.loc[by_address, ["lat", "lon"]].isna().all().all()  # placed, not pinned
    assert np.isfinite(csv.loc[~by_address, ["lat", "lon"]].to_numpy()).all()
    no_point = geojson.geometry.isna() | geojson.geometry.is_empty  # GeoJSON: "geometry": null
    assert no_point.sum() == world.address_only

    _ok(["export", "quarantine", "-o", str(out / "q.csv"), *store])
    _ok(["export", "hotspots", "--level", "mahalla", "-o", str(out / "hm.csv"), *store])
    hot = pd.read_csv(out / "hm.csv")
    assert hot["count"].sum() > 0 and (hot["gi_class"].str.startswith("hot")).any()
    _ok(["export", "kde", "-o", str(out / "kde.tif"), *store])
    _ok(["evaluate", "--cutoff", "2019-07-01", "--horizon-days", "90", "--report",
         str(out / "eval.json"), *store])
    report = json.loads((out / "eval.json").read_text())
    rows = pd.DataFrame(report["methods"])
    assert {"method", "coverage", "hit_rate", "pai", "pei"} <= set(rows.columns)
    assert (rows.loc[rows["coverage"] == 0.05, "pai"] > 1).all()  # better than chance
    with open_store(store_url) as opened:
        assert opened.count("incidents") == first["loaded"]
