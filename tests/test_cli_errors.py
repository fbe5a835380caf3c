"""No traceback reaches a user: expected failures are one line (exit 2), unexpected ones one line
naming the log file that holds the traceback (exit 70), ``--debug`` prints it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from riskmap.cli import cli, main
from riskmap.cli.common import EXIT_EXPECTED, EXIT_UNEXPECTED
from tests import fixtures

RISKMAP = [sys.executable, "-m", "riskmap"]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """The real entry point in a child process (what a user's shell runs)."""
    return subprocess.run([*RISKMAP, *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


def _no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr


@pytest.fixture
def small_store(tmp_path: Path) -> Path:
    """An embedded store with the tiny world's mahallas and 300 located incidents."""
    store = tmp_path / "store"
    fixtures.mahallas().to_file(tmp_path / "m.geojson")
    rows = ["incident_id,occurred_at,category,lat,lon"]
    rows += [f"I{i:04d},2025-03-{i % 28 + 1:02d} 10:00,theft,{40.101 + (i % 90) * 1e-4:.6f},"
             f"{67.841 + (i % 170) * 1e-4:.6f}" for i in range(300)]
    (tmp_path / "i.csv").write_text("\n".join(rows) + "\n")
    for layer, file in (("mahallas", "m.geojson"), ("incidents", "i.csv")):
        res = CliRunner().invoke(cli, ["ingest", layer, str(tmp_path / file), "--store", str(store)])
        assert res.exit_code == 0, res.output
    return store


def test_a_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run(["export", "incidents", "--store", str(tmp_path / "s"), "-o",
                 str(tmp_path / "x.csv"), "--from", "2025-01-01'x"])
    assert proc.returncode == EXIT_EXPECTED
    assert "\"2025-01-01'x\" is not a day (expected YYYY-MM-DD)" in proc.stderr
    _no_traceback(proc)
    backwards = CliRunner().invoke(cli, ["export", "incidents", "--store", str(tmp_path / "s"),
                                         "-o", str(tmp_path / "x.csv"), "--from", "2025-02-01",
                                         "--to", "2025-01-01"])
    assert backwards.exit_code == EXIT_EXPECTED and "is after --to" in backwards.output


def test_a_public_host_without_logins_is_one_line(tmp_path: Path) -> None:
    proc = _run(["demo", "--host", "0.0.0.0", "--no-auth", "--no-serve",
                 "--store", str(tmp_path / "s")])
    assert proc.returncode == EXIT_EXPECTED
    assert "RISKMAP_APP__AUTH=accounts" in proc.stderr and proc.stderr.count("\n") == 1
    _no_traceback(proc)
    assert not (tmp_path / "s").exists()  # refused before anything was generated or written


def test_unexpected_errors_name_the_log_and_debug_prints_them(tmp_path: Path) -> None:
    log = tmp_path / "errors.log"

    @cli.command("explode")
    def explode() -> None:
        raise ZeroDivisionError("a bug that nobody expected")

    try:
        res = CliRunner().invoke(cli, ["explode"], env={"RISKMAP_LOG_FILE": str(log)})
        assert res.exit_code == EXIT_UNEXPECTED
        assert "unexpected error (ZeroDivisionError: a bug that nobody expected)" in res.output
        assert str(log) in res.output and "--debug" in res.output
        assert "Traceback" not in res.output
        text = log.read_text()
        assert "Traceback (most recent call last)" in text and "def explode" not in res.output
        assert oct(log.stat().st_mode & 0o777) == "0o600"  # tracebacks may hold police data
        with pytest.raises(ZeroDivisionError):  # --debug lets the traceback through
            main(["explode", "--debug"])
    finally:
        cli.commands.pop("explode")


def test_debug_is_accepted_anywhere(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["info", "--store", str(tmp_path / "s"), "--debug"])
    assert exit_info.value.code == 0


def _in_full_disk(tmp_path: Path, command: str) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (sh) with ``$FULL`` a 64 KiB tmpfs, in a private mount namespace."""
    if shutil.which("unshare") is None:
        pytest.fail("util-linux `unshare` is needed to mount a small tmpfs for the full-disk test")
    full = tmp_path / "full"
    full.mkdir()
    script = f'mount -t tmpfs -o size=64k tmpfs "{full}" && FULL="{full}" && {command}'
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True,
                          text=True, timeout=300, env={**os.environ})


def test_a_full_disk_is_one_line_and_leaves_no_half_file(small_store: Path, tmp_path: Path) -> None:
    argv = " ".join([*RISKMAP, "export", "incidents", "--store", str(small_store), "--format",
                     "csv", "-o", '"$FULL/incidents.csv"'])
    filler = 'head -c 56000 /dev/zero > "$FULL/filler"'  # 300 incidents need more than 8 KiB
    proc = _in_full_disk(tmp_path, f'{filler}; {argv}; rc=$?; ls -A "$FULL"; exit $rc')
    assert proc.returncode == EXIT_EXPECTED, proc.stderr
    assert "no space left on the device" in proc.stderr
    _no_traceback(proc)
    assert proc.stdout.split() == ["filler"]  # neither the output nor its temporary file is left


def test_a_load_onto_a_full_disk_changes_nothing(tmp_path: Path) -> None:
    fixtures.mahallas().to_file(tmp_path / "m.geojson")
    argv = " ".join([*RISKMAP, "ingest", "mahallas", str(tmp_path / "m.geojson"), "--store",
                     '"$FULL/store"'])
    filler = 'head -c 60000 /dev/zero > "$FULL/filler"'
    proc = _in_full_disk(tmp_path, f'{filler}; {argv}; rc=$?; '
                                   f'{" ".join(RISKMAP)} info --store "$FULL/store"; exit $rc')
    assert proc.returncode == EXIT_EXPECTED, proc.stderr
    assert "no space left on the device" in proc.stderr
    _no_traceback(proc)
    assert "(empty" in proc.stdout  # the store shows no layer: the load left it as it was


def test_click_errors_keep_their_codes(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["export", "incidents", "--store", str(tmp_path)])
    assert res.exit_code == 2 and "Missing option" in res.output  # usage errors stay 2
    assert isinstance(click.UsageError("x"), click.ClickException)
