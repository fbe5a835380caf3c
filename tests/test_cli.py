"""The command line: every command has help; ingest -> export round trip; python -m works."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from riskmap.cli import cli
from tests.etl.grid import centre, grid_frame


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in sorted(group.commands.items()):
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", [p for p, _ in _commands(cli)], ids=" ".join)
def test_every_command_has_help(path):
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    cmd = cli
    for name in path:
        cmd = cmd.commands[name]
    assert cmd.help and len(cmd.help.strip()) > 20, f"{' '.join(path)} needs help text"


def test_the_required_commands_exist():
    names = {" ".join(p) for p, _ in _commands(cli)}
    assert {"demo", "serve", "ingest", "export", "export incidents", "export quarantine",
            "build", "bench", "bench etl", "info"} <= names


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "riskmap", "--help"], capture_output=True,
                         text=True, check=True)
    assert "ingest" in out.stdout


def test_ingest_then_export_incidents(tmp_path):
    store = str(tmp_path / "store")
    grid_frame().to_file(tmp_path / "m.geojson")
    runner = CliRunner()
    res = runner.invoke(cli, ["ingest", "mahallas", str(tmp_path / "m.geojson"), "--store", store])
    assert res.exit_code == 0, res.output
    lon, lat = centre(0)
    pd.DataFrame({"id": ["X1", "X2", "X3"],
                  "sana": ["2025-01-10 10:00", "11.01.2025", "bad"],
                  "turi": ["o‘g‘irlik", "bezorilik", "theft"],
                  "lat": [lat, lat, lat], "lon": [lon, lon, lon]}).to_csv(tmp_path / "i.csv",
                                                                          index=False)
    res = runner.invoke(cli, ["ingest", "incidents", str(tmp_path / "i.csv"), "--store", store,
                              "--report", str(tmp_path / "r.json"), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "2 loaded" in res.output and "invalid_date 1" in res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["input_rows"] == report["loaded"] + report["updated"] + report["duplicates"] \
        + report["quarantined"] == 3
    assert report["by_reason"] == {"invalid_date": 1}
    for fmt in ("csv", "geojson", "parquet"):
        out = tmp_path / f"out.{fmt}"
        res = runner.invoke(cli, ["export", "incidents", "--store", store, "--format", fmt,
                                  "-o", str(out)])
        assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "out.csv")
    assert {"incident_id", "occurred_at", "category", "lat", "lon", "h3", "mahalla_id",
            "geocode_precision", "flags"} <= set(table.columns)
    x1 = table.set_index("incident_id").loc["X1"]
    assert x1["category"] == "theft" and x1["mahalla_id"] == "M1"
    assert x1["occurred_at"].startswith("2025-01-10T10:00:00+05:00")
    assert len(x1["h3"]) == 15 and x1["h3"].startswith("89")
    res = runner.invoke(cli, ["export", "quarantine", "--store", store, "-o",
                              str(tmp_path / "q.csv")])
    q = pd.read_csv(tmp_path / "q.csv")
    assert q["reason"].tolist() == ["invalid_date"] and q["occurred_at"].tolist() == ["bad"]
    # the exports were audited through the data-access layer
    from riskmap.layers import open_store

    audit = open_store(store).read("audit")
    assert {"export"} <= set(audit["action"]) and {"incidents", "quarantine"} <= set(audit["layer"])


def test_errors_are_one_line_with_the_file(tmp_path):
    res = CliRunner().invoke(cli, ["ingest", "incidents", str(tmp_path / "nope.csv"),
                                   "--store", str(tmp_path / "s")])
    assert res.exit_code == 2
    assert "nope.csv" in res.output and "Traceback" not in res.output


def test_no_login_only_on_loopback(monkeypatch):
    from pydantic import ValidationError

    from riskmap.settings import Settings

    monkeypatch.delenv("RISKMAP_APP__AUTH", raising=False)
    with pytest.raises(ValidationError, match="RISKMAP_APP__AUTH=accounts"):
        Settings(_env_file=None, app={"host": "0.0.0.0", "auth": "none"})
    public = Settings(_env_file=None, app={"host": "0.0.0.0"})
    assert public.app.auth == "accounts"  # logins by default: there is no default password
    assert Settings(_env_file=None, app={"auth": "none"}).app.host == "127.0.0.1"
