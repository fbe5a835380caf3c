"""Component ids shared by page layouts, callbacks and browser tests (one place, no literals)."""

from __future__ import annotations

import inspect
from typing import ClassVar

__all__ = ["ADMIN", "COMMANDERS", "DEMO_BADGE", "DENIED", "HEADER", "LOGOUT", "MAIN", "NAV", "OVERVIEW",
           "PLANNER", "REMATCH", "SCOPE", "TOURISM", "PageIds", "make_id"]


def make_id(page: str, name: str) -> str:
    """Page-prefixed component id, e.g. ``make_id("overview", "map") == "overview-map"``."""
    return f"{page}-{name}"


#: ids of the app frame built by :func:`app.factory.create_app`
HEADER = "app-header"
NAV = "app-nav"
MAIN = "app-main"
DEMO_BADGE = "app-demo-badge"
SCOPE = "app-scope"
LOGOUT = "app-logout"
#: the notice a page shows to a role that may not use it
DENIED = "app-page-denied"


class PageIds:
    """Base of a page's id namespace: each annotated name becomes ``<prefix>-<kebab-name>``.

    Examples
    --------
    >>> class DEMO(PageIds, prefix="demo"):
    ...     URL_SINK: str
    >>> DEMO.URL_SINK
    'demo-url-sink'
    """

    PREFIX: ClassVar[str]

    def __init_subclass__(cls, *, prefix: str, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.PREFIX = prefix
        for name in inspect.get_annotations(cls):
            if name != "PREFIX":
                setattr(cls, name, make_id(prefix, name.lower().replace("_", "-")))


class OVERVIEW(PageIds, prefix="overview"):
    """Ids of the overview page (``/``)."""

    LEVEL: str
    REGION: str
    DISTRICT: str
    DATES: str
    CATEGORIES: str
    PRECISE: str
    MAP: str
    SUMMARY: str
    QUERY: str
    URL_SINK: str


class COMMANDERS(PageIds, prefix="cmd"):
    """Ids of the commanders' page (``/commanders``; prefix ``cmd``)."""

    LEVEL: str
    METRIC: str
    REGION: str
    DISTRICT: str
    MONTHS: str
    MONTHS_TEXT: str
    PLAY: str
    TICK: str
    CATEGORIES: str
    LAYERS: str
    MAP: str
    SUMMARY: str
    VIEWPORT: str
    RANGE: str
    QUERY: str
    URL_SINK: str
    SELECTED: str
    TABS: str
    PANEL: str
    PANEL_TITLE: str
    PANEL_META: str
    TREND: str
    CATS_CHART: str
    STATUS: str
    CAMERAS: str
    INCIDENTS: str
    BRIEF_HTML: str
    BRIEF_CSV: str
    DOWNLOAD_HTML: str
    DOWNLOAD_CSV: str
    REDLIST: str
    EVAL_TEXT: str
    EVAL_CHART: str


class PLANNER(PageIds, prefix="planner"):
    """Ids of the camera planner page (``/planner``)."""

    AREA: str
    RISK: str
    COVERAGE: str
    BUDGET: str
    TYPES: str
    CANDIDATES: str
    RUN: str
    LOADING: str
    SUMMARY: str
    MAP: str
    CURVE: str
    PLAN: str
    DOWNLOAD_GEOJSON: str
    DOWNLOAD_CSV: str
    DOWNLOAD: str
    ACCEPT: str
    ACCEPTED: str
    # the background job of a plan run
    JOB: str
    POLL: str
    PROGRESS: str
    PROGRESS_BAR: str
    PROGRESS_TEXT: str
    CANCEL: str


class TOURISM(PageIds, prefix="tourism"):
    """Ids of the tourism page (``/tourism``)."""

    ZONE: str
    SOURCE: str
    SUMMARY: str
    CHECKLIST: str
    SHARES: str
    MAP: str
    SEASON: str
    LOADING: str
    DOWNLOAD_HTML: str
    DOWNLOAD_JSON: str
    DOWNLOAD: str


class REMATCH(PageIds, prefix="rematch"):
    """Ids of the rematch page (``/rematch``): unmatched rows matched to a mahalla by hand."""

    SUMMARY: str
    ROWS: str
    ROW_TEXT: str
    CANDIDATES: str
    OTHER: str
    CHOICE: str
    ALIAS: str
    MAP: str
    CONFIRM: str
    RESULT: str
    REFRESH: str


class ADMIN(PageIds, prefix="admin"):
    """Ids of the admin page (``/admin``): users, the audit log, jobs and the quarantine."""

    TABS: str
    # users
    USERS: str
    USERS_SUMMARY: str
    USER_DISABLE: str
    USER_ENABLE: str
    USER_RESULT: str
    USERS_REFRESH: str
    # the audit log
    AUDIT_USER: str
    AUDIT_ACTION: str
    AUDIT_OUTCOME: str
    AUDIT_FROM: str
    AUDIT_TO: str
    AUDIT_REFRESH: str
    AUDIT_CHAIN: str
    AUDIT_SUMMARY: str
    AUDIT_TABLE: str
    AUDIT_CSV: str
    AUDIT_DOWNLOAD: str
    # jobs
    JOBS: str
    JOBS_SUMMARY: str
    JOBS_REFRESH: str
    JOB_CANCEL: str
    JOB_RESULT: str
    # the ingest quarantine
    QUARANTINE_SUMMARY: str
    QUARANTINE_REFRESH: str
    QUARANTINE_COUNTS: str
    QUARANTINE_ROWS: str
