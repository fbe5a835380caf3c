"""Ingest runs: one ``ingest_runs`` record for every load of a file, however it ended.

:func:`recorded_run` wraps a load (``riskmap ingest``, ``riskmap watch``, the container loader,
which runs the watcher, and the demo all go through ``riskmap.cli.ingest.run_ingest``). When
the block ends it writes one record through the data-access layer (audited as
``ingest_run``): who, the client, the file's name, size and SHA-256 (never the folder it was
in), start and end, the outcome, the counts, the quarantined rows by reason, and the report
that ``riskmap ingest`` prints and writes with ``--report``, bounded in size.

The record is written in its own transaction after the load's: a load that fails has
changed nothing (its transaction rolled back) and is still recorded, as ``failed``, or as
``refused`` when the file or the options were refused before anything was loaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from riskmap.errors import ConfigError, InputFileError
from riskmap.layers.access import DataAccess
from riskmap.layers.builtin import INGEST_RUNS
from riskmap.layers.store import Store

__all__ = ["ACTION", "MAX_ERROR_CHARS", "MAX_REPORT_CHARS", "MAX_SUMMARY_CHARS", "OUTCOMES",
           "FileFacts", "Run", "bounded_report", "file_facts", "reason_text", "recorded_run",
           "refused"]

#: how a run can end
OUTCOMES = ("ok", "failed", "refused")
#: the audit action of writing a run record
ACTION = "ingest_run"
#: longest stored JSON report, summary and error message (characters)
MAX_REPORT_CHARS = 20_000
MAX_SUMMARY_CHARS = 4_000
MAX_ERROR_CHARS = 2_000


@dataclass(frozen=True)
class FileFacts:
    """What identifies a loaded file without saying where it was."""

    name: str
    size: int | None = None
    sha256: str | None = None


def file_facts(path: str | os.PathLike[str]) -> FileFacts:
    """The name, size and SHA-256 of ``path`` (size and hash ``None`` when it cannot be read).

    >>> file_facts("/nowhere/at/all.csv")
    FileFacts(name='all.csv', size=None, sha256=None)
    """
    path = Path(path)
    try:
        digest = hashlib.sha256()
        size = 0
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
    except OSError:
        return FileFacts(path.name)
    return FileFacts(path.name, size, digest.hexdigest())


@dataclass
class Run:
    """The run being recorded: the block sets ``report`` (an ``IngestReport``) when it loaded."""

    run_id: str
    layer: str
    file: FileFacts
    started_at: pd.Timestamp
    report: Any = None
    notes: list[str] = field(default_factory=list)


def refused(exc: BaseException) -> bool:
    """Whether ``exc`` refused the file or the options (else the load failed).

    >>> refused(InputFileError("a.csv", "file not found")), refused(RuntimeError("disk"))
    (True, False)
    """
    import click

    return isinstance(exc, InputFileError | ConfigError | FileNotFoundError | IsADirectoryError
                      | click.UsageError) or getattr(exc, "refused_input", False) is True


def reason_text(by_reason: dict[str, int] | None) -> str | None:
    """Quarantined rows by reason as one short line, most first.

    >>> reason_text({"no_location": 1, "invalid_date": 3})
    'invalid_date 3, no_location 1'
    >>> reason_text({}) is None
    True
    """
    if not by_reason:
        return None
    items = sorted(by_reason.items(), key=lambda kv: (-int(kv[1]), str(kv[0])))
    return _cut(", ".join(f"{k} {int(v)}" for k, v in items), 500)


def bounded_report(report: dict[str, Any], limit: int = MAX_REPORT_CHARS) -> str:
    """``report`` as JSON of at most ``limit`` characters.

    Warnings are dropped from the end first (``warnings_omitted`` counts them); a report still
    too long keeps only its counts (``truncated: true``).

    >>> text = bounded_report({"file": "a.csv", "loaded": 1, "warnings": ["x" * 50] * 10}, 300)
    >>> got = json.loads(text); len(text) <= 300, len(got["warnings"]), got["warnings_omitted"]
    (True, 4, 6)
    """
    text = json.dumps(report, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return text
    warnings = list(report.get("warnings") or [])
    short = dict(report)
    while warnings:
        warnings.pop()
        short["warnings"] = warnings
        short["warnings_omitted"] = len(report["warnings"]) - len(warnings)
        text = json.dumps(short, ensure_ascii=False, default=str)
        if len(text) <= limit:
            return text
    counts = {k: v for k, v in report.items() if isinstance(v, int | float | str)
              and len(str(v)) <= 200}
    counts["truncated"] = True
    return json.dumps(counts, ensure_ascii=False, default=str)[:limit]


@contextlib.contextmanager
def recorded_run(store: Store, *, user: str, client: str, layer: str,
                 path: str | os.PathLike[str]) -> Iterator[Run]:
    """Record the load done in the block as one ``ingest_runs`` row.

    The block assigns ``run.report`` (an :class:`~riskmap.etl.ingest.IngestReport`) once the
    load committed. The record says ``ok`` then; if the block raises, it says ``refused``
    (:func:`refused`) or ``failed`` with the error, and the error goes on unchanged (a record
    that cannot be written then does not hide it). After a load that committed, a record that
    cannot be written is a warning of the load's report, not a failure of the load.
    """
    run = Run(f"run-{uuid.uuid4().hex}", layer, file_facts(path),
              pd.Timestamp.now(tz="UTC").floor("us"))
    access = DataAccess(store, user=user, client=client)
    try:
        yield run
    except BaseException as exc:
        outcome = "refused" if refused(exc) else "failed"
        message = _scrub(f"{exc}".strip() or type(exc).__name__, path)
        if isinstance(exc, KeyboardInterrupt):
            message = "interrupted"
        with contextlib.suppress(Exception):
            _write(access, _row(run, access, outcome, error=_cut(message, MAX_ERROR_CHARS),
                               path=path))
        raise
    try:
        _write(access, _row(run, access, "ok", path=path))
    except Exception as exc:
        warnings = getattr(run.report, "warnings", None)
        if isinstance(warnings, list):
            warnings.append(f"the run could not be recorded in ingest_runs: {exc}"[:300])


def _write(access: DataAccess, row: dict[str, Any]) -> None:
    frame = pd.DataFrame([row], columns=INGEST_RUNS.column_names)
    with access.write(ACTION, layer=INGEST_RUNS.name,
                      detail={"run_id": row["run_id"], "file": row["file_name"],
                              "layer": row["layer"], "outcome": row["outcome"]}) as txn:
        txn.upsert(INGEST_RUNS.name, frame)


def _row(run: Run, access: DataAccess, outcome: str, *, path: str | os.PathLike[str],
         error: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": run.run_id, "started_at": run.started_at,
        "ended_at": pd.Timestamp.now(tz="UTC").floor("us"),
        "user": access.user, "client": access.client, "layer": run.layer, "file_name": run.file.name,
        "file_size": run.file.size, "file_sha256": run.file.sha256, "outcome": outcome,
        "error": error,
    }
    report = run.report
    if report is not None and outcome == "ok":
        data = report.to_dict()
        data["file"] = run.file.name
        data["warnings"] = [_scrub(str(w), path) for w in data.get("warnings") or []]
        row.update({k: int(data.get(k) or 0) for k in
                    ("input_rows", "loaded", "updated", "duplicates", "quarantined")})
        row["by_reason"] = reason_text(data.get("by_reason"))
        shown = _scrub(report.summary(), path)
        row["summary"] = _cut(shown, MAX_SUMMARY_CHARS)
        row["report"] = bounded_report(data)
    return row


def _scrub(text: str, path: str | os.PathLike[str]) -> str:
    """``text`` with the file's path replaced by its name (no folder of the machine)."""
    path = Path(path)
    for form in sorted({str(path.resolve()), os.path.abspath(path), str(path)}, key=len,
                       reverse=True):
        if form and form != path.name:
            text = text.replace(form, path.name)
    return text


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… (+{len(text) - limit})"
