"""Back and Forward step through the commanders' filter changes (real headless Chromium)."""

from __future__ import annotations

from typing import Any

import pytest
from selenium.common.exceptions import WebDriverException

from tests.app.test_commanders import _choose, _query, _text, _wait

pytestmark = pytest.mark.browser


def _view(driver: Any) -> dict[str, list[str]]:
    """The view's query parameters (the language parameter aside)."""
    return {k: v for k, v in _query(driver).items() if k != "lang"}


def _summary_starts(driver: Any, prefix: str) -> None:
    seen: list[str] = []

    def shows(d: Any) -> bool:
        try:  # the page is drawn again after Back: its elements are replaced meanwhile
            seen.append(_text(d, "cmd-summary"))
        except WebDriverException:
            return False
        return seen[-1].startswith(prefix)
    try:
        _wait(driver, shows)
    except Exception as exc:
        raise AssertionError(f"summary {seen[-1:]!r}, wanted {prefix!r}") from exc


def test_back_and_forward_step_through_filter_changes(browser: Any, dash_server: str,
                                                     world_store: Any) -> None:
    incidents = world_store.read("incidents", columns=["category", "h3"])
    theft = incidents[incidents["category"] == "theft"]
    browser.get(dash_server + "/commanders?lang=en")
    _summary_starts(browser, f"{len(incidents)} incidents in 9 mahallas")
    assert _view(browser) == {}

    browser.find_element("css selector", "#cmd-level input[value='h3']").click()
    _summary_starts(browser, f"{len(incidents)} incidents in ")
    _wait(browser, lambda d: _view(d) == {"level": ["h3"]})
    _choose(browser, "cmd-categories", "theft")
    _wait(browser, lambda d: _view(d) == {"level": ["h3"], "categories": ["theft"]})
    _summary_starts(browser, f"{len(theft)} incidents in {theft['h3'].nunique()} H3 cells")

    # Back: the view before the category filter, drawn again (controls and map)
    browser.back()
    _wait(browser, lambda d: _view(d) == {"level": ["h3"]})
    _summary_starts(browser, f"{len(incidents)} incidents in {incidents['h3'].nunique()} H3")
    assert browser.find_element("css selector", "#cmd-level input[value='h3']").is_selected()
    # Back again: the page as it was first opened
    browser.back()
    _wait(browser, lambda d: _view(d) == {})
    _summary_starts(browser, f"{len(incidents)} incidents in 9 mahallas")
    assert "/commanders" in browser.current_url  # Back did not leave the page
    # Forward twice: the filters come back in order
    browser.forward()
    _wait(browser, lambda d: _view(d) == {"level": ["h3"]})
    _summary_starts(browser, f"{len(incidents)} incidents in {incidents['h3'].nunique()} H3")
    browser.forward()
    _wait(browser, lambda d: _view(d) == {"level": ["h3"], "categories": ["theft"]})
    _summary_starts(browser, f"{len(theft)} incidents in {theft['h3'].nunique()} H3 cells")
