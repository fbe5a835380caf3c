"""``riskmap info`` and ``riskmap migrate``: look at and prepare a store."""

from __future__ import annotations

import click

from riskmap.cli.common import (
    audited,
    echo_json,
    fail_cleanly,
    open_from,
    safe_url,
    settings_from,
    store_option,
)

__all__ = ["COMMANDS", "info", "migrate"]


@click.command()
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@fail_cleanly
def info(store_url: str | None, as_json: bool) -> None:
    """List the store's layers and their row counts."""
    settings = settings_from(store_url)
    with open_from(settings) as store:
        counts = {name: store.count(name) for name in store.layer_names()}
    if as_json:
        echo_json({"store": safe_url(settings.store), "layers": counts})
        return
    click.echo(f"store: {safe_url(settings.store)}")
    for name, n in counts.items():
        click.echo(f"  {name:<24} {n:>10,}")
    if not counts:
        click.echo("  (empty: run `riskmap demo` or `riskmap ingest`)")


@click.command()
@store_option
@fail_cleanly
def migrate(store_url: str | None) -> None:
    """Create or upgrade the store's schema (PostGIS: Alembic to head; embedded: nothing to do)."""
    settings = settings_from(store_url)
    with open_from(settings) as store, audited(store, settings, "migrate"):
        upgrade = getattr(store, "migrate", None)
        if upgrade is not None:
            upgrade()
    click.echo(f"store {safe_url(settings.store)} is at the current schema")


COMMANDS = [info, migrate]
