"""A light poll for new data on an open page (the commanders' page uses it).

Every ``DATA_POLL_MS`` the browser asks; the server checks the data version
(:attr:`riskmap.app.data.AppModel.data_version`: a version compare, rate-limited by the app's
``refresh_seconds``; the store is read again only when it changed). When the version is the one
the page shows, the answer is empty (HTTP 204: no figure, no table); when it changed, the new
version goes to a ``dcc.Store`` that the map and the red list take as an input, so only then
are they redrawn, with a small "updated HH:MM" note.

Defines no ``register`` (the app would take it for a page): the page's callbacks module calls
:func:`register_data_poll`, so the callback is guarded as that page's.
"""

from __future__ import annotations

from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from riskmap.app.data import AppModel

__all__ = ["poll_answer", "register_data_poll"]


def poll_answer(version: str | None, seen: Any, now: pd.Timestamp, tz: str) -> tuple[Any, Any]:
    """What the poll sends: ``(version, note)``, or ``no_update`` twice when nothing changed.

    Examples
    --------
    >>> at = pd.Timestamp("2025-06-01T07:05:00Z")
    >>> poll_answer("v2", "v1", at, "Asia/Tashkent")
    ('v2', 'updated 12:05')
    >>> poll_answer("v1", "v1", at, "UTC") == (dash.no_update, dash.no_update)
    True
    >>> poll_answer(None, "v1", at, "UTC") == (dash.no_update, dash.no_update)
    True
    """
    if version is None or version == seen:
        return no_update, no_update
    return version, f"updated {now.tz_convert(tz):%H:%M}"


def register_data_poll(app: dash.Dash, model: AppModel, *, poll: str, version: str,
                       note: str) -> None:
    """Attach the poll: ``poll`` (a ``dcc.Interval``) -> ``version`` (a ``dcc.Store``) and
    ``note`` (the "updated HH:MM" text)."""

    @app.callback(Output(version, "data"), Output(note, "children"),
                  Input(poll, "n_intervals"), State(version, "data"),
                  prevent_initial_call=True)
    def _poll(_: int, seen: Any) -> tuple[Any, Any]:
        got = poll_answer(model.data_version, seen if isinstance(seen, str) else None,
                          pd.Timestamp.now(tz="UTC"), model.timezone)
        if got[0] is no_update:
            raise PreventUpdate  # an empty answer (204): nothing sent, nothing redrawn
        return got
