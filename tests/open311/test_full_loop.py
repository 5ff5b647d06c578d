"""Filed through Open311, routed, answered by the unit in the portal, the answer read back; no personal data out."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hotline_core.models import Assignment, Ticket, TicketEvent, Unit
from tests.helpers import sign_in
from tests.open311.conftest import API, light_report, xml

NAME, SURNAME, EMAIL, PHONE = "Mei", "Zhang", "zhang.mei@example.org", "+8613800138000"


def file_property_complaint(client, api_key):
    form = light_report(
        api_key,
        service_code="CONSTRUCTION-PROPERTY",
        description="东湖小区物业乱收费，业主多次反映无人处理",
        **{"attribute[POLE]": None, "attribute[PROBLEM][]": None},
    )
    response = client.post(f"{API}/requests.json", data=form)
    assert response.status_code == 201
    return response.get_json()[0]["service_request_id"]


def answer_in_portal(app, number):
    unit = sign_in(app, "unitstaff")
    for action, form in (
        ("sign", {}),
        ("reply", {"text": "已约谈物业公司，本周内退还多收费用。"}),
        ("resolve", {"text": "物业公司已退还多收费用，业主确认。"}),
    ):
        response = unit.post(f"/staff/tickets/{number}/{action}", data=form)
        assert response.status_code == 303


@pytest.fixture
def answered(app, client, api_key, runtime, drain):
    number = file_property_complaint(client, api_key)
    drain()
    answer_in_portal(app, number)
    drain()
    return number


def test_a_request_filed_through_open311_is_routed_to_the_unit(client, api_key, runtime, drain):
    number = file_property_complaint(client, api_key)
    drain()
    with runtime.db.session() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        unit = s.get(Unit, ticket.lead_unit_id)
        assert unit.code == "HOUSING"
        assert s.scalars(select(Assignment).where(Assignment.ticket_id == ticket.id)).one().unit_id == unit.id


def test_the_units_answer_is_readable_through_get_requests(client, answered):
    record = client.get(f"{API}/requests/{answered}.json").get_json()[0]
    assert record["status"] == "closed"
    assert record["status_notes"] == "物业公司已退还多收费用，业主确认。"
    assert record["agency_responsible"] == "市住房和城乡建设局"
    closed = client.get(f"{API}/requests.xml?status=closed")
    assert xml(closed).findtext("request/service_request_id") == answered


def test_the_units_answers_are_service_request_updates(client, answered):
    updates = client.get(f"{API}/servicerequestupdates.json").get_json()
    mine = [u for u in updates if u["service_request_id"] == answered]
    assert [u["status"] for u in mine] == ["OPEN", "INVESTIGATING", "IN_PROGRESS", "FIXED"]
    assert mine[2]["description"] == "已约谈物业公司，本周内退还多收费用。"
    assert set(mine[0]) == {"update_id", "service_request_id", "status", "updated_datetime", "description", "media_url"}
    root = xml(client.get(f"{API}/servicerequestupdates.xml"))
    assert root.tag == "service_request_updates"
    assert [u.findtext("status") for u in root.findall("request_update")] == [
        "OPEN",
        "INVESTIGATING",
        "IN_PROGRESS",
        "FIXED",
    ]


def test_a_client_posts_an_update_once_per_update_id(client, api_key, answered, runtime):
    form = {
        "api_key": api_key,
        "service_request_id": answered,
        "update_id": "fms-55",
        "status": "OPEN",
        "updated_datetime": "2026-11-23T10:00:00+08:00",
        "description": "路灯还是不亮",
    }
    first = client.post(f"{API}/servicerequestupdates.xml", data=form)
    again = client.post(f"{API}/servicerequestupdates.xml", data=form)
    assert first.status_code == again.status_code == 200
    assert xml(first).tag == "service_request_updates"
    assert xml(first).findtext("request_update/update_id") == xml(again).findtext("request_update/update_id")
    with runtime.db.session() as s:
        messages = s.scalars(select(TicketEvent).where(TicketEvent.kind == "citizen_message")).all()
        assert [m.body for m in messages] == ["路灯还是不亮"]
    bad = client.post(f"{API}/servicerequestupdates.json", data={**form, "status": "MAYBE", "update_id": "fms-56"})
    assert bad.status_code == 400
    unknown = client.post(f"{API}/servicerequestupdates.json", data={**form, "service_request_id": "2026-999999"})
    assert unknown.status_code == 404
    assert client.post(f"{API}/servicerequestupdates.json", data={**form, "api_key": ""}).status_code == 403


def test_no_answer_ever_carries_the_citizens_name_phone_or_email(app, client, api_key, runtime, drain):
    from tests.factories import complaint

    # The citizen's details in the form, and their phone and e-mail written into the description too.
    form = light_report(api_key, description=f"路灯坏了，请打 13800138000 或写信 {EMAIL} 找 Zhang Mei")
    number = client.post(f"{API}/requests.json", data=form).get_json()[0]["service_request_id"]
    web = complaint(runtime, "窗口办事拖延，请回电 13912345678", channel="web", phone="+8613912345678", name="李雷")
    answered = file_property_complaint(client, api_key)
    drain()
    answer_in_portal(app, answered)
    drain()
    paths = [
        "discovery",
        "services",
        "services/CONSTRUCTION-LIGHTS",
        "requests",
        "requests?extensions=true",
        f"requests/{number}",
        f"requests/{web.number}?extensions=true",
        "servicerequestupdates",
    ]
    bodies = []
    for path in paths:
        for fmt in ("xml", "json"):
            base, _, query = path.partition("?")
            response = client.get(f"{API}/{base}.{fmt}?{query}&locale=en")
            assert response.status_code == 200, path
            bodies.append(response.get_data(as_text=True))
    bodies.append(client.post(f"{API}/requests.json", data=light_report(api_key)).get_data(as_text=True))
    text = "\n".join(bodies)
    assert number in text and web.number in text  # the answers are about these tickets
    for secret in (NAME, SURNAME, EMAIL, PHONE, "13800138000", "李雷", "13912345678", "example.org"):
        assert secret not in text, secret
