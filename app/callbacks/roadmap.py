"""Callbacks of the Roadmap tab (commanders' mahalla panel): show, save, add and update.

Attached by ``app/callbacks/commanders.py`` (:func:`attach`), so the page's guard applies
(``page:commanders``). Everything the browser sends is checked again on the server
(:mod:`riskmap.etl.roadmaps`): the mahalla must be in the user's scope, values are bounded,
only a role with ``roadmap:edit`` writes, and every write goes through the user's
:class:`~riskmap.layers.access.DataAccess` (audited as ``roadmap_edit``). Refusals are shown as
a message, never a traceback.
"""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, ctx, html

from riskmap.app import ids
from riskmap.app.auth import current_principal
from riskmap.app.commanders_data import RequestData
from riskmap.app.data import AppModel
from riskmap.app.pages.roadmap_panel import measure_status_name, role_name
from riskmap.etl.roadmaps import (
    ACTION,
    RoadmapInputError,
    RoadmapState,
    add_measure,
    load_state,
    open_measure_counts,
    save_roadmap,
    update_measure,
)
from riskmap.i18n import format_date, format_percent
from riskmap.i18n import gettext as _

__all__ = ["attach", "may_edit", "measure_rows", "red_list_roadmaps", "seven_rows", "show"]

_IDS = ids.ROADMAP
_CMD = ids.COMMANDERS
#: the permission that writes roadmaps
PERMISSION = "roadmap:edit"


def may_edit() -> bool:
    """Whether the logged-in user's role may edit roadmaps."""
    try:
        return current_principal().can(PERMISSION)
    except PermissionError:
        return False


def seven_rows(state: RoadmapState | None) -> list[dict[str, str]]:
    """The seven's table rows (role code, its name, name, phone), in role order."""
    if state is None:
        return []
    return [{"role": r, "role_name": role_name(r), "name": n, "phone": p}
            for r, n, p in state.members[["role", "name", "phone"]].itertuples(index=False)]


def measure_rows(state: RoadmapState | None) -> list[dict[str, Any]]:
    """The measures' table rows (``id`` is the measure id; ``overdue`` 1/0 for the flag)."""
    if state is None or not len(state.measures):
        return []
    m = state.measures
    due = pd.to_datetime(m["due_date"], errors="coerce")
    return [{"id": str(i), "title": str(t or ""), "owner": "" if _na(o) else str(o),
             "due": "" if pd.isna(d) else d.strftime("%Y-%m-%d"), "status": str(s),
             "status_name": measure_status_name(str(s)), "notes": "" if _na(n) else str(n),
             "overdue": int(bool(late)), "flag": _("overdue") if late else ""}
            for i, t, o, d, s, n, late in zip(m["measure_id"], m["title"], m["owner"], due,
                                             m["status"], m["notes"], m["overdue"], strict=True)]


def _na(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _header(state: RoadmapState | None, editable: bool) -> list[Any]:
    if state is None:
        return [html.P(_("Click a mahalla on the map"), className="note")]
    out: list[Any] = []
    r = state.roadmap
    if r is not None and r.get("status") == "open":
        out.append(html.P([html.B(_("Open roadmap")), " · ",
                           _("opened {day}").format(day=format_date(pd.Timestamp(
                               r["opened_at"]).date()))]))
        if r.get("opened_because"):
            out.append(html.P(_("Red because: {why}").format(why=r["opened_because"]),
                              className="note"))
        if state.progress is not None:
            out.append(html.P(_("Progress: {share} of the measures done").format(
                share=format_percent(state.progress))))
    elif r is not None:
        out.append(html.P([html.B(_("Roadmap closed")), " · ", _("closed {day}").format(
            day=format_date(pd.Timestamp(r["closed_at"]).date()) if r.get("closed_at")
            else "")]))
        out.append(html.P(_closing_text(r.get("closed_figures")), className="note"))
    if (r is None or r.get("status") != "open") and state.red:
        out.append(html.P(_("This mahalla is red: saving the official or adding a measure "
                            "opens its roadmap."), className="note"))
        if state.why:
            out.append(html.P(_("Red because: {why}").format(why=state.why), className="note"))
    elif r is None:
        out.append(html.P(_("This mahalla is not red and has no roadmap."), className="note"))
    if not editable and (state.editable or r is not None):
        out.append(html.P(_("Read only: your role may read roadmaps but not edit them.")
                          if not may_edit() else _("Read only: the roadmap is closed."),
                          className="note"))
    return out


def _closing_text(raw: Any) -> str:
    import json

    try:
        f = json.loads(raw) if isinstance(raw, str) else None
        a, b = f["opening"], f["closing"]
        return _("At opening ({m0}): {s0}, {c0} incidents; at closing ({m1}): {s1}, {c1} "
                 "incidents.").format(m0=a["month"], s0=a["status"], c0=a["count"],
                                      m1=b["month"], s1=b["status"], c1=b["count"])
    except (TypeError, ValueError, KeyError):
        return ""


def _summary(rows: list[dict[str, Any]]) -> list[Any]:
    open_ = sum(r["status"] in ("planned", "in_progress") for r in rows)
    late = sum(r["overdue"] for r in rows)
    text = _("{open} open, {overdue} overdue, {total} in all").format(
        open=open_, overdue=late, total=len(rows))
    badge = (html.Span(_("{n} overdue").format(n=late), className="badge-overdue")
             if late else None)
    return [text, " ", badge] if badge else [text]


def show(model: AppModel, data: Any, mahalla_id: Any) -> tuple[Any, ...]:
    """The tab's outputs for ``mahalla_id`` (unknown or outside the scope: an empty tab)."""
    access = model.access
    state = None
    if isinstance(mahalla_id, str) and 0 < len(mahalla_id) <= 200:
        state = load_state(access, mahalla_id, data.status_history(), tz=model.timezone)
    editable = bool(state is not None and state.editable and may_edit())
    r = (state.roadmap or {}) if state is not None else {}
    is_open = r.get("status") == "open"
    official = [("" if _na(r.get(k)) else str(r.get(k))) if is_open or not editable else ""
                for k in ("official_name", "official_position", "official_phone")]
    rows = measure_rows(state)
    measures_editable = editable and is_open
    return (_header(state, editable), *official, seven_rows(state), rows, [],
            _summary(rows) if state is not None and r else "",
            # the official's three fields, the seven, save; the new measure's four fields, add
            *([not editable] * 3), editable, not editable, *([not editable] * 5),
            # the selected measure's due date and notes
            not measures_editable, not measures_editable)


def red_list_roadmaps(model: AppModel, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The red list's rows with their roadmap column: ``"open / overdue"`` measures."""
    ids_ = [str(r.get("mahalla_id")) for r in rows]
    counts = open_measure_counts(model.access, ids_, tz=model.timezone)
    out = []
    for r in rows:
        mid = str(r.get("mahalla_id"))
        if mid in counts.index:
            o, late = (int(v) for v in counts.loc[mid, ["open", "overdue"]])
            out.append({**r, "roadmap": f"{o} / {late}", "roadmap_overdue": late})
        else:
            out.append({**r, "roadmap": _("none"), "roadmap_overdue": 0})
    return out


def _write(model: AppModel, data: Any, trigger: Any, mahalla_id: Any,
           values: dict[str, Any]) -> tuple[str, bool]:
    """Run the write the button asks for; (message, whether something was written)."""
    access = model.access
    if not may_edit():
        access.audit(ACTION, layer="roadmaps", outcome="denied",
                     detail={"mahalla_id": str(mahalla_id)[:200], "why": "role"})
        return _("Your role may read roadmaps but not edit them: nothing was written."), False
    history = data.status_history()
    tz = model.timezone
    try:
        if trigger == _IDS.SAVE:
            seven = values["seven"] if isinstance(values["seven"], list) else None
            members = ([{"role": m.get("role"), "name": m.get("name"), "phone": m.get("phone")}
                        if isinstance(m, dict) else None for m in seven]
                       if seven is not None else None)
            save_roadmap(access, mahalla_id, values["official"], members, history, tz=tz)
            return _("Saved."), True
        if trigger == _IDS.ADD:
            add_measure(access, mahalla_id, values["new"], history, tz=tz)
            return _("Measure added."), True
        if trigger == _IDS.UPDATE:
            picked = values["picked"]
            measure = picked[0] if isinstance(picked, list) and len(picked) == 1 else None
            if not isinstance(measure, str):
                return _("Select a measure in the table first."), False
            update_measure(access, mahalla_id, measure, values["edit"], history, tz=tz)
            return _("Measure updated."), True
    except PermissionError:
        return _("This mahalla is not in your scope: nothing was written."), False
    except RoadmapInputError as exc:
        return _("Not saved: {reason}").format(reason=str(exc)), False
    return "", False


def attach(app: dash.Dash, model: AppModel) -> None:
    """Attach the Roadmap tab's callbacks to ``app`` (the commanders' guarded app)."""
    data = RequestData(model)

    @app.callback(Output(_IDS.HEADER, "children"), Output(_IDS.OFFICIAL_NAME, "value"),
                  Output(_IDS.OFFICIAL_POSITION, "value"), Output(_IDS.OFFICIAL_PHONE, "value"),
                  Output(_IDS.SEVEN, "data"), Output(_IDS.MEASURES, "data"),
                  Output(_IDS.MEASURES, "selected_rows"), Output(_IDS.SUMMARY, "children"),
                  Output(_IDS.OFFICIAL_NAME, "disabled"),
                  Output(_IDS.OFFICIAL_POSITION, "disabled"),
                  Output(_IDS.OFFICIAL_PHONE, "disabled"), Output(_IDS.SEVEN, "editable"),
                  Output(_IDS.SAVE, "disabled"), Output(_IDS.NEW_TITLE, "disabled"),
                  Output(_IDS.NEW_OWNER, "disabled"), Output(_IDS.NEW_DUE, "disabled"),
                  Output(_IDS.NEW_NOTES, "disabled"), Output(_IDS.ADD, "disabled"),
                  Output(_IDS.EDIT_DUE, "disabled"), Output(_IDS.EDIT_NOTES, "disabled"),
                  Input(_CMD.SELECTED, "data"), Input(_IDS.REFRESH, "data"),
                  Input(_CMD.TABS, "value"))
    def _show(selected: Any, _refresh: Any, tab: Any) -> tuple[Any, ...]:
        if tab != "roadmap":
            raise dash.exceptions.PreventUpdate
        return show(model, data, selected)

    @app.callback(Output(_IDS.UPDATE, "disabled"), Output(_IDS.EDIT_STATUS, "value"),
                  Output(_IDS.EDIT_DUE, "value"), Output(_IDS.EDIT_NOTES, "value"),
                  Input(_IDS.MEASURES, "selected_row_ids"), State(_IDS.MEASURES, "data"),
                  State(_IDS.ADD, "disabled"))
    def _pick(picked: Any, rows: Any, locked: Any) -> tuple[Any, ...]:
        """The selected measure's values in the edit fields (display only: re-read on save)."""
        mid = picked[0] if isinstance(picked, list) and len(picked) == 1 else None
        row = next((r for r in (rows if isinstance(rows, list) else [])
                    if isinstance(r, dict) and r.get("id") == mid), None) if mid else None
        if row is None:
            return True, None, "", ""
        return (locked is not False, row.get("status"), str(row.get("due") or "")[:10],
                str(row.get("notes") or "")[:1000])

    @app.callback(Output(_IDS.RESULT, "children"), Output(_IDS.REFRESH, "data"),
                  Output(_IDS.NEW_TITLE, "value"), Output(_IDS.NEW_OWNER, "value"),
                  Output(_IDS.NEW_DUE, "value"), Output(_IDS.NEW_NOTES, "value"),
                  Input(_IDS.SAVE, "n_clicks"), Input(_IDS.ADD, "n_clicks"),
                  Input(_IDS.UPDATE, "n_clicks"),
                  State(_CMD.SELECTED, "data"), State(_IDS.OFFICIAL_NAME, "value"),
                  State(_IDS.OFFICIAL_POSITION, "value"), State(_IDS.OFFICIAL_PHONE, "value"),
                  State(_IDS.SEVEN, "data"), State(_IDS.NEW_TITLE, "value"),
                  State(_IDS.NEW_OWNER, "value"), State(_IDS.NEW_DUE, "value"),
                  State(_IDS.NEW_NOTES, "value"), State(_IDS.MEASURES, "selected_row_ids"),
                  State(_IDS.EDIT_STATUS, "value"), State(_IDS.EDIT_DUE, "value"),
                  State(_IDS.EDIT_NOTES, "value"), State(_IDS.REFRESH, "data"),
                  prevent_initial_call=True)
    def _save(_s: Any, _a: Any, _u: Any, selected: Any, name: Any, position: Any, phone: Any,
              seven: Any, title: Any, owner: Any, due: Any, notes: Any, picked: Any,
              status: Any, edit_due: Any, edit_notes: Any, refresh: Any) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        if trigger not in (_IDS.SAVE, _IDS.ADD, _IDS.UPDATE):
            raise dash.exceptions.PreventUpdate
        values = {"official": {"official_name": name, "official_position": position,
                               "official_phone": phone}, "seven": seven,
                  "new": {"title": title, "owner": owner, "due": due, "notes": notes},
                  "picked": picked,
                  "edit": {"status": status, "due": edit_due, "notes": edit_notes}}
        message, written = _write(model, data, trigger, selected, values)
        if not written:
            return message, dash.no_update, *([dash.no_update] * 4)
        count = refresh + 1 if isinstance(refresh, int) and 0 <= refresh < 10**9 else 1
        cleared = ["", "", "", ""] if trigger == _IDS.ADD else [dash.no_update] * 4
        return message, count, *cleared
