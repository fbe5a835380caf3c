"""``riskmap roadmaps``: the red-mahalla roadmaps of a region, their measures and progress."""

from __future__ import annotations

import click

from riskmap.cli.common import CommandError, fail_cleanly, open_from, settings_from, store_option

__all__ = ["COMMANDS", "roadmaps"]


@click.group()
def roadmaps() -> None:
    """Red-mahalla roadmaps: the responsible official, the mahalla seven and the measures.

    Commanders edit them on the commanders' page (Roadmap tab); `riskmap build` opens one for
    each red mahalla and closes those whose mahalla has left red. Reads are scoped to
    RISKMAP_APP__REGIONS and audited as RISKMAP_USER.
    """


@roadmaps.command("list")
@click.option("--region", default=None, help="Only this region (e.g. \"Jizzax viloyati\").")
@click.option("--overdue", is_flag=True, help="Only open roadmaps with an overdue measure.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table",
              show_default=True, help="A plain table, or CSV (cells neutralised for Excel).")
@store_option
@fail_cleanly
def roadmaps_list(region: str | None, overdue: bool, fmt: str, store_url: str | None) -> None:
    """List the roadmaps: mahalla, status, official, measures open/overdue/done, progress."""
    from riskmap.cli.export import access_for
    from riskmap.etl.roadmaps import list_roadmaps

    settings = settings_from(store_url)
    try:
        with open_from(settings) as store:
            access = access_for(store, settings)
            frame = list_roadmaps(access, region, overdue_only=overdue,
                                  tz=settings.etl.timezone)
    except PermissionError as exc:
        raise CommandError(str(exc)) from None
    frame = frame.assign(
        opened_at=frame["opened_at"].astype(str).str[:10],
        closed_at=frame["closed_at"].astype(str).str[:10].replace({"NaT": "", "None": ""}),
        progress=[("" if p != p else f"{p:.0%}") for p in frame["progress"].astype(float)])
    if fmt == "csv":
        from riskmap.csvsafe import to_csv

        click.echo(to_csv(frame), nl=False)
        return
    if not len(frame):
        click.echo("no roadmaps" + (" with an overdue measure" if overdue else "")
                   + (f" in {region}" if region else ""))
        return
    click.echo(frame.drop(columns=["region"] if region else []).to_string(index=False))


COMMANDS = [roadmaps]
