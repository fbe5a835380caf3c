"""Callbacks of the commanders' map tools: find a mahalla by name, names on the map, exports.

Attached by ``app/callbacks/commanders.py`` (:func:`attach`), so the page's guard applies.

- The search box lists the mahallas of the request's scope only (:class:`riskmap.app.search.
  MahallaSearch` built from the scope's model, never from the store as a whole); choosing one
  sets the page's SELECTED store (its panel opens) and zooms the map to it (a clientside
  ``Plotly.relayout``). A crafted value outside the scope selects nothing.
- The labels the server put in the figure are picked again in the browser after each pan or
  zoom (:data:`riskmap.app.map_labels.LABELS_JS`).
- The red list downloads as CSV (formula cells neutralised by :mod:`riskmap.csvsafe`) and, with
  a status map of the area, as a PDF printed by headless Chromium (the review pack's printer);
  both are audited as ``download_red_list``.
"""

from __future__ import annotations

import base64
import html
import tempfile
import threading
from pathlib import Path
from typing import Any

import dash
import numpy as np
import pandas as pd
from dash import Input, Output, State, ctx

from riskmap import csvsafe
from riskmap.app import ids
from riskmap.app.auth import current_access
from riskmap.app.brief import BRIEF_CSS, html_table
from riskmap.app.commanders_data import CommandersData, CommandersView, RequestData
from riskmap.app.data import AppModel, resolve
from riskmap.app.focus import focus_exact
from riskmap.app.map_labels import LABELS_JS
from riskmap.app.search import MAX_QUERY, MahallaSearch
from riskmap.errors import RiskmapError
from riskmap.i18n import format_number
from riskmap.i18n import gettext as _
from riskmap.i18n.why import render_why

__all__ = ["attach", "red_list_csv", "red_list_frame", "red_list_html", "scope_search",
           "search_options"]

_IDS = ids.MAPTOOLS
_CMD = ids.COMMANDERS
#: the audit action of the red list's downloads
ACTION = "download_red_list"
_RED_COLUMNS = ["mahalla_id", "name", "district", "status", "count", "rate_per_1000", "gi_z",
                "focus", "why"]
_STATUS_FILL = {"red": "#e31a1c", "yellow": "#fecc5c", "green": "#74c476"}

_ZOOM_JS = """
function(box) {
    const gd = document.querySelector("#MAP_ID .js-plotly-plot");
    if (!gd || !window.Plotly || !Array.isArray(box) || box.length !== 4) {
        return window.dash_clientside.no_update;
    }
    const maplibre = function() {
        const full = gd._fullLayout, sub = full && full.map && full.map._subplot;
        return sub && sub.map;
    };
    const apply = function() {
        const m = maplibre();
        if (m) {  // MapLibre: go there as a user's move does (plotly keeps and reports it)
            m.fitBounds([[box[0], box[2]], [box[1], box[3]]], {padding: 24, animate: false},
                        {originalEvent: {type: "search"}});
            return;
        }
        window.Plotly.relayout(gd, {"xaxis.range[0]": box[0], "xaxis.range[1]": box[1],
                                    "yaxis.range[0]": box[2], "yaxis.range[1]": box[3]});
    };
    // the redraws the choice sets off (the panel's mahalla outlined, the new viewport) come
    // back with the area's own ranges: zoom again after each of them for a few seconds
    const until = Date.now() + 5000;
    const check = function() {
        if (Date.now() > until) {
            if (gd.removeListener) { gd.removeListener("plotly_afterplot", check); }
            return;
        }
        const m = maplibre();
        if (m) {
            // not where the search put it: a redraw (or the area's first fit, when the map's
            // first figure came after the choice) moved the map
            const c = m.getCenter(), w = Math.abs(box[1] - box[0]);
            const cam = m.cameraForBounds([[box[0], box[2]], [box[1], box[3]]], {padding: 24});
            if (cam && (Math.abs(cam.zoom - m.getZoom()) > 0.25
                        || Math.abs(c.lng - cam.center.lng) > w / 2
                        || Math.abs(c.lat - cam.center.lat) > Math.abs(box[3] - box[2]) / 2)) {
                setTimeout(apply, 0);
            }
            return;
        }
        const r = gd._fullLayout && gd._fullLayout.xaxis && gd._fullLayout.xaxis.range;
        if (r && (Math.abs(r[0] - box[0]) > 1e-9 || Math.abs(r[1] - box[1]) > 1e-9)) {
            setTimeout(apply, 0);
        }
    };
    if (gd.on) { gd.on("plotly_afterplot", check); }
    apply();
    return box;
}
""".replace("MAP_ID", _CMD.MAP)

_LOCK = threading.Lock()
_SEARCHES: dict[tuple[int, Any], MahallaSearch] = {}


# ---------------------------------------------------------------------------- pure steps
def scope_search(model: AppModel) -> MahallaSearch:
    """The :class:`MahallaSearch` of the model's scope (cached per model and data generation).

    Only the mahallas of the scope: a region seen suppressed (``suppressed_elsewhere``) is
    shown on the map but not searched. Cyrillic names come from the mahallas layer, read
    through the scope's :class:`~riskmap.layers.access.DataAccess`.
    """
    model = resolve(model)
    key = (id(model), model.generation)
    with _LOCK:
        got = _SEARCHES.get(key)
    if got is not None:
        return got
    m = model.mahallas
    m = m[~model.suppressed_mahallas()].reset_index(drop=True)
    try:
        cyr = model.access.read("mahallas", columns=["mahalla_id", "name_cyrillic"],
                                purpose="app")
        names = dict(zip(cyr["mahalla_id"].astype(str), cyr["name_cyrillic"].astype(object),
                         strict=True))
        m = m.assign(name_cyrillic=[names.get(str(i)) for i in m["mahalla_id"]])
    except (KeyError, ValueError, RiskmapError):
        pass  # no Cyrillic column: the Latin names (and their transliteration) only
    got = MahallaSearch(m)
    with _LOCK:
        if len(_SEARCHES) > 32:
            _SEARCHES.clear()
        _SEARCHES[key] = got
    return got


def search_options(search: MahallaSearch, text: Any, *, limit: int = 10) -> list[dict[str, str]]:
    """Dropdown options for the typed ``text``: label "name (Cyrillic) — district", value the id.

    Each option's ``search`` holds the typed text too, so the dropdown's own filter (it
    compares what is typed with the options in the browser) keeps a Latin name found for a
    Cyrillic query. Labels are plain text (the dropdown shows them as text, never HTML).
    """
    if not isinstance(text, str):
        return []
    found = search.find(text[:MAX_QUERY], limit=limit)
    out = []
    for i, name, cyr, district in zip(found["mahalla_id"], found["name"],
                                      found["name_cyrillic"], found["district"], strict=True):
        name = str(name)
        extra = f" ({cyr})" if isinstance(cyr, str) and cyr and cyr != name else ""
        label = f"{name}{extra} — {district}" if isinstance(district, str) and district \
            else f"{name}{extra}"
        out.append({"label": label, "value": str(i), "search": f"{text[:MAX_QUERY]} {label}"})
    return out


def red_list_frame(data: CommandersData, view: CommandersView, *,
                   exact: bool = True) -> pd.DataFrame:
    """The red list of the view as a table to export (the "why" in the reader's language)."""
    red = data.red_list(view, exact=exact)
    out = red.reindex(columns=[c for c in _RED_COLUMNS if c in red or c != "focus"])
    if "why" in out:
        out["why"] = list(render_why(out["why"])) if len(out) else []
    return out.reset_index(drop=True)


def red_list_csv(frame: pd.DataFrame) -> str:
    """The red list as CSV text, formula-like cells neutralised.

    Examples
    --------
    >>> print(red_list_csv(pd.DataFrame({"name": ["=cmd|' /C calc'!A0", "Navro'z"]})), end="")
    name
    '=cmd|' /C calc'!A0
    Navro'z
    """
    return csvsafe.to_csv(frame) or ""


def red_list_html(data: CommandersData, view: CommandersView, frame: pd.DataFrame) -> str:
    """A printable page: the area's status map (inline SVG) and the red list (all escaped)."""
    from riskmap.app.review_pack import mahalla_map_svg

    model = data.model
    pos = np.asarray(model.mahalla_positions(view.region, view.district), dtype=np.int64)
    supp = model.suppressed_mahallas()
    if len(supp):
        pos = pos[~supp[pos]]
    m = model.mahallas.iloc[pos]
    status = data.status_at(view)
    st = (status["status"].reindex(m["mahalla_id"].astype(object)).to_numpy(dtype=object)
          if len(status) else np.full(len(m), None, dtype=object))
    fills = np.array([_STATUS_FILL.get(s, "#eeeeee") for s in st], dtype=object)
    titles = (m["name"].astype(str) + " (" + m["district"].astype(str) + ")").to_numpy()
    area = " · ".join(v for v in (view.region, view.district) if v) or _("all of your area")
    e = html.escape
    legend = "".join(f'<span style="background:{c}"></span>{e(t)}' for c, t in (
        (_STATUS_FILL["red"], _("red")), (_STATUS_FILL["yellow"], _("yellow")),
        (_STATUS_FILL["green"], _("green"))))
    shown = frame.drop(columns=["mahalla_id"], errors="ignore")
    demo = (f'<p class="badge yellow">{e(_("Synthetic demo data: not real incidents."))}</p>'
            if model.demo else "")
    return "".join([
        '<!doctype html><html><head><meta charset="utf-8">',
        f"<title>{e(_('Red list'))} · {e(area)}</title>",
        f"<style>{BRIEF_CSS}.legend span{{display:inline-block;width:.9rem;height:.9rem;"
        "margin:0 .25rem 0 .75rem;border:1px solid #999}@page{size:A4;margin:14mm}</style>",
        "</head><body>", demo,
        f"<h1>{e(_('Red list'))}: {e(area)}</h1>",
        f"<p>{e(_('{n} red mahallas').format(n=format_number(len(frame))))}</p>",
        mahalla_map_svg(m.geometry.to_numpy(), fills, titles, width=620,
                        label=_("status map")),
        f'<p class="legend note">{legend}</p>',
        html_table(shown, empty=_("No red mahallas in this area and window.")),
        "</body></html>"])


def _access(model: AppModel) -> Any:
    try:
        return current_access()
    except PermissionError:  # served without logins (the loopback demo)
        return resolve(model).access


# ---------------------------------------------------------------------------- wiring
def attach(app: dash.Dash, model: AppModel) -> None:
    """Attach the map tools' callbacks to ``app`` (the commanders' guarded app)."""
    data = RequestData(model)

    @app.callback(Output(_IDS.SEARCH, "options"), Input(_IDS.SEARCH, "search_value"),
                  State(_IDS.SEARCH, "value"), prevent_initial_call=True)
    def _options(text: Any, value: Any) -> Any:
        if not isinstance(text, str) or not text.strip():
            raise dash.exceptions.PreventUpdate  # (the box keeps what it shows)
        search = scope_search(model)
        found = search_options(search, text)
        if isinstance(value, str) and value in search.table.index and \
                value not in {o["value"] for o in found}:  # the chosen one stays listed
            row = search.table.loc[value]
            found.append({"label": f"{row['name']} — {row['district']}", "value": value})
        return found

    @app.callback(Output(_CMD.SELECTED, "data", allow_duplicate=True),
                  Output(_CMD.TABS, "value", allow_duplicate=True),
                  Output(_IDS.ZOOM, "data"),
                  Input(_IDS.SEARCH, "value"), prevent_initial_call=True)
    def _choose(value: Any) -> tuple[Any, Any, Any]:
        search = scope_search(model)
        if not isinstance(value, str) or value not in search.table.index:
            raise dash.exceptions.PreventUpdate  # nothing chosen, or not of the scope
        return value, "mahalla", search.zoom_box(value)

    app.clientside_callback(_ZOOM_JS, Output(_IDS.ZOOM_SINK, "data"),
                            Input(_IDS.ZOOM, "data"), prevent_initial_call=True)
    app.clientside_callback(LABELS_JS.replace("MAP_ID", _CMD.MAP),
                            Output(_IDS.LABELS_SINK, "data"),
                            Input(_CMD.MAP, "figure"), Input(_CMD.RANGE, "data"))

    @app.callback(Output(_IDS.DOWNLOAD, "data"), Output(_IDS.MESSAGE, "children"),
                  Input(_IDS.RED_CSV, "n_clicks"), Input(_IDS.RED_PDF, "n_clicks"),
                  State(_CMD.REGION, "value"), State(_CMD.DISTRICT, "value"),
                  State(_CMD.MONTHS, "value"), State(_CMD.FOCUS, "value"),
                  prevent_initial_call=True)
    def _export(_c: Any, _p: Any, region: Any, district: Any, span: Any,
                focus: Any) -> tuple[Any, Any]:
        from riskmap.app.callbacks.commanders import view_from_controls

        kind = {_IDS.RED_CSV: "csv", _IDS.RED_PDF: "pdf"}.get(ctx.triggered_id)
        if kind is None:
            raise dash.exceptions.PreventUpdate
        view = view_from_controls(data.months(), "mahalla", None, region, district, span,
                                  None, None, None, focus)
        frame = red_list_frame(data, view, exact=focus_exact())
        area = "-".join(v for v in (view.region, view.district) if v) or "all"
        name = "red-list-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in area)[:80]
        detail = {"region": view.region, "district": view.district, "format": kind,
                  "window": f"{view.start or ''}..{view.end or ''}"}
        if kind == "csv":
            _access(model).audit(ACTION, layer="mahalla_status", rows=len(frame), detail=detail)
            return {"content": red_list_csv(frame), "filename": f"{name}.csv",
                    "type": "text/csv", "base64": False}, ""
        from riskmap.app.review_pack import print_pdf

        try:
            with tempfile.TemporaryDirectory(prefix="riskmap-red-") as tmp:
                out = print_pdf(red_list_html(data, view, frame), Path(tmp) / "red.pdf")
                body = out.read_bytes()
        except RiskmapError as exc:
            return dash.no_update, _("Cannot print the PDF: {reason}").format(reason=str(exc))
        _access(model).audit(ACTION, layer="mahalla_status", rows=len(frame), detail=detail)
        return {"content": base64.b64encode(body).decode("ascii"), "filename": f"{name}.pdf",
                "type": "application/pdf", "base64": True}, ""
