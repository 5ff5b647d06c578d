"""A real Open311 client over real HTTP on loopback: ``georeport`` from PyPI reads, the spec's form POST files."""

from __future__ import annotations

import threading

import pytest
from georeport import GeoReport
from werkzeug.serving import make_server

from tests.open311.client import Open311Client

# A live server answers from its own threads.
pytestmark = pytest.mark.committed


@pytest.fixture
def server(app, api_key, runtime):
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}/open311/v2"
    srv.shutdown()


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_georeport_reads_services_and_a_definition(server, fmt):
    client = GeoReport(server, output_format=fmt)
    services = client.get_service_list()
    assert "CONSTRUCTION-LIGHTS" in {s["service_code"] for s in services}
    definition = client.get_service_definition("CONSTRUCTION-LIGHTS")
    attributes = definition["attributes"]["attribute"] if fmt == "xml" else definition["attributes"]
    assert [a["code"] for a in attributes] == ["POLE", "PROBLEM", "COUNT", "SINCE"]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_request_filed_over_http_is_read_back_by_georeport(server, api_key, fmt, drain):
    status, answer = Open311Client(server, api_key, fmt).post_request(
        "CONSTRUCTION-LIGHTS",
        lat="46.59",
        long="125.10",
        description="让胡路区路灯不亮",
        attributes={"POLE": "RH-7", "PROBLEM": ["dark"]},
    )
    assert status == 201
    number = answer[0]["service_request_id"]
    drain()
    client = GeoReport(server, output_format=fmt)
    one = client.get_service_request(number)
    assert one["service_request_id"] == number
    assert one["status"] == "open"
    listed = client.get_service_requests(service_code="CONSTRUCTION-LIGHTS", status="open")
    listed = listed if isinstance(listed, list) else [listed]  # xmltodict gives one request as a dict
    assert number in {r["service_request_id"] for r in listed}


def test_the_client_gets_the_error_list_for_a_bad_key(server):
    status, answer = Open311Client(server, "o311_nope", "xml").post_request("CONSTRUCTION-LIGHTS", lat="1", long="1")
    assert status == 403
    assert answer[0]["code"] == "403"
