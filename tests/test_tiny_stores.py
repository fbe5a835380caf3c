"""Empty and tiny stores go through every command a user runs without an error.

Each world is loaded the way a user loads it (``riskmap ingest`` of files), then ``build``,
every ``export``, ``evaluate``, ``plan cameras`` and ``report zone`` run on it. A command may
refuse what cannot be done on so little data, with one line and exit code 2 (say, hot spots of
a store without mahallas); it may never end in an unexpected error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import geopandas as gpd

from riskmap.cli import cli
from riskmap.cli.common import EXIT_EXPECTED
from tests import fixtures

#: world name -> (number of mahallas, incident rows as CSV lines without the header)
_LOCATED = [f"I{i:03d},2025-03-{i % 28 + 1:02d} 10:00,theft,{40.1005 + (i % 19) * 0.001:.4f},"
            f"{67.8405 + (i // 19) * 0.002:.4f}," for i in range(160)]
WORLDS: dict[str, tuple[int, list[str]]] = {
    "empty": (0, []),
    "one-mahalla": (1, []),
    "one-incident": (1, ["I1,2025-03-05 10:00,theft,40.105,67.845,"]),
    "one-month": (4, _LOCATED),  # 4 mahallas, 160 incidents, all in March 2025
    "address-only": (4, [f"A{i},2025-0{i % 6 + 1}-10,theft,,,\"Navro‘z MFY, Sharof Rashidov\""
                         for i in range(20)]),
}

#: what each command may answer instead of success, in a world that cannot support it
REFUSALS = ("has no mahallas", "no incidents", "holds no mahallas", "no tourist zone named",
            "no camera", "nothing to")


def _commands(out: Path) -> list[list[str]]:
    commands = [["build"]]
    commands += [["export", "incidents", "--format", f, "-o", str(out / f"inc.{f}")]
                 for f in ("csv", "parquet", "geojson")]
    commands += [["export", "quarantine", "-o", str(out / "q.csv")],
                 ["export", "hotspots", "--level", "mahalla", "-o", str(out / "hm.csv")],
                 ["export", "hotspots", "--level", "h3", "--format", "geojson",
                  "-o", str(out / "hh.geojson")],
                 ["export", "kde", "-o", str(out / "kde.tif")]]
    commands += [["export", "coverage", "--level", level, "-o", str(out / f"c-{level}.csv")]
                 for level in ("mahalla", "h3", "site", "zone")]
    commands += [["evaluate", "--report", str(out / "eval.json")],
                 ["plan", "cameras", "--budget", "3", "-o", str(out / "plan.geojson")],
                 ["report", "zone", "Aydar", "-o", str(out / "zone.html")]]
    return commands


def _load(world: str, store: str, tmp_path: Path) -> None:
    n_mahallas, rows = WORLDS[world]
    runner = CliRunner()
    if n_mahallas:
        path = tmp_path / "m.geojson"
        gpd.GeoDataFrame(fixtures.mahallas().head(n_mahallas)).to_file(path)
        res = runner.invoke(cli, ["ingest", "mahallas", str(path), "--store", store])
        assert res.exit_code == 0, res.output
    if rows:
        path = tmp_path / "i.csv"
        path.write_text("incident_id,occurred_at,category,lat,lon,address\n" + "\n".join(rows)
                        + "\n", encoding="utf-8")
        res = runner.invoke(cli, ["ingest", "incidents", str(path), "--store", store])
        assert res.exit_code == 0, res.output
        assert f"{len(rows)} rows -> {len(rows)} loaded" in res.output


def _run_all(store: str, tmp_path: Path) -> dict[str, str]:
    out = tmp_path / "out"
    out.mkdir()
    outcome = {}
    for args in _commands(out):
        res = CliRunner().invoke(cli, [*args, "--store", store])
        name = " ".join(a for a in args if a != "-o" and a != "--report" and "/" not in a)
        assert res.exception is None or isinstance(res.exception, SystemExit), (name, res.output)
        if res.exit_code == EXIT_EXPECTED:
            assert any(r in res.output for r in REFUSALS), (name, res.output)
            assert res.output.count("\n") == 1, (name, res.output)  # one line
            outcome[name] = "refused"
        else:
            assert res.exit_code == 0, (name, res.output)
            outcome[name] = "ok"
    return outcome


@pytest.mark.parametrize("world", list(WORLDS))
def test_every_command_on_a_tiny_embedded_store(world: str, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    _load(world, store, tmp_path)
    outcome = _run_all(store, tmp_path)
    assert outcome["build"] == "ok"
    assert {outcome[k] for k in outcome if k.startswith("export incidents")} == {"ok"}
    analyses = [k for k in outcome if k.startswith(("export hotspots", "export kde", "plan"))]
    assert len(analyses) == 4
    if WORLDS[world][0]:  # with mahallas, every analysis runs (an empty answer is an answer)
        assert {outcome[k] for k in analyses} == {"ok"}, outcome
    else:
        assert {outcome[k] for k in analyses} == {"refused"}, outcome
    if WORLDS[world][1]:
        assert outcome["evaluate"] == "ok"
    assert outcome["report zone Aydar"] == "refused"  # no tourist zone in these worlds


@pytest.mark.postgis
@pytest.mark.parametrize("world", ["empty", "one-incident", "address-only"])
def test_every_command_on_a_tiny_postgis_store(world: str, postgis_db: str,
                                               tmp_path: Path) -> None:
    _load(world, postgis_db, tmp_path)
    outcome = _run_all(postgis_db, tmp_path)
    assert outcome["build"] == "ok"
    assert {outcome[k] for k in outcome if k.startswith("export incidents")} == {"ok"}
