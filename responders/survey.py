"""The callback survey (回访) and the redo loop (重办).

After a resolution the citizen is asked, by SMS (or by an automated call when they phoned), whether
the problem was solved and how satisfied they are (1-5). "Not solved" or a rating of 1-2 reopens the
ticket for the same unit, with fresh clocks; a second failure goes to the dispatcher. No reply by
``HOTLINE_SURVEY_REPLY_HOURS`` is recorded as such. The answers are the data the three rates use.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import outbox
from hotline_core.events import TextArrived
from hotline_core.i18n import t
from hotline_core.models import Survey, Ticket, TicketEvent
from hotline_core.models.messaging import Priority
from hotline_core.models.ticket import Channel, TicketState
from hotline_core.runtime import Runtime, current
from hotline_core.twilio_gateway import NotConfigured, SendError
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
    """Ask the citizen, once per resolution round."""
    if ticket.anonymous or not (ticket.citizen_phone and ticket.citizen_phone_valid):
        return None
    if session.scalar(select(Survey.id).where(Survey.ticket_id == ticket.id, Survey.round == ticket.redo_count)):
        return None
    now = runtime.now()
    voice = ticket.channel == Channel.PHONE and runtime.twilio.configured and runtime.settings.public_base_url
    survey = Survey(
        ticket_id=ticket.id,
        unit_id=ticket.lead_unit_id,
        round=ticket.redo_count,
        channel="voice" if voice else "sms",
        language=ticket.language,
        phone=ticket.citizen_phone,
        sent_at=now,
        reply_by=now + timedelta(hours=runtime.settings.survey_reply_hours),
    )
    session.add(survey)
    session.flush()
    if voice:
        base = runtime.settings.public_base_url
        try:
            placed = runtime.twilio.place_call(
                ticket.citizen_phone, f"{base}/twilio/survey/{survey.id}/voice", machine_detection=True
            )
            survey.call_sid = placed.sid
        except (NotConfigured, SendError):
            survey.channel = "sms"
    if survey.channel == "sms":
        outbox.queue_sms(
            session,
            runtime,
            to=ticket.citizen_phone,
            body=t("survey.ask", ticket.language, number=ticket.number),
            kind="survey",
            priority=Priority.SURVEY,
            ticket_id=ticket.id,
        )
    session.add(
        TicketEvent(ticket=ticket, at=now, kind="survey_sent", data={"survey_id": survey.id, "channel": survey.channel})
    )
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
    lifecycle.close(session, ticket, now, by="survey")
    return t("survey.thanks", survey.language)


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
            lifecycle.close(session, ticket, now, by="no reply")
        return len(overdue)
