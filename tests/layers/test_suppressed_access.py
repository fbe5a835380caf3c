"""Suppressed views through the data-access layer, on both stores: an analyst of one region
with ``suppressed_elsewhere`` reads the other regions de-identified, audited; one without it
reads nothing of them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import h3
import shapely

from riskmap.auth.roles import SUPPRESSED_H3_RES, Principal
from riskmap.geo.h3index import cells_from_lonlat
from riskmap.layers.access import DataAccess
from tests.etl.grid import centre, grid_frame

A, B = "Jizzakh", "Surxondaryo"


def _world(store) -> pd.DataFrame:
    mahallas = grid_frame()
    mahallas.loc[6:, "region"] = B  # M7..M9 (Arnasoy tumani) lie in B
    n = 12
    idx = np.arange(n) % 9
    lon = np.array([centre(i)[0] for i in idx]) + 0.001
    lat = np.array([centre(i)[1] for i in idx]) - 0.001
    incidents = pd.DataFrame({
        "incident_id": [f"INC{i:03d}" for i in range(n)],
        "occurred_at": pd.Timestamp("2025-03-17T08:13:00Z") + pd.to_timedelta(np.arange(n),
                                                                              unit="D"),
        "category": ["theft"] * n, "h3": cells_from_lonlat(lon, lat, 9),
        "mahalla_id": mahallas["mahalla_id"].to_numpy()[idx],
        "district": mahallas["district"].to_numpy()[idx],
        "region": mahallas["region"].to_numpy()[idx],
        "geocode_precision": ["coordinates"] * n, "flags": ["date_fixed"] * n,
        "source_file": ["secret.xlsx"] * n, "source_row": np.arange(n) + 2,
        "content_hash": np.arange(n)})
    import geopandas as gpd

    frame = gpd.GeoDataFrame(incidents, geometry=shapely.points(lon, lat), crs="EPSG:4326")
    store.replace("mahallas", mahallas)
    store.replace("incidents", frame)
    return frame


def test_an_analyst_reads_other_regions_deidentified_and_audited(store) -> None:
    world = _world(store)
    ana = Principal("ana", "analyst", regions=(A,), suppressed_elsewhere=True, client="10.0.0.1")
    access = DataAccess.for_principal(store, ana)
    assert access.suppressed_regions() == [B]
    got = access.read_suppressed("incidents", purpose="export")
    theirs = world[world["region"] == B].reset_index(drop=True)
    assert len(got) == len(theirs) == 3
    assert got["suppressed"].all() and set(got["region"]) == {B}
    for gone in ("incident_id", "flags", "source_file", "source_row", "content_hash"):
        assert gone not in got.columns
    # the point is the centre of the coarse cell; the time the start of the local month
    for (x, y, cell), orig in zip(zip(got.geometry.x, got.geometry.y, got["h3"], strict=True),
                                  theirs["h3"], strict=True):
        coarse = h3.cell_to_parent(h3.int_to_str(int(orig)), SUPPRESSED_H3_RES)
        clat, clon = h3.cell_to_latlng(coarse)
        assert np.isclose(x, clon) and np.isclose(y, clat)
        assert h3.int_to_str(int(cell)) == h3.cell_to_center_child(coarse, 9)
    local = pd.to_datetime(got["occurred_at"], utc=True).dt.tz_convert("Asia/Tashkent")
    assert (local.dt.day == 1).all() and (local.dt.hour == 0).all()
    # the user's own region is read in full by read(), never by read_suppressed()
    assert set(access.read("incidents")["region"]) == {A}
    both = access.read_visible("incidents", purpose="app")
    assert len(both) == len(world) and both["suppressed"].sum() == 3
    assert both.loc[both["suppressed"], "incident_id"].isna().all()
    mahallas = access.read_visible("mahallas", columns=["mahalla_id", "region"])
    assert mahallas.loc[mahallas["suppressed"], "mahalla_id"].tolist() == ["M7", "M8", "M9"]

    audit = store.read("audit")
    rec = audit[audit["action"] == "export"].iloc[-1]
    assert rec["user"] == "ana" and rec["client"] == "10.0.0.1" and rec["rows"] == 3
    assert json.loads(rec["detail"])["visibility"] == "suppressed"


def test_filters_cannot_undo_the_deidentification(store) -> None:
    _world(store)
    access = DataAccess.for_principal(store, Principal("ana", "analyst", regions=(A,),
                                                       suppressed_elsewhere=True))
    # the incidents of B fall on 2025-03-23 .. 2025-03-25: a day filter sees no exact day
    day = pd.Timestamp("2025-03-25", tz="Asia/Tashkent")
    assert len(access.read_suppressed("incidents", filters=[
        ("occurred_at", ">=", day), ("occurred_at", "<", day + pd.Timedelta(days=1))])) == 0
    month = pd.Timestamp("2025-03-01", tz="Asia/Tashkent")
    assert len(access.read_suppressed("incidents",
                                      filters=[("occurred_at", ">=", month)])) == 3
    with pytest.raises(PermissionError, match="source_row"):
        access.read_suppressed("incidents", filters=[("source_row", "=", 9)])
    for layer in ("incident_addresses", "cameras", "quarantine"):
        with pytest.raises(PermissionError, match="no suppressed view"):
            access.read_suppressed(layer)


def test_without_the_flag_nothing_of_other_regions_is_read(store) -> None:
    world = _world(store)
    plain = DataAccess.for_principal(store, Principal("ana0", "analyst", regions=(A,)))
    assert plain.suppressed_regions() == []
    assert len(plain.read_suppressed("incidents")) == 0
    got = plain.read_visible("incidents")
    assert set(got["region"]) == {A} and not got["suppressed"].any()
    # an unscoped user has no "elsewhere": everything in full
    hq = DataAccess.for_principal(store, Principal("hq", "admin", suppressed_elsewhere=True))
    assert len(hq.read_visible("incidents")) == len(world)
    assert not hq.read_visible("incidents")["suppressed"].any()


def test_a_district_scope_sees_its_regions_other_districts_suppressed(store) -> None:
    _world(store)
    access = DataAccess(store, user="d", regions=[A], districts=["Jizzax shahri"],
                        suppressed_elsewhere=True, limit=[A])  # the app limit: A only
    got = access.read_suppressed("incidents")
    assert set(got["district"]) == {"Sharof Rashidov tumani"} and set(got["region"]) == {A}
