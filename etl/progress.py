"""Progress display as one switch: the same code path whether a bar shows or not."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tqdm import tqdm

__all__ = ["NullBar", "progress_bar"]


class NullBar:
    """A progress bar that shows nothing (``enabled=False``)."""

    total: int | None = None

    def update(self, n: int = 1) -> None:
        """Ignore progress."""

    def set_postfix_str(self, text: str) -> None:
        """Ignore status text."""


@contextmanager
def progress_bar(*, desc: str, unit: str = "rows", total: int | None = None,
                 enabled: bool = True) -> Iterator[Any]:
    """Yield a tqdm bar on stderr when ``enabled``, else a :class:`NullBar`."""
    if not enabled:
        yield NullBar()
        return
    bar = tqdm(desc=desc, unit=unit, total=total, file=sys.stderr, unit_scale=True,
               dynamic_ncols=True, leave=False)
    try:
        yield bar
    finally:
        bar.close()
