"""Nothing acknowledged is lost: raw events first, idempotent processing, sweeps that catch up."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline_core.models import InboundEvent, OutboxMessage, Ticket, TicketEvent
from hotline_core.models.ticket import AppendOnlyError
from hotline_core.queue import JobQueue
from intake import inbound, services
from simulator.twilio_requests import Phone, sms_form
from tests.conftest import wsgi_transport
from webhooks import processors

CITIZEN = "+8613800138000"


def rows(runtime, model):
    with runtime.db.session() as s:
        return s.scalars(select(model).order_by(model.id)).all()


def test_a_processing_failure_keeps_the_raw_event_and_a_sweep_finishes_the_work(phone, runtime, monkeypatch, clock):
    real = processors.PROCESSORS["sms"]

    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    monkeypatch.setitem(processors.PROCESSORS, "sms", broken)
    exchange = phone.text(CITIZEN, "路灯坏了三天没人修")
    assert exchange.status == 200  # Twilio still gets a valid answer
    [event] = rows(runtime, InboundEvent)
    assert event.processed_at is None and "database hiccup" in event.error
    assert rows(runtime, Ticket) == []

    monkeypatch.setitem(processors.PROCESSORS, "sms", real)
    clock.advance(60)
    assert inbound.sweep_job() == 1
    runtime.jobs.run_burst()
    [ticket] = rows(runtime, Ticket)
    assert ticket.text == "路灯坏了三天没人修"
    [ack] = rows(runtime, OutboxMessage)  # the caller is gone: the number goes by SMS
    assert ack.to_number == CITIZEN and ticket.number in ack.body
    assert rows(runtime, InboundEvent)[0].processed_at is not None


def test_a_crash_between_storing_and_processing_loses_nothing(runtime, clock):
    received = inbound.receive(
        runtime,
        kind="sms",
        dedupe_key="sms:SMcrash",
        url="https://x/twilio/sms",
        form=sms_form(CITIZEN, "+8612345000000", "窗口推诿", message_sid="SMcrash"),
        headers={},
    )
    assert not received.processed  # ... and the process died here
    clock.advance(60)
    inbound.sweep_job()
    runtime.jobs.run_burst()
    [ticket] = rows(runtime, Ticket)
    assert ticket.source_ref == "SMcrash"
    assert inbound.sweep_job() == 0


def test_reprocessing_an_event_twice_makes_one_ticket(runtime):
    received = inbound.receive(
        runtime,
        kind="sms",
        dedupe_key="sms:SMtwice",
        url="https://x/twilio/sms",
        form=sms_form(CITIZEN, "+8612345000000", "窗口推诿", message_sid="SMtwice"),
        headers={},
    )
    inbound.process_job(received.event_id)
    inbound.process_job(received.event_id)
    assert len(rows(runtime, Ticket)) == 1


def test_when_redis_is_down_a_text_is_stored_and_answered_and_the_sweep_finishes_it(app, settings, runtime, clock):
    working_queue = runtime.jobs
    runtime.jobs = JobQueue("redis://127.0.0.1:1/0")  # nothing listens there
    exchange = Phone("http://localhost", settings.webhook_auth_token, wsgi_transport(app)).text(CITIZEN, "窗口推诿")
    assert exchange.status == 200
    [event] = rows(runtime, InboundEvent)
    assert event.form["Body"] == "窗口推诿" and event.processed_at is None

    runtime.jobs = working_queue  # Redis is back
    clock.advance(60)
    assert inbound.sweep_job() == 1
    runtime.jobs.run_burst()
    [ticket] = rows(runtime, Ticket)
    assert ticket.processed_at is not None
    [ack] = rows(runtime, OutboxMessage)
    assert ticket.number in ack.body


def test_when_redis_is_down_a_web_complaint_is_stored_and_the_sweep_processes_it(runtime, clock):
    from tests.factories import complaint

    working_queue = runtime.jobs
    runtime.jobs = JobQueue("redis://127.0.0.1:1/0")
    complaint(runtime)
    [ticket] = rows(runtime, Ticket)
    assert ticket.number and ticket.processed_at is None

    runtime.jobs = working_queue
    clock.advance(120)
    assert services.sweep_unprocessed_job() == 1
    runtime.jobs.run_burst()
    assert rows(runtime, Ticket)[0].processed_at is not None


def test_outbox_messages_written_while_redis_was_down_are_sent_by_the_sweep(runtime, drain):
    from hotline_core import outbox
    from tests.factories import complaint

    working_queue = runtime.jobs
    runtime.jobs = JobQueue("redis://127.0.0.1:1/0")
    complaint(runtime)
    runtime.jobs = working_queue
    [message] = rows(runtime, OutboxMessage)
    assert message.status == "pending"
    assert outbox.sweep_job() is True
    drain()
    assert rows(runtime, OutboxMessage)[0].status == "not_sent_no_credentials"


def test_processing_a_ticket_twice_records_it_once(runtime):
    from tests.factories import complaint

    ticket = complaint(runtime)
    assert services.process_ticket_job(ticket.id) is True
    assert services.process_ticket_job(ticket.id) is False
    with runtime.db.session() as s:
        kinds = s.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)).all()
    assert kinds.count("processed") == 1


def test_the_timeline_is_append_only(runtime):
    from tests.factories import complaint

    ticket = complaint(runtime)
    with runtime.db.session() as s:
        event = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).first()
        event.body = "rewritten"
        with pytest.raises(AppendOnlyError):
            s.flush()


def test_the_sweep_leaves_fresh_tickets_to_their_own_job(runtime, clock):
    from tests.factories import complaint

    complaint(runtime)
    assert services.sweep_unprocessed_job() == 0
    clock.advance(timedelta(minutes=2).total_seconds())
    assert services.sweep_unprocessed_job() == 1


def test_a_ticket_whose_processing_fails_does_not_hold_up_the_others(runtime, monkeypatch):
    from tests.factories import complaint

    broken, fine = complaint(runtime, "窗口推诿"), complaint(runtime, "路灯不亮")
    real = services.process_tickets

    def process(session, rt, tickets):  # routing fails on one ticket, alone or in a batch
        if any(ticket.id == broken.id for ticket in tickets):
            raise RuntimeError("routing bug")
        return real(session, rt, tickets)

    monkeypatch.setattr(services, "process_tickets", process)
    assert services.process_waiting_job() == 2  # tried once each, not again and again
    by_id = {t.id: t for t in rows(runtime, Ticket)}
    assert by_id[broken.id].processed_at is None and by_id[fine.id].processed_at is not None
    monkeypatch.setattr(services, "process_tickets", real)
    assert services.process_waiting_job() == 1  # the next job (the sweep starts one) finishes it
    assert all(t.processed_at is not None for t in rows(runtime, Ticket))
