"""Component ids shared by page layouts, callbacks and browser tests (one place, no literals)."""

from __future__ import annotations

import inspect
from typing import ClassVar

__all__ = ["ADMIN", "COMMANDERS", "DEMO_BADGE", "DENIED", "HEADER", "LANGUAGE", "LANGUAGE_MARK",
           "LANGUAGE_URL", "LOGOUT", "MAIN", "MAPTOOLS", "NAV", "OVERVIEW",
           "PLANNER", "REMATCH", "REVIEW", "ROADMAP", "SCOPE", "TOURISM", "PageIds", "make_id"]


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
#: the language switch in the header, the location it reloads, the page's language (data-lang)
LANGUAGE = "app-language"
LANGUAGE_URL = "app-language-url"
LANGUAGE_MARK = "app-language-mark"
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
    #: the bounds the map shows (after a zoom or pan), what the last answer drew, and the
    #: server's figure (put on the map keeping the view shown)
    RANGE: str
    DRAWN: str
    FIGURE: str


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
    FOCUS: str
    FOCUS_TABLE: str
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
    WINDOW_NOTICE: str
    # a click anywhere on the map (not only on a mahalla's tooltip point): lon/lat
    # (app/assets/map_click.js)
    CLICK_POINT: str
    # what the map's setup in the browser returns (box zoom on, the first view fitted)
    MAP_SETUP: str
    # the map figure as the server drew it; the browser puts it on the map keeping the view
    # the user has (MapLibre: the centre and zoom of the map as it is shown)
    MAP_FIGURE: str
    # the map's size in pixels as the page lays it out (the first view is computed for it)
    MAP_SIZE: str
    # the light poll for new data: every 30 s, the data version, the "updated HH:MM" note
    DATA_POLL: str
    DATA_VERSION: str
    UPDATED: str


class REVIEW(PageIds, prefix="cmd-review"):
    """Ids of the commanders' "Review pack" tab (``app/pages/review_panel.py``)."""

    KIND: str
    PERIOD: str
    REGION: str
    MAKE: str
    MESSAGE: str
    JOB: str
    POLL: str
    PROGRESS: str
    PROGRESS_BAR: str
    PROGRESS_TEXT: str
    CANCEL: str
    PACK: str
    PACK_TEXT: str
    OPEN_HTML: str
    OPEN_PDF: str
    DOWNLOAD: str
    PACKS: str
    PACKS_REFRESH: str


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
    # the cameras a next plan keeps fixed; saved plans compared side by side
    BASELINE: str
    SAVED_A: str
    SAVED_B: str
    COMPARE: str
    COMPARISON: str
    COMPARE_CSV: str
    COMPARE_DOWNLOAD: str
    COMPARE_MAP_A: str
    COMPARE_MAP_B: str


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
    # ingestion runs
    RUNS: str
    RUNS_SUMMARY: str
    RUNS_OUTCOME: str
    RUNS_FILE: str
    RUNS_REFRESH: str
    RUNS_CSV: str
    RUNS_DOWNLOAD: str
    RUN_FACTS: str
    RUN_SUMMARY: str
    RUN_REPORT: str
    RUN_QUARANTINE: str
    # the ingest quarantine
    QUARANTINE_FILE: str
    QUARANTINE_SUMMARY: str
    QUARANTINE_REFRESH: str
    QUARANTINE_COUNTS: str
    QUARANTINE_ROWS: str


class ROADMAP(PageIds, prefix="roadmap"):
    """Ids of the Roadmap tab of the commanders' mahalla panel (``app/pages/roadmap_panel.py``)."""

    PANEL: str
    HEADER: str
    OFFICIAL_NAME: str
    OFFICIAL_POSITION: str
    OFFICIAL_PHONE: str
    SEVEN: str
    SAVE: str
    SUMMARY: str
    MEASURES: str
    NEW_TITLE: str
    NEW_OWNER: str
    NEW_DUE: str
    NEW_NOTES: str
    ADD: str
    EDIT_STATUS: str
    EDIT_DUE: str
    EDIT_NOTES: str
    UPDATE: str
    RESULT: str
    REFRESH: str


class MAPTOOLS(PageIds, prefix="cmd-tools"):
    """Ids of the commanders' map tools: the mahalla search, labels, red-list exports
    (``app/pages/map_tools.py``, ``app/callbacks/search.py``)."""

    SEARCH: str
    ZOOM: str
    ZOOM_SINK: str
    LABELS_SINK: str
    RED_CSV: str
    RED_PDF: str
    DOWNLOAD: str
    MESSAGE: str
