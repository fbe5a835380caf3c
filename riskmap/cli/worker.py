"""``riskmap worker``: run background jobs (camera plans, reports, exports) from a store's queue."""

from __future__ import annotations

import logging

import click

from riskmap.cli.common import fail_cleanly, safe_url, settings_from, store_option

__all__ = ["COMMANDS", "worker"]


@click.command()
@store_option
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Jobs run at the same time, each in its own child process with its kind's "
                   "memory limit (a camera plan: 2 GiB): give the machine that much per job.")
@click.option("--poll", "poll_s", type=click.FloatRange(0.1, 60), default=1.0,
              show_default=True, help="Seconds between two looks at an empty queue.")
@click.option("--stale-after", "stale_s", type=click.FloatRange(15, 3600), default=60.0,
              show_default=True,
              help="A running job whose worker sent no heartbeat for this many seconds is "
                   "taken back (queued again once, then failed).")
@click.option("--once", is_flag=True,
              help="Run the jobs queued now, then exit (instead of waiting for more).")
@fail_cleanly
def worker(store_url: str | None, concurrency: int, poll_s: float, stale_s: float,
           once: bool) -> None:
    """Run queued background jobs until stopped (Ctrl-C or SIGTERM).

    Each job runs in a child process limited in memory (RLIMIT_AS), CPU time and wall-clock
    time; one that runs out fails with a message saying so, and the worker goes on. Jobs of a
    worker that died are picked up. Several workers may serve one PostGIS store; an embedded
    store is served by one machine (`riskmap serve` can also run a worker in the background).
    """
    import signal

    from riskmap.jobs import Worker

    settings = settings_from(store_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runner = Worker(settings.store, concurrency=concurrency, poll_s=poll_s, stale_s=stale_s)

    def _stop(*_: object) -> None:
        runner.stop(timeout=0)

    previous = signal.signal(signal.SIGTERM, _stop)
    click.echo(f"worker {runner.name} serving {safe_url(settings.store)} "
               f"({concurrency} at a time)", err=True)
    try:
        done = runner.run(once=once)
    except KeyboardInterrupt:
        done = runner.finished
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo(f"worker {runner.name} stopped after {done} job(s)", err=True)


COMMANDS = [worker]
