"""Chinese first (issue 13, point 14): no English on a Chinese page, SMS or export, no Chinese on an
English one.

The net for every page: :func:`test_every_page_reads_in_one_language` walks every GET route of the
app (``app.url_map``: a route added later is walked too, and one it cannot fill in fails the test)
as every role that may see it (the role matrix of ``tests/test_staff.py``), on a demo city with
tickets in every state, a mystery campaign with a logged and scored call, a failed inbound event,
and renders it in Chinese and in English. The main error states (a form with validation errors, a
refused command, a failed import, 403/404) are rendered too, and so are every SMS the hotline wrote
and the exports (CSV and XLSX, header and cells). What is allowed in the other language is in
``tests/language_check.py`` (a short allowlist, codes, and what people typed).
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from hotline_core.models import (
    Area,
    AuditedHotline,
    Campaign,
    Category,
    MysteryCall,
    OutboxMessage,
    Role,
    Scenario,
    Ticket,
    TicketEvent,
    Unit,
    User,
)
from intake.services import AttachmentIn
from tests.factories import complaint, housing_ticket, mystery_campaign
from tests.helpers import sign_in
from tests.language_check import foreign_on_page, foreign_words
from tests.test_staff import ROUTES, fill

pytestmark = pytest.mark.demo_city

LANGS = ("zh", "en")
# Public pages, seen by anyone.
PUBLIC = {"/", "/filed", "/track", "/public/", "/staff/login"}
# GET routes that answer no page a person reads (machine formats or a file), with the reason.
NOT_PAGES = {
    "/healthz": "JSON for the load balancer",
    "/static/<path:filename>": "static files",
    "/open311/v2/<path:anything>": "the Open311 API (JSON/XML for programs)",
    "/staff/mystery/calls/<int:call_id>/recording": "an audio file",
    "/staff/tickets/<number>/evidence/<int:attachment_id>": "a kept photo, recording or file",
}
API_PREFIXES = ("/open311/v2/", "/static/")  # the Open311 API answers programs (its texts carry their own locale)
# What people typed in this test, beside what the database holds (tickets, names, ...).
TYPED = [
    "电话联系了市民，约定周五上门",
    "已安排物业退费，请查收",
    "内部备注：已核实",
    "非本单位职责，属街道管理",
    "联合调查需要时间",
    "重复投诉",
    "The property manager charged us twice for parking.",
]


def _busy_city(app, runtime):
    """Tickets in every state the portal shows, a mystery campaign with a logged and a scored call,
    and a failed inbound event; returns the ids and numbers the routes need."""
    from hotline_core.audit import Actor
    from hotline_core.models import InboundEvent
    from mystery_calls import services as mystery
    from responders import survey
    from routing import escalation

    dispatcher, unit = sign_in(app, Role.DISPATCHER), sign_in(app, Role.UNIT_STAFF)
    numbers = {}
    photo = AttachmentIn(kind="media", url="https://api.twilio.com/2010-04-01/M1.jpg", content_type="image/jpeg")
    numbers["received"] = complaint(runtime, "窗口办事拖延，三次都没办成。", attachments=[photo]).number
    numbers["assigned"] = housing_ticket(runtime).number
    numbers["english"] = housing_ticket(runtime, TYPED[-1], language="en", phone="+8613800138001").number
    signed = housing_ticket(runtime, "东湖小区物业乱收费，停车费重复收取").number
    assert unit.post(f"/staff/tickets/{signed}/sign").status_code == 303
    unit.post(f"/staff/tickets/{signed}/contact", data={"note": TYPED[0]})
    unit.post(f"/staff/tickets/{signed}/note", data={"text": TYPED[2]})
    unit.post(f"/staff/tickets/{signed}/extension", data={"reason": TYPED[4], "new_date": "2027-06-30"})
    numbers["signed"] = signed
    resolved = housing_ticket(runtime, "东湖小区物业乱收费，电梯费不公示").number
    unit.post(f"/staff/tickets/{resolved}/sign")
    unit.post(f"/staff/tickets/{resolved}/reply", data={"text": TYPED[1]})
    assert unit.post(f"/staff/tickets/{resolved}/resolve", data={"text": TYPED[1]}).status_code == 303
    numbers["resolved"] = resolved
    english = numbers["english"]
    unit.post(f"/staff/tickets/{english}/sign")
    unit.post(f"/staff/tickets/{english}/resolve", data={"text": TYPED[1]})
    returned = housing_ticket(runtime, "东湖小区物业乱收费，垃圾清运费").number
    unit.post(f"/staff/tickets/{returned}/return", data={"reason": TYPED[3]})
    numbers["returned"] = returned
    merged = housing_ticket(runtime, "东湖小区物业又乱收费了").number
    dispatcher.post(f"/staff/tickets/{merged}/merge", data={"into": numbers["assigned"]})
    numbers["merged"] = merged
    dispatcher.post(f"/staff/tickets/{numbers['assigned']}/pause", data={"reason": "awaiting_citizen"})
    numbers["voice"] = complaint(
        runtime, "", channel="phone", needs_review=True, review_reason="recording only: listen to it"
    ).number
    runtime.jobs.run_burst()
    late = housing_ticket(runtime, "东湖小区物业乱收费，暖气费多收").number
    runtime.clock.advance(12 * 86400)  # its clocks run out: warnings, overdue notices, escalation
    escalation.sweep_job()
    survey.sweep_no_reply_job()
    runtime.jobs.run_burst()
    numbers["late"] = late

    campaign_id = mystery_campaign(runtime)
    actor = Actor("user:auditor")
    with runtime.db.transaction() as s:
        auditor = s.scalars(select(User).where(User.username == "auditor")).one()
        calls = s.scalars(select(MysteryCall).where(MysteryCall.campaign_id == campaign_id)).all()
        campaign = s.get(Campaign, campaign_id)
        called_at = runtime.now().astimezone(runtime.settings.tz).replace(hour=10) + timedelta(days=1)
        if called_at.date() > campaign.window_end:
            called_at = called_at - timedelta(days=1)
        for call in calls:
            mystery.log_manual(
                s, runtime, call, auditor, called_at=called_at, answered=True, seconds_to_answer=12, talk_seconds=95
            )
        s.flush()
        mystery.submit_score(s, runtime, calls[0], auditor, {})
        failed = InboundEvent(
            kind="sms", dedupe_key="sms:SMlanguages", url="http://localhost/twilio/sms", attempts=8, error="boom"
        )
        failed.failed_at = runtime.now()
        s.add(failed)
        unit_id = s.scalars(select(AuditedHotline.unit_id).order_by(AuditedHotline.id)).first()
        call_ids = [c.id for c in calls]
    del actor
    return {"numbers": numbers, "campaign_id": campaign_id, "call_ids": call_ids, "unit_id": unit_id}


def _typed_data(runtime) -> list[str]:
    """What people wrote (complaints, replies, names, campaigns): shown as written, in any language."""
    data = list(TYPED)
    with runtime.db.session() as s:
        data += [t.text for t in s.scalars(select(Ticket))]
        data += [t.citizen_name or "" for t in s.scalars(select(Ticket))]
        for u in s.scalars(select(User)):
            data += [u.username, u.display_name]
        data += [c.name for c in s.scalars(select(Campaign))]
        data += [h.name for h in s.scalars(select(AuditedHotline))]
        for sc in s.scalars(select(Scenario)):
            data += [sc.title, sc.persona, sc.question, sc.expected_answer]
        for model in (Unit, Area, Category):
            data += [row.code for row in s.scalars(select(model))]  # codes the directory's authors chose
        for category in s.scalars(select(Category)):
            data += list(category.keywords or [])
        data += [e.body or "" for e in s.scalars(select(TicketEvent).where(TicketEvent.kind == "citizen_message"))]
        data += [m.body for m in s.scalars(select(OutboxMessage))]  # checked on their own below
    return data


def _rules(app):
    return sorted({r.rule for r in app.url_map.iter_rules() if "GET" in r.methods and not r.rule.startswith("/twilio")})


def _viewers(rule):
    """Every role that may see a staff page (from the role matrix), or nobody signed in."""
    if rule in PUBLIC:
        return [None]
    for method, matrix_rule, _action, roles, _form in ROUTES:
        if method == "GET" and matrix_rule == rule:
            return sorted(roles)
    return []


def _paths(rule, ids):
    if rule == "/staff/tickets/<number>":
        return [f"/staff/tickets/{n}" for n in ids["numbers"].values()]
    if rule == "/staff/mystery/calls/<int:call_id>":
        return [f"/staff/mystery/calls/{c}" for c in ids["call_ids"]]
    flat = {"number": ids["numbers"]["signed"], "campaign_id": ids["campaign_id"], "unit_id": ids["unit_id"]}
    return [fill(rule, flat)]


# Exports whose cells are codes for programs and filters (only their header is for people).
CODED_EXPORTS = {"/staff/admin/audit.csv": "the audit trail keeps actions, objects and details as codes"}


def _export_texts(response, header_only=False) -> list[str]:
    """Every cell of a CSV or XLSX download (or its header row)."""
    kind = response.headers.get("Content-Type", "")
    if "csv" in kind:
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        return [cell for row in (rows[:1] if header_only else rows) for cell in row]
    with zipfile.ZipFile(io.BytesIO(response.get_data())) as book:
        names = [n for n in book.namelist() if n.endswith("sharedStrings.xml") or n.startswith("xl/worksheets/")]
        texts = []
        for name in names:
            root = ElementTree.fromstring(book.read(name))  # noqa: S314 (the app's own export)
            texts += [el.text or "" for el in root.iter() if el.tag.endswith("}t")]
        return texts


def _check(response, lang, data, path=""):
    kind = response.headers.get("Content-Type", "")
    if "html" in kind:
        return foreign_on_page(response.get_data(as_text=True), lang, data)
    if "csv" in kind or "spreadsheet" in kind:
        return foreign_words(_export_texts(response, header_only=path in CODED_EXPORTS), lang, data)
    return []


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_reads_in_one_language(app, runtime, lang):
    ids = _busy_city(app, runtime)
    data = _typed_data(runtime)
    clients = {}
    unwalked, problems, seen = [], [], 0
    for rule in _rules(app):
        if rule in NOT_PAGES or rule.startswith(API_PREFIXES):
            continue
        viewers = _viewers(rule)
        if not viewers:
            unwalked.append(rule)
            continue
        try:
            paths = _paths(rule, ids)
        except KeyError:  # a placeholder the walk has no value for
            unwalked.append(rule)
            continue
        for role in viewers:
            if role not in clients:
                clients[role] = app.test_client() if role is None else sign_in(app, role)
            for path in paths:
                response = clients[role].get(path, query_string={"lang": lang})
                allowed = {200, 302}
                if rule == "/staff/tickets/<number>" and role in (Role.UNIT_STAFF, Role.UNIT_HEAD):
                    allowed.add(404)  # a ticket another unit handles (the 404 page is checked too)
                assert response.status_code in allowed, (role, path, response.status_code)
                seen += 1
                problems += [f"{path} as {role}: {p}" for p in _check(response, lang, data, path)]
    assert not problems, f"{len(problems)} texts in the wrong language:\n" + "\n".join(problems)
    assert not unwalked, (
        f"GET routes the language walk cannot fill in (add them to _paths/PUBLIC/NOT_PAGES): {unwalked}"
    )
    assert seen > 100


def _error_states(app, runtime, lang):
    """Pages showing a refusal or a form's errors, rendered in ``lang``: (what, response)."""
    q = {"lang": lang}
    number = housing_ticket(runtime).number
    citizen = app.test_client()
    citizen.get("/", query_string=q)
    yield "complaint form without text", citizen.post("/", data={"description": "", "phone": "12"}, query_string=q)
    yield (
        "a complaint filed on the web",
        citizen.post(
            "/", data={"description": "窗口办事拖延，三次都没办成", "phone": "13800138000"}, follow_redirects=True
        ),
    )
    yield "tracking an unknown ticket", citizen.post("/track", data={"number": "2026-999999", "last4": "0000"})
    yield "tracking a ticket", citizen.post("/track", data={"number": number, "last4": "8000"})
    yield (
        "a wrong password",
        app.test_client().post("/staff/login", data={"username": "dispatcher", "password": "guess"}, query_string=q),
    )
    yield "an unknown page", citizen.get("/no-such-page", query_string=q)
    unit = sign_in(app, Role.UNIT_STAFF)
    yield "a forbidden page", unit.get("/staff/admin/users", query_string=q)
    yield (
        "resolving before signing",
        unit.post(f"/staff/tickets/{number}/resolve", data={"text": "已处理"}, query_string=q, follow_redirects=True),
    )
    yield (
        "an empty reply",
        unit.post(f"/staff/tickets/{number}/reply", data={"text": ""}, query_string=q, follow_redirects=True),
    )
    yield (
        "an extension without a date",
        unit.post(
            f"/staff/tickets/{number}/extension",
            data={"reason": "", "new_date": "x"},
            query_string=q,
            follow_redirects=True,
        ),
    )
    admin = sign_in(app, Role.ADMIN)
    yield (
        "a user without a name",
        admin.post("/staff/admin/users", data={"username": "", "password": "x"}, query_string=q),
    )
    bad_directory = io.BytesIO(b"units:\n  - code: X\n    name_zh: 1\nareas: 3\n")
    yield (
        "a directory import with problems",
        admin.post(
            "/staff/admin/directory",
            data={"file": (bad_directory, "directory.yaml")},
            query_string=q,
            content_type="multipart/form-data",
        ),
    )
    yield (
        "a calendar with a bad date",
        admin.post(
            "/staff/admin/calendar", data={"year": "2027", "holidays": "2027-13-40", "workdays": ""}, query_string=q
        ),
    )
    auditor = sign_in(app, Role.AUDITOR)
    yield (
        "an empty campaign",
        auditor.post(
            "/staff/mystery/campaigns/new",
            data={"window_start": "2027-03-10", "window_end": "2027-03-01", "caller_numbers": "12"},
            query_string=q,
        ),
    )
    campaign_id = mystery_campaign(runtime)
    with runtime.db.session() as s:
        call_id = s.scalars(select(MysteryCall.id).where(MysteryCall.campaign_id == campaign_id)).first()
    yield (
        "placing a call without Twilio",
        auditor.post(f"/staff/mystery/calls/{call_id}/place", query_string=q, follow_redirects=True),
    )
    yield (
        "a call logged outside the campaign",
        auditor.post(
            f"/staff/mystery/calls/{call_id}/log",
            data={"called_at": "2020-01-01T10:00", "answered": "yes", "seconds_to_answer": "3"},
            query_string=q,
            follow_redirects=True,
        ),
    )
    yield (
        "scoring a call without a result",
        auditor.post(f"/staff/mystery/calls/{call_id}/score", query_string=q, follow_redirects=True),
    )
    yield (
        "planning a planned campaign",
        auditor.post(f"/staff/mystery/campaigns/{campaign_id}/plan", query_string=q, follow_redirects=True),
    )
    yield (
        "an own phone that is no number",
        auditor.post("/staff/mystery/my-phone", data={"phone": "abc"}, query_string=q, follow_redirects=True),
    )


@pytest.mark.parametrize("lang", LANGS)
def test_refusals_and_form_errors_read_in_one_language(app, runtime, lang):
    problems = []
    states = list(_error_states(app, runtime, lang))
    data = _typed_data(runtime)
    for what, response in states:
        assert response.status_code < 500, what
        problems += [f"{what}: {p}" for p in _check(response, lang, data)]
    assert not problems, "\n".join(problems)


def test_every_sms_reads_in_its_citizens_language(app, runtime):
    _busy_city(app, runtime)
    data = [d for d in _typed_data(runtime) if d not in {m for m in _outbox_bodies(runtime)}]
    problems = []
    with runtime.db.session() as s:
        rows = s.execute(select(OutboxMessage, Ticket).join(Ticket, OutboxMessage.ticket_id == Ticket.id)).all()
        for message, ticket in rows:
            lang = ticket.language if message.to_number == ticket.citizen_phone else "zh"
            problems += [f"{message.kind}: {p}" for p in foreign_words([message.body], lang, data)]
    assert {lang for _m, t in rows for lang in [t.language]} == {"zh", "en"}
    assert not problems, "\n".join(problems)


def _outbox_bodies(runtime):
    with runtime.db.session() as s:
        return list(s.scalars(select(OutboxMessage.body)))


def test_the_checker_finds_english_on_a_chinese_page_and_chinese_on_an_english_one():
    page = '<title>工单</title><p>状态：<b>Signed</b></p><input type="submit" value="保存"><a lang="en">English</a>'
    assert [p.split("  <-")[0] for p in foreign_on_page(page, "zh")] == ["Signed"]
    english = '<p placeholder="搜索">Search</p><script>var a = "中文";</script><a lang="zh">中文</a>'
    assert [p.split("  <-")[0] for p in foreign_on_page(english, "en")] == ["搜 索"]
    allowed = (
        "<p>工单 2026-000001 已通过 Twilio 发送，导出 CSV，距离 3 km，单位 HOUSING_BUREAU，"
        "字段「name_en」，见 https://api.twilio.com/M1.jpg</p><code>login.success</code>"
    )
    assert foreign_on_page(allowed, "zh") == []
    assert foreign_on_page("<td>东湖小区物业乱收费…</td>", "en", ["东湖小区物业乱收费，业主多次反映无人处理"]) == []


def test_spans_of_time_are_written_by_babel_for_the_reader():
    from hotline_core.formatting import span

    assert (span(3 * 86400 + 4 * 3600, "zh"), span(3 * 86400 + 4 * 3600, "en")) == ("3天4小时", "3d 4h")
    assert (span(-12000, "zh"), span(12000, "en")) == ("3小时20分钟", "3h 20m")


def test_a_mystery_call_refusal_carries_a_key_and_reads_in_both_languages():
    from mystery_calls.services import MysteryCallError

    error = MysteryCallError("error.mystery.outside_window", start="2027-03-01", end="2027-03-14")
    assert error.message("zh") == "拨打时间须在批次时间范围内（2027-03-01 至 2027-03-14）。"
    assert error.message("en") == "The call time must lie inside the campaign (2027-03-01 to 2027-03-14)."


def test_a_directory_problem_keeps_its_line_and_reads_in_both_languages(runtime):
    from routing import directory

    with pytest.raises(directory.DirectoryError) as caught:
        directory.parse_yaml("units:\n  - {code: U1, name_zh: [unclosed\n")
    problem = caught.value.problems[0]
    assert problem.line is not None and "YAML" in problem.text("zh") and foreign_words([problem.text("zh")], "zh") == []
    assert problem.text("en").startswith("not valid YAML")


def test_open311_attribute_problems_read_in_chinese(runtime):
    from routing import directory

    found = directory.open311_attribute_problems([{"code": "A", "datatype": "colour", "order": 0}])
    texts = [p.message("zh") for p in found]
    assert any("datatype" in t and "第 1 个属性" in t for t in texts) and foreign_words(texts, "zh") == []


def test_a_blank_dispute_reason_and_a_blank_reply_are_refused_by_the_same_check():
    from hotline_core.errors import HotlineError, required_text

    with pytest.raises(HotlineError) as caught:
        required_text("  ", "dispute_reason", HotlineError, 10)
    assert caught.value.key == "error.portal.text_required" and caught.value.message("zh") == "请填写申诉理由。"
    with pytest.raises(HotlineError) as caught:
        required_text("x" * 11, "reply", HotlineError, 10)
    assert caught.value.key == "error.portal.text_too_long"


def test_routing_reasons_actors_and_outbox_kinds_are_worded_for_the_reader():
    from hotline_core import wording

    reason = "model v3 (keywords agree); no rule: the area's fallback unit (district government)"
    assert wording.reason(reason, "zh") == "分类模型 v3（关键词一致）；无派单规则：派至区域兜底单位（区政府）"
    assert wording.reason("keyword rule: 小区, 物业", "en") == "keyword rule: 小区, 物业"
    assert wording.actor("citizen:sms", "zh") == "市民（短信）" and wording.actor("system", "zh") == "系统"
    assert wording.label("outbox.kind", "citizen_assigned", "zh") == "告知市民承办单位"


def test_a_texting_citizen_is_answered_in_their_own_language_only(phone, runtime):
    conversations = {
        "zh": ("+8613800138010", ["东湖小区物业乱收费", "查询 {number}", "查询 2026-999999", "退订", "订阅", " "]),
        "en": ("+8613800138011", ["The clerk at window 3 was rude", "STATUS {number}", "STOP", "START"]),
    }
    problems = []
    for lang, (citizen, texts) in conversations.items():
        number = ""
        for body in texts:
            replies = phone.text(citizen, body.format(number=number)).replies
            if not number:
                with runtime.db.session() as s:
                    number = s.scalars(select(Ticket.number).where(Ticket.citizen_phone == citizen)).one()
            assert replies, body
            problems += [f"{lang} {body!r}: {p}" for p in foreign_words(replies, lang, [body])]
    assert not problems, "\n".join(problems)
