"""Raw inbound webhook requests, kept before anything is done with them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hotline_core.db import Base, utcnow


class InboundEvent(Base):
    """One webhook request as Twilio sent it.

    It is committed before processing starts, so a crash in processing loses nothing: a sweep
    finds rows with no ``processed_at`` and processes them again. ``dedupe_key`` (for example
    ``sms:<MessageSid>``) makes Twilio's retries land on the same row.
    """

    __tablename__ = "inbound_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    idempotency_token: Mapped[str | None] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    form: Mapped[dict[str, Any]] = mapped_column(default=dict)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]  # when the sweep retries a failed event (backoff per event)
    failed_at: Mapped[datetime | None]  # gave up after MAX_ATTEMPTS: for a person (admin page, CLI)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    response: Mapped[str | None] = mapped_column(Text)

    # The events still waiting for a job, oldest first, however many millions are processed.
    __table_args__ = (
        Index(
            "ix_inbound_events_waiting",
            "id",
            postgresql_where=processed_at.is_(None),
            sqlite_where=processed_at.is_(None),
        ),
    )
