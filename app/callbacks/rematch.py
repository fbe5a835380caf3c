"""Callbacks of the rematch page: rows the gazetteer left unplaced, their candidates, a hand match.

The page lists, within the user's scope, the incident rows the gazetteer could not place in a
mahalla: rows quarantined as ``no_location`` and incidents loaded at ``district`` precision
(with the address kept in ``incident_addresses``). Selecting one shows the ranked candidate
mahallas (:meth:`Gazetteer.candidates`) and a small map of them; the analyst picks one (or any
other mahalla in scope) and confirms.

What the browser sends back is never trusted: only a row token (``q:<quarantine_id>`` or
``i:<incident_id>``), a mahalla id and the alias text. :func:`confirm_match` re-reads the row
and the mahalla through the user's :class:`~riskmap.layers.access.DataAccess`, refuses either
when it is not there or not in scope, checks that the gazetteer with the new alias places the
row in that mahalla, and only then writes, in one transaction: the alias (``place_aliases``,
``created_by`` the user), the row geocoded again (the quarantined row loaded as an incident,
or the incident moved to its mahalla), and an audit record naming the user.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import dash
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, html, no_update

import geopandas as gpd
import shapely

from riskmap.app import ids
from riskmap.app.data import AppModel, resolve
from riskmap.app.figures import empty_figure, plot_text, polygon_xy
from riskmap.errors import RiskmapError
from riskmap.etl.address import DISTRICT, REGION
from riskmap.etl.gazetteer import Gazetteer, parse_address
from riskmap.etl.ingest import (
    ADDRESS_FIELDS,
    check_place_aliases,
    load_aliases,
    load_context,
    regeocode_addresses,
    regeocode_quarantined,
    stored_place_aliases,
)
from riskmap.etl.translit import admin_forms, admin_skeleton
from riskmap.i18n import gettext
from riskmap.layers.access import DataAccess

__all__ = ["MAX_ROWS", "N_CANDIDATES", "PAGE", "MatchResult", "UnmatchedRow", "candidate_map",
           "confirm_match", "find_row", "register", "row_label", "unmatched_rows"]

_IDS = ids.REMATCH
#: the page name in the audit log
PAGE = "rematch"
#: the list shows at most this many rows (the oldest files first)
MAX_ROWS = 300
#: candidates offered per row
N_CANDIDATES = 5
#: the audit action of a match confirmed on this page
ACTION = "place_alias"
_NO_LOCATION = [("layer", "=", "incidents"), ("reason", "=", "no_location")]
_AREA_ROLES = frozenset({DISTRICT, REGION})


@dataclass(eq=False)
class UnmatchedRow:
    """One row to match, as the server re-derives it from the store.

    Attributes
    ----------
    token
        ``q:<quarantine_id>`` (a quarantined row) or ``i:<incident_id>`` (an incident at
        district precision): what the page sends back.
    kind
        ``"no_location"`` or ``"district"``.
    text
        The address as written (else the mahalla column): the default alias.
    fields
        The row's address, mahalla, district and region fields as given.
    district, region
        Where the row was placed (district precision), or what its text names (None when
        unknown).
    source
        ``file row N``.
    record
        The quarantine or incident row (server side only).
    admin_only
        The text names nothing but districts and regions ("г. Карши"): no alias can place
        it without sending every such address to one mahalla.
    """

    token: str
    kind: str
    text: str
    fields: dict[str, str]
    district: str | None
    region: str | None
    source: str
    record: pd.DataFrame = field(repr=False)
    admin_only: bool = False


@dataclass(frozen=True)
class MatchResult:
    """What :func:`confirm_match` did: ``ok`` (an alias was written) and a message to show."""

    ok: bool
    message: str
    placed: int = 0


# ---- reading the rows ------------------------------------------------------------------------

def unmatched_rows(access: DataAccess, *, limit: int = MAX_ROWS,
                   ) -> tuple[list[UnmatchedRow], int]:
    """The rows to match in the user's scope (at most ``limit``) and how many there are.

    Quarantined rows come first (by file and row), then incidents at district precision;
    rows whose text names only districts or regions (nothing to match) come last.
    """
    rows = _quarantined(access, None) + _district_rows(access, None)
    rows.sort(key=lambda r: r.admin_only)  # stable: the order above within each group
    return rows[:limit], len(rows)


def find_row(access: DataAccess, token: object) -> UnmatchedRow | None:
    """The unmatched row a token names, re-read through ``access``; None when it is not an
    unmatched row in the user's scope (or the token is not one)."""
    if not isinstance(token, str) or len(token) > 300 or ":" not in token:
        return None
    kind, key = token.split(":", 1)
    if not key:
        return None
    found = (_quarantined(access, key) if kind == "q" else
             _district_rows(access, key) if kind == "i" else [])
    return found[0] if len(found) == 1 else None


def _quarantined(access: DataAccess, qid: str | None) -> list[UnmatchedRow]:
    """Quarantined ``no_location`` incident rows in scope (one when ``qid`` is given).

    The quarantine layer has no region column, so :meth:`DataAccess.read` refuses it to a
    scoped user. For such a user the rows are read here and kept only when their own text
    names a region or district that lies in exactly one region, one of the user's (see
    :func:`_region_of`); a row that names none is shown to users of all regions only. The
    read is audited with the rows shown.
    """
    filters = [*_NO_LOCATION, *([("quarantine_id", "=", qid)] if qid is not None else [])]
    if access.regions is None:
        frame = access.read("quarantine", filters=filters, purpose="app")
    else:
        frame = access.store.read("quarantine", filters=filters)
    keys = _admin_keys(access) if len(frame) else {}
    regions = [_region_of(_fields(raw), keys) for raw in frame["raw"]]
    if access.regions is not None:
        keep = np.array([r in access.regions for r in regions], dtype=bool)
        frame = frame[keep]
        regions = [r for r, k in zip(regions, keep, strict=True) if k]
        access.audit("app", layer="quarantine", detail={
            "filters": [list(f) for f in filters], "scoped_by": "the region the row names"},
            rows=len(frame))
    frame = frame.reset_index(drop=True)
    order = np.lexsort((frame["source_row"].fillna(0).to_numpy(dtype="int64"),
                        frame["source_file"].fillna("").astype(str).to_numpy()))
    out = []
    for i in order:
        record = frame.iloc[[i]]
        fields = _fields(record["raw"].iat[0])
        text = _text(fields)
        if not text:
            continue
        out.append(UnmatchedRow(
            token=f"q:{record['quarantine_id'].iat[0]}", kind="no_location", text=text,
            fields=fields, district=fields.get("district"),
            region=regions[i] or fields.get("region"),
            source=_source(record["source_file"].iat[0], record["source_row"].iat[0]),
            record=record, admin_only=_names_only_areas(text, keys)))
    return out


def _district_rows(access: DataAccess, incident_id: str | None) -> list[UnmatchedRow]:
    """Incidents at district precision in scope whose address was kept."""
    filters = [("geocode_precision", "=", "district"),
               *([("incident_id", "=", incident_id)] if incident_id is not None else [])]
    if not access.store.has("incident_addresses"):
        return []
    incidents = access.read("incidents", filters=filters, purpose="app")
    if len(incidents) == 0:
        return []
    where = ([("incident_id", "=", incident_id)] if incident_id is not None else None)
    addresses = access.read("incident_addresses", filters=where, purpose="app")
    by_id = addresses.drop_duplicates("incident_id").set_index("incident_id")
    incidents = incidents[incidents["incident_id"].isin(by_id.index).to_numpy(dtype=bool)]
    order = np.lexsort((incidents["source_row"].fillna(0).to_numpy(dtype="int64"),
                        incidents["source_file"].fillna("").astype(str).to_numpy()))
    keys = _admin_keys(access) if len(incidents) else {}
    out = []
    for i in order:
        record = incidents.iloc[[i]]
        iid = str(record["incident_id"].iat[0])
        fields = _fields(by_id.at[iid, "location"])
        text = _text(fields)
        if not text:
            continue
        out.append(UnmatchedRow(
            token=f"i:{iid}", kind="district", text=text, fields=fields,
            district=_opt(record["district"].iat[0]), region=_opt(record["region"].iat[0]),
            source=_source(record["source_file"].iat[0], record["source_row"].iat[0]),
            record=record, admin_only=_names_only_areas(text, keys)))
    return out


def _fields(raw: object) -> dict[str, str]:
    """The address fields of a row's JSON (quarantine ``raw`` or ``incident_addresses``)."""
    try:
        values = json.loads(raw) if isinstance(raw, str) and raw else {}
    except json.JSONDecodeError:
        values = {}
    if not isinstance(values, dict):
        return {}
    return {f: str(values[f]).strip() for f in ADDRESS_FIELDS
            if values.get(f) is not None and str(values[f]).strip()}


def _text(fields: dict[str, str]) -> str:
    """The text the gazetteer compares with a whole-text alias: the address, else the mahalla."""
    return fields.get("address") or fields.get("mahalla") or ""


def _opt(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _source(file: object, row: object) -> str:
    name = _opt(file) or "unknown file"
    return f"{name} row {int(row)}" if row is not None and not pd.isna(row) else name


def _admin_keys(access: DataAccess) -> dict[str, set[str]]:
    """Key of every region and district name -> the regions it may mean.

    Keys are :func:`admin_forms` of the name and, prefixed ``~``, their
    :func:`admin_skeleton` (Russian spellings: Термез = Termiz). The district and region
    *names* of the whole mahallas layer are read (not the police data): a name a scoped
    user's region shares with another ("Toshkent") must stay ambiguous.
    """
    names = access.store.read("mahallas", columns=["district", "region"]).drop_duplicates()
    keys: dict[str, set[str]] = {}
    for district, region in zip(names["district"].astype(object), names["region"].astype(object),
                                strict=True):
        if _opt(region) is None:
            continue
        for name in (region, district):
            for key in admin_forms(_opt(name) or ""):
                for k in (key, "~" + admin_skeleton(key)):
                    keys.setdefault(k, set()).add(str(region))
    return keys


def _regions_named(name: str, keys: dict[str, set[str]]) -> set[str]:
    """The regions a district or region name may mean (by key, else by skeleton)."""
    forms = admin_forms(name)
    found = set().union(*(keys.get(k, set()) for k in forms))
    return found or set().union(*(keys.get("~" + admin_skeleton(k), set()) for k in forms))


def _names_only_areas(text: str, keys: dict[str, set[str]]) -> bool:
    """Whether ``text`` names nothing but districts and regions.

    Each run of name words (:func:`parse_address`) must be marked as a district or region
    ("tumani", "г.", "район", "viloyati", ...), or be a district or region name of the layer
    without any mark.

    Examples
    --------
    >>> keys = {"karshi": {"Qashqadaryo viloyati"}, "kashkadarya": {"Qashqadaryo viloyati"}}
    >>> _names_only_areas("г. Карши", keys), _names_only_areas("Qashqadaryo, Qarshi sh.", keys)
    (True, True)
    >>> _names_only_areas("Qarshi sh., Eski bozor", keys), _names_only_areas("Qarshi MFY", keys)
    (False, False)
    """
    runs = parse_address(text)
    return bool(runs) and all(
        set(run.roles) <= _AREA_ROLES if run.roles
        else any(k in keys for k in admin_forms(" ".join(run.words))) for run in runs)


def _region_of(fields: dict[str, str], keys: dict[str, set[str]]) -> str | None:
    """The single region a row's region/district fields and marked address parts name.

    Each name gives the regions it may stand for; they are intersected. None when the row
    names none, or the names leave more or fewer than one region.

    Examples
    --------
    >>> keys = {"jizak": {"Jizzax viloyati"}, "tashkent": {"Toshkent shahri", "Toshkent viloyati"},
    ...         "yunusabad": {"Toshkent shahri"}}
    >>> _region_of({"address": "Jizzax viloyati, Eski bozor"}, keys)
    'Jizzax viloyati'
    >>> _region_of({"address": "Toshkent sh., Eski bozor"}, keys) is None
    True
    >>> _region_of({"address": "Eski bozor", "region": "Toshkent", "district": "Yunusobod"}, keys)
    'Toshkent shahri'
    """
    named = [fields[f] for f in ("region", "district") if fields.get(f)]
    named += [" ".join(run.words) for run in parse_address(fields.get("address", ""))
              if set(run.roles) & _AREA_ROLES]
    found: set[str] | None = None
    for name in named:
        regions = _regions_named(name, keys)
        if regions:
            found = regions if found is None else found & regions
    return next(iter(found)) if found is not None and len(found) == 1 else None


def row_label(row: UnmatchedRow) -> str:
    """One line of the list: the address, where it stands, and its file and row (plain text)."""
    where = (f"only the district {row.district}" if row.kind == "district" and row.district
             else "no mahalla")
    if row.admin_only:
        where += ", names no place in it"
    return f"{row.text} · {where} · {row.source}"


# ---- matching --------------------------------------------------------------------------------

def confirm_match(access: DataAccess, token: object, mahalla_id: object, alias: object = None, *,
                  timezone: str = "Asia/Tashkent") -> MatchResult:
    """Store the analyst's match of an unmatched row as a place alias, and geocode the row again.

    Parameters
    ----------
    access
        The user's data access: its scope limits the row and the mahalla, its user is written
        to ``created_by`` and the audit log.
    token
        The row (``q:<quarantine_id>`` or ``i:<incident_id>``), as the page sent it.
    mahalla_id
        The chosen mahalla's id, as the page sent it.
    alias
        The alias text (default: the row's address); it must place the row in the mahalla.
    timezone
        Zone of naive dates when a quarantined row is loaded again.

    Returns
    -------
    MatchResult
        ``ok`` False (and nothing written) when the row or the mahalla is not there or not in
        scope, the alias is unusable, or the gazetteer with the alias would not place the row
        in that mahalla (an alias applies only within the district or region the address
        names).
    """
    row = find_row(access, token)
    if row is None:
        return MatchResult(False, "That row is not an unmatched row in your scope (it may have "
                                  "been matched already): nothing was written.")
    if not isinstance(mahalla_id, str) or not mahalla_id or len(mahalla_id) > 200:
        return MatchResult(False, "Choose a mahalla first: nothing was written.")
    mahalla = access.read("mahallas", columns=["mahalla_id", "name", "district", "region"],
                          filters=[("mahalla_id", "=", mahalla_id)], purpose="app")
    if len(mahalla) != 1:
        return MatchResult(False, "That mahalla is not in your scope: nothing was written.")
    text = alias.strip() if isinstance(alias, str) and alias.strip() else row.text
    if _names_only_areas(text, _admin_keys(access)):
        return MatchResult(False, (
            f"The alias “{text}” names only a district or region: every address that says "
            "no more would go to this one mahalla. Keep the words that name the place itself; "
            "nothing was written."))
    new, reason, detail = check_place_aliases(
        pd.DataFrame({"alias": [text], "mahalla_id": [mahalla_id]}), mahalla,
        user=access.user, source="app")
    if reason[0] is not None:
        return MatchResult(False, f"The alias cannot be kept ({detail[0]}): nothing was written.")
    name = f"{mahalla['name'].iat[0]} ({mahalla['district'].iat[0]})"
    try:
        ctx = load_context(access.store, aliases=load_aliases(), tz=timezone,
                           place_aliases=False)
        usable, _ = stored_place_aliases(access.store)
        aliases = pd.concat([usable, new], ignore_index=True).drop_duplicates(
            "alias_key", keep="last")
        ctx.gazetteer = ctx.gazetteer.with_aliases(aliases)
    except RiskmapError as exc:
        return MatchResult(False, f"Cannot match now ({exc}): nothing was written.")
    given = {f: pd.Series([row.fields.get(f)], dtype=object) for f in ADDRESS_FIELDS}
    check = ctx.gazetteer.match(given["address"], mahalla=given["mahalla"],
                                district=given["district"], region=given["region"])
    if _opt(check["mahalla_id"].iat[0]) != mahalla_id:
        return MatchResult(False, (
            f"With the alias “{text}” the row would not be placed in {name}: an alias applies "
            "only within the district or region the address names. Choose a mahalla there, or "
            "keep as the alias only the words that name the place. Nothing was written."))
    if row.kind == "no_location":
        incidents, resolved = regeocode_quarantined(row.record, ctx)
    else:
        addresses = pd.DataFrame({"incident_id": [row.token[2:]],
                                  "location": [json.dumps(row.fields, ensure_ascii=False)]})
        incidents, resolved = regeocode_addresses(row.record, addresses, ctx), []
    placed = incidents[(incidents["mahalla_id"] == mahalla_id).fillna(False).to_numpy(bool)]
    detail = {"alias": text, "alias_key": new["alias_key"].iat[0], "mahalla_id": mahalla_id,
              "row": row.token, "placed": len(placed)}
    # where the alias and the resolved rows lie: the chosen mahalla, read in scope above
    here = mahalla[["region", "district"]].reset_index(drop=True)

    def at_mahalla(n: int) -> pd.DataFrame:
        return here.iloc[[0] * n].reset_index(drop=True)

    # one transaction through the user's scoped, audited access (the record says "ok" after
    # the commit, "denied" or "failed" otherwise)
    with access.write(ACTION, layer="place_aliases", detail=detail) as txn:
        txn.upsert("place_aliases", new, place=at_mahalla(len(new)))
        if len(placed):
            txn.upsert("incidents", placed)
            if resolved:
                txn.delete("quarantine", resolved, place=at_mahalla(len(resolved)))
            if row.kind == "district":
                txn.delete("incident_addresses", [row.token[2:]], place=at_mahalla(1))
    if len(placed):
        return MatchResult(True, f"Matched to {name}: the alias “{text}” is kept for later loads "
                                 "and the row is placed there now.", placed=len(placed))
    return MatchResult(True, f"The alias “{text}” → {name} is kept for later loads; the row "
                             "itself stays as it is until its file is loaded again (it fails "
                             "another check with the default settings).")


# ---- the candidate map -----------------------------------------------------------------------

def candidate_map(candidates: gpd.GeoDataFrame, base: gpd.GeoSeries, chosen: str | None, *,
                  uirevision: str = "rematch") -> go.Figure:
    """The candidate mahallas (numbered by rank, the chosen one dark) over nearby outlines.

    Parameters
    ----------
    candidates
        ``mahalla_id``, ``name``, ``district``, ``score`` (NaN for a mahalla chosen from the
        list) and ``geometry``, best first.
    base
        Mahalla polygons drawn as outlines around them.
    chosen
        The chosen mahalla's id (None: none yet).
    """
    if len(candidates) == 0:
        return empty_figure(gettext("No candidate: choose another mahalla"))
    fig = go.Figure()
    if len(base):
        bx, by = polygon_xy(base.to_numpy())
        fig.add_trace(go.Scatter(x=bx, y=by, mode="lines", hoverinfo="skip",
                                 line={"color": "rgba(60,60,60,0.45)", "width": 0.8},
                                 name=gettext("Mahallas nearby"), meta={"kind": "base"}))
    is_chosen = np.array([str(m) == chosen for m in candidates["mahalla_id"]], dtype=bool)
    for sel, fill, label in ((~is_chosen, "rgba(254,178,76,0.55)", "Candidates"),
                             (is_chosen, "rgba(179,38,30,0.75)", "Chosen")):
        if sel.any():
            x, y = polygon_xy(candidates.geometry.to_numpy()[sel])
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines", fill="toself", fillcolor=fill,
                                     line={"color": "#7a3b00", "width": 1.2}, name=label,
                                     hoverinfo="skip", meta={"kind": label.lower()}))
    pts = shapely.point_on_surface(candidates.geometry.to_numpy())
    score = pd.to_numeric(candidates["score"], errors="coerce").to_numpy(dtype=float)
    custom = np.column_stack([plot_text(candidates["name"].astype(object)),
                              plot_text(candidates["district"].astype(object)),
                              [f"{s:.0f}" if np.isfinite(s) else "chosen from the list"
                               for s in score]])
    fig.add_trace(go.Scatter(
        x=shapely.get_x(pts), y=shapely.get_y(pts), mode="text",
        text=[str(i + 1) for i in range(len(candidates))], textfont={"size": 14},
        customdata=custom, showlegend=False, name="ranks", meta={"kind": "ranks"},
        hovertemplate=gettext("<b>%{customdata[0]}</b><br>%{customdata[1]}<br>"
                      "Score: %{customdata[2]}<extra></extra>")))
    x0, y0, x1, y1 = shapely.total_bounds(candidates.geometry.to_numpy())
    view: dict[str, Any] = {}
    if np.all(np.isfinite([x0, y0, x1, y1])):  # the candidates, not the large neighbours
        pad = max(x1 - x0, y1 - y0, 0.01) * 0.25
        view = {"x": [x0 - pad, x1 + pad], "y": [y0 - pad, y1 + pad]}
    lat0 = float((y0 + y1) / 2) if view else 41.0
    fig.update_layout(
        margin={"l": 0, "r": 0, "t": 0, "b": 0}, plot_bgcolor="#f4f4f1", paper_bgcolor="white",
        dragmode="pan", hovermode="closest", uirevision=uirevision, showlegend=True,
        legend={"x": 0.01, "y": 0.99, "bgcolor": "rgba(255,255,255,0.85)",
                "itemclick": False, "itemdoubleclick": False},
        xaxis={"visible": False, "constrain": "domain", "range": view.get("x")},
        yaxis={"visible": False, "scaleanchor": "x", "range": view.get("y"),
               "scaleratio": 1.0 / math.cos(math.radians(lat0))})
    return fig


# ---- the page's callbacks --------------------------------------------------------------------

class _Gazetteers:
    """The scoped gazetteer (the user's mahallas and aliases), rebuilt when the store changes."""

    def __init__(self, access: DataAccess) -> None:
        self.access = access
        self._lock = threading.Lock()
        self._key: str | None = None
        self._value: tuple[Gazetteer | None, gpd.GeoDataFrame] | None = None

    def get(self) -> tuple[Gazetteer | None, gpd.GeoDataFrame]:
        key = self.access.store.version()
        with self._lock:
            if self._value is None or key != self._key:
                self._value, self._key = self._build(), key
            return self._value

    def _build(self) -> tuple[Gazetteer | None, gpd.GeoDataFrame]:
        mahallas = self.access.read("mahallas", columns=[
            "mahalla_id", "name", "name_cyrillic", "district", "region", "geometry"],
            purpose="app")
        if not isinstance(mahallas, gpd.GeoDataFrame):
            mahallas = gpd.GeoDataFrame(mahallas, geometry=gpd.GeoSeries([], crs=4326))
        mahallas = mahallas.reset_index(drop=True)
        if len(mahallas) == 0:
            return None, mahallas
        gaz = Gazetteer.from_mahallas(mahallas)
        stored = self.access.read("place_aliases", purpose="app")
        if len(stored):
            _, reason, _ = check_place_aliases(stored, mahallas, user="", source="")
            usable = stored[pd.isna(reason)]
            if len(usable):
                gaz = gaz.with_aliases(usable)
        return gaz, mahallas


def _candidates(gazetteers: _Gazetteers, row: UnmatchedRow,
                ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The row's ranked candidates (with geometry) and the mahallas in scope."""
    gaz, mahallas = gazetteers.get()
    if gaz is None:
        return mahallas.iloc[:0].assign(score=[]), mahallas
    found = gaz.candidates(row.text, district=row.district, region=row.region,
                           limit=N_CANDIDATES)
    by_id = mahallas.set_index(mahallas["mahalla_id"].astype(str))
    ids_ = [str(m) for m in found["mahalla_id"] if str(m) in by_id.index]
    out = by_id.loc[ids_].reset_index(drop=True)
    out["score"] = pd.to_numeric(found.set_index(found["mahalla_id"].astype(str))
                                 .loc[ids_, "score"], errors="coerce").to_numpy()
    return gpd.GeoDataFrame(out, geometry="geometry", crs=4326), mahallas


def _other_options(mahallas: gpd.GeoDataFrame, row: UnmatchedRow) -> list[dict[str, str]]:
    """The mahallas in scope a match may name, by name: those of the row's district when it
    was placed in one, else of the region its text names, else all."""
    m = mahallas
    if row.kind == "district" and row.district:
        m = m[(m["district"] == row.district).fillna(False).to_numpy(dtype=bool)]
    elif row.region and (m["region"] == row.region).any():
        m = m[(m["region"] == row.region).fillna(False).to_numpy(dtype=bool)]
    pairs = sorted(zip(m["name"].astype(str), m["district"].astype(str),
                       m["mahalla_id"].astype(str), strict=True))
    return [{"label": f"{n} ({d})", "value": i} for n, d, i in pairs]


def register(app: dash.Dash, model: AppModel) -> None:
    """Attach the rematch callbacks to ``app`` (every request acts for its logged-in user)."""
    by_scope: dict[str, _Gazetteers] = {}
    scope_lock = threading.Lock()

    def _scope_gazetteers() -> _Gazetteers:
        """The gazetteer of the request's scope (built by the scope's model, cached)."""
        system = resolve(model).access
        with scope_lock:
            got = by_scope.get(system.scope)
            if got is None:
                got = by_scope[system.scope] = _Gazetteers(system)
            return got

    @app.callback(
        Output(_IDS.ROWS, "options"),
        Output(_IDS.ROWS, "value"),
        Output(_IDS.SUMMARY, "children"),
        Input(_IDS.REFRESH, "data"),
    )
    def _rows(_: Any) -> tuple[list[dict[str, str]], None, str]:
        model.audit_view(PAGE)
        rows, total = unmatched_rows(model.access)
        options = [{"label": html.Span(row_label(r), title=row_label(r)), "value": r.token}
                   for r in rows]
        if not total:
            return [], None, "Every row in your scope is placed in a mahalla."
        shown = f" (the first {len(rows)} shown)" if total > len(rows) else ""
        return options, None, f"{total:,} row{'s' if total != 1 else ''} to match{shown}."

    @app.callback(
        Output(_IDS.ROW_TEXT, "children"),
        Output(_IDS.CANDIDATES, "options"),
        Output(_IDS.OTHER, "options"),
        Output(_IDS.ALIAS, "value"),
        Input(_IDS.ROWS, "value"),
    )
    def _select(token: Any) -> tuple[Any, ...]:
        row = find_row(model.access, token)
        if row is None:
            return gettext("Choose a row on the left."), [], [], ""
        cands, mahallas = _candidates(_scope_gazetteers(), row)
        options = [{"label": gettext("{i}. {name} — {district}, {region} (score {score})").format(
                        i=i + 1, name=c["name"], district=c["district"], region=c["region"],
                        score=f"{c['score']:.0f}"), "value": str(c["mahalla_id"])}
                   for i, (_, c) in enumerate(cands.iterrows())]
        where = (gettext("Placed only in the district {district}.").format(
                     district=row.district) if row.kind == "district"
                 else gettext("Placed nowhere (quarantined: no mahalla matches)."))
        if row.admin_only:
            where += gettext(" Its address names only a district or region: there is no place "
                             "in it to keep as an alias.")
        header = [html.B(row.text), html.Br(), html.Small(f"{row.source}. {where}")]
        return header, options, _other_options(mahallas, row), row.text

    @app.callback(
        Output(_IDS.CANDIDATES, "value"),
        Output(_IDS.OTHER, "value"),
        Output(_IDS.CHOICE, "data"),
        Input(_IDS.ROWS, "value"),
        Input(_IDS.CANDIDATES, "value"),
        Input(_IDS.OTHER, "value"),
    )
    def _choose(_: Any, candidate: Any, other: Any) -> tuple[Any, Any, Any]:
        trigger = dash.ctx.triggered_id
        if trigger == _IDS.CANDIDATES:
            return no_update, None, candidate
        if trigger == _IDS.OTHER:
            return None, no_update, other
        return None, None, None

    @app.callback(
        Output(_IDS.MAP, "figure"),
        Output(_IDS.CONFIRM, "disabled"),
        Input(_IDS.ROWS, "value"),
        Input(_IDS.CHOICE, "data"),
    )
    def _map(token: Any, chosen: Any) -> tuple[go.Figure, bool]:
        row = find_row(model.access, token)
        if row is None:
            return empty_figure(gettext("Choose a row to see its candidates")), True
        cands, mahallas = _candidates(_scope_gazetteers(), row)
        chosen = chosen if isinstance(chosen, str) else None
        if chosen is not None and chosen not in set(cands["mahalla_id"].astype(str)):
            extra = mahallas[(mahallas["mahalla_id"] == chosen).to_numpy(dtype=bool)]
            cands = pd.concat([cands, extra.assign(score=np.nan)], ignore_index=True)
            chosen = chosen if len(extra) else None
        cands = gpd.GeoDataFrame(cands, geometry="geometry", crs=4326)
        base = gpd.GeoSeries([], crs=4326)
        if len(cands):
            x0, y0, x1, y1 = shapely.total_bounds(cands.geometry.to_numpy())
            pad = max(x1 - x0, y1 - y0, 0.005) * 0.3
            near = mahallas.sindex.query(shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad))
            base = mahallas.geometry.iloc[np.sort(near)]
        return candidate_map(cands, base, chosen, uirevision=str(token)), chosen is None

    @app.callback(
        Output(_IDS.RESULT, "children"),
        Output(_IDS.REFRESH, "data"),
        Input(_IDS.CONFIRM, "n_clicks"),
        State(_IDS.ROWS, "value"),
        State(_IDS.CHOICE, "data"),
        State(_IDS.ALIAS, "value"),
        prevent_initial_call=True,
    )
    def _confirm(clicks: Any, token: Any, chosen: Any, alias: Any) -> tuple[str, Any]:
        result = confirm_match(model.access, token, chosen, alias, timezone=model.timezone)
        return result.message, (clicks if result.ok else no_update)
