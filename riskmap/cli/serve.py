"""``riskmap serve``: run the web app over a store.

Servers, picked by ``--server`` (default ``auto``: the first one installed):

``gunicorn``
    Production (Linux/macOS): a master process and ``--workers`` worker processes, each with
    ``--threads`` threads, its own copy of the app and its own database connections (nothing
    is shared across a fork). The embedded store always gets one worker (its files are meant
    for one server process); PostGIS gets as many as there are CPUs by default. Workers that
    hang longer than ``--timeout`` seconds are restarted. Extra gunicorn settings come from
    ``GUNICORN_CMD_ARGS`` (e.g. ``--access-logfile - --forwarded-allow-ips 10.0.0.5``).
``waitress``
    One process with ``--threads`` threads (also on Windows).
``dash``
    Dash's development server (one process); only when neither of the above is installed.

Every server answers ``GET /healthz`` without a login: 200 ``{"status": "ok"}`` when the
store answers, 503 otherwise (container health checks and load balancers use it).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable
from typing import Any

import click
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from riskmap.cli.common import (
    CommandError,
    describe_expected,
    fail_cleanly,
    log_unexpected,
    safe_url,
    settings_from,
    store_option,
)
from riskmap.settings import Settings

__all__ = ["COMMANDS", "HEALTH_PATH", "SERVERS", "ServeOptions", "build_app", "default_workers",
           "install_health_route", "make_wsgi_app", "serve", "serve_app"]

#: the route that answers without a login, for health checks
HEALTH_PATH = "/healthz"
#: the servers ``--server`` can name; ``auto`` picks the first one installed
SERVERS = ("auto", "gunicorn", "waitress", "dash")


class ServeOptions(BaseSettings):
    """How the app is served: ``RISKMAP_APP__WORKERS``, ``__THREADS``, ``__TIMEOUT``, ``__SERVER``.

    Read like the other settings (environment, then ``.env``); the command's options win.
    """

    model_config = SettingsConfigDict(env_prefix="RISKMAP_APP__", env_file=".env",
                                      extra="ignore", hide_input_in_errors=True)

    workers: int | None = Field(None, ge=1, le=64, description="gunicorn worker processes "
                                "(default: the CPUs this process may use, at most 8)")
    threads: int = Field(8, ge=1, le=64, description="threads per worker process (8: what the "
                         "load test measured; a login waiting for its password check holds one)")
    timeout: int = Field(120, ge=10, le=3600,
                         description="seconds before a silent gunicorn worker is restarted")
    server: str = Field("auto", pattern="^(auto|gunicorn|waitress|dash)$")


def build_app(settings: Settings, *, demo: bool = False) -> object:
    """Open the settings' store and build the app over a scoped, audited DataAccess."""
    from riskmap.app.factory import create_app
    from riskmap.layers import open_store
    from riskmap.layers.access import DataAccess

    store = open_store(settings.store)
    access = DataAccess(store, user=settings.user, regions=settings.app.regions or None)
    return create_app(settings, access, demo=demo or is_synthetic(store))


def is_synthetic(store: object) -> bool:
    """True when ``riskmap demo`` built this store (it records so in ``store_meta``)."""
    meta = store.read("store_meta")  # type: ignore[attr-defined]
    if len(meta) == 0 or "key" not in meta.columns:
        return False
    flags = meta.loc[meta["key"] == "synthetic", "value"].astype(str).tolist()
    return bool(flags) and flags[0] == "true"


def install_health_route(server: Any, check: Callable[[], object]) -> None:
    """Answer :data:`HEALTH_PATH` on the Flask ``server`` before any login or page hook.

    ``check()`` raises when the app cannot serve (the store does not answer): the route then
    answers 503. The answer says nothing else (it is open to anyone who can reach the port).
    """
    from flask import Response, request

    def _health() -> Response | None:
        if request.path != HEALTH_PATH:
            return None
        try:
            check()
        except Exception:
            status, code = "unavailable", 503
        else:
            status, code = "ok", 200
        return Response(json.dumps({"status": status}) + "\n", code,
                        {"Cache-Control": "no-store"}, mimetype="application/json")

    # first of all before-request hooks: the login (app/auth.py) must not ask for a password
    server.before_request_funcs.setdefault(None, []).insert(0, _health)


def make_wsgi_app(settings: Settings, *, demo: bool = False) -> Any:
    """The Flask server of a ready app: data read, health route installed."""
    from riskmap.app.factory import EXTENSION_KEY

    dash_app = build_app(settings, demo=demo)
    server = dash_app.server  # type: ignore[attr-defined]
    model = server.extensions[EXTENSION_KEY]
    # read the data now, so a bad store fails here and the first page is fast
    model.load()
    install_health_route(server, model.access.store.version)
    if jobs_in_server():
        from riskmap.jobs import start_background_worker

        # one job-runner thread per server process (under gunicorn: per worker, after the
        # fork); `riskmap worker` runs jobs elsewhere when RISKMAP_JOBS__IN_SERVER=0
        start_background_worker(settings.store)
    return server


def jobs_in_server() -> bool:
    """Whether ``riskmap serve`` runs background jobs itself (``RISKMAP_JOBS__IN_SERVER``)."""
    return os.environ.get("RISKMAP_JOBS__IN_SERVER", "1").strip().lower() not in {
        "0", "false", "no", "off"}


def default_workers() -> int:
    """Worker processes for PostGIS: the CPUs this process may use (CPU quota included), 1-8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpus()
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, min(cpus, 8))


def _cgroup_cpus() -> int | None:
    """A container's CPU limit (cgroup v2 ``cpu.max``, or v1 CFS quota), rounded; None: none."""
    try:  # v2: "200000 100000" for 2 CPUs, "max 100000" for no limit
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as fh:
            quota, period = fh.read().split()[:2]
        return None if quota == "max" else max(1, round(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:  # v1: quota -1 for no limit
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", encoding="ascii") as fh:
            quota_us = int(fh.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us", encoding="ascii") as fh:
            period_us = int(fh.read())
        return None if quota_us <= 0 else max(1, round(quota_us / period_us))
    except (OSError, ValueError, ZeroDivisionError):
        return None


def _pick_server(wanted: str) -> str:
    """The server to run: ``wanted``, or for ``auto`` the first one installed."""
    import importlib.util

    def installed(name: str) -> bool:
        return importlib.util.find_spec(name) is not None

    usable = {"gunicorn": os.name == "posix" and installed("gunicorn"),
              "waitress": installed("waitress"), "dash": True}
    if wanted == "auto":
        return next(name for name in ("gunicorn", "waitress", "dash") if usable[name])
    if not usable[wanted]:
        raise CommandError(f"--server {wanted}: {wanted} is not installed here "
                           "(pip install it, or use --server auto)")
    return wanted


def serve_app(settings: Settings, *, demo: bool = False, server: str | None = None,
              workers: int | None = None, threads: int | None = None,
              timeout: int | None = None) -> None:
    """Serve the app on ``settings.app.host:port`` until interrupted (debug off).

    Arguments left ``None`` come from :class:`ServeOptions` (``RISKMAP_APP__*``).
    """
    try:
        opts = ServeOptions()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise CommandError(f"invalid settings: {_describe(exc)}") from None
    chosen = _pick_server(server or opts.server)
    _warn_without_users(settings)
    threads = threads or opts.threads
    host, port = settings.app.host, settings.app.port
    where = (f"riskmap: serving {safe_url(settings.store)} on http://{_url_host(host)}:{port}/ "
             f"({_login_note(settings)}")
    if chosen == "gunicorn":
        embedded = "://" not in settings.store
        n = 1 if embedded else (workers or opts.workers or default_workers())
        if embedded and (workers or opts.workers or 1) > 1:
            click.echo("riskmap: the embedded store is served by one worker process "
                       "(use a PostGIS store for more)")
        _serve_gunicorn(settings, demo=demo, workers=n, threads=threads,
                        timeout=timeout or opts.timeout, banner=where)
        return
    app = make_wsgi_app(settings, demo=demo)
    how = f"waitress, {threads} threads" if chosen == "waitress" else "Dash's development server"
    click.echo(f"{where}; {how}; Ctrl+C to stop)")
    if chosen == "waitress":
        from waitress import serve as waitress_serve

        waitress_serve(app, host=host, port=port, threads=threads)
    else:
        app.run(host=host, port=port, debug=False, threaded=True)


def _describe(exc: ValidationError) -> str:
    """One line naming each invalid ``RISKMAP_APP__*`` serving setting (never its value)."""
    return "; ".join(
        f"RISKMAP_APP__{'__'.join(map(str, e['loc'])).upper()}: "
        f"{str(e['msg']).removeprefix('Value error, ')}"
        for e in exc.errors(include_input=False, include_url=False))


def _login_note(settings: Settings) -> str:
    """How the app asks for a login, for the banner."""
    if settings.app.auth == "none":
        return "no login: every request acts as a local admin"
    return "login required" + (", directory logins on" if settings.app.ldap.url else "")


def _warn_without_users(settings: Settings) -> None:
    """Say so when nobody could log in (no enabled user and no directory)."""
    if settings.app.auth == "none" or settings.app.ldap.url:
        return
    from riskmap.layers import open_store

    with open_store(settings.store) as store:
        users = store.read("users", columns=["disabled"])
    if not (~users["disabled"].fillna(False).astype(bool)).any():
        click.echo("riskmap: no user can log in yet: make one with "
                   "`riskmap users add NAME --role admin` (or serve with "
                   "RISKMAP_APP__AUTH=none on 127.0.0.1)", err=True)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _serve_gunicorn(settings: Settings, *, demo: bool, workers: int, threads: int,
                    timeout: int, banner: str) -> None:
    """Run gunicorn: the master checks the store once, each worker builds its own app."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.errors import AppImportError

    from riskmap.layers import open_store

    # the master opens the store once (PostGIS: creates or migrates the schema) and closes it
    # again before forking: workers open their own connections
    with open_store(settings.store) as store:
        store.version()
        demo = demo or is_synthetic(store)

    def load() -> Any:  # in each worker, after the fork
        try:
            return make_wsgi_app(settings, demo=demo)
        except Exception as exc:
            message = describe_expected(exc)
            if message is None:
                where = log_unexpected(exc)
                message = (f"unexpected error ({type(exc).__name__}: {exc}); "
                           f"the traceback is in {where}")
            raise AppImportError(f"riskmap: the app cannot start: {message}") from None

    options: dict[str, Any] = {
        "bind": [f"{_url_host(settings.app.host)}:{settings.app.port}"],
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": 30,
        # longer than a user's pause between clicks and than a proxy's idle timeout (60 s is
        # common): a server that closes an idle connection just as the client reuses it
        # resets a request in flight (seen in the load test with 5 s: 0-2 errors per run)
        "keepalive": 65,
        "preload_app": False,
        "proc_name": "riskmap",
        "errorlog": "-",
        "accesslog": None,  # reads are audited in the store; GUNICORN_CMD_ARGS turns this on
        "control_socket_disable": True,  # gunicorn >= 25: no ~/.gunicorn/gunicorn.ctl
    }
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        options["worker_tmp_dir"] = "/dev/shm"  # heartbeats off a container's overlay disk

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings:  # older gunicorn lacks some settings
                    self.cfg.set(key, value)
            extra = shlex.split(os.environ.get("GUNICORN_CMD_ARGS", ""))
            if extra:
                parsed = self.cfg.parser().parse_args(extra)
                for key, value in vars(parsed).items():
                    if value is not None and key != "args":
                        self.cfg.set(key.lower(), value)

        def load(self) -> Any:
            return load()

    click.echo(f"{banner}; gunicorn, {workers} worker{'s' if workers > 1 else ''} x "
               f"{threads} threads; Ctrl+C to stop)")
    sys.stdout.flush()
    master = os.getpid()
    try:
        _Gunicorn().run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        if os.getpid() != master or code == 0:
            raise  # a worker process ending, or a clean stop
        raise CommandError(f"the server stopped (gunicorn exit {code}; its log is above)",
                           2) from None


@click.command()
@store_option
@click.option("--host", default=None, metavar="HOST",
              help="Interface to listen on (default 127.0.0.1; any other needs logins, "
                   "RISKMAP_APP__AUTH=accounts, the default). Env: RISKMAP_APP__HOST.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port (default 8050). Env: RISKMAP_APP__PORT.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="gunicorn worker processes (default: the CPUs available, at most 8; "
                   "always 1 on the embedded store). Env: RISKMAP_APP__WORKERS.")
@click.option("--threads", type=click.IntRange(1, 64), default=None,
              help="Threads per worker (default 8). Env: RISKMAP_APP__THREADS.")
@click.option("--timeout", type=click.IntRange(10, 3600), default=None,
              help="Seconds before a hung gunicorn worker is restarted (default 120). "
                   "Env: RISKMAP_APP__TIMEOUT.")
@click.option("--server", type=click.Choice(SERVERS), default=None,
              help="gunicorn (production, Linux), waitress, or dash (development); default "
                   "auto: the first installed. Env: RISKMAP_APP__SERVER.")
@click.option("--demo", is_flag=True, default=False,
              help="Mark the data as a synthetic demo (a badge on every page).")
@fail_cleanly
def serve(store_url: str | None, host: str | None, port: int | None, workers: int | None,
          threads: int | None, timeout: int | None, server: str | None, demo: bool) -> None:
    """Serve the web app (maps of incidents by mahalla and H3 cell) over a store.

    Reads go through the data-access layer: they are scoped and audited. The app works
    offline. GET /healthz answers without a login (200 when the store answers, else 503).
    Production: gunicorn with --workers processes of --threads threads (PostGIS; the
    embedded store gets one process).
    """
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_from(store_url, app=overrides or None)  # ConfigError: one line
    serve_app(settings, demo=demo, server=server, workers=workers, threads=threads,
              timeout=timeout)


COMMANDS = [serve]
