"""Pure figure builders of the tourism page and zone report: zone map with isochrones, incidents by season."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from riskmap.app.components import category_label
from riskmap.app.figures import empty_figure, plot_text, polygon_xy
from riskmap.app.map_canvas import Canvas
from riskmap.geo.points import xy
from riskmap.i18n import N_, format_decimal, format_percent, ngettext, translate
from riskmap.i18n import gettext as _

__all__ = [
    "BAND_COLOURS",
    "FAIL_COLOUR",
    "PASS_COLOUR",
    "checklist_detail",
    "checklist_label",
    "checklist_value",
    "incident_tooltips",
    "place_labels",
    "season_chart",
    "zone_map",
]

#: fill colours of the 10/20/30-minute bands (fast = green, slow = orange)
BAND_COLOURS = ("rgba(26,127,55,0.45)", "rgba(191,164,0,0.40)", "rgba(230,110,20,0.35)")
#: checklist colours
PASS_COLOUR = "#1a7f37"
FAIL_COLOUR = "#b3261e"
COVERAGE_COLOUR = "#2b6cb0"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif"
_LABELS = {
    "road_access": N_("Road access from the nearest town"),
    "power_line": N_("Power line nearby"),
    "police_post": N_("Police post within reach"),
    "emergency_service": N_("Emergency service (112) within reach"),
    "medical": N_("Medical service within reach"),
    "entrance_cameras": N_("Cameras at the entrances"),
}
#: units of the checklist figures ({n}: the number)
_UNITS = {"min": N_("{n} min"), "km": N_("{n} km")}
_FACILITY_STYLE = {
    "police_post": (N_("Police posts"), "#1f3a93", "square"),
    "emergency_service": (N_("Emergency (112)"), "#b3261e", "diamond"),
    "fire_station": (N_("Fire stations"), "#e66e14", "triangle-up"),
    "medical": (N_("Medical"), "#7b2d8e", "cross"),
    "camp": (N_("Camps"), "#2f6b2f", "triangle-up"),
    "hotel": (N_("Hotels"), "#5f625a", "circle"),
    "entrance": (N_("Entrances"), "#000000", "x"),
    "town": (N_("Towns"), "#444444", "circle-open"),
}


def checklist_label(item: str) -> str:
    """Readable name of a checklist item in the reader's language, e.g. ``"Power line
    nearby"``."""
    return translate(_LABELS[item]) if item in _LABELS else item.replace("_", " ").capitalize()


def _amount(value: float, unit: str, digits: int) -> str:
    """``value`` with its unit in the reader's language (``12.3 min``, ``12,3 мин``)."""
    number = format_decimal(value, digits) if digits else f"{value:g}"
    return translate(_UNITS[unit]).format(n=number) if unit in _UNITS else f"{number} {unit}"


def checklist_value(row: Mapping[str, Any]) -> str:
    """Figure against threshold, e.g. ``"12.3 min (limit 20 min)"`` or ``"not measured"``.

    Examples
    --------
    >>> checklist_value({"value": 0.5, "threshold": 1.0, "unit": "share"})
    '50% (needs 100%)'
    >>> checklist_value({"value": float("nan"), "threshold": 2.0, "unit": "km"})
    'not measured (limit 2 km)'
    >>> checklist_value({"value": 23.46, "threshold": 10.0, "unit": "min", "share_beyond": 0.84})
    'farthest 23.5 min (limit 10 min), 84% of the zone beyond'
    """
    value, limit, unit = row.get("value"), row.get("threshold"), row.get("unit") or ""
    measured = value is not None and math.isfinite(float(value))
    if unit == "share":
        text = format_percent(float(value)) if measured else _("not measured")
        return text if limit is None else _("{value} (needs {limit})").format(
            value=text, limit=format_percent(float(limit)))
    share = row.get("share_beyond")
    travel = share is not None and math.isfinite(float(share))
    text = _amount(float(value), unit, 1) if measured else _("not measured")
    if travel and measured:
        text = _("farthest {value}").format(value=text)
    if limit is not None:
        text = _("{value} (limit {limit})").format(value=text,
                                                   limit=_amount(float(limit), unit, 0))
    return _("{figure}, {share} of the zone beyond").format(
        figure=text, share=format_percent(float(share))) if travel else text


#: the checklist details' sentences by code (geo/zones.py ``detail_parts``)
_DETAILS = {
    "no_town": N_("no town in the layer"),
    "no_roads": N_("no roads in the layer"),
    "no_road_path": N_("no road path from any town into the zone"),
    "by_road": N_("{minutes} by road from {name}"),
    "no_power_line": N_("no power line in the layer"),
    "power_line_touches": N_("power line {name} touches the zone"),
    "power_line_km": N_("power line {name} {km} from the zone"),
    "no_area": N_("the zone has no area"),
    "farthest": N_("farthest point {minutes}"),
    "site_time": N_("{site} {name}: {minutes}"),
    "site_unreached": N_("{site} {name}: not reached"),
    "no_entrances": N_("no entrance features and no road crosses the zone boundary"),
    "entrances_covered": N_("{covered} of {total} entrances covered ({source})"),
}
_NO_FACILITY = {"police_post": N_("no police post in the layer"),
                "emergency_service": N_("no emergency service (112) in the layer"),
                "medical": N_("no medical service in the layer")}
#: "{share} of the zone is more than {limit} from ...", per facility
_BEYOND = {"police_post": N_("{share} {of_area} is more than {limit} from a police post"),
           "emergency_service": N_("{share} {of_area} is more than {limit} from the emergency "
                                   "service (112)"),
           "medical": N_("{share} {of_area} is more than {limit} from a medical service")}
_OF_AREA = {"zone": N_("of the zone"), "land": N_("of the land part of the zone")}
_UNREACHED = {"zone": N_("part of the zone cannot be reached"),
              "land": N_("part of the land part of the zone cannot be reached")}
_NO_AREA_TO_MEASURE = {"zone": N_("the zone has no area to measure"),
                       "land": N_("the land part of the zone has no area to measure")}
_SOURCES = {"features": N_("entrance features"), "crossings": N_("road crossings of the boundary")}


def _share_text(share: float) -> str:
    """A share that never rounds a part beyond down to 0 % or up to 100 % (as geo/zones)."""
    if 0 < share < 0.01:
        return "<" + format_percent(0.01)
    if 0.99 < share < 1:
        return ">" + format_percent(0.99)
    return format_percent(share)


def _detail_part(part: Mapping[str, Any]) -> str:
    from riskmap.i18n.names import display_name

    code = str(part.get("code"))

    def minutes(key: str = "minutes") -> str:
        value = part.get(key)
        return _("n/a") if value is None else _amount(float(value), "min", 1)

    if code == "no_facility":
        facility = str(part.get("facility"))
        return (translate(_NO_FACILITY[facility]) if facility in _NO_FACILITY
                else _("no {facility} in the layer").format(facility=facility.replace("_", " ")))
    area = str(part.get("area", "zone"))
    if code == "share_beyond":
        facility = str(part.get("facility"))
        template = _BEYOND.get(facility, _BEYOND["police_post"])
        return translate(template).format(
            share=_share_text(float(part["share"])),
            of_area=translate(_OF_AREA.get(area, _OF_AREA["zone"])),
            limit=_amount(float(part["limit"]), "min", 0))
    if code == "unreachable":
        return translate(_UNREACHED.get(area, _UNREACHED["zone"]))
    if code == "no_area_to_measure":
        return translate(_NO_AREA_TO_MEASURE.get(area, _NO_AREA_TO_MEASURE["zone"]))
    if code not in _DETAILS:
        return code.replace("_", " ")
    km = part.get("km")
    source = str(part.get("source", ""))
    return translate(_DETAILS[code]).format(
        minutes=minutes() if "minutes" in part else "", name=part.get("name", ""),
        km=_amount(float(km), "km", 2) if km is not None else "",
        site=display_name(part.get("kind")), covered=format_decimal(part.get("covered", 0), 0),
        total=format_decimal(part.get("total", 0), 0),
        source=translate(_SOURCES[source]) if source in _SOURCES else source)


def checklist_detail(row: Mapping[str, Any]) -> str:
    """The detail of a checklist row in the reader's language, from the codes and values
    :func:`riskmap.geo.zones.readiness_checklist` gives (``detail_parts``); a row without
    them (a report made before) shows its English ``detail``.

    Examples
    --------
    >>> from riskmap.i18n import use_language
    >>> row = {"detail": "...", "detail_parts": [
    ...     {"code": "share_beyond", "share": 0.84, "area": "zone", "limit": 20.0,
    ...      "facility": "police_post"}, {"code": "farthest", "minutes": 31.25},
    ...     {"code": "site_time", "kind": "camp", "name": "Oq", "minutes": 31.25}]}
    >>> checklist_detail(row)
    '84% of the zone is more than 20 min from a police post; farthest point 31.2 min (Camp Oq: 31.2 min)'
    >>> with use_language("ru"):
    ...     checklist_detail({"detail_parts": [{"code": "no_facility", "facility": "medical"}]})
    'в слое нет медицинских учреждений'
    """
    parts = row.get("detail_parts")
    if not isinstance(parts, list | tuple) or not parts:
        return str(row.get("detail") or "")
    texts: list[str] = []
    for part in parts:
        text = _detail_part(part)
        if str(part.get("code")).startswith("site_") and texts:
            texts[-1] += f" ({text})"
        else:
            texts.append(text)
    return "; ".join(texts)


def _line_xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lines (and polygon rings) as x/y arrays with NaN between parts."""
    arr = np.asarray(geoms, dtype=object)
    if len(arr) == 0:
        return np.empty(0), np.empty(0)
    parts = shapely.get_parts(arr)
    polys = shapely.get_type_id(parts) == 3
    parts[polys] = shapely.get_exterior_ring(parts[polys])
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    if len(coords) == 0:
        return np.empty(0), np.empty(0)
    coords = np.insert(coords, np.flatnonzero(np.diff(idx)) + 1, np.nan, axis=0)
    return coords[:, 0], coords[:, 1]


def _kind_rows(infra: gpd.GeoDataFrame, kind: str) -> gpd.GeoDataFrame:
    if len(infra) == 0:
        return infra
    return infra[(infra["kind"].astype("string") == kind).fillna(False).to_numpy(bool)]


def zone_map(zone: BaseGeometry, isochrones: gpd.GeoDataFrame,
             coverage: gpd.GeoSeries | None = None,
             infrastructure: gpd.GeoDataFrame | None = None,
             incidents: pd.DataFrame | None = None, *, source_kind: str = "police",
             uirevision: str = "zone", beyond: BaseGeometry | None = None,
             beyond_minutes: float | None = None, land: BaseGeometry | None = None,
             style: dict[str, Any] | None = None, size: tuple[int, int] = (800, 520)
             ) -> go.Figure:
    """Map of a tourist zone: bands, coverage, roads, sites, incidents.

    Drawn on lon/lat axes with no tiles (a report read anywhere), or, given ``style`` (see
    :func:`app.map_tiles.map_style`), as a MapLibre map over the app's offline base map.

    Parameters
    ----------
    zone
        Zone polygon (EPSG:4326).
    isochrones
        ``source_kind``, ``minutes`` and geometry (see :func:`etl.zone_report.zone_isochrones`).
        The bands of ``source_kind`` are filled (slowest first, so faster ones lie on top);
        the other kind's fastest band is outlined.
    coverage
        Camera coverage polygons.
    infrastructure
        Features near the zone (``kind``, ``name``, geometry).
    incidents
        ``lon``, ``lat``, ``category``, ``in_season``; optional ``occurred_at``,
        ``mahalla`` and ``precision`` for the tooltips.
    source_kind
        Responder whose bands are filled.
    uirevision
        Plotly ``uirevision``.
    beyond, beyond_minutes
        The part of the zone the police do not reach within ``beyond_minutes`` (EPSG:4326),
        drawn hatched in red over the bands.
    land
        The land part of the zone when it holds water (see :func:`geo.zones.land_part`):
        the rest is drawn as open water, and the share beyond is of the land.
    style
        A MapLibre style: polygons become ``choroplethmap`` traces (holes open), the rest
        ``scattermap``; the part beyond is a plain red fill (MapLibre has no hatching).
    size
        The map's width and height in pixels, for the first zoom (the whole zone in view).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces carry ``meta.kind``: ``zone``, ``water`` (with a ``land``), ``isochrone`` (with ``minutes`` and
        ``source``), ``beyond`` (with ``minutes`` and ``share``), ``coverage`` (always, with
        ``count``: an empty one keeps the legend entry), ``road``, ``power_line``,
        ``beach``, a facility or site kind, ``label`` (text labels placed by priority so
        that none overlaps), ``incident``.
    """
    if zone is None or zone.is_empty:
        return empty_figure(_("No zone"))
    canvas = Canvas(style)
    canvas.area([zone], _("Zone"), "rgba(240,246,252,0.6)" if style is None
                else "rgba(240,246,252,0.35)", "#2b2b2b", {"kind": "zone"}, width=2)
    if land is not None and not land.is_empty:
        _add_water(canvas, shapely.difference(zone, land))
    infra = infrastructure if infrastructure is not None else gpd.GeoDataFrame()
    # the beach under the bands and the hatching (it is a place they measure), and under
    # the camera coverage, which would otherwise hide beneath it
    beach = _kind_rows(infra, "beach") if len(infra) else infra
    if len(beach):
        canvas.area(beach.geometry.to_numpy(), _("Beach"), "rgba(240,200,90,0.8)", "#b08a00",
                    {"kind": "beach"})
    _add_isochrones(canvas, isochrones, source_kind)
    _add_beyond(canvas, beyond, beyond_minutes, zone if land is None or land.is_empty else land,
                of_land=land is not None and not land.is_empty)
    _add_coverage(canvas, coverage)
    for kind, name, colour, width in (("road", _("Roads"), "#6b6b6b", 1.6),
                                      ("power_line", _("Power lines"), "#c9a100", 1.6)):
        x, y = _line_xy(np.asarray(_kind_rows(infra, kind).geometry.values, dtype=object)) \
            if len(infra) else (np.empty(0), np.empty(0))
        if len(x):
            canvas.trace(x, y, mode="lines", name=name, hoverinfo="name",
                         line={"color": colour, "width": width,
                               "dash": "dot" if kind == "power_line" else None},
                         meta={"kind": kind})
    _add_incidents(canvas, incidents)
    _add_points(canvas, infra)
    _add_labels(canvas, infra, zone)
    legend = {"bgcolor": "rgba(255,255,255,0.85)", "x": 1.0, "xanchor": "left", "y": 0.93,
              "font": {"size": 11}}
    return canvas.finish(zone.bounds, size, plot_bgcolor="white",
                         margin={"l": 0, "r": 0, "t": 0, "b": 0}, legend=legend,
                         font={"family": _FONT}, uirevision=uirevision, dragmode="pan")


def _add_water(canvas: Canvas, water: BaseGeometry) -> None:
    """The zone's open water, which the travel figures leave out (islands left open)."""
    canvas.area([water], _("Open water (not measured)"), "rgba(120,170,220,0.45)",
                "rgba(70,130,190,0.6)", {"kind": "water"}, holes=True)


def _add_beyond(canvas: Canvas, beyond: BaseGeometry | None, minutes: float | None,
                zone: BaseGeometry, *, of_land: bool = False) -> None:
    """The part of the zone (``of_land``: of its land) beyond the police limit: hatched red,
    its share in the legend."""
    if beyond is None or beyond.is_empty or minutes is None:
        return
    # both in degrees: the ratio of areas holds at the zone's scale
    share = float(shapely.area(beyond) / zone.area) if zone.area else float("nan")
    text = (_("> {minutes} min from police ({share} of the zone's land)") if of_land
            else _("> {minutes} min from police ({share} of the zone)"))
    name = text.format(minutes=f"{minutes:g}", share=format_percent(share))
    meta = {"kind": "beyond", "minutes": float(minutes), "share": share}
    if canvas.maplibre:
        canvas.area([beyond], name, "rgba(179,38,30,0.22)", FAIL_COLOUR, meta, width=1.5)
        return
    canvas.area([beyond], name, "rgba(179,38,30,0.10)", FAIL_COLOUR, meta, width=1,
                holes=True, fillpattern={"shape": "/", "fgcolor": FAIL_COLOUR,
                                         "bgcolor": "rgba(0,0,0,0)", "size": 8,
                                         "solidity": 0.15})


def _add_coverage(canvas: Canvas, coverage: gpd.GeoSeries | None) -> None:
    """Camera coverage as its own layer; always in the legend, even when no camera covers
    anything near the zone (then an empty trace says so)."""
    geoms = np.asarray(coverage.to_numpy() if coverage is not None else [], dtype=object)
    drawn = bool(len(geoms)) and len(polygon_xy(geoms)[0]) > 0
    count = len(geoms)
    name = (ngettext("Camera coverage ({n} camera)", "Camera coverage ({n} cameras)",
                     count).format(n=count) if drawn
            else _("Camera coverage: none near the zone"))
    meta = {"kind": "coverage", "count": count}
    if drawn and canvas.area(geoms, name, "rgba(43,108,176,0.45)", COVERAGE_COLOUR, meta,
                              width=1.5, showlegend=True):
        return
    canvas.trace([None], [None], mode="lines", fill="toself",
                 fillcolor="rgba(43,108,176,0.45)", line={"color": COVERAGE_COLOUR, "width": 1.5},
                 name=name, hoverinfo="name", showlegend=True, meta=meta)


def _add_isochrones(canvas: Canvas, iso: gpd.GeoDataFrame, source_kind: str) -> None:
    if iso is None or len(iso) == 0:
        return
    own = iso[iso["source_kind"] == source_kind].sort_values("minutes", ascending=False)
    colours = dict(zip(sorted(own["minutes"].tolist()), BAND_COLOURS, strict=False))
    for m, geom in zip(own["minutes"], own.geometry, strict=True):
        canvas.area([geom], _reach_name(source_kind, m),
                    colours.get(m, "rgba(120,120,120,0.3)"), "rgba(60,60,60,0.5)",
                    {"kind": "isochrone", "minutes": float(m), "source": source_kind})
    other = iso[iso["source_kind"] != source_kind].sort_values("minutes")
    for kind, group in other.groupby("source_kind", sort=True):
        m, geom = group["minutes"].iloc[0], group.geometry.iloc[0]
        x, y = _line_xy(np.array([geom], dtype=object))
        if len(x):
            canvas.trace(x, y, mode="lines", name=_reach_name(str(kind), m),
                         line={"color": FAIL_COLOUR, "width": 1.5, "dash": "dash"},
                         hoverinfo="name",
                         meta={"kind": "isochrone", "minutes": float(m), "source": str(kind)})


def _reach_name(source: str, minutes: float) -> str:
    """Legend name of a band: ``"≤ 10 min from police"`` in the reader's language."""
    if source == "police":
        text = _("≤ {minutes} min from police")
    elif source == "emergency":
        text = _("≤ {minutes} min from 112")
    else:
        text = _("≤ {minutes} min from {source}")
    return text.format(minutes=f"{minutes:g}", source=html.escape(source, quote=False))


def _add_incidents(canvas: Canvas, incidents: pd.DataFrame | None) -> None:
    if incidents is None or len(incidents) == 0:
        return
    season = incidents["in_season"].to_numpy(bool)
    for sel, name, colour in ((season, _("Incidents in season"), "#800026"),
                              (~season, _("Incidents off season"), "#fd8d3c")):
        if not sel.any():
            continue
        sub = incidents[sel]
        canvas.trace(sub["lon"].to_numpy(float), sub["lat"].to_numpy(float), mode="markers",
                     name=name, marker={"size": 5 if not canvas.maplibre else 7,
                                        "color": colour, "opacity": 0.8},
                     text=incident_tooltips(sub), hovertemplate="%{text}<extra></extra>",
                     meta={"kind": "incident"})


def incident_tooltips(incidents: pd.DataFrame) -> np.ndarray:
    """One tooltip per incident: category name, date, mahalla and location precision.

    Every user-supplied text is HTML-escaped; the lines are joined with ``<br>``.

    Examples
    --------
    >>> incident_tooltips(pd.DataFrame({"category": ["theft"], "mahalla": ["<b>Navro'z</b>"],
    ...     "occurred_at": pd.to_datetime(["2025-07-01T08:00Z"]), "precision": ["coordinates"]}
    ... )).tolist()
    ["<b>Theft</b><br>2025-07-01<br>mahalla: &lt;b&gt;Navro'z&lt;/b&gt;<br>located: coordinates"]
    """
    n = len(incidents)
    cats = incidents["category"].astype(object).to_numpy() if "category" in incidents else \
        np.full(n, None)
    lines = [np.array([f"<b>{html.escape(category_label(str(c)), quote=False)}</b>"
                       if c is not None and not pd.isna(c) else f"<b>{_('incident')}</b>"
                       for c in cats], dtype=object)]
    if "occurred_at" in incidents:
        when = pd.to_datetime(pd.Series(incidents["occurred_at"]).reset_index(drop=True),
                              utc=True, errors="coerce")
        lines.append(np.array(when.dt.strftime("%Y-%m-%d").fillna(_("date unknown")),
                              dtype=object))
    for col, label in (("mahalla", _("mahalla: {value}")), ("precision", _("located: {value}"))):
        if col in incidents:
            vals = plot_text(incidents[col].astype(object).to_numpy())
            lines.append(np.array([label.format(value=v if isinstance(v, str) and v else "–")
                                   for v in vals], dtype=object))
    return np.array(["<br>".join(parts) for parts in zip(*lines, strict=True)], dtype=object)


#: which kinds get a text label on the map, most important first (others: hover only)
_LABEL_PRIORITY = ("police_post", "emergency_service", "medical", "camp", "hotel", "entrance",
                   "town")
#: labels keep at least this share of the map's width apart
_LABEL_GAP = 0.06
_MAX_LABELS = 12


def place_labels(x: np.ndarray, y: np.ndarray, priority: np.ndarray, *, gap: float,
                 limit: int = _MAX_LABELS, aspect: float = 1.0) -> np.ndarray:
    """Indices of the points that get a label: greedily by priority (lower first), each at
    least ``gap`` from every label already placed (y scaled by ``aspect``), at most ``limit``.

    Examples
    --------
    >>> place_labels(np.array([0.0, 0.01, 1.0]), np.zeros(3), np.array([1, 0, 2]), gap=0.1
    ...              ).tolist()
    [1, 2]
    """
    order = np.lexsort((np.arange(len(x)), priority))
    chosen: list[int] = []
    for i in order:
        if len(chosen) >= limit:
            break
        if not (np.isfinite(x[i]) and np.isfinite(y[i])):
            continue
        if chosen:
            d = np.hypot(x[chosen] - x[i], (y[chosen] - y[i]) * aspect)
            if (d < gap).any():
                continue
        chosen.append(int(i))
    return np.array(chosen, dtype=int)


def _add_labels(canvas: Canvas, infra: gpd.GeoDataFrame, zone: BaseGeometry) -> None:
    """Names of the most important places as text, none overlapping another."""
    if len(infra) == 0 or "name" not in infra:
        return
    kind = infra["kind"].astype("string").fillna("").to_numpy(dtype=object)
    rank = {k: i for i, k in enumerate(_LABEL_PRIORITY)}
    keep = np.array([k in rank for k in kind], dtype=bool)
    rows = infra[keep]
    if len(rows) == 0:
        return
    px, py = xy(shapely.point_on_surface(np.asarray(rows.geometry.values, dtype=object)))
    px, py = np.asarray(px, dtype=float), np.asarray(py, dtype=float)
    pri = np.array([rank[k] for k in kind[keep]])
    x0, x1 = zone.bounds[0], zone.bounds[2]
    aspect = 1 / max(math.cos(math.radians(zone.centroid.y)), 0.2)
    pick = place_labels(px, py, pri, gap=_LABEL_GAP * max(x1 - x0, 1e-6), aspect=aspect)
    if pick.size == 0:
        return
    names = plot_text(rows["name"].astype(object).fillna("").astype(str).to_numpy()[pick])
    canvas.trace(px[pick], py[pick], mode="text", text=names, textposition="top center",
                 textfont={"size": 11 if not canvas.maplibre else 12, "color": "#22231f"},
                 hoverinfo="skip", showlegend=False, name=_("Labels"),
                 meta={"kind": "label", "count": int(pick.size)})


def _add_points(canvas: Canvas, infra: gpd.GeoDataFrame) -> None:
    for kind, (label, colour, symbol) in _FACILITY_STYLE.items():
        rows = _kind_rows(infra, kind) if len(infra) else infra
        if len(rows) == 0:
            continue
        name = translate(label)
        x, y = xy(shapely.point_on_surface(np.asarray(rows.geometry.values, dtype=object)))
        names = plot_text(rows["name"].astype(object).fillna("").astype(str)) \
            if "name" in rows else np.full(len(rows), "")
        canvas.trace(
            np.asarray(x, dtype=float), np.asarray(y, dtype=float), mode="markers", name=name,
            marker={"size": 10 if kind != "town" else 8, "color": colour, "symbol": symbol,
                    "line": {"color": "white", "width": 1}},
            text=names, hovertemplate="%{text}<extra>" + name + "</extra>",
            meta={"kind": kind})


def season_chart(by_category: Mapping[str, Mapping[str, Any]], *,
                 title: str | None = None) -> go.Figure:
    """Bars of incidents per category, in season and off season (stacked).

    Parameters
    ----------
    by_category
        ``{category: {"total", "in_season", "off_season"}}`` (season counts None when the
        zone has no season: then one "All year" bar per category).

    Returns
    -------
    plotly.graph_objects.Figure
        Traces with ``meta.kind`` ``in_season``, ``off_season`` or ``total``.
    """
    from riskmap.i18n.names import display_name

    if not by_category:
        return empty_figure(_("No incidents in the zone or its buffer"))
    cats = sorted(by_category, key=lambda c: (-int(by_category[c]["total"]), c))
    fig = go.Figure()
    seasonal = all(by_category[c].get("in_season") is not None for c in cats)
    series = (("in_season", _("In season"), "#800026"),
              ("off_season", _("Off season"), "#fd8d3c")) \
        if seasonal else (("total", _("All year"), "#800026"),)
    for key, name, colour in series:
        fig.add_trace(go.Bar(x=[html.escape(display_name(c)) for c in cats],
                             y=[int(by_category[c][key] or 0) for c in cats],
                             name=name, marker={"color": colour}, meta={"kind": key}))
    title = _("Incidents in the zone and buffer") if title is None else title
    fig.update_layout(barmode="stack", title={"text": title, "font": {"size": 14}},
                      margin={"l": 40, "r": 10, "t": 40, "b": 60}, plot_bgcolor="white",
                      font={"family": _FONT}, legend={"orientation": "h", "y": -0.25},
                      yaxis={"gridcolor": "#e5e5e0", "title": _("incidents")})
    return fig
