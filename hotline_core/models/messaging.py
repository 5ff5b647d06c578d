"""Outbound SMS go through an outbox; Twilio's delivery reports are kept beside it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline_core.db import Base, utcnow


class MessageStatus:
    PENDING = "pending"
    CLAIMED = "claimed"  # a dispatcher committed its claim and is calling Twilio (or died doing so)
    NOT_SENT_NO_CREDENTIALS = "not_sent_no_credentials"
    OPTED_OUT = "opted_out"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    TWILIO = (
        "queued",
        "sending",
        "sent",
        "delivered",
        "undelivered",
        "failed",
        "accepted",
        "scheduled",
        "read",
        "partially_delivered",
        "canceled",
    )
    FINAL = (DELIVERED, UNDELIVERED, FAILED, NOT_SENT_NO_CREDENTIALS, OPTED_OUT, "read", "canceled")


class Priority:
    """Lower numbers go first: a burst of complaints must not delay their acknowledgements."""

    ACKNOWLEDGEMENT = 0
    REPLY = 10
    NOTIFICATION = 20
    SURVEY = 30
    BULK = 50


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_due", "status", "priority", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_number: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(30))
    priority: Mapped[int] = mapped_column(default=Priority.NOTIFICATION)
    status: Mapped[str] = mapped_column(String(30), default=MessageStatus.PENDING)
    segments: Mapped[int] = mapped_column(default=1)
    encoding: Mapped[str] = mapped_column(String(10), default="GSM-7")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    twilio_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    status_updated_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]  # when a dispatcher claimed it (status "claimed")


class MessageStatusEvent(Base):
    """One status callback from Twilio; (sid, status) is unique so retries are harmless."""

    __tablename__ = "message_status_events"
    __table_args__ = (UniqueConstraint("message_sid", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_sid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(30))
    error_code: Mapped[str | None] = mapped_column(String(20))
    form: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class OptOut(Base):
    """A phone number that texted STOP / 退订; no SMS is sent to it until it texts START."""

    __tablename__ = "opt_outs"

    phone: Mapped[str] = mapped_column(String(40), primary_key=True)
    opted_out: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SmsConversation(Base):
    """What the hotline remembers about a number's text conversation (issue 13, point 9).

    ``new_since``: the citizen texted 新投诉/NEW; texts from then on do not join a ticket whose last
    message came earlier (the next complaint opens a new ticket).
    """

    __tablename__ = "sms_conversations"

    phone: Mapped[str] = mapped_column(String(40), primary_key=True)
    new_since: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebAcknowledgement(Base):
    """When the web form last texted an acknowledgement to a number.

    Claimed in one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE sent_at < window start RETURNING``, so
    of two posts at the same instant only one gets the row back and texts: at most one acknowledgement
    per number per window, atomically, on PostgreSQL and SQLite alike.
    """

    __tablename__ = "web_acknowledgements"

    phone: Mapped[str] = mapped_column(String(40), primary_key=True)
    sent_at: Mapped[datetime]
