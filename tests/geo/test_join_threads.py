"""Point-in-polygon on threads never shares GEOS geometries between threads (a stress test).

GEOS builds a prepared polygon's point locator lazily and without a lock; before the fix, two
threads using one fresh prepared polygon at once corrupted the heap now and then
(``tcache_thread_shutdown(): unaligned tcache chunk detected``, SIGABRT): in this test's loop
about half of the child processes aborted. glibc's ``MALLOC_CHECK_=3`` makes a corruption
abort at once instead of silently.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import shapely

from riskmap.geo.join import PolygonIndex

pytestmark = pytest.mark.slow

_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import shapely
    from riskmap.geo.join import PolygonIndex

    rng = np.random.default_rng(int(sys.argv[1]))
    xs, ys = np.meshgrid(np.arange(60), np.arange(40))
    cx, cy = 60 + xs.ravel() * 0.01, 40 + ys.ravel() * 0.01
    ang = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    r = 0.005 * (1 + 0.3 * rng.random((cx.size, ang.size)))
    rings = np.stack([cx[:, None] + r * np.cos(ang), cy[:, None] + r * np.sin(ang)], axis=-1)
    lon = 60 + rng.random(40_000) * 0.6
    lat = 40 + rng.random(40_000) * 0.4
    expected = PolygonIndex(shapely.polygons(rings), threads=1).locate(lon, lat)
    for _ in range(int(sys.argv[2])):  # a fresh index each time: every first use races
        got = PolygonIndex(shapely.polygons(rings), chunk=200, threads=8).locate(lon, lat)
        assert (got == expected).all(), "threaded result differs"
    print("ok", int((expected >= 0).sum()))
""")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_threaded_locate_survives_many_fresh_indexes(seed: int) -> None:
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(seed), "12"], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "MALLOC_CHECK_": "3"})
    assert proc.returncode == 0, f"child died ({proc.returncode}): {proc.stderr[-2000:]}"
    assert proc.stdout.startswith("ok ") and int(proc.stdout.split()[1]) > 30_000


def test_threads_borrow_private_copies() -> None:
    boxes = np.array([shapely.box(i, 0, i + 1, 1) for i in range(50)], dtype=object)
    index = PolygonIndex(boxes, chunk=10, threads=4)
    lon = np.repeat(np.arange(50) + 0.5, 20)
    got = index.locate(lon, np.full(lon.shape, 0.5))
    assert (got == np.repeat(np.arange(50), 20)).all()
    assert 1 <= index._made <= 4  # at most one copy per thread, none shared with the caller
    again = index.locate(lon, np.full(lon.shape, 0.5))  # copies are reused, not remade
    assert (again == got).all() and index._made <= 4
