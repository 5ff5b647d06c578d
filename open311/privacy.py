"""What an Open311 answer may show of a complaint's text: no phone number, e-mail address or the citizen's name."""

from __future__ import annotations

import re

import phonenumbers

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Long digit runs (a phone number written without a country code the matcher does not know).
DIGITS = re.compile(r"\+?\d[\d\s-]{6,}\d")
MASK = "***"


def redact(text: str | None, region: str, names: tuple[str | None, ...] = ()) -> str | None:
    """``text`` with every phone number, e-mail address and each of ``names`` replaced by ``***``."""
    if not text:
        return text
    out = EMAIL.sub(MASK, text)
    spans = [(m.start, m.end) for m in phonenumbers.PhoneNumberMatcher(out, region)]
    for start, end in reversed(spans):
        out = out[:start] + MASK + out[end:]
    out = DIGITS.sub(MASK, out)
    for name in names:
        for part in {name, *(name or "").split()}:
            if part and len(part) >= 2:
                out = out.replace(part, MASK)
    return out
