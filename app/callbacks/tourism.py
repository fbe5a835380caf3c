"""Callbacks of the tourism page: compute the chosen zone, draw it, and download its report."""

from __future__ import annotations

import json
import threading
import weakref
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, html, no_update

from riskmap.app import ids
from riskmap.app.data import AppModel, resolve
from riskmap.app.figures import empty_figure
from riskmap.app.figures_tourism import (
    FAIL_COLOUR,
    PASS_COLOUR,
    checklist_detail,
    checklist_label,
    checklist_value,
    season_chart,
    zone_map,
)
from riskmap.app.map_tiles import request_style
from riskmap.errors import RiskmapError
from riskmap.etl.zone_report import ZoneReport, zone_report
from riskmap.i18n import format_decimal, format_number, format_percent
from riskmap.i18n import gettext as _

__all__ = ["PAGE", "checklist_items", "get_report", "register", "share_table", "view_params",
           "zone_view"]

_IDS = ids.TOURISM
#: the page name in the audit log
PAGE = "tourism"

_CACHE: weakref.WeakKeyDictionary[AppModel, dict[tuple[int, str], ZoneReport]] = \
    weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def get_report(model: AppModel, zone: str) -> ZoneReport:
    """The report of ``zone`` (feature id or name), computed once per data version of the app.

    ``model.load()`` notices new data in the store; the model's ``generation`` then changes and
    the zone is computed again.
    """
    model = resolve(model)  # one cache per scope
    model.load()
    key = (model.generation, zone)
    with _LOCK:
        cached = _CACHE.setdefault(model, {})
        if key not in cached:
            for old in [k for k in cached if k[0] != model.generation]:
                del cached[old]
            cached[key] = zone_report(model.access, zone, purpose="app", tz=model.timezone)
        return cached[key]


def checklist_items(report: ZoneReport) -> list[html.Li]:
    """One red or green list item per checklist row, with its figure and detail."""
    out = []
    for row in report.checklist:
        ok = bool(row["ok"])
        colour = PASS_COLOUR if ok else FAIL_COLOUR
        out.append(html.Li([
            html.B(("✔ " if ok else "✘ ") + checklist_label(row["item"])),
            html.Br(),
            html.Span(checklist_value(row), className="check-value"),
            html.Small(" · " + checklist_detail(row), style={"color": "#5f625a"}),
        ], className="check-ok" if ok else "check-fail", **{"data-item": row["item"]},
            style={"borderLeft": f"4px solid {colour}", "padding": "0.2rem 0.5rem",
                   "background": "#eef8f0" if ok else "#fbeeed", "color": colour}))
    return out


def share_table(report: ZoneReport) -> html.Table:
    """Share of the zone beyond 10/20/30 minutes, per responder."""
    data = report.to_json()["isochrone_share_by_source"]
    minutes = sorted({m for v in data.values() for m in v}, key=float)
    labels = {"police": _("Police"), "emergency": "112"}
    head = html.Tr([html.Th("")] + [html.Th(_("{n} min").format(n=m)) for m in minutes])
    rows = [html.Tr([html.Td(labels.get(k, k))] + [
        html.Td("–" if v.get(m, {}).get("beyond") is None else format_percent(v[m]["beyond"]))
        for m in minutes]) for k, v in sorted(data.items(), key=lambda kv: kv[0] != "police")]
    return html.Table([head, *rows], style={"fontSize": "0.85rem", "width": "100%"})


def zone_view(model: AppModel, zone: str | None, source: str | None
              ) -> tuple[go.Figure, go.Figure, str, Any, Any, bool]:
    """Map, season chart, summary, checklist, shares and the download state for a zone."""
    if not zone:
        msg = _("No tourist zone: add kind=tourist_zone polygons to the infrastructure layer")
        return empty_figure(msg), empty_figure(""), msg, [], None, True
    try:
        report = get_report(model, zone)
    except RiskmapError as exc:
        return empty_figure(str(exc)), empty_figure(""), str(exc), [], None, True
    ctx = report.context
    fig = zone_map(report.geometry, report.isochrones, ctx.get("coverage"),
                   ctx.get("infrastructure"), ctx.get("incidents"),
                   source_kind=source or "police", uirevision=zone,
                   beyond=ctx.get("beyond_police"), beyond_minutes=ctx.get("police_minutes"),
                   land=ctx.get("land"), style=request_style())
    data = report.to_json()
    bars = season_chart(data["incidents_by_category"].get("buffer", {}),
                        title=_("Incidents within {km} km, by season").format(
                            km=_km(data["buffer_m"] / 1000)))
    season = data["season"]
    ready = data["readiness"]
    summary = _("{zone}: {area} km², season {start} to {end}; cameras cover {coverage} of the "
                "zone; {passed} of {total} readiness items pass.").format(
        zone=report.name, area=format_decimal(float(data["area_km2"]), 1),
        start=season["start"] or "–", end=season["end"] or "–",
        coverage=format_percent(float(data["camera_coverage_pct"]) / 100, 1),
        passed=format_number(ready["passed"]), total=format_number(ready["total"]))
    return fig, bars, summary, checklist_items(report), share_table(report), False


def _km(value: float) -> str:
    """A distance in km as ``:g`` writes it, in the locale's symbols (``1,5``)."""
    return format_decimal(value, 0 if float(value).is_integer() else 1)


def view_params(zone: str, source: str | None) -> dict[str, str]:
    """The audited parameters of a zone view (``source`` only when not the default police).

    Examples
    --------
    >>> view_params("Z1", "emergency")
    {'zone': 'Z1', 'source': 'emergency'}
    >>> view_params("Z1", None)
    {'zone': 'Z1'}
    """
    return {"zone": zone, **({"source": source} if source and source != "police" else {})}


def register(app: dash.Dash, model: AppModel) -> None:
    """Attach the tourism callbacks to ``app``."""

    @app.callback(
        Output(_IDS.MAP, "figure"),
        Output(_IDS.SEASON, "figure"),
        Output(_IDS.SUMMARY, "children"),
        Output(_IDS.CHECKLIST, "children"),
        Output(_IDS.SHARES, "children"),
        Output(_IDS.DOWNLOAD_HTML, "disabled"),
        Output(_IDS.DOWNLOAD_JSON, "disabled"),
        Input(_IDS.ZONE, "value"),
        Input(_IDS.SOURCE, "value"),
    )
    def _show(zone: str | None, source: str | None) -> tuple[Any, ...]:
        fig, bars, summary, items, shares, disabled = zone_view(model, zone, source)
        if zone:
            model.audit_view(PAGE, view_params(zone, source))
        return fig, bars, summary, items, shares, disabled, disabled

    @app.callback(
        Output(_IDS.DOWNLOAD, "data"),
        Input(_IDS.DOWNLOAD_HTML, "n_clicks"),
        Input(_IDS.DOWNLOAD_JSON, "n_clicks"),
        State(_IDS.ZONE, "value"),
        prevent_initial_call=True,
    )
    def _download(_h: int, _j: int, zone: str | None) -> Any:
        if not zone:
            return no_update
        report = get_report(model, zone)
        slug = "".join(c if c.isalnum() else "-" for c in report.name.lower()).strip("-")
        model.access.audit("download_zone_report", layer="infrastructure",
                           detail={"zone": report.name, "feature_id": report.feature_id})
        if dash.ctx.triggered_id == _IDS.DOWNLOAD_JSON:
            return {"content": json.dumps(report.to_json(), indent=2, ensure_ascii=False),
                    "filename": f"zone-{slug}.json", "type": "application/json"}
        return {"content": report.to_html(), "filename": f"zone-{slug}.html",
                "type": "text/html"}
