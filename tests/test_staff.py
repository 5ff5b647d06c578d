"""Staff sign-in, roles on every staff view, masked phone numbers, and the audit trail."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from hotline_core.models import AuditEntry, Role
from tests.factories import complaint, housing_ticket
from tests.helpers import DEMO_PASSWORDS, sign_in

pytestmark = pytest.mark.demo_city


def audit_actions(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()


# Every staff route with the method it answers and the roles it admits. Issue by issue this table
# grows with the portal; ``test_every_staff_route_is_in_the_role_matrix`` fails for a route that is
# not in it. Ticket actions (``/staff/tickets/<number>/<action>``) are one row per action.
ALL = set(Role.ALL)
TICKETS = {Role.DISPATCHER, Role.ADMIN, Role.LEADER, Role.UNIT_STAFF, Role.UNIT_HEAD}
ACTING = {Role.DISPATCHER, Role.ADMIN, Role.UNIT_STAFF, Role.UNIT_HEAD}
UNITS = {Role.UNIT_STAFF, Role.UNIT_HEAD}
DISPATCH = {Role.DISPATCHER, Role.ADMIN}
STATS = {Role.LEADER, Role.ADMIN, Role.DISPATCHER, Role.UNIT_HEAD, Role.UNIT_STAFF}
CITY_STATS = {Role.LEADER, Role.ADMIN, Role.DISPATCHER}
MYSTERY_READ = {Role.AUDITOR, Role.ADMIN, Role.LEADER, Role.DISPATCHER}
MYSTERY = {Role.AUDITOR, Role.ADMIN}
ADMIN = {Role.ADMIN}
EXTENSION_DATE = "2027-06-30"
ROUTES = [
    # (method, Flask rule, the action of a ticket action, roles admitted, form posted)
    ("GET", "/staff/", None, ALL, None),
    ("GET", "/staff/tickets", None, TICKETS, None),
    ("GET", "/staff/tickets/<number>", None, TICKETS, None),
    ("POST", "/staff/tickets/<number>/<action>", "sign", ACTING, {}),
    ("POST", "/staff/tickets/<number>/<action>", "contact", ACTING, {"note": "电话联系了市民"}),
    ("POST", "/staff/tickets/<number>/<action>", "reply", ACTING, {"text": "已安排物业退费"}),
    ("POST", "/staff/tickets/<number>/<action>", "note", ACTING, {"text": "内部备注"}),
    ("POST", "/staff/tickets/<number>/<action>", "resolve", ACTING, {"text": "已退费"}),
    ("POST", "/staff/tickets/<number>/<action>", "return", UNITS, {"reason": "非本单位职责"}),
    (
        "POST",
        "/staff/tickets/<number>/<action>",
        "extension",
        UNITS,
        {"reason": "联合调查", "new_date": EXTENSION_DATE},
    ),
    ("POST", "/staff/tickets/<number>/<action>", "callback", ACTING, {}),
    ("POST", "/staff/tickets/<number>/<action>", "route", DISPATCH, {"lead_unit": "<unit_id>"}),
    ("POST", "/staff/tickets/<number>/<action>", "merge", DISPATCH, {"into": "<other_number>"}),
    ("POST", "/staff/tickets/<number>/<action>", "pause", DISPATCH, {"reason": "awaiting_citizen"}),
    ("POST", "/staff/tickets/<number>/<action>", "resume", DISPATCH, {}),
    # issue 13 points 4-7 (units13): inside a unit, the head's screens
    ("POST", "/staff/tickets/<number>/<action>", "delegate", {Role.UNIT_HEAD}, {"officer": "<officer_id>"}),
    ("POST", "/staff/tickets/<number>/<action>", "approve", {Role.UNIT_HEAD}, {}),
    ("POST", "/staff/tickets/<number>/<action>", "send_back", {Role.UNIT_HEAD}, {"reason": "缺少凭证"}),
    ("GET", "/staff/unit", None, {Role.UNIT_HEAD}, None),
    ("GET", "/staff/outbox", None, DISPATCH, None),
    ("GET", "/staff/dispatch/", None, DISPATCH, None),
    ("GET", "/staff/dispatch/extensions", None, DISPATCH, None),
    ("POST", "/staff/dispatch/extensions/<int:request_id>", None, DISPATCH, {"decision": "approve", "note": "同意"}),
    ("GET", "/staff/dispatch/overdue", None, {Role.DISPATCHER, Role.ADMIN, Role.LEADER}, None),
    ("GET", "/staff/mystery/", None, MYSTERY_READ, None),
    ("POST", "/staff/mystery/hotlines", None, MYSTERY, {"from_directory": "1"}),
    ("GET", "/staff/mystery/campaigns/new", None, MYSTERY, None),
    ("POST", "/staff/mystery/campaigns/new", None, MYSTERY, {}),
    ("GET", "/staff/mystery/campaigns/<int:campaign_id>", None, MYSTERY_READ, None),
    ("POST", "/staff/mystery/campaigns/<int:campaign_id>/plan", None, MYSTERY, {}),
    ("GET", "/staff/mystery/calls/<int:call_id>", None, MYSTERY_READ, None),
    ("POST", "/staff/mystery/calls/<int:call_id>/place", None, MYSTERY, {}),
    ("POST", "/staff/mystery/calls/<int:call_id>/log", None, MYSTERY, {"answered": "no"}),
    ("POST", "/staff/mystery/calls/<int:call_id>/score", None, MYSTERY, {}),
    ("GET", "/staff/mystery/calls/<int:call_id>/recording", None, MYSTERY_READ, None),
    ("POST", "/staff/mystery/my-phone", None, MYSTERY, {"phone": "+8613912345678"}),
    ("POST", "/staff/mystery/calls/<int:call_id>/review", None, MYSTERY, {}),
    ("GET", "/staff/mystery/my-unit", None, {Role.UNIT_HEAD}, None),
    ("POST", "/staff/mystery/calls/<int:call_id>/dispute", None, {Role.UNIT_HEAD}, {"reason": "评分有误"}),
    ("POST", "/staff/mystery/disputes/<int:dispute_id>/uphold", None, MYSTERY, {"note": "复核无误"}),
    ("GET", "/staff/mystery/results", None, MYSTERY_READ, None),
    ("GET", "/staff/mystery/results.csv", None, MYSTERY_READ, None),
    ("GET", "/staff/mystery/units/<int:unit_id>", None, MYSTERY_READ, None),
    ("GET", "/stats/", None, STATS, None),
    ("GET", "/stats/export.csv", None, STATS, None),
    ("GET", "/stats/export.xlsx", None, STATS, None),
    ("GET", "/stats/ranking", None, CITY_STATS, None),
    ("GET", "/stats/ranking.csv", None, CITY_STATS, None),
    ("GET", "/stats/weekly", None, CITY_STATS, None),
    ("GET", "/stats/weekly.csv", None, CITY_STATS, None),
    ("GET", "/stats/tickets", None, STATS, None),
    ("GET", "/stats/tickets.csv", None, STATS, None),
    ("GET", "/stats/tickets.xlsx", None, STATS, None),
    ("GET", "/staff/admin/users", None, ADMIN, None),
    ("POST", "/staff/admin/users", None, ADMIN, {}),
    ("POST", "/staff/admin/users/<int:user_id>/deactivate", None, ADMIN, {}),
    ("POST", "/staff/admin/users/<int:user_id>/activate", None, ADMIN, {}),
    ("POST", "/staff/admin/users/<int:user_id>/password", None, ADMIN, {"password": "long-enough-pass"}),
    ("POST", "/staff/admin/users/<int:user_id>/edit", None, ADMIN, {"role": "leader"}),
    ("GET", "/staff/admin/calendar", None, ADMIN, None),
    ("POST", "/staff/admin/calendar", None, ADMIN, {"year": "2027", "holidays": "", "workdays": ""}),
    ("GET", "/staff/admin/directory", None, ADMIN, None),
    ("POST", "/staff/admin/directory", None, ADMIN, {}),
    ("GET", "/staff/admin/directory/export", None, ADMIN, None),
    ("GET", "/staff/admin/audit", None, ADMIN, None),
    ("GET", "/staff/admin/audit.csv", None, ADMIN, None),
    ("GET", "/staff/admin/inbound", None, ADMIN, None),
    ("POST", "/staff/admin/inbound/<int:event_id>/retry", None, ADMIN, {}),
    ("GET", "/staff/admin/open311/keys", None, ADMIN, None),
    ("POST", "/staff/admin/open311/keys", None, ADMIN, {"action": "create", "name": "矩阵测试"}),
    # issue 13 points 12-13 (learn13): the classifier's admin page
    ("GET", "/staff/admin/model/", None, ADMIN, None),
    ("POST", "/staff/admin/model/retrain", None, ADMIN, {}),
    ("POST", "/staff/admin/model/target", None, ADMIN, {"target": "97"}),
    ("GET", "/dev/simulator/", None, ADMIN, None),
    ("POST", "/dev/simulator/", None, ADMIN, {"action": "call", "message": "窗口态度差"}),  # a text waits for a worker
    # issue 13, points 1-3 (desk13): evidence downloads, the operator's desk, ticket search
    ("GET", "/staff/tickets/<number>/evidence/<int:attachment_id>", None, TICKETS, None),
    ("GET", "/staff/desk", None, DISPATCH, None),
    ("POST", "/staff/desk", None, DISPATCH, {"text": "来电反映窗口办事拖延", "phone": "+8613800138000"}),
    ("GET", "/staff/search", None, TICKETS, None),
]
# Signing in and out is for everyone (tested below), so it is not a row of the matrix.
OPEN_ROUTES = {("GET", "/staff/login"), ("POST", "/staff/login"), ("POST", "/staff/logout")}
# shown, done (redirect), the form's own errors, or a command the ticket's state refuses
ADMITTED = {200, 302, 303, 400, 409}
# Rows about a scored call of the demo unit's hotline (issue 12): its kept recording, its head's dispute
# and the auditor's decision on it. They get a call of their own (``scored_housing_call``), so an
# admitted role gets the real answer (the recording, a dispute raised, a dispute upheld).
SCORED_CALL_ROWS = {
    "/staff/mystery/calls/<int:call_id>/recording",
    "/staff/mystery/calls/<int:call_id>/dispute",
    "/staff/mystery/disputes/<int:dispute_id>/uphold",
}
RECORDING = b"ID3\x03matrix"
# desk13: the evidence row opens a photo kept on the housing ticket; an admitted role gets its bytes.
EVIDENCE_ROW = "/staff/tickets/<number>/evidence/<int:attachment_id>"
PHOTO = b"\x89PNG\r\n\x1a\nmatrix"
ROUTE_IDS = [f"{method} {rule.replace('<action>', action or '<action>')}" for method, rule, action, _, _ in ROUTES]


def real_ids(app, runtime, rule, form):
    """Ids and numbers of rows of the demo city for the placeholders in ``rule`` and ``form``: a
    ticket of the housing bureau (the demo unit's), the leader's account, a pending extension
    request, a planned mystery call of the demo auditor, ..."""
    from hotline_core.models import ExtensionRequest, MysteryCall, Unit, User
    from tests.factories import mystery_campaign

    wanted = set(re.findall(r"<(?:\w+:)?(\w+)>", rule + " ".join(map(str, (form or {}).values()))))
    ids = {}
    with runtime.db.session() as s:
        if "unit_id" in wanted:
            ids["unit_id"] = s.scalars(select(Unit.id).where(Unit.code == "HOUSING")).one()
        if "user_id" in wanted:
            ids["user_id"] = s.scalars(select(User.id).where(User.username == "leader")).one()
        if "officer_id" in wanted:
            ids["officer_id"] = s.scalars(select(User.id).where(User.username == "unitstaff")).one()
    if "event_id" in wanted:  # a text that failed for good, waiting for a person
        from hotline_core.models import InboundEvent

        with runtime.db.transaction() as s:
            failed = InboundEvent(
                kind="sms", dedupe_key="sms:SMmatrix", url="http://localhost/twilio/sms", attempts=8, error="boom"
            )
            failed.failed_at = runtime.now()
            s.add(failed)
            s.flush()
            ids["event_id"] = failed.id
    if rule in SCORED_CALL_ROWS:
        ids["call_id"], ids["dispute_id"] = scored_housing_call(runtime, disputed="dispute_id" in wanted)
    if "attachment_id" in wanted:
        ids["number"], ids["attachment_id"] = housing_photo(runtime)
    if "number" in wanted and "number" not in ids:
        ids["number"] = housing_ticket(runtime).number
    if "other_number" in wanted:
        ids["other_number"] = housing_ticket(runtime, "东湖小区物业又乱收费了").number
    if {"campaign_id", "call_id"} & wanted and rule not in SCORED_CALL_ROWS:
        ids["campaign_id"] = mystery_campaign(runtime)
        with runtime.db.session() as s:
            ids["call_id"] = s.scalars(select(MysteryCall.id).order_by(MysteryCall.id)).first()
    if "request_id" in wanted:  # the unit signs for a ticket and asks for more time on its page
        unit = sign_in(app, Role.UNIT_STAFF)
        number = housing_ticket(runtime).number
        assert unit.post(f"/staff/tickets/{number}/sign").status_code == 303
        asked = unit.post(f"/staff/tickets/{number}/extension", data={"reason": "联合调查", "new_date": EXTENSION_DATE})
        assert asked.status_code == 303
        with runtime.db.session() as s:
            ids["request_id"] = s.scalars(select(ExtensionRequest.id).where(ExtensionRequest.state == "pending")).one()
    return ids


def housing_photo(runtime):
    """(ticket number, attachment id): a citizen's photo kept on a housing ticket."""
    from hotline_core import media
    from hotline_core.models import Attachment

    ticket = housing_ticket(runtime)
    stored = media.keep(runtime, "uploads", "matrix-photo", PHOTO, "image/png")
    with runtime.db.transaction() as s:
        photo = Attachment(
            ticket_id=ticket.id, kind="upload", content_type="image/png", filename="现场.png", storage_path=stored
        )
        s.add(photo)
        s.flush()
        return ticket.number, photo.id


def scored_housing_call(runtime, *, disputed):
    """(call id, dispute id or None): a mystery call of the housing bureau's hotline (the demo unit
    head's), made today by the demo auditor, scored, with its recording kept; ``disputed``: the unit
    head has disputed the score."""
    import random

    from hotline_core.audit import Actor
    from hotline_core.models import AuditedHotline, MysteryCall, Unit, User
    from mystery_calls import services as mystery
    from tests.test_mystery_calls import FULL

    actor = Actor("user:auditor")
    today = runtime.now().astimezone(runtime.settings.tz).date()
    folder = runtime.settings.instance_path / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "matrix.mp3").write_bytes(RECORDING)
    with runtime.db.transaction() as s:
        mystery.import_hotlines_from_directory(s, actor)
        housing = s.scalars(select(Unit.id).where(Unit.code == "HOUSING")).one()
        hotline = s.scalars(select(AuditedHotline.id).where(AuditedHotline.unit_id == housing)).one()
        auditor = s.scalars(select(User).where(User.username == "auditor")).one()
        campaign = mystery.create_campaign(
            s,
            name="矩阵暗访",
            window_start=today,
            window_end=today + timedelta(days=14),
            hotline_ids=[hotline],
            auditor_ids=[auditor.id],
            caller_numbers=["+8613100000001"],
            calls_per_hotline=1,
            max_per_auditor_hotline_month=2,
            scenarios=[mystery.ScenarioIn("咨询物业费标准", "业主", "物业费怎么收？", "小区名称")],
            actor=actor,
        )
        mystery.plan_campaign(s, runtime, campaign, actor=actor, rng=random.Random(7))
        call = s.scalars(select(MysteryCall).where(MysteryCall.campaign_id == campaign.id)).one()
        mystery.log_manual(
            s,
            runtime,
            call,
            auditor,
            called_at=runtime.now(),
            answered=True,
            seconds_to_answer=6,
            talk_seconds=90,
            recording_path="uploads/matrix.mp3",
        )
        mystery.submit_score(s, runtime, call, auditor, FULL)
        dispute_id = None
        if disputed:
            head = s.scalars(select(User).where(User.username == "unithead")).one()
            dispute_id = mystery.raise_dispute(s, runtime, call, head, "坐席工号有误").id
        return call.id, dispute_id


def fill(template, ids):
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), template)


def request_route(app, client, runtime, method, rule, action, form):
    ids = real_ids(app, runtime, rule, form)
    path = fill(rule.replace("<action>", action or ""), ids)
    data = {key: fill(str(value), ids) for key, value in (form or {}).items()}
    return client.open(path, method=method, data=data)


@pytest.mark.parametrize(("method", "rule", "action", "roles", "form"), ROUTES, ids=ROUTE_IDS)
def test_anonymous_visitors_are_sent_to_sign_in(app, client, runtime, method, rule, action, roles, form):
    response = request_route(app, client, runtime, method, rule, action, form)
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


@pytest.mark.parametrize("role", Role.ALL)
@pytest.mark.parametrize(("method", "rule", "action", "roles", "form"), ROUTES, ids=ROUTE_IDS)
def test_every_role_gets_exactly_the_routes_it_may_see(app, runtime, role, method, rule, action, roles, form):
    response = request_route(app, sign_in(app, role), runtime, method, rule, action, form)
    if role in roles:
        assert response.status_code in ADMITTED, response.get_data(as_text=True)[:2000]
        if rule in SCORED_CALL_ROWS:
            assert_scored_call_row_done(runtime, rule, response)
        if rule == EVIDENCE_ROW:
            assert response.status_code == 200 and response.data == PHOTO
    else:
        assert response.status_code == 403


def assert_scored_call_row_done(runtime, rule, response):
    """The admitted role got the real thing, not a refusal shown as a redirect."""
    from hotline_core.models import ScoreDispute

    if rule.endswith("/recording"):
        assert response.status_code == 200 and response.data == RECORDING
        return
    assert response.status_code == 303
    with runtime.db.session() as s:
        [dispute] = s.scalars(select(ScoreDispute)).all()
    assert dispute.state == ("open" if rule.endswith("/dispute") else "upheld")


def test_every_staff_route_is_in_the_role_matrix(app):
    from responders.tickets import ACTIONS

    staff_routes = {
        (method, r.rule)
        for r in app.url_map.iter_rules()
        if r.rule.startswith(("/staff", "/dev", "/stats"))
        for method in r.methods - {"HEAD", "OPTIONS"}
    }
    assert staff_routes - OPEN_ROUTES == {(method, rule) for method, rule, *_ in ROUTES}
    actions = [action for _, rule, action, *_ in ROUTES if rule == "/staff/tickets/<number>/<action>"]
    assert sorted(actions) == sorted(ACTIONS)


def test_a_wrong_password_is_refused_and_audited(client, runtime):
    response = client.post("/staff/login", data={"username": "dispatcher", "password": "guess"})
    assert response.status_code == 401
    assert "login.failed" in audit_actions(runtime)


def test_repeated_failures_lock_the_account(client, runtime):
    for _ in range(5):
        client.post("/staff/login", data={"username": "dispatcher", "password": "guess"})
    response = client.post("/staff/login", data={"username": "dispatcher", "password": DEMO_PASSWORDS["dispatcher"]})
    # the same answer as a wrong password: a locked account does not tell that it exists
    assert response.status_code == 401
    assert "login.refused_locked" in audit_actions(runtime)


def test_passwords_are_stored_hashed(runtime):
    from hotline_core.models import User

    with runtime.db.session() as s:
        user = s.scalars(select(User).where(User.username == "dispatcher")).one()
    assert DEMO_PASSWORDS["dispatcher"] not in user.password_hash and user.password_hash.startswith("scrypt:")


def test_dispatchers_see_the_full_number_and_the_reveal_is_audited(client, runtime):
    ticket = complaint(runtime, phone="+8613800138000")
    sign_in(client, Role.DISPATCHER)
    page = client.get(f"/staff/tickets/{ticket.number}").get_data(as_text=True)
    assert "+8613800138000" in page
    assert "ticket.phone_revealed" in audit_actions(runtime)


def test_leaders_see_a_masked_number(client, runtime):
    complaint(runtime, phone="+8613800138000")
    sign_in(client, Role.LEADER)
    page = client.get("/staff/tickets").get_data(as_text=True)
    assert "138****8000" in page and "+8613800138000" not in page


def test_unit_staff_cannot_open_a_ticket_not_assigned_to_their_unit(client, runtime):
    ticket = complaint(runtime)
    sign_in(client, Role.UNIT_STAFF)
    assert client.get(f"/staff/tickets/{ticket.number}").status_code == 404
    assert "ticket.view_refused" in audit_actions(runtime)


def test_the_outbox_page_shows_messages_not_sent_for_lack_of_credentials(client, runtime, drain):
    complaint(runtime, phone="+8613800138000")
    drain()
    sign_in(client, Role.DISPATCHER)
    page = client.get("/staff/outbox?lang=en").get_data(as_text=True)
    assert "not sent (no credentials)" in page and "No Twilio account is configured" in page
    assert "未发送（无凭据）" in client.get("/staff/outbox?lang=zh").get_data(as_text=True)


def test_signing_out_needs_a_post_with_csrf(csrf_app):
    client = csrf_app.test_client()
    assert client.post("/staff/logout").status_code == 400


@pytest.mark.committed  # the embedded worker threads answer the text
def test_the_simulator_page_plays_a_conversation(client, runtime):
    runtime.jobs.start_embedded()  # as under `hotline run`: the reply to a text comes from a job
    sign_in(client, Role.ADMIN)
    page = client.post(
        "/dev/simulator/", data={"from_number": "+8613800138000", "message": "路灯坏了三天没人修", "action": "sms"}
    ).get_data(as_text=True)
    assert "您的投诉已受理，工单号" in page
    page = client.post(
        "/dev/simulator/", data={"from_number": "+8613900139000", "message": "窗口态度差", "action": "call"}
    ).get_data(as_text=True)
    assert "工单号是" in page
    runtime.jobs.stop_embedded()


def test_the_simulator_does_not_exist_in_production(runtime):
    import dataclasses

    from hotline_app.factory import create_app

    runtime.settings = dataclasses.replace(runtime.settings, environment="production")
    app = create_app(runtime=runtime)
    assert not any(r.rule.startswith("/dev") for r in app.url_map.iter_rules())
