"""Production serving: gunicorn workers, the health route, the server choice; and (opt-in) the
containers end to end through ``scripts/test-containers``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from riskmap.app.factory import create_app
from riskmap.cli import serve as serve_module
from riskmap.cli.serve import HEALTH_PATH, default_workers, install_health_route, serve
from riskmap.layers import open_store
from riskmap.layers.access import DataAccess
from riskmap.settings import Settings
from tests import fixtures

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RISKMAP_* variables and no .env file from the developer's machine."""
    for key in list(os.environ):
        if key.startswith("RISKMAP_") and key != "RISKMAP_LOG_FILE":
            monkeypatch.delenv(key)
    monkeypatch.delenv("GUNICORN_CMD_ARGS", raising=False)
    monkeypatch.chdir(tmp_path)


def _tiny_store(url: str) -> str:
    with open_store(url) as store, store.transaction() as txn:
        world = fixtures.tiny_world()
        txn.replace("mahallas", world["mahallas"])
        txn.replace("incidents", world["incidents"])
    return url


# ---- the health route --------------------------------------------------------------------------

def _login_required() -> dict[str, Any]:
    """App settings that require a login, whichever login the app has (password or accounts)."""
    from riskmap.settings import AppSettings

    fields = AppSettings.model_fields
    login = {"password": PASSWORD} if "password" in fields else {"auth": "accounts"}
    return {**login, "regions": [], "host": "127.0.0.1"}


def test_health_route_answers_without_a_login(tmp_path: Path) -> None:
    store = open_store(_tiny_store(str(tmp_path / "store")))
    settings = Settings(_env_file=None, store=store.url,  # type: ignore[call-arg]
                        app=_login_required())
    app = create_app(settings, DataAccess(store, user="test", audit=False))
    healthy = {"ok": True}

    def check() -> None:
        if not healthy["ok"]:
            raise ConnectionError("the database went away")

    install_health_route(app.server, check)
    client = app.server.test_client()
    ok = client.get(HEALTH_PATH)
    assert ok.status_code == 200 and ok.get_json() == {"status": "ok"}
    assert ok.headers["Cache-Control"] == "no-store"
    assert client.head(HEALTH_PATH).status_code == 200
    # everything else still asks for the login
    assert client.get("/").status_code in (302, 303, 401)
    assert client.get("/_dash-layout").status_code == 401
    assert client.get(HEALTH_PATH + "x").status_code in (302, 303, 401)
    healthy["ok"] = False
    down = client.get(HEALTH_PATH)
    assert down.status_code == 503 and down.get_json() == {"status": "unavailable"}
    assert b"database" not in down.data  # says nothing about why


# ---- choosing the server -----------------------------------------------------------------------

def test_default_workers_follow_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(3)), raising=False)
    assert 1 <= default_workers() <= 3
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(64)), raising=False)
    assert default_workers() <= 8


def test_server_auto_prefers_gunicorn_and_a_missing_one_is_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    assert serve_module._pick_server("auto") == ("gunicorn" if os.name == "posix" else "waitress")
    assert serve_module._pick_server("waitress") == "waitress"
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("gunicorn", "waitress") else real(name, *a))
    assert serve_module._pick_server("auto") == "dash"
    with pytest.raises(serve_module.CommandError, match="gunicorn is not installed"):
        serve_module._pick_server("gunicorn")


def test_a_bad_serving_setting_is_one_line(clean_env: None,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKMAP_APP__WORKERS", "0")
    result = CliRunner().invoke(serve, ["--store", "data"])
    assert result.exit_code == 2
    assert "RISKMAP_APP__WORKERS" in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(serve, ["--store", "data", "--server", "nginx"])
    assert result.exit_code == 2


# ---- gunicorn for real -------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _get(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextmanager
def _serving(store_url: str, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``riskmap serve`` on loopback without a login in a subprocess until /healthz answers;
    SIGTERM at the end. (The logins are tested with the app; this is about the server.)"""
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RISKMAP_") and k != "GUNICORN_CMD_ARGS"}
    if os.environ.get("RISKMAP_LOG_FILE"):
        env["RISKMAP_LOG_FILE"] = os.environ["RISKMAP_LOG_FILE"]
    env["RISKMAP_APP__AUTH"] = "none"  # accounts: no login on loopback (a password: unset)
    proc = subprocess.Popen(
        [sys.executable, "-m", "riskmap", "serve", "--store", store_url, "--port", str(port),
         *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                if _get(url + HEALTH_PATH)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "riskmap serve did not answer in 120 s"
            time.sleep(0.5)
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@linux_only
@pytest.mark.slow
@pytest.mark.postgis
def test_gunicorn_serves_postgis_with_several_workers(postgis_db: str, tmp_path: Path) -> None:
    url = _tiny_store(postgis_db)
    with _serving(url, "--workers", "2", "--threads", "2", "--timeout", "60") as (proc, base):
        assert len(_children(proc.pid)) == 2  # gunicorn's workers
        status, body = _get(base + HEALTH_PATH)
        assert status == 200 and b'"ok"' in body
        status, body = _get(base + "/")
        assert status == 200 and b"react-entry-point" in body
        for _ in range(4):  # several requests, whichever worker answers
            status, body = _get(base + "/_dash-layout")
            assert status == 200 and b"app-header" in body
    output = proc.communicate()[0]
    assert proc.returncode == 0, output
    assert "gunicorn, 2 workers x 2 threads" in output
    assert "Shutting down: Master" in output
    assert "Traceback" not in output


@linux_only
@pytest.mark.slow
def test_gunicorn_gives_the_embedded_store_one_worker(tmp_path: Path) -> None:
    url = _tiny_store(str(tmp_path / "store"))
    with _serving(url, "--workers", "3") as (proc, base):
        assert len(_children(proc.pid)) == 1
        assert _get(base + "/")[0] == 200
    output = proc.communicate()[0]
    assert proc.returncode == 0, output
    assert "served by one worker process" in output and "gunicorn, 1 worker x 8" in output


@linux_only
@pytest.mark.slow
def test_a_store_that_does_not_answer_stops_serve_in_one_line(clean_env: None) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "riskmap", "serve", "--store",
         f"postgresql+psycopg://riskmap@127.0.0.1:{_free_port()}/nothing"],
        capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("RISKMAP_APP")})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "cannot migrate" in result.stderr


# ---- the containers ----------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("RISKMAP_TEST_CONTAINERS") != "1",
                    reason="builds and runs the containers (minutes, root; CI runs "
                           "./scripts/test-containers itself): set RISKMAP_TEST_CONTAINERS=1")
def test_containers_end_to_end() -> None:  # pragma: no cover - opt-in
    result = subprocess.run([str(ROOT / "scripts" / "test-containers")], cwd=ROOT,
                            capture_output=True, text=True, timeout=2700)
    assert result.returncode == 0, result.stderr[-6000:]
    assert "scripts/test-containers: PASSED" in result.stderr


@pytest.mark.skipif(not Path("/bin/bash").exists() or not sys.platform.startswith("linux"),
                    reason="needs bash and coreutils' timeout")
def test_container_steps_are_bounded_and_only_failures_are_tried_again(tmp_path: Path) -> None:
    """containers/lib.sh: a command over its time stops with a message naming it (and is not
    tried again); a failing download is tried again until it works or the tries run out."""
    count = tmp_path / "count"
    script = f"""
set -euo pipefail
ROOT={ROOT} CT_PROG=t
source {ROOT}/containers/lib.sh
ct_step "a step"
rc=0; ct_timeout 1 "the sleeper" sleep 30 || rc=$?; echo "sleeper $rc"
echo 0 >{count}
flaky() {{ local n=$(($(cat {count}) + 1)); echo $n >{count}; [[ $n -ge 2 ]]; }}
export -f flaky
rc=0; ct_retry 3 20 "the flaky download" bash -c flaky || rc=$?; echo "flaky $rc $(cat {count})"
rc=0; ct_retry 2 20 "the broken download" false || rc=$?; echo "broken $rc"
rc=0; ct_retry 3 1 "the hanging download" sleep 30 || rc=$?; echo "hanging $rc"
"""
    started = time.monotonic()
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "RISKMAP_CT_RETRY_WAIT": "1"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n") == ["sleeper 124", "flaky 0 2", "broken 1", "hanging 124", ""]
    assert "t: TIMEOUT: the sleeper did not finish in 1s (step: a step)" in result.stderr
    assert "the flaky download failed (exit 1, try 1 of 3)" in result.stderr
    assert "the broken download failed (exit 1, try 1 of 2)" in result.stderr
    assert "try 2 of 2" not in result.stderr
    assert result.stderr.count("the hanging download") == 1  # a timeout is not tried again
    assert time.monotonic() - started < 30


def test_ci_runs_the_container_test() -> None:
    """The issue's "done when": CI (.ci/run) runs scripts/test-containers, bounded in time,
    and a failure of it does not hide the suites' results."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    runs = [line for line in ci.splitlines() if line.startswith("stage ")]
    assert any("./scripts/test-containers" in line and "stage none" not in line for line in runs)
    assert [line.split()[-1] for line in runs].count("./scripts/test") == 1
    assert "set -e" not in ci and 'exit "$failed"' in ci


# ---- the container files (no engine needed) ----------------------------------------------------

def test_container_files_use_accounts_and_ship_no_password() -> None:
    """The first admin account comes from RISKMAP_ADMIN_PASSWORD through the one-shot
    riskmap-init; nothing ships a password, and the old single app password is gone."""
    compose = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    services = _compose_services(compose)
    assert set(services) >= {"db", "migrate", "app", "loader", "worker"}
    assert 'command: ["riskmap-init"]' in services["migrate"]
    # every riskmap service gets the common environment (accounts) and .env
    anchor = compose.split("x-riskmap-env: &riskmap-env", 1)[1].split("\nservices:", 1)[0]
    assert "RISKMAP_APP__AUTH: accounts" in anchor
    assert ":?set RISKMAP_DB_PASSWORD" in anchor and "ADMIN" not in anchor
    for name in ("migrate", "app", "loader", "worker"):
        assert "<<: *riskmap-env" in services[name] and "env_file: .env" in services[name], name
    # only migrate reads the admin password (from .env, no default): the others blank it
    # (podman-compose 1.0 would pass an interpolation like ${X:-} on literally)
    assert "RISKMAP_ADMIN_PASSWORD" not in services["migrate"]
    for name in ("app", "loader", "worker"):
        assert 'RISKMAP_ADMIN_PASSWORD: ""' in services[name], name
    assert "${RISKMAP_ADMIN_PASSWORD" not in compose

    example = (ROOT / "containers" / "env.example").read_text(encoding="utf-8")
    secrets = {line.split("=", 1)[0]: line.split("=", 1)[1]
               for line in example.splitlines() if line and not line.startswith("#")}
    assert secrets == {"RISKMAP_DB_PASSWORD": "", "RISKMAP_ADMIN_PASSWORD": ""}

    init = (ROOT / "containers" / "riskmap-init").read_text(encoding="utf-8")
    assert "riskmap migrate" in init and "--password-stdin" in init
    assert "riskmap users add" in init and "--role admin" in init
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "containers/riskmap-init" in dockerfile
    assert "!containers/riskmap-init" in (ROOT / ".dockerignore").read_text(encoding="utf-8")
    for path in ("Dockerfile", "compose.yaml", "containers/env.example",
                 "containers/riskmap-init", "scripts/test-containers"):
        assert "RISKMAP_APP__PASSWORD" not in (ROOT / path).read_text(encoding="utf-8"), path


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="needs /bin/sh")
def test_riskmap_init_makes_the_admin_once_and_never_prints_the_password(
        tmp_path: Path, clean_env: None) -> None:
    """containers/riskmap-init against an embedded store, with this venv's riskmap."""
    store = str(tmp_path / "store")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "riskmap").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m riskmap "$@"\n')
    (bindir / "riskmap").chmod(0o755)
    (bindir / "python").symlink_to(sys.executable)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RISKMAP_")},
           "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "RISKMAP_STORE": store}
    script = [str(ROOT / "containers" / "riskmap-init")]

    def run(**extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(script, env={**env, **extra}, capture_output=True, text=True,
                              timeout=300)

    first = run()
    assert first.returncode == 2, first.stderr
    assert "set RISKMAP_ADMIN_PASSWORD" in first.stderr
    secret = "Tq7-vLw2-Zp9x-Hk4m"
    made = run(RISKMAP_ADMIN_PASSWORD=secret)
    assert made.returncode == 0, made.stderr
    assert "added admin (admin" in made.stdout
    again = run(RISKMAP_ADMIN_PASSWORD="another-Pw-8812x")
    assert again.returncode == 0, again.stderr
    assert "the account admin exists" in again.stdout
    for result in (first, made, again):
        assert secret not in result.stdout + result.stderr
    short = run(RISKMAP_ADMIN_USER="chief", RISKMAP_ADMIN_PASSWORD="short")
    assert short.returncode != 0 and "12 characters" in short.stderr + short.stdout

    from riskmap.auth import accounts

    with open_store(store) as opened:
        assert accounts.authenticate(opened, "admin", secret, client="test").principal \
            is not None
        assert accounts.get_user(opened, "chief") is None


def _compose_services(text: str) -> dict[str, str]:
    """compose.yaml's services, each as its block of text (no YAML parser is a dependency)."""
    block = text.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    services: dict[str, str] = {}
    name = None
    for line in block.splitlines():
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":") \
                and not line.lstrip().startswith("#"):
            name = line.strip().rstrip(":")
            services[name] = ""
        elif name is not None:
            services[name] += line + "\n"
    return services
