"""Signed random Twilio webhooks: never a 5xx, and every accepted text is handled exactly once.

Hypothesis builds SMS webhooks Twilio could send (and many it never would: NULs, huge ids,
absurd integers, over-long media fields, unknown statuses), signs them with the real
``RequestValidator`` and posts them. After the jobs drain, every text answered 200 is one ticket
or one message on a ticket's thread; every 4xx stored nothing.

The examples share one database (the runtime is the test's), so a later example meets the tokens,
numbers and threads of earlier ones, as a live service would. A failure that passed "alone" once
was exactly that: an example reused an ``I-Twilio-Idempotency-Token`` an earlier one had stored,
with another MessageSid, and the text was answered 200 and dropped as a repeat. The token is not
signed, so only the MessageSid makes a text a repeat now (``intake.inbound.receive``). No time
budget applies: no deadline, and input generation may be slow on a loaded machine (``too_slow``).
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hotline_core.models import InboundEvent, Ticket, TicketEvent
from simulator.twilio_requests import sign

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
wild = st.one_of(text, st.text(max_size=3000), st.just("\x00"), st.integers().map(str), st.just("9" * 30))
sid = st.one_of(
    st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda h: "SM" + h),
    st.text("abcdef0123456789", min_size=1, max_size=120).map(lambda h: "SM" + h),
    st.just("SM\x00" + "0" * 31),
)
phone = st.one_of(
    st.integers(13000000000, 13999999999).map(lambda n: f"+86{n}"),
    st.text("+0123456789", min_size=1, max_size=60),
    text,
)
media_pair = st.tuples(
    st.one_of(
        st.just("https://api.twilio.com/m/1"), st.text(min_size=1, max_size=1200).map(lambda s: "https://x/" + s)
    ),
    st.one_of(st.just("image/jpeg"), st.text(max_size=150)),
)


@st.composite
def sms_webhook(draw):
    form = {
        "MessageSid": draw(sid),
        "From": draw(phone),
        "To": "+8612345000000",
        "Body": draw(st.one_of(text, st.text(max_size=1700), st.just("查询 2026-000001"), st.just("STOP"))),
        "AccountSid": "AC" + "0" * 32,
    }
    media = draw(st.lists(media_pair, max_size=3))
    form["NumMedia"] = draw(st.one_of(st.just(str(len(media))), wild))
    for i, (url, ctype) in enumerate(media):
        form[f"MediaUrl{i}"] = url
        form[f"MediaContentType{i}"] = ctype
    for name in draw(st.lists(st.sampled_from(["NumSegments", "SmsStatus", "ErrorCode", "FromCity", "X"]), max_size=3)):
        form[name] = draw(wild)
    header = st.characters(min_codepoint=33, max_codepoint=126)  # what an HTTP header can carry
    token = draw(st.one_of(st.none(), st.text(header, max_size=40), st.text(header, min_size=190, max_size=400)))
    return form, token


def counted(runtime, model, *where):
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(requests=st.lists(sms_webhook(), min_size=1, max_size=6))
def test_signed_random_sms_webhooks_never_5xx_and_every_accepted_text_is_handled_once(app, settings, runtime, requests):
    client = app.test_client()
    accepted: set[str] = set()
    for form, token in requests:
        headers = {"X-Twilio-Signature": sign(settings.webhook_auth_token, "http://localhost/twilio/sms", form)}
        if token is not None:
            headers["I-Twilio-Idempotency-Token"] = token
        response = client.post("/twilio/sms", data=form, headers=headers)
        assert response.status_code < 500, response.get_data(as_text=True)
        if response.status_code == 200:
            accepted.add(form["MessageSid"].replace("\x00", ""))
    runtime.jobs.run_burst()
    with runtime.db.session() as s:
        events = s.scalars(select(InboundEvent).where(InboundEvent.kind == "sms")).all()
        handled = [e for e in events if e.form.get("MessageSid") in accepted]
        assert all(e.processed_at is not None and e.error is None for e in handled), [e.error for e in handled]
        for sid in accepted:
            opened = s.scalar(select(func.count()).select_from(Ticket).where(Ticket.source_ref == sid))
            threaded = s.scalar(
                select(func.count())
                .select_from(TicketEvent)
                .where(TicketEvent.kind == "citizen_message", TicketEvent.data["source_ref"].as_string() == sid)
            )
            event = next(e for e in handled if e.form["MessageSid"] == sid)
            # a complaint opens a ticket or joins one's thread, once; a command (STOP, 查询 ...) neither
            assert opened + threaded == (1 if event.ticket_id is not None else 0), sid
