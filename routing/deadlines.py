"""Deadline policies and the two clocks of a ticket: sign-for (签收) and resolution (办结).

As in 12345 practice, each ticket runs two clocks from the moment it is dispatched: one until the unit
signs for it (first contact with the citizen), one until it is resolved. How long each may take depends on
the ticket's category and urgency, expressed as a :class:`DeadlinePolicy`:

==========  ============  =================  ===================  ==================================
policy      urgency       sign-for           resolution           clock
==========  ============  =================  ===================  ==================================
emergency   immediate     30 minutes         2 hours              24x7 (life or property at risk)
utility     urgent        2 hours            24 hours             24x7 (water, power, gas, heating out)
general     routine       4 working hours    7 working days       business calendar
complex     routine       1 working day      15 working days      business calendar
==========  ============  =================  ===================  ==================================

The unit of an allowance decides its clock: ``hours`` is plain elapsed time (nights and holidays count),
``working_hours`` and ``working_days`` count only the business calendar's working time.

A :class:`TicketClock` turns a policy into the *effective* deadline at a given moment, replaying what
happened to the ticket in time order:

* **Pauses** stop the clock while the ticket is not the unit's to act on: a returned ticket under
  arbitration, or waiting for the citizen. The deadline moves by the paused time *as the policy's clock
  counts it*, so a pause over a weekend moves a working-days deadline by nothing. An open pause lasts
  until ``now``. A pause that begins after the deadline has passed does not revive an overdue ticket.
* **Extensions** approved by a supervisor move the deadline by a duration, by working days, or to a new
  instant; one approved during a pause splits the pause, so the part after the approval still moves the
  new deadline.

Every change is returned as a :class:`DeadlineChange` with its reason, so the ticket's history can show
why its deadline is what it is. Events after ``now`` are ignored: the answer is always "as known at now".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hotline_core.clock_types import Extension, Pause, PauseReason, require_aware
from routing.calendar import BusinessCalendar, Clock24x7, WorkingClock

__all__ = ["Extension", "Pause", "PauseReason"]  # the clock's inputs, defined with their column types

#: Share of the allowed time after which a ticket is flagged as due soon.
WARNING_SHARE = 0.75

_ZERO = timedelta(0)


class Unit(StrEnum):
    HOURS = "hours"  # elapsed time, 24x7
    WORKING_HOURS = "working_hours"
    WORKING_DAYS = "working_days"


class CalendarMode(StrEnum):
    ROUND_THE_CLOCK = "24x7"
    WORKING = "working"
    MIXED = "mixed"  # one clock of the policy runs 24x7, the other on working time


class Urgency(StrEnum):
    IMMEDIATE = "immediate"  # risk to life or property
    URGENT = "urgent"  # outage of a utility
    ROUTINE = "routine"


class ClockKind(StrEnum):
    SIGN_FOR = "sign_for"
    RESOLUTION = "resolution"


class ChangeKind(StrEnum):
    INITIAL = "initial"
    PAUSE = "pause"
    EXTENSION = "extension"


_UNIT_WORDS = {
    Unit.HOURS: ("hour", "hours"),
    Unit.WORKING_HOURS: ("working hour", "working hours"),
    Unit.WORKING_DAYS: ("working day", "working days"),
}
_ALLOWANCE_RE = re.compile(r"^\s*(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>[a-z_ ]+?)\s*$")


@dataclass(frozen=True)
class Allowance:
    """How long a clock may run: an amount of hours (elapsed or working) or a whole number of working days."""

    amount: float
    unit: Unit

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", Unit(self.unit))
        if not self.amount > 0:
            raise ValueError(f"an allowance must be positive, got {self.amount}")
        if self.unit is Unit.WORKING_DAYS and self.amount != int(self.amount):
            raise ValueError(f"working days must be a whole number, got {self.amount}")

    @classmethod
    def parse(cls, text: str) -> Allowance:
        """``"30 minutes"``, ``"2 hours"``, ``"4 working_hours"``, ``"7 working days"``."""
        match = _ALLOWANCE_RE.match(str(text).lower())
        if not match:
            raise ValueError(f"cannot read allowance {text!r}; expected e.g. '7 working_days'")
        amount, unit = float(match["amount"]), match["unit"].replace(" ", "_").rstrip("s")
        if unit in {"minute", "min"}:
            return cls(amount / 60, Unit.HOURS)
        if unit in {"hour", "h"}:
            return cls(amount, Unit.HOURS)
        if unit == "working_hour":
            return cls(amount, Unit.WORKING_HOURS)
        if unit == "working_day":
            return cls(int(amount) if amount == int(amount) else amount, Unit.WORKING_DAYS)
        raise ValueError(f"unknown unit in allowance {text!r}")

    @property
    def around_the_clock(self) -> bool:
        return self.unit is Unit.HOURS

    def clock(self, calendar: BusinessCalendar) -> WorkingClock:
        """The clock this allowance is counted on: 24x7 for plain hours, else the business calendar."""
        if self.around_the_clock:
            return Clock24x7(calendar.timezone)
        return calendar

    def deadline_from(self, start: datetime, calendar: BusinessCalendar) -> datetime:
        clock = self.clock(calendar)
        if self.unit is Unit.WORKING_DAYS:
            return clock.add_working_days(start, int(self.amount))
        return clock.add_working_time(start, timedelta(hours=self.amount))

    def __str__(self) -> str:
        if self.unit is Unit.HOURS and self.amount < 1:
            return f"{self.amount * 60:g} minutes"
        singular, plural = _UNIT_WORDS[self.unit]
        return f"{self.amount:g} {singular if self.amount == 1 else plural}"


@dataclass(frozen=True)
class DeadlinePolicy:
    """Time limits for one category/urgency of complaint (which policy a ticket gets is the router's call)."""

    name: str
    urgency: Urgency
    sign_for: Allowance
    resolution: Allowance
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "urgency", Urgency(self.urgency))

    def allowance(self, kind: ClockKind | str) -> Allowance:
        return self.sign_for if ClockKind(kind) is ClockKind.SIGN_FOR else self.resolution

    @property
    def calendar_mode(self) -> CalendarMode:
        modes = {self.sign_for.around_the_clock, self.resolution.around_the_clock}
        if modes == {True}:
            return CalendarMode.ROUND_THE_CLOCK
        if modes == {False}:
            return CalendarMode.WORKING
        return CalendarMode.MIXED

    @classmethod
    def from_config(cls, name: str, config: Mapping[str, Any]) -> DeadlinePolicy:
        """``{"urgency": "routine", "sign_for": "4 working_hours", "resolution": "7 working_days"}``."""
        return cls(
            name=name,
            urgency=Urgency(config["urgency"]),
            sign_for=Allowance.parse(config["sign_for"]),
            resolution=Allowance.parse(config["resolution"]),
            description=str(config.get("description", "")),
        )


EMERGENCY = DeadlinePolicy(
    "emergency",
    Urgency.IMMEDIATE,
    sign_for=Allowance(0.5, Unit.HOURS),
    resolution=Allowance(2, Unit.HOURS),
    description="Risk to life or property: the clock never stops for nights or holidays.",
)
UTILITY = DeadlinePolicy(
    "utility",
    Urgency.URGENT,
    sign_for=Allowance(2, Unit.HOURS),
    resolution=Allowance(24, Unit.HOURS),
    description="Outage of water, power, gas or heating.",
)
GENERAL = DeadlinePolicy(
    "general",
    Urgency.ROUTINE,
    sign_for=Allowance(4, Unit.WORKING_HOURS),
    resolution=Allowance(7, Unit.WORKING_DAYS),
    description="Most complaints and requests.",
)
COMPLEX = DeadlinePolicy(
    "complex",
    Urgency.ROUTINE,
    sign_for=Allowance(1, Unit.WORKING_DAYS),
    resolution=Allowance(15, Unit.WORKING_DAYS),
    description="Needs several units or an on-site investigation.",
)
DEFAULT_POLICIES: dict[str, DeadlinePolicy] = {p.name: p for p in (EMERGENCY, UTILITY, GENERAL, COMPLEX)}


def load_policies(config: Mapping[str, Mapping[str, Any]] | None) -> dict[str, DeadlinePolicy]:
    """The default policies, with any named in ``config`` replaced or added (see :meth:`DeadlinePolicy.from_config`)."""
    policies = dict(DEFAULT_POLICIES)
    for name, entry in (config or {}).items():
        policies[name] = DeadlinePolicy.from_config(name, entry)
    return policies


@dataclass(frozen=True)
class DeadlineChange:
    """One change of a deadline: when it took effect, from what (None for the first), to what, and why."""

    at: datetime
    old: datetime | None
    new: datetime
    reason: str
    kind: ChangeKind


@dataclass(frozen=True)
class DeadlineOutcome:
    """The effective deadline at some ``now``, with its history and the pause intervals that were counted."""

    deadline: datetime
    changes: tuple[DeadlineChange, ...]
    counted_pauses: tuple[tuple[datetime, datetime], ...]


@dataclass(frozen=True)
class _Segment:
    start: datetime
    end: datetime
    reason: str
    still_open: bool


@dataclass(frozen=True)
class TicketClock:
    """One of a ticket's two clocks (``kind``), started at ``started_at`` under ``policy``.

    Pure: the caller passes ``now`` and the pauses and extensions recorded so far; nothing is stored.
    """

    started_at: datetime
    policy: DeadlinePolicy
    kind: ClockKind = ClockKind.RESOLUTION
    pauses: Sequence[Pause] = ()
    extensions: Sequence[Extension] = ()
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)

    def __post_init__(self) -> None:
        object.__setattr__(self, "started_at", require_aware(self.started_at, "started_at"))
        object.__setattr__(self, "kind", ClockKind(self.kind))
        object.__setattr__(self, "pauses", tuple(self.pauses))
        object.__setattr__(self, "extensions", tuple(self.extensions))

    @property
    def allowance(self) -> Allowance:
        return self.policy.allowance(self.kind)

    @property
    def clock(self) -> WorkingClock:
        return self.allowance.clock(self.calendar)

    def base_deadline(self) -> datetime:
        """The deadline before any pause or extension."""
        return self.allowance.deadline_from(self.started_at, self.calendar)

    def _segments(self, now: datetime, cuts: Iterable[datetime]) -> list[_Segment]:
        """Pauses clipped to [started_at, now], merged where they overlap, and split at extension approvals."""
        clipped: list[tuple[datetime, datetime, str, bool]] = []
        for pause in self.pauses:
            start = max(pause.start, self.started_at)
            end = now if pause.end is None else min(pause.end, now)
            if end > start:
                clipped.append((start, end, str(pause.reason), pause.end is None or pause.end > now))
        clipped.sort(key=lambda item: item[0])
        merged: list[list[Any]] = []
        for start, end, reason, still_open in clipped:
            if merged and start <= merged[-1][1]:
                last = merged[-1]
                last[1] = max(last[1], end)
                last[3] = last[3] or still_open  # an open pause ends at now, the latest possible end
                if reason not in last[2]:
                    last[2].append(reason)
            else:
                merged.append([start, end, [reason], still_open])
        cut_points = sorted(set(cuts))
        segments: list[_Segment] = []
        for start, end, reasons, still_open in merged:
            bounds = [start, *(c for c in cut_points if start < c < end), end]
            for i, (low, high) in enumerate(itertools.pairwise(bounds)):
                segments.append(_Segment(low, high, ", ".join(reasons), still_open and i == len(bounds) - 2))
        return segments

    def evaluate(self, now: datetime) -> DeadlineOutcome:
        """Replay the ticket's pauses and extensions up to ``now`` and return the effective deadline."""
        now = require_aware(now, "now")
        clock = self.clock
        deadline = self.base_deadline()
        changes = [
            DeadlineChange(
                at=self.started_at,
                old=None,
                new=deadline,
                reason=f"{self.policy.name} policy: {self.kind.value.replace('_', '-')} within {self.allowance}",
                kind=ChangeKind.INITIAL,
            )
        ]
        extensions = sorted((e for e in self.extensions if e.at <= now), key=lambda e: e.at)
        segments = self._segments(now, (e.at for e in extensions))
        # At equal instants an extension comes first, so a pause segment cut at its approval moves the new deadline.
        events: list[tuple[datetime, int, Extension | _Segment]] = [(e.at, 0, e) for e in extensions]
        events += [(s.start, 1, s) for s in segments]
        events.sort(key=lambda event: (event[0], event[1]))
        counted: list[tuple[datetime, datetime]] = []
        for _, _, event in events:
            if isinstance(event, Extension):
                new = event.apply(deadline, clock)
                changes.append(DeadlineChange(event.at, deadline, new, event.reason, ChangeKind.EXTENSION))
                deadline = new
                continue
            if event.start >= deadline:
                continue  # already overdue when the pause began: pausing does not revive the ticket
            counted.append((event.start, event.end))
            paused = clock.working_time_between(event.start, event.end)
            if paused <= _ZERO:
                continue  # e.g. a pause over a weekend on a working-time clock
            new = clock.add_working_time(deadline, paused)
            reason = f"clock paused ({event.reason}) for {paused}" + (", still paused" if event.still_open else "")
            changes.append(DeadlineChange(event.end, deadline, new, reason, ChangeKind.PAUSE))
            deadline = new
        return DeadlineOutcome(deadline, tuple(changes), tuple(counted))

    def deadline(self, now: datetime) -> datetime:
        return self.evaluate(now).deadline

    def changes(self, now: datetime) -> tuple[DeadlineChange, ...]:
        return self.evaluate(now).changes

    def _running_time(self, until: datetime, counted: Sequence[tuple[datetime, datetime]]) -> timedelta:
        """Time on the policy's clock from the start to ``until``, minus the counted pauses."""
        clock = self.clock
        if until <= self.started_at:
            return _ZERO
        total = clock.working_time_between(self.started_at, until)
        for start, end in counted:
            high = min(end, until)
            if high > start:
                total -= clock.working_time_between(start, high)
        return total

    def time_used_and_allowed(self, now: datetime) -> tuple[timedelta, timedelta]:
        """Running time used so far and running time allowed (both excluding counted pauses)."""
        now = require_aware(now, "now")
        outcome = self.evaluate(now)
        return (
            self._running_time(now, outcome.counted_pauses),
            self._running_time(outcome.deadline, outcome.counted_pauses),
        )

    def remaining(self, now: datetime) -> timedelta:
        """Running time left before the deadline; negative once overdue."""
        used, allowed = self.time_used_and_allowed(now)
        return allowed - used

    def elapsed_share(self, now: datetime) -> float:
        """Fraction of the allowed time used (1.0 at the deadline, above 1 when overdue).

        Counted on the policy's clock and excluding pauses, so it stands still at night for working-time
        policies and while the ticket is paused; this is what the 75 % warning compares against.
        """
        used, allowed = self.time_used_and_allowed(now)
        if allowed <= _ZERO:  # an extension "until" moved the deadline to (or before) the start
            return 1.0 if self.is_overdue(now) or used > _ZERO else 0.0
        return used / allowed

    def is_due_soon(self, now: datetime, threshold: float = WARNING_SHARE) -> bool:
        return not self.is_overdue(now) and self.elapsed_share(now) >= threshold

    def is_overdue(self, now: datetime) -> bool:
        """Past the deadline; a deadline is met at the very instant it falls."""
        now = require_aware(now, "now")
        return now > self.deadline(now)


def ticket_clocks(
    started_at: datetime,
    policy: DeadlinePolicy,
    *,
    pauses: Sequence[Pause] = (),
    extensions: Sequence[Extension] = (),
    calendar: BusinessCalendar | None = None,
) -> tuple[TicketClock, TicketClock]:
    """Both clocks of a ticket, sign-for and resolution, sharing its pauses (extensions are per clock: pass them
    to the resolution clock only, as they are usually approved for resolution)."""
    calendar = calendar or BusinessCalendar()
    return (
        TicketClock(started_at, policy, ClockKind.SIGN_FOR, pauses, (), calendar),
        TicketClock(started_at, policy, ClockKind.RESOLUTION, pauses, extensions, calendar),
    )
