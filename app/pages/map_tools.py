"""Layout of the commanders' map tools: the mahalla search, the red list's exports and their
stores (callbacks in ``app/callbacks/search.py``).

Not a page of its own: ``app/pages/commanders.py`` places these pieces.
"""

from __future__ import annotations

from datetime import date

from dash import dcc, html

from riskmap.app import ids
from riskmap.app.components import field
from riskmap.i18n import gettext as _

__all__ = ["map_export_name", "red_list_exports", "search_field", "tool_stores", "with_search"]

_IDS = ids.MAPTOOLS


def search_field() -> html.Div:
    """The "Find a mahalla" box: type a name in any script, pick one to open and zoom to it."""
    return field(_("Find a mahalla"), dcc.Dropdown(
        id=_IDS.SEARCH, options=[], value=None, clearable=True, searchable=True,
        placeholder=_("Name in Latin, Cyrillic or Russian"), **_KEEP_ORDER,
        labels={"no_options_found": _("No mahalla of your area has that name")}))


#: the server ranks the matches: the dropdown keeps that order (``search_order``, Dash 4.1+;
#: an older Dash sorts them itself, which still finds the same names)
_KEEP_ORDER = ({"search_order": "original"}
               if "search_order" in dcc.Dropdown().available_properties else {})


def with_search(panel: html.Section) -> html.Section:
    """The map panel with the search box floating over its lower-left corner (it takes no
    room from the controls: the page keeps its height)."""
    panel.children = [*panel.children, html.Div(search_field(), className="map-search")]
    return panel


def red_list_exports() -> html.Div:
    """The red list's export buttons (CSV; PDF of the map and the list) and their download."""
    return html.Div([
        html.Button(_("Red list (CSV)"), id=_IDS.RED_CSV, n_clicks=0, className="button"),
        html.Button(_("Map and red list (PDF)"), id=_IDS.RED_PDF, n_clicks=0,
                    className="button"),
        html.Span(id=_IDS.MESSAGE, className="note", role="status"),
        dcc.Download(id=_IDS.DOWNLOAD),
    ], className="row")


def tool_stores() -> list[dcc.Store]:
    """The stores the tools' callbacks write: the box to zoom to and two clientside sinks."""
    return [dcc.Store(id=_IDS.ZOOM), dcc.Store(id=_IDS.ZOOM_SINK),
            dcc.Store(id=_IDS.LABELS_SINK)]


def map_export_name(today: date | None = None) -> str:
    """The file name (no extension) the map's "download as PNG" button saves.

    Examples
    --------
    >>> map_export_name(date(2025, 6, 30))
    'riskmap-commanders-map-2025-06-30'
    """
    return f"riskmap-commanders-map-{(today or date.today()).isoformat()}"
