"""Facts of tickets with eventful histories: holidays, returns, extensions, redo, merges; exports and the bulletin."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.audit import Actor
from hotline_core.models import Assignment, Ticket, TicketFact, Unit, User
from intake.services import process_ticket_job
from responders import services as portal
from routing import services as routing
from stats import facts, reports
from tests.factories import complaint
from tests.helpers import sign_in

pytestmark = pytest.mark.demo_city

BEIJING = ZoneInfo("Asia/Shanghai")
DISPATCHER = Actor("user:dispatcher")


def staff(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(User).where(User.username == "unitstaff")).one()


def fact(runtime, ticket_id):
    facts.refresh(runtime, [ticket_id])
    with runtime.db.session() as s:
        return s.get(TicketFact, ticket_id)


def test_working_time_skips_the_national_day_holiday(runtime, clock):
    clock.set(datetime(2026, 9, 30, 16, 0, tzinfo=BEIJING))
    ticket = complaint(runtime, "东湖小区物业乱收费")
    process_ticket_job(ticket.id)
    clock.set(datetime(2026, 10, 8, 9, 0, tzinfo=BEIJING))  # 1-7 October are holidays
    with runtime.db.transaction() as s:
        portal.sign_for(s, runtime, s.get(Ticket, ticket.id), s.merge(staff(runtime), load=False))
    row = fact(runtime, ticket.id)
    assert row.sign_seconds == (7 * 24 + 17) * 3600  # clock time: 30 Sep 16:00 to 8 Oct 09:00
    assert row.sign_working_seconds == 2 * 3600  # 16:00-17:30 on 30 Sep, 08:30-09:00 on 8 Oct
    assert row.sign_on_time is True  # 4 working hours: 1.5 h on 30 Sep, 2.5 h on 8 Oct -> due 8 Oct 11:00
    assert row.day == date(2026, 9, 30) and row.month == "2026-09"


def test_returns_extensions_and_redo_are_counted(runtime, clock):
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING))
    ticket = complaint(runtime, "东湖小区物业乱收费")
    process_ticket_job(ticket.id)
    with runtime.db.transaction() as s:
        lead = s.scalars(select(Assignment).where(Assignment.ticket_id == ticket.id, Assignment.role == "lead")).one()
        commerce = s.scalars(select(Unit.id).where(Unit.code == "COMMERCE")).one()
        routing.return_ticket(s, runtime, lead, reason="非本单位职责", suggested_unit_id=commerce, actor=DISPATCHER)
    with runtime.db.transaction() as s:
        housing = s.scalars(select(Unit.id).where(Unit.code == "HOUSING")).one()
        routing.route_manually(s, runtime, s.get(Ticket, ticket.id), lead_unit_id=housing, actor=DISPATCHER)
    with runtime.db.transaction() as s:
        routing.approve_extension(
            s, runtime, s.get(Ticket, ticket.id), working_days=2, reason="联合调查", actor=DISPATCHER
        )
    with runtime.db.transaction() as s:
        s.get(Ticket, ticket.id).redo_count = 1
        s.add(s.get(Ticket, ticket.id))
    row = fact(runtime, ticket.id)
    assert (row.returns, row.extensions, row.reopened) == (1, 1, 1)


def test_a_merged_duplicate_keeps_its_own_fact_in_the_merged_state(runtime, clock):
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING))
    first, second = complaint(runtime, "东湖小区物业乱收费"), complaint(runtime, "东湖小区物业乱收费又来了")
    with runtime.db.transaction() as s:
        dispatcher = s.scalars(select(User).where(User.username == "dispatcher")).one()
        portal.merge(s, runtime, s.get(Ticket, second.id), s.get(Ticket, first.id), dispatcher)
    assert fact(runtime, second.id).state == "merged"


def test_the_weekly_job_keeps_a_snapshot_in_both_languages(runtime, dataset, clock):
    clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=BEIJING))  # the following week
    assert reports.weekly_job() == "2026-11-23"
    with runtime.db.session() as s:
        snapshot = reports.stored(s, date(2026, 11, 23))
    assert snapshot["zh"]["units"][0]["name"] == "市住房和城乡建设局" and snapshot["zh"]["units"][0]["count"] == 3
    assert snapshot["en"]["units"][0]["name"] == "Housing and Urban-Rural Development Bureau"


def test_exports_and_charts(app, dataset):
    client = sign_in(app, "leader")
    page = client.get("/stats/?period=week&date=2026-11-23").get_data(as_text=True)
    assert page.count("<svg") == 4  # volume by unit, tickets per day, the rates per day, the medians per day
    xlsx = client.get("/stats/export.xlsx?period=month&date=2026-11-23")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK" and b"xl/worksheets/sheet1.xml" in xlsx.data


def test_later_events_refresh_the_fact(runtime, dataset, clock):
    with runtime.db.session() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.state == "assigned")).first()
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=BEIJING))
    with runtime.db.transaction() as s:
        portal.sign_for(s, runtime, s.get(Ticket, ticket.id), s.merge(staff(runtime), load=False))
    facts.refresh(runtime)
    with runtime.db.session() as s:
        assert s.get(TicketFact, ticket.id).sign_seconds == timedelta(days=2).total_seconds()


def test_only_one_facts_refresh_runs_at_a_time(runtime):
    ticket = complaint(runtime, "东湖小区物业乱收费")
    running = runtime.jobs.connection.lock(facts.REFRESH_LOCK, timeout=60)
    assert running.acquire(blocking=False)  # a refresh is still busy with a burst
    assert facts.refresh_job() == 0
    with runtime.db.session() as s:
        assert s.get(TicketFact, ticket.id) is None
    running.release()
    assert facts.refresh_job() == 1
    with runtime.db.session() as s:
        assert s.get(TicketFact, ticket.id) is not None


def test_the_bulletin_waits_for_a_running_refresh_instead_of_racing_it(runtime, monkeypatch):
    import threading

    ticket = complaint(runtime, "东湖小区物业乱收费")
    running = runtime.jobs.connection.lock(facts.REFRESH_LOCK, timeout=60, thread_local=False)
    assert running.acquire(blocking=False)
    threading.Timer(0.5, running.release).start()  # the running refresh finishes half a second later
    holders = []
    real = facts.refresh

    def refresh(rt, ticket_ids=None):
        holders.append(runtime.jobs.connection.get(facts.REFRESH_LOCK))
        return real(rt, ticket_ids)

    monkeypatch.setattr(facts, "refresh", refresh)
    reports.generate(runtime, date(2026, 11, 16))
    assert holders and holders[0] != running.local.token  # it ran only once the other had finished
    with runtime.db.session() as s:
        assert s.get(TicketFact, ticket.id) is not None
