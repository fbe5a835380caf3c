"""Full ``riskmap build`` against an incremental one after a 1,000-row daily load (not a test).

Run: ``python benchmarks/bench_incremental.py STORE [--rows 1000] [--work DIR]`` where STORE
is an embedded demo store (``riskmap demo --size medium --no-serve --store STORE``). The
store is copied to a work directory (STORE is left as it was); there each phase runs in its
own process, so its time and peak memory (max RSS) are its own:

1. ``full``: ``build_all(full=True)`` (also seeds the incident cube and the build state);
2. ``load``: ``rows`` incidents copied from the latest day of data with new ids, spread over
   that day (a daily feed: its marks say which months it touched);
3. ``incremental``: ``build_all()`` after the load;
4. ``noop``: ``build_all()`` again with nothing touched.

Prints one line per phase (seconds, peak MiB, what each step did) and the ratio
full / incremental.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]


def _phase(name: str, store_url: str, rows: int) -> dict:
    import numpy as np
    import pandas as pd

    from riskmap.etl.build import build_all
    from riskmap.layers.store import open_store
    from riskmap.settings import Settings

    settings = Settings(_env_file=None, store=store_url)  # type: ignore[call-arg]
    out: dict = {"phase": name}
    with open_store(store_url) as store:
        t0 = time.perf_counter()
        if name == "load":
            occ = store.read("incidents", columns=["occurred_at"])["occurred_at"]
            day = pd.Timestamp(occ.max()).floor("D")
            sample = store.read("incidents", filters=[("occurred_at", ">=", day - pd.Timedelta(
                days=30))])
            rng = np.random.default_rng(0)
            pick = sample.iloc[rng.integers(0, len(sample), rows)].reset_index(drop=True)
            pick["incident_id"] = [f"daily-{i}" for i in range(rows)]
            pick["occurred_at"] = day + pd.to_timedelta(rng.integers(0, 86_399, rows), unit="s")
            pick["content_hash"] = np.arange(rows, dtype=np.int64)
            with store.transaction() as txn:
                txn.upsert("incidents", pick)
            out["day"] = str(day.date())
        else:
            result = build_all(store, settings, full=name == "full")
            if not result.ok:
                raise SystemExit(f"build failed: {result.summary}")
            out["steps"] = {k: {"mode": v.get("mode"), "seconds": v.get("seconds"),
                                "recomputed": v.get("recomputed")}
                            for k, v in result.summary.items()}
        out["seconds"] = round(time.perf_counter() - t0, 2)
    out["peak_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main(argv: list[str] | None = None) -> None:
    """Copy the store, run the phases in turn, print their figures and the ratio."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", nargs="?", help="embedded demo store to copy")
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--work", default=None, help="work directory (default: a temporary one)")
    ap.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase:
        print(json.dumps(_phase(args.phase, args.store, args.rows)))
        return
    if not args.store:
        ap.error("give the demo store to copy")
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-incremental-"))
    copy = work / "store"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(args.store, copy)
    got = {}
    for phase in ("full", "load", "incremental", "noop"):
        run = subprocess.run([sys.executable, __file__, str(copy), "--phase", phase,
                              "--rows", str(args.rows)], capture_output=True, text=True,
                             check=False)
        if run.returncode:
            raise SystemExit(f"phase {phase} failed:\n{run.stderr[-3000:]}")
        got[phase] = json.loads(run.stdout.strip().splitlines()[-1])
        print(json.dumps(got[phase]))
    full, inc = got["full"]["seconds"], got["incremental"]["seconds"]
    print(f"full build {full:.1f} s ({got['full']['peak_mib']} MiB) | incremental after "
          f"{args.rows} rows {inc:.1f} s ({got['incremental']['peak_mib']} MiB) | ratio "
          f"{full / max(inc, 1e-9):.1f}x | nothing touched {got['noop']['seconds']:.2f} s")
    shutil.rmtree(work, ignore_errors=True) if not args.work else None


if __name__ == "__main__":
    main()
