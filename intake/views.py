"""The citizen's web pages: file a complaint, then track it by number and phone digits."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import cast

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hotline_core.models import Area, Category, Ticket
from hotline_core.models.ticket import Channel
from hotline_web.context import db_session, language, runtime, tr
from hotline_web.security import limit_value, limiter
from intake import forms, numbers, progress, services
from intake.services import Complaint, IntakeError

bp = Blueprint("complaints", __name__, template_folder="templates")

PUBLIC_EVENT_KINDS = (
    "received",
    "merged",
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
    submission = _submission_token()
    if request.method == "POST":
        if not form.validate_on_submit() and "csrf_token" in form.errors:
            errors["form"] = [tr("form.csrf")]
        elif (done := _already_filed(submission)) is not None:
            return done
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
        digest = _filing_digest(text, phone.value if phone else "", anonymous)
        if not errors and (again := _filed_lately(digest)) is not None:
            # Sent again from this browser after going back (a fresh form, a new token): the same
            # words and number a few minutes ago are that ticket, not a second one.
            return _show_filed(again["number"], again.get("code"), already=True)
        if not errors:
            stored = [forms.store(rt.settings.instance_path, f) for f in files]
            source_ref = f"form:{submission}" if submission else None
            try:
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
                                source_ref=source_ref,
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
            except IntegrityError:
                # The same form sent twice at once (double click, two tabs): the other request
                # made the ticket; show it.
                done = _already_filed(submission)
                if done is None:
                    raise
                return done
            phone_dropped = anonymous and bool((form.phone.data or "").strip())
            _remember_filing(digest, number or "", code if anonymous or not phone else None)
            return _show_filed(number or "", code if anonymous or not phone else None, phone_dropped=phone_dropped)
    status = 400 if errors else 200
    return render_template(
        "complaints/new.html",
        form=form,
        errors=errors,
        submission=submission or secrets.token_urlsafe(18),
        max_files=settings.upload_max_files,
        max_mb=settings.upload_max_bytes // (1 << 20),
    ), status


RESUBMIT_WINDOW = timedelta(minutes=10)
REMEMBERED_FILINGS = 5


def _filing_digest(text: str, phone: str, anonymous: bool) -> str:
    return hashlib.sha256(f"{anonymous}\x00{phone}\x00{text}".encode()).hexdigest()[:32]


def _filed_lately(digest: str) -> dict | None:
    """This browser's filing of the same complaint in the last few minutes (kept in its session)."""
    now = runtime().now()
    for entry in session.get("recent_filings", []):
        at = datetime.fromisoformat(entry["at"])
        if entry["digest"] == digest and now - at <= RESUBMIT_WINDOW:
            return dict(entry)
    return None


def _remember_filing(digest: str, number: str, code: str | None) -> None:
    entry = {"digest": digest, "number": number, "code": code, "at": runtime().now().isoformat()}
    session["recent_filings"] = [entry, *session.get("recent_filings", [])][:REMEMBERED_FILINGS]


def _submission_token() -> str | None:
    """The complaint form's one-time token (a hidden field made when the form is drawn): the same
    form sent twice makes one ticket. Anything but a token we could have made is ignored."""
    value = (request.form.get("submission") or "").strip() if request.method == "POST" else ""
    return value if _TOKEN.fullmatch(value) else None


_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,40}")


def _already_filed(submission: str | None):  # type: ignore[no-untyped-def]
    """The filed page of the ticket this form token already made, or None."""
    if not submission:
        return None
    ticket = services.find_by_source(db_session(), Channel.WEB, f"form:{submission}")
    if ticket is None:
        return None
    # Whoever holds the form's token sent it: they may see its access code again.
    return _show_filed(ticket.number or "", ticket.lookup_code if ticket.anonymous else None, already=True)


def _show_filed(number: str, code: str | None, *, already: bool = False, phone_dropped: bool = False):  # type: ignore[no-untyped-def]
    session["filed"] = {"number": number, "code": code, "already": already, "phone_dropped": phone_dropped}
    return redirect(url_for("complaints.filed", lang=language()))


@bp.get("/filed")
def filed():  # type: ignore[no-untyped-def]
    info = session.get("filed")
    if not info:
        return redirect(url_for("complaints.new"))
    return render_template(
        "complaints/filed.html",
        number=info["number"],
        code=info.get("code"),
        already=info.get("already", False),
        phone_dropped=info.get("phone_dropped", False),
    )


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
    found = progress.progress(db_session(), ticket) if ticket else None
    return render_template(
        "complaints/lookup.html", form=form, ticket=ticket, events=events, not_found=not_found, progress=found
    ), (404 if not_found else 200)
