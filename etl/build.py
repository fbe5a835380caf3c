"""``riskmap build``: compute the derived layers (hotspots, coverage, zones) from the store.

Each feature contributes a build step: a module named in :data:`STEPS` with a function
``build(store, settings, *, progress: bool) -> dict`` that reads the base layers, calls pure
``geo/`` functions, and writes its derived layers in one transaction. Steps run independently:
one that fails is recorded with its exception and the others still run (a failed step's
transaction left its layers as they were).

Steps that need no result of each other run side by side (``etl.build_threads`` threads, 2 by
default): the hot spots beside the camera coverage and, once the coverage is written, the
zones; the roadmaps once the hot spots' status is written (:data:`NEEDS`). Most of each step's
time is spent in NumPy, Shapely, Arrow and the database, which let the other thread run. The
store serialises the writes (the embedded store's write lock, PostGIS's transactions), and each
step writes only its own layers and its own row of the build state.
"""

from __future__ import annotations

import importlib
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["NEEDS", "STEPS", "BuildResult", "build_all"]

#: build steps, in order (a step comes after every step it needs)
STEPS: tuple[str, ...] = ("riskmap.etl.derive_hotspots", "riskmap.etl.derive_coverage",
                         "riskmap.etl.derive_zones", "riskmap.etl.derive_roadmaps")

#: the steps whose written layers a step reads: it starts once they have finished (it still
#: runs when one of them failed, on what the store holds, as when it runs alone)
NEEDS: dict[str, tuple[str, ...]] = {
    "hotspots": (),
    "coverage": (),
    "zones": ("coverage",),  # the camera polygons and the coverage step's state
    "roadmaps": ("hotspots",),  # the mahalla status
}


def step_names() -> list[str]:
    """The short names of the steps (``hotspots``, ``coverage``, ``zones``)."""
    return [name.rsplit(".", 1)[-1].removeprefix("derive_") for name in STEPS]


@dataclass
class BuildResult:
    """What a build did: a summary per step that ran, and the exception of each that failed."""

    summary: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when every step that ran succeeded."""
        return not self.failures


def build_threads(settings: Any) -> int:
    """How many steps may run at once (``etl.build_threads``; 1 when the settings have none)."""
    return max(1, int(getattr(getattr(settings, "etl", None), "build_threads", 1) or 1))


def build_all(store: Any, settings: Any, *, progress: bool = False,
              only: tuple[str, ...] | None = None, full: bool = False,
              client: Any = None) -> BuildResult:
    """Run the build steps, each on its own; a failure is recorded and the other steps run.

    The steps recompute only what the writes since the last build touched (see
    :mod:`etl.incremental`); ``full`` recomputes everything. When every step of a build of all
    steps succeeded, the marks it read are deleted (a load meanwhile leaves its own).

    Steps that do not need each other run side by side on ``etl.build_threads`` threads
    (:data:`NEEDS`); the summary lists the steps in :data:`STEPS` order either way.

    ``client``: a Dask client (:func:`etl.scaleout.cluster`) on whose workers the hotspot
    step counts incidents month by month; the results are the same.
    """
    from riskmap.etl import incremental

    touched = incremental.read_touched(store)
    chosen = [(name, short) for name, short in zip(STEPS, step_names(), strict=True)
              if not only or short in only]
    outcomes: dict[str, tuple[dict[str, Any], Exception | None]] = {}
    done: dict[str, threading.Event] = {short: threading.Event() for _, short in chosen}

    def run(name: str, short: str) -> None:
        for need in NEEDS.get(short, ()):
            if need in done:
                done[need].wait()
        try:
            outcomes[short] = _run_step(name, short, store, settings, touched, full=full,
                                        progress=progress, client=client)
        finally:
            done[short].set()

    threads = min(build_threads(settings), len(chosen)) if chosen else 1
    if threads == 1:
        for name, short in chosen:
            run(name, short)
    else:
        # steps are queued in STEPS order, so a step waits only on steps already started:
        # every thread waiting on a step that is queued behind it cannot happen
        with ThreadPoolExecutor(threads, thread_name_prefix="riskmap-build") as pool:
            futures: list[Future[None]] = [pool.submit(run, name, short)
                                           for name, short in chosen]
            for future in futures:
                future.result()
    result = BuildResult()
    for _, short in chosen:
        summary, failure = outcomes[short]
        result.summary[short] = summary
        if failure is not None:
            result.failures[short] = failure
    if result.ok and not only:
        incremental.consume(store, touched)
    return result


def _run_step(name: str, short: str, store: Any, settings: Any, touched: Any, *, full: bool,
              progress: bool, client: Any) -> tuple[dict[str, Any], Exception | None]:
    """One step: its summary (``ok``, its figures, ``seconds``) and its exception, if any."""
    from riskmap.etl import incremental
    from riskmap.memory import give_back

    t0 = time.perf_counter()
    failure: Exception | None = None
    try:
        if short == "hotspots":
            summary = incremental.build_hotspots(store, settings, touched, full=full,
                                                 progress=progress, client=client)
        elif short == "coverage":
            summary = incremental.build_coverage(store, settings, touched, full=full,
                                                 progress=progress)
        elif short == "zones":
            summary = incremental.build_zones(store, settings, touched, full=full,
                                              progress=progress)
        else:
            summary = importlib.import_module(name).build(store, settings,
                                                          progress=progress) or {}
        out = {"ok": True, **summary}
    except Exception as exc:  # recorded; the caller reports it and sets the exit code
        failure = exc
        out = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
    out["seconds"] = round(time.perf_counter() - t0, 2)
    give_back()  # the step beside it, or the next one, starts without this one's freed memory
    return out, failure
