"""How fast the outbox sends, and how much of the workers it takes, through real worker processes.

PostgreSQL + Redis, ``--workers`` ``hotline worker`` processes, and the fake Twilio API on loopback
answering each request after ``--latency`` seconds (Twilio's real API: 100-300 ms). ``--messages``
texts are committed to the outbox at once; the script reports the wall time until the fake
Twilio holds them all, the rate that makes, and how busy the workers were (RQ's working time
summed over the workers, over workers × wall time) and how many dispatcher jobs ran.

    HOTLINE_BENCH_DATABASE_URL=postgresql+psycopg://127.0.0.1:5432/bench \\
    HOTLINE_BENCH_REDIS_URL=redis://127.0.0.1:6379/9 \\
    .venv/bin/python -m bench.outbox --rate 100 --messages 200 --latency 0.15

The database is migrated and every table emptied (point it at a database of its own); the Redis
db is flushed. Not a unit test: speed is measured here, never in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from rq import Worker
from sqlalchemy import func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hotline_app.bootstrap import bootstrap  # noqa: E402
from hotline_core import outbox  # noqa: E402
from hotline_core.db import Base  # noqa: E402
from hotline_core.migrate import upgrade  # noqa: E402
from hotline_core.models import OutboxMessage  # noqa: E402
from hotline_core.settings import Settings  # noqa: E402
from tests.fakes.twilio_api import FakeTwilioAPI  # noqa: E402

ACCOUNT = "AC" + "1" * 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="HOTLINE_SMS_SEGMENTS_PER_SECOND")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.15, help="seconds the fake Twilio takes to answer")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=0, help="HOTLINE_SMS_SEND_CONCURRENCY (0: automatic)")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose workers to run (to compare)")
    parser.add_argument("--python", default=sys.executable, help="that checkout's python")
    args = parser.parse_args()

    database_url = os.environ.get("HOTLINE_BENCH_DATABASE_URL", "postgresql+psycopg://127.0.0.1:5432/bench")
    redis_url = os.environ.get("HOTLINE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
    api = FakeTwilioAPI()
    api.delay_seconds = args.latency
    server = api.start()
    env = {
        "HOTLINE_ENV": "test",
        "SECRET_KEY": "bench-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HOTLINE_INSTANCE_PATH": str(Path("/tmp/hotline-bench-outbox")),
        "HOTLINE_SMS_SEGMENTS_PER_SECOND": str(args.rate),
        "HOTLINE_SMS_SEND_CONCURRENCY": str(args.concurrency),
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": "fake-auth-token",
        "TWILIO_PHONE_NUMBER": "+8612345000000",
        "TWILIO_API_BASE_URL": server.url,
    }
    settings = Settings.from_env(env)
    upgrade(settings.database_url)
    runtime = bootstrap(settings)
    runtime.jobs.connection.flushdb()
    with runtime.db.transaction() as session:  # a bench database: emptied, so no sweep finds old work
        session.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE"))

    workers = [
        subprocess.Popen(
            [args.python, "-m", "hotline_app.cli", "worker"],
            cwd=args.code,
            env={**os.environ, **env, "PYTHONDONTWRITEBYTECODE": "1"},
            stdout=subprocess.DEVNULL,
            stderr=open(f"/tmp/hotline-bench-outbox-worker{n}.log", "w"),  # noqa: SIM115
            start_new_session=True,
        )
        for n in range(args.workers)
    ]
    try:
        _wait(lambda: len(Worker.all(connection=runtime.jobs.connection)) == args.workers, 60)
        started = time.monotonic()
        with runtime.db.transaction() as session:
            for i in range(args.messages):
                body = f"【效能投诉热线】您的投诉已受理，工单号 2026-{i:06d}。"
                outbox.queue_sms(session, runtime, to=f"+86138{i:08d}", body=body, kind="acknowledgement")
        _wait(lambda: len(api.created) >= args.messages, 600)
        wall = time.monotonic() - started
        _wait(lambda: _unsettled(runtime) == 0, 30)
        time.sleep(1.5)  # the last jobs finish and RQ adds up their working time
        busy = sum(w.total_working_time for w in Worker.all(connection=runtime.jobs.connection))
        dispatchers = sum(w.successful_job_count for w in Worker.all(connection=runtime.jobs.connection))
        sent = len(api.messages())
        pairs = Counter((r.field("To"), r.field("Body")) for r in api.messages())
        with runtime.db.session() as session:
            statuses = Counter(session.scalars(select(OutboxMessage.status)).all())
            attempts = Counter(session.scalars(select(OutboxMessage.attempts)).all())
        report = {
            "rate_setting": args.rate,
            "messages": args.messages,
            "twilio_latency_s": args.latency,
            "workers": args.workers,
            "wall_s": round(wall, 2),
            "sent_per_s": round(args.messages / wall, 1),
            "twilio_requests": sent,
            "sent_twice": sum(n > 1 for n in pairs.values()),
            "statuses": dict(statuses),
            "attempts": dict(attempts),
            "worker_busy_s": round(busy, 2),
            "worker_busy_share": round(busy / (args.workers * wall), 3),
            "jobs_run": dispatchers,
        }
        print(json.dumps(report))
    finally:
        for proc in workers:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in workers:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        server.stop()
        runtime.db.dispose()


def _unsettled(runtime) -> int:  # type: ignore[no-untyped-def]
    with runtime.db.session() as session:
        return (
            session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status.in_(["pending", "claimed"]))
            )
            or 0
        )


def _wait(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s")
        time.sleep(0.02)


if __name__ == "__main__":
    main()
