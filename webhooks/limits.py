"""One limit per inbound Twilio field: what Twilio documents and what the schema can hold.

A webhook checks its form against this table *before* it stores or answers anything
(:func:`clean`), so everything it answers 200 to can be stored and processed on SQLite and
PostgreSQL alike:

* NUL bytes are stripped from every name and value (PostgreSQL text and JSON cannot hold them).
* ``id`` fields (Twilio SIDs, 34 characters; the schema keeps 64), phone numbers and ``whole``
  fields (a text's body) are refused with 400 when longer: truncating an id would merge two
  requests, truncating a complaint would change it.
* ``int`` fields must be whole numbers in ``0 .. maximum`` (a 32-bit column at most), else 400.
* ``status`` fields must be one of the values Twilio documents, else 400 (a processor could
  never apply them, so the event would fail for ever).
* ``text`` fields longer than their limit are kept truncated and their names listed in the
  event's ``headers["truncated"]``.
* ``url`` fields (attachments) longer than their column are dropped and listed in
  ``headers["dropped"]``: the complaint is stored without that attachment.
* ``ratio`` fields (speech confidence) outside 0..1 or not finite are dropped and flagged.

Any other field is limited to :data:`DEFAULT_MAX_CHARACTERS` (400 beyond it).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from hotline_core.models.messaging import MessageStatus

INT32_MAX = 2**31 - 1
DEFAULT_MAX_CHARACTERS = 4000
URL_MAX_CHARACTERS = 2000  # inbound_events.url
IDEMPOTENCY_TOKEN_MAX_CHARACTERS = 200  # inbound_events.idempotency_token (not signed: dropped beyond)
DEDUPE_KEY_MAX_CHARACTERS = 200  # inbound_events.dedupe_key
MAX_MEDIA = 10  # Twilio sends at most 10 media per MMS

Kind = Literal["id", "phone", "whole", "int", "status", "text", "url", "ratio"]

MESSAGE_STATUSES = (
    "accepted",
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "receiving",
    "received",
    "read",
    "partially_delivered",
    "canceled",
)
CALL_STATUSES = (
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
)
RECORDING_STATUSES = ("in-progress", "completed", "absent", "failed", "deleted")


@dataclass(frozen=True)
class Limit:
    kind: Kind
    max_length: int = DEFAULT_MAX_CHARACTERS
    maximum: int = INT32_MAX  # for int fields
    allowed: tuple[str, ...] = ()  # for status fields


SID = Limit("id", 64)  # Twilio SIDs are 34 characters; tickets.source_ref, *.call_sid hold 64

# One row per field Twilio sends to the hotline's webhooks (Messaging and Voice webhook docs).
FIELDS: dict[str, Limit] = {
    "MessageSid": SID,
    "SmsSid": SID,
    "SmsMessageSid": SID,
    "AccountSid": SID,
    "MessagingServiceSid": SID,
    "CallSid": SID,
    "ParentCallSid": SID,
    "RecordingSid": SID,
    "From": Limit("phone", 40),  # E.164 is at most 16 characters; tickets.citizen_phone holds 40
    "To": Limit("phone", 40),
    "Caller": Limit("text", 40),
    "Called": Limit("text", 40),
    "Body": Limit("whole", 1600),  # Twilio's limit for one message; a complaint is never cut short
    "NumMedia": Limit("int", maximum=MAX_MEDIA),
    "NumSegments": Limit("int", maximum=INT32_MAX),
    "SmsStatus": Limit("status", allowed=MESSAGE_STATUSES),
    "MessageStatus": Limit("status", allowed=MessageStatus.TWILIO),  # the delivery reports the outbox applies
    "ErrorCode": Limit("text", 20),  # outbox_messages.error_code
    "CallStatus": Limit("status", allowed=CALL_STATUSES),
    "RecordingStatus": Limit("status", allowed=RECORDING_STATUSES),
    "RecordingUrl": Limit("url", 1000),  # attachments.url, mystery_calls.recording_url
    "RecordingDuration": Limit("int", maximum=INT32_MAX),
    "CallDuration": Limit("int", maximum=INT32_MAX),
    "Duration": Limit("int", maximum=INT32_MAX),
    "SequenceNumber": Limit("int", maximum=INT32_MAX),
    "AnsweredBy": Limit("text", 30),  # mystery_calls.answered_by
    "Digits": Limit("text", 64),
    "SpeechResult": Limit("text", DEFAULT_MAX_CHARACTERS),
    "Confidence": Limit("ratio"),
}
_MEDIA = re.compile(r"^Media(Url|ContentType)(\d+)$")
MEDIA_URL = Limit("url", 1000)  # attachments.url
MEDIA_CONTENT_TYPE = Limit("text", 100)  # attachments.content_type


class Refused(ValueError):
    """A field no Twilio request carries: the webhook answers 400 with this reason."""


@dataclass
class Cleaned:
    form: dict[str, str]
    truncated: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def flags(self) -> dict[str, list[str]]:
        flags = {}
        if self.truncated:
            flags["truncated"] = self.truncated
        if self.dropped:
            flags["dropped"] = self.dropped
        return flags


def limit_for(name: str) -> Limit:
    if name in FIELDS:
        return FIELDS[name]
    media = _MEDIA.match(name)
    if media:
        return MEDIA_URL if media.group(1) == "Url" else MEDIA_CONTENT_TYPE
    return Limit("text", DEFAULT_MAX_CHARACTERS)


def strip_nul(value: str) -> str:
    return value.replace("\x00", "")


def clean(form: dict[str, str]) -> Cleaned:
    """The form as it will be stored, or :class:`Refused` naming the first field out of bounds."""
    result = Cleaned({})
    for raw_name, raw_value in form.items():
        name, value = strip_nul(raw_name), strip_nul(raw_value)
        limit = limit_for(name)
        if limit.kind == "text" and name not in FIELDS and not _MEDIA.match(name):
            if len(value) > limit.max_length:  # an unknown field: nothing to truncate it for
                raise Refused(f"field {name[:40]} is longer than {limit.max_length} characters")
            result.form[name] = value
            continue
        if limit.kind in ("id", "phone", "whole"):
            if len(value) > limit.max_length:
                raise Refused(f"field {name} is longer than {limit.max_length} characters")
        elif limit.kind == "int":
            if value.strip() != "":
                digits = value.strip()
                if not (digits.isascii() and digits.isdigit()) or int(digits) > limit.maximum:
                    raise Refused(f"field {name} must be a whole number from 0 to {limit.maximum}")
                value = str(int(digits))
        elif limit.kind == "status":
            if value and value.strip().lower() not in limit.allowed:
                raise Refused(f"field {name} is not a status Twilio sends")
        elif limit.kind == "url":
            if len(value) > limit.max_length:
                result.dropped.append(name)
                continue
        elif limit.kind == "ratio":
            if value.strip() and not _is_ratio(value):
                result.dropped.append(name)
                continue
        elif len(value) > limit.max_length:
            value = value[: limit.max_length]
            result.truncated.append(name)
        result.form[name] = value
    return result


def _is_ratio(value: str) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return math.isfinite(number) and 0.0 <= number <= 1.0


def path_id(value: int, name: str) -> None:
    """A numeric id in a webhook's path must fit the 32-bit column it is looked up in."""
    if not 0 <= value <= INT32_MAX:
        raise Refused(f"{name} is out of range")


def idempotency_token(value: str | None) -> str | None:
    """Twilio's retry token (not covered by the signature): kept when it fits, else ignored."""
    value = strip_nul(value or "").strip()
    if not value or len(value) > IDEMPOTENCY_TOKEN_MAX_CHARACTERS:
        return None
    return value


def stored_url(url: str) -> str:
    return strip_nul(url)[:URL_MAX_CHARACTERS]
