"""The State Council's yearly schedule (public holidays and make-up working days) beyond ``chinese_calendar``.

``chinese_calendar`` only knows the years it was released with; for a later year every deadline and plan would
silently assume Monday to Friday. Admins see which years have official data (:func:`calendar_years`), are warned
from November when next year has none (:func:`missing_next_year`), and enter a year's schedule
(:func:`save_year_schedule`). It is kept in the directory's ``calendar`` setting under ``schedules``, which
:meth:`routing.calendar.BusinessCalendar.from_config` reads, so deadlines and the mystery-call planner use it
from the next transaction on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.errors import HotlineError
from hotline_core.models import DirectorySetting
from routing.calendar import official_years

#: From this month on, admins are warned when next year has no schedule.
WARN_FROM_MONTH = 11
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:(?:\.\.|~|至|到|—|–)\s*(\d{4}-\d{2}-\d{2}))?$")


class ScheduleError(HotlineError):
    """An entered schedule that cannot be kept."""


@dataclass(frozen=True)
class YearStatus:
    year: int
    official: bool  # chinese_calendar has the year
    entered: bool  # an admin entered the year's schedule
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()

    @property
    def vouched(self) -> bool:
        return self.official or self.entered


def _calendar_value(session: Session) -> dict[str, Any]:
    row = session.get(DirectorySetting, "calendar")
    return dict(row.value or {}) if row is not None else {}


def _dates(values: Any) -> tuple[date, ...]:
    return tuple(sorted(v if isinstance(v, date) else date.fromisoformat(str(v)) for v in values or ()))


def calendar_years(session: Session, today: date) -> list[YearStatus]:
    """Last year, this year, next year and every year with an entered schedule, in order."""
    schedules = {int(y): v or {} for y, v in (_calendar_value(session).get("schedules") or {}).items()}
    official = official_years()
    years = sorted({today.year - 1, today.year, today.year + 1, *schedules})
    return [
        YearStatus(
            year=year,
            official=year in official,
            entered=year in schedules,
            holidays=_dates(schedules.get(year, {}).get("holidays")),
            workdays=_dates(schedules.get(year, {}).get("workdays")),
        )
        for year in years
    ]


def missing_next_year(session: Session, today: date) -> int | None:
    """Next year, if ``today`` is in November or December and next year has neither official data nor an
    entered schedule; else None."""
    if today.month < WARN_FROM_MONTH:
        return None
    year = today.year + 1
    status = next(s for s in calendar_years(session, today) if s.year == year)
    return None if status.vouched else year


def parse_dates(text: str, year: int) -> tuple[date, ...]:
    """Dates written one per line (or separated by commas), a line may be a range ``2027-01-28..2027-02-03``.

    Raises :class:`ScheduleError` naming the first line that is not a date of ``year``.
    """
    found: set[date] = set()
    for raw in re.split(r"[\n,，;；]+", text or ""):
        line = raw.strip()
        if not line:
            continue
        match = _RANGE.match(line)
        try:
            if match is None:
                raise ValueError(line)
            first = date.fromisoformat(match.group(1))
            last = date.fromisoformat(match.group(2)) if match.group(2) else first
        except ValueError:
            raise ScheduleError("error.schedule.bad_date", line=line) from None
        if last < first:
            raise ScheduleError("error.schedule.bad_date", line=line)
        for offset in range((last - first).days + 1):
            day = first + timedelta(days=offset)
            if day.year != year:
                raise ScheduleError("error.schedule.wrong_year", line=line, year=year)
            found.add(day)
    return tuple(sorted(found))


def save_year_schedule(
    session: Session, year: int, holidays_text: str, workdays_text: str, *, actor: Actor
) -> YearStatus:
    """Keep ``year``'s holidays and make-up working days (replacing what was entered for it before)."""
    if not 2000 <= year <= 2100:
        raise ScheduleError("error.schedule.bad_year", year=year)
    holidays = parse_dates(holidays_text, year)
    workdays = parse_dates(workdays_text, year)
    if clash := sorted(set(holidays) & set(workdays)):
        raise ScheduleError("error.schedule.clash", dates=", ".join(d.isoformat() for d in clash))
    if not holidays and not workdays:
        raise ScheduleError("error.schedule.empty", year=year)
    value = _calendar_value(session)
    schedules = {str(k): v for k, v in (value.get("schedules") or {}).items()}
    schedules[str(year)] = {
        "holidays": [d.isoformat() for d in holidays],
        "workdays": [d.isoformat() for d in workdays],
    }
    value["schedules"] = schedules
    row = session.get(DirectorySetting, "calendar") or DirectorySetting(key="calendar")
    row.value = value
    session.add(row)
    session.flush()
    audit(session, actor, "calendar.schedule_save", None, year=year, holidays=len(holidays), workdays=len(workdays))
    return YearStatus(year, year in official_years(), True, holidays, workdays)
