"""Tests of the mahalla brief: the CSV and the self-contained printable HTML."""

from __future__ import annotations

import io
import re

import pandas as pd

from riskmap.app.brief import Brief, brief_csv, brief_filename, brief_html, trend_svg


def _brief(n: int = 3, **kw: object) -> Brief:
    incidents = pd.DataFrame({
        "incident_id": [f"I{i}" for i in range(n)],
        "occurred_at": [f"2025-03-{10 + i:02d} 12:00" for i in range(n)],
        "category": ["theft", "assault", "theft"][:n] + ["fraud"] * max(0, n - 3),
        "geocode_precision": ["coordinates"] * n,
    })
    defaults: dict[str, object] = {
        "mahalla": {"mahalla_id": "M11", "name": "Do'stlik <b>", "district": "Jizzax shahri",
                    "region": "Jizzax viloyati", "population": 5000.0},
        "window": "2025-01-01 – 2025-06-30, all categories",
        "incidents": incidents,
        "months": ["2025-01", "2025-02", "2025-03"], "monthly": [1, 0, 4],
        "categories": pd.DataFrame({"category": ["theft", "assault"], "count": [2, 1]}),
        "status": pd.DataFrame({"month": ["2025-06", "2025-05"], "status": ["red", "yellow"],
                                "count": [55, 50], "why": ["red: top 10% rate", "yellow: x"]}),
        "cameras": pd.DataFrame({"camera_id": ["C1"], "type": ["overview"],
                                 "status": ["active"], "range_m": [80.0]}),
        "generated": "2025-07-01 09:00 for test", "demo": True,
    }
    defaults.update(kw)
    return Brief(**defaults)  # type: ignore[arg-type]


def test_csv_has_every_incident_with_the_mahalla() -> None:
    frame = pd.read_csv(io.StringIO(brief_csv(_brief(5))))
    assert list(frame.columns) == ["mahalla_id", "mahalla", "district", "incident_id",
                                   "occurred_at", "category", "geocode_precision"]
    assert len(frame) == 5
    assert set(frame["mahalla_id"]) == {"M11"} and set(frame["mahalla"]) == {"Do'stlik <b>"}
    assert frame["incident_id"].tolist() == ["I0", "I1", "I2", "I3", "I4"]
    empty = pd.read_csv(io.StringIO(brief_csv(_brief(0))))
    assert len(empty) == 0 and "incident_id" in empty.columns


def test_html_is_self_contained_and_escaped() -> None:
    page = brief_html(_brief())
    assert page.startswith("<!DOCTYPE html>")
    # nothing is fetched: no URLs, scripts, external stylesheets or images
    assert not re.search(r"https?://|<script|<link|<img|<iframe|@import|url\(", page)
    assert "<style>" in page and "@media print" in page
    # names are escaped, not injected
    assert "Do&#x27;stlik &lt;b&gt;" in page and "<b> mahalla" not in page
    assert "Synthetic demo data" in page
    assert "population 5,000" in page and "<b>3</b> incidents" in page
    assert 'class="badge red">red</span> red: top 10% rate' in page
    assert page.count("<rect") == 3  # one bar per month
    assert "C1" in page and "overview" in page


def test_html_limits_the_incident_list_and_handles_missing_parts() -> None:
    page = brief_html(_brief(5), max_incidents=2)
    assert "First 2 of 5 rows; the CSV has them all." in page
    bare = brief_html(_brief(0, status=pd.DataFrame(), cameras=pd.DataFrame(), months=[],
                             monthly=[], demo=False,
                             mahalla={"mahalla_id": "X", "name": "Sharq", "district": "D",
                                      "region": "R", "population": None}))
    assert "population unknown" in bare and "No cameras recorded" in bare
    assert "Synthetic demo data" not in bare and "<svg" not in bare
    assert "No incidents in the period." in bare


def test_trend_svg_bar_heights_are_proportional() -> None:
    svg = trend_svg(["2025-01", "2025-02", "2025-03"], [2, 0, 4], width=330, height=160)
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', svg)]
    assert heights == [60.0, 0.0, 120.0]  # plot height 160 - 10 - 30
    assert trend_svg([], []) == ""


def test_filename_is_safe() -> None:
    assert brief_filename(_brief(), "csv") == "brief-M11.csv"
    odd = _brief(mahalla={"mahalla_id": "../JZ 01", "name": "x"})
    assert brief_filename(odd, "html") == "brief----JZ-01.html"
