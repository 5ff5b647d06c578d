"""Routing state: rules of the dispatch directory, assignments to units, deadlines and escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline_core.clock_types import Extension, ExtensionList, Pause, PauseList
from hotline_core.db import Base, utcnow


class RoutingRule(Base):
    """Category (any level; none = any) x area (none = any) -> lead unit and co-handling units.

    Rules are never edited in place: a change closes the old row (``valid_to``) and adds a new one,
    so the routing in force at any past moment can be read back.
    """

    __tablename__ = "routing_rules"
    __table_args__ = (Index("ix_routing_rules_active", "active", "category_id", "area_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    lead_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    co_unit_ids: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)
    valid_to: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(200))


class DirectorySetting(Base):
    """Directory-wide configuration kept with the directory: calendar, deadline policies, thresholds."""

    __tablename__ = "directory_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AssignmentRole:
    LEAD = "lead"
    CO = "co"


class AssignmentState:
    ASSIGNED = "assigned"
    SIGNED = "signed"
    RETURNED = "returned"
    RESOLVED = "resolved"
    ENDED = "ended"  # superseded by a transfer or closed with the ticket
    ACTIVE = (ASSIGNED, SIGNED)


class Assignment(Base):
    """A ticket given to a unit. A split ticket has one lead and several co-handling assignments."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_unit_state", "unit_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    role: Mapped[str] = mapped_column(String(10), default=AssignmentRole.LEAD)
    state: Mapped[str] = mapped_column(String(20), default=AssignmentState.ASSIGNED)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    signed_at: Mapped[datetime | None]
    contacted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    return_reason: Mapped[str | None] = mapped_column(Text)
    suggested_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    ended_at: Mapped[datetime | None]
    # The officer of the unit the unit head gave the ticket to (issue 13 point 5); none = the unit's.
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Deadline(Base):
    """One clock of a ticket (sign-for or resolution) with the pauses and extensions it has had.

    ``due_at`` is the effective deadline, recomputed from the policy, pauses and extensions with
    ``routing.deadlines.TicketClock`` whenever one of them changes.
    """

    __tablename__ = "deadlines"
    __table_args__ = (Index("ix_deadlines_open_due", "met_at", "closed_at", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(20))
    policy: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    met_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    pauses: Mapped[list[Pause]] = mapped_column(PauseList, default=list)
    extensions: Mapped[list[Extension]] = mapped_column(ExtensionList, default=list)


class EscalationStep(Base):
    """A step of the escalation ladder taken for one deadline. Unique, so no step fires twice."""

    __tablename__ = "escalation_steps"
    __table_args__ = (UniqueConstraint("deadline_id", "step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"))
    step: Mapped[str] = mapped_column(String(30))
    fired_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "sent", or "skipped" when a sweep catching up found the deadline already past (no warning sent).
    outcome: Mapped[str] = mapped_column(String(20), default="sent", server_default="sent")


class AccountabilityEntry(Base):
    """A missed deadline, for the accountability list (问责) that reports read."""

    __tablename__ = "accountability_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    deadline_id: Mapped[int] = mapped_column(ForeignKey("deadlines.id"), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime]
    overdue_at: Mapped[datetime]
    level: Mapped[str] = mapped_column(String(30), default="overdue")


class ClassifierModel(Base):
    """A trained complaint classifier; one version is active at a time."""

    __tablename__ = "classifier_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    labels: Mapped[list[Any]] = mapped_column(default=list)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    n_samples: Mapped[int] = mapped_column(default=0)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class CacheStamp(Base):
    """A version stamp for what worker processes cache (``hotline_core.stamps``): a new random
    token whenever a row the cache is built from changes, in the same transaction as the change."""

    __tablename__ = "cache_stamps"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
