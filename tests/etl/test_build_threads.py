"""``riskmap build`` runs the steps that need no result of each other side by side
(``etl.build_threads``): the same layers as one step after the other, on both store backends;
a step starts only after the steps it needs; a failed step leaves the others running."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from riskmap.etl import build as build_module
from riskmap.etl import incremental
from riskmap.etl.build import NEEDS, build_all, build_threads, step_names
from riskmap.layers.store import open_store
from riskmap.settings import EtlSettings, GeoSettings, Settings
from tests.etl.test_incremental_build import _assert_same, _base, _batches


def _settings(threads: int) -> SimpleNamespace:
    return SimpleNamespace(geo=GeoSettings(hotspot_resolutions=[8, 9]),
                           etl=EtlSettings(build_threads=threads))


def _loaded(url: str, like=None):
    store = open_store(url)
    _base(store, like=like)
    first, late, deleted = _batches()
    with store.transaction() as txn:
        txn.upsert("incidents", first)
    with store.transaction() as txn:
        txn.upsert("incidents", late)
        txn.delete("incidents", deleted)
    return store


def test_the_default_runs_two_steps_at_once_and_every_need_is_an_earlier_step() -> None:
    assert build_threads(Settings()) == 2
    assert build_threads(SimpleNamespace()) == 1  # settings without the field: one at a time
    order = step_names()
    for step, needs in NEEDS.items():
        assert all(order.index(n) < order.index(step) for n in needs), step
    assert set(NEEDS) == set(order)


def test_side_by_side_builds_the_same_layers(store_url: str, tmp_path) -> None:
    together = _loaded(store_url)
    alone = _loaded(str(tmp_path / "alone"), like=together)
    try:
        one = build_all(alone, _settings(1))
        two = build_all(together, _settings(2))
        assert one.ok and two.ok, (one.summary, two.summary)
        assert list(two.summary) == list(one.summary) == step_names()
        assert {s: two.summary[s]["mode"] for s in ("hotspots", "coverage", "zones")} == \
            {s: one.summary[s]["mode"] for s in ("hotspots", "coverage", "zones")}
        _assert_same(together, alone)
        for store in (together, alone):  # both consumed the load marks
            assert incremental.read_touched(store).nothing
    finally:
        together.close()
        alone.close()


def _recording(monkeypatch, events: list, barrier: threading.Barrier | None = None,
               fail: str | None = None) -> None:
    """Wrap each step's function to log (step, start, end); the hot spots and the coverage
    meet at ``barrier`` (which breaks when they do not run at the same time)."""
    lock = threading.Lock()
    real = build_module._run_step

    def step(name, short, *args, **kwargs):
        start = time.monotonic()
        if barrier is not None and short in ("hotspots", "coverage"):
            barrier.wait()
        if short == fail:
            def broken(*a, **k):
                raise RuntimeError(f"{short} broke")
            monkeypatch.setattr(incremental, f"build_{short}", broken)
        out = real(name, short, *args, **kwargs)
        with lock:
            events.append((short, start, time.monotonic()))
        return out

    monkeypatch.setattr(build_module, "_run_step", step)


def test_independent_steps_overlap_and_dependent_ones_wait(tmp_path, monkeypatch) -> None:
    store = _loaded(str(tmp_path / "s"))
    events: list = []
    # the two first steps wait for each other: a build running them one after the other
    # would break the barrier (after its timeout) instead of passing it
    _recording(monkeypatch, events, barrier=threading.Barrier(2, timeout=60))
    result = build_all(store, _settings(2))
    assert result.ok, result.summary
    times = {s: (start, end) for s, start, end in events}
    assert set(times) == set(step_names())
    assert times["zones"][0] >= times["coverage"][1]
    assert times["roadmaps"][0] >= times["hotspots"][1]


def test_a_failed_step_beside_others_is_reported_and_the_rest_still_run(tmp_path,
                                                                      monkeypatch) -> None:
    store = _loaded(str(tmp_path / "s"))
    events: list = []
    _recording(monkeypatch, events, fail="coverage")
    result = build_all(store, _settings(2))
    assert not result.ok
    assert set(result.failures) == {"coverage"}
    assert isinstance(result.failures["coverage"], RuntimeError)
    assert result.summary["coverage"]["ok"] is False
    assert "coverage broke" in result.summary["coverage"]["error"]
    for step in ("hotspots", "zones", "roadmaps"):
        assert result.summary[step]["ok"] is True, result.summary[step]
    # a build with a failed step leaves the load marks for the next build
    assert not incremental.read_touched(store).nothing
