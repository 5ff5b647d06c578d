"""The operator's desk: type in a caller's complaint, and find tickets by number, phone, words and date."""

from __future__ import annotations

import secrets
from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from hotline_core.errors import HotlineError
from hotline_core.models import Area, Category, Role, Unit
from hotline_web.auth import current_actor, roles_required
from hotline_web.context import db_session, language, runtime, tr
from hotline_web.errors import flash_refusal
from responders import services
from responders.tickets import TICKET_ROLES

bp = Blueprint("desk", __name__, url_prefix="/staff", template_folder="templates")

DESK_ROLES = (Role.DISPATCHER, Role.ADMIN)
TYPED_FIELDS = ("text", "phone", "name", "language", "category", "area")


def _form_page(values: dict[str, str], status: int = 200):  # type: ignore[no-untyped-def]
    s = db_session()
    categories = s.scalars(select(Category).where(Category.active).order_by(Category.level, Category.code)).all()
    areas = s.scalars(select(Area).order_by(Area.code)).all()
    return (
        render_template(
            "staff/desk.html",
            values=values,
            categories=categories,
            areas=areas,
            form_token=values.get("form_token") or secrets.token_hex(16),
        ),
        status,
    )


@bp.get("/desk")
@roles_required(*DESK_ROLES)
def desk():  # type: ignore[no-untyped-def]
    return _form_page({})


@bp.post("/desk")
@roles_required(*DESK_ROLES)
def type_in():  # type: ignore[no-untyped-def]
    form = request.form
    values = {name: form.get(name, "") for name in (*TYPED_FIELDS, "form_token")}
    values["consent"] = "1" if form.get("consent") else ""
    rt = runtime()
    try:
        with rt.db.transaction() as s:
            category = s.get(Category, int(values["category"])) if values["category"].isdigit() else None
            area = s.get(Area, int(values["area"])) if values["area"].isdigit() else None
            ticket = services.type_in_ticket(
                s,
                rt,
                s.merge(current_user.user, load=False),
                services.TypedTicket(
                    text=values["text"],
                    phone=values["phone"],
                    name=values["name"],
                    language=values["language"],
                    category_code=category.code if category else None,
                    area_code=area.code if area else None,
                    contact_consent=bool(values["consent"]),
                    form_token=values["form_token"],
                ),
                ip=current_actor().ip,
            )
            number = ticket.number
    except HotlineError as exc:
        flash_refusal(exc)
        return _form_page(values, exc.status)
    flash(tr("desk.filed", number=number), "ok")
    return redirect(url_for("tickets.ticket", number=number)), 303


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip()) if raw.strip() else None
    except ValueError:
        return None


@bp.get("/search")
@roles_required(*TICKET_ROLES)
def search():  # type: ignore[no-untyped-def]
    args = request.args
    values = {name: args.get(name, "")[:100] for name in ("number", "phone", "q", "from", "to")}
    may_search_phone = current_user.role in Role.SEES_FULL_PHONE
    searched = any(values.values())
    result = None
    status = 200
    u = current_user.user
    if searched:
        page = int(args["page"]) if args.get("page", "").isdigit() and len(args["page"]) < 6 else 1
        query = services.SearchQuery(
            number=values["number"],
            phone=values["phone"],
            text=values["q"],
            date_from=_day(values["from"]),
            date_to=_day(values["to"]),
            page=page,
        )
        try:
            if values["phone"]:  # a phone search is audited, so it runs in a writing transaction
                with runtime().db.transaction() as s:
                    result = services.search_tickets(s, runtime(), s.merge(u, load=False), query, current_actor().ip)
            else:
                result = services.search_tickets(db_session(), runtime(), u, query)
            rows = [{"ticket": tk, "phone": services.shown_phone(u, tk)} for tk in result.tickets]
        except HotlineError as exc:
            flash_refusal(exc)
            result, rows, status = None, [], exc.status
    else:
        rows = []
    unit_names = {x.id: x.name(language()) for x in db_session().scalars(select(Unit))}
    return (
        render_template(
            "staff/search.html",
            values=values,
            result=result,
            rows=rows,
            unit_names=unit_names,
            may_search_phone=may_search_phone,
            args={k: v for k, v in values.items() if v},
        ),
        status,
    )
