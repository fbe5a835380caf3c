"""The riskmap web app (Dash, offline): ``create_app(settings, access)`` builds it."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # imported lazily so that ``import app.figures`` does not start Dash
    if name == "create_app":
        from app.factory import create_app

        return create_app
    raise AttributeError(f"module 'app' has no attribute {name!r}")
