"""Each statistics page computes the figures it shows, and shows the figures it computes (issue 12's
benchmark: the dashboard and the ranking within 1.2x of hand-written SQL)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest

from stats import charts, services
from stats.services import Filters
from tests.stats.conftest import MONDAY_9

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
