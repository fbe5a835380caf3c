"""``riskmap users`` and ``riskmap audit``, run as an administrator would, on both stores."""

from __future__ import annotations

import json

from click.testing import CliRunner

from riskmap.auth import accounts
from riskmap.cli import cli
from riskmap.layers import open_store

PASSWORD = "a long and unusual passphrase"


def _run(store_url: str, *args: str, stdin: str | None = None) -> object:
    return CliRunner().invoke(cli, [*args, "--store", store_url], input=stdin,
                              catch_exceptions=False)


def test_users_add_list_passwd_disable(store_url: str) -> None:
    added = _run(store_url, "users", "add", "aziz", "--role", "commander",
                 "--region", "Jizzax viloyati", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert "aziz (commander; Jizzax viloyati)" in added.output
    # a password on the command line would land in the shell history
    on_line = _run(store_url, "users", "add", "bek", "--role", "admin", "--password", PASSWORD)
    assert on_line.exit_code == 2 and "never given on the command line" in on_line.output
    # a commander needs a scope; a weak password is refused without being echoed
    unscoped = _run(store_url, "users", "add", "bek", "--role", "commander",
                    "--password-stdin", stdin=PASSWORD + "\n")
    assert unscoped.exit_code == 2 and "needs a scope" in unscoped.output
    weak = _run(store_url, "users", "add", "bek", "--role", "admin", "--password-stdin",
                stdin="password123456\n")
    assert weak.exit_code == 2 and "password123456" not in weak.output

    listed = _run(store_url, "users", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [r["username"] for r in rows] == ["aziz"]
    assert "password_hash" not in rows[0] and PASSWORD not in listed.output

    with open_store(store_url) as store:
        assert accounts.authenticate(store, "aziz", PASSWORD, client="t").principal is not None
        token, _ = accounts.start_session(store, accounts.principal_of(
            accounts.get_user(store, "aziz")))
    new = "another long passphrase here"
    assert _run(store_url, "users", "passwd", "aziz", "--password-stdin",
                stdin=new + "\n").exit_code == 0
    with open_store(store_url) as store:
        assert accounts.session_principal(store, token) is None  # a new password ends sessions
        assert accounts.authenticate(store, "aziz", PASSWORD, client="t").principal is None
        assert accounts.authenticate(store, "aziz", new, client="u").principal is not None
    assert _run(store_url, "users", "disable", "aziz").exit_code == 0
    with open_store(store_url) as store:
        assert accounts.authenticate(store, "aziz", new, client="v").principal is None

    verified = _run(store_url, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "audit log intact" in verified.output
    with open_store(store_url) as store:
        audit = store.read("audit")
    actions = audit["action"].tolist()
    assert {"user_add", "user_passwd", "user_disable", "login"} <= set(actions)
    assert not audit["detail"].fillna("").str.contains(PASSWORD).any()


def test_the_demo_user_gets_a_new_random_password_each_run(tmp_path) -> None:
    from riskmap.cli.demo import DEMO_USER, demo_login

    url = str(tmp_path / "store")
    first, second = demo_login(url), demo_login(url)
    assert first != second and len(first) >= 20
    with open_store(url) as store:
        assert accounts.get_user(store, DEMO_USER)["role"] == "admin"
        assert accounts.authenticate(store, DEMO_USER, first, client="a").principal is None
        assert accounts.authenticate(store, DEMO_USER, second, client="b").principal is not None


def test_audit_export_writes_the_log_a_batch_at_a_time(store_url: str, tmp_path,
                                                       monkeypatch) -> None:
    """``riskmap audit export`` writes the log in the chain's order a batch of ``seq`` at a
    time (the memory of a batch for a log of any length): the same CSV as the whole log read
    at once, with ``--user`` and ``--from``; a formula a user supplied is neutralised; a log
    with records from before the chain is read whole and written as before."""
    import pandas as pd

    from riskmap.cli import audit as audit_cli

    monkeypatch.setattr(audit_cli, "EXPORT_BATCH", 4)
    t0 = pd.Timestamp("2026-03-01", tz="UTC")
    records = pd.DataFrame({
        "at": [t0 + pd.Timedelta(days=i) for i in range(11)],
        "user": ["=HYPERLINK(1)" if i == 5 else ("ali" if i % 2 else "vali") for i in range(11)],
        "action": "view", "layer": "overview", "scope": "all regions",
        "detail": [f"d{i}" for i in range(11)], "rows": None, "client": "cli",
        "outcome": "ok"})
    with open_store(store_url) as store:
        store.append_audit(records)

    def exported(*args: str) -> pd.DataFrame:
        out = tmp_path / "audit.csv"
        got = _run(store_url, "audit", "export", "-o", str(out), *args)
        assert got.exit_code == 0, got.output
        return pd.read_csv(out, dtype=str, keep_default_na=False)

    with open_store(store_url) as store:
        kind = type(store)
    sizes: list[int] = []
    read = kind.read

    def counted(self, layer, **kw):  # what each read of the store held
        frame = read(self, layer, **kw)
        sizes.append(len(frame))
        return frame

    monkeypatch.setattr(kind, "read", counted)
    whole = exported()
    assert max(sizes) <= 4  # batches of 4, never the whole log
    assert whole["detail"].tolist() == [f"d{i}" for i in range(11)]
    assert whole["seq"].tolist() == [str(i) for i in range(1, 12)]
    assert whole.loc[5, "user"] == "'=HYPERLINK(1)"  # not run as a formula
    ali = exported("--user", "ali", "--from", "2026-03-04")
    assert ali["detail"].tolist() == ["d3", "d7", "d9"]
    assert list(ali.columns) == list(whole.columns)
    nobody = exported("--user", "nobody")
    assert len(nobody) == 0 and list(nobody.columns) == list(whole.columns)
    with open_store(store_url) as store:  # as written before revision 0005: no seq
        store.append("audit", records.head(2).assign(detail=["old0", "old1"]))
    mixed = exported()
    assert mixed["detail"].tolist() == ["old0", "old1", *[f"d{i}" for i in range(11)]]
