"""Freed memory given back to the operating system between the big steps of one process.

A load of a million incidents frees about a gigabyte when it ends, but Arrow's memory pool
(mimalloc or jemalloc) and glibc's heap keep most of it mapped for later allocations: a
``riskmap demo`` that then builds held 1.3 GiB of memory it no longer used under the build's
own (0.3 GiB after :func:`give_back`). The build steps, which run side by side, are each
followed by it too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

__all__ = ["give_back"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError, TypeError):
        return None


def give_back() -> None:
    """Return the memory Arrow's pool and the C heap hold unused to the operating system.

    Safe while other threads allocate (both allocators lock what they trim); it costs a few
    milliseconds to a few tens of them, so call it after a step, not inside a loop.
    """
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
