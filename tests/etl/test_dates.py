"""Tests for etl.dates.parse_datetimes: formats, time zones, Excel serials and reason codes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskmap.etl.dates import parse_datetimes

UTC_US = "datetime64[us, UTC]"


def _one(value: object, tz: str = "Asia/Tashkent") -> tuple[str | None, str | None]:
    parsed, reasons = parse_datetimes(pd.Series([value], dtype=object), tz=tz)
    stamp = parsed.iloc[0]
    return (None if pd.isna(stamp) else stamp.isoformat()), reasons.iloc[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ISO 8601; naive values are Tashkent time (UTC+5, no DST)
        ("2024-03-05", "2024-03-04T19:00:00+00:00"),
        ("2024-03-05T14:30", "2024-03-05T09:30:00+00:00"),
        ("2024-03-05 14:30:15", "2024-03-05T09:30:15+00:00"),
        ("2024-03-05T14:30:15.250", "2024-03-05T09:30:15.250000+00:00"),
        ("2024-03-05T14:30:00Z", "2024-03-05T14:30:00+00:00"),
        ("2024-03-05T14:30:00+05:00", "2024-03-05T09:30:00+00:00"),
        ("2024-03-05 14:30:00+0300", "2024-03-05T11:30:00+00:00"),
        ("2024-03-05T14:30-02:00", "2024-03-05T16:30:00+00:00"),
        ("  2024-03-05 14:30  ", "2024-03-05T09:30:00+00:00"),
        # day first
        ("05.03.2024", "2024-03-04T19:00:00+00:00"),
        ("5.3.2024 7:05", "2024-03-05T02:05:00+00:00"),
        ("05.03.2024 14:30:15", "2024-03-05T09:30:15+00:00"),
        ("05/03/2024 14:30", "2024-03-05T09:30:00+00:00"),
        ("05-03-2024", "2024-03-04T19:00:00+00:00"),
        ("29.02.2024", "2024-02-28T19:00:00+00:00"),
        # Excel serials: 45356 = 2024-03-05; .5 = noon local
        ("45356", "2024-03-04T19:00:00+00:00"),
        ("45356.5", "2024-03-05T07:00:00+00:00"),
        ("45356,25", "2024-03-05T01:00:00+00:00"),
    ],
)
def test_accepted_strings(text: str, expected: str) -> None:
    assert _one(text) == (expected, None)


@pytest.mark.parametrize(
    "text",
    ["31.02.2024", "29.02.2023", "2024-02-30", "2024-13-01", "05.13.2024", "00.01.2024",
     "05.03.2024 24:00", "05.03.2024 12:60", "yesterday", "2024", "10000", "90000",
     "45356.5 pm", "True"],
)
def test_invalid_strings(text: str) -> None:
    assert _one(text) == (None, "invalid_date")


@pytest.mark.parametrize("value", [None, np.nan, pd.NaT, "", "   ", "\t"])
def test_missing_values(value: object) -> None:
    assert _one(value) == (None, "missing_date")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (pd.Timestamp("2024-03-05 14:30"), "2024-03-05T09:30:00+00:00"),
        (pd.Timestamp("2024-03-05 14:30", tz="UTC"), "2024-03-05T14:30:00+00:00"),
        (dt.datetime(2024, 3, 5, 14, 30, 1, 500), "2024-03-05T09:30:01.000500+00:00"),
        (dt.date(2024, 3, 5), "2024-03-04T19:00:00+00:00"),
        (45356.5, "2024-03-05T07:00:00+00:00"),
        (45356, "2024-03-04T19:00:00+00:00"),
    ],
)
def test_objects_from_excel_readers(value: object, expected: str) -> None:
    assert _one(value) == (expected, None)


def test_other_time_zone() -> None:
    assert _one("2024-03-05 14:30", tz="UTC") == ("2024-03-05T14:30:00+00:00", None)
    assert _one("2024-07-05 14:30", tz="Europe/Berlin") == ("2024-07-05T12:30:00+00:00", None)


def test_mixed_column_keeps_index_and_order() -> None:
    values = pd.Series(
        ["2024-03-05 14:30", "05.03.2024", "", "31.02.2024", pd.Timestamp("2024-03-05"), 45356.5],
        index=[10, 11, 12, 13, 14, 15], dtype=object)
    parsed, reasons = parse_datetimes(values)
    assert str(parsed.dtype) == UTC_US
    assert parsed.index.tolist() == reasons.index.tolist() == [10, 11, 12, 13, 14, 15]
    assert [None if pd.isna(t) else t.isoformat() for t in parsed] == [
        "2024-03-05T09:30:00+00:00", "2024-03-04T19:00:00+00:00", None, None,
        "2024-03-04T19:00:00+00:00", "2024-03-05T07:00:00+00:00"]
    assert reasons.tolist() == [None, None, "missing_date", "invalid_date", None, None]


def test_numeric_column_of_serials() -> None:
    parsed, reasons = parse_datetimes(pd.Series([45356.75, np.nan, 12.0, 45356.0]))
    assert str(parsed.dtype) == UTC_US
    assert parsed.iloc[0] == pd.Timestamp("2024-03-05 13:00", tz="UTC")
    assert parsed.iloc[3] == pd.Timestamp("2024-03-04 19:00", tz="UTC")
    assert reasons.tolist() == [None, "missing_date", "invalid_date", None]


def test_excel_time_rounds_float_noise_to_the_millisecond() -> None:
    serial = 45356 + (10 * 60 + 15) / 1440  # 10:15 local, not exactly representable
    parsed, _ = parse_datetimes(pd.Series([serial]))
    assert parsed.iloc[0] == pd.Timestamp("2024-03-05 05:15", tz="UTC")


def test_datetime64_columns() -> None:
    naive = pd.Series(pd.to_datetime(["2024-03-05 14:30", None]))
    parsed, reasons = parse_datetimes(naive)
    assert parsed.iloc[0] == pd.Timestamp("2024-03-05 09:30", tz="UTC")
    assert reasons.tolist() == [None, "missing_date"]
    aware = naive.dt.tz_localize("Europe/Moscow")
    parsed, reasons = parse_datetimes(aware)
    assert str(parsed.dtype) == UTC_US
    assert parsed.iloc[0] == pd.Timestamp("2024-03-05 11:30", tz="UTC")
    assert reasons.tolist() == [None, "missing_date"]


def test_empty_series() -> None:
    parsed, reasons = parse_datetimes(pd.Series([], dtype=object))
    assert len(parsed) == len(reasons) == 0
    assert str(parsed.dtype) == UTC_US


def test_large_iso_column_is_parsed_whole() -> None:
    local = pd.date_range("2020-01-01", periods=20_000, freq="37min")
    text = pd.Series(local.strftime("%Y-%m-%dT%H:%M:%S"))
    parsed, reasons = parse_datetimes(text)
    assert reasons.isna().all()
    expected = pd.Series(local).dt.tz_localize("Asia/Tashkent").dt.tz_convert("UTC")
    assert (parsed.to_numpy() == expected.to_numpy()).all()


_stamps = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 12, 31))


@settings(max_examples=40)
@given(st.lists(_stamps, min_size=1, max_size=40),
       st.sampled_from(["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M:%S",
                        "%d/%m/%Y %H:%M:%S", "%d-%m-%Y %H:%M"]))
def test_round_trip_local_text(stamps: list[dt.datetime], fmt: str) -> None:
    text = [s.strftime(fmt) for s in stamps]
    parsed, reasons = parse_datetimes(pd.Series(text))
    expected = [pd.Timestamp(dt.datetime.strptime(t, fmt)).tz_localize("Asia/Tashkent")
                .tz_convert("UTC") for t in text]
    assert reasons.isna().all()
    assert parsed.tolist() == expected


@settings(max_examples=40)
@given(st.lists(st.tuples(_stamps, st.integers(min_value=-12 * 4, max_value=14 * 4)),
                min_size=1, max_size=40))
def test_round_trip_offsets(items: list[tuple[dt.datetime, int]]) -> None:
    aware = [s.replace(tzinfo=dt.timezone(dt.timedelta(minutes=15 * q))) for s, q in items]
    parsed, reasons = parse_datetimes(pd.Series([a.isoformat() for a in aware]))
    assert reasons.isna().all()
    assert parsed.tolist() == [pd.Timestamp(a).tz_convert("UTC") for a in aware]
