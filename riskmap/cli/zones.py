"""``riskmap report zone``: the readiness report of a tourist zone as HTML (and JSON)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from riskmap.cli.common import (
    fail_cleanly,
    open_from,
    settings_from,
    store_option,
    write_text_atomic,
)

__all__ = ["COMMANDS", "report", "report_zone"]


@click.group()
def report() -> None:
    """Write printable, self-contained reports (HTML with embedded maps; JSON figures)."""


@report.command("zone")
@click.argument("name")
@store_option
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="HTML file to write (self-contained: maps, tables and plotly.js inlined).")
@click.option("--json", "json_out", type=click.Path(path_type=Path), default=None,
              help="Also write the figures as JSON to this file.")
@click.option("--buffer-m", type=click.FloatRange(min=0), default=2000.0, show_default=True,
              help="Surroundings counted with the zone (incidents, access roads, sites).")
@click.option("--power-line-km", type=click.FloatRange(min=0), default=None,
              help="Pass mark: a power line within this distance [default: 2].")
@click.option("--police-minutes", type=click.FloatRange(min=0), default=None,
              help="Pass mark: police post reaches the zone within [default: 20].")
@click.option("--emergency-minutes", type=click.FloatRange(min=0), default=None,
              help="Pass mark: emergency service (112) within [default: 30].")
@click.option("--medical-minutes", type=click.FloatRange(min=0), default=None,
              help="Pass mark: medical service within [default: 30].")
@click.option("--road-minutes", type=click.FloatRange(min=0), default=None,
              help="Pass mark: minutes by road from the nearest town (default: any path).")
@click.option("--entrance-coverage", type=click.FloatRange(0, 1), default=None,
              help="Pass mark: share of entrances under a camera, 0-1 [default: 1].")
@click.option("--offroad-kmh", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Speed off the roads [default: 15].")
@click.option("--lang", "lang", type=click.Choice(("uz_Latn", "uz_Cyrl", "ru", "en")),
              envvar="RISKMAP_LANG", default="uz_Latn", show_default=True, show_envvar=True,
              help="Language of the HTML report (the JSON keeps its keys and codes).")
@fail_cleanly
def report_zone(name: str, store_url: str | None, out: Path, json_out: Path | None,
                buffer_m: float, lang: str = "uz_Latn", **thresholds: float | None) -> None:
    """Report on tourist zone NAME: coverage, incidents by season, isochrones, checklist.

    NAME is matched ignoring case, apostrophes and script (or give the feature id). The
    layers are read through the data-access layer (scoped to RISKMAP_APP__REGIONS and
    audited as "report"). Example:

        riskmap report zone Aydar-Arnasay --store ./data -o zone.html --json zone.json
    """
    from riskmap.cli.export import access_for
    from riskmap.etl.zone_report import make_thresholds, zone_report

    settings = settings_from(store_url)
    store = open_from(settings)
    result = zone_report(access_for(store, settings), name,
                         thresholds=make_thresholds(**thresholds), buffer_m=buffer_m,
                         tz=settings.etl.timezone)
    from riskmap.i18n import use_language

    with use_language(lang):
        page = result.to_html()
    write_text_atomic(out, page)
    if json_out is not None:
        write_text_atomic(json_out, json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    ready = result.to_json()["readiness"]
    click.echo(f"{result.name}: {ready['passed']} of {ready['total']} readiness items passed; "
               f"report written to {out}" + (f", figures to {json_out}" if json_out else ""))



COMMANDS = [report]
