"""One line on a background job (a camera plan, a review pack), in the reader's language: the
pages that run jobs show their state with it.

The job's own ``message`` (the step it is on, the reason it failed) comes from the worker and
is shown as it is.
"""

from __future__ import annotations

from typing import Any

from riskmap.i18n import N_, format_percent
from riskmap.i18n import gettext as _

__all__ = ["KINDS", "job_line"]

#: per kind of job: its texts while running and at its end (``{message}``: the job's message)
KINDS: dict[str, dict[str, str]] = {
    "plan": {
        "running": N_("Planning: {share}"),
        "cancelled": N_("The plan was cancelled."),
        "refused": N_("The plan was refused."),
        "refused+": N_("The plan was refused: {message}"),
        "failed": N_("The plan failed."),
        "failed+": N_("The plan failed: {message}"),
    },
    "pack": {
        "running": N_("Making the pack: {share}"),
        "cancelled": N_("The pack was cancelled."),
        "refused": N_("The pack was refused."),
        "refused+": N_("The pack was refused: {message}"),
        "failed": N_("The pack failed."),
        "failed+": N_("The pack failed: {message}"),
    },
}


def job_line(job: dict[str, Any], kind: str) -> str:
    """The line of ``job`` (:meth:`riskmap.jobs.JobStatus.to_dict`) of ``kind`` (:data:`KINDS`).

    Examples
    --------
    >>> job_line({"status": "running", "progress": 0.42, "message": "coverage"}, "plan")
    'Planning: 42% (coverage)'
    >>> job_line({"status": "failed", "message": "needed more than 2 GiB of memory"}, "plan")
    'The plan failed: needed more than 2 GiB of memory'
    >>> job_line({"status": "queued"}, "pack"), job_line({"status": "refused"}, "pack")
    ('Waiting for a worker ...', 'The pack was refused.')
    """
    texts = KINDS[kind]
    state = job.get("status")
    message = str(job.get("message") or "")
    if state == "queued":
        return _("Waiting for a worker ...")
    if state == "running":
        share = format_percent(min(max(float(job.get("progress") or 0.0), 0.0), 1.0))
        running = texts["running"]  # (a literal inside _() would be taken for a text)
        line = _(running).format(share=share)
        return f"{line} ({message})" if message else line
    if state == "cancel_requested":
        return _("Cancelling ...")
    if state in ("cancelled", "refused", "failed"):
        if message and f"{state}+" in texts:
            return _(texts[f"{state}+"]).format(message=message)
        return _(texts[state])
    return _("Done: {message}").format(message=message) if message else _("Done.")
