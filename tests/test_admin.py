"""The admin area: staff accounts, the dispatch directory upload and export, the audit trail."""

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from hotline_core.audit import Actor, record
from hotline_core.models import AuditEntry, Role, RoutingRule, Unit, User
from routing import directory
from tests.helpers import DEMO_PASSWORDS, DEMO_USERS, sign_in

pytestmark = pytest.mark.demo_city

NEW_USER = {
    "username": "wang.li",
    "display_name": "王丽 Wang Li",
    "role": Role.UNIT_STAFF,
    "unit": "HOUSING",
    "phone": "13900000999",
    "password": "a-long-secret-1",
}
# Every admin route with the method it answers; {id} is a user's id (an inbound event's for inbound).
ADMIN_ROUTES = [
    ("GET", "/staff/admin/users"),
    ("POST", "/staff/admin/users"),
    ("POST", "/staff/admin/users/{id}/deactivate"),
    ("POST", "/staff/admin/users/{id}/activate"),
    ("POST", "/staff/admin/users/{id}/password"),
    ("POST", "/staff/admin/users/{id}/edit"),
    ("GET", "/staff/admin/calendar"),
    ("POST", "/staff/admin/calendar"),
    ("GET", "/staff/admin/directory"),
    ("POST", "/staff/admin/directory"),
    ("GET", "/staff/admin/directory/export"),
    ("GET", "/staff/admin/audit"),
    ("GET", "/staff/admin/audit.csv"),
    ("GET", "/staff/admin/open311/keys"),
    ("POST", "/staff/admin/open311/keys"),
    ("GET", "/staff/admin/inbound"),
    ("POST", "/staff/admin/inbound/{id}/retry"),
    # issue 13 (learn13): the classifier's page
    ("GET", "/staff/admin/model/"),
    ("POST", "/staff/admin/model/retrain"),
    ("POST", "/staff/admin/model/target"),
]
NEW_UNITS_YAML = """units:
  - {code: PARKS, name_zh: 市园林局, name_en: Parks Bureau, kind: department}
  - {code: WATER, name_zh: 市水务局, name_en: Water Bureau, contact_phones: ["13900000777"]}
"""
BAD_YAML = """units:
  - {code: PARKS, name_zh: 市园林局, name_en: Parks Bureau, kind: palace}
  - {code: WATER, name_zh: 市水务局, name_en: Water Bureau, contact_phones: ["12345"]}
rules:
  - {category: NOPE, lead: WATER}
"""


@pytest.fixture
def admin(client):
    return sign_in(client, "admin")


def audit_entries(runtime, action):
    with runtime.db.session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


def count(runtime, model, *where):
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def user_named(runtime, username):
    with runtime.db.session() as s:
        return s.scalars(select(User).where(User.username == username)).first()


def add_audit(runtime, action, at, actor="system", **details):
    with runtime.db.transaction() as s:
        entry = record(s, Actor(actor), action, None, **details)
        entry.at = at


def upload(client, text, filename, table=""):
    data = {"file": (io.BytesIO(text.encode("utf-8")), filename), "table": table}
    return client.post("/staff/admin/directory?lang=en", data=data, content_type="multipart/form-data")


# --- users -----------------------------------------------------------------------------------------


def test_an_admin_creates_a_user_with_a_hashed_password(admin, runtime):
    response = admin.post("/staff/admin/users", data=NEW_USER)
    assert response.status_code == 302
    created = user_named(runtime, "wang.li")
    with runtime.db.session() as s:
        housing = s.scalars(select(Unit).where(Unit.code == "HOUSING")).one()
    assert (created.role, created.unit_id, created.phone) == (Role.UNIT_STAFF, housing.id, "+8613900000999")
    assert NEW_USER["password"] not in created.password_hash and created.check_password(NEW_USER["password"])


def test_creating_a_user_is_audited_without_the_password(admin, runtime):
    admin.post("/staff/admin/users", data=NEW_USER)
    [entry] = audit_entries(runtime, "user.create")
    assert entry.actor == "user:admin" and entry.object_type == "user"
    assert entry.details["username"] == "wang.li" and entry.details["unit"] == "HOUSING"
    assert NEW_USER["password"] not in json.dumps(entry.details, ensure_ascii=False)


def test_a_created_user_can_sign_in(admin, app):
    admin.post("/staff/admin/users", data=NEW_USER)
    sign_in(app, "wang.li", NEW_USER["password"])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password": "short1"}, "The password needs at least 10 characters."),
        ({"unit": ""}, "This role needs a unit."),
        ({"unit": "NO-SUCH-UNIT"}, "The chosen unit does not exist."),
        ({"username": "dispatcher"}, "The username dispatcher is taken."),
        ({"username": "Dispatcher"}, "The username Dispatcher is taken."),
        ({"phone": "12345"}, "This does not look like a phone number: 12345"),
        ({"role": "superuser"}, "Choose one of the roles."),
        ({"display_name": ""}, "This field is required."),
    ],
)
def test_an_invalid_user_is_refused_with_a_clear_message_and_nothing_is_created(admin, runtime, change, message):
    users_before = count(runtime, User)
    response = admin.post("/staff/admin/users?lang=en", data={**NEW_USER, **change})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(runtime, User) == users_before and audit_entries(runtime, "user.create") == []


def test_validation_messages_are_translated(admin):
    page = admin.post("/staff/admin/users?lang=zh", data={**NEW_USER, "password": "short1"}).get_data(as_text=True)
    assert "密码至少需要 10 个字符。" in page


def test_a_unit_is_optional_for_a_dispatcher(admin, runtime):
    response = admin.post("/staff/admin/users", data={**NEW_USER, "role": Role.DISPATCHER, "unit": ""})
    assert response.status_code == 302 and user_named(runtime, "wang.li").unit_id is None


def test_a_deactivated_user_cannot_sign_in(admin, app, runtime):
    target = user_named(runtime, "dispatcher")
    assert admin.post(f"/staff/admin/users/{target.id}/deactivate").status_code == 302
    response = app.test_client().post(
        "/staff/login", data={"username": "dispatcher", "password": "dispatcher-demo-2026"}
    )
    assert response.status_code == 401
    assert [e.object_id for e in audit_entries(runtime, "user.deactivate")] == [str(target.id)]


def test_deactivating_a_user_ends_their_open_session(admin, app, runtime):
    dispatcher = sign_in(app, "dispatcher")
    admin.post(f"/staff/admin/users/{user_named(runtime, 'dispatcher').id}/deactivate")
    response = dispatcher.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_an_activated_user_can_sign_in_again(admin, app, runtime):
    target = user_named(runtime, "dispatcher")
    admin.post(f"/staff/admin/users/{target.id}/deactivate")
    admin.post(f"/staff/admin/users/{target.id}/activate")
    sign_in(app, "dispatcher")
    assert len(audit_entries(runtime, "user.activate")) == 1


def test_an_admin_cannot_deactivate_their_own_account(admin, runtime):
    me = user_named(runtime, "admin")
    response = admin.post(f"/staff/admin/users/{me.id}/deactivate?lang=en")
    assert response.status_code == 400 and "You cannot deactivate your own account." in response.get_data(as_text=True)
    assert user_named(runtime, "admin").active


def test_a_password_reset_replaces_the_password_and_is_audited_without_it(admin, app, runtime):
    target = user_named(runtime, "dispatcher")
    response = admin.post(f"/staff/admin/users/{target.id}/password", data={"password": "brand-new-pass-42"})
    assert response.status_code == 302
    sign_in(app, "dispatcher", "brand-new-pass-42")
    [entry] = audit_entries(runtime, "user.password_reset")
    assert entry.object_id == str(target.id) and "brand-new-pass-42" not in json.dumps(entry.details)


def test_a_password_reset_refuses_a_short_password(admin, app, runtime):
    target = user_named(runtime, "dispatcher")
    response = admin.post(f"/staff/admin/users/{target.id}/password?lang=en", data={"password": "short"})
    assert response.status_code == 400 and "at least 10 characters" in response.get_data(as_text=True)
    sign_in(app, "dispatcher")
    assert audit_entries(runtime, "user.password_reset") == []


def test_an_unknown_user_is_not_found(admin):
    assert admin.post("/staff/admin/users/99999/deactivate").status_code == 404


def test_the_users_page_lists_every_user(admin):
    page = admin.get("/staff/admin/users?lang=en").get_data(as_text=True)
    assert all(name in page for name in DEMO_USERS.values()) and 'class="table-wrap"' in page


# --- the dispatch directory -------------------------------------------------------------------------


def test_the_directory_page_shows_the_counts_and_a_download_link(admin, runtime):
    page = admin.get("/staff/admin/directory?lang=en").get_data(as_text=True)
    assert f"Units: {count(runtime, Unit)}" in page
    assert f"Active routing rules: {count(runtime, RoutingRule, RoutingRule.active)}" in page
    assert "/staff/admin/directory/export" in page


def test_a_valid_yaml_upload_is_imported_summarised_and_audited(admin, runtime):
    units_before = count(runtime, Unit)
    response = upload(admin, NEW_UNITS_YAML, "units.yaml")
    assert response.status_code == 200
    assert "Units: 2 new, 0 updated" in response.get_data(as_text=True)
    assert count(runtime, Unit) == units_before + 2
    [entry] = audit_entries(runtime, "directory.import")
    assert entry.details["file"] == "units.yaml" and entry.details["created"] == {"units": 2}


def test_a_csv_upload_is_imported_into_the_chosen_table(admin, runtime):
    text = "code,name_zh,name_en,kind\nPARKS,市园林局,Parks Bureau,department\n"
    response = upload(admin, text, "export.csv", table="units")
    assert response.status_code == 200
    assert count(runtime, Unit, Unit.code == "PARKS") == 1


def test_a_csv_upload_needs_a_table(admin, runtime):
    response = upload(admin, "code,name_zh,name_en\nPARKS,园林,Parks\n", "export.csv")
    assert response.status_code == 400
    assert "choose the table it holds" in response.get_data(as_text=True)
    assert count(runtime, Unit, Unit.code == "PARKS") == 0


def test_a_file_that_is_not_yaml_or_csv_is_refused(admin):
    response = upload(admin, "hello", "directory.txt")
    assert response.status_code == 400 and "Only .yaml, .yml and .csv" in response.get_data(as_text=True)


def test_an_invalid_upload_lists_every_problem_with_its_line_and_imports_nothing(admin, runtime):
    units_before = count(runtime, Unit)
    response = upload(admin, BAD_YAML, "bad.yaml")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The file has 3 problem(s); nothing was imported" in page
    assert "line 2: units[0]: kind &#39;palace&#39;" in page
    assert "line 3: units[1]: contact_phones: &#39;12345&#39;" in page
    assert "line 5: rules[0]: category &#39;NOPE&#39; does not exist" in page
    assert count(runtime, Unit) == units_before and count(runtime, Unit, Unit.code == "PARKS") == 0
    assert audit_entries(runtime, "directory.import") == []


def test_a_file_that_is_not_yaml_reports_its_line(admin):
    response = upload(admin, "units:\n  - {code: X\n  - oops: [\n", "broken.yaml")
    assert response.status_code == 400 and re.search(r"line \d+: file: not valid YAML", response.get_data(as_text=True))


def test_the_export_downloads_yaml_as_an_attachment_and_is_audited(admin, runtime):
    response = admin.get("/staff/admin/directory/export")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/x-yaml")
    assert re.match(r'attachment; filename="directory-\d{8}-\d{4}\.yaml"', response.headers["Content-Disposition"])
    data = directory.parse_yaml(response.get_data(as_text=True)).data
    assert len(data["units"]) == count(runtime, Unit)
    assert len(audit_entries(runtime, "directory.export")) == 1


def test_the_exported_directory_re_imports_without_changing_any_rule(admin, runtime):
    exported = admin.get("/staff/admin/directory/export").get_data(as_text=True)
    rules_before = count(runtime, RoutingRule)
    response = upload(admin, exported, "directory.yaml")
    assert response.status_code == 200
    assert "Routing rules: 0 added, 0 closed" in response.get_data(as_text=True)
    assert count(runtime, RoutingRule) == rules_before


# --- the audit trail --------------------------------------------------------------------------------


def test_the_audit_page_lists_entries_newest_first(admin, runtime):
    add_audit(runtime, "test.older", datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    add_audit(runtime, "test.newer", datetime(2026, 3, 2, 2, 0, tzinfo=UTC), reason="巡查")
    page = admin.get("/staff/admin/audit?lang=en&action=test.").get_data(as_text=True)
    assert page.index("test.newer") < page.index("test.older")
    assert "2026-03-02 10:00:00" in page  # shown in local time (Asia/Shanghai)
    assert "巡查" in page


def test_the_audit_page_filters_by_action_prefix_and_actor(admin, runtime):
    add_audit(runtime, "ticket.view", datetime(2026, 3, 1, tzinfo=UTC), actor="user:zhao")
    add_audit(runtime, "ticket.edit", datetime(2026, 3, 1, tzinfo=UTC), actor="user:qian")
    add_audit(runtime, "user.create", datetime(2026, 3, 1, tzinfo=UTC), actor="user:zhao")
    page = admin.get("/staff/admin/audit?action=ticket.&actor=zhao").get_data(as_text=True)
    assert "ticket.view" in page and "ticket.edit" not in page and "user.create" not in page


def test_the_audit_page_filters_by_local_dates_including_the_last_day(admin, runtime):
    add_audit(runtime, "test.before", datetime(2026, 2, 28, 15, 59, tzinfo=UTC))  # 2026-02-28 23:59 local
    add_audit(runtime, "test.first", datetime(2026, 2, 28, 16, 0, tzinfo=UTC))  # 2026-03-01 00:00 local
    add_audit(runtime, "test.last", datetime(2026, 3, 2, 15, 59, tzinfo=UTC))  # 2026-03-02 23:59 local
    add_audit(runtime, "test.after", datetime(2026, 3, 2, 16, 0, tzinfo=UTC))  # 2026-03-03 00:00 local
    page = admin.get("/staff/admin/audit?action=test.&from=2026-03-01&to=2026-03-02").get_data(as_text=True)
    assert "test.first" in page and "test.last" in page
    assert "test.before" not in page and "test.after" not in page


def test_an_invalid_date_filter_is_refused_with_a_message(admin):
    response = admin.get("/staff/admin/audit?lang=en&from=yesterday")
    assert response.status_code == 400 and "Give dates as YYYY-MM-DD: yesterday" in response.get_data(as_text=True)


def test_the_audit_page_shows_100_entries_per_page(admin, runtime):
    with runtime.db.transaction() as s:
        for i in range(150):
            record(s, Actor("system"), f"bulk.{i:03d}")
    first = admin.get("/staff/admin/audit?lang=en&action=bulk.").get_data(as_text=True)
    second = admin.get("/staff/admin/audit?lang=en&action=bulk.&page=2").get_data(as_text=True)
    assert first.count('<td class="action"><code>bulk.') == 100 and "Page 1 of 2, 150 entries" in first
    assert second.count('<td class="action"><code>bulk.') == 50 and "bulk.000" in second and "bulk.149" in first


def test_the_csv_export_has_a_bom_a_header_and_the_filtered_rows(admin, runtime):
    add_audit(runtime, "test.one", datetime(2026, 3, 1, 2, 0, tzinfo=UTC), note="路灯")
    add_audit(runtime, "test.two", datetime(2026, 3, 1, 3, 0, tzinfo=UTC))
    add_audit(runtime, "other.three", datetime(2026, 3, 1, 4, 0, tzinfo=UTC))
    response = admin.get("/staff/admin/audit.csv?lang=en&action=test.")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["When", "Actor", "Action", "Object type", "Object id", "IP address", "Details"]
    assert [row[2] for row in rows[1:]] == ["test.two", "test.one"]
    assert rows[2][0] == "2026-03-01 10:00:00" and json.loads(rows[2][6]) == {"note": "路灯"}


def test_the_csv_export_is_itself_audited_with_its_filters(admin, runtime):
    admin.get("/staff/admin/audit.csv?action=login.&actor=admin")
    [entry] = audit_entries(runtime, "audit.export")
    assert entry.actor == "user:admin" and entry.details == {"filters": {"action": "login.", "actor": "admin"}}


def test_the_csv_export_defuses_spreadsheet_formulas(admin, runtime):
    from hotline_core.audit import Actor
    from hotline_core.audit import record as audit

    with runtime.db.transaction() as s:
        audit(s, Actor("=HYPERLINK(1)", None, "@SUM(1)"), "login.failed", None)
    body = admin.get("/staff/admin/audit.csv?action=login.failed").get_data().decode("utf-8-sig")
    [row] = list(csv.reader(io.StringIO(body)))[1:]
    assert "'=HYPERLINK(1)" in row and "'@SUM(1)" in row
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_a_client_sent_x_forwarded_for_never_reaches_the_audit_trail(admin, app, runtime):
    app.test_client().post(
        "/staff/login", data={"username": "x", "password": "x"}, headers={"X-Forwarded-For": "=HYPERLINK(1)"}
    )
    [entry] = audit_entries(runtime, "login.failed")
    assert entry.ip == "127.0.0.1"


# --- who may use the admin area ---------------------------------------------------------------------


def test_admin_routes_list_is_complete(app):
    admin_rules = {
        (method, rule.rule.replace("<int:user_id>", "{id}").replace("<int:event_id>", "{id}"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/staff/admin")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert admin_rules == set(ADMIN_ROUTES)


@pytest.mark.parametrize("role", [r for r in Role.ALL if r != Role.ADMIN])
@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_every_admin_route_refuses_every_other_role(app, runtime, role, method, path):
    client = sign_in(app, role)
    target = user_named(runtime, "leader")
    response = client.open(path.format(id=target.id), method=method, data={"password": "long-enough-pass"})
    assert response.status_code == 403
    assert user_named(runtime, "leader").active and user_named(runtime, "leader").check_password("leader-demo-2026")


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_every_admin_route_sends_anonymous_visitors_to_sign_in(client, runtime, method, path):
    response = client.open(path.format(id=user_named(runtime, "leader").id), method=method)
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_only_admins_see_the_admin_links_on_the_staff_home(app):
    admin_home = sign_in(app, "admin").get("/staff/").get_data(as_text=True)
    leader_home = sign_in(app, "leader").get("/staff/").get_data(as_text=True)
    assert "/staff/admin/users" in admin_home and "/staff/admin/audit" in admin_home
    assert "/staff/admin/" not in leader_home


def csrf_token(client, path):
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


@pytest.fixture
def csrf_admin(csrf_app):
    client = csrf_app.test_client()
    token = csrf_token(client, "/staff/login")
    response = client.post(
        "/staff/login", data={"username": "admin", "password": DEMO_PASSWORDS["admin"], "csrf_token": token}
    )
    assert response.status_code == 302
    return client


@pytest.mark.parametrize("path", [path for method, path in ADMIN_ROUTES if method == "POST"])
def test_every_admin_form_needs_a_csrf_token(csrf_admin, runtime, path):
    users_before = count(runtime, User)
    response = csrf_admin.post(path.format(id=user_named(runtime, "leader").id), data={**NEW_USER})
    assert response.status_code == 400
    assert count(runtime, User) == users_before and user_named(runtime, "leader").active


def test_the_admin_forms_carry_a_working_csrf_token(csrf_admin, runtime):
    token = csrf_token(csrf_admin, "/staff/admin/users")
    response = csrf_admin.post("/staff/admin/users", data={**NEW_USER, "csrf_token": token})
    assert response.status_code == 302 and user_named(runtime, "wang.li") is not None
