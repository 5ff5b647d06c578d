"""A worker process for production: RQ on Redis, with RQ's scheduler and the hotline's beat."""

from __future__ import annotations

import logging
import threading

from rq import SimpleWorker

from hotline_app.bootstrap import bootstrap
from hotline_core.queue import QUEUE_NAMES
from hotline_core.settings import Settings

log = logging.getLogger(__name__)


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
