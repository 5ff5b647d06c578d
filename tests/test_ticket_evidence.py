"""Issue 13, point 1: evidence opens. Citizens' photos, MMS media, call recordings and units' evidence open
for those who may see the ticket, through one authorised route; Twilio's media is fetched and kept."""

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline_app.factory import create_app
from hotline_core.models import Attachment, AuditEntry, Role, Ticket, Unit
from intake import evidence
from intake.services import AttachmentIn, add_attachment
from simulator.twilio_requests import ACCOUNT_SID
from tests.conftest import wsgi_phone
from tests.factories import complaint, housing_ticket, user
from tests.helpers import sign_in

pytestmark = pytest.mark.demo_city

CITIZEN = "+8613800138000"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
PDF = b"%PDF-1.4 fake"
MEDIA_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/ME1"


@pytest.fixture
def twilio_runtime(make_runtime, twilio_settings):
    return make_runtime(twilio_settings)


@pytest.fixture
def twilio_app(twilio_runtime):
    application = create_app(runtime=twilio_runtime)
    application.config["WTF_CSRF_ENABLED"] = False
    return application


def twilio_phone(app, settings):
    """A citizen's phone whose requests Twilio signs for the public URL the service is configured with."""
    phone = wsgi_phone(app, settings)
    phone.base_url = settings.public_base_url
    return phone


def attachments(runtime, ticket_id=None):
    with runtime.db.session() as s:
        query = select(Attachment).order_by(Attachment.id)
        if ticket_id is not None:
            query = query.where(Attachment.ticket_id == ticket_id)
        return s.scalars(query).all()


def kept_file(runtime, relative, data, name="x"):
    """A file as the web form or the portal keeps it under the instance path."""
    path = Path(runtime.settings.instance_path) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return relative


def ticket_with_file(runtime, data, content_type, filename, kind="upload", **fields):
    ticket = housing_ticket(runtime, **fields)
    relative = kept_file(runtime, f"uploads/{kind}-{filename.encode().hex()[:16]}{Path(filename).suffix}", data)
    with runtime.db.transaction() as s:
        row = add_attachment(
            s,
            s.get(Ticket, ticket.id),
            AttachmentIn(kind=kind, content_type=content_type, filename=filename, storage_path=relative),
            runtime.now(),
        )
        attachment_id = row.id
    return ticket, attachment_id


# --- Twilio's media is fetched with the account's credentials and kept -------------------------------


def test_an_mms_picture_is_fetched_from_twilio_and_kept_under_the_instance_path(
    twilio_app, twilio_runtime, twilio_settings, fake_twilio
):
    phone = twilio_phone(twilio_app, twilio_settings)
    phone.text(CITIZEN, "照片为证：路灯坏了", media=[(MEDIA_URL, "image/jpeg")])
    twilio_runtime.jobs.run_burst()
    [row] = attachments(twilio_runtime)
    assert row.kind == "media" and row.url == MEDIA_URL and row.storage_path.startswith("media/")
    kept = Path(twilio_settings.instance_path) / row.storage_path
    assert kept.read_bytes() == fake_twilio.media_file[1] and row.content_type == "image/jpeg"
    [fetch] = [r for r in fake_twilio.requests if "/Media/" in r.path]
    assert fetch.account == twilio_settings.twilio_account_sid and fetch.password == "fake-auth-token"


def test_a_call_recording_is_fetched_and_kept_so_it_outlives_twilio(
    twilio_app, twilio_runtime, twilio_settings, fake_twilio
):
    phone = twilio_phone(twilio_app, twilio_settings)
    phone.call(CITIZEN, speech="燃气表旁边有煤气味", recording_seconds=9)
    twilio_runtime.jobs.run_burst()
    [row] = attachments(twilio_runtime)
    assert row.kind == "recording" and row.storage_path.endswith(".mp3") and row.content_type == "audio/mpeg"
    assert (Path(twilio_settings.instance_path) / row.storage_path).read_bytes() == fake_twilio.recording_audio
    with twilio_runtime.db.session() as s:
        assert s.scalars(select(AuditEntry).where(AuditEntry.action == "evidence.kept")).first() is not None


def test_a_failed_download_keeps_its_reason_and_the_sweep_fetches_it_later(
    twilio_app, twilio_runtime, twilio_settings, fake_twilio
):
    fake_twilio.media_failures = 1
    phone = twilio_phone(twilio_app, twilio_settings)
    phone.text(CITIZEN, "照片为证", media=[(MEDIA_URL, "image/jpeg")])
    twilio_runtime.jobs.run_burst()
    [row] = attachments(twilio_runtime)
    assert row.storage_path is None and "404" in row.fetch_error
    assert evidence.sweep_job() == 1
    twilio_runtime.jobs.run_burst()
    [row] = attachments(twilio_runtime)
    assert row.storage_path and row.fetch_error is None


def test_a_download_that_keeps_failing_is_given_up_after_a_day(
    twilio_app, twilio_runtime, twilio_settings, fake_twilio, clock
):
    fake_twilio.media_failures = 1
    twilio_phone(twilio_app, twilio_settings).text(CITIZEN, "照片为证", media=[(MEDIA_URL, "image/jpeg")])
    twilio_runtime.jobs.run_burst()
    clock.advance(25 * 3600)
    assert evidence.sweep_job() == 0


def test_a_link_that_is_not_twilios_is_never_sent_the_account_credentials(twilio_runtime, fake_twilio):
    ticket = complaint(twilio_runtime, "路口积水", channel="open311")
    with twilio_runtime.db.transaction() as s:
        row = add_attachment(
            s,
            s.get(Ticket, ticket.id),
            AttachmentIn(kind="media", url="https://attacker.example/steal.jpg"),
            twilio_runtime.now(),
            twilio_runtime,
        )
        attachment_id = row.id
    assert evidence.keep_attachment_job(attachment_id) is None
    assert evidence.sweep_job() == 0
    assert not [r for r in fake_twilio.requests if r.method == "GET"]


def test_without_twilio_credentials_the_url_is_kept_and_shown_as_such(app, runtime, phone):
    phone.text(CITIZEN, "照片为证：路灯坏了", media=[(MEDIA_URL, "image/jpeg")])
    [row] = attachments(runtime)
    assert row.url == MEDIA_URL and row.storage_path is None
    with runtime.db.session() as s:
        number = s.get(Ticket, row.ticket_id).number
    page = sign_in(app, Role.DISPATCHER).get(f"/staff/tickets/{number}?lang=zh").get_data(as_text=True)
    assert "仅存于 Twilio（未配置 Twilio 账号，未下载保存）" in page and MEDIA_URL in page
    english = sign_in(app, Role.DISPATCHER).get(f"/staff/tickets/{number}?lang=en").get_data(as_text=True)
    assert "Held by Twilio only (no Twilio credentials: not kept here)" in english


# --- the download route ------------------------------------------------------------------------------


def test_a_citizens_photo_opens_inline_without_sniffing_or_caching(app, runtime):
    ticket, attachment_id = ticket_with_file(runtime, PNG, "image/png", "photo.png")
    client = sign_in(app, Role.DISPATCHER)
    page = client.get(f"/staff/tickets/{ticket.number}").get_data(as_text=True)
    href = f"/staff/tickets/{ticket.number}/evidence/{attachment_id}"
    assert f'<img class="evidence-thumb" src="{href}"' in page
    shown = client.get(href)
    assert shown.status_code == 200 and shown.data == PNG and shown.mimetype == "image/png"
    assert shown.headers["Content-Disposition"].startswith("inline")
    assert shown.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in shown.headers["Cache-Control"]
    assert shown.headers["Content-Security-Policy"].strip() == "default-src 'none'; sandbox"


def test_a_recording_plays_inline_in_the_page(app, runtime):
    ticket, attachment_id = ticket_with_file(runtime, b"ID3\x03fake", "audio/mpeg", "call.mp3", kind="recording")
    client = sign_in(app, Role.LEADER)
    href = f"/staff/tickets/{ticket.number}/evidence/{attachment_id}"
    assert f'<audio controls preload="none" src="{href}">' in client.get(f"/staff/tickets/{ticket.number}").get_data(
        as_text=True
    )
    played = client.get(href)
    assert played.status_code == 200 and played.mimetype == "audio/mpeg"
    assert played.headers["Content-Disposition"].startswith("inline")


def test_other_files_download_as_attachments_with_a_safe_chinese_filename(app, runtime):
    ticket, attachment_id = ticket_with_file(runtime, PDF, "application/pdf", "现场情况说明.pdf")
    got = sign_in(app, Role.DISPATCHER).get(f"/staff/tickets/{ticket.number}/evidence/{attachment_id}")
    disposition = got.headers["Content-Disposition"]
    assert got.status_code == 200 and got.data == PDF and got.mimetype == "application/octet-stream"
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E7%8E%B0%E5%9C%BA%E6%83%85%E5%86%B5%E8%AF%B4%E6%98%8E.pdf" in disposition
    assert disposition.isascii() and "\n" not in disposition


def test_a_file_of_another_ticket_is_not_found_through_this_ticket(app, runtime):
    _ticket, attachment_id = ticket_with_file(runtime, PNG, "image/png", "photo.png")
    other = housing_ticket(runtime, "东湖小区物业又乱收费了")
    got = sign_in(app, Role.DISPATCHER).get(f"/staff/tickets/{other.number}/evidence/{attachment_id}")
    assert got.status_code == 404


def test_a_stored_path_outside_the_instance_path_is_never_served(app, runtime):
    ticket = housing_ticket(runtime)
    with runtime.db.transaction() as s:
        row = add_attachment(
            s,
            s.get(Ticket, ticket.id),
            AttachmentIn(kind="upload", content_type="image/png", storage_path="../../../../etc/passwd"),
            runtime.now(),
        )
        attachment_id = row.id
    got = sign_in(app, Role.DISPATCHER).get(f"/staff/tickets/{ticket.number}/evidence/{attachment_id}")
    assert got.status_code == 404


def test_a_unit_opens_its_own_evidence_but_not_another_units(app, runtime):
    ticket = housing_ticket(runtime)
    housing = sign_in(app, Role.UNIT_STAFF)
    assert housing.post(f"/staff/tickets/{ticket.number}/sign").status_code == 303
    resolved = housing.post(
        f"/staff/tickets/{ticket.number}/resolve",
        data={"text": "已责令物业退费", "evidence": (io.BytesIO(PNG), "退费收据.png")},
        content_type="multipart/form-data",
    )
    assert resolved.status_code == 303
    [row] = attachments(runtime, ticket.id)
    assert row.kind == "evidence"
    href = f"/staff/tickets/{ticket.number}/evidence/{row.id}"
    assert housing.get(href).status_code == 200
    with runtime.db.session() as s:
        transport = s.scalars(select(Unit.id).where(Unit.code == "TRANSPORT")).one()
    user(runtime, "bus-officer", Role.UNIT_STAFF, "bus-officer-pass", unit_id=transport)
    stranger = sign_in(app, "bus-officer", "bus-officer-pass")
    assert stranger.get(href).status_code == 404
    with runtime.db.session() as s:
        refused = s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.view_refused")).all()
    assert refused and refused[-1].actor == "user:bus-officer"


def test_an_auditor_cannot_open_ticket_evidence(app, runtime):
    ticket, attachment_id = ticket_with_file(runtime, PNG, "image/png", "photo.png")
    got = sign_in(app, Role.AUDITOR).get(f"/staff/tickets/{ticket.number}/evidence/{attachment_id}")
    assert got.status_code == 403
