"""The one-click mahalla brief: a CSV of its incidents and a printable, self-contained HTML page.

Both are pure functions of a :class:`Brief` (frames in, text out). The HTML embeds its CSS and
draws the monthly trend as inline SVG: it references nothing outside itself (no scripts, no
fonts, no images fetched), so it opens and prints offline.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskmap.csvsafe import to_csv
from riskmap.i18n import N_, current_language, format_decimal, format_number, ngettext
from riskmap.i18n import gettext as _
from riskmap.i18n.names import column_header, column_label, display_name

__all__ = ["BRIEF_CSS", "Brief", "brief_csv", "brief_filename", "brief_html", "html_table",
           "trend_svg"]

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;color:#222;
margin:2rem;max-width:60rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem;
border-bottom:1px solid #ccc}
.meta{color:#555;margin:0 0 1rem}.badge{display:inline-block;padding:.1rem .5rem;
border-radius:999px;font-weight:600}
.red{background:#f8d0cc;color:#8a1c12}.yellow{background:#fdf1c2;color:#6b4a00}
.green{background:#d3ecd5;color:#1d5a24}
table{border-collapse:collapse;width:100%;font-size:.85rem}th,td{border:1px solid #ddd;
padding:.2rem .4rem;text-align:left;vertical-align:top}th{background:#f4f4f1}
td.num{text-align:right}.note{color:#666;font-size:.8rem}
@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}
"""


@dataclass
class Brief:
    """What a brief holds (built by the app from the store, read with purpose ``"brief"``).

    Attributes
    ----------
    mahalla
        ``mahalla_id``, ``name``, ``district``, ``region``, ``population`` (None: unknown).
    window
        Human-readable period and filters, e.g. ``"2025-01-01 – 2025-06-30, all categories"``.
    incidents
        ``incident_id, occurred_at (local text), category, geocode_precision, flags``.
    months, monthly
        Month labels (``"2025-01"``) and incidents per month.
    categories
        ``category, count``.
    status
        ``month, status, count, why`` (newest first).
    cameras
        ``camera_id, type, status, range_m``.
    generated
        Time stamp and user shown in the footer.
    demo
        The data is synthetic (a banner says so).
    """

    mahalla: dict[str, Any]
    window: str
    incidents: pd.DataFrame
    months: list[str] = field(default_factory=list)
    monthly: list[int] = field(default_factory=list)
    categories: pd.DataFrame = field(default_factory=pd.DataFrame)
    status: pd.DataFrame = field(default_factory=pd.DataFrame)
    cameras: pd.DataFrame = field(default_factory=pd.DataFrame)
    generated: str = ""
    demo: bool = False


def brief_filename(brief: Brief, ext: str) -> str:
    """A safe file name: ``brief-<mahalla_id>.<ext>``.

    Examples
    --------
    >>> brief_filename(Brief({"mahalla_id": "JZ/01 a"}, "", pd.DataFrame()), "html")
    'brief-JZ-01-a.html'
    """
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in str(brief.mahalla["mahalla_id"]))
    return f"brief-{safe}.{ext}"


def brief_csv(brief: Brief) -> str:
    """The incidents of the brief as CSV, each row carrying the mahalla id, name and district.

    The headers are the column ids in English (or with no language set), the machine-readable
    form other systems read; in another language they are the columns' translated names
    (:func:`riskmap.i18n.names.column_header`).

    Examples
    --------
    >>> b = Brief({"mahalla_id": "M1", "name": "Navro'z", "district": "D"}, "",
    ...           pd.DataFrame({"incident_id": ["I1"], "category": ["theft"]}))
    >>> print(brief_csv(b).strip())
    mahalla_id,mahalla,district,incident_id,category
    M1,Navro'z,D,I1,theft
    """
    m = brief.mahalla
    out = pd.DataFrame({"mahalla_id": [m.get("mahalla_id")] * len(brief.incidents),
                        "mahalla": [m.get("name")] * len(brief.incidents),
                        "district": [m.get("district")] * len(brief.incidents)})
    out = pd.concat([out, brief.incidents.reset_index(drop=True)], axis=1)
    out.columns = [column_header(c) for c in out.columns]
    buf = io.StringIO()
    to_csv(out, buf)  # formula cells neutralised
    return buf.getvalue()


def trend_svg(months: list[str], counts: list[int], *, width: int = 640,
              height: int = 160) -> str:
    """Inline SVG bar chart of monthly counts (empty string when there are no months).

    Examples
    --------
    >>> svg = trend_svg(["2025-01", "2025-02"], [1, 3])
    >>> svg.count("<rect"), 'height="120.0"' in svg
    (2, True)
    """
    if not months:
        return ""
    top, bottom, left = 10, 30, 30
    plot_h = height - top - bottom
    peak = max(max(counts), 1)
    bar_w = (width - left) / len(months)
    parts = [f'<svg width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(_("Incidents per month"))}">',
             f'<text x="0" y="{top + 8}" font-size="10">{peak}</text>',
             f'<text x="0" y="{top + plot_h}" font-size="10">0</text>']
    for i, (label, c) in enumerate(zip(months, counts, strict=True)):
        h = plot_h * c / peak
        x = left + i * bar_w
        parts.append(f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" '
                     f'width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}" fill="#bd0026">'
                     f"<title>{html.escape(label)}: {c}</title></rect>")
        if len(months) <= 12 or i % max(1, len(months) // 12) == 0:
            parts.append(f'<text x="{x + 1:.1f}" y="{height - 12}" font-size="9">'
                         f"{html.escape(label)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _table(frame: pd.DataFrame, *, empty: str, limit: int | None = None) -> str:
    if frame is None or frame.empty:
        return f'<p class="note">{html.escape(empty)}</p>'
    shown = frame if limit is None else frame.head(limit)
    head = "".join(f"<th>{html.escape(column_label(c))}</th>" for c in shown.columns)
    rows = []
    for rec in shown.itertuples(index=False):
        cells = []
        for v in rec:
            num = isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
            text = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
            if isinstance(v, float | np.floating) and np.isfinite(v):
                text = format_decimal(float(v), 2)
            elif num and not isinstance(v, float | np.floating):
                text = format_number(int(v))
            cls = ' class="num"' if num else ""
            cells.append(f"<td{cls}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    note = ('<p class="note">' + html.escape(
                _("First {limit} of {total} rows; the CSV has them all.").format(
                    limit=format_number(limit), total=format_number(len(frame)))) + "</p>"
            if limit is not None and len(frame) > limit else "")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{note}"


def brief_html(brief: Brief, *, max_incidents: int = 200) -> str:
    """A printable, self-contained HTML brief of one mahalla.

    Parameters
    ----------
    brief
        The content.
    max_incidents
        Incidents listed (the newest first); the CSV carries all of them.

    Returns
    -------
    str
        A complete HTML document with embedded CSS and SVG (no external references).
    """
    m = brief.mahalla
    e = html.escape
    pop = m.get("population")
    pop_text = (format_number(pop) if isinstance(pop, int | float) and np.isfinite(pop)
                else _("unknown"))
    status_now = ""
    status = _shown_status(brief.status)
    if status is not None and not status.empty:
        s = str(brief.status["status"].iloc[0])
        status_now = (f'<p>{e(_("Status"))} {e(str(status["month"].iloc[0]))}: '
                      f'<span class="badge {e(s)}">{e(str(status["status"].iloc[0]))}</span> '
                      f'{e(str(status["why"].iloc[0]))}</p>')
    banner = (f'<p class="badge yellow">{e(_("Synthetic demo data: not real incidents."))}</p>'
              if brief.demo else "")
    total = len(brief.incidents)
    incidents = ngettext("{n} incident", "{n} incidents", total).format(
        n=f"<b>{format_number(total)}</b>")
    categories = brief.categories
    if categories is not None and "category" in categories:
        categories = categories.assign(category=[display_name(c) for c in categories["category"]])
    listed = brief.incidents
    if listed is not None and "category" in listed:
        listed = listed.assign(category=[display_name(c) for c in listed["category"]])
    body = [
        banner,
        f"<h1>{e(_('{name} mahalla').format(name=m.get('name')))}</h1>",
        f'<p class="meta">{e(str(m.get("district")))}, {e(str(m.get("region")))} · '
        + e(_("id {id} · population {population}").format(id=m.get("mahalla_id"),
                                                            population=pop_text)) + "</p>",
        f"<p>{incidents} · {e(brief.window)}</p>",
        status_now,
        f"<h2>{e(_('Incidents per month'))}</h2>",
        trend_svg(brief.months, brief.monthly) or f'<p class="note">{e(_("No months."))}</p>',
        f"<h2>{e(_('By category'))}</h2>",
        _table(categories, empty=_("No incidents in the period.")),
        f"<h2>{e(_('Status history'))}</h2>",
        _table(status, empty=_("No status history (run riskmap build).")),
        f"<h2>{e(_('Cameras in the mahalla'))}</h2>",
        _table(brief.cameras, empty=_("No cameras recorded in this mahalla.")),
        f"<h2>{e(_('Incidents'))}</h2>",
        _table(listed, empty=_("No incidents in the period."), limit=max_incidents),
        '<p class="note">' + e(_("Generated {when} by riskmap. Police data: handle according "
                                 "to your access rules.").format(when=brief.generated)) + "</p>",
    ]
    title = e(_("Brief: {name} ({id})").format(name=m.get("name"), id=m.get("mahalla_id")))
    lang = (current_language() or "en").split("_")[0]
    return (f"<!DOCTYPE html>\n<html lang=\"{e(lang)}\"><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{_CSS}</style></head><body>"
            + "\n".join(p for p in body if p) + "</body></html>\n")


#: texts translated inside f-strings above, which ``pybabel extract`` does not see
_MARKED = (N_("Synthetic demo data: not real incidents."), N_("{name} mahalla"),
           N_("No months."), N_("By category"))


def _shown_status(status: pd.DataFrame | None) -> pd.DataFrame | None:
    """The status history with its statuses and stored reasons in the reader's language
    (as stored when no language is set)."""
    if status is None or status.empty or current_language() is None:
        return status
    from riskmap.i18n.why import render_why

    out = status.copy()
    if "status" in out:
        out["status"] = [display_name(v) for v in out["status"]]
    if "why" in out:
        out["why"] = render_why(out["why"])
    return out


#: the brief's style and table, shared with the review pack (:mod:`riskmap.app.review_pack`)
BRIEF_CSS = _CSS
html_table = _table
