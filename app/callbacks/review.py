"""Callbacks of the commanders' "Review pack" tab: make a pack as a background job, follow it,
cancel it, download it (HTML, PDF), list and re-open the packs kept earlier.

*Make* never renders in the web server: it queues a ``review_pack`` job
(:func:`riskmap.jobs.kinds.submit_review`) for the logged-in user with their scope, and a
worker makes and keeps the pack. The region is decided here, on the server: the page's region
when it lies in the user's scope, else the scope's only region; a crafted request naming
another region queues nothing (and the job's own scoped reads would refuse it too). The
browser only ever holds job and pack ids: every pack downloaded is read again on the server
through the user's :class:`~riskmap.layers.access.DataAccess` (a pack outside the scope is not
found), and every download is audited (``download_review_pack``).

This module defines no ``register`` of its own (the app would take it for a page of its own):
:func:`riskmap.app.callbacks.commanders.register` calls :func:`register_review`, so the
callbacks are guarded as the commanders' page's.
"""

from __future__ import annotations

import base64
import re
import tempfile
from pathlib import Path
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, ctx, no_update

from riskmap.app import ids
from riskmap.app.auth import current_access, current_principal
from riskmap.app.commanders_data import RequestData
from riskmap.app.data import AppModel
from riskmap.app.job_status import job_line
from riskmap.app.pages.review_panel import periods_with_data
from riskmap.errors import RiskmapError
from riskmap.i18n import current_language
from riskmap.jobs import JobNotFound, JobRefused, JobStatus, cancel, result, status
from riskmap.jobs.kinds import REVIEW_PACK, submit_review, valid_job_id

__all__ = ["MAX_LISTED", "PAGE", "job_text", "pack_region", "register_review", "valid_pack_id"]

_IDS = ids.REVIEW
_CMD = ids.COMMANDERS
#: the page name in the audit log
PAGE = "commanders"
#: the most kept packs listed
MAX_LISTED = 200
_PACK_ID = re.compile(r"review-\d{4}-(\d{2}|Q[1-4]|H[12])-[0-9a-f]{12}")


def valid_pack_id(pack_id: Any) -> bool:
    """Whether ``pack_id`` has the form of a kept pack's id.

    >>> valid_pack_id("review-2025-Q2-0123456789ab"), valid_pack_id("review-../../x")
    (True, False)
    """
    return isinstance(pack_id, str) and _PACK_ID.fullmatch(pack_id) is not None


def pack_region(regions: list[str], selected: Any) -> str | None:
    """The region of the pack: ``selected`` when it is one of the user's ``regions``; with
    nothing selected, their only region; else ``None`` (a region outside the scope, or none
    chosen among several).

    >>> pack_region(["A", "B"], "B"), pack_region(["A"], None), pack_region(["A"], "C")
    ('B', 'A', None)
    """
    if selected is not None:
        return selected if isinstance(selected, str) and selected in regions else None
    return regions[0] if len(regions) == 1 else None


def job_text(job: dict[str, Any]) -> str:
    """One line on a pack's background job (:func:`riskmap.app.job_status.job_line`).

    >>> job_text({"status": "running", "progress": 0.6, "message": "drawing the pack"})
    'Making the pack: 60% (drawing the pack)'
    >>> job_text({"status": "queued"}), job_text({"status": "refused", "message": "no"})
    ('Waiting for a worker ...', 'The pack was refused: no')
    """
    return job_line(job, "pack")


def _job_of(data: Any) -> str | None:
    job_id = data.get("job_id") if isinstance(data, dict) else None
    return job_id if valid_job_id(job_id) else None


def _pack_of(data: Any) -> str | None:
    pack_id = data.get("pack_id") if isinstance(data, dict) else None
    return pack_id if valid_pack_id(pack_id) else None


def _user_job(job_id: str) -> JobStatus:
    """The logged-in user's review job (JobNotFound for anyone else's, or another kind)."""
    access = current_access()
    st = status(access.store, job_id, user=access.user)
    if st.kind != REVIEW_PACK:
        raise JobNotFound(f"job {job_id} is not a review pack")
    return st


def _open(pack_id: str) -> dict[str, Any] | None:
    """The kept pack, read through the user's scoped access (None: not theirs to see)."""
    from riskmap.etl.review_pack import open_pack

    try:
        return open_pack(current_access(), pack_id=pack_id)
    except (RiskmapError, PermissionError):
        return None


def _pack_text(kept: dict[str, Any]) -> str:
    js = kept.get("json") or {}
    made = pd.Timestamp(kept["generated_at"]).tz_convert("UTC")
    figures = ""
    if isinstance(js.get("incidents"), int):
        figures = (f": {js['incidents']:,} incidents ({js.get('incidents_previous_period', 0):,}"
                   f" in {js.get('previous_period', 'the previous period')}), "
                   f"{js.get('red_count', 0):,} red")
    return (f"{kept['region']} {kept['period']}{figures}. Made {made:%Y-%m-%d %H:%M} UTC "
            f"({kept['pack_id']}).")


def _pack_rows(region: str | None) -> list[dict[str, Any]]:
    from riskmap.etl.review_pack import list_packs

    packs = list_packs(current_access(), region).head(MAX_LISTED)
    made = pd.to_datetime(packs["generated_at"], utc=True)
    return [{"id": str(p), "region": str(r), "period": str(q),
             "generated": "" if pd.isna(t) else f"{t:%Y-%m-%d %H:%M}", "owner": str(o)}
            for p, r, q, t, o in zip(packs["pack_id"], packs["region"], packs["period"], made,
                                     packs["owner"], strict=True)]


def _pdf(page: str) -> bytes:
    from riskmap.app.review_pack import print_pdf

    with tempfile.TemporaryDirectory(prefix="riskmap-review-") as folder:
        out = print_pdf(page, Path(folder) / "pack.pdf")
        return out.read_bytes()


#: progress area when nothing runs: bar, text, hidden, Cancel disabled, Make disabled,
#: polling disabled
_IDLE = ("0", "", True, True, False, True)
#: an offered pack's outputs when there is none: store, text, HTML and PDF disabled
_NO_PACK = (None, "", True, True)


def register_review(app: dash.Dash, model: AppModel) -> None:
    """Attach the review tab's callbacks to ``app`` (the commanders' guarded app)."""
    data = RequestData(model)

    @app.callback(Output(_IDS.REGION, "children"), Output(_IDS.PERIOD, "options"),
                  Output(_IDS.PERIOD, "value"), Output(_IDS.MAKE, "disabled"),
                  Input(_CMD.REGION, "value"), Input(_IDS.KIND, "value"),
                  State(_IDS.PERIOD, "value"))
    def _periods(selected: Any, kind: Any, current: Any) -> tuple[Any, ...]:
        region = pack_region(model.regions(), selected)
        periods = periods_with_data(data.months(), kind if isinstance(kind, str) else "month")
        options = [{"label": p, "value": p} for p in periods]
        value = current if current in periods else (periods[0] if periods else None)
        if region is None:
            return ("Choose a region on the left for its review pack.", options, value, True)
        if not periods:
            return (f"Region: {region}. No incidents yet: nothing to review.", [], None, True)
        return f"Region: {region}", options, value, False

    @app.callback(
        Output(_IDS.JOB, "data"), Output(_IDS.PROGRESS_BAR, "value"),
        Output(_IDS.PROGRESS_TEXT, "children"), Output(_IDS.PROGRESS, "hidden"),
        Output(_IDS.CANCEL, "disabled"), Output(_IDS.MAKE, "disabled", allow_duplicate=True),
        Output(_IDS.POLL, "disabled"), Output(_IDS.MESSAGE, "children"),
        Input(_IDS.MAKE, "n_clicks"), State(_CMD.REGION, "value"), State(_IDS.PERIOD, "value"),
        prevent_initial_call=True)
    def _make(_: int, selected: Any, period: Any) -> tuple[Any, ...]:
        if not current_principal().can("report"):
            return (None, *_IDLE, "Your role may not make review packs.")
        region = pack_region(model.regions(), selected)
        if region is None:
            return (None, *_IDLE, "Choose a region (within your scope) first.")
        model.audit_view(PAGE, {"tab": "review", "region": region,
                                "period": str(period)[:20]})
        try:
            job_id = submit_review(current_access(), {
                "region": region, "period": period if isinstance(period, str) else "",
                "timezone": model.timezone, "demo": bool(model.demo),
                "lang": current_language()})  # the pack in the page's language
            st = _user_job(job_id)
        except (RiskmapError, JobRefused, JobNotFound, PermissionError) as exc:
            return (None, *_IDLE, f"Cannot make the pack: {exc}")
        return ({"job_id": job_id}, str(st.progress or 0.0), job_text(st.to_dict()), False,
                False, True, False, "")

    @app.callback(
        Output(_IDS.PROGRESS_BAR, "value", allow_duplicate=True),
        Output(_IDS.PROGRESS_TEXT, "children", allow_duplicate=True),
        Output(_IDS.PROGRESS, "hidden", allow_duplicate=True),
        Output(_IDS.CANCEL, "disabled", allow_duplicate=True),
        Output(_IDS.MAKE, "disabled", allow_duplicate=True),
        Output(_IDS.POLL, "disabled", allow_duplicate=True),
        Output(_IDS.JOB, "data", allow_duplicate=True),
        Output(_IDS.MESSAGE, "children", allow_duplicate=True),
        Output(_IDS.PACK, "data"), Output(_IDS.PACK_TEXT, "children"),
        Output(_IDS.OPEN_HTML, "disabled"), Output(_IDS.OPEN_PDF, "disabled"),
        Output(_IDS.PACKS, "data", allow_duplicate=True),
        Input(_IDS.POLL, "n_intervals"), State(_IDS.JOB, "data"), State(_CMD.REGION, "value"),
        prevent_initial_call=True)
    def _poll(_: int, job: Any, selected: Any) -> tuple[Any, ...]:
        keep = (no_update,) * 5
        job_id = _job_of(job)
        if job_id is None:
            return (*_IDLE, None, no_update, *keep)
        try:
            st = _user_job(job_id)
        except JobNotFound:
            return (*_IDLE, None, "That pack's job is gone: make it again.", *keep)
        text = job_text(st.to_dict())
        if not st.finished:
            return (str(st.progress or 0.0), text, False, st.status == "cancel_requested",
                    True, False, no_update, no_update, *keep)
        if not st.ok:
            return (*_IDLE, None, text, *keep)
        access = current_access()
        got = result(access.store, job_id, user=access.user)
        pack_id = _pack_of(got)
        kept = _open(pack_id) if pack_id else None
        if kept is None:
            return (*_IDLE, None, "The pack was made but cannot be opened here.", *keep)
        region = pack_region(model.regions(), selected)
        return (*_IDLE, None, "", {"pack_id": kept["pack_id"]}, _pack_text(kept), False, False,
                _pack_rows(region))

    @app.callback(
        Output(_IDS.PROGRESS_TEXT, "children", allow_duplicate=True),
        Output(_IDS.CANCEL, "disabled", allow_duplicate=True),
        Input(_IDS.CANCEL, "n_clicks"), State(_IDS.JOB, "data"), prevent_initial_call=True)
    def _cancel(_: int, job: Any) -> tuple[str, bool]:
        job_id = _job_of(job)
        if job_id is None:
            return "No pack is being made.", True
        access = current_access()
        try:
            _user_job(job_id)
            st = cancel(access.store, job_id, by=access.user, client=access.client)
        except (JobNotFound, PermissionError):
            return "No pack of yours is being made.", True
        return job_text(st.to_dict()), True

    @app.callback(Output(_IDS.PACKS, "data"), Input(_IDS.PACKS_REFRESH, "n_clicks"),
                  Input(_CMD.TABS, "value"), Input(_CMD.REGION, "value"))
    def _packs(_n: Any, tab: Any, selected: Any) -> Any:
        if tab != "review":  # read only when the tab is open
            return no_update
        return _pack_rows(pack_region(model.regions(), selected))

    @app.callback(
        Output(_IDS.PACK, "data", allow_duplicate=True),
        Output(_IDS.PACK_TEXT, "children", allow_duplicate=True),
        Output(_IDS.OPEN_HTML, "disabled", allow_duplicate=True),
        Output(_IDS.OPEN_PDF, "disabled", allow_duplicate=True),
        Input(_IDS.PACKS, "selected_row_ids"), prevent_initial_call=True)
    def _select(row_ids: Any) -> tuple[Any, ...]:
        pack_id = _pack_of({"pack_id": row_ids[0]}) if isinstance(row_ids, list) \
            and len(row_ids) == 1 else None
        kept = _open(pack_id) if pack_id else None
        if kept is None:
            return _NO_PACK
        return {"pack_id": kept["pack_id"]}, _pack_text(kept), False, False

    @app.callback(Output(_IDS.DOWNLOAD, "data"),
                  Output(_IDS.MESSAGE, "children", allow_duplicate=True),
                  Input(_IDS.OPEN_HTML, "n_clicks"), Input(_IDS.OPEN_PDF, "n_clicks"),
                  State(_IDS.PACK, "data"), prevent_initial_call=True)
    def _download(_h: int, _p: int, offered: Any) -> tuple[Any, Any]:
        pack_id = _pack_of(offered)
        kept = _open(pack_id) if pack_id else None
        if kept is None:  # no pack, a forged id, or another scope's: nothing
            return no_update, "There is no pack of your scope to download."
        fmt = "pdf" if ctx.triggered_id == _IDS.OPEN_PDF else "html"
        name = f"{kept['pack_id']}.{fmt}"
        if fmt == "pdf":
            try:
                body = _pdf(kept["html"])
            except RiskmapError as exc:
                return no_update, f"Cannot print the PDF: {exc}"
            out = {"content": base64.b64encode(body).decode("ascii"), "filename": name,
                   "type": "application/pdf", "base64": True}
        else:
            out = {"content": kept["html"], "filename": name, "type": "text/html",
                   "base64": False}
        current_access().audit("download_review_pack", layer="review_packs",
                               detail={"pack_id": kept["pack_id"], "region": kept["region"],
                                       "period": kept["period"], "format": fmt})
        return out, ""
