"""The Roadmap tab of the commanders' mahalla panel: the responsible official, the mahalla seven
and the measures (layout only; callbacks in ``app/callbacks/roadmap.py``).

Not a page of its own: ``app/pages/commanders.py`` places :func:`roadmap_tab` in its side panel.
"""

from __future__ import annotations

from dash import dash_table, dcc, html

from riskmap.app import ids
from riskmap.app.components import field
from riskmap.geo.roadmap import MEASURE_STATUSES, ROLE_CODES
from riskmap.i18n import N_, translate
from riskmap.i18n import gettext as _

__all__ = ["MEASURE_NAMES", "OVERDUE_STYLE", "ROLE_NAMES", "measure_status_name", "roadmap_tab",
           "role_name"]

_IDS = ids.ROADMAP

#: the mahalla seven ("mahalla yettiligi"): role code -> English name (the msgid)
ROLE_NAMES: dict[str, str] = {
    "rais": N_("Mahalla chairman"),
    "hokim_assistant": N_("Hokim's assistant"),
    "youth_leader": N_("Youth leader"),
    "womens_activist": N_("Women's activist"),
    "prevention_inspector": N_("Prevention inspector"),
    "tax_inspector": N_("Tax inspector"),
    "social_worker": N_("Social worker"),
}
#: a measure's status code -> English name (the msgid)
MEASURE_NAMES: dict[str, str] = {
    "planned": N_("Planned"),
    "in_progress": N_("In progress"),
    "done": N_("Done"),
    "cancelled": N_("Cancelled"),
}
assert tuple(ROLE_NAMES) == ROLE_CODES and tuple(MEASURE_NAMES) == MEASURE_STATUSES

_CELL = {"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif",
         "fontSize": "0.78rem", "padding": "2px 6px", "textAlign": "left",
         "whiteSpace": "normal", "height": "auto"}
_HEADER = {"fontWeight": "600", "backgroundColor": "#f4f4f1"}
#: the overdue flag: a red badge
OVERDUE_STYLE = {"backgroundColor": "#c62828", "color": "white", "fontWeight": "600"}


def role_name(code: str) -> str:
    """The display name of a role of the seven in the reader's language."""
    return translate(ROLE_NAMES.get(code, code))


def measure_status_name(code: str) -> str:
    """The display name of a measure's status in the reader's language."""
    return translate(MEASURE_NAMES.get(code, code))


def _input(id_: str, limit: int, placeholder: str = "") -> dcc.Input:
    return dcc.Input(id=id_, type="text", maxLength=limit, value="", disabled=True,
                     placeholder=placeholder, className="text-input")


def roadmap_tab() -> html.Div:
    """The tab's contents (filled and enabled by the callbacks for the selected mahalla)."""
    date_hint = _("YYYY-MM-DD")
    return html.Div([
        html.Div(id=_IDS.HEADER, className="roadmap-header", role="status",
                 children=html.P(_("Click a mahalla on the map"), className="note")),
        html.H4(_("Responsible official (sector leader)")),
        field(_("Name"), _input(_IDS.OFFICIAL_NAME, 120)),
        field(_("Position"), _input(_IDS.OFFICIAL_POSITION, 120)),
        field(_("Phone"), _input(_IDS.OFFICIAL_PHONE, 40)),
        html.H4(_("Mahalla seven")),
        dash_table.DataTable(
            id=_IDS.SEVEN, data=[], editable=False,
            columns=[{"name": _("Role"), "id": "role_name", "editable": False},
                     {"name": _("Name"), "id": "name"}, {"name": _("Phone"), "id": "phone"}],
            style_cell=_CELL, style_header=_HEADER, style_table={"overflowX": "auto"}),
        html.Button(_("Save official and seven"), id=_IDS.SAVE, n_clicks=0,
                    className="button", disabled=True),
        html.H4(_("Measures")),
        html.P(id=_IDS.SUMMARY, className="note"),
        dash_table.DataTable(
            id=_IDS.MEASURES, data=[], row_selectable="single", selected_rows=[],
            columns=[{"name": _("Measure"), "id": "title"}, {"name": _("Owner"), "id": "owner"},
                     {"name": _("Due"), "id": "due"}, {"name": _("Status"), "id": "status_name"},
                     {"name": _("Notes"), "id": "notes"}, {"name": "", "id": "flag"}],
            style_cell=_CELL, style_header=_HEADER, style_table={"overflowX": "auto"},
            style_data_conditional=[{"if": {"filter_query": "{overdue} = 1",
                                            "column_id": "flag"}, **OVERDUE_STYLE}]),
        html.H5(_("Change the selected measure")),
        field(_("Status"), dcc.RadioItems(
            id=_IDS.EDIT_STATUS, className="radio-list", value=None,
            options=[{"label": measure_status_name(s), "value": s} for s in MEASURE_STATUSES])),
        field(_("Due date"), _input(_IDS.EDIT_DUE, 10, date_hint)),
        field(_("Notes"), dcc.Textarea(id=_IDS.EDIT_NOTES, maxLength=1000, value="",
                                       disabled=True, className="text-input")),
        html.Button(_("Update measure"), id=_IDS.UPDATE, n_clicks=0, className="button",
                    disabled=True),
        html.H5(_("Add a measure")),
        field(_("Measure"), _input(_IDS.NEW_TITLE, 200)),
        field(_("Owner"), _input(_IDS.NEW_OWNER, 120)),
        field(_("Due date"), _input(_IDS.NEW_DUE, 10, date_hint)),
        field(_("Notes"), dcc.Textarea(id=_IDS.NEW_NOTES, maxLength=1000, value="",
                                       disabled=True, className="text-input")),
        html.Button(_("Add measure"), id=_IDS.ADD, n_clicks=0, className="button",
                    disabled=True),
        html.P(id=_IDS.RESULT, className="summary", role="status"),
        dcc.Store(id=_IDS.REFRESH, data=0),
    ], id=_IDS.PANEL, className="panel roadmap")
