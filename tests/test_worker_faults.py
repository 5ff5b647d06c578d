"""A worker killed with SIGKILL in the middle of a burst, while Twilio answers slowly.

Real `hotline worker` processes on PostgreSQL + Redis send through the real twilio client to the
fake Twilio API, which takes a while per request. The worker running the outbox dispatcher is
killed mid-send. Then: no text is lost (every one has its ticket), no SMS is sent twice (the
interrupted send is reconciled with Twilio's message list) and sending resumes within seconds.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from rq import Worker
from sqlalchemy import func, select

from hotline_core.models import OutboxMessage, Ticket
from hotline_core.models.messaging import MessageStatus
from simulator.twilio_requests import Phone
from tests.conftest import BACKEND, ROOT, wait_for, wsgi_transport

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(BACKEND != "postgres", reason="SIGKILL needs real worker processes (PostgreSQL + Redis)"),
]
TEXTS = 24
RATE = 4  # segments per second


@pytest.fixture
def twilio_workers(twilio_settings, fake_twilio):
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        s = twilio_settings
        env = dict(
            os.environ,
            HOTLINE_ENV="test",
            SECRET_KEY="test-secret",
            DATABASE_URL=s.database_url,
            REDIS_URL=s.redis_url or "",
            HOTLINE_INSTANCE_PATH=str(s.instance_path),
            HOTLINE_SMS_SEGMENTS_PER_SECOND=str(RATE),
            TWILIO_ACCOUNT_SID=s.twilio_account_sid or "",
            TWILIO_AUTH_TOKEN=s.twilio_auth_token or "",
            TWILIO_PHONE_NUMBER=s.twilio_phone_number or "",
            TWILIO_API_BASE_URL=s.twilio_api_base_url or "",
            PUBLIC_BASE_URL=s.public_base_url or "",
        )
        proc = subprocess.Popen(
            [sys.executable, "-m", "hotline_app.cli", "worker"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    yield start
    # Each worker leads its own process group (start_new_session): end the group, not only the
    # worker, so the job process RQ forked (a SIGKILLed worker's is orphaned mid-send) does not
    # live on to send the next tests' texts.
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(proc.pid, sig)


@pytest.fixture
def twilio_app(twilio_settings, clock):
    from hotline_app.bootstrap import bootstrap
    from hotline_app.factory import create_app
    from hotline_core.runtime import set_current

    rt = bootstrap(twilio_settings)
    app = create_app(runtime=rt)
    yield app, rt
    set_current(None)
    rt.db.dispose()


def dispatching_worker(runtime) -> Worker | None:
    for worker in Worker.all(connection=runtime.jobs.connection):
        job = worker.get_current_job()
        if job is not None and job.func_name == "hotline_core.outbox.dispatch_job":
            return worker
    return None


def test_sigkill_of_the_sending_worker_mid_burst_loses_no_text_and_sends_no_sms_twice(
    twilio_app, twilio_settings, twilio_workers, fake_twilio
):
    app, runtime = twilio_app
    fake_twilio.delay_seconds = 0.4  # Twilio answers slowly
    phone = Phone("https://hotline.example.org", twilio_settings.webhook_auth_token, wsgi_transport(app))
    workers = [twilio_workers(), twilio_workers()]
    for i in range(TEXTS // 2):
        assert phone.text(f"+86138001381{i:02d}", f"投诉第{i}件：窗口办事拖延").status == 200

    victim = wait_for(lambda: len(fake_twilio.messages()) >= 2 and dispatching_worker(runtime), timeout=40)
    time.sleep(0.2)  # inside a send: the fake API is answering
    os.kill(victim.pid, signal.SIGKILL)
    killed_at, sent_at_kill = time.monotonic(), len(fake_twilio.messages())
    survivor = next(p for p in workers if p.pid != victim.pid)
    assert survivor.poll() is None

    for i in range(TEXTS // 2, TEXTS):  # the burst goes on
        assert phone.text(f"+86138001381{i:02d}", f"投诉第{i}件：窗口办事拖延").status == 200
    wait_for(lambda: len(fake_twilio.messages()) > sent_at_kill + 1, timeout=30)
    resumed_after = time.monotonic() - killed_at
    assert resumed_after < 25

    def settled():
        with runtime.db.session() as s:
            tickets = s.scalar(select(func.count()).select_from(Ticket)) or 0
            open_messages = s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.CLAIMED]))
            )
        return tickets == TEXTS and open_messages == 0

    wait_for(settled, timeout=120, interval=0.5)
    with runtime.db.session() as s:
        sources = s.scalars(select(Ticket.source_ref)).all()
        acks = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement")).all()
    assert len(set(sources)) == TEXTS  # no text lost, none doubled
    sent = Counter((r.field("To"), r.field("Body")) for r in fake_twilio.messages())
    assert [pair for pair, n in sent.items() if n > 1] == []  # no SMS sent twice
    assert len(acks) == TEXTS and all(a.twilio_sid for a in acks)  # every acknowledgement went out once
    print(f"sending resumed {resumed_after:.1f} s after the SIGKILL")
