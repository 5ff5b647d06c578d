"""Scorecards for mystery calls: the items an auditor judges, their weights, and how a call's score is computed.

A scorecard is a versioned list of weighted :class:`Item` s in four groups: ``answer`` (was the call answered,
how fast), ``courtesy`` (greeting and staff ID, attitude, civil language), ``competence`` (understood the need,
correct and complete answer or correct referral, first-person-asked ownership 首问负责) and ``efficiency``
(resolved on first contact, no needless transfers).

Conventions:

* Every item's value is a fraction in ``[0, 1]`` (1 = full marks) or ``None`` for "not applicable" (N/A).
  N/A items count neither in the points earned nor in the points possible, so a call is not penalised
  for an item that could not be judged (no transfer happened, nothing needed referring, ...).
* The total is ``sum(weight × value) / sum(weight)`` over the applicable items, × 100, rounded to 2 decimals.
* Items marked ``automatic`` are filled from the call itself (see :func:`automatic_values`): ``answered``
  and ``answer_speed``. Speed is banded after GB/T 33358 (national hotline service standard), which asks
  for calls to be answered within 15 seconds: ≤ 15 s full marks, ≤ 30 s 0.6, ≤ 60 s 0.3, slower 0.
* A call that was not answered (``answered`` = 0) cannot earn anything else: each other item becomes what
  the scorecard says for it (:attr:`Item.if_unanswered`: ``"na"``, not applicable, or ``"zero"``), never
  what was entered and never full marks. Its total is therefore 0, whatever else was entered, and the
  values *stored* for the call are these effective values (see :func:`effective_values`), so per-item
  averages in the results do not show an unanswered hotline at 100 % for greeting or attitude.
* A submitted score is locked. A correction is a new :class:`ScoreVersion` with a reason (see :func:`correct`),
  so the history of a call's score is kept for audit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from numbers import Real
from typing import Any

#: The item groups, in display order.
GROUPS: tuple[str, ...] = ("answer", "courtesy", "competence", "efficiency")

#: Code of the item that, when 0, makes all other items N/A (see :func:`score`).
ANSWERED = "answered"
#: What an item is worth on an unanswered call: not applicable, or zero.
UNANSWERED_RULES: tuple[str, ...] = ("na", "zero")
#: Code of the automatic answer-speed item (see :func:`speed_value`).
ANSWER_SPEED = "answer_speed"

#: Answer-speed bands: (at most this many seconds, value). Slower than the last band scores 0.
#: 15 s is the answering time asked by GB/T 33358.
SPEED_BANDS: tuple[tuple[float, float], ...] = ((15.0, 1.0), (30.0, 0.6), (60.0, 0.3))


class ScoreError(ValueError):
    """The values given for a scorecard cannot be scored (unknown, missing or out-of-range items)."""


@dataclass(frozen=True)
class Item:
    """One judged item of a scorecard. ``weight`` is its share of the total (any positive number)."""

    code: str
    group: str  # "answer" | "courtesy" | "competence" | "efficiency"
    label_zh: str
    label_en: str
    weight: float
    automatic: bool = False
    allows_na: bool = True
    #: what the item is worth on a call nobody answered: "na" (not applicable) or "zero"
    if_unanswered: str = "na"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "group": self.group,
            "label_zh": self.label_zh,
            "label_en": self.label_en,
            "weight": self.weight,
            "automatic": self.automatic,
            "allows_na": self.allows_na,
            "if_unanswered": self.if_unanswered,
        }


@dataclass(frozen=True)
class Scorecard:
    """A named, versioned list of items. Validated on creation: non-empty, unique codes, known groups,
    positive finite weights."""

    name: str
    version: int
    items: tuple[Item, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("scorecard name must be a non-empty string")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            raise ValueError(f"scorecard version must be an integer >= 1, got {self.version!r}")
        object.__setattr__(self, "items", tuple(self.items))
        if not self.items:
            raise ValueError(f"scorecard {self.name!r} has no items")
        seen: set[str] = set()
        for item in self.items:
            if not isinstance(item, Item):
                raise ValueError(f"scorecard items must be Item instances, got {type(item).__name__}")
            if not item.code or not isinstance(item.code, str):
                raise ValueError("every item needs a non-empty string code")
            if item.code in seen:
                raise ValueError(f"duplicate item code {item.code!r} in scorecard {self.name!r}")
            seen.add(item.code)
            if item.if_unanswered not in UNANSWERED_RULES:
                raise ValueError(f"item {item.code!r}: if_unanswered must be one of {UNANSWERED_RULES}")
            if item.group not in GROUPS:
                raise ValueError(f"item {item.code!r} has unknown group {item.group!r}; expected one of {GROUPS}")
            weight = item.weight
            if isinstance(weight, bool) or not isinstance(weight, Real) or not math.isfinite(weight) or weight <= 0:
                raise ValueError(f"item {item.code!r} must have a positive weight, got {weight!r}")

    def item(self, code: str) -> Item:
        """The item with this code; ``KeyError`` if the scorecard has none."""
        for item in self.items:
            if item.code == code:
                return item
        raise KeyError(f"scorecard {self.name!r} v{self.version} has no item {code!r}")

    def groups(self) -> dict[str, tuple[Item, ...]]:
        """The groups used by this scorecard, in :data:`GROUPS` order, each with its items in card order."""
        return {
            group: tuple(item for item in self.items if item.group == group)
            for group in GROUPS
            if any(item.group == group for item in self.items)
        }

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for storing the card a score was computed with); inverse of :meth:`from_dict`."""
        return {"name": self.name, "version": self.version, "items": [item.to_dict() for item in self.items]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scorecard:
        """Rebuild a card from :meth:`to_dict` output; ``ValueError`` if it is malformed."""
        try:
            raw_items = data["items"]
            items = tuple(
                Item(
                    code=raw["code"],
                    group=raw["group"],
                    label_zh=raw["label_zh"],
                    label_en=raw["label_en"],
                    weight=raw["weight"],
                    automatic=bool(raw.get("automatic", False)),
                    allows_na=bool(raw.get("allows_na", True)),
                    if_unanswered=str(raw.get("if_unanswered", "na")),
                )
                for raw in raw_items
            )
            return cls(name=data["name"], version=data["version"], items=items)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed scorecard data: {exc!r}") from exc


DEFAULT_SCORECARD = Scorecard(
    name="default",
    version=1,
    items=(
        Item(ANSWERED, "answer", "接通", "Answered", 20, automatic=True, allows_na=False),
        Item(ANSWER_SPEED, "answer", "接听速度", "Speed of answer", 10, automatic=True),
        Item("greeting", "courtesy", "问候并报工号", "Greeting and staff ID", 10),
        Item("attitude", "courtesy", "服务态度", "Attitude", 10),
        Item("civil_language", "courtesy", "文明用语", "Civil language", 5),
        Item("understood", "competence", "理解诉求", "Understood the need", 10),
        Item(
            "correct_answer",
            "competence",
            "答复准确完整或正确转介",
            "Answer correct and complete, or correct referral",
            15,
        ),
        Item("first_contact_ownership", "competence", "首问负责", "First person asked owns the request", 5),
        Item("resolved_first_contact", "efficiency", "一次办结", "Resolved on first contact", 10),
        Item("no_needless_transfer", "efficiency", "无不必要转接", "No needless transfers", 5),
    ),
)


def speed_value(seconds_to_answer: float | None) -> float | None:
    """The ``answer_speed`` value for a time to answer: ≤ 15 s → 1.0, ≤ 30 s → 0.6, ≤ 60 s → 0.3, slower → 0.0.

    ``None`` (the call was not answered) gives ``None`` (N/A). Negative or NaN times raise ``ValueError``.
    """
    if seconds_to_answer is None:
        return None
    seconds = float(seconds_to_answer)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"seconds_to_answer must be a non-negative number, got {seconds_to_answer!r}")
    for limit, value in SPEED_BANDS:
        if seconds <= limit:
            return value
    return 0.0


def automatic_values(answered: bool, seconds_to_answer: float | None) -> dict[str, float | None]:
    """Values of the automatic items, from the call's outcome (speed is N/A when not answered)."""
    return {
        ANSWERED: 1.0 if answered else 0.0,
        ANSWER_SPEED: speed_value(seconds_to_answer) if answered else None,
    }


@dataclass(frozen=True)
class ScoreResult:
    """A computed score. ``points`` and ``max_points`` are over applicable items only (rounded to 4 decimals)."""

    total: float  # 0-100, rounded to 2 decimals
    max_points: float
    points: float
    by_group: dict[str, float | None]  # 0-100 per group, None if all its items are N/A
    applicable: tuple[str, ...]
    not_applicable: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "max_points": self.max_points,
            "points": self.points,
            "by_group": dict(self.by_group),
            "applicable": list(self.applicable),
            "not_applicable": list(self.not_applicable),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreResult:
        return cls(
            total=data["total"],
            max_points=data["max_points"],
            points=data["points"],
            by_group=dict(data["by_group"]),
            applicable=tuple(data["applicable"]),
            not_applicable=tuple(data["not_applicable"]),
        )


def _check_value(code: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ScoreError(f"item {code!r}: value must be a number in [0, 1] or None (N/A), got {value!r}")
    number = float(value)
    if not (0.0 <= number <= 1.0):  # also rejects NaN
        raise ScoreError(f"item {code!r}: value must be within [0, 1], got {value!r}")
    return number


def effective_values(card: Scorecard, values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Validate ``values`` against ``card`` and return the values that count, in card order.

    Raises :class:`ScoreError` for unknown or missing item codes, values outside ``[0, 1]`` (or not numbers),
    and ``None`` for an item that does not allow N/A. When ``answered`` is 0 every other item is forced to
    ``None`` or ``0.0`` as its :attr:`Item.if_unanswered` says: nothing else can be earned on a call nobody
    answered.
    """
    codes = card.codes
    unknown = sorted(str(code) for code in values if code not in codes)
    if unknown:
        raise ScoreError(f"unknown item code(s) for scorecard {card.name!r} v{card.version}: {', '.join(unknown)}")
    missing = [code for code in codes if code not in values]
    if missing:
        raise ScoreError(f"missing item(s) (give a value or None for N/A): {', '.join(missing)}")
    checked = {code: _check_value(code, values[code]) for code in codes}
    not_answered = ANSWERED in checked and checked[ANSWERED] == 0.0
    if not_answered:
        checked = {
            code: value if code == ANSWERED else (0.0 if card.item(code).if_unanswered == "zero" else None)
            for code, value in checked.items()
        }
    for item in card.items:
        forced = not_answered and item.code != ANSWERED
        if checked[item.code] is None and not item.allows_na and not forced:
            raise ScoreError(f"item {item.code!r} cannot be N/A: give a value in [0, 1]")
    return checked


def score(card: Scorecard, values: Mapping[str, float | None]) -> ScoreResult:
    """Score one call: weighted mean of the applicable items' values, × 100 (see the module docstring).

    Raises :class:`ScoreError` (see :func:`effective_values`), and also if every item is N/A.
    """
    effective = effective_values(card, values)
    applicable = tuple(code for code, value in effective.items() if value is not None)
    not_applicable = tuple(code for code, value in effective.items() if value is None)
    if not applicable:
        raise ScoreError("every item is N/A: there is nothing to score")
    points = math.fsum(card.item(code).weight * effective[code] for code in applicable)  # type: ignore[operator]
    max_points = math.fsum(card.item(code).weight for code in applicable)
    by_group: dict[str, float | None] = {}
    for group, items in card.groups().items():
        group_codes = [item.code for item in items if effective[item.code] is not None]
        if not group_codes:
            by_group[group] = None
            continue
        group_points = math.fsum(card.item(code).weight * effective[code] for code in group_codes)  # type: ignore[operator]
        group_max = math.fsum(card.item(code).weight for code in group_codes)
        by_group[group] = round(group_points / group_max * 100, 2)
    return ScoreResult(
        total=round(points / max_points * 100, 2),
        max_points=round(max_points, 4),
        points=round(points, 4),
        by_group=by_group,
        applicable=applicable,
        not_applicable=not_applicable,
    )


@dataclass(frozen=True)
class ScoreVersion:
    """One submitted version of a call's score. Version 1 is the first submission; later ones are corrections.

    ``values`` are the values as submitted (as floats or None, in card order); ``result`` is what they scored,
    with N/A forcing applied.
    """

    number: int
    values: dict
    result: ScoreResult
    reason: str | None
    submitted_by: str
    submitted_at: datetime


def correct(
    history: Sequence[ScoreVersion],
    values: Mapping[str, float | None],
    reason: str | None,
    by: str,
    at: datetime,
    card: Scorecard,
) -> ScoreVersion:
    """The next version of a call's score: the first submission (``history`` empty) or a correction.

    A submitted score is locked: changing it means a new version, which needs a non-empty ``reason``.
    The first submission may have ``reason=None``. Versions are numbered 1, 2, 3, ... (the given history must
    be numbered that way). ``at`` must be timezone-aware and not earlier than the previous version.
    Raises ``ValueError`` (:class:`ScoreError` for bad values).
    """
    for index, version in enumerate(history, start=1):
        if version.number != index:
            raise ValueError(
                f"score history is not numbered 1, 2, 3, ...: version {version.number} at position {index}"
            )
    if not isinstance(by, str) or not by.strip():
        raise ValueError("submitted_by must be a non-empty string")
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"submitted_at must be a timezone-aware datetime, got {at!r}")
    cleaned_reason = reason.strip() if isinstance(reason, str) else reason
    if reason is not None and not isinstance(reason, str):
        raise ValueError(f"reason must be a string or None, got {type(reason).__name__}")
    if history:
        if not cleaned_reason:
            raise ValueError("a submitted score is locked: a correction needs a non-empty reason")
        previous = history[-1].submitted_at
        if previous.tzinfo is not None and previous.utcoffset() is not None and at < previous:
            raise ValueError(
                f"a correction cannot predate the version it corrects ({at.isoformat()} < {previous.isoformat()})"
            )
    result = score(card, values)
    submitted = {code: _check_value(code, values[code]) for code in card.codes}
    return ScoreVersion(
        number=len(history) + 1,
        values=submitted,
        result=result,
        reason=cleaned_reason or None,
        submitted_by=by,
        submitted_at=at,
    )
