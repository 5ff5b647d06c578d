"""The unit portal, the dispatcher console and the citizen loop, through the web pages."""

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.models import (
    Assignment,
    Attachment,
    AuditEntry,
    CallbackCall,
    Deadline,
    ExtensionRequest,
    OutboxMessage,
    Survey,
    Ticket,
    Unit,
)
from intake.services import process_ticket_job
from responders import survey
from tests.conftest import wsgi_phone
from tests.factories import complaint, rows
from tests.helpers import sign_in

pytestmark = pytest.mark.demo_city

BEIJING = ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
CITIZEN = "+8613800138000"


@pytest.fixture(autouse=True)
def monday_morning(clock):
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING))


def housing_ticket(runtime, text="东湖小区物业乱收费，业主多次反映无人处理", **fields):
    """A ticket routed to the housing bureau, the demo unit staff's unit."""
    fields.setdefault("phone", CITIZEN)
    ticket = complaint(runtime, text, **fields)
    process_ticket_job(ticket.id)
    return ticket


def act(client, number, action, **data):
    response = client.post(f"/staff/tickets/{number}/{action}", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_unit_staff_see_only_their_units_tickets(app, runtime):
    mine = housing_ticket(runtime)
    other = complaint(runtime, "公交车司机拒载老人")
    process_ticket_job(other.id)
    page = sign_in(app, "unitstaff").get("/staff/tickets").get_data(as_text=True)
    assert mine.number in page and other.number not in page


def test_the_inbox_shows_time_left_and_filters_overdue(app, runtime, clock):
    ticket = housing_ticket(runtime)
    client = sign_in(app, "unitstaff")
    assert "剩余 5小时30分钟" in client.get("/staff/tickets").get_data(as_text=True)
    assert ticket.number not in client.get("/staff/tickets?overdue=1").get_data(as_text=True)
    clock.advance(8 * 3600)
    assert ticket.number in client.get("/staff/tickets?overdue=1&lang=en").get_data(as_text=True)


def test_a_unit_signs_for_replies_and_resolves_with_evidence(app, runtime, drain):
    ticket = housing_ticket(runtime)
    client = sign_in(app, "unitstaff")
    act(client, ticket.number, "sign")
    act(client, ticket.number, "contact", note="已电话联系市民，约定明日上门")
    act(client, ticket.number, "reply", text="已责成物业公司退还多收费用")
    page = client.post(
        f"/staff/tickets/{ticket.number}/resolve",
        data={"text": "物业已退费并公示收费标准", "evidence": (io.BytesIO(PNG), "receipt.png")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 303
    [t] = rows(runtime, Ticket, id=ticket.id)
    assert t.state == "resolved" and t.resolved_at is not None
    [lead] = rows(runtime, Assignment, ticket_id=ticket.id, role="lead")
    assert lead.signed_at and lead.contacted_at and lead.resolved_at
    assert [a.kind for a in rows(runtime, Attachment, ticket_id=ticket.id)] == ["evidence"]
    texts = [m.body for m in rows(runtime, OutboxMessage, to_number=CITIZEN)]
    assert any("答复：已责成物业公司退还多收费用" in b for b in texts)
    assert any("已办结：物业已退费并公示收费标准" in b for b in texts)
    lookup = app.test_client().post("/track", data={"number": t.number, "last4": "8000"}).get_data(as_text=True)
    assert "已责成物业公司退还多收费用" in lookup


def refused(client, number, action, status=400, **data):
    """A refused action answers with the ticket page, the refusal flashed, and the refusal's status."""
    response = client.post(f"/staff/tickets/{number}/{action}", data=data)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_validation_errors_are_shown_in_the_readers_language_and_nothing_changes(app, runtime):
    ticket = housing_ticket(runtime)
    client = sign_in(app, "unitstaff")
    page = refused(client, ticket.number, "resolve", text="done")
    assert "请先签收工单再办结。" in page and ticket.number in page
    page = refused(client, ticket.number, "reply", text="   ")
    assert "请填写答复内容。" in page
    client.set_cookie("lang", "en")
    page = refused(client, ticket.number, "resolve", text="done")
    assert "Sign for the ticket before resolving it." in page
    assert "请先签收" not in page
    assert rows(runtime, Ticket, id=ticket.id)[0].state == "assigned"


def test_an_action_the_state_does_not_allow_is_a_conflict(app, runtime):
    ticket = housing_ticket(runtime)
    client = sign_in(app, "unitstaff")
    act(client, ticket.number, "sign")
    act(client, ticket.number, "resolve", text="物业已退费")
    page = refused(client, ticket.number, "contact", status=400, note="又打了电话")
    assert "您所在单位在此工单上没有有效派单。" in page
    page = refused(sign_in(app, "dispatcher"), ticket.number, "pause", status=409, reason="awaiting_citizen")
    assert f"工单 {ticket.number} 当前状态为“已办结”，不能暂停计时。" in page
    assert rows(runtime, Ticket, id=ticket.id)[0].state == "resolved"


def resolve(app, runtime, ticket):
    client = sign_in(app, "unitstaff")
    act(client, ticket.number, "sign")
    act(client, ticket.number, "resolve", text="已处理完毕")
    return client


def test_a_resolved_ticket_is_surveyed_and_a_satisfied_answer_closes_it(app, runtime, drain, settings):
    ticket = housing_ticket(runtime)
    resolve(app, runtime, ticket)
    drain()
    [asked] = rows(runtime, OutboxMessage, kind="survey")
    assert asked.to_number == CITIZEN and "回复1已解决" in asked.body
    reply = wsgi_phone(app, settings).text(CITIZEN, "1 5")
    assert reply.replies == ["【效能投诉热线】感谢您的评价。"]
    [answer] = rows(runtime, Survey, ticket_id=ticket.id)
    assert (answer.state, answer.solved, answer.satisfaction) == ("answered", True, 5)
    assert rows(runtime, Ticket, id=ticket.id)[0].state == "closed"


def test_a_partial_answer_asks_for_the_rest(app, runtime, drain, settings):
    ticket = housing_ticket(runtime)
    resolve(app, runtime, ticket)
    drain()
    phone = wsgi_phone(app, settings)
    assert "满意度1-5" in phone.text(CITIZEN, "已解决").replies[0]
    assert phone.text(CITIZEN, "4").replies == ["【效能投诉热线】感谢您的评价。"]
    assert rows(runtime, Survey, ticket_id=ticket.id)[0].satisfaction == 4


def test_not_solved_reopens_for_the_same_unit_and_a_second_failure_goes_to_the_dispatcher(
    app, runtime, drain, settings
):
    ticket = housing_ticket(runtime)
    resolve(app, runtime, ticket)
    drain()
    phone = wsgi_phone(app, settings)
    assert any("已重新交办" in text for text in phone.text(CITIZEN, "2").replies)
    [t] = rows(runtime, Ticket, id=ticket.id)
    assert t.state == "assigned" and t.redo_count == 1
    leads = rows(runtime, Assignment, ticket_id=ticket.id, role="lead")
    assert [a.unit_id for a in leads] == [leads[0].unit_id] * 2 and leads[-1].state == "assigned"
    assert len([d for d in rows(runtime, Deadline, ticket_id=ticket.id) if d.met_at is None]) == 2  # fresh clocks
    resolve(app, runtime, ticket)
    drain()
    phone.text(CITIZEN, "未解决，不满意")
    [t] = rows(runtime, Ticket, id=ticket.id)
    assert t.state == "dispatch" and t.redo_count == 2


def test_a_long_message_during_a_survey_is_a_new_complaint(app, runtime, drain, settings):
    ticket = housing_ticket(runtime)
    resolve(app, runtime, ticket)
    drain()
    wsgi_phone(app, settings).text(CITIZEN, "另外反映一下，让胡路区路灯坏了3天，晚上出行很不方便")
    assert rows(runtime, Survey, ticket_id=ticket.id)[0].state == "pending"
    assert len(rows(runtime, Ticket)) == 2


def test_no_reply_in_time_is_recorded_and_the_ticket_closes(app, runtime, drain, clock):
    ticket = housing_ticket(runtime)
    resolve(app, runtime, ticket)
    drain()
    clock.advance(runtime.settings.survey_reply_hours * 3600 + 1)
    assert survey.sweep_no_reply_job() == 1
    assert rows(runtime, Survey, ticket_id=ticket.id)[0].state == "no_reply"
    assert rows(runtime, Ticket, id=ticket.id)[0].state == "closed"


def test_a_unit_returns_a_ticket_and_the_dispatcher_reroutes_it(app, runtime):
    ticket = housing_ticket(runtime)
    commerce = rows(runtime, Unit, code="COMMERCE")[0]
    act(
        sign_in(app, "unitstaff"),
        ticket.number,
        "return",
        reason="收费属价格监管，非本局职责",
        suggested_unit=str(commerce.id),
    )
    dispatcher = sign_in(app, "dispatcher")
    queue = dispatcher.get("/staff/dispatch/").get_data(as_text=True)
    assert ticket.number in queue and "收费属价格监管" in queue
    act(dispatcher, ticket.number, "route", lead_unit=str(commerce.id))
    [t] = rows(runtime, Ticket, id=ticket.id)
    assert t.state == "assigned" and t.lead_unit_id == commerce.id


def test_an_extension_request_is_approved_by_the_dispatcher(app, runtime):
    ticket = housing_ticket(runtime)
    staff = sign_in(app, "unitstaff")
    act(staff, ticket.number, "sign")
    act(staff, ticket.number, "extension", reason="需要住建、市场监管联合调查", new_date="2026-12-10")
    [request] = rows(runtime, ExtensionRequest, ticket_id=ticket.id)
    dispatcher = sign_in(app, "dispatcher")
    assert "需要住建、市场监管联合调查" in dispatcher.get("/staff/dispatch/extensions").get_data(as_text=True)
    response = dispatcher.post(f"/staff/dispatch/extensions/{request.id}", data={"decision": "approve"})
    assert response.status_code == 303
    [due] = [d.due_at for d in rows(runtime, Deadline, ticket_id=ticket.id, kind="resolution")]
    assert due == datetime(2026, 12, 10, 17, 30, tzinfo=BEIJING)


def test_an_earlier_date_cannot_be_requested(app, runtime):
    ticket = housing_ticket(runtime)
    page = refused(sign_in(app, "unitstaff"), ticket.number, "extension", reason="x", new_date="2026-11-24")
    assert "新的日期必须晚于当前时限" in page


def test_the_dispatcher_merges_a_duplicate(app, runtime):
    first = housing_ticket(runtime)
    second = housing_ticket(runtime, "东湖小区物业乱收费的问题还没人管")
    dispatcher = sign_in(app, "dispatcher")
    page = dispatcher.get(f"/staff/tickets/{second.number}").get_data(as_text=True)
    assert first.number in page  # suggested as a duplicate (same caller)
    act(dispatcher, second.number, "merge", into=first.number)
    [dup] = rows(runtime, Ticket, id=second.id)
    assert dup.state == "merged" and dup.merged_into_id == first.id


def test_a_unit_cannot_act_on_another_units_ticket(app, runtime):
    other = complaint(runtime, "公交车司机拒载老人")
    process_ticket_job(other.id)
    client = sign_in(app, "unitstaff")
    assert client.post(f"/staff/tickets/{other.number}/sign").status_code == 404
    actions = [e.action for e in rows(runtime, AuditEntry)]
    assert "ticket.view_refused" in actions


def test_leaders_cannot_act_on_tickets(app, runtime):
    ticket = housing_ticket(runtime)
    assert sign_in(app, "leader").post(f"/staff/tickets/{ticket.number}/note", data={"text": "x"}).status_code == 403


def test_unit_staff_see_a_masked_number_unless_the_citizen_agreed(app, runtime):
    masked = housing_ticket(runtime)
    agreed = housing_ticket(runtime, "小区物业乱收费二", phone="+8613900139000", contact_consent=True)
    client = sign_in(app, "unitstaff")
    assert "138****8000" in client.get(f"/staff/tickets/{masked.number}").get_data(as_text=True)
    assert "+8613900139000" in client.get(f"/staff/tickets/{agreed.number}").get_data(as_text=True)


def test_action_forms_need_their_csrf_token(csrf_app, runtime):
    ticket = housing_ticket(runtime)
    client = csrf_app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client.post("/staff/login", data={"username": "unitstaff", "password": "unitstaff-demo-2026", "csrf_token": token})
    assert client.post(f"/staff/tickets/{ticket.number}/sign").status_code == 400


class TestWithTwilio:
    """The masked call-back and the phone survey, through the real twilio client and a fake API."""

    @pytest.fixture
    def twilio_app(self, make_runtime, twilio_settings):
        from hotline_app.factory import create_app
        from hotline_core.models import User

        rt = make_runtime(twilio_settings)
        with rt.db.transaction() as s:
            s.scalars(select(User).where(User.username == "unitstaff")).one().phone = "+8613900000201"
        app = create_app(runtime=rt)
        app.config["WTF_CSRF_ENABLED"] = False
        return app, rt

    def test_the_masked_call_back_rings_staff_then_dials_the_citizen_with_the_hotline_number(
        self, twilio_app, fake_twilio, twilio_settings
    ):
        app, rt = twilio_app
        ticket = housing_ticket(rt)
        client = sign_in(app, "unitstaff")
        act(client, ticket.number, "sign")
        act(client, ticket.number, "callback")
        [call] = fake_twilio.calls()
        assert call.field("To") == "+8613900000201" and call.field("From") == "+8612345000000"
        [row] = rows(rt, CallbackCall, ticket_id=ticket.id)
        assert call.field("Url") == f"https://hotline.example.org/twilio/callback/{row.token}"
        phone = wsgi_phone(app, twilio_settings)
        phone.base_url = "https://hotline.example.org"
        twiml = phone.post(
            f"/twilio/callback/{row.token}",
            {"CallSid": row.call_sid, "From": "+8612345000000", "To": "+8613900000201", "CallStatus": "in-progress"},
        )
        dial = twiml.verb("Dial")
        assert dial.get("callerId") == "+8612345000000" and dial.find("Number").text == CITIZEN
        assert CITIZEN not in client.get(f"/staff/tickets/{ticket.number}").get_data(as_text=True)

    def test_callers_are_surveyed_by_phone(self, twilio_app, fake_twilio, twilio_settings):
        app, rt = twilio_app
        ticket = housing_ticket(rt, channel="phone")
        client = sign_in(app, "unitstaff")
        act(client, ticket.number, "sign")
        act(client, ticket.number, "resolve", text="已处理")
        rt.jobs.run_burst()
        [row] = rows(rt, Survey, ticket_id=ticket.id)
        [call] = fake_twilio.calls()
        assert row.channel == "voice" and call.field("To") == CITIZEN
        assert call.field("Url") == f"https://hotline.example.org/twilio/survey/{row.id}/voice"
        phone = wsgi_phone(app, twilio_settings)
        phone.base_url = "https://hotline.example.org"
        base = {"CallSid": row.call_sid, "From": "+8612345000000", "To": CITIZEN, "CallStatus": "in-progress"}
        first = phone.post(f"/twilio/survey/{row.id}/voice", dict(base, AnsweredBy="human"))
        assert first.verb("Gather").get("action") == f"/twilio/survey/{row.id}/solved"
        second = phone.post(f"/twilio/survey/{row.id}/solved", dict(base, Digits="1"))
        assert second.verb("Gather").get("action") == f"/twilio/survey/{row.id}/rating"
        phone.post(f"/twilio/survey/{row.id}/rating", dict(base, Digits="5"))
        [row] = rows(rt, Survey, ticket_id=ticket.id)
        assert (row.state, row.solved, row.satisfaction) == ("answered", True, 5)
        assert rows(rt, Ticket, id=ticket.id)[0].state == "closed"
