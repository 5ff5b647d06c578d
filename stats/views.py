"""Statistics pages: the leaders' dashboard, the monthly ranking, the weekly bulletin, and the public page.

Leaders, dispatchers and admins see every unit; a unit's head and staff see their own unit's figures.
The public page shows only aggregates (no ticket text, no names, no numbers).
"""

from __future__ import annotations

import io
from datetime import date, timedelta

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user
from sqlalchemy import select

from hotline_core.models import Area, Category, Role, Unit
from hotline_web.auth import roles_required
from hotline_web.context import db_session, language, runtime, tr
from hotline_web.exports import csv_response, xlsx_workbook
from stats import charts, reports, services
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


@bp.get("/stats/")
@roles_required(*STATS_ROLES)
def dashboard():  # type: ignore[no-untyped-def]
    s = db_session()
    filters = _filters()
    by = request.args.get("by", "unit")
    if by not in services.GROUPS:
        abort(400)
    rows = services.summary(s, filters, by, language())
    total = services.summary(s, filters, "channel", language())
    spots = services.hot_spots(s, filters.end, language=language())
    days, series = services.daily_counts(s, filters)
    chart_counts = charts.bars(tr("stats.tickets"), [r.name for r in rows], [r.count for r in rows]) if rows else ""
    chart_trend = ""
    if series and len(days) > 1:
        chart_trend = charts.trend(tr("stats.trend"), days, {tr(f"channel.{k}"): v for k, v in series.items()})
    return render_template(
        "stats/dashboard.html",
        chart_counts=chart_counts,
        chart_trend=chart_trend,
        repeated=services.repeated_places(s, filters.end, language=language()),
        rows=rows,
        by=by,
        filters=filters,
        spots=spots,
        totals=_totals(total),
        weights=services.WEIGHTS,
        args=request.args,
        units=s.scalars(select(Unit).order_by(Unit.code)).all() if current_user.role in ALL_UNITS else [],
        categories=s.scalars(select(Category).where(Category.level == 1)).all(),
        areas=s.scalars(select(Area)).all(),
    )


def _totals(rows: list[services.Row]) -> services.Row:
    total = services.Row(key=None, name="")
    for r in rows:
        for attr in (
            "count",
            "assigned",
            "overdue",
            "escalated",
            "returns",
            "extensions",
            "reopened",
            "responded",
            "surveyed",
            "solved",
            "rated",
            "satisfied",
        ):
            setattr(total, attr, getattr(total, attr) + getattr(r, attr))
    return total


EXPORT_HEADER = [
    "count",
    "assigned",
    "sign_median_s",
    "sign_working_median_s",
    "sign_p90_s",
    "contact_median_s",
    "resolve_median_s",
    "resolve_working_median_s",
    "sign_on_time",
    "contact_on_time",
    "resolve_on_time",
    "overdue",
    "escalated",
    "returns",
    "extensions",
    "reopened",
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "composite",
]


def _export_rows() -> tuple[Filters, str, list[list[object]]]:
    filters = _filters()
    by = request.args.get("by", "unit")
    if by not in services.GROUPS:
        abort(400)
    rows = services.summary(db_session(), filters, by, language())
    table: list[list[object]] = [[by, *EXPORT_HEADER]]
    for r in rows:
        table.append(
            [
                r.name,
                r.count,
                r.assigned,
                r.sign_median,
                r.sign_working_median,
                r.sign_p90,
                r.contact_median,
                r.resolve_median,
                r.resolve_working_median,
                r.sign_on_time,
                r.contact_on_time,
                r.resolve_on_time,
                r.overdue,
                r.escalated,
                r.returns,
                r.extensions,
                r.reopened,
                r.response_rate,
                r.resolution_rate,
                r.satisfaction_rate,
                r.composite(),
            ]
        )
    return filters, by, table


@bp.get("/stats/export.csv")
@roles_required(*STATS_ROLES)
def export():  # type: ignore[no-untyped-def]
    filters, _by, table = _export_rows()
    return csv_response(table, f"stats-{filters.start}-{filters.end}.csv")


@bp.get("/stats/export.xlsx")
@roles_required(*STATS_ROLES)
def export_xlsx():  # type: ignore[no-untyped-def]
    filters, by, table = _export_rows()
    out = io.BytesIO()
    book = xlsx_workbook(out)
    sheet = book.add_worksheet(f"{filters.start} {filters.end}"[:31])
    bold = book.add_format({"bold": True})
    for i, row in enumerate(table):
        sheet.write_row(i, 0, [("" if v is None else v) for v in row], bold if i == 0 else None)
    sheet.set_column(0, 0, 28)
    book.close()
    return Response(
        out.getvalue(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f"attachment; filename=stats-{by}-{filters.start}.xlsx"},
    )


def _month() -> date:
    raw = request.args.get("month", "")
    return _date(raw + "-01") if raw else _today().replace(day=1)


@bp.get("/stats/ranking")
@roles_required(*ALL_UNITS)
def ranking():  # type: ignore[no-untyped-def]
    month = _month()
    result = services.configured_ranking(db_session(), month, min_volume=_int("min"), language=language())
    return render_template("stats/ranking.html", result=result, month=month)


@bp.get("/stats/ranking.csv")
@roles_required(*ALL_UNITS)
def ranking_csv():  # type: ignore[no-untyped-def]
    month = _month()
    result = services.configured_ranking(db_session(), month, language=language())
    table: list[list[object]] = []
    table.append(
        [
            "tier",
            "rank",
            "unit",
            "assigned",
            "response_rate",
            "resolution_rate",
            "satisfaction_rate",
            "composite",
            "mystery_average",
            "combined",
            "warned",
        ]
    )
    for tier, rows in result.tiers.items():
        for r in rows:
            table.append(
                [
                    tier,
                    r.rank,
                    r.name,
                    r.assigned,
                    r.response_rate,
                    r.resolution_rate,
                    r.satisfaction_rate,
                    r.composite(result.weights),
                    r.mystery,
                    r.combined,
                    "yes" if r.warned else "",
                ]
            )
    for r in result.unranked:
        table.append(
            [
                "unranked",
                "",
                r.name,
                r.assigned,
                r.response_rate,
                r.resolution_rate,
                r.satisfaction_rate,
                r.composite(result.weights),
                r.mystery,
                "",
                "",
            ]
        )
    return csv_response(table, f"ranking-{month.strftime('%Y-%m')}.csv")


@bp.get("/stats/weekly")
@roles_required(*ALL_UNITS)
def weekly():  # type: ignore[no-untyped-def]
    """The weekly bulletin (每周一报): the stored snapshot, generated now if the job has not made it yet."""
    ref = _date(request.args["week"]) if request.args.get("week") else _today() - timedelta(days=7)
    start, _end = services.period("week", ref)
    snapshot = reports.stored(db_session(), start)
    if snapshot is None or request.args.get("regenerate"):
        snapshot = reports.generate(runtime(), start)
    return render_template("stats/weekly.html", report=snapshot[language()])


@bp.get("/stats/weekly.csv")
@roles_required(*ALL_UNITS)
def weekly_csv():  # type: ignore[no-untyped-def]
    """Every table of the bulletin in one CSV, one section after another."""
    ref = _date(request.args["week"]) if request.args.get("week") else _today() - timedelta(days=7)
    start = services.period("week", ref)[0]
    snapshot = reports.stored(db_session(), start) or reports.generate(runtime(), start)
    report = snapshot[language()]
    table: list[list[object]] = []
    table.append(
        [
            "section",
            "name",
            "count",
            "sign_on_time",
            "overdue",
            "response_rate",
            "resolution_rate",
            "satisfaction_rate",
            "composite",
        ]
    )
    for section in ("units", "categories"):
        for r in report[section]:
            table.append(
                [
                    section,
                    r["name"],
                    r["count"],
                    r["sign_on_time"],
                    r["overdue"],
                    r["response_rate"],
                    r["resolution_rate"],
                    r["satisfaction_rate"],
                    r["composite"],
                ]
            )
    table.append([])
    table.append(["accountability", "number", "unit", "clock", "due_at", "level"])
    for e in report["accountability"]:
        table.append(["accountability", e["number"], e["unit"], e["clock"], e["due_at"], e["level"]])
    return csv_response(table, f"weekly-{start.isoformat()}.csv")


@bp.get("/public/")
def public():  # type: ignore[no-untyped-def]
    """Published figures: aggregates per unit only, no personal data."""
    month = _month()
    result = services.configured_ranking(db_session(), month, language=language())
    return render_template("stats/public.html", result=result, month=month, title=tr("public.title"))
