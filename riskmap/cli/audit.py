"""``riskmap audit``: check the audit log's hash chain, and export it."""

from __future__ import annotations

from pathlib import Path

import click

from riskmap.cli.common import (
    DATE,
    CommandError,
    fail_cleanly,
    open_from,
    settings_from,
    store_option,
)

__all__ = ["COMMANDS", "audit"]


@click.group()
def audit() -> None:
    """The audit log: who read, wrote or exported what, from where, and how it ended."""


@audit.command("verify")
@store_option
@fail_cleanly
def audit_verify(store_url: str | None) -> None:
    """Recompute the hash chain: exit 0 when no record was edited, removed or inserted.

    The log is read a batch of records at a time, so a log of any length fits in memory.
    """
    from riskmap.layers.auditlog import verify_log

    settings = settings_from(store_url)
    with open_from(settings) as store:
        total = store.count("audit")
        check = verify_log(lambda filters, columns: store.read(
            "audit", filters=filters, columns=columns), total)
    note = f" ({check.unchained} older records predate the chain)" if check.unchained else ""
    if not check.ok:
        raise CommandError(f"the audit log was altered at record {check.broken_at}: "
                           f"{check.reason}; {check.chained} chained records checked{note}")
    click.echo(f"audit log intact: {check.chained} chained records checked{note}")


#: records ``riskmap audit export`` reads at a time
EXPORT_BATCH = 50_000


@audit.command("export")
@store_option
@click.option("-o", "--output", "out", type=click.Path(path_type=Path), required=True,
              help="Output CSV.")
@click.option("--from", "date_from", type=DATE, default=None, help="First day (YYYY-MM-DD).")
@click.option("--user", "who", default=None, help="Only this user's records.")
@fail_cleanly
def audit_export(store_url: str | None, out: Path, date_from: str | None,
                 who: str | None) -> None:
    """Write the audit log (or part of it) as CSV, safe to open in a spreadsheet.

    The records are written in the order of the chain, a batch at a time, so a log of any
    length is exported in the memory of a batch.
    """
    import pandas as pd

    from riskmap.cli.export import write_frame
    from riskmap.csvsafe import to_csv
    from riskmap.layers.auditlog import chain_end

    settings = settings_from(store_url)
    filters: list[tuple[str, str, object]] = []
    if date_from:
        filters.append(("at", ">=", pd.Timestamp(date_from, tz="UTC")))
    if who:
        filters.append(("user", "=", who))
    with open_from(settings) as store:
        top = chain_end(lambda f, columns: store.read("audit", columns=columns, filters=f),
                        store.count("audit"))
        if top is None:  # records from before the chain (or none): read whole
            frame = store.read("audit", filters=filters)
            write_frame(frame.sort_values("seq", na_position="first"), out, "csv")
            click.echo(f"wrote {len(frame)} audit records to {out}")
            return
        written = 0
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                for lo in range(1, top + 1, EXPORT_BATCH):
                    frame = store.read("audit", filters=[
                        *filters, ("seq", ">=", lo), ("seq", "<", lo + EXPORT_BATCH)])
                    to_csv(frame.sort_values("seq"), fh, header=lo == 1)
                    written += len(frame)
            tmp.replace(out)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk or an interrupt leaves no half-written file
            raise
    click.echo(f"wrote {written} audit records to {out}")


COMMANDS = [audit]
