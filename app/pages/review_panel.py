"""The commanders' "Review pack" tab: make a region's monthly, quarterly or half-year pack as
a background job, download it (HTML, PDF), and re-open the packs kept earlier.

Layout only (the callbacks are :mod:`riskmap.app.callbacks.review`). Not a page of its own:
:func:`review_panel` is a tab of the commanders' page.
"""

from __future__ import annotations

from datetime import date

from dash import dash_table, dcc, html

from riskmap.app import ids
from riskmap.i18n import N_, translate
from riskmap.i18n import gettext as _

__all__ = ["KINDS", "POLL_MS", "periods_with_data", "review_panel"]

_IDS = ids.REVIEW
#: how often the page asks about a running pack, ms
POLL_MS = 700
#: the kinds of period: value -> label
KINDS = {"month": N_("Month"), "quarter": N_("Quarter"), "half": N_("Half-year")}
_CELL = {"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif",
         "fontSize": "0.78rem", "padding": "2px 6px", "textAlign": "left",
         "whiteSpace": "normal", "height": "auto"}
_HEADER = {"fontWeight": "600", "backgroundColor": "#f4f4f1"}


def periods_with_data(months: list[date], kind: str) -> list[str]:
    """The periods of ``kind`` (``month``, ``quarter``, ``half``) that hold any of ``months``,
    newest first, as :func:`riskmap.geo.review.parse_period` reads them.

    Examples
    --------
    >>> ms = [date(2024, 12, 1), date(2025, 1, 1), date(2025, 4, 1)]
    >>> periods_with_data(ms, "month")
    ['2025-04', '2025-01', '2024-12']
    >>> periods_with_data(ms, "quarter"), periods_with_data(ms, "half")
    (['2025-Q2', '2025-Q1', '2024-Q4'], ['2025-H1', '2024-H2'])
    >>> periods_with_data([], "month"), periods_with_data(ms, "decade")
    ([], [])
    """
    if kind == "month":
        labels = [f"{m.year}-{m.month:02d}" for m in months]
    elif kind == "quarter":
        labels = [f"{m.year}-Q{(m.month - 1) // 3 + 1}" for m in months]
    elif kind == "half":
        labels = [f"{m.year}-H{1 if m.month <= 6 else 2}" for m in months]
    else:
        return []
    return sorted(set(labels), reverse=True)


def review_panel() -> html.Div:
    """The tab's controls: period kind and period, Make, the job's progress, the downloads,
    and the table of packs kept earlier (filled by the callbacks)."""
    button = {"marginRight": "0.4rem"}
    return html.Div([
        html.P(_("The programme's review pack of the region: headline figures against the "
                 "previous period and last year, crime-free and red mahallas, categories, "
                 "maps and forecast quality. It is made in the background and kept, so it "
                 "opens again as it was."), className="note"),
        html.P(id=_IDS.REGION, className="summary", role="status"),
        dcc.RadioItems(id=_IDS.KIND, value="month", className="radio-list",
                       options=[{"label": " " + translate(v), "value": k}
                                for k, v in KINDS.items()]),
        dcc.Dropdown(id=_IDS.PERIOD, options=[], value=None, clearable=False,
                     placeholder=_("Period")),
        html.Div([
            html.Button(_("Make the review pack"), id=_IDS.MAKE, n_clicks=0,
                        className="button", style=button),
        ], className="row"),
        html.P(id=_IDS.MESSAGE, className="summary", role="status"),
        html.Div([
            html.Progress(id=_IDS.PROGRESS_BAR, value="0", max="1", style={"width": "100%"}),
            html.P(id=_IDS.PROGRESS_TEXT, className="summary", role="status"),
            html.Button(_("Cancel"), id=_IDS.CANCEL, n_clicks=0, disabled=True,
                        className="button"),
        ], id=_IDS.PROGRESS, hidden=True),
        html.P(id=_IDS.PACK_TEXT, className="summary", role="status"),
        html.Div([
            html.Button(_("Download HTML"), id=_IDS.OPEN_HTML, n_clicks=0, disabled=True,
                        className="button", style=button),
            html.Button(_("Download PDF"), id=_IDS.OPEN_PDF, n_clicks=0, disabled=True,
                        className="button", style=button),
        ], className="row"),
        html.H4(_("Packs kept earlier")),
        html.P(_("Select a pack to download it again as it was made."), className="note"),
        html.Button(_("Refresh"), id=_IDS.PACKS_REFRESH, n_clicks=0, className="button"),
        dash_table.DataTable(
            id=_IDS.PACKS, row_selectable="single", selected_rows=[], page_size=8, data=[],
            columns=[{"name": n, "id": i} for i, n in (
                ("region", "Region"), ("period", "Period"), ("generated", "Made (UTC)"),
                ("owner", "By"))],
            style_cell=_CELL, style_header=_HEADER, style_table={"overflowX": "auto"}),
        dcc.Download(id=_IDS.DOWNLOAD),
        dcc.Store(id=_IDS.JOB),  # {"job_id": ...} of the pack being made
        dcc.Store(id=_IDS.PACK),  # {"pack_id": ...} of the pack offered (read on the server)
        dcc.Interval(id=_IDS.POLL, interval=POLL_MS, disabled=True, n_intervals=0),
    ], className="panel")
