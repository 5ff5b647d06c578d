"""Mystery-call services: the registry of audited hotlines, campaigns and their plans, placing
calls through Twilio, reading their progress callbacks, manual logs, scores and results.

The pure rules live beside this module (``planner``, ``progress``, ``scorecard``); this module keeps
them in the database and talks to Twilio.
"""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline_core import media, phones
from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.errors import HotlineError, required_text
from hotline_core.figures import percentile
from hotline_core.i18n import t
from hotline_core.models import (
    AuditedHotline,
    CallProgress,
    CallReview,
    CallScore,
    Campaign,
    DirectorySetting,
    MysteryCall,
    Role,
    Scenario,
    ScorecardDefinition,
    ScoreDispute,
    Unit,
    User,
)
from hotline_core.runtime import Runtime, current
from hotline_core.twilio_gateway import NotConfigured, SendError
from mystery_calls import planner, progress, scorecard
from routing.calendar import BusinessCalendar
from routing.config import load_config

MAX_ATTEMPTS = 3
STALE_AFTER = timedelta(minutes=30)


class MysteryCallError(HotlineError):
    """A mystery-call action refused with a reason the auditor can act on (``error.mystery.*``)."""


MAX_TEXT = 5000
NO_FINAL_STATUS = "mystery.flag.no_final_status"  # the message key kept as a flagged call's reason


# --- registry and campaigns ----------------------------------------------------------------------


def register_hotline(
    session: Session,
    *,
    unit_id: int,
    number: str,
    name: str,
    service_hours: str = "",
    notes: str = "",
    default_region: str = "CN",
    actor: Actor,
) -> AuditedHotline:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise MysteryCallError("error.mystery.unknown_unit", unit=unit_id)
    parsed = phones.normalise(number, default_region)
    if parsed is None or not parsed.valid:
        raise MysteryCallError("error.mystery.bad_phone", number=number)
    if session.scalar(select(AuditedHotline.id).where(AuditedHotline.number == parsed.value)):
        raise MysteryCallError("error.mystery.hotline_registered", number=parsed.value)
    hotline = AuditedHotline(
        unit_id=unit.id,
        number=parsed.value,
        name=name.strip() or unit.name_zh,
        service_hours=service_hours.strip(),
        notes=notes.strip(),
    )
    session.add(hotline)
    session.flush()
    audit(session, actor, "mystery.hotline_register", hotline, number=parsed.value)
    return hotline


def import_hotlines_from_directory(session: Session, actor: Actor, default_region: str = "CN") -> int:
    """Register every unit's published service hotline that is not registered yet."""
    added = 0
    known = set(session.scalars(select(AuditedHotline.number)))
    for unit in session.scalars(select(Unit).where(Unit.active).order_by(Unit.id)):
        for number in unit.service_hotlines or []:
            if number not in known:
                register_hotline(
                    session,
                    unit_id=unit.id,
                    number=number,
                    name=unit.name_zh,
                    default_region=default_region,
                    actor=actor,
                )
                known.add(number)
                added += 1
    return added


def active_scorecard(session: Session) -> ScorecardDefinition:
    row = session.scalars(
        select(ScorecardDefinition)
        .where(ScorecardDefinition.active)
        .order_by(ScorecardDefinition.version.desc())
        .limit(1)
    ).first()
    if row is None:
        card = scorecard.DEFAULT_SCORECARD
        row = ScorecardDefinition(name=card.name, version=card.version, definition=card.to_dict(), active=True)
        session.add(row)
        session.flush()
    return row


def card_of(row: ScorecardDefinition) -> scorecard.Scorecard:
    return scorecard.Scorecard.from_dict(row.definition)


@dataclass
class ScenarioIn:
    title: str
    persona: str = ""
    question: str = ""
    expected_answer: str = ""


def create_campaign(
    session: Session,
    *,
    name: str,
    window_start: date,
    window_end: date,
    hotline_ids: list[int],
    auditor_ids: list[int],
    caller_numbers: list[str],
    calls_per_hotline: int,
    max_per_auditor_hotline_month: int,
    scenarios: list[ScenarioIn],
    actor: Actor,
    default_region: str = "CN",
) -> Campaign:
    problems: list[MysteryCallError] = []
    if not name.strip():
        problems.append(MysteryCallError("error.mystery.name_required"))
    if window_end < window_start:
        problems.append(MysteryCallError("error.mystery.window_reversed"))
    hotlines = [session.get(AuditedHotline, h) for h in hotline_ids]
    if not hotline_ids or any(h is None for h in hotlines):
        problems.append(MysteryCallError("error.mystery.choose_hotline"))
    auditors = [session.get(User, a) for a in auditor_ids]
    if not auditor_ids or any(a is None or a.role not in (Role.AUDITOR, Role.ADMIN) for a in auditors):
        problems.append(MysteryCallError("error.mystery.choose_auditor"))
    numbers = []
    for raw in caller_numbers:
        parsed = phones.normalise(raw, default_region)
        if parsed is None or not parsed.valid:
            problems.append(MysteryCallError("error.mystery.bad_caller_number", number=raw))
        else:
            numbers.append(parsed.value)
    if not numbers:
        problems.append(MysteryCallError("error.mystery.caller_number_required"))
    if calls_per_hotline < 1 or max_per_auditor_hotline_month < 1:
        problems.append(MysteryCallError("error.mystery.limits_at_least_one"))
    if not [s for s in scenarios if s.title.strip()]:
        problems.append(MysteryCallError("error.mystery.scenario_required"))
    if problems:
        raise MysteryCallError("error.mystery.problems", problems=problems)
    campaign = Campaign(
        name=name.strip(),
        window_start=window_start,
        window_end=window_end,
        calls_per_hotline=calls_per_hotline,
        max_per_auditor_hotline_month=max_per_auditor_hotline_month,
        caller_numbers=numbers,
        hotline_ids=list(hotline_ids),
        auditor_ids=list(auditor_ids),
        scorecard_id=active_scorecard(session).id,
        created_by=actor.user_id,
    )
    session.add(campaign)
    session.flush()
    for item in scenarios:
        if item.title.strip():
            session.add(
                Scenario(
                    campaign_id=campaign.id,
                    title=item.title.strip(),
                    persona=item.persona.strip(),
                    question=item.question.strip(),
                    expected_answer=item.expected_answer.strip(),
                )
            )
    audit(session, actor, "mystery.campaign_create", campaign, name=campaign.name)
    return campaign


def plan_campaign(
    session: Session, runtime: Runtime, campaign: Campaign, *, actor: Actor, rng: random.Random | None = None
) -> planner.Plan:
    """Spread the campaign's calls over its window, within the practice limits; each is a task."""
    if campaign.state != "draft":
        raise MysteryCallError("error.mystery.already_planned")
    scenarios = session.scalars(select(Scenario).where(Scenario.campaign_id == campaign.id)).all()
    made: dict[tuple[str, str, str], int] = defaultdict(int)
    tz = runtime.settings.tz
    for call in session.scalars(
        select(MysteryCall).where(MysteryCall.hotline_id.in_(campaign.hotline_ids), MysteryCall.state != "cancelled")
    ):
        month = call.planned_at.astimezone(tz).strftime("%Y-%m")
        made[(str(call.auditor_id), str(call.hotline_id), month)] += 1
    calendar = city_calendar(session, runtime)
    hotline_periods = {}
    for hotline_id in campaign.hotline_ids:
        hotline = session.get(AuditedHotline, hotline_id)
        if hotline is not None and hotline.service_hours:
            try:
                hotline_periods[str(hotline_id)] = planner.parse_service_hours(hotline.service_hours)
            except ValueError as exc:
                raise MysteryCallError(
                    "error.mystery.bad_service_hours", hotline=hotline.name, hours=hotline.service_hours
                ) from exc
    request_days = [
        campaign.window_start + timedelta(days=n) for n in range((campaign.window_end - campaign.window_start).days + 1)
    ]
    if request_days and not any(calendar.vouches_for(day) for day in request_days):
        raise MysteryCallError("error.mystery.no_calendar", year=campaign.window_start.year)
    request = planner.PlanRequest(
        hotlines=[str(h) for h in campaign.hotline_ids],
        auditors=[str(a) for a in campaign.auditor_ids],
        caller_numbers=list(campaign.caller_numbers),
        scenarios=[str(s.id) for s in scenarios],
        calls_per_hotline=campaign.calls_per_hotline,
        window_start=campaign.window_start,
        window_end=campaign.window_end,
        max_per_auditor_hotline_month=campaign.max_per_auditor_hotline_month,
        timezone=runtime.settings.timezone,
        already_made=dict(made),
        is_working_day=calendar.is_working_day,
        vouches_for=calendar.vouches_for,
        working_periods=calendar.working_periods,
        hotline_periods=hotline_periods,
    )
    try:
        result = planner.plan(request, rng or random.Random())
    except ValueError as exc:
        raise MysteryCallError("error.mystery.cannot_plan") from exc
    for item in result.calls:
        session.add(
            MysteryCall(
                campaign_id=campaign.id,
                hotline_id=int(item.hotline),
                auditor_id=int(item.auditor),
                scenario_id=int(item.scenario) if item.scenario else None,
                caller_number=item.caller_number,
                planned_at=item.at,
            )
        )
    campaign.state = "planned"
    audit(
        session,
        actor,
        "mystery.campaign_plan",
        campaign,
        planned=len(result.calls),
        unplanned=sum(result.unplanned.values()),
    )
    return result


def city_calendar(session: Session, runtime: Runtime) -> BusinessCalendar:
    """The city's business calendar as the directory has it now (holidays and schedules entered by admins)."""
    return load_config(session, runtime.settings.timezone).calendar


def hotline_calendar(session: Session, runtime: Runtime, hotline_id: int) -> BusinessCalendar:
    """The city's calendar with the hotline's own service hours as its working periods (if it has them)."""
    calendar = city_calendar(session, runtime)
    hotline = session.get(AuditedHotline, hotline_id)
    try:
        periods = planner.parse_service_hours(hotline.service_hours if hotline else "")
    except ValueError:
        periods = ()
    return dataclasses.replace(calendar, working_periods=periods) if periods else calendar


# --- placing calls and reading their progress ----------------------------------------------------


def place_call(session: Session, runtime: Runtime, call: MysteryCall, user: User) -> str:
    """Ring the hotline from the campaign's caller number; when it answers, Twilio bridges the
    auditor's phone in (TwiML at /twilio/mystery/<id>/answer) while the service measures."""
    if call.state not in ("planned", "retry_planned"):
        raise MysteryCallError("error.mystery.already_made")
    if call.auditor_id != user.id and user.role != Role.ADMIN:
        raise MysteryCallError("error.mystery.not_your_call")
    if not user.phone:
        raise MysteryCallError("error.mystery.own_phone_required")
    base = runtime.settings.public_base_url
    if not base:
        raise MysteryCallError("error.mystery.no_base_url")
    hotline = session.get(AuditedHotline, call.hotline_id)
    assert hotline is not None
    try:
        placed = runtime.twilio.place_call(
            hotline.number,
            f"{base}/twilio/mystery/{call.id}/answer",
            from_=call.caller_number,
            status_callback=f"{base}/twilio/mystery/{call.id}/status",
            record=True,
            machine_detection=True,
            recording_status_callback=f"{base}/twilio/mystery/{call.id}/recording",
            timeout=60,
        )
    except NotConfigured as exc:
        raise MysteryCallError("error.mystery.no_twilio") from exc
    except SendError as exc:
        raise MysteryCallError("error.mystery.place_failed", code=exc.code or "—") from exc
    call.call_sid, call.state, call.mode, call.started_at = placed.sid, "calling", "auto", runtime.now()
    audit(session, Actor(f"user:{user.username}", user.id), "mystery.call_place", call)
    return placed.sid


def place_blockers(runtime: Runtime, user: User) -> list[str]:
    """What stops an automated call for this auditor, as message keys (empty: the button can be offered)."""
    blockers = []
    if not runtime.twilio.configured:
        blockers.append("mystery.blocker.twilio")
    if not runtime.settings.public_base_url:
        blockers.append("mystery.blocker.base_url")
    if not user.phone:
        blockers.append("mystery.blocker.phone")
    return blockers


def set_own_phone(session: Session, user: User, number: str, default_region: str = "CN") -> str:
    """An auditor's own phone, the one Twilio bridges in when the audited hotline answers."""
    parsed = phones.normalise(number, default_region)
    if parsed is None or not parsed.valid:
        raise MysteryCallError("error.mystery.bad_phone", number=number)
    user.phone = parsed.value
    audit(session, Actor(f"user:{user.username}", user.id), "user.phone_set", user)
    return parsed.value


def recording_path(runtime: Runtime, call: MysteryCall) -> Path | None:
    """The kept recording's file, if there is one inside the instance path."""
    return media.kept_path(runtime, call.recording_file)


def record_progress(session: Session, runtime: Runtime, call: MysteryCall, form: Mapping[str, str]) -> bool:
    """Keep one progress callback (repeats ignored) and recompute the call's outcome from all of them."""
    event = progress.ProgressEvent.from_form(form)
    sequence = event.sequence if event.sequence is not None else -1
    try:
        with session.begin_nested():
            session.add(
                CallProgress(
                    mystery_call_id=call.id,
                    call_sid=form.get("CallSid", ""),
                    sequence=sequence,
                    status=(form.get("CallStatus") or "")[:30],
                    form=dict(form),
                    received_at=runtime.now(),
                )
            )
            session.flush()
    except IntegrityError:
        return False
    events = [
        progress.ProgressEvent.from_form(row.form)
        for row in session.scalars(select(CallProgress).where(CallProgress.mystery_call_id == call.id))
    ]
    apply_outcome(session, runtime, call, progress.outcome(events))
    return True


def apply_outcome(session: Session, runtime: Runtime, call: MysteryCall, result: progress.CallOutcome) -> None:
    call.result = result.result
    call.ringing_at, call.answered_at, call.completed_at = result.ringing_at, result.answered_at, result.completed_at
    call.seconds_to_answer, call.talk_seconds = result.seconds_to_answer, result.talk_seconds
    call.answered_by = result.answered_by
    call.recording_url = result.recording_url or call.recording_url
    call.recording_sid = result.recording_sid or call.recording_sid
    _download_later(session, runtime, call)
    if not result.final or call.state == "completed":
        return
    call.state = "completed"
    call.flagged_reason = None
    if progress.needs_retry(result) and call.attempt < MAX_ATTEMPTS:
        at = hotline_calendar(session, runtime, call.hotline_id).next_working_moment(
            (result.completed_at or runtime.now()) + planner.RETRY_AFTER
        )
        session.add(
            MysteryCall(
                campaign_id=call.campaign_id,
                hotline_id=call.hotline_id,
                scenario_id=call.scenario_id,
                auditor_id=call.auditor_id,
                caller_number=call.caller_number,
                planned_at=at,
                state="retry_planned",
                attempt=call.attempt + 1,
                retry_of_id=call.id,
            )
        )


def record_recording(
    session: Session, call: MysteryCall, form: Mapping[str, str], *, runtime: Runtime | None = None
) -> None:
    """Twilio's recording callback: keep its URL and download the audio (a job, after the commit)."""
    if form.get("RecordingStatus", "completed") == "completed" and form.get("RecordingUrl"):
        call.recording_url, call.recording_sid = form["RecordingUrl"], form.get("RecordingSid")
        _download_later(session, runtime or current(), call)


def _download_later(session: Session, runtime: Runtime, call: MysteryCall) -> None:
    if call.recording_url and not call.recording_file and call.recording_url.startswith("http"):
        runtime.jobs.enqueue_after_commit(session, download_recording_job, call.id)


RECORDINGS_DIR = "recordings"


def download_recording_job(call_id: int) -> str | None:
    """Fetch a Twilio recording with the account's credentials and keep it under the instance path, so the
    evidence stays when Twilio's copy is deleted. Returns the stored path (relative to the instance path)."""
    runtime = current()
    with runtime.db.session() as session:
        call = session.get(MysteryCall, call_id)
        if call is None or not call.recording_url or call.recording_file:
            return call.recording_file if call else None
        url, sid = call.recording_url, call.recording_sid or f"call{call_id}"
    audio, content_type = runtime.twilio.download_recording(url)
    relative = media.keep(runtime, RECORDINGS_DIR, f"{call_id}-{sid}", audio, content_type)
    with runtime.db.transaction() as session:
        call = session.get(MysteryCall, call_id)
        assert call is not None
        call.recording_file = relative
        audit(session, Actor.system(), "mystery.recording_kept", call, bytes=len(audio))
    return relative


def flag_stale_job() -> int:
    """Periodic job: a call with no final callback after a while is flagged for a person."""
    runtime = current()
    now = runtime.now()
    with runtime.db.transaction() as session:
        stale = session.scalars(
            select(MysteryCall).where(MysteryCall.state == "calling", MysteryCall.started_at < now - STALE_AFTER)
        ).all()
        for call in stale:
            call.state, call.flagged_reason = "flagged", NO_FINAL_STATUS
        return len(stale)


def log_manual(
    session: Session,
    runtime: Runtime,
    call: MysteryCall,
    user: User,
    *,
    called_at: datetime,
    answered: bool,
    seconds_to_answer: float | None,
    talk_seconds: int | None,
    agent_id: str = "",
    recording_path: str | None = None,
    notes: str = "",
) -> None:
    """An auditor who called from an ordinary phone records what happened."""
    if call.state not in ("planned", "retry_planned", "flagged"):
        raise MysteryCallError("error.mystery.already_logged")
    if answered and (seconds_to_answer is None or seconds_to_answer < 0):
        raise MysteryCallError("error.mystery.seconds_required")
    if talk_seconds is not None and talk_seconds < 0:
        raise MysteryCallError("error.mystery.negative_duration")
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    local_day = called_at.astimezone(runtime.settings.tz).date()
    if not campaign.window_start <= local_day <= campaign.window_end:
        raise MysteryCallError(
            "error.mystery.outside_window", start=campaign.window_start.isoformat(), end=campaign.window_end.isoformat()
        )
    call.mode, call.state, call.started_at = "manual", "completed", called_at
    call.result = "answered" if answered else "no_answer"
    call.seconds_to_answer = seconds_to_answer if answered else None
    call.answered_at = called_at + timedelta(seconds=seconds_to_answer) if answered and seconds_to_answer else None
    call.talk_seconds = talk_seconds if answered else None
    call.agent_id = agent_id.strip()[:60] or None
    call.notes = notes.strip()
    if recording_path:
        call.recording_file = recording_path
    audit(session, Actor(f"user:{user.username}", user.id), "mystery.call_log", call, answered=answered)


# --- scoring -------------------------------------------------------------------------------------


def score_history(session: Session, call: MysteryCall) -> list[CallScore]:
    return list(
        session.scalars(select(CallScore).where(CallScore.mystery_call_id == call.id).order_by(CallScore.number))
    )


def automatic_values(call: MysteryCall) -> dict[str, float | None]:
    return scorecard.automatic_values(call.result == "answered", call.seconds_to_answer)


def submit_score(
    session: Session,
    runtime: Runtime,
    call: MysteryCall,
    user: User,
    manual_values: Mapping[str, float | None],
    reason: str | None = None,
) -> CallScore:
    """Submit (or correct, with a reason) the call's score; automatic items come from the call data."""
    if call.state != "completed":
        raise MysteryCallError("error.mystery.score_needs_result")
    campaign = session.get(Campaign, call.campaign_id)
    assert campaign is not None
    row = session.get(ScorecardDefinition, campaign.scorecard_id)
    assert row is not None
    card = card_of(row)
    values = {item.code: manual_values.get(item.code) for item in card.items if not item.automatic}
    values.update(automatic_values(call))
    if score_history(session, call) and not (reason or "").strip():
        raise MysteryCallError("error.mystery.correction_needs_reason")
    history = [
        scorecard.ScoreVersion(
            number=s.number,
            values=s.values,
            result=scorecard.score(card, s.values),
            reason=s.reason,
            submitted_by=str(s.submitted_by),
            submitted_at=s.submitted_at,
        )
        for s in score_history(session, call)
    ]
    try:
        version = (
            scorecard.correct(history, values, reason or "", f"user:{user.username}", runtime.now(), card)
            if history
            else scorecard.correct(history, values, None, f"user:{user.username}", runtime.now(), card)
        )
    except ValueError as exc:
        raise MysteryCallError("error.mystery.bad_score") from exc
    score = CallScore(
        mystery_call_id=call.id,
        scorecard_id=row.id,
        number=version.number,
        # what counts, not what was typed: an unanswered call keeps no marks for greeting or attitude
        values=scorecard.effective_values(card, values),
        total=version.result.total,
        by_group=dict(version.result.by_group),
        reason=version.reason,
        submitted_by=user.id,
        submitted_at=version.submitted_at,
    )
    session.add(score)
    audit(
        session,
        Actor(f"user:{user.username}", user.id),
        "mystery.score_submit",
        call,
        version=version.number,
        total=version.result.total,
        reason=version.reason,
    )
    return score


# --- disputes by the audited unit ------------------------------------------------------------------

DEFAULT_DISPUTE_WORKING_DAYS = 5


def dispute_working_days(session: Session) -> int:
    row = session.get(DirectorySetting, "settings")
    value = (row.value or {}).get("mystery_dispute_working_days") if row is not None else None
    return int(value) if isinstance(value, int) and value >= 1 else DEFAULT_DISPUTE_WORKING_DAYS


def dispute_deadline(session: Session, runtime: Runtime, score: CallScore) -> datetime:
    """End of the last working day the unit may dispute this score version (city's working days)."""
    return city_calendar(session, runtime).add_working_days(score.submitted_at, dispute_working_days(session))


def raise_dispute(session: Session, runtime: Runtime, call: MysteryCall, user: User, reason: str) -> ScoreDispute:
    """The audited unit's head disputes the call's current score, with a reason, within the set working days."""
    hotline = session.get(AuditedHotline, call.hotline_id)
    assert hotline is not None
    if user.role != Role.UNIT_HEAD or user.unit_id != hotline.unit_id:
        raise MysteryCallError("error.mystery.only_unit_head_disputes")
    reason = required_text(reason, "dispute_reason", MysteryCallError, MAX_TEXT)
    history = score_history(session, call)
    if not history:
        raise MysteryCallError("error.mystery.nothing_to_dispute")
    current_score = history[-1]
    if runtime.now() > dispute_deadline(session, runtime, current_score):
        raise MysteryCallError("error.mystery.dispute_too_late", days=dispute_working_days(session))
    if session.scalar(
        select(ScoreDispute.id).where(ScoreDispute.mystery_call_id == call.id, ScoreDispute.state == "open")
    ):
        raise MysteryCallError("error.mystery.already_disputed")
    dispute = ScoreDispute(
        mystery_call_id=call.id,
        call_score_id=current_score.id,
        raised_by=user.id,
        raised_at=runtime.now(),
        reason=reason.strip(),
        state="open",
    )
    session.add(dispute)
    session.flush()
    audit(session, Actor(f"user:{user.username}", user.id), "mystery.dispute_raise", call, dispute=dispute.id)
    return dispute


def decide_dispute(
    session: Session,
    runtime: Runtime,
    dispute: ScoreDispute,
    user: User,
    *,
    uphold: bool,
    note: str,
    values: Mapping[str, float | None] | None = None,
) -> ScoreDispute:
    """An auditor upholds the disputed score, or corrects it (a new score version whose reason is the note)."""
    if dispute.state != "open":
        raise MysteryCallError("error.mystery.dispute_decided")
    if user.role not in (Role.AUDITOR, Role.ADMIN):
        raise MysteryCallError("error.mystery.only_auditor_decides")
    note = required_text(note, "decision_note", MysteryCallError, MAX_TEXT)
    call = session.get(MysteryCall, dispute.mystery_call_id)
    assert call is not None
    if not uphold:
        correction = submit_score(session, runtime, call, user, values or {}, reason=note)
        session.flush()
        dispute.correction_score_id = correction.id
    dispute.state = "upheld" if uphold else "corrected"
    dispute.decided_by, dispute.decided_at, dispute.decision_note = user.id, runtime.now(), note.strip()
    audit(session, Actor(f"user:{user.username}", user.id), "mystery.dispute_decide", call, state=dispute.state)
    return dispute


def open_disputes(session: Session, call_ids: Sequence[int]) -> set[int]:
    return set(
        session.scalars(
            select(ScoreDispute.mystery_call_id).where(
                ScoreDispute.mystery_call_id.in_(list(call_ids)), ScoreDispute.state == "open"
            )
        )
    )


# --- second auditors and their agreement ---------------------------------------------------------


def submit_review(
    session: Session, runtime: Runtime, call: MysteryCall, user: User, manual_values: Mapping[str, float | None]
) -> CallReview:
    """A second auditor's independent score of a scored call (it never changes the call's score)."""
    history = score_history(session, call)
    if not history:
        raise MysteryCallError("error.mystery.review_needs_score")
    if any(s.submitted_by == user.id for s in history):
        raise MysteryCallError("error.mystery.review_by_another")
    if session.scalar(
        select(CallReview.id).where(CallReview.mystery_call_id == call.id, CallReview.reviewer_id == user.id)
    ):
        raise MysteryCallError("error.mystery.already_reviewed")
    row = session.get(ScorecardDefinition, history[-1].scorecard_id)
    assert row is not None
    card = card_of(row)
    values = {item.code: manual_values.get(item.code) for item in card.items if not item.automatic}
    values.update(automatic_values(call))
    try:
        result = scorecard.score(card, values)
        effective = scorecard.effective_values(card, values)
    except ValueError as exc:
        raise MysteryCallError("error.mystery.bad_score") from exc
    review = CallReview(
        mystery_call_id=call.id,
        reviewer_id=user.id,
        scorecard_id=row.id,
        values=effective,
        total=result.total,
        submitted_at=runtime.now(),
    )
    session.add(review)
    audit(session, Actor(f"user:{user.username}", user.id), "mystery.review_submit", call, total=result.total)
    return review


def cohen_kappa(first: Sequence[object], second: Sequence[object]) -> float | None:
    """Cohen's kappa of two raters' labels for the same items (N/A is a label of its own).

    ``(p_o - p_e) / (1 - p_e)``, computed by scikit-learn; None when it is undefined (no pairs, or both
    raters used one and the same label throughout, so chance agreement is already 1).
    """
    if not first or len(first) != len(second):
        return None
    labels_a = ["na" if v is None else str(v) for v in first]
    labels_b = ["na" if v is None else str(v) for v in second]
    if len(set(labels_a) | set(labels_b)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    return round(float(cohen_kappa_score(labels_a, labels_b)), 3)


@dataclass
class Agreement:
    code: str
    pairs: int
    agreed: int
    kappa: float | None


def agreement(session: Session, campaign_ids: Sequence[int]) -> list[Agreement]:
    """Per manual item: how often the call's score and a second auditor's review agree, and Cohen's kappa."""
    call_ids = list(session.scalars(select(MysteryCall.id).where(MysteryCall.campaign_id.in_(campaign_ids))))
    reviews = session.scalars(
        select(CallReview).where(CallReview.mystery_call_id.in_(call_ids)).order_by(CallReview.id)
    ).all()
    if not reviews:
        return []
    latest: dict[int, CallScore] = {}
    for score in session.scalars(select(CallScore).where(CallScore.mystery_call_id.in_(call_ids))):
        if score.mystery_call_id not in latest or score.number > latest[score.mystery_call_id].number:
            latest[score.mystery_call_id] = score
    cards = {row.id: card_of(row) for row in session.scalars(select(ScorecardDefinition))}
    pairs: dict[str, tuple[list[object], list[object]]] = {}
    order: list[str] = []
    for review in reviews:
        found = latest.get(review.mystery_call_id)
        if found is None:
            continue
        score = found
        card = cards[review.scorecard_id]
        primary = scorecard.effective_values(card, {c: score.values.get(c) for c in card.codes})
        for item in card.items:
            if item.automatic:
                continue
            if item.code not in pairs:
                pairs[item.code] = ([], [])
                order.append(item.code)
            pairs[item.code][0].append(primary.get(item.code))
            pairs[item.code][1].append(review.values.get(item.code))
    return [
        Agreement(
            code,
            len(pairs[code][0]),
            sum(1 for a, b in zip(*pairs[code], strict=True) if a == b),
            cohen_kappa(*pairs[code]),
        )
        for code in order
    ]


# --- results -------------------------------------------------------------------------------------


#: Fewest scored calls a unit needs before it can be flagged as the bottom unit (directory setting
#: ``mystery_min_scored_calls``): one bad call is not a pattern.
DEFAULT_MIN_SCORED_CALLS = 3
DISTRICT_TIER = "district"


@dataclass
class Standing:
    key: int
    name: str
    tier: str = "department"
    calls: int = 0
    answered: int = 0
    scores: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    items: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    groups: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    rank: int = 0
    warned: bool = False
    eligible: bool = True  # enough scored calls to be flagged
    disputed: int = 0  # scores of this standing under an open dispute

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.calls if self.calls else None

    @property
    def average(self) -> float | None:
        return round(sum(self.scores) / len(self.scores), 2) if self.scores else None

    @property
    def median_seconds(self) -> float | None:
        return round(median(self.seconds), 1) if self.seconds else None

    @property
    def p90_seconds(self) -> float | None:
        return round(percentile(self.seconds, 0.9), 1) if self.seconds else None

    def item_average(self, code: str) -> float | None:
        values = self.items.get(code) or []
        return round(100 * sum(values) / len(values), 1) if values else None

    def group_average(self, group: str) -> float | None:
        """Mean of the calls' group scores (0-100) where the group applied."""
        values = self.groups.get(group) or []
        return round(sum(values) / len(values), 1) if values else None


@dataclass
class Results:
    units: list[Standing]
    hotlines: list[Standing]
    item_codes: list[str]
    groups: list[str] = field(default_factory=list)
    min_scored_calls: int = DEFAULT_MIN_SCORED_CALLS

    def tier(self, name: str) -> list[Standing]:
        return [s for s in self.units if s.tier == name]


def min_scored_calls_setting(session: Session) -> int:
    row = session.get(DirectorySetting, "settings")
    value = (row.value or {}).get("mystery_min_scored_calls") if row is not None else None
    return int(value) if isinstance(value, int) and value >= 1 else DEFAULT_MIN_SCORED_CALLS


def results(
    session: Session,
    campaign_ids: Sequence[int],
    *,
    warn_bottom: int = 1,
    language: str = "zh",
    min_scored_calls: int | None = None,
) -> Results:
    """Unit and hotline standings: average score, answer rate, median and p90 time to answer, items, groups.

    A call counts once (retries of an unanswered call are separate calls, as they were made). Its
    score is the latest version; items count with their effective values (an unanswered call's items are
    N/A or 0, as its scorecard says). Units are ranked within their tier (district governments apart
    from departments, like the complaint ranking); in each tier the bottom ``warn_bottom`` units among those
    with at least ``min_scored_calls`` scored calls are flagged (末位告诫), if the tier has more such units.
    """
    minimum = min_scored_calls if min_scored_calls is not None else min_scored_calls_setting(session)
    calls = session.scalars(
        select(MysteryCall).where(MysteryCall.campaign_id.in_(campaign_ids), MysteryCall.state == "completed")
    ).all()
    latest: dict[int, CallScore] = {}
    for row in session.scalars(select(CallScore).where(CallScore.mystery_call_id.in_([c.id for c in calls]))):
        if row.mystery_call_id not in latest or row.number > latest[row.mystery_call_id].number:
            latest[row.mystery_call_id] = row
    cards = {row.id: card_of(row) for row in session.scalars(select(ScorecardDefinition))}
    disputed = open_disputes(session, [c.id for c in calls])
    hotlines = {h.id: h for h in session.scalars(select(AuditedHotline))}
    units = {u.id: u for u in session.scalars(select(Unit))}
    by_unit: dict[int, Standing] = {}
    by_hotline: dict[int, Standing] = {}
    codes: list[str] = []
    groups: list[str] = []
    for call in calls:
        hotline = hotlines[call.hotline_id]
        unit = units[hotline.unit_id]
        tier = DISTRICT_TIER if unit.kind == DISTRICT_TIER else "department"
        score = latest.get(call.id)
        effective: dict[str, float | None] = {}
        if score is not None:
            card = cards[score.scorecard_id]
            try:
                effective = scorecard.effective_values(card, {c: score.values.get(c) for c in card.codes})
            except scorecard.ScoreError:
                effective = dict(score.values)
        for table, key, name in (
            (by_unit, unit.id, unit.name(language)),
            (by_hotline, hotline.id, f"{unit.name(language)} {hotline.number}"),
        ):
            standing = table.setdefault(key, Standing(key, name, tier))
            standing.calls += 1
            if call.result == "answered":
                standing.answered += 1
                if call.seconds_to_answer is not None:
                    standing.seconds.append(call.seconds_to_answer)
            if score is not None:
                standing.scores.append(score.total)
                standing.disputed += call.id in disputed
                for code, value in effective.items():
                    if code not in codes:
                        codes.append(code)
                    if value is not None:
                        standing.items[code].append(float(value))
                for group, value in (score.by_group or {}).items():
                    if group not in groups:
                        groups.append(group)
                    if value is not None:
                        standing.groups[group].append(float(value))
    ranked_units: list[Standing] = []
    for tier in (DISTRICT_TIER, "department"):
        in_tier = rank([s for s in by_unit.values() if s.tier == tier])
        for standing in in_tier:
            standing.eligible = len(standing.scores) >= minimum
        scored = [s for s in in_tier if s.average is not None and s.eligible]
        for standing in scored[-warn_bottom:] if warn_bottom and len(scored) > warn_bottom else []:
            standing.warned = True
        ranked_units.extend(in_tier)
    ordered_groups = [g for g in scorecard.GROUPS if g in groups]
    return Results(ranked_units, rank(list(by_hotline.values())), codes, ordered_groups, minimum)


def rank(standings: list[Standing]) -> list[Standing]:
    standings.sort(key=lambda s: (s.average is None, -(s.average or 0), -(s.answer_rate or 0), s.name))
    for i, standing in enumerate(standings, start=1):
        standing.rank = i
    return standings


def results_csv_rows(res: Results, language: str = "zh", labels: Mapping[str, str] | None = None) -> list[list[Any]]:
    """The unit ranking as a spreadsheet, headed and worded in ``language`` (item labels from ``labels``)."""
    header = [
        t("mystery.csv.rank", language),
        t("inbox.unit", language),
        t("mystery.calls", language),
        t("mystery.csv.answered", language),
        t("mystery.answer_rate", language),
        t("mystery.average", language),
        t("mystery.median", language),
        t("mystery.p90", language),
        t("mystery.warned", language),
        t("mystery.csv.tier", language),
        t("mystery.scored_calls", language),
        *[t(f"mystery.group.{g}", language) for g in res.groups],
        *[(labels or {}).get(code, code) for code in res.item_codes],
    ]
    rows: list[list[Any]] = [header]
    for s in res.units:
        rows.append(
            [
                s.rank,
                s.name,
                s.calls,
                s.answered,
                f"{s.answer_rate:.3f}" if s.answer_rate is not None else "",
                s.average if s.average is not None else "",
                s.median_seconds or "",
                s.p90_seconds or "",
                t("mystery.yes", language) if s.warned else "",
                t(f"mystery.tier.{s.tier}", language),
                len(s.scores),
                *[s.group_average(g) if s.group_average(g) is not None else "" for g in res.groups],
                *[s.item_average(c) if s.item_average(c) is not None else "" for c in res.item_codes],
            ]
        )
    return rows
