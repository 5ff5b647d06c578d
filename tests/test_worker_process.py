"""Jobs run in real workers: `hotline worker` processes on Redis, the worker thread when embedded."""

import pytest
from sqlalchemy import select

from hotline_core.models import OutboxMessage, Ticket
from simulator.twilio_requests import Phone
from tests.conftest import wait_for, wsgi_transport

pytestmark = pytest.mark.worker


@pytest.fixture
def phone(app, settings):
    """A phone that leaves every job to the workers under test."""
    return Phone("http://localhost", settings.webhook_auth_token, wsgi_transport(app), settings.hotline_number)


def processed(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(Ticket).where(Ticket.processed_at.is_not(None))).all()


def outbox_statuses(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(OutboxMessage.status)).all()


def test_a_worker_processes_a_texted_complaint(phone, runtime, worker_process):
    worker_process()
    phone.text("+8613800138000", "路灯坏了三天没人修")
    [ticket] = wait_for(lambda: processed(runtime), timeout=20)
    assert ticket.channel == "sms"


def test_a_worker_sends_the_acknowledgement_of_a_phoned_complaint(phone, runtime, worker_process):
    worker_process()
    phone.call("+8613900139000", speech="窗口工作人员态度很差")
    wait_for(lambda: processed(runtime), timeout=20)
    assert wait_for(lambda: outbox_statuses(runtime) == ["not_sent_no_credentials"], timeout=20)


def test_two_workers_process_a_burst_once_each(phone, runtime, worker_process):
    worker_process()
    worker_process()
    for i in range(30):
        phone.text(f"+86138001380{i:02d}", f"投诉第{i}件：窗口办事拖延")
    done = wait_for(lambda: len(processed(runtime)) == 30 and processed(runtime), timeout=30)
    assert len({t.id for t in done}) == 30
    from hotline_core.models import TicketEvent

    with runtime.db.session() as s:
        kinds = s.scalars(select(TicketEvent.kind).where(TicketEvent.kind == "processed")).all()
        acks = s.scalars(select(OutboxMessage.ticket_id).where(OutboxMessage.kind == "acknowledgement")).all()
    assert len(kinds) == 30
    assert sorted(acks) == sorted(t.id for t in done)  # one acknowledgement each
