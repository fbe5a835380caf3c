"""``riskmap bench``: benchmarks that print figures and ratios against a simple baseline."""

from __future__ import annotations

import json
from pathlib import Path

import click

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


COMMANDS = [bench]
