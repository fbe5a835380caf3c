"""Every CSV riskmap writes is safe to open in a spreadsheet: formula cells are neutralised."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from riskmap.cli import cli
from riskmap.csvsafe import neutralize_formulas, to_csv
from tests import fixtures

EVIL = ["=HYPERLINK(\"http://evil.example\",\"click\")", "=cmd|' /C calc'!A0",
        "+SUM(1,2)", "-2+3", "@A1", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("cell", EVIL)
def test_formula_cells_are_neutralised(cell: str) -> None:
    out = neutralize_formulas(pd.DataFrame({"x": [cell]}))["x"].iloc[0]
    assert out == "'" + cell


def test_numbers_and_plain_text_pass(tmp_path: Path) -> None:
    frame = pd.DataFrame({"n": [-1.5, 2.0], "t": ["-12.5", "Do‘stlik"], "=h": ["a", None]})
    text = to_csv(frame)
    assert text.splitlines() == ["n,t,'=h", "-1.5,-12.5,a", "2.0,Do‘stlik,"]
    to_csv(frame, tmp_path / "f.csv")
    assert (tmp_path / "f.csv").read_text(encoding="utf-8") == text


def _cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [c for row in csv.reader(fh) for c in row]


def test_exports_neutralise_names_and_raw_rows(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    m = fixtures.mahallas()
    m["district"] = EVIL[1]
    m["name"] = EVIL[0]
    m.to_file(tmp_path / "m.geojson")
    (tmp_path / "i.csv").write_text(
        "incident_id,occurred_at,category,lat,lon,note\n"
        "I1,2025-03-05,theft,40.105,67.845,=HYPERLINK(\"x\")\n"
        "@bad,not a date,theft,40.105,67.845,+SUM(1;2)\n", encoding="utf-8")
    runner = CliRunner()
    for args in (["ingest", "mahallas", str(tmp_path / "m.geojson")],
                 ["ingest", "incidents", str(tmp_path / "i.csv")],
                 ["export", "incidents", "-o", str(tmp_path / "inc.csv")],
                 ["export", "quarantine", "-o", str(tmp_path / "q.csv")]):
        res = runner.invoke(cli, [*args, "--store", store])
        assert res.exit_code == 0, res.output
    incidents = _cells(tmp_path / "inc.csv")
    assert "'" + EVIL[1] in incidents  # the district, as the store holds it
    quarantine = _cells(tmp_path / "q.csv")
    assert "'@bad" in quarantine and "'+SUM(1;2)" in quarantine
    for cell in incidents + quarantine:
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
