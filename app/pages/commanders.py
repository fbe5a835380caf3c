"""The commanders' page (``/commanders``): hot spots, status, red list, mahalla panel and briefs."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
import pandas as pd
from dash import dash_table, dcc, html

from riskmap.app import ids
from riskmap.app.commanders_data import CommandersView, data_for
from riskmap.app.components import area_fields, categories_field, field, map_panel
from riskmap.app.data import AppModel
from riskmap.app.factory import current_model
from riskmap.app.figures import blank_figure
from riskmap.app.figures_commanders import METRICS
from riskmap.app.focus import focus_dropdown
from riskmap.app.pages.map_tools import (
    map_export_name,
    red_list_exports,
    tool_stores,
    with_search,
)
from riskmap.app.pages.review_panel import review_panel
from riskmap.app.pages.roadmap_panel import OVERDUE_STYLE, roadmap_tab
from riskmap.i18n import N_, lazy, translate
from riskmap.i18n import gettext as _

__all__ = ["DATA_POLL_MS", "EVAL_POLL", "PATH", "layout", "month_range", "register", "slider_marks"]

PATH = "/commanders"
_IDS = ids.COMMANDERS
#: the forecast tab's poll of the background evaluation (belongs in app/ids.py COMMANDERS)
EVAL_POLL = ids.make_id(_IDS.PREFIX, "eval-poll")
#: how often an open page asks whether the data changed, ms
DATA_POLL_MS = 30_000


_LEVELS = ({"label": N_("Mahallas"), "value": "mahalla"},
           {"label": N_("H3 hexagons (resolution follows zoom)"), "value": "h3"})
_LAYER_OPTIONS = ({"label": N_(" Risk surface (KDE)"), "value": "kde"},
                  {"label": N_(" Cameras"), "value": "cameras"},
                  {"label": N_(" Infrastructure"), "value": "infrastructure"})
_GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False, "staticPlot": False}


def register(app: dash.Dash, model: AppModel) -> None:
    """Register the page (Dash Pages) for ``app``."""
    dash.register_page(__name__, path=PATH, name=_("Commanders"), title=lazy(N_("riskmap · commanders")),
                       order=10, layout=layout)


def _translated(options: tuple[dict[str, str], ...]) -> list[dict[str, str]]:
    """``options`` with their labels in the reader's language."""
    return [{**o, "label": translate(o["label"])} for o in options]


def slider_marks(months: list[date]) -> dict[int, str]:
    """Slider labels: up to five evenly spaced ``YYYY-MM`` marks (first and last always).

    Examples
    --------
    >>> slider_marks([date(2025, m, 1) for m in (1, 2, 3)])
    {0: '2025-01', 1: '2025-02', 2: '2025-03'}
    """
    if not months:
        return {}
    step = max(1, -(-len(months) // 4))
    keep = set(range(0, len(months), step)) | {len(months) - 1}
    return {i: months[i].strftime("%Y-%m") for i in sorted(keep)}


def month_range(view: CommandersView, months: list[date]) -> list[int]:
    """Slider positions ``[first, last]`` of the view's dates (the full range when open).

    Examples
    --------
    >>> ms = [date(2025, m, 1) for m in (1, 2, 3, 4)]
    >>> month_range(CommandersView(start=date(2025, 2, 1), end=date(2025, 3, 31)), ms)
    [1, 2]
    >>> month_range(CommandersView(), ms)
    [0, 3]
    """
    if not months:
        return [0, 0]
    last = len(months) - 1
    lo = 0 if view.start is None else sum(m <= view.start for m in months) - 1
    hi = last if view.end is None else sum(m <= view.end for m in months) - 1
    lo, hi = min(max(lo, 0), last), min(max(hi, 0), last)
    return [min(lo, hi), max(lo, hi)]


def _window_notice(view: CommandersView, months: list[date]) -> list[html.P]:
    """A note when the window asked for (a link, a bookmark) holds no data at all: the page
    shows the whole range instead and says so, rather than silently showing other months."""
    if not months or (view.start is None and view.end is None):
        return []
    first, last = months[0], months[-1]
    after_last = (pd.Timestamp(last) + pd.DateOffset(months=1)).date()
    if not ((view.end is not None and view.end < first)
            or (view.start is not None and view.start >= after_last)):
        return []
    asked = f"{view.start or '…'} – {view.end or '…'}"
    return [html.P(_("No incidents in the window asked for ({asked}): the data covers "
                     "{first} – {last}. Showing those months instead.").format(
                         asked=asked, first=f"{first:%Y-%m}", last=f"{last:%Y-%m}"),
                   className="note warn", id=_IDS.WINDOW_NOTICE, role="alert")]


def layout(**query: Any) -> html.Div:
    """The page, with its state read from the URL query parameters (bad values are ignored)."""
    model = current_model()
    data = data_for(model)
    view = CommandersView.from_params(query)
    months = data.months()
    known = view.mahalla if view.mahalla and data.mahalla_info(view.mahalla) else None
    return html.Div([
        html.Aside([
            field(_("Show"), dcc.RadioItems(id=_IDS.LEVEL, options=_translated(_LEVELS),
                                            value=view.level, className="radio-list")),
            field(_("Colour by"), dcc.Dropdown(
                id=_IDS.METRIC, options=[{"label": _(v), "value": k} for k, v in METRICS.items()],
                value=view.metric, clearable=False)),
            *area_fields(model, _IDS.REGION, _IDS.DISTRICT, view.region, view.district),
            field(_("Months"), html.Div([
                *_window_notice(view, months),
                dcc.RangeSlider(id=_IDS.MONTHS, min=0, max=max(len(months) - 1, 0), step=1,
                                value=month_range(view, months), marks=slider_marks(months),
                                allowCross=False, updatemode="mouseup"),
                html.Div([
                    html.Button(_("▶ Play by month"), id=_IDS.PLAY, n_clicks=0,
                                className="button", title=_("Step the window month by month")),
                    html.Span(id=_IDS.MONTHS_TEXT, className="months-text"),
                ], className="row"),
                dcc.Interval(id=_IDS.TICK, interval=1500, disabled=True, n_intervals=0),
            ])),
            categories_field(_IDS.CATEGORIES, model.categories(), view.categories),
            field(_("Focus"), focus_dropdown(_IDS.FOCUS, view.focus)),
            field(_("Layers"), dcc.Checklist(id=_IDS.LAYERS, options=_translated(_LAYER_OPTIONS),
                                          value=list(view.layers), className="check-list")),
            html.P(id=_IDS.SUMMARY, className="summary", role="status"),
            html.P(id=_IDS.UPDATED, className="note", role="status"),
        ], className="controls"),
        with_search(map_panel(_IDS.MAP, export_name=map_export_name())),
        html.Aside([
            dcc.Tabs(id=_IDS.TABS, value="mahalla" if known else "red", children=[
                dcc.Tab(label=_("Mahalla"), value="mahalla", children=_panel()),
                dcc.Tab(label=_("Red list"), value="red", children=_red_list()),
                dcc.Tab(label=_("Roadmap"), value="roadmap", children=roadmap_tab()),
                dcc.Tab(label=_("Forecast check"), value="eval", children=_evaluation()),
                dcc.Tab(label=_("Review pack"), value="review", children=review_panel()),
            ]),
        ], className="side"),
        dcc.Store(id=_IDS.SELECTED, data=known),
        dcc.Store(id=_IDS.VIEWPORT, data={"range": None}),
        dcc.Store(id=_IDS.CLICK_POINT),
        dcc.Store(id=_IDS.MAP_SETUP),
        dcc.Store(id=_IDS.MAP_FIGURE),
        dcc.Store(id=_IDS.MAP_SIZE),
        dcc.Store(id=_IDS.RANGE),
        dcc.Store(id=_IDS.QUERY),
        # new data: the poll redraws the map and the red list only when the version changed
        dcc.Store(id=_IDS.DATA_VERSION, data=model.data_version),
        dcc.Interval(id=_IDS.DATA_POLL, interval=DATA_POLL_MS, n_intervals=0),
        *tool_stores(),  # the map tools' (search zoom, labels): app/pages/map_tools.py
        html.Div(id=_IDS.URL_SINK, hidden=True),
    ], className="page page-commanders")


def _panel() -> html.Div:
    small = {"displaylogo": False, "displayModeBar": False}
    return html.Div([
        html.H3(id=_IDS.PANEL_TITLE, children=_("Click a mahalla on the map")),
        html.Div(id=_IDS.PANEL_META, className="panel-meta"),
        html.Div([
            html.Button(_("Brief (printable HTML)"), id=_IDS.BRIEF_HTML, n_clicks=0,
                        className="button", disabled=True),
            html.Button(_("Brief data (CSV)"), id=_IDS.BRIEF_CSV, n_clicks=0, className="button",
                        disabled=True),
            dcc.Download(id=_IDS.DOWNLOAD_HTML), dcc.Download(id=_IDS.DOWNLOAD_CSV),
        ], className="row"),
        dcc.Graph(id=_IDS.TREND, config=small, style={"height": "200px"}),
        dcc.Graph(id=_IDS.CATS_CHART, config=small),
        html.H4(_("Focus groups (window)")),
        _table(_IDS.FOCUS_TABLE, [("group", _("Group")), ("count", _("Incidents"))],
               page_size=6),
        html.H4(_("Status history")),
        _table(_IDS.STATUS, [("month", _("Month")), ("status", _("Status")),
                            ("count", _("Incidents")), ("why", _("Why"))], page_size=6),
        html.H4(_("Cameras in the mahalla")),
        _table(_IDS.CAMERAS, [("camera_id", _("Camera")), ("type", _("Type")),
                             ("status", _("Status")), ("range_m", _("Range (m)"))], page_size=5),
        html.H4(_("Incidents")),
        dash_table.DataTable(
            id=_IDS.INCIDENTS, page_action="custom", page_current=0, page_size=10,
            columns=[{"name": n, "id": i} for i, n in (
                ("incident_id", _("Id")), ("occurred_at", _("When (local)")),
                ("category", _("Category")), ("geocode_precision", _("Located by")))],
            data=[], style_table={"overflowX": "auto"}, style_cell=_CELL,
            style_header=_HEADER),
    ], id=_IDS.PANEL, className="panel")


_CELL = {"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif",
         "fontSize": "0.78rem", "padding": "2px 6px",
         "textAlign": "left", "whiteSpace": "normal", "height": "auto"}
_HEADER = {"fontWeight": "600", "backgroundColor": "#f4f4f1"}


def _table(id_: str, columns: list[tuple[str, str]], *, page_size: int) -> dash_table.DataTable:
    return dash_table.DataTable(id=id_, columns=[{"name": n, "id": i} for i, n in columns],
                                data=[], page_size=page_size, style_cell=_CELL,
                                style_header=_HEADER, style_table={"overflowX": "auto"})


def _red_list() -> html.Div:
    return html.Div([
        html.P(_("Red and newly red mahallas at the last month of the window. Select rows to "
               "outline them on the map; sort by any column."), className="note"),
        red_list_exports(),
        dash_table.DataTable(
            id=_IDS.REDLIST, sort_action="native", row_selectable="multi", selected_rows=[],
            page_size=15,
            columns=[{"name": n, "id": i} for i, n in (
                ("name", _("Mahalla")), ("district", _("District")), ("status", _("Status")),
                ("count", _("12 mo")), ("rate_per_1000", _("/1,000")),
                ("gi_z", _("Gi* z")), ("focus", _("Focus group")),
                ("roadmap", _("Measures open / overdue")))],
            data=[], style_cell=_CELL, style_header=_HEADER, style_table={"overflowX": "auto"},
            style_data_conditional=[{"if": {"filter_query": '{status_code} = "newly red"'},
                                     "backgroundColor": "#fde0dc", "fontWeight": "600"},
                                    {"if": {"filter_query": "{roadmap_overdue} > 0",
                                            "column_id": "roadmap"}, **OVERDUE_STYLE}],
            tooltip_duration=None),
    ], className="panel")


def _evaluation() -> html.Div:
    return html.Div([
        html.P(_("Would the forecast have flagged where the next four weeks' incidents happened? "
               "Each method is tuned on the history before the cut-off only, then checked "
               "against two baselines: all-history counts and a plain 200 m KDE."),
               className="note"),
        html.Div(id=_IDS.EVAL_TEXT, role="status", children=html.P(  # status: read out politely
            _("Open this tab to check the forecasts for the region."), className="note")),
        dcc.Graph(id=_IDS.EVAL_CHART, figure=blank_figure(""), style={"height": "290px"},
                  config={"displaylogo": False, "displayModeBar": False}),
        # polls the background evaluation while it runs (enabled by the evaluation callback)
        dcc.Interval(id=EVAL_POLL, interval=500, disabled=True, n_intervals=0),
    ], className="panel")
