"""``riskmap review``: the programme's monthly, quarterly and half-year review pack of a region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from riskmap.cli.common import (
    CommandError,
    fail_cleanly,
    open_from,
    settings_from,
    store_option,
    write_text_atomic,
)

__all__ = ["COMMANDS", "review"]


def _period(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from riskmap.geo.review import parse_period

    try:
        return parse_period(value).label
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


@click.command()
@click.option("--region", default=None,
              help="The region (e.g. \"Jizzax viloyati\"); within RISKMAP_APP__REGIONS when set.")
@click.option("--period", default=None, callback=_period, metavar="PERIOD",
              help="A month (2025-06), a quarter (2025-Q2) or a half-year (2025-H1), in the "
                   "calendar of RISKMAP_ETL__TIMEZONE.")
@store_option
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), default=None,
              help="HTML file to write (self-contained: inline CSS and SVG maps).")
@click.option("--pdf", "pdf_out", type=click.Path(path_type=Path), default=None,
              help="Also print the pack to this PDF (headless Chromium).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the figures as JSON to this file.")
@click.option("--keep/--no-keep", default=True, show_default=True,
              help="Keep the pack in the store with its period (re-open it with --saved).")
@click.option("--saved", is_flag=True,
              help="Open the newest pack kept for the region and period, as it was made, "
                   "instead of computing it again.")
@click.option("--pack-id", default=None, help="Open this kept pack (implies --saved).")
@click.option("--background", is_flag=True,
              help="Queue the pack as a background job (a worker makes and keeps it); print "
                   "the job id.")
@click.option("--lang", "lang", type=click.Choice(("uz_Latn", "uz_Cyrl", "ru", "en")),
              envvar="RISKMAP_LANG", default="uz_Latn", show_default=True, show_envvar=True,
              help="Language of the HTML and PDF (the JSON keeps its keys and codes). A kept "
                   "pack (--saved) opens in the language it was made in.")
@fail_cleanly
def review(region: str | None, period: str | None, store_url: str | None, out: Path | None,
           pdf_out: Path | None, json_out: Path | None, keep: bool, saved: bool,
           pack_id: str | None, background: bool, lang: str = "uz_Latn") -> None:
    """Write the review pack of a region for a month, quarter or half-year.

    Headline figures against the previous period and the same period last year, crime-free
    mahallas, red mahallas (new, still, no longer red) with their reason, top categories,
    drugs and cybercrime, hot spot, trend and coverage maps, and how well the previous period
    pointed at this one. The layers are read through the data-access layer (scoped to
    RISKMAP_APP__REGIONS, audited as RISKMAP_USER with purpose "review"). Example:

        riskmap review --region "Jizzax viloyati" --period 2025-Q2 -o q2.html --pdf q2.pdf
    """
    from riskmap.cli.export import access_for

    if pack_id is None and (not region or not period):
        raise click.UsageError("give --region and --period (or --pack-id of a kept pack)")
    if not background and out is None and pdf_out is None and json_out is None:
        raise click.UsageError("give -o/--output, --pdf or --json (or --background)")
    settings = settings_from(store_url)
    try:
        with open_from(settings) as store:
            access = access_for(store, settings)
            if background:
                _submit(access, region, period, settings, store, lang)
                return
            if saved or pack_id is not None:
                from riskmap.etl.review_pack import open_pack

                kept = open_pack(access, region=region, period=period, pack_id=pack_id)
                page, figures = kept["html"], kept["json"]
                what = f"kept pack {kept['pack_id']} ({kept['generated_at']:%Y-%m-%d %H:%M} UTC)"
            else:
                page, figures, what = _make(access, store, region, period, settings, keep,
                                            lang)
    except PermissionError as exc:
        raise CommandError(str(exc)) from None
    _write(page, figures, out, pdf_out, json_out)
    written = ", ".join(str(p) for p in (out, pdf_out, json_out) if p is not None)
    click.echo(f"{figures['region']} {figures['period']}: {figures['incidents']:,} incidents "
               f"({figures['incidents_previous_period']:,} in {figures['previous_period']}), "
               f"{figures['crime_free_mahallas']:,} of {figures['mahallas']:,} mahallas "
               f"crime-free, {figures['red_count']:,} red; {what}; wrote {written}")


def _make(access: Any, store: Any, region: str, period: str, settings: Any,
          keep: bool, lang: str) -> tuple[str, dict[str, Any], str]:
    from riskmap.app.review_pack import review_html
    from riskmap.cli.serve import is_synthetic
    from riskmap.etl.review_pack import keep_pack, load_review
    from riskmap.i18n import use_language

    pack = load_review(access, region, period, tz=settings.etl.timezone,
                       demo=is_synthetic(store))
    with use_language(lang):
        page = review_html(pack)
    what = "computed"
    if keep:
        what = f"kept as {keep_pack(access, pack, page)}"
    return page, pack.to_json(), what


def _submit(access: Any, region: str | None, period: str | None, settings: Any,
            store: Any, lang: str) -> None:
    from riskmap.cli.serve import is_synthetic
    from riskmap.jobs.kinds import submit_review

    job_id = submit_review(access, {"region": region, "period": period,
                                    "timezone": settings.etl.timezone,
                                    "demo": is_synthetic(store), "lang": lang})
    click.echo(f"queued {job_id}: `riskmap worker` makes the pack and keeps it; open it with "
               f"`riskmap review --region ... --period {period} --saved -o pack.html`")


def _write(page: str, figures: dict[str, Any], out: Path | None, pdf_out: Path | None,
           json_out: Path | None) -> None:
    if pdf_out is not None:  # first: a missing Chromium leaves no half of the outputs
        from riskmap.app.review_pack import print_pdf

        print_pdf(page, pdf_out)
    if out is not None:
        write_text_atomic(out, page)
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(figures, indent=2, ensure_ascii=False))


COMMANDS = [review]
