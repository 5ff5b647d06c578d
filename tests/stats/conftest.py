"""A small dataset whose figures are computed by hand in the tests (modules using it start from
the demo city: ``pytestmark = pytest.mark.demo_city``)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.models import Ticket, User
from intake.services import process_ticket_job
from responders import services as portal
from responders import survey
from routing import escalation
from stats import facts
from tests.factories import complaint

BEIJING = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)


def at(clock, hours):
    clock.set(MONDAY_9 + timedelta(hours=hours))


@pytest.fixture
def dataset(runtime, clock):
    """Three tickets for the housing bureau, created Monday 2026-11-23 09:00:

    T1 signed 10:00, contacted 11:00, resolved Tue 09:00; survey: solved, 5.
    T2 signed 15:00 and contacted 15:30 (sign-for deadline 14:30: late); resolved Tue 10:00; survey: solved, 3.
    T3 never signed: overdue and escalated to the unit head on Tuesday's sweep.
    """
    at(clock, 0)
    ids = []
    for i in range(3):
        ticket = complaint(runtime, f"东湖小区物业乱收费，第{i + 1}次反映", phone=f"+861380013800{i}")
        process_ticket_job(ticket.id)
        ids.append(ticket.id)
    with runtime.db.session() as s:
        staff = s.scalars(select(User).where(User.username == "unitstaff")).one()

    def act(hours, func, ticket_id, *args):
        at(clock, hours)
        with runtime.db.transaction() as s:
            func(s, runtime, s.get(Ticket, ticket_id), s.merge(staff, load=False), *args)

    act(1, portal.sign_for, ids[0])
    act(2, portal.record_contact, ids[0], "电话联系")
    act(6, portal.sign_for, ids[1])
    act(6.5, portal.record_contact, ids[1], "电话联系")
    act(24, portal.resolve, ids[0], "已退费")
    act(25, portal.resolve, ids[1], "已退费")
    for ticket_id, rating in ((ids[0], 5), (ids[1], 3)):
        with runtime.db.transaction() as s:
            row = survey.start_survey(s, runtime, s.get(Ticket, ticket_id))
            survey.record_answer(s, runtime, row, solved=True, rating=rating, raw=f"1 {rating}")
    at(clock, 25)
    escalation.sweep(runtime)
    facts.refresh(runtime)
    return ids
