"""``riskmap ingest``: load a user's file into a layer."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from riskmap.cli.common import (
    EXIT_EXPECTED,
    EXIT_UNEXPECTED,
    as_command_error,
    audited,
    dask_client,
    fail_cleanly,
    open_from,
    scaleout_options,
    settings_from,
    store_option,
    write_text_atomic,
)

__all__ = ["COMMANDS", "ingest"]

LAYERS = ("mahallas", "incidents", "cameras", "infrastructure", "aliases")


@click.command()
@click.argument("layer", type=click.Choice(LAYERS))
@click.argument("files", metavar="FILE...", nargs=-1, required=True,
                type=click.Path(path_type=Path))
@store_option
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
              help="Write the load summary as JSON to this file.")
@click.option("--map", "mapping", multiple=True, metavar="SOURCE=FIELD",
              help="Rename a column of the file to a canonical field (repeatable).")
@click.option("--crs", "crs", default=None, metavar="EPSG:CODE",
              help="Coordinate reference system of a file that declares none: a Shapefile "
                   "without .prj, a GeoJSON/GeoParquet without CRS, or a table whose lat/lon "
                   "columns hold projected x/y (e.g. --crs EPSG:32642 --map X=lon --map Y=lat). "
                   "Coordinates are reprojected to longitude/latitude. Without it, such a file "
                   "whose coordinates are not degrees is refused.")
@click.option("--sheet", default=None, metavar="NAME",
              help="Read only this sheet of an XLSX workbook (default: every sheet with rows; "
                   "their columns must match).")
@click.option("--default", "defaults", multiple=True, metavar="FIELD=VALUE",
              help="Use VALUE for FIELD on rows where the file gives none (no such column, or "
                   "an empty cell), e.g. --default category=assault (repeatable).")
@click.option("--replace", is_flag=True,
              help="Replace the whole layer instead of upserting by id (not for incidents).")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar (default: when stderr is a terminal).")
@scaleout_options
@fail_cleanly
def ingest(layer: str, files: tuple[Path, ...], store_url: str | None,
           report_path: Path | None, mapping: tuple[str, ...], crs: str | None,
           sheet: str | None, defaults: tuple[str, ...], replace: bool, progress: bool | None,
           workers: int | None, scheduler: str | None) -> None:
    """Load FILE into LAYER (CSV, XLSX, GeoJSON, GeoPackage, zipped Shapefile, GeoParquet).

    Several files are loaded one after the other, each its own load (a file that fails is
    reported and the others still load; the exit code then says so). With --workers N or
    --scheduler ADDR, incident files are read, validated and geocoded in parallel on Dask
    workers (which must see the files at the same paths) and committed here in the order
    given, so the result is that of loading them one after the other.

    Every row is loaded, counted as a duplicate, or quarantined with a reason
    (see `riskmap export quarantine`). A load is one transaction: if it fails, the store
    is left exactly as it was.

    Incidents are located by a point geometry, else lat/lon columns, else an address. A
    date split over year/month/day[/hour/minute] columns is assembled when there is no
    date column. Every sheet of a workbook is read (rows are traced as FILE[SHEET]).

    aliases: a UTF-8 CSV of place aliases (alias, mahalla_id[, district, region]), names or
    addresses tied to a mahalla by hand; every later incident load geocodes them so
    (see docs/rematch.md). --replace replaces every stored alias, also those made in the app.
    """
    from riskmap.etl.crs import parse_crs
    from riskmap.etl.readers import parse_mapping

    settings = settings_from(store_url)
    try:
        renames = parse_mapping(mapping)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--map") from exc
    try:
        fills = parse_mapping(defaults)
    except ValueError as exc:
        raise click.BadParameter(str(exc).replace("--map", "--default").replace(
            "SOURCE=FIELD", "FIELD=VALUE"), param_hint="--default") from exc
    try:
        source_crs = parse_crs(crs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--crs") from exc
    if (workers or scheduler) and layer != "incidents":
        raise click.BadParameter("only incident files are read on Dask workers",
                                 param_hint="--workers/--scheduler")
    show = sys.stderr.isatty() if progress is None else progress
    options = {"replace": replace, "crs": source_crs, "sheet": sheet, "defaults": fills}
    if len(files) == 1 and not (workers or scheduler):
        with open_from(settings) as store:
            report = _load_one(layer, files[0], store, settings, renames, progress=show,
                               **options)
        click.echo(report.summary())
        if report_path is not None:
            report.write(report_path)
        return
    reports, failed, code = [], [], EXIT_EXPECTED
    with open_from(settings) as store, dask_client(workers, scheduler) as client:
        pending = [None] * len(files)
        if client is not None:
            from riskmap.etl.scaleout import prepare_on

            pending = prepare_on(client, files, incident_context(store, settings),
                                 mapping=renames, chunk_rows=settings.etl.chunk_rows,
                                 crs=source_crs, sheet=sheet, defaults=fills)
        for file, prepared in zip(files, pending, strict=True):
            try:
                report = _load_one(layer, file, store, settings, renames, progress=show,
                                   prepared=prepared, **options)
            except Exception as exc:  # each file is its own load: report it, load the next
                error = as_command_error(exc)
                code = max(code, error.exit_code)
                failed.append(str(file))
                click.echo(f"Error: {file}: {error.format_message()}", err=True)
                continue
            click.echo(report.summary())
            reports.append(report.to_dict())
    if report_path is not None:
        write_text_atomic(report_path, json.dumps(reports, indent=2, ensure_ascii=False) + "\n")
    if failed:
        click.echo(f"ingest: {len(failed)} of {len(files)} file(s) failed: {', '.join(failed)}",
                   err=True)
        sys.exit(code if code in (EXIT_EXPECTED, EXIT_UNEXPECTED) else EXIT_UNEXPECTED)


def _load_one(layer: str, file: Path, store, settings, renames, *, progress: bool,
              prepared=None, **options):
    """One file's load, audited and recorded as an ingest run."""
    with audited(store, settings, "ingest", layer=layer, detail={"file": str(file)}) as note:
        report = run_ingest(layer, file, store, settings, renames, progress=progress,
                            prepared=prepared, **options)
        note.update(rows=report.loaded + report.updated, quarantined=report.quarantined,
                    input_rows=report.input_rows)
    return report


def run_ingest(layer: str, file: Path, store, settings, mapping, *, replace: bool = False,
               progress: bool = False, crs=None, sheet: str | None = None,
               defaults: dict[str, str] | None = None, client: str = "cli", prepared=None):
    """Dispatch to the layer's ingest job (shared by `ingest`, `watch` and `demo`).

    Every run, loaded, failed or refused, is recorded in the ``ingest_runs`` layer as
    ``settings.user`` from ``client`` (see :func:`riskmap.etl.runs.recorded_run`).
    """
    from riskmap.etl.runs import recorded_run
    from riskmap.memory import give_back

    try:
        with recorded_run(store, user=settings.user, client=client, layer=layer,
                          path=file) as run:
            run.report = _dispatch(layer, file, store, settings, mapping, replace=replace,
                                   progress=progress, crs=crs, sheet=sheet, defaults=defaults,
                                   prepared=prepared)
    finally:  # the next file, or the demo's build, starts without this load's freed memory
        give_back()
    return run.report


def incident_context(store, settings):
    """The geocoding context of an incident load, and the notes its making left."""
    from riskmap.etl.ingest import load_aliases, load_context

    etl = settings.etl
    notes: list[str] = []
    ctx = load_context(store, aliases=load_aliases(etl.category_aliases,
                                                   etl.category_aliases_file),
                       tz=etl.timezone, snap_m=etl.snap_distance_m, res=etl.h3_resolution,
                       fuzzy_threshold=etl.fuzzy_threshold,
                       admin_threshold=etl.admin_threshold, admin_margin=etl.admin_margin,
                       notes=notes)
    return ctx, notes


def _dispatch(layer: str, file: Path, store, settings, mapping, *, replace: bool,
              progress: bool, crs, sheet: str | None, defaults: dict[str, str] | None,
              prepared=None):
    """Run the layer's ingest job (``prepared``: a :class:`etl.scaleout.Prepared` of the file)."""
    from riskmap.errors import InputFileError
    from riskmap.etl import features
    from riskmap.etl.ingest import commit_incidents, ingest_incidents

    if not Path(file).is_file():
        raise InputFileError(file, "file not found")
    options = {"crs": crs, "sheet": sheet, "defaults": defaults}
    if layer == "aliases":
        from riskmap.etl.ingest import ingest_place_aliases

        given = [name for name, value in (("--map", mapping), ("--crs", crs),
                                          ("--sheet", sheet), ("--default", defaults)) if value]
        if given:
            raise click.BadParameter(f"{', '.join(given)} cannot be used with aliases: the "
                                     "file is a CSV with the columns alias, mahalla_id "
                                     "[, district, region]")
        return ingest_place_aliases(file, store, user=settings.user, replace=replace)
    if layer == "incidents":
        if replace:
            raise click.BadParameter("incidents are upserted by id; --replace is not allowed")
        if prepared is not None:  # read and geocoded on a Dask worker (etl.scaleout)
            ctx, notes = prepared.context
            report = commit_incidents(prepared.result(), store, ctx)
        else:
            ctx, notes = incident_context(store, settings)
            report = ingest_incidents(file, store, ctx, mapping=mapping,
                                      chunk_rows=settings.etl.chunk_rows, progress=progress,
                                      **options)
        report.warnings += notes
        return report
    job = {"mahallas": features.ingest_mahallas, "cameras": features.ingest_cameras,
           "infrastructure": features.ingest_infrastructure}[layer]
    return job(file, store, mapping=mapping, replace=replace, **options)


COMMANDS = [ingest]
