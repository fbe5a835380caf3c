"""The ``riskmap`` command line: thin commands over library functions, one module per group."""

from __future__ import annotations

import click

from riskmap import __version__

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="riskmap")
def cli() -> None:
    """Geospatial risk mapping for mahalla public safety.

    Load boundaries, incidents, cameras and infrastructure into a store (a directory for the
    embedded store, or a postgresql+psycopg:// URL for PostGIS), build hotspot and coverage
    layers, and serve the web app. Start with `riskmap demo`.
    """


def _register() -> None:
    from riskmap.cli import bench, build, export, ingest, store_cmds

    for module in (ingest, export, build, bench, store_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)
    # optional command groups contributed by feature modules
    import importlib

    for name in ("demo", "serve", "analytics", "cameras", "zones"):
        try:
            module = importlib.import_module(f"riskmap.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"riskmap.cli.{name}":
                raise
            continue
        for command in module.COMMANDS:
            if command.name in cli.commands and isinstance(command, click.Group):
                continue
            cli.add_command(command)


_register()


def main() -> None:
    """Console entry point."""
    cli(prog_name="riskmap")
