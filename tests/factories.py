"""Factories: make the rows a test needs in one line, through the same services production uses."""

from __future__ import annotations

from typing import Any

from hotline_app.demo import load_demo
from hotline_core.models import Ticket, User
from hotline_core.runtime import Runtime
from intake import services
from intake.services import Complaint


def complaint(runtime: Runtime, text: str = "窗口办事拖延，三次都没办成。", **fields: Any) -> Ticket:
    fields.setdefault("channel", "web")
    fields.setdefault("phone", "+8613800138000")
    with runtime.db.transaction() as s:
        ticket = services.submit_complaint(s, runtime, Complaint(text=text, **fields))
    return ticket


def user(
    runtime: Runtime,
    username: str = "alice",
    role: str = "dispatcher",
    password: str = "correct horse",
    unit_id: int | None = None,
) -> User:
    with runtime.db.transaction() as s:
        row = User(username=username, role=role, display_name=username.title(), unit_id=unit_id)
        row.set_password(password)
        s.add(row)
    return row


def demo_city(runtime: Runtime, *, with_tickets: bool = False, with_model: bool = False) -> None:
    """The demo directory and one user per role (passwords as in hotline_app/demo_city.yaml); the
    classifier only when asked, so routing tests see the keyword rules unless they want the model."""
    load_demo(runtime, sample_tickets=with_tickets, train=with_model)


def housing_ticket(runtime: Runtime, text: str = "东湖小区物业乱收费，业主多次反映无人处理", **fields: Any) -> Ticket:
    """A ticket routed to the demo city's housing bureau (the demo unit staff's and unit head's unit)."""
    from intake.services import process_ticket_job

    ticket = complaint(runtime, text, **fields)
    process_ticket_job(ticket.id)
    return ticket


def mystery_campaign(runtime: Runtime) -> int:
    """A planned mystery-call campaign on the demo city's first two hotlines, called by the demo
    auditor; returns its id."""
    import random
    from datetime import timedelta

    from sqlalchemy import select

    from hotline_core.audit import Actor
    from hotline_core.models import AuditedHotline
    from mystery_calls import services as mystery

    actor = Actor("user:auditor")
    start = runtime.now().astimezone(runtime.settings.tz).date()
    with runtime.db.transaction() as s:
        mystery.import_hotlines_from_directory(s, actor)
        hotlines = s.scalars(select(AuditedHotline.id).order_by(AuditedHotline.id)).all()[:2]
        auditor = s.scalars(select(User.id).where(User.username == "auditor")).one()
        campaign = mystery.create_campaign(
            s,
            name="暗访",
            window_start=start,
            window_end=start + timedelta(days=14),
            hotline_ids=list(hotlines),
            auditor_ids=[auditor],
            caller_numbers=["+8613100000001"],
            calls_per_hotline=1,
            max_per_auditor_hotline_month=2,
            scenarios=[mystery.ScenarioIn("咨询营业执照办理材料", "个体户", "办营业执照需要哪些材料？", "身份证")],
            actor=actor,
        )
        mystery.plan_campaign(s, runtime, campaign, actor=actor, rng=random.Random(7))
        return campaign.id


def rows(runtime: Runtime, model: Any, **where: Any) -> list[Any]:
    """Every row of ``model`` matching ``where`` (column == value), in id order."""
    from sqlalchemy import select

    with runtime.db.session() as s:
        query = select(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return list(s.scalars(query.order_by(model.id)).all())
