"""Figures as people read them, in the reader's language (Babel's CLDR data): percentages,
durations in minutes or hours and minutes, spans of days and hours, counts with grouping, signed
changes. Shared by the statistics, the portal and the mystery-call pages (templates reach them
through ``hotline_web.context``)."""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo

from babel import Locale
from babel.dates import format_skeleton
from babel.numbers import format_decimal, format_percent
from babel.units import format_unit

LOCALES = {"zh": "zh_CN", "en": "en"}
DASH = "—"


@functools.cache
def _locale(language: str) -> Locale:
    """The parsed locale, once per language: parsing it again for each figure cost more than the
    formatting (every routed ticket formats two deadlines)."""
    return Locale.parse(LOCALES.get(language, "en"))


def percent(value: float | None, language: str) -> str:
    """0.625 -> "62.5%"."""
    return DASH if value is None else format_percent(value, "#,##0.0%", locale=_locale(language))


def number(value: float | None, language: str) -> str:
    return DASH if value is None else format_decimal(value, "#,##0.##", locale=_locale(language))


def duration(seconds: float | None, language: str) -> str:
    """33 -> "33 sec"; 750 -> "13 min"; 12000 -> "3 hr 20 min"; days stay in hours (42 hr 5 min)."""
    if seconds is None:
        return DASH
    loc = _locale(language)
    total = round(seconds)
    if total < 60:
        return format_unit(total, "duration-second", length="short", locale=loc)
    minutes = (total + 30) // 60  # to the nearest minute, half up
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return format_unit(minutes, "duration-minute", length="short", locale=loc)
    text = format_unit(hours, "duration-hour", length="short", locale=loc)
    if minutes:
        text += " " + format_unit(minutes, "duration-minute", length="short", locale=loc)
    return text


def change(current: float | None, previous: float | None, language: str, *, rate: bool = False) -> str:
    """The change against a comparison period: points for rates ("+2.5 pp"), percent for counts ("+12.0%")."""
    if current is None or previous is None:
        return DASH
    if rate:
        points = 100 * (current - previous)
        unit = "个百分点" if language == "zh" else " pp"
        return f"{'+' if points >= 0 else ''}{format_decimal(points, '#,##0.0', locale=_locale(language))}{unit}"
    if not previous:
        return DASH
    ratio = (current - previous) / previous
    return ("+" if ratio >= 0 else "") + format_percent(ratio, "#,##0.0%", locale=_locale(language))


def span(seconds: float, language: str) -> str:
    """A time left or overdue, to the minute: "2d 4h" / "2天4小时" for days, "3h 20m" / "3小时20分钟" below."""
    loc = _locale(language)
    total = abs(int(seconds))
    days, rest = divmod(total, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    parts = [(days, "duration-day"), (hours, "duration-hour")]
    if not days:
        parts = [(hours, "duration-hour"), (minutes, "duration-minute")]
    joiner = "" if language == "zh" else " "
    return joiner.join(format_unit(n, unit, length="narrow", locale=loc) for n, unit in parts)


def moment(value: datetime, language: str, tz: tzinfo | None = None, *, seconds: bool = False) -> str:
    """A date and time as the reader writes it (CLDR): "2026年12月2日 17:30" / "Dec 2, 2026 17:30",
    in ``tz`` (the city's) when given; the 24-hour clock in both languages."""
    local = value.astimezone(tz) if tz is not None else value
    loc = _locale(language)
    clock = format_skeleton("Hms" if seconds else "Hm", local, locale=loc)
    return f"{format_skeleton('yMMMd', local, locale=loc)} {clock}"
