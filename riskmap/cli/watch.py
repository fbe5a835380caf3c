"""``riskmap watch``: ingest the files dropped into a folder, each once."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import click

from riskmap.cli.common import fail_cleanly, open_from, settings_from, store_option
from riskmap.etl.watch import LAYERS, Watcher

__all__ = ["COMMANDS", "watch"]


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@store_option
@click.option("--layer", type=click.Choice(LAYERS), default="incidents", show_default=True,
              help="Layer of the files directly in FOLDER (files in FOLDER/<layer>/ go to "
                   "that layer).")
@click.option("--interval", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
              help="Seconds between two looks at the folder.")
@click.option("--settle", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="A file must be unchanged this many seconds before it is read.")
@click.option("--once", is_flag=True, help="Process what is there now, then stop.")
@fail_cleanly
def watch(folder: Path, store_url: str | None, layer: str, interval: float, settle: float,
          once: bool) -> None:
    """Ingest every file dropped into FOLDER, once, then move it to done/ or failed/.

    For systems that can only drop files. Each file is loaded like `riskmap ingest LAYER
    FILE` (same checks, geocoding, quarantine and idempotency) and moved with its report
    (NAME.report.json) to FOLDER/done/, or to FOLDER/failed/ with the reason. A file whose
    content was ingested before (same SHA-256, also after a restart) is not loaded again.
    Copies in progress are left alone until they settle. Ctrl+C (or SIGTERM) stops after
    the file under way; a second Ctrl+C stops at once.
    """
    from riskmap.cli.ingest import run_ingest

    settings = settings_from(store_url)
    with open_from(settings) as store:
        def ingest(target_layer: str, path: Path) -> dict:
            return run_ingest(target_layer, path, store, settings, {},
                              client="watch").to_dict()

        watcher = Watcher(folder, ingest, default_layer=layer, settle_s=settle)
        stop = threading.Event()
        previous = _on_stop_signals(stop)  # before the banner: a signal after it is caught
        click.echo(f"riskmap watch: {folder} -> {layer} (every {interval:g} s; Ctrl+C stops)")
        try:
            while not stop.is_set():
                for result in watcher.run_once(stop=stop.is_set):
                    detail = result.report.get("error") or (
                        f"{result.report.get('loaded', 0)} loaded, "
                        f"{result.report.get('quarantined', 0)} quarantined"
                        if result.outcome == "loaded" else "content ingested before")
                    click.echo(f"{result.file} [{result.layer}]: {result.outcome} "
                               f"({detail}) -> {result.moved_to}")
                if once:
                    return
                stop.wait(interval)
            click.echo("riskmap watch: stopped")
        except KeyboardInterrupt:  # a second Ctrl+C: stop now (the load under way rolls back)
            click.echo("riskmap watch: stopped (interrupted)")
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _on_stop_signals(stop: threading.Event) -> dict[int, Any]:
    """Ctrl+C (SIGINT) and SIGTERM set ``stop``: the watcher finishes the file it is on (a
    load is never cut in two) and stops; a second signal interrupts at once. Returns the
    handlers replaced (none outside the main thread, where signals cannot be caught)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    return {signum: signal.signal(signum, handler)
            for signum in (signal.SIGINT, signal.SIGTERM)}


COMMANDS = [watch]
