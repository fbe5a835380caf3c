"""Options and helpers shared by the command modules."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import click

from riskmap.errors import RiskmapError
from riskmap.settings import Settings, load_settings

__all__ = ["echo_json", "fail_cleanly", "open_from", "safe_url", "settings_from", "store_option",
           "write_text_atomic"]


def store_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--store``: a directory (embedded) or a postgresql+psycopg:// URL; env RISKMAP_STORE."""
    return click.option(
        "--store", "store_url", default=None, metavar="PATH|URL",
        help="Store: a directory (embedded GeoParquet, default ./riskmap-data) or a "
             "postgresql+psycopg:// URL (PostGIS). Env: RISKMAP_STORE.")(func)


def settings_from(store_url: str | None, **overrides: Any) -> Settings:
    """Settings from the environment with the CLI's overrides on top."""
    return load_settings(store=store_url, **overrides)


def open_from(settings: Settings) -> Any:
    """Open the settings' store."""
    from riskmap.layers import open_store

    return open_store(settings.store)


def fail_cleanly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn riskmap's own errors into a one-line message and exit code 1 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (RiskmapError, PermissionError, FileNotFoundError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


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
    from pathlib import Path

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
