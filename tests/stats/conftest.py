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


class Housing:
    """Three housing-bureau tickets created Monday 2026-11-23 09:00 (sign-for deadline 14:30); the
    first signed for at 10:00 and its citizen contacted at 11:00. ``act`` does more, as unit staff."""

    def __init__(self, runtime, clock) -> None:
        self.runtime, self.clock = runtime, clock
        at(clock, 0)
        self.ids = []
        for i in range(3):
            ticket = complaint(runtime, f"东湖小区物业乱收费，第{i + 1}次反映", phone=f"+861380013800{i}")
            process_ticket_job(ticket.id)
            self.ids.append(ticket.id)
        with runtime.db.session() as s:
            self.staff = s.scalars(select(User).where(User.username == "unitstaff")).one()
        self.act(1, portal.sign_for, self.ids[0])
        self.act(2, portal.record_contact, self.ids[0], "电话联系")

    def act(self, hours, func, ticket_id, *args):
        """``func(session, runtime, ticket, unit staff, *args)`` at Monday 09:00 + ``hours``."""
        at(self.clock, hours)
        with self.runtime.db.transaction() as s:
            func(s, self.runtime, s.get(Ticket, ticket_id), s.merge(self.staff, load=False), *args)


@pytest.fixture
def housing_tickets(runtime, clock):
    """The three fresh housing tickets of :class:`Housing`."""
    return Housing(runtime, clock)


@pytest.fixture
def dataset(runtime, clock, housing_tickets):
    """The three housing tickets of :class:`Housing`, carried on:

    T1 signed 10:00, contacted 11:00, resolved Tue 09:00; survey: solved, 5.
    T2 signed 15:00 and contacted 15:30 (sign-for deadline 14:30: late); resolved Tue 10:00; survey: solved, 3.
    T3 never signed: overdue and escalated to the unit head on Tuesday's sweep.
    """
    ids, act = housing_tickets.ids, housing_tickets.act
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
