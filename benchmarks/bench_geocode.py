"""Benchmark the address geocoder (Gazetteer.match) on Uzbekistan's real mahalla names.

The world is the real-name test world (``tests/etl/realnames.py``: all ~10,020 official
mahallas, Voronoi cells inside the real OCHA district polygons; needs ``../shared/data`` or
``RISKMAP_SHARED_DATA``). Two inputs, each geocoded with a freshly built gazetteer and cold
caches, exactly as the incident loader calls it (``Gazetteer.from_mahallas`` + ``match``):

1. an incident stream: 200,000 rows whose places follow a heavy tail (Zipf weights over the
   mahallas) and whose addresses are written in five ways (official Latin, official Cyrillic,
   Russian, apostrophe variants in lower case, one typo), with random order, region and house
   numbers, so most strings differ while the places repeat;
2. the worst case: the 7 x 1,000 addresses of the accuracy table, every one a distinct place.

Each is printed beside a baseline measured in the same run on the same rows: an exact
dictionary look-up (``Series.map`` of every address string to its answer), the least any
geocoder has to do to touch the rows. Run: ``python benchmarks/bench_geocode.py``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the real-name world lives with the tests
    sys.path.insert(0, str(ROOT))

from riskmap.etl.gazetteer import Gazetteer  # noqa: E402
from tests.etl.realnames import (  # noqa: E402
    RealWorld,
    incident_addresses,
    load_world,
    make_addresses,
    score,
    summary_table,
)

__all__ = ["main"]

STREAM_ROWS = 200_000
TABLE_PER_STYLE = 1_000


def _shared() -> Path:
    return Path(os.environ.get("RISKMAP_SHARED_DATA") or ROOT.parent / "shared" / "data")


def _clear_caches() -> None:
    """Empty every memo of the parser and the key functions (a cold start): the
    ``functools.lru_cache`` of every loaded ``riskmap.etl`` module (the gazetteer's own
    per-instance caches start empty with each new gazetteer)."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("riskmap.etl."):
            continue
        for value in vars(module).values():
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and hasattr(value, "cache_info"):
                clear()


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _cpu(fn: Callable[[], object]) -> tuple[float, float, object]:
    """Wall and CPU seconds of ``fn()`` (CPU: this process, all its threads)."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def _run(label: str, world: RealWorld, rows: pd.DataFrame) -> None:
    """Time the geocoder and the dictionary baseline on ``rows``; print both and accuracy."""
    addresses = rows["address"]
    answers = dict(zip(addresses, rows["mahalla_id"], strict=True))
    base_s, _ = _timed(lambda: addresses.map(answers))
    _clear_caches()
    build_s, gaz = _timed(lambda: Gazetteer.from_mahallas(world.mahallas))
    match_s, cpu_s, matched = _cpu(lambda: gaz.match(addresses))  # type: ignore[union-attr]
    n = len(rows)
    overall = summary_table(score(rows, matched)).loc["overall"]  # type: ignore[arg-type]
    print(f"{label}: {n:,} rows, {addresses.nunique():,} distinct strings")
    print(f"  gazetteer.match      {match_s:7.2f} s  {n / match_s:>12,.0f} rows/s"
          f"   (CPU {cpu_s:.2f} s: {n / cpu_s:,.0f} rows per CPU-second; build {build_s:.2f} s,"
          f" once per load)")
    print(f"  baseline dict lookup {base_s:7.3f} s  {n / base_s:>12,.0f} rows/s"
          f"   (match costs {match_s / base_s:,.0f}x the baseline)")
    print(f"  right {overall['right']:.1%}, wrong or guessed {overall['wrong']:.2%}, "
          f"district only/unmatched {overall['open']:.1%}")


def main() -> None:
    """Build the real-name world and print the two throughput figures."""
    shared = _shared()
    t0 = time.perf_counter()
    world = load_world(shared / "uzb-mahalla-names", shared / "uzb-admin-ocha" / "uzb_adm2_shp.zip")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"real-name world: {len(world.mahallas):,} mahallas in {len(world.districts):,} "
          f"districts ({time.perf_counter() - t0:.1f} s to build); {os.cpu_count()} CPUs, "
          f"load average {load:.1f} (wall times stretch when other work shares the cores)")
    _run("incident stream", world, incident_addresses(world, rows=STREAM_ROWS))
    _run("accuracy table (every place distinct)", world,
         make_addresses(world, per_style=TABLE_PER_STYLE))


if __name__ == "__main__":
    main()
