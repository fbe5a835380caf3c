"""Watch a drop folder: each file is ingested once, then moved to ``done/`` or ``failed/``.

For systems that can only drop files (an export job of 112, a Safe City share). Layout of the
folder::

    DIR/                 files for the default layer (``incidents`` unless told otherwise)
    DIR/<layer>/         files for that layer (``incidents``, ``cameras``, ``infrastructure``,
                         ``mahallas``, ``aliases``)
    DIR/done/            files that loaded, each with ``<name>.report.json`` beside it
    DIR/failed/          files that could not be loaded, with the reason in their report
    DIR/.riskmap-watch/  the ledger: the SHA-256 of every file already ingested

A file is picked up once its size and modification time have not changed for ``settle_s``
seconds (a copy still in progress is left alone); names starting with ``.`` or ending in
``.tmp``/``.part``/``.crdownload`` are never read. A file whose content was ingested before
(same SHA-256, even under another name or after a restart) is not loaded again: it goes to
``done/`` with a report that says so. Loads are idempotent anyway (re-ingesting a file gives
duplicates, never changes), so a crash between the load and the ledger write loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["LAYERS", "WatchResult", "Watcher"]

#: layers a drop folder can feed, each a sub-folder of the same name
LAYERS = ("incidents", "cameras", "infrastructure", "mahallas", "aliases")
_SKIP_SUFFIXES = (".tmp", ".part", ".crdownload", ".report.json")
_LEDGER = ".riskmap-watch"


@dataclass
class WatchResult:
    """What happened to one file."""

    file: str
    layer: str
    outcome: str  # "loaded", "already_ingested" or "failed"
    moved_to: str
    report: dict[str, Any]


class Watcher:
    """Ingest the files of a drop folder.

    Parameters
    ----------
    folder
        The drop folder (created when missing, with ``done/`` and ``failed/``).
    ingest
        ``ingest(layer, path) -> dict``: loads one file and returns its report as a dict;
        raises on a file it cannot load (the exception's text becomes the failure reason).
    default_layer
        Layer of the files directly in ``folder``.
    settle_s
        A file must be unchanged this long before it is read.
    clock
        Seconds (tests pass a fake clock).
    """

    def __init__(self, folder: str | os.PathLike[str],
                 ingest: Callable[[str, Path], dict[str, Any]], *,
                 default_layer: str = "incidents", settle_s: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        if default_layer not in LAYERS:
            raise ValueError(f"default layer {default_layer!r}: expected one of {LAYERS}")
        self.folder = Path(folder)
        self.ingest = ingest
        self.default_layer = default_layer
        self.settle_s = float(settle_s)
        self.clock = clock
        for sub in ("done", "failed", _LEDGER):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    # ---- the ledger ----------------------------------------------------------------------
    def _ledger_path(self, digest: str) -> Path:
        return self.folder / _LEDGER / f"{digest}.json"

    def seen(self, digest: str) -> dict[str, Any] | None:
        """The ledger entry of a file content, or None when it was never ingested."""
        path = self._ledger_path(digest)
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None

    def _remember(self, digest: str, entry: dict[str, Any]) -> None:
        path = self._ledger_path(digest)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entry, ensure_ascii=False, default=str), encoding="utf-8")
        tmp.replace(path)

    # ---- the files -----------------------------------------------------------------------
    def pending(self) -> Iterator[tuple[str, Path]]:
        """(layer, path) of every settled file waiting in the folder, oldest first."""
        found: list[tuple[float, str, Path]] = []
        places = [(self.default_layer, self.folder)]
        places += [(layer, self.folder / layer) for layer in LAYERS
                   if (self.folder / layer).is_dir()]
        now = self.clock()
        for layer, place in places:
            for path in place.iterdir():
                if not path.is_file() or path.name.startswith(".") \
                        or path.name.lower().endswith(_SKIP_SUFFIXES):
                    continue
                stat = path.stat()
                if now - stat.st_mtime < self.settle_s:
                    continue  # still being written (or just arrived)
                found.append((stat.st_mtime, layer, path))
        for _, layer, path in sorted(found, key=lambda t: (t[0], str(t[2]))):
            yield layer, path

    def run_once(self, stop: Callable[[], bool] | None = None) -> list[WatchResult]:
        """Process every settled file once; return what happened to each. ``stop`` is asked
        before each file: True leaves the rest for the next run."""
        done = []
        for layer, path in list(self.pending()):
            if stop is not None and stop():
                break
            done.append(self.process(layer, path))
        return done

    def process(self, layer: str, path: Path) -> WatchResult:
        """Ingest one file (unless its content was ingested before) and move it away."""
        digest = _sha256(path)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        earlier = self.seen(digest)
        if earlier is not None:
            report = {"outcome": "already_ingested", "sha256": digest, "layer": layer,
                      "earlier": earlier}
            return self._finish(path, layer, "already_ingested", "done", report)
        try:
            loaded = self.ingest(layer, path)
        except Exception as exc:  # the reason goes into the file's report
            report = {"outcome": "failed", "sha256": digest, "layer": layer,
                      "started_at": started, "error": f"{exc}".strip() or type(exc).__name__,
                      "error_type": type(exc).__name__}
            return self._finish(path, layer, "failed", "failed", report)
        report = {"outcome": "loaded", "sha256": digest, "layer": layer,
                  "started_at": started, **loaded}
        self._remember(digest, {"file": path.name, "layer": layer, "at": started})
        return self._finish(path, layer, "loaded", "done", report)

    def _finish(self, path: Path, layer: str, outcome: str, where: str,
                report: dict[str, Any]) -> WatchResult:
        target = _free_name(self.folder / where / path.name)
        path.replace(target)
        report_path = target.with_name(target.name + ".report.json")
        report_path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str)
                               + "\n", encoding="utf-8")
        return WatchResult(path.name, layer, outcome, str(target), report)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _free_name(path: Path) -> Path:
    """``path``, or ``stem.2.suffix``, ``stem.3.suffix``... when it is taken."""
    if not path.exists():
        return path
    stem, suffix = path.name.split(".", 1) if "." in path.name else (path.name, "")
    for i in range(2, 10_000):
        candidate = path.with_name(f"{stem}.{i}.{suffix}" if suffix else f"{stem}.{i}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(path)
