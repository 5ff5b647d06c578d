"""Mystery calls: the hotlines audited, campaigns, planned calls, their progress and scorecards."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hotline_core.db import Base, utcnow


class AuditedHotline(Base):
    """An agency's public service hotline that auditors call as ordinary citizens."""

    __tablename__ = "audited_hotlines"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    service_hours: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScorecardDefinition(Base):
    """A versioned scorecard (items, groups, weights), stored as its JSON definition."""

    __tablename__ = "scorecards"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    window_start: Mapped[date] = mapped_column(Date)
    window_end: Mapped[date] = mapped_column(Date)
    calls_per_hotline: Mapped[int] = mapped_column(default=2)
    max_per_auditor_hotline_month: Mapped[int] = mapped_column(default=2)
    caller_numbers: Mapped[list[Any]] = mapped_column(default=list)
    hotline_ids: Mapped[list[Any]] = mapped_column(default=list)
    auditor_ids: Mapped[list[Any]] = mapped_column(default=list)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id"))
    state: Mapped[str] = mapped_column(String(20), default="draft")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Scenario(Base):
    """What the auditor asks, as whom, and what a correct answer or referral would be."""

    __tablename__ = "scenarios"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    persona: Mapped[str] = mapped_column(Text, default="")
    question: Mapped[str] = mapped_column(Text, default="")
    expected_answer: Mapped[str] = mapped_column(Text, default="")


class MysteryCall(Base):
    """One planned test call: a task on an auditor's list, then its measured outcome."""

    __tablename__ = "mystery_calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    hotline_id: Mapped[int] = mapped_column(ForeignKey("audited_hotlines.id"), index=True)
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("scenarios.id"))
    auditor_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    caller_number: Mapped[str] = mapped_column(String(40))
    planned_at: Mapped[datetime]
    mode: Mapped[str] = mapped_column(String(10), default="auto")
    state: Mapped[str] = mapped_column(String(20), default="planned", index=True)
    attempt: Mapped[int] = mapped_column(default=1)
    retry_of_id: Mapped[int | None] = mapped_column(ForeignKey("mystery_calls.id"))
    call_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(20))
    ringing_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    seconds_to_answer: Mapped[float | None]
    talk_seconds: Mapped[int | None]
    answered_by: Mapped[str | None] = mapped_column(String(30))
    recording_url: Mapped[str | None] = mapped_column(String(1000))
    recording_sid: Mapped[str | None] = mapped_column(String(64))
    # the recording kept by the service (relative to the instance path): an upload, or Twilio's, downloaded
    recording_file: Mapped[str | None] = mapped_column(String(500))
    agent_id: Mapped[str | None] = mapped_column(String(60))
    flagged_reason: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")


class CallProgress(Base):
    """One call-progress callback from Twilio; repeats of the same callback are kept once."""

    __tablename__ = "call_progress"
    __table_args__ = (UniqueConstraint("call_sid", "sequence", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mystery_call_id: Mapped[int] = mapped_column(ForeignKey("mystery_calls.id"), index=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(default=-1)
    status: Mapped[str] = mapped_column(String(30))
    form: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallScore(Base):
    """A submitted score. Locked once submitted; a correction is a new version with a reason."""

    __tablename__ = "call_scores"
    __table_args__ = (UniqueConstraint("mystery_call_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mystery_call_id: Mapped[int] = mapped_column(ForeignKey("mystery_calls.id"), index=True)
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id"))
    number: Mapped[int] = mapped_column(default=1)
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[float]
    by_group: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallReview(Base):
    """A second auditor's independent score of a call, kept to measure agreement (Cohen's kappa per item).

    It never replaces the call's own score (:class:`CallScore`); one review per reviewer and call.
    """

    __tablename__ = "call_reviews"
    __table_args__ = (UniqueConstraint("mystery_call_id", "reviewer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mystery_call_id: Mapped[int] = mapped_column(ForeignKey("mystery_calls.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    scorecard_id: Mapped[int] = mapped_column(ForeignKey("scorecards.id"))
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    total: Mapped[float]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScoreDispute(Base):
    """The audited unit's head disputes a score version; an auditor upholds it or corrects it (a new version)."""

    __tablename__ = "score_disputes"

    id: Mapped[int] = mapped_column(primary_key=True)
    mystery_call_id: Mapped[int] = mapped_column(ForeignKey("mystery_calls.id"), index=True)
    call_score_id: Mapped[int] = mapped_column(ForeignKey("call_scores.id"))
    raised_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open | upheld | corrected
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(Text)
    correction_score_id: Mapped[int | None] = mapped_column(ForeignKey("call_scores.id"))
