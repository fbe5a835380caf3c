"""``riskmap build``: compute the derived layers."""

from __future__ import annotations

import sys

import click

from riskmap.cli.common import (
    EXIT_EXPECTED,
    EXIT_UNEXPECTED,
    as_command_error,
    audited,
    dask_client,
    echo_json,
    fail_cleanly,
    open_from,
    scaleout_options,
    settings_from,
    store_option,
)
from riskmap.etl.build import step_names

__all__ = ["COMMANDS", "build", "report_build"]


@click.command()
@store_option
@click.option("--only", multiple=True, type=click.Choice(step_names()),
              help="Run only these steps (repeatable): hotspots (counts, Gi* hot spots, "
                   "trends, mahalla status, KDE), coverage (camera coverage and gaps), zones "
                   "(tourism-zone readiness, isochrones), roadmaps (close the roadmaps of mahallas "
                   "that left red).")
@click.option("--full", is_flag=True,
              help="Recompute every derived layer from all incidents (by default only what "
                   "the loads since the last build touched).")
@click.option("--progress/--no-progress", default=None, help="Show progress bars.")
@scaleout_options
@fail_cleanly
def build(store_url: str | None, only: tuple[str, ...], full: bool,
          progress: bool | None, workers: int | None, scheduler: str | None) -> None:
    """Build the derived layers: hotspots, trends, status, KDE, camera coverage, tourism zones.

    Each step runs on its own: a step that fails is reported with its reason, the others still
    run, and the exit code is non-zero (2 when the cause is the data or settings, 70 when it is
    unexpected; the traceback is then in the log file named).

    With --workers N or --scheduler ADDR, the hotspot step counts incidents and bins the KDE
    month by month on Dask workers (the results are the same; see docs/national-scale.md).
    """
    from riskmap.etl.build import build_all

    settings = settings_from(store_url)
    with open_from(settings) as store, audited(store, settings, "build",
                                               detail={"only": list(only), "full": full}) as note, \
            dask_client(workers, scheduler) as client:
        result = build_all(store, settings, only=only or None, full=full, client=client,
                           progress=sys.stderr.isatty() if progress is None else progress)
        note["failed_steps"] = sorted(result.failures)
    echo_json(result.summary)
    report_build(result)


def report_build(result) -> None:
    """Print one line per failed step and exit with the matching code (nothing when all ran)."""
    if result.ok:
        return
    code = EXIT_EXPECTED
    for step, exc in result.failures.items():
        error = as_command_error(exc)
        code = max(code, error.exit_code)
        click.echo(f"Error: build step {step!r} failed: {error.format_message()}", err=True)
    ran = [s for s in result.summary if s not in result.failures]
    click.echo(f"build: {len(result.failures)} step(s) failed"
               f"{'; these ran: ' + ', '.join(ran) if ran else ''}", err=True)
    sys.exit(code if code in (EXIT_EXPECTED, EXIT_UNEXPECTED) else EXIT_UNEXPECTED)


COMMANDS = [build]
