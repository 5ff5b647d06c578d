"""Quiet hours: no non-urgent text (a survey, a reminder to a citizen) reaches a phone at night.

The window comes from the directory's settings (``settings.quiet_hours: "21:00-08:00"``, city
time; the default when unset). A deferrable message queued inside it waits in the outbox until the
window ends (its ``next_attempt_at``); acknowledgements, replies to a text and emergency advice are
never deferred.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from sqlalchemy.orm import Session

from hotline_core.models import DirectorySetting
from hotline_core.runtime import Runtime

DEFAULT = "21:00-08:00"
_WINDOW = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def parse(value: str) -> tuple[time, time] | None:
    """``"21:00-08:00"`` -> (21:00, 08:00); ``""``/``"off"`` -> None (no quiet hours); bad -> ValueError."""
    if not value or value.strip().lower() in ("off", "none"):
        return None
    match = _WINDOW.match(value)
    if match is None:
        raise ValueError(f"quiet_hours {value!r} is not HH:MM-HH:MM")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        return None
    return start, end


def window(session: Session) -> tuple[time, time] | None:
    row = session.get(DirectorySetting, "settings")
    value = (row.value or {}).get("quiet_hours", DEFAULT) if row is not None else DEFAULT
    try:
        return parse(str(value) if value is not None else "")
    except ValueError:
        return parse(DEFAULT)


def ends_at(window_: tuple[time, time] | None, moment: datetime, tz: object) -> datetime | None:
    """When the quiet window around ``moment`` ends (an aware UTC-comparable datetime), or None
    when ``moment`` is outside it."""
    if window_ is None:
        return None
    start, end = window_
    local = moment.astimezone(tz)  # type: ignore[arg-type]
    now = local.time()
    inside = (start <= now or now < end) if start > end else (start <= now < end)
    if not inside:
        return None
    day = local.date() if now < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=local.tzinfo).astimezone(moment.tzinfo)


def not_before(session: Session, runtime: Runtime, moment: datetime | None = None) -> datetime:
    """The earliest time a non-urgent text queued at ``moment`` may go out."""
    moment = moment or runtime.now()
    return ends_at(window(session), moment, runtime.settings.tz) or moment
