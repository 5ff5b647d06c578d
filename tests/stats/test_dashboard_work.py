"""Each statistics page computes the figures it shows, and shows the figures it computes (issue 12's
benchmark: the dashboard and the ranking within 1.2x of hand-written SQL)."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, timedelta

import pytest

from hotline_core.audit import Actor
from hotline_core.models import Ticket
from mystery_calls import services as mystery
from stats import charts, services
from stats.services import Filters
from tests.stats.conftest import MONDAY_9
from tests.test_mystery_calls import FULL, calls, log_and_score, make_campaign

pytestmark = pytest.mark.demo_city

NOVEMBER = Filters(date(2026, 11, 1), date(2026, 11, 30))
READ_AT = MONDAY_9 + timedelta(hours=25)


def sign_in(app, username):
    client = app.test_client()
    client.post("/staff/login", data={"username": username, "password": f"{username}-demo-2026"})
    return client


def test_the_ranking_computes_no_median_it_would_not_show(runtime, dataset):
    with runtime.db.session() as s:
        result = services.ranking(s, date(2026, 11, 1), min_volume=1, now=READ_AT, today=date(2026, 11, 24))
    [housing] = [r for rows in result.tiers.values() for r in rows]
    assert housing.response_rate == pytest.approx(1 / 3)
    assert (housing.sign_median, housing.resolve_median, housing.contact_p90) == (None, None, None)


def test_the_comparison_computes_the_two_medians_its_table_shows(runtime, dataset):
    with runtime.db.session() as s:
        current = services.compared(s, NOVEMBER, "month", date(2026, 11, 24), now=READ_AT)["current"]
    # signed after 1 h and 6 h; resolved after 24 h and 25 h
    assert (current.sign_median, current.resolve_median) == (3.5 * 3600, 24.5 * 3600)
    assert (current.sign_p90, current.contact_median, current.resolve_working_p90) == (None, None, None)


def test_the_dashboard_and_its_export_show_the_first_contact_p90(app, dataset):
    client = sign_in(app, "leader")
    page = client.get("/stats/?period=month&date=2026-11-23").get_data(as_text=True)
    # contacted after 2 h and 6 h 30 min: the 90th percentile is 2 h + 0.9 x 4 h 30 min = 6 h 3 min
    assert "首次联系用时90分位" in page and "6小时 3分钟" in page
    exported = client.get("/stats/export.csv?period=month&date=2026-11-23&lang=en").get_data(as_text=True)
    table = list(csv.reader(io.StringIO(exported.lstrip("\ufeff"))))
    column = table[0].index("First contact p90")
    assert table[1][column] == "6 hr 3 min"


def test_a_count_chart_marks_whole_numbers_and_a_rate_chart_leaves_a_day_without_value_blank():
    days = [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    counted = charts.lines("工单", days, {"电话": [1, 0, 2]}, counts=True)
    assert "0.5" not in counted and ">2<" in counted
    rates = charts.lines("三率", days, {"响应率": [50.0, None, 100.0]}, maximum=100)
    assert rates.count("<circle") == 2  # no dot drawn at zero for the day without a value
    assert charts.lines("三率", days, {"响应率": [None, None, None]}) == ""


# --- what the walk through the pages found (issue 12, points 4 and 7) ----------------------------------


def test_the_bulletin_lists_a_unit_below_the_minimum_volume_with_its_reason_not_as_no_data(app, runtime, dataset):
    client = sign_in(app, "leader")
    page = client.get("/stats/weekly?week=2026-11-23").get_data(as_text=True)
    unranked = page.split('id="unranked"')[1].split("</div>")[0]
    # three tickets against the default minimum of five
    assert "市住房和城乡建设局" in unranked and "交办工单少于 5 件" in unranked
    departments = page.split("市直部门</h3>")[1].split("</p>")[0]
    assert "本组没有单位达到排名条件" in departments and "该周期内没有数据" not in departments
    districts = page.split("区县政府</h3>")[1].split("</p>")[0]
    assert "该周期内没有数据" in districts  # no district had a ticket


def test_the_ranking_says_why_a_group_has_no_ranked_unit(app, dataset):
    page = sign_in(app, "leader").get("/stats/ranking?month=2026-11&lang=en").get_data(as_text=True)
    departments = page.split("City departments</h2>")[1].split("</p>")[0]
    assert "No unit of this group meets the ranking" in departments
    assert "No data for this period." in page.split("District governments</h2>")[1].split("</p>")[0]


def test_the_mystery_results_show_times_to_answer_as_durations(app, runtime):
    with runtime.db.transaction() as s:
        campaign = make_campaign(s, runtime, calls_per_hotline=1)
        mystery.plan_campaign(s, runtime, campaign, actor=Actor("user:auditor"), rng=random.Random(7))
    first = calls(runtime)[0]
    log_and_score(runtime, first.id, seconds=45, values=FULL)
    client = sign_in(app, "auditor")
    zh = client.get("/staff/mystery/results?lang=zh").get_data(as_text=True).split('id="hotline-ranking"')[1]
    en = client.get("/staff/mystery/results?lang=en").get_data(as_text=True).split('id="hotline-ranking"')[1]
    assert "<td>45秒</td>" in zh and "45.0" not in zh
    assert "<td>45 sec</td>" in en and "Median time to answer" in en


def test_each_ticket_behind_a_figure_links_to_its_page(app, runtime, dataset):
    page = sign_in(app, "leader").get("/stats/tickets?period=month&date=2026-11-23&measure=sign&outcome=late")
    text = page.get_data(as_text=True)
    with runtime.db.session() as s:
        late = sorted(s.get(Ticket, i).number for i in dataset[1:])  # T2 signed late, T3 never signed
    for number in late:
        assert f'<a href="/staff/tickets/{number}">{number}</a>' in text
