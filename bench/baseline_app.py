"""The floor for a durable, queued intake, served by gunicorn next to the hotline in ``bench/intake.py``.

Three endpoints take the same form-encoded SMS webhook body as ``/twilio/sms``:

* ``POST /bare``:   parse the form, answer a small TwiML document (Flask + gunicorn alone);
* ``POST /insert``: plus one row inserted and committed on PostgreSQL;
* ``POST /queued``: plus one RQ job (a no-op) enqueued on Redis after the commit.
* ``POST /queued-timed``: the same, but the job (:func:`job_started`) goes to the hotline's queue
  ``BENCH_JOB_QUEUE`` (default ``intake``), where ``hotline worker`` processes run it, and records
  when it started: ``bench/pipeline.py``'s floor, a job's own latency through the same queue and
  workers as the hotline's jobs.

Configuration: ``BENCH_DATABASE_URL`` (a libpq URL) and ``BENCH_REDIS_URL``. One psycopg connection
per thread (a sync gunicorn worker has one thread), kept open across requests like a pool would.
"""

from __future__ import annotations

import os
import threading
import time

import psycopg
import redis
from flask import Flask, Response, request
from psycopg.types.json import Jsonb
from rq import Queue, get_current_job

QUEUE_NAME = "bench_baseline"
STARTED_KEY = "bench:job_started"  # Redis hash: MessageSid -> "<inserted at> <job started at>" (epoch seconds)
TABLE_SQL = """
CREATE TABLE IF NOT EXISTS bench_baseline (
    id bigserial PRIMARY KEY,
    message_sid varchar(64) NOT NULL,
    from_number varchar(40),
    body text,
    form jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT_SQL = "INSERT INTO bench_baseline (message_sid, from_number, body, form) VALUES (%s, %s, %s, %s) RETURNING id"
REPLY = '<?xml version="1.0" encoding="UTF-8"?><Response><Message>已受理 {n}</Message></Response>'

app = Flask(__name__)
_local = threading.local()
_queue: Queue | None = None
_timed_queue: Queue | None = None


def noop(*_args: object) -> None:
    """The job the baseline enqueues (never run by the benchmark)."""


def job_started(message_sid: str, inserted_at: float) -> None:
    """The timed baseline's job: note when it started, its first act, so its latency is the queue's and
    the worker's alone (run by ``hotline worker``, which finds this module on its PYTHONPATH)."""
    started = time.time()
    job = get_current_job()
    assert job is not None
    job.connection.hset(STARTED_KEY, message_sid, f"{inserted_at!r} {started!r}")


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = psycopg.connect(os.environ["BENCH_DATABASE_URL"])
        _local.conn = conn
    return conn


def _rq() -> Queue:
    global _queue
    if _queue is None:
        connection = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"], socket_connect_timeout=2, socket_timeout=10)
        _queue = Queue(QUEUE_NAME, connection=connection)
    return _queue


def _timed_rq() -> Queue:
    global _timed_queue
    if _timed_queue is None:
        connection = redis.Redis.from_url(os.environ["BENCH_REDIS_URL"], socket_connect_timeout=2, socket_timeout=10)
        _timed_queue = Queue(os.environ.get("BENCH_JOB_QUEUE", "intake"), connection=connection)
    return _timed_queue


def _insert() -> int:
    form = request.form.to_dict(flat=True)
    conn = _connection()
    with conn.cursor() as cur:
        cur.execute(INSERT_SQL, (form.get("MessageSid", ""), form.get("From"), form.get("Body"), Jsonb(form)))
        row_id = cur.fetchone()[0]
    conn.commit()
    return row_id


def _xml(text: str) -> Response:
    return Response(REPLY.format(n=text), mimetype="text/xml", content_type="text/xml; charset=utf-8")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/bare")
def bare() -> Response:
    form = request.form.to_dict(flat=True)
    return _xml(form.get("MessageSid", ""))


@app.post("/insert")
def insert() -> Response:
    return _xml(str(_insert()))


@app.post("/queued")
def queued() -> Response:
    row_id = _insert()
    _rq().enqueue("baseline_app.noop", row_id)
    return _xml(str(row_id))


@app.post("/queued-timed")
def queued_timed() -> Response:
    inserted_at = time.time()  # like the hotline's inbound_events.received_at: taken just before the INSERT
    row_id = _insert()
    _timed_rq().enqueue("baseline_app.job_started", request.form.get("MessageSid", ""), inserted_at)
    return _xml(str(row_id))
