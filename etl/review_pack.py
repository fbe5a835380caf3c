"""Review packs at the edge: read a region's layers through DataAccess, compute the figures
(:func:`geo.review.review_figures`), keep a rendered pack in the store and open it again.

Every read and write goes through :class:`~riskmap.layers.access.DataAccess` (scoped to the
user, audited as ``"review"``): a pack is an audited report. A user scoped to other regions
gets a :class:`PermissionError` (audited as denied) and no figures. Rendering (HTML, PDF) is
:mod:`riskmap.app.review_pack`'s.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd

from riskmap.auth.roles import SUPPRESS_BELOW
from riskmap.errors import ConfigError
from riskmap.geo.focus import FOCUS_FIELDS
from riskmap.geo.review import Period, ReviewFigures, parse_period, review_figures

__all__ = ["PACK_LAYER", "ReviewPack", "check_period", "keep_pack", "list_packs", "load_review",
           "open_pack"]

#: the layer packs are kept in (see :data:`riskmap.layers.derived.REVIEW_SPECS`)
PACK_LAYER = "review_packs"
_MAHALLA_COLUMNS = ["mahalla_id", "name", "district", "region", "population", "geometry"]
_INCIDENT_COLUMNS = ["mahalla_id", "occurred_at", "category", *FOCUS_FIELDS]


@dataclass
class ReviewPack:
    """The figures of one pack and what the reader needs around them.

    Attributes
    ----------
    figures
        :class:`geo.review.ReviewFigures`.
    coverage
        ``area_covered_pct`` per mahalla id (``None``: coverage not built).
    generated_at, generated_by, scope
        When, for whom, with which scope it was made.
    timezone
        The calendar of the period.
    demo
        The store holds the synthetic demo world.
    """

    figures: ReviewFigures
    coverage: pd.Series | None
    generated_at: pd.Timestamp
    generated_by: str
    scope: str
    timezone: str
    demo: bool = False
    #: the region's roadmaps (:func:`riskmap.etl.roadmaps.list_roadmaps`, one per mahalla: the
    #: open one, else the latest); ``None``: none recorded
    roadmaps: pd.DataFrame | None = None

    def to_json(self) -> dict[str, Any]:
        """The pack's JSON: the figures plus who made it, when, and the coverage summary."""
        out = self.figures.to_json()
        cov = None
        if self.coverage is not None:
            vals = self.coverage.reindex(self.figures.mahallas["mahalla_id"].to_numpy())
            cov = {"mahallas_with_figures": int(vals.notna().sum()),
                   "mean_area_covered_pct": (None if vals.notna().sum() == 0
                                             else round(float(vals.mean()), 3))}
        out.update({"coverage": cov, "timezone": self.timezone,
                    "generated_at": self.generated_at.isoformat(),
                    "generated_by": self.generated_by, "scope": self.scope,
                    "synthetic": self.demo,
                    "focus_groups": None,  # no focus-group fields in the data yet
                    "roadmaps": _roadmaps_json(self.roadmaps)})
        return out


def check_period(text: str) -> Period:
    """:func:`geo.review.parse_period`, failing with a :class:`~riskmap.errors.ConfigError`."""
    try:
        return parse_period(text)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_region(access: Any, region: str) -> None:
    if access.regions is not None and region not in access.regions:
        access.audit("review", layer="incidents", outcome="denied",
                     detail={"region": region[:200]})
        raise PermissionError(f"user {access.user!r} is scoped to {access.scope}: no review "
                              f"pack of {region!r}")


def load_review(access: Any, region: str, period: str | Period, *, tz: str = "UTC",
                demo: bool = False, now: pd.Timestamp | None = None) -> ReviewPack:
    """Read the region's mahallas, incidents and coverage (audited) and compute its pack.

    Parameters
    ----------
    access
        The user's :class:`~riskmap.layers.access.DataAccess`.
    region
        The region (within the user's scope).
    period
        ``2025-06``, ``2025-Q2``, ``2025-H1`` or a :class:`geo.review.Period`.
    tz
        The calendar of the period (the settings' ``etl.timezone``).

    Raises
    ------
    riskmap.errors.ConfigError
        A bad period, or a region without mahallas (the message lists the regions there are).
    PermissionError
        The region is outside the user's scope (audited as denied).
    """
    p = check_period(period) if isinstance(period, str) else period
    _check_region(access, region)
    mahallas = access.read("mahallas", columns=_MAHALLA_COLUMNS,
                           filters=[("region", "=", region)], purpose="review")
    if len(mahallas) == 0:
        known = access.read("mahallas", columns=["region"], purpose="review")["region"]
        names = sorted(set(known.dropna().astype(str)))
        raise ConfigError(f"no mahallas in region {region!r}; regions: "
                          f"{', '.join(names[:20]) or 'none (ingest mahallas first)'}")
    # from the same period last year (the earliest figure) to the period's end, with a day
    # of margin each side: the period follows the local calendar
    lo = (p.last_year().start - pd.Timedelta(days=1)).tz_convert("UTC")
    hi = (p.end + pd.Timedelta(days=1)).tz_convert("UTC")
    incidents = access.read("incidents", columns=_INCIDENT_COLUMNS,
                            filters=[("region", "=", region), ("occurred_at", ">=", lo),
                                     ("occurred_at", "<", hi)], purpose="review")
    incidents = pd.DataFrame(incidents.drop(columns="geometry", errors="ignore"))
    coverage = None
    if access.store.has("coverage_mahalla"):
        cov = access.read("coverage_mahalla", columns=["mahalla_id", "area_covered_pct"],
                          filters=[("region", "=", region)], purpose="review")
        coverage = pd.Series(pd.to_numeric(cov["area_covered_pct"], errors="coerce").to_numpy(),
                             index=cov["mahalla_id"].astype(object).to_numpy())
    # a pack is printed and passed on: small focus-group counts are hidden for every role
    figures = review_figures(incidents, mahallas, p, region=region, tz=tz,
                             focus_hide_below=SUPPRESS_BELOW)
    at = (now or pd.Timestamp.now(tz="UTC")).floor("s")
    return ReviewPack(figures=figures, coverage=coverage, generated_at=at,
                      generated_by=access.user, scope=access.scope, timezone=tz, demo=demo,
                      roadmaps=_region_roadmaps(access, region, at, tz))


def _region_roadmaps(access: Any, region: str, now: pd.Timestamp,
                     tz: str) -> pd.DataFrame | None:
    """One roadmap per mahalla of the region (the open one, else the latest), or ``None``."""
    from riskmap.etl.roadmaps import list_roadmaps

    table = list_roadmaps(access, region, now=now, tz=tz)
    if not len(table):
        return None
    table = table.assign(_open=table["status"] == "open").sort_values(
        ["_open", "opened_at"], kind="stable")
    return table.drop_duplicates("mahalla_id", keep="last").drop(columns="_open").set_index(
        "mahalla_id")


def _roadmaps_json(roadmaps: pd.DataFrame | None) -> dict[str, Any] | None:
    if roadmaps is None:
        return None
    return {str(mid): {"roadmap_id": str(r["roadmap_id"]), "status": str(r["status"]),
                       "official": None if pd.isna(r["official_name"]) else
                       str(r["official_name"]),
                       "measures": int(r["total"]), "open": int(r["open"]),
                       "overdue": int(r["overdue"]), "done": int(r["done"]),
                       "progress": None if pd.isna(r["progress"]) else round(
                           float(r["progress"]), 3)}
            for mid, r in roadmaps.iterrows()}


def keep_pack(access: Any, pack: ReviewPack, html: str, *, job_id: str | None = None) -> str:
    """Keep a rendered pack in the store with its region and period; return its id.

    Every pack made is kept (a pack regenerated after new data does not overwrite the one
    read last month): :func:`open_pack` opens the newest, or the one named.
    """
    p = pack.figures.period
    pack_id = f"review-{p.label}-{uuid.uuid4().hex[:12]}"
    row = pd.DataFrame({
        "pack_id": [pack_id], "region": [pack.figures.region], "period": [p.label],
        "generated_at": [pack.generated_at], "owner": [access.user], "job_id": [job_id],
        "html": [html],
        "json": [json.dumps(pack.to_json(), ensure_ascii=False, allow_nan=False)]})
    with access.write("review_pack", layer=PACK_LAYER,
                      detail={"pack_id": pack_id, "region": pack.figures.region,
                              "period": p.label, "job_id": job_id}) as txn:
        txn.upsert(PACK_LAYER, row)
    return pack_id


def list_packs(access: Any, region: str | None = None) -> pd.DataFrame:
    """Packs kept in the store within the user's scope (newest first), without their bodies."""
    if not access.store.has(PACK_LAYER):
        return pd.DataFrame(columns=["pack_id", "region", "period", "generated_at", "owner"])
    filters = [("region", "=", region)] if region else None
    got = access.read(PACK_LAYER, columns=["pack_id", "region", "period", "generated_at",
                                           "owner"], filters=filters, purpose="review")
    return pd.DataFrame(got).sort_values("generated_at", ascending=False).reset_index(drop=True)


def open_pack(access: Any, *, region: str | None = None, period: str | None = None,
              pack_id: str | None = None) -> dict[str, Any]:
    """A kept pack as it was made: ``pack_id, region, period, generated_at, html, json``.

    Give ``pack_id``, or ``region`` and ``period`` (the newest pack of them is opened).

    Raises
    ------
    riskmap.errors.ConfigError
        No such pack within the user's scope.
    PermissionError
        ``region`` is outside the user's scope.
    """
    if pack_id is None:
        if not region or not period:
            raise ConfigError("name the pack: its id, or its region and period")
        _check_region(access, region)
        filters = [("region", "=", region), ("period", "=", check_period(period).label)]
    else:
        filters = [("pack_id", "=", str(pack_id))]
    got = (access.read(PACK_LAYER, filters=filters, purpose="review")
           if access.store.has(PACK_LAYER) else pd.DataFrame())
    if len(got) == 0:
        what = pack_id if pack_id is not None else f"{region} {period}"
        raise ConfigError(f"no review pack kept for {what} within {access.scope}; make one "
                          "with `riskmap review --keep` or the review_pack job")
    row = pd.DataFrame(got).sort_values("generated_at", ascending=False).iloc[0]
    return {"pack_id": str(row["pack_id"]), "region": str(row["region"]),
            "period": str(row["period"]), "generated_at": row["generated_at"],
            "html": str(row["html"]), "json": json.loads(str(row["json"]))}
