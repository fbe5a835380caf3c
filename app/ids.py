"""Component ids shared by page layouts, callbacks and browser tests (one place, no literals)."""

from __future__ import annotations

__all__ = ["COMMANDERS", "DEMO_BADGE", "HEADER", "MAIN", "NAV", "OVERVIEW", "PLANNER", "SCOPE",
           "TOURISM", "make_id"]


def make_id(page: str, name: str) -> str:
    """Page-prefixed component id, e.g. ``make_id("overview", "map") == "overview-map"``."""
    return f"{page}-{name}"


#: ids of the app frame built by :func:`app.factory.create_app`
HEADER = "app-header"
NAV = "app-nav"
MAIN = "app-main"
DEMO_BADGE = "app-demo-badge"
SCOPE = "app-scope"


class OVERVIEW:
    """Ids of the overview page (``/``)."""

    LEVEL = make_id("overview", "level")
    REGION = make_id("overview", "region")
    DISTRICT = make_id("overview", "district")
    DATES = make_id("overview", "dates")
    CATEGORIES = make_id("overview", "categories")
    PRECISE = make_id("overview", "precise")
    MAP = make_id("overview", "map")
    SUMMARY = make_id("overview", "summary")
    QUERY = make_id("overview", "query")
    URL_SINK = make_id("overview", "url-sink")


class COMMANDERS:
    """Ids of the commanders' page (``/commanders``; prefix ``cmd``)."""

    LEVEL = make_id("cmd", "level")
    METRIC = make_id("cmd", "metric")
    REGION = make_id("cmd", "region")
    DISTRICT = make_id("cmd", "district")
    MONTHS = make_id("cmd", "months")
    MONTHS_TEXT = make_id("cmd", "months-text")
    PLAY = make_id("cmd", "play")
    TICK = make_id("cmd", "tick")
    CATEGORIES = make_id("cmd", "categories")
    LAYERS = make_id("cmd", "layers")
    MAP = make_id("cmd", "map")
    SUMMARY = make_id("cmd", "summary")
    VIEWPORT = make_id("cmd", "viewport")
    RANGE = make_id("cmd", "range")
    QUERY = make_id("cmd", "query")
    URL_SINK = make_id("cmd", "url-sink")
    SELECTED = make_id("cmd", "selected")
    TABS = make_id("cmd", "tabs")
    PANEL = make_id("cmd", "panel")
    PANEL_TITLE = make_id("cmd", "panel-title")
    PANEL_META = make_id("cmd", "panel-meta")
    TREND = make_id("cmd", "trend")
    CATS_CHART = make_id("cmd", "cats-chart")
    STATUS = make_id("cmd", "status")
    CAMERAS = make_id("cmd", "cameras")
    INCIDENTS = make_id("cmd", "incidents")
    BRIEF_HTML = make_id("cmd", "brief-html")
    BRIEF_CSV = make_id("cmd", "brief-csv")
    DOWNLOAD_HTML = make_id("cmd", "download-html")
    DOWNLOAD_CSV = make_id("cmd", "download-csv")
    REDLIST = make_id("cmd", "redlist")
    EVAL_TEXT = make_id("cmd", "eval-text")
    EVAL_CHART = make_id("cmd", "eval-chart")


class PLANNER:
    """Ids of the camera planner page (``/planner``)."""

    AREA = make_id("planner", "area")
    RISK = make_id("planner", "risk")
    COVERAGE = make_id("planner", "coverage")
    BUDGET = make_id("planner", "budget")
    TYPES = make_id("planner", "types")
    CANDIDATES = make_id("planner", "candidates")
    RUN = make_id("planner", "run")
    LOADING = make_id("planner", "loading")
    SUMMARY = make_id("planner", "summary")
    MAP = make_id("planner", "map")
    CURVE = make_id("planner", "curve")
    PLAN = make_id("planner", "plan")
    DOWNLOAD_GEOJSON = make_id("planner", "download-geojson")
    DOWNLOAD_CSV = make_id("planner", "download-csv")
    DOWNLOAD = make_id("planner", "download")
    ACCEPT = make_id("planner", "accept")
    ACCEPTED = make_id("planner", "accepted")


class TOURISM:
    """Ids of the tourism page (``/tourism``)."""

    ZONE = make_id("tourism", "zone")
    SOURCE = make_id("tourism", "source")
    SUMMARY = make_id("tourism", "summary")
    CHECKLIST = make_id("tourism", "checklist")
    SHARES = make_id("tourism", "shares")
    MAP = make_id("tourism", "map")
    SEASON = make_id("tourism", "season")
    LOADING = make_id("tourism", "loading")
    DOWNLOAD_HTML = make_id("tourism", "download-html")
    DOWNLOAD_JSON = make_id("tourism", "download-json")
    DOWNLOAD = make_id("tourism", "download")
