"""`riskmap watch`: files dropped into a folder are ingested once, bad ones set aside, across
restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from riskmap.cli import cli
from riskmap.etl.watch import Watcher
from riskmap.layers import open_store
from tests import fixtures

GOOD = ("incident_id,occurred_at,category,lat,lon\n"
        "W1,2025-03-05 10:00,theft,40.105,67.845\nW2,2025-03-06 11:00,assault,40.115,67.855\n")
BAD = "incident_id,category,lat,lon\nX1,theft,40.105,67.845\n"  # no date column


def _report(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".report.json").read_text(encoding="utf-8"))


def test_watcher_settles_skips_partial_and_remembers(tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []
    now = [1_000.0]

    def ingest(layer: str, path: Path) -> dict:
        calls.append((layer, path.name))
        if "bad" in path.name:
            raise ValueError(f"{path.name}: required column 'occurred_at' is missing")
        return {"loaded": 2, "quarantined": 0}

    drop = tmp_path / "drop"
    w = Watcher(drop, ingest, settle_s=5, clock=lambda: now[0])
    (drop / "cameras").mkdir()
    for name, folder in (("a.csv", drop), ("bad.csv", drop), ("c.csv", drop / "cameras"),
                         (".hidden.csv", drop), ("b.csv.part", drop)):
        (folder / name).write_text(GOOD.replace("W1", f"W1-{name}"))  # distinct contents
        os.utime(folder / name, (990.0, 990.0))
    (drop / "new.csv").write_text(GOOD + "W3,2025-03-07,theft,40.1,67.84\n")
    os.utime(drop / "new.csv", (999.0, 999.0))  # 1 s old: still being copied
    results = {r.file: r for r in w.run_once()}
    assert set(results) == {"a.csv", "bad.csv", "c.csv"}
    assert sorted(calls) == [("cameras", "c.csv"), ("incidents", "a.csv"),
                             ("incidents", "bad.csv")]
    assert results["bad.csv"].outcome == "failed"
    assert "occurred_at" in _report(drop / "failed" / "bad.csv")["error"]
    assert (drop / "done" / "a.csv").exists() and not (drop / "a.csv").exists()
    assert (drop / "new.csv").exists() and (drop / "b.csv.part").exists()
    # the same content again, under another name and with a new watcher (a restart)
    (drop / "a-again.csv").write_text(GOOD.replace("W1", "W1-a.csv"))
    os.utime(drop / "a-again.csv", (990.0, 990.0))
    now[0] = 2_000.0
    again = {r.file: r for r in Watcher(drop, ingest, settle_s=5, clock=lambda: now[0])
             .run_once()}
    assert again["a-again.csv"].outcome == "already_ingested"
    assert again["new.csv"].outcome == "loaded"
    assert ("incidents", "a-again.csv") not in calls


def test_watch_command_loads_once_across_restarts(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    fixtures.mahallas().to_file(tmp_path / "m.geojson")
    assert CliRunner().invoke(cli, ["ingest", "mahallas", str(tmp_path / "m.geojson"),
                                    "--store", store]).exit_code == 0
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "day1.csv").write_text(GOOD)
    (drop / "broken.csv").write_text(BAD)
    res = CliRunner().invoke(cli, ["watch", str(drop), "--once", "--settle", "0",
                                   "--store", store])
    assert res.exit_code == 0, res.output
    assert "day1.csv [incidents]: loaded (2 loaded, 0 quarantined)" in res.output
    assert "broken.csv [incidents]: failed" in res.output and "occurred_at" in res.output
    assert _report(drop / "done" / "day1.csv")["loaded"] == 2
    with open_store(store) as opened:
        assert opened.count("incidents") == 2


def test_a_running_watcher_survives_a_restart(tmp_path: Path) -> None:
    """The command as an operator runs it: in the background, stopped and started again."""
    store = str(tmp_path / "store")
    fixtures.mahallas().to_file(tmp_path / "m.geojson")
    assert CliRunner().invoke(cli, ["ingest", "mahallas", str(tmp_path / "m.geojson"),
                                    "--store", store]).exit_code == 0
    drop = tmp_path / "drop"
    cmd = [sys.executable, "-m", "riskmap", "watch", str(drop), "--interval", "0.5",
           "--settle", "0.5", "--store", store]

    def run_until(done: Path) -> str:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env={**os.environ})
        try:
            deadline = time.monotonic() + 120
            while not done.exists():
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "the watcher did not pick the file up"
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        return out

    drop.mkdir()
    (drop / "first.csv").write_text(GOOD)
    out = run_until(drop / "done" / "first.csv.report.json")
    assert "first.csv [incidents]: loaded" in out and "stopped" in out
    (drop / "resent.csv").write_text(GOOD)  # the same export dropped again after a restart
    out = run_until(drop / "done" / "resent.csv.report.json")
    assert "resent.csv [incidents]: already_ingested" in out
    with open_store(store) as opened:
        assert opened.count("incidents") == 2


@pytest.mark.parametrize("layer", ["nonsense"])
def test_unknown_default_layer_is_refused(tmp_path: Path, layer: str) -> None:
    with pytest.raises(ValueError, match="default layer"):
        Watcher(tmp_path, lambda layer, path: {}, default_layer=layer)


def test_a_stop_asked_for_waits_for_the_file_under_way(tmp_path: Path) -> None:
    """Ctrl+C or SIGTERM set the stop: the file being loaded is finished, the rest wait."""
    stop = {"asked": False}
    seen: list[str] = []

    def ingest(layer: str, path: Path) -> dict:
        seen.append(path.name)
        stop["asked"] = True  # the signal comes while this file loads
        return {"loaded": 1, "quarantined": 0}

    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_text(GOOD)
    watcher = Watcher(tmp_path, ingest, settle_s=0.0, clock=lambda: time.time() + 60)
    got = watcher.run_once(stop=lambda: stop["asked"])
    assert [r.outcome for r in got] == ["loaded"] and len(seen) == 1
    assert (tmp_path / "done" / seen[0]).exists()  # finished: moved, with its report
    left = {"a.csv", "b.csv"} - set(seen)
    assert all((tmp_path / name).exists() for name in left)  # waits for the next start
    assert [r.file for r in watcher.run_once()] == sorted(left)


def test_sigterm_stops_the_watcher_cleanly(tmp_path: Path) -> None:
    """A service manager's SIGTERM (podman stop, systemd) ends the watcher with code 0."""
    store = str(tmp_path / "store")
    fixtures.mahallas().to_file(tmp_path / "m.geojson")
    assert CliRunner().invoke(cli, ["ingest", "mahallas", str(tmp_path / "m.geojson"),
                                    "--store", store]).exit_code == 0
    (tmp_path / "drop").mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "riskmap", "watch", str(tmp_path / "drop"),
                             "--interval", "30", "--store", store], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()  # the loop is running (the handlers are in place)
        assert banner.startswith("riskmap watch:"), banner
        proc.send_signal(signal.SIGTERM)  # during the 30 s wait: it must not sit it out
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and "riskmap watch: stopped" in out, (proc.returncode, out)
