"""Component ids: one namespace per page in app/ids.py, values stable and distinct."""

from __future__ import annotations

import pytest

from riskmap.app import ids


@pytest.mark.parametrize(("page", "prefix"), [(ids.OVERVIEW, "overview"),
                                              (ids.COMMANDERS, "cmd"),
                                              (ids.PLANNER, "planner"),
                                              (ids.TOURISM, "tourism"),
                                              (ids.REVIEW, "cmd-review")])
def test_every_id_is_prefix_and_kebab_name(page: type[ids.PageIds], prefix: str) -> None:
    names = [n for n in vars(page) if n.isupper() and n != "PREFIX"]
    assert names and prefix == page.PREFIX
    for name in names:
        assert getattr(page, name) == prefix + "-" + name.lower().replace("_", "-")


def test_ids_the_browser_tests_use_by_hand() -> None:
    assert ids.PLANNER.DOWNLOAD_GEOJSON == "planner-download-geojson"
    assert ids.TOURISM.CHECKLIST == "tourism-checklist"
    assert ids.COMMANDERS.URL_SINK == "cmd-url-sink"
    assert ids.OVERVIEW.MAP == "overview-map"


def test_ids_are_distinct_across_pages() -> None:
    pages = (ids.OVERVIEW, ids.COMMANDERS, ids.PLANNER, ids.TOURISM, ids.REMATCH, ids.ADMIN,
             ids.REVIEW)
    every = [getattr(p, n) for p in pages for n in vars(p) if n.isupper() and n != "PREFIX"]
    assert len(every) == len(set(every)) == 167
