"""Incidents partitioned by month, on both backends: moved rows, pruning, what a load touches.

The embedded store keeps a GeoParquet part (and a key index) per month in its manifest;
PostGIS a range partition ``incidents_yYYYYmMM`` per month. Either way an upsert finds a key in
whichever month it is, a read filtered on ``occurred_at`` reads only the months it can match,
and a load writes only the months it changes, all or nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pytest

import geopandas as gpd
import shapely

import riskmap.layers.embedded as embedded
import riskmap.layers.store as store_module
from riskmap.errors import StoreError
from riskmap.layers import get_spec
from riskmap.layers.spec import conform
from riskmap.layers.store import Store, key_hashes, month_codes
from tests.conftest import _libpq

JAN, FEB, MAR = (pd.Timestamp(t, tz="UTC") for t in ("2024-01-15T10:00Z", "2024-02-15T10:00Z",
                                                       "2024-03-15T10:00Z"))


def incidents(ids: list[str], when: list[pd.Timestamp], *, category: str = "theft"
              ) -> gpd.GeoDataFrame:
    """Incident rows with given ids and times (points near Jizzakh)."""
    n = len(ids)
    return gpd.GeoDataFrame({
        "incident_id": ids,
        "occurred_at": pd.DatetimeIndex(when).as_unit("us"),
        "category": [category] * n,
        "h3": np.arange(n, dtype="int64") + 617_700_169_958_293_503,
        "mahalla_id": ["M1"] * n,
        "geocode_precision": ["coordinates"] * n,
        "content_hash": np.arange(n, dtype="int64"),
    }, geometry=shapely.points(67.84 + np.arange(n) * 1e-4, np.full(n, 40.1)), crs=4326)


def three_months() -> gpd.GeoDataFrame:
    """Two incidents in each of January, February and March 2024."""
    return incidents(["J1", "J2", "F1", "F2", "M1", "M2"], [JAN, JAN, FEB, FEB, MAR, MAR])


def _ids(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["incident_id"].astype(str))


def _months_of(store: Store) -> dict[str, list[str]]:
    """Month (YYYY-MM) -> ids stored in it, as the backend partitions them."""
    if isinstance(store, embedded.EmbeddedStore):
        manifest = json.loads((store.root / "manifest.json").read_text())
        out: dict[str, list[str]] = {}
        for part in manifest["parts"]["incidents"]:
            table = pd.read_parquet(store.root / "layers" / part["data"], columns=["incident_id"])
            out.setdefault(part["month"], []).extend(table["incident_id"].astype(str))
        return {k: sorted(v) for k, v in out.items()}
    with psycopg.connect(_libpq(store.url)) as conn:
        rows = conn.execute("SELECT tableoid::regclass::text, incident_id FROM incidents").fetchall()
    out = {}
    for table, ident in rows:
        year, month = table.removeprefix("incidents_y").split("m")
        out.setdefault(f"{year}-{month}", []).append(ident)
    return {k: sorted(v) for k, v in sorted(out.items())}


# ---- months ----------------------------------------------------------------------------------

def test_rows_go_to_the_month_of_their_time_in_utc(store: Store) -> None:
    edge = incidents(["last", "first"], [pd.Timestamp("2024-01-31T23:59:59.999999Z"),
                                         pd.Timestamp("2024-02-01T00:00:00Z")])
    # 04:00 in Tashkent on 1 February is still January in UTC
    tashkent = incidents(["tz"], [pd.Timestamp("2024-02-01T04:00", tz="Asia/Tashkent")])
    store.replace("incidents", pd.concat([edge, tashkent], ignore_index=True))
    assert _months_of(store) == {"2024-01": ["last", "tz"], "2024-02": ["first"]}


def test_a_row_without_a_time_is_refused(store: Store) -> None:
    frame = three_months()
    frame.loc[2, "occurred_at"] = pd.NaT
    with pytest.raises(StoreError, match=r"1 row.*no 'occurred_at'"):
        store.replace("incidents", frame)
    assert store.count("incidents") == 0


def test_upsert_moves_a_row_whose_month_changed(store: Store) -> None:
    store.replace("incidents", three_months())
    moved = incidents(["J1"], [MAR], category="robbery")
    with store.transaction() as txn:
        txn.upsert("incidents", moved)
    got = store.read("incidents").set_index("incident_id")
    assert len(got) == 6 and store.count("incidents") == 6
    assert got.loc["J1", "occurred_at"] == MAR
    assert got.loc["J1", "category"] == "robbery"
    assert _months_of(store) == {"2024-01": ["J2"], "2024-02": ["F1", "F2"],
                                 "2024-03": ["J1", "M1", "M2"]}
    january = store.read("incidents", filters=[("occurred_at", "<", FEB)])
    assert _ids(january) == ["J2"]


def test_upsert_moves_the_last_row_out_of_a_month(store: Store) -> None:
    store.replace("incidents", incidents(["A", "B"], [JAN, FEB]))
    with store.transaction() as txn:
        txn.upsert("incidents", incidents(["A"], [FEB]))
    assert _months_of(store) == {"2024-02": ["A", "B"]} or _months_of(store) == {
        "2024-01": [], "2024-02": ["A", "B"]}
    assert _ids(store.read("incidents")) == ["A", "B"]


def test_delete_and_append_find_keys_in_any_month(store: Store) -> None:
    store.replace("incidents", three_months())
    with store.transaction() as txn:
        txn.delete("incidents", ["J2", "M1", "nope"])
    assert _ids(store.read("incidents")) == ["F1", "F2", "J1", "M2"]
    with pytest.raises(StoreError, match=r"append.*repeat key 'incident_id'.*F2"):
        store.append("incidents", incidents(["new", "F2"], [MAR, JAN]))
    store.append("incidents", incidents(["new"], [JAN]))
    assert _months_of(store)["2024-01"] == ["J1", "new"]


# ---- reads -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("filters", "ids"), [
    ([("occurred_at", ">=", FEB)], ["F1", "F2", "M1", "M2"]),
    ([("occurred_at", "<", "2024-02-01")], ["J1", "J2"]),
    ([("occurred_at", "=", JAN)], ["J1", "J2"]),
    ([("occurred_at", "in", [FEB, MAR])], ["F1", "F2", "M1", "M2"]),
    ([("occurred_at", "!=", JAN)], ["F1", "F2", "M1", "M2"]),
    ([("occurred_at", ">", MAR)], []),
    ([("occurred_at", ">=", FEB), ("occurred_at", "<", MAR), ("category", "=", "theft")],
     ["F1", "F2"]),
    ([("incident_id", "in", ["M2", "J1", "zz", "J1"])], ["J1", "M2"]),
    ([("incident_id", "=", "F1"), ("occurred_at", ">=", MAR)], []),
])
def test_filtered_reads(store: Store, filters: list, ids: list[str]) -> None:
    store.replace("incidents", three_months())
    got = store.read("incidents", filters=filters)
    assert _ids(got) == ids
    assert str(got["occurred_at"].dtype) == "datetime64[us, UTC]"


def test_read_by_key_of_key_columns(store: Store) -> None:
    store.replace("incidents", three_months())
    got = store.read("incidents", columns=["incident_id", "content_hash"],
                     filters=[("incident_id", "in", pd.array(["F2", "x", "J1"], dtype="string"))])
    assert list(got.columns) == ["incident_id", "content_hash"]
    assert dict(zip(got["incident_id"], got["content_hash"], strict=True)) == {"J1": 0, "F2": 3}
    assert str(got["content_hash"].dtype) == "Int64"
    none = store.read("incidents", columns=["incident_id", "content_hash"],
                      filters=[("incident_id", "in", ["x"])])
    assert len(none) == 0 and list(none.columns) == ["incident_id", "content_hash"]


def test_embedded_read_opens_only_the_months_it_can_match(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    store = embedded.EmbeddedStore(tmp_path / "s")
    store.replace("incidents", three_months())
    opened: list[list[str]] = []
    real = embedded.pads.dataset

    def spy(paths, *args, **kwargs):
        opened.append(sorted(Path(p).name.split(".")[1] for p in paths))
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(embedded.pads, "dataset", spy)
    assert _ids(store.read("incidents", filters=[("occurred_at", ">=", FEB),
                                                 ("occurred_at", "<", MAR)])) == ["F1", "F2"]
    assert _ids(store.read("incidents", filters=[("occurred_at", "in", [JAN])])) == ["J1", "J2"]
    assert _ids(store.read("incidents", filters=[("incident_id", "in", ["M1"])])) == ["M1"]
    assert len(store.read("incidents", filters=[("occurred_at", ">", MAR)])) == 0
    assert opened == [["2024-02"], ["2024-01"], ["2024-03"]]  # the last opened nothing


# ---- what a load touches ---------------------------------------------------------------------

def _fingerprint(store: Store) -> dict[str, object]:
    """Per month, what a rewrite would change: the part files (embedded), the rows' xmin (PostGIS)."""
    if isinstance(store, embedded.EmbeddedStore):
        manifest = json.loads((store.root / "manifest.json").read_text())
        out: dict[str, object] = {}
        for part in manifest["parts"]["incidents"]:
            path = store.root / "layers" / part["data"]
            out.setdefault(part["month"], []).append((part["data"], path.stat().st_mtime_ns))
        return out
    with psycopg.connect(_libpq(store.url)) as conn:
        rows = conn.execute("SELECT tableoid::regclass::text, incident_id, xmin::text, "
                            "ctid::text FROM incidents ORDER BY 1, 2").fetchall()
    out = {}
    for table, *rest in rows:
        out.setdefault(table, []).append(tuple(rest))
    return out


def test_a_load_writes_only_the_months_it_changes(store: Store) -> None:
    store.replace("incidents", three_months())
    before = _fingerprint(store)
    with store.transaction() as txn:  # a new row in March and a change to a March row
        txn.upsert("incidents", incidents(["M3", "M2"], [MAR, MAR], category="fraud"))
    after = _fingerprint(store)
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed == ({"2024-03"} if isinstance(store, embedded.EmbeddedStore)
                       else {"incidents_y2024m03"})
    assert _ids(store.read("incidents", filters=[("category", "=", "fraud")])) == ["M2", "M3"]


def test_embedded_new_rows_are_a_new_part_beside_the_month(tmp_path: Path) -> None:
    store = embedded.EmbeddedStore(tmp_path / "s")
    store.replace("incidents", three_months())
    before = json.loads((store.root / "manifest.json").read_text())["parts"]["incidents"]
    with store.transaction() as txn:
        txn.upsert("incidents", incidents(["M3"], [MAR]))
    after = json.loads((store.root / "manifest.json").read_text())["parts"]["incidents"]
    assert before == [p for p in after if p["data"] in {q["data"] for q in before}]
    new = [p for p in after if p["data"] not in {q["data"] for q in before}]
    assert [(p["month"], p["rows"]) for p in new] == [("2024-03", 1)]
    # the sweep kept them (beside the file of derived_dirty: the months the writes touched)
    files = {p.name for p in (store.root / "layers").iterdir()
             if not p.name.startswith("derived_dirty.")}
    assert files == {n for p in after for n in (p["data"], p["keys"])}


def test_embedded_merges_a_months_small_parts(tmp_path: Path) -> None:
    store = embedded.EmbeddedStore(tmp_path / "s")
    store.replace("incidents", incidents([f"A{i}" for i in range(50)], [JAN] * 50))
    for day in range(12):  # twelve daily loads into January
        with store.transaction() as txn:
            txn.upsert("incidents", incidents([f"D{day}"], [JAN + pd.Timedelta(days=day)]))
    parts = json.loads((store.root / "manifest.json").read_text())["parts"]["incidents"]
    assert len(parts) <= embedded._MAX_PARTS
    assert max(p["rows"] for p in parts) == 50  # the big part was never rewritten
    assert store.count("incidents") == 62
    assert _ids(store.read("incidents", filters=[("incident_id", "in", ["D0", "D11", "A7"])])
                ) == ["A7", "D0", "D11"]


# ---- atomicity -------------------------------------------------------------------------------

def test_a_failed_load_leaves_every_month_as_it_was(store: Store) -> None:
    store.replace("incidents", three_months())
    before = (_fingerprint(store), _months_of(store), store.read("incidents"))
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as txn:
        txn.upsert("incidents", incidents(["J1", "N1"], [MAR, pd.Timestamp("2024-07-01T00:00Z")]))
        txn.delete("incidents", ["F1"])
        raise RuntimeError("boom")
    assert _fingerprint(store) == before[0]
    assert _months_of(store) == before[1]
    pd.testing.assert_frame_equal(store.read("incidents").sort_values("incident_id")
                                  .reset_index(drop=True).drop(columns="geometry"),
                                  before[2].sort_values("incident_id").reset_index(drop=True)
                                  .drop(columns="geometry"))
    if isinstance(store, embedded.EmbeddedStore):
        live = {n for parts in json.loads((store.root / "manifest.json").read_text())["parts"]
                .values() for p in parts for n in (p["data"], p["keys"])}
        assert {p.name for p in (store.root / "layers").iterdir()
                if p.name.startswith("incidents")} == live  # the new parts were removed
    else:
        with psycopg.connect(_libpq(store.url)) as conn:
            assert conn.execute("SELECT count(*) FROM pg_class WHERE relname = "
                                "'incidents_y2024m07'").fetchone() == (0,)


# ---- the embedded key index ------------------------------------------------------------------

def test_keys_that_share_a_hash_are_told_apart(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Equal hashes are confirmed against the keys: with every key hashing alike, still right."""
    def alike(values: Any) -> np.ndarray:
        return np.zeros(len(values), dtype=np.uint64)
    monkeypatch.setattr(embedded, "key_hashes", alike)
    monkeypatch.setattr(store_module, "key_hashes", alike)  # those the key checks made
    store = embedded.EmbeddedStore(tmp_path / "s")
    store.replace("incidents", three_months())
    with store.transaction() as txn:
        txn.upsert("incidents", incidents(["F1", "X1"], [JAN, FEB], category="fraud"))
    got = store.read("incidents").set_index("incident_id")
    assert sorted(got.index) == ["F1", "F2", "J1", "J2", "M1", "M2", "X1"]
    assert got.loc["F1", "occurred_at"] == JAN and got.loc["F2", "category"] == "theft"
    assert _ids(store.read("incidents", filters=[("incident_id", "in", ["M2", "X1"])])
                ) == ["M2", "X1"]


def test_key_hashes_are_the_same_whatever_the_path() -> None:
    ascii_keys = [f"ID-{i}" for i in range(300)] + ["", "x" * 64]
    other = ["Дўстлик", "y" * 65, "a\u00e9"]
    mixed = key_hashes(pa_array(ascii_keys + other))  # byte by byte (not all ASCII)
    alone = key_hashes(pa_array(ascii_keys))  # a word at a time
    assert (mixed[:len(ascii_keys)] == alone).all()
    assert len(set(mixed.tolist())) == len(ascii_keys) + len(other)


def pa_array(values: list[str]):
    import pyarrow as pa

    return pa.array(values, type=pa.large_string())


def test_a_format_1_store_is_read_and_split_into_months_on_write(tmp_path: Path) -> None:
    """A store written before partitioning (every layer one file) keeps working."""
    root = tmp_path / "old"
    (root / "layers").mkdir(parents=True)
    part = "incidents.0123456789abcdef0123456789abcdef.parquet"
    spec = get_spec("incidents")
    table = embedded._to_arrow(conform(spec, three_months()), spec)
    import pyarrow.parquet as pq

    pq.write_table(table, root / "layers" / part)
    (root / "manifest.json").write_text(json.dumps({"format": 1,
                                                    "layers": {"incidents": [part]}}))
    store = embedded.EmbeddedStore(root)
    assert store.count("incidents") == 6
    assert _ids(store.read("incidents", filters=[("occurred_at", "<", FEB)])) == ["J1", "J2"]
    with store.transaction() as txn:
        txn.upsert("incidents", incidents(["J1"], [MAR]))
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["format"] == 2
    assert [p["month"] for p in manifest["parts"]["incidents"]] == ["2024-01", "2024-02",
                                                                    "2024-03", "2024-03"]
    assert not (root / "layers" / part).exists()
    assert _months_of(store) == {"2024-01": ["J2"], "2024-02": ["F1", "F2"],
                                 "2024-03": ["J1", "M1", "M2"]}


def test_month_codes_of_pandas_and_arrow_agree() -> None:
    import pyarrow as pa

    when = pd.Series(pd.to_datetime(["1969-12-31T23:59Z", "2024-02-29T12:00Z", None], utc=True))
    arrow = pa.array(when.astype("datetime64[us, UTC]"))
    assert month_codes(when).tolist() == month_codes(arrow).tolist() == [-1, 649, -2**31]
