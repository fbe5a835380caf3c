"""``riskmap serve``: run the web app over a store (waitress when installed, else Dash's server)."""

from __future__ import annotations

import click

from riskmap.cli.common import fail_cleanly, safe_url, settings_from, store_option
from riskmap.settings import Settings

__all__ = ["COMMANDS", "build_app", "serve", "serve_app"]


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


def serve_app(settings: Settings, *, demo: bool = False) -> None:
    """Serve the app on ``settings.app.host:port`` until interrupted (debug off)."""
    from riskmap.app.factory import EXTENSION_KEY

    dash_app = build_app(settings, demo=demo)
    # read the data now, so a bad store fails here and the first page is fast
    dash_app.server.extensions[EXTENSION_KEY].load()  # type: ignore[attr-defined]
    host, port = settings.app.host, settings.app.port
    click.echo(f"riskmap: serving {safe_url(settings.store)} on http://{host}:{port}/ "
               f"({'password required' if settings.app.password else 'no password'}; "
               "Ctrl+C to stop)")
    try:
        from waitress import serve as waitress_serve
    except ModuleNotFoundError:
        dash_app.run(host=host, port=port, debug=False)  # type: ignore[attr-defined]
    else:
        waitress_serve(dash_app.server, host=host, port=port)  # type: ignore[attr-defined]


@click.command()
@store_option
@click.option("--host", default=None, metavar="HOST",
              help="Interface to listen on (default 127.0.0.1; any other needs "
                   "RISKMAP_APP__PASSWORD). Env: RISKMAP_APP__HOST.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port (default 8050). Env: RISKMAP_APP__PORT.")
@click.option("--demo", is_flag=True, default=False,
              help="Mark the data as a synthetic demo (a badge on every page).")
@fail_cleanly
def serve(store_url: str | None, host: str | None, port: int | None, demo: bool) -> None:
    """Serve the web app (maps of incidents by mahalla and H3 cell) over a store.

    Reads go through the data-access layer: they are limited to RISKMAP_APP__REGIONS when
    set, and audited. Set RISKMAP_APP__PASSWORD to require HTTP basic auth (user
    RISKMAP_APP__USERNAME, default "analyst"). The app works offline.
    """
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_from(store_url, app=overrides or None)  # ConfigError: one line
    serve_app(settings, demo=demo)


COMMANDS = [serve]
