"""The incident loader on the monthly partitions, on both backends: a corrected date moves a
row to its new month, a day's load finds the stored ids and writes only its month."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from riskmap.etl.ingest import ingest_incidents, load_aliases, load_context
from riskmap.layers.store import Store
from tests.etl.grid import centre, grid_frame

NOW = pd.Timestamp("2025-06-01T00:00:00Z")


def _csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    lon, lat = centre(4)
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["incident_id", "occurred_at", "category", "lat", "lon"])
        for i, (ident, when) in enumerate(rows):
            out.writerow([ident, when, "theft", lat, lon + i * 1e-5])
    return path


def _by_month(store: Store) -> dict[str, list[str]]:
    frame = store.read("incidents", columns=["incident_id", "occurred_at"])
    months = frame["occurred_at"].dt.strftime("%Y-%m")
    return {m: sorted(frame.loc[months == m, "incident_id"]) for m in sorted(set(months))}


def test_a_corrected_date_moves_the_incident_to_its_month(store: Store, tmp_path: Path) -> None:
    store.replace("mahallas", grid_frame())
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    first = ingest_incidents(_csv(tmp_path / "a.csv", [
        ("I1", "2025-01-10 10:00"), ("I2", "2025-01-20 10:00"), ("I3", "2025-02-03 10:00")]),
        store, ctx)
    assert (first.loaded, first.updated) == (3, 0)
    # Tashkent is UTC+5: 1 March 03:00 local is still February in UTC
    again = ingest_incidents(_csv(tmp_path / "b.csv", [
        ("I1", "2025-03-15 10:00"), ("I2", "2025-01-20 10:00"), ("I3", "2025-03-01 03:00")]),
        store, ctx)
    assert (again.loaded, again.updated, again.duplicates) == (0, 2, 1)
    assert store.count("incidents") == 3
    assert _by_month(store) == {"2025-01": ["I2"], "2025-02": ["I3"], "2025-03": ["I1"]}
    moved = store.read("incidents", filters=[("occurred_at", ">=", "2025-03-01")])
    assert moved["incident_id"].tolist() == ["I1"]
    assert moved["source_file"].tolist() == ["b.csv"]


def test_a_days_load_into_a_bigger_store(store: Store, tmp_path: Path) -> None:
    store.replace("mahallas", grid_frame())
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    history = [(f"H{i}", f"2024-{1 + i % 12:02d}-{1 + i % 27:02d} 12:00") for i in range(600)]
    ingest_incidents(_csv(tmp_path / "history.csv", history), store, ctx, chunk_rows=250)
    day = [(f"D{i}", "2025-05-30 09:00") for i in range(20)]
    day.insert(7, history[7])  # the same row as stored (same place in its file: same point)
    report = ingest_incidents(_csv(tmp_path / "day.csv", day), store, ctx)
    assert (report.loaded, report.updated, report.duplicates) == (20, 0, 1)
    assert store.count("incidents") == 620
    assert _by_month(store)["2025-05"] == sorted(f"D{i}" for i in range(20))
    assert len(_by_month(store)) == 13


def test_a_load_of_older_months_is_found_by_id(store: Store, tmp_path: Path) -> None:
    """Months older than every stored one go before them; reads by id find every row."""
    store.replace("mahallas", grid_frame())
    ctx = load_context(store, aliases=load_aliases(), now=NOW)
    recent = [(f"R{i}", f"2025-{1 + i % 4:02d}-{1 + i % 27:02d} 12:00") for i in range(200)]
    ingest_incidents(_csv(tmp_path / "recent.csv", recent), store, ctx)
    older = [(f"O{i}", f"2023-{1 + i % 12:02d}-{1 + i % 27:02d} 08:00") for i in range(150)]
    older.append(("R5", "2023-06-30 08:00"))  # a stored id, re-dated: moved, not repeated
    report = ingest_incidents(_csv(tmp_path / "older.csv", older), store, ctx)
    assert (report.loaded, report.updated) == (150, 1)
    assert store.count("incidents") == 350
    every = store.read("incidents")
    assert every["incident_id"].is_unique
    wanted = ["O0", "O77", "O149", "R0", "R199", "R5", "missing"]
    for columns in (None, ["incident_id", "content_hash"], ["incident_id", "occurred_at"]):
        got = store.read("incidents", columns=columns,
                         filters=[("incident_id", "in", pd.array(wanted, dtype="string"))])
        assert sorted(got["incident_id"]) == sorted(wanted[:-1]), columns
        expected = every.set_index("incident_id").loc[got["incident_id"].tolist()]
        for col in got.columns:
            if col != "incident_id":
                assert got[col].tolist() == expected[col].tolist(), (columns, col)
    again = ingest_incidents(_csv(tmp_path / "older2.csv", older), store, ctx)
    assert (again.loaded, again.updated, again.duplicates) == (0, 0, 151)
    assert store.count("incidents") == 350
    assert _by_month(store)["2023-06"].count("R5") == 1
