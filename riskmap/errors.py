"""The project's exception hierarchy: each class subclasses a built-in so callers may catch either."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "InputFileError",
    "MissingColumnError",
    "RiskmapError",
    "SchemaError",
    "StoreError",
]


class RiskmapError(Exception):
    """Base class of every error riskmap raises on purpose."""


class ConfigError(RiskmapError, ValueError):
    """A setting or option is invalid."""


class InputFileError(RiskmapError, ValueError):
    """An input file cannot be read; the message names the file (and row/column when known)."""

    def __init__(self, path: object, message: str, *, row: int | None = None,
                 column: str | None = None) -> None:
        where = str(path)
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.row = row
        self.column = column


class MissingColumnError(InputFileError):
    """A required column is absent from an input file."""

    def __init__(self, path: object, column: str, available: list[str]) -> None:
        super().__init__(
            path,
            f"required column {column!r} is missing (found: {', '.join(map(str, available)) or 'none'};"
            f" rename a column with --map SOURCE={column})",
            column=column,
        )


class SchemaError(RiskmapError, ValueError):
    """A frame does not match its layer's schema (column, dtype, geometry type or CRS)."""


class StoreError(RiskmapError, RuntimeError):
    """The store cannot complete an operation; nothing was changed."""
