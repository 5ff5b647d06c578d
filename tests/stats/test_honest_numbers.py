"""The rules that make the figures fair (issue 12), each on tickets whose figures are computed by hand."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from hotline_core import formatting
from hotline_core.models import DirectorySetting, Ticket, TicketEvent
from hotline_core.queue import JobQueue, PeriodicJob, cron_firing
from intake.services import process_ticket_job
from stats import facts, reports, services
from stats.services import Filters
from tests.factories import complaint
from tests.helpers import sign_in
from tests.stats.conftest import BEIJING, MONDAY_9, at

pytestmark = pytest.mark.demo_city

NOVEMBER = Filters(date(2026, 11, 1), date(2026, 11, 30))


def housing(session, rows):
    return next(r for r in rows if r.name == "市住房和城乡建设局")


# --- 1. only what is due is judged --------------------------------------------------------------


@pytest.fixture
def three_fresh_tickets(runtime, housing_tickets):
    """The three fresh housing tickets (``tests/stats/conftest.py``): only the first signed for
    (10:00) and its citizen contacted (11:00). Facts refreshed at 11:00."""
    facts.refresh(runtime)
    return housing_tickets.ids


def test_tickets_inside_their_deadline_are_not_yet_due_not_late(runtime, three_fresh_tickets):
    with runtime.db.session() as s:
        row = housing(s, services.summary(s, NOVEMBER, now=MONDAY_9 + timedelta(hours=2)))
    assert (row.sign_on, row.sign_late, row.sign_pending) == (1, 0, 2)
    assert row.sign_on_time == 1.0 and row.response_rate == 1.0  # 100% of what was due, not 33.3%
    assert (row.responded, row.respond_late, row.respond_pending) == (1, 0, 2)
    assert row.resolve_on_time is None and row.resolve_pending == 3


def test_a_deadline_passing_makes_the_ticket_late_without_any_new_event(runtime, three_fresh_tickets):
    with runtime.db.session() as s:  # 15:00: the sign-for deadline (14:30) has passed; no refresh since 11:00
        row = housing(s, services.summary(s, NOVEMBER, now=MONDAY_9 + timedelta(hours=6)))
    assert (row.sign_on, row.sign_late, row.sign_pending) == (1, 2, 0)
    assert row.sign_on_time == pytest.approx(1 / 3) and row.response_rate == pytest.approx(1 / 3)


def test_a_reopened_ticket_is_judged_on_its_final_resolution():
    first, reopened, final = (datetime(2026, 11, d, 9, tzinfo=UTC) for d in (24, 25, 27))
    events = [TicketEvent(kind="resolved", at=first), TicketEvent(kind="reopened", at=reopened)]
    assert facts.final_resolution(events) is None  # reopened: not resolved, judged against its new deadline
    events.append(TicketEvent(kind="resolved", at=final))
    assert facts.final_resolution(events) == final
    due = datetime(2026, 11, 26, 9, tzinfo=UTC)
    assert facts.judge(facts.final_resolution(events), due, final) is False  # the first resolution was in time
    assert facts.judge(None, due, datetime(2026, 11, 25, tzinfo=UTC)) is None
    assert facts.judge(None, due, datetime(2026, 11, 27, tzinfo=UTC)) is False


# --- 2. current and dated ---------------------------------------------------------------------------


def test_the_facts_as_of_is_the_last_refresh(runtime, dataset, clock):
    with runtime.db.session() as s:
        assert facts.as_of(s) == MONDAY_9 + timedelta(hours=25)
    at(clock, 26)
    facts.refresh(runtime)  # nothing new: still the refresh time
    with runtime.db.session() as s:
        assert facts.as_of(s) == MONDAY_9 + timedelta(hours=26)


def test_the_ranking_publishes_the_last_closed_month_and_marks_the_current_one_provisional(app, dataset):
    client = sign_in(app, "leader")
    default = client.get("/stats/ranking").get_data(as_text=True)
    assert (
        "单位月度排名 · 2026-10" in default
        and 'id="closed-month"' in default
        and "数据截至 2026年11月24日 10:00" in default
    )
    current = client.get("/stats/ranking?month=2026-11").get_data(as_text=True)
    assert 'id="provisional"' in current
    public = app.test_client().get("/public/").get_data(as_text=True)
    assert "2026-10" in public and 'id="provisional"' not in public


# --- 3. traceable -------------------------------------------------------------------------------------


def numbers(runtime, ids):
    with runtime.db.session() as s:
        return sorted(s.get(Ticket, i).number for i in ids)


def test_each_outcome_lists_exactly_its_tickets(runtime, dataset):
    now = MONDAY_9 + timedelta(hours=25)
    t1, t2, t3 = numbers(runtime, dataset)
    with runtime.db.session() as s:

        def listed(measure, outcome):
            count, rows = services.drill(s, NOVEMBER, measure, outcome, now=now)
            assert count == len(rows)
            return sorted(r[0] for r in rows)

        assert listed("sign", "on_time") == [t1] and listed("sign", "late") == [t2, t3]
        assert listed("respond", "judged") == [t1, t2, t3]
        assert listed("resolve", "judged") == [t1, t2] and listed("resolve", "not_due") == [t3]
        assert listed("tickets", "all") == [t1, t2, t3]
        count, page2 = services.drill(s, NOVEMBER, "tickets", "all", now=now, page=2, per_page=2)
    assert count == 3 and [r[0] for r in page2] == [t3]


def test_the_ticket_list_exports_as_csv_in_the_readers_language(app, runtime, dataset):
    _t1, t2, t3 = numbers(runtime, dataset)
    client = sign_in(app, "leader")
    query = "period=month&date=2026-11-23&measure=sign&outcome=late"
    zh = client.get(f"/stats/tickets.csv?{query}").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert zh[0].startswith("工单编号,状态,承办单位") and [line.split(",")[0] for line in zh[1:3]] == [t2, t3]
    assert zh[1].endswith(",超时") and "数据截至" in zh[-1]
    en = client.get(f"/stats/tickets.csv?{query}&lang=en").get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert en[0].startswith("Ticket number,State,Unit") and en[1].endswith(",Late")
    xlsx = client.get(f"/stats/tickets.xlsx?{query}")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"


def test_the_ticket_list_pages_and_its_count_agrees_with_the_rows(app, runtime, dataset):
    page = sign_in(app, "leader").get("/stats/tickets?period=month&date=2026-11-23").get_data(as_text=True)
    assert "共 3 件" in page and page.count('<tr class="') == 3 and "第 1 / 1 页" in page


def test_category_rows_drill_down_like_unit_rows(app, runtime, dataset):
    client = sign_in(app, "leader")
    page = client.get("/stats/?period=month&date=2026-11-23&by=category").get_data(as_text=True)
    link = page.split('class="count"')[0].rsplit('href="/stats/tickets?', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "category=" in link
    assert "共 3 件" in client.get("/stats/tickets?" + link).get_data(as_text=True)


# --- 4. readable ------------------------------------------------------------------------------------


def test_durations_and_rates_read_as_people_read_them():
    assert formatting.duration(33, "en") == "33 sec" and formatting.duration(33, "zh") == "33秒"
    assert formatting.duration(750, "en") == "13 min"
    assert formatting.duration(12000, "zh") == "3小时 20分钟" and formatting.duration(7200, "en") == "2 hr"
    assert formatting.percent(0.625, "zh") == "62.5%" and formatting.percent(None, "en") == "—"
    assert formatting.change(0.75, 0.5, "zh", rate=True) == "+25.0个百分点"
    assert formatting.change(3, 4, "en") == "-25.0%"


# --- 5. 环比 / 同比 ----------------------------------------------------------------------------------


def test_comparison_periods_are_like_for_like():
    periods = services.comparison_periods("month", date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 24))
    assert periods["current"] == (date(2026, 11, 1), date(2026, 11, 24))
    assert periods["previous"] == (date(2026, 10, 1), date(2026, 10, 24))
    assert periods["year_ago"] == (date(2025, 11, 1), date(2025, 11, 24))
    closed = services.comparison_periods("month", date(2026, 3, 1), date(2026, 3, 31), date(2026, 11, 24))
    assert closed["previous"] == (date(2026, 2, 1), date(2026, 2, 28))  # 31 days of March against February
    week = services.comparison_periods("week", date(2026, 11, 23), date(2026, 11, 29), date(2026, 12, 1))
    assert week["previous"] == (date(2026, 11, 16), date(2026, 11, 22))
    assert week["year_ago"] == (date(2025, 11, 23), date(2025, 11, 29))


def test_the_previous_period_and_last_year_are_counted_beside_this_one(runtime, dataset, clock):
    clock.set(datetime(2026, 10, 12, 10, 0, tzinfo=BEIJING))
    process_ticket_job(complaint(runtime, "东湖小区物业乱收费，十月", phone="+8613800138999").id)
    clock.set(datetime(2025, 11, 3, 10, 0, tzinfo=BEIJING))
    process_ticket_job(complaint(runtime, "东湖小区物业乱收费，去年", phone="+8613800138998").id)
    facts.refresh(runtime)
    with runtime.db.session() as s:
        result = services.compared(s, NOVEMBER, "month", date(2026, 11, 24), now=MONDAY_9 + timedelta(hours=25))
    assert (result["current"].count, result["previous"].count, result["year_ago"].count) == (3, 1, 1)
    assert result["current"].response_rate == pytest.approx(1 / 3)


def test_trend_charts_stop_at_today(app, dataset):
    page = sign_in(app, "leader").get("/stats/?period=month&date=2026-11-23").get_data(as_text=True)
    rates = page.split('id="chart-rates"')[1].split("</svg>")[0]
    # labels every second day from 11-01 (the page's CSP strips pygal's script, so minor labels are not drawn)
    assert "11-23" in rates and "11-25" not in rates and "11-30" not in rates


# --- 6. hot spots ---------------------------------------------------------------------------------


def test_hot_spots_look_back_from_today_on_the_month_view(app, dataset):
    page = sign_in(app, "leader").get("/stats/?period=month&date=2026-11-23").get_data(as_text=True)
    assert 'id="hot-spots"' in page  # three housing complaints in the last 7 days, none before


# --- 7. ranking explanations ----------------------------------------------------------------------


def test_an_unranked_unit_is_told_the_true_reason(runtime, dataset, clock):
    at(clock, 26)
    process_ticket_job(complaint(runtime, "公交车司机拒载老人", phone="+8613800138111").id)
    facts.refresh(runtime)
    later = MONDAY_9 + timedelta(days=4)  # the transport ticket's sign-for deadline has passed
    with runtime.db.session() as s:
        result = services.ranking(s, date(2026, 11, 1), min_volume=1, now=later)
        reasons = {r.name: r.extra["reason"] for r in result.unranked}
        assert reasons == {"市交通运输局": "stats.unranked.no_surveys"}
        result = services.ranking(s, date(2026, 11, 1), min_volume=5, now=later)
        assert {r.extra["reason"] for r in result.unranked} == {"stats.unranked.volume"}


# --- 8. the weekly bulletin ------------------------------------------------------------------------


def test_the_bulletin_fires_on_monday_morning_local_time_all_year():
    jobs = JobQueue(None)
    jobs.add_periodic(PeriodicJob("weekly-bulletin", reports.weekly_job, cron="0 8 * * 1", timezone="Asia/Shanghai"))
    fired = []
    moment = datetime(2027, 1, 1, tzinfo=UTC)
    while moment.year == 2027:
        if jobs.beat(moment.timestamp()):
            fired.append(moment.astimezone(BEIJING))
        moment += timedelta(minutes=30)
    assert len(fired) == 52  # the Mondays of 2027: 4 January ... 27 December
    assert all(f.weekday() == 0 and (f.hour, f.minute) == (8, 0) for f in fired)
    assert fired[0].date() == date(2027, 1, 4) and fired[-1].date() == date(2027, 12, 27)


def test_a_missed_firing_runs_late_within_the_grace_but_not_days_later():
    job = PeriodicJob("weekly-bulletin", reports.weekly_job, cron="0 8 * * 1", timezone="Asia/Shanghai")
    tuesday = datetime(2027, 1, 5, 9, tzinfo=BEIJING)
    assert cron_firing(job.cron or "", job.timezone, tuesday) == datetime(2027, 1, 4, 8, tzinfo=BEIJING)
    jobs = JobQueue(None)
    jobs.add_periodic(job)
    assert jobs.beat(tuesday.timestamp()) == []  # 25 h late: skipped
    assert jobs.beat(datetime(2027, 1, 4, 10, tzinfo=BEIJING).timestamp()) == ["weekly-bulletin"]


def test_each_issue_has_a_number_totals_and_week_on_week(runtime, dataset, clock):
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=BEIJING))
    first = reports.generate(runtime, date(2026, 11, 23))
    second = reports.generate(runtime, date(2026, 11, 30))
    again = reports.generate(runtime, date(2026, 11, 23))
    assert (first["meta"]["number"], second["meta"]["number"], again["meta"]["number"]) == (1, 2, 1)
    assert first["meta"]["generated_at"].startswith("2026-11-30T00:00")
    zh = first["zh"]
    wow = {line["name"]: line for line in zh["week_on_week"]}
    assert wow["count"]["current"] == 3 and wow["count"]["previous"] == 0 and wow["count"]["change"] == "—"
    assert wow["response_rate"]["current"] == "33.3%" and wow["response_rate"]["previous"] == "—"
    assert zh["charts"]["units"].startswith("<svg") and zh["accountability"]
    assert "11-29" in zh["charts"]["days"]  # generated on the 30th: the whole week has happened
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=BEIJING))  # generated again mid-week
    midweek = reports.generate(runtime, date(2026, 11, 23))
    assert midweek["meta"]["number"] == 1
    assert "11-25" in midweek["zh"]["charts"]["days"] and "11-26" not in midweek["zh"]["charts"]["days"]


def test_without_smtp_the_issue_is_kept_and_shown_as_not_sent(app, runtime, dataset, clock):
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=BEIJING))
    assert reports.weekly_job() == "2026-11-23"
    with runtime.db.session() as s:
        assert reports.stored(s, date(2026, 11, 23))["meta"]["mail"] == {"state": "not_configured"}
    page = sign_in(app, "leader").get("/stats/weekly?week=2026-11-23").get_data(as_text=True)
    assert "第 1 期" in page and "未发送：未配置邮件服务器" in page and "环比上周" in page


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""
    from aiosmtpd.controller import Controller

    class Keep:
        def __init__(self) -> None:
            self.envelopes: list = []

        async def handle_DATA(self, server, session, envelope):
            self.envelopes.append(envelope)
            return "250 OK"

    import socket

    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler
    controller.stop()


def test_the_bulletin_is_emailed_once_to_the_leaders_in_the_directory(runtime, dataset, clock, smtp_server):
    import email

    port, received = smtp_server
    runtime.settings = dataclasses.replace(
        runtime.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_from="bulletin@hotline.example"
    )
    with runtime.db.transaction() as s:
        row = s.get(DirectorySetting, "settings") or DirectorySetting(key="settings", value={})
        row.value = {
            **(row.value or {}),
            "bulletin_recipients": [
                {"name": "市长", "email": "mayor@city.example"},
                "deputy@city.example",
                "not an address",
            ],
        }
        s.add(row)
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=BEIJING))
    reports.weekly_job()
    reports.weekly_job()  # the beat ran twice (or the job was retried): one email
    assert len(received.envelopes) == 1
    envelope = received.envelopes[0]
    assert sorted(envelope.rcpt_tos) == ["deputy@city.example", "mayor@city.example"]
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Subject"] == "每周一报 第1期（2026-11-23 至 2026-11-29）"
    body = mail.get_body(("plain",)).get_content()
    overdue = numbers(runtime, [dataset[2]])[0]
    assert "工单数: 3 (0, —)" in body and "响应率: 33.3%" in body and overdue in body
    assert "2026-11-23 14:30" in body and "生成时间 2026-11-30 08:00" in body  # local times
    assert {part.get_filename() for part in mail.iter_attachments()} == {"units.svg", "days.svg"}
    with runtime.db.session() as s:
        sent = reports.stored(s, date(2026, 11, 23))["meta"]["mail"]
    assert sent["state"] == "sent" and sent["recipients"] == 2


def test_a_unit_drills_down_only_into_its_own_tickets(app, runtime, dataset):
    other = complaint(runtime, "公交车司机拒载老人", phone="+8613800138111")
    process_ticket_job(other.id)
    facts.refresh(runtime)
    with runtime.db.session() as s:
        transport = s.get(Ticket, other.id)
        transport_number, transport_unit = transport.number, transport.lead_unit_id
    page = sign_in(app, "unitstaff").get(f"/stats/tickets?period=month&date=2026-11-23&unit={transport_unit}")
    text = page.get_data(as_text=True)
    assert "共 3 件" in text and transport_number not in text


def test_the_ticket_inbox_pages_and_its_state_counts_follow_the_filters(app, runtime, dataset, monkeypatch):
    from responders import tickets as inbox

    monkeypatch.setattr(inbox, "INBOX_PAGE", 2)
    client = sign_in(app, "leader")
    first = client.get("/staff/tickets?from=2026-11-23&to=2026-11-23").get_data(as_text=True)
    assert first.count('href="/staff/tickets/') == 2 and "共 3 件" in first and "第 1 / 2 页" in first
    second = client.get("/staff/tickets?from=2026-11-23&to=2026-11-23&page=2").get_data(as_text=True)
    assert second.count('href="/staff/tickets/') == 1
    counts = first.split('id="state-counts"')[1].split("</p>")[0]
    assert "已关闭: 2" in counts and "已派单: 1" in counts  # T1 and T2 closed after the survey, T3 assigned
    none = client.get("/staff/tickets?from=2026-11-24&to=2026-11-24").get_data(as_text=True)
    assert 'class="badge" href' not in none.split('id="state-counts"')[1].split("</p>")[0]


def test_the_directory_lists_the_bulletins_leaders_and_refuses_a_bad_address(runtime, dataset):
    from routing import directory

    good = directory.parse_yaml("settings:\n  bulletin_recipients: [{name: 市长, email: mayor@city.example}]\n")
    bad = directory.parse_yaml("settings:\n  bulletin_recipients: [{name: 市长, email: mayor-at-city}]\n")
    with runtime.db.session() as s:
        assert directory.validate(s, good) == []
        problems = directory.validate(s, bad)
        assert [p.message for p in problems] == ["bulletin_recipients: 'mayor-at-city' is not an email address"]
        assert reports.recipients(s) == [
            "mayor-office@daqing.example.gov.cn",
            "supervision@daqing.example.gov.cn",
        ]  # the demo city's leaders
