"""``riskmap build``: compute the derived layers (hotspots, coverage, zones) from the store.

Each feature contributes a build step: a module under ``etl/`` named in :data:`STEPS` with a
function ``build(store, settings, *, progress: bool) -> dict`` that reads the base layers,
calls pure ``geo/`` functions, and writes its derived layers in one transaction. A step whose
module is not installed is skipped.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

__all__ = ["STEPS", "build_all"]

#: build steps, in order (later steps may read what earlier ones wrote)
STEPS: tuple[str, ...] = ("riskmap.etl.derive_hotspots", "riskmap.etl.derive_coverage",
                         "riskmap.etl.derive_zones")


def build_all(store: Any, settings: Any, *, progress: bool = False,
              only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Run the build steps; return a summary per step (with its seconds)."""
    summary: dict[str, Any] = {}
    for name in STEPS:
        short = name.rsplit(".", 1)[-1].removeprefix("derive_")
        if only and short not in only:
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        t0 = time.perf_counter()
        result = module.build(store, settings, progress=progress) or {}
        result["seconds"] = round(time.perf_counter() - t0, 2)
        summary[short] = result
    return summary
