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
``app/assets/``. Logins: every request needs a session of a user of the store
(:mod:`riskmap.app.auth`); pages and callbacks read through :func:`~riskmap.app.auth.
current_access`, the logged-in user's scoped, audited data access. Hardening (headers, bounded
requests, checked callback payloads, no stack traces): :mod:`riskmap.app.security`.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
import flask
from dash import dcc, html
from werkzeug.middleware.proxy_fix import ProxyFix

from riskmap import __version__
from riskmap.app import ids
from riskmap.app.api import install_api
from riskmap.app.auth import current_access, current_principal, install_auth
from riskmap.app.data import NO_REGION, AppModel, ModelRegistry
from riskmap.app.language import DATEFNS_PATH, install_language, language_switch, request_language
from riskmap.app.map_tiles import install_map_tiles
from riskmap.app.security import bad_input_guard, install_security
from riskmap.i18n import gettext as _
from riskmap.i18n import translate
from riskmap.layers.access import DataAccess
from riskmap.settings import Settings

__all__ = ["ASSETS", "EXTENSION_KEY", "RequestModel", "create_app", "current_model",
           "page_modules"]

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
    access = _within_app_limit(access, settings.app.regions)
    registry = ModelRegistry(access, demo=demo, timezone=settings.etl.timezone, root=model,
                             refresh_s=settings.app.refresh_seconds)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=str(ASSETS),
        serve_locally=True,
        external_stylesheets=[],
        external_scripts=[DATEFNS_PATH],  # the app's own (date pickers' month names)
        title="riskmap",
        update_title=None,
        # no "validation layout": Dash would build it once, from every page's layout as the
        # user of the first request sees it, and send it to every user (their regions'
        # names in another commander's browser); callbacks are checked on the server instead
        # (app/security.py) and by the page tests
        suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.server.extensions[EXTENSION_KEY] = registry
    _serialise_setup(app)
    if settings.app.trusted_proxies:
        # behind N proxies the client is the address the last of them saw (the audit log's
        # client and login throttling are per person, not per proxy); a header sent by the
        # client itself is never believed beyond those N hops
        n = settings.app.trusted_proxies
        app.server.wsgi_app = ProxyFix(app.server.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    install_security(app, max_request_bytes=settings.app.max_request_bytes)
    install_auth(app.server, access.store, mode=settings.app.auth,
                 directory=_directory(settings), session_policy=_session_policy(settings),
                 access_for=registry.access_for, local_user=access.user)
    install_language(app, access.store if settings.app.auth != "none" else None)
    install_api(app.server, settings, registry.access_for)
    install_map_tiles(app.server, settings)
    request_model = RequestModel(registry)
    for module in page_modules("pages"):
        module.register(app, request_model)
        _guard_page(module)
    for module in page_modules("callbacks"):
        module.register(_GuardedApp(app, f"page:{module.__name__.rsplit('.', 1)[-1]}"),
                        request_model)
    shown_demo = demo or (model.demo if model is not None else False)
    app.layout = lambda: _frame(shown_demo)  # per request: the user's pages and scope
    return app


def _serialise_setup(app: dash.Dash) -> None:
    """Make the requests that arrive while Dash sets itself up wait until it has finished.

    Dash sets itself up on the first request of each server process (``_setup_server``, a
    ``before_request`` hook) and raises its "done" flag *before* the work: under gunicorn's
    threads, the other requests of a worker's first page load (the page's scripts) find the
    flag raised and the registry of script paths still empty, and get a 500 ("dash is not a
    registered library"). The page then stays blank until reloaded. It happened on the first
    load of a freshly started server (plotly/dash#3971). Here the first request does the setup
    under a lock, and the others wait for it.
    """
    hooks = app.server.before_request_funcs.setdefault(None, [])
    original = app._setup_server
    if original not in hooks:  # a Dash that no longer sets up this way: nothing to guard
        return
    lock = threading.Lock()
    done = threading.Event()

    def setup_once() -> None:
        if done.is_set():
            return
        with lock:
            if not done.is_set():
                try:
                    original()
                finally:  # as Dash's own flag: set up once, even when that raised
                    done.set()

    hooks[hooks.index(original)] = setup_once


def _within_app_limit(access: DataAccess, regions: list[str]) -> DataAccess:
    """``access`` narrowed to the app's own regions limit (``RISKMAP_APP__REGIONS``): no user
    of this app, an admin of every region included, reads outside it."""
    if not regions:
        return access
    wanted = set(regions) if access.regions is None else set(regions) & set(access.regions)
    return DataAccess(access.store, user=access.user, regions=sorted(wanted) or [NO_REGION],
                      districts=access.districts, client=access.client,
                      audit=access.audit_enabled)


class RequestModel:
    """Stands for the :class:`AppModel` of the logged-in user's scope, resolved per request.

    Pages and callbacks are registered once per app with this object; every attribute they
    use is looked up on the model of the request's scope (see :class:`ModelRegistry`).
    ``access`` is the user's own scoped, audited data access, and views are audited as theirs.
    """

    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry

    def resolve(self) -> AppModel:
        """The model of the current request's scope."""
        return self._registry.for_principal(current_principal())

    @property
    def access(self) -> DataAccess:
        """The logged-in user's data access."""
        return current_access()

    def audit_view(self, page: str, params: dict[str, Any] | None = None) -> bool:
        """Audit that the logged-in user opened a view."""
        return self.resolve().audit_view(page, params, access=current_access())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.resolve(), name)


class _GuardedApp:
    """The Dash app as a callbacks module sees it: every server callback it registers first
    checks that the logged-in user may use the page (``page:<name>``), else 403."""

    def __init__(self, app: dash.Dash, permission: str) -> None:
        self._app = app
        self._permission = permission

    def callback(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        register = self._app.callback(*args, **kwargs)
        permission = self._permission

        def decorate(func: Callable[..., Any]) -> Any:
            checked = bad_input_guard(func, f"{permission}:{func.__name__}")

            @functools.wraps(func)
            def guarded(*a: Any, **k: Any) -> Any:
                if not current_principal().can(permission):
                    raise PermissionError(f"{current_principal().username!r} may not use "
                                          f"{permission}")
                return checked(*a, **k)
            return register(guarded)
        return decorate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)


def _page_name(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def _guard_page(module: ModuleType) -> None:
    """The page's layout refuses users whose role does not include ``page:<name>``."""
    entry = dash.page_registry.get(module.__name__)
    if entry is None or getattr(entry["layout"], "_riskmap_guarded", False):
        return
    layout, permission = entry["layout"], f"page:{_page_name(module)}"

    def guarded(**query: Any) -> Any:
        # no user: Dash building its validation layout at the first request (which may be
        # the login page's own stylesheet); the page's data is read for users only
        principal = flask.g.get("riskmap_principal") if flask.has_request_context() else None
        if principal is None or not principal.can(permission):
            return html.Div([html.H2(_("Not available")),
                             html.P(_("Your role does not include this page."))],
                            className="page-denied", id=ids.DENIED)
        return layout(**query)
    guarded._riskmap_guarded = True  # type: ignore[attr-defined]
    entry["layout"] = guarded


def _session_policy(settings: Settings) -> object:
    from datetime import timedelta

    from riskmap.auth.accounts import SessionPolicy

    return SessionPolicy(idle=timedelta(minutes=settings.app.session_idle_minutes),
                         lifetime=timedelta(hours=settings.app.session_hours))


def _directory(settings: Settings) -> object | None:
    """The LDAP directory when one is configured (``RISKMAP_APP__LDAP__URL``)."""
    if not settings.app.ldap.url:
        return None
    from riskmap.auth.ldap import Directory

    return Directory(settings.app.ldap)


def current_model() -> AppModel:
    """The :class:`AppModel` of the current request's logged-in user (their scope)."""
    return flask.current_app.extensions[EXTENSION_KEY].for_principal(current_principal())


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


def _frame(demo: bool) -> html.Div:
    """Header (title, the pages of the user's role, demo badge, user and scope) above the page.

    Built per request (Dash calls ``app.layout`` for each page load); outside a request (when
    Dash validates the layout) it shows every page.
    """
    principal = flask.g.get("riskmap_principal") if flask.has_request_context() else None
    pages = sorted(dash.page_registry.values(), key=lambda p: (p.get("order") or 0, p["name"]))
    pages = [p for p in pages if principal is None
             or principal.can(f"page:{p['module'].rsplit('.', 1)[-1]}")]
    lang = request_language() or "en"
    links = [dcc.Link(translate(p["name"]), href=p["relative_path"] + f"?lang={lang}",
                      className="nav-link") for p in pages]
    badge = (html.Span(_("Synthetic demo data"), id=ids.DEMO_BADGE, className="badge-demo",
                       title=_("The data on this site is generated, not real incidents."))
             if demo else None)
    who = (f"{principal.username} · {principal.role} · {principal.scope_text}"
           if principal is not None else "")
    logout = html.Form(html.Button(_("Log out"), type="submit", className="logout-button"),
                       action=f"/logout?lang={lang}", method="post", id=ids.LOGOUT,
                       className="logout")
    return html.Div([
        html.Header([
            html.Span([html.B("riskmap"), html.Small(f" {__version__}")], className="brand"),
            html.Nav(links, id=ids.NAV, className="nav"),
            badge,
            html.Span(who, id=ids.SCOPE, className="scope"),
            language_switch(lang),
            logout,
        ], id=ids.HEADER, className="app-header"),
        html.Main(dash.page_container, id=ids.MAIN, className="app-main"),
    ], className="app-root")
