"""Audit of the views users open: one ``view`` record per distinct (page, query) per minute."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from riskmap.layers.access import DataAccess

__all__ = ["VIEW_ACTION", "ViewAuditor"]

#: the audit action of an opened view
VIEW_ACTION = "view"


class ViewAuditor:
    """Write an audit record for each distinct view, at most once per ``window_s`` seconds.

    Parameters
    ----------
    access
        The data access whose :meth:`~layers.access.DataAccess.audit` gets the records.
    window_s
        A (page, query) already audited less than this many seconds ago is not audited again.
    clock
        Monotonic seconds (tests pass a fake clock).

    Notes
    -----
    The record is ``action="view"``, ``layer=page``, ``detail=params``. Callbacks call
    :meth:`record` whenever they draw a view; repeats (zoom, re-renders of the same view) cost
    a dictionary lookup. One auditor per app process (it lives on the app's model).
    """

    def __init__(self, access: DataAccess, *, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.access = access
        self.window_s = float(window_s)
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str, str], float] = {}

    def record(self, page: str, params: Mapping[str, Any] | None = None, *,
               access: DataAccess | None = None) -> bool:
        """Audit the view ``(page, params)`` unless it was audited within the window.

        Parameters
        ----------
        page
            The page name (the record's ``layer``).
        params
            The view's query parameters (the record's ``detail``); ``None`` or empty for the
            page's default view.

        Returns
        -------
        bool
            Whether a record was written.
        """
        detail = dict(params or {})
        access = access or self.access
        key = (access.user, page, json.dumps(detail, sort_keys=True, ensure_ascii=False,
                                             default=str))
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.window_s:
                return False
            self._last[key] = now
            if len(self._last) > 4096:  # forget views outside the window
                self._last = {k: t for k, t in self._last.items() if now - t < self.window_s}
        access.audit(VIEW_ACTION, layer=page, detail=detail or None)
        return True
