"""Staff sign-in, roles on every staff view, masked phone numbers, and the audit trail."""

import pytest
from sqlalchemy import select

from hotline_core.models import AuditEntry, Role
from tests.factories import complaint, demo_city

PASSWORDS = {
    role: f"{name}-demo-2026"
    for role, name in [
        (Role.ADMIN, "admin"),
        (Role.DISPATCHER, "dispatcher"),
        (Role.UNIT_STAFF, "unitstaff"),
        (Role.UNIT_HEAD, "unithead"),
        (Role.AUDITOR, "auditor"),
        (Role.LEADER, "leader"),
    ]
}
USERNAMES = {role: password.split("-")[0] for role, password in PASSWORDS.items()}


@pytest.fixture(autouse=True)
def city(runtime):
    demo_city(runtime)


def sign_in(client, role):
    response = client.post("/staff/login", data={"username": USERNAMES[role], "password": PASSWORDS[role]})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def audit_actions(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()


# Every staff route and the roles it admits. Issue by issue this table grows with the portal.
ROUTES = {
    "/staff/": set(Role.ALL),
    "/staff/tickets": {Role.DISPATCHER, Role.ADMIN, Role.LEADER, Role.UNIT_STAFF, Role.UNIT_HEAD},
    "/staff/outbox": {Role.DISPATCHER, Role.ADMIN},
    "/staff/dispatch/": {Role.DISPATCHER, Role.ADMIN},
    "/staff/mystery/": {Role.AUDITOR, Role.ADMIN, Role.LEADER, Role.DISPATCHER},
    "/stats/": {Role.LEADER, Role.ADMIN, Role.DISPATCHER, Role.UNIT_HEAD, Role.UNIT_STAFF},
    "/stats/export.csv": {Role.LEADER, Role.ADMIN, Role.DISPATCHER, Role.UNIT_HEAD, Role.UNIT_STAFF},
    "/stats/export.xlsx": {Role.LEADER, Role.ADMIN, Role.DISPATCHER, Role.UNIT_HEAD, Role.UNIT_STAFF},
    "/stats/ranking": {Role.LEADER, Role.ADMIN, Role.DISPATCHER},
    "/stats/ranking.csv": {Role.LEADER, Role.ADMIN, Role.DISPATCHER},
    "/stats/weekly": {Role.LEADER, Role.ADMIN, Role.DISPATCHER},
    "/stats/weekly.csv": {Role.LEADER, Role.ADMIN, Role.DISPATCHER},
    "/staff/mystery/campaigns/new": {Role.AUDITOR, Role.ADMIN},
    "/staff/mystery/results": {Role.AUDITOR, Role.ADMIN, Role.LEADER, Role.DISPATCHER},
    "/staff/mystery/results.csv": {Role.AUDITOR, Role.ADMIN, Role.LEADER, Role.DISPATCHER},
    "/staff/dispatch/extensions": {Role.DISPATCHER, Role.ADMIN},
    "/staff/dispatch/overdue": {Role.DISPATCHER, Role.ADMIN, Role.LEADER},
    "/staff/admin/users": {Role.ADMIN},
    "/staff/admin/directory": {Role.ADMIN},
    "/staff/admin/directory/export": {Role.ADMIN},
    "/staff/admin/audit": {Role.ADMIN},
    "/staff/admin/audit.csv": {Role.ADMIN},
    "/staff/admin/calendar": {Role.ADMIN},
    "/staff/mystery/my-unit": {Role.UNIT_HEAD},
    "/dev/simulator/": set(Role.ALL),
}


@pytest.mark.parametrize("path", ROUTES)
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


@pytest.mark.parametrize("role", Role.ALL)
@pytest.mark.parametrize("path", ROUTES)
def test_every_role_gets_exactly_the_routes_it_may_see(app, role, path):
    client = sign_in(app.test_client(), role)
    expected = 200 if role in ROUTES[path] else 403
    assert client.get(path).status_code == expected


def test_every_staff_route_is_in_the_role_matrix(app):
    staff_routes = {
        r.rule
        for r in app.url_map.iter_rules()
        if r.rule.startswith(("/staff", "/dev", "/stats")) and "GET" in r.methods and "<" not in r.rule
    }
    assert staff_routes - {"/staff/login"} == set(ROUTES)


def test_a_wrong_password_is_refused_and_audited(client, runtime):
    response = client.post("/staff/login", data={"username": "dispatcher", "password": "guess"})
    assert response.status_code == 401
    assert "login.failed" in audit_actions(runtime)


def test_repeated_failures_lock_the_account(client, runtime):
    for _ in range(5):
        client.post("/staff/login", data={"username": "dispatcher", "password": "guess"})
    response = client.post("/staff/login", data={"username": "dispatcher", "password": PASSWORDS[Role.DISPATCHER]})
    assert response.status_code == 429
    assert "login.refused_locked" in audit_actions(runtime)


def test_passwords_are_stored_hashed(runtime):
    from hotline_core.models import User

    with runtime.db.session() as s:
        user = s.scalars(select(User).where(User.username == "dispatcher")).one()
    assert PASSWORDS[Role.DISPATCHER] not in user.password_hash and user.password_hash.startswith("scrypt:")


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


def test_the_simulator_page_plays_a_conversation(client, runtime):
    runtime.jobs.start_embedded()  # as under `hotline run`: the reply to a text comes from a job
    sign_in(client, Role.DISPATCHER)
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
