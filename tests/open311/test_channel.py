"""``open311`` is a channel like the others: in the statistics' group-by and the portal's filter."""

from __future__ import annotations

from datetime import date

from stats import facts
from stats import services as stats
from tests.open311.conftest import API, light_report


def test_statistics_by_channel_name_the_open311_channel(client, api_key, runtime, drain):
    assert client.post(f"{API}/requests.json", data=light_report(api_key)).status_code == 201
    drain()
    facts.refresh(runtime)
    with runtime.db.session() as s:
        rows = stats.summary(s, stats.Filters(date(2026, 11, 1), date(2026, 11, 30)), "channel", "en")
        zh = stats.summary(s, stats.Filters(date(2026, 11, 1), date(2026, 11, 30), channel="open311"), "channel", "zh")
    assert [(r.key, r.name, r.count) for r in rows] == [("open311", "Open311", 1)]
    assert [r.name for r in zh] == ["Open311 接口"]


def test_the_portal_filters_tickets_by_the_open311_channel(app, client, api_key, runtime):
    from tests.factories import complaint

    number = client.post(f"{API}/requests.json", data=light_report(api_key)).get_json()[0]["service_request_id"]
    web = complaint(runtime, "窗口办事拖延", channel="web")
    staff = app.test_client()
    assert (
        staff.post("/staff/login", data={"username": "dispatcher", "password": "dispatcher-demo-2026"}).status_code
        == 302
    )
    page = staff.get("/staff/tickets?channel=open311").get_data(as_text=True)
    assert number in page and web.number not in page
