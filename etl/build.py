"""``riskmap build``: compute the derived layers (hotspots, coverage, zones) from the store.

Each feature contributes a build step: a module named in :data:`STEPS` with a function
``build(store, settings, *, progress: bool) -> dict`` that reads the base layers, calls pure
``geo/`` functions, and writes its derived layers in one transaction. Steps run independently:
one that fails is recorded with its exception and the others still run (a failed step's
transaction left its layers as they were).
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["STEPS", "BuildResult", "build_all"]

#: build steps, in order (later steps may read what earlier ones wrote)
STEPS: tuple[str, ...] = ("riskmap.etl.derive_hotspots", "riskmap.etl.derive_coverage",
                         "riskmap.etl.derive_zones", "riskmap.etl.derive_roadmaps")


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


def build_all(store: Any, settings: Any, *, progress: bool = False,
              only: tuple[str, ...] | None = None, full: bool = False,
              client: Any = None) -> BuildResult:
    """Run the build steps, each on its own; a failure is recorded and the next step runs.

    The steps recompute only what the writes since the last build touched (see
    :mod:`etl.incremental`); ``full`` recomputes everything. When every step of a build of all
    steps succeeded, the marks it read are deleted (a load meanwhile leaves its own).

    ``client``: a Dask client (:func:`etl.scaleout.cluster`) on whose workers the hotspot
    step counts incidents month by month; the results are the same.
    """
    from riskmap.etl import incremental

    result = BuildResult()
    touched = incremental.read_touched(store)
    ran: set[str] = set()
    for name, short in zip(STEPS, step_names(), strict=True):
        if only and short not in only:
            continue
        module = importlib.import_module(name)
        t0 = time.perf_counter()
        try:
            if short == "hotspots":
                summary = incremental.build_hotspots(store, settings, touched, full=full,
                                                     progress=progress, client=client)
            elif short == "coverage":
                summary = incremental.build_coverage(store, settings, touched, full=full,
                                                     progress=progress)
            elif short == "zones":
                summary = incremental.build_zones(store, settings, touched, full=full,
                                                  progress=progress,
                                                  coverage_ran="coverage" in ran)
            else:
                summary = module.build(store, settings, progress=progress) or {}
            if summary.get("mode") != "unchanged":
                ran.add(short)
        except Exception as exc:  # recorded; the caller reports it and sets the exit code
            result.failures[short] = exc
            result.summary[short] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
        else:
            result.summary[short] = {"ok": True, **summary}
        result.summary[short]["seconds"] = round(time.perf_counter() - t0, 2)
    if result.ok and not only:
        incremental.consume(store, touched)
    return result
