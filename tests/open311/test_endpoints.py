"""Each GeoReport v2 endpoint in XML and JSON: root elements, field lists and types, as the spec gives them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hotline_core.models import AuditEntry, Open311Request, Ticket
from tests.open311.conftest import API, light_report, xml

SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
ATTRIBUTE_FIELDS = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]


@pytest.fixture(autouse=True)
def _city(city):
    return city


def file_light(client, api_key, **overrides):
    response = client.post(f"{API}/requests.json", data=light_report(api_key, **overrides))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()[0]["service_request_id"]


# --- discovery and services ----------------------------------------------------------------------


def test_discovery_in_xml_has_every_field_and_both_formats(client):
    root = xml(client.get(f"{API}/discovery.xml"))
    assert root.tag == "discovery"
    assert [c.tag for c in root] == ["changeset", "contact", "key_service", "endpoints"]
    endpoint = root.find("endpoints/endpoint")
    assert [c.tag for c in endpoint] == ["specification", "url", "changeset", "type", "formats"]
    assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint.findtext("url") == "http://localhost/open311/v2"
    assert endpoint.findtext("type") == "production"
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]


def test_discovery_in_json_is_the_same_document(client):
    response = client.get(f"{API}/discovery.json")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.get_json()
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    assert body["endpoints"][0]["formats"] == ["text/xml", "application/json"]


def test_services_in_xml_list_active_categories_with_typed_fields(client):
    response = client.get(f"{API}/services.xml")
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = xml(response)
    assert root.tag == "services"
    services = {s.findtext("service_code"): s for s in root.findall("service")}
    light = services["CONSTRUCTION-LIGHTS"]
    assert [c.tag for c in light] == SERVICE_FIELDS
    assert light.findtext("service_name") == "路灯照明"
    assert light.findtext("metadata") == "true"
    assert services["LABOUR"].findtext("metadata") == "false"
    assert light.findtext("type") == "realtime"
    assert light.findtext("group") == "城乡建设"
    assert light.findtext("keywords") == "路灯, street light"


def test_services_in_json_use_strings_for_codes_and_booleans_for_metadata(client):
    body = client.get(f"{API}/services.json").get_json()
    assert isinstance(body, list)
    for service in body:
        assert list(service) == SERVICE_FIELDS
        assert isinstance(service["service_code"], str)
        assert isinstance(service["metadata"], bool)


def test_services_follow_accept_language_and_the_locale_parameter(client):
    english = client.get(f"{API}/services.json", headers={"Accept-Language": "en-US,en;q=0.8"}).get_json()
    assert {s["service_name"] for s in english} >= {"Street lighting", "Unpaid wages"}
    by_locale = client.get(f"{API}/services.json?locale=en").get_json()
    assert by_locale == english
    chinese = client.get(f"{API}/services.json").get_json()
    assert "路灯照明" in {s["service_name"] for s in chinese}


def test_an_inactive_category_is_not_a_service(client, runtime):
    from tests.open311.conftest import import_yaml

    import_yaml(
        runtime, "categories:\n  - {code: LABOUR-WAGES, name_zh: 拖欠工资, name_en: Unpaid wages, active: false}\n"
    )
    codes = {s["service_code"] for s in client.get(f"{API}/services.json").get_json()}
    assert "LABOUR-WAGES" not in codes and "LABOUR" in codes
    assert client.get(f"{API}/services/LABOUR-WAGES.json").status_code == 404


def test_service_definition_in_xml_has_attributes_and_list_values(client):
    root = xml(client.get(f"{API}/services/CONSTRUCTION-LIGHTS.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "CONSTRUCTION-LIGHTS"
    attributes = root.findall("attributes/attribute")
    assert [a.findtext("code") for a in attributes] == ["POLE", "PROBLEM", "COUNT", "SINCE"]
    problem = attributes[1]
    assert [c.tag for c in problem] == ATTRIBUTE_FIELDS
    assert problem.findtext("datatype") == "multivaluelist"
    assert problem.findtext("required") == "true"
    assert problem.findtext("variable") == "true"
    assert problem.findtext("order") == "2"
    assert [(v.findtext("key"), v.findtext("name")) for v in problem.findall("values/value")] == [
        ("dark", "不亮"),
        ("flicker", "闪烁"),
        ("daytime", "白天亮"),
    ]


def test_service_definition_in_json_types_flags_orders_and_keys(client):
    body = client.get(f"{API}/services/CONSTRUCTION-LIGHTS.json?locale=en").get_json()
    assert body["service_code"] == "CONSTRUCTION-LIGHTS"
    first = body["attributes"][0]
    assert list(first) == ATTRIBUTE_FIELDS
    assert first["variable"] is True and first["required"] is True and first["order"] == 1
    assert first["description"] == "Pole number"
    values = body["attributes"][1]["values"]
    assert all(isinstance(v["key"], str) for v in values)
    assert values[0]["name"] == "Not lit"


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_an_unknown_service_definition_is_404_with_an_error_list(client, fmt):
    response = client.get(f"{API}/services/NOPE.{fmt}")
    assert response.status_code == 404
    if fmt == "xml":
        root = xml(response)
        assert root.tag == "errors"
        assert root.findtext("error/code") == "404"
        assert "NOPE" in root.findtext("error/description")
    else:
        body = response.get_json()
        assert body[0]["code"] == 404 and "NOPE" in body[0]["description"]


# --- POST requests -------------------------------------------------------------------------------


def test_post_request_in_xml_answers_the_ticket_number_at_once(client, api_key, runtime):
    response = client.post(f"{API}/requests.xml", data=light_report(api_key))
    assert response.status_code == 201
    root = xml(response)
    assert root.tag == "service_requests"
    request = root.find("request")
    assert [c.tag for c in request] == ["service_request_id", "service_notice", "account_id"]
    number = request.findtext("service_request_id")
    with runtime.db.session() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.channel == "open311"
        assert ticket.citizen_name == "Mei Zhang"
        assert ticket.citizen_phone == "+8613800138000"


def test_post_request_in_json_stores_location_attributes_and_client_fields(client, api_key, runtime):
    response = client.post(
        f"{API}/requests.json",
        data=light_report(api_key, account_id="acc-7", device_id="dev-1", **{"attribute[COUNT]": "3"}),
    )
    body = response.get_json()
    assert isinstance(body[0]["service_request_id"], str)
    assert body[0]["account_id"] == "acc-7"
    with runtime.db.session() as s:
        row = s.scalars(select(Open311Request)).one()
        assert (row.lat, row.long) == (46.5907, 125.1035)
        assert row.attributes == {"POLE": "SE-0042", "PROBLEM": ["dark", "flicker"], "COUNT": "3"}
        assert row.email == "zhang.mei@example.org" and row.device_id == "dev-1"


def test_a_multivaluelist_takes_several_values_and_refuses_an_unknown_one(client, api_key):
    ok = client.post(f"{API}/requests.json", data=light_report(api_key, **{"attribute[PROBLEM][]": ["daytime"]}))
    assert ok.status_code == 201
    bad = client.post(
        f"{API}/requests.json", data=light_report(api_key, **{"attribute[PROBLEM][]": ["dark", "broken"]})
    )
    assert bad.status_code == 400
    assert "broken" in bad.get_json()[0]["description"]


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"attribute[POLE]": None}, "POLE"),
        ({"attribute[POLE]": ""}, "POLE"),  # an empty parameter counts as absent
        ({"attribute[COUNT]": "three"}, "COUNT"),
        ({"attribute[SINCE]": "yesterday"}, "SINCE"),
        ({"attribute[POLE]": "A\nB"}, "POLE"),
        ({"attribute[PROBLEM][]": None}, "PROBLEM"),
    ],
)
def test_attributes_are_validated_against_the_service_definition(client, api_key, overrides, needle):
    response = client.post(f"{API}/requests.json", data=light_report(api_key, **overrides))
    assert response.status_code == 400
    assert any(needle in e["description"] for e in response.get_json())


def test_a_datetime_attribute_with_an_offset_is_accepted(client, api_key):
    response = client.post(
        f"{API}/requests.json", data=light_report(api_key, **{"attribute[SINCE]": "2026-11-20T19:00:00+08:00"})
    )
    assert response.status_code == 201


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("key", [None, "", "o311_wrong"])
def test_posting_without_a_valid_api_key_is_403(client, fmt, key):
    form = {**light_report("x"), "api_key": key}
    form = {k: v for k, v in form.items() if v is not None}
    response = client.post(f"{API}/requests.{fmt}", data=form)
    assert response.status_code == 403
    errors = xml(response).findall("error") if fmt == "xml" else response.get_json()
    assert len(errors) == 1


def test_a_revoked_key_is_403(client, api_key, runtime):
    from hotline_core.audit import Actor
    from open311 import services

    with runtime.db.transaction() as s:
        services.revoke_key(s, "fixmystreet", runtime.now(), Actor("test"))
    assert client.post(f"{API}/requests.json", data=light_report(api_key)).status_code == 403


def test_an_unknown_service_code_is_404_and_a_missing_one_400(client, api_key):
    assert client.post(f"{API}/requests.json", data=light_report(api_key, service_code="NOPE")).status_code == 404
    response = client.post(f"{API}/requests.json", data=light_report(api_key, service_code=""))
    assert response.status_code == 400
    assert "service_code" in response.get_json()[0]["description"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"lat": None, "long": None},
        {"long": None},
        {"lat": "91", "long": "125"},
        {"address_string": "萨尔图区中央大街 12 号"},
        {"lat": None, "long": None, "address_string": "中央大街", "address_id": "A-1"},
    ],
)
def test_exactly_one_location_is_required(client, api_key, overrides):
    assert client.post(f"{API}/requests.json", data=light_report(api_key, **overrides)).status_code == 400


@pytest.mark.parametrize("location", [{"address_string": "萨尔图区中央大街 12 号"}, {"address_id": "ADDR-77"}])
def test_an_address_string_or_id_alone_is_a_location(client, api_key, location):
    form = light_report(api_key, lat=None, long=None, **location)
    assert client.post(f"{API}/requests.json", data=form).status_code == 201


def test_a_description_longer_than_4000_characters_is_refused(client, api_key):
    assert client.post(f"{API}/requests.json", data=light_report(api_key, description="灯" * 4000)).status_code == 201
    response = client.post(f"{API}/requests.json", data=light_report(api_key, description="灯" * 4001))
    assert response.status_code == 400


def test_several_problems_are_answered_in_one_error_list(client, api_key):
    form = light_report(api_key, lat=None, long=None, media_url="ftp://x", **{"attribute[POLE]": None})
    errors = client.post(f"{API}/requests.json", data=form).get_json()
    assert len(errors) == 3
    assert all(e["code"] == 400 for e in errors)


def test_a_retry_of_the_same_request_answers_the_same_ticket(client, api_key, runtime):
    first = client.post(f"{API}/requests.json", data=light_report(api_key))
    again = client.post(f"{API}/requests.json", data=light_report(api_key))
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()[0]["service_request_id"] == again.get_json()[0]["service_request_id"]
    with runtime.db.session() as s:
        assert len(s.scalars(select(Ticket)).all()) == 1


def test_an_idempotency_key_header_makes_a_retry_with_other_fields_the_same_request(client, api_key, runtime):
    headers = {"Idempotency-Key": "fms-report-991"}
    first = client.post(f"{API}/requests.json", data=light_report(api_key), headers=headers)
    again = client.post(f"{API}/requests.json", data=light_report(api_key, device_id="retry"), headers=headers)
    assert first.get_json() == again.get_json()
    other = client.post(f"{API}/requests.json", data=light_report(api_key, description="另一处路灯也坏了"))
    assert other.get_json()[0]["service_request_id"] != first.get_json()[0]["service_request_id"]


def test_a_filed_request_is_acknowledged_by_sms_and_routed_like_any_complaint(client, api_key, runtime, drain):
    from hotline_core.models import Assignment, OutboxMessage

    number = file_light(client, api_key)
    drain()
    with runtime.db.session() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.processed_at is not None and ticket.lead_unit_id is not None
        assert s.scalars(select(Assignment).where(Assignment.ticket_id == ticket.id)).first() is not None
        ack = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement")).one()
        assert number in ack.body and ack.to_number == "+8613800138000"


def test_every_keyed_request_is_audited_with_the_key_name(client, api_key, runtime):
    file_light(client, api_key)
    client.get(f"{API}/services.json?api_key={api_key}")
    with runtime.db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.actor == "open311:fixmystreet"))]
    assert actions == ["open311.request.create", "open311.services"]


def test_the_token_of_a_request_resolves_to_its_id(client, api_key, runtime):
    number = file_light(client, api_key)
    with runtime.db.session() as s:
        token = s.scalars(select(Open311Request.token)).one()
    root = xml(client.get(f"{API}/tokens/{token}.xml"))
    assert root.tag == "service_requests"
    assert (root.findtext("request/service_request_id"), root.findtext("request/token")) == (number, token)
    assert client.get(f"{API}/tokens/{token}.json").get_json() == [{"service_request_id": number, "token": token}]
    assert client.get(f"{API}/tokens/nope.json").status_code == 404


# --- GET requests --------------------------------------------------------------------------------


def test_get_requests_in_xml_carries_every_field_of_the_spec(client, api_key, drain):
    number = file_light(client, api_key)
    drain()
    root = xml(client.get(f"{API}/requests.xml"))
    assert root.tag == "service_requests"
    request = root.find("request")
    assert [c.tag for c in request] == REQUEST_FIELDS
    assert request.findtext("service_request_id") == number
    assert request.findtext("status") == "open"
    assert request.findtext("service_code") == "CONSTRUCTION-LIGHTS"
    assert request.findtext("agency_responsible") == "市住房和城乡建设局"
    assert request.findtext("requested_datetime") == "2026-11-23T09:00:00+08:00"
    assert request.findtext("expected_datetime").endswith("+08:00")
    assert (request.findtext("lat"), request.findtext("long")) == ("46.5907", "125.1035")


def test_get_requests_in_json_types_ids_as_strings_and_coordinates_as_numbers(client, api_key, drain):
    file_light(client, api_key)
    drain()
    body = client.get(f"{API}/requests.json").get_json()
    assert list(body[0]) == REQUEST_FIELDS
    assert isinstance(body[0]["service_request_id"], str) and isinstance(body[0]["service_code"], str)
    assert isinstance(body[0]["lat"], float)


def test_get_one_request_answers_a_list_of_one_and_404_for_an_unknown_id(client, api_key):
    number = file_light(client, api_key)
    root = xml(client.get(f"{API}/requests/{number}.xml"))
    assert root.tag == "service_requests" and len(root.findall("request")) == 1
    assert client.get(f"{API}/requests/{number}.json").get_json()[0]["service_request_id"] == number
    missing = client.get(f"{API}/requests/2026-999999.xml")
    assert missing.status_code == 404 and xml(missing).tag == "errors"


def test_requests_of_every_channel_are_listed(client, api_key, runtime):
    from tests.factories import complaint

    web = complaint(runtime, "窗口办事拖延", channel="web")
    numbers = {r["service_request_id"] for r in client.get(f"{API}/requests.json").get_json()}
    assert web.number in numbers


def test_service_request_id_overrides_the_other_filters(client, api_key):
    a = file_light(client, api_key)
    b = file_light(client, api_key, description="第二盏路灯")
    file_light(client, api_key, description="第三盏路灯")
    query = f"service_request_id={a},{b}&service_code=LABOUR&status=closed"
    assert {r["service_request_id"] for r in client.get(f"{API}/requests.json?{query}").get_json()} == {a, b}


def test_requests_filter_by_service_code_status_and_dates(client, api_key, runtime, clock):
    from tests.factories import complaint

    light = file_light(client, api_key)
    wages = complaint(runtime, "公司拖欠工资三个月", channel="web", category_code="LABOUR-WAGES")
    by_code = client.get(f"{API}/requests.json?service_code=LABOUR-WAGES").get_json()
    assert [r["service_request_id"] for r in by_code] == [wages.number]
    assert {r["service_request_id"] for r in client.get(f"{API}/requests.json?status=open").get_json()} == {
        light,
        wages.number,
    }
    assert client.get(f"{API}/requests.json?status=closed").get_json() == []
    later = client.get(f"{API}/requests.json?start_date=2026-11-24T00:00:00%2B08:00").get_json()
    assert later == []
    window = "start_date=2026-11-23T00:00:00Z&end_date=2026-11-23T02:00:00Z"
    assert {r["service_request_id"] for r in client.get(f"{API}/requests.json?{window}").get_json()} == {
        light,
        wages.number,
    }


def test_requests_default_to_the_last_90_days(client, api_key, clock):
    old = file_light(client, api_key)
    clock.advance(91 * 86400)
    assert client.get(f"{API}/requests.json").get_json() == []
    assert client.get(f"{API}/requests.json?service_request_id={old}").get_json()[0]["service_request_id"] == old


@pytest.mark.parametrize(
    "query",
    [
        "start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z",
        "start_date=2026-11-01",
        "start_date=yesterday",
        "start_date=2026-11-02T00:00:00Z&end_date=2026-11-01T00:00:00Z",
        "status=pending",
        "page=0",
        "page_size=x",
    ],
)
def test_bad_request_filters_are_400_with_an_error_list(client, query):
    response = client.get(f"{API}/requests.json?{query}")
    assert response.status_code == 400
    assert response.get_json()[0]["code"] == 400


def test_requests_are_paged(client, api_key):
    numbers = [file_light(client, api_key, description=f"第{i}盏路灯") for i in range(3)]
    first = client.get(f"{API}/requests.json?page_size=2").get_json()
    second = client.get(f"{API}/requests.json?page_size=2&page=2").get_json()
    assert [r["service_request_id"] for r in first + second] == list(reversed(numbers))


def test_extensions_add_the_attributes_and_public_notes(client, api_key, drain):
    number = file_light(client, api_key)
    drain()
    plain = client.get(f"{API}/requests/{number}.json").get_json()[0]
    assert "attributes" not in plain and "notes" not in plain
    extended = client.get(f"{API}/requests/{number}.json?extensions=true&locale=en").get_json()[0]
    assert {(a["code"], a["value"]) for a in extended["attributes"]} == {
        ("POLE", "SE-0042"),
        ("PROBLEM", "dark"),
        ("PROBLEM", "flicker"),
    }
    assert [n["type"] for n in extended["notes"]] == ["assigned"]
    root = xml(client.get(f"{API}/requests/{number}.xml?extensions=true"))
    assert [a.findtext("code") for a in root.findall("request/attributes/attribute")] == ["POLE", "PROBLEM", "PROBLEM"]
    assert root.findtext("request/notes/note/type") == "assigned"


# --- settings: reading, privacy, jurisdiction, limits --------------------------------------------


def test_reading_can_be_key_only(client, api_key, runtime):
    from tests.open311.conftest import set_open311

    set_open311(runtime, read_access="key")
    assert client.get(f"{API}/services.json").status_code == 403
    assert client.get(f"{API}/requests.xml").status_code == 403
    assert client.get(f"{API}/services.json?api_key={api_key}").status_code == 200


def test_an_anonymous_ticket_is_reduced_to_its_status_by_default(client, runtime):
    from tests.factories import complaint

    ticket = complaint(runtime, "窗口工作人员玩手机", channel="web", anonymous=True)
    record = client.get(f"{API}/requests/{ticket.number}.json").get_json()[0]
    assert record["status"] == "open"
    assert record["description"] is None and record["lat"] is None and record["status_notes"] is None


def test_an_anonymous_ticket_is_left_out_when_the_directory_says_omit(client, runtime):
    from tests.factories import complaint
    from tests.open311.conftest import set_open311

    set_open311(runtime, private_tickets="omit")
    ticket = complaint(runtime, "窗口工作人员玩手机", channel="web", anonymous=True)
    assert client.get(f"{API}/requests/{ticket.number}.json").status_code == 404
    assert client.get(f"{API}/requests.json").get_json() == []


def test_a_jurisdiction_id_may_be_left_out_but_not_be_another(client, runtime):
    from tests.open311.conftest import set_open311

    set_open311(runtime, jurisdiction_id="daqing.gov.cn")
    assert client.get(f"{API}/services.json").status_code == 200
    assert client.get(f"{API}/services.json?jurisdiction_id=daqing.gov.cn").status_code == 200
    assert client.get(f"{API}/services.json?jurisdiction_id=").status_code == 200
    assert client.get(f"{API}/services.json?jurisdiction_id=sfgov.org").status_code == 404


def test_each_key_has_its_own_rate_limit(client, runtime, city):
    from hotline_core.audit import Actor
    from open311 import services

    with runtime.db.transaction() as s:
        _, slow = services.create_key(s, "slow-app", runtime.now(), Actor("test"), "2/minute")
        _, fast = services.create_key(s, "fast-app", runtime.now(), Actor("test"), "100/minute")
    codes = [client.get(f"{API}/services.json?api_key={slow}").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    limited = client.get(f"{API}/services.xml?api_key={slow}")
    assert xml(limited).findtext("error/code") == "429"
    assert client.get(f"{API}/services.json?api_key={fast}").status_code == 200


def test_an_unknown_path_or_format_answers_an_error_list(client):
    response = client.get(f"{API}/services.csv")
    assert response.status_code == 404
    assert xml(response).tag == "errors"
    assert json.loads(client.get(f"{API}/nothing.json").get_data())[0]["code"] == 404


def test_the_api_takes_posts_without_a_csrf_token(csrf_app, api_key):
    response = csrf_app.test_client().post(f"{API}/requests.json", data=light_report(api_key))
    assert response.status_code == 201


def test_attributes_the_definition_does_not_have_are_ignored(client, api_key, runtime):
    extras = {"attribute[fixmystreet_id]": "123", "attribute[title]": "路灯不亮"}  # FixMyStreet sends its own
    assert client.post(f"{API}/requests.json", data=light_report(api_key, **extras)).status_code == 201
    with runtime.db.session() as s:
        assert set(s.scalars(select(Open311Request)).one().attributes) == {"POLE", "PROBLEM"}
