"""Background jobs on RQ, the same code on a real Redis and on the embedded default.

* With ``REDIS_URL`` set, jobs go to Redis and separate ``hotline worker`` processes run them.
* Without it, RQ runs on an in-process fakeredis server (with Lua, which RQ needs) and a worker
  thread in the web process runs the very same jobs.

Jobs are enqueued only after the transaction that created their rows commits
(:meth:`JobQueue.enqueue_after_commit`) and receive ids, never objects. If Redis is unreachable
when a job would be enqueued, nothing is lost: the periodic sweeps find the unprocessed rows.

The embedded worker relies on RQ internals (``SimpleWorker``, ``TimerDeathPenalty``,
``RQScheduler``); rq is pinned in ``pyproject.toml`` and ``tests/test_queue.py`` proves that
immediate and scheduled jobs run in this mode.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
from rq import Queue, SimpleWorker
from rq.scheduler import RQScheduler as _RQScheduler
from rq.timeouts import TimerDeathPenalty
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
# RQ's scheduler is untyped; it is used only through acquire/enqueue/release below.
RQScheduler: Any = _RQScheduler

# Named queues, most urgent first: a worker turns texts into acknowledged tickets before it sends,
# sends (acknowledgements first) before it routes, and routes before sweeps and reports. In a burst
# every citizen gets a ticket number first; routing catches up right after.
QUEUE_NAMES = ("intake", "messages", "routing", "default", "sweeps")

#: A job is enqueued by reference to its function, so a renamed or missing job fails at import
#: (and in mypy), not when a worker first picks it up.
JobRef = Callable[..., Any]
#: The name of a ``once`` mark: a job function (named by its dotted path) or a plain string.
OnceRef = Callable[..., Any] | str


def job_name(func: OnceRef) -> str:
    """The dotted path RQ stores for a job function (and the name of its ``once`` mark)."""
    if isinstance(func, str):
        return func
    return f"{func.__module__}.{func.__qualname__}"


def _require_reference(func: object) -> None:
    if isinstance(func, str) or not callable(func):
        raise TypeError(f"enqueue jobs by function reference, not {func!r}")


# A job enqueued with ``once`` that never started (lost with Redis) stops blocking after this long.
ONCE_TTL_SECONDS = 60


@dataclass(frozen=True)
class PeriodicJob:
    """A job the beat enqueues every ``every`` seconds, once per period across all processes; or, with
    ``cron``, at each time of the cron expression in ``timezone`` (local wall-clock time), once per
    firing across all processes. A firing missed by less than ``grace`` seconds (workers were down)
    still runs; an older one is skipped."""

    name: str
    func: JobRef
    every: float = 0
    queue: str = "sweeps"
    cron: str | None = None
    timezone: str = "UTC"
    grace: float = 6 * 3600


def cron_firing(cron: str, timezone: str, now: datetime) -> datetime:
    """The latest time at or before ``now`` that ``cron`` fires, read in ``timezone`` (DST-safe)."""
    from croniter import croniter

    local = now.astimezone(ZoneInfo(timezone))
    fired: datetime = croniter(cron, local + timedelta(microseconds=1)).get_prev(datetime)
    return fired


class JobQueue:
    """Enqueues jobs; owns the Redis connection (real or in-process)."""

    def __init__(self, redis_url: str | None = None, *, key_prefix: str = "hotline") -> None:
        self.redis_url = redis_url
        self.key_prefix = key_prefix
        if redis_url:
            self.connection = redis.Redis.from_url(
                redis_url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=30
            )
            self.embedded = False
        else:
            import fakeredis

            self.server = fakeredis.FakeServer()
            self.connection = fakeredis.FakeRedis(server=self.server)
            self.embedded = True
        self.queues = {name: Queue(name, connection=self.connection) for name in QUEUE_NAMES}
        self.periodic: list[PeriodicJob] = []
        self._embedded_runner: EmbeddedRunner | None = None

    # -- enqueueing --------------------------------------------------------------------------

    def enqueue(
        self,
        func: JobRef,
        *args: Any,
        queue: str = "default",
        delay: float | None = None,
        job_id: str | None = None,
        once: OnceRef | None = None,
        **kwargs: Any,
    ) -> bool:
        """Enqueue now. Returns False (and logs) if Redis cannot be reached: sweeps retry later.

        With ``once``, nothing is enqueued while an earlier job enqueued under the same name has
        not yet started (it calls :meth:`started_once`): a burst of 1,000 outbox messages needs
        one dispatcher job, not 1,000.
        """
        _require_reference(func)
        target = self.queues[queue]
        try:
            if once and not self.connection.set(self._once_key(once), b"1", nx=True, ex=ONCE_TTL_SECONDS):
                return True
            if delay:
                target.enqueue_in(timedelta(seconds=delay), func, *args, job_id=job_id, **kwargs)
            else:
                target.enqueue(func, *args, job_id=job_id, **kwargs)
        except redis.exceptions.RedisError as exc:
            log.warning("could not enqueue %s%r on %s: %s (a sweep will pick it up)", func, args, queue, exc)
            return False
        return True

    def started_once(self, once: OnceRef) -> None:
        """Called by a job enqueued with ``once`` as it starts: later work needs a new job."""
        try:
            self.connection.delete(self._once_key(once))
        except redis.exceptions.RedisError as exc:
            log.warning("could not clear %s: %s (it expires)", once, exc)

    def renew_once(self, once: OnceRef, seconds: float) -> None:
        """A long-running job keeps its ``once`` mark alive for ``seconds`` more (and no longer:
        if its process dies, new work enqueues a new job soon after)."""
        try:
            self.connection.set(self._once_key(once), b"1", ex=max(int(seconds), 1))
        except redis.exceptions.RedisError as exc:
            log.warning("could not renew %s: %s", once, exc)

    def drain(
        self,
        job: JobRef,
        queue: str,
        batch: Callable[[], int | None],
        budget_seconds: float,
        between: Callable[[], object] | None = None,
    ) -> int:
        """The body of a job that works through a backlog: run ``batch`` until it returns None.

        ``job`` is enqueued with ``once`` (a burst costs a handful of jobs, not one each). A job
        that finds work enqueues one more, so every free worker joins in (``batch`` must claim its
        rows with :meth:`Database.claim`); after ``budget_seconds`` it hands over to a fresh job so
        that no job runs for ever. ``between`` runs after each batch (the outbox sends what is due:
        ``hotline_core.outbox.send_due_now``). Returns how many items the batches handled.
        """
        self.started_once(job)  # work arriving from now on enqueues another job
        handled = 0
        started = time.monotonic()
        while (count := batch()) is not None:
            if between is not None:
                between()
            first, handled = handled == 0, handled + count
            spent = time.monotonic() - started > budget_seconds
            if first or spent:
                self.enqueue(job, queue=queue, once=job)
            if spent:
                break
        return handled

    def _once_key(self, once: OnceRef) -> str:
        return f"{self.key_prefix}:once:{job_name(once)}"

    def enqueue_after_commit(
        self, session: Session, func: JobRef, *args: Any, queue: str = "default", **kwargs: Any
    ) -> None:
        """Enqueue once ``session`` commits; forget it if the session rolls back."""
        _require_reference(func)
        pending: list[tuple[JobRef, tuple[Any, ...], str, dict[str, Any]]] = session.info.setdefault(
            "hotline_pending_jobs", []
        )
        if not session.info.get("hotline_jobs_hooked"):
            session.info["hotline_jobs_hooked"] = True

            @event.listens_for(session, "after_commit")
            def _flush(sess: Session) -> None:
                jobs = sess.info.pop("hotline_pending_jobs", [])
                for job_func, job_args, job_queue, job_kwargs in jobs:
                    self.enqueue(job_func, *job_args, queue=job_queue, **job_kwargs)

            @event.listens_for(session, "after_soft_rollback")
            def _drop(sess: Session, previous_transaction: Any) -> None:
                if previous_transaction.parent is None:  # the whole transaction, not a savepoint
                    sess.info.pop("hotline_pending_jobs", None)

        pending.append((func, args, queue, kwargs))

    # -- periodic jobs -----------------------------------------------------------------------

    def add_periodic(self, job: PeriodicJob) -> None:
        if all(existing.name != job.name for existing in self.periodic):
            self.periodic.append(job)

    def beat(self, now: float | None = None) -> list[str]:
        """Enqueue each periodic job whose period has started and no process has claimed yet."""
        now = time.time() if now is None else now
        fired: list[str] = []
        for job in self.periodic:
            if job.cron:
                firing = cron_firing(job.cron, job.timezone, datetime.fromtimestamp(now, UTC))
                if now - firing.timestamp() > job.grace:
                    continue
                period, expiry = int(firing.timestamp()), int(job.grace * 2) + 60
            else:
                period, expiry = int(now // job.every), max(int(job.every * 3), 10)
            key = f"{self.key_prefix}:beat:{job.name}:{period}"
            try:
                claimed = self.connection.set(key, b"1", nx=True, ex=expiry)
            except redis.exceptions.RedisError as exc:
                log.warning("beat could not reach Redis: %s", exc)
                return fired
            if claimed and self.enqueue(job.func, queue=job.queue):
                fired.append(job.name)
        return fired

    # -- workers -----------------------------------------------------------------------------

    def worker(
        self,
        name: str | None = None,
        worker_class: type[SimpleWorker] | None = None,
        queues: tuple[str, ...] = QUEUE_NAMES,
    ) -> SimpleWorker:
        cls = worker_class or SimpleWorker
        return cls([self.queues[n] for n in queues], connection=self.connection, name=name)

    def run_burst(self, max_jobs: int | None = None) -> bool:
        """Run every queued job in the calling thread (tests and the CLI's ``--burst``)."""
        worker = self.worker(worker_class=ThreadSafeWorker)
        scheduler = RQScheduler([self.queues[n] for n in QUEUE_NAMES], connection=self.connection)
        scheduler.acquire_locks()
        scheduler.enqueue_scheduled_jobs()
        scheduler.release_locks()
        return worker.work(burst=True, max_jobs=max_jobs, logging_level="WARNING")

    def pending_count(self) -> int:
        return sum(q.count for q in self.queues.values())

    def start_embedded(self, on_start: Callable[[], None] | None = None) -> EmbeddedRunner:
        """Start the in-process worker, scheduler and beat threads (embedded mode only)."""
        if self._embedded_runner is None:
            self._embedded_runner = EmbeddedRunner(self, on_start)
            self._embedded_runner.start()
        return self._embedded_runner

    def stop_embedded(self) -> None:
        if self._embedded_runner is not None:
            self._embedded_runner.stop()
            self._embedded_runner = None


class ThreadSafeWorker(SimpleWorker):
    """An RQ SimpleWorker that can run outside the main thread: no signals anywhere."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


class EmbeddedRunner:
    """Worker, scheduler and beat as daemon threads of the web process."""

    def __init__(self, jobs: JobQueue, on_start: Callable[[], None] | None = None, tick: float = 0.5) -> None:
        self.jobs = jobs
        self.tick = tick
        self.on_start = on_start
        self._stop = threading.Event()
        self.worker = jobs.worker(name=f"embedded-{id(self):x}", worker_class=ThreadSafeWorker)
        self.threads = [
            threading.Thread(target=self._work, name="hotline-worker", daemon=True),
            threading.Thread(target=self._schedule, name="hotline-scheduler", daemon=True),
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self, timeout: float = 5) -> None:
        # The loop runs short bursts, so setting the event is enough (RQ's request_stop uses signals).
        self._stop.set()
        for thread in self.threads:
            thread.join(timeout)

    def _work(self) -> None:
        if self.on_start:
            self.on_start()
        while not self._stop.is_set():
            try:
                # Short bursts keep the thread responsive to stop() without RQ's blocking dequeue.
                if not self.worker.work(burst=True, logging_level="WARNING"):
                    self._stop.wait(self.tick / 5)
            except Exception:  # a job's own failure is recorded by RQ; this guards the loop itself
                log.exception("embedded worker loop failed; continuing")
                self._stop.wait(self.tick)

    def _schedule(self) -> None:
        scheduler = RQScheduler(list(self.jobs.queues.values()), connection=self.jobs.connection)
        while not self._stop.is_set():
            try:
                scheduler.acquire_locks()
                scheduler.enqueue_scheduled_jobs()
                self.jobs.beat()
            except Exception:
                log.exception("embedded scheduler tick failed; continuing")
            self._stop.wait(self.tick)
        scheduler.release_locks()
