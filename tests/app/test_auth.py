"""Logins, sessions, roles and scope, tried as a user and as an attacker would over HTTP.

The app is served over a two-region store (the tiny Jizzakh grid and a copy of it in
Surkhandarya whose mahalla names appear nowhere else); a commander of Jizzakh then sends
crafted requests to every callback and every route the app has.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import shapely

from riskmap.app.auth import COOKIE, LOGIN_PATH
from riskmap.app.factory import create_app
from riskmap.auth import accounts
from riskmap.cli.serve import COMMANDS, serve
from riskmap.geo.h3index import cells_from_lonlat
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess
from riskmap.layers.store import Store
from riskmap.settings import Settings
from tests.app.conftest import REGION, mahalla_grid, random_incidents

OTHER = "Surxondaryo viloyati"
#: names that exist only in Surkhandarya: none may ever reach a Jizzakh commander
SECRET_NAMES = tuple(f"Sirlimahalla{i}" for i in range(9))
SECRET_CATEGORY = "smuggling"
PASSWORD = "correct horse battery staple"
#: the Flask test client's host: POSTs come from the app's own pages
ORIGIN = {"Origin": "http://localhost", "Accept-Language": "en"}  # English texts (default: uz_Latn)


def _shift(xy: np.ndarray) -> np.ndarray:
    return xy + np.array([0.5, 0.0])


def _two_regions(root: Path) -> Store:
    grid = mahalla_grid()
    other = grid.copy()
    other["mahalla_id"] = [f"S{i}" for i in range(9)]
    other["name"] = list(SECRET_NAMES)
    other["district"] = "Termiz shahri"
    other["region"] = OTHER
    other["geometry"] = shapely.transform(grid.geometry.to_numpy(), _shift)
    jiz = random_incidents(300, seed=3)
    sur = random_incidents(300, seed=4)
    sur["geometry"] = shapely.transform(sur.geometry.to_numpy(), _shift)
    lon = shapely.get_x(shapely.point_on_surface(other.geometry.to_numpy()))
    lat = shapely.get_y(shapely.point_on_surface(other.geometry.to_numpy()))
    index = pd.Index(grid["mahalla_id"]).get_indexer(sur["mahalla_id"])
    sur["mahalla_id"] = other["mahalla_id"].to_numpy()[index]
    sur["h3"] = cells_from_lonlat(lon[index], lat[index], 9)
    sur["district"] = "Termiz shahri"
    sur["region"] = OTHER
    sur["category"] = SECRET_CATEGORY
    sur["incident_id"] = [f"SECRETINC{i:05d}" for i in range(len(sur))]
    store = open_store(str(root))
    with store.transaction() as txn:
        txn.replace("mahallas", pd.concat([grid, other], ignore_index=True))
        txn.replace("incidents", pd.concat([jiz, sur], ignore_index=True))
    return store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = _two_regions(tmp_path / "store")
    accounts.add_user(store, "boss", PASSWORD, role="admin")
    accounts.add_user(store, "jiz", PASSWORD, role="commander", regions=[REGION])
    accounts.add_user(store, "tour", PASSWORD, role="tourism_safety", regions=[REGION])
    return store


def _app(store: Store, **app: Any) -> Any:
    settings = Settings(_env_file=None, store=store.url,  # type: ignore[call-arg]
                        app={"auth": "accounts", "regions": [], "host": "127.0.0.1", **app})
    return create_app(settings, DataAccess(store, user="app"))


def _login(client: Any, username: str, password: str = PASSWORD,
           next_path: str = "/") -> Any:
    form = client.get(f"{LOGIN_PATH}?next={next_path}")
    assert form.status_code == 200
    token = re.search(r'name="form_token" value="([^"]+)"', form.get_data(as_text=True))
    assert token is not None
    return client.post(LOGIN_PATH, headers=ORIGIN, data={
        "form_token": token.group(1), "username": username, "password": password,
        "next": next_path})


def _audit(store: Store) -> pd.DataFrame:
    return store.read("audit")


def test_every_page_and_callback_needs_a_login(store: Store) -> None:
    client = _app(store).server.test_client()
    page = client.get("/commanders?region=x")
    assert page.status_code == 303
    assert page.headers["Location"].startswith("/login?next=/commanders")
    assert "WWW-Authenticate" not in page.headers  # no browser basic-auth dialog
    assert client.get("/_dash-layout").status_code == 401
    assert client.get("/_dash-dependencies").status_code == 401
    assert client.post("/_dash-update-component", json={}, headers=ORIGIN).status_code == 401
    assert client.get("/assets/login.css").status_code == 200
    form = client.get(LOGIN_PATH)
    assert form.status_code == 200 and b'type="password"' in form.data
    assert form.headers["Cache-Control"] == "no-store"


def test_login_session_and_logout(store: Store) -> None:
    client = _app(store).server.test_client()
    wrong = _login(client, "jiz", "not the password")
    unknown = _login(client, "nobody", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    # the same words for a wrong name and a wrong password: names cannot be probed
    assert b"Wrong user name or password" in wrong.data
    assert b"Wrong user name or password" in unknown.data
    assert client.get_cookie(COOKIE) is None

    ok = _login(client, "jiz", next_path="/commanders")
    assert ok.status_code == 303 and ok.headers["Location"] == "/commanders"
    cookie = ok.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert "jiz" in layout and REGION in layout

    records = _audit(store)
    logins = records[records["action"] == "login"]
    assert logins["outcome"].tolist() == ["denied", "denied", "ok"]
    assert logins["client"].eq("127.0.0.1").all()

    assert client.post("/logout").status_code == 403  # not from the app's pages
    assert client.post("/logout", headers=ORIGIN).status_code == 303
    assert client.get("/").status_code == 303
    assert client.get("/_dash-layout").status_code == 401
    assert len(store.read("sessions")) == 0


def test_a_login_form_posted_from_elsewhere_is_refused(store: Store) -> None:
    client = _app(store).server.test_client()
    data = {"username": "jiz", "password": PASSWORD, "form_token": "x"}
    assert client.post(LOGIN_PATH, data=data).status_code == 403
    assert client.post(LOGIN_PATH, data=data,
                       headers={"Origin": "http://evil.example"}).status_code == 403
    # from this host but without the form's own token (cookie)
    assert client.post(LOGIN_PATH, data=data, headers=ORIGIN).status_code == 400
    assert len(store.read("sessions")) == 0


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_after_login_the_app_never_sends_the_user_elsewhere(store: Store, target: str) -> None:
    client = _app(store).server.test_client()
    ok = _login(client, "jiz", next_path=target)
    assert ok.status_code == 303 and ok.headers["Location"] == "/"


def test_password_guessing_is_throttled_and_audited(store: Store) -> None:
    client = _app(store).server.test_client()
    replies = [_login(client, "jiz", f"guess number {i}") for i in range(6)]
    assert [r.status_code for r in replies] == [401] * 6
    assert b"Too many failed logins" in replies[-1].data
    # the right password does not get through while the name and the client must wait
    right = _login(client, "jiz")
    assert right.status_code == 401 and b"Too many failed logins" in right.data
    denied = _audit(store).query("action == 'login' and outcome == 'denied'")
    assert len(denied) == 7
    assert {json.loads(d)["reason"] for d in denied["detail"]} == {
        "wrong name or password", "throttled"}


def test_a_login_beyond_the_password_queue_is_refused_as_busy(store: Store) -> None:
    """A flood of logins fills the process's password queue: the next login is answered at
    once with 503 and Retry-After (nothing checked, nothing counted against the user, the
    refusal audited); when the queue drains, the same login gets in."""
    from riskmap.auth.passwords import MAX_WAITING
    from tests.auth.lane import lane_full, within

    client = _app(store).server.test_client()
    with lane_full(MAX_WAITING):
        busy = within(10, lambda: _login(client, "jiz"))
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "2"
    assert b"The server is busy checking other logins" in busy.data
    assert not len(store.read("login_failures"))
    denied = _audit(store).query("action == 'login' and outcome == 'denied'")
    assert [json.loads(d)["reason"] for d in denied["detail"]] == ["busy"]
    assert _login(client, "jiz").status_code == 303


def test_ten_failures_lock_the_account_until_an_admin_enables_it(store: Store) -> None:
    from riskmap.auth.throttle import Policy

    lenient = Policy(free=100)  # no waiting between the guesses
    for i in range(10):
        assert accounts.authenticate(store, "jiz", f"guess {i}", client="10.0.0.9",
                                     policy=lenient).principal is None
    locked = accounts.authenticate(store, "jiz", PASSWORD, client="10.0.0.10", policy=lenient)
    assert locked.principal is None
    assert accounts.get_user(store, "jiz")["locked_until"] > pd.Timestamp.now(tz="UTC")
    accounts.enable_user(store, "jiz", actor="boss")
    ok = accounts.authenticate(store, "jiz", PASSWORD, client="10.0.0.10", policy=lenient)
    assert ok.principal is not None and ok.principal.regions == (REGION,)


def test_a_disabled_user_loses_their_session(store: Store) -> None:
    token, _ = accounts.start_session(store, accounts.principal_of(accounts.get_user(store,
                                                                                     "jiz")))
    assert accounts.session_principal(store, token) is not None
    accounts.disable_user(store, "jiz", actor="boss")
    assert accounts.session_principal(store, token) is None
    assert accounts.authenticate(store, "jiz", PASSWORD, client="x").principal is None


def test_an_idle_session_expires(store: Store) -> None:
    principal = accounts.principal_of(accounts.get_user(store, "jiz"))
    token, _ = accounts.start_session(store, principal)
    sessions = store.read("sessions")
    sessions["last_seen"] = sessions["last_seen"] - pd.Timedelta(hours=2)
    store.replace("sessions", sessions)
    assert accounts.session_principal(store, token) is None
    assert len(store.read("sessions")) == 0


def test_security_headers_and_body_limit(store: Store) -> None:
    client = _app(store, max_request_bytes=64 * 1024).server.test_client()
    for path in (LOGIN_PATH, "/"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
    _login(client, "boss")
    big = client.post("/_dash-update-component", data=b"x" * (200 * 1024), headers={
        **ORIGIN, "Content-Type": "application/json"})
    assert big.status_code == 413


def _callbacks(client: Any) -> list[dict[str, Any]]:
    deps = client.get("/_dash-dependencies")
    assert deps.status_code == 200
    return [cb for cb in deps.get_json() if not cb.get("clientside_function")]


def _outputs(cb: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    output = cb["output"]
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    outs = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        outs.append({"id": ident, "property": prop})
    return output, outs


#: values a crafted request puts in every input and state: other regions, other ids,
#: garbage, deep nesting, markup
CRAFTED: tuple[Any, ...] = (
    OTHER, [OTHER], "S1", ["S1", "S2"], {"region": OTHER, "mahalla_id": "S1"},
    None, "", -1, 1e308, "../../etc/passwd", "<script>alert(1)</script>",
    "=cmd|' /C calc'!A0", [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
    "x" * 5000, {"points": [{"customdata": [OTHER, "S1"], "location": "S1"}]},
)


def _post_everything(client: Any) -> list[tuple[str, int, str]]:
    """Every callback with every crafted value in all its inputs and states."""
    seen = []
    for cb in _callbacks(client):
        output, outs = _outputs(cb)
        for value in CRAFTED:
            payload = {
                "output": output, "outputs": outs if len(outs) > 1 else outs[0],
                "inputs": [{**i, "value": value} for i in cb["inputs"]],
                "state": [{**s, "value": value} for s in cb["state"]],
                "changedPropIds": [f"{i['id']}.{i['property']}" for i in cb["inputs"]],
            }
            res = client.post("/_dash-update-component", json=payload, headers=ORIGIN)
            seen.append((output, res.status_code, res.get_data(as_text=True)))
    return seen


def _leaks(text: str) -> list[str]:
    return [m for m in (*SECRET_NAMES, SECRET_CATEGORY, "SECRETINC", "Termiz") if m in text]


def test_a_commander_gets_nothing_of_another_region_whatever_they_send(store: Store,
                                                                        caplog: Any) -> None:
    app = _app(store)
    admin = app.server.test_client()  # the first requests are an admin's, who sees it all
    _login(admin, "boss")
    assert _leaks(admin.get("/_dash-layout").get_data(as_text=True)
                  + admin.get("/commanders").get_data(as_text=True)
                  + admin.get("/_dash-layout").get_data(as_text=True)) is not None
    client = app.server.test_client()
    assert _login(client, "jiz").status_code == 303
    pages = ["/", "/commanders", "/planner", "/tourism",
             f"/commanders?region={OTHER}&mahalla=S1"]
    for path in pages:
        res = client.get(path)
        assert res.status_code == 200, path
        assert not _leaks(res.get_data(as_text=True)), path  # nothing in _dash-config
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert not _leaks(layout)

    seen = _post_everything(client)
    assert len(seen) > 100
    statuses = {status for _, status, _ in seen}
    assert 500 not in statuses, [o for o, s, _ in seen if s == 500][:5]
    assert statuses <= {200, 204, 400, 403}
    leaked = [(o, _leaks(body)) for o, _, body in seen if _leaks(body)]
    assert not leaked, leaked[:3]
    assert "Traceback" not in caplog.text

    # the routes that are not callbacks (downloads, exports, reports)
    for rule in app.server.url_map.iter_rules():
        if "GET" not in rule.methods or rule.arguments - {"filename", "path"}:
            continue
        url = rule.rule.replace("<path:filename>", "x").replace("<path:path>", "x")
        res = client.get(f"{url}?region={OTHER}&mahalla=S1&district=S")
        assert res.status_code != 500, url
        assert not _leaks(res.data.decode("utf-8", "replace")), url
    # nothing was written anywhere by all this
    assert len(store.read("planned_cameras")) == 0
    assert len(store.read("roadmaps")) == len(store.read("roadmap_measures")) == 0


def test_an_admin_sees_both_regions(store: Store) -> None:
    """The leak check above is not vacuous: the same views show Surkhandarya to an admin."""
    client = _app(store).server.test_client()
    _login(client, "boss")
    seen = _post_everything(client)
    assert any(_leaks(body) for _, status, body in seen if status == 200)


def test_a_role_without_a_page_is_refused_its_callbacks(store: Store) -> None:
    client = _app(store).server.test_client()
    _login(client, "tour")
    planner = [cb for cb in _callbacks(client)
               if any(i["id"].startswith("planner") for i in cb["inputs"])]
    assert planner
    output, outs = _outputs(planner[0])
    res = client.post("/_dash-update-component", headers=ORIGIN, json={
        "output": output, "outputs": outs if len(outs) > 1 else outs[0],
        "inputs": [{**i, "value": None} for i in planner[0]["inputs"]],
        "state": [{**s, "value": None} for s in planner[0]["state"]]})
    assert res.status_code == 403
    denied = client.get("/planner")
    assert denied.status_code == 200  # the page itself says it is not available


def test_the_app_scope_limit_narrows_every_user(store: Store) -> None:
    """RISKMAP_APP__REGIONS: even an admin of every region sees only the app's regions."""
    client = _app(store, regions=[REGION]).server.test_client()
    _login(client, "boss")
    assert not [o for o, _, body in _post_everything(client) if _leaks(body)]


def test_auth_none_is_refused_off_loopback(clean_env: None) -> None:
    result = CliRunner().invoke(serve, ["--store", "data", "--host", "0.0.0.0"],
                                env={"RISKMAP_APP__AUTH": "none"})
    assert result.exit_code == 2
    assert "RISKMAP_APP__AUTH=accounts" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RISKMAP_* variables and no .env file from the developer's machine."""
    for key in list(os.environ):
        if key.startswith("RISKMAP_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def test_page_is_served_locally(world_store: Any) -> None:
    """Every script and stylesheet the index page links is a local path (no CDN)."""
    settings = Settings(_env_file=None, store=world_store.url,  # type: ignore[call-arg]
                        app={"auth": "none", "regions": [], "host": "127.0.0.1"})
    client = create_app(settings, DataAccess(world_store, user="t", audit=False)
                        ).server.test_client()
    html = client.get("/").data.decode()
    assert "http://" not in html.replace("http://localhost/", "")
    assert "https://" not in html
    assert 'href="/assets/riskmap.css' in html


def test_serve_help() -> None:
    result = CliRunner().invoke(serve, ["--help"])
    assert result.exit_code == 0
    assert "Serve the web app" in result.output and "--port" in result.output
    assert [serve] == COMMANDS


def test_log_in_and_out_in_the_browser(store: Store, app_server: Any, browser: Any,
                                       wait: Any, clean_console: Any) -> None:
    """A commander logs in on the login page, sees their scope and pages, and logs out."""
    from selenium.webdriver.common.by import By

    from riskmap.app import ids

    with app_server(store, "app", auth="accounts") as url:
        browser.delete_all_cookies()
        browser.get(f"{url}/commanders")
        wait(browser, lambda d: "/login" in d.current_url)
        browser.find_element(By.ID, "username").send_keys("jiz")
        browser.find_element(By.ID, "password").send_keys("wrong password!")
        browser.find_element(By.ID, "login-submit").click()
        error = wait(browser, lambda d: d.find_elements(By.CLASS_NAME, "login-error"))
        assert "Wrong user name or password" in error[0].text
        # the refused login is answered 401: the only console entry so far
        logged = browser.get_log("browser")
        assert all("/login" in e["message"] and "401" in e["message"] for e in logged), logged
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login-submit").click()
        scope = wait(browser, lambda d: d.find_elements(By.ID, ids.SCOPE))
        assert browser.current_url == f"{url}/commanders"
        wait(browser, lambda d: REGION in d.find_element(By.ID, ids.SCOPE).text)
        assert "jiz" in scope[0].text and "commander" in scope[0].text
        nav = browser.find_element(By.ID, ids.NAV).text
        assert "Commanders" in nav and "Rematch" not in nav  # only the role's pages
        # log out on a page that has finished loading (its map drawn, no callback in flight):
        # what a page still fetches after the logout is refused, which is right but noisy
        idle = ("return !!window.store && !window.store.getState().isLoading"
                " && document.querySelectorAll('.js-plotly-plot .main-svg').length > 0;")
        wait(browser, lambda d: d.execute_script(idle))
        wait(browser, lambda d: d.execute_script(idle))
        clean_console(browser)  # the logged-in page worked without an error
        browser.find_element(By.CSS_SELECTOR, f"#{ids.LOGOUT} button").click()
        wait(browser, lambda d: d.find_elements(By.ID, "login-submit"))
        browser.get(f"{url}/commanders")
        wait(browser, lambda d: "/login" in d.current_url)
        # a callback the page (a timer) sent as the logout went through is refused: 401 (and
        # Dash's renderer says so once more); nothing else may be in the console
        after = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert all("401" in m or "body stream already read" in m for m in after), after
