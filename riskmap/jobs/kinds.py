"""The built-in job kinds: ``plan_cameras`` (the camera planner), and what the app needs around it.

``plan_cameras`` takes the planner page's controls (and the CLI's options) as JSON::

    {"area": "Termiz tumani", "budget": 20, "types": ["overview", "traffic"],
     "candidates": ["school", "grid"], "risk": "kde"}

and returns :func:`riskmap.etl.planning.plan_result_to_json` of the plan, kept in the job's row:
the app draws it with :func:`plan_from_job` and accepts it with :func:`accept_plan_job`, both by
job id (the browser never sends a plan back). The plan is sized to the child's memory before it
is built: coarsened (said in its summary and in the job's message) or refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from riskmap.errors import ConfigError
from riskmap.etl.planning import PlanRefused
from riskmap.jobs.api import result, status
from riskmap.jobs.errors import JobNotFound, JobRefused
from riskmap.jobs.registry import register_kind

__all__ = ["PLAN_CAMERAS", "PLAN_MEMORY_MB", "PLAN_TIMEOUT_S", "REVIEW_PACK", "accept_plan_job",
           "plan_cameras_job", "plan_from_job", "plan_id_of_job", "plan_job_params",
           "review_job_params", "review_pack_job", "submit_plan", "submit_review",
           "valid_job_id"]

#: the kind name of a camera plan
PLAN_CAMERAS = "plan_cameras"
#: memory (address space) of a plan's child process, MiB
PLAN_MEMORY_MB = 2048
#: wall-clock limit of a plan, seconds
PLAN_TIMEOUT_S = 600
_PLAN_ADVICE = "narrow the area or lower the budget"
_MAX_CAMERAS = 200
_JOB_ID = re.compile(r"job-[0-9a-f]{16}")
#: namespace of the plan ids made from job ids
_PLAN_NAMESPACE = uuid.UUID("5d1c1a52-3f0e-4b8e-9a57-6f3a2f1b7c10")


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def plan_job_params(area: str | Sequence[str] | None = None, budget: Any = None,
                    types: Sequence[str] | str | None = None,
                    candidates: Sequence[str] | str | None = None, risk: str | None = None,
                    **options: Any) -> dict[str, Any]:
    """The parameters of a ``plan_cameras`` job, checked (the app calls it before it submits,
    to answer at once; the job checks them again).

    Parameters
    ----------
    area, budget, types, candidates, risk
        The planner page's controls: budget 1-200 cameras, at least one type and one kind of
        candidate site, risk ``counts`` (default) or ``kde``.
    options
        The CLI's other options: ``costs`` (type -> price), ``money_budget``, ``months``,
        ``precise_only``, ``exact``, ``bearings``, ``time_limit`` (seconds for the MILP;
        default 30).

    Raises
    ------
    riskmap.errors.ConfigError
        A bad budget, no types, no candidate kinds, an unknown option.

    Examples
    --------
    >>> plan_job_params("Termiz shahri", "20", ["overview"], "school,grid", None)
    ... # doctest: +NORMALIZE_WHITESPACE
    {'area': 'Termiz shahri', 'budget': 20, 'types': ['overview'],
     'candidates': ['school', 'grid'], 'risk': 'counts', 'time_limit': 30.0}
    """
    known = {"costs", "money_budget", "months", "precise_only", "exact", "bearings",
             "time_limit"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"unknown plan options {unknown}; expected some of "
                          f"{', '.join(sorted(known))}")
    money = options.get("money_budget")
    out: dict[str, Any] = {"area": area if area is None or isinstance(area, str)
                           else [str(a) for a in area]}
    if budget is None and money is not None:
        out["budget"] = None
    else:
        try:
            k = int(budget)
        except (TypeError, ValueError):
            raise ConfigError(f"enter the number of new cameras (1-{_MAX_CAMERAS})") from None
        if not 1 <= k <= _MAX_CAMERAS:
            raise ConfigError(f"budget {k}: expected 1-{_MAX_CAMERAS} cameras")
        out["budget"] = k
    if (isinstance(area, str) and len(area) > 200) or (
            area is not None and not isinstance(area, str) and len(out["area"]) > 2_000):
        raise ConfigError("the area is too long: choose a region, district or mahalla")
    type_list = _as_list(types)
    if type_list is not None and not type_list:
        raise ConfigError("choose at least one camera type")
    if type_list is not None:
        from riskmap.layers.spec import CAMERA_TYPES

        bad = sorted({t for t in type_list if t not in CAMERA_TYPES})
        if bad:
            raise ConfigError(f"unknown camera types {[b[:40] for b in bad[:5]]}; expected "
                              f"some of {', '.join(CAMERA_TYPES)}")
        type_list = list(dict.fromkeys(type_list))
    out["types"] = type_list
    kinds = _as_list(candidates)
    if kinds is not None and not kinds:
        raise ConfigError("choose at least one kind of candidate site")
    if kinds is not None and (len(kinds) > 20 or any(len(k) > 40 for k in kinds)):
        raise ConfigError("too many or too long candidate kinds")
    out["candidates"] = kinds
    out["risk"] = risk or "counts"
    if out["risk"] not in ("counts", "kde"):
        raise ConfigError(f"risk={risk!r}: expected 'counts' or 'kde'")
    for name in ("costs", "money_budget", "months", "precise_only", "exact", "bearings"):
        if options.get(name) is not None:
            out[name] = options[name]
    out["time_limit"] = float(options.get("time_limit") or 30.0)
    return {k: v for k, v in out.items() if v is not None or k == "area"}


def plan_cameras_job(params: Mapping[str, Any], progress: Any) -> dict[str, Any]:
    """Job function of ``plan_cameras``: read the layers as the owner, plan within the
    child's memory, return the plan as JSON (with ``job_message`` when it was coarsened)."""
    from riskmap.etl.planning import (
        DEFAULT_CANDIDATES,
        load_plan_frames,
        plan_cameras,
        plan_result_to_json,
    )

    p = plan_job_params(**params)
    progress(0.0, "reading the layers")
    frames = load_plan_frames(progress.access, area=p["area"], risk=p["risk"], purpose="plan")
    progress(0.05, "sizing the plan")

    def step(fraction: float, message: str) -> None:
        progress(0.05 + 0.9 * fraction, message)

    res = plan_cameras(
        frames, area=p["area"], budget=p.get("budget"), types=p.get("types"),
        candidates=p.get("candidates") or DEFAULT_CANDIDATES, costs=p.get("costs"),
        money_budget=p.get("money_budget"), exact=p.get("exact"), risk=p["risk"],
        months=int(p.get("months", 12)), precise_only=bool(p.get("precise_only", True)),
        bearings=int(p.get("bearings", 8)), time_limit=float(p["time_limit"]),
        memory_mb=progress.memory_available_mb(), progress=step)
    del frames
    progress(0.97, "saving the plan")
    out = plan_result_to_json(res)
    notes = res.summary.get("coarsened") or []
    if notes:
        out["job_message"] = "coarsened to fit its memory: " + "; ".join(notes)
    return out


def valid_job_id(job_id: Any) -> bool:
    """Whether ``job_id`` has the form of a job id (``job-`` and 16 hex digits).

    >>> valid_job_id("job-0123456789abcdef"), valid_job_id("../../etc/passwd")
    (True, False)
    """
    return isinstance(job_id, str) and _JOB_ID.fullmatch(job_id) is not None


def submit_plan(access: Any, params: Mapping[str, Any], *, region: str | None = None) -> str:
    """Queue a ``plan_cameras`` job for ``access``'s user, with their scope; return its id.

    The parameters are checked first (:func:`plan_job_params`); the same plan asked again
    while one runs returns the running job (a second click starts nothing).

    Raises
    ------
    riskmap.errors.ConfigError
        Bad parameters.
    riskmap.jobs.JobRefused
        The user has too many jobs queued or running.
    """
    from riskmap.jobs.api import submit

    return submit(access.store, PLAN_CAMERAS, plan_job_params(**params), owner=access.user,
                  region=region, regions=access.regions, districts=access.districts,
                  client=access.client)


def _plan_job(store: Any, job_id: Any, user: str | None) -> dict[str, Any]:
    if not valid_job_id(job_id):
        raise JobNotFound("no such job")
    st = status(store, job_id, user=user)
    if st.kind != PLAN_CAMERAS:
        raise JobNotFound(f"job {job_id} is not a camera plan")
    if not st.ok:
        raise PlanRefused(f"the plan of job {job_id} is {st.status.replace('_', ' ')}"
                          + (f" ({st.message})" if st.message else "") + ": nothing to use")
    data = result(store, job_id, user=user)
    if not isinstance(data, dict) or not isinstance(data.get("plan"), dict):
        raise PlanRefused(f"job {job_id} holds no plan")
    return data


def plan_from_job(store: Any, job_id: str, *, user: str | None = None,
                  mahallas: Any = None) -> Any:
    """The :class:`~riskmap.etl.planning.PlanResult` a finished ``plan_cameras`` job holds.

    ``user``: only that user's job is found. ``mahallas``: the layer the area is drawn from.

    Raises
    ------
    riskmap.jobs.JobNotFound
        No such plan job (of that user).
    riskmap.etl.planning.PlanRefused
        The job has not finished with a plan.
    """
    from riskmap.etl.planning import plan_result_from_json

    res = plan_result_from_json(_plan_job(store, job_id, user), mahallas)
    plan_id = plan_id_of_job(job_id)
    res.summary["plan_id"] = plan_id
    res.plan["plan_id"] = plan_id
    res.plan["camera_id"] = [f"{plan_id}-{int(r):03d}" for r in res.plan["rank"]]
    return res


def plan_id_of_job(job_id: str) -> str:
    """The id of the plan of job ``job_id`` (a UUID made from the job id, never taken from the
    plan itself): what the page shows and downloads, and what accepting it writes.

    >>> plan_id_of_job("job-0123456789abcdef") == plan_id_of_job("job-0123456789abcdef")
    True
    """
    return f"plan-{uuid.uuid5(_PLAN_NAMESPACE, job_id).hex[:12]}"


def accept_plan_job(access: Any, job_id: Any, *, ranks: Sequence[int] | None = None,
                    note: str | None = None) -> tuple[int, str]:
    """Accept (some cameras of) the plan of a finished ``plan_cameras`` job of ``access.user``.

    Only the job id (and the ranks chosen) come from the caller. The plan is the one the job
    stored; every camera row is derived again on the server
    (:func:`riskmap.etl.planning.accepted_cameras`: type checked, range, field of view and
    height within the type's bounds, mahalla found from the point within the user's scope,
    district and region from the mahalla) and written through ``access.write`` (scope
    enforced, audited as ``accept_plan``). The plan id is a new UUID made here from the job id:
    accepting the same job again replaces its cameras rather than adding copies.

    Returns
    -------
    tuple
        The number of cameras written and the plan id.

    Raises
    ------
    riskmap.jobs.JobNotFound
        No such plan job of this user (also for a malformed id).
    riskmap.etl.planning.PlanRefused
        The job has not finished with a plan, the selection is bad, or a camera lies outside
        the user's scope. Nothing is written; the refusal is audited.
    PermissionError
        The scoped write refused a row (audited by ``access.write``).
    """
    from riskmap.etl.planning import accept_plan, accepted_cameras, plan_frame_from_geojson

    shown = str(job_id)[:80] if isinstance(job_id, str) else type(job_id).__name__
    try:
        data = _plan_job(access.store, job_id, access.user)
        try:
            plan = plan_frame_from_geojson(data["plan"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise PlanRefused(f"the plan of job {job_id} cannot be read") from None
        if len(plan) == 0:
            raise PlanRefused(f"the plan of job {job_id} proposes no cameras")
        area = data.get("area")
        area_ids = [str(a) for a in area] if isinstance(area, list) and area else None
        plan_id = plan_id_of_job(job_id)
        rows = accepted_cameras(access, plan, plan_id=plan_id, area_ids=area_ids,
                                ranks=None if ranks is None else list(ranks))
    except (JobNotFound, PlanRefused) as exc:
        access.audit("accept_plan", layer="planned_cameras", outcome="denied",
                     detail={"job_id": shown, "ranks": _short(ranks), "why": str(exc)})
        raise
    n = accept_plan(access, rows, note=note, detail={"job_id": job_id})
    return n, plan_id


def _short(ranks: Any) -> Any:
    if ranks is None:
        return None
    return str(ranks)[:200]


register_kind(PLAN_CAMERAS, plan_cameras_job, memory_mb=PLAN_MEMORY_MB,
              timeout_s=PLAN_TIMEOUT_S, advice=_PLAN_ADVICE)


# ---- review packs ---------------------------------------------------------------------------

#: the kind name of a review pack (``riskmap review --background``; the app's commanders)
REVIEW_PACK = "review_pack"


def review_job_params(region: Any = None, period: Any = None, timezone: Any = None,
                      demo: Any = False, lang: Any = None) -> dict[str, Any]:
    """The parameters of a ``review_pack`` job, checked: a region, a period (``2025-06``,
    ``2025-Q2``, ``2025-H1``), the calendar's time zone and whether the store is the demo.

    The pack's language is ``lang`` (a language of :data:`riskmap.i18n.LANGUAGES`; none or
    unknown: the default, Uzbek Latin).

    >>> review_job_params("Jizzax viloyati", "2025-Q2")
    {'region': 'Jizzax viloyati', 'period': '2025-Q2', 'timezone': 'Asia/Tashkent', 'demo': False, 'lang': 'uz_Latn'}
    """
    from riskmap.etl.review_pack import check_period
    from riskmap.i18n import DEFAULT, normalize

    if not isinstance(region, str) or not region.strip() or len(region) > 200:
        raise ConfigError("choose the region of the review pack")
    p = check_period(period if isinstance(period, str) else str(period))
    return {"region": region.strip(), "period": p.label,
            "timezone": str(timezone or "Asia/Tashkent")[:64], "demo": bool(demo),
            "lang": normalize(lang) or DEFAULT}


def review_pack_job(params: Mapping[str, Any], progress: Any) -> dict[str, Any]:
    """Job function of ``review_pack``: read as the owner (scoped, audited), render the pack,
    keep it in the store with its period; return its id and headline figures."""
    from riskmap.app.review_pack import review_html
    from riskmap.etl.review_pack import keep_pack, load_review

    p = review_job_params(**params)
    progress(0.0, "reading the layers")
    try:
        pack = load_review(progress.access, p["region"], p["period"], tz=p["timezone"],
                           demo=p["demo"])
    except PermissionError as exc:  # outside the owner's scope (audited as denied)
        raise JobRefused(str(exc)) from None
    progress(0.6, "drawing the pack")
    from riskmap.i18n import use_language

    with use_language(p["lang"]):
        page = review_html(pack)
    progress(0.9, "keeping the pack")
    pack_id = keep_pack(progress.access, pack, page, job_id=progress.job_id)
    figures = pack.to_json()
    return {"pack_id": pack_id, **{k: figures[k] for k in (
        "region", "period", "incidents", "incidents_previous_period",
        "incidents_same_period_last_year", "mahallas", "crime_free_mahallas", "red")}}


def submit_review(access: Any, params: Mapping[str, Any]) -> str:
    """Queue a ``review_pack`` job for ``access``'s user with their scope; return its id.

    A region outside the user's scope is refused here (audited as denied) and, should a
    job be queued anyway, by the job's own scoped reads.

    Raises
    ------
    riskmap.errors.ConfigError
        Bad parameters.
    PermissionError
        The region is outside the user's scope.
    riskmap.jobs.JobRefused
        The user has too many jobs queued or running.
    """
    from riskmap.jobs.api import submit

    p = review_job_params(**params)
    if access.regions is not None and p["region"] not in access.regions:
        access.audit("job_submit", layer="jobs", outcome="denied",
                     detail={"kind": REVIEW_PACK, "params": p})
        raise PermissionError(f"user {access.user!r} is scoped to {access.scope}: no review "
                              f"pack of {p['region']!r}")
    return submit(access.store, REVIEW_PACK, p, owner=access.user, region=p["region"],
                  regions=access.regions, districts=access.districts, client=access.client)


register_kind(REVIEW_PACK, review_pack_job, memory_mb=1024, timeout_s=300,
              advice="choose a shorter period or a smaller region")
