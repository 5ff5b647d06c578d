"""Staff sign-in, roles on every staff view, masked phone numbers, and the audit trail."""

import re

import pytest
from sqlalchemy import select

from hotline_core.models import AuditEntry, Role
from tests.factories import complaint
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
    ("POST", "/staff/mystery/disputes/<int:dispute_id>/uphold", None, MYSTERY, {}),
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
]
# Signing in and out is for everyone (tested below), so it is not a row of the matrix.
OPEN_ROUTES = {("GET", "/staff/login"), ("POST", "/staff/login"), ("POST", "/staff/logout")}
# shown, done (redirect), the form's own errors, or a command the ticket's state refuses
ADMITTED = {200, 302, 303, 400, 409}
# Rows whose object the demo city has none of (a kept recording, a dispute): past the role check
# an admitted role gets 404 for it; every other role still gets 403.
WITHOUT_OBJECT = {"/staff/mystery/calls/<int:call_id>/recording", "/staff/mystery/disputes/<int:dispute_id>/uphold"}
ROUTE_IDS = [f"{method} {rule.replace('<action>', action or '<action>')}" for method, rule, action, _, _ in ROUTES]


def real_ids(app, runtime, rule, form):
    """Ids and numbers of rows of the demo city for the placeholders in ``rule`` and ``form``: a
    ticket of the housing bureau (the demo unit's), the leader's account, a pending extension
    request, a planned mystery call of the demo auditor, ..."""
    from hotline_core.models import ExtensionRequest, MysteryCall, Unit, User
    from tests.factories import housing_ticket, mystery_campaign

    wanted = set(re.findall(r"<(?:\w+:)?(\w+)>", rule + " ".join(map(str, (form or {}).values()))))
    ids = {}
    with runtime.db.session() as s:
        if "unit_id" in wanted:
            ids["unit_id"] = s.scalars(select(Unit.id).where(Unit.code == "HOUSING")).one()
        if "user_id" in wanted:
            ids["user_id"] = s.scalars(select(User.id).where(User.username == "leader")).one()
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
    if "dispute_id" in wanted:
        ids["dispute_id"] = 2**31 - 1  # no dispute exists (see WITHOUT_OBJECT)
    if "number" in wanted:
        ids["number"] = housing_ticket(runtime).number
    if "other_number" in wanted:
        ids["other_number"] = housing_ticket(runtime, "东湖小区物业又乱收费了").number
    if {"campaign_id", "call_id"} & wanted:
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
        admitted = ADMITTED | ({404} if rule in WITHOUT_OBJECT else set())
        assert response.status_code in admitted, response.get_data(as_text=True)[:2000]
    else:
        assert response.status_code == 403


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
