"""``riskmap bench``: benchmarks that print figures and ratios against a simple baseline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from riskmap.cli.common import CommandError, fail_cleanly

__all__ = ["COMMANDS", "bench"]


@click.group()
def bench() -> None:
    """Measure the hot paths on this machine (figures are printed, nothing is asserted)."""


@bench.command("etl")
@click.option("--rows", default=1_000_000, show_default=True, help="Incidents to ingest.")
@click.option("--mahallas", default=9_500, show_default=True, help="Mahalla polygons.")
@click.option("--postgis", "postgis", default=None, metavar="URL",
              help="Also measure PostGIS: a scratch database is created on the server at URL "
                   "(a postgresql+psycopg:// URL of a role that may CREATE DATABASE) and "
                   "dropped at the end.")
@click.option("--big-rows", default=10_000_000, show_default=True,
              help="Incidents in the big store the daily load goes into.")
@click.option("--daily/--no-daily", default=True, show_default=True,
              help="Measure the 1,000-row daily load into a big store vs an empty one.")
@click.option("--repeat", default=3, show_default=True,
              help="Runs of the bare calls and of each daily load (the median is kept).")
@click.option("--keep", type=click.Path(path_type=Path), default=None,
              help="Keep the generated inputs and stores in this folder.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the figures as JSON.")
def bench_etl(rows: int, mahallas: int, postgis: str | None, big_rows: int, daily: bool,
              repeat: int, keep: Path | None, json_out: Path | None) -> None:
    """Incidents/s for ingesting located incidents from CSV onto H3 and mahallas.

    Prints, in one run and each beside its target: the bare vectorised calls (CSV read, H3,
    point-in-polygon) on the same points, the whole ingest into the embedded store (ratio to
    the bare calls, peak memory), the same into PostGIS with --postgis (ratio to the embedded
    ingest), and a daily load of 1,000 rows into a store of --big-rows incidents vs into an
    empty one. Wall-clock ratios are printed with CPU-time ratios, which other work on the
    machine disturbs less.
    """
    from riskmap.bench.etl import run

    figures = run(rows, mahallas, keep=keep, postgis=postgis, big_rows=big_rows, daily=daily,
                  repeat=repeat)
    if json_out:
        json_out.write_text(json.dumps(figures, indent=2) + "\n")


@bench.command("app")
@click.option("--store", "store_url", default=None, metavar="PATH|URL",
              help="An existing store to serve (a demo store: its size sets the target).")
@click.option("--size", type=click.Choice(["small", "medium", "large"]), default=None,
              help="Without --store: the demo world of this size, built with `riskmap demo "
                   "--no-serve` into --dir (reused when it is there).")
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None,
              help="Where the --size demo store is kept (default: a temporary folder, "
                   "removed at the end).")
@click.option("--repeat", default=5, show_default=True, type=click.IntRange(1, 100),
              help="Rounds: each opens every page afresh and works through it.")
@click.option("--pages", default=",".join(["commanders", "planner", "tourism", "overview"]),
              show_default=True, help="Pages to measure, comma-separated.")
@click.option("--headless/--no-headless", default=True, show_default=True,
              help="Run Chromium without a window.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the figures as JSON.")
@fail_cleanly
def bench_app(store_url: str | None, size: str | None, folder: Path | None, repeat: int,
              pages: str, headless: bool, json_out: Path | None) -> None:
    """Time the pages in headless Chromium: each interaction from the user's input to the
    result drawn, and each page's first load, as p50/p95 beside the targets.

    Serves the store itself (as `riskmap serve`: gunicorn on 127.0.0.1, no logins) and drives
    Chromium with Selenium: a commander's session (region, district, colour-by, H3 level, box
    zoom, wheel zoom, pan, month window, categories, mahalla click, tabs), the planner (area
    change), tourism (zone or travel-time source) and the overview. Targets: 1 s p95 per
    interaction (2 s on the large demo), 2 s per first load. Needs Chromium, chromedriver and
    Selenium (the dev extra).
    """
    import tempfile

    from riskmap.bench.app import BenchError, demo_store, run

    if (store_url is None) == (size is None):
        raise CommandError("give either --store PATH|URL or --size small|medium|large")
    names = tuple(p.strip() for p in pages.split(",") if p.strip())
    try:
        with tempfile.TemporaryDirectory(prefix="riskmap-bench-demo-") as tmp:
            store = store_url or demo_store(size or "small", folder or Path(tmp) / "store")
            figures = run(store, pages=names, repeat=repeat, headless=headless, size=size)
    except BenchError as exc:
        raise CommandError(str(exc)) from None
    if json_out:
        json_out.write_text(json.dumps(figures, indent=2) + "\n")


@bench.command("screenshots")
@click.option("--store", "store_url", default=None, metavar="PATH|URL",
              help="The store to serve (default: the small demo, built into a temporary "
                   "folder).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("docs/screenshots"),
              show_default=True, help="Folder of the PNGs (<page>.<lang>.png).")
@click.option("--pages", default=None, metavar="NAMES",
              help="Only these pages, comma-separated (overview, commanders, "
                   "commanders-panel, planner, tourism; default: all).")
@fail_cleanly
def bench_screenshots(store_url: str | None, out: Path, pages: str | None) -> None:
    """Shoot every page in Uzbek (Latin) and Russian in headless Chromium, as the README shows
    them (served as `riskmap serve`: 127.0.0.1, no logins). Needs Chromium, chromedriver and
    Selenium (the dev extra)."""
    import tempfile

    from riskmap.bench.app import BenchError, demo_store
    from riskmap.bench.screenshots import take

    try:
        with tempfile.TemporaryDirectory(prefix="riskmap-shots-demo-") as tmp:
            names = tuple(p.strip() for p in pages.split(",") if p.strip()) if pages else None
            take(store_url or demo_store("small", Path(tmp) / "store"), out, pages=names)
    except BenchError as exc:
        raise CommandError(str(exc)) from None


COMMANDS = [bench]
