"""Ticket numbers as people type them: one normalisation for every lookup and every limit keyed on one.

A ticket number is ``YYYY-NNNNNN`` (the year of receipt and the ticket's serial). Citizens type it with
spaces, full-width digits from a Chinese keyboard (``２０２６－０００００６``), another dash, no dash, or a
serial with more or fewer leading zeros. All of these name the same ticket, so the lookup finds it and
the per-ticket wrong-guess limit counts them against the same key.
"""

from __future__ import annotations

import re
import unicodedata

MAX_TYPED_LENGTH = 64  # longer input is not a ticket number; no normalising of megabytes
_DASHES = re.compile(r"[\u2010-\u2015\u2212\u30fc\ufe58\ufe63_/.]")  # hyphen, en/em dash, minus, ー ...
_NUMBER = re.compile(r"([0-9]{4})-?([0-9]{1,9})", re.ASCII)


def normalise(typed: str | None) -> str | None:
    """The canonical ``YYYY-NNNNNN`` of a typed ticket number, or None if it cannot be one."""
    if not typed or len(typed) > MAX_TYPED_LENGTH:
        return None
    text = unicodedata.normalize("NFKC", typed)
    text = "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf"))
    text = _DASHES.sub("-", text)
    match = _NUMBER.fullmatch(text)
    if match is None:
        return None
    year, serial = match.groups()
    return f"{year}-{int(serial):06d}"
