"""Citizens are never stranded (issue 13, points 8-10): progress on the tracking page and by SMS,
merged tickets followed to the ticket they joined, a forgiving SMS conversation with quiet nights,
and one web form, one ticket."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline_core import outbox, quiet_hours
from hotline_core.models import Deadline, DirectorySetting, OutboxMessage, Survey, Ticket, TicketEvent
from intake import sms_commands
from routing import directory
from tests.conftest import wsgi_phone
from tests.factories import rows
from tests.helpers import sign_in
from tests.test_portal import housing_ticket

pytestmark = pytest.mark.demo_city

BEIJING = ZoneInfo("Asia/Shanghai")
CITIZEN = "+8613800138000"
NEIGHBOUR = "+8613700137000"


@pytest.fixture(autouse=True)
def monday_morning(clock):
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING))


def texts_to(runtime, number, kind=None):
    where = {"to_number": number} | ({"kind": kind} if kind else {})
    return [m.body for m in rows(runtime, OutboxMessage, **where)]


def act(client, number, action, **data):
    response = client.post(f"/staff/tickets/{number}/{action}", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)


def set_quiet_hours(runtime, value):
    with runtime.db.transaction() as s:
        row = s.get(DirectorySetting, "settings") or DirectorySetting(key="settings", value={})
        row.value = {**(row.value or {}), "quiet_hours": value}
        s.add(row)


# --- 8. The tracking page and the status SMS -----------------------------------------------------


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_the_status_sms_names_the_unit_the_deadline_and_the_units_reply(app, runtime, settings):
    ticket = housing_ticket(runtime)
    act(sign_in(app, "unitstaff"), ticket.number, "reply", text="已约物业明天上午到现场核实")
    phone = wsgi_phone(app, settings)
    [zh] = phone.text(CITIZEN, f"查询 {ticket.number}").replies
    assert zh.startswith(f"【效能投诉热线】工单 {ticket.number} 当前状态：已派单。")
    assert "承办单位：市住房和城乡建设局，办结期限 2026年12月2日 17:30。" in zh
    assert zh.endswith("单位答复：已约物业明天上午到现场核实")
    assert not re.search(r"[A-Za-z]", zh.replace(ticket.number, ""))  # a Chinese SMS has no English


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_the_status_sms_in_english_says_the_same(app, runtime, settings):
    ticket = housing_ticket(runtime)
    [en] = wsgi_phone(app, settings).text(CITIZEN, f"STATUS {ticket.number}").replies
    assert f"Ticket {ticket.number} is now: assigned to a unit." in en
    assert "Handled by the Housing and Urban-Rural Development Bureau, due by Dec 2, 2026 17:30." in en


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_the_deadline_is_given_in_the_citys_time(app, runtime, settings):
    ticket = housing_ticket(runtime)
    [deadline] = rows(runtime, Deadline, ticket_id=ticket.id, kind="resolution")
    at = deadline.due_at.astimezone(BEIJING)
    local = f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}"  # the city's time, as a Chinese reader writes it
    assert local in wsgi_phone(app, settings).text(CITIZEN, f"查询{ticket.number}").replies[0]


def test_the_tracking_page_shows_unit_deadline_and_reply_in_both_languages(app, runtime):
    ticket = housing_ticket(runtime)
    act(sign_in(app, "unitstaff"), ticket.number, "reply", text="已约物业明天上午到现场核实")
    citizen = app.test_client()
    page = citizen.post("/track", data={"number": ticket.number, "last4": "8000"}).get_data(as_text=True)
    assert "承办单位:</strong> 市住房和城乡建设局" in page
    assert "办结期限:</strong> 2026年12月2日 17:30" in page
    assert '单位答复:</strong> <span class="public-body">已约物业明天上午到现场核实' in page
    page = citizen.post("/track?lang=en", data={"number": ticket.number, "last4": "8000"}).get_data(as_text=True)
    assert "Handled by:</strong> Housing and Urban-Rural Development Bureau" in page
    assert "The unit&#39;s reply:</strong>" in page


def merged_pair(app, runtime):
    """The neighbour's ticket merged into the citizen's (same problem, two citizens)."""
    first = housing_ticket(runtime)
    second = housing_ticket(runtime, "东湖小区物业乱收费，我家也被多收了钱", phone=NEIGHBOUR)
    act(sign_in(app, "dispatcher"), second.number, "merge", into=first.number)
    return first, second


def test_a_merged_tickets_citizen_is_told_which_ticket_it_joined(app, runtime):
    first, second = merged_pair(app, runtime)
    [notice] = texts_to(runtime, NEIGHBOUR, "citizen_merged")
    assert notice == (
        f"【效能投诉热线】您的工单 {second.number} 与工单 {first.number} 反映的是同一问题，已合并办理。"
        f"办理进展和结果会继续短信告知您，回复“查询 {second.number}”也可查看。"
    )
    assert rows(runtime, TicketEvent, ticket_id=second.id, kind="merge_notice_sent")


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_a_merged_ticket_points_to_the_ticket_it_joined_by_sms_and_on_the_page(app, runtime, settings):
    first, second = merged_pair(app, runtime)
    [zh] = wsgi_phone(app, settings).text(NEIGHBOUR, f"查询 {second.number}").replies
    assert zh.startswith(
        f"【效能投诉热线】工单 {second.number} 与同一问题的工单 {first.number} 已合并办理，"
        f"工单 {first.number} 当前状态：已派单。承办单位：市住房和城乡建设局，办结期限 2026年12月2日 17:30。"
    )
    page = app.test_client().post("/track", data={"number": second.number, "last4": "7000"}).get_data(as_text=True)
    assert f"此工单与工单 {first.number} 反映的是同一问题，已合并办理" in page
    assert "市住房和城乡建设局" in page
    assert "东湖小区物业乱收费，业主多次反映无人处理" not in page  # never the other citizen's words


def resolve(app, ticket):
    unit = sign_in(app, "unitstaff")
    act(unit, ticket.number, "sign")
    act(unit, ticket.number, "resolve", text="物业已退还多收费用")


def test_a_merged_tickets_citizen_gets_the_resolution_and_the_survey(app, runtime, drain):
    first, second = merged_pair(app, runtime)
    resolve(app, first)
    drain()
    assert texts_to(runtime, NEIGHBOUR, "citizen_resolved_merged") == [
        f"【效能投诉热线】您的工单 {second.number}（已并入工单 {first.number}）已办结：物业已退还多收费用"
    ]
    [asked] = texts_to(runtime, NEIGHBOUR, "survey")
    assert f"工单 {second.number}（已并入工单 {first.number}）回访" in asked
    surveys = rows(runtime, Survey, ticket_id=first.id)
    assert sorted(s.phone for s in surveys) == sorted([CITIZEN, NEIGHBOUR])


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_the_merged_citizens_answer_counts_and_the_ticket_closes_when_both_answered(app, runtime, drain, settings):
    first, _second = merged_pair(app, runtime)
    resolve(app, first)
    drain()
    phone = wsgi_phone(app, settings)
    assert phone.text(CITIZEN, "1 5").replies == ["【效能投诉热线】感谢您的评价。"]
    assert rows(runtime, Ticket, id=first.id)[0].state == "resolved"  # the neighbour has not answered yet
    phone.text(NEIGHBOUR, "1 4")
    assert rows(runtime, Ticket, id=first.id)[0].state == "closed"


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_a_merged_citizen_saying_not_solved_reopens_the_ticket(app, runtime, drain, settings):
    first, _second = merged_pair(app, runtime)
    resolve(app, first)
    drain()
    reply = wsgi_phone(app, settings).text(NEIGHBOUR, "2")
    assert any("已重新交办" in text for text in reply.replies)
    assert rows(runtime, Ticket, id=first.id)[0].state == "assigned"


# --- 9. A forgiving SMS conversation -------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "查询2026000123",
        "查询 2026 000123",
        "查询２０２６－０００１２３",
        "查询：2026-123",
        "status 2026000123",
        "查询 2026-000123。",
    ],
)
def test_the_status_keyword_forgives_spacing_dashes_and_full_width_digits(body):
    command = sms_commands.parse(body)
    assert command is not None and (command.kind, command.argument) == ("status", "2026-000123")


def test_a_complaint_that_starts_like_a_keyword_is_still_a_complaint():
    assert sms_commands.parse("查询了三次社保都说系统坏了") is None
    assert sms_commands.parse("NEWS kiosk on Main street is blocking the pavement") is None


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_status_without_a_number_lists_the_callers_open_tickets(app, runtime, settings):
    one = housing_ticket(runtime)
    two = housing_ticket(runtime, "让胡路区路灯坏了三天")
    [reply] = wsgi_phone(app, settings).text(CITIZEN, "查询").replies
    assert reply.startswith("【效能投诉热线】您有 2 件工单在办：")
    assert reply.index(two.number) < reply.index(one.number)  # newest first
    assert "已派单（期限 12-02 17:30）" in reply and reply.endswith("回复“查询 工单号”看详情。")


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_status_without_a_number_and_nothing_open_says_so(app, settings):
    [reply] = wsgi_phone(app, settings).text(CITIZEN, "查询").replies
    assert reply == "【效能投诉热线】您目前没有在办的工单。直接发送问题描述即可投诉。"


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_help_says_what_can_be_texted_in_both_languages(app, settings):
    phone = wsgi_phone(app, settings)
    [zh] = phone.text(CITIZEN, "帮助").replies
    assert "“查询”" in zh and "“新投诉”" in zh and "“退订”" in zh
    [en] = phone.text("+8613900139000", "HELP").replies
    assert "STATUS" in en and "NEW" in en and "STOP" in en


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_help_in_english_is_answered_in_the_citizens_language(app, runtime, settings):
    housing_ticket(runtime)
    [reply] = wsgi_phone(app, settings).text(CITIZEN, "HELP").replies
    assert reply.startswith("【效能投诉热线】直接发送问题描述即可投诉")


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_start_is_answered_in_the_citizens_language(app, runtime, settings):
    housing_ticket(runtime, "The property manager overcharges every owner", language="en", phone=NEIGHBOUR)
    housing_ticket(runtime)
    phone = wsgi_phone(app, settings)
    assert phone.text(CITIZEN, "START").replies == ["【效能投诉热线】您已恢复接收短信通知。"]
    assert phone.text(NEIGHBOUR, "START").replies == ["[Efficiency Hotline] You will receive texts again."]


def sms_tickets(runtime):
    return [t for t in rows(runtime, Ticket) if t.channel == "sms"]


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_new_followed_by_text_opens_a_new_ticket_instead_of_joining(app, runtime, settings):
    phone = wsgi_phone(app, settings)
    phone.text(CITIZEN, "东湖小区物业乱收费")
    reply = phone.text(CITIZEN, "新投诉 东湖小区物业又乱收停车费")
    first, second = sms_tickets(runtime)
    assert second.text == "东湖小区物业又乱收停车费"
    assert reply.replies[0] == (
        f"【效能投诉热线】您的投诉已受理，工单号 {second.number}。回复“查询 {second.number}”可查看进度。"
    )
    assert not rows(runtime, TicketEvent, ticket_id=first.id, kind="citizen_message")


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_new_alone_makes_the_next_text_a_new_ticket_and_later_texts_join_it(app, runtime, settings, clock):
    phone = wsgi_phone(app, settings)
    phone.text(CITIZEN, "东湖小区物业乱收费")
    clock.advance(60)
    assert phone.text(CITIZEN, "NEW").replies == [
        "[Efficiency Hotline] OK: text the new problem and it will get a ticket of its own."
    ]
    clock.advance(60)
    phone.text(CITIZEN, "东湖小区电梯坏了一周")
    clock.advance(60)
    phone.text(CITIZEN, "补充：是3号楼的电梯")
    _first, second = sms_tickets(runtime)
    assert second.text == "东湖小区电梯坏了一周"
    [added] = rows(runtime, TicketEvent, ticket_id=second.id, kind="citizen_message")
    assert added.body == "补充：是3号楼的电梯"


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_a_clearly_different_matter_in_the_thread_window_opens_a_new_ticket(app, runtime, settings):
    phone = wsgi_phone(app, settings)
    phone.text(CITIZEN, "东湖小区物业乱收费，业主多次反映无人处理")
    reply = phone.text(CITIZEN, "公司拖欠工资三个月，社保也没交")  # labour, not construction
    first, second = sms_tickets(runtime)
    assert second.text == "公司拖欠工资三个月，社保也没交"
    assert reply.replies[0] == (
        f"【效能投诉热线】这条短信反映的是另一件事，已另立工单 {second.number}，与工单 {first.number} 分开办理。"
        f"如是对工单 {first.number} 的补充，工作人员会合并处理。"
    )


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_the_same_matter_in_another_district_opens_a_new_ticket(app, runtime, settings):
    phone = wsgi_phone(app, settings)
    phone.text(CITIZEN, "萨尔图区东湖小区路灯坏了")
    phone.text(CITIZEN, "龙凤区的路灯也不亮")
    assert len(sms_tickets(runtime)) == 2


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_a_follow_up_naming_nothing_new_joins_the_thread(app, runtime, settings):
    phone = wsgi_phone(app, settings)
    phone.text(CITIZEN, "萨尔图区东湖小区路灯坏了")
    for body in ("到现在还是没人来修", "萨尔图区东湖小区3号楼门口那盏", "补充：社保局的人说不归他们管"):
        phone.text(CITIZEN, body)
    [ticket] = sms_tickets(runtime)
    assert len(rows(runtime, TicketEvent, ticket_id=ticket.id, kind="citizen_message")) == 3


def resolved_at_night(app, runtime, clock):
    ticket = housing_ticket(runtime)
    clock.set(datetime(2026, 11, 23, 23, 30, tzinfo=BEIJING))
    resolve(app, ticket)
    return ticket


def test_a_survey_due_at_night_waits_in_the_outbox_until_the_morning(app, runtime, drain, clock):
    ticket = resolved_at_night(app, runtime, clock)
    drain()
    [asked] = rows(runtime, OutboxMessage, kind="survey")
    assert asked.next_attempt_at == datetime(2026, 11, 24, 8, 0, tzinfo=BEIJING)
    assert asked.status == "pending"
    [survey] = rows(runtime, Survey, ticket_id=ticket.id)
    assert survey.reply_by == datetime(2026, 11, 24, 8, 0, tzinfo=BEIJING) + timedelta(
        hours=runtime.settings.survey_reply_hours
    )
    clock.set(datetime(2026, 11, 24, 8, 1, tzinfo=BEIJING))
    outbox.sweep_job()  # the periodic sweep starts the dispatcher once something is due
    drain()
    assert rows(runtime, OutboxMessage, kind="survey")[0].status != "pending"


@pytest.mark.committed  # the texts are answered by jobs on their own connections
def test_an_acknowledgement_and_a_reply_at_night_go_at_once(app, runtime, settings, clock):
    clock.set(datetime(2026, 11, 23, 23, 30, tzinfo=BEIJING))
    wsgi_phone(app, settings).text(CITIZEN, "燃气泄漏，闻到很大的煤气味")
    [ack] = rows(runtime, OutboxMessage, kind="acknowledgement")
    assert ack.next_attempt_at == datetime(2026, 11, 23, 23, 30, tzinfo=BEIJING)


def test_the_assignment_notice_to_the_citizen_waits_for_the_morning(runtime, clock):
    clock.set(datetime(2026, 11, 23, 6, 0, tzinfo=BEIJING))
    housing_ticket(runtime)
    [notice] = rows(runtime, OutboxMessage, kind="citizen_assigned")
    assert notice.next_attempt_at == datetime(2026, 11, 23, 8, 0, tzinfo=BEIJING)


def test_quiet_hours_come_from_the_directory(runtime, clock):
    set_quiet_hours(runtime, "22:30-07:00")
    with runtime.db.session() as s:
        late = datetime(2026, 11, 23, 22, 0, tzinfo=BEIJING)
        assert quiet_hours.not_before(s, runtime, late) == late
        later = datetime(2026, 11, 23, 23, 0, tzinfo=BEIJING)
        assert quiet_hours.not_before(s, runtime, later) == datetime(2026, 11, 24, 7, 0, tzinfo=BEIJING)
    set_quiet_hours(runtime, "off")
    with runtime.db.session() as s:
        assert quiet_hours.not_before(s, runtime, later) == later


def test_the_directory_refuses_quiet_hours_it_cannot_read(runtime):
    with runtime.db.session() as s:
        problems = directory.validate(s, directory.parse_yaml("settings: {quiet_hours: 9pm to 8am}"))
    assert any("quiet_hours" in str(p) for p in problems)


# --- 10. One tap, one ticket ---------------------------------------------------------------------

FORM = {"description": "政务服务中心窗口工作人员态度恶劣，推诿不办。", "phone": "13800138000"}


def form_token(client, lang="zh"):
    page = client.get(f"/?lang={lang}").get_data(as_text=True)
    return re.search(r'name="submission" value="([^"]+)"', page).group(1)


def send(client, **fields):
    return client.post("/", data={**FORM, **fields}, content_type="multipart/form-data")


def filed_page(client, response):
    assert response.status_code == 302, response.get_data(as_text=True)
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_same_form_sent_twice_makes_one_ticket_and_shows_its_number_again(client, runtime):
    token = form_token(client)
    first = filed_page(client, send(client, submission=token))
    again = filed_page(client, send(client, submission=token))  # double click, or a second tab
    [ticket] = rows(runtime, Ticket)
    assert ticket.number in first and ticket.number in again
    assert "这份表单已经提交过" in again and "这份表单已经提交过" not in first


def test_two_requests_racing_with_one_token_make_one_ticket(client, runtime, monkeypatch):
    """Both requests looked before either stored: the second insert hits the unique source and
    is answered with the first one's ticket."""
    from intake import services

    real, misses = services.find_by_source, []

    def blind_at_first(session, channel, source_ref):
        if len(misses) < 2:  # the view's look and submit_complaint's look both miss
            misses.append(source_ref)
            return None
        return real(session, channel, source_ref)

    token = form_token(client)
    send(client, submission=token)
    monkeypatch.setattr(services, "find_by_source", blind_at_first)
    page = filed_page(client, send(client, submission=token))
    [ticket] = rows(runtime, Ticket)
    assert ticket.number in page and "这份表单已经提交过" in page


def test_sent_again_from_a_fresh_form_after_going_back_makes_one_ticket(client, runtime):
    send(client, submission=form_token(client))
    page = filed_page(client, send(client, submission=form_token(client)))
    [ticket] = rows(runtime, Ticket)
    assert ticket.number in page


def test_another_complaint_from_the_same_phone_is_a_new_ticket(client, runtime):
    send(client, submission=form_token(client))
    send(client, submission=form_token(client), description="社保窗口排队两个小时，工作人员玩手机。")
    assert len(rows(runtime, Ticket)) == 2


def test_anonymous_with_a_typed_phone_keeps_no_phone_and_says_so(client, runtime, drain):
    page = filed_page(client, send(client, submission=form_token(client), anonymous="y"))
    [ticket] = rows(runtime, Ticket)
    assert ticket.citizen_phone is None and ticket.anonymous
    assert "您选择了匿名，填写的手机号码未保存，我们不会通过它联系您。" in page
    drain()
    assert not texts_to(runtime, CITIZEN)
    english = filed_page(client, send(client, submission=form_token(client, "en"), anonymous="y", description="x" * 9))
    assert "the number you typed was not kept and will not be used" in english


def test_the_form_carries_its_token_a_sending_label_and_its_script_without_inline_code(client):
    page = client.get("/").get_data(as_text=True)
    assert re.search(r'name="submission" value="[A-Za-z0-9_-]{24}"', page)
    assert 'data-sending="正在提交…"' in page
    assert '<p class="help notice" id="anonymous-note" role="status" hidden>' in page
    assert "complaint-form.js" in page and "<script>" not in page
    assert 'data-sending="Sending…"' in client.get("/?lang=en").get_data(as_text=True)
    assert client.get("/static/hotline/complaint-form.js").status_code == 200
