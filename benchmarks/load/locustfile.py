"""Load test of the commanders' page (``/commanders``): what a browser sends, per simulated user.

Run by ``scripts/loadtest`` (which starts a throwaway PostGIS, the demo data, gunicorn and a
camera plan beside it; see docs/load-test.md). By hand, against a server you started::

    LOADTEST_USER=loadtest LOADTEST_PASSWORD=... \\
        locust -f benchmarks/load/locustfile.py --headless -u 50 -r 10 -t 60s \\
            --host http://127.0.0.1:8050 --only-summary

Each simulated user

1. logs in through the form, as a person does: ``GET /login``, reads the hidden ``form_token``,
   ``POST /login`` (with an ``Origin`` header equal to the host; the form cookie and then the
   session cookie stay in the user's cookie jar);
2. loads the page: ``GET /commanders``, ``GET /_dash-layout``, ``GET /_dash-dependencies``, the
   Dash Pages router callback (which returns the page's layout), then the page's initial
   callbacks *at the same time*, as the Dash renderer fires them: the map, the mahalla panel,
   the incidents table, the red list and the (idle) forecast-check tab; then the map
   callback the map's first autosize triggers, with the bounds it reports (``cb viewport``:
   the map redrawn for them, or nothing to do);
3. works on the page a few times (think time between steps): picks a month window, a
   district, a colour metric, the H3 level, zooms, or clicks a mahalla of the red list; each
   step sends the callbacks the renderer sends for that change, with the same payloads;
4. then loads the page again (step 2) and goes on.

The payloads are the ones recorded from one real page load in Chromium (the renderer's
``output``/``outputs``/``inputs``/``state``/``changedPropIds`` fields, in its order); the
values a user picks from (districts, months, metrics) are read from the page layout the
server returns, so they follow the data. Every POST carries ``Origin`` (the app refuses a
POST without it) and the page's signed ``endId``, as the renderer does.

Request names in the statistics: ``GET /commanders`` ..., ``cb map``, ``cb red list``,
``cb panel``, ``cb incidents``, ``cb eval tab``, ``cb viewport``, ``cb click``,
``cb pages router``. A request fails on any status other than 200/204 (401: the session was
lost), or a 200 whose body is not the callback's JSON answer.

Environment: ``LOADTEST_USER``, ``LOADTEST_PASSWORD`` (required), ``LOADTEST_WAIT``
(think time between steps, ``"MIN,MAX"`` seconds; default ``5,15``, a person reading the
map between clicks; ``1,3`` is the stress variant), ``LOADTEST_STEPS``
(interactions per page load, ``"MIN,MAX"``; default ``3,6``), ``LOADTEST_PARALLEL``
(``0``: send the initial callbacks one after another instead of at once), ``LOADTEST_RAW``
(a file: every request's name, start time, response time in ms and error, as JSON lines,
written when the test stops; ``scripts/loadtest`` computes its percentiles from it).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from typing import Any

import gevent
from gevent.pool import Group
from locust import HttpUser, between, events, task
from locust.exception import StopUser

PAGE = "/commanders"
_TOKEN = re.compile(r'name="form_token" value="([^"]*)"')
_END_ID = re.compile(r'"end_id"\s*:\s*"([^"]+)"')


def _pair(name: str, default: tuple[float, float]) -> tuple[float, float]:
    raw = os.environ.get(name, "")
    try:
        lo, hi = (float(v) for v in raw.split(","))
    except ValueError:
        return default
    return (min(lo, hi), max(lo, hi))


WAIT = _pair("LOADTEST_WAIT", (5.0, 15.0))
STEPS = _pair("LOADTEST_STEPS", (3, 6))
#: the map's size in pixels a commander's browser reports (a 1400 x 1050 window)
MAP_SIZE = (665, 859)
PARALLEL = os.environ.get("LOADTEST_PARALLEL", "1") != "0"


@events.init.add_listener
def _check_env(**_kwargs: Any) -> None:
    if not os.environ.get("LOADTEST_USER") or not os.environ.get("LOADTEST_PASSWORD"):
        raise SystemExit("benchmarks/load/locustfile.py: set LOADTEST_USER and "
                         "LOADTEST_PASSWORD (a commander of the store the server serves)")


#: every request of this process: (name, start (epoch s), response time ms, error or None)
_RAW: list[tuple[str, float, float, str | None]] = []


@events.request.add_listener
def _record(name: str, response_time: float, exception: Any = None, **_kw: Any) -> None:
    if os.environ.get("LOADTEST_RAW"):
        _RAW.append((name, time.time() - response_time / 1000.0, float(response_time),
                     None if exception is None else str(exception)[:200]))


@events.test_stop.add_listener
def _write_raw(**_kw: Any) -> None:
    path = os.environ.get("LOADTEST_RAW")
    if not path:
        return
    with open(path, "w", encoding="utf-8") as f:
        for name, start, ms, err in _RAW:
            f.write(json.dumps({"name": name, "start": round(start, 3), "ms": round(ms, 1),
                                "error": err}) + "\n")
    # the CPU the load generator itself used (it shares the machine with the server)
    import resource

    use = resource.getrusage(resource.RUSAGE_SELF)
    with open(path + ".cpu", "w", encoding="utf-8") as f:
        f.write(f"{use.ru_utime + use.ru_stime:.1f}\n")


# --------------------------------------------------------------------------- payloads
def _multi(outputs: list[tuple[str, str]]) -> dict[str, Any]:
    """``output`` and ``outputs`` of a multi-output callback, as the renderer writes them."""
    return {"output": "." + "".join(f".{i}.{p}.." for i, p in outputs),
            "outputs": [{"id": i, "property": p} for i, p in outputs]}


def _inp(id_: str, prop: str, value: Any = None, *, absent: bool = False) -> dict[str, Any]:
    """One input; ``absent``: a prop that is not set in the browser (the renderer omits value)."""
    return {"id": id_, "property": prop} if absent else {"id": id_, "property": prop,
                                                         "value": value}


_MAP_OUT = _multi([("cmd-map-figure", "data"), ("cmd-summary", "children"),
                   ("cmd-query", "data"), ("cmd-months-text", "children"),
                   ("cmd-viewport", "data")])
_PANEL_OUT = _multi([("cmd-panel-title", "children"), ("cmd-panel-meta", "children"),
                     ("cmd-trend", "figure"), ("cmd-cats-chart", "figure"),
                     ("cmd-status", "data"), ("cmd-cameras", "data"),
                     ("cmd-brief-html", "disabled"), ("cmd-brief-csv", "disabled"),
                     ("cmd-focus-table", "data")])
_INCIDENTS_OUT = _multi([("cmd-incidents", "data"), ("cmd-incidents", "page_count"),
                         ("cmd-incidents", "page_current")])
_RED_OUT = _multi([("cmd-redlist", "data"), ("cmd-redlist", "tooltip_data"),
                   ("cmd-redlist", "selected_rows")])
_EVAL_OUT = _multi([("cmd-eval-text", "children"), ("cmd-eval-chart", "figure"),
                    ("cmd-eval-poll", "disabled")])
_CLICK_OUT = _multi([("cmd-selected", "data"), ("cmd-tabs", "value")])
_PAGES_OUT = _multi([("_pages_content", "children"), ("_pages_store", "data")])


class PageState:
    """What the browser holds for the page: the control values and the stores."""

    def __init__(self, months_max: int) -> None:
        self.level = "mahalla"
        self.metric = "count"
        self.region: str | None = None
        self.district: str | None = None
        self.months = [0, months_max]
        self.categories: list[str] = []
        self.layers: list[str] = []
        self.viewport: dict[str, Any] = {"range": None}
        self.shown: dict[str, Any] | None = None  # the bounds and size the map reported
        self.selected: str | None = None
        self.tab = "red"
        self.focus: str | None = None  # the Focus dropdown: all incidents
        self.version: Any = None  # the page's data version (the light poll's store)

    def controls(self) -> list[dict[str, Any]]:
        return [_inp("cmd-level", "value", self.level), _inp("cmd-metric", "value", self.metric),
                _inp("cmd-region", "value", self.region),
                _inp("cmd-district", "value", self.district),
                _inp("cmd-months", "value", list(self.months)),
                _inp("cmd-categories", "value", list(self.categories)),
                _inp("cmd-layers", "value", list(self.layers)),
                _inp("cmd-focus", "value", self.focus)]

    def selected_input(self) -> dict[str, Any]:
        return _inp("cmd-selected", "data", self.selected, absent=self.selected is None)

    def map_payload(self, changed: list[str]) -> dict[str, Any]:
        return {**_MAP_OUT, "inputs": [*self.controls(),
                                       _inp("cmd-range", "data", self.shown,
                                            absent=self.shown is None),
                                       self.selected_input(),
                                       _inp("cmd-redlist", "selected_row_ids", absent=True),
                                       _inp("cmd-data-version", "data", self.version),
                                       _inp("cmd-map-size", "data", list(MAP_SIZE))],
                "state": [_inp("cmd-viewport", "data", self.viewport)],
                "changedPropIds": changed}

    def panel_payload(self, changed: list[str]) -> dict[str, Any]:
        return {**_PANEL_OUT, "inputs": [self.selected_input(), *self.controls()],
                "changedPropIds": changed}

    def incidents_payload(self, changed: list[str]) -> dict[str, Any]:
        return {**_INCIDENTS_OUT,
                "inputs": [self.selected_input(), _inp("cmd-incidents", "page_current", 0),
                           _inp("cmd-incidents", "page_size", 10), *self.controls()],
                "changedPropIds": changed}

    def red_payload(self, changed: list[str]) -> dict[str, Any]:
        return {**_RED_OUT, "inputs": [_inp("cmd-region", "value", self.region),
                                       _inp("cmd-district", "value", self.district),
                                       _inp("cmd-months", "value", list(self.months)),
                                       _inp("cmd-focus", "value", self.focus),
                                       _inp("cmd-data-version", "data", self.version)],
                "changedPropIds": changed}

    def eval_payload(self) -> dict[str, Any]:
        return {**_EVAL_OUT, "inputs": [_inp("cmd-tabs", "value", self.tab),
                                        _inp("cmd-region", "value", self.region),
                                        _inp("cmd-eval-poll", "n_intervals", 0)],
                "changedPropIds": []}

    def viewport_payload(self, rng: list[float]) -> dict[str, Any]:
        """The map redrawn for the bounds it reports after a zoom or pan (one round trip:
        the map callback reads the reported bounds itself)."""
        self.shown = {"xaxis.range[0]": rng[0], "xaxis.range[1]": rng[1],
                      "yaxis.range[0]": rng[2], "yaxis.range[1]": rng[3],
                      "size": list(MAP_SIZE)}  # as its next redraws read it too
        return self.map_payload(["cmd-range.data"])

    @staticmethod
    def click_payload(mahalla_id: str, x: float, y: float) -> dict[str, Any]:
        click = {"points": [{"curveNumber": 1, "pointNumber": 0, "pointIndex": 0,
                             "x": x, "y": y, "customdata": mahalla_id}]}
        return {**_CLICK_OUT, "inputs": [_inp("cmd-map", "clickData", click),
                                         _inp("cmd-click-point", "data", absent=True)],
                "changedPropIds": ["cmd-map.clickData"]}


def _props_by_id(layout: Any) -> dict[str, dict[str, Any]]:
    """``{component id: props}`` of a Dash layout (JSON), for the ids that are strings."""
    found: dict[str, dict[str, Any]] = {}
    stack = [layout]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("props")
            if isinstance(props, dict) and isinstance(props.get("id"), str):
                found[props["id"]] = props
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _extent(got: Any) -> list[float] | None:
    """``[x0, x1, y0, y1]`` the map first shows: the area it is fitted to (MapLibre), else the
    extent of its data (what plotly's autorange shows)."""
    try:
        fig = got["cmd-map-figure"]["data"]
        traces = fig["data"]
    except (TypeError, KeyError):
        return None
    fit = (fig.get("layout", {}).get("meta") or {}).get("fit") if isinstance(fig, dict) else None
    if isinstance(fit, list) and len(fit) == 4 and all(isinstance(v, int | float) for v in fit):
        return [fit[0], fit[2], fit[1], fit[3]]
    xs: list[float] = []
    ys: list[float] = []
    for t in traces if isinstance(traces, list) else []:
        for key, out in (("x", xs), ("y", ys)):
            vals = t.get(key) if isinstance(t, dict) else None
            if isinstance(vals, list):
                out.extend(v for v in vals if isinstance(v, int | float))
    if not xs or not ys:
        return None
    return [min(xs), max(xs), min(ys), max(ys)]


# --------------------------------------------------------------------------- the user
class Commander(HttpUser):
    """A commander working on ``/commanders``."""

    wait_time = between(*WAIT)

    def on_start(self) -> None:
        self.origin = self.host.rstrip("/")
        self.end_id: str | None = None
        self.districts: list[str] = []
        self.metrics: list[str] = ["count"]
        self.months_max = 0
        self.red_ids: list[str] = []
        # the axis ranges the map's first autosize reports (read from the first map drawn;
        # this is the demo's Jizzax region, as recorded from Chromium)
        self.extent = [66.475, 69.050, 39.269, 41.411]
        self.state = PageState(0)
        self._login()

    # ---- requests
    def _login(self) -> None:
        """Log in as a person does; a "busy" page (503: the worker's password queue is full,
        :data:`riskmap.auth.passwords.MAX_WAITING`) is answered by trying again after its
        ``Retry-After``, as the page asks, up to ten times."""
        for _ in range(10):
            with self.client.get("/login", name="GET /login", catch_response=True) as resp:
                m = _TOKEN.search(resp.text or "")
                if resp.status_code != 200 or m is None:
                    resp.failure(f"no login form (HTTP {resp.status_code})")
                    raise StopUser()
            form = {"form_token": m.group(1), "next": PAGE,
                    "username": os.environ["LOADTEST_USER"],
                    "password": os.environ["LOADTEST_PASSWORD"]}
            with self.client.post("/login", data=form, name="POST /login",
                                  allow_redirects=False,
                                  headers={"Origin": self.origin,
                                           "Referer": f"{self.origin}/login?next={PAGE}"},
                                  catch_response=True) as resp:
                if resp.status_code == 503:  # busy: not a failure of the app
                    resp.success()
                    wait = float(resp.headers.get("Retry-After") or 2)
                elif resp.status_code != 303 or "riskmap_session" not in self.client.cookies:
                    resp.failure(f"login failed (HTTP {resp.status_code})")
                    raise StopUser()
                else:
                    return
            gevent.sleep(wait)
        raise StopUser()

    def _callback(self, name: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """POST one callback; its ``response`` (None for 204 or a failure)."""
        url = "/_dash-update-component" + (f"?endId={self.end_id}" if self.end_id else "")
        body = json.dumps(payload)
        with self.client.post(url, data=body, name=f"cb {name}", catch_response=True,
                              headers={"Origin": self.origin, "Referer": self.origin + PAGE,
                                       "Content-Type": "application/json",
                                       "Accept": "application/json"}) as resp:
            if resp.status_code == 204:
                return None
            if resp.status_code != 200:
                why = (repr(resp.error) if resp.status_code == 0 and resp.error is not None
                       else (resp.text or ""))  # 0: no answer (the connection failed)
                resp.failure(f"HTTP {resp.status_code}: {why[:160]}")
                return None
            try:
                got = resp.json()["response"]
            except (ValueError, KeyError, TypeError):
                resp.failure("not a callback answer")
                return None
            return got

    def _burst(self, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        """The callbacks the renderer fires together: at once (default) or one by one."""
        if not PARALLEL or len(calls) == 1:
            return [self._callback(n, p) for n, p in calls]
        group = Group()
        jobs = [group.spawn(self._callback, n, p) for n, p in calls]
        gevent.joinall(jobs, raise_error=True)
        return [j.value for j in jobs]

    def _after_change(self, changed: list[str], *, red: bool) -> None:
        calls = [("map", self.state.map_payload(changed)),
                 ("panel", self.state.panel_payload(changed)),
                 ("incidents", self.state.incidents_payload(changed))]
        if red:
            calls.append(("red list", self.state.red_payload(changed)))
        out = self._burst(calls)
        if red:
            self._remember_red(out[-1])

    def _remember_red(self, got: Any) -> None:
        try:
            rows = got["cmd-redlist"]["data"]
        except (TypeError, KeyError):
            return
        self.red_ids = [r["mahalla_id"] for r in rows if isinstance(r, dict)
                        and isinstance(r.get("mahalla_id"), str)]

    # ---- what the user does
    def load_page(self) -> None:
        with self.client.get(PAGE, name="GET /commanders", catch_response=True) as resp:
            if resp.status_code != 200 or "_dash-renderer" not in (resp.text or ""):
                resp.failure(f"not the app page (HTTP {resp.status_code}; login lost?)")
                return
            m = _END_ID.search(resp.text)
            self.end_id = m.group(1) if m else None
        self.client.get("/_dash-layout", name="GET /_dash-layout")
        self.client.get("/_dash-dependencies", name="GET /_dash-dependencies")
        got = self._callback("pages router", {
            **_PAGES_OUT,
            "inputs": [_inp("_pages_location", "pathname", PAGE),
                       _inp("_pages_location", "search", "")],
            "changedPropIds": ["_pages_location.pathname", "_pages_location.search"]})
        if got is not None:
            props = _props_by_id(got.get("_pages_content", {}).get("children"))
            self.districts = [d for d in props.get("cmd-district", {}).get("options", [])
                              if isinstance(d, str)]
            self.metrics = [o["value"] for o in props.get("cmd-metric", {}).get("options", [])
                            if isinstance(o, dict)] or ["count"]
            self.months_max = int(props.get("cmd-months", {}).get("max", 0) or 0)
            self.version = props.get("cmd-data-version", {}).get("data")
        self.state = PageState(self.months_max)
        self.state.version = getattr(self, "version", None)
        # the renderer's initial callbacks, fired together
        changed = ["cmd-selected.data"]
        out = self._burst([("map", self.state.map_payload(changed)),
                           ("panel", self.state.panel_payload(changed)),
                           ("incidents", self.state.incidents_payload(changed)),
                           ("red list", self.state.red_payload([])),
                           ("eval tab", self.state.eval_payload())])
        self._remember_red(out[3])
        self.extent = _extent(out[0]) or self.extent
        # the map's first autosize reports its axis ranges: a viewport, then the map again
        self._zoom(self.extent)

    def _zoom(self, rng: list[float]) -> None:
        got = self._callback("viewport", self.state.viewport_payload(rng))
        if isinstance(got, dict) and isinstance(got.get("cmd-viewport"), dict):
            self.state.viewport = got["cmd-viewport"].get("data") or self.state.viewport

    def step(self) -> None:
        s = self.state
        kind = random.choice(["months", "months", "district", "metric", "level", "zoom",
                              "click", "click"])
        if kind == "months" and self.months_max > 0:
            lo = random.randint(0, self.months_max)
            s.months = [lo, min(self.months_max, lo + random.randint(0, 11))]
            self._after_change(["cmd-months.value"], red=True)
        elif kind == "district" and self.districts:
            s.district = random.choice([None, *self.districts])
            self._after_change(["cmd-district.value"], red=True)
        elif kind == "metric":
            s.metric = random.choice(self.metrics)
            self._after_change(["cmd-metric.value"], red=False)
        elif kind == "level":
            s.level = "h3" if s.level == "mahalla" else "mahalla"
            self._after_change(["cmd-level.value"], red=False)
        elif kind == "zoom":
            x0, x1, y0, y1 = self.extent
            f = random.uniform(0.05, 0.5)
            cx, cy = random.uniform(x0, x1), random.uniform(y0, y1)
            w, h = (x1 - x0) * f / 2, (y1 - y0) * f / 2
            self._zoom([cx - w, cx + w, cy - h, cy + h])
        elif kind == "click" and self.red_ids:
            x0, x1, y0, y1 = self.extent
            got = self._callback("click", s.click_payload(random.choice(self.red_ids),
                                                         random.uniform(x0, x1),
                                                         random.uniform(y0, y1)))
            try:
                s.selected = got["cmd-selected"]["data"]
                s.tab = got["cmd-tabs"]["value"]
            except (TypeError, KeyError):
                return
            # the tab change fires the (idle) forecast-check callback too
            self._burst([("map", s.map_payload(["cmd-selected.data"])),
                         ("panel", s.panel_payload(["cmd-selected.data"])),
                         ("incidents", s.incidents_payload(["cmd-selected.data"])),
                         ("eval tab", s.eval_payload())])

    @task
    def session(self) -> None:
        """Load the page, then work on it for a few steps with think time between them."""
        self.load_page()
        for _ in range(random.randint(int(STEPS[0]), int(STEPS[1]))):
            gevent.sleep(random.uniform(*WAIT))
            self.step()
