"""Scale-out on Dask: the build's counting and the ingest's parsing, partitioned over workers.

``riskmap build --workers N`` (a local cluster of N worker processes) or ``--scheduler
tcp://HOST:PORT`` (a running ``dask scheduler`` whose workers can open the same store: the same
PostGIS URL, or the same directory on a shared file system) runs the work that grows with the
number of incidents on the workers, partitioned by month:

- the **incident cube** (incidents per mahalla / res-9 cell and month, see
  :mod:`etl.incremental`): each task reads the incidents of a run of months from the store and
  counts them; months are disjoint, so the parts are put side by side, never summed twice;
- the **KDE surface**: each task bins the window's points of its months on the one fixed grid
  (:func:`geo.surface.kde_grid` over the mahalla layer's extent) and sends back only the cells
  it hit; the driver adds the counts and smooths once.

Gi*, trends and status need the whole area: they run on the driver, from the cube (per-unit,
per-month aggregates), never from raw rows gathered on one node.

``riskmap ingest incidents F1 F2 ... --workers N`` reads, validates and geocodes the files on
the workers (:func:`etl.ingest.prepare_incidents`) and commits them on the driver, one
transaction per file in the order given, so ids repeated across files are judged exactly as
in a load of one file after the other.

Results are identical to the single-process path (counts are integers; the binned grid sums
integers in float64), which ``tests/test_scaleout.py`` checks cell by cell on a 2-worker
local cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from riskmap.layers.store import month_bounds, month_codes

__all__ = ["Prepared", "cluster", "cube_on", "kde_on", "month_runs", "prepare_on"]

#: months per task at most: a task reads its months' partitions at once
_MAX_MONTHS_PER_TASK = 6


@contextmanager
def cluster(workers: int | None = None, scheduler: str | None = None,
            *, memory_limit: str | int = "auto", timeout: str = "30s") -> Iterator[Any]:
    """A Dask client: on the scheduler at ``scheduler``, else on a local cluster of ``workers``
    processes (one thread each); ``None`` when neither is given (the single-process path).

    Raises
    ------
    ValueError
        Both given, or ``workers`` below 1.
    OSError
        The scheduler cannot be reached within ``timeout``.
    """
    if scheduler and workers:
        raise ValueError("give --workers (a local cluster) or --scheduler, not both")
    if not scheduler and not workers:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout=timeout)
        try:
            yield client
        finally:
            client.close()
        return
    if workers is None or workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    # on loopback, and no dashboard: its HTTP server would take port 8787 (or warn and move)
    with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address="127.0.0.1:0",
                      scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR,
                      memory_limit=memory_limit) as local, Client(local) as client:
        yield client


def month_runs(codes: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Split month ``codes`` into ``max(parts, n / 6)`` runs (at most ``n``), each
    ``(first, last)`` inclusive, of about equally many codes (a task each; a run skips the
    months between that are not in ``codes``).

    Examples
    --------
    >>> month_runs(np.array([5, 6, 7, 8, 20]), 2)
    [(5, 7), (8, 20)]
    """
    codes = np.unique(np.asarray(codes, dtype=np.int64))
    if not codes.size:
        return []
    n = max(int(parts), int(np.ceil(codes.size / _MAX_MONTHS_PER_TASK)), 1)
    chunks = [c for c in np.array_split(codes, min(n, codes.size)) if c.size]
    return [(int(c[0]), int(c[-1])) for c in chunks]


def _read_months(store_url: str, first: int, last: int, columns: Sequence[str]) -> pd.DataFrame:
    from riskmap.layers import open_store

    store = open_store(store_url)
    try:
        return store.read("incidents", columns=list(columns), filters=[
            ("occurred_at", ">=", month_bounds(first)[0]),
            ("occurred_at", "<", month_bounds(last)[1])])
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            close()


def _cube_task(store_url: str, months: np.ndarray,
               columns: Sequence[str]) -> dict[str, pd.DataFrame]:
    """The cube of the incidents of ``months`` (sorted codes; a run may have gaps)."""
    from riskmap.etl.incremental import cube_frames

    rows = _read_months(store_url, int(months[0]), int(months[-1]), columns)
    if int(months[-1]) - int(months[0]) + 1 != len(months):  # gaps: months not asked for
        code = month_codes(pd.to_datetime(rows["occurred_at"], utc=True))
        rows = rows[np.isin(code, months)]
    return cube_frames(rows)


def _n_workers(client: Any) -> int:
    return max(len(client.scheduler_info().get("workers", {})), 1)


#: the order :func:`etl.incremental.cube_frames` leaves each layer in (its groupby keys)
_CUBE_ORDER = {"incident_cube_mahalla": ["mahalla_id", "month", "region"],
               "incident_cube_h3": ["h3", "month", "region"],
               "incident_months": ["month"]}


def cube_on(client: Any, store: Any, codes: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """:func:`etl.incremental.cube_frames` of the incidents of months ``codes`` (default: every
    month in the store), counted on the cluster a run of months per task.

    Equal, row for row, to ``cube_frames`` of the same incidents read whole.
    """
    from riskmap.etl.incremental import _INCIDENT_COLUMNS, cube_frames

    if codes is None:
        occ = store.read("incidents", columns=["occurred_at"])["occurred_at"]
        codes = month_codes(pd.to_datetime(occ, utc=True).dropna())
    codes = np.unique(np.asarray(codes, dtype=np.int64))
    runs = month_runs(codes, 2 * _n_workers(client))
    if not runs:
        return cube_frames(store.read("incidents", columns=_INCIDENT_COLUMNS).iloc[:0])
    futures = [client.submit(_cube_task, store.url, codes[(codes >= a) & (codes <= b)],
                             _INCIDENT_COLUMNS, pure=False) for a, b in runs]
    parts = client.gather(futures)
    out = {}
    for name, order in _CUBE_ORDER.items():
        frames = [p[name] for p in parts if len(p[name])]
        merged = (pd.concat(frames, ignore_index=True) if frames else parts[0][name])
        out[name] = merged.sort_values(order, kind="stable").reset_index(drop=True)
    return out


def _kde_task(store_url: str, first: int, last: int, grid: Any, start: Any,
              end: Any) -> tuple[np.ndarray, np.ndarray]:
    from riskmap.etl.hotspots_job import _lonlat, analysis_mask
    from riskmap.geo.surface import bin_points

    points = _read_months(store_url, first, last, ["h3", "occurred_at", "category", "geometry"])
    mask = analysis_mask(points, level="h3", start=start, end=end)
    lon, lat = _lonlat(points[mask] if not mask.all() else points)
    ok = np.isfinite(lon) & np.isfinite(lat)
    counts = bin_points(grid, lon[ok], lat[ok])
    hit = np.flatnonzero(counts)
    return hit, counts[hit]


def kde_on(client: Any, store: Any, codes: np.ndarray, *, bounds: tuple[float, float, float,
           float], bandwidth_m: float, cell_m: float, start: pd.Timestamp,
           end: pd.Timestamp) -> Any:
    """:func:`etl.hotspots_job.kde` of the incidents of months ``codes`` over ``bounds``,
    binned on the cluster a run of months per task (only the hit cells travel back).

    Returns
    -------
    geo.surface.Surface
        Equal, cell for cell, to ``kde(points, bounds=bounds, ...)`` on one process.
    """
    from riskmap.etl.hotspots_job import _fit_cell
    from riskmap.geo.surface import kde_grid, smooth_counts, utm_crs

    cell = _fit_cell(bounds, bandwidth_m, float(cell_m))
    grid = kde_grid(bounds, bandwidth_m=bandwidth_m, cell_size_m=cell,
                    crs=utm_crs((bounds[0] + bounds[2]) / 2))
    futures = [client.submit(_kde_task, store.url, a, b, grid, start, end, pure=False)
               for a, b in month_runs(np.asarray(codes), 2 * _n_workers(client))]
    total = np.zeros(grid.nrow * grid.ncol)
    for hit, counts in client.gather(futures):
        np.add.at(total, hit, counts)
    return smooth_counts(grid, total.reshape(grid.nrow, grid.ncol), bandwidth_m)


class Prepared:
    """A file being read on a worker: :meth:`result` waits for its
    :class:`etl.ingest.PreparedIncidents` (re-raising the worker's error, e.g. an
    :class:`errors.InputFileError`); ``context`` is the ``(IncidentContext, notes)`` it used."""

    def __init__(self, future: Any, context: tuple[Any, list[str]]) -> None:
        self.future = future
        self.context = context

    def result(self) -> Any:
        """The prepared file (blocks until the worker is done)."""
        return self.future.result()


def _prepare_task(path: str, ctx: Any, options: dict[str, Any]) -> Any:
    from riskmap.etl.ingest import _gc_paused, prepare_incidents

    with _gc_paused():
        return prepare_incidents(path, ctx, **options)


def prepare_on(client: Any, paths: Sequence[Any], context: tuple[Any, list[str]], *,
               mapping: Any = None, chunk_rows: int = 250_000, crs: Any = None,
               sheet: str | None = None, defaults: Any = None) -> list[Prepared]:
    """Start reading, validating and geocoding each incident file on the cluster (a task a file;
    the context is sent to every worker once); commit each with
    :func:`etl.ingest.commit_incidents` in the order of ``paths``."""
    ctx = client.scatter(context[0], broadcast=True)
    options = {"mapping": mapping, "chunk_rows": chunk_rows, "crs": crs, "sheet": sheet,
               "defaults": defaults}
    return [Prepared(client.submit(_prepare_task, str(p), ctx, options, pure=False), context)
            for p in paths]
