"""Browser benchmark of the app's pages: first loads and a commander's session in headless Chromium.

``riskmap bench app`` serves the app over a demo store the way ``riskmap serve`` does (a child
process: gunicorn when installed, on 127.0.0.1 and a free port), drives headless Chromium with
Selenium through the pages a user works on, and times each step **in the page**: from the user's
input event (the click, the last wheel notch, the mouse-up that ends a drag) to the moment the
result is on screen. "On screen" is the animation frame after the last DOM change (or the last
frame a MapLibre map rendered) in the part of the page that shows the result (the map, the
summary, the side panel), taken once the Dash
renderer has no callback in flight and the page stayed quiet for a moment; the quiet wait is
not counted. A first load is the same barrier measured from the navigation start
(``performance.now()`` is zero there; the Navigation Timing figures are kept beside it).

The app runs without logins (``RISKMAP_APP__AUTH=none``, which the settings allow on loopback
only): a login would have to write a throwaway admin and its session into the store being
measured, and the login check of a page request is a cached dict lookup, so the figures would
not differ. Nothing is written to the store but the app's own audit records of the reads.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskmap.errors import RiskmapError

__all__ = ["PAGES", "TARGETS", "BenchError", "Session", "demo_store", "machine_load",
           "open_browser", "run", "serve"]

#: the pages ``--pages`` can name, and their paths
PAGES = {"commanders": "/commanders", "planner": "/planner", "tourism": "/tourism",
         "overview": "/"}
#: targets in seconds (the issue): an interaction's p95, a page's first load
TARGETS = {"interaction": 1.0, "interaction_large": 2.0, "first_load": 2.0}
#: how long the page must stay quiet (no DOM change, no callback) before a step counts as done
QUIET_MS = 400
#: the longest a step may take before it is recorded as timed out
STEP_TIMEOUT_S = 120.0

_CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
_CHROMEDRIVER = ("/usr/bin/chromedriver", "chromedriver")


class BenchError(RiskmapError):
    """The benchmark cannot run (no browser, no store, the server does not start)."""


# ---- the in-page probe -------------------------------------------------------------------

#: installed in every document before the page's own scripts (CDP
#: ``Page.addScriptToEvaluateOnNewDocument``): records the time of the animation frame after
#: each DOM change inside ``B.watch`` (hover labels and the slider's tooltip aside) and of
#: each frame a MapLibre map in it renders, and, while armed, the user's input events
_PROBE_JS = r"""
(() => {
  if (window.__bench) { return; }
  const B = window.__bench = {watch: null, last: 0, changes: 0, armed: false, inputs: []};
  if (performance.setResourceTimingBufferSize) { performance.setResourceTimingBufferSize(100000); }
  const skip = '.hoverlayer, .dash-slider-tooltip, .rc-slider-tooltip';
  const frame = () => requestAnimationFrame(() => { B.last = performance.now(); });
  const seen = (node) => {
    const el = node.nodeType === 1 ? node : node.parentElement;
    if (!el || (el.closest && el.closest(skip))) { return false; }
    return !B.watch || !!el.closest(B.watch);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (seen(r.target)) { B.changes += 1; frame(); return; }
    }
  }).observe(document, {childList: true, subtree: true, characterData: true, attributes: true});
  // a MapLibre map draws on a canvas, not in the DOM: each frame it renders (a pan, a zoom,
  // tiles arriving) is a change of its plot
  setInterval(() => {
    for (const gd of document.querySelectorAll('.js-plotly-plot')) {
      const full = gd._fullLayout, sub = full && full.map && full.map._subplot;
      const m = sub && sub.map;
      if (!m || m.__bench) { continue; }
      m.__bench = true;
      m.on('render', () => { if (seen(gd)) { B.changes += 1; B.last = performance.now(); } });
    }
  }, 50);
  for (const type of ['click', 'dblclick', 'pointerup', 'wheel', 'keyup']) {
    document.addEventListener(type, (e) => {
      if (B.armed) { B.inputs.push([e.type, e.timeStamp]); }
    }, true);
  }
})();
"""

#: the Dash renderer has no callback requested, queued or in flight
_IDLE_JS = r"""
const s = window.store && window.store.getState ? window.store.getState() : null;
if (!s) { return false; }
if (s.isLoading) { return false; }
const c = s.callbacks || {};
for (const k of ['requested', 'prioritized', 'blocked', 'executing', 'watched', 'executed']) {
  if (c[k] && c[k].length) { return false; }
}
return true;
"""

#: what the wait loop polls: the renderer idle, the page's map drawn (arguments[0]: the map's
#: plot div; drawn: it holds traces, its summary, arguments[1], shows text, or it shows a
#: message that is not a placeholder: those end in "..."), the changes seen
_STATE_JS = r"""
const B = window.__bench;
const idle = (() => {""" + _IDLE_JS + r"""})();
const gd = document.querySelector(arguments[0]);
const summary = arguments[1] ? document.querySelector(arguments[1]) : null;
const text = summary ? summary.textContent.trim() : '';
const notes = (gd && gd.layout && gd.layout.annotations) || [];
const message = notes.some(a => a.text && !/(\.\.\.|…)\s*$/.test(a.text));
// a MapLibre map is drawn once its style, base tiles and glyphs have loaded
const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
const tiles = !sub || !sub.map || (sub.map.loaded() && sub.map.areTilesLoaded());
const ready = !!(gd && gd._fullLayout && ((gd.data && gd.data.length) || text || message))
              && tiles;
const watched = arguments[2] ? document.querySelector(arguments[2]) : null;
return {idle: idle, ready: ready, changes: B ? B.changes : 0, last: B ? B.last : 0,
        now: performance.now(), inputs: B ? B.inputs : [],
        watched: watched ? watched.textContent : null};
"""

_ARM_JS = r"""
const B = window.__bench;
B.watch = arguments[0]; B.inputs = []; B.armed = true;
return {changes: B.changes, now: performance.now()};
"""

#: when the last answer of a Dash callback started after arguments[0] arrived (page ms; 0: none)
_SERVER_JS = r"""
let last = 0;
for (const e of performance.getEntriesByType('resource')) {
  if (e.name.indexOf('/_dash-update-component') >= 0 && e.startTime >= arguments[0]) {
    last = Math.max(last, e.responseEnd);
  }
}
return last;
"""

_NAV_JS = r"""
const n = performance.getEntriesByType('navigation')[0];
return n ? {response_end: n.responseEnd, dom_content_loaded: n.domContentLoadedEventEnd,
            load_event_end: n.loadEventEnd} : null;
"""


# ---- serving -------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(store: str, folder: Path, *, timeout_s: float = 600.0) -> Iterator[tuple[str, str]]:
    """Run ``riskmap serve`` over ``store`` on 127.0.0.1 (no logins); yield (URL, server name).

    The server is a child process in its own session (gunicorn: one worker on the embedded
    store, as ``riskmap serve`` does; the threaded server when gunicorn is missing); its output
    goes to ``folder/server.log``. It is stopped (TERM, then KILL after 20 s) on the way out.
    """
    port = _free_port()
    server = "gunicorn" if (os.name == "posix"
                            and importlib.util.find_spec("gunicorn") is not None) else "auto"
    env = {**os.environ, "RISKMAP_APP__AUTH": "none", "RISKMAP_APP__HOST": "127.0.0.1",
           "RISKMAP_APP__PORT": str(port)}
    env.pop("RISKMAP_APP__SERVER", None)
    log_path = folder / "server.log"
    cmd = [sys.executable, "-m", "riskmap", "serve", "--store", store, "--server", server]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, url, log_path, timeout_s)
        yield url, server
    finally:
        _stop(proc)


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log_path: Path,
                  timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the server stopped (exit {proc.returncode}): "
                             f"{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise BenchError(f"the server did not answer {url}/healthz within {timeout_s:.0f} s: "
                     f"{_tail(log_path)}")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return "(no server log)"
    return " | ".join(text[-lines:]) or "(the server log is empty)"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """TERM the server's process group (its own session), KILL it after 20 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# ---- the demo store ------------------------------------------------------------------------

def demo_size(store: str) -> str | None:
    """The demo size recorded in the store's ``store_meta`` (None: not a demo store)."""
    from riskmap.layers import open_store

    with open_store(store) as st:
        if not st.has("store_meta"):
            return None
        meta = st.read("store_meta")
    if len(meta) == 0 or "key" not in meta.columns:
        return None
    sizes = meta.loc[meta["key"] == "demo_size", "value"].astype(str).tolist()
    return sizes[0] if sizes else None


def demo_store(size: str, folder: Path) -> str:
    """The demo store of ``size`` in ``folder``: reused when it is there, else built with
    ``riskmap demo --size SIZE --no-serve`` (minutes for medium)."""
    if (folder / "manifest.json").exists() and demo_size(str(folder)) == size:
        print(f"reusing the {size} demo store in {folder}")
        return str(folder)
    if folder.exists() and any(folder.iterdir()):
        raise BenchError(f"{folder} is not empty and holds no {size} demo store: "
                         "give an empty or missing folder")
    print(f"building the {size} demo store in {folder} (riskmap demo --no-serve) ...",
          flush=True)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "riskmap", "demo", "--size", size,
                           "--no-serve", "--no-progress", "--store", str(folder)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise BenchError(f"riskmap demo failed: {lines[-1] if lines else done.returncode}")
    print(f"  built in {time.perf_counter() - t0:.0f} s")
    return str(folder)


# ---- the browser ---------------------------------------------------------------------------

def _find(candidates: tuple[str, ...], env: str) -> str | None:
    wanted = os.environ.get(env)
    if wanted:
        return wanted if os.path.exists(wanted) else None
    for name in candidates:
        found = name if os.path.isabs(name) and os.path.exists(name) else shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def open_browser(folder: Path, *, headless: bool = True) -> Iterator[Any]:
    """Chromium through Selenium and the OS's chromedriver (no Selenium Manager, no downloads),
    as the browser tests start it; the probe is installed in every page it opens.

    ``RISKMAP_CHROMIUM`` and ``RISKMAP_CHROMEDRIVER`` name other binaries.
    """
    if importlib.util.find_spec("selenium") is None:
        raise BenchError("riskmap bench app needs Selenium: pip install -c requirements/lock.txt "
                         "-e '.[dev]'")
    chromium = _find(_CHROMIUM, "RISKMAP_CHROMIUM")
    driver_path = _find(_CHROMEDRIVER, "RISKMAP_CHROMEDRIVER")
    if chromium is None or driver_path is None:
        raise BenchError("riskmap bench app needs Chromium and chromedriver (Debian: apt-get "
                         "install chromium chromium-driver; or set RISKMAP_CHROMIUM and "
                         "RISKMAP_CHROMEDRIVER)")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--window-size=1400,1000", f"--user-data-dir={folder / 'profile'}"]
    if headless:
        args.insert(0, "--headless=new")
    for arg in args:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.set_page_load_timeout(STEP_TIMEOUT_S)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _PROBE_JS})
        yield driver
    finally:
        driver.quit()


# ---- measuring -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Page:
    """Where a page shows its result: the map's plot div, the summary line, the watched area."""

    path: str
    map: str
    summary: str
    watch: str


_PAGE = {
    "commanders": _Page("/commanders", "#cmd-map .js-plotly-plot", "#cmd-summary",
                        "#cmd-map, #cmd-summary, .page-commanders .side"),
    "planner": _Page("/planner", "#planner-map .js-plotly-plot", "#planner-coverage",
                     ".page-planner"),
    "tourism": _Page("/tourism", "#tourism-map .js-plotly-plot", "#tourism-summary",
                     ".page-tourism"),
    "overview": _Page("/", "#overview-map .js-plotly-plot", "#overview-summary",
                      "#overview-map, #overview-summary"),
}


@dataclass
class Session:
    """One browser working through the pages; ``samples`` collects seconds per step name."""

    driver: Any
    base_url: str
    samples: dict[str, list[float]] = field(default_factory=dict)
    pages_of: dict[str, str] = field(default_factory=dict)
    #: per step name: seconds from the input (or navigation start) to the last callback answer
    server: dict[str, list[float]] = field(default_factory=dict)
    navigation: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    # -- waiting ------------------------------------------------------------------------------
    def _state(self, page: _Page, watched: str | None = None) -> dict[str, Any]:
        return self.driver.execute_script(_STATE_JS, page.map, page.summary, watched)

    def _settle(self, page: _Page, *, changes0: int, since: float, watched: str | None = None,
                before: str | None = None, timeout_s: float = STEP_TIMEOUT_S) -> dict[str, Any]:
        """Poll until the page changed after ``since`` (page ms), the renderer is idle, the map
        is drawn and nothing changed for :data:`QUIET_MS`; returns the last state, with
        ``done`` False when it timed out or nothing changed within 10 s of an idle page."""
        deadline = time.monotonic() + timeout_s
        idle_since: float | None = None
        while True:
            st = self._state(page, watched)
            changed = st["changes"] > changes0 and st["last"] >= since
            if watched is not None and before is not None:
                changed = changed and st["watched"] != before
            quiet = st["now"] - st["last"] >= QUIET_MS
            if st["idle"] and st["ready"] and changed and quiet:
                return {**st, "done": True}
            if st["idle"] and not changed:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since > 10:
                    return {**st, "done": False, "why": "nothing changed"}
            else:
                idle_since = None
            if time.monotonic() > deadline:
                return {**st, "done": False, "why": f"not done within {timeout_s:.0f} s"}
            time.sleep(0.05)

    def _record(self, name: str, page_name: str, seconds: float | None, why: str = "",
                since: float = 0.0) -> None:
        self.pages_of.setdefault(name, page_name)
        if seconds is not None:
            answered = self.driver.execute_script(_SERVER_JS, since)
            self.server.setdefault(name, []).append(max(0.0, answered - since) / 1000.0)
        bucket = self.samples.setdefault(name, [])
        if seconds is None:
            self.notes.append(f"{name}: {why}")
        else:
            bucket.append(seconds)

    # -- first load -------------------------------------------------------------------------
    def load(self, page_name: str, query: str = "") -> float | None:
        """Open the page with an empty browser cache; record navigation start -> map drawn."""
        page = _PAGE[page_name]
        self.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        self.driver.get(self.base_url + page.path + query)
        st = self._settle(page, changes0=0, since=0.0)
        name = f"first load: {page_name}"
        if not st["done"]:
            self._record(name, page_name, None, st.get("why", ""))
            return None
        seconds = st["last"] / 1000.0
        self._record(name, page_name, seconds)
        nav = self.driver.execute_script(_NAV_JS)
        if nav:
            self.navigation.setdefault(page_name, []).append(
                {k: round(v / 1000.0, 3) for k, v in nav.items()})
        return seconds

    # -- one interaction ----------------------------------------------------------------------
    def step(self, name: str, page_name: str, action: Callable[[], None], *,
             events: tuple[str, ...] = ("click",), watched: str | None = None,
             prepare: Callable[[], None] | None = None) -> float | None:
        """Run ``action`` (after ``prepare``, not timed) and record input -> result on screen.

        The start is the last of the page's ``events`` (``click``, ``pointerup``, ``wheel``)
        that the action caused; ``watched`` (a selector) must show a new text when given.
        """
        page = _PAGE[page_name]
        if prepare is not None:
            prepare()
        before = (self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent : null;",
            watched) if watched else None)
        armed = self.driver.execute_script(_ARM_JS, page.watch)
        try:
            action()
        except Exception as exc:  # a control that is not there: say so, keep going
            self.driver.execute_script("window.__bench.armed = false;")
            self._record(name, page_name, None, f"could not act ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''})")
            return None
        inputs = self.driver.execute_script(
            "window.__bench.armed = false; return window.__bench.inputs;")
        starts = [t for kind, t in inputs if kind in events]
        t0 = starts[-1] if starts else armed["now"]
        st = self._settle(page, changes0=armed["changes"], since=t0, watched=watched,
                          before=before)
        if not st["done"]:
            self._record(name, page_name, None, st.get("why", ""))
            return None
        seconds = (st["last"] - t0) / 1000.0
        self._record(name, page_name, seconds, since=t0)
        return seconds


# ---- the browser's hands -------------------------------------------------------------------

def _open_dropdown(driver: Any, dropdown_id: str, *, unselected: bool = True) -> list[str]:
    """Open a Dash 4 dropdown; the values of its options (those not selected: ``unselected``)."""
    driver.find_element("css selector", f"#{dropdown_id}").click()
    _wait(driver, lambda d: d.find_elements("css selector", ".dash-dropdown-option input"))
    sel = ".dash-dropdown-content .dash-dropdown-option"
    if unselected:
        sel += "[aria-selected='false']"
    return [e.get_attribute("value") for e in driver.find_elements("css selector", sel + " input")]


def _option(driver: Any, value: str) -> Any:
    literal = json.dumps(value) if "'" in value else f"'{value}'"
    return driver.find_element("xpath", "//label[contains(@class,'dash-dropdown-option')]"
                                        f"[.//input[@value={literal}]]")


def _close_dropdown(driver: Any) -> None:
    """Close an open dropdown (Escape): while it is open the page swallows the next click."""
    from selenium.webdriver.common.keys import Keys

    for _ in range(3):
        if not driver.find_elements("css selector", ".dash-dropdown-content"):
            return
        with contextlib.suppress(Exception):
            driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        time.sleep(0.3)


def _wait(driver: Any, predicate: Callable[[Any], Any], timeout: float = 30) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(predicate)


def _radio(driver: Any, group_id: str, value: str) -> Any:
    return driver.find_element("xpath", f"//div[@id='{group_id}']//label[.//input[@value='{value}']]")


#: offset from the centre of the map's drag layer (MapLibre: its canvas) to a point of the
#: mahalla nearest the centre of the visible map (cartesian: its hover point, and its id)
_NEAREST_MAHALLA_JS = r"""
const gd = document.querySelector(arguments[0]);
const sub = gd._fullLayout.map && gd._fullLayout.map._subplot;
if (sub && sub.map) {  // MapLibre: the drawn mahalla fill nearest the centre, searched outwards
  const m = sub.map, c = m.getCanvas().getBoundingClientRect();
  const fills = m.getStyle().layers.map(l => l.id)
      .filter(id => id.startsWith('plotly-trace-layer-mahalla-class-') && id.endsWith('-fill'));
  for (let r = 0; r < Math.min(c.width, c.height) / 2; r += 6) {
    for (let a = 0; a < 8; a++) {
      const dx = Math.round(r * Math.cos(a * Math.PI / 4)), dy = Math.round(r * Math.sin(a * Math.PI / 4));
      const hit = m.queryRenderedFeatures([c.width / 2 + dx, c.height / 2 + dy], {layers: fills});
      if (hit.length) { return [dx, dy, '']; }
      if (r === 0) { break; }
    }
  }
  return null;
}
const t = gd._fullData.find(d => d.meta && d.meta.kind === 'mahalla-hover');
if (!t) { return null; }
const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
const cx = (xa.range[0] + xa.range[1]) / 2, cy = (ya.range[0] + ya.range[1]) / 2;
const [x0, x1] = [Math.min(...xa.range), Math.max(...xa.range)];
const [y0, y1] = [Math.min(...ya.range), Math.max(...ya.range)];
let best = -1, dist = Infinity;
for (let i = 0; i < t.x.length; i++) {
  const x = Number(t.x[i]), y = Number(t.y[i]);
  if (!(x > x0 && x < x1 && y > y0 && y < y1)) { continue; }
  const d = (x - cx) ** 2 + (y - cy) ** 2;
  if (d < dist) { dist = d; best = i; }
}
if (best < 0) { return null; }
const drag = gd.querySelector('.nsewdrag').getBoundingClientRect();
const box = gd.getBoundingClientRect();
const px = xa._offset + xa.l2p(Number(t.x[best])), py = ya._offset + ya.l2p(Number(t.y[best]));
return [box.left + px - (drag.left + drag.width / 2), box.top + py - (drag.top + drag.height / 2),
        String(t.customdata[best])];
"""


def _drag(driver: Any, element: Any, start: tuple[int, int], by: tuple[int, int], *,
          shift: bool = False, steps: int = 6) -> None:
    """Press at ``start`` (offset from the element's centre), move by ``by`` in steps, release."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    chain = ActionChains(driver, duration=50)
    if shift:
        chain.key_down(Keys.SHIFT)
    chain.move_to_element_with_offset(element, *start).click_and_hold()
    for _ in range(steps):
        chain.move_by_offset(by[0] // steps, by[1] // steps)
    chain.release()
    if shift:
        chain.key_up(Keys.SHIFT)
    chain.perform()


def _wheel(driver: Any, element: Any, notches: int, delta: int = 100) -> None:
    """``notches`` wheel clicks over the element's centre (positive: zoom out), 80 ms apart."""
    from selenium.webdriver.common.action_chains import ActionChains, ScrollOrigin

    chain = ActionChains(driver)
    for _ in range(notches):
        chain.scroll_from_origin(ScrollOrigin.from_element(element), 0, delta).pause(0.08)
    chain.perform()


def _away(driver: Any) -> None:
    """Move the mouse off the map (hover labels off) onto the page's summary line."""
    from selenium.webdriver.common.action_chains import ActionChains

    with contextlib.suppress(Exception):
        target = driver.find_element("css selector", "header, #app-header")
        ActionChains(driver).move_to_element(target).perform()


# ---- the pages' sessions -------------------------------------------------------------------

def commanders_session(s: Session, i: int) -> None:
    """A commander's session: region, district, colour-by, H3 level, box zoom, wheel zoom,
    pan, month window, categories, back to mahallas, a mahalla click, the side tabs."""
    d, page = s.driver, "commanders"
    plot = _PAGE[page].map
    choice: dict[str, str] = {}

    def pick(dropdown: str, nth: int, only: tuple[str, ...] = ()) -> Callable[[], None]:
        def prepare() -> None:
            values = [v for v in _open_dropdown(d, dropdown) if not only or v in only]
            if not values:
                raise BenchError(f"#{dropdown} has no option to pick")
            choice[dropdown] = values[nth % len(values)]
        return prepare

    def click_choice(dropdown: str) -> Callable[[], None]:
        return lambda: _option(d, choice[dropdown]).click()

    def map_drag() -> Any:  # what a drag or click on the map lands on (MapLibre: its canvas)
        found = d.find_elements("css selector", f"{plot} .nsewdrag")
        return found[0] if found else d.find_element("css selector",
                                                     f"{plot} canvas.maplibregl-canvas")

    # (a region may hold every incident in scope: the summary need not change)
    s.step("cmd: region", page, click_choice("cmd-region"), prepare=pick("cmd-region", i))
    s.step("cmd: district", page, click_choice("cmd-district"), prepare=pick("cmd-district", i),
           watched="#cmd-summary")
    # measures of H3 cells too (rate and status colour mahallas at either level)
    s.step("cmd: colour by", page, click_choice("cmd-metric"),
           prepare=pick("cmd-metric", i, only=("gi_class", "trend")))
    s.step("cmd: H3 level", page, lambda: _radio(d, "cmd-level", "h3").click(),
           watched="#cmd-summary")
    s.step("cmd: box zoom", page, lambda: _drag(d, map_drag(), (-120, -90), (240, 180),
                                               shift=True), events=("pointerup",))
    _away(d)
    s.step("cmd: wheel zoom (3 notches)", page, lambda: _wheel(d, map_drag(), 3),
           events=("wheel",))
    _away(d)
    s.step("cmd: pan", page, lambda: _drag(d, map_drag(), (0, 0), (-180, 90)),
           events=("pointerup",))
    _away(d)

    def month_window() -> None:
        thumb = d.find_element("css selector", "#cmd-months .dash-slider-thumb-1")
        width = d.find_element("css selector", "#cmd-months .dash-slider-root").size["width"]
        _drag(d, thumb, (0, 0), (int(width * (0.35 + 0.1 * (i % 3))), 0), steps=5)

    s.step("cmd: month window", page, month_window, events=("pointerup",),
           watched="#cmd-summary")
    s.step("cmd: categories", page, click_choice("cmd-categories"),
           prepare=pick("cmd-categories", i), watched="#cmd-summary")
    _close_dropdown(d)  # a multi-select stays open
    s.step("cmd: mahalla level", page, lambda: _radio(d, "cmd-level", "mahalla").click(),
           watched="#cmd-summary")

    def click_mahalla() -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        found = d.execute_script(_NEAREST_MAHALLA_JS, plot)
        if not found:
            raise BenchError("no mahalla on the map to click")
        ActionChains(d).move_to_element_with_offset(map_drag(), int(found[0]),
                                                    int(found[1])).pause(0.3).click().perform()

    s.step("cmd: mahalla click", page, click_mahalla, watched="#cmd-panel-title")
    _away(d)

    def tab(label: str) -> Callable[[], None]:
        return lambda: d.find_element(
            "xpath", f"//div[@id='cmd-tabs']/div[contains(@class,'tab')][.='{label}']").click()

    s.step("cmd: tab red list", page, tab("Red list"))
    s.step("cmd: tab mahalla", page, tab("Mahalla"))


def planner_session(s: Session, i: int) -> None:
    """The planner: another area (a district; the coverage map and figures follow)."""
    d = s.driver
    choice: dict[str, str] = {}

    def prepare() -> None:
        values = _open_dropdown(d, "planner-area", unselected=False)
        labels = [e.text for e in d.find_elements(
            "css selector", ".dash-dropdown-content .dash-dropdown-option")]
        districts = [v for v, lab in zip(values, labels, strict=False)
                     if lab.startswith("District")] or values
        choice["area"] = districts[i % len(districts)]

    s.step("planner: area change", "planner", lambda: _option(d, choice["area"]).click(),
           prepare=prepare)


def tourism_session(s: Session, i: int) -> None:
    """Tourism: another zone when the store has two or more; else the travel-time source."""
    d = s.driver
    others = _open_dropdown(d, "tourism-zone")
    if others:

        s.step("tourism: zone change", "tourism",
               lambda: _option(d, others[i % len(others)]).click(), watched="#tourism-summary")
        return
    _close_dropdown(d)
    s.step("tourism: travel-time source", "tourism",
           lambda: _radio(d, "tourism-source", "emergency").click())
    s.step("tourism: travel-time source", "tourism",
           lambda: _radio(d, "tourism-source", "police").click())


def overview_session(s: Session, i: int) -> None:
    """The overview: H3 cells instead of mahallas, a region, then a wheel zoom into it (the
    summary counts what is in view; finer cells come as the view narrows)."""
    d = s.driver
    s.step("overview: H3 level", "overview", lambda: _radio(d, "overview-level", "h3_8").click(),
           watched="#overview-summary")
    choice: dict[str, str] = {}

    def prepare() -> None:
        values = _open_dropdown(d, "overview-region")
        choice["region"] = values[i % len(values)]

    s.step("overview: region", "overview", lambda: _option(d, choice["region"]).click(),
           prepare=prepare)
    _close_dropdown(d)
    canvas = f"{_PAGE['overview'].map} canvas.maplibregl-canvas"
    s.step("overview: wheel zoom in (5 notches)", "overview",
           lambda: _wheel(d, d.find_element("css selector", canvas), 5, delta=-100),
           events=("wheel",), watched="#overview-summary")
    _away(d)


_SESSIONS: dict[str, Callable[[Session, int], None]] = {
    "commanders": commanders_session, "planner": planner_session,
    "tourism": tourism_session, "overview": overview_session}


# ---- the run -------------------------------------------------------------------------------

def machine_load() -> dict[str, Any]:
    """The load averages (1, 5, 15 min) and the CPUs, for the record."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on this platform
        return {"cpus": os.cpu_count()}
    return {"load_1m": round(one, 2), "load_5m": round(five, 2), "load_15m": round(fifteen, 2),
            "cpus": os.cpu_count()}


def _load_text(load: dict[str, Any]) -> str:
    if "load_1m" not in load:
        return f"{load['cpus']} CPUs"
    return (f"load average {load['load_1m']:.2f} / {load['load_5m']:.2f} / "
            f"{load['load_15m']:.2f} (1/5/15 min) on {load['cpus']} CPUs")


def _stats(samples: list[float], target: float, answers: list[float]) -> dict[str, Any]:
    """n, p50, p95, max of ``samples`` against ``target``; ``answer_p50``: the median time to
    the last callback answer (the server's part, network included; the rest is the browser)."""
    if not samples:
        return {"n": 0, "p50": None, "p95": None, "max": None, "target_s": target, "met": False,
                "answer_p50": None, "samples_s": []}
    arr = np.asarray(samples, dtype=float)
    p95 = float(np.percentile(arr, 95))
    return {"n": len(samples), "p50": round(float(np.percentile(arr, 50)), 3),
            "p95": round(p95, 3), "max": round(float(arr.max()), 3), "target_s": target,
            "met": bool(p95 <= target),
            "answer_p50": round(float(np.percentile(answers, 50)), 3) if answers else None,
            "samples_s": [round(x, 3) for x in samples],
            "answers_s": [round(x, 3) for x in answers]}


def _table(rows: dict[str, dict[str, Any]], title: str) -> list[str]:
    width = max([len(title)] + [len(k) for k in rows]) + 2
    lines = [f"{title:<{width}}{'n':>4}{'p50 s':>9}{'p95 s':>9}{'max s':>9}{'target':>9}"
             f"  met?{'answer p50':>12}"]
    for name, r in rows.items():
        if r["n"] == 0:
            lines.append(f"{name:<{width}}{0:>4}{'-':>9}{'-':>9}{'-':>9}"
                         f"{r['target_s']:>8.1f}s  no data")
            continue
        answer = "-" if r["answer_p50"] is None else f"{r['answer_p50']:.3f}"
        lines.append(f"{name:<{width}}{r['n']:>4}{r['p50']:>9.3f}{r['p95']:>9.3f}{r['max']:>9.3f}"
                     f"{r['target_s']:>8.1f}s  {'yes' if r['met'] else 'NO ':<4}{answer:>11}")
    lines.append("(answer p50: median time to the last callback answer, i.e. the server's part "
                 "with the network; the rest is the browser drawing)")
    return lines


def run(store: str, *, pages: tuple[str, ...] = tuple(PAGES), repeat: int = 5,
        headless: bool = True, size: str | None = None) -> dict[str, Any]:
    """Serve ``store``, work through ``pages`` ``repeat`` times in Chromium; print and return
    the figures (seconds): per interaction and per page's first load n, p50, p95, max."""
    unknown = [p for p in pages if p not in PAGES]
    if unknown:
        raise BenchError(f"unknown page(s) {', '.join(unknown)}: pick from {', '.join(PAGES)}")
    if "://" not in store and not (Path(store) / "manifest.json").exists():
        raise BenchError(f"{store}: no store there (build one with riskmap demo --no-serve, or "
                         "use --size)")
    size = size or demo_size(store)
    target = TARGETS["interaction_large"] if size == "large" else TARGETS["interaction"]
    load_before = machine_load()
    print(f"machine before: {_load_text(load_before)}. The machine may be shared with other "
          "work: the figures are wall-clock times under that load.", flush=True)
    with tempfile.TemporaryDirectory(prefix="riskmap-bench-app-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        with serve(store, folder) as (url, server):
            print(f"serving {store} ({size or 'not a demo store'}) with {server} on {url} "
                  f"(no logins, loopback only); up in {time.perf_counter() - t0:.1f} s",
                  flush=True)
            with open_browser(folder, headless=headless) as driver:
                version = driver.capabilities.get("browserVersion", "?")
                session = Session(driver, url)
                for i in range(repeat):
                    for page in pages:
                        loaded = session.load(page)
                        shown = "not drawn" if loaded is None else f"{loaded:.2f} s"
                        print(f"  round {i + 1}/{repeat}: {page} first load {shown}", flush=True)
                        if loaded is not None:
                            _SESSIONS[page](session, i)
    load_after = machine_load()
    interactions = {k: {"page": session.pages_of[k],
                        **_stats(v, target, session.server.get(k, []))}
                    for k, v in session.samples.items() if not k.startswith("first load")}
    first = {k.removeprefix("first load: "): {**_stats(v, TARGETS["first_load"],
                                                     session.server.get(k, [])),
                                              "navigation": session.navigation.get(
                                                  k.removeprefix("first load: "), [])}
             for k, v in session.samples.items() if k.startswith("first load")}
    figures = {"store": store, "size": size, "server": server, "chromium": version,
               "repeat": repeat, "pages": list(pages), "quiet_ms": QUIET_MS,
               "machine_before": load_before, "machine_after": load_after,
               "interactions": interactions, "first_load": first, "notes": session.notes}
    print()
    print("\n".join(_table(interactions, "interaction (input -> result drawn)")))
    print()
    print("\n".join(_table(first, "first load (navigation -> map drawn)")))
    for note in session.notes:
        print(f"note: {note}")
    print(f"\nmachine before: {_load_text(load_before)}; after: {_load_text(load_after)}.")
    print("The machine is shared: other work running at the same time slows the server and the "
          "browser alike, so read the figures together with the load average.")
    return figures
