"""Pressing 0 on the phone line: a person at the centre, when one is there.

The directory's ``settings.operator`` names the number (``phone``) and the staffed hours (``hours``,
periods such as ``"08:00-20:00"`` in the city's time; ``days``, ISO weekdays 1-7, all by default).
Outside those hours, or without a number, the caller's complaint is taken as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from sqlalchemy.orm import Session

from hotline_core.models import DirectorySetting

PERIOD = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True)
class Operator:
    phone: str | None
    periods: tuple[tuple[time, time | None], ...]  # None: until midnight
    days: frozenset[int]

    def staffed(self, local: datetime) -> bool:
        if local.isoweekday() not in self.days:
            return False
        now = local.time()
        for start, end in self.periods:
            if end is None or start < end:
                if start <= now and (end is None or now < end):
                    return True
            elif now >= start or now < end:  # overnight, e.g. 20:00-08:00
                return True
        return False

    def number_now(self, local: datetime) -> str | None:
        """The number to dial at this local moment, or None (nobody there, or no number)."""
        return self.phone if self.phone and self.staffed(local) else None


def _clock(hours: str, minutes: str) -> time | None:
    return None if hours == "24" else time(int(hours), int(minutes))


def problems(value: Any) -> list[tuple[str, dict[str, object]]]:
    """What is wrong with a directory's ``operator`` setting (checked by the directory import), as
    ``directory.problem.operator_*`` message keys and their fields."""
    if not isinstance(value, dict):
        return [("operator_not_mapping", {})]
    found: list[tuple[str, dict[str, object]]] = []
    unknown = set(value) - {"phone", "hours", "days"}
    if unknown:
        found.append(("operator_unknown_fields", {"fields": ", ".join(sorted(map(str, unknown)))}))
    for period in value.get("hours") or []:
        match = PERIOD.match(str(period))
        if (
            not match
            or (match.group(1) == "24" and match.group(2) != "00")
            or (match.group(3) == "24" and match.group(4) != "00")
        ):
            found.append(("operator_bad_hours", {"period": str(period)}))
        elif _clock(match.group(1), match.group(2)) is None:
            found.append(("operator_starts_at_24", {"period": str(period)}))
    for day in value.get("days") or []:
        if not (isinstance(day, int) and 1 <= day <= 7):
            found.append(("operator_bad_day", {"day": str(day)}))
    return found


def parse(value: Any) -> Operator:
    value = value if isinstance(value, dict) else {}
    periods = []
    for period in value.get("hours") or []:
        match = PERIOD.match(str(period))
        start = _clock(match.group(1), match.group(2)) if match else None
        if match and start is not None:
            periods.append((start, _clock(match.group(3), match.group(4))))
    days = frozenset(d for d in value.get("days") or range(1, 8) if isinstance(d, int))
    phone = value.get("phone")
    return Operator(str(phone) if phone else None, tuple(periods), days)


def load(session: Session) -> Operator:
    settings = (session.get(DirectorySetting, "settings") or DirectorySetting(value={})).value or {}
    return parse(settings.get("operator"))
