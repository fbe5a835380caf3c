"""The ``riskmap`` command line: thin commands over library functions, one module per group."""

from __future__ import annotations

import sys
from typing import Any

import click

from riskmap import __version__
from riskmap.cli.common import clean_errors

__all__ = ["cli", "main"]


class RiskmapGroup(click.Group):
    """The command group: no traceback reaches the user unless ``--debug`` asks for it.

    Expected failures (bad input, settings, store state, a full disk) end in one line and exit
    code 2; anything else in one line naming the log file that holds the traceback (exit 70).
    """

    def invoke(self, ctx: click.Context) -> Any:
        with clean_errors():
            return super().invoke(ctx)


@click.group(cls=RiskmapGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="riskmap")
@click.option("--debug", is_flag=True, help="Print the traceback of an unexpected error "
              "(also RISKMAP_DEBUG=1; may come anywhere on the command line).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Geospatial risk mapping for mahalla public safety.

    Load boundaries, incidents, cameras and infrastructure into a store (a directory for the
    embedded store, or a postgresql+psycopg:// URL for PostGIS), build hotspot and coverage
    layers, and serve the web app. Start with `riskmap demo`.
    """
    ctx.meta["riskmap.debug"] = debug


def _register() -> None:
    from riskmap.cli import bench, build, export, ingest, store_cmds

    for module in (ingest, export, build, bench, store_cmds):
        for command in module.COMMANDS:
            cli.add_command(command)
    # optional command groups contributed by feature modules
    import importlib

    for name in ("demo", "serve", "analytics", "cameras", "zones", "watch", "users", "audit",
                 "worker", "tokens", "review", "roadmaps"):
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


def main(argv: list[str] | None = None) -> None:
    """Console entry point; ``--debug`` may stand anywhere on the command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args:
        args = ["--debug", *(a for a in args if a != "--debug")]
    cli.main(args=args, prog_name="riskmap")
