"""The commanders' page (``/commanders``): hot spots, status, red list, mahalla panel and briefs."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
from dash import dash_table, dcc, html

from app import ids
from app.commanders_data import CommandersView, data_for
from app.data import AppModel
from app.factory import current_model
from app.figures_commanders import METRICS
from app.pages.overview import category_label

__all__ = ["PATH", "layout", "month_range", "register", "slider_marks"]

PATH = "/commanders"


_LEVELS = ({"label": "Mahallas", "value": "mahalla"},
           {"label": "H3 hexagons (resolution follows zoom)", "value": "h3"})
_LAYER_OPTIONS = ({"label": " Risk surface (KDE)", "value": "kde"},
                  {"label": " Cameras", "value": "cameras"},
                  {"label": " Infrastructure", "value": "infrastructure"})
_GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": False, "staticPlot": False}


def register(app: dash.Dash, model: AppModel) -> None:
    """Register the page (Dash Pages) for ``app``."""
    dash.register_page(__name__, path=PATH, name="Commanders", title="riskmap · commanders",
                       order=10, layout=layout)


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


def layout(**query: Any) -> html.Div:
    """The page, with its state read from the URL query parameters (bad values are ignored)."""
    model = current_model()
    data = data_for(model)
    view = CommandersView.from_params(query)
    months = data.months()
    regions = model.regions()
    districts = model.districts(view.region if view.region in regions else None)
    cats = model.categories()
    known = view.mahalla if view.mahalla and data.mahalla_info(view.mahalla) else None
    return html.Div([
        html.Aside([
            _field("Show", dcc.RadioItems(id=ids.COMMANDERS.LEVEL, options=list(_LEVELS), value=view.level,
                                          className="radio-list")),
            _field("Colour by", dcc.Dropdown(
                id=ids.COMMANDERS.METRIC, options=[{"label": v, "value": k} for k, v in METRICS.items()],
                value=view.metric, clearable=False)),
            _field("Region", dcc.Dropdown(
                id=ids.COMMANDERS.REGION, options=regions,
                value=view.region if view.region in regions else None,
                placeholder="All regions")),
            _field("District", dcc.Dropdown(
                id=ids.COMMANDERS.DISTRICT, options=districts,
                value=view.district if view.district in districts else None,
                placeholder="All districts")),
            _field("Months", html.Div([
                dcc.RangeSlider(id=ids.COMMANDERS.MONTHS, min=0, max=max(len(months) - 1, 0), step=1,
                                value=month_range(view, months), marks=slider_marks(months),
                                allowCross=False, updatemode="mouseup"),
                html.Div([
                    html.Button("▶ Play by month", id=ids.COMMANDERS.PLAY, n_clicks=0,
                                className="button", title="Step the window month by month"),
                    html.Span(id=ids.COMMANDERS.MONTHS_TEXT, className="months-text"),
                ], className="row"),
                dcc.Interval(id=ids.COMMANDERS.TICK, interval=1500, disabled=True, n_intervals=0),
            ])),
            _field("Categories", dcc.Dropdown(
                id=ids.COMMANDERS.CATEGORIES, multi=True,
                options=[{"label": category_label(c), "value": c} for c in cats],
                value=[c for c in view.categories if c in cats], placeholder="All categories")),
            _field("Layers", dcc.Checklist(id=ids.COMMANDERS.LAYERS, options=list(_LAYER_OPTIONS),
                                           value=list(view.layers), className="check-list")),
            html.P(id=ids.COMMANDERS.SUMMARY, className="summary", role="status"),
        ], className="controls"),
        html.Section([
            dcc.Graph(id=ids.COMMANDERS.MAP, className="map", responsive=True,
                      style={"height": "100%", "width": "100%"},
                      config={"displaylogo": False, "scrollZoom": True,
                              "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}),
        ], className="map-panel"),
        html.Aside([
            dcc.Tabs(id=ids.COMMANDERS.TABS, value="mahalla" if known else "red", children=[
                dcc.Tab(label="Mahalla", value="mahalla", children=_panel()),
                dcc.Tab(label="Red list", value="red", children=_red_list()),
                dcc.Tab(label="Forecast check", value="eval", children=_evaluation()),
            ]),
        ], className="side"),
        dcc.Store(id=ids.COMMANDERS.SELECTED, data=known),
        dcc.Store(id=ids.COMMANDERS.VIEWPORT, data={"range": None}),
        dcc.Store(id=ids.COMMANDERS.RANGE),
        dcc.Store(id=ids.COMMANDERS.QUERY),
        html.Div(id=ids.COMMANDERS.URL_SINK, hidden=True),
    ], className="page page-commanders")


def _panel() -> html.Div:
    small = {"displaylogo": False, "displayModeBar": False}
    return html.Div([
        html.H3(id=ids.COMMANDERS.PANEL_TITLE, children="Click a mahalla on the map"),
        html.Div(id=ids.COMMANDERS.PANEL_META, className="panel-meta"),
        html.Div([
            html.Button("Brief (printable HTML)", id=ids.COMMANDERS.BRIEF_HTML, n_clicks=0,
                        className="button", disabled=True),
            html.Button("Brief data (CSV)", id=ids.COMMANDERS.BRIEF_CSV, n_clicks=0, className="button",
                        disabled=True),
            dcc.Download(id=ids.COMMANDERS.DOWNLOAD_HTML), dcc.Download(id=ids.COMMANDERS.DOWNLOAD_CSV),
        ], className="row"),
        dcc.Graph(id=ids.COMMANDERS.TREND, config=small, style={"height": "200px"}),
        dcc.Graph(id=ids.COMMANDERS.CATS_CHART, config=small),
        html.H4("Status history"),
        _table(ids.COMMANDERS.STATUS, [("month", "Month"), ("status", "Status"), ("count", "Incidents"),
                            ("why", "Why")], page_size=6),
        html.H4("Cameras in the mahalla"),
        _table(ids.COMMANDERS.CAMERAS, [("camera_id", "Camera"), ("type", "Type"), ("status", "Status"),
                             ("range_m", "Range (m)")], page_size=5),
        html.H4("Incidents"),
        dash_table.DataTable(
            id=ids.COMMANDERS.INCIDENTS, page_action="custom", page_current=0, page_size=10,
            columns=[{"name": n, "id": i} for i, n in (
                ("incident_id", "Id"), ("occurred_at", "When (local)"),
                ("category", "Category"), ("geocode_precision", "Located by"))],
            data=[], style_table={"overflowX": "auto"}, style_cell=_CELL,
            style_header=_HEADER),
    ], id=ids.COMMANDERS.PANEL, className="panel")


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
        html.P("Red and newly red mahallas at the last month of the window. Select rows to "
               "outline them on the map; sort by any column.", className="note"),
        dash_table.DataTable(
            id=ids.COMMANDERS.REDLIST, sort_action="native", row_selectable="multi", selected_rows=[],
            page_size=15,
            columns=[{"name": n, "id": i} for i, n in (
                ("name", "Mahalla"), ("district", "District"), ("status", "Status"),
                ("count", "12 mo"), ("rate_per_1000", "/1,000"),
                ("gi_z", "Gi* z"))],
            data=[], style_cell=_CELL, style_header=_HEADER, style_table={"overflowX": "auto"},
            style_data_conditional=[{"if": {"filter_query": '{status} = "newly red"'},
                                     "backgroundColor": "#fde0dc", "fontWeight": "600"}],
            tooltip_duration=None),
    ], className="panel")


def _evaluation() -> html.Div:
    return html.Div([
        dcc.Loading(html.Div([
            html.P(id=ids.COMMANDERS.EVAL_TEXT, className="note",
                   children="Open this tab to compare forecasting methods for the region."),
            dcc.Graph(id=ids.COMMANDERS.EVAL_CHART, config={"displaylogo": False,
                                                 "displayModeBar": False}),
        ])),
    ], className="panel")


def _field(label: str, control: Any) -> html.Div:
    return html.Div([html.Label(label, className="field-label"), control], className="field")
