"""A freshly started server answers every request of its first page load: the page's scripts,
fetched while Dash is still setting itself up, are not refused (plotly/dash#3971)."""

from __future__ import annotations

import re
import threading
import time

from riskmap.layers.store import Store
from tests.app.test_auth import _app


def _script_paths(app) -> list[str]:
    """The page's script URLs (Dash's own bundles), as a browser would find them in the page."""
    with app.server.test_client() as client:
        page = client.get("/").get_data(as_text=True)
    return re.findall(r'<script src="(/_dash-component-suites/[^"]+)"', page)


def test_scripts_asked_for_during_the_setup_wait_for_it(store: Store) -> None:
    paths = _script_paths(_app(store, auth="none"))
    assert len(paths) >= 4
    app = _app(store, auth="none")  # a fresh one: not set up yet
    real = app._generate_scripts_html

    def slow() -> object:  # the setup takes a while: a big layout, a busy machine
        time.sleep(0.5)
        return real()

    app._generate_scripts_html = slow
    barrier = threading.Barrier(len(paths))
    status: dict[str, int] = {}

    def fetch(path: str) -> None:
        with app.server.test_client() as client:
            barrier.wait(timeout=30)
            status[path] = client.get(path).status_code

    threads = [threading.Thread(target=fetch, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert status == dict.fromkeys(paths, 200)
