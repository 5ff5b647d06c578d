"""A ticket is one complaint, whatever channel it came by, with its append-only timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline_core.db import Base, utcnow


class Channel:
    PHONE = "phone"
    SMS = "sms"
    WEB = "web"
    OPEN311 = "open311"
    ALL = (PHONE, SMS, WEB, OPEN311)


class TicketState:
    """The states a ticket can be in. Which command moves it from one to another is
    ``routing.lifecycle.TRANSITIONS``, the only code that assigns ``Ticket.state``."""

    RECEIVED = "received"
    DISPATCH = "dispatch"
    ASSIGNED = "assigned"
    SIGNED = "signed"
    APPROVAL = "approval"  # the officer proposed a resolution; the unit head approves or sends it back
    RESOLVED = "resolved"
    CLOSED = "closed"
    MERGED = "merged"
    OPEN = (RECEIVED, DISPATCH, ASSIGNED, SIGNED, APPROVAL)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("channel", "source_ref"),
        Index("ix_tickets_phone_channel_last", "citizen_phone", "channel", "last_citizen_message_at"),
        # Tickets still waiting to be routed, oldest first (see intake.services.process_waiting_job).
        Index(
            "ix_tickets_waiting",
            "id",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    channel: Mapped[str] = mapped_column(String(10))
    source_ref: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(5))
    citizen_phone: Mapped[str | None] = mapped_column(String(40))
    citizen_phone_valid: Mapped[bool] = mapped_column(default=False)
    citizen_name: Mapped[str | None] = mapped_column(String(100))
    anonymous: Mapped[bool] = mapped_column(default=False)
    contact_consent: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text, default="")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    state: Mapped[str] = mapped_column(String(20), default=TicketState.RECEIVED, index=True)
    urgency: Mapped[str | None] = mapped_column(String(20))
    policy: Mapped[str | None] = mapped_column(String(40))
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    redo_count: Mapped[int] = mapped_column(default=0, server_default="0")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    resolved_at: Mapped[datetime | None]
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reason: Mapped[str | None] = mapped_column(String(200))
    lookup_code: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    last_citizen_message_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None] = mapped_column(index=True)

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="save-update, merge"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="ticket", order_by="Attachment.id", cascade="save-update, merge"
    )

    @property
    def is_open(self) -> bool:
        return self.state in TicketState.OPEN


class TicketEvent(Base):
    """One entry of a ticket's timeline. Rows are never updated or deleted."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100), default="system")
    body: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete a timeline entry."""


@event.listens_for(TicketEvent, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: TicketEvent) -> None:
    raise AppendOnlyError(f"ticket event {target.id} is append-only")


@event.listens_for(TicketEvent, "before_delete")
def _refuse_delete(_mapper: Any, _connection: Any, target: TicketEvent) -> None:
    raise AppendOnlyError(f"ticket event {target.id} is append-only")


class Attachment(Base):
    """A file or link that belongs to a ticket: MMS media, a call recording, an uploaded file."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(String(1000))
    external_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    content_type: Mapped[str | None] = mapped_column(String(100))
    filename: Mapped[str | None] = mapped_column(String(255))
    storage_path: Mapped[str | None] = mapped_column(String(255))
    size_bytes: Mapped[int | None]
    duration_seconds: Mapped[int | None]
    # Why a Twilio media file could not be kept yet (the URL stays; the keep job retries).
    fetch_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="attachments")
