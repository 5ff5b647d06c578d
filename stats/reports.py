"""The weekly bulletin (每周一报): a numbered snapshot of last week's figures, generated on Monday
morning in the city's time (the beat's cron schedule, ``HOTLINE_BULLETIN_CRON``) and on demand, kept
so that what leaders read on Monday stays what was published, and emailed to the leaders the
directory lists (``settings.bulletin_recipients``) when SMTP is configured. Without SMTP the issue
is kept and shown as not sent.

Each issue holds, in both languages: its number, the generation time and the facts' "as of", the
week's totals with the previous week's and the change (week on week), figures by unit and
category, hot spots and repeated places up to the week's end, the month's provisional ranking,
the accountability list (deadlines missed during the week) and two charts (inline SVG).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import asdict
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import formatting
from hotline_core.i18n import t
from hotline_core.models import AccountabilityEntry, DirectorySetting, Ticket, Unit
from hotline_core.runtime import Runtime, current
from hotline_core.settings import Settings
from stats import charts, facts, services

log = logging.getLogger(__name__)
KEY_PREFIX = "weekly_report:"
TOTAL_FIELDS = ("count", "assigned", "overdue", "escalated", "reopened")
RATE_FIELDS = ("response_rate", "sign_on_time", "resolve_on_time", "resolution_rate", "satisfaction_rate")


def _row(row: services.Row) -> dict[str, Any]:
    data = {k: v for k, v in asdict(row).items() if k != "extra"}
    data.update(
        response_rate=row.response_rate,
        resolution_rate=row.resolution_rate,
        satisfaction_rate=row.satisfaction_rate,
        sign_on_time=row.sign_on_time,
        contact_on_time=row.contact_on_time,
        resolve_on_time=row.resolve_on_time,
        composite=row.composite(),
        key=str(row.key) if row.key is not None else None,
    )
    return data


def week_on_week(current: services.Row, previous: services.Row, language: str) -> list[dict[str, Any]]:
    """Each total with last week's value and the change (counts in %, rates in percentage points)."""
    lines = []
    for name in TOTAL_FIELDS:
        now, before = getattr(current, name), getattr(previous, name)
        lines.append(
            {"name": name, "current": now, "previous": before, "change": formatting.change(now, before, language)}
        )
    for name in RATE_FIELDS:
        now, before = getattr(current, name), getattr(previous, name)
        lines.append(
            {
                "name": name,
                "current": formatting.percent(now, language),
                "previous": formatting.percent(before, language),
                "change": formatting.change(now, before, language, rate=True),
            }
        )
    return lines


LABELS = {
    "count": "stats.tickets",
    "assigned": "stats.col.assigned",
    "overdue": "stats.overdue",
    "escalated": "stats.escalated",
    "reopened": "stats.reopened",
    "response_rate": "stats.response_rate",
    "sign_on_time": "stats.sign_on_time",
    "resolve_on_time": "stats.resolve_on_time",
    "resolution_rate": "stats.resolution_rate",
    "satisfaction_rate": "stats.satisfaction_rate",
}


def build(
    session: Session,
    week_start: date,
    language: str = "zh",
    *,
    now: datetime | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """The issue's content in one language; ``today`` (the city's date) ends the daily chart."""
    start, end = services.period("week", week_start)
    filters = services.Filters(start, end)
    previous = services.Filters(start - timedelta(days=7), start - timedelta(days=1))
    current_totals = services.totals(session, filters, now=now)
    previous_totals = services.totals(session, previous, now=now)
    result = services.configured_ranking(session, start.replace(day=1), language=language, now=now, today=end)
    units = services.summary(session, filters, "unit", language, now=now)
    happened = min(end, today or end)  # the end of what has happened (a bulletin made mid-week)
    days, series = services.daily_counts(session, services.Filters(start, happened))
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "language": language,
        "totals": _row(current_totals),
        "previous_totals": _row(previous_totals),
        "week_on_week": [
            {**line, "label": t(LABELS[line["name"]], language)}
            for line in week_on_week(current_totals, previous_totals, language)
        ],
        "units": [_row(r) for r in units],
        "categories": [_row(r) for r in services.summary(session, filters, "category", language, now=now)],
        "hot_spots": [asdict(s) for s in services.hot_spots(session, happened, language=language)],
        "repeated": [asdict(p) for p in services.repeated_places(session, happened, language=language)],
        "ranking": {tier: [_row(r) for r in rows] for tier, rows in result.tiers.items()},
        "ranking_provisional": result.provisional,
        # Units not ranked, each with its true reason: a tier without ranked units is not "without data".
        "unranked": [
            {
                "name": r.name,
                "tier": r.extra["tier"],
                "assigned": r.assigned,
                "reason": t(r.extra["reason"], language, min=result.min_volume),
            }
            for r in result.unranked
        ],
        "accountability": accountability(session, start, end, language),
        "charts": {
            "units": charts.bars(t("stats.tickets", language), [r.name for r in units], [r.count for r in units])
            if units
            else "",
            "days": charts.lines(
                t("stats.trend", language),
                days,
                {t(f"channel.{k}", language): v for k, v in series.items()},
                counts=True,
            )
            if series
            else "",
        },
    }


def accountability(session: Session, start: date, end: date, language: str) -> list[dict[str, Any]]:
    """Deadlines missed during the week (the accountability list), most escalated first."""
    units = {u.id: u.name(language) for u in session.scalars(select(Unit))}
    rows = session.execute(
        select(AccountabilityEntry, Ticket.number).join(Ticket, Ticket.id == AccountabilityEntry.ticket_id)
    ).all()
    order = {"leaders": 0, "supervision": 1, "unit_head": 2, "overdue": 3}
    listed = []
    for entry, number in rows:
        day = entry.overdue_at.date()
        if start <= day <= end:
            listed.append(
                {
                    "number": number,
                    "unit": units.get(entry.unit_id, ""),
                    "clock": entry.kind,
                    "due_at": entry.due_at.isoformat(),
                    "level": entry.level,
                }
            )
    return sorted(listed, key=lambda e: (order.get(e["level"], 9), e["due_at"]))


def _key(week_start: date) -> str:
    return KEY_PREFIX + services.period("week", week_start)[0].isoformat()


def _next_number(session: Session) -> int:
    numbers = [
        int((row.value or {}).get("meta", {}).get("number", 0))
        for row in session.scalars(select(DirectorySetting).where(DirectorySetting.key.like(KEY_PREFIX + "%")))
    ]
    return max(numbers, default=0) + 1


def generate(runtime: Runtime, week_start: date) -> dict[str, Any]:
    """Build and keep the bulletin for the week starting ``week_start``, in both languages.

    A regenerated issue keeps its number and its sending record."""
    facts.refresh_exclusively(runtime)  # waits for a periodic refresh that is running
    now = runtime.now()
    with runtime.db.transaction() as session:
        today = now.astimezone(runtime.settings.tz).date()
        reports: dict[str, Any] = {
            lang: build(session, week_start, lang, now=now, today=today) for lang in ("zh", "en")
        }
        row = session.get(DirectorySetting, _key(week_start)) or DirectorySetting(key=_key(week_start))
        meta = dict((row.value or {}).get("meta") or {})
        meta.setdefault("number", _next_number(session))
        meta["generated_at"] = now.isoformat()
        as_of = facts.as_of(session)
        meta["as_of"] = as_of.isoformat() if as_of else None
        meta.setdefault("mail", {"state": "pending"})
        reports["meta"] = meta
        row.value = reports
        session.add(row)
    return reports


def stored(session: Session, week_start: date) -> dict[str, Any] | None:
    row = session.get(DirectorySetting, _key(week_start))
    return row.value if row else None


def recipients(session: Session) -> list[str]:
    """The leaders' addresses from the directory's ``settings.bulletin_recipients`` (a list of
    addresses or of {name, email})."""
    row = session.get(DirectorySetting, "settings")
    listed = ((row.value if row else {}) or {}).get("bulletin_recipients") or []
    addresses = []
    for item in listed:
        email = item.get("email") if isinstance(item, dict) else item
        if isinstance(email, str) and "@" in email:
            addresses.append(email.strip())
    return addresses


def _local(settings: Settings, moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")


def message(
    settings: Settings, report: dict[str, Any], meta: dict[str, Any], to: list[str], language: str
) -> EmailMessage:
    """The bulletin as an email: the totals with week on week and the accountability list as text,
    the charts as SVG attachments."""
    mail = EmailMessage()
    mail["Subject"] = t(
        "stats.weekly.subject", language, number=meta["number"], start=report["start"], end=report["end"]
    )
    mail["From"] = settings.smtp_from
    mail["To"] = ", ".join(to)
    lines = [
        mail["Subject"],
        t("stats.weekly.generated", language, at=_local(settings, meta["generated_at"])),
        "",
        f"{t('stats.weekly.totals', language)} ({t('stats.weekly.wow', language)})",
    ]
    for line in report["week_on_week"]:
        lines.append(f"  {line['label']}: {line['current']} ({line['previous']}, {line['change']})")
    lines += ["", t("stats.accountability", language)]
    for entry in report["accountability"]:
        lines.append(
            f"  {entry['number']}  {entry['unit']}  {t('clock.' + entry['clock'], language)}  "
            f"{_local(settings, entry['due_at'])}  {t('level.' + entry['level'], language)}"
        )
    if not report["accountability"]:
        lines.append("  " + t("overdue.empty", language))
    if settings.public_base_url:
        url = f"{settings.public_base_url}/stats/weekly?week={report['start']}"
        lines += ["", t("stats.weekly.link", language, url=url)]
    mail.set_content("\n".join(lines))
    for name, svg in report["charts"].items():
        if svg:
            mail.add_attachment(svg.encode(), maintype="image", subtype="svg+xml", filename=f"{name}.svg")
    return mail


def send(runtime: Runtime, week_start: date, *, force: bool = False) -> dict[str, Any]:
    """Email the stored issue to the leaders once (again with ``force``); record what happened."""
    settings = runtime.settings
    with runtime.db.transaction() as session:
        row = session.get(DirectorySetting, _key(week_start))
        if row is None:
            raise LookupError(week_start)
        value = dict(row.value)
        meta = dict(value["meta"])
        if meta.get("mail", {}).get("state") == "sent" and not force:
            return meta["mail"]
        to = recipients(session)
        if not settings.smtp_configured:
            result: dict[str, Any] = {"state": "not_configured"}
        elif not to:
            result = {"state": "no_recipients"}
        else:
            language = settings.default_language
            mail = message(settings, value[language], meta, to, language)
            try:
                with smtplib.SMTP(settings.smtp_host or "", settings.smtp_port, timeout=30) as smtp:
                    if settings.smtp_starttls:
                        smtp.starttls()
                    if settings.smtp_user:
                        smtp.login(settings.smtp_user, settings.smtp_password or "")
                    smtp.send_message(mail)
                result = {"state": "sent", "at": runtime.now().isoformat(), "recipients": len(to)}
            except (OSError, smtplib.SMTPException) as exc:
                log.warning("weekly bulletin %s not sent: %s", meta["number"], exc)
                result = {"state": "failed", "error": str(exc)[:200]}
        meta["mail"] = result
        value["meta"] = meta
        row.value = value
        session.add(row)
    return result


def last_week_start(runtime: Runtime) -> date:
    today = runtime.now().astimezone(runtime.settings.tz).date()
    return services.period("week", today - timedelta(days=7))[0]


def weekly_job() -> str:
    """Periodic job (Monday morning, the beat's cron schedule): last week's bulletin, then the email."""
    runtime = current()
    week_start = last_week_start(runtime)
    generate(runtime, week_start)
    send(runtime, week_start)
    return week_start.isoformat()
