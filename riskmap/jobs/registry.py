"""The kinds of job a worker can run, each with its memory and time limits.

A kind is registered by name with the function that does the work::

    register_kind("plan_cameras", plan_cameras_job, memory_mb=2048, timeout_s=600)

``func(params, progress)`` runs in a child process: ``params`` is the JSON object given to
:func:`riskmap.jobs.submit`, ``progress(fraction, message)`` reports how far it got (and raises
:class:`~riskmap.jobs.errors.Cancelled` once the job was cancelled; it also carries the job's
store and the owner's scoped :class:`~riskmap.layers.access.DataAccess`, see
:class:`riskmap.jobs.child.JobContext`). It returns a JSON-able result.

The child imports the function by its module and name, so it must be a module-level function
of an importable module (not a lambda or a closure).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["JobKind", "get_kind", "kind_names", "register_kind"]

_KINDS: dict[str, JobKind] = {}
_BUILTINS_LOADED = [False]


@dataclass(frozen=True)
class JobKind:
    """A kind of job and its limits.

    Attributes
    ----------
    name
        What the job does (``plan_cameras``).
    func
        ``func(params, progress) -> JSON-able``.
    memory_mb
        Address-space limit of the child process (``RLIMIT_AS``), in MiB.
    timeout_s
        Wall-clock limit, enforced by the worker (the child is killed).
    cpu_s
        CPU-time limit of the child (``RLIMIT_CPU``), a backstop for the wall clock.
    advice
        What the user can do when the job is too big (ends the memory and time messages).
    """

    name: str
    func: Callable[..., Any]
    memory_mb: int
    timeout_s: float
    cpu_s: int
    advice: str = "narrow the request"

    @property
    def target(self) -> str:
        """``module:qualname`` of :attr:`func`, by which the child imports it."""
        return f"{self.func.__module__}:{self.func.__qualname__}"


def register_kind(name: str, func: Callable[..., Any], *, memory_mb: int, timeout_s: float,
                  cpu_s: int | None = None, advice: str = "narrow the request",
                  replace: bool = False) -> JobKind:
    """Register a kind of job.

    Parameters
    ----------
    name
        The kind's name, as given to :func:`riskmap.jobs.submit`.
    func
        A module-level function ``func(params, progress)`` returning a JSON-able result.
    memory_mb
        Memory (address space) the child may use, in MiB; at least 256.
    timeout_s
        Seconds of wall-clock time before the worker kills the child.
    cpu_s
        CPU seconds before the kernel stops the child (default: twice ``timeout_s`` plus 30).
    advice
        Ends the messages of a job that ran out of memory or time ("narrow the area or lower
        the budget").
    replace
        Replace a kind already registered under ``name`` (keyword-only).

    Raises
    ------
    ValueError
        A bad limit, a function the child cannot import, or a name already taken.
    """
    if memory_mb < 256:
        raise ValueError(f"job kind {name!r}: memory_mb={memory_mb}: expected at least 256")
    if timeout_s <= 0:
        raise ValueError(f"job kind {name!r}: timeout_s={timeout_s}: expected > 0")
    if "<" in func.__qualname__ or "." in func.__qualname__:
        raise ValueError(f"job kind {name!r}: {func.__qualname__} is not a module-level "
                         "function (the worker's child process imports it by name)")
    if func.__module__ == "__main__":
        raise ValueError(f"job kind {name!r}: {func.__qualname__} is defined in __main__; "
                         "the worker's child process imports it by name from a module")
    if name in _KINDS and not replace and _KINDS[name].func is not func:
        raise ValueError(f"job kind {name!r} is already registered")
    kind = JobKind(name=name, func=func, memory_mb=int(memory_mb), timeout_s=float(timeout_s),
                   cpu_s=int(cpu_s if cpu_s is not None else 2 * timeout_s + 30), advice=advice)
    _KINDS[name] = kind
    return kind


def _load_builtins() -> None:
    if not _BUILTINS_LOADED[0]:
        _BUILTINS_LOADED[0] = True
        importlib.import_module("riskmap.jobs.kinds")


def get_kind(name: str) -> JobKind:
    """The registered kind ``name``.

    Raises
    ------
    KeyError
        No such kind (the message lists the kinds there are).
    """
    _load_builtins()
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"unknown job kind {name!r}; registered: "
                       f"{', '.join(sorted(_KINDS)) or 'none'}") from None


def kind_names() -> list[str]:
    """Names of the registered kinds."""
    _load_builtins()
    return sorted(_KINDS)


def import_target(target: str) -> Callable[..., Any]:
    """The function named by :attr:`JobKind.target` (used in the child)."""
    module, _, name = target.partition(":")
    func = getattr(importlib.import_module(module), name)
    if not callable(func):
        raise TypeError(f"{target} is not callable")
    return func  # type: ignore[no-any-return]
