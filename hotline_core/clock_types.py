"""The values a ticket's clock records, and the column types that store them.

A deadline (``hotline_core.models.routing.Deadline``) keeps the pauses and the approved
extensions it has had. They are typed values here (:class:`Pause`, :class:`Extension`), stored
as JSON lists through :class:`PauseList` and :class:`ExtensionList`, so no code copies or
re-parses dicts by hand and every backend holds them the same way. The arithmetic that turns
them into an effective deadline is ``routing.deadlines.TicketClock``; these types only describe
what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import JSON
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_ZERO = timedelta(0)


def require_aware(moment: datetime, name: str = "datetime") -> datetime:
    """Return ``moment`` in UTC; raise ``ValueError`` if it is naive (its zone would be a guess)."""
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


class PauseReason(StrEnum):
    ARBITRATION = "arbitration"  # the unit returned the ticket and the dispatcher is deciding who owns it
    AWAITING_CITIZEN = "awaiting_citizen"


class WorkingTime(Protocol):
    """What an extension needs of a clock (``routing.calendar`` provides it)."""

    def add_working_time(self, start: datetime, duration: timedelta) -> datetime: ...

    def add_working_days(self, start: datetime, days: int) -> datetime: ...


@dataclass(frozen=True)
class Pause:
    """An interval during which the clock is stopped; ``end=None`` means it is still going on."""

    start: datetime
    end: datetime | None = None
    reason: str = PauseReason.AWAITING_CITIZEN

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", require_aware(self.start, "pause start"))
        if self.end is not None:
            end = require_aware(self.end, "pause end")
            if end < self.start:
                raise ValueError(f"pause ends ({end}) before it starts ({self.start})")
            object.__setattr__(self, "end", end)

    @property
    def is_open(self) -> bool:
        return self.end is None

    def ended(self, at: datetime) -> Pause:
        return Pause(self.start, at, self.reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat() if self.end else None,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Pause:
        return cls(
            datetime.fromisoformat(data["start"]),
            datetime.fromisoformat(data["end"]) if data.get("end") else None,
            data.get("reason") or PauseReason.AWAITING_CITIZEN,
        )


@dataclass(frozen=True)
class Extension:
    """An approved extension: exactly one of ``by`` (time on the policy's clock), ``working_days`` or ``until``.

    ``by`` and ``working_days`` are counted from the deadline as it stands when the extension is approved
    (``at``); ``until`` replaces it outright (and may, as a correction, even move it earlier).
    """

    at: datetime
    reason: str
    by: timedelta | None = None
    working_days: int | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", require_aware(self.at, "extension time"))
        if not self.reason or not self.reason.strip():
            raise ValueError("an extension needs a reason")
        given = [v for v in (self.by, self.working_days, self.until) if v is not None]
        if len(given) != 1:
            raise ValueError("an extension needs exactly one of by, working_days or until")
        if self.by is not None and self.by <= _ZERO:
            raise ValueError(f"an extension by a duration must be positive, got {self.by}")
        if self.working_days is not None and (isinstance(self.working_days, bool) or self.working_days < 1):
            raise ValueError(f"an extension by working days must be at least 1, got {self.working_days}")
        if self.until is not None:
            object.__setattr__(self, "until", require_aware(self.until, "extension until"))

    def apply(self, deadline: datetime, clock: WorkingTime) -> datetime:
        if self.by is not None:
            return clock.add_working_time(deadline, self.by)
        if self.working_days is not None:
            return clock.add_working_days(deadline, self.working_days)
        assert self.until is not None
        return self.until

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "reason": self.reason,
            "by_seconds": self.by.total_seconds() if self.by is not None else None,
            "working_days": self.working_days,
            "until": self.until.isoformat() if self.until else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Extension:
        return cls(
            datetime.fromisoformat(data["at"]),
            data["reason"],
            by=timedelta(seconds=data["by_seconds"]) if data.get("by_seconds") else None,
            working_days=data.get("working_days"),
            until=datetime.fromisoformat(data["until"]) if data.get("until") else None,
        )


class _ValueList(TypeDecorator[list[Any]]):
    """A JSON list of typed values (each with ``to_json`` and a ``from_json`` class method)."""

    impl = JSON
    cache_ok = True
    value_type: Any = None

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> list[dict[str, Any]]:
        return [item.to_json() for item in value or ()]

    def process_result_value(self, value: list[dict[str, Any]] | None, dialect: Dialect) -> list[Any]:
        return [self.value_type.from_json(item) for item in value or ()]


class PauseList(_ValueList):
    """A JSON list of pauses read and written as ``list[Pause]``."""

    cache_ok = True
    value_type = Pause


class ExtensionList(_ValueList):
    """A JSON list of approved extensions read and written as ``list[Extension]``."""

    cache_ok = True
    value_type = Extension
