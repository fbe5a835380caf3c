"""Component ids shared by page layouts, callbacks and browser tests (one place, no literals)."""

from __future__ import annotations

__all__ = ["DEMO_BADGE", "HEADER", "MAIN", "NAV", "OVERVIEW", "SCOPE", "make_id"]


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

