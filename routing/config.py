"""Routing configuration kept with the directory (``directory_settings``), with defaults."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from hotline_core.models import DirectorySetting
from routing.calendar import BusinessCalendar
from routing.deadlines import DEFAULT_POLICIES, WARNING_SHARE, Allowance, DeadlinePolicy, load_policies

# After the deadline: how long until the next level hears of it (clock time).
DEFAULT_LADDER = {"unit_head": "4 hours", "supervision": "24 hours", "leaders": "72 hours"}
DEFAULT_MIN_CONFIDENCE = 0.6
# The share of the model's automatic dispatches that must be right (issue 13, point 13): the auto-dispatch
# threshold is the lowest confidence at which the model's held-out evaluation reached this precision.
DEFAULT_TARGET_PRECISION = 0.97


@dataclass(frozen=True)
class RoutingConfig:
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)
    policies: dict[str, DeadlinePolicy] = field(default_factory=lambda: dict(DEFAULT_POLICIES))
    min_confidence: float = DEFAULT_MIN_CONFIDENCE  # a floor under the threshold the target precision gives
    target_precision: float = DEFAULT_TARGET_PRECISION
    warning_share: float = WARNING_SHARE
    ladder: tuple[tuple[str, timedelta], ...] = ()
    return_window_working_days: int = 1
    # Issue 13 point 5: units whose head approves a resolution before the citizen hears of it
    # (``resolution_approval`` in the directory's settings: true for every unit, or a list of unit
    # codes; default off).
    resolution_approval: bool | frozenset[str] = False

    def needs_approval(self, unit_code: str | None) -> bool:
        if isinstance(self.resolution_approval, frozenset):
            return unit_code in self.resolution_approval
        return self.resolution_approval

    def policy(self, name: str | None) -> DeadlinePolicy:
        return self.policies.get(name or "general") or self.policies["general"]


def _duration(text: str) -> timedelta:
    allowance = Allowance.parse(text)
    return timedelta(hours=allowance.amount) if allowance.unit == "hours" else timedelta(days=allowance.amount)


def load_config(session: Session, timezone: str = "Asia/Shanghai") -> RoutingConfig:
    values: dict[str, Any] = {
        key: (session.get(DirectorySetting, key) or DirectorySetting(value={})).value
        for key in ("calendar", "policies", "settings")
    }
    calendar_config = {"timezone": timezone, **(values["calendar"] or {})}
    settings = values["settings"] or {}
    ladder_config = {**DEFAULT_LADDER, **(settings.get("escalation") or {})}
    return RoutingConfig(
        calendar=BusinessCalendar.from_config(calendar_config),
        policies=load_policies(values["policies"] or None),
        min_confidence=float(settings.get("auto_dispatch_min_confidence", DEFAULT_MIN_CONFIDENCE)),
        target_precision=float(settings.get("auto_dispatch_target_precision", DEFAULT_TARGET_PRECISION)),
        warning_share=float(settings.get("warning_share", WARNING_SHARE)),
        ladder=tuple((step, _duration(ladder_config[step])) for step in ("unit_head", "supervision", "leaders")),
        return_window_working_days=int(settings.get("return_window_working_days", 1)),
        resolution_approval=_approval(settings.get("resolution_approval", False)),
    )


def _approval(value: Any) -> bool | frozenset[str]:
    if isinstance(value, list | tuple):
        return frozenset(str(code) for code in value)
    return bool(value)
