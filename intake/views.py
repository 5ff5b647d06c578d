"""The citizen's web pages: file a complaint, then track it by number and phone digits."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from sqlalchemy import select

from hotline_core.models import Area, Category, Ticket
from hotline_core.models.ticket import Channel
from hotline_web.context import db_session, language, runtime, tr
from hotline_web.security import limit_value, limiter
from intake import forms, numbers, services
from intake.services import Complaint, IntakeError

bp = Blueprint("complaints", __name__, template_folder="templates")

PUBLIC_EVENT_KINDS = (
    "received",
    "acknowledged",
    "citizen_message",
    "assigned",
    "signed",
    "replied",
    "resolved",
    "closed",
    "reopened",
)


def _choices(model: type[Category] | type[Area], none_key: str) -> list[tuple[str, str]]:
    lang = language()
    query = select(model).order_by(model.code)
    if model is Category:
        query = query.where(Category.level == 1, Category.active.is_(True))
    else:
        query = query.where(Area.parent_id.is_(None))
    rows = cast(list[Category | Area], db_session().scalars(query).all())
    return [("", tr(none_key))] + [(row.code, row.name(lang)) for row in rows]


def _form_phone_key() -> str:
    """The web form's phone number, normalised, as the rate-limit key (one number, however written)."""
    raw = (request.form.get("phone") or "").strip()[:40]
    number = forms.check_phone(raw, runtime().settings.default_region) if raw else None
    return f"phone:{number.value if number else raw}"


def _anonymous_post() -> bool:
    return bool(request.form.get("anonymous")) or not (request.form.get("phone") or "").strip()


def _ticket_key() -> str:
    """The ticket a /track post names, normalised as the lookup normalises it: another spelling of the
    number (spaces, full-width digits, no dash, leading zeros) counts against the same ticket."""
    return "ticket:" + (numbers.normalise(request.form.get("number")) or "-")


def _forget_csrf_token() -> None:
    """A tracking form's CSRF token serves one lookup: the next needs the fresh one on the page."""
    session.pop("csrf_token", None)
    g.pop("csrf_token", None)


@bp.route("/", methods=["GET", "POST"])
@limiter.limit(limit_value("limit_form_client"), methods=["POST"])
@limiter.limit(limit_value("limit_form_phone"), methods=["POST"], key_func=_form_phone_key, exempt_when=_anonymous_post)
def new():  # type: ignore[no-untyped-def]
    rt = runtime()
    settings = rt.settings
    form = forms.ComplaintForm()
    form.category.choices = _choices(Category, "form.category_none")
    form.district.choices = _choices(Area, "form.district_none")
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        if not form.validate_on_submit() and "csrf_token" in form.errors:
            errors["form"] = [tr("form.csrf")]
        text = (form.description.data or "").strip()
        if not text:
            errors.setdefault("description", []).append(tr("form.required"))
        elif len(text) < forms.MIN_TEXT:
            errors.setdefault("description", []).append(tr("form.too_short", min=forms.MIN_TEXT))
        elif len(text) > forms.MAX_TEXT:
            errors.setdefault("description", []).append(tr("form.too_long", max=forms.MAX_TEXT))
        anonymous = bool(form.anonymous.data)
        phone = None
        if not anonymous:
            raw = (form.phone.data or "").strip()
            if not raw:
                errors.setdefault("phone", []).append(tr("form.phone_required"))
            else:
                phone = forms.check_phone(raw, settings.default_region)
                if phone is None or not phone.valid:
                    errors.setdefault("phone", []).append(tr("form.phone_invalid", value=raw[:40]))
        if len(form.name.data or "") > 100:
            errors.setdefault("name", []).append(tr("form.too_long", max=100))
        valid_codes = {code for code, _ in form.category.choices}
        if form.category.data and form.category.data not in valid_codes:
            errors.setdefault("category", []).append(tr("error.400"))
        if form.district.data and form.district.data not in {code for code, _ in form.district.choices}:
            errors.setdefault("district", []).append(tr("error.400"))
        files, file_errors = forms.check_files(
            request.files.getlist(form.attachments.name), settings.upload_max_files, settings.upload_max_bytes
        )
        for key, fields in file_errors:
            errors.setdefault("attachments", []).append(tr(key, **fields))
        if not errors:
            stored = [forms.store(rt.settings.instance_path, f) for f in files]
            with rt.db.transaction() as s:
                try:
                    ticket = services.submit_complaint(
                        s,
                        rt,
                        Complaint(
                            channel=Channel.WEB,
                            text=text,
                            phone=phone.value if phone else None,
                            language=language(),
                            name=(form.name.data or "").strip() or None,
                            anonymous=anonymous,
                            contact_consent=bool(form.contact_consent.data),
                            category_code=form.category.data or None,
                            area_code=form.district.data or None,
                            attachments=stored,
                        ),
                    )
                except IntakeError:
                    abort(400)
                number, code = ticket.number, ticket.lookup_code
            session["filed"] = {"number": number, "code": code if anonymous or not phone else None}
            return redirect(url_for("complaints.filed", lang=language()))
    status = 400 if errors else 200
    return render_template(
        "complaints/new.html",
        form=form,
        errors=errors,
        max_files=settings.upload_max_files,
        max_mb=settings.upload_max_bytes // (1 << 20),
    ), status


@bp.get("/filed")
def filed():  # type: ignore[no-untyped-def]
    info = session.get("filed")
    if not info:
        return redirect(url_for("complaints.new"))
    return render_template("complaints/filed.html", number=info["number"], code=info.get("code"))


@bp.route("/track", methods=["GET", "POST"])
@limiter.limit(limit_value("limit_track_client"), methods=["POST"])
@limiter.limit(limit_value("limit_track_ticket"), methods=["POST"], key_func=_ticket_key)
def lookup():  # type: ignore[no-untyped-def]
    """Track a ticket by number and the phone's last four digits (or the access code).

    Every attempt counts against the ticket (a few per quarter of an hour: then its lookup is
    locked for a while, and the citizen can still text ``查询 <number>``) and against the client,
    counted before the lookup runs, so parallel guesses are counted too.
    """
    form = forms.LookupForm()
    ticket: Ticket | None = None
    not_found = False
    if request.method == "POST" and form.validate_on_submit():
        _forget_csrf_token()
        ticket = services.lookup_for_citizen(db_session(), form.number.data or "", form.last4.data or "")
        not_found = ticket is None
    elif request.method == "POST":
        abort(400)
    events = [e for e in ticket.events if e.kind in PUBLIC_EVENT_KINDS] if ticket else []
    return render_template("complaints/lookup.html", form=form, ticket=ticket, events=events, not_found=not_found), (
        404 if not_found else 200
    )
