"""Every Twilio webhook checks size, type and signature before anything is stored."""

from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from hotline_core.models import InboundEvent, Ticket
from simulator.twilio_requests import sign, sms_form


def count(runtime, model):
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def post(client, path, form, token, url=None, **headers):
    url = url or f"http://localhost{path}"
    headers.setdefault("X-Twilio-Signature", sign(token, url, form))
    return client.post(path, data=form, headers=headers)


def test_twilio_documented_signature_vector_validates():
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Digits": "1234",
        "From": "+14158675309",
        "To": "+18005551212",
        "Caller": "+14158675309",
    }
    assert sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_a_correctly_signed_sms_is_accepted(client, settings, runtime, drain):
    response = post(
        client, "/twilio/sms", sms_form("+8613800138000", "+8612345000000", "路灯坏了"), settings.webhook_auth_token
    )
    assert response.status_code == 200
    assert count(runtime, InboundEvent) == 1
    drain()
    assert count(runtime, Ticket) == 1


def test_a_forged_signature_gets_403_and_stores_nothing(client, runtime):
    form = sms_form("+8613800138000", "+8612345000000", "路灯坏了")
    response = post(client, "/twilio/sms", form, "not-the-token")
    assert response.status_code == 403
    assert count(runtime, InboundEvent) == 0 and count(runtime, Ticket) == 0


def test_a_missing_signature_gets_403(client, runtime):
    response = client.post("/twilio/sms", data=sms_form("+8613800138000", "+8612345000000", "hi"))
    assert response.status_code == 403
    assert b"X-Twilio-Signature" in response.data
    assert count(runtime, InboundEvent) == 0


def test_a_signature_for_other_fields_is_refused(client, settings, runtime):
    form = sms_form("+8613800138000", "+8612345000000", "路灯坏了")
    signature = sign(settings.webhook_auth_token, "http://localhost/twilio/sms", form)
    tampered = dict(form, Body="something else")
    response = client.post("/twilio/sms", data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_signatures_are_checked_against_the_public_url(make_settings, make_runtime, fake_twilio):
    from hotline_app.factory import create_app

    settings = make_settings(public_base_url="https://hotline.example.org")
    app = create_app(runtime=make_runtime(settings))
    client = app.test_client()
    form = sms_form("+8613800138000", "+8612345000000", "路灯坏了")
    token = settings.webhook_auth_token
    internal = post(client, "/twilio/sms", form, token)  # signed for http://localhost: what the proxy hides
    assert internal.status_code == 403
    public = post(
        client,
        "/twilio/sms",
        dict(form, MessageSid="SM" + "2" * 32),
        token,
        url="https://hotline.example.org/twilio/sms",
    )
    assert public.status_code == 200


def test_query_strings_are_part_of_the_signed_url(client, settings):
    form = {
        "CallSid": "CA" + "1" * 32,
        "From": "+8613800138000",
        "To": "+8612345000000",
        "CallStatus": "in-progress",
        "SpeechResult": "",
        "AccountSid": "AC" + "0" * 32,
    }
    validator = RequestValidator(settings.webhook_auth_token)
    good = validator.compute_signature("http://localhost/twilio/voice/gather?lang=en", form)
    without_query = validator.compute_signature("http://localhost/twilio/voice/gather", form)
    assert (
        client.post("/twilio/voice/gather?lang=en", data=form, headers={"X-Twilio-Signature": good}).status_code == 200
    )
    assert (
        client.post(
            "/twilio/voice/gather?lang=en", data=form, headers={"X-Twilio-Signature": without_query}
        ).status_code
        == 403
    )


def test_an_oversized_body_gets_413_and_stores_nothing(client, settings, runtime):
    form = sms_form("+8613800138000", "+8612345000000", "x")
    form["Padding"] = "y" * (settings.webhook_max_bytes + 10)
    response = post(client, "/twilio/sms", form, settings.webhook_auth_token)
    assert response.status_code == 413
    assert count(runtime, InboundEvent) == 0


def test_a_json_body_gets_415(client, settings):
    response = client.post("/twilio/sms", json={"Body": "hi"}, headers={"X-Twilio-Signature": "x"})
    assert response.status_code == 415


def test_missing_required_fields_get_400_naming_them(client, settings, runtime):
    form = sms_form("+8613800138000", "+8612345000000", "路灯坏了")
    del form["MessageSid"]
    response = post(client, "/twilio/sms", form, settings.webhook_auth_token)
    assert response.status_code == 400
    assert b"MessageSid" in response.data
    assert count(runtime, InboundEvent) == 0


def test_a_body_longer_than_twilio_allows_gets_400(client, settings, runtime):
    form = sms_form("+8613800138000", "+8612345000000", "路" * 1601)
    response = post(client, "/twilio/sms", form, settings.webhook_auth_token)
    assert response.status_code == 400
    assert count(runtime, Ticket) == 0


def test_unknown_parameters_are_ignored(client, settings, runtime, drain):
    form = sms_form("+8613800138000", "+8612345000000", "路灯坏了")
    form["SomethingTwilioAddedLater"] = "value"
    assert post(client, "/twilio/sms", form, settings.webhook_auth_token).status_code == 200
    drain()
    assert count(runtime, Ticket) == 1


def test_get_requests_are_refused(client):
    assert client.get("/twilio/sms").status_code == 405


def test_the_development_switch_accepts_unsigned_webhooks(make_settings, make_runtime):
    from hotline_app.factory import create_app

    app = create_app(runtime=make_runtime(make_settings(skip_twilio_signature=True)))
    response = app.test_client().post("/twilio/sms", data=sms_form("+8613800138000", "+8612345000000", "hi there"))
    assert response.status_code == 200
