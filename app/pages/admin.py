"""The admin page (``/admin``): users, the audit log, every user's jobs, the ingestion runs and
the ingest quarantine."""

from __future__ import annotations

from typing import Any

import dash
from dash import dash_table, dcc, html

from riskmap.app import ids
from riskmap.app.data import AppModel
from riskmap.i18n import N_, lazy
from riskmap.i18n import gettext as _

__all__ = ["AUDIT_PAGE_SIZE", "OUTCOMES", "PATH", "RUNS_PAGE_SIZE", "RUN_OUTCOMES", "TABS",
           "layout", "register"]

PATH = "/admin"
_IDS = ids.ADMIN
#: the tabs of the page (value, label)
TABS = (("users", "Users"), ("audit", "Audit log"), ("jobs", "Jobs"),
        ("runs", "Ingestion runs"), ("quarantine", "Quarantine"))
#: the outcomes an audit record can have (the outcome filter offers these)
OUTCOMES = ("ok", "denied", "failed", "cancelled", "refused")
#: audit records per table page
AUDIT_PAGE_SIZE = 50
#: how an ingestion run can end (the outcome filter of the runs offers these)
RUN_OUTCOMES = ("ok", "failed", "refused")
#: ingestion runs per table page
RUNS_PAGE_SIZE = 25

_CELL = {"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif",
         "fontSize": "0.8rem", "padding": "2px 6px", "textAlign": "left",
         "whiteSpace": "normal", "height": "auto", "maxWidth": "32rem",
         "overflowWrap": "anywhere"}
_HEADER = {"fontWeight": "600", "backgroundColor": "#f4f4f1"}


def register(app: dash.Dash, model: AppModel) -> None:
    """Register the page (Dash Pages) for ``app``."""
    dash.register_page(__name__, path=PATH, name=_("Admin"), title=lazy(N_("riskmap · admin")),
                       order=90, layout=layout)


def layout(**_query: Any) -> html.Div:
    """The page: one tab per task; every table is filled by ``app/callbacks/admin.py``."""
    return html.Div([
        dcc.Tabs(id=_IDS.TABS, value="users", children=[
            dcc.Tab(label=label, value=value, children=_TAB_BODY[value]())
            for value, label in TABS]),
    ], className="page page-admin")


def _table(id_: str, columns: list[tuple[str, str]], **kwargs: Any) -> dash_table.DataTable:
    return dash_table.DataTable(
        id=id_, columns=[{"name": n, "id": i} for i, n in columns], data=[],
        style_cell=_CELL, style_header=_HEADER, style_table={"overflowX": "auto"}, **kwargs)


def _button(label: str, id_: str, *, disabled: bool = False) -> html.Button:
    return html.Button(label, id=id_, n_clicks=0, className="button", disabled=disabled)


def _users() -> html.Section:
    return html.Section([
        html.P(_("People who may log in. Select a user to disable or enable them (enabling also "
               "lifts a lock-out after failed logins). Passwords and roles are set with "
               "`riskmap users` on the server."), className="note"),
        html.Div([
            _button("Disable", _IDS.USER_DISABLE),
            _button("Enable", _IDS.USER_ENABLE),
            _button("Refresh", _IDS.USERS_REFRESH),
            html.Span(id=_IDS.USER_RESULT, className="result", role="status"),
        ], className="row"),
        html.P(id=_IDS.USERS_SUMMARY, className="summary", role="status"),
        _table(_IDS.USERS, [("username", "User"), ("display_name", "Name"), ("role", "Role"),
                            ("scope", "Scope"), ("source", "Source"), ("state", "State"),
                            ("updated_at", "Changed")],
               row_selectable="single", selected_rows=[], page_size=25,
               sort_action="native",
               style_data_conditional=[{"if": {"filter_query": '{state} != "active"'},
                                        "backgroundColor": "#fde0dc"}]),
    ], className="panel")


def _audit() -> html.Section:
    return html.Section([
        html.P(id=_IDS.AUDIT_CHAIN, className="chain", role="status"),
        html.Div([
            html.Div([html.Label(_("User"), htmlFor=_IDS.AUDIT_USER, className="field-label"),
                      dcc.Input(id=_IDS.AUDIT_USER, type="text", value="", maxLength=64,
                                debounce=True, placeholder=_("any user"))], className="field"),
            html.Div([html.Label(_("Action"), className="field-label"),
                      dcc.Dropdown(id=_IDS.AUDIT_ACTION, options=[], value=None,
                                   placeholder=_("any action"))], className="field wide"),
            html.Div([html.Label(_("Outcome"), className="field-label"),
                      dcc.Dropdown(id=_IDS.AUDIT_OUTCOME, options=list(OUTCOMES), value=None,
                                   placeholder=_("any outcome"))], className="field"),
            html.Div([html.Label(_("From (YYYY-MM-DD)"), htmlFor=_IDS.AUDIT_FROM,
                                 className="field-label"),
                      dcc.Input(id=_IDS.AUDIT_FROM, type="text", value="", maxLength=10,
                                debounce=True, placeholder=_("first day"))], className="field"),
            html.Div([html.Label(_("To (YYYY-MM-DD)"), htmlFor=_IDS.AUDIT_TO,
                                 className="field-label"),
                      dcc.Input(id=_IDS.AUDIT_TO, type="text", value="", maxLength=10,
                                debounce=True, placeholder=_("last day"))], className="field"),
            _button("Refresh", _IDS.AUDIT_REFRESH),
            _button("Download CSV", _IDS.AUDIT_CSV),
            dcc.Download(id=_IDS.AUDIT_DOWNLOAD),
        ], className="row filters"),
        html.P(id=_IDS.AUDIT_SUMMARY, className="summary", role="status"),
        _table(_IDS.AUDIT_TABLE, [("seq", "#"), ("at", "When (local)"), ("user", "User"),
                                  ("action", "Action"), ("layer", "Layer"),
                                  ("outcome", "Outcome"), ("rows", "Rows"),
                                  ("client", "Client"), ("detail", "Detail")],
               page_action="custom", page_current=0, page_size=AUDIT_PAGE_SIZE, page_count=1),
    ], className="panel")


def _jobs() -> html.Section:
    return html.Section([
        html.P(_("Background jobs of every user, newest first. Select an active job to cancel "
               "it."), className="note"),
        html.Div([
            _button("Cancel job", _IDS.JOB_CANCEL),
            _button("Refresh", _IDS.JOBS_REFRESH),
            html.Span(id=_IDS.JOB_RESULT, className="result", role="status"),
        ], className="row"),
        html.P(id=_IDS.JOBS_SUMMARY, className="summary", role="status"),
        _table(_IDS.JOBS, [("kind", "Kind"), ("owner", "Owner"), ("region", "Region"),
                           ("status", "Status"), ("progress", "Progress"),
                           ("started", "Started (local)"), ("message", "Message")],
               row_selectable="single", selected_rows=[], page_size=25),
    ], className="panel")


def _runs() -> html.Section:
    return html.Section([
        html.P(_("Every load of a file (riskmap ingest, the drop-folder watcher, the container "
               "loader, the demo), newest first. Select a run to see its report."),
               className="note"),
        html.Div([
            html.Div([html.Label(_("Outcome"), className="field-label"),
                      dcc.Dropdown(id=_IDS.RUNS_OUTCOME, options=list(RUN_OUTCOMES),
                                   value=None, placeholder=_("any outcome"))],
                     className="field"),
            html.Div([html.Label(_("File name contains"), htmlFor=_IDS.RUNS_FILE,
                                 className="field-label"),
                      dcc.Input(id=_IDS.RUNS_FILE, type="text", value="", maxLength=255,
                                debounce=True, placeholder=_("any file"))],
                     className="field wide"),
            _button("Refresh", _IDS.RUNS_REFRESH),
            _button("Download CSV", _IDS.RUNS_CSV),
            dcc.Download(id=_IDS.RUNS_DOWNLOAD),
        ], className="row filters"),
        html.P(id=_IDS.RUNS_SUMMARY, className="summary", role="status"),
        _table(_IDS.RUNS, [("started", "Started (local)"), ("user", "User"),
                           ("client", "Client"), ("layer", "Layer"), ("file_name", "File"),
                           ("outcome", "Outcome"), ("input_rows", "Rows read"),
                           ("loaded", "Loaded"), ("updated", "Updated"),
                           ("quarantined", "Quarantined"), ("by_reason", "By reason"),
                           ("error", "Error")],
               row_selectable="single", selected_rows=[], page_action="custom",
               page_current=0, page_size=RUNS_PAGE_SIZE, page_count=1,
               style_data_conditional=[{"if": {"filter_query": '{outcome} != "ok"'},
                                        "backgroundColor": "#fde0dc"}]),
        html.H4(_("The selected run")),
        html.P(id=_IDS.RUN_FACTS, className="note", children=_("Select a run above.")),
        html.Pre(id=_IDS.RUN_SUMMARY, className="run-text"),
        html.Div([_button("Show its quarantined rows", _IDS.RUN_QUARANTINE, disabled=True)],
                 className="row"),
        html.Details([html.Summary(_("Report (JSON)")),
                      html.Pre(id=_IDS.RUN_REPORT, className="run-text")]),
    ], className="panel")


def _quarantine() -> html.Section:
    return html.Section([
        html.P(_("Input rows the loads could not use, kept with their reason."), className="note"),
        html.Div([
            html.Div([html.Label(_("Source file"), htmlFor=_IDS.QUARANTINE_FILE,
                                 className="field-label"),
                      dcc.Input(id=_IDS.QUARANTINE_FILE, type="text", value="", maxLength=255,
                                debounce=True, placeholder=_("every file"))],
                     className="field wide"),
            _button("Refresh", _IDS.QUARANTINE_REFRESH),
        ], className="row filters"),
        html.P(id=_IDS.QUARANTINE_SUMMARY, className="summary", role="status"),
        html.H4(_("By source file and reason")),
        _table(_IDS.QUARANTINE_COUNTS, [("source_file", "Source file"), ("layer", "Layer"),
                                        ("reason", "Reason"), ("rows", "Rows"),
                                        ("latest", "Latest (local)")],
               page_size=15, sort_action="native"),
        html.H4(_("Newest rows")),
        _table(_IDS.QUARANTINE_ROWS, [("quarantined_at", "When (local)"),
                                      ("source_file", "Source file"), ("source_row", "Row"),
                                      ("reason", "Reason"), ("detail", "Detail"),
                                      ("raw", "Original row")],
               page_size=20),
    ], className="panel")


_TAB_BODY = {"users": _users, "audit": _audit, "jobs": _jobs, "runs": _runs,
             "quarantine": _quarantine}
