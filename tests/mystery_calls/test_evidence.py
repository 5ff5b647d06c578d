"""Evidence that holds: recordings kept and played to those allowed, call times inside the campaign, automated
calls that say what is missing, auditors' own phone."""

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hotline_core.audit import Actor
from hotline_core.models import MysteryCall, User
from mystery_calls import services
from mystery_calls.services import MysteryCallError
from tests.factories import demo_city
from tests.test_mystery_calls import T0, calls, make_campaign

AUDITOR = Actor("user:auditor")


@pytest.fixture
def campaign(runtime):
    demo_city(runtime)
    with runtime.db.transaction() as s:
        found = make_campaign(s, runtime)
        services.plan_campaign(s, runtime, found, actor=AUDITOR, rng=random.Random(7))
    return found


def _auditor(app):
    client = app.test_client()
    assert client.post("/staff/login", data={"username": "auditor", "password": "auditor-demo-2026"}).status_code == 302
    return client


def _log(runtime, call_id, called_at):
    with runtime.db.transaction() as s:
        call = s.get(MysteryCall, call_id)
        services.log_manual(
            s,
            runtime,
            call,
            s.get(User, call.auditor_id),
            called_at=called_at,
            answered=True,
            seconds_to_answer=5,
            talk_seconds=60,
        )


def test_a_call_time_outside_the_campaign_is_refused(runtime, campaign):
    first = calls(runtime)[0]
    with pytest.raises(MysteryCallError, match="inside the campaign"):
        _log(runtime, first.id, datetime(2026, 11, 30, 16, 30, tzinfo=UTC))  # 2026-12-01 00:30 local
    _log(runtime, first.id, T0)
    assert calls(runtime)[0].state == "completed"


def test_an_uploaded_recording_plays_inline_for_the_auditor_and_not_for_another(app, runtime, campaign):
    first = calls(runtime)[0]
    client = _auditor(app)
    logged = client.post(
        f"/staff/mystery/calls/{first.id}/log",
        data={
            "called_at": "2026-11-25T10:00",
            "answered": "yes",
            "seconds_to_answer": "8",
            "talk_seconds": "95",
            "recording": (__import__("io").BytesIO(b"ID3\x03fake"), "call.mp3"),
        },
        content_type="multipart/form-data",
    )
    assert logged.status_code == 303
    page = client.get(f"/staff/mystery/calls/{first.id}").get_data(as_text=True)
    assert f'src="/staff/mystery/calls/{first.id}/recording"' in page
    audio = client.get(f"/staff/mystery/calls/{first.id}/recording")
    assert audio.status_code == 200 and audio.data == b"ID3\x03fake"
    assert audio.mimetype == "audio/mpeg"
    assert audio.headers["X-Content-Type-Options"] == "nosniff"
    assert audio.headers["Content-Disposition"] == "inline"
    with runtime.db.transaction() as s:
        other = User(username="auditor2", display_name="Auditor 2", role="auditor")
        other.set_password("auditor2-demo-2026")
        s.add(other)
    stranger = app.test_client()
    stranger.post("/staff/login", data={"username": "auditor2", "password": "auditor2-demo-2026"})
    assert stranger.get(f"/staff/mystery/calls/{first.id}/recording").status_code == 404


def test_without_twilio_or_a_phone_the_page_says_what_is_missing_instead_of_the_button(app, runtime, campaign):
    client = _auditor(app)
    first = calls(runtime)[0]
    page = client.get(f"/staff/mystery/calls/{first.id}?lang=en").get_data(as_text=True)
    assert 'id="form-place"' not in page
    assert "No Twilio account is configured" in page and "Your account has no phone number" in page
    saved = client.post("/staff/mystery/my-phone", data={"phone": "13900000501"})
    assert saved.status_code == 303
    with runtime.db.session() as s:
        assert s.scalars(select(User.phone).where(User.username == "auditor")).one() == "+8613900000501"
    page = client.get(f"/staff/mystery/calls/{first.id}?lang=en").get_data(as_text=True)
    assert "Your account has no phone number" not in page and "No Twilio account is configured" in page


class TestTwilioRecording:
    @pytest.fixture
    def twilio_runtime(self, make_runtime, twilio_settings):
        rt = make_runtime(twilio_settings)
        demo_city(rt)
        with rt.db.transaction() as s:
            s.scalars(select(User).where(User.username == "auditor")).one().phone = "+8613900000501"
            found = make_campaign(s, rt)
            services.plan_campaign(s, rt, found, actor=AUDITOR, rng=random.Random(3))
        return rt

    def test_twilios_recording_is_downloaded_with_the_account_credentials_and_kept(
        self, twilio_runtime, twilio_settings, fake_twilio
    ):
        rt = twilio_runtime
        first = calls(rt)[0]
        with rt.db.transaction() as s:
            call = s.get(MysteryCall, first.id)
            services.record_recording(
                s,
                call,
                {
                    "RecordingStatus": "completed",
                    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/"
                    f"{twilio_settings.twilio_account_sid}/Recordings/RE123",
                    "RecordingSid": "RE123",
                },
                runtime=rt,
            )

        def kept():
            with rt.db.session() as s:
                return s.get(MysteryCall, first.id).recording_file

        rt.jobs.run_burst()  # the download job, enqueued after the commit, as a worker runs it
        stored = kept()
        [get] = [r for r in fake_twilio.requests if r.method == "GET"][:1]
        assert get.path.endswith("/Recordings/RE123.mp3")
        assert get.account == twilio_settings.twilio_account_sid and get.password == twilio_settings.twilio_auth_token
        assert stored == f"recordings/{first.id}-RE123.mp3"
        assert (rt.settings.instance_path / stored).read_bytes() == fake_twilio.recording_audio
        with rt.db.session() as s:
            assert s.get(MysteryCall, first.id).recording_file == stored


def test_an_admin_edits_a_users_role_unit_and_phone(app, runtime):
    demo_city(runtime)
    client = app.test_client()
    client.post("/staff/login", data={"username": "admin", "password": "admin-demo-2026"})
    with runtime.db.session() as s:
        auditor_id = s.scalars(select(User.id).where(User.username == "auditor")).one()
    edited = client.post(
        f"/staff/admin/users/{auditor_id}/edit",
        data={"display_name": "暗访员甲", "role": "unit_head", "unit": "HRSS", "phone": "13900000777"},
    )
    assert edited.status_code == 302
    with runtime.db.session() as s:
        user = s.get(User, auditor_id)
        assert (user.display_name, user.role, user.phone) == ("暗访员甲", "unit_head", "+8613900000777")
        assert user.unit_id is not None
    refused = client.post(
        f"/staff/admin/users/{auditor_id}/edit?lang=en", data={"display_name": "x", "role": "unit_staff", "unit": ""}
    )
    assert refused.status_code == 400 and "This role needs a unit." in refused.get_data(as_text=True)
