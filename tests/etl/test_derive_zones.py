"""Tests of the ``zones`` build step on the tiny zone world: layers written in one go, replaced on rerun."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd

from riskmap.etl.build import build_all
from riskmap.etl.derive_zones import ZONE_LAYERS, build, zone_layers
from riskmap.layers import open_store
from riskmap.settings import Settings
from tests.etl.test_zone_report import zone_world


def _settings(store) -> Settings:
    return Settings(_env_file=None, store=store.url)  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    store = zone_world(tmp_path_factory.mktemp("derive") / "store")
    summary = build(store, _settings(store))
    return store, summary


def test_summary_counts(built) -> None:
    _, summary = built
    assert summary == {"zones": 1, "zone_readiness": 6, "zone_isochrones": 6, "zone_figures": 1,
                       "items_passed": 4}


def test_readiness_layer_hand_checked(built) -> None:
    store, _ = built
    ready = store.read("zone_readiness").set_index("item")
    assert list(ready.index) == ["road_access", "power_line", "police_post",
                                 "emergency_service", "medical", "entrance_cameras"]
    assert set(ready["zone"]) == {"Qo‘ng‘irot ko‘li"} and set(ready["feature_id"]) == {"Z1"}
    assert ready.loc["road_access", "value"] == pytest.approx(6.0, rel=1e-3)
    assert ready.loc["power_line", "value"] == pytest.approx(3.0, rel=1e-4)
    assert not ready.loc["power_line", "ok"] and ready.loc["power_line", "threshold"] == 2.0
    assert not ready.loc["medical", "ok"] and np.isnan(ready.loc["medical", "value"])
    assert ready.loc["entrance_cameras", "ok"]
    assert ready.loc["police_post", "share_beyond"] == 0.0
    assert np.isnan(ready.loc["power_line", "share_beyond"])


def test_isochrone_layer_grows_with_minutes(built) -> None:
    store, _ = built
    iso = store.read("zone_isochrones")
    assert isinstance(iso, gpd.GeoDataFrame) and iso.crs.to_epsg() == 4326
    assert sorted(zip(iso["source_kind"], iso["minutes"], strict=True)) == [
        ("emergency", 10.0), ("emergency", 20.0), ("emergency", 30.0),
        ("police", 10.0), ("police", 20.0), ("police", 30.0)]
    for _, group in iso.groupby("source_kind"):
        within = group.sort_values("minutes")["within"].to_numpy()
        assert np.all(np.diff(within) >= -1e-9) and within[0] > 0 and within[-1] <= 1 + 1e-9
    # the 112 post is in the centre: it reaches the whole 2 x 2 km zone within 30 min
    assert iso.loc[(iso["source_kind"] == "emergency") & (iso["minutes"] == 30.0),
                   "within"].item() == pytest.approx(1.0)


def test_figures_layer_is_the_report_json(built) -> None:
    store, _ = built
    figures = store.read("zone_figures")
    data = json.loads(figures["figures"].item())
    assert data["zone"] == "Qo‘ng‘irot ko‘li" and data["area_km2"] == pytest.approx(4.0)
    assert data["incidents_by_season"]["zone"] == {"total": 3, "in_season": 2, "off_season": 1}
    assert data["synthetic"] is True and set(data["isochrone_share"]) == {"10", "20", "30"}


def test_rerun_through_build_all_replaces(built) -> None:
    store, _ = built
    result = build_all(store, _settings(store), only=("zones",))
    assert result.ok and list(result.summary) == ["zones"]
    assert result.summary["zones"]["zones"] == 1
    assert len(store.read("zone_readiness")) == 6 and len(store.read("zone_isochrones")) == 6


def test_store_without_zones_writes_empty_layers(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "empty"))
    summary = build(store, _settings(store))
    assert summary["zones"] == 0 and summary["items_passed"] == 0
    for name in ZONE_LAYERS:
        assert store.has(name) and len(store.read(name)) == 0


def test_zone_layers_of_nothing() -> None:
    out = zone_layers([])
    assert set(out) == set(ZONE_LAYERS)
    assert all(len(frame) == 0 for frame in out.values())
    assert list(out["zone_readiness"].columns)[:3] == ["zone", "feature_id", "item"]
    assert isinstance(out["zone_figures"], pd.DataFrame)
