"""The Dash app factory: ``create_app(settings, access)`` builds one offline, audited riskmap app.

How to add a page
-----------------
A page is two modules with the same name, found by this factory (no list to edit):

``app/pages/<name>.py``
    ``register(app, model)`` calls ``dash.register_page(__name__, path=..., name=...,
    order=..., layout=layout)``; ``layout(**query) -> Component`` builds the page from the
    URL query parameters and reads data only through :func:`current_model`. Put component
    ids in ``app/ids.py`` (a ``PageIds`` subclass per page) and shared layout pieces in
    ``app/components.py``. ``layout()`` must also work with no arguments (Dash calls it so to
    validate callbacks).
``app/callbacks/<name>.py``
    ``register(app, model)`` attaches thin ``@app.callback`` functions (closures over
    ``model``) that parse inputs, ask the model or ``geo/``, and return figures built by
    ``app/figures.py``. The callback that draws a page's main view calls
    ``model.audit_view(page, params)`` (see ``app/viewaudit.py``); shared wiring (district
    dropdown, address-bar writer) is in ``app/callbacks/common.py``. Use
    ``app.callback``/``app.clientside_callback``, never the global ``dash.callback``: that
    one is consumed by the first app created in a process, and tests create several.

Pages are Dash Pages (``use_pages=True``, ``pages_folder=""``): the page registry is global
to the process, so each module registers the same page for every app, and per-app state (the
model) lives in ``server.extensions`` where :func:`current_model` finds it during a request.

Offline: ``serve_locally=True``, no external stylesheets or scripts; CSS lives in
``app/assets/``. Auth: HTTP basic auth when ``settings.app.password`` is set.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import dash
import flask
from dash import dcc, html

from riskmap import __version__
from riskmap.app import ids
from riskmap.app.auth import install_basic_auth
from riskmap.app.data import AppModel
from riskmap.layers.access import DataAccess
from riskmap.settings import Settings

__all__ = ["ASSETS", "EXTENSION_KEY", "create_app", "current_model", "page_modules"]

ASSETS = Path(__file__).with_name("assets")
#: key of the :class:`AppModel` in ``flask_app.extensions``
EXTENSION_KEY = "riskmap_model"


def create_app(settings: Settings, access: DataAccess, *, demo: bool = False,
               model: AppModel | None = None) -> dash.Dash:
    """Build the Dash app over ``access`` (every read scoped and audited).

    Parameters
    ----------
    settings
        Root settings (app section: password, username; etl.timezone for calendar days).
    access
        The data-access layer the app reads through.
    demo
        The store holds synthetic demo data: every page shows a "Synthetic demo data" badge.
    model
        A prepared model (default: a new :class:`AppModel` that loads at the first request).

    Returns
    -------
    dash.Dash
        The app; its Flask server is ``app.server``.
    """
    model = model or AppModel(access, demo=demo, timezone=settings.etl.timezone)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        serve_locally=True,
        external_stylesheets=[],
        external_scripts=[],
        title="riskmap",
        update_title=None,
        suppress_callback_exceptions=False,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.server.extensions[EXTENSION_KEY] = model
    install_basic_auth(app.server, settings.app.username, settings.app.password)
    for module in page_modules("pages"):
        module.register(app, model)
    for module in page_modules("callbacks"):
        module.register(app, model)
    app.layout = _frame(model, demo=demo or model.demo)
    return app


def current_model() -> AppModel:
    """The :class:`AppModel` of the app serving the current request."""
    return flask.current_app.extensions[EXTENSION_KEY]


def page_modules(kind: str) -> list[ModuleType]:
    """The modules of ``app.pages`` or ``app.callbacks`` that define ``register``, by name."""
    package = importlib.import_module(f"riskmap.app.{kind}")
    out = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"riskmap.app.{kind}.{info.name}")
        if callable(getattr(module, "register", None)):
            out.append(module)
    return out


def _frame(model: AppModel, *, demo: bool) -> html.Div:
    """Header (title, page links, demo badge, scope) above the page container."""
    pages = sorted(dash.page_registry.values(), key=lambda p: (p.get("order") or 0, p["name"]))
    links = [dcc.Link(p["name"], href=p["relative_path"], className="nav-link") for p in pages]
    badge = (html.Span("Synthetic demo data", id=ids.DEMO_BADGE, className="badge-demo",
                       title="The data on this site is generated, not real incidents.")
             if demo else None)
    return html.Div([
        html.Header([
            html.Span([html.B("riskmap"), html.Small(f" {__version__}")], className="brand"),
            html.Nav(links, id=ids.NAV, className="nav"),
            badge,
            html.Span(f"Scope: {model.access.scope}", id=ids.SCOPE, className="scope"),
        ], id=ids.HEADER, className="app-header"),
        html.Main(dash.page_container, id=ids.MAIN, className="app-main"),
    ], className="app-root")
