"""Options and helpers shared by the command modules."""

from __future__ import annotations

import contextlib
import datetime
import errno
import functools
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from riskmap import __version__
from riskmap.errors import RiskmapError
from riskmap.settings import Settings, load_settings

__all__ = ["DATE", "EXIT_EXPECTED", "EXIT_UNEXPECTED", "CommandError", "as_command_error",
           "audited", "check_window", "clean_errors", "dask_client", "describe_expected",
           "echo_json", "expected_exit", "fail_cleanly", "log_file", "open_from", "safe_url",
           "scaleout_options", "settings_from", "store_option", "write_text_atomic"]


def store_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--store``: a directory (embedded) or a postgresql+psycopg:// URL; env RISKMAP_STORE."""
    return click.option(
        "--store", "store_url", default=None, metavar="PATH|URL",
        help="Store: a directory (embedded GeoParquet, default ./riskmap-data) or a "
             "postgresql+psycopg:// URL (PostGIS). Env: RISKMAP_STORE.")(func)


def scaleout_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--workers N`` / ``--scheduler ADDR``: run the heavy part on Dask (:mod:`etl.scaleout`)."""
    func = click.option(
        "--scheduler", default=None, metavar="tcp://HOST:PORT",
        help="Run on this Dask scheduler's workers (they must reach the same store: the same "
             "PostGIS URL, or the same directory on a shared file system).")(func)
    return click.option(
        "--workers", type=click.IntRange(min=1, max=256), default=None, metavar="N",
        help="Run on a local Dask cluster of N worker processes.")(func)


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """:func:`etl.scaleout.cluster`, its failures to start as clear command errors."""
    from riskmap.etl.scaleout import cluster

    if workers and scheduler:
        raise click.UsageError("give --workers (a local cluster) or --scheduler, not both")
    stack = contextlib.ExitStack()
    try:
        client = stack.enter_context(cluster(workers, scheduler))
    except (OSError, TimeoutError) as exc:
        raise click.ClickException(f"cannot start or reach the Dask cluster "
                                   f"({scheduler or f'{workers} local workers'}): {exc}") from exc
    with stack:
        yield client


def settings_from(store_url: str | None, **overrides: Any) -> Settings:
    """Settings from the environment with the CLI's overrides on top."""
    return load_settings(store=store_url, **overrides)


def open_from(settings: Settings) -> Any:
    """Open the settings' store."""
    from riskmap.layers import open_store

    return open_store(settings.store)


#: exit codes: an expected failure (bad input, settings, store state) and an unexpected one
EXIT_EXPECTED = 2
EXIT_UNEXPECTED = 70  # EX_SOFTWARE
DEBUG_ENV = "RISKMAP_DEBUG"
LOG_ENV = "RISKMAP_LOG_FILE"


class CommandError(click.ClickException):
    """A one-line failure shown as ``Error: ...`` with its exit code (no traceback)."""

    def __init__(self, message: str, exit_code: int = EXIT_EXPECTED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def describe_expected(exc: BaseException) -> str | None:
    """The one-line message of an expected failure, or None when ``exc`` is unexpected.

    Expected: riskmap's own errors (their messages name the file, row and column), and what the
    machine refuses: a full disk, a missing file or folder, a permission, a read-only disk.
    """
    if isinstance(exc, RiskmapError):
        return str(exc)
    if isinstance(exc, OSError):
        where = exc.filename or getattr(exc, "filename2", None)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return (f"no space left on the device{f' writing {where}' if where else ''}: free "
                    "some space and run the command again (a store load that failed changed "
                    "nothing)")
        if where is not None:
            return f"{where}: {exc.strerror or exc}"
    return None


def log_file() -> Path:
    """Where unexpected errors are logged: ``$RISKMAP_LOG_FILE``, else the user's state folder."""
    if os.environ.get(LOG_ENV):
        return Path(os.environ[LOG_ENV])
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(state) / "riskmap" / "riskmap.log"


def log_unexpected(exc: BaseException) -> Path | None:
    """Append the traceback of ``exc`` (with the masked command line) to :func:`log_file`."""
    text = "".join(traceback.format_exception(exc))
    argv = " ".join(safe_url(a) if "://" in a else a for a in sys.argv)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S %z")
    for path in (log_file(), Path(tempfile.gettempdir()) / f"riskmap-{os.getuid()}.log"):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(f"--- {stamp} riskmap {__version__}: {argv}\n{text}\n")
            return path
        except OSError:
            continue
    return None


def debug_enabled() -> bool:
    """``--debug`` was given (or RISKMAP_DEBUG=1): let tracebacks through."""
    ctx = click.get_current_context(silent=True)
    flag = bool(ctx and ctx.find_root().meta.get("riskmap.debug"))
    return flag or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def as_command_error(exc: Exception) -> click.ClickException:
    """Turn any exception into the one line a user sees (expected: exit 2; else exit 70).

    An unexpected error's traceback goes to the log file, which the line names.
    """
    if isinstance(exc, click.ClickException):
        return exc
    message = describe_expected(exc)
    if message is not None:
        return CommandError(message, EXIT_EXPECTED)
    where = log_unexpected(exc)
    detail = f"{type(exc).__name__}: {exc}".strip()
    if len(detail) > 300:
        detail = detail[:300] + " ..."
    logged = f"the traceback is in {where}" if where else "the traceback could not be logged"
    return CommandError(f"unexpected error ({detail}); {logged}; run with --debug to print it",
                        EXIT_UNEXPECTED)


def expected_exit(exc: click.ClickException) -> click.ClickException:
    """A command's own one-line failure exits with :data:`EXIT_EXPECTED` (click's default is 1)."""
    if exc.exit_code == 1:
        exc.exit_code = EXIT_EXPECTED
    return exc


@contextlib.contextmanager
def clean_errors() -> Iterator[None]:
    """Let no traceback out of the block (see :func:`as_command_error`); ``--debug`` does."""
    try:
        yield
    except click.ClickException as exc:
        raise expected_exit(exc) from None
    except (click.exceptions.Exit, click.exceptions.Abort):
        raise
    except KeyboardInterrupt:
        raise click.Abort() from None
    except Exception as exc:
        if debug_enabled():
            raise
        raise as_command_error(exc) from exc


def fail_cleanly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command inside :func:`clean_errors`.

    The ``riskmap`` group does the same for every command; this keeps a command clean when it
    is invoked on its own (as the tests do).
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with clean_errors():
            return func(*args, **kwargs)

    return wrapper


class DateParam(click.ParamType):
    """A calendar day, ``YYYY-MM-DD``; handed on as that text."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        if isinstance(value, datetime.date):
            return value.isoformat()[:10]
        text = str(value).strip()
        try:
            day = datetime.date.fromisoformat(text) if len(text) == 10 else None
        except ValueError:
            day = None
        if day is None:
            self.fail(f"{value!r} is not a day (expected YYYY-MM-DD)", param, ctx)
        return day.isoformat()


DATE = DateParam()


def check_window(date_from: str | None, date_to: str | None) -> None:
    """Refuse a window whose first day is after its last (``--from``/``--to``)."""
    if date_from and date_to and date_from > date_to:
        raise click.BadParameter(f"--from {date_from} is after --to {date_to}",
                                 param_hint="--from/--to")


@contextlib.contextmanager
def audited(store: Any, settings: Settings, action: str, *, layer: str | None = None,
            detail: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Audit a command that changes the store (ingest, build, migrate): one record when it
    ends, ``ok`` or ``failed`` (with the error). The block may add ``rows`` and more detail
    to the dict it gets."""
    from riskmap.layers.access import DataAccess

    access = DataAccess(store, user=settings.user, client="cli")
    note: dict[str, Any] = dict(detail or {})
    try:
        yield note
    except BaseException as exc:
        note["error"] = f"{type(exc).__name__}: {exc}"[:300]
        rows = note.pop("rows", None)
        with contextlib.suppress(Exception):  # a broken store must not hide the first error
            access.audit(action, layer=layer, detail=note, rows=rows, outcome="failed")
        raise
    rows = note.pop("rows", None)
    access.audit(action, layer=layer, detail=note, rows=rows)


def echo_json(data: Any) -> None:
    """Print JSON to stdout."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def safe_url(url: str) -> str:
    """The store URL for display: a database password is masked (``***``)."""
    if "://" not in url:
        return url
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy understands: show only its scheme
        return url.split("://", 1)[0] + "://..."


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text beside ``path``, then rename: a reader never sees a half-written file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
