"""The citizen's web form and ticket lookup."""

import io
import re

import pytest
from sqlalchemy import select

from hotline_core.models import Attachment, OutboxMessage, Ticket

pytestmark = pytest.mark.demo_city

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def file_complaint(client, **fields):
    data = {"description": "政务服务中心窗口工作人员态度恶劣，推诿不办。", "phone": "13800138000", "name": "张三"}
    data.update(fields)
    return client.post("/", data=data, content_type="multipart/form-data")


def only_ticket(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(Ticket)).one()


def test_the_form_is_served_in_chinese_by_default_and_english_on_request(client):
    assert "提交投诉" in client.get("/").get_data(as_text=True)
    english = client.get("/?lang=en")
    assert "Submit complaint" in english.get_data(as_text=True)
    assert "lang=en" in english.headers["Set-Cookie"]


def test_a_complaint_gets_a_ticket_number_at_once(client, runtime):
    response = file_complaint(client, category="WORKSTYLE", district="SARTU", contact_consent="y")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    ticket = only_ticket(runtime)
    assert ticket.number in page
    assert ticket.channel == "web" and ticket.citizen_phone == "+8613800138000" and ticket.citizen_name == "张三"
    assert ticket.contact_consent and ticket.category_id is not None and ticket.area_id is not None


def test_the_web_complainant_is_texted_the_number(client, runtime, drain):
    file_complaint(client)
    drain()
    with runtime.db.session() as s:
        [sms] = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement")).all()
    assert only_ticket(runtime).number in sms.body and sms.to_number == "+8613800138000"


def test_english_complaints_are_stored_in_english(client, runtime):
    client.get("/?lang=en")
    file_complaint(client, description="The clerk at the permit window shouted at me.")
    assert only_ticket(runtime).language == "en"


def test_the_ticket_can_be_tracked_with_the_last_four_digits(client, runtime):
    file_complaint(client)
    ticket = only_ticket(runtime)
    found = client.post("/track", data={"number": ticket.number, "last4": "8000"})
    assert found.status_code == 200 and "推诿不办" in found.get_data(as_text=True)
    wrong = client.post("/track", data={"number": ticket.number, "last4": "1234"})
    assert wrong.status_code == 404 and "推诿不办" not in wrong.get_data(as_text=True)


def test_an_anonymous_complaint_keeps_no_contact_and_is_tracked_by_code(client, runtime):
    response = file_complaint(client, anonymous="y", phone="", name="")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    ticket = only_ticket(runtime)
    assert ticket.anonymous and ticket.citizen_phone is None and ticket.citizen_name is None
    code = re.search(r"([A-Z2-9]{12})", page.split("access-code")[1]).group(1)
    assert code == ticket.lookup_code
    assert client.post("/track", data={"number": ticket.number, "last4": code}).status_code == 200


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"description": ""}, "此项为必填项"),
        ({"description": "太慢"}, "请至少写 5 个字"),
        ({"description": "拖" * 5001}, "不能超过 5000 个字"),
        ({"phone": ""}, "请填写手机号码，或选择匿名投诉"),
        ({"phone": "12345"}, "号码格式不正确"),
        ({"category": "NOPE"}, "请求无效"),
    ],
)
def test_invalid_input_is_explained_and_nothing_is_stored(client, runtime, fields, message):
    response = file_complaint(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    with runtime.db.session() as s:
        assert s.scalars(select(Ticket)).all() == []


def test_a_picture_is_stored_with_the_ticket(client, runtime):
    file_complaint(client, attachments=(io.BytesIO(PNG), "photo.png"))
    with runtime.db.session() as s:
        [attachment] = s.scalars(select(Attachment)).all()
    assert attachment.kind == "upload" and attachment.content_type == "image/png" and attachment.size_bytes == len(PNG)
    assert (runtime.settings.instance_path / attachment.storage_path).read_bytes() == PNG


def test_a_file_that_is_not_what_its_name_says_is_refused(client, runtime):
    response = file_complaint(client, attachments=(io.BytesIO(b"MZ\x90\x00 not a png"), "photo.png"))
    assert response.status_code == 400 and "不支持的文件类型" in response.get_data(as_text=True)


def test_an_executable_is_refused(client):
    response = file_complaint(client, attachments=(io.BytesIO(b"#!/bin/sh"), "run.sh"))
    assert response.status_code == 400


def test_an_oversized_file_is_refused(client, runtime):
    big = PNG + b"\x00" * runtime.settings.upload_max_bytes
    response = file_complaint(client, attachments=(io.BytesIO(big), "huge.png"))
    assert response.status_code in (400, 413)
    with runtime.db.session() as s:
        assert s.scalars(select(Ticket)).all() == []


def test_too_many_files_are_refused(client):
    files = [(io.BytesIO(PNG), f"p{i}.png") for i in range(4)]
    response = file_complaint(client, attachments=files)
    assert response.status_code == 400 and "最多上传 3 个文件" in response.get_data(as_text=True)


def test_the_form_needs_its_csrf_token(csrf_app, runtime):
    client = csrf_app.test_client()
    response = client.post("/", data={"description": "政务服务中心窗口工作人员态度恶劣。", "phone": "13800138000"})
    assert response.status_code == 400
    with runtime.db.session() as s:
        assert s.scalars(select(Ticket)).all() == []
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    ok = client.post(
        "/", data={"csrf_token": token, "description": "政务服务中心窗口工作人员态度恶劣。", "phone": "13800138000"}
    )
    assert ok.status_code == 302


def test_the_lookup_needs_its_csrf_token(csrf_app):
    assert csrf_app.test_client().post("/track", data={"number": "2026-000001", "last4": "8000"}).status_code == 400
