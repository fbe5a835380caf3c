"""Every load of a file leaves one ``ingest_runs`` record: `riskmap ingest` and `riskmap watch`,
a good file, a file with bad rows, a refused file and a failed load, on both stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from riskmap.cli import cli
from riskmap.etl.runs import MAX_REPORT_CHARS, bounded_report, file_facts
from riskmap.layers import open_store
from riskmap.layers.store import Store
from tests.etl.grid import centre, grid_frame

#: a file name a browser must show as text (``</script>`` holds a slash, which no file name can)
SCRIPT_NAME = "<img src=x onerror=alert(1)>.csv"


def _incidents(path: Path, dates: list[str]) -> Path:
    lon, lat = centre(0)
    pd.DataFrame({"id": [f"{path.stem[:4]}-{i}" for i in range(len(dates))], "sana": dates,
                  "turi": ["theft"] * len(dates), "lat": lat, "lon": lon}).to_csv(path,
                                                                                 index=False)
    return path


def _ingest(store_url: str, layer: str, path: Path) -> Any:
    return CliRunner().invoke(cli, ["ingest", layer, str(path), "--store", store_url,
                                    "--no-progress"])


def _runs(store: Store) -> pd.DataFrame:
    return store.read("ingest_runs").sort_values("started_at").reset_index(drop=True)


def test_every_ingest_leaves_one_run_record(store_url: str, store: Store,
                                            tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "build-machine"
    folder.mkdir(parents=True)
    # a failed load: incidents before any mahalla (the store refuses to geocode them)
    early = _incidents(folder / "early.csv", ["2025-01-09 09:00"])
    res = _ingest(store_url, "incidents", early)
    assert res.exit_code == 2 and "no mahallas" in res.output
    grid_frame().to_file(folder / "m.geojson")
    assert _ingest(store_url, "mahallas", folder / "m.geojson").exit_code == 0
    version = store.version()
    # a good file and a file with bad rows
    good = _incidents(folder / "good.csv", ["2025-01-10 10:00", "11.01.2025"])
    assert _ingest(store_url, "incidents", good).exit_code == 0
    mixed = _incidents(folder / SCRIPT_NAME, ["2025-01-12 10:00", "bad", "", "2025-01-13"])
    res = _ingest(store_url, "incidents", mixed)
    assert res.exit_code == 0 and "quarantined: invalid_date 1, missing_date 1" in res.output
    assert store.version() != version  # the loads changed data
    # a file that fails entirely (no date column): refused, nothing changed
    version, count = store.version(), store.count("incidents")
    broken = folder / "broken.csv"
    broken.write_text("id,turi,lat,lon\nB1,theft,40.1,67.8\n", encoding="utf-8")
    res = _ingest(store_url, "incidents", broken)
    assert res.exit_code == 2 and "occurred_at" in res.output
    assert store.count("incidents") == count == 4
    assert store.version() == version  # neither the run record nor its audit is data

    runs = _runs(store)
    assert runs["file_name"].tolist() == ["early.csv", "m.geojson", "good.csv", SCRIPT_NAME,
                                          "broken.csv"]
    assert runs["outcome"].tolist() == ["failed", "ok", "ok", "ok", "refused"]
    assert runs["layer"].tolist() == ["incidents", "mahallas", "incidents", "incidents",
                                      "incidents"]
    assert set(runs["user"]) == {"local"} and set(runs["client"]) == {"cli"}
    assert runs["run_id"].is_unique and (runs["ended_at"] >= runs["started_at"]).all()
    ok = runs.iloc[1:4]
    assert ok["input_rows"].tolist() == [9, 2, 4]
    assert ok["loaded"].tolist() == [9, 2, 2]
    assert ok["quarantined"].tolist() == [0, 0, 2]
    assert ok["updated"].tolist() == [0, 0, 0]
    assert runs["by_reason"].iat[3] == "invalid_date 1, missing_date 1"
    assert runs[["input_rows", "loaded", "quarantined"]].iloc[[0, 4]].isna().all().all()
    # the file: its name, size and SHA-256, never the folder it was in
    facts = file_facts(mixed)
    assert (runs["file_size"].iat[3], runs["file_sha256"].iat[3]) == (facts.size, facts.sha256)
    assert len(facts.sha256) == 64 and facts.size == mixed.stat().st_size
    for column in ("error", "summary", "report"):
        assert not runs[column].fillna("").str.contains("build-machine").any(), column
    # the errors, and the report `riskmap ingest` printed
    assert "no mahallas" in runs["error"].iat[0]
    assert runs["error"].iat[4].startswith("broken.csv, column 'occurred_at': required column")
    assert runs["summary"].iat[3].startswith(
        f"{SCRIPT_NAME}: 4 rows -> 2 loaded, 0 updated, 0 duplicates, 2 quarantined")
    report = json.loads(runs["report"].iat[3])
    assert report["file"] == SCRIPT_NAME and report["by_reason"] == {"invalid_date": 1,
                                                                     "missing_date": 1}
    assert pd.isna(runs["report"].iat[4]) and pd.isna(runs["error"].iat[1])
    # each record was written through the data-access layer, audited with its outcome
    audit = store.read("audit", filters=[("action", "=", "ingest_run")])
    assert len(audit) == 5 and set(audit["layer"]) == {"ingest_runs"}
    assert [json.loads(d)["outcome"] for d in audit["detail"]] == runs["outcome"].tolist()


def test_the_watcher_records_its_runs_as_watch(tmp_path: Path) -> None:
    store_url = str(tmp_path / "store")
    grid_frame().to_file(tmp_path / "m.geojson")
    assert _ingest(store_url, "mahallas", tmp_path / "m.geojson").exit_code == 0
    drop = tmp_path / "drop"
    drop.mkdir()
    _incidents(drop / "day1.csv", ["2025-03-05 10:00", "never"])
    (drop / "broken.csv").write_text("id,turi\nB1,theft\n", encoding="utf-8")
    res = CliRunner().invoke(cli, ["watch", str(drop), "--once", "--settle", "0",
                                   "--store", store_url])
    assert res.exit_code == 0, res.output
    # the same content again is not loaded again, so not a run
    (drop / "day1-again.csv").write_bytes((drop / "done" / "day1.csv").read_bytes())
    assert CliRunner().invoke(cli, ["watch", str(drop), "--once", "--settle", "0",
                                    "--store", store_url]).exit_code == 0
    with open_store(store_url) as store:
        runs = store.read("ingest_runs")
    runs = runs[runs["client"] == "watch"].set_index("file_name")
    assert sorted(runs.index) == ["broken.csv", "day1.csv"]
    assert runs.loc["day1.csv", "outcome"] == "ok"
    assert (runs.loc["day1.csv", "loaded"], runs.loc["day1.csv", "quarantined"]) == (1, 1)
    assert runs.loc["broken.csv", "outcome"] == "refused"
    assert str(drop) not in runs.loc["broken.csv", "error"]


def test_a_long_report_is_bounded_keeping_its_counts() -> None:
    report = {"file": "big.xlsx", "loaded": 5, "quarantined": 1,
              "warnings": [f"sheet {i}: a long note " + "x" * 500 for i in range(200)]}
    text = bounded_report(report)
    got = json.loads(text)
    assert len(text) <= MAX_REPORT_CHARS and got["loaded"] == 5
    assert got["warnings_omitted"] + len(got["warnings"]) == 200
    huge = {"file": "big.xlsx", "loaded": 5, "by_sheet": {f"s{i}": i for i in range(5000)}}
    got = json.loads(bounded_report(huge))
    assert got == {"file": "big.xlsx", "loaded": 5, "truncated": True}


@pytest.mark.parametrize("name", ["a.csv", SCRIPT_NAME])
def test_a_missing_file_is_a_refused_run_without_size(tmp_path: Path, name: str) -> None:
    store_url = str(tmp_path / "store")
    res = _ingest(store_url, "cameras", tmp_path / "gone" / name)
    assert res.exit_code == 2 and "file not found" in res.output
    with open_store(store_url) as store:
        runs = store.read("ingest_runs")
    assert runs["file_name"].tolist() == [name] and runs["outcome"].tolist() == ["refused"]
    assert runs["file_size"].isna().all() and runs["file_sha256"].isna().all()
    assert runs["error"].iat[0] == f"{name}: file not found"


def test_a_batch_refused_for_its_scope_is_a_refused_run(tmp_path: Path) -> None:
    from riskmap.app.api import OutsideScope
    from riskmap.etl.runs import recorded_run, refused

    assert refused(OutsideScope("incidents", [])) and not refused(PermissionError("disk"))
    batch = _incidents(tmp_path / "api-incidents-feed-1.csv", ["2025-01-10 10:00"])
    with open_store(str(tmp_path / "store")) as store:
        with pytest.raises(OutsideScope), recorded_run(
                store, user="token:feed", client="feed", layer="incidents", path=batch):
            raise OutsideScope("incidents", [{"row": 1}])
        runs = store.read("ingest_runs")
    assert runs[["user", "client", "outcome"]].to_numpy().tolist() == [
        ["token:feed", "feed", "refused"]]
    assert runs["file_name"].tolist() == ["api-incidents-feed-1.csv"]
    assert "outside the token's scope" in runs["error"].iat[0]
