"""The ingest API for live feeds, over real HTTP to a served app, on both store backends.

Every case of issue 12's "done when": a token, a bad token, a revoked token, a token of another
region, a malformed batch, a batch over the size limit, duplicates, partial bad rows; the
OpenAPI description against the routes; ``riskmap tokens``; and (browser) an incident posted
to the API on the commanders' map within a minute.
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd
import shapely

from riskmap.app.api import MAX_BATCH_BYTES, MAX_BATCH_ROWS, OPENAPI
from riskmap.auth.apitokens import create_token, list_tokens, revoke_token
from riskmap.auth.tokens import token_hash
from tests import fixtures
from tests.app.conftest import settle

OTHER = "Samarqand"  # a region beside the tiny world's Jizzakh


def _world() -> gpd.GeoDataFrame:
    """The tiny world's four Jizzakh mahallas and one of another region east of them."""
    base = fixtures.mahallas()
    other = gpd.GeoDataFrame({"mahalla_id": ["S1"], "name": ["Registon"],
                              "name_cyrillic": ["Регистон"], "district": ["Samarqand shahri"],
                              "region": [OTHER], "population": [900.0]},
                             geometry=[fixtures.square(2, 0)], crs="EPSG:4326")
    return gpd.GeoDataFrame(pd.concat([base, other], ignore_index=True), crs="EPSG:4326")


def _record(i: str, lon: float = 67.8425, lat: float = 40.1025, category: str = "theft",
            when: str = "2025-05-01T10:00:00+05:00") -> dict[str, Any]:
    return {"incident_id": i, "occurred_at": when, "category": category, "lat": lat,
            "lon": lon}


@dataclass
class Http:
    """What a request got back."""

    status: int
    body: Any
    headers: Any
    text: str


def _request(url: str, *, data: bytes | None = None, token: str | None = None,
             method: str | None = None, content_type: str = "application/json") -> Http:
    req = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None
                                                                   else "GET"))
    if data is not None:
        req.add_header("Content-Type", content_type)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw, headers = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        status, raw, headers = err.code, err.read(), err.headers
    text = raw.decode("utf-8")
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        body = None
    return Http(status, body, headers, text)


@dataclass
class Api:
    """A served app over a store holding the world, and its tokens."""

    url: str
    store: Any
    tokens: dict[str, str]

    def post(self, kind: str, payload: Any, token: str | None = "jz", *,
             raw: bytes | None = None) -> Http:
        data = raw if raw is not None else json.dumps(payload).encode("utf-8")
        return _request(f"{self.url}/api/v1/{kind}", data=data,
                        token=self.tokens.get(token, token) if token else None)

    def incidents(self) -> pd.DataFrame:
        return self.store.read("incidents") if self.store.has("incidents") else pd.DataFrame()


@pytest.fixture
def api(store: Any, app_server: Any) -> Iterator[Api]:
    """The app (logins on, as in production) over ``store`` (embedded and PostGIS)."""
    with store.transaction() as txn:
        txn.replace("mahallas", _world())
    tokens = {
        "jz": create_token(store, "jz-feed", regions=["Jizzakh"], kinds=["incidents"]),
        "sam": create_token(store, "sam-feed", regions=[OTHER]),
        "cams": create_token(store, "cam-feed", regions=["Jizzakh"], kinds=["cameras"]),
        "all": create_token(store, "national", kinds=["incidents", "cameras"]),
    }
    with app_server(store, "test", auth="accounts") as url:
        yield Api(url, store, tokens)


def _no_trace(resp: Http) -> None:
    assert "Traceback" not in resp.text and 'File "' not in resp.text
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.text
    assert isinstance(resp.body, dict) and resp.body.get("error"), resp.text


# ---- tokens ------------------------------------------------------------------------------

def test_a_token_loads_a_batch_and_the_same_batch_twice_loads_nothing_new(api: Api) -> None:
    batch = [_record("A1"), _record("A2", 67.8575, 40.1025, "assault"),
             _record("A3", 67.8450, 40.1150, "robbery")]
    first = api.post("incidents", batch)
    assert first.status == 200, first.text
    assert {k: first.body[k] for k in ("input_rows", "loaded", "updated", "duplicates",
                                       "quarantined")} == {
        "input_rows": 3, "loaded": 3, "updated": 0, "duplicates": 0, "quarantined": 0}
    assert first.body["quarantined_rows"] == [] and first.body["batch"].startswith(
        "api-incidents-jz-feed-")
    stored = api.incidents().set_index("incident_id")
    assert sorted(stored.index) == ["A1", "A2", "A3"]
    assert stored.loc["A2", "mahalla_id"] == "M2" and stored.loc["A3", "mahalla_id"] == "M3"
    assert set(stored["source_file"]) == {first.body["batch"] + ".csv"}
    # local time without an offset is Tashkent time, as in a file
    assert stored.loc["A1", "occurred_at"] == pd.Timestamp("2025-05-01T05:00:00Z")

    again = api.post("incidents", batch)
    assert again.status == 200, again.text
    assert (again.body["loaded"], again.body["updated"], again.body["duplicates"]) == (0, 0, 3)
    assert len(api.incidents()) == 3
    changed = api.post("incidents", [_record("A1", category="burglary")])
    assert (changed.body["loaded"], changed.body["updated"]) == (0, 1)

    audit = api.store.read("audit")
    mine = audit[(audit["user"] == "token:jz-feed") & (audit["action"] == "api_ingest")]
    assert list(mine["action"]) == ["api_ingest"] * 3 and set(mine["outcome"]) == {"ok"}
    assert list(mine["layer"]) == ["incidents"] * 3
    used = list_tokens(api.store).set_index("name")
    assert pd.notna(used.loc["jz-feed", "last_used_at"])
    assert used.loc["jz-feed", "last_used_from"] == "127.0.0.1"
    assert pd.isna(used.loc["sam-feed", "last_used_at"])


def test_no_token_a_bad_token_and_a_revoked_token_get_401(api: Api) -> None:
    for token in (None, "not-a-token", "x" * 300):
        resp = api.post("incidents", [_record("B1")], token=token)
        assert resp.status == 401, resp.text
        _no_trace(resp)
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    basic = _request(f"{api.url}/api/v1/incidents", data=b"[]", token=None)
    assert basic.status == 401

    assert api.post("incidents", [_record("B2")], token="jz").status == 200
    assert revoke_token(api.store, "jz-feed") is True
    resp = api.post("incidents", [_record("B3")], token="jz")
    assert resp.status == 401, resp.text
    _no_trace(resp)
    assert sorted(api.incidents()["incident_id"]) == ["B2"]
    denied = api.store.read("audit")
    denied = denied[(denied["action"] == "api_ingest") & (denied["outcome"] == "denied")]
    assert len(denied) == 5 and set(denied["user"]) == {"token:?"}


def test_a_token_of_another_region_is_refused_and_nothing_is_stored(api: Api) -> None:
    batch = [_record("C1"), _record("C2", 67.8650, 40.1050)]  # C2 lies in Samarqand
    resp = api.post("incidents", batch, token="sam")
    assert resp.status == 403, resp.text
    _no_trace(resp)
    assert "outside the token's scope" in resp.body["error"]
    assert resp.body["rows"] == [{"row": 1, "region": "Jizzakh", "district": "Sharof Rashidov"}]
    assert len(api.incidents()) == 0
    assert not api.store.has("quarantine") or len(api.store.read("quarantine")) == 0
    # a Jizzakh token is refused the Samarqand row, an unscoped one loads both
    assert api.post("incidents", batch, token="jz").status == 403
    assert len(api.incidents()) == 0
    both = api.post("incidents", batch, token="all")
    assert both.status == 200 and both.body["loaded"] == 2, both.text
    # a stored Jizzakh incident cannot be moved (or rewritten) by the Samarqand token
    moved = api.post("incidents", [_record("C1", 67.8650, 40.1050)], token="sam")
    assert moved.status == 403, moved.text
    assert api.incidents().set_index("incident_id").loc["C1", "region"] == "Jizzakh"
    audit = api.store.read("audit")
    refused = audit[(audit["user"] == "token:sam-feed") & (audit["action"] == "api_ingest")]
    assert list(refused["outcome"]) == ["denied", "denied"]


def test_a_token_may_post_only_its_kinds(api: Api) -> None:
    resp = api.post("incidents", [_record("D1")], token="cams")
    assert resp.status == 403, resp.text
    _no_trace(resp)
    assert "may post cameras, not incidents" in resp.body["error"]
    cams = [{"camera_id": "K1", "type": "dome", "lat": 40.1025, "lon": 67.8425},
            {"camera_id": "K2", "type": "ptz", "lat": 40.1150, "lon": 67.8450,
             "bearing_deg": 90}]
    first = api.post("cameras", cams, token="cams")
    assert first.status == 200, first.text
    assert (first.body["loaded"], first.body["updated"]) == (2, 0)
    again = api.post("cameras", cams, token="cams")
    assert (again.body["loaded"], again.body["updated"]) == (0, 2)  # as a file: by id
    stored = api.store.read("cameras").set_index("camera_id")
    assert stored.loc["K2", "mahalla_id"] == "M3" and stored.loc["K2", "bearing_deg"] == 90
    assert api.post("cameras", [{"camera_id": "K3", "type": "dome", "lat": 40.105,
                                 "lon": 67.865}], token="cams").status == 403


def test_malformed_batches_get_400_with_the_reason(api: Api) -> None:
    cases = {
        b"{not json": "not JSON",
        b"\xff\xfe[]": "not UTF-8",
        json.dumps({"rows": []}).encode(): "a JSON list of records or a GeoJSON",
        json.dumps([1, 2]).encode(): "row 1 is not an object",
        json.dumps([_record("E1") | {"category": ["theft"]}]).encode():
            "row 1, field 'category'",
        json.dumps({"type": "FeatureCollection", "features": [{"type": "Polygon"}]}).encode():
            "row 1 is not a GeoJSON Feature",
        json.dumps([{"incident_id": "E2", "occurred_at": "2025-01-01", "lat": 40.1,
                     "lon": 67.84}]).encode(): "'category'",
        b"[" * 100_000: "nested too deeply",
    }
    for raw, words in cases.items():
        resp = api.post("incidents", None, raw=raw)
        assert resp.status == 400, (raw[:40], resp.text)
        _no_trace(resp)
        assert words in resp.body["error"], resp.body["error"]
        assert "/tmp" not in resp.body["error"] and "riskmap-api-" not in resp.body["error"]
    assert len(api.incidents()) == 0
    wrong = _request(f"{api.url}/api/v1/incidents", token=api.tokens["jz"])
    assert wrong.status == 405 and wrong.body["error"].startswith("use POST")
    missing = _request(f"{api.url}/api/v1/nothing", data=b"[]", token=api.tokens["jz"])
    assert missing.status == 404
    _no_trace(missing)


def test_batches_over_the_size_limits_get_413(api: Api) -> None:
    rows = [{"incident_id": f"F{i}"} for i in range(MAX_BATCH_ROWS + 1)]
    resp = api.post("incidents", rows)
    assert resp.status == 413, resp.text
    _no_trace(resp)
    assert f"more than the {MAX_BATCH_ROWS:,}" in resp.body["error"]
    big = [_record("F1") | {"note": "x" * (MAX_BATCH_BYTES + 10)}]
    resp = api.post("incidents", big)
    assert resp.status == 413, resp.text[:300]
    _no_trace(resp)
    assert len(api.incidents()) == 0
    ok = [_record(f"G{i}") for i in range(MAX_BATCH_ROWS)]  # the limit itself is accepted
    resp = api.post("incidents", ok)
    assert resp.status == 200 and resp.body["loaded"] == MAX_BATCH_ROWS, resp.text[:300]


def test_bad_rows_are_quarantined_with_their_row_and_reason(api: Api) -> None:
    batch = [_record("H1"), _record("H2", category="no-such-crime"),
             _record("H3", when="yesterday-ish"), _record("H4", lon=10.0, lat=10.0),
             _record("H1")]
    resp = api.post("incidents", batch)
    assert resp.status == 200, resp.text
    body = resp.body
    assert (body["input_rows"], body["loaded"], body["duplicates"], body["quarantined"]) == (
        5, 1, 1, 3)
    assert [(r["row"], r["reason"]) for r in body["quarantined_rows"]] == [
        (2, "unknown_category"), (3, "invalid_date"), (4, "outside_area")]
    assert "no-such-crime" in body["quarantined_rows"][0]["detail"]
    assert body["by_reason"] == {"unknown_category": 1, "invalid_date": 1, "outside_area": 1}
    quarantine = api.store.read("quarantine")
    assert sorted(quarantine["source_row"]) == [3, 4, 5]  # as in the batch's CSV file
    assert set(quarantine["source_file"]) == {body["batch"] + ".csv"}
    assert sorted(api.incidents()["incident_id"]) == ["H1"]
    again = api.post("incidents", batch)  # the same batch again: nothing new
    assert (again.body["loaded"], again.body["duplicates"], again.body["quarantined"]) == (
        0, 2, 3)


def test_a_geojson_feature_collection_loads_like_a_file(api: Api) -> None:
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [67.8475, 40.1075]},
         "properties": {"incident_id": "J1", "occurred_at": "2025-05-02T09:00:00Z",
                        "category": "theft"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [67.8575, 40.1175]},
         "properties": {"incident_id": "J2", "occurred_at": "2025-05-02T09:30:00Z",
                        "category": "nonsense"}}]}
    resp = api.post("incidents", fc)
    assert resp.status == 200, resp.text
    assert (resp.body["loaded"], resp.body["quarantined"]) == (1, 1)
    assert resp.body["quarantined_rows"][0]["row"] == 2
    stored = api.incidents().set_index("incident_id")
    assert stored.loc["J1", "mahalla_id"] == "M1"
    assert shapely.equals(stored.geometry.loc["J1"], shapely.Point(67.8475, 40.1075))
    assert api.post("incidents", fc).body["duplicates"] == 1


def test_the_openapi_description_matches_the_routes(api: Api) -> None:
    resp = _request(f"{api.url}/api/v1/openapi.json")
    assert resp.status == 200 and resp.body == json.loads(json.dumps(OPENAPI))
    assert resp.body["openapi"].startswith("3.1")
    from riskmap.app.api import API_PREFIX

    paths = resp.body["paths"]
    assert set(paths) == {f"{API_PREFIX}/incidents", f"{API_PREFIX}/cameras",
                          f"{API_PREFIX}/openapi.json"}
    for path, ops in paths.items():
        for method, op in ops.items():
            if method != "post":
                continue
            body = op["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
            assert body[0]["maxItems"] == MAX_BATCH_ROWS
            assert body[1]["properties"]["features"]["maxItems"] == MAX_BATCH_ROWS
            assert str(MAX_BATCH_BYTES) in op["description"]
            assert set(op["responses"]) == {"200", "400", "401", "403", "413"}
            kind = path.rsplit("/", 1)[1]
            # every documented answer is what the route gives
            assert _request(f"{api.url}{path}", data=b"[]", token=None).status == 401
            assert _request(f"{api.url}{path}", data=b"{", token=api.tokens["all"]).status == 400
            other = "cams" if kind == "incidents" else "jz"
            got = _request(f"{api.url}{path}", data=b"[]", token=api.tokens[other])
            assert got.status == 403
            too_many = json.dumps([{}] * (MAX_BATCH_ROWS + 1)).encode()
            assert _request(f"{api.url}{path}", data=too_many,
                            token=api.tokens["all"]).status == 413
            ok = _request(f"{api.url}{path}", data=b"[]", token=api.tokens["all"])
            assert ok.status == 200
            schema = op["responses"]["200"]["content"]["application/json"]["schema"]
            assert set(schema["required"]) <= set(ok.body) <= set(schema["properties"])
    report = api.post("incidents", [_record("K1"), _record("K2", category="?")]).body
    schema = paths[f"{API_PREFIX}/incidents"]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    assert set(schema["required"]) <= set(report) <= set(schema["properties"])
    assert set(report["quarantined_rows"][0]) == set(
        schema["properties"]["quarantined_rows"]["items"]["required"])


# ---- ingest runs and throttling --------------------------------------------------------------

def test_each_api_batch_is_an_ingest_run_on_the_admin_page(api: Api) -> None:
    from riskmap.app.callbacks.admin import RunQuery, runs_page
    from riskmap.layers.access import DataAccess

    good = api.post("incidents", [_record("R1"), _record("R2", when="never")])
    assert good.status == 200 and (good.body["loaded"], good.body["quarantined"]) == (1, 1)
    outside = api.post("incidents", [_record("R3")], token="sam")  # R3 lies in Jizzakh
    assert outside.status == 403, outside.text
    assert api.post("incidents", None, raw=b"{not json").status == 400  # no batch: no run
    runs = api.store.read("ingest_runs").sort_values("started_at").reset_index(drop=True)
    assert runs["user"].tolist() == ["token:jz-feed", "token:sam-feed"]
    assert runs["client"].tolist() == ["jz-feed", "sam-feed"]
    assert runs["outcome"].tolist() == ["ok", "refused"]
    assert runs["layer"].tolist() == ["incidents", "incidents"]
    assert runs["file_name"].iat[0] == good.body["batch"] + ".csv"
    assert runs["file_name"].iat[1].startswith("api-incidents-sam-feed-")
    assert (runs["input_rows"].iat[0], runs["loaded"].iat[0], runs["quarantined"].iat[0]) \
        == (2, 1, 1)
    assert runs["by_reason"].iat[0] == "invalid_date 1"
    assert len(runs["file_sha256"].iat[0]) == 64 and runs["file_size"].iat[0] > 0
    assert "outside the token's scope" in runs["error"].iat[1]
    assert "/tmp" not in runs["error"].iat[1] and "riskmap-api-" not in runs["error"].iat[1]
    audit = api.store.read("audit")
    recorded = audit[(audit["action"] == "ingest_run").to_numpy(bool)]
    assert sorted(recorded["user"]) == ["token:jz-feed", "token:sam-feed"]
    # the admin page's ingestion runs tab lists them like file runs
    page = runs_page(DataAccess(api.store, user="admin"), RunQuery(), 0, tz="Asia/Tashkent")
    assert page.summary == "2 runs, newest first, 1 failed or refused."
    assert [(r["user"], r["client"], r["outcome"]) for r in page.rows] == [
        ("token:sam-feed", "sam-feed", "refused"), ("token:jz-feed", "jz-feed", "ok")]
    assert (page.rows[1]["loaded"], page.rows[1]["quarantined"]) == (1, 1)


def test_failed_token_attempts_are_throttled_per_address(api: Api) -> None:
    from riskmap.auth.accounts import authenticate

    for _ in range(2):  # requests without a token guess nothing: never throttled
        assert api.post("incidents", [_record("T0")], token=None).status == 401
    for guess in ("guess-1", "guess-2", "guess-3"):
        resp = api.post("incidents", [_record("T1")], token=guess)
        assert resp.status == 401, resp.text
    # the fourth attempt waits, even with the right token: a guess learns nothing
    t0 = time.monotonic()
    held = api.post("incidents", [_record("T1")], token="jz")
    assert held.status == 429, held.text
    _no_trace(held)
    wait_s = int(held.headers["Retry-After"])
    assert 1 <= wait_s <= 2 and "too many failed token attempts" in held.body["error"]
    assert api.post("incidents", [_record("T1")], token="guess-4").status == 429
    assert len(api.incidents()) == 0
    time.sleep(max(0.0, wait_s - (time.monotonic() - t0)) + 0.2)
    ok = api.post("incidents", [_record("T1")], token="jz")
    assert ok.status == 200 and ok.body["loaded"] == 1, ok.text
    # a fourth failure doubles the wait
    assert api.post("incidents", [_record("T2")], token="guess-5").status == 401
    again = api.post("incidents", [_record("T2")], token="jz")
    assert again.status == 429 and 3 <= int(again.headers["Retry-After"]) <= 4
    audit = api.store.read("audit")
    denied = audit[(audit["action"] == "api_ingest") & (audit["outcome"] == "denied")]
    reasons = [json.loads(d)["reason"] for d in denied["detail"]]
    assert reasons.count("throttled") == 3 and reasons.count("unknown or revoked") == 4
    assert set(denied["client"]) == {"127.0.0.1"}
    # the address's logins are throttled on their own failures only
    login = authenticate(api.store, "nobody", "wrong", client="127.0.0.1")
    assert login.principal is None and login.wait_s == 0


# ---- riskmap tokens -------------------------------------------------------------------------

def test_tokens_cli_prints_the_token_once_and_lists_without_it(tmp_path: Any) -> None:
    from riskmap.cli import cli
    from riskmap.layers import open_store

    url = str(tmp_path / "store")
    runner = CliRunner()
    made = runner.invoke(cli, ["tokens", "create", "Police-Feed", "--store", url, "--regions",
                               "Jizzakh", "--kinds", "incidents"])
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert len(token) >= 40
    listed = runner.invoke(cli, ["tokens", "list", "--store", url])
    assert "police-feed" in listed.output and "active" in listed.output
    as_json = runner.invoke(cli, ["tokens", "list", "--json", "--store", url])
    rows = json.loads(as_json.stdout)
    assert rows[0]["kinds"] == "incidents" and json.loads(rows[0]["regions"]) == ["Jizzakh"]
    for out in (listed.output, as_json.output):
        assert token not in out and token_hash(token) not in out
    with open_store(url) as store:
        stored = store.read("api_tokens")
    assert list(stored["token_hash"]) == [token_hash(token)]
    assert token not in stored.astype(str).to_string()
    twice = runner.invoke(cli, ["tokens", "create", "police-feed", "--store", url,
                                "--all-regions"])
    assert twice.exit_code != 0 and "exists" in twice.output
    unscoped = runner.invoke(cli, ["tokens", "create", "x", "--store", url])
    assert unscoped.exit_code != 0 and "--all-regions" in unscoped.output
    bad_kind = runner.invoke(cli, ["tokens", "create", "y", "--store", url, "--all-regions",
                                   "--kinds", "mahallas"])
    assert bad_kind.exit_code != 0 and "incidents, cameras" in bad_kind.output
    revoked = runner.invoke(cli, ["tokens", "revoke", "police-feed", "--store", url])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert "revoked" in runner.invoke(cli, ["tokens", "list", "--store", url]).output
    with open_store(url) as store:
        audit = store.read("audit")
    assert list(audit.loc[audit["layer"] == "api_tokens", "action"]) == [
        "token_create", "token_revoke"]


# ---- the commanders' map ----------------------------------------------------------------------

@pytest.mark.browser
def test_an_incident_posted_to_the_api_is_on_the_commanders_map_within_a_minute(
        browser: Any, make_store: Any, wait: Any) -> None:
    import threading

    from werkzeug.serving import make_server

    from riskmap.app.factory import create_app
    from riskmap.layers.access import DataAccess
    from riskmap.settings import Settings

    store = make_store()
    token = create_token(store, "live", regions=[])
    settings = Settings(_env_file=None, store=store.url,  # type: ignore[call-arg]
                        app={"auth": "none", "regions": [], "host": "127.0.0.1",
                             "refresh_seconds": 5})
    app = create_app(settings, DataAccess(store, user="test"))
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    summary = "cmd-summary"
    try:
        browser.get(url + "/commanders")
        wait(browser, lambda d: d.find_element("id", summary).text.startswith("500 incidents"))
        # the first load's later callbacks (autosize, viewport) read the store too: one
        # answering after the post would show the new incident without the poll
        settle(browser, wait)
        record = {"incident_id": "LIVE1", "occurred_at": "2025-06-15T12:00:00Z",
                  "category": "theft", "lon": 67.845, "lat": 40.125}
        t0 = time.monotonic()
        resp = _request(f"{url}/api/v1/incidents", data=json.dumps([record]).encode(),
                        token=token)
        assert resp.status == 200 and resp.body["loaded"] == 1, resp.text

        # the open page notices it by itself (a poll every 30 s), without a reload
        browser.execute_script("window.__not_reloaded = true;")
        assert browser.find_element("id", "cmd-updated").text == ""
        wait(browser, lambda d: d.find_element("id", summary).text.startswith(
            "501 incidents"), timeout=60)
        elapsed = time.monotonic() - t0
        assert elapsed < 60
        assert browser.execute_script("return window.__not_reloaded === true;")
        note = browser.find_element("id", "cmd-updated").text
        assert note.startswith("updated ") and len(note) == len("updated HH:MM"), note
        print(f"API incident on the open commanders' map after {elapsed:.1f} s")
        assert "LIVE1" in set(store.read("incidents")["incident_id"])
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_the_app_checks_for_new_data_at_least_once_a_minute() -> None:
    from pydantic import ValidationError

    from riskmap.app.data import ModelRegistry
    from riskmap.settings import Settings

    assert Settings(_env_file=None).app.refresh_seconds == 60  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, app={"refresh_seconds": 61})  # type: ignore[call-arg]
    import inspect

    assert inspect.signature(ModelRegistry).parameters["refresh_s"].default <= 60


def test_the_data_poll_sends_nothing_until_the_data_changes(make_store: Any) -> None:
    """The commanders' page's poll: an empty answer (204, no figure) while the version is the
    page's; the new version and an "updated HH:MM" note once a batch changed the store."""
    from riskmap.app.factory import create_app
    from riskmap.app.ids import COMMANDERS
    from riskmap.layers.access import DataAccess
    from riskmap.settings import Settings
    from tests.app.test_planner_jobs import _post

    store = make_store()
    settings = Settings(_env_file=None, store=store.url,  # type: ignore[call-arg]
                        app={"auth": "none", "regions": [], "host": "127.0.0.1",
                             "refresh_seconds": 0.1})
    app = create_app(settings, DataAccess(store, user="test"))
    poll = f"{COMMANDERS.DATA_POLL}.n_intervals"
    seen = store.version()
    page = app.server.test_client().get("/commanders")
    assert page.status_code == 200
    for _ in range(3):
        time.sleep(0.15)
        same = _post(app, poll, {COMMANDERS.DATA_VERSION: seen})
        assert same.status_code == 204 and same.data == b""  # nothing sent, nothing redrawn
    token = create_token(store, "live", regions=[])
    with app_server_of(app) as url:
        record = {"incident_id": "POLL1", "occurred_at": "2025-06-15T12:00:00Z",
                  "category": "theft", "lon": 67.845, "lat": 40.125}
        resp = _request(f"{url}/api/v1/incidents", data=json.dumps([record]).encode(),
                        token=token)
        assert resp.status == 200 and resp.body["loaded"] == 1, resp.text
    time.sleep(0.15)
    changed = _post(app, poll, {COMMANDERS.DATA_VERSION: seen})
    assert changed.status_code == 200
    got = changed.get_json()["response"]
    assert got[COMMANDERS.DATA_VERSION]["data"] == store.version() != seen
    assert got[COMMANDERS.UPDATED]["children"].startswith("updated ")
    # the map (its figure, put on the map in the browser) and the red list take the version
    # as an input: they redraw on it, and only then
    deps = {k: v for k, v in app.callback_map.items()
            if any(i["id"] == COMMANDERS.DATA_VERSION for i in v["inputs"])}
    assert {o for k in deps for o in (COMMANDERS.MAP_FIGURE, COMMANDERS.REDLIST)
            if o + "." in k} == {COMMANDERS.MAP_FIGURE, COMMANDERS.REDLIST}


@contextlib.contextmanager
def app_server_of(app: Any) -> Iterator[str]:
    """Serve the Dash ``app`` on a free 127.0.0.1 port for the block."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
