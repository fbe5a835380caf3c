"""``riskmap tokens``: API tokens of the systems that post live feeds (see ``app/api.py``)."""

from __future__ import annotations

import click

from riskmap.cli.common import echo_json, fail_cleanly, open_from, settings_from, store_option

__all__ = ["COMMANDS", "tokens"]


@click.group()
def tokens() -> None:
    """API tokens for live feeds: create (shown once), revoke, list.

    A system posts incidents or cameras to POST /api/v1/incidents or /api/v1/cameras with
    `Authorization: Bearer TOKEN`. A token is scoped like a user (regions, districts): rows
    outside its scope are refused. The store keeps only the token's SHA-256; every change is
    written to the audit log.
    """


def _split(values: tuple[str, ...]) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@tokens.command("create")
@click.argument("name")
@click.option("--region", "--regions", "regions", multiple=True,
              help="A region of the token's scope (repeatable, or comma-separated).")
@click.option("--district", "--districts", "districts", multiple=True,
              help="A district of the scope, within its region (repeatable, or "
                   "comma-separated).")
@click.option("--all-regions", is_flag=True,
              help="Scope: every region (required to give no region).")
@click.option("--kinds", default="incidents,cameras", show_default=True,
              help="What it may post: incidents, cameras (comma-separated).")
@store_option
@fail_cleanly
def tokens_create(name: str, regions: tuple[str, ...], districts: tuple[str, ...],
                  all_regions: bool, kinds: str, store_url: str | None) -> None:
    """Make a token for the system NAME and print it (the only time it is shown)."""
    from riskmap.auth.apitokens import create_token

    wanted_regions, wanted_districts = _split(regions), _split(districts)
    if wanted_regions and all_regions:
        raise click.UsageError("--all-regions and --region exclude each other")
    if not wanted_regions and not all_regions:
        raise click.UsageError("a token needs a scope: --region NAME (repeatable), or "
                               "--all-regions")
    settings = settings_from(store_url)
    with open_from(settings) as store:
        token = create_token(store, name, regions=wanted_regions, districts=wanted_districts,
                             kinds=kinds.split(","), actor=settings.user)
    click.echo(f"token {name.strip().lower()} ({kinds}; "
               f"{', '.join(wanted_regions) or 'all regions'}); it is shown only now:",
               err=True)
    click.echo(token)


@tokens.command("revoke")
@click.argument("name")
@store_option
@fail_cleanly
def tokens_revoke(name: str, store_url: str | None) -> None:
    """Revoke the token NAME at once (its name stays taken)."""
    from riskmap.auth.apitokens import revoke_token

    settings = settings_from(store_url)
    with open_from(settings) as store:
        changed = revoke_token(store, name, actor=settings.user)
    click.echo(f"token {name} revoked" if changed else f"token {name} was revoked already")


@tokens.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@store_option
@fail_cleanly
def tokens_list(as_json: bool, store_url: str | None) -> None:
    """List the tokens, their scope and last use (never the tokens themselves)."""
    import pandas as pd

    from riskmap.auth.apitokens import list_tokens

    settings = settings_from(store_url)
    with open_from(settings) as store:
        table = list_tokens(store)
    records = [{k: (None if v is None or (not isinstance(v, str) and pd.isna(v))
                    else v.isoformat() if isinstance(v, pd.Timestamp) else v)
                for k, v in row.items()} for row in table.to_dict(orient="records")]
    if as_json:
        echo_json(records)
        return
    if not records:
        click.echo("no tokens (make one with `riskmap tokens create NAME --region ...`)")
    for row in records:
        state = "revoked" if row["revoked_at"] else "active"
        scope = row["regions"] if row["regions"] not in (None, "[]") else "all regions"
        used = row["last_used_at"] or "never used"
        click.echo(f"{row['name']:<24} {state:<8} {row['kinds']:<18} {scope}  {used}")


COMMANDS = [tokens]
