"""Per-ticket facts for statistics: one row per ticket, rebuilt from its events by a job.

Leaders' figures are aggregates over this table, so they stay fast on millions of tickets and every
figure can be traced back to the tickets (and through them to the events) behind it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline_core.db import Base, utcnow


class TicketFact(Base):
    __tablename__ = "ticket_facts"
    __table_args__ = (
        Index("ix_ticket_facts_month_unit", "month", "unit_id"),
        Index("ix_ticket_facts_day", "day"),
    )

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    created_at: Mapped[datetime]
    day: Mapped[date] = mapped_column(Date)
    month: Mapped[str] = mapped_column(String(7))
    channel: Mapped[str] = mapped_column(String(10))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    unit_tier: Mapped[str | None] = mapped_column(String(40))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    state: Mapped[str] = mapped_column(String(20))
    assigned: Mapped[bool] = mapped_column(default=False)
    sign_seconds: Mapped[float | None]
    sign_working_seconds: Mapped[float | None]
    contact_seconds: Mapped[float | None]
    resolve_seconds: Mapped[float | None]
    resolve_working_seconds: Mapped[float | None]
    sign_on_time: Mapped[bool | None]
    contact_on_time: Mapped[bool | None]
    resolve_on_time: Mapped[bool | None]
    responded_in_time: Mapped[bool] = mapped_column(default=False)
    overdue: Mapped[bool] = mapped_column(default=False)
    escalated: Mapped[bool] = mapped_column(default=False)
    returns: Mapped[int] = mapped_column(default=0)
    extensions: Mapped[int] = mapped_column(default=0)
    reopened: Mapped[int] = mapped_column(default=0)
    surveyed: Mapped[bool] = mapped_column(default=False)
    solved: Mapped[bool | None]
    satisfaction: Mapped[int | None]
    # When each clock stopped and when it was due: the on-time outcomes are judged from these at the
    # moment of reading (a ticket still inside its deadline is "not yet due", not late).
    signed_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    sign_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)
