"""Plan a campaign of mystery calls: random moments in working time, within the limits of the practice.

For each hotline the planner draws ``calls_per_hotline`` moments uniformly at random over the working time of
the campaign window (working hours on working days, on the local wall clock of ``timezone``), so agencies
cannot predict when they will be tested. Limits are never broken; a call that cannot be placed within them is
reported in :attr:`Plan.unplanned` and :attr:`Plan.notes` instead:

* An auditor calls the same hotline at most ``max_per_auditor_hotline_month`` times per calendar month
  (of the call's local date), counting ``already_made`` calls and the calls of this plan, so a hotline's
  staff do not learn a tester's voice. Each call goes to an auditor with capacity left, preferring the one
  with the fewest calls in this plan (ties broken at random).
* Calls to the same hotline are at least ``min_gap`` apart.
* Caller numbers are rotated: a hotline's calls, in time order, cycle through the numbers (in an order
  shuffled once per plan, continuing across hotlines), so consecutive calls to a hotline come from
  different numbers whenever there is more than one, and every number is used about equally often.
* Scenarios are rotated the same way, so a hotline gets different scenarios when there are enough
  (with no scenarios at all, calls get scenario ``""``).

Each moment is drawn uniformly (to the second) from the working time still open for that hotline: working time
in months where some auditor still has capacity, minus the ``min_gap`` neighbourhoods of its calls already
planned. The plan is deterministic for a given ``random.Random`` seed.

Working days default to Monday-Friday corrected by ``chinese_calendar`` (public holidays and the make-up
working days 调休) for the years it knows; pass ``is_working_day`` to use another calendar (the service passes
the city's business calendar, with the holidays and make-up days entered by admins). ``vouches_for`` says which
days the calendar actually knows: a day it cannot vouch for (a year with neither official data nor an entered
schedule) gets no call, since Monday-Friday there is a guess (2027-01-01 is a Friday, and a holiday).

Working time of a day is the union of its working periods: ``working_periods`` (default: ``working_hours`` as
one period), or a hotline's own service hours in ``hotline_periods`` (e.g. 08:30-12:00 and 13:30-17:30, so no
call lands in the lunch break).
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mystery_calls.progress import RETRY_AFTER

try:  # the project depends on it; the planner still works (Monday-Friday) without it
    import chinese_calendar
except ImportError:  # pragma: no cover
    chinese_calendar = None

#: Give up looking for a working day after this many consecutive non-working days (a broken calendar).
MAX_NON_WORKING_DAYS = 366

_MONTH_KEY = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@functools.lru_cache(maxsize=4096)
def default_is_working_day(day: date) -> bool:
    """Monday-Friday, corrected by ``chinese_calendar`` (holidays, make-up working days) where it has data."""
    if chinese_calendar is not None:
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:  # a year the package has no data for
            pass
    return day.weekday() < 5


def month_key(day: date) -> str:
    """The ``"YYYY-MM"`` key of ``already_made`` for a local date."""
    return f"{day.year:04d}-{day.month:02d}"


def _zone(timezone: str | ZoneInfo) -> ZoneInfo:
    if isinstance(timezone, ZoneInfo):
        return timezone
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"unknown timezone {timezone!r}") from exc


def _check_working_hours(working_hours: tuple[time, time]) -> tuple[time, time]:
    try:
        start, end = working_hours
    except (TypeError, ValueError) as exc:
        raise ValueError(f"working_hours must be a (start, end) pair of times, got {working_hours!r}") from exc
    if not isinstance(start, time) or not isinstance(end, time):
        raise ValueError(f"working_hours must be a (start, end) pair of times, got {working_hours!r}")
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("working_hours are local wall-clock times: give them without tzinfo")
    if start >= end:
        raise ValueError(f"working hours must start before they end, got {start.isoformat()}-{end.isoformat()}")
    return start, end


def _check_periods(periods: Sequence[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    checked = tuple(_check_working_hours(period) for period in periods)
    if not checked:
        raise ValueError("at least one working period is needed")
    for (_s1, end), (start, _e2) in itertools.pairwise(checked):
        if start < end:
            raise ValueError("working periods must be in order and must not overlap")
    return checked


def parse_service_hours(text: str) -> tuple[tuple[time, time], ...]:
    """A hotline's service hours as written in the registry: ``"08:30-12:00, 13:30-17:30"`` (commas, spaces,
    ``;``, ``、`` or ``，`` between periods). Empty text gives ``()`` (use the calendar's periods).
    ``ValueError`` if a period cannot be read."""
    periods = []
    for part in re.split(r"[,;，；、\s]+", (text or "").strip()):
        if not part:
            continue
        start, sep, end = part.replace("～", "-").replace("~", "-").replace("—", "-").partition("-")
        if not sep:
            raise ValueError(f"service hours {part!r} must look like 08:30-12:00")
        try:
            periods.append((time.fromisoformat(start.strip().zfill(5)), time.fromisoformat(end.strip().zfill(5))))
        except ValueError as exc:
            raise ValueError(f"service hours {part!r} must look like 08:30-12:00") from exc
    return _check_periods(periods) if periods else ()


def _check_names(name: str, values: Sequence[str], *, required: bool = True) -> tuple[str, ...]:
    if isinstance(values, str):
        raise ValueError(f"{name} must be a sequence of strings, not one string")
    result = tuple(values)
    if required and not result:
        raise ValueError(f"{name} must not be empty")
    for value in result:
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be non-empty strings, got {value!r}")
    duplicates = sorted({value for value in result if result.count(value) > 1})
    if duplicates:
        raise ValueError(f"{name} has duplicates: {', '.join(duplicates)}")
    return result


def _aware_utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class PlanRequest:
    """What to plan. Validated on creation (``ValueError`` with the reason)."""

    hotlines: Sequence[str]  # hotline ids as strings
    auditors: Sequence[str]
    caller_numbers: Sequence[str]
    scenarios: Sequence[str]  # may be empty: the calls then get scenario ""
    calls_per_hotline: int
    window_start: date
    window_end: date  # inclusive
    max_per_auditor_hotline_month: int = 2
    working_hours: tuple[time, time] = (time(9, 0), time(17, 0))  # [start, end) local time
    timezone: str = "Asia/Shanghai"
    is_working_day: Callable[[date], bool] | None = None  # default: default_is_working_day
    already_made: Mapping[tuple[str, str, str], int] = field(default_factory=dict)  # (auditor, hotline, "YYYY-MM")
    min_gap: timedelta = timedelta(minutes=30)  # between two calls to the same hotline
    working_periods: tuple[tuple[time, time], ...] | None = None  # default: (working_hours,)
    hotline_periods: Mapping[str, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    vouches_for: Callable[[date], bool] | None = None  # default: every day

    def __post_init__(self) -> None:
        for name in ("hotlines", "auditors", "caller_numbers", "scenarios"):
            value = _check_names(name, getattr(self, name), required=name != "scenarios")
            object.__setattr__(self, name, value)
        calls = self.calls_per_hotline
        if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1:
            raise ValueError(f"calls_per_hotline must be an integer >= 1, got {calls!r}")
        limit = self.max_per_auditor_hotline_month
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"max_per_auditor_hotline_month must be an integer >= 1, got {limit!r}")
        for name in ("window_start", "window_end"):
            value = getattr(self, name)
            if not isinstance(value, date) or isinstance(value, datetime):
                raise ValueError(f"{name} must be a date, got {value!r}")
        if self.window_end < self.window_start:
            raise ValueError(
                f"window ends before it starts: {self.window_end.isoformat()} < {self.window_start.isoformat()}"
            )
        object.__setattr__(self, "working_hours", _check_working_hours(self.working_hours))
        periods = self.working_periods or (self.working_hours,)
        object.__setattr__(self, "working_periods", _check_periods(periods))
        object.__setattr__(
            self,
            "hotline_periods",
            {str(h): _check_periods(p) for h, p in self.hotline_periods.items() if p},
        )
        _zone(self.timezone)
        if not isinstance(self.min_gap, timedelta) or self.min_gap < timedelta(0):
            raise ValueError(f"min_gap must be a non-negative timedelta, got {self.min_gap!r}")
        for key, count in self.already_made.items():
            if not (isinstance(key, tuple) and len(key) == 3 and _MONTH_KEY.match(str(key[2]))):
                raise ValueError(f"already_made keys must be (auditor, hotline, 'YYYY-MM'), got {key!r}")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"already_made counts must be integers >= 0, got {count!r} for {key!r}")
        if not self.working_days():
            raise ValueError(
                f"the window {self.window_start.isoformat()}..{self.window_end.isoformat()} has no working day"
            )

    @property
    def working_day(self) -> Callable[[date], bool]:
        return self.is_working_day or default_is_working_day

    def _days(self) -> list[date]:
        days = (self.window_end - self.window_start).days + 1
        return [self.window_start + timedelta(days=offset) for offset in range(days)]

    def working_days(self) -> list[date]:
        """The working days of the window the calendar vouches for, in order."""
        vouches = self.vouches_for or (lambda _day: True)
        return [day for day in self._days() if vouches(day) and self.working_day(day)]

    def unvouched_days(self) -> list[date]:
        """The days of the window the calendar cannot vouch for (no call is planned on them)."""
        vouches = self.vouches_for or (lambda _day: True)
        return [day for day in self._days() if not vouches(day)]

    def periods_for(self, hotline: str) -> tuple[tuple[time, time], ...]:
        """The hotline's own service periods, else the calendar's working periods."""
        return self.hotline_periods.get(hotline) or self.working_periods or (self.working_hours,)


@dataclass(frozen=True)
class PlannedCall:
    hotline: str
    auditor: str
    caller_number: str
    scenario: str
    at: datetime  # aware UTC, whole seconds


@dataclass(frozen=True)
class Plan:
    """The planned calls (ordered by time) and what could not be planned.

    ``unplanned`` maps a hotline to the number of its calls that could not be placed within the limits
    (hotlines with every call planned are absent); ``notes`` say why, one line per such hotline.
    """

    calls: tuple[PlannedCall, ...]
    unplanned: dict[str, int]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Segment:
    """Working time [start, end) in whole POSIX seconds, within one local working day."""

    start: int
    end: int
    month: str


def _day_segment(day: date, working_hours: tuple[time, time], zone: ZoneInfo) -> _Segment | None:
    start = datetime.combine(day, working_hours[0], tzinfo=zone).timestamp()
    end = datetime.combine(day, working_hours[1], tzinfo=zone).timestamp()
    # Whole seconds s with start <= s < end.
    first, stop = math.ceil(start), math.ceil(end)
    return _Segment(first, stop, month_key(day)) if stop > first else None


def _without_gaps(segment: _Segment, taken: Sequence[int], gap: int) -> list[_Segment]:
    """``segment`` minus the seconds closer than ``gap`` to any of ``taken``."""
    pieces = [segment]
    if gap <= 0:
        return pieces
    for moment in taken:
        low, high = moment - gap + 1, moment + gap  # excluded: [low, high)
        next_pieces = []
        for piece in pieces:
            if high <= piece.start or low >= piece.end:
                next_pieces.append(piece)
                continue
            if piece.start < low:
                next_pieces.append(_Segment(piece.start, low, piece.month))
            if high < piece.end:
                next_pieces.append(_Segment(high, piece.end, piece.month))
        pieces = next_pieces
    return pieces


def _draw(segments: Sequence[_Segment], rng: random.Random) -> tuple[int, str]:
    """A second drawn uniformly from ``segments`` (non-empty in total), with its month."""
    offset = rng.randrange(sum(segment.end - segment.start for segment in segments))
    for segment in segments:
        length = segment.end - segment.start
        if offset < length:
            return segment.start + offset, segment.month
        offset -= length
    raise AssertionError("unreachable: offset beyond the segments")  # pragma: no cover


def plan(request: PlanRequest, rng: random.Random) -> Plan:
    """Plan the campaign described by ``request`` (see the module docstring); deterministic for ``rng``'s seed."""
    zone = _zone(request.timezone)
    limit = request.max_per_auditor_hotline_month
    gap = math.ceil(request.min_gap.total_seconds())
    days = request.working_days()

    def segments_of(hotline: str) -> list[_Segment]:
        return [
            segment
            for day in days
            for period in request.periods_for(hotline)
            if (segment := _day_segment(day, period, zone)) is not None
        ]

    months = sorted({month_key(day) for day in days})

    numbers = list(request.caller_numbers)
    rng.shuffle(numbers)
    scenarios = list(request.scenarios)
    rng.shuffle(scenarios)
    number_cursor = 0
    scenario_cursor = 0

    planned_per_key: dict[tuple[str, str, str], int] = {}
    planned_per_auditor = dict.fromkeys(request.auditors, 0)

    def capacity(auditor: str, hotline: str, month: str) -> int:
        key = (auditor, hotline, month)
        return limit - request.already_made.get(key, 0) - planned_per_key.get(key, 0)

    calls: list[tuple[int, int, PlannedCall]] = []
    unplanned: dict[str, int] = {}
    notes: list[str] = []
    unvouched = request.unvouched_days()
    if unvouched:
        notes.append(
            f"no call on {len(unvouched)} day(s) the calendar cannot vouch for "
            f"({unvouched[0].isoformat()}..{unvouched[-1].isoformat()}): enter that year's schedule"
        )
    for hotline_index, hotline in enumerate(request.hotlines):
        segments = segments_of(hotline)
        placed: list[tuple[int, str]] = []  # (second, auditor)
        reason = ""
        for _ in range(request.calls_per_hotline):
            open_months = {m for m in months if any(capacity(a, hotline, m) > 0 for a in request.auditors)}
            if not open_months:
                reason = (
                    f"every auditor has reached the limit of {limit} call(s) a month to this hotline "
                    f"in the window's month(s) ({', '.join(months)})"
                )
                break
            taken = [second for second, _auditor in placed]
            free = [
                piece
                for segment in segments
                if segment.month in open_months
                for piece in _without_gaps(segment, taken, gap)
            ]
            if not free:
                reason = f"no working time left at least {request.min_gap} away from this hotline's other calls"
                if len(open_months) < len(months):
                    reason += " in the month(s) where an auditor still has capacity"
                break
            second, month = _draw(free, rng)
            candidates = [a for a in request.auditors if capacity(a, hotline, month) > 0]
            fewest = min(planned_per_auditor[a] for a in candidates)
            auditor = rng.choice([a for a in candidates if planned_per_auditor[a] == fewest])
            planned_per_auditor[auditor] += 1
            key = (auditor, hotline, month)
            planned_per_key[key] = planned_per_key.get(key, 0) + 1
            placed.append((second, auditor))

        missing = request.calls_per_hotline - len(placed)
        if missing:
            unplanned[hotline] = missing
            notes.append(f"{hotline}: {missing} of {request.calls_per_hotline} call(s) not planned: {reason}")

        placed.sort()
        for index, (second, auditor) in enumerate(placed):
            call = PlannedCall(
                hotline=hotline,
                auditor=auditor,
                caller_number=numbers[(number_cursor + index) % len(numbers)],
                scenario=scenarios[(scenario_cursor + index) % len(scenarios)] if scenarios else "",
                at=datetime.fromtimestamp(second, UTC),
            )
            calls.append((second, hotline_index, call))
        number_cursor += len(placed)
        scenario_cursor += len(placed)

    calls.sort(key=lambda entry: (entry[0], entry[1]))
    return Plan(calls=tuple(call for _s, _i, call in calls), unplanned=unplanned, notes=tuple(notes))


def next_working_moment(
    moment: datetime,
    working_hours: tuple[time, time],
    timezone: str | ZoneInfo,
    is_working_day: Callable[[date], bool] | None = None,
) -> datetime:
    """``moment`` (aware) if it is within working hours [start, end) of a working day, else the next opening.
    Returned in UTC."""
    start, end = _check_working_hours(working_hours)
    zone = _zone(timezone)
    working_day = is_working_day or default_is_working_day
    local = _aware_utc(moment, "moment").astimezone(zone)
    day = local.date()
    if working_day(day) and start <= local.time().replace(tzinfo=None) < end:
        return local.astimezone(UTC)
    if not (working_day(day) and local.time().replace(tzinfo=None) < start):
        day += timedelta(days=1)
        for _ in range(MAX_NON_WORKING_DAYS):
            if working_day(day):
                break
            day += timedelta(days=1)
        else:
            raise ValueError(f"no working day within {MAX_NON_WORKING_DAYS} days after {local.date().isoformat()}")
    return datetime.combine(day, start, tzinfo=zone).astimezone(UTC)


def retry_at(
    ended_at: datetime,
    working_hours: tuple[time, time],
    timezone: str | ZoneInfo,
    is_working_day: Callable[[date], bool] | None = None,
) -> datetime:
    """When to retry a busy or unanswered call: :data:`RETRY_AFTER` after it ended, moved to the next working
    moment if that falls outside working hours (aware UTC)."""
    return next_working_moment(_aware_utc(ended_at, "ended_at") + RETRY_AFTER, working_hours, timezone, is_working_day)
