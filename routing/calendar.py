"""Working-time arithmetic: when is a complaint's deadline, counting only the hours a unit works?

12345 hotlines give most tickets deadlines in *working* time ("resolve within 7 working days"), while
tickets about a risk to life or property run on plain elapsed time ("within 2 hours", nights and holidays
included). This module provides both clocks behind one small interface, :class:`WorkingClock`:

* :class:`BusinessCalendar` counts only working periods (by default 08:30-12:00 and 13:30-17:30, the
  common hours of Chinese government offices) on working days. Working days come from the maintained
  ``chinese_calendar`` package, which knows the State Council's public holidays *and* the make-up working
  days (调休) that fall on weekends; configuration can add local holidays and workdays on top. For years the
  package has no data for (it raises ``NotImplementedError``; version 1.11 covers 2004-2026) the calendar
  falls back to Monday-Friday plus the configured overrides, so a deadline can always be computed.
* :class:`Clock24x7` counts plain elapsed time, for urgent tiers.

Conventions, chosen so that deadlines are unambiguous and testable:

* Every datetime argument must be timezone-aware (a naive one raises ``ValueError``: guessing its zone is
  how deadlines silently move by eight hours). Results are returned in UTC; the arithmetic itself is done
  on the calendar's local wall clock (by default Asia/Shanghai, which has no daylight saving time).
* Working time is the union of half-open intervals ``[period start, period end)`` on working days, so
  17:30 itself is not working time. A deadline may nevertheless land *exactly* on the end of a period: four
  working hours from 13:30 is 17:30 the same day, not 08:30 the next morning.
* If a clock is started outside working time it starts at the next working moment.
* "N working days" follows the way administrative time limits are counted in China (the day on which the
  period starts is not counted, and the period ends with its last day): the deadline is the *end of the
  last working period of the N-th working day after the local calendar day of receipt*, whatever the time
  of receipt. A complaint received on Monday at 10:00 or at 20:00 with 7 working days is due the
  following Wednesday at 17:30 (in a week without holidays).
* Working periods are wall-clock times within one day and should not straddle a daylight-saving
  transition (they never do in practice: transitions happen at night).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import chinese_calendar

from hotline_core.clock_types import require_aware

DEFAULT_TIMEZONE = "Asia/Shanghai"
#: Common office hours of Chinese government departments: 08:30-12:00 and 13:30-17:30 (7.5 hours a day).
DEFAULT_WORKING_PERIODS: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30)))
#: A calendar with this many consecutive non-working days is considered broken rather than looped over forever.
MAX_CONSECUTIVE_NON_WORKING_DAYS = 366

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)


def _require_duration(duration: timedelta) -> timedelta:
    if not isinstance(duration, timedelta):
        raise TypeError(f"duration must be a timedelta, got {type(duration).__name__}")
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    return duration


def _require_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError(f"days must be an int, got {type(days).__name__}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    return days


@functools.lru_cache(maxsize=8192)
def _official_workday(day: date) -> bool | None:
    """``chinese_calendar``'s verdict for ``day``, or None for a year it has no data for."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@functools.cache
def official_years() -> frozenset[int]:
    """The years ``chinese_calendar`` has the State Council's schedule for (2004-2026 in version 1.11)."""
    from chinese_calendar import constants

    return frozenset(day.year for day in (*constants.holidays, *constants.workdays))


@runtime_checkable
class WorkingClock(Protocol):
    """What deadline code needs from a clock; both :class:`BusinessCalendar` and :class:`Clock24x7` provide it."""

    @property
    def timezone(self) -> ZoneInfo: ...

    def is_working_day(self, day: date) -> bool: ...

    def is_working_time(self, moment: datetime) -> bool: ...

    def next_working_moment(self, moment: datetime) -> datetime: ...

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime: ...

    def add_working_days(self, start: datetime, days: int) -> datetime: ...

    def working_time_between(self, a: datetime, b: datetime) -> timedelta: ...


def _zone(value: ZoneInfo | str) -> ZoneInfo:
    return value if isinstance(value, ZoneInfo) else ZoneInfo(value)


@dataclass(frozen=True)
class Clock24x7:
    """Plain elapsed time, for urgent tiers: every instant is working time, holidays included.

    ``add_working_days(start, n)`` is ``start + n × 24 h`` (only used when an urgent ticket is extended
    by days). The timezone is kept only so both clocks can be used interchangeably.
    """

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    def __post_init__(self) -> None:
        object.__setattr__(self, "timezone", _zone(self.timezone))

    def is_working_day(self, day: date) -> bool:
        return True

    def is_working_time(self, moment: datetime) -> bool:
        require_aware(moment, "moment")
        return True

    def next_working_moment(self, moment: datetime) -> datetime:
        return require_aware(moment, "moment")

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        return require_aware(start, "start") + _require_duration(duration)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        return require_aware(start, "start") + _require_days(days) * _ONE_DAY

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        return require_aware(b, "b") - require_aware(a, "a")


def _parse_time(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    return time(int(hours), int(minutes or 0))


def _parse_period(value: Any) -> tuple[time, time]:
    if isinstance(value, str):
        first, sep, last = value.partition("-")
        if not sep:
            raise ValueError(f"working period {value!r} must look like '08:30-12:00'")
        return _parse_time(first), _parse_time(last)
    raw_start, raw_end = value
    start = raw_start if isinstance(raw_start, time) else _parse_time(raw_start)
    return start, raw_end if isinstance(raw_end, time) else _parse_time(raw_end)


def _parse_dates(values: Iterable[Any]) -> frozenset[date]:
    # YAML already turns an unquoted 2026-07-15 into a date; quoted ones arrive as strings.
    return frozenset(
        v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(str(v)) for v in values
    )


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days and hours of the units that handle complaints, in one timezone.

    ``extra_holidays`` and ``extra_workdays`` are local overrides from configuration (a typhoon day off,
    a city-specific holiday, a make-up day the library does not know yet); they win over
    ``chinese_calendar``. With ``use_official_calendar=False`` only Monday-Friday and the overrides count,
    which is what a deployment outside mainland China (or a test) may want.

    ``schedules`` are the State Council's schedules entered by an admin for years the package does not know
    (``{2027: {"holidays": [...], "workdays": [...]}}``): their dates join the overrides, and their years are
    *vouched for* (:meth:`vouches_for`) like the package's own years. A day of a year with neither is still
    computed Monday-Friday (a deadline must always exist), but nothing is *planned* on it.
    """

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    working_periods: tuple[tuple[time, time], ...] = DEFAULT_WORKING_PERIODS
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    use_official_calendar: bool = True
    entered_years: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "timezone", _zone(self.timezone))
        object.__setattr__(self, "entered_years", frozenset(int(y) for y in self.entered_years))
        periods = tuple((start, end) for start, end in self.working_periods)
        if not periods:
            raise ValueError("a business calendar needs at least one working period")
        for start, end in periods:
            if start.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("working periods are wall-clock times: give them without tzinfo")
            if not start < end:
                raise ValueError(f"working period {start}-{end} must start before it ends")
        for (_, previous_end), (next_start, _) in itertools.pairwise(periods):
            if next_start < previous_end:
                raise ValueError("working periods must be in order and must not overlap")
        object.__setattr__(self, "working_periods", periods)
        holidays, workdays = frozenset(self.extra_holidays), frozenset(self.extra_workdays)
        if clash := holidays & workdays:
            raise ValueError(f"dates both extra holidays and extra workdays: {sorted(clash)}")
        object.__setattr__(self, "extra_holidays", holidays)
        object.__setattr__(self, "extra_workdays", workdays)

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> BusinessCalendar:
        """Build a calendar from configuration, e.g. a YAML mapping::

            timezone: Asia/Shanghai
            working_periods: ["08:30-12:00", "13:30-17:30"]
            extra_holidays: [2026-07-15]
            extra_workdays: ["2027-02-20"]
            use_official_calendar: true
            schedules: {"2027": {holidays: [2027-01-01], workdays: [2027-02-07]}}

        Every key is optional; missing ones take the defaults.
        """
        config = dict(config or {})
        unknown = set(config) - {
            "timezone",
            "working_periods",
            "extra_holidays",
            "extra_workdays",
            "use_official_calendar",
            "schedules",
        }
        if unknown:
            raise ValueError(f"unknown business calendar settings: {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        if "timezone" in config:
            kwargs["timezone"] = ZoneInfo(str(config["timezone"]))
        if "working_periods" in config:
            kwargs["working_periods"] = tuple(_parse_period(p) for p in config["working_periods"])
        if "extra_holidays" in config:
            kwargs["extra_holidays"] = _parse_dates(config["extra_holidays"] or ())
        if "extra_workdays" in config:
            kwargs["extra_workdays"] = _parse_dates(config["extra_workdays"] or ())
        if "use_official_calendar" in config:
            kwargs["use_official_calendar"] = bool(config["use_official_calendar"])
        schedules = config.get("schedules") or {}
        if schedules:
            if not isinstance(schedules, Mapping):
                raise ValueError("calendar schedules must map a year to its holidays and workdays")
            holidays, workdays = set(kwargs.get("extra_holidays", ())), set(kwargs.get("extra_workdays", ()))
            years = set()
            for year, entry in schedules.items():
                year_number = int(year)
                entry = entry or {}
                if not isinstance(entry, Mapping) or set(entry) - {"holidays", "workdays"}:
                    raise ValueError(f"the schedule of {year} must have only 'holidays' and 'workdays'")
                for name, target in (("holidays", holidays), ("workdays", workdays)):
                    dates = _parse_dates(entry.get(name) or ())
                    if strays := sorted(d for d in dates if d.year != year_number):
                        raise ValueError(f"the schedule of {year} lists dates of another year: {strays}")
                    target |= dates
                years.add(year_number)
            kwargs["extra_holidays"], kwargs["extra_workdays"] = frozenset(holidays), frozenset(workdays)
            kwargs["entered_years"] = frozenset(years)
        return cls(**kwargs)

    # -- days -------------------------------------------------------------------------------------------

    def has_official_data(self, day: date) -> bool:
        """Whether ``chinese_calendar`` knows ``day``'s year (if not, Monday-Friday is assumed).

        Worth a check at start-up or in monitoring: a year without data silently loses its holidays.
        """
        return _official_workday(day) is not None

    def vouches_for(self, day: date) -> bool:
        """Whether the calendar *knows* ``day``: its year has official data or an entered schedule (or the
        official calendar is not used at all). Plans avoid days it cannot vouch for."""
        return not self.use_official_calendar or day.year in self.entered_years or self.has_official_data(day)

    def is_working_day(self, day: date) -> bool:
        """Overrides first, then the official calendar (holidays and 调休), then Monday-Friday."""
        if isinstance(day, datetime):
            raise TypeError("is_working_day takes a date; use is_working_time for an instant")
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self.use_official_calendar:
            official = _official_workday(day)
            if official is not None:
                return official
        return day.weekday() < 5

    def working_periods_on(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working periods of local calendar day ``day`` as UTC ``(start, end)`` pairs; empty if no working day."""
        if not self.is_working_day(day):
            return ()
        tz = self.timezone
        return tuple(
            (
                datetime.combine(day, start, tzinfo=tz).astimezone(UTC),
                datetime.combine(day, end, tzinfo=tz).astimezone(UTC),
            )
            for start, end in self.working_periods
        )

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.timezone).date()

    def _working_days_from(self, day: date) -> Iterator[date]:
        """Working days from ``day`` (inclusive) onwards; refuses to scan an implausibly long gap."""
        idle = 0
        while True:
            if self.is_working_day(day):
                idle = 0
                yield day
            else:
                idle += 1
                if idle > MAX_CONSECUTIVE_NON_WORKING_DAYS:
                    raise ValueError(f"no working day for {idle} consecutive days up to {day}: check the calendar")
            day += _ONE_DAY

    # -- instants ---------------------------------------------------------------------------------------

    def is_working_time(self, moment: datetime) -> bool:
        """Whether ``moment`` is inside a working period (start inclusive, end exclusive)."""
        moment = require_aware(moment, "moment")
        return any(start <= moment < end for start, end in self.working_periods_on(self._local_date(moment)))

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` itself if it is working time, else the start of the next working period."""
        return self.add_working_time(moment, _ZERO)

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of working time has passed since ``start``.

        The clock starts at the next working moment if ``start`` is outside working time. The result is the
        *earliest* such instant, so it stays on the end of a period rather than rolling over to the next
        morning. A zero duration gives :meth:`next_working_moment`.
        """
        start = require_aware(start, "start")
        remaining = _require_duration(duration)
        for day in self._working_days_from(self._local_date(start)):
            for period_start, period_end in self.working_periods_on(day):
                if period_end <= start:
                    continue
                begin = max(period_start, start)
                available = period_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        raise AssertionError("unreachable: _working_days_from is infinite")  # pragma: no cover

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """End of the last working period of the ``days``-th working day after ``start``'s local day.

        The day of receipt never counts, whether it is a working day or not and whatever the hour (see the
        module docstring for why).
        """
        start = require_aware(start, "start")
        days = _require_days(days)
        for counted, day in enumerate(self._working_days_from(self._local_date(start) + _ONE_DAY), start=1):
            if counted == days:
                return self.working_periods_on(day)[-1][1]
        raise AssertionError("unreachable: _working_days_from is infinite")  # pragma: no cover

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time in ``[a, b]``; negative if ``b`` is before ``a``."""
        a, b = require_aware(a, "a"), require_aware(b, "b")
        if b < a:
            return -self.working_time_between(b, a)
        total = _ZERO
        day, last = self._local_date(a), self._local_date(b)
        while day <= last:
            for period_start, period_end in self.working_periods_on(day):
                low, high = max(period_start, a), min(period_end, b)
                if high > low:
                    total += high - low
            day += _ONE_DAY
        return total
