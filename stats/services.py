"""Statistics over the ticket facts: response times, on-time rates, the three rates, rankings.

The three rates (三率), each shown with its formula:

* response rate = tickets signed for AND whose citizen was contacted within the sign-for deadline
  / tickets whose response is judged (responded, or sign-for deadline passed); tickets still inside
  their sign-for deadline without a response are "not yet due" and counted apart;
* on-time rates (signed, contacted, resolved) likewise: on time / (on time + late), "not yet due"
  apart, judged at the moment of reading (``as_of``); a reopened ticket on its final resolution;
* resolution rate = callback surveys answering "solved" / answered callback surveys;
* satisfaction rate = surveys rating 4 or 5 ("satisfied", "very satisfied") / surveys with a rating;
* composite score = 100 x (w1 x response + w2 x resolution + w3 x satisfaction), default 30/35/35.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session

from hotline_core.db import utcnow
from hotline_core.figures import percentile
from hotline_core.i18n import t
from hotline_core.models import (
    Area,
    AuditedHotline,
    CallScore,
    Category,
    DirectorySetting,
    MysteryCall,
    TicketFact,
    Unit,
)
from hotline_core.models.ticket import Channel

WEIGHTS = (0.30, 0.35, 0.35)
GROUPS = {
    "unit": TicketFact.unit_id,
    "category": TicketFact.category_id,
    "channel": TicketFact.channel,
    "area": TicketFact.area_id,
    "day": TicketFact.day,
    "all": literal_column("'all'"),  # one row: the totals
}
DISTRICT_TIER = "district"


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    unit_id: int | None = None
    category_id: int | None = None
    channel: str | None = None
    area_id: int | None = None

    def conditions(self) -> list[Any]:
        conds = [TicketFact.day >= self.start, TicketFact.day <= self.end]
        if self.unit_id:
            conds.append(TicketFact.unit_id == self.unit_id)
        if self.category_id:
            conds.append(TicketFact.category_id == self.category_id)
        if self.channel:
            conds.append(TicketFact.channel == self.channel)
        if self.area_id:
            conds.append(TicketFact.area_id == self.area_id)
        return conds


def period(kind: str, reference: date, start: date | None = None, end: date | None = None) -> tuple[date, date]:
    """day, week (Monday to Sunday), month, or custom (start..end)."""
    if kind == "day":
        return reference, reference
    if kind == "week":
        monday = reference - timedelta(days=reference.weekday())
        return monday, monday + timedelta(days=6)
    if kind == "month":
        first = reference.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return first, following - timedelta(days=1)
    if kind == "custom" and start and end and start <= end:
        return start, end
    raise ValueError(f"unknown period {kind!r} or bad dates")


@dataclass
class Row:
    key: Any
    name: str
    count: int = 0
    assigned: int = 0
    sign_median: float | None = None
    sign_p90: float | None = None
    sign_working_median: float | None = None
    contact_median: float | None = None
    contact_p90: float | None = None
    resolve_median: float | None = None
    resolve_p90: float | None = None
    resolve_working_median: float | None = None
    sign_working_p90: float | None = None
    resolve_working_p90: float | None = None
    sign_on: int = 0
    sign_late: int = 0
    sign_pending: int = 0
    contact_on: int = 0
    contact_late: int = 0
    contact_pending: int = 0
    resolve_on: int = 0
    resolve_late: int = 0
    resolve_pending: int = 0
    respond_late: int = 0
    respond_pending: int = 0
    overdue: int = 0
    escalated: int = 0
    returns: int = 0
    extensions: int = 0
    reopened: int = 0
    responded: int = 0
    surveyed: int = 0
    solved: int = 0
    rated: int = 0
    satisfied: int = 0
    rank: int | None = None
    warned: bool = False
    mystery: float | None = None
    combined: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def _share(on: int, late: int) -> float | None:
        return on / (on + late) if on + late else None

    @property
    def sign_on_time(self) -> float | None:
        return self._share(self.sign_on, self.sign_late)

    @property
    def contact_on_time(self) -> float | None:
        return self._share(self.contact_on, self.contact_late)

    @property
    def resolve_on_time(self) -> float | None:
        return self._share(self.resolve_on, self.resolve_late)

    @property
    def response_judged(self) -> int:
        return self.responded + self.respond_late

    @property
    def response_rate(self) -> float | None:
        return self._share(self.responded, self.respond_late)

    @property
    def resolution_rate(self) -> float | None:
        return self.solved / self.surveyed if self.surveyed else None

    @property
    def satisfaction_rate(self) -> float | None:
        return self.satisfied / self.rated if self.rated else None

    def composite(self, weights: tuple[float, float, float] = WEIGHTS) -> float | None:
        rates = (self.response_rate, self.resolution_rate, self.satisfaction_rate)
        known = [r for r in rates if r is not None]
        if len(known) != len(rates):
            return None
        return round(100 * sum(w * r for w, r in zip(weights, known, strict=True)), 2)


def counted(condition: Any) -> Any:
    """How many facts meet the condition: ``count(*) FILTER (WHERE ...)``, which skips the others
    without evaluating an expression per row as ``sum(CASE ...)`` would."""
    return func.count().filter(condition)


def outcome_counts(done: Any, due: Any, now: datetime) -> list[Any]:
    """Counts of (on time, late, not yet due) for one clock, judged at ``now`` (see stats/facts.py)."""
    return [
        counted(done <= due),
        counted(or_(done > due, and_(done.is_(None), due < now))),
        counted(and_(done.is_(None), due >= now)),
    ]


CLOCKS = (  # (Row attribute prefix, stopped at, due at)
    ("sign", TicketFact.signed_at, TicketFact.sign_due_at),
    ("contact", TicketFact.contacted_at, TicketFact.sign_due_at),
    ("resolve", TicketFact.resolved_at, TicketFact.resolve_due_at),
    ("respond", TicketFact.responded_at, TicketFact.sign_due_at),
)


# (Row attribute, measure, fraction): the medians and 90th percentiles shown for each group.
PERCENTILES = (
    ("sign_median", TicketFact.sign_seconds, 0.5),
    ("sign_p90", TicketFact.sign_seconds, 0.9),
    ("sign_working_median", TicketFact.sign_working_seconds, 0.5),
    ("sign_working_p90", TicketFact.sign_working_seconds, 0.9),
    ("contact_median", TicketFact.contact_seconds, 0.5),
    ("contact_p90", TicketFact.contact_seconds, 0.9),
    ("resolve_median", TicketFact.resolve_seconds, 0.5),
    ("resolve_p90", TicketFact.resolve_seconds, 0.9),
    ("resolve_working_median", TicketFact.resolve_working_seconds, 0.5),
    ("resolve_working_p90", TicketFact.resolve_working_seconds, 0.9),
)
ALL_PERCENTILES = tuple(attr for attr, _column, _q in PERCENTILES)
# What each page shows, and so computes (a median costs a sort of its group's values; most of a
# statement's time): the comparison table shows two medians, the daily trend two, the ranking none.
COMPARED_PERCENTILES = ("sign_median", "resolve_median")
DAILY_PERCENTILES = ("sign_median", "contact_median")


def _python_percentiles(
    session: Session, group: Any, conds: list[Any], rows: dict[Any, Row], wanted: tuple[tuple[str, Any, float], ...]
) -> None:
    """Without percentile_cont (SQLite): the measures of the matching facts, in one query, interpolated here."""
    if not wanted:
        return
    measures = {column.key: column for _attr, column, _q in wanted}
    values: dict[tuple[Any, str], list[float]] = {}
    for key, *measured in session.execute(select(group, *measures.values()).where(*conds)):
        for name, value in zip(measures, measured, strict=True):
            if value is not None:
                values.setdefault((key, name), []).append(float(value))
    for series in values.values():
        series.sort()
    for key, row in rows.items():
        for attr, column, q in wanted:
            found = values.get((key, column.key))
            if found:
                setattr(row, attr, percentile(found, q))


def summary(
    session: Session,
    filters: Filters,
    by: str = "unit",
    language: str = "zh",
    *,
    now: datetime | None = None,
    group_by: Any = None,
    where: list[Any] | None = None,
    percentiles: tuple[str, ...] = ALL_PERCENTILES,
    names: dict[Any, str] | None = None,
) -> list[Row]:
    """One row per group; clocks are judged at ``now`` (default: the current time).

    ``group_by`` and ``where`` replace the group's column and the filters' conditions (comparisons);
    ``percentiles`` names the medians and 90th percentiles wanted (the others stay empty); ``names``
    the groups' names when the caller has them (else they are read)."""
    now = now or utcnow()
    group = GROUPS[by] if group_by is None else group_by
    conds = filters.conditions() if where is None else where
    wanted = tuple(p for p in PERCENTILES if p[0] in percentiles)
    # On PostgreSQL the medians and 90th percentiles are aggregates of the same grouped scan (percentile_cont
    # ignores NULLs, as the definitions require); one query instead of one per measure.
    postgres = session.get_bind().dialect.name == "postgresql"
    ordered = [func.percentile_cont(q).within_group(column) for _attr, column, q in wanted] if postgres else []
    outcomes = [expr for _name, done, due in CLOCKS for expr in outcome_counts(done, due, now)]
    query = select(
        group,
        func.count(),
        counted(TicketFact.assigned),
        counted(TicketFact.overdue),
        counted(TicketFact.escalated),
        func.sum(TicketFact.returns),
        func.sum(TicketFact.extensions),
        counted(TicketFact.reopened > 0),
        counted(TicketFact.surveyed),
        counted(TicketFact.solved.is_(True)),
        func.count(TicketFact.satisfaction),
        counted(TicketFact.satisfaction >= 4),
        *outcomes,
        *ordered,
    ).where(*conds)
    if group_by is not None:  # by position: an expression with parameters would not match its repetition
        query = query.group_by(literal_column("1"))
    elif by != "all":
        query = query.group_by(group)
    names = _names(session, by, language) if names is None else names
    rows: dict[Any, Row] = {}
    simple: tuple[str, ...] = ("count", "assigned", "overdue", "escalated", "returns", "extensions", "reopened")
    simple += ("surveyed", "solved", "rated", "satisfied")
    for r in session.execute(query):
        row = rows[r[0]] = Row(key=r[0], name=names.get(r[0], str(r[0] if r[0] is not None else "—")))
        values = list(r[1:])
        for attr in simple:
            setattr(row, attr, values.pop(0) or 0)
        for prefix, _done, _due in CLOCKS:
            on, late, pending = (values.pop(0) or 0 for _ in range(3))
            setattr(row, "responded" if prefix == "respond" else f"{prefix}_on", on)
            setattr(row, f"{prefix}_late", late)
            setattr(row, f"{prefix}_pending", pending)
        for (attr, _column, _q), value in zip(wanted, values, strict=False):
            setattr(row, attr, float(value) if value is not None else None)
    if not postgres:
        _python_percentiles(session, group, conds, rows, wanted)
    return sorted(rows.values(), key=lambda row: (-row.count, str(row.name)))


def total(rows: list[Row]) -> Row:
    """The sum of the rows' counts (medians are not additive: they stay empty)."""
    result = Row(key=None, name="")
    for r in rows:
        for name, value in vars(r).items():
            if isinstance(value, int) and not isinstance(value, bool) and name not in ("rank", "key"):
                setattr(result, name, getattr(result, name) + value)
    return result


def _names(session: Session, by: str, language: str) -> dict[Any, str]:
    if by == "channel":
        return {channel: t(f"channel.{channel}", language) for channel in Channel.ALL}
    model: Any = {"unit": Unit, "category": Category, "area": Area}.get(by)
    if model is None:
        return {}
    return {row.id: row.name(language) for row in session.scalars(select(model))}


def mystery_averages(session: Session, start: date, end: date) -> dict[int, float]:
    """Average latest mystery-call score per unit for calls made in the period."""
    latest = (
        select(CallScore.mystery_call_id, func.max(CallScore.number).label("n"))
        .group_by(CallScore.mystery_call_id)
        .subquery()
    )
    rows = session.execute(
        select(AuditedHotline.unit_id, func.avg(CallScore.total))
        .join(MysteryCall, MysteryCall.hotline_id == AuditedHotline.id)
        .join(latest, latest.c.mystery_call_id == MysteryCall.id)
        .join(CallScore, and_(CallScore.mystery_call_id == MysteryCall.id, CallScore.number == latest.c.n))
        .where(
            MysteryCall.state == "completed",
            func.date(MysteryCall.planned_at) >= start,
            func.date(MysteryCall.planned_at) <= end,
        )
        .group_by(AuditedHotline.unit_id)
    ).all()
    return {unit_id: round(float(avg), 2) for unit_id, avg in rows}


@dataclass
class Ranking:
    tiers: dict[str, list[Row]]
    unranked: list[Row]
    weights: tuple[float, float, float]
    mystery_weight: float
    min_volume: int
    month: date | None = None
    provisional: bool = False  # the month has not ended: figures may still change


def unranked_reason(row: Row, min_volume: int) -> str:
    """The true reason a unit is not ranked (a message key), checked in this order."""
    if row.assigned < min_volume:
        return "stats.unranked.volume"
    if row.response_rate is None:
        return "stats.unranked.no_response_due"
    if row.resolution_rate is None:
        return "stats.unranked.no_surveys"
    return "stats.unranked.no_ratings"


def ranking(
    session: Session,
    month_start: date,
    *,
    weights: tuple[float, float, float] = WEIGHTS,
    min_volume: int = 5,
    bottom: int = 1,
    mystery_weight: float = 0.3,
    language: str = "zh",
    now: datetime | None = None,
    today: date | None = None,
) -> Ranking:
    """Units ranked within their tier (district governments apart from departments) for a month.

    ``today`` (the city's date) marks a month that has not ended as provisional."""
    start, end = period("month", month_start)
    units = session.scalars(select(Unit)).all()
    tiers_of = {u.id: (DISTRICT_TIER if u.kind == DISTRICT_TIER else "department") for u in units}
    names = {u.id: u.name(language) for u in units}
    # The ranking shows no medians, so none is computed.
    rows = summary(session, Filters(start, end), "unit", language, now=now, percentiles=(), names=names)
    mystery = mystery_averages(session, start, end)
    tiers: dict[str, list[Row]] = {DISTRICT_TIER: [], "department": []}
    unranked = []
    for row in rows:
        if row.key is None:
            continue
        row.mystery = mystery.get(row.key)
        composite = row.composite(weights)
        if composite is None or row.assigned < min_volume:
            row.extra["reason"] = unranked_reason(row, min_volume)
            row.extra["tier"] = tiers_of.get(row.key, "department")
            unranked.append(row)
            continue
        row.combined = (
            round((1 - mystery_weight) * composite + mystery_weight * row.mystery, 2)
            if row.mystery is not None
            else composite
        )
        tiers[tiers_of.get(row.key, "department")].append(row)
    for members in tiers.values():
        members.sort(key=lambda r: (-(r.combined or 0), r.name))
        for i, row in enumerate(members, start=1):
            row.rank = i
        if len(members) > bottom:
            for row in members[-bottom:]:
                row.warned = True
    provisional = today is not None and end >= today
    return Ranking(tiers, unranked, weights, mystery_weight, min_volume, start, provisional)


@dataclass
class HotSpot:
    key: Any
    name: str
    current: int
    baseline: float
    ratio: float | None  # None: nothing in the baseline weeks (a new hot spot)


def hot_spots(
    session: Session,
    end: date,
    *,
    days: int = 7,
    baseline_weeks: int = 4,
    by: str = "category",
    min_count: int = 3,
    factor: float = 2.0,
    language: str = "zh",
) -> list[HotSpot]:
    """Groups whose volume in the last ``days`` is at least ``factor`` times their recent weekly average."""
    group = GROUPS[by]
    start = end - timedelta(days=days - 1)
    base_start = start - timedelta(days=days * baseline_weeks)
    current: dict[Any, int] = {
        key: count
        for key, count in session.execute(
            select(group, func.count()).where(TicketFact.day >= start, TicketFact.day <= end).group_by(group)
        ).all()
    }
    before: dict[Any, int] = {
        key: count
        for key, count in session.execute(
            select(group, func.count()).where(TicketFact.day >= base_start, TicketFact.day < start).group_by(group)
        ).all()
    }
    names = _names(session, by, language)
    spots = []
    for key, count in current.items():
        baseline = before.get(key, 0) / baseline_weeks
        ratio = count / baseline if baseline else None
        if count >= min_count and (ratio is None or ratio >= factor):
            spots.append(
                HotSpot(
                    key,
                    names.get(key, str(key)),
                    count,
                    round(baseline, 2),
                    round(ratio, 2) if ratio is not None else None,
                )
            )
    return sorted(spots, key=lambda s: -s.current)


def daily_counts(session: Session, filters: Filters) -> tuple[list[date], dict[str, list[int]]]:
    """Tickets per day and per channel over the filtered period (for the trend chart)."""
    days = [filters.start + timedelta(days=i) for i in range((filters.end - filters.start).days + 1)]
    counts: dict[str, dict[date, int]] = {}
    for day, channel, n in session.execute(
        select(TicketFact.day, TicketFact.channel, func.count())
        .where(*filters.conditions())
        .group_by(TicketFact.day, TicketFact.channel)
    ):
        counts.setdefault(channel, {})[day] = n
    return days, {channel: [by_day.get(d, 0) for d in days] for channel, by_day in sorted(counts.items())}


@dataclass
class RepeatedPlace:
    area: str
    category: str
    count: int


def repeated_places(
    session: Session, end: date, *, days: int = 7, min_count: int = 3, language: str = "zh"
) -> list[RepeatedPlace]:
    """Repeated complaints about the same place: one area and category, ``min_count`` times in ``days``."""
    start = end - timedelta(days=days - 1)
    rows = session.execute(
        select(TicketFact.area_id, TicketFact.category_id, func.count())
        .where(TicketFact.day >= start, TicketFact.day <= end, TicketFact.area_id.is_not(None))
        .group_by(TicketFact.area_id, TicketFact.category_id)
        .having(func.count() >= min_count)
        .order_by(func.count().desc())
    ).all()
    areas, categories = _names(session, "area", language), _names(session, "category", language)
    return [RepeatedPlace(areas.get(a, "—"), categories.get(c, "—"), n) for a, c, n in rows]


@dataclass(frozen=True)
class RankingSettings:
    """From the directory's ``settings``: ``rank_weights`` (percent, e.g. [30, 35, 35]),
    ``rank_min_volume`` and ``mystery_weight`` (percent of the combined score)."""

    weights: tuple[float, float, float] = WEIGHTS
    min_volume: int = 5
    mystery_weight: float = 0.3


def ranking_settings(session: Session) -> RankingSettings:
    row = session.get(DirectorySetting, "settings")
    values = (row.value if row else {}) or {}
    weights = values.get("rank_weights")
    parsed = tuple(float(w) / 100 for w in weights) if isinstance(weights, list) and len(weights) == 3 else WEIGHTS
    return RankingSettings(
        weights=parsed,  # type: ignore[arg-type]
        min_volume=int(values.get("rank_min_volume", 5)),
        mystery_weight=float(values.get("mystery_weight", 30)) / 100,
    )


def configured_ranking(
    session: Session,
    month_start: date,
    *,
    min_volume: int | None = None,
    language: str = "zh",
    now: datetime | None = None,
    today: date | None = None,
) -> Ranking:
    """The ranking with the weights and minimum volume the directory's settings give."""
    cfg = ranking_settings(session)
    return ranking(
        session,
        month_start,
        weights=cfg.weights,
        min_volume=cfg.min_volume if min_volume is None else min_volume,
        mystery_weight=cfg.mystery_weight,
        language=language,
        now=now,
        today=today,
    )


def totals(session: Session, filters: Filters, *, now: datetime | None = None) -> Row:
    """Every figure for the whole filtered period (medians included)."""
    rows = summary(session, filters, "all", now=now)
    return rows[0] if rows else Row(key="all", name="")


def last_day(filters: Filters, today: date) -> date:
    """The end of what has happened: the period's last day, or today if the period runs on."""
    return min(filters.end, today)


def _shift_year(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def comparison_periods(kind: str, start: date, end: date, today: date) -> dict[str, tuple[date, date]]:
    """The previous period (环比) and the same period last year (同比), like for like: a period that
    runs on is compared over the same number of elapsed days."""
    effective = min(end, today)
    elapsed = (effective - start).days
    if kind == "month":
        prev_start = (start - timedelta(days=1)).replace(day=1)
        prev_end = min(prev_start + timedelta(days=elapsed), start - timedelta(days=1))
    else:
        length = (end - start).days + 1
        prev_start = start - timedelta(days=length)
        prev_end = prev_start + timedelta(days=elapsed)
    year_start = _shift_year(start, -1)
    return {
        "current": (start, effective),
        "previous": (prev_start, prev_end),
        "year_ago": (year_start, _shift_year(effective, -1)),
    }


def compared(
    session: Session, filters: Filters, kind: str, today: date, *, now: datetime | None = None
) -> dict[str, Row]:
    """Totals for this period, the previous one and the same one last year (same unit/category/...
    filters), in one grouped scan; of the medians, those the comparison shows."""
    periods = comparison_periods(kind, filters.start, filters.end, today)
    scope = [c for c in filters.conditions()[2:]]  # the filters beyond the dates
    ranges = {name: and_(TicketFact.day >= first, TicketFact.day <= last) for name, (first, last) in periods.items()}
    which = case(
        (ranges["current"], literal_column("'current'")),
        (ranges["previous"], literal_column("'previous'")),
        else_=literal_column("'year_ago'"),
    )
    where = [*scope, or_(*ranges.values())]
    rows = {
        row.key: row
        for row in summary(
            session, filters, "all", now=now, group_by=which, where=where, percentiles=COMPARED_PERCENTILES
        )
    }
    return {name: rows.get(name) or Row(key=name, name="") for name in periods}


def daily(session: Session, filters: Filters, today: date, *, now: datetime | None = None) -> list[Row]:
    """One row per day from the start to the end of what has happened (no future days)."""
    scoped = Filters(
        filters.start, last_day(filters, today), filters.unit_id, filters.category_id, filters.channel, filters.area_id
    )
    by_day = {row.key: row for row in summary(session, scoped, "day", now=now, percentiles=DAILY_PERCENTILES)}
    days = [scoped.start + timedelta(days=i) for i in range((scoped.end - scoped.start).days + 1)]
    return [by_day.get(d) or Row(key=d, name=d.isoformat()) for d in days]


MEASURES = {"sign", "contact", "resolve", "respond", "tickets"}
OUTCOMES = {"on_time", "late", "not_due", "judged", "all"}


def drill_conditions(measure: str, outcome: str, now: datetime) -> list[Any]:
    """The facts in one count's numerator or denominator (see :func:`outcome_counts`)."""
    if measure == "tickets" or outcome == "all":
        return []
    clock = {name: (done, due) for name, done, due in CLOCKS}[measure]
    done, due = clock
    on_time = done <= due
    late = (done > due) | and_(done.is_(None), due < now)
    not_due = and_(done.is_(None), due >= now)
    return [{"on_time": on_time, "late": late, "not_due": not_due, "judged": on_time | late}[outcome]]


def drill(
    session: Session,
    filters: Filters,
    measure: str,
    outcome: str,
    *,
    now: datetime,
    page: int = 1,
    per_page: int = 50,
) -> tuple[int, list[tuple[Any, ...]]]:
    """(how many, one page of rows): the tickets behind a figure, oldest first.

    Each row: ticket number, state, unit id, category id, area id, channel, created, done at, due at, outcome.
    ``per_page=0`` returns every row (exports)."""
    from hotline_core.models import Ticket

    if measure not in MEASURES or outcome not in OUTCOMES:
        raise ValueError("unknown measure or outcome")
    conds = filters.conditions() + drill_conditions(measure, outcome, now)
    clocks = {name: (done, due) for name, done, due in CLOCKS}
    done, due = clocks.get(measure, (TicketFact.resolved_at, TicketFact.resolve_due_at))
    count = session.scalar(select(func.count()).select_from(TicketFact).where(*conds)) or 0
    query = (
        select(
            Ticket.number,
            TicketFact.state,
            TicketFact.unit_id,
            TicketFact.category_id,
            TicketFact.area_id,
            TicketFact.channel,
            TicketFact.created_at,
            done,
            due,
        )
        .join(Ticket, Ticket.id == TicketFact.ticket_id)
        .where(*conds)
        .order_by(TicketFact.created_at, TicketFact.ticket_id)
    )
    if per_page:
        query = query.limit(per_page).offset((max(page, 1) - 1) * per_page)
    rows = []
    for r in session.execute(query):
        stopped, deadline = r[7], r[8]
        if deadline is None:
            verdict = "none"
        elif stopped is not None:
            verdict = "on_time" if stopped <= deadline else "late"
        else:
            verdict = "late" if deadline < now else "not_due"
        rows.append((*r, verdict))
    return count, rows
