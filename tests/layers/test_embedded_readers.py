"""Readers of the embedded store take no lock: a write that commits and sweeps the files a
read had listed makes the read start again, never fail (the jobs layer is rewritten every
second by a running job while the app polls it)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd

from riskmap.layers.embedded import EmbeddedStore


def test_reads_never_fail_while_writes_sweep_their_files(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    store.replace("store_meta", pd.DataFrame({"key": ["n"], "value": ["0"]}))
    stop = threading.Event()
    errors: list[BaseException] = []
    seen: set[str] = set()

    def reader() -> None:
        own = EmbeddedStore(tmp_path / "store")
        while not stop.is_set():
            try:
                frame = own.read("store_meta", filters=[("key", "=", "n")])
                seen.update(frame["value"].astype(str))
                own.count("store_meta")
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 300):
            store.replace("store_meta", pd.DataFrame({"key": ["n"], "value": [str(i)]}))
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, errors[0]
    assert len(seen) > 1  # the readers did read while the values changed
