"""The callback survey (回访) and the redo loop (重办).

After a resolution the citizen is asked, by SMS (or by an automated call when they phoned), whether
the problem was solved and how satisfied they are (1-5). "Not solved" or a rating of 1-2 reopens the
ticket for the same unit, with fresh clocks; a second failure goes to the dispatcher. No reply by
``HOTLINE_SURVEY_REPLY_HOURS`` is recorded as such. The answers are the data the three rates use.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import outbox, quiet_hours
from hotline_core.events import TextArrived
from hotline_core.i18n import t
from hotline_core.models import Survey, Ticket, TicketEvent
from hotline_core.models.messaging import Priority
from hotline_core.models.ticket import Channel, TicketState
from hotline_core.runtime import Runtime, current
from hotline_core.twilio_gateway import NotConfigured, SendError
from intake import progress
from routing import lifecycle
from routing import services as routing

UNSATISFIED_AT_MOST = 2
MAX_REDOS_BEFORE_DISPATCH = 1

_SOLVED_WORDS = {
    "已解决": True,
    "解决了": True,
    "解决": True,
    "是": True,
    "yes": True,
    "solved": True,
    "y": True,
    "未解决": False,
    "没解决": False,
    "没有解决": False,
    "否": False,
    "no": False,
    "not solved": False,
    "n": False,
}
_RATING_WORDS = {
    "非常满意": 5,
    "很满意": 5,
    "基本满意": 3,
    "非常不满意": 1,
    "很不满意": 1,
    "不满意": 2,
    "满意": 4,
    "very satisfied": 5,
    "very dissatisfied": 1,
    "dissatisfied": 2,
    "satisfied": 4,
}


def parse_reply(body: str) -> tuple[bool | None, int | None]:
    """``"1 5"`` -> (True, 5); ``"未解决，不满意"`` -> (False, 2); ``"2"`` -> (False, None)."""
    text = (body or "").strip().lower()
    solved: bool | None = None
    rating: int | None = None
    digits = re.findall(r"[1-5]", text)
    for phrase in sorted(_SOLVED_WORDS, key=len, reverse=True):
        if phrase in text and (len(phrase) > 1 or text == phrase):
            solved = _SOLVED_WORDS[phrase]
            text = text.replace(phrase, " ")
            break
    for phrase in sorted(_RATING_WORDS, key=len, reverse=True):
        if phrase in text:
            rating = _RATING_WORDS[phrase]
            break
    if solved is None and digits and digits[0] in "12":
        solved = digits.pop(0) == "1"
    if rating is None and digits:
        rating = int(digits[0])
    return solved, rating


def pending_for(session: Session, phone: str) -> Survey | None:
    return session.scalars(
        select(Survey)
        .where(Survey.phone == phone, Survey.state == "pending", Survey.channel == "sms")
        .order_by(Survey.id.desc())
        .limit(1)
    ).first()


def start_survey(session: Session, runtime: Runtime, ticket: Ticket) -> Survey | None:
    """Ask the citizen, once per resolution round; and the citizens whose tickets were merged into
    this one (they follow it: same survey, their own number in the text).

    Never at night: inside the directory's quiet hours the SMS waits in the outbox until morning
    (a caller's voice survey becomes that SMS), and the reply time counts from then."""
    now = runtime.now()
    quiet_until = quiet_hours.not_before(session, runtime, now)
    asked: list[Survey] = []
    if not ticket.anonymous and ticket.citizen_phone and ticket.citizen_phone_valid:
        main = _ask(session, runtime, ticket, ticket, quiet_until)
        if main is not None:
            asked.append(main)
    for follower in progress.followers(session, ticket):
        if follower.anonymous or not (follower.citizen_phone and follower.citizen_phone_valid):
            continue
        if follower.citizen_phone == ticket.citizen_phone:
            continue  # the same person is asked once, about the surviving ticket
        extra = _ask(session, runtime, ticket, follower, quiet_until)
        if extra is not None:
            asked.append(extra)
    return asked[0] if asked else None


def _ask(session: Session, runtime: Runtime, ticket: Ticket, citizen: Ticket, quiet_until: datetime) -> Survey | None:
    """One survey of ``ticket`` sent to the citizen of ``citizen`` (the ticket itself or one merged into it)."""
    phone = citizen.citizen_phone
    if session.scalar(
        select(Survey.id).where(Survey.ticket_id == ticket.id, Survey.round == ticket.redo_count, Survey.phone == phone)
    ):
        return None
    now = runtime.now()
    night = quiet_until > now
    voice = (
        citizen.id == ticket.id
        and not night
        and ticket.channel == Channel.PHONE
        and runtime.twilio.configured
        and runtime.settings.public_base_url
    )
    survey = Survey(
        ticket_id=ticket.id,
        unit_id=ticket.lead_unit_id,
        round=ticket.redo_count,
        channel="voice" if voice else "sms",
        language=citizen.language,
        phone=phone,
        sent_at=quiet_until,
        reply_by=quiet_until + timedelta(hours=runtime.settings.survey_reply_hours),
    )
    session.add(survey)
    session.flush()
    if voice:
        base = runtime.settings.public_base_url
        try:
            placed = runtime.twilio.place_call(
                phone or "", f"{base}/twilio/survey/{survey.id}/voice", machine_detection=True
            )
            survey.call_sid = placed.sid
        except (NotConfigured, SendError):
            survey.channel = "sms"
    if survey.channel == "sms":
        if citizen.id == ticket.id:
            body = t("survey.ask", citizen.language, number=ticket.number)
        else:
            body = t("survey.ask_merged", citizen.language, number=citizen.number, into=ticket.number)
        outbox.queue_sms(
            session,
            runtime,
            to=phone or "",
            body=body,
            kind="survey",
            priority=Priority.SURVEY,
            ticket_id=citizen.id,
            deferrable=True,
        )
    data = {"survey_id": survey.id, "channel": survey.channel}
    if night:
        data["deferred_until"] = quiet_until.isoformat()
    if citizen.id != ticket.id:
        data["merged_ticket"] = citizen.number
    session.add(TicketEvent(ticket=ticket, at=now, kind="survey_sent", data=data))
    return survey


def start_survey_job(ticket_id: int) -> bool:
    runtime = current()
    with runtime.db.transaction() as session:
        ticket = session.get(Ticket, ticket_id)
        return bool(ticket and ticket.state == TicketState.RESOLVED and start_survey(session, runtime, ticket))


def record_answer(
    session: Session, runtime: Runtime, survey: Survey, *, solved: bool | None, rating: int | None, raw: str
) -> str:
    """Store what the citizen said; finish the survey when both answers are in (or "not solved")."""
    survey.replies = [*(survey.replies or []), {"at": runtime.now().isoformat(), "text": raw[:500]}]
    if solved is not None:
        survey.solved = solved
    if rating is not None:
        survey.satisfaction = rating
    ticket = session.get(Ticket, survey.ticket_id)
    assert ticket is not None
    if survey.solved is None:
        return t("survey.ask_solved", survey.language)
    if survey.satisfaction is None and survey.solved:
        return t("survey.ask_rating", survey.language)
    return finish(session, runtime, survey, ticket)


def finish(session: Session, runtime: Runtime, survey: Survey, ticket: Ticket) -> str:
    now = runtime.now()
    survey.state, survey.answered_at = "answered", now
    session.add(
        TicketEvent(
            ticket=ticket,
            at=now,
            kind="survey_answered",
            actor="citizen",
            data={
                "survey_id": survey.id,
                "solved": survey.solved,
                "satisfaction": survey.satisfaction,
                "round": survey.round,
            },
        )
    )
    unhappy = survey.solved is False or (survey.satisfaction is not None and survey.satisfaction <= UNSATISFIED_AT_MOST)
    if unhappy and ticket.state == TicketState.RESOLVED:
        reopen(
            session, runtime, ticket, reason="citizen: not solved" if survey.solved is False else "citizen: unsatisfied"
        )
        return t("survey.reopened", survey.language, number=ticket.number)
    _close_when_settled(session, ticket, survey.round, now, by="survey")
    return t("survey.thanks", survey.language)


def _close_when_settled(session: Session, ticket: Ticket, round_: int, now: datetime, *, by: str) -> None:
    """Close a resolved ticket once no survey of the round is pending (the citizens of merged
    tickets are asked too; the ticket closes when the last has answered or run out of time)."""
    if ticket.state != TicketState.RESOLVED or round_ != ticket.redo_count:
        return  # already closed, reopened by another citizen's answer, or an earlier round's survey
    pending = session.scalar(
        select(Survey.id).where(Survey.ticket_id == ticket.id, Survey.round == round_, Survey.state == "pending")
    )
    if pending is None:
        lifecycle.close(session, ticket, now, by=by)


def reopen(session: Session, runtime: Runtime, ticket: Ticket, *, reason: str) -> None:
    """Redo (重办) with the same unit and fresh clocks; a second failure goes to the dispatcher."""
    cfg = routing.config(session, runtime)
    back_to_unit = lifecycle.reopen(
        session, ticket, runtime.now(), cfg, reason=reason, max_redos=MAX_REDOS_BEFORE_DISPATCH
    )
    if back_to_unit:
        made = lifecycle.active_assignments(session, ticket.id)
        sign_for = lifecycle.open_deadline(session, ticket.id, "sign_for")
        resolution = lifecycle.open_deadline(session, ticket.id, "resolution")
        assert sign_for is not None and resolution is not None
        routing.notify_assigned(session, runtime, ticket, made, sign_for, resolution)


def intercept_sms(session: Session, runtime: Runtime, text: TextArrived) -> str | None:
    """Subscribed to TextArrived: a reply to a pending survey is an answer, not a complaint."""
    phone, body = text.phone, text.body
    if len((body or "").strip()) > 20:
        return None  # answers are short; a long text is a complaint even if it holds a digit
    survey = pending_for(session, phone)
    if survey is None or runtime.now() > survey.reply_by:
        return None
    solved, rating = parse_reply(body)
    if solved is None and rating is None:
        return None  # a new complaint, not an answer
    return record_answer(session, runtime, survey, solved=solved, rating=rating, raw=body)


def sweep_no_reply_job() -> int:
    """Periodic job: surveys past their reply time are recorded as unanswered; the ticket closes."""
    runtime = current()
    now = runtime.now()
    with runtime.db.transaction() as session:
        overdue = session.scalars(select(Survey).where(Survey.state == "pending", Survey.reply_by < now)).all()
        for survey in overdue:
            survey.state = "no_reply"
            ticket = session.get(Ticket, survey.ticket_id)
            if ticket is None:
                continue
            session.add(TicketEvent(ticket=ticket, at=now, kind="survey_no_reply", data={"survey_id": survey.id}))
            session.flush()
            _close_when_settled(session, ticket, survey.round, now, by="no reply")
        return len(overdue)
