"""The riskmap web app (Dash, offline): ``create_app(settings, access)`` builds it."""

from __future__ import annotations

if __name__ != "riskmap.app":  # pragma: no cover - one module, one name
    raise ImportError(f"import riskmap.app, not {__name__}: the folder app/ is installed as riskmap.app")


from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # imported lazily so that ``import app.figures`` does not start Dash
    if name == "create_app":
        from riskmap.app.factory import create_app

        return create_app
    raise AttributeError(f"module 'riskmap.app' has no attribute {name!r}")
