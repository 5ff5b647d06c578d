"""A worker process for production: RQ on Redis, with RQ's scheduler and the hotline's beat."""

from __future__ import annotations

import logging
import threading

from rq import SimpleWorker

from hotline_app.bootstrap import bootstrap
from hotline_core.queue import QUEUE_NAMES
from hotline_core.runtime import Runtime
from hotline_core.settings import Settings
from routing import inputs as routing_inputs

log = logging.getLogger(__name__)


def warm(runtime: Runtime) -> None:
    """Read the routing inputs (directory, settings, classifier) before the first job, not during
    it: unpickling the model and reading the directory take about a second, which the first
    tickets a fresh worker routes would otherwise wait (seen as a steady-state p95 of 1.5 s in
    ``bench/pipeline.py``). A database not ready yet is not fatal: the first batch reads them."""
    try:
        with runtime.db.session() as session:
            routing_inputs.current(session, runtime)
    except Exception:
        log.warning("could not preload the routing inputs; the first batch will", exc_info=True)


def run_worker(
    settings: Settings,
    *,
    burst: bool = False,
    name: str | None = None,
    beat: bool = True,
    queues: tuple[str, ...] | None = None,
) -> bool:
    """Run jobs from all queues until stopped. SimpleWorker runs jobs in this process (no fork
    per job, several times faster); the database pool is shared across jobs."""
    runtime = bootstrap(settings)
    warm(runtime)
    jobs = runtime.jobs
    stop = threading.Event()
    if beat and not burst:

        def _beat() -> None:
            while not stop.wait(1.0):
                try:
                    jobs.beat()
                except Exception:
                    log.exception("beat failed")

        threading.Thread(target=_beat, name="hotline-beat", daemon=True).start()
    if burst and jobs.embedded:
        return jobs.run_burst()
    worker = jobs.worker(name=name, worker_class=SimpleWorker, queues=queues or QUEUE_NAMES)
    try:
        return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    finally:
        stop.set()
