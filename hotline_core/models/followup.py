"""After routing: extension requests, the citizen's callback survey, masked call-backs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline_core.db import Base, utcnow


class ExtensionRequest(Base):
    """A unit asks for more time; a dispatcher approves (the deadline moves) or refuses."""

    __tablename__ = "extension_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    new_due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)


class Survey(Base):
    """The callback survey (回访) after a resolution: solved? how satisfied? One per resolution round.

    ``solved`` and ``satisfaction`` (1-5) are the data the statistics turn into resolution and
    satisfaction rates; ``state`` is pending, answered or no_reply.
    """

    __tablename__ = "surveys"
    __table_args__ = (Index("ix_surveys_phone_state", "phone", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    round: Mapped[int] = mapped_column(default=0)
    channel: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(5), default="zh")
    phone: Mapped[str | None] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    reply_by: Mapped[datetime]
    solved: Mapped[bool | None]
    satisfaction: Mapped[int | None]
    answered_at: Mapped[datetime | None]
    replies: Mapped[list[Any]] = mapped_column(default=list)
    call_sid: Mapped[str | None] = mapped_column(String(64))


class CallbackCall(Base):
    """A masked call-back: Twilio rings the staff member, then bridges the citizen with the hotline's
    number as caller ID, so neither side sees the other's number."""

    __tablename__ = "callback_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="requested")
    token: Mapped[str] = mapped_column(String(64), unique=True)
