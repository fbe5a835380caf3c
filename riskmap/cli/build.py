"""``riskmap build``: compute the derived layers."""

from __future__ import annotations

import sys

import click

from riskmap.cli.common import echo_json, fail_cleanly, open_from, settings_from, store_option

__all__ = ["COMMANDS", "build"]


@click.command()
@store_option
@click.option("--only", multiple=True, type=click.Choice(["hotspots", "coverage", "zones"]),
              help="Run only these steps (repeatable).")
@click.option("--progress/--no-progress", default=None, help="Show progress bars.")
@fail_cleanly
def build(store_url: str | None, only: tuple[str, ...], progress: bool | None) -> None:
    """Build the derived layers: counts, Gi* hotspots, trends, status, KDE, camera coverage."""
    from riskmap.etl.build import build_all

    settings = settings_from(store_url)
    with open_from(settings) as store:
        summary = build_all(store, settings, only=only or None,
                            progress=sys.stderr.isatty() if progress is None else progress)
    echo_json(summary)


COMMANDS = [build]
