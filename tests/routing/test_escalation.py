"""The escalation sweep with a controllable clock: each step once, in order, whatever happens."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.audit import Actor
from hotline_core.models import AccountabilityEntry, Assignment, EscalationStep, OutboxMessage, Ticket, TicketEvent
from intake.services import process_ticket_job
from routing import escalation, services
from tests.factories import complaint

pytestmark = pytest.mark.demo_city

BEIJING = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)
SIGN_FOR_DUE = datetime(2026, 11, 23, 14, 30, tzinfo=BEIJING)  # 4 working hours


@pytest.fixture
def ticket(runtime, clock):
    clock.set(MONDAY_9)
    created = complaint(runtime, "办事窗口推诿扯皮，让我来回跑了五次")
    process_ticket_job(created.id)
    return created


def at(clock, moment):
    clock.set(moment)


def steps(runtime, kind="sign_for"):
    from hotline_core.models import Deadline

    with runtime.db.session() as s:
        rows = s.execute(
            select(EscalationStep.step, Deadline.kind)
            .join(Deadline, Deadline.id == EscalationStep.deadline_id)
            .order_by(EscalationStep.id)
        ).all()
    return [step for step, k in rows if k == kind]


def sms(runtime, kind):
    with runtime.db.session() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).all()


def test_nothing_fires_early(runtime, clock, ticket):
    at(clock, MONDAY_9 + timedelta(hours=1))
    assert sum(escalation.sweep(runtime).values()) == 0


def test_the_warning_fires_at_three_quarters_of_the_time(runtime, clock, ticket):
    at(clock, datetime(2026, 11, 23, 11, 59, tzinfo=BEIJING))  # 2h59 of 4 working hours
    escalation.sweep(runtime)
    assert steps(runtime) == []
    at(clock, datetime(2026, 11, 23, 12, 0, tzinfo=BEIJING))  # 3h of 4: 75 %
    escalation.sweep(runtime)
    assert steps(runtime) == ["warning"]
    assert [m.to_number for m in sms(runtime, "warning")] == ["+8613900000108"]  # the lead unit's contact


def test_each_step_fires_once_and_in_order(runtime, clock, ticket):
    at(clock, SIGN_FOR_DUE + timedelta(minutes=1))
    escalation.sweep(runtime)
    assert steps(runtime) == ["warning", "overdue"]
    at(clock, SIGN_FOR_DUE + timedelta(hours=4, minutes=1))
    escalation.sweep(runtime)
    escalation.sweep(runtime)
    assert steps(runtime) == ["warning", "overdue", "unit_head"]
    at(clock, SIGN_FOR_DUE + timedelta(hours=72, minutes=1))
    escalation.sweep(runtime)
    escalation.sweep(runtime)
    assert steps(runtime) == ["warning", "overdue", "unit_head", "supervision", "leaders"]
    assert len(sms(runtime, "overdue")) == 1  # the lead unit's contact, once
    assert [m.to_number for m in sms(runtime, "supervision")] == ["+8613900000100", "+8613900000301"]
    assert [m.to_number for m in sms(runtime, "leaders")] == ["+8613900000401"]


def test_overdue_tickets_join_the_accountability_list(runtime, clock, ticket):
    at(clock, SIGN_FOR_DUE + timedelta(hours=30))
    escalation.sweep(runtime)
    with runtime.db.session() as s:
        [entry] = s.scalars(select(AccountabilityEntry)).all()
        reminders = s.scalars(select(TicketEvent).where(TicketEvent.kind == "reminder")).all()
    assert entry.ticket_id == ticket.id and entry.kind == "sign_for" and entry.level == "supervision"
    assert entry.due_at == SIGN_FOR_DUE
    assert [r.data["step"] for r in reminders] == ["overdue", "unit_head", "supervision"]


def test_a_signed_ticket_stops_the_sign_for_ladder(runtime, clock, ticket):
    at(clock, MONDAY_9 + timedelta(hours=1))
    with runtime.db.transaction() as s:
        lead = s.scalars(select(Assignment).where(Assignment.ticket_id == ticket.id, Assignment.role == "lead")).one()
        services.sign_for(s, runtime, lead, actor=Actor("user:unitstaff", 3))
    at(clock, SIGN_FOR_DUE + timedelta(days=5))
    escalation.sweep(runtime)
    assert steps(runtime, "sign_for") == []


def test_a_paused_clock_does_not_escalate(runtime, clock, ticket):
    at(clock, MONDAY_9 + timedelta(hours=1))
    with runtime.db.transaction() as s:
        services.pause_clock(s, runtime, s.get(Ticket, ticket.id), reason="awaiting_citizen", actor=Actor("x"))
    at(clock, datetime(2026, 12, 30, 9, 0, tzinfo=BEIJING))
    escalation.sweep(runtime)
    assert steps(runtime, "resolution") == []


def test_a_crash_half_way_loses_and_repeats_nothing(runtime, clock, ticket, monkeypatch):
    at(clock, SIGN_FOR_DUE + timedelta(minutes=1))
    real = services.queue_notifications

    def crash(*args, **kwargs):
        raise RuntimeError("worker died")

    monkeypatch.setattr(services, "queue_notifications", crash)
    with pytest.raises(RuntimeError):
        escalation.sweep(runtime)
    # the skipped warning and the overdue step of a deadline share one transaction: both were rolled back
    assert steps(runtime) == [] and sms(runtime, "overdue") == []
    monkeypatch.setattr(services, "queue_notifications", real)
    escalation.sweep(runtime)
    assert steps(runtime) == ["warning", "overdue"]
    assert len(sms(runtime, "warning")) == 0 and len(sms(runtime, "overdue")) == 1


@pytest.mark.committed  # two threads, two connections
def test_two_sweeps_at_once_fire_each_step_once(runtime, clock, ticket):
    at(clock, SIGN_FOR_DUE + timedelta(hours=80))
    errors = []

    def run():
        try:
            escalation.sweep(runtime)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert steps(runtime) == ["warning", "overdue", "unit_head", "supervision", "leaders"]
    assert len(sms(runtime, "leaders")) == 1


def test_the_sweep_is_a_periodic_job(runtime):
    assert any(job.func is escalation.sweep_job for job in runtime.jobs.periodic)


# --- issue 13 point 6: a sweep catching up after a gap --------------------------------------------


def step_outcomes(runtime):
    with runtime.db.session() as s:
        return dict(s.execute(select(EscalationStep.step, EscalationStep.outcome).order_by(EscalationStep.id)).all())


def test_a_sweep_catching_up_on_a_late_deadline_skips_the_warning_instead_of_sending_it(runtime, clock, ticket):
    at(clock, SIGN_FOR_DUE + timedelta(hours=2))  # the worker was down through the warning time
    fired = escalation.sweep(runtime)
    assert fired["warning"] == 0 and fired["overdue"] == 1
    assert step_outcomes(runtime) == {"warning": "skipped", "overdue": "sent"}
    assert sms(runtime, "warning") == [] and len(sms(runtime, "overdue")) == 1
    with runtime.db.session() as s:
        [warning] = s.scalars(select(TicketEvent).where(TicketEvent.kind == "deadline_warning")).all()
    assert warning.data["skipped"] is True and warning.data["messages"] == []


def test_a_warning_on_time_is_recorded_as_sent_with_its_outbox_messages(runtime, clock, ticket):
    at(clock, datetime(2026, 11, 23, 12, 0, tzinfo=BEIJING))
    escalation.sweep(runtime)
    assert step_outcomes(runtime) == {"warning": "sent"}
    with runtime.db.session() as s:
        [warning] = s.scalars(select(TicketEvent).where(TicketEvent.kind == "deadline_warning")).all()
        assert warning.data["messages"] == [m.id for m in sms(runtime, "warning")]
