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
@click.option("--keep", type=click.Path(path_type=Path), default=None,
              help="Keep the generated inputs and store in this folder.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the figures as JSON.")
def bench_etl(rows: int, mahallas: int, keep: Path | None, json_out: Path | None) -> None:
    """Incidents/s for ingesting located incidents from CSV onto H3 and mahallas.

    Prints the whole ingest beside the bare vectorised H3 and point-in-polygon calls on the
    same points (the ratio), and the ingest's peak memory.
    """
    from riskmap.bench.etl import run

    figures = run(rows, mahallas, keep=keep)
    if json_out:
        json_out.write_text(json.dumps(figures, indent=2) + "\n")


COMMANDS = [bench]
