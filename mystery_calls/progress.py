"""The outcome of an automated mystery call, derived from Twilio's call-progress status callbacks.

Twilio posts one status callback per subscribed progress event (``StatusCallbackEvent`` initiated, ringing,
answered, completed). Callbacks may be retried (duplicates) and may arrive out of order, so the outcome is
computed from the whole set of callbacks received so far, never from "the latest one":

* Duplicates are dropped by ``SequenceNumber`` (Twilio numbers a call's callbacks from 0), or by
  (CallStatus, StatusCallbackEvent) for callbacks without one.
* Events are ordered by ``SequenceNumber``, falling back to ``Timestamp`` when sequence numbers are missing.
* Time to answer = Timestamp(answered) − Timestamp(ringing), or − Timestamp(initiated) when no ringing
  callback was received. Twilio's timestamps have one-second resolution, so this is accurate to about a second.
* The final callback (CallStatus completed, busy, no-answer, failed or canceled) decides the result:
  ``completed`` counts as answered only if an answered callback exists or ``CallDuration`` > 0 (otherwise
  ``no_answer``); ``busy``, ``no-answer`` and ``canceled`` are taken as they are; ``failed`` with SIP
  response 487 (request terminated: the ring timeout) counts as ``no_answer``.
* Answering machine detection: ``AnsweredBy`` machine_start / machine_end_* / fax → ``machine`` (nobody
  answered in person; ``seconds_to_answer`` is still reported). ``human`` and ``unknown`` count as a person,
  as elsewhere in this project.
* Without a final callback the result is ``in_progress``; :func:`is_overdue_without_final` flags calls whose
  final callback never came.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

#: Wait this long before retrying a busy or unanswered call.
RETRY_AFTER = timedelta(minutes=10)

#: Twilio CallStatus values that end a call.
FINAL_STATUSES: frozenset[str] = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
#: SIP "487 Request Terminated": Twilio's code for a call that rang until the timeout.
SIP_REQUEST_TERMINATED = 487
#: Results after which the call should be placed again (after :data:`RETRY_AFTER`).
RETRY_RESULTS: frozenset[str] = frozenset({"busy", "no_answer", "failed", "machine"})

_MACHINE_ANSWERS = frozenset({"machine_start", "fax"})
_PHASE = {"queued": 0, "initiated": 0, "ringing": 1, "in-progress": 2, "answered": 2}
_MIN_TIME = datetime.min.replace(tzinfo=UTC)


def _text(form: Mapping[str, str], key: str) -> str | None:
    try:
        value = form.get(key)
    except Exception:  # an odd mapping: treat the field as absent
        return None
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if math.isfinite(number) and number.is_integer() else None


def _timestamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:  # RFC 2822 "-0000": UTC, local zone unknown
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


@dataclass(frozen=True)
class ProgressEvent:
    """One status callback, as far as the outcome is concerned. Strings are stripped; status and event
    are lower-case; unparsable numbers and timestamps are None."""

    sequence: int | None
    status: str  # CallStatus
    event: str | None  # StatusCallbackEvent
    timestamp: datetime | None
    call_duration: int | None
    answered_by: str | None
    recording_url: str | None
    recording_sid: str | None
    sip_response_code: int | None

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> ProgressEvent:
        """Parse Twilio's form fields. Never raises on odd input: bad fields become None (status "")."""
        status = _text(form, "CallStatus")
        event = _text(form, "StatusCallbackEvent")
        answered_by = _text(form, "AnsweredBy")
        return cls(
            sequence=_int(_text(form, "SequenceNumber")),
            status=status.lower() if status else "",
            event=event.lower() if event else None,
            timestamp=_timestamp(_text(form, "Timestamp")),
            call_duration=_int(_text(form, "CallDuration")),
            answered_by=answered_by.lower() if answered_by else None,
            recording_url=_text(form, "RecordingUrl"),
            recording_sid=_text(form, "RecordingSid"),
            sip_response_code=_int(_text(form, "SipResponseCode")),
        )

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_answered(self) -> bool:
        return self.event == "answered" or self.status == "in-progress"

    @property
    def is_ringing(self) -> bool:
        return self.event == "ringing" or self.status == "ringing"

    @property
    def is_initiated(self) -> bool:
        return self.event == "initiated" or self.status in ("initiated", "queued")


@dataclass(frozen=True)
class CallOutcome:
    """What happened on a call so far. ``talk_seconds`` is only given for answered (or machine) calls."""

    result: str  # "answered" | "busy" | "no_answer" | "machine" | "failed" | "canceled" | "in_progress"
    final: bool
    ringing_at: datetime | None
    answered_at: datetime | None
    completed_at: datetime | None
    seconds_to_answer: float | None
    talk_seconds: int | None
    recording_url: str | None
    recording_sid: str | None
    answered_by: str | None


def _content_key(event: ProgressEvent) -> tuple:
    """A total order on events, to make every choice independent of arrival order."""
    return (
        event.status,
        event.event or "",
        event.timestamp or _MIN_TIME,
        -1 if event.call_duration is None else event.call_duration,
        event.answered_by or "",
        event.recording_url or "",
        event.recording_sid or "",
        -1 if event.sip_response_code is None else event.sip_response_code,
    )


def _phase(event: ProgressEvent) -> int:
    if event.is_final:
        return 3
    return max(_PHASE.get(event.status, 0), _PHASE.get(event.event or "", 0))


def _dedupe(events: Iterable[ProgressEvent]) -> list[ProgressEvent]:
    by_sequence: dict[int, ProgressEvent] = {}
    by_kind: dict[tuple[str, str | None], ProgressEvent] = {}
    for event in events:
        if event.sequence is not None:
            kept = by_sequence.get(event.sequence)
            if kept is None or _content_key(event) < _content_key(kept):
                by_sequence[event.sequence] = event
        else:
            key = (event.status, event.event)
            kept = by_kind.get(key)
            if kept is None or _content_key(event) < _content_key(kept):
                by_kind[key] = event
    sequenced_kinds = {(event.status, event.event) for event in by_sequence.values()}
    unsequenced = [event for key, event in by_kind.items() if key not in sequenced_kinds]
    return list(by_sequence.values()) + unsequenced


def ordered(events: Iterable[ProgressEvent]) -> list[ProgressEvent]:
    """``events`` without duplicates, ordered by sequence number (then timestamp, then call phase)."""
    unique = _dedupe(events)
    if all(event.sequence is not None for event in unique):
        return sorted(unique, key=lambda e: (e.sequence, _content_key(e)))
    return sorted(
        unique,
        key=lambda e: (
            e.timestamp is None,
            e.timestamp or _MIN_TIME,
            _phase(e),
            -1 if e.sequence is None else e.sequence,
            _content_key(e),
        ),
    )


def _is_machine(answered_by: str | None) -> bool:
    return answered_by is not None and (answered_by in _MACHINE_ANSWERS or answered_by.startswith("machine_end"))


def _last(values: Iterable[str | None]) -> str | None:
    found = None
    for value in values:
        if value is not None:
            found = value
    return found


def outcome(events: Iterable[ProgressEvent]) -> CallOutcome:
    """The call's outcome from the status callbacks received so far (any order, duplicates allowed)."""
    timeline = ordered(events)
    initiated = next((e for e in timeline if e.is_initiated and e.timestamp is not None), None)
    ringing = next((e for e in timeline if e.is_ringing and e.timestamp is not None), None)
    answered = next((e for e in timeline if e.is_answered), None)
    finals = [e for e in timeline if e.is_final]
    final = finals[-1] if finals else None

    ringing_at = ringing.timestamp if ringing else None
    answered_at = answered.timestamp if answered else None
    start = ringing or initiated
    seconds_to_answer: float | None = None
    if start is not None and start.timestamp is not None and answered_at is not None:
        elapsed = (answered_at - start.timestamp).total_seconds()
        seconds_to_answer = elapsed if elapsed >= 0 else None  # clock skew: unknown rather than negative

    answered_by = _last(e.answered_by for e in timeline)
    recording_url = _last(e.recording_url for e in timeline)
    recording_sid = _last(e.recording_sid for e in timeline)
    completed_at = final.timestamp if final else None

    if final is None:
        result = "in_progress"
    elif final.status == "completed":
        picked_up = answered is not None or (final.call_duration or 0) > 0
        result = "answered" if picked_up else "no_answer"
    elif final.status == "no-answer":
        result = "no_answer"
    elif final.status in ("busy", "canceled"):
        result = final.status
    elif final.sip_response_code == SIP_REQUEST_TERMINATED:
        result = "no_answer"  # "failed" with 487: rang until the timeout
    else:
        result = "failed"
    if result == "answered" and _is_machine(answered_by):
        result = "machine"

    talk_seconds: int | None = None
    if result in ("answered", "machine") and final is not None:
        if final.call_duration is not None:
            talk_seconds = final.call_duration
        elif completed_at is not None and answered_at is not None and completed_at >= answered_at:
            talk_seconds = int((completed_at - answered_at).total_seconds())

    return CallOutcome(
        result=result,
        final=final is not None,
        ringing_at=ringing_at,
        answered_at=answered_at,
        completed_at=completed_at,
        seconds_to_answer=seconds_to_answer,
        talk_seconds=talk_seconds,
        recording_url=recording_url,
        recording_sid=recording_sid,
        answered_by=answered_by,
    )


def _aware(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return moment


def is_overdue_without_final(
    started_at: datetime,
    now: datetime,
    events: Iterable[ProgressEvent],
    timeout: timedelta = timedelta(minutes=30),
) -> bool:
    """Whether a call still has no final callback ``timeout`` or more after it was started (needs a look:
    the callback was lost, or the call is stuck)."""
    elapsed = _aware(now, "now") - _aware(started_at, "started_at")
    return elapsed >= timeout and not any(event.is_final for event in events)


def needs_retry(outcome: CallOutcome) -> bool:
    """Whether the call should be placed again after :data:`RETRY_AFTER`: busy, no answer, failed, or an
    answering machine. Answered, canceled and still-running calls are not retried."""
    return outcome.final and outcome.result in RETRY_RESULTS
