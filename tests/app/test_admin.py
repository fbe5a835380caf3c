"""The admin page: users, the audit log (filters, chain, CSV), jobs, ingestion runs and the
quarantine.

The store is made through the real functions: users with :mod:`riskmap.auth.accounts`, a
refused login whose name is a spreadsheet formula, audit records through
:class:`DataAccess`, a queued job with :func:`riskmap.jobs.submit`, ingestion runs with
`riskmap ingest`. The page is tried in a
browser as the local admin (``auth="none"``), and over HTTP as a commander, who is refused.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from riskmap.app import ids
from riskmap.app.callbacks import admin as admin_callbacks
from riskmap.app.callbacks.admin import (
    AUDIT_READ,
    MAX_AUDIT_ROWS,
    AuditQuery,
    InputError,
    RunQuery,
    audit_csv,
    audit_page,
    cancel_job,
    chain_status,
    chain_text,
    job_rows,
    parse_audit_query,
    parse_run_query,
    quarantine_view,
    run_detail,
    runs_csv,
    runs_page,
    set_user_state,
    user_rows,
)
from riskmap.auth import accounts
from riskmap.auth.roles import Principal
from riskmap.jobs import list_jobs, status, submit
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess
from riskmap.layers.auditlog import bound_detail, verify
from riskmap.layers.store import Store
from tests.app.conftest import REGION
from tests.app.test_auth import CRAFTED, ORIGIN, PASSWORD, _app, _callbacks, _login, _outputs
from tests.etl.grid import centre, grid_frame

_IDS = ids.ADMIN
TZ = "Asia/Tashkent"
#: a login name that is a spreadsheet formula (refused, and recorded as the audit's user)
FORMULA_NAME = '=HYPERLINK("http://evil.example","x")'
#: an audit action that is a formula (a CSV must not hand it to a spreadsheet as one)
FORMULA_ACTION = "=cmd|' /C calc'!A0"
_IDLE_JS = "return !!window.store && !window.store.getState().isLoading;"
#: a file name that is markup (a browser must show it as text; no file name holds a slash)
MARKUP_NAME = "<img src=x onerror=alert(1)>.csv"
#: a file name that is a spreadsheet formula
FORMULA_FILE = "=1+2.csv"


def _quarantine(store: Store) -> None:
    store.replace("quarantine", pd.DataFrame({
        "quarantine_id": ["q1", "q2", "q3"], "layer": ["incidents"] * 3,
        "source_file": ["jan.csv", "jan.csv", "feb.csv"], "source_row": [2, 3, 7],
        "reason": ["no_location", "bad_date", "bad_date"],
        "detail": ["no mahalla matches", "date '31.02.2025'", "date ''"],
        "raw": ['{"address": "Bozor ko\'chasi"}', "=cmd|' /C calc'!A0", "<b>bold</b>"],
        "quarantined_at": pd.to_datetime(["2025-01-05", "2025-01-06", "2025-02-01"],
                                         utc=True)}))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = open_store(str(tmp_path / "store"))
    accounts.add_user(store, "boss", PASSWORD, role="admin", display_name="The <b>boss</b>")
    accounts.add_user(store, "jiz", PASSWORD, role="commander", regions=[REGION])
    accounts.add_user(store, "plan", PASSWORD, role="planner", regions=[REGION])
    accounts.authenticate(store, FORMULA_NAME, "not the password", client="10.0.0.9")
    DataAccess(store, user="boss", client="10.0.0.1").audit(
        FORMULA_ACTION, layer="incidents", detail={"note": "=1+1"})
    submit(store, "plan_cameras", {"area": "Jizzax shahri", "budget": 3}, owner="plan",
           region=REGION)
    _quarantine(store)
    return store


def _ingest(store: Store, layer: str, path: Path) -> None:
    """Load a file as `riskmap ingest` does (its run is recorded, also when it fails)."""
    from click.testing import CliRunner

    from riskmap.cli import cli

    CliRunner().invoke(cli, ["ingest", layer, str(path), "--store", store.url, "--no-progress"])


@pytest.fixture
def runs_store(store: Store, tmp_path: Path) -> Store:
    """The admin store with three loads: mahallas, incidents with a bad date, a refused file."""
    files = tmp_path / "files"
    files.mkdir()
    grid_frame().to_file(files / "m.geojson")
    _ingest(store, "mahallas", files / "m.geojson")
    lon, lat = centre(0)
    pd.DataFrame({"id": ["R1", "R2", "R3"], "sana": ["2025-01-10 10:00", "11.01.2025", "bad"],
                  "turi": ["theft"] * 3, "lat": lat, "lon": lon}).to_csv(files / MARKUP_NAME,
                                                                         index=False)
    _ingest(store, "incidents", files / MARKUP_NAME)
    (files / FORMULA_FILE).write_text("id,turi\nB1,theft\n", encoding="utf-8")
    _ingest(store, "incidents", files / FORMULA_FILE)
    return store


def _admin(store: Store, **scope: Any) -> DataAccess:
    return DataAccess(store, user="boss", client="127.0.0.1", **scope)


# ---- the pieces, without a browser -----------------------------------------------------------

@pytest.mark.parametrize(("values", "says"), [
    (({"$ne": 1}, None, None, None, None), "User: expected text"),
    (([1], None, None, None, None), "User: expected text"),
    (("x" * 65, None, None, None, None), "at most 64"),
    ((None, 5, None, None, None), "Action: expected text"),
    ((None, None, "maybe", None, None), "Outcome: one of"),
    ((None, None, None, "31.01.2025", None), "YYYY-MM-DD"),
    ((None, None, None, None, "2025-02-30"), "not a day"),
    ((None, None, None, "2025-02-01", "2025-01-01"), "From is after To"),
])
def test_filter_values_of_the_wrong_type_or_form_get_a_message(values: tuple[Any, ...],
                                                               says: str) -> None:
    with pytest.raises(InputError, match=says):
        parse_audit_query(*values)


def test_the_audit_table_is_filtered_on_the_server_newest_first_and_paged(store: Store) -> None:
    n = MAX_AUDIT_ROWS + 20  # chained in one transaction, as DataAccess.audit does each
    store.append_audit(pd.DataFrame({
        "at": pd.Timestamp.now(tz="UTC").floor("us") + pd.to_timedelta(range(n), unit="ms"),
        "user": "ali", "action": "view", "layer": "overview", "scope": "all regions",
        "detail": [bound_detail({"i": i}) for i in range(n)], "rows": None,
        "client": "10.0.0.2", "outcome": "ok"}))
    access = _admin(store)
    got = audit_page(access, parse_audit_query("ali", "view", "ok", None, None), 2, tz=TZ)
    assert got.matched == MAX_AUDIT_ROWS + 20
    assert got.page_count == MAX_AUDIT_ROWS // 50 and got.page == 2 and len(got.rows) == 50
    assert "the newest 500 are shown" in got.summary
    assert {r["user"] for r in got.rows} == {"ali"}
    seqs = [r["seq"] for r in got.rows]
    assert seqs == sorted(seqs, reverse=True)
    assert got.rows[0]["detail"] == f'{{"i": {MAX_AUDIT_ROWS + 20 - 101}}}'
    # a page past the end shows the last one; the denied records only those
    assert audit_page(access, AuditQuery(user="ali"), 99, tz=TZ).page == 9
    denied = audit_page(access, parse_audit_query(None, None, "denied", None, None), 0, tz=TZ)
    assert [r["user"] for r in denied.rows] == [FORMULA_NAME]
    # days are local calendar days: nothing was recorded in 2020
    none = audit_page(access, parse_audit_query(None, None, None, "2020-01-01", "2020-12-31"),
                      0, tz=TZ)
    assert none.rows == [] and none.summary == "No audit record matches the filters."
    today = pd.Timestamp.now(tz=TZ).date().isoformat()
    assert audit_page(access, parse_audit_query("ali", None, None, today, today), 0,
                      tz=TZ).matched == MAX_AUDIT_ROWS + 20
    # each read of the log is itself audited, with its filters, as the admin
    reads = store.read("audit", filters=[("action", "=", AUDIT_READ)])
    assert len(reads) == 5 and set(reads["user"]) == {"boss"}
    assert '"ali"' in reads["detail"].iat[0]


def test_the_csv_holds_the_filtered_records_with_formulas_neutralised(store: Store) -> None:
    access = _admin(store)
    text, n = audit_csv(access, parse_audit_query(None, FORMULA_ACTION, None, None, None), tz=TZ)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert n == len(rows) == 1
    assert rows[0]["action"] == "'" + FORMULA_ACTION
    assert rows[0]["user"] == "boss" and len(rows[0]["hash"]) == 64
    text, _ = audit_csv(access, AuditQuery(user=FORMULA_NAME), tz=TZ)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["user"] for r in rows] == ["'" + FORMULA_NAME]
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    downloads = store.read("audit", filters=[("action", "=", "download_audit")])
    assert list(downloads["rows"]) == [1, 1] and set(downloads["user"]) == {"boss"}


def _last_read_rows(store: Store) -> int:
    reads = store.read("audit", filters=[("action", "=", AUDIT_READ)])
    return int(reads.sort_values("seq")["rows"].iat[-1])


def test_the_chain_check_is_bounded_however_long_the_log(store: Store) -> None:
    """The audit tab checks the newest records once, then only what was appended since: a
    log of millions of records never has to be read whole on a page."""
    def append(n: int) -> None:
        store.append_audit(pd.DataFrame({
            "at": pd.Timestamp.now(tz="UTC").floor("us") + pd.to_timedelta(range(n), unit="ms"),
            "user": "ali", "action": "view", "layer": "overview", "scope": "all regions",
            "detail": None, "rows": None, "client": "10.0.0.2", "outcome": "ok"}))

    append(3_000)
    top = int(pd.to_numeric(store.read("audit", columns=["seq"])["seq"]).max())
    access = _admin(store)
    check, actions = chain_status(access, window=500)
    assert check.ok and check.first == top - 499 and "view" in actions
    assert chain_text(check).startswith(f"Audit chain intact: records {top - 499:,}-")
    assert "riskmap audit verify" in chain_text(check)
    assert _last_read_rows(store) <= 502  # the window (and the read of the seq column)
    append(10)
    again, _ = chain_status(access, window=500)
    assert again.ok and again.first == check.first and again.last[0] > top + 10
    assert _last_read_rows(store) <= 14  # the last record checked and what came after it
    # the store replaced under a running app (its last checked record is not there any
    # more, or differs): the newest window is checked again, not a false alarm
    key = str(store.url)
    admin_callbacks._CHECKED[key] = ((again.last[0], "0" * 64), *admin_callbacks._CHECKED[key][1:])
    fresh, _ = chain_status(access, window=500)
    assert fresh.ok and fresh.first > check.first and _last_read_rows(store) <= 502


def test_the_chain_status_says_intact_or_where_it_breaks(store: Store) -> None:
    check, actions = chain_status(_admin(store))
    assert check.ok and chain_text(check).startswith("Audit chain intact: ")
    assert {FORMULA_ACTION, "login", "user_add", "job_submit"} <= set(actions)
    log = store.read("audit")
    log.loc[log["seq"] == 3, "user"] = "someone else"
    text = chain_text(verify(log))
    assert text.startswith("Audit chain BROKEN at record 3: its fields do not match its hash")
    assert chain_text(verify(log[log["seq"] != 2])).startswith(
        "Audit chain BROKEN at record 2: a record is missing")


def test_disable_and_enable_a_user_as_the_admin(store: Store) -> None:
    access, boss = _admin(store), Principal("boss", "admin", client="127.0.0.1")
    assert set_user_state(access, boss, ["jiz"], disable=True).startswith("jiz is disabled")
    assert accounts.get_user(store, "jiz")["disabled"]
    assert accounts.authenticate(store, "jiz", PASSWORD, client="10.0.0.3").principal is None
    assert set_user_state(access, boss, ["jiz"], disable=True) == "jiz is already disabled."
    assert set_user_state(access, boss, ["jiz"], disable=False).startswith("jiz is enabled")
    assert not accounts.get_user(store, "jiz")["disabled"]
    assert accounts.authenticate(store, "jiz", PASSWORD, client="10.0.0.3").principal
    changes = store.read("audit", filters=[("layer", "=", "users"), ("user", "=", "boss")])
    assert {"user_disable", "user_enable"} <= set(changes["action"])
    # yourself, nobody, a crafted selection: refused with a message, nothing changes
    assert "cannot disable yourself" in set_user_state(access, boss, ["boss"], disable=True)
    assert not accounts.get_user(store, "boss")["disabled"]
    assert set_user_state(access, boss, ["ghost"], disable=True) == "There is no user 'ghost'."
    for crafted in (None, "jiz", ["jiz", "plan"], [{"id": "jiz"}], ["x" * 65], []):
        with pytest.raises(InputError, match="Select one user"):
            set_user_state(access, boss, crafted, disable=True)
    assert not accounts.get_user(store, "jiz")["disabled"]


def test_users_are_listed_without_passwords(store: Store) -> None:
    rows = user_rows(store, tz=TZ)
    assert [r["username"] for r in rows] == ["boss", "jiz", "plan"]
    assert rows[1]["scope"] == REGION and rows[0]["scope"] == "all regions"
    assert {r["source"] for r in rows} == {"local"} and {r["state"] for r in rows} == {"active"}
    assert not any("argon2" in str(v) for r in rows for v in r.values())


def test_an_admin_cancels_another_users_job(store: Store) -> None:
    access, boss = _admin(store), Principal("boss", "admin", client="127.0.0.1")
    rows = job_rows(access, tz=TZ)
    assert [(r["kind"], r["owner"], r["status"]) for r in rows] == [
        ("plan_cameras", "plan", "queued")]
    job_id = rows[0]["id"]
    assert cancel_job(access, boss, [job_id]) == "Cancelled plan_cameras of plan."
    assert status(store, job_id).status == "cancelled"
    assert "nothing to cancel" in cancel_job(access, boss, [job_id])
    assert cancel_job(access, boss, ["job-0000"]) == "There is no such job."
    assert cancel_job(access, boss, ["../etc"]) == "There is no such job."
    cancels = store.read("audit", filters=[("action", "=", "job_cancel")])
    assert list(cancels["user"]) == ["boss"]


def test_the_quarantine_by_file_and_reason_and_its_newest_rows(store: Store) -> None:
    counts, rows, summary = quarantine_view(_admin(store), tz=TZ)
    assert summary == "3 rows quarantined from 2 source files, for 2 reasons."
    assert [(c["source_file"], c["reason"], c["rows"]) for c in counts] == [
        ("feb.csv", "bad_date", 1), ("jan.csv", "bad_date", 1), ("jan.csv", "no_location", 1)]
    assert [r["source_row"] for r in rows] == [7, 3, 2]
    assert rows[0]["raw"] == "<b>bold</b>"  # text: the table shows it, never as markup


def test_an_admin_limited_to_some_regions_reads_no_unscoped_layer(store: Store) -> None:
    scoped = _admin(store, regions=["Samarqand viloyati"])
    for read in (lambda: chain_status(scoped),
                 lambda: audit_page(scoped, AuditQuery(), 0, tz=TZ),
                 lambda: quarantine_view(scoped, tz=TZ)):
        with pytest.raises(InputError, match="not split by region"):
            read()
    assert job_rows(scoped, tz=TZ) == []  # the job works in Jizzax


def test_ingestion_runs_newest_first_filtered_and_paged(runs_store: Store) -> None:
    access = _admin(runs_store)
    got = runs_page(access, RunQuery(), 0, tz=TZ)
    assert got.matched == 3 and got.summary == "3 runs, newest first, 1 failed or refused."
    assert [(r["file_name"], r["outcome"]) for r in got.rows] == [
        (FORMULA_FILE, "refused"), (MARKUP_NAME, "ok"), ("m.geojson", "ok")]
    markup = got.rows[1]
    assert (markup["input_rows"], markup["loaded"], markup["updated"],
            markup["quarantined"]) == (3, 2, 0, 1)
    assert markup["by_reason"] == "invalid_date 1" and markup["layer"] == "incidents"
    assert (markup["user"], markup["client"]) == ("local", "cli")
    assert got.rows[0]["error"].startswith(f"{FORMULA_FILE}, column 'occurred_at': required")
    # filters: outcome, part of the file name in any case; pages of one
    assert [r["file_name"] for r in runs_page(access, parse_run_query("refused", None), 0,
                                              tz=TZ).rows] == [FORMULA_FILE]
    found = runs_page(access, parse_run_query(None, "IMG SRC"), 0, tz=TZ)
    assert [r["file_name"] for r in found.rows] == [MARKUP_NAME]
    assert found.summary == "1 run matching the filters, newest first, 0 failed or refused."
    assert runs_page(access, RunQuery(file="nothing"), 0, tz=TZ).summary == \
        "No run matches the filters."
    paged = runs_page(access, RunQuery(), 2, tz=TZ, page_size=1)
    assert (paged.page, paged.page_count, [r["file_name"] for r in paged.rows]) == (
        2, 3, ["m.geojson"])
    assert runs_page(access, RunQuery(), 99, tz=TZ, page_size=2).page == 1
    for values, says in (((["ok"], None), "Outcome: expected text"),
                         (("maybe", None), "Outcome: one of ok, failed, refused"),
                         ((None, "x" * 256), "at most 255")):
        with pytest.raises(InputError, match=says):
            parse_run_query(*values)


def test_a_run_shows_its_report_and_leads_to_its_quarantined_rows(runs_store: Store) -> None:
    access = _admin(runs_store)
    rows = runs_page(access, RunQuery(), 0, tz=TZ).rows
    detail = run_detail(access, [rows[1]["id"]], tz=TZ)
    assert detail.file_name == MARKUP_NAME and detail.quarantined == 1
    assert detail.facts.startswith(f"{MARKUP_NAME} (") and "SHA-256 " in detail.facts
    assert detail.facts.endswith("(local): ok.") and "by local (cli)" in detail.facts
    assert detail.summary.startswith(f"{MARKUP_NAME}: 3 rows -> 2 loaded, 0 updated, "
                                     "0 duplicates, 1 quarantined")
    assert '"by_reason": {\n    "invalid_date": 1\n  }' in detail.report
    refused = run_detail(access, [rows[0]["id"]], tz=TZ)
    assert refused.summary.startswith(f"Refused: {FORMULA_FILE}, column 'occurred_at'")
    assert refused.report == "" and refused.quarantined == 0
    # the run's quarantined rows: the quarantine of its file
    counts, qrows, summary = quarantine_view(access, tz=TZ, source_file=MARKUP_NAME)
    assert [(c["source_file"], c["rows"]) for c in counts] == [(MARKUP_NAME, 1)]
    assert summary == "1 row quarantined from 1 source file, for 1 reason."
    assert [(r["source_file"], r["reason"]) for r in qrows] == [(MARKUP_NAME, "invalid_date")]
    assert quarantine_view(access, tz=TZ, source_file="none.csv")[2] == \
        "No row of none.csv is quarantined."
    # what the browser sends is only an id, read again: anything else is no run
    for crafted in (["run-" + "0" * 32], ["../" + rows[0]["id"]], ["job-1"]):
        with pytest.raises(InputError, match="There is no such run"):
            run_detail(access, crafted, tz=TZ)
    for crafted in (None, rows[0]["id"], [{"id": rows[0]["id"]}], [], ["x" * 65]):
        with pytest.raises(InputError, match="Select one run"):
            run_detail(access, crafted, tz=TZ)
    reads = runs_store.read("audit", filters=[("layer", "=", "ingest_runs"),
                                              ("action", "=", "admin")])
    assert len(reads) >= 3 and set(reads["user"]) == {"boss"}


def test_the_runs_csv_is_neutralised_and_a_scoped_admin_reads_no_run(runs_store: Store) -> None:
    text, n = runs_csv(_admin(runs_store), RunQuery())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert n == len(rows) == 3
    assert [r["file_name"] for r in rows] == ["'" + FORMULA_FILE, MARKUP_NAME, "m.geojson"]
    assert rows[1]["quarantined"] == "1" and len(rows[1]["file_sha256"]) == 64
    assert "report" not in rows[0] and rows[0]["started_at"].endswith("+00:00")
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    downloads = runs_store.read("audit", filters=[("action", "=", "download_ingest_runs")])
    assert list(downloads["rows"]) == [3] and list(downloads["user"]) == ["boss"]
    scoped = _admin(runs_store, regions=["Samarqand viloyati"])
    for read in (lambda: runs_page(scoped, RunQuery(), 0, tz=TZ),
                 lambda: runs_csv(scoped, RunQuery()),
                 lambda: run_detail(scoped, ["run-" + "0" * 32], tz=TZ)):
        with pytest.raises(InputError, match="not split by region"):
            read()


# ---- over HTTP: who may use it -----------------------------------------------------------------

def _admin_callbacks(client: Any) -> list[dict[str, Any]]:
    return [cb for cb in _callbacks(client)
            if any(i["id"].startswith("admin-") for i in cb["inputs"])]


def _post(client: Any, cb: dict[str, Any], values: dict[str, Any] | None = None,
          default: Any = None, changed: str | None = None) -> Any:
    output, outs = _outputs(cb)
    values = values or {}

    def value(item: dict[str, str]) -> Any:
        return values.get(f"{item['id']}.{item['property']}", default)

    return client.post("/_dash-update-component", headers=ORIGIN, json={
        "output": output, "outputs": outs if len(outs) > 1 else outs[0],
        "inputs": [{**i, "value": value(i)} for i in cb["inputs"]],
        "state": [{**s, "value": value(s)} for s in cb["state"]],
        "changedPropIds": [changed or f"{cb['inputs'][0]['id']}.{cb['inputs'][0]['property']}"]})


def _page(client: Any, path: str) -> str:
    router = next(cb for cb in _callbacks(client) if "_pages_content" in cb["output"])
    res = _post(client, router, {"_pages_location.pathname": path,
                                 "_pages_location.search": ""})
    assert res.status_code == 200
    return res.get_data(as_text=True)


def test_a_commander_is_refused_the_page_and_every_admin_callback(store: Store) -> None:
    app = _app(store)
    client = app.server.test_client()
    assert _login(client, "jiz").status_code == 303
    assert "/admin" not in client.get("/_dash-layout").get_data(as_text=True).replace(
        "\\u002f", "/")
    page = _page(client, "/admin")
    assert "Not available" in page and ids.DENIED in page and _IDS.USERS not in page
    admin = _admin_callbacks(client)
    assert len(admin) == 10
    for cb in admin:
        res = _post(client, cb, {f"{_IDS.TABS}.value": "users",
                                 f"{_IDS.USER_DISABLE}.n_clicks": 1,
                                 f"{_IDS.USERS}.selected_row_ids": ["boss"],
                                 f"{_IDS.AUDIT_CSV}.n_clicks": 1})
        assert res.status_code == 403, cb["output"]
    assert not accounts.get_user(store, "boss")["disabled"]
    # the same requests of an admin are answered (the refusal is the role's, not the request's)
    boss = app.server.test_client()
    _login(boss, "boss")
    assert _IDS.USERS in _page(boss, "/admin")
    users = next(cb for cb in _admin_callbacks(boss) if _IDS.USERS_SUMMARY in cb["output"])
    res = _post(boss, users, {f"{_IDS.TABS}.value": "users"})
    assert res.status_code == 200 and "3 users" in res.get_data(as_text=True)


def test_crafted_values_get_no_update_or_a_message_never_an_error(store: Store,
                                                                  caplog: Any) -> None:
    client = _app(store).server.test_client()
    _login(client, "boss")
    seen = []
    for cb in _admin_callbacks(client):
        for value in CRAFTED:
            for tab in ("users", "audit", "jobs", "runs", "quarantine", value):
                res = _post(client, cb, {f"{_IDS.TABS}.value": tab}, default=value)
                seen.append((cb["output"], res.status_code))
    # the buttons clicked with crafted selections
    buttons = {f"{_IDS.USER_DISABLE}.n_clicks": (f"{_IDS.USERS}.selected_row_ids", "users"),
               f"{_IDS.USER_ENABLE}.n_clicks": (f"{_IDS.USERS}.selected_row_ids", "users"),
               f"{_IDS.JOB_CANCEL}.n_clicks": (f"{_IDS.JOBS}.selected_row_ids", "jobs"),
               f"{_IDS.RUN_QUARANTINE}.n_clicks": (f"{_IDS.RUNS}.selected_row_ids", "runs")}
    for cb in _admin_callbacks(client):
        for button, (selection, tab) in buttons.items():
            if button not in [f"{i['id']}.{i['property']}" for i in cb["inputs"]]:
                continue
            for value in CRAFTED:
                res = _post(client, cb, {f"{_IDS.TABS}.value": tab, button: 1,
                                         selection: value}, changed=button)
                seen.append((cb["output"], res.status_code))
                assert res.status_code != 200 or "Select one" in res.get_data(as_text=True) \
                    or "no such job" in res.get_data(as_text=True) \
                    or "There is no user" in res.get_data(as_text=True), value
    statuses = {s for _, s in seen}
    assert statuses <= {200, 204, 400}, [o for o, s in seen if s not in (200, 204, 400)][:5]
    assert 200 in statuses
    assert "Traceback" not in caplog.text
    assert not any(accounts.get_user(store, n)["disabled"] for n in ("boss", "jiz", "plan"))
    assert {j.status for j in list_jobs(store)} == {"queued"}


# ---- in a browser ------------------------------------------------------------------------------

def _tab(browser: Any, label: str) -> None:
    browser.find_element("xpath", f"//*[@id='{_IDS.TABS}']//*[normalize-space(text())="
                                  f"'{label}']").click()


def _row_radio(browser: Any, table: str, text: str) -> Any:
    return browser.find_element("xpath", f"//*[@id='{table}']//tr[td[normalize-space(.)="
                                         f"'{text}']]//input[@type='radio']")


@pytest.mark.browser
def test_the_admin_page_in_a_browser(store: Store, app_server: Any, browser: Any, wait: Any,
                                     downloads: Any, clean_console: Any) -> None:
    """Users (disable, enable), the audit log (chain, filter, CSV), a cancel, the quarantine."""
    with app_server(store, "boss") as url:
        browser.get(url + "/admin")
        wait(browser, lambda d: d.execute_script(_IDLE_JS)
             and "3 users" in d.find_element("id", _IDS.USERS_SUMMARY).text)
        assert "Admin" in [a.text for a in browser.find_elements("css selector", "nav a")]
        users = browser.find_element("id", _IDS.USERS).text
        assert "The <b>boss</b>" in users  # a name is text, never markup
        # disable, then enable, the commander
        _row_radio(browser, _IDS.USERS, "jiz").click()
        browser.find_element("id", _IDS.USER_DISABLE).click()
        wait(browser, lambda d: d.find_element("id", _IDS.USER_RESULT).text.startswith(
            "jiz is disabled"))
        wait(browser, lambda d: "1 disabled or locked" in d.find_element(
            "id", _IDS.USERS_SUMMARY).text)
        assert accounts.get_user(store, "jiz")["disabled"]
        browser.find_element("id", _IDS.USER_ENABLE).click()
        wait(browser, lambda d: d.find_element("id", _IDS.USER_RESULT).text.startswith(
            "jiz is enabled"))
        assert not accounts.get_user(store, "jiz")["disabled"]
        _row_radio(browser, _IDS.USERS, "boss").click()
        browser.find_element("id", _IDS.USER_DISABLE).click()
        wait(browser, lambda d: "cannot disable yourself" in d.find_element(
            "id", _IDS.USER_RESULT).text)

        # the audit log: the chain, then the records of one user, and their CSV
        _tab(browser, "Audit log")
        wait(browser, lambda d: d.find_element("id", _IDS.AUDIT_CHAIN).text.startswith(
            "Audit chain intact:"))
        wait(browser, lambda d: "newest first" in d.find_element("id", _IDS.AUDIT_SUMMARY).text)
        box = browser.find_element("id", _IDS.AUDIT_USER)
        box.send_keys(FORMULA_NAME + "\n")
        wait(browser, lambda d: d.execute_script(_IDLE_JS) and d.find_element(
            "id", _IDS.AUDIT_SUMMARY).text.startswith("1 record (records matching"))
        cells = browser.find_elements("css selector", f"#{_IDS.AUDIT_TABLE} td[data-dash-column"
                                                      "='user']")
        assert [c.text for c in cells] == [FORMULA_NAME]
        browser.find_element("id", _IDS.AUDIT_CSV).click()
        rows = list(csv.DictReader(io.StringIO(
            downloads.wait_for("riskmap-audit-*.csv").read_text(encoding="utf-8"))))
        assert [(r["user"], r["action"], r["outcome"]) for r in rows] == [
            ("'" + FORMULA_NAME, "login", "denied")]
        box.clear()
        box.send_keys("x" * 10 + "\n")
        browser.find_element("id", _IDS.AUDIT_FROM).send_keys("01.02.2025\n")
        wait(browser, lambda d: "YYYY-MM-DD" in d.find_element("id", _IDS.AUDIT_SUMMARY).text)

        # jobs: cancel the planner's queued job
        _tab(browser, "Jobs")
        wait(browser, lambda d: "1 active" in d.find_element("id", _IDS.JOBS_SUMMARY).text)
        _row_radio(browser, _IDS.JOBS, "plan_cameras").click()
        browser.find_element("id", _IDS.JOB_CANCEL).click()
        wait(browser, lambda d: d.find_element("id", _IDS.JOB_RESULT).text
             == "Cancelled plan_cameras of plan.")
        assert list_jobs(store)[0].status == "cancelled"

        # the quarantine
        _tab(browser, "Quarantine")
        wait(browser, lambda d: d.find_element("id", _IDS.QUARANTINE_SUMMARY).text.startswith(
            "3 rows quarantined"))
        assert "<b>bold</b>" in browser.find_element("id", _IDS.QUARANTINE_ROWS).text
        clean_console(browser)
    reads = store.read("audit", filters=[("action", "=", AUDIT_READ)])
    assert len(reads) >= 3 and set(reads["user"]) == {"boss"}


def test_a_commanders_crafted_request_for_a_run_gets_nothing(runs_store: Store) -> None:
    """The run's id is known (say, from a shared screen): the request is still refused."""
    run = runs_page(_admin(runs_store), RunQuery(file="img"), 0, tz=TZ).rows[0]
    app = _app(runs_store)
    client = app.server.test_client()
    _login(client, "jiz")
    values = {f"{_IDS.RUNS}.selected_row_ids": [run["id"]], f"{_IDS.TABS}.value": "runs",
              f"{_IDS.RUN_QUARANTINE}.n_clicks": 1, f"{_IDS.RUNS_CSV}.n_clicks": 1}
    runs = [cb for cb in _admin_callbacks(client)
            if any(i["id"].startswith("admin-run") for i in cb["inputs"])]
    assert len(runs) == 4
    for cb in runs:
        res = _post(client, cb, values)
        assert res.status_code == 403, cb["output"]
        assert "img src" not in res.get_data(as_text=True)
    # the admin's same request shows the run and its report (text: JSON escapes nothing away)
    boss = app.server.test_client()
    _login(boss, "boss")
    detail = next(cb for cb in _admin_callbacks(boss) if _IDS.RUN_FACTS in cb["output"])
    res = _post(boss, detail, values)
    assert res.status_code == 200
    body = res.json["response"]
    assert body[_IDS.RUN_FACTS]["children"].startswith(MARKUP_NAME)
    assert '"invalid_date": 1' in body[_IDS.RUN_REPORT]["children"]


@pytest.mark.browser
def test_the_ingestion_runs_in_a_browser(runs_store: Store, app_server: Any, browser: Any,
                                         wait: Any, downloads: Any, clean_console: Any) -> None:
    """The runs table, a run's report, its quarantined rows; a file name that is markup is
    text."""
    with app_server(runs_store, "boss") as url:
        browser.get(url + "/admin")
        wait(browser, lambda d: d.execute_script(_IDLE_JS)
             and "3 users" in d.find_element("id", _IDS.USERS_SUMMARY).text)
        _tab(browser, "Ingestion runs")
        wait(browser, lambda d: d.find_element("id", _IDS.RUNS_SUMMARY).text
             == "3 runs, newest first, 1 failed or refused.")
        table = browser.find_element("id", _IDS.RUNS)
        names = [c.text for c in table.find_elements("css selector",
                                                     "td[data-dash-column='file_name']")]
        assert names == [FORMULA_FILE, MARKUP_NAME, "m.geojson"]
        assert table.find_elements("css selector", "img") == []  # text, never markup
        _row_radio(browser, _IDS.RUNS, MARKUP_NAME).click()
        wait(browser, lambda d: d.find_element("id", _IDS.RUN_FACTS).text.startswith(
            MARKUP_NAME + " ("))
        summary = browser.find_element("id", _IDS.RUN_SUMMARY).text
        assert summary.startswith(f"{MARKUP_NAME}: 3 rows -> 2 loaded")
        assert "quarantined: invalid_date 1" in summary
        assert browser.find_elements("css selector", f"#{_IDS.RUN_SUMMARY} img") == []
        # the CSV of the table
        browser.find_element("id", _IDS.RUNS_CSV).click()
        rows = list(csv.DictReader(io.StringIO(
            downloads.wait_for("riskmap-ingest-runs-*.csv").read_text(encoding="utf-8"))))
        assert [r["file_name"] for r in rows] == ["'" + FORMULA_FILE, MARKUP_NAME, "m.geojson"]
        # its quarantined rows
        button = browser.find_element("id", _IDS.RUN_QUARANTINE)
        wait(browser, lambda d: button.is_enabled())
        button.click()
        wait(browser, lambda d: d.find_element("id", _IDS.QUARANTINE_SUMMARY).text
             == "1 row quarantined from 1 source file, for 1 reason.")
        assert browser.find_element("id", _IDS.QUARANTINE_FILE).get_attribute(
            "value") == MARKUP_NAME
        assert browser.find_elements("css selector", f"#{_IDS.QUARANTINE_ROWS} img") == []
        # a filter: the refused runs
        _tab(browser, "Ingestion runs")
        browser.find_element("id", _IDS.RUNS_FILE).send_keys("=1\n")
        wait(browser, lambda d: d.find_element("id", _IDS.RUNS_SUMMARY).text.startswith(
            "1 run matching the filters"))
        clean_console(browser)
