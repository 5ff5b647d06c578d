"""Phone numbers: normalise to E.164 with phonenumbers, and mask for people who may not see them."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

MAX_RAW_LENGTH = 40


@dataclass(frozen=True)
class PhoneNumber:
    """A citizen's number as we store it: E.164 when valid, else the raw text flagged invalid."""

    value: str
    valid: bool


def normalise(raw: str | None, default_region: str = "CN") -> PhoneNumber | None:
    """Normalise ``raw``; never rejects: an unparseable number is kept as given, flagged invalid."""
    if raw is None:
        return None
    raw = raw.strip()[:MAX_RAW_LENGTH]
    if not raw:
        return None
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException:
        return PhoneNumber(raw, False)
    if not phonenumbers.is_valid_number(parsed):
        return PhoneNumber(raw, False)
    return PhoneNumber(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), True)


def mask(number: str | None) -> str:
    """``+8613800138000`` -> ``138****8000``: enough to recognise, not enough to call."""
    if not number:
        return ""
    digits = number
    try:
        parsed = phonenumbers.parse(number, None)
        digits = phonenumbers.national_significant_number(parsed)
    except phonenumbers.NumberParseException:
        digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) <= 4:
        return "*" * len(digits)
    if len(digits) <= 7:
        return "*" * (len(digits) - 4) + digits[-4:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def last_four(number: str | None) -> str:
    digits = "".join(ch for ch in (number or "") if ch.isdigit())
    return digits[-4:]


def display(number: str | None, *, may_see_full: bool) -> str:
    """The one place that decides how a citizen's number is shown."""
    if not number:
        return ""
    return number if may_see_full else mask(number)
