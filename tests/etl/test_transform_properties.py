"""Property tests of the incident transform over every column type a reader can hand out.

Readers give numpy floats and ints, object columns, pandas ``string`` (python and pyarrow
storage) and pandas 3's ``str``, Arrow-backed numbers, categoricals, all-null columns and
read-only arrays. Whatever the types, no row is lost (``input_rows == loaded + updated +
duplicates + quarantined``), nothing raises, every quarantined row has a reason and a detail,
and the result does not depend on the column types. A full ingest into both stores and every
export format keeps the count.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskmap.cli import cli
from riskmap.etl.incidents import finalize, transform_chunk
from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
from riskmap.layers import open_store
from riskmap.layers.spec import QUARANTINE_REASONS
from tests.etl.grid import STEP, X0, Y0, centre, grid_frame

NOW = pd.Timestamp("2025-06-01T00:00:00Z")
COLUMNS = ("incident_id", "occurred_at", "category", "lat", "lon", "address")
TEXT_TYPES = ("object", "string[python]", "string[pyarrow]", "str", "category",
              "readonly_object", "all_null")
NUMBER_TYPES = ("float64", "float64[pyarrow]", "readonly_float", *TEXT_TYPES)
DATE_TYPES = ("datetime64", *TEXT_TYPES)
ID_TYPES = ("int64", "Int64", "int64[pyarrow]", *TEXT_TYPES)

_DATES = ["2025-01-10 10:00", "10.01.2025 11:30", "2025-01-10T10:00:00+05:00", "", "  ",
          "31.02.2024", "2031-01-01", "yesterday", "45667.5"]
_CATEGORIES = ["theft", "o‘g‘irlik", "кража", "мошенничество", "robbery", "xyz", "", "NA"]
_ADDRESSES = ["Jizzax shahri, Do‘stlik MFY", "Жиззах шаҳри, Дўстлик МФЙ", "Navro‘z MFY",
              "Sharof Rashidov tumani, Navro‘z", "Qayerdadir ko'chasi 5", "", "NA"]


@pytest.fixture(scope="module")
def ctx():
    from riskmap.etl.incidents import IncidentContext

    return IncidentContext.from_mahallas(grid_frame(), aliases=load_aliases(), now=NOW)


# ---- rows ------------------------------------------------------------------------------------

@st.composite
def incident_row(draw) -> dict[str, object]:
    """One raw row: located, swapped, near the edge, far away, address-only, or broken."""
    kind = draw(st.sampled_from(["inside", "swapped", "near", "outside", "address", "bad",
                                 "blank", "null_island"]))
    lon, lat = centre(draw(st.integers(0, 8)))
    lon += draw(st.floats(-0.45, 0.45)) * STEP
    lat += draw(st.floats(-0.45, 0.45)) * STEP
    la: object
    lo: object
    la, lo = {
        "inside": (lat, lon), "swapped": (lon, lat),
        "near": (Y0 + 0.5 * STEP, X0 - 100 / 85_000),  # ~100 m west of the grid: snapped
        "outside": (Y0, X0 - 0.5), "address": (None, None), "blank": (None, None),
        "bad": (draw(st.sampled_from([95.0, -200.0, 5_000_000.0])), lon),
        "null_island": (0.0, 0.0),
    }[kind]
    when = draw(st.one_of(st.sampled_from(_DATES), st.none(),
                          st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2026, 1, 1))))
    return {
        "incident_id": draw(st.one_of(st.none(), st.sampled_from(["1", "2", "A", "A "]),
                                      st.text(max_size=6))),
        "occurred_at": when,
        "category": draw(st.one_of(st.none(), st.sampled_from(_CATEGORIES))),
        "lat": la, "lon": lo,
        "address": draw(st.sampled_from(_ADDRESSES)) if kind in ("address", "bad") else None,
    }


def _as_text(v: object) -> str | None:
    if v is None:
        return None
    return v.isoformat(sep=" ") if isinstance(v, dt.datetime) else str(v)


def _column(values: list[object], kind: str) -> pd.Series:
    """``values`` as a column of one of the types a reader hands out."""
    n = len(values)
    if kind == "all_null":
        return pd.Series([None] * n, dtype=object)
    if kind in ("float64", "float64[pyarrow]", "readonly_float"):
        arr = np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
        if kind == "float64[pyarrow]":
            return pd.Series(pd.array(arr, dtype="float64[pyarrow]"))
        if kind == "readonly_float":
            arr.flags.writeable = False
            return pd.Series(arr, copy=False)
        return pd.Series(arr)
    if kind in ("int64", "Int64", "int64[pyarrow]"):
        ints = [None if v is None else int(v) for v in values]
        if kind == "int64":
            return pd.Series(np.array(ints, dtype="int64"))
        return pd.Series(pd.array(ints, dtype=kind))
    if kind == "datetime64":
        return pd.Series(pd.to_datetime(values)).astype("datetime64[us]")
    text = [_as_text(v) for v in values]
    if kind == "object":
        return pd.Series(list(values), dtype=object)
    if kind == "readonly_object":
        arr = np.array([*list(values), None], dtype=object)[:n]  # keeps scalars as objects
        arr.flags.writeable = False
        return pd.Series(arr, copy=False)
    if kind == "category":
        return pd.Series(text, dtype=object).astype("category")
    if kind == "str":
        return pd.Series(text, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    return pd.Series(text, dtype=kind)


def _fits(values: list[object], kind: str) -> bool:
    """Whether ``values`` can take the column type without changing what they say."""
    if kind in ("float64", "float64[pyarrow]", "readonly_float"):
        return all(v is None or isinstance(v, float) for v in values)
    if kind in ("int64", "Int64", "int64[pyarrow]"):
        ok = all(v is None or ((isinstance(v, str) and v.isascii() and v.isdigit() and v == v.strip()
                               and not v.startswith("0")) or v == "0") for v in values)
        return ok and (kind != "int64" or None not in values)
    if kind == "datetime64":
        return all(isinstance(v, dt.datetime) for v in values)
    return True


@st.composite
def raw_frame(draw, *, max_rows: int = 12) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """(the frame in drawn column types, the same rows as plain object columns, the types)."""
    rows = draw(st.lists(incident_row(), max_size=max_rows))
    plain = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in COLUMNS})
    kinds = {}
    for col, choices in (("incident_id", ID_TYPES), ("occurred_at", DATE_TYPES),
                         ("category", TEXT_TYPES), ("lat", NUMBER_TYPES),
                         ("lon", NUMBER_TYPES), ("address", TEXT_TYPES)):
        values = plain[col].tolist()
        kinds[col] = draw(st.sampled_from([k for k in choices if _fits(values, k)]))
    frame = pd.DataFrame({c: _column(plain[c].tolist(), kinds[c]) for c in COLUMNS})
    frame.insert(0, "_row", np.arange(2, len(rows) + 2))
    plain.insert(0, "_row", np.arange(2, len(rows) + 2))
    return frame, plain, kinds


def _check_rows(rows: pd.DataFrame, n: int) -> None:
    assert len(rows) == n
    reason = rows["reason"].to_numpy(dtype=object)
    bad = pd.notna(reason)
    assert set(reason[bad]) <= set(QUARANTINE_REASONS)
    details = rows["detail"].to_numpy(dtype=object)[bad]
    assert all(isinstance(d, str) and d.strip() for d in details)
    good = rows[~bad]
    assert ((good["m_idx"] >= 0) | (good["d_idx"] >= 0)).all()
    assert (good["cat_code"] >= 0).all() and good["occurred_at"].notna().all()
    assert (good["occurred_at"] <= NOW.tz_localize(None)).all()


# ---- the transform -----------------------------------------------------------------------------

@given(data=raw_frame())
@settings(max_examples=60)
def test_transform_holds_for_every_column_type(ctx, data):
    frame, plain, kinds = data
    n = len(frame)
    result = transform_chunk(frame, ctx)
    _check_rows(result.rows, n)
    rows = finalize(result.rows, result.raw)
    _check_rows(rows, n)
    assert rows["incident_id"].notna().all()
    # a row located by coordinates lies in its mahalla (or within the snapping distance)
    by_xy = (rows["prec_code"] == 0) & rows["reason"].isna()
    lon, lat = rows.loc[by_xy, "lon"].to_numpy(), rows.loc[by_xy, "lat"].to_numpy()
    col = np.floor((lon - X0) / STEP).clip(0, 2)
    row = np.floor((lat - Y0) / STEP).clip(0, 2)
    assert (rows.loc[by_xy, "m_idx"].to_numpy() == row * 3 + col).all()
    # the column types change nothing: the same rows as plain objects give the same result
    if any(k == "all_null" for k in kinds.values()):
        return
    base = finalize(*(lambda r: (r.rows, r.raw))(transform_chunk(plain, ctx)))
    for name in ("reason", "m_idx", "d_idx", "cat_code", "prec_code", "flags", "h3",
                 "content_hash"):
        assert rows[name].tolist() == base[name].tolist(), (name, kinds)
    assert rows["occurred_at"].equals(base["occurred_at"])


@given(data=raw_frame(max_rows=6),
       drop=st.lists(st.sampled_from(COLUMNS), unique=True, max_size=len(COLUMNS)))
@settings(max_examples=40)
def test_transform_survives_missing_columns(ctx, data, drop):
    """Any subset of the columns (the ingest refuses some; the transform never raises)."""
    frame, _, _ = data
    rows = finalize(*(lambda r: (r.rows, r.raw))(transform_chunk(frame.drop(columns=drop), ctx)))
    _check_rows(rows, len(frame))


# ---- a full ingest into both stores, then every export format ----------------------------------

_PARQUET_TYPES = {"object", "string[python]", "string[pyarrow]", "str", "category", "all_null",
                  "float64", "float64[pyarrow]", "readonly_float", "readonly_object",
                  "datetime64", "int64", "Int64", "int64[pyarrow]"}
_counter = itertools.count()


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns that mix Python types cannot be Parquet: give them as text."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object:
            types = {type(v) for v in out[c] if v is not None}
            if len(types) > 1:
                out[c] = pd.Series([_as_text(v) for v in out[c]], dtype=object)
    return out


@given(data=raw_frame(max_rows=10), fmt=st.sampled_from(["parquet", "csv"]))
@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])
def test_ingest_and_export_keep_every_row(store, store_url, tmp_path, data, fmt):
    frame, _, _ = data
    if store.count("mahallas") == 0:
        store.replace("mahallas", grid_frame())
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    path = tmp_path / f"in{next(_counter)}.{fmt}"
    body = frame.drop(columns="_row")
    if fmt == "parquet":
        _parquet_safe(body).to_parquet(path, index=False)
    else:  # as spreadsheets write it: CRLF, so a cell holding a bare CR is quoted (pandas'
        # default "\n" leaves it bare, and no reader can tell that CR from a row's end)
        body.to_csv(path, index=False, lineterminator="\r\n")
    before = store.count("incidents")
    report = ingest_incidents(path, store, ctx)
    assert report.input_rows == len(frame)
    assert report.input_rows == report.loaded + report.updated + report.duplicates \
        + report.quarantined
    assert sum(report.by_reason.values()) == report.quarantined
    assert store.count("incidents") == before + report.loaded
    q = store.read("quarantine")
    assert q["reason"].notna().all() and q["detail"].str.strip().astype(bool).all()
    total = store.count("incidents")
    for out_fmt in ("csv", "parquet", "geojson"):
        out = tmp_path / f"out{next(_counter)}.{out_fmt}"
        res = CliRunner().invoke(cli, ["export", "incidents", "--store", store_url,
                                       "--format", out_fmt, "-o", str(out)])
        assert res.exit_code == 0, res.output
        assert _count(out, out_fmt) == total


def _count(path: Path, fmt: str) -> int:
    if fmt == "csv":
        return len(pd.read_csv(path, dtype=str, keep_default_na=False))
    if fmt == "parquet":
        return len(pd.read_parquet(path))
    return len(pyogrio.read_dataframe(path))


def test_a_store_reopened_holds_what_was_exported(store_url, tmp_path):
    """The export counts above are the store's: a fresh connection sees the same rows."""
    store = open_store(store_url)
    store.replace("mahallas", grid_frame())
    lon, lat = centre(4)
    pd.DataFrame({"incident_id": ["R1", "R2"], "occurred_at": ["2025-01-10"] * 2,
                  "category": ["theft"] * 2, "lat": [lat, lat], "lon": [lon, lon]}).to_csv(
        tmp_path / "r.csv", index=False)
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    assert ingest_incidents(tmp_path / "r.csv", store, ctx).loaded == 2
    store.close()
    res = CliRunner().invoke(cli, ["export", "incidents", "--store", store_url, "--format",
                                   "geojson", "-o", str(tmp_path / "o.geojson")])
    assert res.exit_code == 0, res.output
    got = pyogrio.read_dataframe(tmp_path / "o.geojson")
    assert sorted(got["incident_id"]) == ["R1", "R2"]
