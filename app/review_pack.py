"""The review pack as a printable, self-contained HTML page (and a PDF printed from it).

:func:`review_html` renders a :class:`riskmap.etl.review_pack.ReviewPack`: inline CSS (the
brief's, :data:`riskmap.app.brief.BRIEF_CSS`, plus page breaks), maps drawn as inline SVG from
the mahalla polygons, tables from :func:`riskmap.app.brief.html_table`; nothing is fetched.
Every name from the data is escaped. Each section starts on a new printed page, in the order of
:data:`SECTIONS`. :func:`print_pdf` prints the page with headless Chromium.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import shapely

from riskmap.app.brief import BRIEF_CSS, html_table, trend_svg
from riskmap.app.focus import focus_label
from riskmap.auth.roles import SUPPRESS_BELOW
from riskmap.errors import ConfigError
from riskmap.i18n import (
    N_,
    current_language,
    format_decimal,
    format_number,
    format_percent,
    human_date,
    month_name,
    translate,
)
from riskmap.i18n import gettext as _
from riskmap.i18n.names import display_name
from riskmap.i18n.why import render_why

__all__ = ["SECTIONS", "find_chromium", "mahalla_map_svg", "period_label", "print_pdf",
           "review_html"]

#: the pack's sections, each on its own printed page(s), in this order
SECTIONS = (N_("Summary"), N_("Crime-free mahallas"), N_("Red mahallas"), N_("Categories"),
            N_("Drugs and cybercrime"), N_("Maps"), N_("Forecast quality"))
_CSS = BRIEF_CSS + """
.pagebreak{break-before:page}h2.section{font-size:1.3rem;border-bottom:2px solid #444}
.kpi{display:inline-block;border:1px solid #ccc;border-radius:6px;padding:.4rem .8rem;
margin:0 .5rem .5rem 0;min-width:9rem}.kpi b{display:block;font-size:1.4rem}
.up{color:#8a1c12}.down{color:#1d5a24}.legend span{display:inline-block;width:.9rem;
height:.9rem;margin:0 .25rem 0 .75rem;vertical-align:middle;border:1px solid #999}
.cols{columns:3;font-size:.8rem}.cols li{break-inside:avoid}figure{margin:0 0 1rem;
break-inside:avoid}figcaption{font-weight:600;margin:.25rem 0}
@page{size:A4;margin:14mm}
@media print{.pagebreak{break-before:page}figure{break-inside:avoid}}
"""
_STATUS_FILL = {"red": "#e31a1c", "yellow": "#fecc5c", "green": "#74c476"}
_GI_FILL = {"hot_99": "#b10026", "hot_95": "#e31a1c", "hot_90": "#fd8d3c",
            "cold_99": "#08519c", "cold_95": "#3182bd", "cold_90": "#9ecae1"}
_NO_DATA = "#eeeeee"


# ---- maps ------------------------------------------------------------------------------------

def mahalla_map_svg(geometry: np.ndarray, fills: np.ndarray, titles: np.ndarray, *,
                    width: int = 640, label: str = "map") -> str:
    """An inline SVG map: one ``<path>`` per mahalla, filled, with a tooltip title.

    Coordinates are lon/lat scaled by the cosine of the middle latitude; polygons are
    simplified to about a pixel. Missing or empty geometries are left out.

    Examples
    --------
    >>> svg = mahalla_map_svg(np.array([shapely.box(0, 0, 1, 1), None], dtype=object),
    ...                       np.array(["#f00", "#0f0"]), np.array(["A<1>", "B"]))
    >>> svg.count("<path"), "A&lt;1&gt;" in svg
    (1, True)
    >>> mahalla_map_svg(np.array([], dtype=object), np.array([]), np.array([]))
    ''
    """
    geoms = np.asarray(geometry, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) if len(geoms) else np.zeros(0, bool)
    if not ok.any():
        return ""
    pos = np.flatnonzero(ok)
    x0, y0, x1, y1 = shapely.total_bounds(geoms[pos])
    kx = np.cos(np.radians((y0 + y1) / 2))
    span_x, span_y = max((x1 - x0) * kx, 1e-9), max(y1 - y0, 1e-9)
    scale = (width - 4) / span_x
    height = int(np.ceil(span_y * scale)) + 4
    simple = shapely.simplify(geoms[pos], 0.8 / scale)
    parts, part_owner = shapely.get_parts(simple, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    owners = part_owner[ring_part]
    if len(coords) == 0:
        return ""
    px = 2 + (coords[:, 0] - x0) * kx * scale
    py = 2 + (y1 - coords[:, 1]) * scale
    pts = np.char.add(np.char.add(np.char.mod("%.1f", px), ","), np.char.mod("%.1f", py))
    splits = np.flatnonzero(np.diff(ring_idx)) + 1
    ring_text = ["M" + " L".join(chunk) + "Z" for chunk in np.split(pts, splits)]
    ring_of = np.asarray(owners)[np.unique(ring_idx)]
    d = [""] * len(pos)
    for r, owner in zip(ring_text, ring_of, strict=True):
        d[owner] += r
    out = [f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="{html.escape(label)}">']
    for k, i in enumerate(pos):
        if d[k]:
            out.append(f'<path d="{d[k]}" fill="{html.escape(str(fills[i]))}" '
                       'fill-rule="evenodd" stroke="#666" stroke-width="0.4">'
                       f"<title>{html.escape(str(titles[i]))}</title></path>")
    out.append("</svg>")
    return "".join(out)


def _legend(items: list[tuple[str, str]]) -> str:
    return ('<p class="legend note">' + "".join(
        f'<span style="background:{c}"></span>{html.escape(t)}' for c, t in items) + "</p>")


def _change_fill(now: np.ndarray, before: np.ndarray) -> np.ndarray:
    diff = now.astype(float) - before.astype(float)
    bins = np.array(["#2166ac", "#92c5de", "#f7f7f7", "#f4a582", "#b2182b"], dtype=object)
    k = np.digitize(diff, [-2.5, -0.5, 0.5, 2.5])
    out = bins[k]
    out[(now == 0) & (before == 0)] = _NO_DATA
    return out


def _coverage_fill(pct: np.ndarray) -> np.ndarray:
    bins = np.array(["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"], dtype=object)
    out = bins[np.digitize(np.nan_to_num(pct, nan=0.0), [0.01, 5, 20, 50])]
    out[~np.isfinite(pct)] = _NO_DATA
    return out


# ---- the page --------------------------------------------------------------------------------

def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _n(value: Any) -> str:
    """A count with the locale's grouping."""
    return format_number(int(value))


def _english() -> bool:
    return current_language() in (None, "en")


def period_label(period: Any) -> str:
    """A period in the reader's words (``2025-yil 2-chorak``, ``2-й квартал 2025``); English
    and no language: its code (``2025-Q2``), as the JSON and the pack's id write it.

    Examples
    --------
    >>> from riskmap.geo.review import parse_period
    >>> from riskmap.i18n import use_language
    >>> period_label(parse_period("2025-Q2"))
    '2025-Q2'
    >>> with use_language("ru"):
    ...     period_label(parse_period("2025-Q2")), period_label(parse_period("2025-06"))
    ('2-й квартал 2025', 'Июнь 2025')
    """
    if _english():
        return str(period.label)
    if period.kind == "month":
        return _("{month} {year}").format(month=month_name(period.first_month),
                                          year=period.year)
    if period.kind == "quarter":
        return _("Q{quarter} {year}").format(quarter=(period.first_month - 1) // 3 + 1,
                                             year=period.year)
    return _("H{half} {year}").format(half=(period.first_month - 1) // 6 + 1, year=period.year)


def _count_text(value: Any) -> str:
    """A focus-group count as ``geo.review`` writes it (``1,234`` or ``< 5``) in the locale."""
    text = str(value).strip()
    if text.startswith("<"):
        return "< " + _n(text[1:].strip()) if text[1:].strip().isdigit() else text
    digits = text.replace(",", "")
    return _n(digits) if digits.isdigit() else text


def _change(now: int, before: int) -> str:
    if before == 0:
        return _e(_("n/a")) if now == 0 else _e(_("new"))
    pct = 100.0 * (now - before) / before
    cls = "up" if pct > 0 else "down" if pct < 0 else ""
    sign = "+" if pct > 0 else "-" if pct < 0 else "±"
    return f'<span class="{cls}">{sign}{_e(format_percent(abs(pct) / 100))}</span>'


def _section(title: str, first: bool = False) -> str:
    cls = "section" if first else "section pagebreak"
    return f'<h2 class="{cls}">{_e(translate(title))}</h2>'


def _names(m: pd.DataFrame, ids: list[str]) -> pd.DataFrame:
    return m.set_index("mahalla_id").loc[ids].reset_index()


def _summary(pack: Any, js: dict[str, Any]) -> list[str]:
    f = pack.figures
    now, prev, last = (period_label(p) for p in (f.period, f.period.previous(),
                                                 f.period.last_year()))
    rows = pd.DataFrame({
        "": [_("Incidents"), _("Crime-free mahallas"), _("Red mahallas")],
        now: [f.incidents, js["crime_free_mahallas"], js["red_count"]],
        # red a year before is not computed (the rule is applied to this and the previous
        # period only); text cells keep the column from turning into floats
        _("previous ({period})").format(period=prev): [
            f.incidents_previous_period, int((f.mahallas["count_previous"] == 0).sum()),
            len(f.red_left) + len(f.red_still)],
        _("a year before ({period})").format(period=last): [
            f.incidents_same_period_last_year, int((f.mahallas["count_last_year"] == 0).sum()),
            _("n/a")],
    })
    kpis = [
        (_("Incidents"), _n(f.incidents),
         _("{change} on {previous}, {change_year} on {year_before}").format(
             change=_change(f.incidents, f.incidents_previous_period), previous=_e(prev),
             change_year=_change(f.incidents, f.incidents_same_period_last_year),
             year_before=_e(last))),
        (_("Crime-free mahallas"), _("{n} of {total}").format(
            n=_n(js["crime_free_mahallas"]), total=_n(js["mahallas"])),
         _e(_("no recorded crime in the period"))),
        (_("Red mahallas"), _n(js["red_count"]),
         _e(_("{new} new, {still} still red, {left} left").format(
             new=_n(len(f.red_new)), still=_n(len(f.red_still)), left=_n(len(f.red_left))))),
    ]
    out = ['<div>' + "".join(f'<div class="kpi">{_e(t)}<b>{_e(v)}</b>'
                             f'<span class="note">{sub}</span></div>'
                             for t, v, sub in kpis) + "</div>",
           html_table(rows, empty=_("No figures.")),
           "<h3>" + _e(_("Incidents per month (the 12 months to the period's end)")) + "</h3>",
           trend_svg(f.monthly["month"].tolist(), f.monthly["count"].astype(int).tolist())]
    st = f.mahallas["status"].fillna("green").astype(str).to_numpy()
    fills = np.array([_STATUS_FILL.get(s, _NO_DATA) for s in st], dtype=object)
    titles = (f.mahallas["name"].astype(str) + " (" + f.mahallas["mahalla_id"].astype(str)
              + "): " + pd.Series(render_why(f.mahallas["why"].fillna("")),
                                  index=f.mahallas.index)).to_numpy()
    out += ["<figure><figcaption>" + _e(_("Status in the period")) + "</figcaption>",
            mahalla_map_svg(f.geometry, fills, titles, width=620, label=_("status map")),
            _legend([(_STATUS_FILL["red"], display_name("red")),
                     (_STATUS_FILL["yellow"], display_name("yellow")),
                     (_STATUS_FILL["green"], _("green (crime-free)"))]), "</figure>"]
    return out


def _crime_free(pack: Any) -> list[str]:
    f = pack.figures
    if not f.crime_free:
        return [f'<p class="note">{_e(_("No mahalla was free of recorded crime in the period."))}'
                "</p>"]
    m = _names(f.mahallas, f.crime_free).sort_values(["district", "name"], kind="stable")
    items = "".join(f"<li>{_e(n)} <span class='note'>({_e(i)}, {_e(d)})</span></li>"
                    for n, i, d in zip(m["name"], m["mahalla_id"], m["district"], strict=True))
    was = int((f.mahallas["count_previous"] == 0).sum())
    text = _("{n} of {total} mahallas had no recorded crime in {period} (previous period: "
             "{previous}).").format(n=f"<b>{_n(len(f.crime_free))}</b>",
                                    total=_n(len(f.mahallas)), period=_e(period_label(f.period)),
                                    previous=_n(was))
    return [f"<p>{text}</p>", f'<ul class="cols">{items}</ul>']


#: a roadmap's status (geo/roadmap.py) in words
_ROADMAP_STATUS = {"open": N_("open"), "closed": N_("closed")}
#: the red lists of the pack
_RED_LISTS = (N_("Newly red"), N_("Still red"), N_("No longer red"))


def _red(pack: Any) -> list[str]:
    f = pack.figures
    out = ['<p class="note">' + _e(_(
        "The status rule applied to the period's own data: a window of {months} month(s) "
        "ending with the period, red = a Gi* hot spot at {confidence}% (FDR) among the "
        "region's mahallas or the top {top}% by rate per 1,000 residents, with at least one "
        "incident. The roadmap column shows the mahalla's roadmap (open, else the latest) "
        "and its measures done; the responsible official is the sector leader it names.")
        .format(months=f.rule.window_months, confidence=f.rule.gi_confidence,
                top=format_decimal(f.rule.top_share * 100, 0 if float(
                    f.rule.top_share * 100).is_integer() else 1))) + "</p>"]
    for title, ids in zip(_RED_LISTS, (f.red_new, f.red_still, f.red_left), strict=True):
        out.append(f"<h3>{_e(translate(title))} ({_n(len(ids))})</h3>")
        if not ids:
            out.append(f'<p class="note">{_e(_("None."))}</p>')
            continue
        m = _names(f.mahallas, ids).sort_values("count", ascending=False, kind="stable")
        table = pd.DataFrame({
            _("Mahalla"): m["name"].astype(str) + " (" + m["mahalla_id"].astype(str) + ")",
            _("District"): m["district"], _("Incidents"): m["count"].astype(int),
            _("Before"): m["count_previous"].astype(int),
            _("Why"): render_why(m["why"].fillna("") if title == _RED_LISTS[2] else m["why"]),
            _("Roadmap"): [_roadmap_text(pack, i) for i in m["mahalla_id"]],
            _("Responsible"): [_responsible(pack, i) for i in m["mahalla_id"]]})
        out.append(html_table(table, empty=_("None.")))
    return out


def _roadmap_of(pack: Any, mahalla_id: Any) -> Any:
    table = getattr(pack, "roadmaps", None)
    if table is None or mahalla_id not in table.index:
        return None
    return table.loc[mahalla_id]


def _roadmap_text(pack: Any, mahalla_id: Any) -> str:
    """``open: 2 of 5 measures done (40%), 1 overdue`` (escaped by the table), or none."""
    r = _roadmap_of(pack, mahalla_id)
    if r is None:
        return _("no roadmap recorded")
    status = str(r["status"])
    status = translate(_ROADMAP_STATUS[status]) if status in _ROADMAP_STATUS else status
    share = "" if pd.isna(r["progress"]) else f" ({format_percent(float(r['progress']))})"
    late = (_(", {n} overdue").format(n=_n(r["overdue"])) if int(r["overdue"]) else "")
    return _("{status}: {done} of {total} measures done").format(
        status=status, done=_n(r["done"]), total=_n(r["total"])) + share + late


def _responsible(pack: Any, mahalla_id: Any) -> str:
    r = _roadmap_of(pack, mahalla_id)
    if r is None or pd.isna(r["official_name"]) or not str(r["official_name"]).strip():
        return _("not recorded")
    phone = "" if pd.isna(r["official_phone"]) else f", {r['official_phone']}"
    return f"{r['official_name']}{phone}"


def _three_periods(f: Any) -> tuple[str, str, str]:
    return (period_label(f.period), _("previous"), _("a year before"))


def _categories(pack: Any) -> list[str]:
    f = pack.figures
    cats = f.by_category[(f.by_category[["count", "count_previous", "count_last_year"]]
                          .sum(axis=1) > 0).to_numpy()]
    now, prev, last = _three_periods(f)
    table = pd.DataFrame({_("Category"): [display_name(c) for c in cats["category"]],
                          now: cats["count"], prev: cats["count_previous"],
                          last: cats["count_last_year"]})
    return ["<h3>" + _e(_("Top categories")) + "</h3>", html_table(table, empty=_("No incidents.")),
            *_focus_groups(pack)]


def _focus_groups(pack: Any) -> list[str]:
    """Incidents per focus group (minors, youth, women, family, repeat, probation)."""
    groups = getattr(pack.figures, "focus_groups", None)
    head = "<h3>" + _e(_("Focus groups")) + "</h3>"
    if groups is None:
        return [head, '<p class="note">' + _e(_(
            "The data hold no focus-group fields (victim or offender sex and age, family "
            "context, repeat offender), so this section is left out.")) + "</p>"]
    f = pack.figures
    now, prev, last = _three_periods(f)
    table = pd.DataFrame({_("Group"): [focus_label(g) for g in groups["group"]],
                          now: [_count_text(v) for v in groups["count"]],
                          prev: [_count_text(v) for v in groups["count_previous"]],
                          last: [_count_text(v) for v in groups["count_last_year"]]})
    return [head, html_table(table, empty=_("No incidents.")),
            '<p class="note">' + _e(_(
                "Counted among the incidents whose source records the field; an incident may "
                "be in several groups. Counts below {n} are shown as < {n}.").format(
                    n=SUPPRESS_BELOW)) + "</p>"]


def _focus(pack: Any) -> list[str]:
    f = pack.figures
    out = []
    names = f.mahallas.set_index("mahalla_id")["name"]
    for cat, got in f.focus.items():
        out.append(f"<h3>{_e(display_name(cat))}</h3>")
        out.append("<p>" + _("{count} in {period} · previous {previous} ({change}) · a year "
                             "before {year_before}").format(
            count=f"<b>{_n(got['count'])}</b>", period=_e(period_label(f.period)),
            previous=_n(got["count_previous"]),
            change=_change(got["count"], got["count_previous"]),
            year_before=_n(got["count_last_year"])) + "</p>")
        top = pd.DataFrame(got["top"], columns=["mahalla_id", "count"])
        if len(top):
            top.insert(1, "mahalla", names.reindex(top["mahalla_id"]).to_numpy())
        out.append(html_table(top, empty=_("No such incidents in the period.")))
    if "cybercrime" in f.focus:
        out.append('<p class="note">' + _e(_(
            "Cybercrime and fraud have no place of occurrence: they are counted at the "
            "victim's home mahalla.")) + "</p>")
    return out


def _maps(pack: Any) -> list[str]:
    f = pack.figures
    m = f.mahallas
    name = (m["name"].astype(str) + " (" + m["mahalla_id"].astype(str) + ")").to_numpy()
    gi = m["gi_class"].fillna("not_significant").astype(str).to_numpy()
    gi_fill = np.array([_GI_FILL.get(c, "#f7f7f7") for c in gi], dtype=object)
    incidents = _("{n} incidents, Gi* {gi_class}")
    gi_title = name + ": " + np.array(
        [incidents.format(n=_n(c), gi_class=display_name(g)) for c, g in zip(
            m["count"], gi, strict=True)], dtype=object)
    now, before = m["count"].to_numpy(), m["count_previous"].to_numpy()
    tr_title = name + ": " + np.array([f"{_n(b)} → {_n(c)}" for b, c in zip(
        before, now, strict=True)], dtype=object)
    out = ["<figure><figcaption>" + _e(_("Hot spots (Gi* of the period's counts, FDR)"))
           + "</figcaption>",
           mahalla_map_svg(f.geometry, gi_fill, gi_title, width=600, label=_("hot spot map")),
           _legend([(_GI_FILL["hot_99"], display_name("hot_99")),
                    (_GI_FILL["hot_95"], display_name("hot_95")),
                    (_GI_FILL["hot_90"], display_name("hot_90")),
                    ("#f7f7f7", display_name("not_significant")),
                    (_GI_FILL["cold_95"], _("cold spot"))]), "</figure>",
           "<figure><figcaption>" + _e(_("Trend: incidents against {period}").format(
               period=period_label(f.period.previous()))) + "</figcaption>",
           mahalla_map_svg(f.geometry, _change_fill(now, before), tr_title, width=600,
                           label=_("trend map")),
           _legend([("#2166ac", _("3+ fewer")), ("#92c5de", _("1-2 fewer")),
                    ("#f7f7f7", _("same")), ("#f4a582", _("1-2 more")),
                    ("#b2182b", _("3+ more")), (_NO_DATA, _("none"))]),
           "</figure>"]
    if pack.coverage is None:
        out.append('<p class="note">' + _e(_(
            "Camera coverage map: no coverage figures in the store (run {command}).")).format(
                command="<code>riskmap build --only coverage</code>") + "</p>")
    else:
        pct = pd.to_numeric(pack.coverage.reindex(m["mahalla_id"].to_numpy()),
                            errors="coerce").to_numpy(dtype=float)
        covered = _("{share} of the area under a camera")
        cov_title = name + ": " + np.array(
            [covered.format(share=format_percent(p / 100, 1)) if np.isfinite(p) else _("n/a")
             for p in pct], dtype=object)
        out += ["<figure><figcaption>"
                + _e(_("Camera coverage (share of the area covered)")) + "</figcaption>",
                mahalla_map_svg(f.geometry, _coverage_fill(pct), cov_title, width=600,
                                label=_("coverage map")),
                _legend([("#f7fbff", "0%"), ("#c6dbef", "< 5%"), ("#6baed6", "5-20%"),
                         ("#2171b5", "20-50%"), ("#08306b", "50%+"), (_NO_DATA, _("n/a"))]),
                "</figure>",
                '<p class="note">' + _e(_(
                    "Coverage is the store's current camera coverage (built by {command}), not "
                    "as of the period.")).format(command="<code>riskmap build</code>") + "</p>"]
    return out


#: the pack's forecast methods (geo/review.py ``_forecast``; the JSON keeps these texts)
_METHODS = {"previous period counts": N_("previous period counts"),
            "previous red list": N_("previous red list")}


def _forecast(pack: Any) -> list[str]:
    f = pack.figures
    t = f.forecast.copy()
    for col in ("coverage", "hit_rate", "area_share"):
        t[col] = (100 * t[col].astype(float)).round(1)
    t["pai"] = t["pai"].astype(float).round(2)
    t["method"] = [translate(_METHODS[m]) if m in _METHODS else str(m) for m in t["method"]]
    t = t.rename(columns={"method": _("Method"), "coverage": _("area budget %"),
                          "hit_rate": _("hit rate %"), "area_share": _("area flagged %"),
                          "pai": "PAI"})
    return ["<p>" + _e(_(
        "How well what was known at the end of {previous} pointed at the incidents of "
        "{period}: the mahallas with the most incidents in the previous period (at 10% and "
        "20% of the region's area), and the previous period's red list. Hit rate = share of "
        "the period's incidents in the flagged mahallas; PAI = hit rate / area share (1 = no "
        "better than chance).").format(previous=period_label(f.period.previous()),
                                       period=period_label(f.period))) + "</p>",
            html_table(t, empty=_("Too little data to score.")),
            '<p class="note">' + _e(_(
                "The tuned forecasting methods are compared on the commanders' page (forecast "
                "check) and by {command}.")).format(command="<code>riskmap evaluate</code>")
            + "</p>"]


def review_html(pack: Any) -> str:
    """The pack as one self-contained HTML document (inline CSS and SVG, nothing fetched),
    in the current language (:func:`riskmap.i18n.use_language`; none: the English texts)."""
    f = pack.figures
    js = pack.to_json()
    banner = (f'<p class="badge yellow">{_e(_("Synthetic demo data: not real incidents."))}'
              "</p>" if pack.demo else "")
    title = _("Review pack: {region}, {period}").format(region=f.region,
                                                       period=period_label(f.period))
    when = (js["period_start"], js["period_end"])
    if not _english():
        when = (human_date(when[0]), human_date(when[1]))
    meta = _("{start} – {end} ({timezone}) · compared with {previous} and {year_before} · "
             "{mahallas} mahallas · scope {scope}").format(
        start=when[0], end=when[1], timezone=pack.timezone,
        previous=period_label(f.period.previous()),
        year_before=period_label(f.period.last_year()), mahallas=_n(len(f.mahallas)),
        scope=pack.scope)
    body = [banner, f"<h1>{_e(title)}</h1>", f'<p class="meta">{_e(meta)}</p>']
    parts = {"Summary": _summary(pack, js), "Crime-free mahallas": _crime_free(pack),
             "Red mahallas": _red(pack), "Categories": _categories(pack),
             "Drugs and cybercrime": _focus(pack), "Maps": _maps(pack),
             "Forecast quality": _forecast(pack)}
    for i, name in enumerate(SECTIONS):
        body.append(_section(name, first=i == 0))
        body += parts[name]
    generated = (js["generated_at"] if _english()
                 else f"{human_date(js['generated_at'])} {js['generated_at'][11:16]} UTC")
    body.append('<p class="note">' + _e(_(
        "Generated {at} for {user} by riskmap. Police data: handle according to your access "
        "rules.").format(at=generated, user=pack.generated_by)) + "</p>")
    lang = (current_language() or "en").split("_")[0]
    return (f"<!DOCTYPE html>\n<html lang=\"{_e(lang)}\"><head><meta charset=\"utf-8\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(p for p in body if p) + "</body></html>\n")


# ---- PDF -------------------------------------------------------------------------------------

def find_chromium() -> str | None:
    """The Chromium (or Chrome) binary on the PATH, ``None`` when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        got = shutil.which(name)
        if got:
            return got
    return None


def print_pdf(page: str, out: str | os.PathLike[str], *, timeout: float = 120.0) -> Path:
    """Print the HTML ``page`` to the PDF ``out`` with headless Chromium (A4, no header).

    The page is written to a private temporary folder and opened from there; Chromium gets a
    throwaway profile and no network use of its own. The PDF is written beside ``out`` and
    renamed (a reader never sees half a file).

    Raises
    ------
    riskmap.errors.ConfigError
        No Chromium on the PATH, or it failed or timed out.
    """
    binary = find_chromium()
    if binary is None:
        raise ConfigError("no chromium on the PATH to print the PDF: install it (apt-get "
                          "install chromium) or leave out --pdf")
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_pdf = target.with_name(f".{target.name}.tmp")
    with tempfile.TemporaryDirectory(prefix="riskmap-pdf-") as tmp:
        src = Path(tmp) / "pack.html"
        src.write_text(page, encoding="utf-8")
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
               f"--user-data-dir={Path(tmp) / 'profile'}", f"--print-to-pdf={tmp_pdf}",
               src.as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            tmp_pdf.unlink(missing_ok=True)
            raise ConfigError(f"chromium did not print the PDF within {timeout:.0f} s") from None
        if done.returncode != 0 or not tmp_pdf.exists() or tmp_pdf.stat().st_size == 0:
            tmp_pdf.unlink(missing_ok=True)
            err = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise ConfigError(f"chromium could not print the PDF (exit {done.returncode}): "
                              f"{err[0][:200]}")
    tmp_pdf.replace(target)
    return target
