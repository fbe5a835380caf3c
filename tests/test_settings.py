"""The typed settings: environment, nesting, bounds and secrets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from riskmap.settings import Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("RISKMAP_"):
            monkeypatch.delenv(name)


def test_defaults():
    s = Settings(_env_file=None)
    assert s.store == "./riskmap-data" and s.etl.snap_distance_m == 200
    assert s.etl.h3_resolution == 9 and s.app.port == 8050 and s.app.auth == "accounts"
    assert s.app.ldap.url is None  # directory logins are off until configured


def test_nested_environment_variables_are_coerced(monkeypatch):
    monkeypatch.setenv("RISKMAP_STORE", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("RISKMAP_ETL__SNAP_DISTANCE_M", "150")
    monkeypatch.setenv("RISKMAP_APP__PORT", "8888")
    monkeypatch.setenv("RISKMAP_APP__REGIONS", '["Jizzax viloyati"]')
    s = Settings(_env_file=None)
    assert s.store.startswith("postgresql+psycopg://")
    assert s.etl.snap_distance_m == 150.0 and s.app.port == 8888
    assert s.app.regions == ["Jizzax viloyati"]


@pytest.mark.parametrize(("name", "value"), [
    ("RISKMAP_ETL__SNAP_DISTANCE_M", "-1"),
    ("RISKMAP_ETL__H3_RESOLUTION", "16"),
    ("RISKMAP_APP__PORT", "0"),
    ("RISKMAP_ETL__FUZZY_THRESHOLD", "20"),
])
def test_bounds_are_enforced(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)


def test_an_unknown_login_mode_is_refused(monkeypatch):
    monkeypatch.setenv("RISKMAP_APP__AUTH", "basic")
    with pytest.raises(ValidationError) as err:
        Settings(_env_file=None)
    assert "auth" in str(err.value)


def test_dotenv_file_is_read(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("RISKMAP_USER=inspector\nRISKMAP_ETL__TIMEZONE=UTC\n")
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.user == "inspector" and s.etl.timezone == "UTC"
