"""Statistics pages: the leaders' dashboard, the monthly ranking, the weekly bulletin, and the public page.

Leaders, dispatchers and admins see every unit; a unit's head and staff see their own unit's figures.
The public page shows only aggregates (no ticket text, no names, no numbers).
"""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from hotline_core import formatting
from hotline_core.models import Area, Category, Role, Unit
from hotline_web.auth import roles_required
from hotline_web.context import db_session, language, runtime, tr
from hotline_web.exports import csv_response, xlsx_workbook
from stats import charts, facts, reports, services
from stats.services import Filters

bp = Blueprint("stats", __name__, template_folder="templates")

ALL_UNITS = (Role.LEADER, Role.ADMIN, Role.DISPATCHER)
STATS_ROLES = (*ALL_UNITS, Role.UNIT_HEAD, Role.UNIT_STAFF)


def _today() -> date:
    return runtime().now().astimezone(runtime().settings.tz).date()


# Every range a page or export reads is bounded: dates in a sane window of years, a custom range
# of a year at most (so the daily chart has at most MAX_RANGE_DAYS points), ids a database
# integer can hold. Anything else is a 400 before a query runs.
FIRST_YEAR, LAST_YEAR = 2000, 2100
MAX_RANGE_DAYS = 366
MAX_ID = 2**31 - 1


def _int(name: str) -> int | None:
    value = request.args.get(name, "")
    if not value.isdigit():
        return None
    if len(value) > 10 or int(value) > MAX_ID:
        abort(400)
    return int(value)


def _date(raw: str) -> date:
    """An ISO date in the years the hotline can have figures for, else 400."""
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        abort(400)
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        abort(400)
    return value


def _filters() -> Filters:
    kind = request.args.get("period", "month")
    ref = _date(request.args["date"]) if request.args.get("date") else _today()
    start = _date(request.args["start"]) if request.args.get("start") else None
    end = _date(request.args["end"]) if request.args.get("end") else None
    try:
        first, last = services.period(kind, ref, start, end)
    except ValueError:
        abort(400)
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        abort(400)
    unit_id = _int("unit")
    if current_user.role not in ALL_UNITS:
        unit_id = current_user.unit_id  # a unit sees its own figures only
    return Filters(
        first,
        last,
        unit_id=unit_id,
        category_id=_int("category"),
        channel=request.args.get("channel") or None,
        area_id=_int("area"),
    )


class Fmt:
    """Formatting for templates in the reader's language (hotline_core.formatting)."""

    def __init__(self, lang: str, tz: Any) -> None:
        self.lang, self.tz = lang, tz

    def pct(self, value: float | None) -> str:
        return formatting.percent(value, self.lang)

    def dur(self, value: float | None) -> str:
        return formatting.duration(value, self.lang)

    def num(self, value: float | None) -> str:
        return formatting.number(value, self.lang)

    def change(self, current: float | None, previous: float | None, rate: bool = False) -> str:
        return formatting.change(current, previous, self.lang, rate=rate)

    def when(self, moment: datetime | str | None) -> str:
        """A moment (or its ISO text, as kept in the bulletin) in the city's local time."""
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        return formatting.moment(moment, self.lang, self.tz) if moment else formatting.DASH


def _fmt() -> Fmt:
    return Fmt(language(), runtime().settings.tz)


def _now() -> datetime:
    return runtime().now()


GROUP_ARG = {"unit": "unit", "category": "category", "area": "area", "channel": "channel"}


def _drill_args(filters: Filters, by: str | None = None, key: object = None) -> dict[str, str]:
    """Query arguments of the drill-down for a row: the page's filters narrowed to the row's group."""
    args = {"period": "custom", "start": filters.start.isoformat(), "end": filters.end.isoformat()}
    for name, value in (
        ("unit", filters.unit_id),
        ("category", filters.category_id),
        ("channel", filters.channel),
        ("area", filters.area_id),
    ):
        if value:
            args[name] = str(value)
    if by in GROUP_ARG and key is not None:
        args[GROUP_ARG[by]] = str(key)
    return args


@bp.get("/stats/")
@roles_required(*STATS_ROLES)
def dashboard():  # type: ignore[no-untyped-def]
    s = db_session()
    filters = _filters()
    by = request.args.get("by", "unit")
    if by not in ("unit", "category", "channel", "area"):
        abort(400)
    now, today, lang = _now(), _today(), language()
    rows = services.summary(s, filters, by, lang, now=now)
    comparison = services.compared(s, filters, request.args.get("period", "month"), today, now=now)
    end = services.last_day(filters, today)
    spots = services.hot_spots(s, end, language=lang)
    days = services.daily(s, filters, today, now=now)
    chart_counts = charts.bars(tr("stats.tickets"), [r.name for r in rows], [r.count for r in rows]) if rows else ""
    chart_trend = chart_rates = chart_times = ""
    if len(days) > 1:
        _days, series = services.daily_counts(s, Filters(filters.start, end, *_scope(filters)))
        if series:
            chart_trend = charts.lines(
                tr("stats.trend"), _days, {tr(f"channel.{k}"): v for k, v in series.items()}, counts=True
            )
        chart_rates = charts.lines(
            tr("stats.trend.rates"),
            [d.key for d in days],
            {
                tr("stats.response_rate"): [_hundred(d.response_rate) for d in days],
                tr("stats.resolution_rate"): [_hundred(d.resolution_rate) for d in days],
                tr("stats.satisfaction_rate"): [_hundred(d.satisfaction_rate) for d in days],
                tr("stats.resolve_on_time"): [_hundred(d.resolve_on_time) for d in days],
            },
            maximum=100,
        )
        chart_times = charts.lines(
            tr("stats.trend.times"),
            [d.key for d in days],
            {
                tr("stats.col.sign_median"): [_minutes(d.sign_median) for d in days],
                tr("stats.col.contact_median"): [_minutes(d.contact_median) for d in days],
            },
        )
    return render_template(
        "stats/dashboard.html",
        chart_counts=chart_counts,
        chart_trend=chart_trend,
        chart_rates=chart_rates,
        chart_times=chart_times,
        repeated=services.repeated_places(s, end, language=lang),
        rows=rows,
        by=by,
        filters=filters,
        spots=spots,
        totals=comparison["current"],
        comparison=comparison,
        periods=services.comparison_periods(request.args.get("period", "month"), filters.start, filters.end, today),
        provisional=filters.end >= today,
        as_of=facts.as_of(s),
        fmt=_fmt(),
        drill=_drill_args,
        weights=services.ranking_settings(s).weights,
        args=request.args,
        units=s.scalars(select(Unit).order_by(Unit.code)).all() if current_user.role in ALL_UNITS else [],
        categories=s.scalars(select(Category).where(Category.level == 1)).all(),
        areas=s.scalars(select(Area)).all(),
    )


def _scope(filters: Filters) -> tuple[int | None, int | None, str | None, int | None]:
    return filters.unit_id, filters.category_id, filters.channel, filters.area_id


def _hundred(value: float | None) -> float | None:
    return round(100 * value, 1) if value is not None else None


def _minutes(value: float | None) -> float | None:
    return round(value / 60, 1) if value is not None else None


EXPORT_COLUMNS: list[tuple[str, Any]] = [
    ("stats.tickets", lambda r, f: r.count),
    ("stats.col.assigned", lambda r, f: r.assigned),
    ("stats.col.sign_median", lambda r, f: f.dur(r.sign_median)),
    ("stats.col.sign_p90", lambda r, f: f.dur(r.sign_p90)),
    ("stats.col.sign_working_median", lambda r, f: f.dur(r.sign_working_median)),
    ("stats.col.sign_working_p90", lambda r, f: f.dur(r.sign_working_p90)),
    ("stats.col.contact_median", lambda r, f: f.dur(r.contact_median)),
    ("stats.col.contact_p90", lambda r, f: f.dur(r.contact_p90)),
    ("stats.col.resolve_median", lambda r, f: f.dur(r.resolve_median)),
    ("stats.col.resolve_p90", lambda r, f: f.dur(r.resolve_p90)),
    ("stats.col.resolve_working_median", lambda r, f: f.dur(r.resolve_working_median)),
    ("stats.col.resolve_working_p90", lambda r, f: f.dur(r.resolve_working_p90)),
    ("stats.sign_on_time", lambda r, f: f.pct(r.sign_on_time)),
    ("stats.col.contact_on_time", lambda r, f: f.pct(r.contact_on_time)),
    ("stats.resolve_on_time", lambda r, f: f.pct(r.resolve_on_time)),
    ("stats.col.not_due", lambda r, f: r.resolve_pending),
    ("stats.col.respond_not_due", lambda r, f: r.respond_pending),
    ("stats.overdue", lambda r, f: r.overdue),
    ("stats.escalated", lambda r, f: r.escalated),
    ("stats.returns", lambda r, f: r.returns),
    ("stats.extensions", lambda r, f: r.extensions),
    ("stats.reopened", lambda r, f: r.reopened),
    ("stats.response_rate", lambda r, f: f.pct(r.response_rate)),
    ("stats.resolution_rate", lambda r, f: f.pct(r.resolution_rate)),
    ("stats.satisfaction_rate", lambda r, f: f.pct(r.satisfaction_rate)),
    ("stats.composite", lambda r, f: f.num(r.composite())),
]


def _as_of_line(moment: datetime | None) -> list[object]:
    return [tr("stats.as_of", at=_fmt().when(moment))]


def _export_rows() -> tuple[Filters, str, list[list[object]]]:
    filters = _filters()
    by = request.args.get("by", "unit")
    if by not in ("unit", "category", "channel", "area"):
        abort(400)
    s = db_session()
    rows = services.summary(s, filters, by, language(), now=_now())
    fmt = _fmt()
    table: list[list[object]] = [[tr(f"stats.by.{by}"), *(tr(key) for key, _get in EXPORT_COLUMNS)]]
    for r in rows:
        name = tr(f"channel.{r.key}") if by == "channel" else r.name
        table.append([name, *(get(r, fmt) for _key, get in EXPORT_COLUMNS)])
    table.append([])
    table.append([f"{filters.start} – {filters.end}", *_as_of_line(facts.as_of(s))])
    return filters, by, table


def _xlsx(table: list[list[object]], sheet_name: str, filename: str) -> Response:

    out = io.BytesIO()
    book = xlsx_workbook(out)
    sheet = book.add_worksheet(sheet_name[:31])
    bold = book.add_format({"bold": True})
    for i, row in enumerate(table):
        sheet.write_row(i, 0, [("" if v is None else v) for v in row], bold if i == 0 else None)
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 30, 16)
    book.close()
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


@bp.get("/stats/export.csv")
@roles_required(*STATS_ROLES)
def export():  # type: ignore[no-untyped-def]
    filters, _by, table = _export_rows()
    return csv_response(table, f"stats-{filters.start}-{filters.end}.csv")


@bp.get("/stats/export.xlsx")
@roles_required(*STATS_ROLES)
def export_xlsx():  # type: ignore[no-untyped-def]
    filters, by, table = _export_rows()
    return _xlsx(table, f"{filters.start} {filters.end}", f"stats-{by}-{filters.start}.xlsx")


PER_PAGE = 50


def _drill_table() -> tuple[Filters, str, str, int, list[tuple[Any, ...]], int]:
    filters = _filters()
    measure = request.args.get("measure", "tickets")
    outcome = request.args.get("outcome", "all")
    page = _int("page") or 1
    export = request.path.endswith((".csv", ".xlsx"))
    try:
        count, rows = services.drill(
            db_session(), filters, measure, outcome, now=_now(), page=page, per_page=0 if export else PER_PAGE
        )
    except ValueError:
        abort(400)
    return filters, measure, outcome, count, rows, page


def _drill_export_rows() -> tuple[Filters, list[list[object]]]:
    filters, measure, outcome, _count, rows, _page = _drill_table()
    s, lang, fmt = db_session(), language(), _fmt()
    names = {by: services._names(s, by, lang) for by in ("unit", "category", "area")}
    table: list[list[object]] = [
        [
            tr("stats.col.number"),
            tr("stats.col.state"),
            tr("inbox.unit"),
            tr("inbox.category"),
            tr("stats.by.area"),
            tr("ticket.channel"),
            tr("stats.col.created"),
            tr("stats.col.done"),
            tr("stats.col.due"),
            tr("stats.col.outcome"),
        ]
    ]
    for number, state, unit, category, area, channel, created, done, due, verdict in rows:
        table.append(
            [
                number,
                tr(f"state.{state}"),
                names["unit"].get(unit, ""),
                names["category"].get(category, ""),
                names["area"].get(area, ""),
                tr(f"channel.{channel}"),
                fmt.when(created),
                fmt.when(done),
                fmt.when(due),
                _verdict(verdict),
            ]
        )
    table.append([])
    table.append([tr(f"stats.measure.{measure}"), _verdict(outcome), *_as_of_line(facts.as_of(s))])
    return filters, table


def _verdict(outcome: str) -> str:
    return {
        "on_time": tr("stats.on_time"),
        "late": tr("stats.late"),
        "not_due": tr("stats.not_due"),
        "none": tr("stats.outcome.none"),
        "judged": f"{tr('stats.on_time')} + {tr('stats.late')}",
        "all": tr("stats.outcome.all"),
    }[outcome]


@bp.get("/stats/tickets")
@roles_required(*STATS_ROLES)
def tickets():  # type: ignore[no-untyped-def]
    """The tickets behind one figure: exactly the rows of its numerator or denominator, paged."""
    filters, measure, outcome, count, rows, page = _drill_table()
    s, lang = db_session(), language()
    pages = max(1, -(-count // PER_PAGE))
    return render_template(
        "stats/tickets.html",
        filters=filters,
        measure=measure,
        outcome=outcome,
        count=count,
        rows=rows,
        page=page,
        pages=pages,
        names={by: services._names(s, by, lang) for by in ("unit", "category", "area")},
        verdict=_verdict,
        fmt=_fmt(),
        as_of=facts.as_of(s),
        args={k: v for k, v in request.args.items() if k != "page"},
    )


@bp.get("/stats/tickets.csv")
@roles_required(*STATS_ROLES)
def tickets_csv():  # type: ignore[no-untyped-def]
    filters, table = _drill_export_rows()
    return csv_response(table, f"tickets-{filters.start}-{filters.end}.csv")


@bp.get("/stats/tickets.xlsx")
@roles_required(*STATS_ROLES)
def tickets_xlsx():  # type: ignore[no-untyped-def]
    filters, table = _drill_export_rows()
    return _xlsx(table, f"{filters.start} {filters.end}", f"tickets-{filters.start}-{filters.end}.xlsx")


def _last_closed_month() -> date:
    return (_today().replace(day=1) - timedelta(days=1)).replace(day=1)


def _month() -> date:
    """The month asked for; by default the last closed month (the ranking of record)."""
    raw = request.args.get("month", "")
    return _date(raw + "-01") if raw else _last_closed_month()


def _ranking(month: date, min_volume: int | None = None) -> services.Ranking:
    return services.configured_ranking(
        db_session(), month, min_volume=min_volume, language=language(), now=_now(), today=_today()
    )


@bp.get("/stats/ranking")
@roles_required(*ALL_UNITS)
def ranking():  # type: ignore[no-untyped-def]
    month = _month()
    result = _ranking(month, _int("min"))
    return render_template(
        "stats/ranking.html",
        result=result,
        month=month,
        current_month=_today().replace(day=1),
        as_of=facts.as_of(db_session()),
        fmt=_fmt(),
    )


@bp.get("/stats/ranking.csv")
@roles_required(*ALL_UNITS)
def ranking_csv():  # type: ignore[no-untyped-def]
    month = _month()
    result = _ranking(month)
    fmt = _fmt()
    table: list[list[object]] = []
    table.append(
        [
            tr("stats.col.tier"),
            tr("stats.col.rank"),
            tr("inbox.unit"),
            tr("stats.col.assigned"),
            tr("stats.response_rate"),
            tr("stats.resolution_rate"),
            tr("stats.satisfaction_rate"),
            tr("stats.composite"),
            tr("stats.col.mystery"),
            tr("stats.combined"),
            tr("stats.col.warned"),
            tr("stats.col.reason"),
        ]
    )
    for tier, rows in result.tiers.items():
        for r in rows:
            table.append(
                [
                    tr(f"stats.tier.{tier}"),
                    r.rank,
                    r.name,
                    r.assigned,
                    fmt.pct(r.response_rate),
                    fmt.pct(r.resolution_rate),
                    fmt.pct(r.satisfaction_rate),
                    fmt.num(r.composite(result.weights)),
                    fmt.num(r.mystery),
                    fmt.num(r.combined),
                    tr("stats.yes") if r.warned else "",
                    "",
                ]
            )
    for r in result.unranked:
        table.append(
            [
                tr("stats.unranked.title"),
                "",
                r.name,
                r.assigned,
                fmt.pct(r.response_rate),
                fmt.pct(r.resolution_rate),
                fmt.pct(r.satisfaction_rate),
                fmt.num(r.composite(result.weights)),
                fmt.num(r.mystery),
                "",
                "",
                tr(r.extra["reason"], min=result.min_volume),
            ]
        )
    table.append([])
    note = [tr("stats.provisional")] if result.provisional else [tr("stats.closed_month")]
    table.append([month.strftime("%Y-%m"), *note, *_as_of_line(facts.as_of(db_session()))])
    return csv_response(table, f"ranking-{month.strftime('%Y-%m')}.csv")


def _week() -> date:
    ref = _date(request.args["week"]) if request.args.get("week") else None
    return services.period("week", ref)[0] if ref else reports.last_week_start(runtime())


def _bulletin(start: date) -> dict[str, Any]:
    snapshot = reports.stored(db_session(), start)
    if snapshot is None or "meta" not in snapshot:
        snapshot = reports.generate(runtime(), start)
    return snapshot


@bp.get("/stats/weekly")
@roles_required(*ALL_UNITS)
def weekly():  # type: ignore[no-untyped-def]
    """The weekly bulletin (每周一报): the stored issue, generated now if the job has not made it yet."""
    start = _week()
    snapshot = reports.generate(runtime(), start) if request.args.get("regenerate") else _bulletin(start)
    return render_template("stats/weekly.html", report=snapshot[language()], meta=snapshot["meta"], fmt=_fmt())


@bp.get("/stats/weekly.csv")
@roles_required(*ALL_UNITS)
def weekly_csv():  # type: ignore[no-untyped-def]
    """Every table of the bulletin in one CSV, one section after another, headers in the reader's language."""
    start = _week()
    snapshot = _bulletin(start)
    report, meta, fmt = snapshot[language()], snapshot["meta"], _fmt()
    table: list[list[object]] = [
        [tr("stats.weekly"), tr("stats.weekly.issue", number=meta["number"]), report["start"], report["end"]],
        [tr("stats.weekly.generated", at=fmt.when(datetime.fromisoformat(meta["generated_at"])))],
        [],
        [tr("stats.weekly.totals"), tr("stats.this_period"), tr("stats.weekly.last_week"), tr("stats.weekly.wow")],
    ]
    for line in report["week_on_week"]:
        table.append([line["label"], line["current"], line["previous"], line["change"]])
    table.append([])
    table.append(
        [
            tr("stats.by.unit"),
            tr("stats.tickets"),
            tr("stats.sign_on_time"),
            tr("stats.overdue"),
            tr("stats.response_rate"),
            tr("stats.resolution_rate"),
            tr("stats.satisfaction_rate"),
            tr("stats.composite"),
        ]
    )
    for section in ("units", "categories"):
        if section == "categories":
            table.append([])
            table.append([tr("stats.by.category"), tr("stats.tickets")])
        for r in report[section]:
            table.append(
                [
                    r["name"],
                    r["count"],
                    fmt.pct(r["sign_on_time"]),
                    r["overdue"],
                    fmt.pct(r["response_rate"]),
                    fmt.pct(r["resolution_rate"]),
                    fmt.pct(r["satisfaction_rate"]),
                    fmt.num(r["composite"]),
                ]
            )
    table.append([])
    table.append(
        [
            tr("stats.accountability"),
            tr("stats.col.number"),
            tr("inbox.unit"),
            tr("ticket.deadlines"),
            tr("overdue.due"),
            tr("overdue.level"),
        ]
    )
    for e in report["accountability"]:
        table.append(
            [
                "",
                e["number"],
                e["unit"],
                tr(f"clock.{e['clock']}"),
                fmt.when(e["due_at"]),
                tr(f"level.{e['level']}"),
            ]
        )
    return csv_response(table, f"weekly-{start.isoformat()}.csv")


@bp.get("/public/")
def public():  # type: ignore[no-untyped-def]
    """Published figures: aggregates per unit only, no personal data."""
    month = _month()
    result = _ranking(month)
    return render_template(
        "stats/public.html",
        result=result,
        month=month,
        current_month=_today().replace(day=1),
        title=tr("public.title"),
        as_of=facts.as_of(db_session()),
        fmt=_fmt(),
        public=True,
    )
