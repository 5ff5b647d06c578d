"""Mystery-call pages: the registry of hotlines, campaigns and their plans, each call's task page
(call, log by hand, score), and the results with the unit ranking."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core.errors import HotlineError
from hotline_core.models import (
    AuditedHotline,
    CallProgress,
    CallReview,
    Campaign,
    MysteryCall,
    Role,
    Scenario,
    ScorecardDefinition,
    ScoreDispute,
    Unit,
    User,
)
from hotline_web.auth import current_actor, roles_required
from hotline_web.context import db_session, language, runtime, tr
from hotline_web.errors import flash_refusal, message
from hotline_web.exports import csv_response
from hotline_web.security import MAX_DB_INT
from mystery_calls import services
from mystery_calls.services import MysteryCallError, ScenarioIn

bp = Blueprint("mystery", __name__, url_prefix="/staff/mystery", template_folder="templates")


def _form_int(value: str | None) -> int:
    """A whole number from a form, 0 when it is none (or beyond a database integer): 0 is refused
    downstream like any missing choice, never a 500."""
    value = (value or "").strip()
    return int(value) if value.isdigit() and int(value) <= MAX_DB_INT else 0


AUDIT_ROLES = (Role.AUDITOR, Role.ADMIN)
READ_ROLES = (Role.AUDITOR, Role.ADMIN, Role.LEADER, Role.DISPATCHER)


def _redirect_with(error: HotlineError | None, endpoint: str, **values: object):  # type: ignore[no-untyped-def]
    if error is not None:
        flash_refusal(error)
    return redirect(url_for(endpoint, **values)), 303


def _score_values() -> dict[str, float | None]:
    """The scorecard items of the posted form (``item_<code>``: a number, or empty / ``na`` for N/A)."""
    values: dict[str, float | None] = {}
    for key, raw in request.form.items():
        if key.startswith("item_"):
            try:
                values[key[5:]] = None if raw in ("", "na") else float(raw)
            except ValueError:
                raise MysteryCallError("mystery.bad_values") from None
    return values


@bp.get("/")
@roles_required(*READ_ROLES)
def index():  # type: ignore[no-untyped-def]
    s = db_session()
    campaigns = s.scalars(select(Campaign).order_by(Campaign.id.desc())).all()
    hotlines = s.scalars(select(AuditedHotline).order_by(AuditedHotline.id)).all()
    units = {u.id: u for u in s.scalars(select(Unit))}
    mine = []
    if current_user.role in AUDIT_ROLES:
        mine = s.scalars(
            select(MysteryCall)
            .where(
                MysteryCall.auditor_id == current_user.user.id,
                MysteryCall.state.in_(("planned", "retry_planned", "flagged")),
            )
            .order_by(MysteryCall.planned_at)
            .limit(50)
        ).all()
    return render_template(
        "mystery/index.html",
        campaigns=campaigns,
        hotlines=hotlines,
        units=units,
        mine=mine,
        hotline_names={h.id: h for h in hotlines},
    )


@bp.post("/hotlines")
@roles_required(*AUDIT_ROLES)
def add_hotline():  # type: ignore[no-untyped-def]
    rt = runtime()
    form = request.form
    try:
        with rt.db.transaction() as s:
            if form.get("from_directory"):
                added = services.import_hotlines_from_directory(s, current_actor(), rt.settings.default_region)
                flash(tr("mystery.hotlines_imported", count=added), "ok")
            else:
                unit_id = _form_int(form.get("unit"))
                services.register_hotline(
                    s,
                    unit_id=unit_id,
                    number=form.get("number", ""),
                    name=form.get("name", ""),
                    service_hours=form.get("service_hours", ""),
                    notes=form.get("notes", ""),
                    default_region=rt.settings.default_region,
                    actor=current_actor(),
                )
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.index")
    return _redirect_with(None, "mystery.index")


@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles_required(*AUDIT_ROLES)
def new_campaign():  # type: ignore[no-untyped-def]
    s = db_session()
    hotlines = s.scalars(select(AuditedHotline).where(AuditedHotline.active).order_by(AuditedHotline.id)).all()
    auditors = s.scalars(select(User).where(User.role.in_(AUDIT_ROLES), User.active).order_by(User.id)).all()
    error = None
    if request.method == "POST":
        form = request.form
        rt = runtime()
        try:
            start = date.fromisoformat(form.get("window_start", ""))
            end = date.fromisoformat(form.get("window_end", ""))
        except ValueError:
            error = tr("mystery.bad_dates")
        else:
            scenarios = [
                ScenarioIn(title=t, persona=p, question=q, expected_answer=a)
                for t, p, q, a in zip(
                    form.getlist("scenario_title"),
                    form.getlist("scenario_persona"),
                    form.getlist("scenario_question"),
                    form.getlist("scenario_expected"),
                    strict=False,
                )
            ]
            try:
                with rt.db.transaction() as w:
                    campaign = services.create_campaign(
                        w,
                        name=form.get("name", ""),
                        window_start=start,
                        window_end=end,
                        hotline_ids=[int(x) for x in form.getlist("hotlines") if x.isdigit()],
                        auditor_ids=[int(x) for x in form.getlist("auditors") if x.isdigit()],
                        caller_numbers=[n for n in (form.get("caller_numbers") or "").replace(",", "\n").split() if n],
                        calls_per_hotline=_form_int(form.get("calls_per_hotline")),
                        max_per_auditor_hotline_month=_form_int(form.get("max_per_month")),
                        scenarios=scenarios,
                        actor=current_actor(),
                        default_region=rt.settings.default_region,
                    )
                    campaign_id = campaign.id
                return redirect(url_for("mystery.campaign", campaign_id=campaign_id)), 303
            except MysteryCallError as exc:
                error = message(exc)
            except ValueError:  # a count that is not a number
                error = message(MysteryCallError("error.mystery.limits_at_least_one"))
    return render_template(
        "mystery/new_campaign.html", hotlines=hotlines, auditors=auditors, error=error, form=request.form
    ), (400 if error else 200)


@bp.get("/campaigns/<int:campaign_id>")
@roles_required(*READ_ROLES)
def campaign(campaign_id: int):  # type: ignore[no-untyped-def]
    s = db_session()
    found = s.get(Campaign, campaign_id) or abort(404)
    calls = s.scalars(
        select(MysteryCall).where(MysteryCall.campaign_id == campaign_id).order_by(MysteryCall.planned_at)
    ).all()
    hotlines = {h.id: h for h in s.scalars(select(AuditedHotline))}
    users = {u.id: u for u in s.scalars(select(User))}
    scenarios = s.scalars(select(Scenario).where(Scenario.campaign_id == campaign_id)).all()
    return render_template(
        "mystery/campaign.html", campaign=found, calls=calls, hotlines=hotlines, users=users, scenarios=scenarios
    )


@bp.post("/campaigns/<int:campaign_id>/plan")
@roles_required(*AUDIT_ROLES)
def plan(campaign_id: int):  # type: ignore[no-untyped-def]
    rt = runtime()
    try:
        with rt.db.transaction() as s:
            found = s.get(Campaign, campaign_id) or abort(404)
            result = services.plan_campaign(s, rt, found, actor=current_actor())
        flash(tr("mystery.planned", count=len(result.calls)), "ok")
        for note in result.notes:
            flash(note, "error")
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.campaign", campaign_id=campaign_id)
    return _redirect_with(None, "mystery.campaign", campaign_id=campaign_id)


def _call_or_404(call_id: int) -> MysteryCall:
    call = db_session().get(MysteryCall, call_id)
    if call is None:
        abort(404)
    if current_user.role == Role.AUDITOR and call.auditor_id != current_user.user.id:
        abort(404)
    return call


@bp.get("/calls/<int:call_id>")
@roles_required(*READ_ROLES)
def call_page(call_id: int):  # type: ignore[no-untyped-def]
    s = db_session()
    call = _call_or_404(call_id)
    campaign_row = s.get(Campaign, call.campaign_id)
    card_row = s.get(ScorecardDefinition, campaign_row.scorecard_id)
    card = services.card_of(card_row)
    return render_template(
        "mystery/call.html",
        call=call,
        campaign=campaign_row,
        hotline=s.get(AuditedHotline, call.hotline_id),
        scenario=s.get(Scenario, call.scenario_id) if call.scenario_id else None,
        card=card,
        history=services.score_history(s, call),
        automatic=services.automatic_values(call),
        progress=s.scalars(
            select(CallProgress).where(CallProgress.mystery_call_id == call.id).order_by(CallProgress.sequence)
        ).all(),
        can_act=current_user.role in AUDIT_ROLES,
        blockers=services.place_blockers(runtime(), current_user.user),
        can_review=can_review(call),
        disputes=s.scalars(select(ScoreDispute).where(ScoreDispute.mystery_call_id == call.id)).all(),
        has_recording=services.recording_path(runtime(), call) is not None,
    )


@bp.get("/calls/<int:call_id>/recording")
@roles_required(*READ_ROLES)
def recording(call_id: int):  # type: ignore[no-untyped-def]
    """The kept recording, played inline by the browser, for those who may see the call."""
    call = _call_or_404(call_id)
    path = services.recording_path(runtime(), call) or abort(404)
    types = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4", ".amr": "audio/amr"}
    response = send_file(path, mimetype=types.get(path.suffix.lower(), "application/octet-stream"), conditional=True)
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/my-phone")
@roles_required(*AUDIT_ROLES)
def my_phone():  # type: ignore[no-untyped-def]
    rt = runtime()
    try:
        with rt.db.transaction() as s:
            services.set_own_phone(
                s, s.get(User, current_user.user.id), request.form.get("phone", ""), rt.settings.default_region
            )
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.index")
    flash(tr("mystery.phone_saved"), "ok")
    back = request.form.get("next") or ""
    if back.startswith("/staff/mystery/"):
        return redirect(back), 303
    return _redirect_with(None, "mystery.index")


@bp.post("/calls/<int:call_id>/place")
@roles_required(*AUDIT_ROLES)
def place(call_id: int):  # type: ignore[no-untyped-def]
    _call_or_404(call_id)
    rt = runtime()
    try:
        with rt.db.transaction() as s:
            services.place_call(s, rt, s.get(MysteryCall, call_id), s.merge(current_user.user, load=False))
        flash(tr("mystery.calling"), "ok")
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.call_page", call_id=call_id)
    return _redirect_with(None, "mystery.call_page", call_id=call_id)


@bp.post("/calls/<int:call_id>/log")
@roles_required(*AUDIT_ROLES)
def log(call_id: int):  # type: ignore[no-untyped-def]
    _call_or_404(call_id)
    rt = runtime()
    form = request.form
    try:
        called_at = datetime.fromisoformat(form.get("called_at", "")).replace(tzinfo=rt.settings.tz)
        answered = form.get("answered") == "yes"
        seconds = float(form["seconds_to_answer"]) if form.get("seconds_to_answer") else None
        talk = int(form["talk_seconds"]) if form.get("talk_seconds") else None
    except (ValueError, KeyError):
        return _redirect_with(MysteryCallError("mystery.bad_log"), "mystery.call_page", call_id=call_id)
    recording = request.files.get("recording")
    path = None
    if recording and recording.filename:
        suffix = Path(recording.filename).suffix.lower()
        if suffix not in (".mp3", ".wav", ".m4a", ".amr"):
            return _redirect_with(
                MysteryCallError("form.file_type", name=recording.filename), "mystery.call_page", call_id=call_id
            )
        folder = rt.settings.instance_path / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{uuid.uuid4().hex}{suffix}"
        recording.save(folder / name)
        path = f"uploads/{name}"
    try:
        with rt.db.transaction() as s:
            services.log_manual(
                s,
                rt,
                s.get(MysteryCall, call_id),
                s.merge(current_user.user, load=False),
                called_at=called_at,
                answered=answered,
                seconds_to_answer=seconds,
                talk_seconds=talk,
                agent_id=form.get("agent_id", ""),
                recording_path=path,
                notes=form.get("notes", ""),
            )
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.call_page", call_id=call_id)
    flash(tr("mystery.logged"), "ok")
    return _redirect_with(None, "mystery.call_page", call_id=call_id)


@bp.post("/calls/<int:call_id>/score")
@roles_required(*AUDIT_ROLES)
def score(call_id: int):  # type: ignore[no-untyped-def]
    _call_or_404(call_id)
    rt = runtime()
    try:
        values = _score_values()
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.call_page", call_id=call_id)
    dispute_id = _form_int(request.form.get("dispute_id"))
    try:
        with rt.db.transaction() as s:
            if dispute_id:
                found = s.get(ScoreDispute, dispute_id) or abort(404)
                services.decide_dispute(
                    s,
                    rt,
                    found,
                    s.get(User, current_user.user.id),
                    uphold=False,
                    note=request.form.get("reason") or "",
                    values=values,
                )
            else:
                services.submit_score(
                    s,
                    rt,
                    s.get(MysteryCall, call_id),
                    s.merge(current_user.user, load=False),
                    values,
                    reason=request.form.get("reason") or None,
                )
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.call_page", call_id=call_id)
    flash(tr("mystery.scored"), "ok")
    return _redirect_with(None, "mystery.call_page", call_id=call_id)


def can_review(call: MysteryCall) -> bool:
    """Another auditor may give the scored call an independent second score, once."""
    s = db_session()
    history = services.score_history(s, call)
    me = current_user.user.id
    return (
        current_user.role in AUDIT_ROLES
        and bool(history)
        and all(h.submitted_by != me for h in history)
        and not s.scalar(
            select(CallReview.id).where(CallReview.mystery_call_id == call.id, CallReview.reviewer_id == me)
        )
    )


@bp.post("/calls/<int:call_id>/review")
@roles_required(*AUDIT_ROLES)
def review(call_id: int):  # type: ignore[no-untyped-def]
    """A second auditor's score (any auditor may review any call: the call is not on their own list)."""
    rt = runtime()
    try:
        values = _score_values()
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.call_page", call_id=call_id)
    try:
        with rt.db.transaction() as s:
            call = s.get(MysteryCall, call_id) or abort(404)
            services.submit_review(s, rt, call, s.get(User, current_user.user.id), values)
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.index")
    flash(tr("mystery.reviewed"), "ok")
    return _redirect_with(None, "mystery.results")


@bp.get("/my-unit")
@roles_required(Role.UNIT_HEAD)
def my_unit():  # type: ignore[no-untyped-def]
    """The unit head's view of the unit's scored calls, with the time left to dispute each score."""
    s = db_session()
    rt = runtime()
    unit_id = current_user.user.unit_id
    hotlines = {h.id: h for h in s.scalars(select(AuditedHotline).where(AuditedHotline.unit_id == unit_id))}
    rows = []
    for call in s.scalars(
        select(MysteryCall)
        .where(MysteryCall.hotline_id.in_(list(hotlines)), MysteryCall.state == "completed")
        .order_by(MysteryCall.planned_at.desc())
    ):
        history = services.score_history(s, call)
        if history:
            deadline = services.dispute_deadline(s, rt, history[-1])
            disputes = s.scalars(select(ScoreDispute).where(ScoreDispute.mystery_call_id == call.id)).all()
            rows.append((call, history[-1], deadline, deadline >= rt.now(), disputes))
    return render_template("mystery/my_unit.html", rows=rows, hotlines=hotlines)


@bp.post("/calls/<int:call_id>/dispute")
@roles_required(Role.UNIT_HEAD)
def dispute(call_id: int):  # type: ignore[no-untyped-def]
    rt = runtime()
    try:
        with rt.db.transaction() as s:
            call = s.get(MysteryCall, call_id) or abort(404)
            services.raise_dispute(s, rt, call, s.get(User, current_user.user.id), request.form.get("reason", ""))
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.my_unit")
    flash(tr("mystery.dispute_raised"), "ok")
    return _redirect_with(None, "mystery.my_unit")


@bp.post("/disputes/<int:dispute_id>/uphold")
@roles_required(*AUDIT_ROLES)
def uphold(dispute_id: int):  # type: ignore[no-untyped-def]
    rt = runtime()
    try:
        with rt.db.transaction() as s:
            found = s.get(ScoreDispute, dispute_id) or abort(404)
            call_id = found.mystery_call_id
            services.decide_dispute(
                s, rt, found, s.get(User, current_user.user.id), uphold=True, note=request.form.get("note", "")
            )
    except MysteryCallError as exc:
        return _redirect_with(exc, "mystery.index")
    return _redirect_with(None, "mystery.call_page", call_id=call_id)


def _item_labels(s: Session, res: services.Results) -> dict[str, str]:
    """The scorecard items' labels in the reader's language."""
    card = services.card_of(services.active_scorecard(s)) if res.item_codes else None
    return {i.code: (i.label_zh if language() == "zh" else i.label_en) for i in card.items} if card else {}


def _campaign_ids() -> list[int]:
    chosen = [int(x) for x in request.args.getlist("campaign") if x.isdigit()]
    return chosen or list(db_session().scalars(select(Campaign.id)))


@bp.get("/results")
@roles_required(*READ_ROLES)
def results():  # type: ignore[no-untyped-def]
    s = db_session()
    ids = _campaign_ids()
    res = services.results(s, ids, language=language())
    labels = _item_labels(s, res)
    return render_template(
        "mystery/results.html",
        res=res,
        agreement=services.agreement(s, ids),
        labels=labels,
        campaigns=s.scalars(select(Campaign).order_by(Campaign.id)).all(),
        chosen=ids,
    )


@bp.get("/results.csv")
@roles_required(*READ_ROLES)
def results_csv():  # type: ignore[no-untyped-def]
    s = db_session()
    res = services.results(s, _campaign_ids(), language=language())
    rows = services.results_csv_rows(res, language(), _item_labels(s, res))
    return csv_response(rows, "mystery-call-ranking.csv")


@bp.get("/units/<int:unit_id>")
@roles_required(*READ_ROLES)
def unit(unit_id: int):  # type: ignore[no-untyped-def]
    s = db_session()
    found = s.get(Unit, unit_id) or abort(404)
    hotlines = {h.id: h for h in s.scalars(select(AuditedHotline).where(AuditedHotline.unit_id == unit_id))}
    calls = s.scalars(
        select(MysteryCall).where(MysteryCall.hotline_id.in_(list(hotlines))).order_by(MysteryCall.planned_at.desc())
    ).all()
    latest = {c.id: (services.score_history(s, c) or [None])[-1] for c in calls}
    return render_template("mystery/unit.html", unit=found, calls=calls, hotlines=hotlines, latest=latest)
