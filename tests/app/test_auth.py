"""HTTP basic auth: on only when a password is set; `riskmap serve` refuses unsafe settings."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from click.testing import CliRunner

from riskmap.app.factory import create_app
from riskmap.cli.serve import COMMANDS, serve
from riskmap.layers.access import DataAccess
from riskmap.settings import Settings

PASSWORD = "correct horse battery"


def _basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """No RISKMAP_* variables and no .env file from the developer's machine."""
    for key in list(os.environ):
        if key.startswith("RISKMAP_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _client(world_store: Any, **app: Any) -> Any:
    app = {"password": None, "regions": [], "host": "127.0.0.1", **app}
    settings = Settings(_env_file=None, store=world_store.url, app=app)  # type: ignore[call-arg]
    dash_app = create_app(settings, DataAccess(world_store, user="test", audit=False))
    return dash_app.server.test_client()


def test_password_required_when_set(world_store: Any) -> None:
    client = _client(world_store, password=PASSWORD, username="analyst")
    for path in ("/", "/_dash-layout", "/assets/riskmap.css"):
        denied = client.get(path)
        assert denied.status_code == 401, path
        assert denied.headers["WWW-Authenticate"].startswith('Basic realm="riskmap"')
    assert client.get("/", headers=_basic("analyst", "wrong password")).status_code == 401
    assert client.get("/", headers=_basic("someone", PASSWORD)).status_code == 401
    ok = client.get("/", headers=_basic("analyst", PASSWORD))
    assert ok.status_code == 200
    assert b"react-entry-point" in ok.data
    layout = client.get("/_dash-layout", headers=_basic("analyst", PASSWORD))
    assert layout.status_code == 200 and b"app-header" in layout.data


def test_no_password_means_open_on_loopback(world_store: Any) -> None:
    client = _client(world_store)
    response = client.get("/")
    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers


def test_page_is_served_locally(world_store: Any) -> None:
    """Every script and stylesheet the index page links is a local path (no CDN)."""
    html = _client(world_store).get("/").data.decode()
    assert "http://" not in html.replace("http://localhost/", "")
    assert "https://" not in html
    assert 'href="/assets/riskmap.css' in html


def test_serve_refuses_public_host_without_password(clean_env: None) -> None:
    result = CliRunner().invoke(serve, ["--store", "data", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "RISKMAP_APP__PASSWORD" in result.output
    assert "Traceback" not in result.output


def test_serve_never_echoes_a_short_password(clean_env: None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKMAP_APP__PASSWORD", "s3cr3t")
    result = CliRunner().invoke(serve, ["--store", "data"])
    assert result.exit_code == 2
    assert "at least 8 characters" in result.output
    assert "s3cr3t" not in result.output


def test_serve_help() -> None:
    result = CliRunner().invoke(serve, ["--help"])
    assert result.exit_code == 0
    assert "Serve the web app" in result.output and "--port" in result.output
    assert [serve] == COMMANDS
