"""The floor for a durable, queued intake, served by gunicorn next to the hotline in ``bench/intake.py``.

Three endpoints take the same form-encoded SMS webhook body as ``/twilio/sms``:

* ``POST /bare``:   parse the form, answer a small TwiML document (Flask + gunicorn alone);
* ``POST /insert``: plus one row inserted and committed on PostgreSQL;
* ``POST /queued``: plus one RQ job (a no-op) enqueued on Redis after the commit.

Configuration: ``BENCH_DATABASE_URL`` (a libpq URL) and ``BENCH_REDIS_URL``. One psycopg connection
per thread (a sync gunicorn worker has one thread), kept open across requests like a pool would.
"""

from __future__ import annotations

import os
import threading

import psycopg
import redis
from flask import Flask, Response, request
from psycopg.types.json import Jsonb
from rq import Queue

QUEUE_NAME = "bench_baseline"
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


def noop(*_args: object) -> None:
    """The job the baseline enqueues (never run by the benchmark)."""


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
