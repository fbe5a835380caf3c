"""Every page of the app opens on empty and tiny stores, with no callback error.

A callback that fails answers HTTP 500, which the browser logs as a console error: each page
is opened, left to settle (no callback in flight), then its console must be clean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from riskmap.layers import open_store

pytestmark = pytest.mark.browser

PAGES = ("/", "/commanders", "/planner", "/tourism")
_IDLE_JS = "return !!window.store && !window.store.getState().isLoading;"


def _world(name: str, root: Path, grid: Any, incidents_at: Any) -> Any:
    store = open_store(str(root))
    if name == "empty":
        return store
    mahallas = grid() if name != "one-mahalla" else grid().head(1)
    with store.transaction() as txn:
        txn.replace("mahallas", mahallas)
        if name == "one-incident":
            txn.replace("incidents", incidents_at([67.845], [40.125], ["theft"],
                                                  ["2025-03-05T10:00Z"]))
        elif name == "address-only":  # fraud is placed at the victim's mahalla: empty points
            txn.replace("incidents", incidents_at([67.845] * 3, [40.125] * 3, ["fraud"] * 3,
                                                  pd.date_range("2025-01-05", periods=3,
                                                                freq="MS", tz="UTC")))
    return store


@pytest.mark.parametrize("world", ["empty", "one-mahalla", "one-incident", "address-only"])
def test_every_page_opens_on_a_tiny_store(world: str, tmp_path: Path, browser: Any,
                                          app_server: Any, incidents_at: Any, wait: Any,
                                          clean_console: Any) -> None:
    from tests.app.conftest import mahalla_grid

    store = _world(world, tmp_path / "store", mahalla_grid, incidents_at)
    with app_server(store, "test") as url:
        for page in PAGES:
            browser.get(url + page)
            wait(browser, lambda d: d.execute_script(_IDLE_JS))
            body = browser.find_element("tag name", "body").text
            assert "Error" not in body and "Traceback" not in body, (page, body[:500])
            assert browser.find_elements("css selector", "nav a"), page  # the page rendered
            clean_console(browser)
