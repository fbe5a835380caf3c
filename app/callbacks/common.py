"""Callback pieces shared by the pages: the district dropdown and the address-bar writer."""

from __future__ import annotations

import dash
from dash import Input, Output, State

from riskmap.app.data import AppModel

__all__ = ["REPLACE_URL", "district_choice", "keep_view_js", "register_districts",
           "register_url_writer"]

#: clientside: write the view's query string into the address bar without reloading the page.
#: The first write of a page (its view made canonical) replaces the entry; every later
#: change of the view is a new history entry, so Back and Forward step through the filter
#: changes (Dash Pages' location listens to ``popstate`` and draws the page of that URL).
REPLACE_URL = """
function(search) {
    if (typeof search !== "string") { return window.dash_clientside.no_update; }
    const loc = window.location;
    const lang = new URLSearchParams(loc.search).get("lang");  // the language stays
    if (lang && !new URLSearchParams(search).has("lang")) {
        search += (search ? "&" : "?") + "lang=" + encodeURIComponent(lang);
    }
    if (!window.__riskmapPopWatch) {  // Back / Forward: the popped URL is the view now
        window.__riskmapPopWatch = true;
        window.addEventListener("popstate", function () {
            window.__riskmapPopped = {t: Date.now(), search: window.location.search};
        });
    }
    const popped = window.__riskmapPopped;
    if (popped && Date.now() - popped.t < 3000 && search !== popped.search) {
        // an answer to a request sent before Back / Forward: writing it would replace the
        // popped view (and a push would drop the entries Forward goes to)
        return window.dash_clientside.no_update;
    }
    const first = window.__riskmapViewPath !== loc.pathname;
    window.__riskmapViewPath = loc.pathname;
    if (loc.search !== search) {
        const url = loc.pathname + search + loc.hash;
        if (first) {
            window.history.replaceState(window.history.state, "", url);
        } else {
            window.history.pushState(window.history.state, "", url);
        }
    }
    return window.dash_clientside.no_update;
}
"""


def district_choice(model: AppModel, region: str | None,
                    district: str | None) -> tuple[list[str], str | None]:
    """The districts of ``region`` and the chosen one (``None`` when it is not among them)."""
    options = model.districts(region)
    return options, district if district in options else None


def register_districts(app: dash.Dash, model: AppModel, region_id: str,
                       district_id: str) -> None:
    """Keep the district dropdown ``district_id`` to the districts of region ``region_id``."""

    @app.callback(Output(district_id, "options"), Output(district_id, "value"),
                  Input(region_id, "value"), State(district_id, "value"),
                  prevent_initial_call=True)
    def _districts(region: str | None, district: str | None) -> tuple[list[str], str | None]:
        return district_choice(model, region, district)


def register_url_writer(app: dash.Dash, query_id: str, sink_id: str) -> None:
    """Write the query string held by the store ``query_id`` into the address bar.

    ``sink_id`` is a hidden element the clientside callback outputs to (it never changes).
    """
    app.clientside_callback(REPLACE_URL, Output(sink_id, "children"), Input(query_id, "data"))


def keep_view_js(map_id: str, report_to: str | None = None) -> str:
    """Clientside: put a figure the server sent (held in a store) on the MapLibre map of the
    graph ``map_id`` with the centre and zoom the map shows at that moment, when the figure is
    of the same view (its ``uirevision`` unchanged): a zoom or pan made while the redraw it set
    off was on its way is kept (plotly would move the map back to the figure's first view).
    A new view (another area) takes the figure's own.

    ``report_to``: a store given ``{"range": [west, east, south, north]}`` whenever the map
    comes to rest somewhere it has not reported (MapLibre's ``moveend``). A figure that
    arrives during a wheel zoom's easing stops it where it is, and plotly reports no move of
    its own then: without this the server would count what is in a view no longer shown.
    The move to a new view's first view is not reported: the server drew that view whole
    (another area: its summary already counts what the fitted view shows), and the round
    trip it set off cost a region change 0.5 s in the browser benchmark; the view it comes
    to is remembered once plotly has drawn the figure.
    """
    report = "" if report_to is None else """
        if (!m.__riskmapReports) {
            m.__riskmapReports = true;
            m.on("moveend", function () {
                const b = m.getBounds();
                const got = {"range": [b.getWest(), b.getEast(), b.getSouth(), b.getNorth()]};
                const key = JSON.stringify(got);
                if (gd.__riskmapFitting) { return; }  // remembered after the draw (below)
                if (gd.__riskmapView !== key && window.dash_clientside.set_props) {
                    gd.__riskmapView = key;
                    window.dash_clientside.set_props("REPORT_TO", {data: got});
                }
            });
        }""".replace("REPORT_TO", report_to)
    fitted = "" if report_to is None else """
        if (m && gd.once) {  // a new view: its first move is not reported (see above)
            gd.__riskmapFitting = true;
            gd.once("plotly_afterplot", function () {
                gd.__riskmapFitting = false;
                const b = m.getBounds();
                gd.__riskmapView = JSON.stringify(
                    {"range": [b.getWest(), b.getEast(), b.getSouth(), b.getNorth()]});
            });
        }"""
    return """
function(fig) {
    if (!fig || !fig.layout) { return window.dash_clientside.no_update; }
    const gd = document.querySelector("#MAP_ID .js-plotly-plot");
    const full = gd && gd._fullLayout, sub = full && full.map && full.map._subplot;
    const m = sub && sub.map;
    if (m) {REPORT
    }
    if (!m || !fig.layout.map || !gd.layout || gd.layout.uirevision === undefined
            || gd.layout.uirevision !== fig.layout.uirevision) {FITTED
        return fig;
    }
    const c = m.getCenter();
    const view = {center: {lon: c.lng, lat: c.lat}, zoom: m.getZoom()};
    return Object.assign({}, fig, {layout: Object.assign({}, fig.layout, {
        map: Object.assign({}, fig.layout.map, view)})});
}
""".replace("MAP_ID", map_id).replace("REPORT", report).replace("FITTED", fitted)
