"""The Store contract, run on both backends (embedded GeoParquet and PostGIS) via ``store``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geopandas as gpd
import shapely

import riskmap.layers  # noqa: F401 - registers the built-in layers
from riskmap.errors import SchemaError, StoreError
from riskmap.layers.spec import CATEGORIES, PRECISIONS, conform, get_spec, registered_layers
from riskmap.layers.store import Store
from tests import fixtures

BUILTIN = ["mahallas", "incidents", "cameras", "infrastructure", "quarantine", "audit"]


def _expected(layer: str, frame: pd.DataFrame) -> pd.DataFrame:
    return conform(get_spec(layer), frame)


def _sorted(layer: str, frame: pd.DataFrame) -> pd.DataFrame:
    spec = get_spec(layer)
    by = spec.key if spec is not None and spec.key else list(frame.columns[:1])
    return frame.sort_values(by).reset_index(drop=True)


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame, layer: str) -> None:
    """Same columns, dtypes, values and geometries (exact WKB), ignoring row order."""
    actual, expected = _sorted(layer, actual), _sorted(layer, expected)
    assert list(actual.columns) == list(expected.columns)
    assert actual.dtypes.astype(str).to_dict() == expected.dtypes.astype(str).to_dict()
    if isinstance(expected, gpd.GeoDataFrame):
        assert isinstance(actual, gpd.GeoDataFrame)
        assert actual.crs.to_epsg() == 4326
        a, e = np.asarray(actual.geometry.values), np.asarray(expected.geometry.values)
        assert shapely.is_missing(a).tolist() == shapely.is_missing(e).tolist()
        assert shapely.to_wkb(a).tolist() == shapely.to_wkb(e).tolist()
        actual, expected = pd.DataFrame(actual.drop(columns="geometry")), pd.DataFrame(
            expected.drop(columns="geometry"))
    pd.testing.assert_frame_equal(actual, expected)


# ---- round trips -----------------------------------------------------------------------------

def test_builtin_layers_are_the_tested_ones() -> None:
    assert set(BUILTIN) <= set(registered_layers())


@pytest.mark.parametrize("layer", BUILTIN)
def test_write_read_roundtrip(store: Store, tiny_world: dict[str, pd.DataFrame],
                              layer: str) -> None:
    if layer == "audit":  # append-only: never replaced
        store.append(layer, tiny_world[layer])
    else:
        store.replace(layer, tiny_world[layer])
    got = store.read(layer)
    assert_same(got, _expected(layer, tiny_world[layer]), layer)
    assert store.count(layer) == len(tiny_world[layer])
    assert store.has(layer)


def test_roundtrip_keeps_the_edge_values(store: Store, tiny_world: dict[str, pd.DataFrame]
                                         ) -> None:
    store.replace("mahallas", tiny_world["mahallas"])
    store.replace("incidents", tiny_world["incidents"])
    store.replace("cameras", tiny_world["cameras"])
    mahallas = store.read("mahallas").set_index("mahalla_id")
    assert np.isnan(mahallas.loc["M4", "population"])
    assert mahallas.loc["M1", "population"] == 1200.0
    assert mahallas.loc["M3", "name_cyrillic"] == "Дўстлик"
    assert mahallas.loc["M1", "geometry"].area == pytest.approx(0.0001)
    incidents = store.read("incidents").set_index("incident_id")
    assert incidents.loc["I6", "geometry"].is_empty
    assert incidents.loc["I6", "geometry"].geom_type == "Point"
    assert str(incidents["occurred_at"].dtype) == "datetime64[us, UTC]"
    assert incidents.loc["I4", "occurred_at"] == pd.Timestamp("2024-03-15T23:59:59.25Z")
    assert incidents.loc["I5", "content_hash"] == 2**62 + 15  # no float round trip
    assert incidents.loc["I1", "h3"] == fixtures.cell(67.8425, 40.1025)
    assert pd.isna(incidents.loc["I1", "flags"])
    cameras = store.read("cameras").set_index("camera_id")
    assert pd.isna(cameras.loc["C3", "installed_on"])
    assert cameras.loc["C2", "installed_on"] == pd.Timestamp("2024-09-15")


def test_absent_layer_reads_as_the_spec_empty_frame(store: Store) -> None:
    got = store.read("incidents")
    expected = get_spec("incidents").empty()
    assert isinstance(got, gpd.GeoDataFrame)
    assert len(got) == 0
    assert got.dtypes.astype(str).to_dict() == expected.dtypes.astype(str).to_dict()
    assert store.count("incidents") == 0
    assert store.layer_names() == []
    assert not store.has("incidents")
    assert len(store.read("no_such_derived_layer")) == 0


def test_layer_names_lists_written_layers(store: Store, tiny_world: dict[str, pd.DataFrame]
                                          ) -> None:
    store.replace("cameras", tiny_world["cameras"])
    store.replace("mahallas", tiny_world["mahallas"].iloc[:0])
    # the writes of base layers also leave their marks for `riskmap build` (etl.incremental)
    assert store.layer_names() == ["cameras", "derived_dirty", "mahallas"]
    assert store.count("mahallas") == 0


# ---- upsert, append, delete ------------------------------------------------------------------

def test_upsert_replaces_rows_by_key(store: Store, tiny_world: dict[str, pd.DataFrame]) -> None:
    store.replace("cameras", tiny_world["cameras"])
    changes = tiny_world["cameras"].iloc[[1]].copy()
    changes["status"] = "broken"
    new = tiny_world["cameras"].iloc[[0]].copy()
    new["camera_id"] = "C9"
    with store.transaction() as txn:
        txn.upsert("cameras", pd.concat([changes, new]))
    got = store.read("cameras").set_index("camera_id")
    assert sorted(got.index) == ["C1", "C2", "C3", "C9"]
    assert got.loc["C2", "status"] == "broken"
    assert got.loc["C1", "status"] == "active"
    assert got.loc["C9", "geometry"].equals(tiny_world["cameras"].geometry.iloc[0])


def test_upsert_needs_a_key(store: Store, tiny_world: dict[str, pd.DataFrame]) -> None:
    with pytest.raises(StoreError, match="no key"), store.transaction() as txn:
        txn.upsert("audit", tiny_world["audit"])


def test_append_to_a_keyless_layer(store: Store, tiny_world: dict[str, pd.DataFrame]) -> None:
    store.append("audit", tiny_world["audit"])
    store.append("audit", tiny_world["audit"].iloc[:1])
    got = store.read("audit")
    assert len(got) == 3
    assert sorted(got["action"]) == ["export", "read", "read"]


def test_delete_by_key(store: Store, tiny_world: dict[str, pd.DataFrame]) -> None:
    store.replace("incidents", tiny_world["incidents"])
    with store.transaction() as txn:
        txn.delete("incidents", ["I2", "I6", "not-there"])
    assert sorted(store.read("incidents")["incident_id"]) == ["I1", "I3", "I4", "I5"]
    assert store.count("incidents") == 4


# ---- reads: columns and filters --------------------------------------------------------------

def test_read_columns_in_the_order_asked(store: Store, tiny_world: dict[str, pd.DataFrame]
                                         ) -> None:
    store.replace("incidents", tiny_world["incidents"])
    plain = store.read("incidents", columns=["h3", "incident_id"])
    assert not isinstance(plain, gpd.GeoDataFrame)
    assert list(plain.columns) == ["h3", "incident_id"]
    spatial = store.read("incidents", columns=["incident_id", "geometry"])
    assert isinstance(spatial, gpd.GeoDataFrame)
    assert list(spatial.columns) == ["incident_id", "geometry"]
    with pytest.raises(KeyError):
        store.read("incidents", columns=["no_such_column"])


TS = pd.Timestamp("2024-03-01T12:00:00Z")


@pytest.mark.parametrize(("filters", "ids"), [
    ([("category", "=", "theft")], ["I1", "I3"]),
    ([("category", "!=", "theft")], ["I2", "I4", "I5", "I6"]),
    ([("category", "in", ["robbery", "fraud"])], ["I4", "I6"]),
    ([("category", "in", [])], []),
    ([("occurred_at", "<", TS)], ["I1", "I2"]),
    ([("occurred_at", "<=", TS)], ["I1", "I2", "I3"]),
    ([("occurred_at", ">=", "2025-01-01")], ["I5", "I6"]),
    ([("occurred_at", ">", pd.Timestamp("2024-03-15T23:59:59.25Z"))], ["I5", "I6"]),
    ([("mahalla_id", ">=", "M3")], ["I4", "I5"]),
    ([("district", "=", "Zafarobod"), ("category", "=", "robbery")], ["I4"]),
    ([("flags", "=", "snapped")], ["I2"]),
    ([("source_row", "in", np.array([3]))], ["I2", "I4", "I6"]),
    ([("h3", "=", fixtures.cell(67.8575, 40.1025))], ["I3"]),
    ([("content_hash", ">", 2**62)], ["I5"]),
])
def test_filters(store: Store, tiny_world: dict[str, pd.DataFrame],
                 filters: list[tuple[str, str, object]], ids: list[str]) -> None:
    store.replace("incidents", tiny_world["incidents"])
    got = store.read("incidents", filters=filters)
    assert sorted(got["incident_id"]) == ids
    assert str(got["occurred_at"].dtype) == "datetime64[us, UTC]"


def test_filters_on_floats_dates_and_absent_layers(store: Store,
                                                   tiny_world: dict[str, pd.DataFrame]) -> None:
    store.replace("mahallas", tiny_world["mahallas"])
    store.replace("cameras", tiny_world["cameras"])
    big = store.read("mahallas", columns=["mahalla_id"], filters=[("population", ">", 500.0)])
    assert sorted(big["mahalla_id"]) == ["M1", "M2"]  # M4's NaN population is not > 500
    recent = store.read("cameras", filters=[("installed_on", ">=", "2024-01-01")])
    assert recent["camera_id"].tolist() == ["C2"]
    assert len(store.read("infrastructure", filters=[("kind", "=", "school")])) == 0
    with pytest.raises(KeyError):
        store.read("mahallas", filters=[("no_such_column", "=", 1)])
    with pytest.raises(ValueError, match="bad filter"):
        store.read("mahallas", filters=[("region", "LIKE", "J%")])


def test_filter_values_are_parameters(store: Store, tiny_world: dict[str, pd.DataFrame]
                                      ) -> None:
    store.replace("mahallas", tiny_world["mahallas"])
    sneaky = "x'; DROP TABLE mahallas; --"
    assert len(store.read("mahallas", filters=[("name", "=", sneaky)])) == 0
    assert store.count("mahallas") == 4


# ---- atomicity -------------------------------------------------------------------------------

def test_failed_transaction_changes_nothing(store: Store, tiny_world: dict[str, pd.DataFrame]
                                            ) -> None:
    store.replace("mahallas", tiny_world["mahallas"])
    store.replace("cameras", tiny_world["cameras"])
    before = {name: store.read(name) for name in ("mahallas", "cameras")}
    with pytest.raises(RuntimeError, match="boom"), store.transaction() as txn:
        txn.replace("mahallas", tiny_world["mahallas"].iloc[:1])
        txn.delete("cameras", ["C1"])
        txn.replace("incidents", tiny_world["incidents"])
        txn.append("audit", tiny_world["audit"])
        raise RuntimeError("boom")
    for name, frame in before.items():
        assert_same(store.read(name), frame, name)
    # the marks of the two committed writes (etl.incremental), none of the failed one
    assert store.layer_names() == ["cameras", "derived_dirty", "mahallas"]
    assert sorted(store.read("derived_dirty")["layer"]) == ["cameras", "mahallas"]
    assert store.count("incidents") == 0


def test_store_error_mid_transaction_rolls_back_earlier_writes(
        store: Store, tiny_world: dict[str, pd.DataFrame]) -> None:
    store.replace("cameras", tiny_world["cameras"])
    with pytest.raises(StoreError), store.transaction() as txn:
        txn.replace("cameras", tiny_world["cameras"].iloc[:1])
        txn.upsert("audit", tiny_world["audit"])  # audit has no key: refused
    assert sorted(store.read("cameras")["camera_id"]) == ["C1", "C2", "C3"]


def test_multi_layer_transaction_commits_together(store: Store,
                                                  tiny_world: dict[str, pd.DataFrame]) -> None:
    with store.transaction() as txn:
        for name, frame in tiny_world.items():
            (txn.append if name == "audit" else txn.replace)(name, frame)
    assert store.layer_names() == sorted([*tiny_world, "derived_dirty"])
    assert {n: store.count(n) for n in tiny_world} == {n: len(f) for n, f in tiny_world.items()}


# ---- CRS -------------------------------------------------------------------------------------

def test_srid_mismatch_is_refused(store: Store, tiny_world: dict[str, pd.DataFrame]) -> None:
    store.replace("cameras", tiny_world["cameras"])
    projected = tiny_world["cameras"].to_crs(3857)
    with pytest.raises(SchemaError, match="4326"):
        store.replace("cameras", projected)
    with pytest.raises(StoreError, match="CRS"):
        store.replace("derived_points", projected[["camera_id", "geometry"]])
    assert_same(store.read("cameras"), _expected("cameras", tiny_world["cameras"]), "cameras")
    assert not store.has("derived_points")


# ---- derived (unregistered) layers -----------------------------------------------------------

def _derived() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "cell": np.array([617700169958293503, 617700169958293504], dtype="int64"),
            "gi_z": [2.5, np.nan],
            "label": pd.array(["hot", None], dtype="string"),
            "significant": [True, False],
            "window_end": pd.to_datetime(["2024-06-30T00:00:00Z", "2024-12-31T00:00:00Z"],
                                         utc=True).astype("datetime64[us, UTC]"),
        },
        geometry=[fixtures.square(0, 0), None],
        crs="EPSG:4326",
    )


def test_derived_table_roundtrip(store: Store) -> None:
    store.replace("hotspots_r9", _derived())
    got = store.read("hotspots_r9")
    assert isinstance(got, gpd.GeoDataFrame)
    assert got.dtypes.astype(str).to_dict() == {
        "cell": "int64", "gi_z": "float64", "label": "string", "significant": "bool",
        "window_end": "datetime64[us, UTC]", "geometry": "geometry"}
    assert got["cell"].tolist() == [617700169958293503, 617700169958293504]
    assert got["gi_z"].iloc[0] == 2.5 and np.isnan(got["gi_z"].iloc[1])
    assert got["label"].iloc[0] == "hot" and pd.isna(got["label"].iloc[1])
    assert got["significant"].tolist() == [True, False]
    assert got.geometry.iloc[0].equals(fixtures.square(0, 0))
    assert got.geometry.iloc[1] is None
    assert got.crs.to_epsg() == 4326
    assert "hotspots_r9" in store.layer_names()


def test_derived_table_replace_changes_columns_and_append_adds_rows(store: Store) -> None:
    store.replace("summary", pd.DataFrame({"district": ["A", "B"], "n": [3, 4]}))
    store.append("summary", pd.DataFrame({"district": ["C"], "n": [5]}))
    got = store.read("summary")
    assert not isinstance(got, gpd.GeoDataFrame)
    assert sorted(got["district"]) == ["A", "B", "C"]
    assert int(got["n"].sum()) == 12
    store.replace("summary", pd.DataFrame({"region": ["Jizzakh"], "share": [0.25]}))
    got = store.read("summary")
    assert list(got.columns) == ["region", "share"]
    assert got["share"].tolist() == [0.25]
    assert store.read("summary", filters=[("share", ">", 0.5)]).empty


def test_nullable_int64_keeps_every_bit(store: Store, tiny_world: dict[str, pd.DataFrame]) -> None:
    frame = tiny_world["incidents"]
    frame["content_hash"] = pd.array([2**53 + 1, None, -(2**62) - 1, 1, 2, 3], dtype="Int64")
    store.replace("incidents", frame)
    got = store.read("incidents").set_index("incident_id")["content_hash"]
    assert str(got.dtype) == "Int64"
    assert got.loc["I1"] == 2**53 + 1
    assert pd.isna(got.loc["I2"])
    assert got.loc["I3"] == -(2**62) - 1


AWKWARD = ["", " ", "a\\b", '"q"', "x,y", "(p)", "line\nbreak", "tab\tx", "\\", '\\"', "NULL",
           "\\N", "Дўстлик", "é\r\n", ")", "  lead", None]


def test_awkward_strings_and_floats_roundtrip(store: Store) -> None:
    frame = pd.DataFrame({
        "s": pd.array(AWKWARD, dtype="string"),
        "f": [np.inf, -np.inf, np.nan, 0.1, -0.0, 1e308, 5e-324] + [1.0] * 10,
    })
    store.replace("awkward", frame)
    got = store.read("awkward")
    assert got["s"].tolist() == frame["s"].tolist()
    assert got["f"].iloc[:7].tolist()[:2] == [np.inf, -np.inf]
    assert np.isnan(got["f"].iloc[2])
    assert got["f"].iloc[3:7].tolist() == [0.1, -0.0, 1e308, 5e-324]
    only = store.read("awkward", columns=["s"], filters=[("s", "in", ["", "\\N", "NULL"])])
    assert sorted(only["s"].tolist()) == ["", "NULL", "\\N"]


# ---- property: incident rows round-trip ------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                max_size=12)


@st.composite
def incident_rows(draw: st.DrawFn) -> gpd.GeoDataFrame:
    n = draw(st.integers(1, 6))
    ids = draw(st.lists(_text.filter(bool), min_size=n, max_size=n, unique=True))
    micros = draw(st.lists(st.integers(946_684_800_000_000, 1_893_456_000_000_000),
                           min_size=n, max_size=n))
    points = draw(st.lists(st.one_of(
        st.none(), st.just((None, None)),
        st.tuples(st.floats(-180, 180), st.floats(-90, 90))), min_size=n, max_size=n))
    geoms = [None if p is None else shapely.Point() if p[0] is None else shapely.Point(*p)
             for p in points]
    return gpd.GeoDataFrame({
        "incident_id": ids,
        "occurred_at": pd.to_datetime(micros, unit="us", utc=True),
        "category": draw(st.lists(st.sampled_from(CATEGORIES), min_size=n, max_size=n)),
        "h3": draw(st.lists(st.integers(0, 2**63 - 1), min_size=n, max_size=n)),
        "mahalla_id": draw(st.lists(_text, min_size=n, max_size=n)),
        "geocode_precision": draw(st.lists(st.sampled_from(PRECISIONS), min_size=n, max_size=n)),
        "flags": draw(st.lists(st.none() | _text, min_size=n, max_size=n)),
        "source_row": pd.array(draw(st.lists(st.none() | st.integers(-2**63, 2**63 - 1),
                                             min_size=n, max_size=n)), dtype="Int64"),
    }, geometry=geoms, crs="EPSG:4326")


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=incident_rows())
def test_incident_rows_roundtrip(store: Store, frame: gpd.GeoDataFrame) -> None:
    store.replace("incidents", frame)
    assert_same(store.read("incidents"), _expected("incidents", frame), "incidents")
