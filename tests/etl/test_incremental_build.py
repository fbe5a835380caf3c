"""Incremental ``riskmap build`` (etl.incremental): marks, the cube, and equality with a full
build, on both store backends."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import geopandas as gpd
import shapely

from riskmap.etl import hotspots_job
from riskmap.etl.build import build_all
from riskmap.etl.derive_coverage import COVERAGE_LAYERS
from riskmap.etl.derive_hotspots import HOTSPOT_LAYERS, hotspot_layers
from riskmap.etl.derive_zones import ZONE_LAYERS
from riskmap.etl.incremental import CUBE_LAYERS, cube_frames, history_layer, read_touched
from riskmap.geo.status import StatusRule
from riskmap.layers.store import month_codes, open_store
from riskmap.settings import GeoSettings
from tests import fixtures

SETTINGS = SimpleNamespace(geo=GeoSettings(hotspot_resolutions=[8, 9]))
COMPARED = (*HOTSPOT_LAYERS, *CUBE_LAYERS, *COVERAGE_LAYERS.values(), *ZONE_LAYERS)
_SORT = ("res", "h3", "mahalla_id", "month", "camera_id", "site_id", "feature_id", "zone",
         "item", "minutes", "source_kind", "name", "region")


def _incidents(n: int, months: list[str], seed: int, prefix: str) -> gpd.GeoDataFrame:
    """``n`` incidents spread over the tiny world's four mahallas and the given months."""
    rng = np.random.default_rng(seed)
    mh = fixtures.mahallas()
    which = rng.integers(0, len(mh), n)
    centre = shapely.centroid(mh.geometry.to_numpy())
    cx = shapely.get_x(centre)[which] + rng.normal(0, 0.002, n)
    cy = shapely.get_y(centre)[which] + rng.normal(0, 0.002, n)
    month = pd.to_datetime(np.array(months)[rng.integers(0, len(months), n)], utc=True)
    at = month + pd.to_timedelta(rng.integers(0, 27 * 24 * 60, n), unit="min")
    cats = np.array(["theft", "assault", "robbery", "fraud"])[rng.integers(0, 4, n)]
    return gpd.GeoDataFrame({
        "incident_id": [f"{prefix}{i}" for i in range(n)],
        "occurred_at": at,
        "category": cats,
        "h3": [fixtures.cell(x, y) for x, y in zip(cx, cy, strict=True)],
        "mahalla_id": mh["mahalla_id"].to_numpy()[which],
        "district": mh["district"].to_numpy()[which],
        "region": fixtures.REGION,
        "geocode_precision": "coordinates",
        "content_hash": np.arange(n, dtype=np.int64),
    }, geometry=shapely.points(cx, cy), crs=4326)


def _months(first: str, last: str) -> list[str]:
    return [str(m.date()) for m in pd.date_range(first, last, freq="MS")]


def _base(store, like: object = None) -> None:
    world = fixtures.tiny_world()
    if str(getattr(like, "url", store.url)).startswith("postgres"):
        # the tiny world's tourist zone F4 fails the zones step on PostGIS whatever the build
        # (an isochrone comes out as a GeometryCollection the MultiPolygon column refuses):
        # left out there; the embedded run compares the zone layers
        infra = world["infrastructure"]
        world["infrastructure"] = infra[infra["kind"] != "tourist_zone"]
    for name in ("mahallas", "cameras", "infrastructure"):
        store.replace(name, world[name])


def _batches() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, list[str]]:
    """Months A (2023-01..2025-03), then a late batch: 2025-02 again, new months 2025-04/05,
    and an update that moves one first-batch incident from its month to 2024-06."""
    first = _incidents(600, _months("2023-01-01", "2025-03-01"), 1, "A")
    late = _incidents(80, ["2025-02-01", "2025-04-01", "2025-05-01"], 2, "B")
    moved = first.iloc[[0]].copy()
    moved["occurred_at"] = pd.Timestamp("2024-06-15T10:00Z")
    moved["content_hash"] = 10_000
    deleted = [str(first["incident_id"].iloc[1])]
    return first, pd.concat([late, _unlocated(3, ["2025-04-01"], 5, "U"), moved],
                            ignore_index=True), deleted


def _touched_by_late(first: gpd.GeoDataFrame) -> set[int]:
    """Months the late batch touches: its own, and the old months of the moved and deleted."""
    old = month_codes(pd.Series(first["occurred_at"].iloc[[0, 1]]))
    return set(month_codes(pd.to_datetime(["2025-02-01", "2025-04-01", "2025-05-01",
                                           "2024-06-01"], utc=True)).tolist()) | set(old.tolist())


def _frame(store, name: str) -> pd.DataFrame:
    frame = pd.DataFrame(store.read(name))
    if "geometry" in frame:
        frame["geometry"] = shapely.to_wkb(frame["geometry"].to_numpy())
    keys = [c for c in _SORT if c in frame]
    frame = frame.sort_values(keys, kind="stable") if keys else frame
    return frame[sorted(frame.columns)].reset_index(drop=True)


def _unstamped(figures: pd.Series) -> list[dict]:
    out = []
    for text in figures:
        data = json.loads(text)
        data.pop("generated_at")
        out.append(data)
    return out


def _unlocated(n: int, months: list[str], seed: int, prefix: str) -> gpd.GeoDataFrame:
    """Incidents known only by their mahalla (no point, no cell)."""
    rows = _incidents(n, months, seed, prefix)
    rows["h3"] = pd.array([pd.NA] * n, dtype="Int64")
    rows["geocode_precision"] = "mahalla"
    return rows.set_geometry(gpd.GeoSeries([shapely.Point()] * n, crs=4326))


def _assert_same(a, b) -> None:
    for name in COMPARED:
        assert a.has(name) == b.has(name), name
        fa, fb = _frame(a, name), _frame(b, name)
        if name == "zone_figures":  # a report stamps the time it was made
            fa["figures"], fb["figures"] = _unstamped(fa["figures"]), _unstamped(fb["figures"])
        pd.testing.assert_frame_equal(fa, fb, check_dtype=False, obj=name)


def test_writes_leave_marks_in_the_same_transaction(store) -> None:
    _base(store)
    first, late, deleted = _batches()
    touched = read_touched(store)
    assert touched.layers == {"mahallas", "cameras", "infrastructure"}
    with store.transaction() as txn:
        txn.upsert("incidents", first)
    assert len(read_touched(store).months) == 27  # 2023-01 .. 2025-03
    result = build_all(store, SETTINGS)
    assert result.ok, result.summary
    assert read_touched(store).nothing
    with store.transaction() as txn:
        txn.upsert("incidents", late)  # the moved incident was in 2023-..; now 2024-06
        txn.delete("incidents", deleted)
    touched = read_touched(store)
    want = _touched_by_late(first)
    assert set(touched.months.tolist()) == want and not touched.layers
    assert touched.regions == {fixtures.REGION}
    # a transaction that fails leaves neither rows nor marks
    with pytest.raises(RuntimeError), store.transaction() as txn:
        txn.upsert("incidents", _incidents(3, ["2026-01-01"], 3, "C"))
        raise RuntimeError("crash")
    assert set(read_touched(store).months.tolist()) == want


def _not_again(*args, **kwargs):
    raise AssertionError("the study units were made again")


def test_incremental_builds_equal_a_full_build(store_url: str, tmp_path, monkeypatch) -> None:
    first, late, deleted = _batches()
    inc = open_store(store_url)
    full = open_store(str(tmp_path / "full"))
    try:
        _base(inc)
        with inc.transaction() as txn:
            txn.upsert("incidents", first)
        r1 = build_all(inc, SETTINGS)
        assert r1.ok, r1.summary
        assert r1.summary["hotspots"]["mode"] == "full"
        with inc.transaction() as txn:
            txn.upsert("incidents", late)
            txn.delete("incidents", deleted)
        # the study units were stored with the first build: the second one reads them
        hotspots_job._CACHE.clear()
        monkeypatch.setattr(hotspots_job, "study_cells", _not_again)
        r2 = build_all(inc, SETTINGS)
        monkeypatch.undo()
        assert r2.ok, r2.summary
        assert r2.summary["hotspots"]["mode"] == "incremental"
        # incidents alone changed: the camera polygons stay, the zones' figures are patched
        assert r2.summary["coverage"]["mode"] == "incremental"
        if not store_url.startswith("postgres"):
            assert r2.summary["zones"]["mode"] == "incremental"
            assert r2.summary["zones"]["patched"] == 1
        assert r2.summary["hotspots"]["months_touched"] == len(_touched_by_late(first))
        # the same data loaded at once, built in full
        _base(full, like=inc)
        with full.transaction() as txn:
            txn.upsert("incidents", first)
        with full.transaction() as txn:
            txn.upsert("incidents", late)
            txn.delete("incidents", deleted)
        assert build_all(full, SETTINGS, full=True).ok
        _assert_same(inc, full)

        # a late row in an old month (outside the window, in the status history)
        old = _incidents(5, ["2024-02-01"], 4, "D")
        for s in (inc, full):
            with s.transaction() as txn:
                txn.upsert("incidents", old)
        r3 = build_all(inc, SETTINGS)
        assert r3.summary["hotspots"]["recomputed"] == ["mahalla_status"]
        assert r3.summary["coverage"]["mode"] == "unchanged"
        assert build_all(full, SETTINGS, full=True).ok
        _assert_same(inc, full)

        # nothing touched: nothing is recomputed or written
        version = inc.version()
        t0 = time.perf_counter()
        r4 = build_all(inc, SETTINGS)
        seconds = time.perf_counter() - t0
        assert {r4.summary[s]["mode"] for s in ("hotspots", "coverage", "zones")} == {"unchanged"}
        assert inc.version() == version
        assert seconds < 10
    finally:
        inc.close()
        full.close()


def test_cube_layers_match_the_row_computation() -> None:
    """The cube path gives the figures hotspot_layers computes from the rows."""
    from riskmap.etl.hotspots_job import default_window
    from riskmap.etl.incremental import window_layers

    first, late, _ = _batches()
    rows = pd.concat([first, late.iloc[:-1]], ignore_index=True)
    mh = fixtures.mahallas()
    raw = hotspot_layers(rows, mh, resolutions=(8, 9), months=12)
    cube = cube_frames(rows)
    start, end = default_window(rows, 12)
    rule = StatusRule(window_months=12)
    got = window_layers(cube, mh, start=start, end=end, resolutions=(8, 9), months=12, fdr=True,
                        rule=rule)
    for name in ("hotspots_h3", "hotspots_mahalla"):
        pd.testing.assert_frame_equal(got[name].reset_index(drop=True),
                                      raw[name].reset_index(drop=True), check_dtype=False)
    months = np.unique(month_codes(raw["mahalla_status"]["month"]))
    hist = history_layer(cube, mh, report=months, rule=rule)
    pd.testing.assert_frame_equal(hist, raw["mahalla_status"], check_dtype=False)


def test_stored_study_units_round_trip_in_every_archive_form() -> None:
    """The study lattice is stored as an npz archive of its cells (as steps) and star sizes;
    it reads back to the cells and the row sums of the star weights, and the older archives
    that held the whole weight matrix (int8 or float64 weights) read back to the same."""
    import base64

    from riskmap.etl.incremental import _decode_units, _encode_units
    from riskmap.geo.hotspots import h3_star_sizes

    ids, w = hotspots_job.study_units(fixtures.mahallas(), level="h3", res=9)
    sizes = np.diff(w.indptr)
    assert w.nnz > 0 and sizes.min() < 7 and sizes.max() == 7
    np.testing.assert_array_equal(h3_star_sizes(ids), sizes)
    old_int8 = sp.csr_matrix((w.data.astype(np.int8), w.indices, w.indptr), shape=w.shape)
    for text in (_encode_units(ids, sizes),
                 base64.b64encode(_savez_compressed(ids, w)).decode(),
                 base64.b64encode(_savez_compressed(ids, old_int8)).decode()):
        ids2, sizes2 = _decode_units(text)
        np.testing.assert_array_equal(ids2, ids)
        assert ids2.dtype == np.int64 and sizes2.dtype == np.int8
        np.testing.assert_array_equal(sizes2, sizes)
    empty = _decode_units(_encode_units(np.zeros(0, dtype=np.int64), np.zeros(0)))
    assert empty[0].size == 0 and empty[1].size == 0


def _savez_compressed(ids, w) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, ids=np.asarray(ids, dtype=np.int64), indptr=w.indptr,
                        indices=w.indices, data=w.data, shape=np.asarray(w.shape))
    return buf.getvalue()
